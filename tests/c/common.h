/* Shared by the C tests: configs pointed at the local control plane, an
 * event recorder, and checks that fail loudly. Each test is one program. */
#ifndef ELECTOR_TEST_COMMON_H
#define ELECTOR_TEST_COMMON_H

#define _DEFAULT_SOURCE /* clock_gettime, usleep under -std=c11 */

#include <elector.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      exit(1);                                                                 \
    }                                                                          \
  } while (0)

#define CHECK_OK(call)                                                         \
  do {                                                                         \
    elector_result check_ok_result = (call);                                   \
    if (check_ok_result != ELECTOR_OK) {                                       \
      char check_ok_message[512];                                              \
      size_t check_ok_n = 0;                                                   \
      elector_error_message(check_ok_result, check_ok_message,                 \
                            sizeof check_ok_message, &check_ok_n);             \
      fprintf(stderr, "%s:%d: %s returned %u: %s\n", __FILE__, __LINE__,       \
              #call, (unsigned)check_ok_result, check_ok_message);             \
      exit(1);                                                                 \
    }                                                                          \
  } while (0)

static inline double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A lease name unique to this run. */
static inline void unique_lease(char *buf, size_t len, const char *prefix) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  snprintf(buf, len, "%s-%d-%ld", prefix, (int)getpid(), (long)(ts.tv_nsec % 1000000));
}

/* A config for `identity` on `lease`, connecting as the `elector` user of
 * the local control plane, with short timings. */
static inline elector_config *test_config(const char *lease, const char *identity) {
  const char *kubeconfig = getenv("ELECTOR_KUBECONFIG");
  CHECK(kubeconfig != NULL);
  elector_config *config = NULL;
  CHECK_OK(elector_config_new(&config));
  CHECK_OK(elector_config_set_lease_name(config, lease));
  CHECK_OK(elector_config_set_identity(config, identity));
  CHECK_OK(elector_config_set_lease_duration_ms(config, 3000));
  CHECK_OK(elector_config_set_renew_deadline_ms(config, 2000));
  CHECK_OK(elector_config_set_retry_period_ms(config, 500));
  CHECK_OK(elector_config_set_kubeconfig(config, kubeconfig, "elector"));
  return config;
}

/* Counts events per kind and checks, as they arrive, that acquired and lost
 * alternate and that nothing follows stopped. */
typedef struct recorder {
  pthread_mutex_t lock;
  pthread_cond_t changed;
  int counts[8];
  int leading;
  int stopped;
  int violations;
  atomic_int freed;
} recorder;

static inline void recorder_init(recorder *r) {
  memset(r, 0, sizeof *r);
  pthread_mutex_init(&r->lock, NULL);
  pthread_cond_init(&r->changed, NULL);
}

static inline void recorder_destroy(recorder *r) {
  pthread_mutex_destroy(&r->lock);
  pthread_cond_destroy(&r->changed);
}

static inline void record_event(void *userdata, const elector_event *event) {
  recorder *r = userdata;
  uint32_t kind = elector_event_get_kind(event);
  pthread_mutex_lock(&r->lock);
  if (r->stopped) r->violations++;
  if (kind == ELECTOR_EVENT_ACQUIRED) {
    if (r->leading) r->violations++;
    r->leading = 1;
    CHECK(elector_event_get_identity(event) != NULL);
    CHECK(elector_event_get_lease_json(event) != NULL);
  }
  if (kind == ELECTOR_EVENT_LOST) {
    if (!r->leading) r->violations++;
    r->leading = 0;
  }
  if (kind == ELECTOR_EVENT_STOPPED) r->stopped = 1;
  if (kind < 8) r->counts[kind]++;
  pthread_cond_broadcast(&r->changed);
  pthread_mutex_unlock(&r->lock);
}

static inline void recorder_free(void *userdata) {
  recorder *r = userdata;
  atomic_fetch_add(&r->freed, 1);
}

/* Waits until `kind` was seen at least `count` times; 0 on timeout. */
static inline int wait_for_count(recorder *r, uint32_t kind, int count, double seconds) {
  double deadline = now_seconds() + seconds;
  pthread_mutex_lock(&r->lock);
  while (r->counts[kind] < count) {
    pthread_mutex_unlock(&r->lock);
    if (now_seconds() > deadline) return 0;
    usleep(5000);
    pthread_mutex_lock(&r->lock);
  }
  pthread_mutex_unlock(&r->lock);
  return 1;
}

static inline int count_of(recorder *r, uint32_t kind) {
  pthread_mutex_lock(&r->lock);
  int n = r->counts[kind];
  pthread_mutex_unlock(&r->lock);
  return n;
}

#endif
