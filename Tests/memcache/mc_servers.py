"""The real memcached the tests run against (proxylib-host in front of it: host_procs.ProxyHost)."""
import os

from pymemcache.client.base import Client

from host_procs import Process, accepts_connections, free_port, wait_for

MEMCACHED = os.environ.get("MEMCACHED", "/usr/bin/memcached")


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
