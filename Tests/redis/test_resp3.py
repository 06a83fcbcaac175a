"""RESP3 through the proxy: redis-py with protocol=3 (HELLO 3 on connect), RESP3 replies (maps, sets, doubles,
nulls; every other type in test_replies.py), denials, and client-side caching invalidation pushes."""
import pytest
import redis

from rd_wire import command, denied


def test_hello_handshake(r3, wire):
    hello = r3.execute_command("HELLO", "3")
    assert hello["proto"] == 3 and hello["server"] == "redis"
    w = wire()
    reply = w.ask(("HELLO", "3"))[0]
    assert reply.startswith(b"%7\r\n") and b"proto\r\n:3\r\n" in reply
    # Back to RESP2 on the same connection: arrays again.
    assert w.ask(("HELLO", "2"))[0].startswith(b"*14\r\n")
    assert w.ask(("HGETALL", "pub:none"))[0] == b"*0\r\n"


def test_resp3_types_through_redis_py(r3, direct, key):
    h, z, s, k, n = key(), key(), key(), key(), key()
    assert r3.hset(h, mapping={"a": "1", "b": "2"}) == 2
    assert r3.hgetall(h) == {"a": "1", "b": "2"}                                   # map
    assert r3.sadd(s, "x", "y") == 2 and r3.smembers(s) == {"x", "y"}               # set
    assert r3.zadd(z, {"m": 1.5}) == 1 and r3.zscore(z, "m") == 1.5                 # double
    assert r3.zrange(z, 0, -1, withscores=True) == [["m", 1.5]]
    assert r3.get(k) is None                                                         # null
    assert r3.set(n, "10") is True and r3.incrbyfloat(n, 0.5) == 10.5
    assert r3.execute_command("ECHO", "hi") == "hi"
    assert direct.hgetall(h) == {"a": "1", "b": "2"}


def test_resp3_reply_types_on_the_wire(wire, direct, key):
    """Replies of every RESP3 shape framed one by one; a denial after each lands in its place."""
    h, z, s, d = key(), key(), key(), key("priv")
    direct.hset(h, mapping={"f": "v"})
    direct.zadd(z, {"m": 2.5})
    direct.sadd(s, "e")
    w = wire()
    w.ask(("HELLO", "3"))
    replies = w.ask(("HGETALL", h), ("GET", d), ("ZSCORE", z, "m"), ("GET", d), ("SMEMBERS", s), ("GET", d),
                    ("GET", key()), ("GET", d), ("EXISTS", h), ("GET", d))
    assert replies == [b"%1\r\n$1\r\nf\r\n$1\r\nv\r\n", denied("get"), b",2.5\r\n", denied("get"),
                       b"~1\r\n$1\r\ne\r\n", denied("get"), b"_\r\n", denied("get"), b":1\r\n", denied("get")]


def test_resp3_denials(r3, direct, key):
    d = key("priv")
    with pytest.raises(redis.exceptions.NoPermissionError, match="does not allow 'hset'"):
        r3.hset(d, "f", "v")
    with pytest.raises(redis.exceptions.NoPermissionError, match="does not allow 'flushall'"):
        r3.flushall()
    pipe = r3.pipeline(transaction=True)
    pipe.set(key(), "1").hgetall(d)
    with pytest.raises(redis.exceptions.NoPermissionError, match="does not allow 'hgetall'"):
        pipe.execute()
    assert direct.exists(d) == 0
    assert r3.ping() is True


def test_tracking_invalidation_pushes(wire, direct, key):
    """CLIENT TRACKING: the server pushes `invalidate` when a key the client read changes. The push answers no
    request: the reply and denial after it stay in order."""
    k, d = key(), key("priv")
    direct.set(k, "1")
    w = wire()
    assert w.ask(("HELLO", "3"))[0].startswith(b"%")
    assert w.ask(("CLIENT", "TRACKING", "ON"), ("GET", k)) == [b"+OK\r\n", b"$1\r\n1\r\n"]
    direct.set(k, "2")
    invalidate = b">2\r\n$10\r\ninvalidate\r\n*1\r\n$%d\r\n%s\r\n" % (len(k), k.encode())
    assert w.read_reply() == invalidate
    assert w.ask(("GET", d), ("GET", k)) == [denied("get"), b"$1\r\n2\r\n"]
    # A push while requests are outstanding: the replies keep their order around it.
    w.send(command("GET", d) + command("GET", k))
    direct.set(k, "3")
    w.send(command("GET", d) + command("GET", k))
    replies = [w.read_reply() for _ in range(5)]
    assert [x for x in replies if x.startswith(b">")] == [invalidate]
    assert [x for x in replies if not x.startswith(b">")] in (
        [denied("get"), b"$1\r\n2\r\n", denied("get"), b"$1\r\n3\r\n"],
        [denied("get"), b"$1\r\n3\r\n", denied("get"), b"$1\r\n3\r\n"])


def test_redis_cli_resp3_hello(cli):
    out = cli("HELLO", "3", resp3=True)
    assert '"proto" => (integer) 3' in out, out
