"""Independent Cassandra vectors: every request is encoded by the DataStax/Apache Python driver's own protocol
classes (cassandra-driver 3.30.1: `cassandra.protocol` messages and `ProtocolHandler.encode_message`, its lz4 and
snappy compressors, and `cassandra.segment.SegmentCodec` for protocol v5), driven through the C datapath with a
policy delivered over NPDS, and every answer the library injects is decoded with the driver's own
`ProtocolHandler.decode_message` (inside the segment codec for v5): a denial must decode as Unauthorized, an
unknown prepared id as Unprepared (PreparedQueryNotFound) carrying that id, each with the request's stream id.
Allowed requests and server replies must come out byte-identical.

Each connection opens as the driver opens one: OPTIONS → SUPPORTED, then STARTUP (with COMPRESSION when
compressing) → READY. With v3/v4 and compression, frames after READY carry the compression flag and a compressed
body; with v5, everything after READY is carried in segments (lz4-compressed segments when compressing).
"""
import io
import struct

import pytest

from cassandra import ConsistencyLevel
from cassandra.connection import locally_supported_compressions, segment_codec_lz4, segment_codec_no_compression
from cassandra.protocol import (BatchMessage, ExecuteMessage, OptionsMessage, PrepareMessage, PreparedQueryNotFound,
                                ProtocolHandler, QueryMessage, ReadyMessage, RegisterMessage, ResultMessage,
                                StartupMessage, SupportedMessage, UnauthorizedErrorMessage, write_int,
                                write_short, write_string, write_stringmultimap, write_value)
from cassandra.query import BatchType

from cassandra_support import (DENIED, UNKNOWN_ID_LOG, Log, allowed, cassandra_policy, check_entries, connect,
                               denied, install)

MODES = [(3, None), (3, "lz4"), (3, "snappy"), (4, None), (4, "lz4"), (4, "snappy"), (5, None), (5, "lz4")]
MODE_IDS = [f"v{v}-{c or 'plain'}" for v, c in MODES]

POLICY = cassandra_policy({"query_table": "^public\\."}, {"query_action": "select", "query_table": "^system\\."})

ONE = ConsistencyLevel.ONE
HEADER = struct.Struct(">BBhBi")
COMPRESSED_FLAG = 0x01


# ---- server replies (the driver has no encoder for them: built from the spec, checked with its decoder) -----------

def result_body(kind, payload):
    f = io.BytesIO()
    write_int(f, kind)
    f.write(payload)
    return f.getvalue()


def prepared_body(prepared_id, version, result_metadata_id=b"rmeta-1"):
    f = io.BytesIO()
    write_short(f, len(prepared_id))
    f.write(prepared_id)
    if version >= 5:
        write_short(f, len(result_metadata_id))
        f.write(result_metadata_id)
    # Bind metadata: global table spec, one column k int; pk index 0 (v4+).
    write_int(f, 0x0001)
    write_int(f, 1)
    if version >= 4:
        write_int(f, 1)
        write_short(f, 0)
    write_string(f, "public")
    write_string(f, "t")
    write_string(f, "k")
    write_short(f, 0x0009)
    # Result metadata: global table spec, one column v varchar.
    write_int(f, 0x0001)
    write_int(f, 1)
    write_string(f, "public")
    write_string(f, "t")
    write_string(f, "v")
    write_short(f, 0x000D)
    return result_body(4, f.getvalue())


def set_keyspace_body(keyspace):
    f = io.BytesIO()
    write_string(f, keyspace)
    return result_body(3, f.getvalue())


def rows_body(rows):
    f = io.BytesIO()
    write_int(f, 0x0001)
    write_int(f, 2)
    write_string(f, "public")
    write_string(f, "t")
    write_string(f, "k")
    write_short(f, 0x0009)
    write_string(f, "v")
    write_short(f, 0x000D)
    write_int(f, len(rows))
    for k, v in rows:
        write_value(f, struct.pack(">i", k))
        write_value(f, v.encode())
    return result_body(2, f.getvalue())


def supported_body():
    f = io.BytesIO()
    write_stringmultimap(f, {"CQL_VERSION": ["3.4.5"], "COMPRESSION": ["lz4", "snappy"],
                             "PROTOCOL_VERSIONS": ["3/v3", "4/v4", "5/v5"]})
    return f.getvalue()


