/*
 * swift-proxylib allocation and latency check: drives OnData directly (no datapath copies) with one request
 * per call, in steady state, and counts heap allocations made during the measured calls with a malloc
 * interposer (the library's allocations go through this process's allocator).
 *
 *   usage: alloc-bench [--python PATH] [path/to/libcilium.so] [iterations]
 *
 * The conversation checks (the workloads of bench/workloads.h with the server's replies: memcache text, binary
 * and meta; cassandra QUERY, EXECUTE of statements prepared first, and BATCH; one request per call, and 64
 * pipelined) run under the policy of bench/policy.txt, delivered over NPDS by bench/npds_serve.py (--python,
 * default $PYTHON or .venv/bin/python; run from the repository root): allowed and denied requests, and the
 * server's reply to each allowed one through the reply direction, with logging off and with an access-log path
 * whose collector (a thread here) is drained every 256 requests, so that every entry is encoded and queued, not
 * dropped at a full queue. They count the calling thread's allocations inside OnData (the criterion: none) and every other thread's
 * meanwhile (the library's sender and NPDS threads: fewer than 1 per 100 requests, since the NPDS client's event
 * loops allocate now and then on their own), and check the bytes passed, dropped and injected.
 *
 * Prints one line per workload and fails (exit 1) if any workload allocates in steady state.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "libcilium.h"

#define BENCH_NAME "alloc-bench"
#include "services.h"
#include "workloads.h"

/* ---- malloc interposer ---------------------------------------------------------------------------------- */

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static atomic_long allocations;
static atomic_long allocated_bytes;
/* The calling thread's allocations inside OnData (the conversation checks set in_on_data around each call). */
static _Thread_local long on_data_allocations, on_data_bytes;
static _Thread_local int in_on_data;

static void count(size_t n) {
  atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&allocated_bytes, (long)n, memory_order_relaxed);
  if (in_on_data) {
    on_data_allocations++;
    on_data_bytes += (long)n;
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
  if (p == NULL) return 12; /* ENOMEM */
  *out = p;
  return 0;
}

/* ---- library -------------------------------------------------------------------------------------------- */

typedef GoUint64 (*open_fn)(GoSlice, GoUint8);
typedef FilterResult (*new_conn_fn)(GoUint64, GoString, GoUint64, GoUint8, GoUint32, GoUint32, GoString,
                                    GoString, GoString, GoSlice *, GoSlice *);
typedef FilterResult (*on_data_fn)(GoUint64, GoUint8, GoUint8, GoSlice *, GoSlice *);
typedef void (*close_fn)(GoUint64);
typedef void (*close_module_fn)(GoUint64);

static open_fn open_module;
static new_conn_fn on_new_connection;
static on_data_fn on_data;
static close_fn close_connection;
static close_module_fn close_module;

static GoString gs(const char *s) { return (GoString){s, (ptrdiff_t)strlen(s)}; }

/* A workload: one request, split into `parts` segments, expected to produce `expected_ops` ops. */
struct simple_workload {
  const char *name;
  const char *parser;
  const char *request;
  int parts;
};

