"""Requests packed as other clients pack them, over a raw socket with cassandra-driver's own message encoders and
segment codec: several request frames in one v5 segment (the DataStax Java driver 4 coalesces its writes so),
or in one TCP write in v4, with a denied one among them. The proxy must drop exactly the denied frame, re-frame
what is left and answer the denied stream with Unauthorized."""
import io
import socket
import struct

import pytest
from cassandra import ConsistencyLevel
from cassandra.connection import locally_supported_compressions
from cassandra.protocol import (ErrorMessage, OptionsMessage, ProtocolHandler, QueryMessage, ResultMessage,
                                StartupMessage)
from cassandra.segment import SegmentCodec

from cass_checks import Unseen

LZ4 = locally_supported_compressions["lz4"]


class Wire:
    """One raw native-protocol connection: version 4 or 5, optionally LZ4."""

    def __init__(self, port, version, compression):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.version, self.codec, self.pending = version, None, b""
        self.compressor = LZ4 if compression and version < 5 else (None, None)
        self.send_frames([self.frame(OptionsMessage(), 0)])
        assert self.responses(1)[0][1].__class__.__name__ == "SupportedMessage"
        options = {"COMPRESSION": "lz4"} if compression else {}
        self.send_frames([self.frame(StartupMessage(cqlversion="3.4.5", options=options), 0)])
        assert self.responses(1)[0][1].__class__.__name__ == "ReadyMessage"
        if version >= 5:
            self.codec = SegmentCodec(*LZ4) if compression else SegmentCodec()

    def frame(self, message, stream):
        compressor = self.compressor[0] if self.codec is None and not isinstance(
            message, (OptionsMessage, StartupMessage)) else None
        return ProtocolHandler.encode_message(message, stream, self.version, compressor, False)

    def send_frames(self, frames, one_segment=True):
        """The frames in one write: in v5 after STARTUP in one segment, or each in its own (a frame over 128 KiB
        takes several non-self-contained segments, which carry nothing else)."""
        if self.codec is None:
            self.sock.sendall(b"".join(frames))
            return
        buffer = io.BytesIO()
        for group in ([b"".join(frames)] if one_segment else frames):
            self.codec.encode(buffer, group)
        self.sock.sendall(buffer.getvalue())

    def read(self, n):
        while len(self.pending) < n:
            chunk = self.sock.recv(65536)
            assert chunk, "connection closed"
            self.pending += chunk
        out, self.pending = self.pending[:n], self.pending[n:]
        return out

    def responses(self, count):
        """-> [(stream, decoded message)] for the next `count` response frames."""
        frames, buffered = [], b""
        while len(frames) < count:
            if self.codec is not None:
                header = self.read(self.codec.header_length_with_crc)
                segment_header = self.codec.decode_header(io.BytesIO(header))
                rest = self.read(segment_header.payload_length + 4)
                buffered += self.codec.decode(io.BytesIO(rest), segment_header).payload
            else:
                buffered += self.read(9)
                buffered += self.read(struct.unpack(">i", buffered[-4:])[0])
            while len(buffered) >= 9 and len(buffered) >= 9 + struct.unpack(">i", buffered[5:9])[0]:
                length = struct.unpack(">i", buffered[5:9])[0]
                _, flags, stream, opcode = struct.unpack(">BBhB", buffered[:5])
                body, buffered = buffered[9:9 + length], buffered[9 + length:]
                message = ProtocolHandler.decode_message(self.version, {}, stream, flags, opcode, body,
                                                         self.compressor[1], None)
                frames.append((stream, message))
        assert not buffered
        return frames

    def close(self):
        self.sock.close()


def outcome(message):
    if isinstance(message, ErrorMessage):
        return f"error {message.code:#06x}"
    assert isinstance(message, ResultMessage), message
    return [tuple(r) for r in message.parsed_rows] if message.kind == 2 else "void"


@pytest.mark.parametrize("version,compression", [(4, False), (4, True), (5, False), (5, True)],
                         ids=["v4", "v4-lz4", "v5", "v5-lz4"])
def test_several_frames_in_one_segment(proxy, server, key, version, compression):
    k, d = key(), key()
    server.direct.execute("INSERT INTO ks.allowed_kv (k, v) VALUES (%s, 5)", (k,))
    wire = Wire(proxy.port, version, compression)
    try:
        allowed = f"SELECT v FROM ks.allowed_kv WHERE k = '{k}'"
        denied = f"SELECT v FROM ks.secret WHERE k = '{d}'"
        batches = [
            [allowed, denied, allowed],
            [denied, allowed],
            [allowed, denied],
            [denied, denied, allowed, denied],
            [f"INSERT INTO ks.secret (k, v) VALUES ('{d}', 1)", allowed],
        ]
        stream = 1
        with Unseen(server, d):
            for batch in batches:
                frames = []
                for query in batch:
                    frames.append(wire.frame(QueryMessage(query, ConsistencyLevel.ONE), stream))
                    stream += 1
                wire.send_frames(frames)
                got = dict((s, outcome(m)) for s, m in wire.responses(len(batch)))
                expected = {stream - len(batch) + i: ([(5,)] if q == allowed else "error 0x2100")
                            for i, q in enumerate(batch)}
                assert got == expected, batch
    finally:
        wire.close()


def test_large_frame_then_packed_frames(proxy, server, key):
    """A frame over several segments (not self-contained) and a small one in its own segment, sent in one write;
    then the same with the big one denied."""
    k, d = key(), key()
    wire = Wire(proxy.port, 5, True)
    try:
        big = "x" * 300_000
        wire.send_frames([wire.frame(QueryMessage(f"INSERT INTO ks.allowed_kv (k, v) VALUES ('{k}{big}', 1)",
                                                  ConsistencyLevel.ONE), 1)])
        assert [outcome(m) for _, m in wire.responses(1)] == ["void"]
        allowed = f"SELECT v FROM ks.allowed_kv WHERE k = '{k}{big}'"
        wire.send_frames([wire.frame(QueryMessage(allowed, ConsistencyLevel.ONE), 2),
                          wire.frame(QueryMessage(f"SELECT v FROM ks.secret WHERE k = '{d}'",
                                                  ConsistencyLevel.ONE), 3)], one_segment=False)
        assert dict((s, outcome(m)) for s, m in wire.responses(2)) == {2: [(1,)], 3: "error 0x2100"}
        with Unseen(server, d):
            wire.send_frames([wire.frame(QueryMessage(f"INSERT INTO ks.secret (k, v) VALUES ('{d}{big}', 1)",
                                                      ConsistencyLevel.ONE), 4),
                              wire.frame(QueryMessage(allowed, ConsistencyLevel.ONE), 5)], one_segment=False)
            assert dict((s, outcome(m)) for s, m in wire.responses(2)) == {4: "error 0x2100", 5: [(1,)]}
    finally:
        wire.close()
