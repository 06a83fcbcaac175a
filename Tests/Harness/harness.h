/*
 * swift-proxylib datapath harness: declarations shared by the harness source files.
 */
#ifndef SWIFT_PROXYLIB_HARNESS_H
#define SWIFT_PROXYLIB_HARNESS_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "datapath.h"

/* ---- Reporting (report.c) ---- */

/* Prints "ok NAME" and counts a pass. */
void report_ok(const char *name);
/* Prints "FAIL NAME: reason" (reason on one line) and counts a failure. */
void report_fail(const char *name, const char *fmt, ...);
/* Prints "# text" (diagnostics that are not results). */
void report_note(const char *fmt, ...);
int report_passed(void);
/* Names the test now running, for the report written if the process crashes or times out. */
void report_set_current(const char *name);
/*
 * On SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP (a Swift trap) or when timeout_seconds (0: none) run out,
 * prints "FAIL <current test>: ..." and the summary line, and exits with status 1.
 */
void report_install_crash_handlers(unsigned timeout_seconds);
int report_failed(void);

/* Set from the environment at start-up. */
extern int harness_verbose;      /* HARNESS_VERBOSE=1: datapath debug lines are printed as notes */
extern const char *harness_only; /* HARNESS_ONLY=substring: run only tests whose name contains it */
extern uint64_t harness_seed;    /* HARNESS_SEED=n, else derived from the clock */

/* 1 when a test named `name` is selected by HARNESS_ONLY. */
int harness_selected(const char *name);

/* A dp_log_fn printing "# [ctx] msg" when harness_verbose is set; ctx is a const char * label. */
void harness_log(void *ctx, const char *msg);

/* ---- Small utilities (report.c) ---- */

/* Deterministic PRNG (splitmix64). */
typedef struct {
  uint64_t s;
} rng_t;
void rng_seed(rng_t *r, uint64_t seed);
uint64_t rng_next(rng_t *r);
/* Uniform in [lo, hi] (hi >= lo). */
uint64_t rng_range(rng_t *r, uint64_t lo, uint64_t hi);
/* FNV-1a of a string, to derive per-test seeds. */
uint64_t hash_str(const char *s);

/*
 * Writes a C-escaped, quoted rendering of bytes into out (at most out_len bytes, NUL-terminated); long data is
 * shown as a window around offset `focus` with "..." marks. Returns out.
 */
char *show_bytes(char *out, size_t out_len, const uint8_t *p, size_t n, size_t focus);
/* Offset of the first difference of two byte strings (the shorter length if one is a prefix of the other). */
size_t first_diff(const uint8_t *a, size_t an, const uint8_t *b, size_t bn);
/*
 * Formats "expected E (n bytes), got G (m bytes), first difference at offset k" into out, or returns 0 when the
 * byte strings are equal (then out is untouched).
 */
int describe_mismatch(char *out, size_t out_len, const uint8_t *exp, size_t en, const uint8_t *got, size_t gn);

/* Parses "OK", "FILTER_OK", "PARSER_ERROR", ... Returns 0 and sets *res, or -1. */
int parse_result_name(const char *s, FilterResult *res);
/* Parses "MORE", "PASS", "DROP", "INJECT", "ERROR" (also with a FILTEROP_ prefix). */
int parse_op_name(const char *s, uint64_t *op);

/* ---- Test groups ---- */

/* selftest.c: datapath.c against a scripted in-process fake library (no .so needed). */
void run_selftests(void);
/* builtin.c: concurrency, connection churn and unknown-connection tests against the loaded library. */
void run_builtin_tests(const dp_library *lib);
/* scenario.c: runs every *.scn file of a directory (sorted by name). Returns -1 if the directory is unusable. */
int run_scenario_dir(const dp_library *lib, const char *dir);

#endif /* SWIFT_PROXYLIB_HARNESS_H */