static int run(uint64_t instance, uint64_t id, const struct simple_workload *w, long iterations) {
  static uint8_t orig_inject[1024], reply_inject[1024];
  GoSlice orig = {orig_inject, 0, sizeof orig_inject}, reply = {reply_inject, 0, sizeof reply_inject};
  FilterResult res = on_new_connection(instance, gs(w->parser), id, 1, 1, 2, gs("1.1.1.1:34567"), gs("10.0.0.2:80"),
                                       gs("10.0.0.2"), &orig, &reply);
  if (res != FILTER_OK) {
    printf("FAIL %s: OnNewConnection -> %d\n", w->name, (int)res);
    return 1;
  }
  size_t len = strlen(w->request);
  GoSlice segments[3];
  size_t at = 0;
  for (int i = 0; i < w->parts; i++) {
    size_t n = (i == w->parts - 1) ? len - at : len / (size_t)w->parts;
    segments[i] = (GoSlice){(void *)(w->request + at), (GoInt)n, (GoInt)n};
    at += n;
  }
  FilterOp ops[16];
  long start_allocs = 0, start_bytes = 0;
  double start = 0;
  long warmup = iterations / 10 + 100;
  for (long i = 0; i < warmup + iterations; i++) {
    if (i == warmup) {
      start_allocs = atomic_load(&allocations);
      start_bytes = atomic_load(&allocated_bytes);
      start = now_ns();
    }
    GoSlice data = {segments, w->parts, w->parts};
    GoSlice op_slice = {ops, 0, 16};
    res = on_data(id, 0, 0, &data, &op_slice);
    orig.len = 0;
    reply.len = 0;
    if (res != FILTER_OK || op_slice.len < 1) {
      printf("FAIL %s: OnData -> %d with %lld ops\n", w->name, (int)res, (long long)op_slice.len);
      return 1;
    }
  }
  double elapsed = now_ns() - start;
  long allocs = atomic_load(&allocations) - start_allocs;
  long bytes = atomic_load(&allocated_bytes) - start_bytes;
  close_connection(id);
  double per_request_allocs = (double)allocs / (double)iterations;
  printf("%-34s %9.1f ns/request  %6.3f allocations/request  %8.1f bytes/request  %s\n", w->name,
         elapsed / (double)iterations, per_request_allocs, (double)bytes / (double)iterations,
         allocs == 0 ? "ok" : "ALLOCATES");
  return allocs == 0 ? 0 : 1;
}

/* ---- request/reply conversations under a policy, with the server's replies -------------------------------- */

/* One onIo payload of a conversation: requests (client -> server) or replies (server -> client). */
typedef struct conv_unit {
  const uint8_t *bytes;
  size_t len;
  int reply;
  size_t pass, drop; /* the bytes the library must pass and drop */
} conv_unit;

typedef struct conv_traffic {
  conv_unit units[MAX_CYCLE * 2];
  int n_units, requests, entries; /* per pass; entries: the access-log entries (request_entries) */
  /* The denials the library must write towards the client over one pass. Where is protocol business: memcache
     queues a denial behind the replies still due (injected from the reply direction when pipelined), cassandra
     answers at once (stream ids match answers to requests), so only the pass's total is checked. */
  size_t inject;
  uint8_t storage[1 << 18];
} conv_traffic;

/* The cycle of `w` as onIo payloads: each request then its reply, or (pipelined) 64 requests in one payload and
   the replies to them in another. */
static void conv_build(const workload *w, int pipelined, conv_traffic *t) {
  memset(t, 0, sizeof *t);
  int n = 0;
  while (n < MAX_CYCLE && w->cycle[n].bytes != NULL) n++;
  if (!pipelined) {
    for (int i = 0; i < n; i++) {
      const request *r = &w->cycle[i];
      t->units[t->n_units++] = (conv_unit){(const uint8_t *)r->bytes, request_len(r), 0,
                                           r->allowed ? request_len(r) : 0, r->allowed ? 0 : request_len(r)};
      if (r->allowed && r->reply)
        t->units[t->n_units++] = (conv_unit){(const uint8_t *)r->reply, reply_len(r), 1, reply_len(r), 0};
      if (!r->allowed) t->inject += w->denial_len;
      t->requests++;
      t->entries += request_entries(r);
    }
    return;
  }
  conv_unit requests = {t->storage, 0, 0, 0, 0};
  size_t at = 0;
  for (int i = 0; i < 64; i++) {
    const request *r = &w->cycle[i % n];
    if (at + request_len(r) > sizeof t->storage) die("%s", "pipelined conversation too long");
    memcpy(t->storage + at, r->bytes, request_len(r));
    at += request_len(r);
    requests.len += request_len(r);
    if (r->allowed) requests.pass += request_len(r);
    else requests.drop += request_len(r);
    if (!r->allowed) t->inject += w->denial_len;
    t->requests++;
    t->entries += request_entries(r);
  }
  conv_unit replies = {t->storage + at, 0, 1, 0, 0};
  for (int i = 0; i < 64; i++) {
    const request *r = &w->cycle[i % n];
    if (!r->allowed || r->reply == NULL) continue;
    if (at + reply_len(r) > sizeof t->storage) die("%s", "pipelined conversation too long");
    memcpy(t->storage + at, r->reply, reply_len(r));
    at += reply_len(r);
    replies.len += reply_len(r);
  }
  replies.pass = replies.len;
  t->units[0] = requests;
  t->units[1] = replies;
  /* A workload whose every request is denied has no replies to send. */
  t->n_units = replies.len > 0 ? 2 : 1;
}

