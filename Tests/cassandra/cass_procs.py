"""The test CQL server the suite runs against (cql_server.py); proxylib-host in front of it is
host_procs.ProxyHost."""
import os
import re
import signal
import sys

from host_procs import ProxyHost, Process, free_port, wait_for  # noqa: F401 (ProxyHost, wait_for: for the tests)

HERE = os.path.dirname(os.path.abspath(__file__))


class CqlServer:
    """cql_server.py on a free loopback port. It logs every request it receives on stdout, one line each
    (`conn=N v4 QUERY stream=S ks=K '<cql>'`, EXECUTE and BATCH with the statement's text): `saw(text)` tells
    whether a request containing `text` ever reached the server."""

    def __init__(self, workdir, name="cql-server", auth=None):
        self.port = free_port()
        self.process = Process(name, [sys.executable, os.path.join(HERE, "cql_server.py"), "--port", str(self.port),
                                      *(["--auth", auth] if auth else [])], workdir)
        wait_for(lambda: "listening on" in self.process.err or not self.process.running(), "cql_server to listen")
        if not self.process.running():
            raise RuntimeError(f"cql_server exited at start: {self.process.err}")

    def log_mark(self):
        """A position in the request log, for saw(text, since=...)."""
        return os.path.getsize(self.process.out_path)

    def requests(self, since=0):
        return [line for line in self.process.read(self.process.out_path, since).splitlines()
                if re.match(r"conn=\d+ v\d+ [A-Z]", line)]

    def saw(self, text, since=0):
        return any(text in line for line in self.requests(since))

    def forget_prepared(self):
        """Makes the server forget its prepared statements (as a restart would): EXECUTE then gets Unprepared."""
        mark = self.log_mark()
        self.process.proc.send_signal(signal.SIGUSR1)
        wait_for(lambda: "prepared statements forgotten" in self.process.read(self.process.out_path, mark),
                 "the server to forget its prepared statements")

    def stop(self):
        """Stops the server; returns what it reported on stderr about protocol errors and its own failures."""
        self.process.stop()
        err = self.process.err
        return err if "protocol error" in err or "Traceback" in err else ""
