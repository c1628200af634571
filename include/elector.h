/*
 * elector: Kubernetes leader election over a coordination.k8s.io/v1 Lease.
 * Generated from ffi/src by cbindgen; do not edit.
 *
 * Conventions, for every function below:
 * - Fallible functions return an elector_result; ELECTOR_OK is 0. Codes are
 *   stable and never renumbered. Out-parameters are written only on success,
 *   except that a copy into a buffer too small (ELECTOR_ERR_BUFFER_TOO_SMALL)
 *   writes the length needed, without the NUL, to *out_n.
 * - elector_error_message() describes a result code, with the details of the
 *   last failure on the calling thread (which field broke which rule).
 * - Strings passed in are NUL-terminated UTF-8 and are copied; the caller
 *   keeps ownership. Strings handed out by event accessors are borrowed for
 *   the duration of the callback only.
 * - Every *_free(NULL) is a no-op. Passing NULL where a pointer is required
 *   returns ELECTOR_ERR_NULL_PARAMETER (or false / NULL for functions that
 *   do not return a result).
 * - No function lets a Rust panic cross into C: it returns ELECTOR_ERR_PANIC.
 * - Values of the enums may be added in later versions: handle unknown
 *   event kinds and result codes gracefully.
 * - The library runs its own threads (shared by all electors). It is never
 *   unloaded by dlclose, and a forked child cannot use electors created
 *   before the fork: create them after forking.
 * - Logs: elector_set_log_callback() receives every line (level, target,
 *   message, lease, identity, fields); without it, the environment variable
 *   ELECTOR_LOG (e.g. ELECTOR_LOG=info) logs to standard error.
 */


#ifndef ELECTOR_H
#define ELECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 The ABI's version; equal to the crate's (checked by a test).
 */
#define ELECTOR_VERSION_MAJOR 0

#define ELECTOR_VERSION_MINOR 1

#define ELECTOR_VERSION_PATCH 0

/*
 The outcome of a fallible call. Stable: values are never renumbered or
 reused; new codes are only added.
 */
enum elector_result
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : uint32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
  ELECTOR_OK = 0,
  /*
   A required pointer argument was NULL.
   */
  ELECTOR_ERR_NULL_PARAMETER = 1,
  /*
   A string argument was not valid UTF-8.
   */
  ELECTOR_ERR_INVALID_UTF8 = 2,
  /*
   A Rust panic was caught at the boundary (a bug in libelector).
   */
  ELECTOR_ERR_PANIC = 3,
  /*
   An engine error this version of the ABI has no code for yet.
   */
  ELECTOR_ERR_INTERNAL = 4,
  /*
   The namespace is not a DNS label.
   */
  ELECTOR_ERR_INVALID_NAMESPACE = 100,
  /*
   The lease name is not a DNS subdomain.
   */
  ELECTOR_ERR_INVALID_LEASE_NAME = 101,
  /*
   The identity is empty.
   */
  ELECTOR_ERR_INVALID_IDENTITY = 102,
  /*
   The timings break lease_duration > renew_deadline > 1.2 x retry_period, retry_period ≥ 10 ms,
   the lease duration is not whole seconds, or release_timeout or stop_timeout is zero.
   */
  ELECTOR_ERR_INVALID_TIMING = 103,
  /*
   A label key or value is not valid Kubernetes label syntax.
   */
  ELECTOR_ERR_INVALID_LABEL = 104,
  /*
   An owner reference field is empty.
   */
  ELECTOR_ERR_INVALID_OWNER_REFERENCE = 105,
  /*
   The connection settings are invalid (URL, token, paths).
   */
  ELECTOR_ERR_INVALID_CONNECTION = 106,
  /*
   The API connection could not be set up (no kubeconfig, unknown
   context, unreadable CA file, ...).
   */
  ELECTOR_ERR_CONNECT = 200,
  /*
   elector_start on an elector that is already started.
   */
  ELECTOR_ERR_ALREADY_STARTED = 201,
  /*
   elector_start on an elector that was stopped: create a new one.
   */
  ELECTOR_ERR_STOPPED = 202,
  /*
   elector_set_callback after a callback was set or the elector started.
   */
  ELECTOR_ERR_CALLBACK_ALREADY_SET = 203,
  /*
   The caller's buffer cannot hold the string and its NUL.
   */
  ELECTOR_ERR_BUFFER_TOO_SMALL = 300,
  /*
   There is no value to report (no leader observed, no term yet).
   */
  ELECTOR_ERR_NOT_FOUND = 301,
  /*
   elector_check: the leader has not renewed for longer than the lease
   duration plus the tolerance.
   */
  ELECTOR_ERR_UNHEALTHY = 302,
  /*
   An argument is out of its range (an unknown enum value, a zero size).
   */
  ELECTOR_ERR_INVALID_ARGUMENT = 303,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum elector_result elector_result;
