/*
 * swift-proxylib datapath harness: result reporting and small helpers.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

int harness_verbose = 0;
const char *harness_only = NULL;
uint64_t harness_seed = 0;

static int n_passed = 0;
static int n_failed = 0;
static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;

void report_ok(const char *name) {
  pthread_mutex_lock(&report_lock);
  n_passed++;
  printf("ok %s\n", name);
  fflush(stdout);
  pthread_mutex_unlock(&report_lock);
}

void report_fail(const char *name, const char *fmt, ...) {
  char reason[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(reason, sizeof(reason), fmt, ap);
  va_end(ap);
  /* Keep the result on one line. */
  for (char *p = reason; *p; p++) {
    if (*p == '\n' || *p == '\r') {
      *p = ' ';
    }
  }
  pthread_mutex_lock(&report_lock);
  n_failed++;
  printf("FAIL %s: %s\n", name, reason);
  fflush(stdout);
  pthread_mutex_unlock(&report_lock);
}

void report_note(const char *fmt, ...) {
  char text[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof(text), fmt, ap);
  va_end(ap);
  pthread_mutex_lock(&report_lock);
  printf("# %s\n", text);
  fflush(stdout);
  pthread_mutex_unlock(&report_lock);
}

int report_passed(void) { return n_passed; }

/* ---- Crashes and hangs ---- */

static char current_test[256] = "harness";
static atomic_flag dying = ATOMIC_FLAG_INIT;

void report_set_current(const char *name) {
  pthread_mutex_lock(&report_lock);
  snprintf(current_test, sizeof(current_test), "%s", name);
  pthread_mutex_unlock(&report_lock);
}

/* Async-signal-safe helpers for the fatal signal handler. */
static size_t put_str(char *buf, size_t o, size_t cap, const char *s) {
  while (*s && o + 1 < cap) {
    buf[o++] = *s++;
  }
  return o;
}

static size_t put_int(char *buf, size_t o, size_t cap, int v) {
  char digits[16];
  int n = 0;
  unsigned u = v < 0 ? 0u - (unsigned)v : (unsigned)v;
  do {
    digits[n++] = (char)('0' + u % 10);
    u /= 10;
  } while (u > 0 && n < 15);
  if (v < 0 && o + 1 < cap) {
    buf[o++] = '-';
  }
  while (n > 0 && o + 1 < cap) {
    buf[o++] = digits[--n];
  }
  return o;
}

/* Writes "FAIL <current test>: <reason>" and the summary line (counting that failure) and exits with status 1. */
static void die_reporting(const char *reason, int sig) {
  if (atomic_flag_test_and_set(&dying)) {
    for (;;) {
      pause(); /* another thread is reporting */
    }
  }
  char buf[512];
  size_t o = 0;
  o = put_str(buf, o, sizeof(buf), "\nFAIL ");
  o = put_str(buf, o, sizeof(buf), current_test);
  o = put_str(buf, o, sizeof(buf), reason);
  if (sig != 0) {
    o = put_int(buf, o, sizeof(buf), sig);
  }
  o = put_str(buf, o, sizeof(buf), "\n");
  o = put_int(buf, o, sizeof(buf), n_passed);
  o = put_str(buf, o, sizeof(buf), " passed, ");
  o = put_int(buf, o, sizeof(buf), n_failed + 1);
  o = put_str(buf, o, sizeof(buf), " failed\n");
  ssize_t w = write(STDOUT_FILENO, buf, o);
  (void)w;
  _exit(1);
}

static void on_fatal_signal(int sig) {
  if (sig == SIGALRM) {
    die_reporting(": timed out (HARNESS_TIMEOUT)", 0);
  }
  die_reporting(": the process died with signal ", sig);
}

/*
 * Built with a sanitizer (make test-asan / test-tsan): a report ends the process from inside the sanitizer runtime,
 * which calls this first, so the run still ends with the failing test and the summary line. (The report itself is on
 * stderr.)
 */
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define HARNESS_SANITIZED 1
#endif
#endif
#ifdef HARNESS_SANITIZED
#include <sanitizer/common_interface_defs.h>
static void on_sanitizer_death(void) { die_reporting(": sanitizer report (on stderr)", 0); }
#endif

void report_install_crash_handlers(unsigned timeout_seconds) {
  static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGALRM};
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_fatal_signal;
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
    sigaction(sigs[i], &sa, NULL);
  }
  if (timeout_seconds > 0) {
    alarm(timeout_seconds);
  }
#ifdef HARNESS_SANITIZED
  __sanitizer_set_death_callback(on_sanitizer_death);
#endif
}
int report_failed(void) { return n_failed; }

