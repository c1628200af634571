/* Start, stop and free electors many times (default 1000, or argv[1]) on one
 * lease: no callback may run after elector_stop returns, userdata_free runs
 * exactly once per elector before it returns, and events stay ordered. */
#include "common.h"

typedef struct cycle {
  recorder events;
  atomic_int stop_returned;
  atomic_int late_callbacks;
} cycle;

static void on_event(void *userdata, const elector_event *event) {
  cycle *c = userdata;
  if (atomic_load(&c->stop_returned)) atomic_fetch_add(&c->late_callbacks, 1);
  record_event(&c->events, event);
}

static void on_free(void *userdata) {
  cycle *c = userdata;
  if (atomic_load(&c->stop_returned)) atomic_fetch_add(&c->late_callbacks, 1);
  recorder_free(&c->events);
}

int main(int argc, char **argv) {
  int cycles = argc > 1 ? atoi(argv[1]) : 1000;
  char lease[64];
  unique_lease(lease, sizeof lease, "c-stress");
  elector_config *config = test_config(lease, "c-stress");
  int late = 0, violations = 0, acquisitions = 0;
  double started = now_seconds();
  for (int i = 0; i < cycles; i++) {
    cycle c;
    recorder_init(&c.events);
    atomic_init(&c.stop_returned, 0);
    atomic_init(&c.late_callbacks, 0);
    elector *e = NULL;
    CHECK_OK(elector_new(config, &e));
    CHECK_OK(elector_set_callback(e, on_event, &c, on_free));
    CHECK_OK(elector_start(e));
    /* Every third cycle waits to lead, so stops hit every state. */
    if (i % 3 == 0) CHECK(wait_for_count(&c.events, ELECTOR_EVENT_ACQUIRED, 1, 10));
    CHECK_OK(elector_stop(e));
    atomic_store(&c.stop_returned, 1);
    CHECK(atomic_load(&c.events.freed) == 1);
    CHECK(count_of(&c.events, ELECTOR_EVENT_STOPPED) == 1);
    elector_free(e);
    acquisitions += count_of(&c.events, ELECTOR_EVENT_ACQUIRED);
    late += atomic_load(&c.late_callbacks);
    violations += c.events.violations;
    recorder_destroy(&c.events);
  }
  elector_config_free(config);
  printf("stress: %d cycles in %.1f s, %d acquisitions, %d late callbacks, %d order violations\n",
         cycles, now_seconds() - started, acquisitions, late, violations);
  CHECK(late == 0);
  CHECK(violations == 0);
  CHECK(acquisitions >= cycles / 3);
  return 0;
}