/* Feeds one payload to OnData until the library has passed or dropped all of it; checks the byte counts and
   adds the bytes written towards the client to *injected. `elapsed` gets the time spent inside OnData. */
static int conv_feed(uint64_t id, const conv_unit *u, GoSlice *orig, GoSlice *reply, double *elapsed,
                     size_t *injected_total, char *why, size_t why_len) {
  FilterOp ops[16];
  size_t offset = 0, passed = 0, dropped = 0, injected = 0;
  int calls = 0;
  while (offset < u->len || calls == 0) {
    GoSlice segment = {(void *)(u->bytes + offset), (GoInt)(u->len - offset), (GoInt)(u->len - offset)};
    GoSlice data = {&segment, 1, 1};
    GoSlice op_slice = {ops, 0, 16};
    double t0 = now_ns();
    in_on_data = 1;
    FilterResult res = on_data(id, (GoUint8)u->reply, 0, &data, &op_slice);
    in_on_data = 0;
    *elapsed += now_ns() - t0;
    calls++;
    if (res != FILTER_OK) {
      snprintf(why, why_len, "OnData -> %d", (int)res);
      return -1;
    }
    size_t before = offset;
    int injects = 0;
    for (GoInt i = 0; i < op_slice.len; i++) {
      if (ops[i].op == FILTEROP_PASS) passed += (size_t)ops[i].n_bytes, offset += (size_t)ops[i].n_bytes;
      if (ops[i].op == FILTEROP_DROP) dropped += (size_t)ops[i].n_bytes, offset += (size_t)ops[i].n_bytes;
      if (ops[i].op == FILTEROP_INJECT) injects = 1;
      if (ops[i].op == FILTEROP_ERROR) {
        snprintf(why, why_len, "ERROR op (%lld)", (long long)ops[i].n_bytes);
        return -1;
      }
    }
    /* The denials the library wrote for the client (directly, or by INJECT ops in the reply direction). */
    injected += (size_t)reply->len;
    orig->len = 0;
    reply->len = 0;
    if (offset == before && !injects) {
      snprintf(why, why_len, "OnData made no progress (%lld ops)", (long long)op_slice.len);
      return -1;
    }
  }
  *injected_total += injected;
  if (passed != u->pass || dropped != u->drop) {
    snprintf(why, why_len, "%s payload of %zu bytes: passed %zu, dropped %zu; expected %zu, %zu",
             u->reply ? "reply" : "request", u->len, passed, dropped, u->pass, u->drop);
    return -1;
  }
  return 0;
}

/* One pass over the units; the denials written towards the client must add up to t->inject. */
static int conv_pass(uint64_t id, const conv_traffic *t, GoSlice *orig, GoSlice *reply, double *elapsed, char *why,
                     size_t why_len) {
  size_t injected = 0;
  for (int u = 0; u < t->n_units; u++)
    if (conv_feed(id, &t->units[u], orig, reply, elapsed, &injected, why, why_len) != 0) return -1;
  if (injected != t->inject) {
    snprintf(why, why_len, "%zu bytes of denials written towards the client in a pass, expected %zu", injected,
             t->inject);
    return -1;
  }
  return 0;
}

/* The workload's setup exchange (cassandra's PREPAREs and their answers): every byte must pass. */
static int conv_setup(uint64_t id, const workload *w, GoSlice *orig, GoSlice *reply, char *why, size_t why_len) {
  double ignored = 0;
  size_t injected = 0;
  for (int i = 0; i < MAX_SETUP && w->setup[i].bytes != NULL; i++) {
    const request *r = &w->setup[i];
    conv_unit ask = {(const uint8_t *)r->bytes, request_len(r), 0, request_len(r), 0};
    conv_unit answer = {(const uint8_t *)r->reply, reply_len(r), 1, reply_len(r), 0};
    if (conv_feed(id, &ask, orig, reply, &ignored, &injected, why, why_len) != 0) return -1;
    if (r->reply && conv_feed(id, &answer, orig, reply, &ignored, &injected, why, why_len) != 0) return -1;
  }
  if (injected) {
    snprintf(why, why_len, "the setup exchange made the library answer the client (%zu bytes)", injected);
    return -1;
  }
  return 0;
}

