"""Shared pieces of the Cassandra policy tests: CQL native-protocol frames written from the protocol spec
(independent of any driver), the policies, and a vector runner that drives a connection through OnData and
through the C datapath and checks the access log.

A vector is a list of steps; each step is one OnData call (request or reply direction) with the exact ops and
reply-direction inject bytes it must produce and the access-log entries it must cause, or a policy change
delivered over NPDS between calls.
"""
import itertools
import struct
from dataclasses import dataclass, field

import accesslog_pb2
import policies as P

REQUEST, DENIED, RESPONSE = accesslog_pb2.Request, accesslog_pb2.Denied, accesslog_pb2.Response

# ---- opcodes (native_protocol_v4.spec §2.4) -------------------------------------------------------------------

ERROR, STARTUP, READY, AUTHENTICATE, OPTIONS, SUPPORTED, QUERY, RESULT, PREPARE, EXECUTE, REGISTER, EVENT, BATCH, \
    AUTH_CHALLENGE, AUTH_RESPONSE, AUTH_SUCCESS = 0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16

UNAUTHORIZED, UNPREPARED = 0x2100, 0x2500
MAX_FRAME_BODY = 256 * 1024 * 1024  # the spec's limit on a frame body


# ---- notation (native_protocol_v4.spec §3) -------------------------------------------------------------------

def short(n):
    return struct.pack(">H", n)


def int32(n):
    return struct.pack(">i", n)


def string(s):
    """[string]: a [short] length and UTF-8 bytes."""
    b = s.encode() if isinstance(s, str) else s
    return short(len(b)) + b


def long_string(s):
    b = s.encode() if isinstance(s, str) else s
    return int32(len(b)) + b


def short_bytes(b):
    return short(len(b)) + b


def string_map(pairs):
    return short(len(pairs)) + b"".join(string(k) + string(v) for k, v in pairs.items())


def string_list(items):
    return short(len(items)) + b"".join(string(s) for s in items)


# ---- frames ----------------------------------------------------------------------------------------------------

def frame(opcode, body=b"", stream=0, version=4, flags=0, length=None):
    """A frame: version, flags, int16 stream, opcode, int32 body length, body."""
    return struct.pack(">BBHBI", version, flags, stream, opcode, len(body) if length is None else length) + body


def response(opcode, body=b"", stream=0, version=4, flags=0):
    return frame(opcode, body, stream, 0x80 | version, flags)


def query_params(version=4, consistency=0x0001, flags=0):
    """<consistency><flags>: the flags are a byte before v5, an int from v5."""
    return short(consistency) + (struct.pack(">I", flags) if version >= 5 else bytes([flags]))


def query(cql, stream=0, version=4):
    return frame(QUERY, long_string(cql) + query_params(version), stream, version)


def prepare(cql, stream=0, version=4):
    body = long_string(cql) + (struct.pack(">I", 0) if version >= 5 else b"")
    return frame(PREPARE, body, stream, version)


def execute(prepared_id, stream=0, version=4, result_metadata_id=b"meta"):
    body = short_bytes(prepared_id)
    if version >= 5:
        body += short_bytes(result_metadata_id)
    return frame(EXECUTE, body + query_params(version), stream, version)


def batch(entries, stream=0, version=4, batch_type=0):
    """entries: str (a query string) or bytes (a prepared id), each without bound values."""
    body = bytes([batch_type]) + short(len(entries))
    for entry in entries:
        if isinstance(entry, str):
            body += b"\x00" + long_string(entry) + short(0)
        else:
            body += b"\x01" + short_bytes(entry) + short(0)
    return frame(BATCH, body + query_params(version), stream, version)


def startup(options=None, stream=0, version=4):
    return frame(STARTUP, string_map(options or {"CQL_VERSION": "3.0.0"}), stream, version)


def options(stream=0, version=4):
    return frame(OPTIONS, b"", stream, version)


def register(events=("SCHEMA_CHANGE",), stream=0, version=4):
    return frame(REGISTER, string_list(list(events)), stream, version)


def auth_response(token=b"\x00cassandra\x00cassandra", stream=0, version=4):
    return frame(AUTH_RESPONSE, int32(len(token)) + token, stream, version)