# ---- a connection as the driver runs it -------------------------------------------------------------------------

class Session:
    """One proxied connection: the client side encodes with the driver, the server side answers with spec-built
    replies, both through the datapath. Keeps the access-log entries the traffic must produce."""

    def __init__(self, conn, version, compression):
        self.conn, self.version, self.compression = conn, version, compression
        self.compressor = self.decompressor = None
        self.codec = None  # the v5 segment codec, once READY has gone out
        self.expected_logs = []
        self._next_stream = 1

    def stream(self):
        self._next_stream += 1
        return self._next_stream

    # ---- encoding ----

    def frame(self, msg, stream):
        """One request frame as the driver writes it (compressed body when compression is on, before v5)."""
        return ProtocolHandler.encode_message(msg, stream, self.version, self.compressor, False)

    def segments(self, frames, together=False):
        """v5: each frame in its own self-contained segment, or all in one; before v5 the frames as they are."""
        if self.codec is None:
            return b"".join(frames)
        buf = io.BytesIO()
        if together:
            self.codec.encode(buf, b"".join(frames))
        else:
            for f in frames:
                self.codec.encode(buf, f)
        return buf.getvalue()

    def wire(self, msg, stream):
        return self.segments([self.frame(msg, stream)])

    def reply_frame(self, opcode, body, stream):
        flags = 0
        if self.compressor is not None and body:
            body, flags = self.compressor(body), COMPRESSED_FLAG
        return HEADER.pack(0x80 | self.version, flags, stream, opcode, len(body)) + body

    def reply_wire(self, opcode, body, stream):
        return self.segments([self.reply_frame(opcode, body, stream)])

    # ---- decoding (the driver's decoder) ----

    def frames_of(self, data):
        """The frames inside `data`: unwrapped from v5 segments with the driver's codec."""
        if self.codec is None:
            return data
        buf, payload = io.BytesIO(data), b""
        while buf.tell() < len(data):
            header = self.codec.decode_header(buf)
            payload += self.codec.decode(buf, header).payload
        return payload

    def decode(self, data, direction_bit=0x80):
        """Every message in `data` decoded by the driver: [(stream id, message)]."""
        data, out = self.frames_of(data), []
        while data:
            version, flags, stream, opcode, length = HEADER.unpack_from(data)
            assert version == direction_bit | self.version, data.hex()
            assert len(data) >= 9 + length, data.hex()
            msg = ProtocolHandler.decode_message(self.version, {}, stream, flags, opcode, data[9:9 + length],
                                                 self.decompressor, None)
            out.append((stream, msg))
            data = data[9 + length:]
        return out

    # ---- traffic ----

    def client(self, data):
        result, to_server, to_client = self.conn.client_sends(data)
        assert result == "OK"
        return to_server, to_client

    def server(self, data):
        result, to_client = self.conn.server_sends(data)
        assert result == "OK"
        assert to_client == data, "a server reply must reach the client unchanged"

    def send_allowed(self, msg, logs=()):
        stream = self.stream()
        data = self.wire(msg, stream)
        assert self.client(data) == (data, b"")
        self.expected_logs += list(logs)
        return stream

    def send_denied(self, msg, logs=(), error=UnauthorizedErrorMessage):
        stream = self.stream()
        to_server, to_client = self.client(self.wire(msg, stream))
        assert to_server == b""
        [(answered_stream, answer)] = self.decode(to_client)
        assert isinstance(answer, error) and answered_stream == stream, answer
        self.expected_logs += list(logs)
        return answer

    def open(self):
        """OPTIONS/SUPPORTED, STARTUP/READY; compression and v5 segments from here on."""
        options = ProtocolHandler.encode_message(OptionsMessage(), 0, self.version, None, False)
        assert self.client(options) == (options, b"")
        supported = self.reply_frame(0x06, supported_body(), 0)
        self.server(supported)
        assert isinstance(self.decode(supported)[0][1], SupportedMessage)

        opts = {"DRIVER_NAME": "DataStax Python Driver", "DRIVER_VERSION": "3.30.1"}
        if self.compression:
            opts["COMPRESSION"] = self.compression
        startup = ProtocolHandler.encode_message(StartupMessage("3.4.5", opts), 1, self.version, None, False)
        assert self.client(startup) == (startup, b"")
        ready = self.reply_frame(0x02, b"", 1)
        self.server(ready)
        assert isinstance(self.decode(ready)[0][1], ReadyMessage)

        if self.version >= 5:
            self.codec = segment_codec_lz4 if self.compression else segment_codec_no_compression
        elif self.compression:
            self.compressor, self.decompressor = locally_supported_compressions[self.compression]
        return self

    def prepare(self, cql, prepared_id, table, action="select"):
        """An allowed PREPARE and the server's RESULT/Prepared with `prepared_id`."""
        stream = self.send_allowed(PrepareMessage(cql), [allowed(action, table)])
        result = self.reply_wire(0x08, prepared_body(prepared_id, self.version), stream)
        self.server(result)
        [(_, msg)] = self.decode(result)
        assert isinstance(msg, ResultMessage) and msg.query_id == prepared_id
        return prepared_id

    def execute(self, prepared_id, values=(b"\x00\x00\x00\x01",)):
        return ExecuteMessage(prepared_id, list(values), ONE,
                              result_metadata_id=b"rmeta-1" if self.version >= 5 else None)


