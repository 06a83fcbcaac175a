# Stress and fault injection (see HARDENING.md, "Stress" and "Faults"). Included by the Makefile.
#
#   make stress          8 rounds of 8 threads x 10,000 connections each, policy pushed every 10 ms; then the faults
#   make stress-smoke    5 rounds of 8 threads x 4,000 connections each (CI, ~30 s)
#   make faults          the fault suite (Tests/faults, pytest)
#   make faults-smoke    its short version (CI)

STRESS := $(BUILD)/stress
LIBSTRESS := $(BUILD)/libstress.so
STRESS_SOURCES := Tests/Stress/stress.c Tests/Stress/traffic.c
STRESS_HEADERS := Tests/Stress/traffic.h $(wildcard Sources/CDatapath/include/*.h) $(wildcard Include/*.h)
STRESS_INCLUDES := $(DATAPATH_INCLUDES) -ITests/Stress
# The fault suite's extra peer (a scripted HTTP/2 server) needs the h2 package in the venv.
FAULTS_READY := $(VENV)/faults-ready
# Extra pytest arguments, e.g. FAULTS_ARGS='-k npds -x'.
FAULTS_ARGS ?=

.PHONY: stress stress-only stress-smoke faults faults-smoke

$(STRESS): $(STRESS_SOURCES) $(STRESS_HEADERS) $(DATAPATH)
	mkdir -p $(BUILD)
	$(CC) $(CFLAGS) $(STRESS_INCLUDES) $(DATAPATH) $(STRESS_SOURCES) -ldl -o $@

# The datapath plus the traffic generator as one shared object: a superset of libdatapath.so for ctypes.
$(LIBSTRESS): Tests/Stress/traffic.c $(STRESS_HEADERS) $(DATAPATH)
	mkdir -p $(BUILD)
	$(CC) $(CFLAGS) -shared -fPIC $(STRESS_INCLUDES) $(DATAPATH) Tests/Stress/traffic.c -ldl -o $@

$(FAULTS_READY): Tests/faults/requirements.txt $(VENV)/ready
	$(VENV)/bin/pip install -q --disable-pip-version-check -r Tests/faults/requirements.txt
	touch $@

stress: stress-only faults

stress-only: $(CILIUM_SO) $(STRESS) $(VENV)/ready
	PYTHON=$(PYTHON) $(STRESS) $(CILIUM_SO)

stress-smoke: $(CILIUM_SO) $(STRESS) $(VENV)/ready
	PYTHON=$(PYTHON) $(STRESS) --smoke $(CILIUM_SO)

faults: $(CILIUM_SO) $(LIBSTRESS) $(FAULTS_READY)
	LIBDATAPATH=$(LIBSTRESS) $(PYTHON) -m pytest -q -p no:cacheprovider Tests/faults $(FAULTS_ARGS)

faults-smoke: $(CILIUM_SO) $(LIBSTRESS) $(FAULTS_READY)
	FAULTS_SMOKE=1 LIBDATAPATH=$(LIBSTRESS) $(PYTHON) -m pytest -q -p no:cacheprovider Tests/faults $(FAULTS_ARGS)
