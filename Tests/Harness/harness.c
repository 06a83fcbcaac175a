/*
 * swift-proxylib datapath harness.
 *
 *   harness LIBPATH SCENARIO_DIR
 *
 * Loads LIBPATH (a libcilium.so) with dlopen(RTLD_NOW) and drives it the way cilium-envoy does, through the
 * datapath in Sources/CDatapath. Runs, in order:
 *   1. self-tests of the datapath against a scripted in-process fake (selftest.c);
 *   2. every scenario file (NAME.scn) in SCENARIO_DIR; scenario.c documents the format;
 *   3. built-in tests: concurrent connections, connection churn, unknown connection ids (builtin.c);
 *   4. dlclose() of the library.
 * Prints "ok NAME" or "FAIL NAME: reason" per test, then a last line "N passed, M failed". Exit status is 0 only
 * when nothing failed.
 *
 * Environment: HARNESS_SEED (random split seed), HARNESS_ONLY (run only tests whose name contains this),
 * HARNESS_VERBOSE=1 (datapath debug output as "# " lines), HARNESS_TIMEOUT (seconds, default 600, 0: none).
 * A crash (a Swift trap included) or the timeout is reported as a failure of the test that was running, followed by
 * the summary line.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static uint64_t pick_seed(void) {
  const char *s = getenv("HARNESS_SEED");
  if (s != NULL && *s != '\0') {
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end == '\0') {
      return (uint64_t)v;
    }
    fprintf(stderr, "harness: ignoring non-numeric HARNESS_SEED '%s'\n", s);
  }
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  rng_t r;
  rng_seed(&r, ((uint64_t)ts.tv_sec * 1000000007ULL) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32));
  return rng_next(&r) % 1000000000000ULL;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s LIBPATH SCENARIO_DIR\n", argv[0]);
    return 2;
  }
  const char *verbose = getenv("HARNESS_VERBOSE");
  harness_verbose = verbose != NULL && *verbose != '\0' && strcmp(verbose, "0") != 0;
  harness_only = getenv("HARNESS_ONLY");
  harness_seed = pick_seed();
  const char *timeout = getenv("HARNESS_TIMEOUT");
  report_install_crash_handlers(timeout != NULL && *timeout != '\0' ? (unsigned)strtoul(timeout, NULL, 10) : 600);
  report_note("random split seed %llu (set HARNESS_SEED=%llu to repeat)", (unsigned long long)harness_seed,
              (unsigned long long)harness_seed);

  run_selftests();

  dp_library lib;
  char err[1024];
  report_set_current("load-library");
  if (dp_library_open(argv[1], &lib, err, sizeof(err)) != 0) {
    report_fail("load-library", "%s", err);
  } else {
    report_ok("load-library");
    run_scenario_dir(&lib, argv[2]);
    run_builtin_tests(&lib);
    if (harness_selected("builtin/dlclose")) {
      report_set_current("builtin/dlclose");
      fflush(stdout);
      int rc = dp_library_close(&lib);
      if (rc == 0) {
        report_ok("builtin/dlclose");
      } else {
        report_fail("builtin/dlclose", "dlclose returned %d", rc);
      }
    } else {
      dp_library_close(&lib);
    }
  }

  printf("%d passed, %d failed\n", report_passed(), report_failed());
  fflush(stdout);
  /* What runs after main (a sanitizer's leak check) is reported under this name. */
  report_set_current("process-exit");
  return report_failed() == 0 ? 0 : 1;
}