class Sessions:
    """Opens Sessions for a mode with a policy installed; `check_log` compares the access log with the entries
    all of them expected."""

    def __init__(self, library, npds, collector, instance, next_id):
        self.library, self.npds, self.collector, self.instance, self.next_id = library, npds, collector, instance, next_id
        self.opened = []

    def __call__(self, version, compression, policy=POLICY):
        install(self.npds, policy)
        session = Session(connect(self.library, self.instance, self.next_id()), version, compression)
        self.opened.append(session)
        return session.open()

    def check_log(self):
        expected = [log for s in self.opened for log in s.expected_logs]
        if expected:
            self.collector.wait_for_count(len(expected))
        check_entries(self.collector.settle(quiet=0.1), expected)


@pytest.fixture
def session_for(library, npds, collector, logged_module, next_id):
    sessions = Sessions(library, npds, collector, logged_module, next_id)
    yield sessions
    for session in sessions.opened:
        session.conn.close()


# ---- vectors -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("version,compression", MODES, ids=MODE_IDS)
def test_queries(session_for, version, compression):
    s = session_for(version, compression)
    s.send_allowed(QueryMessage("SELECT * FROM public.t WHERE k = 1", ONE), [allowed("select", "public.t")])
    s.send_allowed(QueryMessage("SELECT release_version FROM system.local", ONE), [allowed("select", "system.local")])
    s.send_denied(QueryMessage("SELECT * FROM secret.t", ONE), [denied("select", "secret.t")])
    s.send_denied(QueryMessage("INSERT INTO system.peers (peer) VALUES ('1.2.3.4')", ONE),
                  [denied("insert", "system.peers")])
    s.send_allowed(QueryMessage("INSERT INTO public.t (k, v) VALUES (?, ?)", ONE, serial_consistency_level=None,
                                fetch_size=100, timestamp=1700000000000000), [allowed("insert", "public.t")])
    s.send_allowed(QueryMessage("UPDATE public.t SET v = 'x' WHERE k = 1", ConsistencyLevel.QUORUM,
                                serial_consistency_level=ConsistencyLevel.SERIAL), [allowed("update", "public.t")])
    s.send_denied(QueryMessage("DELETE FROM secret.t WHERE k = 1", ONE), [denied("delete", "secret.t")])
    s.send_denied(QueryMessage("TRUNCATE secret.t", ONE), [denied("truncate-table", "secret.t")])
    s.send_denied(QueryMessage("SELECT * FROM secret.t WHERE c = 'x from public.t'", ONE), [denied("select", "secret.t")])
    s.send_denied(QueryMessage("SELECT * FROM secret.t -- FROM public.t", ONE), [denied("select", "secret.t")])
    s.send_denied(QueryMessage("NOT CQL AT ALL", ONE), [Log(DENIED)])
    session_for.check_log()


@pytest.mark.parametrize("version,compression", MODES, ids=MODE_IDS)
def test_non_query_requests(session_for, version, compression):
    s = session_for(version, compression)
    s.send_allowed(RegisterMessage(["TOPOLOGY_CHANGE", "STATUS_CHANGE", "SCHEMA_CHANGE"]))
    s.send_allowed(OptionsMessage())
    session_for.check_log()


