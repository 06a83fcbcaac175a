/*
 * swift-proxylib benchmark driver: a libcilium.so (ours, or any other build such as the Go one) loaded by path
 * and driven through the same C datapath as the test harness (Sources/CDatapath: cilium-envoy's onIo and network
 * filter logic), in one process, with a malloc interposer counting heap allocations.
 *
 *   usage: bench [--smoke] [--runs N] [--requests N] [--python PATH] [--json PATH] [--scan-only]
 *                [--threads-only [--threads-rows PREFIX]] [--workloads PREFIX] [--logging off|on]
 *                [--shape whole|slices|pipelined] [--strict] [LIB | LIB=path]
 *
 * Before timing, a realistic allow-most policy (bench/policy.txt) is delivered over NPDS by bench/npds_serve.py
 * (the test suite's grpcio server) on a private unix socket; the driver waits for the library's ACK. Logging-on
 * runs open a second instance with `access-log-path` pointing at a SOCK_SEQPACKET collector drained by a thread
 * of this process.
 *
 * The workloads are in bench/workloads.h. Request/reply protocols (memcache, cassandra) send the server's reply
 * to each allowed request through the reply direction after it (pipelined: all replies of the pipeline in one
 * write), timed with the request; every run checks the bytes that reach the server (exactly the allowed
 * requests) and, for those, the client (the replies and the library's denials). A workload's setup exchange
 * (cassandra's PREPAREs and their answers) opens each of its connections, untimed.
 *
 * For every workload x delivery shape x logging off/on: ns/request and requests/s (median of the runs after a
 * warm-up), MB/s of request bytes offered, and heap allocations/bytes per request, counted three ways:
 *   lib   - inside the library's OnData, on the calling thread (the figure the targets are about);
 *   path  - on the calling thread outside OnData (the C datapath: buffered input segments, as Envoy's buffers);
 *   other - on every other thread (the library's NPDS and access-log threads, the collector).
 * Plus OpenModule time, RSS after it, RSS with 10,000 open connections, and requests/s of 1 and 2 worker threads on
 * one instance, logging off and on. A table on stdout, JSON to --json (default bench/results.json). --smoke: one
 * short run of everything; --threads-only: only the worker-thread rows; --logging off|on: only the table rows of that
 * logging setting (with `on`, also the collector-keeping-up figures); --shape: only the table rows of that shape
 * (both: e.g. to point callgrind at one kind of row); --workloads PREFIX: only the table rows of
 * the workloads whose name starts with PREFIX. A row the library cannot run (the Go parser has no memcache meta
 * commands) is reported as n/a; --strict (the Makefile's choice for our library) makes that, or a reply or
 * denial missing at the client, a failure.
 *
 * Build: cc -std=c11 -O2 -Wall -Wextra -Werror -pthread -rdynamic -IInclude -ISources/CDatapath/include \
 *           Sources/CDatapath/datapath.c bench/bench.c -ldl -o build/bench
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "datapath.h"
#include "services.h"
#include "workloads.h"

/* ---- malloc interposer ---------------------------------------------------------------------------------- */

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

/* Every thread. Off while worker threads run side by side (`count_shared`): one atomic counter bumped by every
   malloc of every thread would itself be a contended cache line between them. */
static atomic_long all_allocs, all_bytes;
static atomic_int count_shared = 1;
/* The calling (benchmark) thread, split by whether it is inside the library's OnData. */
static _Thread_local long my_allocs, my_bytes, lib_allocs, lib_bytes;
static _Thread_local int in_library;

static void count(size_t n) {
  if (atomic_load_explicit(&count_shared, memory_order_relaxed)) {
    atomic_fetch_add_explicit(&all_allocs, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&all_bytes, (long)n, memory_order_relaxed);
  }
  my_allocs++;
  my_bytes += (long)n;
  if (in_library) {
    lib_allocs++;
    lib_bytes += (long)n;
  }
}

