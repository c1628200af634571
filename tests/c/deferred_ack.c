/* A leader whose work stops on another thread: its LOST callback defers the
 * acknowledgement, and elector_stop neither releases the lease nor returns
 * until that thread gives it. Meanwhile the lease stays renewed: a standby
 * does not take over, even past the lease duration. */
#include "common.h"

typedef struct leader {
  recorder events;
  _Atomic(elector_lost_ack *) ack;
} leader;

static void on_leader_event(void *userdata, const elector_event *event) {
  leader *l = userdata;
  if (elector_event_get_kind(event) == ELECTOR_EVENT_LOST) {
    elector_lost_ack *ack = elector_event_defer_ack(event);
    CHECK(ack != NULL);
    CHECK(elector_event_defer_ack(event) == NULL); /* taken once */
    atomic_store(&l->ack, ack);
  }
  CHECK(elector_event_defer_ack(event) == NULL); /* none, or taken above */
  record_event(&l->events, event);
}

static void on_leader_free(void *userdata) {
  leader *l = userdata;
  recorder_free(&l->events);
}

static atomic_int stop_returned;

static void *stop_in_background(void *arg) {
  CHECK_OK(elector_stop(arg));
  atomic_store(&stop_returned, 1);
  return NULL;
}

int main(void) {
  char lease[64];
  unique_lease(lease, sizeof lease, "c-deferred");
  leader la;
  memset(&la, 0, sizeof la);
  recorder_init(&la.events);
  recorder rb;
  recorder_init(&rb);

  elector_config *ca = test_config(lease, "c-a");
  elector_config *cb = test_config(lease, "c-b");
  CHECK_OK(elector_config_set_stop_timeout_ms(ca, 30000));
  CHECK(elector_config_set_stop_timeout_ms(cb, 0) == ELECTOR_OK);
  elector *a = NULL, *b = NULL, *invalid = NULL;
  CHECK(elector_new(cb, &invalid) == ELECTOR_ERR_INVALID_TIMING);
  CHECK_OK(elector_config_set_stop_timeout_ms(cb, 10000));
  CHECK_OK(elector_new(ca, &a));
  CHECK_OK(elector_new(cb, &b));
  elector_config_free(ca);
  elector_config_free(cb);
  CHECK_OK(elector_set_callback(a, on_leader_event, &la, on_leader_free));
  CHECK_OK(elector_set_callback(b, record_event, &rb, recorder_free));

  CHECK_OK(elector_start(a));
  CHECK(wait_for_count(&la.events, ELECTOR_EVENT_ACQUIRED, 1, 10));
  CHECK_OK(elector_start(b));
  CHECK(wait_for_count(&rb, ELECTOR_EVENT_LEADER_CHANGED, 1, 10));

  pthread_t stopper;
  CHECK(pthread_create(&stopper, NULL, stop_in_background, a) == 0);
  CHECK(wait_for_count(&la.events, ELECTOR_EVENT_LOST, 1, 10));
  CHECK(!elector_is_leader(a));
  /* Longer than the 3 s lease: still a's, renewed, and stop still waits. */
  sleep(4);
  CHECK(count_of(&rb, ELECTOR_EVENT_ACQUIRED) == 0);
  CHECK(!atomic_load(&stop_returned));
  char holder[64];
  size_t n = 0;
  CHECK_OK(elector_get_leader(b, holder, sizeof holder, &n));
  CHECK(strcmp(holder, "c-a") == 0);

  /* The work has stopped: acknowledge. Then a releases and b takes over. */
  double acked_at = now_seconds();
  elector_lost_ack_done(atomic_exchange(&la.ack, NULL));
  elector_lost_ack_done(NULL);
  CHECK(pthread_join(stopper, NULL) == 0);
  CHECK(count_of(&la.events, ELECTOR_EVENT_STOPPED) == 1);
  CHECK(wait_for_count(&rb, ELECTOR_EVENT_ACQUIRED, 1, 10));
  double handover = now_seconds() - acked_at;
  CHECK(handover < 2.5); /* released, not expired */

  elector_free(a);
  elector_free(b);
  CHECK(la.events.violations == 0 && rb.violations == 0);
  recorder_destroy(&la.events);
  recorder_destroy(&rb);
  printf("deferred_ack: ok (handover %.0f ms after the acknowledgement)\n", handover * 1000);
  return 0;
}