/* `iterations` requests (rounded up to whole passes) of a conversation workload after a warm-up; with `col`, the
   collector is drained every 256 requests (untimed) and must receive every entry. */
static int run_conversation(uint64_t instance, uint64_t id, const workload *w, int pipelined, collector *col,
                            long iterations) {
  static uint8_t orig_inject[1024], reply_inject[1024];
  GoSlice orig = {orig_inject, 0, sizeof orig_inject}, reply = {reply_inject, 0, sizeof reply_inject};
  char name[64], why[256] = "";
  snprintf(name, sizeof name, "%s%s, %s", w->name, pipelined ? " 64 pipelined" : "", col ? "logging on" : "logging off");
  FilterResult res = on_new_connection(instance, gs(w->parser), id, 1, w->src_id, 2, gs("10.1.1.1:34567"),
                                       gs(w->dst_addr), gs(w->policy_name), &orig, &reply);
  if (res != FILTER_OK) {
    printf("FAIL %s: OnNewConnection -> %d\n", name, (int)res);
    return 1;
  }
  if (conv_setup(id, w, &orig, &reply, why, sizeof why) != 0) {
    printf("FAIL %s: setup: %s\n", name, why);
    close_connection(id);
    return 1;
  }
  static conv_traffic t;
  conv_build(w, pipelined, &t);
  long passes = (iterations + t.requests - 1) / t.requests;
  long warmup = passes / 10 + 2;
  long passes_per_drain = 256 / t.requests > 0 ? 256 / t.requests : 1;
  long mine0 = 0, mine_b0 = 0, all0 = 0, all_b0 = 0, expected = 0, received0 = 0;
  double elapsed = 0;
  int failed = 0;
  for (long p = 0; p < warmup + passes && !failed; p++) {
    if (p == warmup) {
      if (col) expected = received0 = collector_settle(col);
      mine0 = on_data_allocations;
      mine_b0 = on_data_bytes;
      all0 = atomic_load(&allocations);
      all_b0 = atomic_load(&allocated_bytes);
      elapsed = 0;
    }
    if (conv_pass(id, &t, &orig, &reply, &elapsed, why, sizeof why) != 0) failed = 1;
    if (col && p >= warmup) {
      expected += t.entries;
      /* Drain (at most 2 s) so that the library's queue never fills: every entry is encoded and queued. */
      if ((p - warmup + 1) % passes_per_drain == 0 || p + 1 == warmup + passes)
        for (int i = 0; i < 20000 && atomic_load(&col->entries) < expected; i++) usleep(100);
    }
  }
  long received = col ? collector_settle_at(col, received0 + passes * t.entries) - received0 : 0;
  long mine = on_data_allocations - mine0, mine_b = on_data_bytes - mine_b0;
  long others = atomic_load(&allocations) - all0 - mine, others_b = atomic_load(&allocated_bytes) - all_b0 - mine_b;
  close_connection(id);
  if (failed) {
    printf("FAIL %s: %s\n", name, why);
    return 1;
  }
  long requests = passes * t.requests, entries = passes * t.entries;
  char delivered[64] = "";
  if (col) snprintf(delivered, sizeof delivered, "  %ld/%ld entries delivered", received, entries);
  /* The criterion: no allocation inside OnData. Other threads must not allocate per request or entry either (the
     access-log sender); the NPDS client's event loops allocate now and then on their own timers, so a few are
     tolerated there (under 1 per 100 requests). */
  int ok = mine == 0 && others * 100 < requests && (!col || received == entries);
  printf("%-46s %8.1f ns/request  %6.3f allocations/request  %8.1f bytes/request  other threads %ld (%ld B)%s  %s\n",
         name, elapsed / (double)requests, (double)mine / (double)requests, (double)mine_b / (double)requests, others,
         others_b, delivered, ok ? "ok" : mine || others ? "ALLOCATES" : "ENTRIES MISSING");
  return ok ? 0 : 1;
}

