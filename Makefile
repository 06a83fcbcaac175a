# swift-proxylib: build, test and install libcilium.so.
#
#   make                 build build/libcilium.so (release, self-contained)
#   make test            unit tests, the C datapath harness, the artifact checks, end-to-end tests and the
#                        short hardening runs (fuzzing, sanitizers, stress, faults)
#   make memcache-test   the memcache parser through proxylib-host against a real memcached (apt: memcached)
#   make cassandra-test  the cassandra parser through proxylib-host: cassandra-driver and cqlsh against a CQL
#                        test server (Tests/cassandra/cql_server.py), protocol v4/v5, plain and LZ4
#   make kafka-test      the kafka parser through proxylib-host: kafka-python's producer and consumer against a
#                        test broker (Tests/kafka/kafka_broker.py), newest, first flexible and old versions
#   make fuzz | test-asan | test-tsan | stress    the full hardening runs (HARDENING.md)
#   make demo            proxylib-host + libcilium.so in front of an r2d2 droid, with a policy file
#   make datapath-demo   drive the library through the C datapath only
#   make bench-alloc     ns and heap allocations per request through OnData
#   make new-parser NAME=foo   a new parser from the scaffold (Tools/new-parser; Documentation/writing-a-parser.md)
#   make parser-check NAME=foo one parser's unit tests, harness scenarios, fuzz inputs and live try (debug build)
#   make try-parser NAME=foo   Examples/foo/try.sh: allowed and denied requests through proxylib-host
#   make scaffold-test   generates a parser into a temporary copy of the tree and runs its parser-check (CI)
#   sudo make install    install to $(DESTDIR)$(PREFIX)/lib/libcilium.so, the headers and bin/proxylib-host
#   make uninstall / make clean

PREFIX ?= /usr
DESTDIR ?=
SWIFT ?= swift
CC ?= cc
CFLAGS ?= -std=c11 -O2 -Wall -Wextra -Werror -pthread

BUILD := build
CILIUM_SO := $(BUILD)/libcilium.so
# The library the benchmark measures: `make bench LIB=/path/to/libcilium.so` (e.g. the Go build).
LIB ?= $(CILIUM_SO)
HARNESS := $(BUILD)/harness
DEMO := $(BUILD)/datapath-demo
HOST := .build/release/proxylib-host
ALLOC_BENCH := $(BUILD)/alloc-bench
BENCH := $(BUILD)/bench
LIBDATAPATH := $(BUILD)/libdatapath.so
VENV := .venv
PYTHON := $(VENV)/bin/python
SWIFT_SOURCES := $(shell find Sources -name '*.swift' -o -name '*.c' -o -name '*.h') Package.swift proxylib.map $(wildcard Include/*)
DATAPATH := Sources/CDatapath/datapath.c
DATAPATH_INCLUDES := -IInclude -ISources/CDatapath/include

# Debian packages the build links statically; installed on first use when missing.
DEPS_PACKAGES := libpcre2-dev libprotobuf-c-dev liblz4-dev libsnappy-dev g++
PCRE2_STATIC := $(firstword $(wildcard /usr/lib/*/libpcre2-8.a /usr/lib/libpcre2-8.a))
PROTOBUF_C_STATIC := $(firstword $(wildcard /usr/lib/*/libprotobuf-c.a /usr/lib/libprotobuf-c.a))
LZ4_STATIC := $(firstword $(wildcard /usr/lib/*/liblz4.a /usr/lib/liblz4.a))
SNAPPY_STATIC := $(firstword $(wildcard /usr/lib/*/libsnappy.a /usr/lib/libsnappy.a))
LIBSTDCXX_STATIC := $(firstword $(wildcard /usr/lib/gcc/*/*/libstdc++.a))
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# `make` alone builds the library: the included proto rules must not become the default goal.
.DEFAULT_GOAL := all
include Proto/Makefile.inc
# Hardening: fuzzing (make fuzz), sanitizers (make test-asan, make test-tsan), stress and faults (make stress).
-include Tests/Fuzz/fuzz.mk
-include Tests/Sanitizers/sanitizers.mk
-include Tests/Stress/stress.mk

.PHONY: all lib deps test hardening-smoke unit-test harness-test artifact-test alloc-test npds-test host-test memcache-test cassandra-test kafka-test redis-test bench bench-smoke bench-alloc demo datapath-demo install uninstall clean \
        new-parser parser-check try-parser scaffold-test

all: lib

lib: $(CILIUM_SO)

