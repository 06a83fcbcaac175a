"""The text protocol through the proxy with a real client (pymemcache) and over raw sockets. Standing policy:
keys under "pub" for get/storage/delete/touch; a denied request gets CLIENT_ERROR access denied in its reply's
place and never reaches memcached."""
import hashlib
import os
import threading

import pytest
from pymemcache.client.base import Client
from pymemcache.exceptions import MemcacheClientError

from mc_checks import Unseen
from mc_wire import DENIED_TEXT


def test_allowed_commands_work(text_client, direct, key):
    c, k, n = text_client, key(), key()
    assert c.set(k, b"hello") is True
    assert c.get(k) == b"hello"
    value, cas = c.gets(k)
    assert value == b"hello"
    assert c.cas(k, b"world", cas) is True
    assert c.cas(k, b"stale", cas) is False, "a second cas with the old token is refused by memcached (EXISTS)"
    assert c.add(k, b"x") is False and c.replace(k, b"bye") is True
    assert c.append(k, b"!") is True and c.prepend(k, b"good") is True
    assert c.touch(k, 100) is True
    assert c.set(n, b"41") is True
    assert c.incr(n, 1) == 42 and c.decr(n, 2) == 40
    assert direct.get(k) == b"goodbye!" and direct.get(n) == b"40"
    assert c.delete(k) is True
    assert c.get(k) is None and direct.get(k) is None


# (what, call(client, denied key, allowed key)): each must be refused by the proxy as a whole.
DENIED = [
    ("get", lambda c, d, k: c.get(d)),
    ("gets", lambda c, d, k: c.gets(d)),
    ("set", lambda c, d, k: c.set(d, b"overwritten")),
    ("add", lambda c, d, k: c.add(d, b"overwritten")),
    ("append", lambda c, d, k: c.append(d, b"tail")),
    ("cas", lambda c, d, k: c.cas(d, b"overwritten", 1)),
    ("delete", lambda c, d, k: c.delete(d)),
    ("incr", lambda c, d, k: c.incr(d, 1)),
    ("decr", lambda c, d, k: c.decr(d, 1)),
    ("touch", lambda c, d, k: c.touch(d, 100)),
    ("get of an allowed and a denied key", lambda c, d, k: c.get_many([k, d])),
    ("gets of an allowed and a denied key", lambda c, d, k: c.gets_many([k, d])),
]


@pytest.mark.parametrize("call", [call for _, call in DENIED], ids=[what for what, _ in DENIED])
def test_denied_request_gets_client_error_and_never_reaches_memcached(call, text_client, direct, memcached, key):
    denied, allowed = key("priv"), key()
    direct.set(denied, b"7")
    direct.set(allowed, b"kept")
    with Unseen(memcached, denied, allowed):
        with pytest.raises(MemcacheClientError, match="access denied"):
            call(text_client, denied, allowed)
    assert direct.get(denied) == b"7", "the denied request changed nothing"
    # The same connection goes on.
    assert text_client.get(allowed) == b"kept"
    assert text_client.set(allowed, b"again") is True and direct.get(allowed) == b"again"


@pytest.mark.parametrize("command", ["flush_all", "version", "stats", "verbosity 1"])
def test_commands_outside_the_policy_are_denied(command, wire, direct, memcached, key):
    k = key()
    direct.set(k, b"survives")
    w = wire()
    with Unseen(memcached, command.split()[0]):
        assert w.ask(command.encode() + b"\r\n", DENIED_TEXT) == DENIED_TEXT
    assert direct.get(k) == b"survives"


def test_get_many_with_allowed_keys(text_client, direct, key):
    keys = [key() for _ in range(4)]
    for i, k in enumerate(keys[:3]):
        direct.set(k, f"value {i}".encode())
    assert text_client.get_many(keys) == {k: f"value {i}".encode() for i, k in enumerate(keys[:3])}
    assert {k: v for k, (v, cas) in text_client.gets_many(keys).items()} == text_client.get_many(keys)


