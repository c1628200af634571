/* Every invalid configuration yields its result code and a message naming
 * the field; misuse yields its code; nothing crashes. */
#include "common.h"

static int failures = 0;

/* The core options a case below has refused by name (see covered()). */
static const char *refused[64];
static size_t refused_count = 0;

/* Checks that `result` is `expected` and that the message names `field`. */
static void expect(const char *what, elector_result result, elector_result expected,
                   const char *field) {
  char message[512];
  size_t n = 0;
  elector_error_message(result, message, sizeof message, &n);
  if (result != expected || strstr(message, field) == NULL) {
    fprintf(stderr, "FAIL %s: got %u \"%s\", want %u naming \"%s\"\n", what,
            (unsigned)result, message, (unsigned)expected, field);
    failures++;
  } else {
    printf("ok   %-40s %3u  %s\n", what, (unsigned)result, message);
  }
}

static elector_config *valid(void) {
  elector_config *config = NULL;
  CHECK_OK(elector_config_new(&config));
  CHECK_OK(elector_config_set_lease_name(config, "lease"));
  CHECK_OK(elector_config_set_identity(config, "me"));
  return config;
}

/* elector_new on `config`, expecting `expected` naming `field`; frees config. */
static void expect_new(const char *what, elector_config *config, elector_result expected,
                       const char *field) {
  elector *e = (elector *)0x1; /* must stay untouched on failure */
  elector_result result = elector_new(config, &e);
  CHECK(result == ELECTOR_OK || e == (elector *)0x1);
  expect(what, result, expected, field);
  /* A configuration error names its option first: "invalid <field>: ". */
  char message[512], prefix[128];
  size_t n = 0;
  elector_error_message(result, message, sizeof message, &n);
  snprintf(prefix, sizeof prefix, "invalid %s: ", field);
  if (strncmp(message, prefix, strlen(prefix)) == 0 &&
      refused_count < sizeof refused / sizeof refused[0]) {
    refused[refused_count++] = field;
  }
  if (result == ELECTOR_OK) elector_free(e);
  elector_config_free(config);
}

static void never_called(void *userdata, const elector_event *event) {
  (void)userdata;
  (void)event;
  abort();
}

/* Ownership of userdata passes on every elector_set_callback, failures too. */
static atomic_int freed_on_failure;
static void count_free(void *userdata) {
  (void)userdata;
  atomic_fetch_add(&freed_on_failure, 1);
}

/* Whether a case above refused core option `name` by name. */
static bool covered(const char *name) {
  for (size_t i = 0; i < refused_count; i++) {
    if (strcmp(refused[i], name) == 0) return true;
  }
  return false;
}