def prepared_result(prepared_id, stream, version=4, result_metadata_id=b"meta"):
    """RESULT kind Prepared with no bind markers and no result columns (the spec's complete body)."""
    body = int32(4) + short_bytes(prepared_id)
    if version >= 5:
        body += short_bytes(result_metadata_id)
    metadata = int32(0) + int32(0) + (int32(0) if version >= 4 else b"")  # flags, columns, (pk count)
    result_metadata = int32(0x0004) + int32(0)  # No_metadata, 0 columns
    return response(RESULT, body + metadata + result_metadata, stream, version)


def set_keyspace_result(keyspace, stream, version=4):
    return response(RESULT, int32(3) + string(keyspace), stream, version)


def ready(stream=0, version=4):
    return response(READY, b"", stream, version)


def unauthorized(stream, version=4):
    """Upstream's denial (cassandraparser.go unauthMsgBase) with the request's version and stream."""
    return response(ERROR, int32(UNAUTHORIZED) + string("Request Unauthorized"), stream, version)


UNPREPARED_MESSAGE = "Prepared statement unknown to the proxy: prepare it again"


def unprepared(prepared_id, stream, version=4):
    """Our Unprepared answer: 0x2500, the [string] message every ERROR body carries, the id as [short bytes]
    (upstream's createUnpreparedMsg leaves the message out, which drivers cannot decode)."""
    return response(ERROR, int32(UNPREPARED) + string(UNPREPARED_MESSAGE) + short_bytes(prepared_id), stream, version)


def upstream_unprepared(prepared_id, stream, version=4):
    """Upstream's createUnpreparedMsg: Unprepared (0x2500) and the id, without the message."""
    return response(ERROR, int32(UNPREPARED) + short_bytes(prepared_id), stream, version)


# ---- policies --------------------------------------------------------------------------------------------------

def _text_value(value):
    return value.replace("\\", "\\\\").replace('"', '\\"')


def cassandra_policy(*allow, remotes=(1, 3, 4), deny=(), endpoint="1.1.1.1"):
    """A cassandra port policy on port 80; each allow rule a dict ({} is a rule without conditions)."""
    def escaped(rules):
        return [{k: _text_value(v) for k, v in rule.items()} for rule in rules]
    return P.port_policy("cassandra", P.l7_rules(*escaped(allow), deny=escaped(deny)), remotes=remotes,
                         endpoint=endpoint)


# ---- vectors ---------------------------------------------------------------------------------------------------

@dataclass
class Log:
    """An expected access-log entry: its type and generic_l7 fields (None: any fields)."""
    type: int
    fields: dict = None


def allowed(action, table):
    return Log(REQUEST, {"query_action": action, "query_table": table})


def denied(action, table):
    return Log(DENIED, {"query_action": action, "query_table": table})


UNKNOWN_ID_LOG = Log(DENIED, {"error": "unknown prepared query id"})


@dataclass
class Step:
    """One OnData call (segments, exact ops, reply-direction inject bytes after it, access-log entries), or a
    policy change (policy set, everything else unused)."""
    reply: bool = False
    segments: list = field(default_factory=list)
    ops: list = field(default_factory=list)
    injected: bytes = b""
    logs: list = field(default_factory=list)
    policy: str = None


def request(segments, ops, injected=b"", logs=()):
    return Step(False, list(segments), list(ops), injected, list(logs))


def reply(segments, ops, logs=()):
    return Step(True, list(segments), list(ops), b"", list(logs))


def new_policy(text):
    return Step(policy=text)


@dataclass
class Vector:
    name: str
    policy: str
    steps: list
    policy_name: str = "1.1.1.1"
    src_id: int = 1

    @property
    def logs(self):
        return [log for step in self.steps for log in step.logs]


def passes(data):
    return ("PASS", len(data))


def drops(data):
    return ("DROP", len(data))


MORE9 = ("MORE", 9)

_versions = itertools.count(1)


def install(npds, policy):
    npds.install(f"v{next(_versions)}", policy)