#else
typedef uint32_t elector_result;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

/*
 A log line's level.
 */
enum elector_log_level
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : uint32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
  ELECTOR_LOG_ERROR = 1,
  ELECTOR_LOG_WARN = 2,
  ELECTOR_LOG_INFO = 3,
  ELECTOR_LOG_DEBUG = 4,
  ELECTOR_LOG_TRACE = 5,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum elector_log_level elector_log_level;
#else
typedef uint32_t elector_log_level;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

/*
 What happened. `ELECTOR_EVENT_ACQUIRED` and `ELECTOR_EVENT_LOST` strictly
 alternate; `ELECTOR_EVENT_STOPPED` is always the last event.
 */
enum elector_event_kind
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : uint32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
  /*
   This process is now the leader; the term is its fencing token.
   */
  ELECTOR_EVENT_ACQUIRED = 1,
  /*
   The leader renewed its lease.
   */
  ELECTOR_EVENT_RENEWED = 2,
  /*
   This process must stop leader work now; see the lost reason.
   */
  ELECTOR_EVENT_LOST = 3,
  /*
   The observed leader changed; the identity is the new one, or NULL.
   */
  ELECTOR_EVENT_LEADER_CHANGED = 4,
  /*
   An API error the elector is riding out; see the error kind and message.
   */
  ELECTOR_EVENT_ERROR = 5,
  /*
   No further events will be delivered.
   */
  ELECTOR_EVENT_STOPPED = 6,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum elector_event_kind elector_event_kind;
#else
typedef uint32_t elector_event_kind;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

/*
 Why leadership was lost (ELECTOR_EVENT_LOST).
 */
enum elector_lost_reason
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : uint32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
  /*
   Not a lost event.
   */
  ELECTOR_LOST_NONE = 0,
  /*
   elector_stop was called (the lease was released if so configured).
   */
  ELECTOR_LOST_STOPPED = 1,
  /*
   No renewal succeeded for the renew deadline.
   */
  ELECTOR_LOST_RENEW_DEADLINE_EXCEEDED = 2,
  /*
   The lease names another holder (the identity), or was freed (NULL).
   */
  ELECTOR_LOST_TAKEN_OVER = 3,
  /*
   The lease was deleted.
   */
  ELECTOR_LOST_DELETED = 4,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum elector_lost_reason elector_lost_reason;
#else
typedef uint32_t elector_lost_reason;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

/*
 The class of an API error (ELECTOR_EVENT_ERROR).
 */
enum elector_error_kind
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : uint32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
  /*
   Not an error event.
   */
  ELECTOR_ERROR_NONE = 0,
  /*
   401: the credentials were refused.
   */
  ELECTOR_ERROR_UNAUTHORIZED = 1,
  /*
   403: RBAC does not allow this on leases.
   */
  ELECTOR_ERROR_FORBIDDEN = 2,
  /*
   No answer within the request timeout.
   */
  ELECTOR_ERROR_TIMEOUT = 3,
  /*
   Unreachable, or 429 / 5xx.
   */
  ELECTOR_ERROR_UNAVAILABLE = 4,
  /*
   Rejected as invalid (another 4xx, such as a missing namespace).
   */
  ELECTOR_ERROR_INVALID = 5,
  /*
   Another process renewed the lease under this identity: this elector
   stepped down and waits for the lease to expire.
   */
  ELECTOR_ERROR_IDENTITY_CONFLICT = 6,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum elector_error_kind elector_error_kind;
