"""The two processes under test: a real memcached and proxylib-host (libcilium.so's memcache parser) in front of
it, with the policy in a YAML file the host watches."""
import json
import os
import re

from pymemcache.client.base import Client

from mc_procs import Process, accepts_connections, free_port, wait_for

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MEMCACHED = os.environ.get("MEMCACHED", "/usr/bin/memcached")
HOST = os.environ.get("PROXYLIB_HOST", os.path.join(ROOT, ".build", "release", "proxylib-host"))
LIBCILIUM = os.environ.get("LIBCILIUM", os.path.join(ROOT, "build", "libcilium.so"))
# proxylib-host's stderr lines with the library's verdict on a policy version, or a file it could not read.
VERDICT = re.compile(r"policy version \d+ (accepted$|REJECTED)|policy file error")


class Memcached:
    """memcached on a free loopback port, TCP only. -vv logs every request line (`<fd get key`, binary
    `<fd GET key`) on stderr: `saw(key)` tells whether a request naming `key` ever reached the server.
    -I 8m: items up to 8 MiB (the default limit is 1 MiB)."""

    def __init__(self, workdir):
        if not os.access(MEMCACHED, os.X_OK):
            raise RuntimeError(f"{MEMCACHED} not found: the memcache end-to-end tests need a real memcached "
                               "(Debian: apt-get install memcached; or set MEMCACHED=/path/to/memcached)")
        self.port = free_port()
        args = [MEMCACHED, "-l", "127.0.0.1", "-p", str(self.port), "-U", "0", "-I", "8m", "-vv"]
        if os.geteuid() == 0:
            args += ["-u", "root"]  # memcached refuses to run as root without -u
        self.process = Process("memcached", args, workdir)
        wait_for(lambda: accepts_connections(self.port) or not self.process.running(), "memcached to listen")
        if not self.process.running():
            raise RuntimeError(f"memcached exited at start: {self.process.err}")

    def client(self):
        """A text-protocol client straight to memcached (no proxy): the tests' view of what is stored."""
        return Client(("127.0.0.1", self.port), default_noreply=False, timeout=5, connect_timeout=5)

    def stats(self):
        c = self.client()
        try:
            return {k.decode(): v for k, v in c.stats().items()}
        finally:
            c.close()

    def log_mark(self):
        """A position in memcached's request log, for saw(key, since=...)."""
        return os.path.getsize(self.process.err_path)

    def saw(self, key, since=0):
        """Whether memcached logged a request line naming `key` (str) after position `since`."""
        with open(self.process.err_path, "rb") as f:
            f.seek(since)
            log = f.read().decode("utf-8", errors="replace")
        return any(line.startswith("<") and key in line for line in log.splitlines())

    def stop(self):
        self.process.stop()


class ProxyHost:
    """proxylib-host --parser memcache in front of `upstream_port`; access-log entries as JSON on stdout."""

    def __init__(self, workdir, upstream_port, policy_text):
        for path, what in ((HOST, "proxylib-host (make .build/release/proxylib-host)"),
                           (LIBCILIUM, "libcilium.so (make build/libcilium.so)")):
            if not os.path.exists(path):
                raise RuntimeError(f"{path} not found: build {what} first")
        self.policy_path = os.path.join(workdir, "policy.yaml")
        self.policy_text = policy_text
        write_atomically(self.policy_path, policy_text)
        self.port = free_port()
        self.process = Process("proxylib-host", [
            HOST, "--library", LIBCILIUM, "--parser", "memcache", "--listen", f"127.0.0.1:{self.port}",
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
        """Access-log entries printed so far (dicts as in accesslog.proto)."""
        return [json.loads(line) for line in self.process.out.splitlines() if line.startswith("{")]

    def stop(self):
        self.process.stop()


def write_atomically(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)
