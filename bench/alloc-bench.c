/*
 * swift-proxylib allocation and latency check: drives OnData directly (no datapath copies) with one request
 * per call, in steady state, and counts heap allocations made during the measured calls with a malloc
 * interposer (the library's allocations go through this process's allocator).
 *
 *   usage: alloc-bench [path/to/libcilium.so] [iterations]
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

/* ---- malloc interposer ---------------------------------------------------------------------------------- */

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static atomic_long allocations;
static atomic_long allocated_bytes;

static void count(size_t n) {
  atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&allocated_bytes, (long)n, memory_order_relaxed);
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

static open_fn open_module;
static new_conn_fn on_new_connection;
static on_data_fn on_data;
static close_fn close_connection;

static GoString gs(const char *s) { return (GoString){s, (ptrdiff_t)strlen(s)}; }

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* A workload: one request, split into `parts` segments, expected to produce `expected_ops` ops. */
struct workload {
  const char *name;
  const char *parser;
  const char *request;
  int parts;
};

static int run(uint64_t instance, uint64_t id, const struct workload *w, long iterations) {
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

int main(int argc, char **argv) {
  const char *path = argc > 1 ? argv[1] : "build/libcilium.so";
  long iterations = argc > 2 ? atol(argv[2]) : 200000;
  void *handle = dlopen(path, RTLD_NOW);
  if (handle == NULL) {
    fprintf(stderr, "alloc-bench: %s\n", dlerror());
    return 1;
  }
  open_module = (open_fn)dlsym(handle, "OpenModule");
  on_new_connection = (new_conn_fn)dlsym(handle, "OnNewConnection");
  on_data = (on_data_fn)dlsym(handle, "OnData");
  close_connection = (close_fn)dlsym(handle, "Close");
  if (!open_module || !on_new_connection || !on_data || !close_connection) {
    fprintf(stderr, "alloc-bench: %s lacks a proxylib entry point\n", path);
    return 1;
  }
  uint64_t instance = open_module((GoSlice){NULL, 0, 0}, 0);
  static const struct workload workloads[] = {
      {"lineparser PASS (allowed)", "test.lineparser", "PASS some request line\n", 1},
      {"lineparser PASS, 3 segments", "test.lineparser", "PASS some request line\n", 3},
      {"blockparser PASS (allowed)", "test.blockparser", "24:PASS block of bytes.\n", 1},
      {"r2d2 READ, no policy (denied)", "r2d2", "READ /public/file.txt\r\n", 1},
      {"r2d2 READ, 3 segments (denied)", "r2d2", "READ /public/file.txt\r\n", 3},
      {"headerparser, no policy (denied)", "test.headerparser", "GET /index.html\n", 1},
      {"passer", "test.passer", "anything at all", 1},
  };
  int failures = 0;
  for (size_t i = 0; i < sizeof workloads / sizeof workloads[0]; i++) {
    failures += run(instance, 1000 + i, &workloads[i], iterations);
  }
  printf("%d passed, %d failed\n", (int)(sizeof workloads / sizeof workloads[0]) - failures, failures);
  return failures == 0 ? 0 : 1;
}