#else
typedef uint32_t elector_error_kind;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

/*
 A counter of elector_get_stat.
 */
enum elector_stat
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : uint32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
  /*
   API requests by verb.
   */
  ELECTOR_STAT_GETS = 1,
  ELECTOR_STAT_CREATES = 2,
  ELECTOR_STAT_UPDATES = 3,
  ELECTOR_STAT_WATCHES = 4,
  /*
   Writes refused with 409 because another writer was first.
   */
  ELECTOR_STAT_CONFLICTS = 5,
  ELECTOR_STAT_ACQUISITIONS = 6,
  ELECTOR_STAT_LOSSES = 7,
  ELECTOR_STAT_RENEWALS = 8,
  ELECTOR_STAT_FAILED_RENEWALS = 9,
  ELECTOR_STAT_WATCH_RESTARTS = 10,
  /*
   Events queued for the callback and not yet delivered (a gauge).
   */
  ELECTOR_STAT_QUEUED_EVENTS = 11,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum elector_stat elector_stat;
#else
typedef uint32_t elector_stat;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

/*
 A leader elector for one lease. All functions taking a `const elector *`
 or `elector *` are thread-safe, except elector_free, which must not run
 concurrently with any other call on the same elector.
 */
typedef struct elector elector;

/*
 Options for an elector, filled by the elector_config_set_* functions.
 Not thread-safe: use one config from one thread at a time.
 */
typedef struct elector_config elector_config;

/*
 One event, valid only during the callback it is passed to.
 */
typedef struct elector_event elector_event;

/*
 The acknowledgement of one ELECTOR_EVENT_LOST, taken out of the callback
 with elector_event_defer_ack. Give it with elector_lost_ack_done.
 */
typedef struct elector_lost_ack elector_lost_ack;

/*
 Receives every event of one elector, in order, one at a time, on a
 dedicated thread of the library (never the thread that called
 elector_start, never concurrently). `event` and its strings are valid only
 on that thread until the callback returns: copy what you keep. Return
 promptly: later events wait. The return from a LOST callback is the
 acknowledgement that leader work has stopped: only then does the elector
 release the lease (on stop) or campaign again, so stop leader work before
 returning, or take the acknowledgement with elector_event_defer_ack. The callback must return normally (no C++
 exception or longjmp out of it). Ignore event kinds you do not know: new
 ones may be added. The callback may call any function on its own elector,
 elector_stop and elector_free included (see there), but must not wait for
 another elector's callback (A's callback stopping B while B's stops A
 deadlocks).
 */
typedef void (*elector_event_callback)(void *userdata, const struct elector_event *event);

/*
 Releases the callback's userdata. Called exactly once: on the callback
 thread after the last event (ELECTOR_EVENT_STOPPED), before the
 elector_stop or elector_free that ends the elector returns (when that call
 is made from the callback itself: after the callback returns); or, when
 elector_set_callback fails, before it returns.
 */
typedef void (*elector_userdata_free)(void *userdata);

/*
 One log line, valid only during the callback: copy what you keep.
 */
typedef struct elector_log_params {
  elector_log_level level;
  /*
   The module that logged it, such as "elector_core::engine".
   */
  const char *target;
  const char *message;
  /*
   The elector's lease and identity; NULL for a line of no elector (a
   connection shared by all of them).
   */
  const char *lease;
  const char *identity;
  /*
   The line's other fields as a JSON object, such as {"term":3}.
   */
  const char *fields_json;
} elector_log_params;

/*
 Called on the engine's threads, at times on several at once, for every
 line from debug up (or as ELECTOR_LOG filters them): hand the line to
 your logger and return; do not call into libelector from it.
 */
typedef void (*elector_log_callback)(void *userdata, const struct elector_log_params *params);

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

/*
 The library's version, "MAJOR.MINOR.PATCH", as a static NUL-terminated
 string. Thread-safe.
 */
const char *elector_version(void);

/*
 Creates a config with the defaults: namespace "default", no lease name or
 identity (both required), lease 15 s, renew deadline 10 s, retry 2 s,
 release on stop within 5 s, connection inferred as kube-rs does (KUBECONFIG, then the
 in-cluster service account). Free it with elector_config_free.
 */