def connect(library, instance, conn_id, policy_name="1.1.1.1", src_id=1):
    result, conn = library.connect(instance, "cassandra", conn_id, ingress=True, src_id=src_id, dst_id=2,
                                   src_addr="1.1.1.1:34567", dst_addr="10.0.0.2:80", policy_name=policy_name)
    assert result == "OK"
    return conn


def run_on_data(conn, vector, npds):
    """Upstream's CheckOnData: exact ops and reply-direction inject buffer of each call."""
    for i, step in enumerate(vector.steps):
        if step.policy is not None:
            install(npds, step.policy)
            continue
        got = conn.on_data_raw(step.segments, reply=step.reply)
        expected = ("OK", step.ops, step.injected)
        assert got == expected, (f"step {i} ({'reply' if step.reply else 'request'}): input "
                                 f"{b''.join(step.segments).hex()}: got {got[0]} {got[1]} inject {got[2].hex()}, "
                                 f"expected {expected[1]} inject {expected[2].hex()}")


def datapath_outcome(step):
    """What the datapath delivers for a step's ops: (bytes forwarded in the step's direction, the input left
    unconsumed)."""
    data = b"".join(step.segments)
    position, out = 0, b""
    for op, n in step.ops:
        if op == "PASS":
            out += data[position:position + n]
            position += n
        elif op == "DROP":
            position += n
        elif op in ("MORE", "ERROR"):
            break
    return out, data[position:]


def run_datapath(conn, vector, npds):
    """The same traffic as the client and server write it: a step that re-offers unconsumed input (OnData
    called directly keeps nothing) writes only the new bytes."""
    leftover = {False: b"", True: b""}
    for i, step in enumerate(vector.steps):
        if step.policy is not None:
            install(npds, step.policy)
            continue
        data = b"".join(step.segments)
        assert data.startswith(leftover[step.reply])
        writes = [data[len(leftover[step.reply]):]] if leftover[step.reply] else (step.segments or [b""])
        forwarded, leftover[step.reply] = datapath_outcome(step)
        expected = "PARSER_ERROR" if any(op == "ERROR" for op, _ in step.ops) else "OK"
        if step.reply:
            outputs = [conn.server_sends(w) for w in writes]
            assert [res for res, _ in outputs][-1] == expected, f"step {i}: {outputs}"
            assert b"".join(out for _, out in outputs) == forwarded, f"step {i}: client receives"
        else:
            outputs = [conn.client_sends(w) for w in writes]
            assert [res for res, _, _ in outputs][-1] == expected, f"step {i}: {outputs}"
            assert b"".join(s for _, s, _ in outputs) == forwarded, f"step {i}: server receives"
            assert b"".join(c for _, _, c in outputs) == step.injected, f"step {i}: client receives"
        if expected != "OK":
            return


def log_view(entry):
    return Log(entry.entry_type, dict(entry.generic_l7.fields))


def check_entries(entries, expected, policy_name="1.1.1.1", src_id=1):
    for entry in entries:
        assert entry.WhichOneof("l7") == "generic_l7"
        assert entry.generic_l7.proto == "cassandra"
        assert entry.policy_name == policy_name and entry.is_ingress
        assert entry.source_security_id == src_id and entry.destination_security_id == 2
    got = [log_view(e) for e in entries]
    # An expectation without fields matches any fields of that entry type.
    got = [Log(g.type, None) if e.fields is None else g for g, e in zip(got, expected)] + got[len(expected):]
    assert got == expected


def run_vector(library, npds, collector, instance, next_id, vector):
    """The vector through OnData, then through the datapath, on fresh connections; then the access log."""
    install(npds, vector.policy)
    conn = connect(library, instance, next_id(), vector.policy_name, vector.src_id)
    try:
        run_on_data(conn, vector, npds)
    finally:
        conn.close()

    install(npds, vector.policy)
    conn = connect(library, instance, next_id(), vector.policy_name, vector.src_id)
    try:
        run_datapath(conn, vector, npds)
    finally:
        conn.close()

    if vector.logs:
        collector.wait_for_count(2 * len(vector.logs))
    check_entries(collector.settle(quiet=0.1), vector.logs * 2, vector.policy_name, vector.src_id)
