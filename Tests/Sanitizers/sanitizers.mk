# Sanitizer runs (included by the Makefile; HARDENING.md, "Sanitizers", has the flags, findings and run times).
#
#   make test-asan         AddressSanitizer + UndefinedBehaviorSanitizer (+ LeakSanitizer in the harness): the C datapath
#                          harness driving an instrumented libcilium.so, the policy-plane tests (Tests/npds) against
#                          it, then every Swift unit test instrumented
#   make test-asan-smoke   the harness part only
#   make test-tsan         ThreadSanitizer: the harness driving an instrumented libcilium.so (its concurrency tests
#                          several times with new seeds, then every test), the policy-plane tests against it, then the
#                          Swift tests that use threads
#   make test-tsan-smoke   the harness part only
#
# Each run stops at the first report (halt_on_error, -fno-sanitize-recover) and exits non-zero; the harness then still
# prints "FAIL <test>: sanitizer report" and its "N passed, M failed" line, swift test its summary.
#
# Builds go to their own scratch paths (.build-asan, .build-tsan) and build/asan, build/tsan; `make lib` and its
# artifact are untouched.

.PHONY: test-asan test-asan-smoke test-asan-harness test-asan-npds test-asan-unit test-tsan test-tsan-smoke \
        test-tsan-harness test-tsan-npds test-tsan-unit san-toolchain san-python clean-sanitizers

# The sanitizer runtimes are the Swift toolchain's own compiler-rt (the LLVM that instruments the Swift code), so the
# harness is compiled and linked by the clang next to `swift`, and reports are symbolized by its llvm-symbolizer.
SAN_BIN := $(dir $(realpath $(shell command -v $(SWIFT) 2>/dev/null)))
SAN_CC := $(SAN_BIN)clang
SAN_NM := $(SAN_BIN)llvm-nm
SAN_SYMBOLIZER := $(SAN_BIN)llvm-symbolizer
SAN_SWIFT_LIBDIR := $(SAN_BIN)../lib/swift/linux
# The shared sanitizer runtimes, preloaded into python3 for the policy-plane tests (compiler-rt's older
# lib/linux/NAME-ARCH.so layout, which this toolchain uses, or the per-target one).
SAN_ARCH := $(shell uname -m)
san_runtime = $(firstword $(wildcard $(SAN_BIN)../lib/clang/*/lib/linux/libclang_rt.$(1)-$(SAN_ARCH).so \
                                    $(SAN_BIN)../lib/clang/*/lib/$(SAN_ARCH)-unknown-linux-gnu/libclang_rt.$(1).so))
