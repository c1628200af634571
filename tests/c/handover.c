/* Two electors in one process: one leads, the other takes over promptly when
 * the first stops and releases the lease. */
#include "common.h"

int main(void) {
  char lease[64];
  unique_lease(lease, sizeof lease, "c-handover");
  recorder ra, rb;
  recorder_init(&ra);
  recorder_init(&rb);

  elector_config *ca = test_config(lease, "c-a");
  elector_config *cb = test_config(lease, "c-b");
  elector *a = NULL, *b = NULL;
  CHECK_OK(elector_new(ca, &a));
  CHECK_OK(elector_new(cb, &b));
  elector_config_free(ca);
  elector_config_free(cb);
  CHECK_OK(elector_set_callback(a, record_event, &ra, recorder_free));
  CHECK_OK(elector_set_callback(b, record_event, &rb, recorder_free));

  CHECK_OK(elector_start(a));
  CHECK(wait_for_count(&ra, ELECTOR_EVENT_ACQUIRED, 1, 10));
  CHECK(elector_is_leader(a));
  CHECK_OK(elector_start(b));
  CHECK(wait_for_count(&rb, ELECTOR_EVENT_LEADER_CHANGED, 1, 10));
  CHECK(!elector_is_leader(b));

  char leader[64];
  size_t n = 0;
  CHECK_OK(elector_get_leader(b, leader, sizeof leader, &n));
  CHECK(strcmp(leader, "c-a") == 0 && n == 3);
  char tiny[3];
  CHECK(elector_get_leader(b, tiny, sizeof tiny, &n) == ELECTOR_ERR_BUFFER_TOO_SMALL);

  double stopped_at = now_seconds();
  CHECK_OK(elector_stop(a));
  CHECK(!elector_is_leader(a));
  CHECK(count_of(&ra, ELECTOR_EVENT_LOST) == 1);
  CHECK(count_of(&ra, ELECTOR_EVENT_STOPPED) == 1);
  CHECK(atomic_load(&ra.freed) == 1);
  /* Released: b takes over well inside the 3 s lease. */
  CHECK(wait_for_count(&rb, ELECTOR_EVENT_ACQUIRED, 1, 10));
  double handover = now_seconds() - stopped_at;
  CHECK(handover < 2.5);
  CHECK(elector_is_leader(b));
  int32_t term = -1;
  CHECK_OK(elector_get_term(b, &term));
  CHECK(term == 1);
  uint64_t acquisitions = 0;
  CHECK_OK(elector_get_stat(b, ELECTOR_STAT_ACQUISITIONS, &acquisitions));
  CHECK(acquisitions == 1);
  CHECK(elector_get_stat(b, 999, &acquisitions) == ELECTOR_ERR_INVALID_ARGUMENT);
  CHECK_OK(elector_check(b, 0));

  elector_free(a);
  elector_free(b);
  CHECK(atomic_load(&rb.freed) == 1);
  CHECK(ra.violations == 0 && rb.violations == 0);
  elector_free(NULL);
  elector_config_free(NULL);
  recorder_destroy(&ra);
  recorder_destroy(&rb);
  printf("handover: ok (%.0f ms)\n", handover * 1000);
  return 0;
}
