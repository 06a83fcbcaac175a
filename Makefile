# swift-proxylib: build, test and install libcilium.so.
#
#   make                 build build/libcilium.so (release, self-contained)
#   make test            unit tests, the C datapath harness and the artifact checks
#   make demo            proxylib-host + libcilium.so in front of an r2d2 droid, with a policy file
#   make datapath-demo   drive the library through the C datapath only
#   make bench-alloc     ns and heap allocations per request through OnData
#   sudo make install    install to $(DESTDIR)$(PREFIX)/lib/libcilium.so and the headers
#   make uninstall / make clean

PREFIX ?= /usr
DESTDIR ?=
SWIFT ?= swift
CC ?= cc
CFLAGS ?= -std=c11 -O2 -Wall -Wextra -Werror -pthread

BUILD := build
LIB := $(BUILD)/libcilium.so
HARNESS := $(BUILD)/harness
DEMO := $(BUILD)/datapath-demo
HOST := .build/release/proxylib-host
ALLOC_BENCH := $(BUILD)/alloc-bench
LIBDATAPATH := $(BUILD)/libdatapath.so
VENV := .venv
PYTHON := $(VENV)/bin/python
SWIFT_SOURCES := $(shell find Sources -name '*.swift' -o -name '*.c' -o -name '*.h') Package.swift proxylib.map $(wildcard Include/*)
DATAPATH := Sources/CDatapath/datapath.c
DATAPATH_INCLUDES := -IInclude -ISources/CDatapath/include

# Debian packages the build links statically; installed on first use when missing.
PCRE2_STATIC := $(firstword $(wildcard /usr/lib/*/libpcre2-8.a /usr/lib/libpcre2-8.a))
PROTOBUF_C_STATIC := $(firstword $(wildcard /usr/lib/*/libprotobuf-c.a /usr/lib/libprotobuf-c.a))
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

include Proto/Makefile.inc

.PHONY: all lib deps test unit-test harness-test artifact-test alloc-test npds-test host-test bench-alloc demo datapath-demo install uninstall clean

all: lib

lib: $(LIB)

# The version script is not a Swift input: touching it alone would not relink, so the rule always relinks
# when the map changes by removing the product first.
deps:
ifeq ($(and $(PCRE2_STATIC),$(PROTOBUF_C_STATIC)),)
	$(SUDO) apt-get install -y --no-install-recommends libpcre2-dev libprotobuf-c-dev || \
	  { $(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends libpcre2-dev libprotobuf-c-dev; }
endif

$(LIB): $(SWIFT_SOURCES) | deps
	rm -f .build/release/libcilium.so
	$(SWIFT) build -c release --product cilium
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

$(ALLOC_BENCH): bench/alloc-bench.c $(wildcard Include/*.h)
	mkdir -p $(BUILD)
	$(CC) $(CFLAGS) -rdynamic -IInclude bench/alloc-bench.c -ldl -o $@

# The C datapath as a shared object, for the Python policy-plane tests (ctypes).
$(LIBDATAPATH): $(DATAPATH) $(wildcard Sources/CDatapath/include/*.h) $(wildcard Include/*.h)
	mkdir -p $(BUILD)
	$(CC) $(CFLAGS) -shared -fPIC $(DATAPATH_INCLUDES) $(DATAPATH) -ldl -o $@

# Google's grpcio/protobuf for Python: the independent NPDS peer.
$(VENV)/ready: Tests/npds/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r Tests/npds/requirements.txt
	touch $@

test: unit-test harness-test artifact-test alloc-test npds-test host-test

unit-test: | deps
	$(SWIFT) test --disable-xctest

harness-test: $(LIB) $(HARNESS)
	$(HARNESS) $(LIB) Tests/Harness/scenarios

artifact-test: $(LIB) $(HARNESS)
	Tests/check-artifact.sh $(LIB)

# Policies delivered by a real NPDS server (grpcio) and enforced through the C ABI and datapath.
npds-test: $(LIB) $(LIBDATAPATH) $(VENV)/ready
	$(PYTHON) -m pytest -q -p no:cacheprovider Tests/npds

# proxylib-host end to end on loopback, the demo included.
host-test: $(LIB) $(HOST) $(VENV)/ready
	$(PYTHON) -m pytest -q -p no:cacheprovider Tests/host

# Steady-state OnData must not allocate: counted with a malloc interposer, not timed.
alloc-test: $(LIB) $(ALLOC_BENCH)
	$(ALLOC_BENCH) $(LIB) 20000

bench-alloc: $(LIB) $(ALLOC_BENCH)
	$(ALLOC_BENCH) $(LIB) 2000000

$(HOST): $(SWIFT_SOURCES) | deps
	$(SWIFT) build -c release --product proxylib-host

# The main demo: proxylib-host with the r2d2 example (droid server, policy file, scripted client).
demo: $(LIB) $(HOST)
	Examples/r2d2/demo.sh $(HOST) $(LIB)

# The datapath-only demo: the library driven by the C datapath, no network.
datapath-demo: $(LIB) $(DEMO)
	$(DEMO) $(LIB)

install: $(LIB)
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/proxylib
	install -m 0755 $(LIB) $(DESTDIR)$(PREFIX)/lib/libcilium.so
	install -m 0644 Include/libcilium.h Include/types.h $(DESTDIR)$(PREFIX)/include/proxylib/

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/lib/libcilium.so
	rm -f $(DESTDIR)$(PREFIX)/include/proxylib/libcilium.h $(DESTDIR)$(PREFIX)/include/proxylib/types.h
	-rmdir $(DESTDIR)$(PREFIX)/include/proxylib 2>/dev/null

clean:
	rm -rf $(BUILD) .build $(VENV)
