"""Fixtures of the fault suite: the policy-plane fixtures of Tests/npds (library, NPDS server, collector), the
background traffic of Tests/Stress/traffic.c (build/libstress.so, a superset of libdatapath.so), and peers run as
killable processes (peer_main.py).

Bounds every test asserts (generous, for a shared 2-core CI machine):
  WORKER_CALL_BOUND   any OnNewConnection, OnData or Close call: 0.5 s (they take microseconds; a call that
                      waits for a peer, a lock held across I/O or the 1 s NPDS first attempt exceeds it)
  OPEN_MODULE_BOUND   OpenModule: 1.5 s (it waits up to 1 s for the first NPDS attempt by design)
  CLOSE_MODULE_BOUND  CloseModule: 1.5 s (it stops the NPDS stream and the access-log thread at once)
FAULTS_SMOKE=1 shortens the repetitions (make faults-smoke).
"""
import importlib.util
import os
import subprocess
import sys
import threading
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
os.environ.setdefault("LIBDATAPATH", os.path.join(ROOT, "build", "libstress.so"))

# Tests/npds/conftest.py under another name: it generates the pb2 modules and defines the fixtures we reuse.
_spec = importlib.util.spec_from_file_location("npds_fixtures", os.path.join(ROOT, "Tests", "npds", "conftest.py"))
npds_fixtures = importlib.util.module_from_spec(_spec)
sys.modules["npds_fixtures"] = npds_fixtures
_spec.loader.exec_module(npds_fixtures)
sys.path.insert(0, os.path.join(ROOT, "Tests", "Stress"))
sys.path.insert(0, HERE)

from npds_fixtures import collector, library, next_id, npds, socket_dir  # noqa: E402,F401  (fixtures)

import policy_variants as V  # noqa: E402
import traffic  # noqa: E402

SMOKE = os.environ.get("FAULTS_SMOKE") == "1"
WORKER_CALL_BOUND = 0.5
OPEN_MODULE_BOUND = 1.5
CLOSE_MODULE_BOUND = 1.5
# Figures of the whole session, printed at the end (pytest_terminal_summary).
FIGURES = {"loads": 0, "connections": 0, "requests": 0, "never_denied": 0, "max_ns.new": 0.0, "max_ns.data": 0.0,
           "max_ns.close": 0.0, "open_module_max_s": 0.0, "close_module_max_s": 0.0, "open_module_calls": 0}


def record(stats):
    FIGURES["loads"] += 1
    FIGURES["connections"] += int(stats["connections"])
    FIGURES["requests"] += int(stats["requests"])
    FIGURES["never_denied"] += int(stats["denied.never"])
    for kind in ("new", "data", "close"):
        FIGURES[f"max_ns.{kind}"] = max(FIGURES[f"max_ns.{kind}"], stats[f"max_ns.{kind}"])


def pytest_terminal_summary(terminalreporter):
    f = FIGURES
    terminalreporter.write_line(
        f"faults: {f['loads']} background loads, {f['connections']} connections, {f['requests']} requests checked "
        f"({f['never_denied']} never-allowed ones denied, none forwarded); slowest OnNewConnection "
        f"{f['max_ns.new'] / 1e6:.1f} ms, OnData {f['max_ns.data'] / 1e6:.1f} ms, Close {f['max_ns.close'] / 1e6:.1f} ms "
        f"(bound {WORKER_CALL_BOUND * 1e3:.0f} ms); {f['open_module_calls']} OpenModule calls, slowest "
        f"{f['open_module_max_s']:.2f} s (bound {OPEN_MODULE_BOUND} s); slowest CloseModule "
        f"{f['close_module_max_s']:.2f} s (bound {CLOSE_MODULE_BOUND} s)")


PB2_DIR = next(p for p in sys.path if os.path.basename(p).startswith("npds-pb2-"))


