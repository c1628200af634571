/* Stopping and freeing from inside the callback does not deadlock, and the
 * last events still arrive in order. */
#include "common.h"

typedef struct state {
  recorder events;
  elector *self;
} state;

static void stop_on_acquire(void *userdata, const elector_event *event) {
  state *s = userdata;
  record_event(&s->events, event);
  if (elector_event_get_kind(event) == ELECTOR_EVENT_ACQUIRED) {
    int32_t term = -1;
    CHECK_OK(elector_event_get_term(event, &term));
    CHECK(term == 0);
    elector_free(s->self); /* stops, then frees, from the callback thread */
    s->self = NULL;
  }
}

int main(void) {
  char lease[64];
  unique_lease(lease, sizeof lease, "c-in-callback");
  elector_config *config = test_config(lease, "c-in-callback");
  state s;
  recorder_init(&s.events);
  CHECK_OK(elector_new(config, &s.self));
  elector_config_free(config);
  CHECK_OK(elector_set_callback(s.self, stop_on_acquire, &s, recorder_free));
  CHECK_OK(elector_start(s.self));
  /* lost and stopped are delivered after the callback returns */
  CHECK(wait_for_count(&s.events, ELECTOR_EVENT_STOPPED, 1, 10));
  for (int i = 0; i < 200 && atomic_load(&s.events.freed) == 0; i++) usleep(10000);
  CHECK(atomic_load(&s.events.freed) == 1);
  CHECK(count_of(&s.events, ELECTOR_EVENT_LOST) == 1);
  CHECK(s.events.violations == 0);
  recorder_destroy(&s.events);
  printf("in_callback: ok\n");
  return 0;
}