int main(int argc, char **argv) {
  const char *path = "build/libcilium.so";
  const char *python = getenv("PYTHON") ? getenv("PYTHON") : ".venv/bin/python";
  long iterations = 200000;
  int positional = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--python") == 0 && i + 1 < argc) python = argv[++i];
    else if (positional == 0 && argv[i][0] != '-') path = argv[i], positional++;
    else if (positional == 1 && argv[i][0] != '-') iterations = atol(argv[i]), positional++;
    else {
      fprintf(stderr, "usage: alloc-bench [--python PATH] [path/to/libcilium.so] [iterations]\n");
      return 2;
    }
  }
  workloads_init();
  void *handle = dlopen(path, RTLD_NOW);
  if (handle == NULL) {
    fprintf(stderr, "alloc-bench: %s\n", dlerror());
    return 1;
  }
  open_module = (open_fn)dlsym(handle, "OpenModule");
  on_new_connection = (new_conn_fn)dlsym(handle, "OnNewConnection");
  on_data = (on_data_fn)dlsym(handle, "OnData");
  close_connection = (close_fn)dlsym(handle, "Close");
  close_module = (close_module_fn)dlsym(handle, "CloseModule");
  if (!open_module || !on_new_connection || !on_data || !close_connection || !close_module) {
    fprintf(stderr, "alloc-bench: %s lacks a proxylib entry point\n", path);
    return 1;
  }
  uint64_t instance = open_module((GoSlice){NULL, 0, 0}, 0);
  static const struct simple_workload simple[] = {
      {"lineparser PASS (allowed)", "test.lineparser", "PASS some request line\n", 1},
      {"lineparser PASS, 3 segments", "test.lineparser", "PASS some request line\n", 3},
      {"blockparser PASS (allowed)", "test.blockparser", "24:PASS block of bytes.\n", 1},
      {"r2d2 READ, no policy (denied)", "r2d2", "READ /public/file.txt\r\n", 1},
      {"r2d2 READ, 3 segments (denied)", "r2d2", "READ /public/file.txt\r\n", 3},
      {"headerparser, no policy (denied)", "test.headerparser", "GET /index.html\n", 1},
      {"passer", "test.passer", "anything at all", 1},
      /* make new-parser: rows go above this line. */
  };
  int failures = 0, checks = 0;
  for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++) {
    failures += run(instance, 1000 + i, &simple[i], iterations);
    checks++;
  }

  /* The request/reply conversations (memcache, cassandra) under bench/policy.txt (over NPDS), logging off and on. */
  static bench_services svc;
  services_start(&svc, python);
  const char *xds = svc.xds, *log_path = svc.log_path;
  struct { GoString key, value; } plain_kv[1] = {{gs("xds-path"), gs(xds)}},
                                   logged_kv[2] = {{gs("xds-path"), gs(xds)}, {gs("access-log-path"), gs(log_path)}};
  uint64_t plain = open_module((GoSlice){plain_kv, 1, 1}, 0);
  if (plain == 0) die("%s", "OpenModule (xds-path) failed");
  npds_expect(&svc.npds, "ACK", 20000);
  uint64_t logged = open_module((GoSlice){logged_kv, 2, 2}, 0);
  if (logged == 0) die("%s", "OpenModule (xds-path, access-log-path) failed");
  npds_expect(&svc.npds, "ACK", 20000);
  uint64_t id = 5000;
  for (int logging = 0; logging <= 1; logging++)
    for (size_t w = 0; w < N_WORKLOADS; w++) {
      if (!workload_has_replies(&workloads[w])) continue;
      for (int pipelined = 0; pipelined <= 1; pipelined++) {
        failures += run_conversation(logging ? logged : plain, id++, &workloads[w], pipelined,
                                 logging ? &svc.col : NULL, iterations);
        checks++;
      }
    }
  close_module(logged);
  close_module(plain);
  services_stop(&svc);

  printf("%d passed, %d failed\n", checks - failures, failures);
  return failures == 0 ? 0 : 1;
}
