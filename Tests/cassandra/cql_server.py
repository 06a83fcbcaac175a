"""A small CQL native-protocol server for the end-to-end tests (no Cassandra installs here): enough of protocol
v3, v4 and v5 for cassandra-driver's Cluster/Session and for cqlsh, with LZ4 compression, over the toy store of
cql_store.py.

    python cql_server.py --port 9042 [--host 127.0.0.1] [--auth USER:PASSWORD]

What it speaks:
- OPTIONS -> SUPPORTED (CQL_VERSION, COMPRESSION lz4/snappy, PROTOCOL_VERSIONS); STARTUP -> READY,
  remembering COMPRESSION, or with --auth USER:PASSWORD STARTUP -> AUTHENTICATE (PasswordAuthenticator),
  AUTH_RESPONSE (SASL PLAIN) -> AUTH_SUCCESS; REGISTER -> READY, then SCHEMA_CHANGE events after DDL.
- QUERY, PREPARE, EXECUTE, BATCH (logged, unlogged; query and prepared entries), with positional and named
  values, custom payloads, the v5 keyspace and now_in_seconds flags, skip_metadata, paging (page size and
  paging state); results Void, Rows, Set_keyspace, Prepared, Schema_change. A traced request's result starts
  with a tracing id; warnings as Cassandra 4 gives them: PREPARE on a connection with a USE keyspace, batches
  over 5 KiB.
- v3/v4 frames, compressed bodies once STARTUP asked for lz4 (4-byte big-endian length + raw LZ4 block) or
  snappy (a raw snappy block).
- v5: after READY (or AUTHENTICATE) both directions carry frames inside segments (CRC24 header, CRC32
  payload; LZ4 segments when STARTUP asked for lz4), through cassandra-driver's own segment codec. Responses to
  requests that arrived together go out several frames to a segment, as Cassandra 4 packs them; a frame over
  128 KiB is split over several non-self-contained segments.
- A frame of an unsupported version (drivers start at DSE_V2 = 0x42 and step down) gets a protocol error
  "Invalid or unsupported protocol version (N); supported versions are (...)" in a frame of the highest
  version it supports, as Cassandra 4 answers, and the connection is closed; the driver then downgrades.
  Snappy is refused in v5 (only LZ4 compresses segments), as Cassandra 4 refuses it.
- system.peers_v2 does not exist (as in Cassandra 3): the driver's first peers query fails and it falls back to
  system.peers. system_virtual_schema does not exist either (the driver tolerates that).

SIGUSR1 makes it forget every prepared statement, as a restarted Cassandra would: the next EXECUTE of one gets
an Unprepared error, and drivers prepare it again.

Every request is logged on stdout as one line, `conn=N vV OPCODE stream=S ...` with the CQL text (for EXECUTE
the prepared text, for BATCH one line per statement): the tests read it to tell whether a request reached the
server. Protocol errors it detects and connection events go to stderr."""
import argparse
import hashlib
import io
import select
import signal
import socket
import struct
import sys
import threading
import traceback
import uuid

import lz4.block
import snappy

from cassandra.segment import CrcException, Segment, SegmentCodec

from cql_store import CQL_VERSION, INVALID, PROTOCOL_ERROR, SERVER_ERROR, UNPREPARED, CqlError, Store, parse

SUPPORTED_VERSIONS = (3, 4, 5)
VERSION_NAMES = ", ".join(f"{v}/v{v}" for v in SUPPORTED_VERSIONS)
MAX_FRAME = 256 * 1024 * 1024

# opcodes
ERROR, STARTUP, READY, AUTHENTICATE, OPTIONS, SUPPORTED, QUERY, RESULT, PREPARE, EXECUTE, REGISTER, EVENT, \
    BATCH, AUTH_RESPONSE, AUTH_SUCCESS = 0x00, 0x01, 0x02, 0x03, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0C, \
    0x0D, 0x0F, 0x10
AUTHENTICATION_ERROR = 0x0100
AUTHENTICATOR = "org.apache.cassandra.auth.PasswordAuthenticator"
OPCODE_NAMES = {0x00: "ERROR", 0x01: "STARTUP", 0x02: "READY", 0x03: "AUTHENTICATE", 0x05: "OPTIONS",
                0x06: "SUPPORTED", 0x07: "QUERY", 0x08: "RESULT", 0x09: "PREPARE", 0x0A: "EXECUTE",
                0x0B: "REGISTER", 0x0C: "EVENT", 0x0D: "BATCH", 0x0E: "AUTH_CHALLENGE", 0x0F: "AUTH_RESPONSE",
                0x10: "AUTH_SUCCESS"}
