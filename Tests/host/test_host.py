"""End-to-end tests of proxylib-host on loopback: the real libcilium.so in front of the example r2d2 droid,
policies from a YAML file (edited live), and the failures an operator meets (broken policy file, upstream
down, unknown parser)."""
import os
import socket
import subprocess
import sys
import tempfile
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e_common"))
from host_procs import free_port, wait_for  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
HOST = os.environ.get("PROXYLIB_HOST", os.path.join(ROOT, ".build", "release", "proxylib-host"))
LIBCILIUM = os.environ.get("LIBCILIUM", os.path.join(ROOT, "build", "libcilium.so"))
EXAMPLE = os.path.join(ROOT, "Examples", "r2d2")

POLICY = """\
- ports:
    - port: "{port}"
  rules:
    l7proto: r2d2
    l7:
      - cmd: READ
        file: "^/public/"
      - cmd: HALT
"""
ALLOW_ALL = """\
- ports:
    - port: "{port}"
  rules:
    l7proto: r2d2
"""


class Process:
    def __init__(self, args, workdir):
        self.out_path = os.path.join(workdir, f"out-{len(os.listdir(workdir))}")
        self.err_path = self.out_path + ".err"
        self.proc = subprocess.Popen(args, stdout=open(self.out_path, "w"), stderr=open(self.err_path, "w"),
                                     stdin=subprocess.DEVNULL)

    @property
    def out(self):
        return open(self.out_path).read()

    @property
    def err(self):
        return open(self.err_path).read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(2)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def workdir():
    with tempfile.TemporaryDirectory(prefix="host-test-") as d:
        yield d


@pytest.fixture
def processes():
    started = []
    yield started
    for p in reversed(started):
        p.stop()


def start_droid(workdir, processes, port):
    droid = Process([sys.executable, os.path.join(EXAMPLE, "droid_server.py"), "--port", str(port)], workdir)
    processes.append(droid)
    wait_for(lambda: "droid listening" in droid.out, "the droid")
    return droid


def start_host(workdir, processes, upstream_port, policy_file, parser="r2d2", extra=()):
    listen_port = free_port()
    host = Process([HOST, "--library", LIBCILIUM, "--parser", parser, "--listen", f"127.0.0.1:{listen_port}",
                    "--upstream", f"127.0.0.1:{upstream_port}", "--policy", policy_file, *extra], workdir)
    processes.append(host)
    wait_for(lambda: "listening on" in host.err or host.proc.poll() is not None, "proxylib-host")
    assert host.proc.poll() is None, host.err
    return host, listen_port


class R2D2Client:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.reader = self.sock.makefile("rb")

    def ask(self, request):
        self.sock.sendall(request.encode() + b"\r\n")
        return self.reader.readline().rstrip(b"\r\n").decode()

    def close(self):
        self.sock.close()