elector_result elector_config_new(struct elector_config **out_config);

/*
 Frees a config. NULL is a no-op. Electors made from it are unaffected.
 */
void elector_config_free(struct elector_config *config);

/*
 Sets the namespace of the lease (a DNS label; default "default").
 */
elector_result elector_config_set_namespace(struct elector_config *config, const char *namespace_);

/*
 Sets the name of the lease (a DNS subdomain; required).
 */
elector_result elector_config_set_lease_name(struct elector_config *config, const char *lease_name);

/*
 Sets this candidate's identity (non-empty, unique among candidates;
 required), e.g. the pod name.
 */
elector_result elector_config_set_identity(struct elector_config *config, const char *identity);

/*
 Sets how long the lease is valid after its last renewal, in milliseconds
 (whole seconds; default 15000).
 */
elector_result elector_config_set_lease_duration_ms(struct elector_config *config,
                                                    uint64_t milliseconds);

/*
 Sets how long a leader keeps trying to renew before it steps down, in
 milliseconds (default 10000).
 */
elector_result elector_config_set_renew_deadline_ms(struct elector_config *config,
                                                    uint64_t milliseconds);

/*
 Sets how often the leader renews and a candidate without a watch polls,
 in milliseconds (default 2000).
 */
elector_result elector_config_set_retry_period_ms(struct elector_config *config,
                                                  uint64_t milliseconds);

/*
 Sets whether elector_stop hands the lease back so a standby takes over at
 once (default true).
 */
elector_result elector_config_set_release_on_stop(struct elector_config *config, bool release);

/*
 Sets how long elector_stop may spend releasing the lease, all requests
 together (default 5000 ms); after it the lease is left to expire, as
 after a crash. Must be greater than zero.
 */
elector_result elector_config_set_release_timeout_ms(struct elector_config *config,
                                                     uint64_t milliseconds);

/*
 Sets how long a stopping leader waits for its LOST to be acknowledged
 (the callback's return, or elector_lost_ack_done) before it gives up
 (default 10000 ms). It renews the lease meanwhile and releases it only
 after the acknowledgement; at the timeout it stops renewing and leaves the
 lease to expire, as after a crash. Must be greater than zero.
 */
elector_result elector_config_set_stop_timeout_ms(struct elector_config *config,
                                                  uint64_t milliseconds);

/*
 Accepts any server certificate on a URL connection, as a kubeconfig's
 `insecure-skip-tls-verify` (default false): for development clusters
 only. elector_new fails with ELECTOR_ERR_INVALID_CONNECTION if the
 connection is not a URL.
 */
elector_result elector_config_set_insecure_skip_tls_verify(struct elector_config *config,
                                                           bool insecure);

/*
 Sets an owner of the lease (usually this Pod), written when this elector
 creates or takes over the lease, so it is garbage-collected with it.
 */
elector_result elector_config_set_owner_reference(struct elector_config *config,
                                                  const char *api_version,
                                                  const char *kind,
                                                  const char *name,
                                                  const char *uid);

/*
 Adds a label written on the lease when this elector creates or takes it over.
 */
elector_result elector_config_add_label(struct elector_config *config,
                                        const char *key,
                                        const char *value);

/*
 Connects with a kubeconfig file. `path` NULL: KUBECONFIG or
 ~/.kube/config; `context` NULL: the file's current context; both NULL:
 inferred, as by default (then in-cluster when no kubeconfig exists).
 Not with elector_config_set_url: elector_new then fails with
 ELECTOR_ERR_INVALID_CONNECTION naming kubeconfig.
 */
elector_result elector_config_set_kubeconfig(struct elector_config *config,
                                             const char *path,
                                             const char *context);

/*
 Connects to an explicit API server `url` ("https://host:port"), with a
 bearer `token` or a `token_file` (re-read at least once a minute as it
 rotates; at most one of the two, both may be NULL) and the PEM `ca_file`
 of the server's CA (NULL: the platform's roots). Not with
 elector_config_set_kubeconfig (see there). `url` NULL with any of the others:
 elector_new refuses them (ELECTOR_ERR_INVALID_CONNECTION, naming the
 option), as it refuses a token with a token file; all four NULL:
 ELECTOR_ERR_NULL_PARAMETER.
 */