@pytest.mark.parametrize("version,compression", MODES, ids=MODE_IDS)
def test_prepare_and_execute(session_for, version, compression):
    s = session_for(version, compression)
    pid = s.prepare("SELECT v FROM public.t WHERE k = ?", bytes(range(16)), "public.t")
    s.send_allowed(s.execute(pid), [allowed("select", "public.t")])
    # A PREPARE of a table the policy denies: Unauthorized.
    s.send_denied(PrepareMessage("SELECT * FROM secret.t WHERE k = ?"), [denied("select", "secret.t")])
    session_for.check_log()


@pytest.mark.parametrize("version,compression", MODES, ids=MODE_IDS)
def test_batches(session_for, version, compression):
    s = session_for(version, compression)
    pid = s.prepare("INSERT INTO public.t (k, v) VALUES (?, ?)", b"\x01" * 16, "public.t", "insert")
    s.send_allowed(BatchMessage(BatchType.LOGGED, [
        (False, "INSERT INTO public.a (k) VALUES (1)", []),
        (True, pid, [b"\x00\x00\x00\x02", b"two"]),
        (False, "UPDATE public.b SET v = ? WHERE k = 3", [b"three"]),
    ], ONE), [allowed("insert", "public.a"), allowed("insert", "public.t"), allowed("update", "public.b")])
    s.send_denied(BatchMessage(BatchType.UNLOGGED, [
        (False, "INSERT INTO public.a (k) VALUES (1)", []),
        (False, "DELETE FROM secret.b WHERE k = 1", []),
    ], ONE, timestamp=1700000000000000), [denied("insert", "public.a"), denied("delete", "secret.b")])
    session_for.check_log()


# Upstream's Unprepared body (<int 0x2500><short bytes id>) lacks the [string] message every ERROR body carries
# before its code-specific part; the driver then cannot decode it. Ours carries it: these decode in the driver.


@pytest.mark.parametrize("version,compression", MODES, ids=MODE_IDS)
def test_execute_unknown_prepared_id(session_for, version, compression):
    """An EXECUTE of an id the server never returned: Unprepared, carrying the id."""
    s = session_for(version, compression)
    unknown = b"\xde\xad\xbe\xef" * 4
    answer = s.send_denied(s.execute(unknown), [UNKNOWN_ID_LOG], error=PreparedQueryNotFound)
    assert answer.info == unknown
    session_for.check_log()


@pytest.mark.parametrize("version,compression", MODES, ids=MODE_IDS)
def test_batch_unknown_prepared_id(session_for, version, compression):
    """A BATCH naming an id the server never returned: Unprepared, carrying the id."""
    s = session_for(version, compression)
    pid = s.prepare("INSERT INTO public.t (k, v) VALUES (?, ?)", b"\x01" * 16, "public.t", "insert")
    answer = s.send_denied(BatchMessage(BatchType.LOGGED, [(True, pid, []), (True, b"\x02" * 16, [])], ONE),
                           [UNKNOWN_ID_LOG], error=PreparedQueryNotFound)
    assert answer.info == b"\x02" * 16
    session_for.check_log()


@pytest.mark.parametrize("version,compression", MODES, ids=MODE_IDS)
def test_use_and_set_keyspace(session_for, version, compression):
    s = session_for(version, compression)
    stream = s.send_allowed(QueryMessage("USE public", ONE))
    s.server(s.reply_wire(0x08, set_keyspace_body("public"), stream))
    s.send_allowed(QueryMessage("SELECT * FROM t", ONE), [allowed("select", "public.t")])
    stream = s.send_allowed(QueryMessage('USE "secret"', ONE))
    s.server(s.reply_wire(0x08, set_keyspace_body("secret"), stream))
    s.send_denied(QueryMessage("SELECT * FROM t", ONE), [denied("select", "secret.t")])
    session_for.check_log()


@pytest.mark.parametrize("version,compression", MODES, ids=MODE_IDS)
def test_rows_reply(session_for, version, compression):
    s = session_for(version, compression)
    stream = s.send_allowed(QueryMessage("SELECT k, v FROM public.t", ONE), [allowed("select", "public.t")])
    rows = s.reply_wire(0x08, rows_body([(i, "value %d " % i * 20) for i in range(50)]), stream)
    [(_, msg)] = s.decode(rows)
    assert msg.parsed_rows[3][0] == 3
    s.server(rows)
    # The same reply in pieces.
    stream = s.send_allowed(QueryMessage("SELECT k, v FROM public.t", ONE), [allowed("select", "public.t")])
    rows = s.reply_wire(0x08, rows_body([(i, "v%d" % i) for i in range(10)]), stream)
    delivered = b""
    for i in range(0, len(rows), 7):
        result, to_client = s.conn.server_sends(rows[i:i + 7])
        assert result == "OK"
        delivered += to_client
    assert delivered == rows
    session_for.check_log()


