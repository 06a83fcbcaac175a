/*
 * Teaches ThreadSanitizer the happens-before edges of Swift's Synchronization.Mutex on Linux.
 *
 * Mutex's uncontended lock and unlock are compare-exchanges on the futex word, inlined into the caller
 * (@_transparent), so TSan sees them when the caller is instrumented. Under contention the caller calls the
 * out-of-line _MutexHandle._lockSlow / _tryLockSlow / _unlockSlow in the toolchain's (uninstrumented)
 * Synchronization library, which spin with plain cmpxchg and then hand the lock over in the kernel
 * (FUTEX_LOCK_PI / FUTEX_UNLOCK_PI). TSan sees neither, so every contended Mutex looked like a data race on the
 * state it protects (first seen on ConnectionTable.insert from four harness threads).
 *
 * The sanitizer builds link with `--wrap=<mangled slow path>`: the calls in our objects land here, we call the real
 * slow path and add the acquire (after locking) or release (before unlocking) on the lock's address, the same
 * address the inlined fast paths use for their atomics. Built without instrumentation; __tsan_acquire/__tsan_release
 * come from the TSan runtime in the executable.
 *
 * On x86_64 and arm64 the slow paths are Swift methods on a borrowed, address-only struct: `self` (the futex word's
 * address) travels in the swiftself register, which clang's swift_context parameter attribute maps to; the only
 * other argument of _lockSlow is the caller's thread id (UInt32).
 */
#include <stdbool.h>
#include <stdint.h>

void __tsan_acquire(void *addr);
void __tsan_release(void *addr);

#define SWIFTCALL __attribute__((swiftcall))
#define SELF __attribute__((swift_context))

#define LOCK_SLOW "$s15Synchronization12_MutexHandleV9_lockSlowyys6UInt32VF"
#define TRY_LOCK_SLOW "$s15Synchronization12_MutexHandleV12_tryLockSlowSbyF"
#define UNLOCK_SLOW "$s15Synchronization12_MutexHandleV11_unlockSlowyyF"

SWIFTCALL void real_lock_slow(uint32_t self_id, void *SELF handle) __asm__("__real_" LOCK_SLOW);
SWIFTCALL bool real_try_lock_slow(void *SELF handle) __asm__("__real_" TRY_LOCK_SLOW);
SWIFTCALL void real_unlock_slow(void *SELF handle) __asm__("__real_" UNLOCK_SLOW);

SWIFTCALL void wrap_lock_slow(uint32_t self_id, void *SELF handle) __asm__("__wrap_" LOCK_SLOW);
SWIFTCALL bool wrap_try_lock_slow(void *SELF handle) __asm__("__wrap_" TRY_LOCK_SLOW);
SWIFTCALL void wrap_unlock_slow(void *SELF handle) __asm__("__wrap_" UNLOCK_SLOW);

SWIFTCALL void wrap_lock_slow(uint32_t self_id, void *SELF handle) {
  real_lock_slow(self_id, handle);
  __tsan_acquire(handle);
}

SWIFTCALL bool wrap_try_lock_slow(void *SELF handle) {
  bool locked = real_try_lock_slow(handle);
  if (locked) {
    __tsan_acquire(handle);
  }
  return locked;
}

SWIFTCALL void wrap_unlock_slow(void *SELF handle) {
  __tsan_release(handle);
  real_unlock_slow(handle);
}
