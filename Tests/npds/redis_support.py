"""Shared pieces of the Redis policy tests (test_redis_policies.py): request bytes from a real client's encoder,
the texts the parser answers with, redis port policies, and a conversation runner that drives a connection
through the C datapath and checks what the server and the client receive.

Requests are encoded by redis-py's own RESP serializer (`redis.connection.Connection.pack_command`, pure Python:
`PythonRespSerializer`), so the multibulk bytes are exactly what that client writes; inline commands (what
redis-cli and telnet users type) are written by hand.
"""
from dataclasses import dataclass, field

import redis.connection

import accesslog_pb2
import policies as P

REQUEST, DENIED, RESPONSE = accesslog_pb2.Request, accesslog_pb2.Denied, accesslog_pb2.Response

# ---- requests ------------------------------------------------------------------------------------------------

# No socket is opened: pack_command only encodes (redis-py's PythonRespSerializer over its Encoder).
_CLIENT = redis.connection.Connection()
assert isinstance(_CLIENT._command_packer, redis.connection.PythonRespSerializer)


def cmd(*args):
    """One command as redis-py writes it: `*N` then N bulk strings. (redis-py splits a first argument with a
    blank, `cmd("CONFIG GET", "x")` is CONFIG, GET, x, as `Redis.execute_command` does.)"""
    return b"".join(_CLIENT.pack_command(*args))


def pipeline(*commands):
    """Several commands in one write, as redis-py's pipeline packs them."""
    return b"".join(_CLIENT.pack_commands([c for c in commands]))


def inline(line):
    """An inline command: one text line, as typed into telnet or sent by redis-cli for some commands."""
    return (line if isinstance(line, bytes) else line.encode()) + b"\r\n"


# ---- replies -------------------------------------------------------------------------------------------------

OK = b"+OK\r\n"
QUEUED = b"+QUEUED\r\n"
NIL = b"$-1\r\n"


def bulk(data):
    data = data if isinstance(data, bytes) else data.encode()
    return b"$%d\r\n%s\r\n" % (len(data), data)


def integer(n):
    return b":%d\r\n" % n


def array(*items):
    return b"*%d\r\n" % len(items) + b"".join(items)


def push_confirmation(kind, channel, count):
    """A RESP2 (un)subscribe confirmation: [kind, channel, count]."""
    return array(bulk(kind), bulk(channel), integer(count))


# ---- what the parser writes ------------------------------------------------------------------------------------

def denied(command):
    """The client's reply to a denied command the table knows (`get`, `config|get`)."""
    return b"-NOPERM the network policy does not allow '%s'\r\n" % command.encode()


DENIED_UNKNOWN = b"-NOPERM the network policy does not allow this command\r\n"
EXECABORT = b"-EXECABORT Transaction discarded: a queued command was denied by policy\r\n"
# What the server receives in place of the EXEC of a transaction that lost a command: redis-py's own DISCARD.
DISCARD = cmd("DISCARD")


# ---- policies ------------------------------------------------------------------------------------------------

def _text_value(value):
    return value.replace("\\", "\\\\").replace('"', '\\"')


def redis_policy(*allow, deny=(), remotes=(1, 3, 4)):
    """A redis port policy on port 80 of endpoint 1.1.1.1: generic l7 allow rules (dicts; {} is a rule without
    conditions) and deny rules. Without any rule at all the port has `l7_proto: "redis"` only."""
    def escaped(rules):
        return [{k: _text_value(v) for k, v in rule.items()} for rule in rules]
    rules = P.l7_rules(*escaped(allow), deny=escaped(deny)) if allow or deny else ""
    return P.port_policy("redis", rules, remotes=remotes)


def connect(library, instance, conn_id, src_id=1):
    result, conn = library.connect(instance, "redis", conn_id, ingress=True, src_id=src_id, dst_id=2,
                                   src_addr="1.1.1.1:34567", dst_addr="10.0.0.2:80", policy_name="1.1.1.1")
    assert result == "OK", result
    return conn


# ---- conversations -------------------------------------------------------------------------------------------

@dataclass
class Client:
    """The client writes `data`: the server must receive `server`, the client `client` (denials answered at
    once), and the datapath must report `result`."""
    data: bytes
    server: bytes = b""
    client: bytes = b""
    result: str = "OK"


@dataclass
class Server:
    """The server writes `data`: the client must receive `client` (replies, with denials in their places)."""
    data: bytes
    client: bytes = None  # None: exactly `data`
    result: str = "OK"


@dataclass
class Install:
    """A new policy over NPDS between two writes; the connection stays open."""
    policy: str


@dataclass
class Conversation:
    name: str
    allow: list
    events: list
    deny: list = field(default_factory=list)
    # How the writes are cut: whole (None), and in pieces of so many bytes.
    splits: tuple = (None, 1, 5)

    @property
    def policy(self):
        return redis_policy(*self.allow, deny=self.deny)


def chunks(data, size):
    return [data[i:i + size] for i in range(0, len(data), size)] or [b""]


def play(conn, events, install, split=None):
    """Runs the events on `conn`. With `split`, every write is delivered in pieces of `split` bytes (what the
    receivers get is then compared as a whole, after the last piece)."""
    for i, event in enumerate(events):
        if isinstance(event, Install):
            install(event.policy)
            continue
        pieces = chunks(event.data, split) if split else [event.data]
        if isinstance(event, Client):
            outputs = [conn.client_sends(p) for p in pieces]
            results = [r for r, _, _ in outputs]
            to_server = b"".join(s for _, s, _ in outputs)
            to_client = b"".join(c for _, _, c in outputs)
            where = f"event {i} (client writes {event.data!r})"
            assert results[-1] == event.result and all(r == "OK" for r in results[:-1]), f"{where}: {results}"
            assert to_server == event.server, f"{where}: the server receives {to_server!r}, not {event.server!r}"
            assert to_client == event.client, f"{where}: the client receives {to_client!r}, not {event.client!r}"
        else:
            outputs = [conn.server_sends(p) for p in pieces]
            results = [r for r, _ in outputs]
            to_client = b"".join(c for _, c in outputs)
            expected = event.data if event.client is None else event.client
            where = f"event {i} (server writes {event.data!r})"
            assert results[-1] == event.result and all(r == "OK" for r in results[:-1]), f"{where}: {results}"
            assert to_client == expected, f"{where}: the client receives {to_client!r}, not {expected!r}"
        if event.result != "OK":
            return


# ---- access log --------------------------------------------------------------------------------------------

@dataclass
class RLog:
    """An expected redis access-log entry: its type and generic_l7 fields."""
    type: int
    fields: dict


def req(command, keys="", db="0", field_name="keys"):
    return RLog(REQUEST, {"command": command, field_name: keys, "db": db})


def den(command, keys="", db="0", field_name="keys"):
    return RLog(DENIED, {"command": command, field_name: keys, "db": db})


def resp(command):
    return RLog(RESPONSE, {"command": command})


def check_redis_entries(entries, expected, src_id=1):
    for entry in entries:
        assert entry.WhichOneof("l7") == "generic_l7"
        assert entry.generic_l7.proto == "redis"
        assert entry.policy_name == "1.1.1.1" and entry.is_ingress
        assert entry.source_security_id == src_id and entry.destination_security_id == 2
    got = [RLog(e.entry_type, dict(e.generic_l7.fields)) for e in entries]
    assert got == expected, "entries:\n  " + "\n  ".join(map(repr, got)) + "\nexpected:\n  " + "\n  ".join(map(repr, expected))