def pipeline(s):
    """Requests mixed allowed and denied: (frames, allowed flags, expected logs)."""
    msgs = [
        (QueryMessage("SELECT * FROM public.a", ONE), True, [allowed("select", "public.a")]),
        (QueryMessage("SELECT * FROM secret.b", ONE), False, [denied("select", "secret.b")]),
        (RegisterMessage(["SCHEMA_CHANGE"]), True, []),
        (QueryMessage("INSERT INTO public.c (k) VALUES (1)", ONE), True, [allowed("insert", "public.c")]),
        (BatchMessage(BatchType.LOGGED, [(False, "INSERT INTO secret.d (k) VALUES (1)", [])], ONE), False,
         [denied("insert", "secret.d")]),
        (QueryMessage("USE secret", ONE), True, []),
        (QueryMessage("SELECT * FROM e", ONE), False, [denied("select", "secret.e")]),
        (QueryMessage("SELECT * FROM public.f", ONE), True, [allowed("select", "public.f")]),
    ]
    streams = [s.stream() for _ in msgs]
    frames = [s.frame(m, st) for (m, _, _), st in zip(msgs, streams)]
    return frames, streams, [ok for _, ok, _ in msgs], [log for _, _, logs in msgs for log in logs]


def check_pipeline(s, frames, streams, oks, to_server, to_client, per_frame_segments=True):
    if per_frame_segments:
        assert to_server == b"".join(s.segments([f]) for f, ok in zip(frames, oks) if ok)
    else:
        assert s.frames_of(to_server) == b"".join(f for f, ok in zip(frames, oks) if ok)
    answers = s.decode(to_client)
    assert [st for st, _ in answers] == [st for st, ok in zip(streams, oks) if not ok]
    assert all(isinstance(a, UnauthorizedErrorMessage) for _, a in answers), answers


@pytest.mark.parametrize("version,compression", MODES, ids=MODE_IDS)
def test_pipelined_in_one_delivery(session_for, version, compression):
    s = session_for(version, compression)
    frames, streams, oks, logs = pipeline(s)
    to_server, to_client = s.client(b"".join(s.segments([f]) for f in frames))
    check_pipeline(s, frames, streams, oks, to_server, to_client)
    s.expected_logs += logs
    session_for.check_log()


@pytest.mark.parametrize("version,compression", MODES, ids=MODE_IDS)
def test_pipelined_byte_by_byte(session_for, version, compression):
    s = session_for(version, compression)
    frames, streams, oks, logs = pipeline(s)
    data = b"".join(s.segments([f]) for f in frames)
    to_server = to_client = b""
    for i in range(len(data)):
        out, back = s.client(data[i:i + 1])
        to_server += out
        to_client += back
    check_pipeline(s, frames, streams, oks, to_server, to_client)
    s.expected_logs += logs
    session_for.check_log()


@pytest.mark.parametrize("compression", [None, "lz4"], ids=["plain", "lz4"])
def test_v5_frames_sharing_a_segment(session_for, compression):
    """v5: several frames in one self-contained segment, mixed allowed and denied: the server receives the
    allowed frames unchanged (in a segment of their own), the client the denials."""
    s = session_for(5, compression)
    frames, streams, oks, logs = pipeline(s)
    to_server, to_client = s.client(s.segments(frames, together=True))
    check_pipeline(s, frames, streams, oks, to_server, to_client, per_frame_segments=False)
    s.expected_logs += logs
    session_for.check_log()