# frame flags
COMPRESSED, TRACING, CUSTOM_PAYLOAD, WARNING, USE_BETA = 0x01, 0x02, 0x04, 0x08, 0x10
# query flags
Q_VALUES, Q_SKIP_METADATA, Q_PAGE_SIZE, Q_PAGING_STATE, Q_SERIAL, Q_TIMESTAMP, Q_NAMES, Q_KEYSPACE, Q_NOW = \
    0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0x100
# rows metadata flags
GLOBAL_TABLES_SPEC, HAS_MORE_PAGES, NO_METADATA = 0x0001, 0x0002, 0x0004

UNSET = object()


class Params:
    """A request's <query_parameters>."""

    def __init__(self):
        self.flags = 0
        self.values, self.names = [], None
        self.page_size = self.paging_state = self.keyspace = None

    def describe(self):
        """For the request log: paging, when asked for."""
        out = f" page_size={self.page_size}" if self.page_size else ""
        return out + (f" paging_state={self.paging_state.hex()}" if self.paging_state is not None else "")


class ProtocolViolation(Exception):
    """The peer broke the protocol: answered with a protocol error; `fatal` ones close the connection."""

    def __init__(self, message, fatal=False):
        super().__init__(message)
        self.fatal = fatal


# ---------------------------------------------------------------------------------------------------------------
# Body encoding

class Reader:
    """Reads a request body; every read is bounds-checked (ProtocolViolation names what was cut short)."""

    def __init__(self, data, what):
        self.data, self.pos, self.what = data, 0, what

    def take(self, n, field):
        if n < 0 or self.pos + n > len(self.data):
            raise ProtocolViolation(f"{self.what}: body ends inside {field} (needs {n} bytes at offset {self.pos}, "
                                    f"body is {len(self.data)} bytes)")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def byte(self, field):
        return self.take(1, field)[0]

    def short(self, field):
        return struct.unpack(">H", self.take(2, field))[0]

    def int(self, field):
        return struct.unpack(">i", self.take(4, field))[0]

    def long(self, field):
        return struct.unpack(">q", self.take(8, field))[0]

    def string(self, field):
        return self._text(self.take(self.short(field), field), field)

    def long_string(self, field):
        n = self.int(field)
        return self._text(self.take(n, field), field)

    def short_bytes(self, field):
        return self.take(self.short(field), field)

    def bytes(self, field):
        n = self.int(field)
        return None if n < 0 else self.take(n, field)

    def value(self, field):
        """[value]: -1 null, -2 not set."""
        n = self.int(field)
        if n == -1:
            return None
        if n == -2:
            return UNSET
        if n < 0:
            raise ProtocolViolation(f"{self.what}: invalid length {n} for {field}")
        return self.take(n, field)

    def string_list(self, field):
        return [self.string(field) for _ in range(self.short(field))]

    def string_map(self, field):
        return {self.string(field): self.string(field) for _ in range(self.short(field))}

    def end(self):
        if self.pos != len(self.data):
            raise ProtocolViolation(f"{self.what}: {len(self.data) - self.pos} unexpected bytes after the body")

    def _text(self, raw, field):
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ProtocolViolation(f"{self.what}: {field} is not UTF-8 ({e})")


def w_short(n):
    return struct.pack(">H", n)


def w_int(n):
    return struct.pack(">i", n)


def w_string(s):
    raw = s.encode()
    return w_short(len(raw)) + raw


def w_short_bytes(b):
    return w_short(len(b)) + b


def w_bytes(b):
    return w_int(-1) if b is None else w_int(len(b)) + b


def w_string_list(items):
    return w_short(len(items)) + b"".join(w_string(s) for s in items)


def error_body(e):
    body = w_int(e.code) + w_string(e.message)
    if e.code == UNPREPARED:
        body += w_short_bytes(e.extra["id"])
    elif "keyspace" in e.extra:  # ALREADY_EXISTS
        body += w_string(e.extra["keyspace"]) + w_string(e.extra["table"])
    return body


