"""Upstream's memcache vectors (libcilium/proxylib_memcached_test.go, TestMemcache's text and binary subtests,
and memcached/binary/parser_test.go's key extraction) through the C ABI, each policy delivered by a real NPDS
server.

Every vector runs three ways on one library instance:
  1. exact ops and reply-direction inject bytes of each OnData call (upstream's CheckOnData);
  2. the same traffic through the C datapath: what the server and the client receive;
  3. the access-log entries both runs produce (generic_l7 `textmemcached` with command/keys, or
     `binarymemcached` with opcode/key; Request when allowed, Denied when denied, Response for replies).

Where our parser deliberately differs from upstream, the vector says so (see "bin set drop and allow").
"""
import struct
from dataclasses import dataclass, field

import pytest

import accesslog_pb2
import policies as P

# ---- text traffic --------------------------------------------------------------------------------------------

SET_HELLO = b"set key 0 0 5\r\nhello\r\n"
GET_KEYS = b"get key1 key2 key3\r\n"
GAT_KEYS = b"gat 5 key1 key2 key3\r\n"
GET_RESPONSE = b"VALUE key3 0 4\r\nxDDD\r\nVALUE key4 0 3\r\nxDD\r\nEND\r\n"
DELETE = b"delete key\r\n"
INCR = b"incr key 5\r\n"
TOUCH = b"touch key 55\r\n"
SLABS = b"slabs automove 1\r\n"
OK = b"OK\r\n"
LRU_CRAWLER = b"lru_crawler metadump all\r\n"
STATS = b"stats\r\n"
FLUSH_ALL = b"flush_all 15\r\n"
WATCH = b"watch mutations\r\n"
NOT_FOUND = b"NOT_FOUND\r\n"
STORED = b"STORED\r\n"

WATCH_EVENTS = [
    b"ts=%s gid=%d type=item_store key=%s status=stored cmd=set ttl=500 clsid=1\r\n" % (ts, gid, key)
    for ts, gid, key in [(b"1538135970.404892", 5, b"key3"), (b"1538135970.404898", 6, b"key4"),
                         (b"1538135974.340708", 7, b"key3"), (b"1538135974.340714", 8, b"key4"),
                         (b"1538135976.436863", 9, b"key3")]
]
WATCH_REPLY = OK + b"".join(WATCH_EVENTS)

LRU_CRAWLER_RESPONSE = (b"key=key3 exp=1538047402 la=1538046902 cas=1 fetch=no cls=1 size=67\r\n"
                        b"key=key4 exp=1538047402 la=1538046902 cas=2 fetch=no cls=1 size=66\r\n"
                        b"END\r\n")

STATS_RESPONSE = b"".join(b"STAT %s\r\n" % line for line in [
    b"evictions 0", b"reclaimed 2", b"crawler_reclaimed", b"crawler_items_checked 18", b"lrutail_reflocked 0",
    b"moves_to_cold 6", b"moves_to_warm 0", b"moves_within_lru 0", b"direct_reclaims 0", b"lru_bumps_dropped 0",
]) + b"END\r\n"

TEXT_DENIED = b"CLIENT_ERROR access denied\r\n"

# ---- binary traffic ------------------------------------------------------------------------------------------


def frame(magic, opcode, key=b"", extras=b"", value=b"", status=0, opaque=0, body_length=None):
    """A binary-protocol frame: the 24-byte header (magic, opcode, key length, extras length, data type,
    vbucket/status, total body length, opaque, CAS) and the body."""
    body = extras + key + value
    if body_length is None:
        body_length = len(body)
    return struct.pack(">BBHBBHIIQ", magic, opcode, len(key), len(extras), 0, status, body_length, opaque, 0) + body


GET_HELLO = frame(0x80, 0x00, key=b"Hello")
GET_HELLO_RESPONSE = frame(0x81, 0x00, extras=bytes(4), value=b"World")
SET_HELLO_BIN = frame(0x80, 0x01, key=b"Hello", extras=bytes(8), value=b"World")


def binary_denied(opcode=0, opaque=0):
    """Our denial: a response to the denied request (its opcode and opaque), status 0x0008, "access denied"."""
    return frame(0x81, opcode, value=b"access denied", status=0x0008, opaque=opaque)


# Upstream's DeniedMsgBase, byte for byte; for a get with opaque 0 ours is the same.
UPSTREAM_DENIED = bytes([0x81, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0x0D] + [0] * 12) + b"access denied"

