/*
 * A malloc interposer counting the calling thread's heap allocations, for the access-log allocation tests
 * (Tests/ProxylibAccessLogTests/AccessLogAllocationTests.swift), which look up
 * `accesslog_test_thread_allocations` and are skipped without it:
 *
 *   cc -O2 -shared -fPIC -ftls-model=initial-exec bench/alloccount.c -o build/alloccount.so
 *   LD_PRELOAD=$PWD/build/alloccount.so swift test -c release --enable-testable-imports --disable-xctest \
 *       --filter AccessLogAllocation
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static __thread long thread_allocations;

long accesslog_test_thread_allocations(void) { return thread_allocations; }

void *malloc(size_t n) { thread_allocations++; return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { thread_allocations++; return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { thread_allocations++; return __libc_realloc(p, n); }
void *aligned_alloc(size_t align, size_t n) { thread_allocations++; return __libc_memalign(align, n); }
void *memalign(size_t align, size_t n) { thread_allocations++; return __libc_memalign(align, n); }
int posix_memalign(void **out, size_t align, size_t n) {
  thread_allocations++;
  void *p = __libc_memalign(align, n);
  if (p == NULL) return ENOMEM;
  *out = p;
  return 0;
}
