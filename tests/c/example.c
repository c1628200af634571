/* The README's C example: lead while you can, stop on SIGINT/SIGTERM.
 *
 *   cc example.c $(pkg-config --cflags --libs elector) -o example
 *   ./example my-lease "$(hostname)" [seconds]
 */
#define _DEFAULT_SOURCE /* sleep under -std=c11 */
#include <elector.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static volatile sig_atomic_t done = 0;
static void on_signal(int signal) { (void)signal; done = 1; }

/* Runs on the library's event thread, one event at a time. */
static void on_event(void *userdata, const elector_event *event) {
  const char *me = userdata;
  int32_t term = 0;
  switch (elector_event_get_kind(event)) {
    case ELECTOR_EVENT_ACQUIRED:
      elector_event_get_term(event, &term);
      printf("%s: leading, term %d\n", me, term); /* start leader work */
      break;
    case ELECTOR_EVENT_LOST:
      printf("%s: lost leadership: %s\n", me, elector_event_get_message(event)); /* stop it */
      break;
    case ELECTOR_EVENT_LEADER_CHANGED: {
      const char *leader = elector_event_get_identity(event);
      printf("%s: leader is %s\n", me, leader ? leader : "(none)");
      break;
    }
    case ELECTOR_EVENT_ERROR:
      fprintf(stderr, "%s: API error: %s\n", me, elector_event_get_message(event));
      break;
    case ELECTOR_EVENT_STOPPED:
      printf("%s: stopped\n", me);
      break;
  }
  fflush(stdout);
}

static int fail(const char *what, elector_result result) {
  char message[256];
  size_t n = 0;
  elector_error_message(result, message, sizeof message, &n);
  fprintf(stderr, "%s: %s\n", what, message);
  return 1;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s LEASE IDENTITY [SECONDS]\n", argv[0]);
    return 2;
  }
  int seconds = argc > 3 ? atoi(argv[3]) : -1;
  elector_config *config = NULL;
  elector_result result = elector_config_new(&config);
  if (result != ELECTOR_OK) return fail("config", result);
  elector_config_set_lease_name(config, argv[1]);
  elector_config_set_identity(config, argv[2]);
  /* Connection: KUBECONFIG, else the in-cluster service account. */
  const char *kubeconfig = getenv("ELECTOR_KUBECONFIG");
  if (kubeconfig) elector_config_set_kubeconfig(config, kubeconfig, "elector");

  elector *e = NULL;
  result = elector_new(config, &e);
  elector_config_free(config);
  if (result != ELECTOR_OK) return fail("elector_new", result);
  elector_set_callback(e, on_event, argv[2], NULL);
  result = elector_start(e);
  if (result != ELECTOR_OK) {
    elector_free(e);
    return fail("elector_start", result);
  }

  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  for (int waited = 0; !done && waited != seconds; waited++) sleep(1);
  elector_free(e); /* stops: releases the lease if leading */
  return 0;
}