int main(void) {
  elector_config *c;

  c = valid();
  CHECK_OK(elector_config_set_namespace(c, "Bad_Namespace"));
  expect_new("namespace not a DNS label", c, ELECTOR_ERR_INVALID_NAMESPACE, "namespace");

  c = NULL;
  CHECK_OK(elector_config_new(&c));
  CHECK_OK(elector_config_set_identity(c, "me"));
  expect_new("lease name missing", c, ELECTOR_ERR_INVALID_LEASE_NAME, "lease_name");

  c = valid();
  CHECK_OK(elector_config_set_lease_name(c, "UPPER.case"));
  expect_new("lease name not a DNS subdomain", c, ELECTOR_ERR_INVALID_LEASE_NAME, "lease_name");

  c = NULL;
  CHECK_OK(elector_config_new(&c));
  CHECK_OK(elector_config_set_lease_name(c, "lease"));
  expect_new("identity missing", c, ELECTOR_ERR_INVALID_IDENTITY, "identity");

  c = valid();
  CHECK_OK(elector_config_set_lease_duration_ms(c, 10000));
  expect_new("lease duration not above renew deadline", c, ELECTOR_ERR_INVALID_TIMING,
             "lease_duration");

  c = valid();
  CHECK_OK(elector_config_set_renew_deadline_ms(c, 2400));
  expect_new("renew deadline not above 1.2 x retry", c, ELECTOR_ERR_INVALID_TIMING,
             "renew_deadline");

  c = valid();
  CHECK_OK(elector_config_set_retry_period_ms(c, 0));
  expect_new("retry period zero", c, ELECTOR_ERR_INVALID_TIMING, "retry_period");

  c = valid();
  CHECK_OK(elector_config_set_lease_duration_ms(c, 15500));
  expect_new("lease duration not whole seconds", c, ELECTOR_ERR_INVALID_TIMING,
             "lease_duration");

  c = valid();
  CHECK_OK(elector_config_add_label(c, "bad key", "v"));
  expect_new("label key", c, ELECTOR_ERR_INVALID_LABEL, "labels");

  c = valid();
  CHECK_OK(elector_config_set_owner_reference(c, "v1", "Pod", "p", ""));
  expect_new("owner reference without uid", c, ELECTOR_ERR_INVALID_OWNER_REFERENCE,
             "owner_reference.uid");

  c = valid();
  CHECK_OK(elector_config_set_url(c, "not a url", NULL, NULL, NULL));
  expect_new("url", c, ELECTOR_ERR_INVALID_CONNECTION, "url");

  c = valid();
  CHECK_OK(elector_config_set_insecure_skip_tls_verify(c, true));
  expect_new("insecure without a URL", c, ELECTOR_ERR_INVALID_CONNECTION,
             "insecure_skip_tls_verify");

  c = valid();
  CHECK_OK(elector_config_set_release_timeout_ms(c, 0));
  expect_new("release timeout zero", c, ELECTOR_ERR_INVALID_TIMING, "release_timeout");

  c = valid();
  CHECK_OK(elector_config_set_stop_timeout_ms(c, 0));
  expect_new("stop timeout zero", c, ELECTOR_ERR_INVALID_TIMING, "stop_timeout");

  c = valid();
  CHECK_OK(elector_config_set_lease_duration_ms(c, UINT64_MAX));
  expect_new("lease duration past int32 seconds", c, ELECTOR_ERR_INVALID_TIMING,
             "lease_duration");

  c = valid();
  CHECK_OK(elector_config_set_owner_reference(c, "", "Pod", "p", "u"));
  expect_new("owner reference without apiVersion", c, ELECTOR_ERR_INVALID_OWNER_REFERENCE,
             "owner_reference.api_version");
  c = valid();
  CHECK_OK(elector_config_set_owner_reference(c, "v1", "", "p", "u"));
  expect_new("owner reference without kind", c, ELECTOR_ERR_INVALID_OWNER_REFERENCE,
             "owner_reference.kind");
  c = valid();
  CHECK_OK(elector_config_set_owner_reference(c, "v1", "Pod", "", "u"));
  expect_new("owner reference without name", c, ELECTOR_ERR_INVALID_OWNER_REFERENCE,
             "owner_reference.name");

  c = valid();
  CHECK_OK(elector_config_set_kubeconfig(c, "", NULL));
  expect_new("empty kubeconfig path", c, ELECTOR_ERR_INVALID_CONNECTION, "kubeconfig");
  c = valid();
  CHECK_OK(elector_config_set_kubeconfig(c, NULL, ""));
  expect_new("empty context", c, ELECTOR_ERR_INVALID_CONNECTION, "context");
  c = valid();
  CHECK_OK(elector_config_set_url(c, NULL, NULL, "/t", NULL));
  expect_new("token file without a url", c, ELECTOR_ERR_INVALID_CONNECTION, "token_file");
  c = valid();
  expect("set_url with nothing", elector_config_set_url(c, NULL, NULL, NULL, NULL),
         ELECTOR_ERR_NULL_PARAMETER, "url");
  elector_config_free(c);
  /* Both kinds of connection are refused, whatever the order and even with
   * NULL arguments (the inferred kubeconfig). */
  c = valid();
  CHECK_OK(elector_config_set_url(c, "https://127.0.0.1:1", NULL, NULL, NULL));
  CHECK_OK(elector_config_set_kubeconfig(c, NULL, NULL));
  expect_new("url, then the default kubeconfig", c, ELECTOR_ERR_INVALID_CONNECTION, "kubeconfig");
  c = valid();
  CHECK_OK(elector_config_set_kubeconfig(c, "/k", NULL));
  CHECK_OK(elector_config_set_url(c, "https://127.0.0.1:1", NULL, NULL, NULL));
  expect_new("kubeconfig, then a url", c, ELECTOR_ERR_INVALID_CONNECTION, "kubeconfig");
  c = valid();
  CHECK_OK(elector_config_set_url(c, "https://127.0.0.1:1", " ", NULL, NULL));
  expect_new("blank token", c, ELECTOR_ERR_INVALID_CONNECTION, "token");
  c = valid();
  CHECK_OK(elector_config_set_url(c, "https://127.0.0.1:1", NULL, "", NULL));
  expect_new("empty token file", c, ELECTOR_ERR_INVALID_CONNECTION, "token_file");
  c = valid();
  CHECK_OK(elector_config_set_url(c, "https://127.0.0.1:1", NULL, NULL, ""));
  expect_new("empty CA file", c, ELECTOR_ERR_INVALID_CONNECTION, "ca_file");
  c = valid();
  CHECK_OK(elector_config_set_url(c, "https://127.0.0.1:1", "t", "/tmp/t", NULL));
  expect_new("token and token_file both", c, ELECTOR_ERR_INVALID_CONNECTION, "token_file");

  c = valid();
  expect("NULL identity", elector_config_set_identity(c, NULL), ELECTOR_ERR_NULL_PARAMETER,
         "identity");
  expect("invalid UTF-8 identity", elector_config_set_identity(c, "\xff\xfe"),
         ELECTOR_ERR_INVALID_UTF8, "identity");
  expect("NULL config", elector_config_set_identity(NULL, "x"), ELECTOR_ERR_NULL_PARAMETER,
         "config");
  expect("NULL out_elector", elector_new(c, NULL), ELECTOR_ERR_NULL_PARAMETER, "out_elector");
  elector_config_free(c);

  /* A kubeconfig that does not exist fails at start, naming it. */
  c = valid();
  CHECK_OK(elector_config_set_kubeconfig(c, "/nonexistent/kubeconfig", NULL));
  elector *e = NULL;
  CHECK_OK(elector_new(c, &e));
  elector_config_free(c);
  expect("missing kubeconfig", elector_start(e), ELECTOR_ERR_CONNECT, "/nonexistent/kubeconfig");
  elector_free(e);

  /* Lifecycle misuse, against the real control plane. */
  char lease[64];
  unique_lease(lease, sizeof lease, "c-misuse");
  c = test_config(lease, "c-misuse");
  CHECK_OK(elector_new(c, &e));
  elector_config_free(c);
  expect("NULL callback", elector_set_callback(e, NULL, NULL, count_free),
         ELECTOR_ERR_NULL_PARAMETER, "callback");
  CHECK(atomic_load(&freed_on_failure) == 1);
  CHECK_OK(elector_start(e));
  expect("start twice", elector_start(e), ELECTOR_ERR_ALREADY_STARTED, "already started");
  /* Too late for a callback: refused, its userdata freed, never called. */
  expect("callback after start", elector_set_callback(e, never_called, NULL, count_free),
         ELECTOR_ERR_CALLBACK_ALREADY_SET, "events");
  CHECK(atomic_load(&freed_on_failure) == 2);
  CHECK_OK(elector_stop(e));
  CHECK_OK(elector_stop(e));
  expect("start after stop", elector_start(e), ELECTOR_ERR_STOPPED, "stopped");
  elector_free(e);

  /* A too-small buffer keeps the details for a retry. */
  c = valid();
  CHECK_OK(elector_config_set_namespace(c, "Bad_Namespace"));
  CHECK(elector_new(c, &e) == ELECTOR_ERR_INVALID_NAMESPACE);
  elector_config_free(c);
  char tiny[4];
  size_t n = 0;
  CHECK(elector_error_message(ELECTOR_ERR_INVALID_NAMESPACE, tiny, sizeof tiny, &n) ==
        ELECTOR_ERR_BUFFER_TOO_SMALL);
  expect("details kept after a too-small buffer", ELECTOR_ERR_INVALID_NAMESPACE,
         ELECTOR_ERR_INVALID_NAMESPACE, "Bad_Namespace");
  char version[32];
  snprintf(version, sizeof version, "%d.%d.%d", ELECTOR_VERSION_MAJOR, ELECTOR_VERSION_MINOR,
           ELECTOR_VERSION_PATCH);
  CHECK(strcmp(version, elector_version()) == 0);

  /* Every core option has a case, but release_on_stop: a C bool has no
   * invalid value. */
  for (size_t i = 0; elector_option_name(i) != NULL; i++) {
    const char *name = elector_option_name(i);
    if (strcmp(name, "release_on_stop") != 0 && !covered(name)) {
      fprintf(stderr, "FAIL no invalid case for option %s\n", name);
      failures++;
    }
  }

  if (failures) {
    fprintf(stderr, "invalid_config: %d failures\n", failures);
    return 1;
  }
  printf("invalid_config: ok\n");
  return 0;
}