# A GETK (0x0c) with opaque 0xdeadbeef: the denial echoes both.
GETK_HELLO = frame(0x80, 0x0C, key=b"Hello", opaque=0xDEADBEEF)
GETK_DENIED = bytes.fromhex("810c0000" "00000008" "0000000d" "deadbeef" "0000000000000000") + b"access denied"

# binary/parser_test.go (TestMemcacheGetKey): the key follows the extras.
GET_TEST1 = frame(0x80, 0x00, key=b"Test1")
# Upstream's packet claims a body of 5 bytes while carrying 4 bytes of extras and a 5-byte key; its unit test
# reads the key without looking at the body length. On the wire the body length must be 9.
GET_TEST1_AFTER_EXTRAS = frame(0x80, 0x00, key=b"Test1", extras=b"extr")
# A flush (0x08) with 4 bytes of extras (expiration 7200) and no key: the key is empty.
FLUSH_WITH_EXTRAS = frame(0x80, 0x08, extras=bytes([0, 0, 0x1C, 0x20]))


def test_binary_frames_are_upstreams_bytes():
    assert GET_HELLO == bytes([128, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 5] + [0] * 12) + b"Hello"
    assert GET_HELLO_RESPONSE == bytes([129, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 9] + [0] * 16) + b"World"
    assert SET_HELLO_BIN == bytes([128, 1, 0, 5, 8, 0, 0, 0, 0, 0, 0, 18] + [0] * 20) + b"HelloWorld"
    assert binary_denied() == UPSTREAM_DENIED and len(UPSTREAM_DENIED) == 37
    assert binary_denied(0x0C, 0xDEADBEEF) == GETK_DENIED
    assert GET_TEST1_AFTER_EXTRAS == bytes([0x80, 0, 0, 5, 4, 0, 0, 0, 0, 0, 0, 9] + [0] * 12) + b"extrTest1"
    assert FLUSH_WITH_EXTRAS == bytes([0x80, 8, 0, 0, 4, 0, 0, 0, 0, 0, 0, 4] + [0] * 12 + [0, 0, 0x1C, 0x20])
    assert [len(e) for e in WATCH_EVENTS] == [91] * 5


# ---- vectors -------------------------------------------------------------------------------------------------

REQUEST, DENIED, RESPONSE = accesslog_pb2.Request, accesslog_pb2.Denied, accesslog_pb2.Response


@dataclass
class Log:
    """An expected access-log entry: its type and generic_l7 fields."""
    type: int
    fields: dict


def text_log(entry_type, command, keys=None):
    # Upstream logs a text reply with its command only: for replies only `command` is checked.
    return Log(entry_type, {"command": command} if keys is None else {"command": command, "keys": keys})


def bin_log(entry_type, opcode, key):
    return Log(entry_type, {"opcode": str(opcode), "key": key})


@dataclass
class Step:
    """One OnData call: the input segments, the exact ops, the reply-direction inject buffer afterwards, and
    the access-log entries the call produces."""
    reply: bool
    segments: list
    ops: list
    injected: bytes = b""
    logs: list = field(default_factory=list)


def request(segments, ops, injected=b"", logs=()):
    return Step(False, segments, ops, injected, list(logs))


def reply(segments, ops, injected=b"", logs=()):
    return Step(True, segments, ops, injected, list(logs))


@dataclass
class Vector:
    name: str
    policy: str
    steps: list
    proto: str = "textmemcached"

    @property
    def logs(self):
        return [log for step in self.steps for log in step.logs]


def passes(data):
    return ("PASS", len(data))


def drops(data):
    return ("DROP", len(data))


MORE2 = ("MORE", 2)
MORE24 = ("MORE", 24)


def text_allowed(policy, req, command, keys, replies=()):
    """A vector whose request passes and whose replies (each one OnData call) pass whole."""
    steps = [request([req], [passes(req), MORE2], logs=[text_log(REQUEST, command, keys)])]
    steps += [reply([r], [passes(r)], logs=[text_log(RESPONSE, command)]) for r in replies]
    return policy, steps


def text_denied(policy, req, command, keys):
    return policy, [request([req], [drops(req), MORE2], TEXT_DENIED, [text_log(DENIED, command, keys)])]