elector_result elector_config_set_url(struct elector_config *config,
                                      const char *url,
                                      const char *token,
                                      const char *token_file,
                                      const char *ca_file);

/*
 The name of core option `index` (0, 1, … in order), as elector_new's
 errors spell it ("lease_duration", "owner_reference.uid"), or NULL past
 the last one. For a host to check that it maps every option. The string
 is static: do not free it.
 */
const char *elector_option_name(size_t index);

/*
 Copies a description of `result` into `buf` (NUL-terminated) and its
 length, without the NUL, into `*out_n`. When `result` is the code of the
 last failure on the calling thread, the description carries its details
 ("invalid lease_duration: must be greater than renew_deadline (10s <= 10s)").

 Returns ELECTOR_ERR_BUFFER_TOO_SMALL when `len` cannot hold the message
 and its NUL; the details are kept, so a retry with a larger buffer (1024
 bytes always suffice for configuration errors) gets them. Thread-safe
 (details are per thread).
 */
elector_result elector_error_message(uint32_t result, char *buf, size_t len, size_t *out_n);

/*
 The event's kind (0 if `event` is NULL).
 */
uint32_t elector_event_get_kind(const struct elector_event *event);

/*
 ACQUIRED: this elector's identity. LEADER_CHANGED: the new leader, or NULL
 when the lease is free or gone. LOST with ELECTOR_LOST_TAKEN_OVER: the new
 holder, or NULL. Otherwise NULL. Borrowed until the callback returns.
 */
const char *elector_event_get_identity(const struct elector_event *event);

/*
 The lease's leaseTransitions carried by the event: for ACQUIRED, this
 elector's term (a fencing token). ELECTOR_ERR_NOT_FOUND when the event
 carries no lease.
 */
elector_result elector_event_get_term(const struct elector_event *event, int32_t *out_term);

/*
 LOST: why (an elector_lost_reason). Otherwise ELECTOR_LOST_NONE.
 */
uint32_t elector_event_get_lost_reason(const struct elector_event *event);

/*
 ERROR: the class (an elector_error_kind). Otherwise ELECTOR_ERROR_NONE.
 */
uint32_t elector_event_get_error_kind(const struct elector_event *event);

/*
 ERROR: the API error's message. LOST: the reason in words. Otherwise
 NULL. Borrowed until the callback returns.
 */
const char *elector_event_get_message(const struct elector_event *event);

/*
 The lease as Kubernetes JSON (ACQUIRED, RENEWED, LOST, and LEADER_CHANGED
 when the lease exists), or NULL. Borrowed until the callback returns.
 */
const char *elector_event_get_lease_json(const struct elector_event *event);

/*
 RENEWED: the renew time written, in microseconds since the Unix epoch.
 Otherwise 0.
 */
int64_t elector_event_get_renew_time_us(const struct elector_event *event);

/*
 LOST: takes the event's acknowledgement out of the callback. A LOST is
 acknowledged when the callback returns; a host whose leader work stops
 elsewhere (another thread, a queue) takes it here instead and calls
 elector_lost_ack_done once that work has stopped. Until then the elector
 does not release the lease on stop (it renews it, for up to the stop
 timeout) and does not campaign again, and elector_stop and elector_free
 wait for it: do not call them on the thread that is to give it. NULL for
 other events, a NULL event, or when already taken.
 */
struct elector_lost_ack *elector_event_defer_ack(const struct elector_event *event);

/*
 Acknowledges the loss (leader work has stopped) and frees `ack`, on any
 thread, once. NULL is a no-op.
 */
void elector_lost_ack_done(struct elector_lost_ack *ack);

/*
 Creates a stopped elector from `config`, checking every option. On an
 invalid option, returns its ELECTOR_ERR_INVALID_* code, and
 elector_error_message names the field and the rule. The config is only
 read: free it when you like. Free the elector with elector_free.
 */
elector_result elector_new(const struct elector_config *config, struct elector **out_elector);