int harness_selected(const char *name) {
  return harness_only == NULL || *harness_only == '\0' || strstr(name, harness_only) != NULL;
}

void harness_log(void *ctx, const char *msg) {
  if (harness_verbose) {
    report_note("[%s] %s", ctx ? (const char *)ctx : "dp", msg);
  }
}

void rng_seed(rng_t *r, uint64_t seed) { r->s = seed; }

uint64_t rng_next(rng_t *r) {
  uint64_t z = (r->s += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

uint64_t rng_range(rng_t *r, uint64_t lo, uint64_t hi) {
  uint64_t span = hi - lo + 1;
  if (span == 0) {
    return rng_next(r);
  }
  return lo + rng_next(r) % span;
}

uint64_t hash_str(const char *s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (; *s; s++) {
    h ^= (uint8_t)*s;
    h *= 0x100000001b3ULL;
  }
  return h;
}

/* Appends the escaped form of one byte; returns the number of chars written (0 if it does not fit). */
static size_t escape_byte(char *out, size_t room, uint8_t c) {
  char tmp[8];
  switch (c) {
  case '\n':
    strcpy(tmp, "\\n");
    break;
  case '\r':
    strcpy(tmp, "\\r");
    break;
  case '\t':
    strcpy(tmp, "\\t");
    break;
  case '\\':
    strcpy(tmp, "\\\\");
    break;
  case '"':
    strcpy(tmp, "\\\"");
    break;
  default:
    if (c >= 0x20 && c < 0x7f) {
      tmp[0] = (char)c;
      tmp[1] = '\0';
    } else {
      snprintf(tmp, sizeof(tmp), "\\x%02x", c);
    }
  }
  size_t n = strlen(tmp);
  if (n >= room) {
    return 0;
  }
  memcpy(out, tmp, n + 1);
  return n;
}

char *show_bytes(char *out, size_t out_len, const uint8_t *p, size_t n, size_t focus) {
  const size_t window = 96;
  size_t start = 0;
  size_t end = n;
  if (n > window) {
    start = focus > window / 3 ? focus - window / 3 : 0;
    if (start + window > n) {
      start = n - window;
    }
    end = start + window;
  }
  size_t o = 0;
  out[0] = '\0';
  if (out_len < 16) {
    return out;
  }
  if (start > 0) {
    o += (size_t)snprintf(out + o, out_len - o, "...");
  }
  out[o++] = '"';
  out[o] = '\0';
  for (size_t i = start; i < end; i++) {
    size_t w = escape_byte(out + o, out_len - o - 6, p[i]);
    if (w == 0) {
      break;
    }
    o += w;
  }
  out[o++] = '"';
  out[o] = '\0';
  if (end < n && o + 4 < out_len) {
    strcpy(out + o, "...");
  }
  return out;
}

size_t first_diff(const uint8_t *a, size_t an, const uint8_t *b, size_t bn) {
  size_t n = an < bn ? an : bn;
  size_t i = 0;
  while (i < n && a[i] == b[i]) {
    i++;
  }
  return i;
}

int describe_mismatch(char *out, size_t out_len, const uint8_t *exp, size_t en, const uint8_t *got, size_t gn) {
  if (en == gn && (en == 0 || memcmp(exp, got, en) == 0)) {
    return 0;
  }
  size_t k = first_diff(exp, en, got, gn);
  char e[512], g[512];
  snprintf(out, out_len, "expected %s (%zu bytes), got %s (%zu bytes), first difference at offset %zu",
           show_bytes(e, sizeof(e), exp, en, k), en, show_bytes(g, sizeof(g), got, gn, k), gn, k);
  return 1;
}

int parse_result_name(const char *s, FilterResult *res) {
  static const FilterResult all[] = {FILTER_OK,          FILTER_POLICY_DROP,     FILTER_PARSER_ERROR,
                                     FILTER_UNKNOWN_PARSER, FILTER_UNKNOWN_CONNECTION, FILTER_INVALID_ADDRESS,
                                     FILTER_INVALID_INSTANCE, FILTER_UNKNOWN_ERROR};
  if (strncmp(s, "FILTER_", 7) == 0) {
    s += 7;
  }
  for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
    if (strcmp(s, dp_result_name(all[i])) == 0) {
      *res = all[i];
      return 0;
    }
  }
  return -1;
}

int parse_op_name(const char *s, uint64_t *op) {
  if (strncmp(s, "FILTEROP_", 9) == 0) {
    s += 9;
  }
  for (uint64_t i = FILTEROP_MORE; i <= FILTEROP_ERROR; i++) {
    if (strcmp(s, dp_op_name(i)) == 0) {
      *op = i;
      return 0;
    }
  }
  return -1;
}