TEXT_VECTORS = [
    Vector("text set pass", *text_allowed(P.MEMCACHE_SET, SET_HELLO, "set", "key", [STORED])),
    Vector("text set drop", *text_denied(P.MEMCACHE_SET_KEY_TROLO, SET_HELLO, "set", "key")),
    Vector("text get pass", P.MEMCACHE_GET, [
        request([GET_KEYS, GET_KEYS], [passes(GET_KEYS), passes(GET_KEYS), MORE2],
                logs=[text_log(REQUEST, "get", "key1, key2, key3")] * 2),
        reply([GET_RESPONSE, GET_RESPONSE], [passes(GET_RESPONSE), passes(GET_RESPONSE)],
              logs=[text_log(RESPONSE, "get")] * 2),
    ]),
    # Upstream sends the start of a reply ("VALUE") in the request direction: no complete line yet.
    Vector("text get more", P.MEMCACHE_GET, [request([GET_RESPONSE[:5]], [MORE2])]),
    Vector("text get drop", *text_denied(P.MEMCACHE_SET, GET_KEYS, "get", "key1, key2, key3")),
    Vector("text gat pass", P.MEMCACHE_GAT, [
        request([GAT_KEYS, GAT_KEYS], [passes(GAT_KEYS), passes(GAT_KEYS), MORE2],
                logs=[text_log(REQUEST, "gat", "key1, key2, key3")] * 2),
        reply([GET_RESPONSE, GET_RESPONSE], [passes(GET_RESPONSE), passes(GET_RESPONSE)],
              logs=[text_log(RESPONSE, "gat")] * 2),
    ]),
    Vector("text gat more", P.MEMCACHE_GAT, [request([GET_RESPONSE[:5]], [MORE2])]),
    Vector("text gat drop", *text_denied(P.MEMCACHE_SET, GAT_KEYS, "gat", "key1, key2, key3")),
    Vector("text delete pass", *text_allowed(P.MEMCACHE_DELETE, DELETE, "delete", "key", [NOT_FOUND])),
    Vector("text delete drop", *text_denied(P.MEMCACHE_SET, DELETE, "delete", "key")),
    Vector("text incr pass", *text_allowed(P.MEMCACHE_INCR, INCR, "incr", "key", [NOT_FOUND])),
    Vector("text incr drop", *text_denied(P.MEMCACHE_INCR_OTHER_KEY, INCR, "incr", "key")),
    Vector("text touch pass", *text_allowed(P.MEMCACHE_TOUCH_KEY, TOUCH, "touch", "key", [NOT_FOUND])),
    Vector("text touch drop", *text_denied(P.MEMCACHE_TOUCH_OTHER_KEY, TOUCH, "touch", "key")),
    Vector("text slabs pass", *text_allowed(P.MEMCACHE_SLABS, SLABS, "slabs", "", [OK])),
    Vector("text slabs drop", *text_denied(P.MEMCACHE_TOUCH_OTHER_KEY, SLABS, "slabs", "")),
    # A multi-line reply cut inside its first line, then offered whole.
    Vector("text lru_crawler response req more and pass", P.MEMCACHE_LRU_CRAWLER, [
        request([LRU_CRAWLER], [passes(LRU_CRAWLER), MORE2], logs=[text_log(REQUEST, "lru_crawler", "")]),
        reply([LRU_CRAWLER_RESPONSE[:5]], [MORE2]),
        reply([LRU_CRAWLER_RESPONSE], [passes(LRU_CRAWLER_RESPONSE)], logs=[text_log(RESPONSE, "lru_crawler")]),
    ]),
    Vector("text stats response req more and pass", P.MEMCACHE_STATS, [
        request([STATS], [passes(STATS), MORE2], logs=[text_log(REQUEST, "stats", "")]),
        reply([STATS_RESPONSE[:5]], [MORE2]),
        reply([STATS_RESPONSE], [passes(STATS_RESPONSE)], logs=[text_log(RESPONSE, "stats")]),
    ]),
    Vector("text flush_all pass", *text_allowed(P.MEMCACHE_FLUSH_ALL, FLUSH_ALL, "flush_all", "")),
    Vector("text flush_all denied", *text_denied(P.MEMCACHE_GET_ONLY, FLUSH_ALL, "flush_all", "")),
    # After `watch` every reply line passes on its own; as upstream, the lines of the stream are not logged.
    Vector("text watch passed", P.MEMCACHE_WATCH, [
        request([WATCH], [passes(WATCH), MORE2], logs=[text_log(REQUEST, "watch", "")]),
        reply([WATCH_REPLY], [("PASS", 4)] + [("PASS", 91)] * 5),
    ]),
    # The first line ends in "\r": one more byte completes it. (Beyond upstream: the completed get is denied.)
    Vector("text partial linefeed", P.MEMCACHE_SET, [
        request([GET_KEYS[:-1]], [("MORE", 1)]),
        request([GET_KEYS], [drops(GET_KEYS), MORE2], TEXT_DENIED,
                [text_log(DENIED, "get", "key1, key2, key3")]),
    ]),
    Vector("text set pass on empty rule", *text_allowed(P.MEMCACHE_ALLOW_ALL, SET_HELLO, "set", "key", [STORED])),
]


