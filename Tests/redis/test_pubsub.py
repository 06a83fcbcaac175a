"""Pub/sub through the proxy under the standing policy (channels under "news."): redis-py's PubSub over RESP2
and RESP3 (pushes), publishers through the proxy and straight to the server, PSUBSCRIBE patterns as the
contract judges them (a glob pattern meets a channelPrefix rule only when the prefix lies before its first
glob character), and the raw replies of a subscribed connection."""
import time

import pytest
import redis

from rd_wire import command, denied


def next_message(p, timeout=5.0):
    """The next message of PubSub `p` (confirmations included), or an AssertionError after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = p.get_message(timeout=0.2)
        if m is not None:
            return m
    raise AssertionError("no pub/sub message")


def summary(m):
    return (m["type"], m.get("pattern"), m["channel"], m["data"])


@pytest.mark.parametrize("protocol", [2, 3])
def test_subscribe_publish_unsubscribe(protocol, proxy, r, direct, key):
    from conftest import proxied_client
    sub = proxied_client(proxy.port, protocol=protocol)
    p = sub.pubsub()
    c1, c2 = key("news."), key("news.")
    p.subscribe(c1, c2)
    assert [summary(next_message(p)) for _ in range(2)] == [
        ("subscribe", None, c1, 1), ("subscribe", None, c2, 2)]
    assert r.publish(c1, "hello") == 1
    assert direct.publish(c2, "from the server side") == 1
    assert [summary(next_message(p)) for _ in range(2)] == [
        ("message", None, c1, "hello"), ("message", None, c2, "from the server side")]
    p.unsubscribe(c1)
    assert summary(next_message(p)) == ("unsubscribe", None, c1, 1)
    assert direct.pubsub_numsub(c1, c2) == [(c1, 0), (c2, 1)]
    assert r.publish(c1, "nobody listens") == 0
    assert r.publish(c2, "still") == 1
    assert summary(next_message(p)) == ("message", None, c2, "still")
    p.unsubscribe()
    assert summary(next_message(p)) == ("unsubscribe", None, c2, 0)
    p.close()
    sub.close()


@pytest.mark.parametrize("protocol", [2, 3])
def test_denied_subscribe(protocol, proxy, direct, key):
    from conftest import proxied_client
    sub = proxied_client(proxy.port, protocol=protocol)
    p = sub.pubsub()
    secret, ok = key("secret."), key("news.")
    p.subscribe(secret)
    with pytest.raises(redis.exceptions.NoPermissionError, match="does not allow 'subscribe'"):
        next_message(p)
    assert direct.pubsub_numsub(secret) == [(secret, 0)], "the server never saw the subscription"
    # The same connection subscribes to an allowed channel and gets its messages.
    p.subscribe(ok)
    assert summary(next_message(p)) == ("subscribe", None, ok, 1)
    assert direct.publish(secret, "hidden") == 0
    assert direct.publish(ok, "visible") == 1
    assert summary(next_message(p)) == ("message", None, ok, "visible")
    # One denied channel among allowed ones denies the whole SUBSCRIBE.
    p.subscribe(key("news."), key("secret."))
    with pytest.raises(redis.exceptions.NoPermissionError):
        next_message(p)
    assert direct.execute_command("PUBSUB", "NUMSUB", ok) == [ok, 1]
    p.close()
    sub.close()


def test_denied_publish(r, direct, key):
    secret = key("secret.")
    listener = direct.pubsub()
    listener.subscribe(secret)
    assert summary(next_message(listener))[0] == "subscribe"
    with pytest.raises(redis.exceptions.NoPermissionError, match="does not allow 'publish'"):
        r.publish(secret, "leak")
    assert listener.get_message(timeout=0.5) is None, "the message never reached the server"
    listener.close()


# (pattern with {u} for a unique tag, a channel it matches or None when denied) under channelPrefix "news.".
PATTERNS = [
    ("news.{u}.*", "news.{u}.a"),        # the prefix lies before the first glob character
    ("news.{u}.[ab]", "news.{u}.b"),
    ("news.{u}.lit", "news.{u}.lit"),    # no glob character: a literal channel
    ("news*", None),                     # the glob starts inside the prefix
    ("n?ws.{u}", None),
    ("*", None),
    ("secret.{u}.*", None),
    ("news\\.{u}", None),               # a backslash counts as a glob character
]


@pytest.mark.parametrize("pattern,channel", PATTERNS, ids=[p[0] for p in PATTERNS])
def test_psubscribe_patterns(pattern, channel, proxy, direct, key):
    from conftest import proxied_client
    u = key("").strip(":").replace(":", "-")
    pattern = pattern.replace("{u}", u)
    sub = proxied_client(proxy.port)
    p = sub.pubsub()
    try:
        p.psubscribe(pattern)
        if channel is not None:
            channel = channel.replace("{u}", u)
            assert summary(next_message(p)) == ("psubscribe", None, pattern, 1)
            assert direct.publish(channel, "m") == 1
            assert summary(next_message(p)) == ("pmessage", pattern, channel, "m")
            p.punsubscribe(pattern)
            assert summary(next_message(p)) == ("punsubscribe", None, pattern, 0)
        else:
            with pytest.raises(redis.exceptions.NoPermissionError, match="does not allow 'psubscribe'"):
                next_message(p)
            assert direct.execute_command("PUBSUB", "NUMPAT") == 0
    finally:
        p.close()
        sub.close()


def test_subscribed_connection_on_the_wire(wire, direct, key):
    """RESP2, subscribed: PING answers ["pong", ""], a denied SUBSCRIBE gets NOPERM in order between
    confirmations, messages pass as they come, an argument-less UNSUBSCRIBE is confirmed once per channel;
    then the connection serves commands again."""
    c1, c2, secret, k = key("news."), key("news."), key("secret."), key()
    w = wire()

    def array(*items):
        out = [b"*%d\r\n" % len(items)]
        for i in items:
            if isinstance(i, int):
                out.append(b":%d\r\n" % i)
            else:
                out.append(b"$%d\r\n%s\r\n" % (len(i), i.encode()))
        return b"".join(out)

    assert w.ask(("SUBSCRIBE", c1), ("PING",), ("SUBSCRIBE", secret), ("SUBSCRIBE", c2)) == [
        array("subscribe", c1, 1), array("pong", ""), denied("subscribe"), array("subscribe", c2, 2)]
    assert direct.publish(c2, "one") == 1
    assert w.read_reply() == array("message", c2, "one")
    w.send(command("UNSUBSCRIBE"))
    confirmations = sorted([w.read_reply(), w.read_reply()])
    assert confirmations == sorted([array("unsubscribe", c1, 1), array("unsubscribe", c2, 0)]) or \
        confirmations == sorted([array("unsubscribe", c2, 1), array("unsubscribe", c1, 0)])
    assert w.ask(("SET", k, "v"), ("GET", key("priv")), ("GET", k)) == [b"+OK\r\n", denied("get"), b"$1\r\nv\r\n"]


def test_resp3_pushes_between_replies(wire, direct, key):
    """RESP3: messages are pushes (>) interleaved with ordinary replies; they answer no request, so the replies
    and denials that follow keep their order."""
    c, k = key("news."), key()
    w = wire()
    hello = w.ask(("HELLO", "3"))[0]
    assert hello.startswith(b"%")
    assert w.ask(("SUBSCRIBE", c)) == [b">3\r\n$9\r\nsubscribe\r\n$%d\r\n%s\r\n:1\r\n" % (len(c), c.encode())]
    assert direct.publish(c, "p1") == 1
    push = b">3\r\n$7\r\nmessage\r\n$%d\r\n%s\r\n$2\r\np1\r\n" % (len(c), c.encode())
    assert w.read_reply() == push
    # In RESP3 a subscribed connection runs any command.
    w.send(command("SET", k, "v") + command("GET", key("priv")))
    assert direct.publish(c, "p2") == 1
    w.send(command("GET", k))
    replies = [w.read_reply() for _ in range(4)]
    pushes = [x for x in replies if x.startswith(b">")]
    assert [x for x in replies if not x.startswith(b">")] == [b"+OK\r\n", denied("get"), b"$1\r\nv\r\n"]
    assert pushes == [push.replace(b"p1", b"p2")]


def _flood(redis_server, channel, stop):
    client = redis_server.client()
    try:
        while not stop.is_set():
            client.publish(channel, "flood")
    finally:
        client.close()


def test_subscribing_inside_multi_is_refused(wire, key):
    """(Un)subscribing inside MULTI is refused whatever the policy (its confirmations would come inside EXEC's
    reply, where the parser could not follow the subscription): the transaction fails as redis fails it."""
    c = key("news.")
    w = wire()
    replies = w.ask(("MULTI",), ("SUBSCRIBE", c), ("EXEC",))
    assert replies[0] == b"+OK\r\n"
    assert replies[1] == denied("subscribe")
    assert replies[2].startswith(b"-EXECABORT")


def test_messages_while_replies_are_due(wire, redis_server, key):
    """RESP2, subscribed, messages flooding in: PING's reply and the NOPERM of a denied GET pipelined after it
    keep their order among the messages."""
    import threading
    c, d = key("news."), key("priv")
    w = wire()
    assert w.ask(("SUBSCRIBE", c))[0].startswith(b"*3\r\n$9\r\nsubscribe\r\n")
    stop = threading.Event()
    flooder = threading.Thread(target=_flood, args=(redis_server, c, stop))
    flooder.start()
    try:
        pong = b"*2\r\n$4\r\npong\r\n$0\r\n\r\n"
        for _ in range(500):
            w.send(command("PING") + command("GET", d))
            seen = []
            while len(seen) < 2:
                reply = w.read_reply()
                if not reply.startswith(b"*3\r\n$7\r\nmessage\r\n"):
                    seen.append(reply)
            assert seen == [pong, denied("get")]
    finally:
        stop.set()
        flooder.join()