def pipeline(k, d):
    """(request, expected reply) pairs: allowed key k, denied key d. Denied storage requests carry a data block
    the proxy must drop with them."""
    value = f"VALUE {k} 5 4\r\nabcd\r\nEND\r\n"
    return [
        (f"set {k} 5 0 3\r\nabc\r\n", "STORED\r\n"),
        (f"get {d}\r\n", DENIED_TEXT.decode()),
        (f"set {d} 0 0 13\r\nget pub:x\r\nyz\r\n", DENIED_TEXT.decode()),
        (f"append {k} 0 0 1\r\nd\r\n", "STORED\r\n"),
        (f"get {k}\r\n", value),
        (f"delete {d}\r\n", DENIED_TEXT.decode()),
        (f"gets {k} {d}\r\n", DENIED_TEXT.decode()),
        (f"incr {k}n 1\r\n", "NOT_FOUND\r\n"),
        ("flush_all\r\n", DENIED_TEXT.decode()),
        (f"set {k}n 0 0 2 noreply\r\n10\r\n", ""),
        (f"incr {k}n 5\r\n", "15\r\n"),
        (f"get {k} {k}\r\n", f"VALUE {k} 5 4\r\nabcd\r\nVALUE {k} 5 4\r\nabcd\r\nEND\r\n"),
        (f"delete {k}\r\n", "DELETED\r\n"),
        (f"get {k}\r\n", "END\r\n"),
    ]


@pytest.mark.parametrize("delivery", ["whole", "in pieces"])
def test_pipelined_mix_keeps_reply_order(delivery, wire, memcached, key):
    k, d = key(), key("priv")
    steps = pipeline(k, d)
    requests = "".join(r for r, _ in steps).encode()
    expected = "".join(e for _, e in steps).encode()
    w = wire()
    # Only the allowed requests reach memcached (3 stores, 4 keys fetched, 3 hits, 1 incr miss and hit, a delete).
    moved = {"cmd_set": 3, "cmd_get": 4, "get_hits": 3, "get_misses": 1, "incr_misses": 1, "incr_hits": 1,
             "delete_hits": 1}
    with Unseen(memcached, d, "flush_all", moved=moved):
        if delivery == "whole":
            w.send(requests)
        else:
            w.send_in_pieces(requests, seed=len(requests))
        assert w.read(len(expected)).decode() == expected.decode()
    assert w.nothing_more()


def test_noreply_storage_passes(proxy, text_client, direct, key):
    k, n = key(), key()
    quiet = Client(("127.0.0.1", proxy.port), default_noreply=True, timeout=5)
    try:
        assert quiet.set(k, b"fire and forget") is True
        assert quiet.set(n, b"1") is True
        assert quiet.incr(n, 4, noreply=True) is None
        assert quiet.get(k) == b"fire and forget" and quiet.get(n) == b"5"
    finally:
        quiet.close()
    assert direct.get(k) == b"fire and forget"


def test_denied_noreply_request_is_dropped_without_a_reply(wire, direct, memcached, key):
    """noreply asks for no reply, so a denial has no reply to take the place of: the request is dropped silently
    and the next reply is the next request's."""
    k, d = key(), key("priv")
    direct.set(k, b"v")
    w = wire()
    expected = f"VALUE {k} 0 1\r\nv\r\nEND\r\n".encode()
    with Unseen(memcached, d, moved={"cmd_get": 1, "get_hits": 1}):
        assert w.ask(f"set {d} 0 0 1 noreply\r\nx\r\ndelete {d} noreply\r\nget {k}\r\n".encode(),
                     expected) == expected
    assert w.nothing_more() and direct.get(d) is None