/*
 Registers the one event callback, before elector_start. `userdata` is
 passed to every call; `userdata_free` (may be NULL) is called exactly once
 when no event can follow. Ownership of `userdata` passes to the library
 whatever the result: when registration fails (a NULL elector or callback,
 or ELECTOR_ERR_CALLBACK_ALREADY_SET after a callback was set or the
 elector started), `userdata_free` is called before this returns and the
 callback never is.
 */
elector_result elector_set_callback(const struct elector *elector,
                                    elector_event_callback callback,
                                    void *userdata,
                                    elector_userdata_free userdata_free);

/*
 Connects and starts campaigning; returns once the engine runs (the outcome
 arrives as events). ELECTOR_ERR_CONNECT when the connection settings
 cannot be used (the message says why), ELECTOR_ERR_ALREADY_STARTED,
 ELECTOR_ERR_STOPPED. Blocks the calling thread briefly (reading the
 kubeconfig); do not call from the callback.
 */
elector_result elector_start(const struct elector *elector);

/*
 Stops: a leader delivers ELECTOR_EVENT_LOST, keeps renewing the lease
 until that LOST is acknowledged (its callback returned, or the deferred
 acknowledgement was given; at most the stop timeout), then releases it
 (unless release on stop is off); then ELECTOR_EVENT_STOPPED is delivered.
 Returns when no callback will run any more and userdata_free has been
 called. Idempotent. From inside the callback it only begins the stop and
 returns at once: the last events (LOST, STOPPED) are delivered after the
 current callback returns, and the release follows LOST's return.
 */
elector_result elector_stop(const struct elector *elector);

/*
 Stops the elector (as elector_stop) and frees it. NULL is a no-op. No
 other call on this elector may be running or follow, on any thread. From
 inside the callback: allowed under that rule; the remaining events are
 still delivered after the callback returns, and must not use the freed
 elector.
 */
void elector_free(struct elector *elector);

/*
 Whether this process leads now: it holds the lease and its renew deadline
 has not passed (false for NULL).
 */
bool elector_is_leader(const struct elector *elector);

/*
 Copies the identity of the observed leader into `buf` (NUL-terminated) and
 its length into `*out_n`. ELECTOR_ERR_NOT_FOUND when the lease is free,
 absent or not read yet; ELECTOR_ERR_BUFFER_TOO_SMALL when it does not fit.
 */
elector_result elector_get_leader(const struct elector *elector,
                                  char *buf,
                                  size_t len,
                                  size_t *out_n);

/*
 The lease's leaseTransitions as last observed; while this elector leads,
 its term (a fencing token that grows with every takeover).
 ELECTOR_ERR_NOT_FOUND before the lease was first read.
 */
elector_result elector_get_term(const struct elector *elector, int32_t *out_term);

/*
 Reads one counter (an elector_stat) since the elector was created.
 ELECTOR_ERR_INVALID_ARGUMENT for an unknown counter.
 */
elector_result elector_get_stat(const struct elector *elector, uint32_t stat, uint64_t *out_value);

/*
 Copies the Prometheus text exposition of every running elector of the process
 (client-go's `leader_election_master_status` and
 `leader_election_slowpath_total`, then every stat as `elector_<name>`)
 into `buf`, NUL-terminated, and its length into `*out_n`.
 ELECTOR_ERR_BUFFER_TOO_SMALL when it does not fit: `*out_n` then holds
 the length needed, without the NUL.
 */
elector_result elector_metrics(char *buf, size_t len, size_t *out_n);

/*
 client-go's health check: ELECTOR_ERR_UNHEALTHY when this elector believes
 it leads but has not renewed for longer than the lease duration plus
 `tolerance_ms` (a stuck process); ELECTOR_OK otherwise.
 */
elector_result elector_check(const struct elector *elector, uint64_t tolerance_ms);

/*
 Sends the engine's log lines to `callback` with `userdata`, for the rest
 of the process; `userdata` must stay valid and usable from any thread.
 Set it once, before the first elector_new if ELECTOR_LOG is set (which
 otherwise logs to standard error): ELECTOR_ERR_INVALID_ARGUMENT when a
 callback or that logging is already in place.
 */
elector_result elector_set_log_callback(elector_log_callback callback, void *userdata);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

#endif  /* ELECTOR_H */