def rows_metadata(columns, flags=0, paging_state=None):
    """<flags><columns_count>[<paging_state>][global table spec]<col specs> for `columns`
    [(ks, table, name, CqlType)]."""
    head = [w_int(flags | (NO_METADATA if not columns else 0)), w_int(len(columns))]
    if paging_state is not None:
        head.append(w_bytes(paging_state))
    if flags & NO_METADATA or not columns:
        return b"".join(head)
    tables = {(ks, t) for ks, t, _, _ in columns}
    shared = len(tables) == 1
    if shared:
        head[0] = w_int(flags | GLOBAL_TABLES_SPEC)
    out = head
    if shared:
        ks, t = tables.pop()
        out.append(w_string(ks) + w_string(t))
    for ks, t, name, ctype in columns:
        if not shared:
            out.append(w_string(ks) + w_string(t))
        out.append(w_string(name) + ctype.option())
    return b"".join(out)


def lz4_compress(data):
    return struct.pack(">I", len(data)) + lz4.block.compress(data, store_size=False)


def snappy_decompress(data):
    try:
        return snappy.uncompress(data)
    except Exception as e:
        raise ProtocolViolation(f"snappy body does not decompress: {e}", fatal=True)


FRAME_COMPRESSORS = {"lz4": lambda data: lz4_compress(data), "snappy": lambda data: snappy.compress(data)}
FRAME_DECOMPRESSORS = {"lz4": lambda data: lz4_decompress(data), "snappy": snappy_decompress}


def lz4_decompress(data):
    if len(data) < 4:
        raise ProtocolViolation("compressed body shorter than its 4-byte length", fatal=True)
    size = struct.unpack(">I", data[:4])[0]
    if size == 0:
        return b""
    try:
        return lz4.block.decompress(data[4:], uncompressed_size=size)
    except lz4.block.LZ4BlockError as e:
        raise ProtocolViolation(f"LZ4 body does not decompress: {e}", fatal=True)


# ---------------------------------------------------------------------------------------------------------------
# Connections

class Frame:
    def __init__(self, version, flags, stream, opcode, body):
        self.version, self.flags, self.stream, self.opcode, self.body = version, flags, stream, opcode, body