def test_many_denials_beyond_the_inject_buffer(wire, direct, memcached, key):
    """300 denials in one pipeline (8 KiB of CLIENT_ERROR replies, far more than Envoy's 1 KiB inject buffer)
    interleaved with allowed gets: every reply in order."""
    k, d = key(), key("priv")
    direct.set(k, b"v")
    hit = f"VALUE {k} 0 1\r\nv\r\nEND\r\n"
    steps = [(f"get {d}\r\n", DENIED_TEXT.decode())] * 300
    for i in range(0, 300, 50):
        steps.insert(i, (f"get {k}\r\n", hit))
    expected = "".join(e for _, e in steps).encode()
    w = wire()
    with Unseen(memcached, d, moved={"cmd_get": 6, "get_hits": 6}):
        w.send("".join(r for r, _ in steps).encode())
        assert w.read(len(expected)).decode() == expected.decode()
    assert w.nothing_more()


def test_get_many_with_a_long_key_list(text_client, direct, key):
    """One `get` line of 200 keys (about 4 KiB)."""
    keys = [key() for _ in range(200)]
    direct.set_many({k: k.encode() for k in keys[::2]})
    assert text_client.get_many(keys) == {k: k.encode() for k in keys[::2]}


def payload(size):
    """Random bytes with reply- and request-looking lines inside: only the lengths frame a data block."""
    marker = b"\r\nEND\r\nget priv:x\r\nVALUE x 0 1\r\n"
    return os.urandom(size // 2) + marker + os.urandom(size - size // 2 - len(marker))


@pytest.mark.parametrize("size", [1 << 20, 5 << 20], ids=["1MiB", "5MiB"])
def test_large_values(size, text_client, direct, key):
    k, value = key(), payload(size)
    assert text_client.set(k, value) is True
    assert hashlib.sha256(text_client.get(k)).hexdigest() == hashlib.sha256(value).hexdigest()
    assert hashlib.sha256(direct.get(k)).hexdigest() == hashlib.sha256(value).hexdigest()


def test_large_value_sent_slowly_in_pieces_then_a_denied_request(wire, direct, memcached, key):
    k, d, value = key(), key("priv"), payload(1 << 20)
    w = wire()
    with Unseen(memcached, d, moved={"cmd_set": 1}):
        w.send(f"set {k} 0 0 {len(value)}\r".encode())  # the line's end in the next piece
        w.send(b"\n")
        for i in range(0, len(value), 100_000):
            w.send(value[i:i + 100_000])
        w.send(f"\r\nget {d}\r\n".encode())
        expected = b"STORED\r\n" + DENIED_TEXT
        assert w.read(len(expected)) == expected
    assert direct.get(k) == value


def test_denied_large_value_is_dropped_whole(wire, memcached, key):
    """A denied 5 MiB set: its data block is dropped as it streams in, and the next request is answered."""
    d, k = key("priv"), key()
    value = payload(5 << 20)
    w = wire()
    expected = DENIED_TEXT + b"END\r\n"
    with Unseen(memcached, d, moved={"cmd_get": 1, "get_misses": 1}):
        w.send(f"set {d} 0 0 {len(value)}\r\n".encode() + value + f"\r\nget {k}\r\n".encode())
        assert w.read(len(expected)) == expected
    assert w.nothing_more()


def test_parallel_clients(proxy, key):
    """8 pymemcache clients at once, each with its own allowed and denied requests."""
    failures = []

    def client_run(prefix):
        c = Client(("127.0.0.1", proxy.port), default_noreply=False, timeout=5)
        try:
            for i in range(50):
                assert c.set(f"{prefix}:{i}", str(i).encode()) is True
                assert c.get(f"{prefix}:{i}") == str(i).encode()
                try:
                    c.get(f"priv{prefix}:{i}")
                    failures.append(f"priv{prefix}:{i} was not denied")
                except MemcacheClientError as e:
                    assert "access denied" in str(e)
        except Exception as e:  # reported below, with the client's keys
            failures.append(f"{prefix}: {e!r}")
        finally:
            c.close()

    threads = [threading.Thread(target=client_run, args=(key(),)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert failures == []
