"""Raw sockets for what the client libraries cannot do: pipelines, byte-exact replies, the meta protocol, and
memcached's binary protocol framing (24-byte header, then extras, key, value)."""
import random
import socket
import struct
import time
from dataclasses import dataclass

DENIED_TEXT = b"CLIENT_ERROR access denied\r\n"
STATUS_OK, STATUS_NOT_FOUND, STATUS_DENIED = 0x0000, 0x0001, 0x0008

# Binary opcodes (memcached's protocol_binary.h).
GET, SET, ADD, DELETE, INCREMENT, QUIT, FLUSH, GETQ, NOOP, VERSION, GETK, GETKQ = (
    0x00, 0x01, 0x02, 0x04, 0x05, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D)
STAT, SETQ, DELETEQ, TOUCH = 0x10, 0x11, 0x14, 0x1C

HEADER = struct.Struct(">BBHBBHIIQ")  # magic, opcode, key length, extras length, data type, vbucket/status,
#                                       total body length, opaque, cas


class Wire:
    """A plain TCP connection with exact reads: `read(n)` returns what arrived, up to n bytes, within the timeout
    (so a test can compare it with what it expected and show both)."""

    def __init__(self, port, timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout

    def send(self, data):
        self.sock.sendall(data)

    def send_in_pieces(self, data, seed, largest=7):
        """Sends `data` in random pieces of 1..largest bytes, pausing so that they arrive as separate reads."""
        rng = random.Random(seed)
        i = 0
        while i < len(data):
            n = rng.randint(1, largest)
            self.sock.sendall(data[i:i + n])
            i += n
            time.sleep(0.001)

    def read(self, n):
        chunks, have = [], 0
        deadline = time.monotonic() + self.timeout
        while have < n and time.monotonic() < deadline:
            self.sock.settimeout(max(deadline - time.monotonic(), 0.01))
            try:
                chunk = self.sock.recv(min(n - have, 1 << 20))
            except socket.timeout:
                break
            if not chunk:
                break
            chunks.append(chunk)
            have += len(chunk)
        return b"".join(chunks)

    def read_line(self):
        line = bytearray()
        while not line.endswith(b"\r\n"):
            byte = self.read(1)
            if not byte:
                break
            line += byte
        return bytes(line)

    def nothing_more(self, wait=0.2):
        """True when no byte arrives within `wait` seconds (and the connection is still open)."""
        self.sock.settimeout(wait)
        try:
            self.sock.recv(1, socket.MSG_PEEK)
            return False  # a byte arrived, or the connection was closed
        except socket.timeout:
            return True

    def ask(self, request, expected_reply):
        """Sends `request` and returns the reply of the expected reply's length (the caller compares)."""
        self.send(request)
        return self.read(len(expected_reply))

    def close(self):
        self.sock.close()


# --- binary protocol ---

def request(opcode, key=b"", value=b"", extras=b"", opaque=0, cas=0):
    body = len(extras) + len(key) + len(value)
    return HEADER.pack(0x80, opcode, len(key), len(extras), 0, 0, body, opaque, cas) + extras + key + value


def set_request(key, value, opaque=0, flags=0, expiry=0, quiet=False):
    return request(SETQ if quiet else SET, key, value, struct.pack(">II", flags, expiry), opaque)


def incr_request(key, delta, initial=0, opaque=0):
    return request(INCREMENT, key, extras=struct.pack(">QQI", delta, initial, 0), opaque=opaque)


@dataclass
class Response:
    magic: int
    opcode: int
    status: int
    opaque: int
    cas: int
    extras: bytes
    key: bytes
    value: bytes

    def summary(self):
        """(opcode, status, opaque): what order and verdict checks compare."""
        return (self.opcode, self.status, self.opaque)


def read_response(wire):
    header = wire.read(HEADER.size)
    if len(header) < HEADER.size:
        raise AssertionError(f"binary response header cut short: {header!r}")
    magic, opcode, keylen, extlen, _, status, bodylen, opaque, cas = HEADER.unpack(header)
    body = wire.read(bodylen)
    if len(body) < bodylen:
        raise AssertionError(f"binary response body cut short ({len(body)} of {bodylen} bytes): {header!r}")
    return Response(magic, opcode, status, opaque, cas, body[:extlen], body[extlen:extlen + keylen],
                    body[extlen + keylen:])
