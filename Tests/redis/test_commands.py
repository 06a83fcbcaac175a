"""Single commands through the proxy under the standing policy (rd_policy.DEFAULT_RULES: keys under "pub:"),
with redis-py, redis-cli and raw connections: allowed commands do what redis does; denied ones get NOPERM and
never reach redis-server (checked on the server itself)."""
import pytest
import redis

from rd_wire import UNKNOWN_DENIED, denied


def test_allowed_commands_with_redis_py(r, direct, key):
    k, k2, h, lst, n, s, z1, z2, zd = (key() for _ in range(9))
    assert r.set(k, "v1") is True and r.get(k) == "v1"
    assert r.mset({k2: "v2", n: "41"}) is True
    assert r.mget([k, k2, key()]) == ["v1", "v2", None]
    assert r.hset(h, mapping={"f1": "a", "f2": "b"}) == 2 and r.hgetall(h) == {"f1": "a", "f2": "b"}
    assert r.lpush(lst, "x", "y", "z") == 3 and r.lrange(lst, 0, -1) == ["z", "y", "x"]
    assert r.incr(n) == 42
    assert r.expire(k, 100) is True and 0 < r.ttl(k) <= 100
    entry = r.xadd(s, {"field": "value"})
    assert r.xread({s: "0-0"}) == [[s, [(entry, {"field": "value"})]]]
    assert r.zadd(z1, {"a": 1, "b": 2}) == 2 and r.zadd(z2, {"b": 3, "c": 4}) == 2
    assert r.zunionstore(zd, [z1, z2]) == 3
    assert r.zrange(zd, 0, -1, withscores=True) == [("a", 1.0), ("c", 4.0), ("b", 5.0)]
    assert r.eval("return redis.call('SET', KEYS[1], ARGV[1])", 1, key_e := key(), "from-lua") == "OK"
    prefix = k.rsplit(":", 1)[0]
    found = set()
    for name in r.scan_iter(match=f"{prefix}:*", count=100):
        found.add(name)
    assert {k, k2, h, lst, n, s, z1, z2, zd, key_e} <= found
    assert r.delete(k, k2) == 2
    # What redis-server holds.
    assert direct.get(k) is None and direct.get(n) == "42" and direct.get(key_e) == "from-lua"
    assert direct.hgetall(h) == {"f1": "a", "f2": "b"} and direct.zscore(zd, "b") == 5.0
    assert r.ping() is True and r.echo("hi") == "hi"


# (what, call(client, denied key, allowed key)): each denied by the standing policy.
DENIED = [
    ("set", lambda c, d, k: c.set(d, "v")),
    ("get", lambda c, d, k: c.get(d)),
    ("mset", lambda c, d, k: c.mset({k: "1", d: "2"})),
    ("hset", lambda c, d, k: c.hset(d, "f", "v")),
    ("lpush", lambda c, d, k: c.lpush(d, "x")),
    ("incrby", lambda c, d, k: c.incr(d)),  # redis-py sends INCRBY
    ("del", lambda c, d, k: c.delete(k, d)),
    ("expire", lambda c, d, k: c.expire(d, 10)),
    ("eval", lambda c, d, k: c.eval("return redis.call('SET', KEYS[1], 'x')", 1, d)),
    ("flushdb", lambda c, d, k: c.flushdb()),
    ("keys", lambda c, d, k: c.keys("*")),
    ("config|set", lambda c, d, k: c.config_set("maxmemory-policy", "allkeys-lru")),
    ("config|get", lambda c, d, k: c.config_get("maxmemory")),
    ("dbsize", lambda c, d, k: c.dbsize()),
]


@pytest.mark.parametrize("name,call", DENIED, ids=[d[0] for d in DENIED])
def test_denied_commands_with_redis_py(name, call, r, direct, key):
    d, k = key("priv"), key()
    direct.set(k, "kept")
    with pytest.raises(redis.exceptions.NoPermissionError) as e:
        call(r, d, k)
    assert str(e.value) == f"the network policy does not allow '{name}'"
    # Nothing happened on the server: no key created or removed, no setting changed.
    assert direct.exists(d) == 0 and direct.get(k) == "kept"
    assert direct.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
    # The connection goes on.
    assert r.get(k) == "kept"


def test_redis_cli_allowed_and_denied(cli, direct, key):
    k, d = key(), key("priv")
    assert cli("SET", k, "from cli") == "OK\n"
    assert cli("GET", k) == '"from cli"\n'
    assert cli("INCR", key_n := key()) == "(integer) 1\n"
    assert cli("SET", d, "x") == "(error) NOPERM the network policy does not allow 'set'\n"
    assert cli("CONFIG", "GET", "maxmemory") == "(error) NOPERM the network policy does not allow 'config|get'\n"
    assert direct.get(k) == "from cli" and direct.get(key_n) == "1" and direct.exists(d) == 0


def test_redis_cli_resp3(cli, direct, key):
    h, d = key(), key("priv")
    direct.hset(h, mapping={"f": "v"})
    direct.set(key_f := key(), "1.5")
    assert cli("HGETALL", h, resp3=True) == '1# "f" => "v"\n'
    assert cli("INCRBYFLOAT", key_f, "1", resp3=True) == '"2.5"\n'
    assert cli("ZADD", key_z := key(), "1.5", "m", resp3=True) == "(integer) 1\n"
    assert cli("ZSCORE", key_z, "m", resp3=True) == "(double) 1.5\n"
    assert cli("HGETALL", d, resp3=True) == "(error) NOPERM the network policy does not allow 'hgetall'\n"
    assert cli("SET", d, "x", resp3=True) == "(error) NOPERM the network policy does not allow 'set'\n"
    assert direct.exists(d) == 0