@pytest.mark.parametrize("compression", [None, "lz4"], ids=["plain", "lz4"])
def test_v5_frame_across_segments(session_for, compression):
    """v5: a frame larger than one segment's payload (128 KiB) spans several segments that are not
    self-contained; allowed, it passes unchanged; denied, the client gets Unauthorized."""
    s = session_for(5, compression)
    big = "x" * (300 * 1024)
    stream = s.stream()
    data = s.wire(QueryMessage(f"INSERT INTO public.t (k, v) VALUES (1, '{big}')", ONE), stream)
    assert s.client(data) == (data, b"")
    s.expected_logs.append(allowed("insert", "public.t"))
    stream = s.stream()
    to_server, to_client = s.client(s.wire(QueryMessage(f"INSERT INTO secret.t (k, v) VALUES (1, '{big}')", ONE),
                                           stream))
    assert to_server == b""
    [(answered, answer)] = s.decode(to_client)
    assert answered == stream and isinstance(answer, UnauthorizedErrorMessage)
    s.expected_logs.append(denied("insert", "secret.t"))
    session_for.check_log()


@pytest.mark.parametrize("version,compression", [(3, "lz4"), (4, "lz4"), (4, "snappy")], ids=["v3-lz4", "v4-lz4", "v4-snappy"])
def test_compressed_large_request(session_for, version, compression):
    """A compressible request of 1 MiB: compressed to a few KiB on the wire, checked after decompression."""
    s = session_for(version, compression)
    big = "y" * (1024 * 1024)
    s.send_allowed(QueryMessage(f"INSERT INTO public.t (k, v) VALUES (1, '{big}')", ONE), [allowed("insert", "public.t")])
    s.send_denied(QueryMessage(f"INSERT INTO secret.t (k, v) VALUES (1, '{big}')", ONE), [denied("insert", "secret.t")])
    session_for.check_log()


@pytest.mark.parametrize("version", [3, 4], ids=["v3", "v4"])
def test_plain_denials_are_upstreams_bytes(session_for, version):
    """Without compression, a denial is upstream's Unauthorized frame byte for byte."""
    s = session_for(version, None)
    stream = s.stream()
    to_server, to_client = s.client(s.wire(QueryMessage("SELECT * FROM secret.t", ONE), stream))
    assert to_server == b""
    assert to_client == HEADER.pack(0x80 | version, 0, stream, 0, 26) + struct.pack(">iH", 0x2100, 20) + \
        b"Request Unauthorized"
    s.expected_logs.append(denied("select", "secret.t"))
    session_for.check_log()


@pytest.mark.parametrize("compression", [None, "lz4"], ids=["plain", "lz4"])
def test_v5_keyspace_in_the_request(session_for, compression):
    """v5 QUERY/PREPARE/BATCH can name their keyspace in the message (flag 0x80 / 0x01): an unqualified table is
    in that keyspace, not in the one of an earlier USE."""
    s = session_for(5, compression)
    s.send_allowed(QueryMessage("USE public", ONE))
    s.send_denied(QueryMessage("SELECT * FROM t", ONE, keyspace="secret"), [denied("select", "secret.t")])
    s.send_denied(PrepareMessage("SELECT * FROM t WHERE k = ?", keyspace="secret"), [denied("select", "secret.t")])
    s.send_denied(BatchMessage(BatchType.LOGGED, [(False, "INSERT INTO t (k) VALUES (1)", [])], ONE,
                               keyspace="secret"), [denied("insert", "secret.t")])
    s.send_allowed(QueryMessage("SELECT * FROM t", ONE, keyspace="public"), [allowed("select", "public.t")])
    session_for.check_log()


@pytest.mark.parametrize("compression", [None, "lz4"], ids=["plain", "lz4"])
def test_v5_replies_sharing_a_segment(session_for, compression):
    """v5: the server's RESULT/Prepared and a RESULT/Rows in one segment reach the client unchanged, and the
    prepared id they carry is known to the EXECUTE that follows."""
    s = session_for(5, compression)
    prepare_stream = s.send_allowed(PrepareMessage("SELECT v FROM public.t WHERE k = ?"), [allowed("select", "public.t")])
    select_stream = s.send_allowed(QueryMessage("SELECT k, v FROM public.t", ONE), [allowed("select", "public.t")])
    replies = s.segments([s.reply_frame(0x08, prepared_body(b"\x07" * 16, 5), prepare_stream),
                          s.reply_frame(0x08, rows_body([(1, "one"), (2, "two")]), select_stream)], together=True)
    assert [st for st, _ in s.decode(replies)] == [prepare_stream, select_stream]
    s.server(replies)
    s.send_allowed(s.execute(b"\x07" * 16), [allowed("select", "public.t")])
    session_for.check_log()