class Peer:
    """peer_main.py in its own process: `kill()` is a SIGKILL, as when the agent crashes."""

    def __init__(self, mode, path):
        self.mode = mode
        self.path = path
        self.lines = []
        self._cond = threading.Condition()
        env = dict(os.environ, NPDS_PB2_DIR=PB2_DIR)
        self.process = subprocess.Popen([sys.executable, os.path.join(HERE, "peer_main.py"), mode, path],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        threading.Thread(target=self._read, daemon=True).start()
        self.wait_line("LISTENING", timeout=60)

    def _read(self):
        for line in self.process.stdout:
            with self._cond:
                self.lines.append(line.strip())
                self._cond.notify_all()

    def wait_line(self, prefix, timeout=20.0, after=0):
        """The first line from index `after` on that starts with `prefix`; fails after `timeout` s."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines[after:]:
                    if line.startswith(prefix):
                        return line
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{self.mode} peer: no '{prefix}' within {timeout} s; got {self.lines[-10:]}")
                self._cond.wait(left)

    def count(self, prefix):
        with self._cond:
            return sum(1 for line in self.lines if line.startswith(prefix))

    def mark(self):
        with self._cond:
            return len(self.lines)

    def send(self, command):
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()

    def push_variant(self, k, version):
        """Pushes variant k and waits for the library's ACK of that version."""
        mark = self.mark()
        self.send(f"VARIANT {k} {version}")
        return self.wait_line(f"ACK {version} ", timeout=30, after=mark)

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        if os.path.exists(self.path):
            os.unlink(self.path)  # a killed server leaves its socket file behind

    def stop(self):
        if self.process.poll() is None:
            try:
                self.process.stdin.close()
                self.process.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.kill()


@pytest.fixture
def peers():
    """Starts peers on demand: peers(mode, path); every one left is killed at the end."""
    started = []

    def start(mode, path):
        peer = Peer(mode, path)
        started.append(peer)
        return peer

    yield start
    for peer in started:
        peer.kill()


def timed(call, *args):
    """(result, seconds) of call(*args)."""
    started = time.monotonic()
    result = call(*args)
    return result, time.monotonic() - started


def open_module(library, params):
    instance, seconds = timed(library.open_module, params)
    FIGURES["open_module_calls"] += 1
    FIGURES["open_module_max_s"] = max(FIGURES["open_module_max_s"], seconds)
    assert instance != 0
    assert seconds < OPEN_MODULE_BOUND, f"OpenModule took {seconds:.2f} s (bound {OPEN_MODULE_BOUND})"
    return instance


def open_with_policy(library, npds, params, k, version="1"):
    """Pushes variant k on the in-process NPDS server, opens an instance with `params` and waits for its ACK."""
    nonce = npds.push(version, V.variant(k))
    instance = open_module(library, params)
    npds.wait_for_ack(version, nonce, timeout=30)
    return instance


def close_module(library, instance):
    _, seconds = timed(library.close_module, instance)
    FIGURES["close_module_max_s"] = max(FIGURES["close_module_max_s"], seconds)
    assert seconds < CLOSE_MODULE_BOUND, f"CloseModule took {seconds:.2f} s (bound {CLOSE_MODULE_BOUND})"


def verdict(library, instance, conn_id, request):
    """'PASS' or 'DROP' for one r2d2 request (remote 1, endpoint 1.1.1.1 port 80) on a fresh connection."""
    result, conn = library.connect(instance, "r2d2", conn_id, dst_addr="1.1.1.1:80", policy_name="1.1.1.1")
    assert result == "OK"
    try:
        started = time.monotonic()
        res, ops, injected = conn.on_data_raw([request])
        assert time.monotonic() - started < WORKER_CALL_BOUND
        assert res == "OK" and ops[-1] == ("MORE", 1), (res, ops)
        assert injected == (b"ERROR\r\n" if ops[0][0] == "DROP" else b"")
        return ops[0][0]
    finally:
        conn.close()


def in_force(library, instance, next_id):
    """Which policy the library enforces, read off requests: None (no policy: everything denied), 0, 1 or 2."""
    if verdict(library, instance, next_id(), V.R2D2_ALWAYS) == "DROP":
        assert verdict(library, instance, next_id(), V.R2D2_NEVER) == "DROP"
        return None
    assert verdict(library, instance, next_id(), V.R2D2_NEVER) == "DROP"
    for k, request in V.R2D2_ONLY_IN.items():
        if verdict(library, instance, next_id(), request) == "PASS":
            return k
    return 0


def wait_in_force(library, instance, next_id, expected, timeout=20.0):
    deadline = time.monotonic() + timeout
    while True:
        now = in_force(library, instance, next_id)
        if now == expected:
            return
        assert time.monotonic() < deadline, f"policy in force: {now}, expected {expected}"
        time.sleep(0.05)


@pytest.fixture
def load(library):
    """Background traffic: load(instance, threads=4) starts it; every load is stopped and checked at the end
    (no violation, every call within WORKER_CALL_BOUND). A test may stop one itself with `.stop()`."""
    started = []

    def start(instance, threads=4, strict=False):
        running = traffic.Load(library, instance, threads=threads, strict=strict)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop_and_check(WORKER_CALL_BOUND)
