"""A raw RESP connection through the proxy: exact request bytes out, replies read back one by one (each as the
bytes of one whole RESP value, nested values included), for what the clients cannot show (inline commands,
the exact NOPERM text, replies in order)."""
import socket

ACL_DENIED = b"-NOPERM the network policy does not allow '%s'\r\n"
UNKNOWN_DENIED = b"-NOPERM the network policy does not allow this command\r\n"
EXEC_ABORT = b"-EXECABORT Transaction discarded: a queued command was denied by policy\r\n"


def denied(command):
    """The error a denied known command gets: denied("get"), denied("config|get")."""
    return ACL_DENIED % command.encode()


def command(*args):
    """A multibulk request."""
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(parts)


def decode(reply):
    """A RESP2 reply's bytes as Python values: bytes, int, None, lists; errors as RuntimeError instances."""
    def value(at):
        end = reply.index(b"\r\n", at)
        kind, head = reply[at:at + 1], reply[at + 1:end]
        if kind == b"+":
            return head, end + 2
        if kind == b"-":
            return RuntimeError(head.decode()), end + 2
        if kind == b":":
            return int(head), end + 2
        if kind == b"$":
            n = int(head)
            return (None, end + 2) if n < 0 else (reply[end + 2:end + 2 + n], end + 4 + n)
        if kind == b"*":
            n, items, at = int(head), [], end + 2
            if n < 0:
                return None, at
            for _ in range(n):
                item, at = value(at)
                items.append(item)
            return items, at
        raise ValueError(f"not RESP2: {reply!r}")
    return value(0)[0]


class Wire:
    def __init__(self, port, timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buffer = b""

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"connection closed (unread: {self.buffer!r})")
        self.buffer += chunk

    def _line(self, at):
        while True:
            end = self.buffer.find(b"\r\n", at)
            if end >= 0:
                return end + 2
            self._fill()

    def _value_end(self, at):
        end = self._line(at)
        kind, head = self.buffer[at:at + 1], self.buffer[at + 1:end - 2]
        if kind in b"$=!":
            n = int(head)
            if n < 0:
                return end
            while len(self.buffer) < end + n + 2:
                self._fill()
            return end + n + 2
        if kind in b"*~>%|":
            n = int(head)
            for _ in range(max(n, 0) * (2 if kind in b"%|" else 1)):
                end = self._value_end(end)
            if kind == b"|":  # an attribute decorates the value that follows
                end = self._value_end(end)
            return end
        return end  # + - : _ , # (

    def read_reply(self):
        """The next whole reply, as its bytes."""
        end = self._value_end(0)
        reply, self.buffer = self.buffer[:end], self.buffer[end:]
        return reply

    def ask(self, *requests):
        """Sends the requests at once and reads one reply for each."""
        self.send(b"".join(r if isinstance(r, bytes) else command(*r) for r in requests))
        return [self.read_reply() for _ in requests]

    def closed_by_peer(self, timeout=2.0):
        """Whether the other side closes the connection (after any pending replies) within `timeout`."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buffer += chunk
        except (socket.timeout, TimeoutError):
            return False
        except ConnectionResetError:
            return True

    def close(self):
        self.sock.close()