class Connection:
    def __init__(self, server, sock, number):
        self.server, self.sock, self.number = server, sock, number
        self.store = server.store
        self.version = None
        self.started = False
        self.authenticating = False
        self.compression = None
        self.segments = False
        self.codec = None
        self.keyspace = None
        self.events = set()
        self.send_lock = threading.Lock()
        self.holding = False  # v5: hold responses back while more requests wait, then send them together
        self.held = []
        self.inbuf = bytearray()  # v5: frame bytes taken out of segments, not yet a whole frame

    def log(self, line):
        self.server.log(f"conn={self.number} {line}")

    # reading

    def recv_exact(self, n):
        chunks = []
        while n:
            chunk = self.sock.recv(min(n, 1 << 20))
            if not chunk:
                return None
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    def read_frame(self):
        """The next request frame, or None at end of stream."""
        if self.segments:
            return self.read_frame_from_segments()
        header = self.recv_exact(9)
        if header is None:
            return None
        frame = self.frame_header(header)
        body = self.recv_exact(frame.length)
        if body is None:
            return None
        frame.body = body
        return frame

    def frame_header(self, header):
        version_byte, flags, stream, opcode, length = struct.unpack(">BBhBi", header)
        version = version_byte & 0x7F
        if version not in SUPPORTED_VERSIONS:
            raise UnsupportedVersion(version, stream)
        if version_byte & 0x80:
            raise ProtocolViolation(f"frame with the response bit set (version byte {version_byte:#04x})", True)
        if self.version is not None and version != self.version:
            raise ProtocolViolation(f"Invalid message version. Got v{version} but previous messages on this "
                                    f"connection had version v{self.version}", fatal=True)
        if length < 0 or length > MAX_FRAME:
            raise ProtocolViolation(f"invalid frame body length {length}", fatal=True)
        frame = Frame(version, flags, stream, opcode, None)
        frame.length = length
        return frame

    def read_frame_from_segments(self):
        while True:
            if len(self.inbuf) >= 9:
                frame = self.frame_header(bytes(self.inbuf[:9]))
                if len(self.inbuf) >= 9 + frame.length:
                    frame.body = bytes(self.inbuf[9:9 + frame.length])
                    del self.inbuf[:9 + frame.length]
                    return frame
            payload = self.read_segment()
            if payload is None:
                return None
            self.inbuf += payload

    def read_segment(self):
        header_length = self.codec.header_length_with_crc
        header = self.recv_exact(header_length)
        if header is None:
            return None
        try:
            segment_header = self.codec.decode_header(io.BytesIO(header))
            rest = self.recv_exact(segment_header.payload_length + 4)
            if rest is None:
                return None
            return self.codec.decode(io.BytesIO(rest), segment_header).payload
        except CrcException as e:
            raise ProtocolViolation(f"segment: {e}", fatal=True)
        except Exception as e:  # a payload that does not decompress
            raise ProtocolViolation(f"segment: {type(e).__name__}: {e}", fatal=True)

    # writing

    def send(self, version, stream, opcode, body, flags=0):
        with self.send_lock:
            if self.compression and not self.segments and body and opcode != READY:
                body = FRAME_COMPRESSORS[self.compression](body)
                flags |= COMPRESSED
            frame = struct.pack(">BBhBi", 0x80 | version, flags, stream, opcode, len(body)) + body
            if self.segments and self.holding:
                self.held.append(frame)
                return
            if self.segments:
                buffer = io.BytesIO()
                self.codec.encode(buffer, frame)
                frame = buffer.getvalue()
            self.sock.sendall(frame)

    def flush(self):
        """v5: sends the responses held back while more requests were waiting, several frames to a segment as
        Cassandra 4 does (a self-contained segment carries whole frames up to 128 KiB; a bigger frame goes alone,
        split over several segments)."""
        with self.send_lock:
            frames, self.held = self.held, []
            buffer, group, count = io.BytesIO(), b"", 0
            for frame in frames + [None]:
                if group and (frame is None or len(group) + len(frame) > Segment.MAX_PAYLOAD_LENGTH):
                    self.codec.encode(buffer, group)
                    if count > 1:
                        self.log(f"sent {count} frames in one segment")
                    group, count = b"", 0
                if frame is not None:
                    group += frame
                    count += 1
            if buffer.getvalue():
                self.sock.sendall(buffer.getvalue())

    def more_waiting(self):
        """Whether another request is already here (a whole frame buffered, or bytes on the socket)."""
        if self.segments and len(self.inbuf) >= 9:
            length = struct.unpack(">i", self.inbuf[5:9])[0]
            if len(self.inbuf) >= 9 + length:
                return True
        return bool(select.select([self.sock], [], [], 0)[0])

    def error(self, frame, code, message, **extra):
        self.send(frame.version, frame.stream, ERROR, error_body(CqlError(code, message, **extra)))

    # the request loop

    def run(self):
        try:
            while True:
                try:
                    frame = self.read_frame()
                except UnsupportedVersion as e:
                    message = (f"Invalid or unsupported protocol version ({e.version}); supported versions are "
                               f"({VERSION_NAMES})")
                    self.log(f"v{e.version} unsupported version: answering protocol error, closing")
                    self.send(max(SUPPORTED_VERSIONS), e.stream, ERROR,
                              error_body(CqlError(PROTOCOL_ERROR, message)))
                    return
                if frame is None:
                    return
                if self.version is None:
                    self.version = frame.version
                self.holding = self.segments
                try:
                    self.handle(frame)
                except ProtocolViolation as e:
                    self.log(f"v{frame.version} {OPCODE_NAMES.get(frame.opcode, hex(frame.opcode))} "
                             f"stream={frame.stream} protocol error: {e}")
                    print(f"conn={self.number}: protocol error: {e}", file=sys.stderr, flush=True)
                    self.error(frame, PROTOCOL_ERROR, str(e))
                    if e.fatal:
                        self.flush()
                        return
                if self.holding and not self.more_waiting():
                    self.holding = False
                    self.flush()
        except ProtocolViolation as e:
            print(f"conn={self.number}: protocol error, closing: {e}", file=sys.stderr, flush=True)
            try:
                self.send(self.version or max(SUPPORTED_VERSIONS), 0, ERROR,
                          error_body(CqlError(PROTOCOL_ERROR, str(e))))
            except OSError:
                pass
        except OSError as e:
            print(f"conn={self.number}: {e}", file=sys.stderr, flush=True)
        finally:
            self.server.forget(self)
            try:
                self.sock.close()
            except OSError:
                pass

    def handle(self, frame):
        name = OPCODE_NAMES.get(frame.opcode, f"opcode {frame.opcode:#04x}")
        body = frame.body
        if frame.flags & COMPRESSED:
            if self.segments:
                raise ProtocolViolation("compressed flag set on a frame inside v5 segments", fatal=True)
            if not self.compression:
                raise ProtocolViolation("compressed frame, but no compression was negotiated", fatal=True)
            body = FRAME_DECOMPRESSORS[self.compression](body)
        r = Reader(body, name)
        if frame.flags & TRACING:
            pass  # tracing is ignored (no trace id is returned)
        if frame.flags & CUSTOM_PAYLOAD:
            for _ in range(r.short("custom payload")):
                r.string("custom payload key")
                r.bytes("custom payload value")
        if frame.opcode == OPTIONS:
            r.end()
            self.log(f"v{frame.version} OPTIONS stream={frame.stream}")
            supported = [("COMPRESSION", ["snappy", "lz4"]), ("CQL_VERSION", [CQL_VERSION]),
                         ("PROTOCOL_VERSIONS", [f"{v}/v{v}" for v in SUPPORTED_VERSIONS])]
            body = w_short(len(supported)) + b"".join(w_string(k) + w_string_list(v) for k, v in supported)
            self.send(frame.version, frame.stream, SUPPORTED, body)
            return
        if frame.opcode == STARTUP:
            options = r.string_map("STARTUP options")
            r.end()
            self.log(f"v{frame.version} STARTUP stream={frame.stream} {options}")
            if "CQL_VERSION" not in options:
                raise ProtocolViolation("Missing value CQL_VERSION in STARTUP message")
            compression = options.get("COMPRESSION", "").lower() or None
            if compression not in (None, "lz4", "snappy") or (compression == "snappy" and frame.version >= 5):
                raise ProtocolViolation(f"Unsupported compression algorithm {compression!r}")
            if self.started or self.authenticating:
                raise ProtocolViolation("Unexpected message STARTUP, the connection is already initialized")
            self.compression = compression
            if self.server.credentials is not None:
                # AUTHENTICATE instead of READY; in v5 the segments start after it.
                self.authenticating = True
                self.send(frame.version, frame.stream, AUTHENTICATE, w_string(AUTHENTICATOR))
            else:
                self.started = True
                self.send(frame.version, frame.stream, READY, b"")
            if frame.version >= 5:
                compressed = compression == "lz4"
                self.codec = SegmentCodec(lz4_compress, lz4_decompress) if compressed else SegmentCodec()
                self.segments = True
            return
        if frame.opcode == AUTH_RESPONSE and self.authenticating:
            token = r.bytes("SASL token")
            r.end()
            parts = (token or b"").split(b"\0")
            user = parts[1].decode(errors="replace") if len(parts) == 3 else "?"
            self.log(f"v{frame.version} AUTH_RESPONSE stream={frame.stream} user={user}")
            if len(parts) != 3 or (parts[1], parts[2]) != self.server.credentials:
                self.send(frame.version, frame.stream, ERROR, error_body(CqlError(
                    AUTHENTICATION_ERROR, "Provided username and/or password are incorrect")))
                return
            self.authenticating = False
            self.started = True
            self.send(frame.version, frame.stream, AUTH_SUCCESS, w_bytes(None))
            return
        if not self.started:
            raise ProtocolViolation(f"Unexpected message {name}, expecting STARTUP or OPTIONS" +
                                    (" or AUTH_RESPONSE" if self.authenticating else ""))
        handler = {QUERY: self.on_query, PREPARE: self.on_prepare, EXECUTE: self.on_execute, BATCH: self.on_batch,
                   REGISTER: self.on_register}.get(frame.opcode)
        if handler is None:
            raise ProtocolViolation(f"unexpected request opcode {name}")
        try:
            handler(frame, r)
        except CqlError as e:
            self.send(frame.version, frame.stream, ERROR, error_body(e))
        except (ProtocolViolation, OSError):
            raise
        except Exception as e:
            traceback.print_exc()
            self.error(frame, SERVER_ERROR, f"test server failure: {type(e).__name__}: {e}")

    # requests

    def query_parameters(self, r, version):
        """<query_parameters> -> Params (values as raw bytes|None|UNSET, in order)."""
        p = Params()
        r.short("consistency")
        p.flags = flags = r.int("query flags") if version >= 5 else r.byte("query flags")
        if flags & Q_VALUES:
            count = r.short("value count")
            if flags & Q_NAMES:
                p.names = []
            for i in range(count):
                if p.names is not None:
                    p.names.append(r.string(f"name of value {i}").lower())
                p.values.append(r.value(f"value {i}"))
        if flags & Q_PAGE_SIZE:
            p.page_size = r.int("page size")
        if flags & Q_PAGING_STATE:
            p.paging_state = r.bytes("paging state")
        if flags & Q_SERIAL:
            r.short("serial consistency")
        if flags & Q_TIMESTAMP:
            r.long("default timestamp")
        if version >= 5:
            if flags & Q_KEYSPACE:
                p.keyspace = r.string("keyspace")
            if flags & Q_NOW:
                r.int("now in seconds")
        r.end()
        return p

    def bind(self, statement, keyspace, raw, names, version):
        """Bound values as python objects in marker order, checked against the columns' types."""
        columns = self.store.bind_columns(statement, keyspace)
        if names is not None:
            by_name = dict(zip(names, raw))
            missing = [c[2] for c in columns if c[2] not in by_name]
            if missing:
                raise CqlError(INVALID, f"No value for bind variable(s) {missing}")
            raw = [by_name[c[2]] for c in columns]
        if len(raw) != len(columns):
            raise CqlError(INVALID, f"There were {len(columns)} markers(?) in CQL but {len(raw)} bound variables")
        values = []
        for (_, _, column, ctype), data in zip(columns, raw):
            if data is UNSET:
                raise CqlError(INVALID, f"unset values are not supported by this test server ({column})")
            try:
                values.append(ctype.deserialize(data, version))
            except Exception as e:
                raise CqlError(INVALID, f"Invalid value for {column} of type {ctype.name}: {e}")
        return values

    def on_query(self, frame, r):
        query = r.long_string("query")
        p = self.query_parameters(r, frame.version)
        keyspace = p.keyspace or self.keyspace
        self.log(f"v{frame.version} QUERY stream={frame.stream} ks={keyspace}{p.describe()} {query!r}")
        statement = parse(query)
        values = self.bind(statement, keyspace, p.values, p.names, frame.version)
        self.reply_result(frame, self.store.execute(statement, keyspace, values), p)

    def on_prepare(self, frame, r):
        query = r.long_string("query")
        keyspace = self.keyspace
        if frame.version >= 5:
            if r.int("prepare flags") & 0x01:
                keyspace = r.string("keyspace")
        r.end()
        self.log(f"v{frame.version} PREPARE stream={frame.stream} ks={keyspace} {query!r}")
        pid, _statement, bind, result, pk = self.store.prepare(query, keyspace)
        body = [w_int(0x0004), w_short_bytes(pid)]
        if frame.version >= 5:
            body.append(w_short_bytes(result_metadata_id(result)))
        tables = {(ks, t) for ks, t, _, _ in bind}
        flags = GLOBAL_TABLES_SPEC if len(tables) == 1 else 0
        body.append(w_int(flags) + w_int(len(bind)))
        if frame.version >= 4:
            body.append(w_int(len(pk)) + b"".join(w_short(i) for i in pk))
        if flags:
            ks, t = tables.pop()
            body.append(w_string(ks) + w_string(t))
        for ks, t, name, ctype in bind:
            if not flags:
                body.append(w_string(ks) + w_string(t))
            body.append(w_string(name) + ctype.option())
        body.append(rows_metadata(result))
        warnings = []
        if self.keyspace is not None and frame.version >= 4:
            # Cassandra 4 warns about prepared statements on a connection with a USE keyspace.
            warnings.append(f"USE <keyspace> with prepared statements is considered to be an anti-pattern due "
                            f"to ambiguity in non-qualified table names. Keyspace used: {self.keyspace}, "
                            f"statement keyspace: {keyspace}, statement id: {pid.hex()}")
        self.send_result(frame, b"".join(body), warnings)

    def prepared(self, pid):
        with self.store.lock:
            entry = self.store.prepared.get(pid)
        if entry is None:
            raise CqlError(UNPREPARED, f"Prepared query with ID {pid.hex()} not found (either the query was not "
                                       "prepared on this host (maybe the host has been restarted?) or you have "
                                       "prepared too many queries and it has been evicted from the internal cache)",
                           id=pid)
        return entry

    def on_execute(self, frame, r):
        pid = r.short_bytes("prepared id")
        if frame.version >= 5:
            r.short_bytes("result metadata id")
        p = self.query_parameters(r, frame.version)
        with self.store.lock:
            known = self.store.prepared.get(pid)
        if known is None:
            self.log(f"v{frame.version} EXECUTE stream={frame.stream} id={pid.hex()} unknown: Unprepared")
        query, keyspace, statement = self.prepared(pid)
        self.log(f"v{frame.version} EXECUTE stream={frame.stream} id={pid.hex()} ks={keyspace}{p.describe()} "
                 f"{query!r}")
        values = self.bind(statement, keyspace, p.values, p.names, frame.version)
        self.reply_result(frame, self.store.execute(statement, keyspace, values), p)

    def on_batch(self, frame, r):
        kind = r.byte("batch type")
        if kind not in (0, 1, 2):
            raise ProtocolViolation(f"BATCH: unknown batch type {kind}")
        entries = []
        for i in range(r.short("statement count")):
            entry_kind = r.byte(f"kind of statement {i}")
            if entry_kind == 0:
                target = ("query", r.long_string(f"query {i}"))
            elif entry_kind == 1:
                target = ("prepared", r.short_bytes(f"prepared id {i}"))
            else:
                raise ProtocolViolation(f"BATCH: statement {i} has unknown kind {entry_kind}")
            values = [r.value(f"statement {i} value {j}") for j in range(r.short(f"statement {i} value count"))]
            entries.append((target, values))
        r.short("consistency")
        flags = r.int("batch flags") if frame.version >= 5 else r.byte("batch flags")
        if flags & Q_SERIAL:
            r.short("serial consistency")
        if flags & Q_TIMESTAMP:
            r.long("default timestamp")
        keyspace = self.keyspace
        if frame.version >= 5:
            if flags & Q_KEYSPACE:
                keyspace = r.string("keyspace")
            if flags & Q_NOW:
                r.int("now in seconds")
        r.end()
        work = []
        for (what, target), raw in entries:
            if what == "query":
                query, ks = target, keyspace
                self.log(f"v{frame.version} BATCH stream={frame.stream} ks={ks} {query!r}")
                statement = parse(query)
            else:
                with self.store.lock:
                    if target not in self.store.prepared:
                        self.log(f"v{frame.version} BATCH stream={frame.stream} id={target.hex()} unknown: "
                                 "Unprepared")
                query, ks, statement = self.prepared(target)
                self.log(f"v{frame.version} BATCH stream={frame.stream} id={target.hex()} ks={ks} {query!r}")
            if statement.kind not in ("insert", "update", "delete"):
                raise CqlError(INVALID, "Invalid statement in batch: only UPDATE, INSERT and DELETE statements "
                                        "are allowed.")
            work.append((statement, ks, self.bind(statement, ks, raw, None, frame.version)))
        with self.store.lock:
            for statement, ks, values in work:
                self.store.execute(statement, ks, values)
        warnings = []
        size = len(r.data)
        tables = sorted({f"{t.keyspace}.{t.name}" for t in
                         (self.store.table(s.table, ks) for s, ks, _ in work)})
        if size > 5 * 1024 and frame.version >= 4:
            warnings.append(f"Batch for {tables} is of size {size}, exceeding specified threshold of 5120 by "
                            f"{size - 5120}.")
        self.send_result(frame, w_int(0x0001), warnings)

    def on_register(self, frame, r):
        events = r.string_list("event types")
        r.end()
        self.log(f"v{frame.version} REGISTER stream={frame.stream} {events}")
        unknown = [e for e in events if e not in ("TOPOLOGY_CHANGE", "STATUS_CHANGE", "SCHEMA_CHANGE")]
        if unknown:
            raise ProtocolViolation(f"Invalid value {unknown[0]!r} for Type")
        self.events.update(events)
        self.send(frame.version, frame.stream, READY, b"")

    def send_result(self, frame, body, warnings=()):
        """A RESULT frame; with the request's tracing flag it carries a tracing id, with warnings (v4+) those."""
        flags, prefix = 0, b""
        if frame.flags & TRACING:
            flags |= TRACING
            prefix += uuid.uuid4().bytes
        if warnings:
            flags |= WARNING
            prefix += w_string_list(list(warnings))
        self.send(frame.version, frame.stream, RESULT, prefix + body, flags)

    def reply_result(self, frame, result, params):
        kind = result[0]
        if kind == "void":
            body = w_int(0x0001)
        elif kind == "rows":
            _, columns, rows = result
            start = 0
            if params.paging_state is not None:
                if len(params.paging_state) != 8 or params.paging_state[:4] != b"page":
                    raise CqlError(PROTOCOL_ERROR, f"Invalid paging state {params.paging_state.hex()}")
                start = struct.unpack(">i", params.paging_state[4:])[0]
            end = len(rows)
            if params.page_size is not None and params.page_size > 0:
                end = min(end, start + params.page_size)
            metadata_flags = NO_METADATA if params.flags & Q_SKIP_METADATA else 0
            paging = None
            if end < len(rows):
                metadata_flags |= HAS_MORE_PAGES
                paging = b"page" + struct.pack(">i", end)
            body = [w_int(0x0002), rows_metadata(columns, metadata_flags, paging), w_int(end - start)]
            for row in rows[start:end]:
                for (_, _, _, ctype), value in zip(columns, row):
                    body.append(w_bytes(ctype.serialize(value, frame.version)))
            body = b"".join(body)
        elif kind == "set_keyspace":
            self.keyspace = result[1]
            body = w_int(0x0003) + w_string(result[1])
        elif kind == "schema_change":
            change = schema_change_body(result)
            body = w_int(0x0005) + change
            self.server.broadcast_schema_change(change, self)
        else:
            raise AssertionError(result)
        self.send_result(frame, body)

    def push_event(self, body):
        if "SCHEMA_CHANGE" in self.events:
            try:
                self.send(self.version, -1, EVENT, w_string("SCHEMA_CHANGE") + body)
            except OSError:
                pass