def bin_vector(name, policy, steps):
    return Vector(name, policy, steps, proto="binarymemcached")


def bin_get_hello_passes(name, policy):
    return bin_vector(name, policy, [request([GET_HELLO], [passes(GET_HELLO), MORE24],
                                             logs=[bin_log(REQUEST, 0, "Hello")])])


BINARY_VECTORS = [
    bin_get_hello_passes("bin get pass exact key", P.MEMCACHE_GET_HELLO_EXACT),
    bin_get_hello_passes("bin get pass prefix key", P.MEMCACHE_GET_HELLO_PREFIX),
    bin_get_hello_passes("bin get pass regex key", P.MEMCACHE_GET_HELLO_REGEX),
    bin_vector("bin get drop", P.MEMCACHE_SET, [
        request([GET_HELLO], [drops(GET_HELLO), MORE24], UPSTREAM_DENIED, [bin_log(DENIED, 0, "Hello")]),
    ]),
    bin_vector("bin get more", P.MEMCACHE_GET, [request([GET_HELLO[:10]], [("MORE", 14)])]),
    bin_vector("bin get split", P.MEMCACHE_GET, [
        request([GET_HELLO[:10], GET_HELLO[10:]], [passes(GET_HELLO), MORE24], logs=[bin_log(REQUEST, 0, "Hello")]),
    ]),
    bin_vector("bin get remaining key", P.MEMCACHE_GET, [request([GET_HELLO[:26]], [("MORE", 3)])]),
    # Differs from upstream on purpose: the denial of the get waits behind the outstanding set's response (the
    # request call injects nothing), then goes out exactly once (upstream cilium/proxy#1889 queued it twice).
    bin_vector("bin set drop and allow", P.MEMCACHE_SET, [
        request([SET_HELLO_BIN, GET_HELLO], [passes(SET_HELLO_BIN), drops(GET_HELLO), MORE24], b"",
                [bin_log(REQUEST, 1, "Hello"), bin_log(DENIED, 0, "Hello")]),
        reply([GET_HELLO_RESPONSE], [passes(GET_HELLO_RESPONSE), ("INJECT", 37)], UPSTREAM_DENIED,
              [bin_log(RESPONSE, 0, "")]),
        reply([], [], b""),
    ]),
    # Ours: the denial carries the denied request's opcode and opaque.
    bin_vector("bin getk denial echoes opcode and opaque", P.MEMCACHE_SET, [
        request([GETK_HELLO], [drops(GETK_HELLO), MORE24], GETK_DENIED, [bin_log(DENIED, 0x0C, "Hello")]),
    ]),
    # binary/parser_test.go TestMemcacheGetKey: the key found with and without extras, and an empty key.
    bin_vector("bin parser key without extras", P.MEMCACHE_GET_TEST1_EXACT, [
        request([GET_TEST1], [passes(GET_TEST1), MORE24], logs=[bin_log(REQUEST, 0, "Test1")]),
    ]),
    bin_vector("bin parser key after extras", P.MEMCACHE_GET_TEST1_EXACT, [
        request([GET_TEST1_AFTER_EXTRAS], [passes(GET_TEST1_AFTER_EXTRAS), MORE24],
                logs=[bin_log(REQUEST, 0, "Test1")]),
    ]),
    bin_vector("bin parser no key", P.MEMCACHE_FLUSH_ALL, [
        request([FLUSH_WITH_EXTRAS], [passes(FLUSH_WITH_EXTRAS), MORE24], logs=[bin_log(REQUEST, 8, "")]),
    ]),
]

VECTORS = TEXT_VECTORS + BINARY_VECTORS


# ---- running a vector ----------------------------------------------------------------------------------------

def connect(library, instance, conn_id):
    result, conn = library.connect(instance, "memcache", conn_id, ingress=True, src_id=1, dst_id=2,
                                   src_addr="1.1.1.1:34567", dst_addr="10.0.0.2:80", policy_name="1.1.1.1")
    assert result == "OK"
    return conn


