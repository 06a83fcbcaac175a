"""A real access-log collector for tests: a unix SOCK_SEQPACKET server, like the Cilium agent's, that decodes
each packet as one cilium.LogEntry with Google's protobuf (independent of the library's protobuf-c encoder)."""
import os
import socket
import threading
import time

import accesslog_pb2  # generated from Proto/ by conftest.py


class Collector:
    def __init__(self, path):
        self.path = path
        self.entries = []
        self.packets = []
        self.undecodable = 0
        self._cond = threading.Condition()
        self._reading = threading.Event()
        self._reading.set()
        self._listener = None
        self._connections = []
        self._stopped = False

    def start(self):
        if os.path.exists(self.path):
            os.unlink(self.path)
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._listener.bind(self.path)
        self._listener.listen(8)
        self._stopped = False
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def stop(self):
        """Kills the collector: the listener and every accepted connection are closed."""
        self._stopped = True
        self._reading.set()
        for s in [self._listener] + self._connections:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        self._connections = []
        if os.path.exists(self.path):
            os.unlink(self.path)

    def pause_reading(self):
        """Stops reading: the socket buffer fills and the sender sees a stuck collector."""
        self._reading.clear()

    def resume_reading(self):
        self._reading.set()

    def _accept(self):
        while not self._stopped:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self._connections.append(conn)
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn):
        while not self._stopped:
            self._reading.wait()
            try:
                packet = conn.recv(1 << 20)
            except OSError:
                return
            if not packet:
                return
            entry = accesslog_pb2.LogEntry()
            try:
                entry.ParseFromString(packet)
            except Exception:
                with self._cond:
                    self.undecodable += 1
                continue
            with self._cond:
                self.packets.append(packet)
                self.entries.append(entry)
                self._cond.notify_all()

    def wait_for_count(self, count, timeout=10.0):
        """Waits until at least `count` entries have arrived; returns them all."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.entries) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out waiting for {count} access-log entries, have {len(self.entries)}")
                self._cond.wait(remaining)
            return list(self.entries)

    def settle(self, quiet=0.2, timeout=10.0):
        """Waits until no entry has arrived for `quiet` seconds; returns them all."""
        deadline = time.monotonic() + timeout
        with self._cond:
            seen = -1
            while seen != len(self.entries) and time.monotonic() < deadline:
                seen = len(self.entries)
                self._cond.wait(quiet)
            return list(self.entries)

    def counts(self):
        """(requests, denied) among the entries so far."""
        with self._cond:
            denied = sum(1 for e in self.entries if e.entry_type == accesslog_pb2.Denied)
            return len(self.entries) - denied, denied
