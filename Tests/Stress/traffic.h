/*
 * Random but valid traffic for libcilium.so through the C datapath (Sources/CDatapath), checked from the bytes
 * that reach the server and the client. Used by the stress driver (Tests/Stress/stress.c) and, built into
 * build/libstress.so, by the fault suite (Tests/faults) through ctypes.
 *
 * Every connection runs one parser with a script of requests; each request has a class:
 *   TR_ALWAYS  allowed by every policy the NPDS servers of these tests send (Tests/Stress/policy_variants.py)
 *   TR_NEVER   allowed by none of them (and on connections whose remote identity or policy name no policy
 *              names, every request is TR_NEVER)
 *   TR_MAYBE   allowed by some of them: either outcome is right
 *   TR_CONTENT decided by the bytes alone (test.passer, test.lineparser, test.blockparser): the exact output is
 *              known and checked byte for byte
 * A TR_NEVER request that reaches the server is always a violation. A TR_ALWAYS request that does not is one
 * when `strict_allowed` is set (the stress run, where a valid policy is in force from the first request on; the
 * fault suite runs phases without a policy and leaves that check to its own requests).
 *
 * Each worker thread keeps a pool of open connections and advances a random one at each step (a write from the
 * client cut at a random point, several pipelined requests, or a reply from the server), so connections live
 * across many policy updates and different connections of one thread interleave. Every OnNewConnection, OnData
 * and Close call is timed (log-linear histogram: no allocation while running).
 */
#ifndef SWIFT_PROXYLIB_STRESS_TRAFFIC_H
#define SWIFT_PROXYLIB_STRESS_TRAFFIC_H

#include <stdint.h>

#include "datapath.h"

enum { TR_ALWAYS, TR_NEVER, TR_MAYBE, TR_CONTENT, TR_N_CLASSES };
enum { TR_CALL_NEW, TR_CALL_DATA, TR_CALL_CLOSE, TR_N_CALLS };
enum { TR_PASSER, TR_LINE, TR_HEADER, TR_BLOCK, TR_R2D2, TR_N_PARSERS };

/* Log-linear histogram of nanoseconds: exact below 16, then 16 sub-buckets per power of two (<= 6% error). */
#define TR_BUCKETS (16 + 60 * 16)
typedef struct tr_hist {
  uint64_t buckets[TR_BUCKETS];
  uint64_t count;
  uint64_t max_ns;
  uint64_t total_ns;
} tr_hist;

typedef struct tr_stats {
  tr_hist calls[TR_N_CALLS];
  uint64_t connections;       /* opened and run to their end */
  uint64_t refused;           /* OnNewConnection answered INVALID_INSTANCE (the instance was closed) */
  uint64_t requests;          /* requests (or blocks, lines) sent whole */
  uint64_t allowed[TR_N_CLASSES], denied[TR_N_CLASSES];
  uint64_t log_expected;      /* access-log entries the library should have made for them */
  uint64_t per_parser[TR_N_PARSERS];
  uint64_t violations;
  char first_violation[512];
} tr_stats;

typedef struct tr_config {
  uint64_t seed;
  int strict_allowed;     /* a denied TR_ALWAYS request is a violation */
  int slots;              /* connections each thread keeps open at once (1..64) */
  int max_requests;       /* requests per connection: 1..max (<= 48) */
  uint32_t parser_mask;   /* bit per TR_* parser; 0 = all */
  uint64_t conn_id_base;  /* connection ids: base + thread * 2^32 + n */
} tr_config;

/* One worker's state; opaque. */
typedef struct tr_worker tr_worker;

/* Wraps `real` so that the library's OnNewConnection, OnData and Close are timed into the calling worker's
   stats. One real library per process (the trampolines keep its pointers in globals). */
void tr_wrap_library(const dp_library *real, dp_library *wrapped);

tr_worker *tr_worker_new(const dp_library *wrapped, const tr_config *config, int index);
/* Runs until `connections` more connections have ended (or *stop becomes non-zero, then closes the open ones).
   `instance` is read before every OnNewConnection, so another thread may switch it. */
void tr_worker_run(tr_worker *w, const volatile uint64_t *instance, uint64_t connections, const volatile int *stop);
/* Runs the connections still open to the end of their scripts (checked and counted), then closes them. */
void tr_worker_finish(tr_worker *w);
/* Closes the connections still open (Close at the library), checking what they got so far. */
void tr_worker_close_all(tr_worker *w);
const tr_stats *tr_worker_stats(const tr_worker *w);
void tr_worker_free(tr_worker *w);

void tr_stats_merge(tr_stats *into, const tr_stats *from);
/* The p-th percentile (0..100) of a call kind in ns (the bucket's middle value), 0 when there are no samples. */
double tr_hist_percentile(const tr_hist *h, double p);
void tr_stats_print(const tr_stats *s, const char *indent);

/* ---- for the fault suite (ctypes) ----------------------------------------------------------------------- */

/* `threads` workers in the background until tr_load_stop; each reads *instance (settable) before each
   OnNewConnection. */
typedef struct tr_load tr_load;
tr_load *tr_load_start(const dp_library *real, uint64_t instance, int threads, uint64_t seed, int strict_allowed);
void tr_load_set_instance(tr_load *load, uint64_t instance);
/* Stops and joins the workers, closes their connections; returns the merged stats (free with tr_stats_free). */
tr_stats *tr_load_stop(tr_load *load);
/* A counter by name ("violations", "requests", "allowed.never", "max_ns.data", "p99_ns.new", ...); -1 if
   unknown. */
double tr_stats_value(const tr_stats *s, const char *name);
const char *tr_stats_violation(const tr_stats *s);
void tr_stats_free(tr_stats *s);

/* Close racing OnData: one thread streams pipelined test.lineparser lines through one long-lived connection
   (64 lines per write, output checked exactly) while `closers` threads open and close `batch` connections at a
   time on the same instance (the connection table grows and shrinks under the OnData calls), for `rounds`
   rounds. Returns the stats of all threads. */
tr_stats *tr_close_race(const dp_library *real, uint64_t instance, int closers, int batch, int rounds);

#endif