void *malloc(size_t n) { count(n); return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { count(a * b); return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { count(n); return __libc_realloc(p, n); }
void *aligned_alloc(size_t align, size_t n) { count(n); return __libc_memalign(align, n); }
void *memalign(size_t align, size_t n) { count(n); return __libc_memalign(align, n); }
int posix_memalign(void **out, size_t align, size_t n) {
  count(n);
  void *p = __libc_memalign(align, n);
  if (p == NULL) return ENOMEM;
  *out = p;
  return 0;
}

typedef struct alloc_snapshot {
  long all, all_b, mine, mine_b, lib, lib_b;
} alloc_snapshot;

static alloc_snapshot alloc_now(void) {
  return (alloc_snapshot){atomic_load(&all_allocs), atomic_load(&all_bytes), my_allocs, my_bytes,
                          lib_allocs, lib_bytes};
}

/* The datapath calls the library through dp_library's pointers; OnData is wrapped to flag "inside". */
static dp_on_data_fn real_on_data;

static FilterResult counted_on_data(GoUint64 id, GoUint8 reply, GoUint8 end_stream, GoSlice *data, GoSlice *ops) {
  in_library = 1;
  FilterResult res = real_on_data(id, reply, end_stream, data, ops);
  in_library = 0;
  return res;
}

/* ---- small helpers -------------------------------------------------------------------------------------- */

/* Resident set size in KiB, from /proc/self/statm. */
static long rss_kib(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long size = 0, resident = 0;
  if (f == NULL) return -1;
  if (fscanf(f, "%ld %ld", &size, &resident) != 2) resident = -1;
  fclose(f);
  return resident < 0 ? -1 : resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* ---- shapes and traffic (the workloads are in bench/workloads.h) ------------------------------------------ */

enum { SHAPE_WHOLE, SHAPE_SPLIT3, SHAPE_PIPELINED };
static const char *shape_names[] = {"whole", "3 slices", "64 pipelined"};
#define N_SHAPES 3
#define PIPELINE 64

typedef struct result {
  const char *workload, *shape;
  int logging;
  long requests;            /* measured requests (all runs) */
  double ns_per_request;    /* median over runs */
  double requests_per_s;
  double mb_per_s;
  double lib_allocs, lib_bytes, path_allocs, path_bytes, other_allocs, other_bytes; /* per request */
  long logged_requests;     /* requests sent with logging on (warm-up included) */
  long expected_entries;    /* the access-log entries they produce (a request and its reply log one each) */
  long log_entries;         /* access-log entries the collector received for them (the rest were dropped) */
  int client_checked;       /* workloads with replies: the client's bytes were counted */
  long client_bytes, client_expected; /* replies and denials received by the client / expected (all steps) */
  int failed;               /* the row could not run: `error` says why (printed as n/a) */
  char error[200];
} result;

typedef struct bench_ctx {
  dp_library lib;
  int runs;
  long requests_per_run;
  long warmup;
  uint64_t next_conn_id;
  collector *col;
} bench_ctx;

/* The traffic of one workload and shape, built before timing: `n_units` onIo payloads, each in the request
   direction (client -> server) or, for workloads with replies, the reply direction (server -> client). */
#define MAX_UNITS (MAX_CYCLE * 2 * 3)

typedef struct traffic {
  size_t n_units;
  const uint8_t *unit[MAX_UNITS];
  size_t unit_len[MAX_UNITS];
  uint8_t unit_reply[MAX_UNITS]; /* 1: a reply-direction write */
  int requests_per_step;         /* requests delivered by one pass over all units */
  int entries_per_step;          /* access-log entries they produce (request_entries: memcache logs each request
                                    and reply, cassandra each statement of a request) */
  size_t bytes_per_step;         /* request bytes */
  size_t allowed_bytes_per_step; /* request bytes the server must receive */
  size_t client_bytes_per_step;  /* replies and denials the client must receive (workloads with replies) */
  int check_client;
  uint8_t *storage;
} traffic;

static void add_unit(traffic *t, const uint8_t *bytes, size_t len, int reply) {
  t->unit[t->n_units] = bytes;
  t->unit_len[t->n_units] = len;
  t->unit_reply[t->n_units++] = (uint8_t)reply;
}

/* One message whole or in three slices. */
static void add_message(traffic *t, const uint8_t *bytes, size_t len, int reply, int shape) {
  if (shape == SHAPE_WHOLE) {
    add_unit(t, bytes, len, reply);
    return;
  }
  size_t third = len / 3;
  add_unit(t, bytes, third, reply);
  add_unit(t, bytes + third, third, reply);
  add_unit(t, bytes + 2 * third, len - 2 * third, reply);
}

static void build_traffic(const workload *w, int shape, traffic *t) {
  memset(t, 0, sizeof *t);
  int n = 0;
  while (n < MAX_CYCLE && w->cycle[n].bytes != NULL) n++;
  t->check_client = w->denial != NULL && workload_has_replies(w);
  int steps_in_step = shape == SHAPE_PIPELINED ? PIPELINE / n : 1; /* cycles per pass */
  for (int c = 0; c < steps_in_step; c++)
    for (int i = 0; i < n; i++) {
      const request *r = &w->cycle[i];
      t->requests_per_step++;
      t->entries_per_step += request_entries(r);
      t->bytes_per_step += request_len(r);
      if (r->allowed) {
        t->allowed_bytes_per_step += request_len(r);
        t->client_bytes_per_step += reply_len(r);
      } else {
        t->client_bytes_per_step += w->denial_len;
      }
    }
  if (shape == SHAPE_PIPELINED) {
    /* 64 requests in one write (the cycle repeated), then the server's replies to them in one write. */
    size_t replies = 0;
    for (int i = 0; i < n; i++) replies += reply_len(&w->cycle[i]);
    t->storage = malloc(t->bytes_per_step + replies * (size_t)steps_in_step + 1);
    size_t at = 0;
    for (int i = 0; i < PIPELINE; i++) {
      const request *r = &w->cycle[i % n];
      memcpy(t->storage + at, r->bytes, request_len(r));
      at += request_len(r);
    }
    add_unit(t, t->storage, at, 0);
    size_t replies_at = at;
    for (int i = 0; i < PIPELINE; i++) {
      const request *r = &w->cycle[i % n];
      if (!r->allowed || r->reply == NULL) continue;
      memcpy(t->storage + at, r->reply, reply_len(r));
      at += reply_len(r);
    }
    if (at > replies_at) add_unit(t, t->storage + replies_at, at - replies_at, 1);
    return;
  }
  /* One pass = the cycle, each request (then its reply) whole or in three slices. */
  for (int i = 0; i < n; i++) {
    const request *r = &w->cycle[i];
    add_message(t, (const uint8_t *)r->bytes, request_len(r), 0, shape);
    if (r->allowed && r->reply != NULL) add_message(t, (const uint8_t *)r->reply, reply_len(r), 1, shape);
  }
}

/* Why the calling thread's last drive() failed. */
static _Thread_local char drive_error[96];

/* Pushes `steps` passes of the traffic through the connection (requests with dp_filter_on_data, replies with
   dp_filter_on_write, as cilium-envoy's filter does); returns bytes forwarded to the server, -1 on error. Adds
   the bytes forwarded to the client (replies and injected denials) to *to_client_bytes when not NULL. */
static long drive(dp_conn *conn, const traffic *t, long steps, dp_buf *to_server, dp_buf *to_client,
                  long *to_client_bytes) {
  long forwarded = 0, client = 0;
  for (long s = 0; s < steps; s++) {
    for (size_t u = 0; u < t->n_units; u++) {
      FilterResult res = t->unit_reply[u] ? dp_filter_on_write(conn, t->unit[u], t->unit_len[u], 0, to_client)
                                          : dp_filter_on_data(conn, t->unit[u], t->unit_len[u], 0, to_server, to_client);
      if (res != FILTER_OK) {
        snprintf(drive_error, sizeof drive_error, "onIo (%s direction) -> %s", t->unit_reply[u] ? "reply" : "request",
                 dp_result_name(res));
        return -1;
      }
      forwarded += (long)to_server->len;
      client += (long)to_client->len;
      dp_buf_truncate(to_server, 0);
      dp_buf_truncate(to_client, 0);
    }
  }
  if (to_client_bytes) *to_client_bytes += client;
  return forwarded;
}

/* The workload's setup exchange on a new connection (each request, then the server's reply): everything must
   pass. Returns the access-log entries it produced, -1 on error (the reason in drive_error). */
static long setup_connection(dp_conn *conn, const workload *w) {
  dp_buf to_server, to_client;
  dp_buf_init(&to_server);
  dp_buf_init(&to_client);
  long entries = 0;
  for (int i = 0; i < MAX_SETUP && w->setup[i].bytes != NULL; i++) {
    const request *r = &w->setup[i];
    FilterResult res = dp_filter_on_data(conn, (const uint8_t *)r->bytes, request_len(r), 0, &to_server, &to_client);
    if (res == FILTER_OK && r->reply != NULL)
      res = dp_filter_on_write(conn, (const uint8_t *)r->reply, reply_len(r), 0, &to_client);
    if (res != FILTER_OK || to_server.len != request_len(r) || to_client.len != reply_len(r)) {
      snprintf(drive_error, sizeof drive_error, "setup exchange %d: %s, %zu of %zu bytes to the server, %zu of %zu back",
               i + 1, dp_result_name(res), to_server.len, request_len(r), to_client.len, reply_len(r));
      entries = -1;
      break;
    }
    entries += request_entries(r);
    dp_buf_truncate(&to_server, 0);
    dp_buf_truncate(&to_client, 0);
  }
  dp_buf_free(&to_server);
  dp_buf_free(&to_client);
  return entries;
}

/*
 * One table row, measured in `runs` timed runs. The rows of a logging setting take turns, one run each, so a
 * stretch of interference from the rest of the machine lands in one run of several rows rather than in every
 * run of one row, and the median discards it.
 */
typedef struct bench_case {
  const workload *w;
  int shape, logging, failed;
  char error[200];            /* why the row failed */
  traffic t;
  dp_conn *conn;
  dp_buf to_server, to_client;
  long steps_per_run, warm_steps;
  double *ns;                 /* per run */
  alloc_snapshot allocated;   /* summed over the timed runs */
  long entries;               /* access-log entries received for this row's requests, warm-up included */
  long client_bytes, client_expected; /* replies and denials the client received / should have (all steps) */
} bench_case;

static void alloc_add(alloc_snapshot *sum, alloc_snapshot before, alloc_snapshot after) {
  sum->all += after.all - before.all;
  sum->all_b += after.all_b - before.all_b;
  sum->mine += after.mine - before.mine;
  sum->mine_b += after.mine_b - before.mine_b;
  sum->lib += after.lib - before.lib;
  sum->lib_b += after.lib_b - before.lib_b;
}

/* --strict: a row that cannot run, or whose client did not get every reply and denial, fails the benchmark
   (the Makefile passes it for our library). Without it such a row is reported (n/a, or the byte counts) and
   the others still count: another library may not speak a protocol (the Go parser has no meta commands). */
static int strict;

static void case_fail(bench_case *c, const char *what) {
  snprintf(c->error, sizeof c->error, "%s", what);
  fprintf(stderr, "bench: %s/%s/%s: %s\n", c->w->name, shape_names[c->shape], c->logging ? "on" : "off", what);
  c->failed = 1;
}

/* Pushes `steps` passes and checks the bytes the server got (exactly the allowed requests: a missing policy
   fails the run instead of benchmarking denials) and, for workloads with replies, the client. With `elapsed`,
   a timed run: the time goes there and the allocations into the row's sums. */
static int case_drive(bench_case *c, long steps, const char *phase, double *elapsed) {
  long client = 0;
  alloc_snapshot a0 = alloc_now();
  double start = now_ns();
  long fwd = drive(c->conn, &c->t, steps, &c->to_server, &c->to_client, &client);
  if (elapsed) {
    *elapsed = now_ns() - start;
    alloc_add(&c->allocated, a0, alloc_now());
  }
  char what[200];
  if (fwd < 0) {
    snprintf(what, sizeof what, "%s: %s", phase, drive_error);
    case_fail(c, what);
    return -1;
  }
  if (fwd != steps * (long)c->t.allowed_bytes_per_step) {
    snprintf(what, sizeof what, "%s: %ld bytes forwarded to the server, expected %ld (is the policy in force?)",
             phase, fwd, steps * (long)c->t.allowed_bytes_per_step);
    case_fail(c, what);
    return -1;
  }
  if (c->t.check_client) {
    c->client_bytes += client;
    c->client_expected += steps * (long)c->t.client_bytes_per_step;
    if (strict && client != steps * (long)c->t.client_bytes_per_step) {
      snprintf(what, sizeof what, "%s: the client received %ld bytes of replies and denials, expected %ld", phase,
               client, steps * (long)c->t.client_bytes_per_step);
      case_fail(c, what);
      return -1;
    }
  }
  return 0;
}

/* Opens the row's connection and warms it up (checking the traffic, as every run does). */
static int case_begin(bench_ctx *ctx, uint64_t instance, const workload *w, int shape, int logging, bench_case *c) {
  memset(c, 0, sizeof *c);
  c->w = w;
  c->shape = shape;
  c->logging = logging;
  build_traffic(w, shape, &c->t);
  dp_buf_init(&c->to_server);
  dp_buf_init(&c->to_client);
  c->ns = calloc((size_t)ctx->runs, sizeof *c->ns);
  FilterResult res = dp_conn_new(&ctx->lib, instance, w->parser, ctx->next_conn_id++, 1, w->src_id, 2,
                                 "10.1.1.1:34567", w->dst_addr, w->policy_name, &c->conn);
  if (res != FILTER_OK) {
    char what[96];
    snprintf(what, sizeof what, "OnNewConnection -> %s", dp_result_name(res));
    case_fail(c, what);
    return -1;
  }
  c->steps_per_run = (ctx->requests_per_run + c->t.requests_per_step - 1) / c->t.requests_per_step;
  c->warm_steps = (ctx->warmup + c->t.requests_per_step - 1) / c->t.requests_per_step;
  if (c->warm_steps < 1) c->warm_steps = 1;
  long setup_before = ctx->col ? atomic_load(&ctx->col->entries) : 0;
  long setup_entries = setup_connection(c->conn, w);
  if (setup_entries < 0) {
    case_fail(c, drive_error);
    return -1;
  }
  /* The setup's entries are not the row's: let them arrive first. */
  if (ctx->col && setup_entries > 0) collector_settle_at(ctx->col, setup_before + setup_entries);
  long entries_before = ctx->col ? atomic_load(&ctx->col->entries) : 0;
  if (case_drive(c, c->warm_steps, "warm-up", NULL) != 0) return -1;
  if (ctx->col)
    c->entries += collector_settle_at(ctx->col, entries_before + c->warm_steps * c->t.entries_per_step) - entries_before;
  return 0;
}

/* Timed run `r` of the row. */
static void case_run(bench_ctx *ctx, bench_case *c, int r) {
  if (c->failed) return;
  long entries_before = ctx->col ? atomic_load(&ctx->col->entries) : 0;
  char phase[32];
  snprintf(phase, sizeof phase, "run %d", r + 1);
  double elapsed = 0;
  if (case_drive(c, c->steps_per_run, phase, &elapsed) != 0) return;
  c->ns[r] = elapsed / (double)(c->steps_per_run * c->t.requests_per_step);
  /* Entries still in flight belong to this row: wait for them before the next row runs. */
  if (ctx->col)
    c->entries += collector_settle_at(ctx->col, entries_before + c->steps_per_run * c->t.entries_per_step) - entries_before;
}

/* The row's figures (median run), or why it failed; frees the row. Returns -1 when it failed. */
static int case_end(bench_ctx *ctx, bench_case *c, result *out) {
  int ok = !c->failed;
  *out = (result){.workload = c->w->name, .shape = shape_names[c->shape], .logging = c->logging, .failed = !ok};
  if (ok) {
    qsort(c->ns, (size_t)ctx->runs, sizeof *c->ns, cmp_double);
    double median = ctx->runs % 2 ? c->ns[ctx->runs / 2] : (c->ns[ctx->runs / 2 - 1] + c->ns[ctx->runs / 2]) / 2;
    long requests = (long)ctx->runs * c->steps_per_run * c->t.requests_per_step;
    double bytes_per_request = (double)c->t.bytes_per_step / (double)c->t.requests_per_step;
    double rq = (double)requests;
    alloc_snapshot a = c->allocated;
    long sent_steps = (long)ctx->runs * c->steps_per_run + c->warm_steps;
    *out = (result){
        .workload = c->w->name,
        .shape = shape_names[c->shape],
        .logging = c->logging,
        .requests = requests,
        .ns_per_request = median,
        .requests_per_s = 1e9 / median,
        .mb_per_s = bytes_per_request * 1e9 / median / 1e6,
        .lib_allocs = (double)a.lib / rq,
        .lib_bytes = (double)a.lib_b / rq,
        .path_allocs = (double)(a.mine - a.lib) / rq,
        .path_bytes = (double)(a.mine_b - a.lib_b) / rq,
        .other_allocs = (double)(a.all - a.mine) / rq,
        .other_bytes = (double)(a.all_b - a.mine_b) / rq,
        .logged_requests = ctx->col ? sent_steps * c->t.requests_per_step : 0,
        .expected_entries = ctx->col ? sent_steps * c->t.entries_per_step : 0,
        .log_entries = ctx->col ? c->entries : 0,
        .client_checked = c->t.check_client,
        .client_bytes = c->client_bytes,
        .client_expected = c->client_expected,
    };
  } else {
    snprintf(out->error, sizeof out->error, "%s", c->error);
  }
  free(c->ns);
  dp_buf_free(&c->to_server);
  dp_buf_free(&c->to_client);
  if (c->conn) dp_conn_free(c->conn);
  free(c->t.storage);
  return ok ? 0 : -1;
}

/* ---- main ----------------------------------------------------------------------------------------------- */

#define MAX_RESULTS (N_WORKLOADS * N_SHAPES * 2)

/* --workloads PREFIX: only the main-table rows and the logging-keeping-up figures of the workloads whose name
   starts with PREFIX (e.g. "memcache"); the library-wide parts (idle connections, memchr comparison, worker
   threads, policy update) are skipped. */
static const char *only_workloads;

static int workload_selected(const workload *w) {
  return only_workloads == NULL || strncmp(w->name, only_workloads, strlen(only_workloads)) == 0;
}

typedef struct module_figures {
  double open_ms, ack_ms;
  long rss_before_kib, rss_after_kib;
} module_figures;

static uint64_t open_instance(bench_ctx *ctx, npds_child *npds, const char *xds, const char *log_path,
                              module_figures *f) {
  dp_param params[2] = {{"xds-path", xds}, {"access-log-path", log_path}};
  f->rss_before_kib = rss_kib();
  double t0 = now_ns();
  uint64_t id = dp_open_module(&ctx->lib, params, log_path ? 2 : 1, getenv("KFB_DEBUG") != NULL);
  double t1 = now_ns();
  f->rss_after_kib = rss_kib();
  if (id == 0) die("%s", "OpenModule returned 0");
  npds_expect(npds, "ACK", 20000);
  f->open_ms = (t1 - t0) / 1e6;
  f->ack_ms = (now_ns() - t0) / 1e6;
  return id;
}

/* ---- OnData against a plain memchr scan of the same bytes ------------------------------------------------ */

/* OnData alone (no datapath copies, inject buffers emptied after each call) over the traffic of one workload,
   whole requests or 64 pipelined, under its L7 policy or on a port without L7 rules (the parser's framing and
   the op protocol only); and a memchr for every '\n' in the same bytes. ns per request. */
#define SCAN_RUNS 5
enum { SCAN_WHOLE_L7, SCAN_WHOLE_FREE, SCAN_PIPELINED_L7, SCAN_PIPELINED_FREE, N_SCANS };
static const char *scan_names[] = {"whole, L7 rules", "whole, no L7 rules", "64 pipelined, L7 rules",
                                   "64 pipelined, no L7 rules"};

typedef struct scan_figures {
  const char *workload;
  double on_data_ns[N_SCANS];
  double memchr_ns;
} scan_figures;

/* Feeds every unit of `t` to OnData (in its direction), applying PASS/DROP ops until the unit is consumed.
   Returns 0, or -1 when the library failed or made no progress (the reason in drive_error). */
static int on_data_units(dp_conn *conn, const traffic *t) {
  FilterOp ops[DP_MAX_OPS];
  for (size_t u = 0; u < t->n_units; u++) {
    size_t offset = 0;
    while (offset < t->unit_len[u]) {
      size_t left = t->unit_len[u] - offset;
      GoSlice segment = {(void *)(t->unit[u] + offset), (GoInt)left, (GoInt)left};
      GoSlice data = {&segment, 1, 1};
      GoSlice op_slice = {ops, 0, DP_MAX_OPS};
      FilterResult res = real_on_data(dp_conn_id(conn), t->unit_reply[u], 0, &data, &op_slice);
      if (res != FILTER_OK) {
        snprintf(drive_error, sizeof drive_error, "OnData -> %s", dp_result_name(res));
        return -1;
      }
      int injected = 0;
      size_t before = offset;
      for (GoInt i = 0; i < op_slice.len; i++) {
        if (ops[i].op == FILTEROP_PASS || ops[i].op == FILTEROP_DROP) offset += (size_t)ops[i].n_bytes;
        if (ops[i].op == FILTEROP_INJECT) injected = 1;
      }
      dp_conn_inject_reset(conn, 0);
      dp_conn_inject_reset(conn, 1);
      if (offset == before && !injected) {
        snprintf(drive_error, sizeof drive_error, "OnData made no progress (%s)",
                 op_slice.len > 0 ? dp_op_name(ops[0].op) : "no ops");
        return -1;
      }
    }
  }
  return 0;
}

static double time_on_data(bench_ctx *ctx, uint64_t instance, const workload *w, const char *addr, int shape,
                           long rounds) {
  traffic t;
  build_traffic(w, shape, &t);
  dp_conn *conn = NULL;
  if (dp_conn_new(&ctx->lib, instance, w->parser, ctx->next_conn_id++, 1, w->src_id, 2, "10.1.1.1:34567", addr,
                  w->policy_name, &conn) != FILTER_OK)
    die("%s", "scan: OnNewConnection failed");
  /* About rounds x 8 requests whatever the shape, in SCAN_RUNS runs; the fastest run counts (on a shared
     machine the slower ones measure the neighbours). */
  long steps = rounds * 8 / t.requests_per_step / SCAN_RUNS + 1;
  for (long r = 0; r < steps / 5 + 1; r++) /* warm-up */
    if (on_data_units(conn, &t) != 0) die("scan: %s", drive_error);
  double ns = 0;
  for (int run = 0; run < SCAN_RUNS; run++) {
    double t0 = now_ns();
    for (long r = 0; r < steps; r++)
      if (on_data_units(conn, &t) != 0) die("scan: %s", drive_error);
    double run_ns = (now_ns() - t0) / ((double)steps * t.requests_per_step);
    if (run == 0 || run_ns < ns) ns = run_ns;
  }
  dp_conn_free(conn);
  free(t.storage);
  return ns;
}

static void measure_scan(bench_ctx *ctx, uint64_t instance, const workload *w, long rounds, scan_figures *f) {
  f->workload = w->name;
  f->on_data_ns[SCAN_WHOLE_L7] = time_on_data(ctx, instance, w, w->dst_addr, SHAPE_WHOLE, rounds);
  f->on_data_ns[SCAN_WHOLE_FREE] = time_on_data(ctx, instance, w, w->l7_free_addr, SHAPE_WHOLE, rounds);
  f->on_data_ns[SCAN_PIPELINED_L7] = time_on_data(ctx, instance, w, w->dst_addr, SHAPE_PIPELINED, rounds);
  f->on_data_ns[SCAN_PIPELINED_FREE] = time_on_data(ctx, instance, w, w->l7_free_addr, SHAPE_PIPELINED, rounds);

  traffic t;
  build_traffic(w, SHAPE_PIPELINED, &t);
  long steps = rounds * 8 / t.requests_per_step / SCAN_RUNS + 1;
  volatile size_t lines = 0;
  for (int run = 0; run < SCAN_RUNS; run++) {
    double t0 = now_ns();
    for (long r = 0; r < steps; r++) {
      const uint8_t *p = t.unit[0], *end = p + t.unit_len[0];
      const uint8_t *nl;
      while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        lines = lines + 1;
        p = nl + 1;
      }
    }
    double run_ns = (now_ns() - t0) / ((double)steps * t.requests_per_step);
    if (run == 0 || run_ns < f->memchr_ns) f->memchr_ns = run_ns;
  }
  free(t.storage);
}

static void print_scan(const scan_figures *f) {
  printf("%s: memchr scan %.1f ns/request; OnData alone:", f->workload, f->memchr_ns);
  for (int s = 0; s < N_SCANS; s++)
    printf("%s %s %.1f ns (%.1fx)", s ? ";" : "", scan_names[s], f->on_data_ns[s],
           f->memchr_ns > 0 ? f->on_data_ns[s] / f->memchr_ns : 0.0);
  printf("\n");
}

/* OnData with logging on when the collector keeps up: bursts of whole requests small enough for the library's
   1024-entry queue, the queue drained between bursts (untimed), so every entry is encoded and delivered. The
   logging rows of the main table run flat out, where most entries are dropped at the full queue. */
#define LOGGED_BURST 256
/* At most this many entries per burst (a cassandra BATCH logs 3 entries): a burst must fit the library's queue. */
#define LOGGED_BURST_ENTRIES 512

typedef struct logged_figures {
  long burst;                /* requests per burst */
  double ns_per_request;     /* wall clock */
  double cpu_ns_per_request; /* CPU time of the calling thread: the datapath thread's own cost */
  double delivered;          /* entries the collector received / entries logged (a request and its reply: one each) */
  int failed;                /* the library could not run the workload: `error` says why (printed as n/a) */
  char error[96];
} logged_figures;

static double thread_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static logged_figures time_logged_bursts(bench_ctx *ctx, uint64_t instance, collector *col, const workload *w,
                                         long bursts) {
  traffic t;
  build_traffic(w, SHAPE_WHOLE, &t);
  dp_conn *conn = NULL;
  if (dp_conn_new(&ctx->lib, instance, w->parser, ctx->next_conn_id++, 1, w->src_id, 2, "10.1.1.1:34567",
                  w->dst_addr, w->policy_name, &conn) != FILTER_OK)
    die("%s", "logged bursts: OnNewConnection failed");
  long steps_per_burst = LOGGED_BURST / t.requests_per_step;
  if (steps_per_burst * t.entries_per_step > LOGGED_BURST_ENTRIES) steps_per_burst = LOGGED_BURST_ENTRIES / t.entries_per_step;
  if (steps_per_burst < 1) steps_per_burst = 1;
  logged_figures f = {0};
  f.burst = steps_per_burst * t.requests_per_step;
  long setup_before = atomic_load(&col->entries), setup_entries = setup_connection(conn, w);
  if (setup_entries < 0) {
    f.failed = 1;
    snprintf(f.error, sizeof f.error, "%s", drive_error);
    fprintf(stderr, "bench: %s: logging on, collector keeping up: %s\n", w->name, drive_error);
  } else if (setup_entries > 0) {
    collector_settle_at(col, setup_before + setup_entries);
  }
  long expected = atomic_load(&col->entries), start = expected;
  long sent = 0;
  double timed = 0, cpu = 0;
  for (long b = 0; b < bursts && !f.failed; b++) {
    double t0 = now_ns(), c0 = thread_cpu_ns();
    for (long r = 0; r < steps_per_burst && !f.failed; r++)
      if (on_data_units(conn, &t) != 0) {
        f.failed = 1;
        snprintf(f.error, sizeof f.error, "%s", drive_error);
        fprintf(stderr, "bench: %s: logging on, collector keeping up: %s\n", w->name, drive_error);
      }
    timed += now_ns() - t0;
    cpu += thread_cpu_ns() - c0;
    sent += steps_per_burst * t.requests_per_step;
    expected += steps_per_burst * t.entries_per_step;
    /* Drain: wait (at most 2 s) until the collector has every entry of the burst. */
    for (int i = 0; i < 20000 && !f.failed && atomic_load(&col->entries) < expected; i++) usleep(100);
  }
  if (!f.failed) {
    f.ns_per_request = timed / (double)sent;
    f.cpu_ns_per_request = cpu / (double)sent;
    f.delivered = expected > start ? (double)(atomic_load(&col->entries) - start) / (double)(expected - start) : 0;
  }
  dp_conn_free(conn);
  free(t.storage);
  return f;
}

/* ---- worker threads side by side ----------------------------------------------------------------------- */

/*
 * Envoy runs one worker thread per core, all on one library instance. Here 1 or 2 threads (this machine's
 * cores) each drive their own MT_CONNS connections through the C datapath (whole requests, the connection
 * changing with every cycle of 8), and requests/s is the total of all threads. Each round releases the threads
 * together (a spin barrier among them, so that a late wake-up is not timed) and is timed from the first
 * thread's start to the last thread's end. Per request: the workers' CPU time (CLOCK_THREAD_CPUTIME_ID) and the
 * CPU time of every other thread of the process meanwhile (the library's sender, the collector).
 * Logging off: rounds of MT_ROUND_OFF requests per thread. Logging on, with a collector that keeps up: rounds
 * of MT_ROUND_ON requests per thread (2 x 384 leave room in the library's 1024-entry queue for what the
 * sender still holds of the previous round), the queue drained between rounds (untimed), so every entry is
 * encoded and delivered; the library's sender thread and the collector run during the rounds, on the same
 * two cores as the workers.
 * A control row runs no library code: each thread spins on private data (a hash step and a memchr of a 4 KiB
 * buffer per "request", about as long as a request through the library), so its speedup is what the machine
 * gives two independent threads at that moment (another tenant's load shows there first).
 * The rows take turns run by run; the median run counts.
 */
#define MT_MAX_THREADS 2
#define MT_CONNS 4
#define MT_ROUND_ON 384
#define MT_ROUND_OFF 16384

typedef struct mt_row {
  const workload *w; /* NULL: the control row */
  int threads, logging;
  double *rate;      /* requests/s, per run */
  double *cpu_ns;    /* worker CPU ns per request (all workers), per run */
  double *other_ns;  /* CPU ns per request of the process's other threads, per run */
  long sent, received;
  int failed;
} mt_row;

struct mt_run;

typedef struct mt_worker {
  pthread_t thread;
  struct mt_run *run;
  dp_conn *conns[MT_CONNS];
  traffic t;
  dp_buf to_server, to_client;
  double start, end, cpu, busy_cpu; /* of the last round; busy_cpu includes the spin barrier */
  uint64_t control_state;
  uint8_t control_buffer[4096];
  int failed;
} mt_worker;

typedef struct mt_run {
  int n;
  const workload *w;
  long rounds, steps_per_round; /* rounds: the warm-up round included */
  int requests_per_step;
  pthread_barrier_t gate;       /* the workers and the main thread, before and after each round */
  atomic_int arrived;           /* the spin barrier among the workers */
  mt_worker workers[MT_MAX_THREADS];
} mt_run;

/* The control row's "request": no library, no shared data. */
static void control_requests(mt_worker *k, long requests) {
  uint64_t x = k->control_state;
  for (long i = 0; i < requests; i++) {
    for (int j = 0; j < 4; j++) {
      x = x * 6364136223846793005ULL + 1442695040888963407ULL;
      k->control_buffer[(x >> 33) % 3000] = 'b';
      const uint8_t *nl = memchr(k->control_buffer, '\n', sizeof k->control_buffer);
      x += (uint64_t)(nl - k->control_buffer);
    }
  }
  k->control_state = x;
}

static void *mt_worker_main(void *arg) {
  mt_worker *k = arg;
  mt_run *run = k->run;
  for (long r = 0; r < run->rounds; r++) {
    pthread_barrier_wait(&run->gate);
    double busy0 = thread_cpu_ns();
    atomic_fetch_add(&run->arrived, 1);
    while (atomic_load(&run->arrived) < (int)(r + 1) * run->n) sched_yield();
    double c0 = thread_cpu_ns();
    k->start = now_ns();
    long forwarded = 0;
    if (run->w == NULL) {
      control_requests(k, run->steps_per_round * run->requests_per_step);
    } else {
      for (long s = 0; s < run->steps_per_round && !k->failed; s++) {
        long f = drive(k->conns[s % MT_CONNS], &k->t, 1, &k->to_server, &k->to_client, NULL);
        if (f < 0) {
          fprintf(stderr, "bench: threads: %s\n", drive_error);
          k->failed = 1;
        }
        forwarded += f;
      }
    }
    k->end = now_ns();
    double c1 = thread_cpu_ns();
    k->cpu = c1 - c0;
    k->busy_cpu = c1 - busy0;
    if (run->w != NULL && !k->failed && forwarded != run->steps_per_round * (long)k->t.allowed_bytes_per_step) {
      fprintf(stderr, "bench: threads: wrong number of bytes forwarded (is the policy in force?)\n");
      k->failed = 1;
    }
    pthread_barrier_wait(&run->gate);
  }
  return NULL;
}

static double process_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* One run of a row: `requests` per thread (rounded up to whole rounds) after one warm-up round. */
static void mt_run_row(bench_ctx *ctx, uint64_t instance, collector *col, mt_row *row, int run_index,
                       long requests) {
  static mt_run run;
  memset(&run, 0, sizeof run);
  run.n = row->threads;
  run.w = row->w;
  run.requests_per_step = 8;
  long round_requests = row->logging ? MT_ROUND_ON : MT_ROUND_OFF;
  if (round_requests > requests) round_requests = requests;
  for (int i = 0; i < run.n; i++) {
    mt_worker *k = &run.workers[i];
    k->run = &run;
    k->control_state = (uint64_t)i + 1;
    memset(k->control_buffer, 'a', sizeof k->control_buffer);
    k->control_buffer[4000] = '\n';
    if (row->w == NULL) continue;
    build_traffic(row->w, SHAPE_WHOLE, &k->t);
    run.requests_per_step = k->t.requests_per_step;
    dp_buf_init(&k->to_server);
    dp_buf_init(&k->to_client);
    for (int c = 0; c < MT_CONNS; c++)
      if (dp_conn_new(&ctx->lib, instance, row->w->parser, ctx->next_conn_id++, 1, row->w->src_id, 2,
                      "10.1.1.1:34567", row->w->dst_addr, row->w->policy_name, &k->conns[c]) != FILTER_OK)
        die("%s", "threads: OnNewConnection failed");
  }
  run.steps_per_round = (round_requests + run.requests_per_step - 1) / run.requests_per_step;
  long per_round = run.steps_per_round * run.requests_per_step; /* per thread */
  run.rounds = 1 + (requests + per_round - 1) / per_round;
  pthread_barrier_init(&run.gate, NULL, (unsigned)run.n + 1);
  long entries_start = row->logging ? collector_settle(col) : 0, expected = entries_start;
  for (int i = 0; i < run.n; i++)
    if (pthread_create(&run.workers[i].thread, NULL, mt_worker_main, &run.workers[i]) != 0) die("%s", "pthread_create");
  double wall = 0, cpu = 0, other = 0;
  for (long r = 0; r < run.rounds; r++) {
    double p0 = process_cpu_ns();
    pthread_barrier_wait(&run.gate); /* go */
    pthread_barrier_wait(&run.gate); /* all done */
    double p1 = process_cpu_ns();
    double first = run.workers[0].start, last = run.workers[0].end, round_cpu = 0, busy = 0;
    for (int i = 0; i < run.n; i++) {
      if (run.workers[i].start < first) first = run.workers[i].start;
      if (run.workers[i].end > last) last = run.workers[i].end;
      round_cpu += run.workers[i].cpu;
      busy += run.workers[i].busy_cpu;
    }
    if (r > 0) {
      wall += last - first;
      cpu += round_cpu;
      other += p1 - p0 - busy;
    }
    if (row->logging) {
      /* Drain (untimed): wait, at most 2 s, until the collector has every entry of the round; entries that
         never come (dropped) cost one wait, and show in the delivered share. */
      expected += per_round * run.n;
      for (int i = 0; i < 20000 && atomic_load(&col->entries) < expected; i++) usleep(100);
      if (atomic_load(&col->entries) < expected) expected = atomic_load(&col->entries);
    }
  }
  for (int i = 0; i < run.n; i++) {
    pthread_join(run.workers[i].thread, NULL);
    row->failed |= run.workers[i].failed;
  }
  pthread_barrier_destroy(&run.gate);
  long timed = (run.rounds - 1) * per_round * run.n;
  row->rate[run_index] = wall > 0 ? (double)timed * 1e9 / wall : 0;
  row->cpu_ns[run_index] = timed > 0 ? cpu / (double)timed : 0;
  row->other_ns[run_index] = timed > 0 && other > 0 ? other / (double)timed : 0;
  if (row->logging) {
    row->sent += run.rounds * per_round * run.n;
    row->received += collector_settle(col) - entries_start;
  }
  for (int i = 0; i < run.n && row->w != NULL; i++) {
    mt_worker *k = &run.workers[i];
    for (int c = 0; c < MT_CONNS; c++) dp_conn_free(k->conns[c]);
    dp_buf_free(&k->to_server);
    dp_buf_free(&k->to_client);
    free(k->t.storage);
  }
}

static double median_of(double *values, int n) {
  qsort(values, (size_t)n, sizeof *values, cmp_double);
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

/* The control row (1 and 2 threads), then per workload: logging off and on, 1..MT_MAX_THREADS threads. */
#define MT_ROWS (MT_MAX_THREADS * (1 + N_LINE_WORKLOADS * 2))

typedef struct mt_figures {
  const char *workload;
  int threads, logging, failed;
  double requests_per_s, cpu_ns_per_request, other_ns_per_request, speedup, delivered;
} mt_figures;

/* Rows to run, by label prefix ("r2d2/on", "(control)/off/2"; NULL: all), for --threads-only --threads-rows. */
static const char *mt_filter;

static int mt_selected(const mt_row *row) {
  if (mt_filter == NULL) return 1;
  char label[64];
  snprintf(label, sizeof label, "%s/%s/%d", row->w ? row->w->name : "(control)", row->logging ? "on" : "off",
           row->threads);
  return strncmp(label, mt_filter, strlen(mt_filter)) == 0;
}

/* Every row, `runs` runs each, taking turns. */
static void measure_threads(bench_ctx *ctx, uint64_t instance, uint64_t logged_instance, collector *col,
                            long requests, mt_figures *out) {
  static mt_row rows[MT_ROWS];
  int n = 0;
  for (int w = -1; w < (int)N_LINE_WORKLOADS; w++)
    for (int logging = 0; logging <= (w < 0 ? 0 : 1); logging++)
      for (int threads = 1; threads <= MT_MAX_THREADS; threads++) {
        rows[n] = (mt_row){.w = w < 0 ? NULL : &workloads[w], .threads = threads, .logging = logging,
                           .rate = calloc((size_t)ctx->runs, sizeof(double)),
                           .cpu_ns = calloc((size_t)ctx->runs, sizeof(double)),
                           .other_ns = calloc((size_t)ctx->runs, sizeof(double))};
        n++;
      }
  atomic_store(&count_shared, 0);
  for (int r = 0; r < ctx->runs; r++)
    for (int i = 0; i < n; i++)
      if (mt_selected(&rows[i])) mt_run_row(ctx, rows[i].logging ? logged_instance : instance, col, &rows[i], r, requests);
  atomic_store(&count_shared, 1);
  for (int i = 0; i < n; i++) {
    mt_row *row = &rows[i];
    out[i] = (mt_figures){.workload = row->w ? row->w->name : "(control)", .threads = row->threads,
                          .logging = row->logging, .failed = row->failed,
                          .requests_per_s = median_of(row->rate, ctx->runs),
                          .cpu_ns_per_request = median_of(row->cpu_ns, ctx->runs),
                          .other_ns_per_request = median_of(row->other_ns, ctx->runs),
                          .delivered = row->sent > 0 ? (double)row->received / (double)row->sent : 0};
    /* Rows of one workload and logging setting are consecutive, 1 thread first. */
    double one = out[i - (row->threads - 1)].requests_per_s;
    out[i].speedup = one > 0 ? out[i].requests_per_s / one : 0;
    free(row->rate);
    free(row->cpu_ns);
    free(row->other_ns);
  }
}

static void print_threads(const mt_figures *figures) {
  printf("worker threads on one instance, each on its own %d connections, whole requests (logging on: rounds of %d "
         "requests per thread, the queue drained between rounds; median run; CPU per request: the workers', and "
         "the process's other threads' meanwhile):\n", MT_CONNS, MT_ROUND_ON);
  printf("  %-13s %-4s %7s %11s %8s %11s %11s %9s\n", "workload", "log", "threads", "requests/s", "speedup",
         "worker CPU", "other CPU", "delivered");
  for (int i = 0; i < (int)MT_ROWS; i++) {
    const mt_figures *f = &figures[i];
    if (mt_filter != NULL && f->requests_per_s == 0) continue; /* not run */
    char delivered[16] = "-", speedup[16] = "";
    if (f->logging) snprintf(delivered, sizeof delivered, "%.1f%%", 100.0 * f->delivered);
    if (f->threads > 1) snprintf(speedup, sizeof speedup, "%.2fx", f->speedup);
    printf("  %-13s %-4s %7d %11.0f %8s %8.1f ns %8.1f ns %9s%s\n", f->workload, f->logging ? "on" : "off",
           f->threads, f->requests_per_s, speedup, f->cpu_ns_per_request, f->other_ns_per_request, delivered,
           f->failed ? " FAILED" : "");
  }
}

/* ---- a large policy update under load ------------------------------------------------------------------ */

/* Two threads drive allowed r2d2 requests and time every onIo call; samples are kept per phase. */
#define LATENCY_SAMPLES 2000000
enum { PHASE_BEFORE, PHASE_DURING, PHASE_STOP };
static atomic_int update_phase;

typedef struct latency_thread {
  pthread_t thread;
  int index;
  bench_ctx *ctx;
  uint64_t instance;
  float *samples[2]; /* ns per call: before the update, while it is applied */
  long count[2];
  int failed;
} latency_thread;

static void *latency_main(void *arg) {
  latency_thread *t = arg;
  const workload *w = &workloads[0]; /* r2d2 */
  static const char request[] = "READ /public/bulk.txt\r\n";
  dp_conn *conn = NULL;
  if (dp_conn_new(&t->ctx->lib, t->instance, w->parser, t->ctx->next_conn_id + 1000000 + (uint64_t)t->index,
                  1, w->src_id, 2, "10.1.1.1:34567", w->dst_addr, w->policy_name, &conn) != FILTER_OK) {
    t->failed = 1;
    return NULL;
  }
  dp_buf to_server, to_client;
  dp_buf_init(&to_server);
  dp_buf_init(&to_client);
  int phase;
  while ((phase = atomic_load(&update_phase)) != PHASE_STOP) {
    double t0 = now_ns();
    FilterResult res = dp_filter_on_data(conn, (const uint8_t *)request, sizeof request - 1, 0, &to_server, &to_client);
    double t1 = now_ns();
    if (res != FILTER_OK || to_server.len != sizeof request - 1) {
      t->failed = 1;
      break;
    }
    dp_buf_truncate(&to_server, 0);
    dp_buf_truncate(&to_client, 0);
    if (t->count[phase] < LATENCY_SAMPLES) t->samples[phase][t->count[phase]++] = (float)(t1 - t0);
  }
  dp_buf_free(&to_server);
  dp_buf_free(&to_client);
  dp_conn_free(conn);
  return NULL;
}

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return x < y ? -1 : x > y;
}

typedef struct update_figures {
  int endpoints;
  double apply_ms;        /* PUSHED -> ACK */
  double p50[2], p99[2];  /* before, during */
  long samples[2];
  int failed;
} update_figures;

static void percentiles(latency_thread *threads, int n, int phase, update_figures *f) {
  long total = 0;
  for (int i = 0; i < n; i++) total += threads[i].count[phase];
  f->samples[phase] = total;
  if (total == 0) return;
  float *all = malloc((size_t)total * sizeof *all);
  long k = 0;
  for (int i = 0; i < n; i++)
    for (long j = 0; j < threads[i].count[phase]; j++) all[k++] = threads[i].samples[phase][j];
  qsort(all, (size_t)total, sizeof *all, cmp_float);
  f->p50[phase] = all[total / 2];
  f->p99[phase] = all[(long)((double)total * 0.99)];
  free(all);
}

/* Pushes `endpoints` extra endpoint policies while two threads keep checking policy on requests. */
static void measure_bulk_update(bench_ctx *ctx, npds_child *npds, uint64_t instance, int endpoints,
                                update_figures *f) {
  enum { THREADS = 2 };
  latency_thread threads[THREADS];
  memset(threads, 0, sizeof threads);
  f->endpoints = endpoints;
  atomic_store(&update_phase, PHASE_BEFORE);
  for (int i = 0; i < THREADS; i++) {
    threads[i].index = i;
    threads[i].ctx = ctx;
    threads[i].instance = instance;
    for (int p = 0; p < 2; p++) threads[i].samples[p] = malloc(LATENCY_SAMPLES * sizeof(float));
    pthread_create(&threads[i].thread, NULL, latency_main, &threads[i]);
  }
  usleep(300000);
  char command[64];
  int len = snprintf(command, sizeof command, "BULK %d 2\n", endpoints);
  if (write(npds->to_child, command, (size_t)len) != len) die("%s", "cannot command the NPDS server");
  npds_expect(npds, "PUSHED", 120000);
  double pushed = now_ns();
  atomic_store(&update_phase, PHASE_DURING);
  npds_expect(npds, "ACK 2", 120000);
  f->apply_ms = (now_ns() - pushed) / 1e6;
  atomic_store(&update_phase, PHASE_STOP);
  for (int i = 0; i < THREADS; i++) {
    pthread_join(threads[i].thread, NULL);
    f->failed |= threads[i].failed;
  }
  percentiles(threads, THREADS, PHASE_BEFORE, f);
  percentiles(threads, THREADS, PHASE_DURING, f);
  for (int i = 0; i < THREADS; i++)
    for (int p = 0; p < 2; p++) free(threads[i].samples[p]);
}

int main(int argc, char **argv) {
  const char *lib_path = "build/libcilium.so";
  const char *python = getenv("PYTHON") ? getenv("PYTHON") : ".venv/bin/python";
  const char *json_path = "bench/results.json";
  int smoke = 0, runs = 5, scan_only = 0, threads_only = 0, only_logging = -1, only_shape = -1;
  long requests_per_run = 200000, scan_rounds = 20000;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--smoke") == 0) smoke = 1;
    else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) runs = atoi(argv[++i]);
    else if (strcmp(argv[i], "--requests") == 0 && i + 1 < argc) requests_per_run = atol(argv[++i]);
    else if (strcmp(argv[i], "--python") == 0 && i + 1 < argc) python = argv[++i];
    else if (strcmp(argv[i], "--json") == 0 && i + 1 < argc) json_path = argv[++i];
    else if (strcmp(argv[i], "--scan-only") == 0) scan_only = 1;
    else if (strcmp(argv[i], "--threads-only") == 0) threads_only = 1;
    else if (strcmp(argv[i], "--threads-rows") == 0 && i + 1 < argc) mt_filter = argv[++i];
    else if (strcmp(argv[i], "--scan-rounds") == 0 && i + 1 < argc) scan_rounds = atol(argv[++i]);
    else if (strcmp(argv[i], "--workloads") == 0 && i + 1 < argc) only_workloads = argv[++i];
    else if (strcmp(argv[i], "--strict") == 0) strict = 1;
    else if (strcmp(argv[i], "--logging") == 0 && i + 1 < argc && (strcmp(argv[i + 1], "off") == 0 || strcmp(argv[i + 1], "on") == 0))
      only_logging = strcmp(argv[++i], "on") == 0;
    else if (strcmp(argv[i], "--shape") == 0 && i + 1 < argc && (strcmp(argv[i + 1], "whole") == 0 ||
             strcmp(argv[i + 1], "slices") == 0 || strcmp(argv[i + 1], "pipelined") == 0)) {
      i++;
      only_shape = argv[i][0] == 'w' ? SHAPE_WHOLE : argv[i][0] == 's' ? SHAPE_SPLIT3 : SHAPE_PIPELINED;
    }
    else if (strncmp(argv[i], "LIB=", 4) == 0) lib_path = argv[i] + 4;
    else if (argv[i][0] != '-') lib_path = argv[i];
    else die("unknown option %s (usage: bench [--smoke] [--runs N] [--requests N] [--python PATH] [--json PATH] [--scan-only] [--scan-rounds N] [--threads-only [--threads-rows PREFIX]] [--workloads PREFIX] [--logging off|on] [--shape whole|slices|pipelined] [--strict] [LIB])", argv[i]);
  }
  if (runs < 1) runs = 1;
  if (requests_per_run < 1) requests_per_run = 1;
  workloads_init();
  bench_ctx ctx = {.runs = smoke ? 1 : runs, .requests_per_run = smoke ? 64 : requests_per_run,
                   .warmup = smoke ? 64 : requests_per_run / 5, .next_conn_id = 1};
  const int n_idle_conns = 10000;

  char errbuf[512];
  long rss_start = rss_kib();
  if (dp_library_open(lib_path, &ctx.lib, errbuf, sizeof errbuf) != 0) die("%s", errbuf);
  long rss_loaded = rss_kib();
  real_on_data = ctx.lib.on_data;
  ctx.lib.on_data = counted_on_data;

  static bench_services svc;
  services_start(&svc, python);
  npds_child *npds = &svc.npds;
  collector *col = &svc.col;
  const char *xds = svc.xds, *log_path = svc.log_path;

  module_figures plain, logged;
  uint64_t instance = open_instance(&ctx, npds, xds, NULL, &plain);
  uint64_t logged_instance = open_instance(&ctx, npds, xds, log_path, &logged);

  if (threads_only) {
    /* Only the worker-thread rows (to point a profiler at, or to re-measure them alone). */
    static mt_figures only[MT_ROWS];
    measure_threads(&ctx, instance, logged_instance, col, ctx.requests_per_run / 2, only);
    print_threads(only);
    int threads_failed = 0;
    for (int i = 0; i < (int)MT_ROWS; i++) threads_failed += only[i].failed;
    dp_close_module(&ctx.lib, logged_instance);
    dp_close_module(&ctx.lib, instance);
    services_stop(&svc);
    dp_library_close(&ctx.lib);
    return threads_failed ? 1 : 0;
  }

  if (scan_only) {
    /* Only the OnData-vs-memchr comparison: the loop to point a profiler at. */
    for (size_t w = 0; w < N_LINE_WORKLOADS; w++) {
      scan_figures f;
      measure_scan(&ctx, instance, &workloads[w], scan_rounds, &f);
      print_scan(&f);
    }
    dp_close_module(&ctx.lib, logged_instance);
    dp_close_module(&ctx.lib, instance);
    services_stop(&svc);
    dp_library_close(&ctx.lib);
    return 0;
  }

  static result results[MAX_RESULTS];
  int n_results = 0, failed = 0, unavailable = 0;
  for (int logging = 0; logging <= 1; logging++) {
    if (only_logging >= 0 && logging != only_logging) continue;
    ctx.col = logging ? col : NULL;
    static bench_case cases[N_WORKLOADS * N_SHAPES];
    int n_cases = 0;
    for (size_t w = 0; w < N_WORKLOADS; w++)
      for (int s = 0; s < N_SHAPES; s++)
        if (workload_selected(&workloads[w]) && (only_shape < 0 || s == only_shape))
          case_begin(&ctx, logging ? logged_instance : instance, &workloads[w], s, logging, &cases[n_cases++]);
    for (int r = 0; r < ctx.runs; r++)
      for (int c = 0; c < n_cases; c++) case_run(&ctx, &cases[c], r);
    for (int c = 0; c < n_cases; c++)
      if (case_end(&ctx, &cases[c], &results[n_results++]) != 0) unavailable++;
  }

  /* Logging on with a collector that keeps up (every entry encoded and delivered). */
  logged_figures logged_bursts[N_WORKLOADS];
  memset(logged_bursts, 0, sizeof logged_bursts);
  for (size_t w = 0; w < N_WORKLOADS; w++)
    if (workload_selected(&workloads[w]) && only_logging != 0) {
      logged_bursts[w] = time_logged_bursts(&ctx, logged_instance, col, &workloads[w], smoke ? 2 : 200);
      if (logged_bursts[w].failed) unavailable++;
    }

  /* The rest measures the library rather than a parser: only in a full run (no --workloads, --logging, --shape), with the line
     protocols' workloads. */
  int full = only_workloads == NULL && only_logging < 0 && only_shape < 0;
  int opened = 0;
  long rss_before_conns = 0, rss_with_conns = 0;
  double conn_ns = 0;
  scan_figures scans[N_LINE_WORKLOADS];
  static mt_figures threads[MT_ROWS];
  update_figures update;
  memset(&update, 0, sizeof update);
  if (full) {
    /* RSS with many open connections (OnNewConnection on the logging-off instance, no traffic). */
    dp_conn **conns = calloc((size_t)n_idle_conns, sizeof *conns);
    rss_before_conns = rss_kib();
    double c0 = now_ns();
    for (int i = 0; i < n_idle_conns; i++) {
      const workload *w = &workloads[i % N_LINE_WORKLOADS];
      if (dp_conn_new(&ctx.lib, instance, w->parser, ctx.next_conn_id++, 1, w->src_id, 2, "10.1.1.1:34567",
                      w->dst_addr, w->policy_name, &conns[i]) == FILTER_OK)
        opened++;
    }
    conn_ns = (now_ns() - c0) / (opened ? opened : 1);
    rss_with_conns = rss_kib();
    for (int i = 0; i < n_idle_conns; i++) dp_conn_free(conns[i]);
    free(conns);

    /* OnData alone against a memchr scan of the same bytes (the text parsers' "within 2x" target). */
    for (size_t w = 0; w < N_LINE_WORKLOADS; w++)
      measure_scan(&ctx, instance, &workloads[w], smoke ? 10 : scan_rounds, &scans[w]);

    /* 1 and 2 worker threads on one instance, logging off and on. */
    measure_threads(&ctx, instance, logged_instance, col, ctx.requests_per_run / 2, threads);
    for (int i = 0; i < (int)MT_ROWS; i++) failed += threads[i].failed;
  }

  /* A 10,000-endpoint policy update while two threads check policy on every request. */
  dp_close_module(&ctx.lib, logged_instance);
  if (full) {
    measure_bulk_update(&ctx, npds, instance, smoke ? 1000 : 10000, &update);
    if (update.failed) failed++;
  }

  dp_close_module(&ctx.lib, instance);
  services_stop(&svc);

  /* ---- report ---- */
  printf("library: %s%s\n", lib_path, smoke ? "  (--smoke: 1 short run, figures not meaningful)" : "");
  printf("runs: %d x %ld requests after %ld warm-up requests, the rows taking turns run by run; ns/request is the median run\n", ctx.runs,
         ctx.requests_per_run, ctx.warmup);
  printf("allocations (al) and bytes (B) per request: lib = inside OnData, path = C datapath (same thread), "
         "other = other threads;\nlogged = access-log entries the collector received / entries logged (a request and "
         "its reply: one each; cassandra: each statement of a request);\nmemcache and cassandra rows: each request followed by the server's reply (pipelined: the 64 "
         "replies in one write), both timed\n\n");
  printf("%-17s %-13s %-4s %11s %10s %9s %9s %9s %9s %9s %9s %9s %7s\n", "workload", "shape", "log", "requests/s",
         "ns/req", "MB/s", "lib al", "lib B", "path al", "path B", "other al", "other B", "logged");
  for (int i = 0; i < n_results; i++) {
    result *r = &results[i];
    if (r->failed) {
      printf("%-17s %-13s %-4s  n/a: %s\n", r->workload, r->shape, r->logging ? "on" : "off", r->error);
      continue;
    }
    char logged[16] = "-";
    if (r->logging) snprintf(logged, sizeof logged, "%.1f%%", 100.0 * (double)r->log_entries / (double)r->expected_entries);
    printf("%-17s %-13s %-4s %11.0f %10.1f %9.1f %9.3f %9.1f %9.3f %9.1f %9.3f %9.1f %7s\n", r->workload, r->shape,
           r->logging ? "on" : "off", r->requests_per_s, r->ns_per_request, r->mb_per_s, r->lib_allocs,
           r->lib_bytes, r->path_allocs, r->path_bytes, r->other_allocs, r->other_bytes, logged);
  }
  int mismatched = 0;
  for (int i = 0; i < n_results; i++) {
    result *r = &results[i];
    if (r->failed || !r->client_checked || r->client_bytes == r->client_expected) continue;
    if (mismatched++ == 0) printf("\nreplies and denials the client received, where not every one arrived:\n");
    printf("  %s/%s/%s: %ld bytes, expected %ld\n", r->workload, r->shape, r->logging ? "on" : "off",
           r->client_bytes, r->client_expected);
  }
  double worst_off = 0, worst_on = 0;
  for (int i = 0; i < n_results; i++) {
    if (results[i].failed) continue;
    double *worst = results[i].logging ? &worst_on : &worst_off;
    if (results[i].lib_allocs > *worst) *worst = results[i].lib_allocs;
  }
  printf("\nRSS: %ld KiB at start, %ld KiB after dlopen\n", rss_start, rss_loaded);
  printf("OpenModule (xds-path): %.2f ms, RSS %ld -> %ld KiB; policy ACKed %.2f ms after the call\n", plain.open_ms,
         plain.rss_before_kib, plain.rss_after_kib, plain.ack_ms);
  printf("OpenModule (xds-path, access-log-path): %.2f ms, RSS %ld -> %ld KiB; ACK after %.2f ms\n", logged.open_ms,
         logged.rss_before_kib, logged.rss_after_kib, logged.ack_ms);
  if (full)
    printf("%d open connections: RSS %ld -> %ld KiB (%.0f bytes/connection incl. the datapath's), %.0f ns/OnNewConnection\n",
           opened, rss_before_conns, rss_with_conns,
           opened ? (double)(rss_with_conns - rss_before_conns) * 1024.0 / opened : 0.0, conn_ns);
  /* %g: a handful of allocations over a million requests must not print as 0.000 next to MISSED. Only
     allocations through the process's malloc are seen (a Go library's own heap is not). */
  printf("targets (library allocations through malloc inside OnData): logging off 0/request -> worst %g %s; "
         "logging on <=1/request -> worst %g %s\n",
         worst_off, worst_off == 0 ? "MET" : "MISSED", worst_on, worst_on <= 1 ? "MET" : "MISSED");
  for (size_t w = 0; w < N_WORKLOADS; w++) {
    if (!workload_selected(&workloads[w]) || only_logging == 0) continue;
    if (logged_bursts[w].failed)
      printf("%s: logging on, collector keeping up: n/a: %s\n", workloads[w].name, logged_bursts[w].error);
    else
      printf("%s: logging on, collector keeping up (bursts of %d whole requests, drained between): %.1f ns/request "
             "(%.1f ns of CPU on the calling thread), %.1f%% delivered\n", workloads[w].name, (int)logged_bursts[w].burst,
             logged_bursts[w].ns_per_request, logged_bursts[w].cpu_ns_per_request, 100.0 * logged_bursts[w].delivered);
  }
  if (full) {
    print_threads(threads);
    printf("OnData alone against a memchr scan of the same bytes (target: within 2x):\n");
    for (size_t w = 0; w < N_LINE_WORKLOADS; w++) print_scan(&scans[w]);
    printf("policy update adding %d endpoints: applied and ACKed %.1f ms after the push; onIo on 2 threads "
           "p50/p99: %.0f/%.0f ns before, %.0f/%.0f ns during (%ld/%ld samples)%s\n",
           update.endpoints, update.apply_ms, update.p50[0], update.p99[0], update.p50[1], update.p99[1],
           update.samples[0], update.samples[1], update.failed ? " FAILED" : "");
  }
  /* Without --strict, rows this library cannot run are n/a, not failures (see `strict`). */
  if (strict) failed += unavailable;
  if (unavailable) printf("%d row(s) n/a%s (see stderr)\n", unavailable, strict ? ", FAILED under --strict" : "");
  if (failed) printf("%d case(s) FAILED (see stderr)\n", failed);

  FILE *j = fopen(json_path, "w");
  if (j == NULL) {
    fprintf(stderr, "bench: cannot write %s: %s\n", json_path, strerror(errno));
    return 1;
  }
  fprintf(j, "{\n  \"library\": \"%s\",\n  \"smoke\": %s,\n  \"runs\": %d,\n  \"requests_per_run\": %ld,\n", lib_path,
          smoke ? "true" : "false", ctx.runs, ctx.requests_per_run);
  if (!full) fprintf(j, "  \"workloads\": \"%s*\",\n", only_workloads);
  fprintf(j, "  \"rss_kib\": {\"start\": %ld, \"after_dlopen\": %ld},\n", rss_start, rss_loaded);
  fprintf(j, "  \"open_module\": [\n");
  module_figures *figs[2] = {&plain, &logged};
  for (int i = 0; i < 2; i++)
    fprintf(j, "    {\"logging\": %s, \"ms\": %.3f, \"ack_ms\": %.3f, \"rss_before_kib\": %ld, \"rss_after_kib\": %ld}%s\n",
            i ? "true" : "false", figs[i]->open_ms, figs[i]->ack_ms, figs[i]->rss_before_kib, figs[i]->rss_after_kib,
            i ? "" : ",");
  fprintf(j, "  ],\n");
  if (full) {
    fprintf(j, "  \"connections\": {\"count\": %d, \"rss_before_kib\": %ld, \"rss_after_kib\": %ld, "
               "\"ns_per_open\": %.1f},\n", opened, rss_before_conns, rss_with_conns, conn_ns);
    fprintf(j, "  \"policy_update\": {\"endpoints\": %d, \"apply_ms\": %.3f, \"p50_ns_before\": %.0f, "
               "\"p99_ns_before\": %.0f, \"p50_ns_during\": %.0f, \"p99_ns_during\": %.0f},\n",
            update.endpoints, update.apply_ms, update.p50[0], update.p99[0], update.p50[1], update.p99[1]);
  }
  fprintf(j, "  \"logging_on_keeping_up\": [");
  const char *sep = "\n";
  for (size_t w = 0; w < N_WORKLOADS; w++) {
    if (!workload_selected(&workloads[w]) || only_logging == 0) continue;
    if (logged_bursts[w].failed)
      fprintf(j, "%s    {\"workload\": \"%s\", \"error\": \"%s\"}", sep, workloads[w].name, logged_bursts[w].error);
    else
      fprintf(j, "%s    {\"workload\": \"%s\", \"burst\": %ld, \"ns_per_request\": %.2f, "
                 "\"cpu_ns_per_request\": %.2f, \"delivered\": %.4f}",
              sep, workloads[w].name, logged_bursts[w].burst, logged_bursts[w].ns_per_request,
              logged_bursts[w].cpu_ns_per_request, logged_bursts[w].delivered);
    sep = ",\n";
  }
  fprintf(j, "\n  ],\n");
  if (full) {
    fprintf(j, "  \"threads\": [\n");
    for (int i = 0; i < (int)MT_ROWS; i++)
      fprintf(j, "    {\"workload\": \"%s\", \"logging\": %s, \"threads\": %d, \"requests_per_s\": %.0f, "
                 "\"speedup\": %.3f, \"cpu_ns_per_request\": %.2f, \"other_cpu_ns_per_request\": %.2f, "
                 "\"delivered\": %.4f}%s\n",
              threads[i].workload, threads[i].logging ? "true" : "false", threads[i].threads,
              threads[i].requests_per_s, threads[i].speedup, threads[i].cpu_ns_per_request,
              threads[i].other_ns_per_request, threads[i].delivered, i + 1 < (int)MT_ROWS ? "," : "");
    fprintf(j, "  ],\n");
    fprintf(j, "  \"memchr_comparison\": [\n");
    for (size_t w = 0; w < N_LINE_WORKLOADS; w++)
      fprintf(j, "    {\"workload\": \"%s\", \"memchr_ns\": %.2f, \"on_data_ns_whole_l7\": %.2f, "
                 "\"on_data_ns_whole_no_l7\": %.2f, \"on_data_ns_pipelined_l7\": %.2f, "
                 "\"on_data_ns_pipelined_no_l7\": %.2f}%s\n",
              scans[w].workload, scans[w].memchr_ns, scans[w].on_data_ns[SCAN_WHOLE_L7],
              scans[w].on_data_ns[SCAN_WHOLE_FREE], scans[w].on_data_ns[SCAN_PIPELINED_L7],
              scans[w].on_data_ns[SCAN_PIPELINED_FREE], w + 1 < N_LINE_WORKLOADS ? "," : "");
    fprintf(j, "  ],\n");
  }
  fprintf(j, "  \"targets\": {\"lib_allocs_logging_off_max\": %.4f, \"lib_allocs_logging_on_max\": %.4f},\n",
          worst_off, worst_on);
  fprintf(j, "  \"results\": [\n");
  for (int i = 0; i < n_results; i++) {
    result *r = &results[i];
    if (r->failed) {
      fprintf(j, "    {\"workload\": \"%s\", \"shape\": \"%s\", \"logging\": %s, \"error\": \"%s\"}%s\n", r->workload,
              r->shape, r->logging ? "true" : "false", r->error, i + 1 < n_results ? "," : "");
      continue;
    }
    char client[96] = "";
    if (r->client_checked)
      snprintf(client, sizeof client, ", \"client_bytes\": %ld, \"client_bytes_expected\": %ld", r->client_bytes,
               r->client_expected);
    fprintf(j,
            "    {\"workload\": \"%s\", \"shape\": \"%s\", \"logging\": %s, \"requests\": %ld, "
            "\"requests_per_s\": %.0f, \"ns_per_request\": %.2f, \"mb_per_s\": %.2f, "
            "\"lib_allocs\": %.4f, \"lib_bytes\": %.2f, \"datapath_allocs\": %.4f, \"datapath_bytes\": %.2f, "
            "\"other_thread_allocs\": %.4f, \"other_thread_bytes\": %.2f, \"logged_requests\": %ld, "
            "\"expected_log_entries\": %ld, \"log_entries\": %ld%s}%s\n",
            r->workload, r->shape, r->logging ? "true" : "false", r->requests, r->requests_per_s, r->ns_per_request,
            r->mb_per_s, r->lib_allocs, r->lib_bytes, r->path_allocs, r->path_bytes, r->other_allocs, r->other_bytes,
            r->logged_requests, r->expected_entries, r->log_entries, client, i + 1 < n_results ? "," : "");
  }
  fprintf(j, "  ]\n}\n");
  fclose(j);
  dp_library_close(&ctx.lib);
  return failed ? 1 : 0;
}
