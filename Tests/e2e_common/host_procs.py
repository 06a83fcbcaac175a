"""What the end-to-end suites share: free ports, waiting, child processes with their output in files, and
proxylib-host in front of a server with a YAML policy file it watches (access-log entries as JSON on stdout).

Each suite's conftest.py puts this folder on sys.path."""
import json
import os
import re
import signal
import socket
import subprocess
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
HOST = os.environ.get("PROXYLIB_HOST", os.path.join(ROOT, ".build", "release", "proxylib-host"))
LIBCILIUM = os.environ.get("LIBCILIUM", os.path.join(ROOT, "build", "libcilium.so"))
# proxylib-host's stderr lines with the library's verdict on a policy version, or a file it could not read.
VERDICT = re.compile(r"policy version \d+ (accepted$|REJECTED)|policy file error")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def accepts_connections(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def write_atomically(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


class Process:
    """A child process whose stdout and stderr go to files in `workdir` (read them any time)."""

    def __init__(self, name, args, workdir):
        self.name = name
        self.out_path = os.path.join(workdir, f"{name}.out")
        self.err_path = os.path.join(workdir, f"{name}.err")
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(args, stdout=out, stderr=err, stdin=subprocess.DEVNULL)

    def read(self, path, since=0):
        with open(path, "rb") as f:
            f.seek(since)
            return f.read().decode("utf-8", errors="replace")

    @property
    def out(self):
        return self.read(self.out_path)

    @property
    def err(self):
        return self.read(self.err_path)

    def running(self):
        return self.proc.poll() is None

    def stop(self):
        """SIGINT (proxylib-host flushes its access log on it), SIGKILL after 5 s."""
        if self.running():
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class ProxyHost:
    """proxylib-host --parser `parser` in front of `upstream_port`; access-log entries as JSON on stdout."""

    def __init__(self, workdir, upstream_port, policy_text, parser, name="proxylib-host"):
        for path, what in ((HOST, "proxylib-host (make .build/release/proxylib-host)"),
                           (LIBCILIUM, "libcilium.so (make build/libcilium.so)")):
            if not os.path.exists(path):
                raise RuntimeError(f"{path} not found: build {what} first")
        self.policy_path = os.path.join(workdir, f"{name}-policy.yaml")
        self.policy_text = policy_text
        write_atomically(self.policy_path, policy_text)
        self.port = free_port()
        self.process = Process(name, [
            HOST, "--library", LIBCILIUM, "--parser", parser, "--listen", f"127.0.0.1:{self.port}",
            "--upstream", f"127.0.0.1:{upstream_port}", "--policy", self.policy_path, "--log-json"], workdir)
        wait_for(lambda: "listening on" in self.process.err or not self.process.running(), "proxylib-host")
        if not self.process.running():
            raise RuntimeError(f"proxylib-host exited at start: {self.process.err}")
        wait_for(lambda: self._verdicts(), "the library's verdict on the first policy")
        if not self._verdicts()[0].endswith(" accepted"):
            raise RuntimeError(f"the first policy was not accepted: {self._verdicts()[0]}")

    def set_policy(self, text):
        """Rewrites the policy file and waits for the library's verdict: None when accepted, else the line with
        the rejection reason (the previous policy then stays in force)."""
        if text == self.policy_text:
            return None
        before = self._verdicts()
        write_atomically(self.policy_path, text)
        self.policy_text = text
        wait_for(lambda: len(self._verdicts()) > len(before), "the library's verdict on the new policy")
        verdict = self._verdicts()[-1]
        return None if verdict.endswith(" accepted") else verdict

    def _verdicts(self):
        return [line for line in self.process.err.splitlines() if VERDICT.search(line)]

    def entries(self):
        """Access-log entries printed so far (dicts as in accesslog.proto). Only whole lines: the host may be in
        the middle of writing the last one."""
        out = self.process.out
        whole = out[:out.rfind("\n") + 1]
        return [json.loads(line) for line in whole.splitlines() if line.startswith("{")]

    def stop(self):
        self.process.stop()
