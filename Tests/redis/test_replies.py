"""Replies of every shape framed one by one, so that each answers its own request and a denial pipelined after
it lands after it: every RESP2/RESP3 type (DEBUG PROTOCOL), large and nested replies, replies that come late
(blocking commands), requests that arrive a byte at a time, CLIENT REPLY OFF/SKIP, MONITOR, RESET, QUIT."""
import socket
import time

import pytest

from rd_policy import DEFAULT_RULES, policy_yaml
from rd_wire import Wire, command, denied

TYPES = ["string", "integer", "double", "bignum", "null", "array", "set", "map", "attrib", "push", "verbatim",
         "true", "false"]


def replies_until(w, marker):
    out = []
    while True:
        reply = w.read_reply()
        if reply == marker:
            return out
        out.append(reply)


@pytest.mark.parametrize("protocol", ["2", "3"])
def test_every_reply_type(protocol, policy, redis_server, wire, key):
    """DEBUG PROTOCOL <type> through the proxy, a denied GET pipelined after each: the client reads exactly what
    redis-server sends a direct connection, then the NOPERM."""
    assert policy.set_policy(policy_yaml(redis_server.port, DEFAULT_RULES + [{"command": "debug"}])) is None
    d = key("priv")
    direct = Wire(redis_server.port)
    proxied = wire()
    try:
        for w in (direct, proxied):
            assert w.ask(("HELLO", protocol))[0][:1] in (b"*", b"%")
        for t in TYPES:
            direct.send(command("DEBUG", "PROTOCOL", t) + command("ECHO", "marker"))
            expected = replies_until(direct, b"$6\r\nmarker\r\n")
            proxied.send(command("DEBUG", "PROTOCOL", t) + command("GET", d) + command("ECHO", "marker"))
            got = replies_until(proxied, b"$6\r\nmarker\r\n")
            assert got == expected + [denied("get")], t
    finally:
        direct.close()


def test_large_and_nested_replies(wire, direct, key):
    lst, s, d = key(), key(), key("priv")
    direct.rpush(lst, *[f"element-{i}" for i in range(20000)])
    for i in range(50):
        direct.xadd(s, {"f": "x" * 100, "n": str(i)})
    w = wire()
    w.send(command("LRANGE", lst, "0", "-1") + command("GET", d) + command("XRANGE", s, "-", "+")
           + command("GET", d) + command("COMMAND") + command("GET", d) + command("XINFO", "STREAM", s, "FULL")
           + command("GET", d) + command("PING"))
    replies = [w.read_reply() for _ in range(9)]
    assert replies[0].startswith(b"*20000\r\n") and replies[0].endswith(b"$13\r\nelement-19999\r\n")
    assert replies[2].startswith(b"*50\r\n") and replies[4].startswith(b"*") and len(replies[4]) > 50000
    assert replies[6].startswith(b"*")
    assert replies[1::2][:4] == [denied("get")] * 4 and replies[8] == b"+PONG\r\n"
    w.ask(("HELLO", "3"))
    w.send(command("XINFO", "STREAM", s, "FULL") + command("GET", d) + command("COMMAND", "INFO", "get", "sort")
           + command("GET", d))
    replies = [w.read_reply() for _ in range(4)]
    assert replies[0].startswith(b"%") and replies[2].startswith(b"*2\r\n")
    assert replies[1] == replies[3] == denied("get")


def test_a_late_reply_keeps_its_place(wire, direct, key):
    """BLPOP blocks in the server: the NOPERM of the denied GET pipelined after it must wait for BLPOP's reply."""
    k, d = key(), key("priv")
    w = wire()
    w.send(command("BLPOP", k, "5") + command("GET", d))
    w.sock.settimeout(0.5)
    with pytest.raises((socket.timeout, TimeoutError)):
        w.sock.recv(1)
    w.sock.settimeout(5)
    assert direct.rpush(k, "late") == 1
    assert [w.read_reply() for _ in range(2)] == [
        b"*2\r\n$%d\r\n%s\r\n$4\r\nlate\r\n" % (len(k), k.encode()), denied("get")]


def test_requests_a_byte_at_a_time(wire, direct, key):
    k, d = key(), key("priv")
    w = wire()
    w.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    data = command("SET", k, "slow") + command("SET", d, "x") + f"GET {k}\r\n".encode() + command("PING")
    for i in range(len(data)):
        w.send(data[i:i + 1])
        time.sleep(0.001)
    assert [w.read_reply() for _ in range(4)] == [b"+OK\r\n", denied("set"), b"$4\r\nslow\r\n", b"+PONG\r\n"]
    assert direct.exists(d) == 0


def test_denied_request_with_a_large_value_then_more(wire, direct, key):
    """A denied SET whose 3 MiB value arrives in many reads (dropped without reaching the server), then
    pipelined commands: their replies follow the NOPERM."""
    k, d = key(), key("priv")
    w = wire()
    w.send(command("SET", d, "v" * (3 << 20)) + command("SET", k, "after") + command("GET", "{0}".format(k)))
    assert [w.read_reply() for _ in range(3)] == [denied("set"), b"+OK\r\n", b"$5\r\nafter\r\n"]
    big_key = key() + "k" * (100 << 10)
    big_denied = key("priv") + "k" * (100 << 10)
    assert w.ask(("SET", big_key, "v"), ("GET", big_denied), ("STRLEN", big_key)) == [
        b"+OK\r\n", denied("get"), b":1\r\n"]
    assert direct.exists(d) == 0 and direct.get(k) == "after"