def run_on_data(conn, vector):
    """Upstream's CheckOnData: exact ops and inject buffer for each call."""
    for i, step in enumerate(vector.steps):
        got = conn.on_data_raw(step.segments, reply=step.reply)
        assert got == ("OK", step.ops, step.injected), f"step {i} ({'reply' if step.reply else 'request'})"


def datapath_outcome(step):
    """What the datapath must deliver for a step's ops: (bytes forwarded in the step's direction, with reply
    INJECTs in place; the input left unconsumed)."""
    data = b"".join(step.segments)
    position, injected_at, out = 0, 0, b""
    for op, n in step.ops:
        if op == "PASS":
            out += data[position:position + n]
            position += n
        elif op == "DROP":
            position += n
        elif op == "INJECT":
            out += step.injected[injected_at:injected_at + n]
            injected_at += n
        elif op == "MORE":
            break
    return out, data[position:]


def run_datapath(conn, vector):
    """The same traffic as the client and server would write it: a step that re-offers unconsumed input
    (OnData called directly does not buffer) only writes the new bytes."""
    leftover = {False: b"", True: b""}
    for i, step in enumerate(vector.steps):
        data = b"".join(step.segments)
        assert data.startswith(leftover[step.reply])
        writes = [data[len(leftover[step.reply]):]] if leftover[step.reply] else (step.segments or [b""])
        forwarded, leftover[step.reply] = datapath_outcome(step)
        if step.reply:
            outputs = [conn.server_sends(w) for w in writes]
            assert all(res == "OK" for res, _ in outputs), f"step {i}: {outputs}"
            assert b"".join(out for _, out in outputs) == forwarded, f"step {i}: client receives"
        else:
            outputs = [conn.client_sends(w) for w in writes]
            assert all(res == "OK" for res, _, _ in outputs), f"step {i}: {outputs}"
            assert b"".join(s for _, s, _ in outputs) == forwarded, f"step {i}: server receives"
            assert b"".join(c for _, _, c in outputs) == step.injected, f"step {i}: client receives"


def check_logs(entries, vector, runs):
    """The entries of `runs` runs of the vector, in order."""
    for entry in entries:
        assert entry.WhichOneof("l7") == "generic_l7"
        assert entry.generic_l7.proto == vector.proto
        assert entry.policy_name == "1.1.1.1" and entry.is_ingress
        assert entry.source_security_id == 1 and entry.destination_security_id == 2
    got = []
    for entry in entries:
        fields = dict(entry.generic_l7.fields)
        if entry.entry_type == RESPONSE and vector.proto == "textmemcached":
            fields = {"command": fields.get("command")}
        got.append(Log(entry.entry_type, fields))
    assert got == vector.logs * runs


@pytest.mark.parametrize("vector", VECTORS, ids=[v.name for v in VECTORS])
def test_memcache_vector(library, npds, collector, logged_module, next_id, vector):
    npds.install("1", vector.policy)

    conn = connect(library, logged_module, next_id())
    try:
        run_on_data(conn, vector)
    finally:
        conn.close()

    conn = connect(library, logged_module, next_id())
    try:
        run_datapath(conn, vector)
    finally:
        conn.close()

    if vector.logs:
        collector.wait_for_count(2 * len(vector.logs))
    check_logs(collector.settle(quiet=0.1), vector, runs=2)


# ---- policies the library must reject --------------------------------------------------------------------------

NACKED = [
    # (name, policy, words the NACK's error text must all contain)
    ("key rule without command", P.MEMCACHE_KEY_WITHOUT_COMMAND, ["memcache", "command", "key"]),
    ("unknown rule key", P.MEMCACHE_UNKNOWN_RULE_KEY, ["memcache", "keyGlob"]),
    ("unknown command", P.MEMCACHE_UNKNOWN_COMMAND, ["memcache", "frobnicate"]),
    ("invalid key regex", P.MEMCACHE_INVALID_KEY_REGEX, ["regular expression", "(unclosed"]),
]


@pytest.mark.parametrize("name,policy,mentions", NACKED, ids=[n[0] for n in NACKED])
def test_invalid_memcache_rules_are_nacked(library, npds, module, next_id, name, policy, mentions):
    nack = npds.wait_for_nack(npds.push("1", [policy]))
    assert nack.version == ""
    assert all(word in nack.error for word in mentions), nack.error
    # Nothing was installed: without a policy the request is denied.
    conn = connect(library, module, next_id())
    try:
        assert conn.client_sends(GET_KEYS) == ("OK", b"", TEXT_DENIED)
    finally:
        conn.close()
