"""The real redis-server the tests run against (proxylib-host in front of it: host_procs.ProxyHost)."""
import os
import shutil

import redis

from host_procs import Process, accepts_connections, free_port, wait_for

REDIS_SERVER = os.environ.get("REDIS_SERVER", shutil.which("redis-server") or "/usr/bin/redis-server")
REDIS_CLI = os.environ.get("REDIS_CLI", shutil.which("redis-cli") or "/usr/bin/redis-cli")


class RedisServer:
    """redis-server on a free loopback port: no persistence, 16 databases, its files in a folder of `workdir`.
    `password` starts it with --requirepass."""

    def __init__(self, workdir, name="redis-server", password=None):
        for path, package in ((REDIS_SERVER, "redis-server"), (REDIS_CLI, "redis-tools")):
            if not os.access(path, os.X_OK):
                raise RuntimeError(f"{path} not found: the redis end-to-end tests need a real redis-server and "
                                   f"redis-cli (Debian: apt-get install redis-server redis-tools; or set "
                                   f"REDIS_SERVER / REDIS_CLI)")
        self.port = free_port()
        self.password = password
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        args = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--databases", "16", "--dir", self.dir, "--daemonize", "no", "--logfile", "",
                "--enable-debug-command", "local"]  # DEBUG PROTOCOL: every RESP3 type on demand
        if password is not None:
            args += ["--requirepass", password]
        self.process = Process(name, args, workdir)
        wait_for(lambda: accepts_connections(self.port) or not self.process.running(), f"{name} to listen")
        if not self.process.running():
            raise RuntimeError(f"{name} exited at start: {self.process.out}{self.process.err}")

    def client(self, **options):
        """redis-py straight to redis-server (no proxy): the tests' view of what the server really holds."""
        options.setdefault("password", self.password)
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5, single_connection_client=True,
                           **options)

    def stop(self):
        self.process.stop()