SAN_ASAN_RUNTIME := $(call san_runtime,asan)
SAN_TSAN_RUNTIME := $(call san_runtime,tsan)
SAN_SCENARIOS := Tests/Harness/scenarios
SAN_HARNESS_SOURCES := $(DATAPATH) $(wildcard Sources/CDatapath/include/*.h) $(wildcard Tests/Harness/*.c Tests/Harness/*.h) \
                       $(wildcard Include/*.h)
# -rdynamic: the instrumented libcilium.so is linked without the sanitizer runtime and binds to the executable's copy,
# so the executable exports all of it (clang's own export list leaves out e.g. __tsan_external_*, which Swift uses).
SAN_CFLAGS := -std=c11 -O1 -g -fno-omit-frame-pointer -Wall -Wextra -Werror -pthread -fuse-ld=lld -rdynamic

# Flags of every instrumented Swift build (the release libcilium.so and the debug unit tests):
#  -Xlinker -z -Xlinker undefs   LibCilium links with `-z defs` (kept for `make lib`), which would reject the
#                                instrumented code's calls into the sanitizer runtime: a shared object does not link
#                                the runtime, it binds to the executable's at load time. lld takes the last -z
#                                defs/undefs, and command-line flags come after the target's.
#  -Xswiftc -use-ld=lld          the test runner is linked by lld too (gold prints a warning per runtime symbol).
SAN_SWIFT_FLAGS := -Xlinker -z -Xlinker undefs -Xswiftc -use-ld=lld
# The release libcilium.so links the static C++ runtime like `make lib`: the Makefile's $(STATIC_CXX), which it defines
# after including this file (hence the spelled-out path in prerequisites, which are expanded when read).
SAN_LIB_FLAGS = -c release --product cilium -Xlinker -L$(abspath $(STATIC_CXX))
SAN_STATIC_CXX_READY := $(BUILD)/static-cxx/.ready

san-toolchain:
	@[ -x "$(SAN_CC)" ] && [ -x "$(SAN_SYMBOLIZER)" ] && [ -n "$(SAN_ASAN_RUNTIME)" ] && [ -n "$(SAN_TSAN_RUNTIME)" ] || \
	  { echo "sanitizers: need the Swift toolchain's clang, llvm-symbolizer and compiler-rt next to '$(SWIFT)' (found: '$(SAN_BIN)')" >&2; exit 1; }

# The policy-plane tests need the Makefile's Python venv ($(VENV)/ready), and Debian ships venv's pip bootstrap
# (ensurepip) separately: installed first when missing.
san-python:
	@python3 -c 'import venv, ensurepip' 2>/dev/null || \
	  $(SUDO) apt-get install -y --no-install-recommends python3-venv || \
	  { $(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends python3-venv; }

$(VENV)/ready: | san-python

# The policy-plane tests run in python3, which is not instrumented: the shared sanitizer runtime is preloaded into it
# (it must come first), the datapath the tests drive through ctypes is built instrumented, and the tests load the
# instrumented libcilium.so. Python's own allocations go through the runtime too; its exit is not leak-checked.
SAN_NPDS_TESTS = $(PYTHON) -m pytest -q -p no:cacheprovider Tests/npds

# ---------------------------------------------------------------------------------------------------------------------
# AddressSanitizer + UndefinedBehaviorSanitizer
#
# Swift code: -sanitize=address. C code (the harness, the datapath, the PCRE2 shim, the generated protobuf-c code):
# ASan and UBSan. swiftc has no -sanitize=undefined on Linux, so UBSan reaches the C targets through -Xcc only.

ASAN_SCRATCH := .build-asan
ASAN_DIR := $(BUILD)/asan
ASAN_SO := $(ASAN_DIR)/libcilium.so
ASAN_HARNESS := $(ASAN_DIR)/harness
ASAN_SWIFT_FLAGS := --scratch-path $(ASAN_SCRATCH) --sanitize=address -Xcc -fsanitize=undefined \
                    -Xcc -fno-sanitize-recover=all $(SAN_SWIFT_FLAGS)
# LeakSanitizer runs at the harness's exit: the library's instances, connections and threads must all be gone or
# reachable by then.
ASAN_ENV := ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1:strict_string_checks=1:allow_user_segv_handler=0:external_symbolizer_path=$(SAN_SYMBOLIZER) \
            UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:external_symbolizer_path=$(SAN_SYMBOLIZER)
# No leak check for the Swift unit tests (HARDENING.md): LeakSanitizer cannot see Swift references kept in
# multi-payload enums (the case tag sits in the pointer's spare bits), so objects the tests' static vectors still
# reach are reported as leaked, and the NPDS transport tests keep their servers' NIO event loops running to the end.
# Nor for python3 (the policy-plane tests), whose interpreter does not free everything at exit.
ASAN_NOLEAK_ENV := $(subst detect_leaks=1,detect_leaks=0,$(ASAN_ENV))

$(ASAN_SO): $(SWIFT_SOURCES) $(SAN_STATIC_CXX_READY) | deps san-toolchain
	rm -f $(ASAN_SCRATCH)/release/libcilium.so
	$(SWIFT) build $(SAN_LIB_FLAGS) $(ASAN_SWIFT_FLAGS)
	@$(SAN_NM) -D --undefined-only $(ASAN_SCRATCH)/release/libcilium.so | grep -q __asan_report_load && \
	  $(SAN_NM) -D --undefined-only $(ASAN_SCRATCH)/release/libcilium.so | grep -q __ubsan_handle_ || \
	  { echo "sanitizers: $(ASAN_SCRATCH)/release/libcilium.so is not instrumented" >&2; exit 1; }
	mkdir -p $(ASAN_DIR)
	cp $(ASAN_SCRATCH)/release/libcilium.so $@

$(ASAN_HARNESS): $(SAN_HARNESS_SOURCES) | deps san-toolchain
	mkdir -p $(ASAN_DIR)
	$(SAN_CC) $(SAN_CFLAGS) -fsanitize=address,undefined -fno-sanitize-recover=all $(DATAPATH_INCLUDES) \
	  $(DATAPATH) Tests/Harness/*.c -ldl -o $@

test-asan-harness: $(ASAN_SO) $(ASAN_HARNESS)
	env $(ASAN_ENV) $(ASAN_HARNESS) $(ASAN_SO) $(SAN_SCENARIOS)

$(ASAN_DIR)/libdatapath.so: $(SAN_HARNESS_SOURCES) | deps san-toolchain
	mkdir -p $(ASAN_DIR)
	$(SAN_CC) $(SAN_CFLAGS) -shared -fPIC -fsanitize=address,undefined -fno-sanitize-recover=all $(DATAPATH_INCLUDES) \
	  $(DATAPATH) -ldl -o $@

test-asan-npds: $(ASAN_SO) $(ASAN_DIR)/libdatapath.so $(VENV)/ready
	env LD_PRELOAD=$(SAN_ASAN_RUNTIME) $(ASAN_NOLEAK_ENV) LIBCILIUM=$(ASAN_SO) \
	  LIBDATAPATH=$(ASAN_DIR)/libdatapath.so $(SAN_NPDS_TESTS)

test-asan-unit: | deps san-toolchain
	env $(ASAN_NOLEAK_ENV) $(SWIFT) test --disable-xctest $(ASAN_SWIFT_FLAGS)

test-asan-smoke: test-asan-harness

# One after the other (also under make -j): the Swift test summary is the last line.
test-asan: test-asan-harness
	$(MAKE) --no-print-directory test-asan-npds
	$(MAKE) --no-print-directory test-asan-unit

# ---------------------------------------------------------------------------------------------------------------------
# ThreadSanitizer
#
# Synchronization.Mutex hands a contended lock over in the kernel (PI futex), which TSan cannot see: the builds wrap
# its out-of-line slow paths with Tests/Sanitizers/tsan-mutex-shim.c, which tells TSan (see the file).

TSAN_SCRATCH := .build-tsan
TSAN_DIR := $(BUILD)/tsan
TSAN_SO := $(TSAN_DIR)/libcilium.so
TSAN_HARNESS := $(TSAN_DIR)/harness
TSAN_SHIM := $(TSAN_DIR)/mutex-shim.o
TSAN_WRAPPED := $$s15Synchronization12_MutexHandleV9_lockSlowyys6UInt32VF \
                $$s15Synchronization12_MutexHandleV12_tryLockSlowSbyF \
                $$s15Synchronization12_MutexHandleV11_unlockSlowyyF
TSAN_SWIFT_FLAGS := --scratch-path $(TSAN_SCRATCH) --sanitize=thread $(SAN_SWIFT_FLAGS) \
                    $(foreach s,$(TSAN_WRAPPED),-Xlinker '--wrap=$(s)') -Xlinker $(abspath $(TSAN_SHIM))
TSAN_ENV := TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:allow_user_segv_handler=0:external_symbolizer_path=$(SAN_SYMBOLIZER)
# How many times the harness's concurrency tests run (each with a new random seed) before the full run.
TSAN_REPEAT ?= 5
# The Swift tests that run code on several threads: the NPDS client (NIO threads, shutdown from many threads), the
# access-log client and sender thread, connections on many threads while policies change, concurrent regex matching.
TSAN_TEST_FILTER ?= NPDSClientTests|AccessLogClientTests|ConcurrencyTests|RegexPatternTests/concurrentMatching

$(TSAN_SHIM): Tests/Sanitizers/tsan-mutex-shim.c | deps san-toolchain
	mkdir -p $(TSAN_DIR)
	$(SAN_CC) -O2 -fPIC -Wall -Wextra -Werror -c $< -o $@

$(TSAN_SO): $(SWIFT_SOURCES) $(SAN_STATIC_CXX_READY) $(TSAN_SHIM) | deps san-toolchain
	rm -f $(TSAN_SCRATCH)/release/libcilium.so
	$(SWIFT) build $(SAN_LIB_FLAGS) $(TSAN_SWIFT_FLAGS)
	@$(SAN_NM) -D --undefined-only $(TSAN_SCRATCH)/release/libcilium.so | grep -q __tsan_func_entry || \
	  { echo "sanitizers: $(TSAN_SCRATCH)/release/libcilium.so is not instrumented" >&2; exit 1; }
	mkdir -p $(TSAN_DIR)
	cp $(TSAN_SCRATCH)/release/libcilium.so $@

# The static TSan runtime carries libdispatch interceptors, so the harness links the toolchain's libdispatch too.
$(TSAN_HARNESS): $(SAN_HARNESS_SOURCES) | deps san-toolchain
	mkdir -p $(TSAN_DIR)
	$(SAN_CC) $(SAN_CFLAGS) -fsanitize=thread $(DATAPATH_INCLUDES) $(DATAPATH) Tests/Harness/*.c -ldl \
	  -L$(SAN_SWIFT_LIBDIR) -ldispatch -lBlocksRuntime -Wl,-rpath,$(SAN_SWIFT_LIBDIR) -o $@

test-tsan-harness: $(TSAN_SO) $(TSAN_HARNESS)
	for i in $$(seq 1 $(TSAN_REPEAT)); do \
	  env $(TSAN_ENV) HARNESS_ONLY=builtin/concurrent $(TSAN_HARNESS) $(TSAN_SO) $(SAN_SCENARIOS) || exit 1; \
	done
	env $(TSAN_ENV) $(TSAN_HARNESS) $(TSAN_SO) $(SAN_SCENARIOS)

$(TSAN_DIR)/libdatapath.so: $(SAN_HARNESS_SOURCES) | deps san-toolchain
	mkdir -p $(TSAN_DIR)
	$(SAN_CC) $(SAN_CFLAGS) -shared -fPIC -fsanitize=thread $(DATAPATH_INCLUDES) $(DATAPATH) -ldl -o $@

# The shared TSan runtime leaves its libdispatch interceptors' symbols to be resolved: the toolchain's libdispatch.
test-tsan-npds: $(TSAN_SO) $(TSAN_DIR)/libdatapath.so $(VENV)/ready
	env LD_PRELOAD="$(SAN_TSAN_RUNTIME) $(SAN_SWIFT_LIBDIR)/libdispatch.so" $(TSAN_ENV) \
	  LIBCILIUM=$(TSAN_SO) LIBDATAPATH=$(TSAN_DIR)/libdatapath.so $(SAN_NPDS_TESTS)

test-tsan-unit: $(TSAN_SHIM) | deps san-toolchain
	env $(TSAN_ENV) $(SWIFT) test --disable-xctest $(TSAN_SWIFT_FLAGS) --filter '$(TSAN_TEST_FILTER)'

test-tsan-smoke: test-tsan-harness

test-tsan: test-tsan-harness
	$(MAKE) --no-print-directory test-tsan-npds
	$(MAKE) --no-print-directory test-tsan-unit

clean-sanitizers:
	rm -rf $(ASAN_SCRATCH) $(TSAN_SCRATCH) $(ASAN_DIR) $(TSAN_DIR)

clean: clean-sanitizers