def test_redis_cli_pipe(cli, direct, key):
    """redis-cli --pipe: a mass insertion in one stream; the denied SETs are counted as errors."""
    keys = [key() for _ in range(50)]
    d = key("priv")
    lines = [f"SET {k} v{i}" for i, k in enumerate(keys[:25])] + [f"SET {d} no"] + \
        [f"SET {k} v{i + 25}" for i, k in enumerate(keys[25:])]
    out = cli(extra=["--pipe"], stdin="".join(line + "\r\n" for line in lines), exit_code=1)
    assert "errors: 1, replies: 51" in out, out
    assert direct.mget(keys) == [f"v{i}" for i in range(50)] and direct.exists(d) == 0


def test_inline_commands_and_exact_denials(wire, direct, key):
    k, d = key(), key("priv")
    w = wire()
    assert w.ask(f"SET {k} 'inline value'\r\n".encode()) == [b"+OK\r\n"]
    assert w.ask(f"GET {k}\r\n".encode(), f'SET {d} "x y"\r\n'.encode(), b"PING\r\n") == [
        b"$12\r\ninline value\r\n", denied("set"), b"+PONG\r\n"]
    assert w.ask(("GET", d), ("PING",), ("FOO.BAR", k), ("CONFIG", "GET", "port"), ("OBJECT", "ENCODING", d)) == [
        denied("get"), b"+PONG\r\n", UNKNOWN_DENIED, denied("config|get"), denied("object|encoding")]
    assert direct.get(k) == "inline value" and direct.exists(d) == 0


def test_large_values(r, direct, key):
    """A value of 1 MiB goes through (its bytes stream past the parser), and a denied one never arrives."""
    k, d = key(), key("priv")
    value = "x" * (1 << 20)
    assert r.set(k, value) is True and r.get(k) == value
    with pytest.raises(redis.exceptions.NoPermissionError):
        r.set(d, value)
    assert direct.strlen(k) == 1 << 20 and direct.exists(d) == 0
    assert r.append(k, "tail") == (1 << 20) + 4


def test_malformed_request_closes_the_connection(wire, direct, key):
    k = key()
    w = wire()
    assert w.ask(("SET", k, "before")) == [b"+OK\r\n"]
    w.send(b"*2\r\n$3\r\nGET\r\n:1\r\n")  # a bulk header that is not `$`
    assert w.closed_by_peer()
    assert direct.get(k) == "before"


def test_empty_requests_pass(wire):
    """An empty inline line and *0 get no reply; the next command is answered."""
    w = wire()
    assert w.ask(b"\r\n*0\r\nPING\r\n") == [b"+PONG\r\n"]


def test_inline_quoting_is_decoded_before_judging(wire, direct, key):
    """Inline commands are split as redis splits them: escapes and quotes are decoded before the key is judged."""
    u = key("").strip(":").replace(":", "-")
    w = wire()
    assert w.ask(f'SET "pub\\x3a{u}" "a\\tb"\r\n'.encode(), f"SET 'priv:{u} x' v\r\n".encode(),
                 f'SET "pr\\x69v:{u}" v\r\n'.encode(), f"GET 'pub:{u}'\r\n".encode()) == [
        b"+OK\r\n", denied("set"), denied("set"), b"$3\r\na\tb\r\n"]
    assert direct.get(f"pub:{u}") == "a\tb" and direct.exists(f"priv:{u} x", f"priv:{u}") == 0


def test_unbalanced_quotes_close_the_connection(wire, direct, key):
    """redis answers a protocol error and closes; the proxy closes at once (the request never reaches redis)."""
    k = key()
    w = wire()
    w.send(f'SET {k} "unterminated\r\n'.encode())
    assert w.closed_by_peer()
    assert direct.exists(k) == 0


def test_binary_keys(proxy, direct, key):
    from conftest import proxied_client
    k = key().encode() + b"\x00\xff\r\n"
    d = key("priv").encode() + b"\x00"
    raw = proxied_client(proxy.port, decode_responses=False)
    try:
        assert raw.set(k, b"\x00v\xff") is True and raw.get(k) == b"\x00v\xff"
        with pytest.raises(redis.exceptions.NoPermissionError):
            raw.set(d, b"x")
    finally:
        raw.close()
    assert direct.exists(k) == 1 and direct.exists(d) == 0


def test_many_keys(r, direct, key):
    keys = [key() for _ in range(3000)]
    assert r.mset({k: "1" for k in keys}) is True
    assert r.exists(*keys) == 3000
    with pytest.raises(redis.exceptions.NoPermissionError):
        r.delete(*keys, key("priv"))
    assert direct.exists(*keys) == 3000
    assert r.delete(*keys) == 3000


def test_large_values_before_a_denied_key(r, direct, key):
    """MSET whose denied key comes after a 200 KiB value: judged when that key has arrived; nothing is stored."""
    k, d, k2 = key(), key("priv"), key()
    big = "b" * (200 << 10)
    with pytest.raises(redis.exceptions.NoPermissionError):
        r.mset({k: big, d: big, k2: "x"})
    assert direct.exists(k, d, k2) == 0
    assert r.mset({k: big, k2: big}) is True and direct.strlen(k2) == 200 << 10


def test_oversized_bulk_length_closes_the_connection(wire):
    """A bulk longer than redis's 512 MiB limit: malformed, the connection is closed (redis does the same)."""
    w = wire()
    assert w.ask(("PING",)) == [b"+PONG\r\n"]
    w.send(b"*2\r\n$3\r\nGET\r\n$536870913\r\n")
    assert w.closed_by_peer()
