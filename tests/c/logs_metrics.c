/* The log callback and the metrics copy-out: the engine's acquisition
 * arrives as a log line naming the lease, and the exposition shows this
 * elector leading, through a buffer first too small and then large enough. */
#include "common.h"

typedef struct log_lines {
  pthread_mutex_t lock;
  const char *lease; /* "default/<lease>", as the engine's span names it */
  int acquired;      /* "acquired leadership" lines of that lease */
  int with_fields;   /* of those, lines whose fields carry the term */
} log_lines;

static void on_log(void *userdata, const elector_log_params *params) {
  log_lines *lines = userdata;
  CHECK(params->target != NULL && params->message != NULL && params->fields_json != NULL);
  if (params->lease == NULL) return; /* a line of no elector */
  CHECK(params->identity != NULL);
  pthread_mutex_lock(&lines->lock);
  if (strcmp(params->lease, lines->lease) == 0 && strcmp(params->message, "acquired leadership") == 0) {
    CHECK(params->level == ELECTOR_LOG_INFO);
    CHECK(strcmp(params->identity, "c-logs") == 0);
    lines->acquired++;
    if (strstr(params->fields_json, "\"term\":0") != NULL) lines->with_fields++;
  }
  pthread_mutex_unlock(&lines->lock);
}

int main(void) {
  char lease[64], qualified[80];
  unique_lease(lease, sizeof lease, "c-logs");
  snprintf(qualified, sizeof qualified, "default/%s", lease);
  static log_lines lines = {.lock = PTHREAD_MUTEX_INITIALIZER};
  lines.lease = qualified;
  CHECK_OK(elector_set_log_callback(on_log, &lines));
  CHECK(elector_set_log_callback(on_log, &lines) == ELECTOR_ERR_INVALID_ARGUMENT); /* once */

  recorder r;
  recorder_init(&r);
  elector_config *config = test_config(lease, "c-logs");
  elector *e = NULL;
  CHECK_OK(elector_new(config, &e));
  elector_config_free(config);
  CHECK_OK(elector_set_callback(e, record_event, &r, recorder_free));
  CHECK_OK(elector_start(e));
  CHECK(wait_for_count(&r, ELECTOR_EVENT_ACQUIRED, 1, 10));

  /* The log line is written before the event is sent. */
  pthread_mutex_lock(&lines.lock);
  CHECK(lines.acquired == 1 && lines.with_fields == 1);
  pthread_mutex_unlock(&lines.lock);

  char small[16];
  size_t needed = 0;
  CHECK(elector_metrics(small, sizeof small, &needed) == ELECTOR_ERR_BUFFER_TOO_SMALL);
  CHECK(needed > sizeof small);
  size_t size = needed + 4096; /* room for what may be added meanwhile */
  char *text = malloc(size);
  size_t n = 0;
  CHECK(text != NULL);
  CHECK_OK(elector_metrics(text, size, &n));
  CHECK(strlen(text) == n);
  char series[256];
  snprintf(series, sizeof series,
           "leader_election_master_status{name=\"%s\",namespace=\"default\",identity=\"c-logs\"} 1\n", lease);
  CHECK(strstr(text, series) != NULL);
  CHECK(strstr(text, "# TYPE elector_queued_events gauge\n") != NULL);
  free(text);

  uint64_t queued = 99;
  CHECK_OK(elector_get_stat(e, ELECTOR_STAT_QUEUED_EVENTS, &queued));
  CHECK_OK(elector_stop(e));
  elector_free(e);
  CHECK(atomic_load(&r.freed) == 1 && r.violations == 0);
  recorder_destroy(&r);
  printf("log line and metrics for %s\n", lease);
  return 0;
}