# The version script is not a Swift input: touching it alone would not relink, so the rule always relinks
# when the map changes by removing the product first.
deps:
ifeq ($(and $(PCRE2_STATIC),$(PROTOBUF_C_STATIC),$(LZ4_STATIC),$(SNAPPY_STATIC),$(LIBSTDCXX_STATIC)),)
	$(SUDO) apt-get install -y --no-install-recommends $(DEPS_PACKAGES) || \
	  { $(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends $(DEPS_PACKAGES); }
endif

# The C++ runtime under the Swift runtime goes into libcilium.so statically too, so that it needs only libc and
# libm: swiftc's link line asks for -lstdc++ and -lgcc_s, and this folder, searched first, has linker scripts
# by those names that name the static archives. (A bare `swift build` links the shared ones.)
STATIC_CXX := $(BUILD)/static-cxx

$(STATIC_CXX)/.ready: | deps
	mkdir -p $(STATIC_CXX)
	for pair in libstdc++.so:libstdc++.a libgcc_s.so:libgcc_eh.a; do \
	  archive=$$($(CC) -print-file-name=$${pair#*:}); \
	  case "$$archive" in /*) ;; *) echo "$${pair#*:} not found: install g++ (the static C++ runtime)" >&2; exit 1;; esac; \
	  echo "INPUT($$archive)" > $(STATIC_CXX)/$${pair%%:*}; \
	done
	touch $@

$(CILIUM_SO): $(SWIFT_SOURCES) $(STATIC_CXX)/.ready | deps
	rm -f .build/release/libcilium.so
	$(SWIFT) build -c release --product cilium -Xlinker -L$(abspath $(STATIC_CXX))
	mkdir -p $(BUILD)
	cp .build/release/libcilium.so $@.tmp
	strip --strip-debug $@.tmp
	mv $@.tmp $@

$(HARNESS): $(DATAPATH) $(wildcard Sources/CDatapath/include/*.h) $(wildcard Tests/Harness/*.c Tests/Harness/*.h) $(wildcard Include/*.h)
	mkdir -p $(BUILD)
	$(CC) $(CFLAGS) $(DATAPATH_INCLUDES) $(DATAPATH) Tests/Harness/*.c -ldl -o $@

$(DEMO): $(DATAPATH) Examples/datapath-demo.c $(wildcard Include/*.h)
	mkdir -p $(BUILD)
	$(CC) $(CFLAGS) $(DATAPATH_INCLUDES) $(DATAPATH) Examples/datapath-demo.c -ldl -o $@

$(ALLOC_BENCH): bench/alloc-bench.c $(wildcard bench/*.h) $(wildcard Include/*.h)
	mkdir -p $(BUILD)
	$(CC) $(CFLAGS) -rdynamic -IInclude bench/alloc-bench.c -ldl -o $@

# The C datapath as a shared object, for the Python policy-plane tests (ctypes).
$(LIBDATAPATH): $(DATAPATH) $(wildcard Sources/CDatapath/include/*.h) $(wildcard Include/*.h)
	mkdir -p $(BUILD)
	$(CC) $(CFLAGS) -shared -fPIC $(DATAPATH_INCLUDES) $(DATAPATH) -ldl -o $@

# Google's grpcio/protobuf for Python: the independent NPDS peer.
# CASS_DRIVER_NO_CYTHON: where no cassandra-driver wheel fits, its source build skips the Cython extensions
# (minutes on 2 cores); the tests use only its pure-Python protocol classes.
$(VENV)/ready: Tests/npds/requirements.txt
	python3 -m venv $(VENV)
	CASS_DRIVER_NO_CYTHON=1 $(VENV)/bin/pip install -q --disable-pip-version-check -r Tests/npds/requirements.txt
	touch $@

test: unit-test harness-test artifact-test alloc-test bench-smoke npds-test host-test memcache-test cassandra-test \
      kafka-test redis-test scaffold-test hardening-smoke

# The short versions of the hardening suites (HARDENING.md): each fuzz target for 20 s, the C datapath harness
# against AddressSanitizer+UBSan and ThreadSanitizer builds of libcilium.so, the stress run and the fault suite
# in their CI sizes.
hardening-smoke: fuzz-smoke test-asan-smoke test-tsan-smoke stress-smoke faults-smoke

unit-test: | deps
	$(SWIFT) test --disable-xctest

harness-test: $(CILIUM_SO) $(HARNESS)
	$(HARNESS) $(CILIUM_SO) Tests/Harness/scenarios

artifact-test: $(CILIUM_SO) $(HARNESS)
	Tests/check-artifact.sh $(CILIUM_SO)

# Policies delivered by a real NPDS server (grpcio) and enforced through the C ABI and datapath.
npds-test: $(CILIUM_SO) $(LIBDATAPATH) $(VENV)/ready
	$(PYTHON) -m pytest -q -p no:cacheprovider Tests/npds

# proxylib-host end to end on loopback, the demo included.
host-test: $(CILIUM_SO) $(HOST) $(VENV)/ready
	$(PYTHON) -m pytest -q -p no:cacheprovider Tests/host

# The real memcache clients of Tests/memcache (pymemcache, python-binary-memcached), on top of the venv.
$(VENV)/memcache-ready: Tests/memcache/requirements.txt $(VENV)/ready
	$(VENV)/bin/pip install -q --disable-pip-version-check -r Tests/memcache/requirements.txt
	touch $@

# The memcache parser end to end: proxylib-host in front of a real memcached (/usr/bin/memcached, Debian package
# memcached; the tests fail, not skip, without it), text, binary and meta protocols with real clients.
memcache-test: $(CILIUM_SO) $(HOST) $(VENV)/memcache-ready
	$(PYTHON) -m pytest -q -p no:cacheprovider Tests/memcache

# The Cassandra clients of Tests/cassandra (cassandra-driver, lz4, cqlsh), on top of the venv. The driver's
# wheels cover this Python; should pip build it from source, CASS_DRIVER_NO_CYTHON skips the slow Cython build.
$(VENV)/cassandra-ready: Tests/cassandra/requirements.txt $(VENV)/ready
	CASS_DRIVER_NO_CYTHON=1 $(VENV)/bin/pip install -q --disable-pip-version-check -r Tests/cassandra/requirements.txt
	touch $@

# The cassandra parser end to end: proxylib-host in front of Tests/cassandra/cql_server.py (a CQL server written
# for the tests: no Cassandra installs here), cassandra-driver with protocol v4 and v5, plain and LZ4, and cqlsh.
# CASSANDRA_DIRECT=1 runs the clients against the server without the proxy (the denial tests then fail).
cassandra-test: $(CILIUM_SO) $(HOST) $(VENV)/cassandra-ready
	$(PYTHON) -m pytest -q -p no:cacheprovider Tests/cassandra

# kafka-python for Tests/kafka (pure Python: its clients, and the message classes the test broker is built on).
$(VENV)/kafka-ready: Tests/kafka/requirements.txt $(VENV)/ready
	$(VENV)/bin/pip install -q --disable-pip-version-check -r Tests/kafka/requirements.txt
	touch $@

# The kafka parser end to end: proxylib-host in front of Tests/kafka/kafka_broker.py (a broker written for the tests
# with kafka-python's own request/response classes: no Kafka installs here), KafkaProducer and KafkaConsumer at the
# newest, the first flexible and old (pre-flexible) versions. KAFKA_DIRECT=1 runs the clients against the broker
# without the proxy (the denial tests then fail).
kafka-test: $(CILIUM_SO) $(HOST) $(VENV)/kafka-ready
	$(PYTHON) -m pytest -q -p no:cacheprovider Tests/kafka

# redis-py for Tests/redis, on top of the venv (redis-server, redis-cli and redis-benchmark come from apt).
$(VENV)/redis-ready: Tests/redis/requirements.txt $(VENV)/ready
	$(VENV)/bin/pip install -q --disable-pip-version-check -r Tests/redis/requirements.txt
	touch $@

# The redis parser end to end: proxylib-host in front of a real redis-server (Debian packages redis-server and
# redis-tools; the tests fail, not skip, without them), redis-py over RESP2 and RESP3 and redis-cli; the keys the
# parser finds are cross-checked against the server's COMMAND GETKEYS. REDIS_DIRECT=1 runs the clients against
# redis-server without the proxy (the denial tests then fail). Throughput: Tests/redis/bench/run.py (not in CI).
redis-test: $(CILIUM_SO) $(HOST) $(VENV)/redis-ready
	$(PYTHON) -m pytest -q -p no:cacheprovider Tests/redis

$(BENCH): bench/bench.c $(wildcard bench/*.h) $(DATAPATH) $(wildcard Sources/CDatapath/include/*.h) $(wildcard Include/*.h)
	mkdir -p $(BUILD)
	$(CC) $(CFLAGS) -rdynamic $(DATAPATH_INCLUDES) $(DATAPATH) bench/bench.c -ldl -o $@

# Requests/s, ns and heap allocations per request through the C datapath, policies over NPDS (LIB=path to
# measure another libcilium.so). See BENCHMARKS.md. Our own library runs --strict: every row must run and every
# reply and denial reach the client; another build reports the rows it cannot run as n/a (the Go parser has no
# memcache meta commands).
BENCH_STRICT = $(if $(filter $(CILIUM_SO),$(LIB)),--strict)

bench: $(CILIUM_SO) $(BENCH) $(VENV)/ready
	$(BENCH) $(BENCH_STRICT) $(LIB)

bench-smoke: $(CILIUM_SO) $(BENCH) $(VENV)/ready
	$(BENCH) --smoke $(BENCH_STRICT) $(LIB)

# Steady-state OnData must not allocate: counted with a malloc interposer, not timed. The memcache checks run
# under bench/policy.txt over NPDS (the grpcio server), logging off and with an access-log collector.
alloc-test: $(CILIUM_SO) $(ALLOC_BENCH) $(VENV)/ready
	$(ALLOC_BENCH) --python $(PYTHON) $(CILIUM_SO) 20000

bench-alloc: $(CILIUM_SO) $(ALLOC_BENCH) $(VENV)/ready
	$(ALLOC_BENCH) --python $(PYTHON) $(CILIUM_SO) 2000000

$(HOST): $(SWIFT_SOURCES) | deps
	$(SWIFT) build -c release --product proxylib-host

# The main demo: proxylib-host with the r2d2 example (droid server, policy file, scripted client).
demo: $(CILIUM_SO) $(HOST)
	Examples/r2d2/demo.sh $(HOST) $(CILIUM_SO)

# The datapath-only demo: the library driven by the C datapath, no network.
datapath-demo: $(CILIUM_SO) $(DEMO)
	$(DEMO) $(CILIUM_SO)

# proxylib-host goes beside the library: without --library it loads $(PREFIX)/lib/libcilium.so when no
# build/libcilium.so is in the working folder.
install: $(CILIUM_SO) $(HOST)
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/proxylib $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(CILIUM_SO) $(DESTDIR)$(PREFIX)/lib/libcilium.so
	install -m 0644 Include/libcilium.h Include/types.h $(DESTDIR)$(PREFIX)/include/proxylib/
	install -m 0755 $(HOST) $(DESTDIR)$(PREFIX)/bin/proxylib-host

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/lib/libcilium.so $(DESTDIR)$(PREFIX)/bin/proxylib-host
	rm -f $(DESTDIR)$(PREFIX)/include/proxylib/libcilium.h $(DESTDIR)$(PREFIX)/include/proxylib/types.h
	-rmdir $(DESTDIR)$(PREFIX)/include/proxylib 2>/dev/null

# A new parser from the scaffold (Tools/new-parser/templates): a working line protocol to edit into yours.
new-parser:
	@test -n "$(NAME)" || { echo "usage: make new-parser NAME=foo" >&2; exit 2; }
	@python3 Tools/new-parser/new_parser.py $(NAME)

# One parser's own checks on a debug build (quicker to rebuild while editing): its Swift test suites
# (<Name>ParserTests, <Name>OracleTests), the harness scenarios, its fuzz target's committed inputs and its
# Examples/NAME/try.sh through the debug proxylib-host. `make test` runs all of these for every parser.
parser-check: $(HARNESS) | deps
	@test -n "$(NAME)" -a -x Examples/$(NAME)/try.sh || { echo "usage: make parser-check NAME=foo (a parser with Examples/foo/try.sh)" >&2; exit 2; }
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --disable-xctest --filter '$(shell python3 Tools/new-parser/new_parser.py --type $(NAME))(Parser|Oracle)Tests'
	$(HARNESS) .build/debug/libcilium.so Tests/Harness/scenarios
	.build/debug/proxylib-fuzz datapath-$(NAME) Tests/Fuzz/corpus/datapath-$(NAME) $$(ls -d Tests/Fuzz/regressions/datapath-$(NAME) 2>/dev/null)
	Examples/$(NAME)/try.sh .build/debug/proxylib-host .build/debug/libcilium.so

# Allowed and denied requests of one parser through proxylib-host and the release library, with the access log.
try-parser: $(CILIUM_SO) $(HOST)
	@test -n "$(NAME)" -a -x Examples/$(NAME)/try.sh || { echo "usage: make try-parser NAME=foo (a parser with Examples/foo/try.sh)" >&2; exit 2; }
	Examples/$(NAME)/try.sh $(HOST) $(CILIUM_SO)

# The scaffold stays green: a parser generated into a temporary copy of this tree must build and pass its
# parser-check there (a full debug build of the copy).
scaffold-test: | deps
	Tools/new-parser/check-scaffold.sh

clean:
	rm -rf $(BUILD) .build .build-fuzz .build-asan .build-tsan $(VENV)