def write(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def test_r2d2_through_the_host_with_access_log(workdir, processes):
    droid_port = free_port()
    start_droid(workdir, processes, droid_port)
    policy = os.path.join(workdir, "policy.yaml")
    write(policy, POLICY.format(port=droid_port))
    host, port = start_host(workdir, processes, droid_port, policy, extra=["--log-json"])
    client = R2D2Client(port)
    assert client.ask("READ /public/plans.txt") == "OK deathstar plans v1 (public copy)"
    assert client.ask("READ /private/override-codes") == "ERROR"
    assert client.ask("HALT") == "OK halt"
    client.close()
    wait_for(lambda: host.out.count("\n") >= 3, "three access-log lines")
    import json
    entries = [json.loads(line) for line in host.out.splitlines()]
    assert [e["entry_type"] for e in entries] == ["Request", "Denied", "Request"]
    assert entries[1]["generic_l7"] == {"proto": "r2d2", "fields": {"cmd": "READ", "file": "/private/override-codes"}}
    assert entries[1]["destination_address"] == f"127.0.0.1:{droid_port}" and entries[1]["is_ingress"] is True


def test_no_access_log_still_enforces_and_prints_nothing(workdir, processes):
    droid_port = free_port()
    start_droid(workdir, processes, droid_port)
    policy = os.path.join(workdir, "policy.yaml")
    write(policy, POLICY.format(port=droid_port))
    host, port = start_host(workdir, processes, droid_port, policy, extra=["--no-access-log"])
    client = R2D2Client(port)
    assert client.ask("READ /public/plans.txt") == "OK deathstar plans v1 (public copy)"
    assert client.ask("READ /private/override-codes") == "ERROR"
    client.close()
    time.sleep(0.3)
    assert host.out == ""


def test_policy_file_edited_while_a_client_is_connected(workdir, processes):
    droid_port = free_port()
    start_droid(workdir, processes, droid_port)
    policy = os.path.join(workdir, "policy.yaml")
    write(policy, POLICY.format(port=droid_port))
    host, port = start_host(workdir, processes, droid_port, policy)
    client = R2D2Client(port)
    assert client.ask("WRITE /public/x") == "ERROR"
    write(policy, ALLOW_ALL.format(port=droid_port))
    wait_for(lambda: "policy version 2 accepted" in host.err, "the new policy to be accepted")
    assert client.ask("WRITE /public/x") == "OK", "the next request on the same connection follows the new rule"
    # A change the library rejects is reported with its reason, and the last good policy stays.
    write(policy, POLICY.format(port=droid_port).replace("^/public/", "(["))
    wait_for(lambda: "REJECTED" in host.err, "the rejection")
    assert "regular expression" in host.err
    assert client.ask("WRITE /public/y") == "OK"
    client.close()


def test_broken_policy_file_at_start_is_a_clear_error(workdir):
    policy = os.path.join(workdir, "broken.yaml")
    write(policy, "- ports:\n    - port: \"80\"\n  rulez: {}\n")
    result = subprocess.run([HOST, "--library", LIBCILIUM, "--parser", "r2d2", "--listen", f"127.0.0.1:{free_port()}",
                             "--upstream", "127.0.0.1:9", "--policy", policy], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode != 0
    assert f"{policy}:3" in result.stderr and "rulez" in result.stderr


def test_unknown_parser_and_missing_library(workdir):
    policy = os.path.join(workdir, "policy.yaml")
    write(policy, ALLOW_ALL.format(port=9))
    base = [HOST, "--listen", f"127.0.0.1:{free_port()}", "--upstream", "127.0.0.1:9", "--policy", policy]
    unknown = subprocess.run(base + ["--library", LIBCILIUM, "--parser", "no-such-parser"], capture_output=True,
                             text=True, timeout=30)
    assert unknown.returncode != 0 and "unknown parser" in unknown.stderr
    missing = subprocess.run(base + ["--library", "/nonexistent/libcilium.so", "--parser", "r2d2"],
                             capture_output=True, text=True, timeout=30)
    assert missing.returncode != 0 and "cannot load" in missing.stderr


def test_upstream_down_closes_the_client_and_the_host_keeps_serving(workdir, processes):
    droid_port = free_port()
    policy = os.path.join(workdir, "policy.yaml")
    write(policy, ALLOW_ALL.format(port=droid_port))
    host, port = start_host(workdir, processes, droid_port, policy)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        try:
            s.sendall(b"READ /x\r\n")
            assert s.recv(100) == b"", "the client sees the connection close"
        except ConnectionResetError:
            pass
    start_droid(workdir, processes, droid_port)
    client = R2D2Client(port)
    assert client.ask("READ /public/plans.txt").startswith("OK")
    client.close()
    assert host.proc.poll() is None


def test_demo_command(workdir):
    env = dict(os.environ, DROID_PORT=str(free_port()), PROXY_PORT=str(free_port()))
    result = subprocess.run([os.path.join(EXAMPLE, "demo.sh"), HOST, LIBCILIUM], capture_output=True, text=True,
                            timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "READ /public/plans.txt           -> OK deathstar plans" in out
    assert "READ /private/override-codes     -> ERROR" in out
    assert "DENIED   r2d2" in out and "REQUEST  r2d2" in out


def test_make_install_puts_the_host_beside_the_library_and_uninstall_removes_it(workdir, processes):
    # Run from a folder without build/libcilium.so: the installed host must find the installed library itself.
    root = os.path.join(workdir, "root")
    make = ["make", "--no-print-directory", "-C", ROOT, f"DESTDIR={root}", "PREFIX=/usr"]
    result = subprocess.run(make + ["install"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    installed = {path: os.path.join(root, "usr", path) for path in
                 ["lib/libcilium.so", "bin/proxylib-host", "include/proxylib/libcilium.h", "include/proxylib/types.h"]}
    for path, full in installed.items():
        assert os.path.isfile(full), f"{path} not installed"
    assert os.access(installed["bin/proxylib-host"], os.X_OK)

    droid_port = free_port()
    start_droid(workdir, processes, droid_port)
    policy = os.path.join(workdir, "policy.yaml")
    write(policy, POLICY.format(port=droid_port))
    listen_port = free_port()
    away = os.path.join(workdir, "elsewhere")
    os.mkdir(away)
    host = subprocess.Popen([installed["bin/proxylib-host"], "--parser", "r2d2", "--listen", f"127.0.0.1:{listen_port}",
                             "--upstream", f"127.0.0.1:{droid_port}", "--policy", policy],
                            cwd=away, stdout=subprocess.DEVNULL, stderr=open(os.path.join(workdir, "host.err"), "w"))
    try:
        err = lambda: open(os.path.join(workdir, "host.err")).read()  # noqa: E731
        wait_for(lambda: "listening on" in err() or host.poll() is not None, "the installed proxylib-host")
        assert host.poll() is None, err()
        assert f"library {os.path.realpath(installed['lib/libcilium.so'])}" in err(), err()
        client = R2D2Client(listen_port)
        assert client.ask("READ /public/plans.txt").startswith("OK")
        assert client.ask("WRITE /public/plans.txt") == "ERROR"
        client.close()
    finally:
        host.send_signal(2)
        host.wait(10)

    result = subprocess.run(make + ["uninstall"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    left = [path for path, full in installed.items() if os.path.exists(full)]
    assert left == [], f"make uninstall left {left}"
