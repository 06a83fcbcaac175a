"""proxylib-host's access log (--log-json) for redis: generic_l7 entries with proto "redis" — Request and Denied
entries {command, keys (or channels), db}, Response entries {command} — and never a value."""
import pytest
import redis

from host_procs import wait_for
from rd_wire import command


def fields_of(proxy, source, types=("Request", "Denied")):
    return [(e["entry_type"], e["generic_l7"]["fields"]) for e in proxy.entries()
            if e.get("source_address") == source and e.get("entry_type") in types
            and e.get("generic_l7", {}).get("proto") == "redis"]


def source_of(wire_connection):
    return "127.0.0.1:%d" % wire_connection.sock.getsockname()[1]


def test_request_and_denied_entries(proxy, redis_server, wire, key):
    k, k2, d, ch = key(), key(), key("priv"), key("news.")
    secret_value = "VALUE-THAT-MUST-NOT-BE-LOGGED"
    w = wire()
    w.ask(("SET", k, secret_value), ("MSET", k, secret_value, k2, secret_value), ("GET", d),
          ("CONFIG", "GET", "maxmemory"), ("PUBLISH", ch, secret_value), ("SELECT", "2"), ("HSET", k, "f", secret_value),
          ("FOO.Bar", k, secret_value), ("EVAL", "return 'SCRIPT-BODY'", "1", k, secret_value))
    source = source_of(w)
    wait_for(lambda: len(fields_of(proxy, source)) >= 9, "nine request entries")
    assert fields_of(proxy, source) == [
        ("Request", {"command": "set", "keys": k, "db": "0"}),
        ("Request", {"command": "mset", "keys": f"{k} {k2}", "db": "0"}),
        ("Denied", {"command": "get", "keys": d, "db": "0"}),
        ("Denied", {"command": "config|get", "keys": "", "db": "0"}),
        ("Request", {"command": "publish", "channels": ch, "db": "0"}),
        ("Request", {"command": "select", "keys": "", "db": "2"}),
        ("Request", {"command": "hset", "keys": k, "db": "2"}),
        ("Denied", {"command": "FOO.Bar", "keys": "", "db": "2"}),
        ("Request", {"command": "eval", "keys": k, "db": "2"}),
    ]
    out = proxy.process.out
    assert secret_value not in out and "SCRIPT-BODY" not in out and "maxmemory" not in out


def test_response_entries(proxy, wire, key):
    k = key()
    w = wire()
    w.ask(("SET", k, "v"), ("GET", key("priv")), ("CONFIG", "GET", "port"), ("GET", k))
    source = source_of(w)
    wait_for(lambda: len(fields_of(proxy, source, ("Response",))) >= 2, "the response entries")
    # One per request the server answered: denied requests have none.
    assert fields_of(proxy, source, ("Response",)) == [("Response", {"command": "set"}), ("Response", {"command": "get"})]


def test_keys_field_is_bounded(proxy, wire, key):
    """At most 16 keys and 256 bytes, then " …"."""
    keys = [key() for _ in range(20)]
    long_keys = [key() + "x" * 100 for _ in range(4)]
    w = wire()
    w.ask(command("MGET", *keys), command("MGET", *long_keys))
    source = source_of(w)
    wait_for(lambda: len(fields_of(proxy, source)) >= 2, "the entries")
    (_, many), (_, long) = fields_of(proxy, source)
    assert many["keys"] == " ".join(keys[:16]) + " …"
    assert long["keys"].endswith(" …") and len(long["keys"].encode()) <= 256 + 4
    assert " ".join(long_keys).startswith(long["keys"][:-2])


def test_redis_py_session_entries(proxy, r, key):
    """What a redis-py connection logs: its handshake (CLIENT SETINFO) and its commands."""
    k = key()
    r.set(k, "v")
    with pytest.raises(redis.exceptions.NoPermissionError):
        r.get(key("priv"))
    def entries():
        return [(e["entry_type"], e["generic_l7"]["fields"]) for e in proxy.entries() if "generic_l7" in e]
    wait_for(lambda: ("Request", {"command": "set", "keys": k, "db": "0"}) in entries(), "the SET entry")
    assert ("Request", {"command": "client|setinfo", "keys": "", "db": "0"}) in entries()
