# Fuzzing (Tests/Fuzz/README.md). Included by the Makefile.
#
#   make fuzz                       every target for FUZZ_RUNS executions (default 10 million) each
#   make fuzz FUZZ_TARGETS="regex accesslog" FUZZ_RUNS=0 FUZZ_SECONDS=600 FUZZ_JOBS=2
#   make fuzz-smoke                 every target for 20 s (CI)
#   make fuzz-replay                the committed corpora and regressions through an ordinary build
#
# The fuzz build instruments every module (Swift and C) with AddressSanitizer and libFuzzer's coverage, and
# links compiler-rt's fuzzer_no_main runtime from the Swift toolchain, so proxylib-fuzz keeps its own main.

FUZZ_SCRATCH := .build-fuzz
FUZZ_BIN := $(FUZZ_SCRATCH)/release/proxylib-fuzz
SWIFTC_PATH := $(shell command -v swiftc 2>/dev/null)
FUZZER_RUNTIME := $(firstword $(wildcard $(dir $(realpath $(SWIFTC_PATH)))../lib/clang/*/lib/linux/libclang_rt.fuzzer_no_main-x86_64.a))
FUZZ_COVERAGE := inline-8bit-counters,pc-table,trace-cmp
FUZZ_RUNS ?= 10000000
FUZZ_SECONDS ?= 0
FUZZ_JOBS ?= 1
FUZZ_TARGETS ?=
FUZZ_SMOKE_SECONDS ?= 20

.PHONY: fuzz fuzz-smoke fuzz-build fuzz-replay fuzz-seeds

fuzz-build: $(FUZZ_BIN)

$(FUZZ_BIN): $(SWIFT_SOURCES) | deps
	@test -n "$(FUZZER_RUNTIME)" || { echo "libclang_rt.fuzzer_no_main-x86_64.a not found beside swiftc ($(SWIFTC_PATH))" >&2; exit 1; }
	$(SWIFT) build -c release --scratch-path $(FUZZ_SCRATCH) --product proxylib-fuzz --sanitize=address \
	  -Xswiftc -sanitize-coverage=edge,$(FUZZ_COVERAGE) \
	  -Xcc -fsanitize-coverage=$(FUZZ_COVERAGE) -Xcc -DPROXYLIB_LIBFUZZER \
	  -Xlinker $(FUZZER_RUNTIME) -Xlinker -lstdc++
	touch $@

fuzz: $(FUZZ_BIN)
	Tests/Fuzz/run-fuzz.sh $(FUZZ_BIN) --runs $(FUZZ_RUNS) --seconds $(FUZZ_SECONDS) --jobs $(FUZZ_JOBS) $(FUZZ_TARGETS)

fuzz-smoke: $(FUZZ_BIN)
	Tests/Fuzz/run-fuzz.sh $(FUZZ_BIN) --runs 0 --seconds $(FUZZ_SMOKE_SECONDS) --jobs 1 $(FUZZ_TARGETS)

# The committed inputs through a debug build (no libFuzzer); `make unit-test` does the same in Swift Testing.
fuzz-replay: | deps
	$(SWIFT) build --product proxylib-fuzz
	for target in $$(.build/debug/proxylib-fuzz list); do \
	  .build/debug/proxylib-fuzz $$target Tests/Fuzz/corpus/$$target $$(ls -d Tests/Fuzz/regressions/$$target 2>/dev/null) || exit 1; \
	done

# Regenerates the seed corpora from the unit vectors and NPDS fixtures (FuzzSeeds.swift).
fuzz-seeds: | deps
	$(SWIFT) build --product proxylib-fuzz
	.build/debug/proxylib-fuzz seeds Tests/Fuzz/corpus Tests/ProxylibNPDSTests/Fixtures