class UnsupportedVersion(Exception):
    def __init__(self, version, stream):
        super().__init__(version)
        self.version, self.stream = version, stream


def schema_change_body(result):
    _, change, target, keyspace, *name = result
    return w_string(change) + w_string(target) + w_string(keyspace) + b"".join(w_string(n) for n in name)


def result_metadata_id(columns):
    return hashlib.md5(rows_metadata(columns)).digest()


class Server:
    def __init__(self, host, port, credentials=None):
        self.credentials = credentials  # (user, password) as bytes: PasswordAuthenticator; None: no authentication
        self.listener = socket.create_server((host, port), reuse_port=False)
        self.port = self.listener.getsockname()[1]
        self.store = Store(host, self.port)
        self.connections = set()
        self.lock = threading.Lock()
        self.log_lock = threading.Lock()
        self.count = 0

    def log(self, line):
        with self.log_lock:
            print(line, flush=True)

    def forget(self, connection):
        with self.lock:
            self.connections.discard(connection)
        self.log(f"conn={connection.number} closed")

    def broadcast_schema_change(self, body, origin):
        with self.lock:
            targets = list(self.connections)
        for c in targets:
            c.push_event(body)

    def serve_forever(self):
        while True:
            sock, peer = self.listener.accept()
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self.lock:
                self.count += 1
                connection = Connection(self, sock, self.count)
                self.connections.add(connection)
            self.log(f"conn={connection.number} accepted from {peer[0]}:{peer[1]}")
            threading.Thread(target=connection.run, daemon=True).start()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9042)
    parser.add_argument("--auth", metavar="USER:PASSWORD",
                        help="require authentication (SASL PLAIN, as Cassandra's PasswordAuthenticator)")
    args = parser.parse_args()
    credentials = None
    if args.auth:
        user, _, password = args.auth.partition(":")
        credentials = (user.encode(), password.encode())
    server = Server(args.host, args.port, credentials)

    def forget_prepared(signum, frame):
        with server.store.lock:
            server.store.prepared.clear()
        server.log("prepared statements forgotten (SIGUSR1)")
    signal.signal(signal.SIGUSR1, forget_prepared)
    print(f"cql_server listening on {args.host}:{server.port}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