def test_client_reply_off_and_skip(wire, direct, key):
    """With CLIENT REPLY OFF the server answers nothing; neither does the proxy for denied commands. SKIP before
    an allowed command: that command's reply is skipped."""
    k, d = key(), key("priv")
    w = wire()
    w.send(command("CLIENT", "REPLY", "SKIP") + command("SET", k, "1") + command("GET", k)
           + command("CLIENT", "REPLY", "OFF") + command("SET", d, "x") + command("INCR", k) + command("GET", d)
           + command("CLIENT", "REPLY", "ON") + command("GET", d) + command("GET", k))
    assert [w.read_reply() for _ in range(4)] == [b"$1\r\n1\r\n", b"+OK\r\n", denied("get"), b"$1\r\n2\r\n"]
    assert not w.closed_by_peer(timeout=0.3) and w.buffer == b""
    assert direct.exists(d) == 0


def test_client_reply_skip_before_a_denied_command(wire, direct, key):
    k, d = key(), key("priv")
    w = wire()
    w.sock.settimeout(2)
    w.send(command("CLIENT", "REPLY", "SKIP") + command("GET", d) + command("SET", k, "1") + command("PING"))
    # redis with an ACL denying GET: GET's error is skipped, SET answers +OK, PING +PONG.
    assert [w.read_reply() for _ in range(2)] == [b"+OK\r\n", b"+PONG\r\n"]


def test_monitor(policy, redis_server, wire, r, key):
    assert policy.set_policy(policy_yaml(redis_server.port, DEFAULT_RULES + [{"command": "monitor"}])) is None
    k = key()
    m = wire()
    assert m.ask(("MONITOR",)) == [b"+OK\r\n"]
    r.set(k, "watched")
    deadline = time.monotonic() + 5
    seen = b""
    while k.encode() not in seen and time.monotonic() < deadline:
        seen += m.read_reply()
    assert b'"set" "%s" "watched"' % k.encode() in seen.lower()


def test_reset(policy, redis_server, wire, key):
    """RESET: back to db 0, RESP2, no subscriptions, no transaction."""
    assert policy.set_policy(policy_yaml(redis_server.port, [{"db": "1"}, {"command": "reset"},
                                                              {"command": "hello"}])) is None
    k, c = key(), key("news.")
    w = wire()
    assert w.ask(("SELECT", "1"), ("HELLO", "3"), ("SET", k, "1"), ("SUBSCRIBE", c), ("MULTI",))[4] == b"+OK\r\n"
    assert w.ask(("RESET",)) == [b"+RESET\r\n"]
    assert w.ask(("GET", k), ("SELECT", "1"), ("GET", k), ("HGETALL", k)) == [
        denied("get"), b"+OK\r\n", b"$1\r\n1\r\n", b"-WRONGTYPE Operation against a key holding the wrong kind of "
        b"value\r\n"]


def test_quit(wire, key):
    w = wire()
    assert w.ask(("GET", key("priv")), ("QUIT",)) == [denied("get"), b"+OK\r\n"]
    assert w.closed_by_peer()


def test_sharded_pubsub(wire, direct, key):
    c, secret = key("news."), key("secret.")
    w = wire()
    w.send(command("SSUBSCRIBE", c) + command("SSUBSCRIBE", secret))
    assert [w.read_reply() for _ in range(2)] == [
        b"*3\r\n$10\r\nssubscribe\r\n$%d\r\n%s\r\n:1\r\n" % (len(c), c.encode()), denied("ssubscribe")]
    assert direct.execute_command("SPUBLISH", c, "m") == 1
    assert w.read_reply() == b"*3\r\n$8\r\nsmessage\r\n$%d\r\n%s\r\n$1\r\nm\r\n" % (len(c), c.encode())
    assert w.ask(("SUNSUBSCRIBE",), ("PING",)) == [
        b"*3\r\n$12\r\nsunsubscribe\r\n$%d\r\n%s\r\n:0\r\n" % (len(c), c.encode()), b"+PONG\r\n"]


@pytest.mark.parametrize("gap", [0.0, 0.002])
def test_denial_after_a_large_reply_with_nothing_behind(gap, wire, direct, key):
    """A denied GET after an LRANGE whose reply takes many reads, with no reply behind it: the NOPERM comes right
    after the last byte of LRANGE's reply (sent together, or while the reply is streaming)."""
    lst, d = key(), key("priv")
    direct.rpush(lst, *[f"element-{i:06}" for i in range(30000)])
    w = wire()
    for _ in range(5):
        w.send(command("LRANGE", lst, "0", "-1"))
        if gap:
            time.sleep(gap)
        w.send(command("GET", d))
        reply = w.read_reply()
        assert reply.startswith(b"*30000\r\n") and reply.endswith(b"$14\r\nelement-029999\r\n")
        assert w.read_reply() == denied("get")


NESTED = "local t = {} local c = t for i = 1, tonumber(ARGV[1]) do c[1] = {} c = c[1] end return t"


def test_deeply_nested_replies(policy, redis_server, wire):
    """A Lua table nested 500 deep comes back as 501 nested arrays and passes; the contract bounds nesting
    (512), so a reply nested 600 deep closes the connection, although redis-server itself sends it."""
    assert policy.set_policy(policy_yaml(redis_server.port, [{}])) is None
    w = wire()
    reply = w.ask(("EVAL", NESTED, "0", "500"), ("PING",))
    assert reply == [b"*1\r\n" * 500 + b"*0\r\n", b"+PONG\r\n"]
    direct = Wire(redis_server.port)
    assert direct.ask(("EVAL", NESTED, "0", "600"))[0] == b"*1\r\n" * 600 + b"*0\r\n"
    direct.close()
    w.send(command("EVAL", NESTED, "0", "600"))
    assert w.closed_by_peer()
