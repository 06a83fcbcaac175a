"""The binary protocol through the proxy with a real client (python-binary-memcached, module bmemcached) and over
raw sockets. A denied request is answered by the proxy with magic 0x81, the request's opcode and opaque, status
0x0008 and the body "access denied"; quiet requests keep their place in the pipeline."""
import os

import pytest
from bmemcached.exceptions import MemcachedException

import mc_wire as mw
from mc_checks import Unseen

DENIED_BODY = b"access denied"


def test_allowed_commands_work(binary_client, direct, key):
    c, k, n = binary_client, key(), key()
    assert c.set(k, b"binary hello") is True
    assert c.get(k) == b"binary hello"
    assert c.add(k, b"x") is False and c.replace(k, b"replaced") is True
    assert c.incr(n, 5) == 0, "a missing counter starts at the initial value (bmemcached's default, 0)"
    assert c.incr(n, 5) == 5 and c.decr(n, 2) == 3
    assert direct.get(k) == b"replaced" and direct.get(n) == b"3"
    assert c.delete(k) is True
    assert c.get(k) is None and direct.get(k) is None


# (what, call(client, denied key)): bmemcached raises MemcachedException with the status (8) for each.
DENIED = [
    ("get", lambda c, d: c.get(d)),
    ("set", lambda c, d: c.set(d, b"overwritten")),
    ("add", lambda c, d: c.add(d, b"overwritten")),
    ("replace", lambda c, d: c.replace(d, b"overwritten")),
    ("delete", lambda c, d: c.delete(d)),
    ("incr", lambda c, d: c.incr(d, 1)),
    ("decr", lambda c, d: c.decr(d, 1)),
]


@pytest.mark.parametrize("call", [call for _, call in DENIED], ids=[what for what, _ in DENIED])
def test_denied_request_gets_status_8_and_never_reaches_memcached(call, binary_client, direct, memcached, key):
    denied, allowed = key("priv"), key()
    direct.set(denied, b"7")
    direct.set(allowed, b"kept")
    with Unseen(memcached, denied):
        with pytest.raises(MemcachedException) as raised:
            call(binary_client, denied)
    assert raised.value.code == mw.STATUS_DENIED and DENIED_BODY in str(raised.value.message).encode()
    assert direct.get(denied) == b"7", "the denied request changed nothing"
    assert binary_client.get(allowed) == "kept", "the connection goes on (flags 0: bmemcached answers str)"


def test_get_multi_with_allowed_keys(binary_client, direct, key):
    """bmemcached pipelines GETKQ for all keys but the last, then a GETK for the last."""
    keys = [key() for _ in range(5)]
    for i, k in enumerate(keys[:4]):
        direct.set(k, f"value {i}".encode())
    # Stored with flags 0 by the text client: bmemcached decodes those values as str.
    assert binary_client.get_multi(keys) == {k: f"value {i}" for i, k in enumerate(keys[:4])}


def test_get_multi_with_a_denied_key_raises(binary_client, direct, memcached, key):
    keys = [key(), key("priv"), key()]
    for k in keys:
        direct.set(k, b"v")
    with Unseen(memcached, keys[1], moved={"cmd_get": 2, "get_hits": 2}):
        with pytest.raises(MemcachedException) as raised:
            binary_client.get_multi(keys)
    assert raised.value.code == mw.STATUS_DENIED


def test_set_multi_reports_only_the_denied_key(binary_client, direct, memcached, key):
    """SETQ for every key, then NOOP: the proxy's reply to the denied SETQ carries its opaque (bmemcached maps it
    back to the key); the allowed ones are stored."""
    allowed, denied = [key(), key(), key()], key("priv")
    mappings = {allowed[0]: b"a", denied: b"d", allowed[1]: b"b", allowed[2]: b"c"}
    with Unseen(memcached, denied, moved={"cmd_set": 3}):
        assert binary_client.set_multi(mappings) == [denied]
    assert [direct.get(k) for k in allowed] == [b"a", b"b", b"c"] and direct.get(denied) is None


def pipeline(k, d):
    """(request, expected (opcode, status, opaque)) pairs, distinct opaques; allowed key k, denied key d."""
    k, d = k.encode(), d.encode()
    return [
        (mw.set_request(k, b"v1", opaque=0x101), (mw.SET, mw.STATUS_OK, 0x101)),
        (mw.request(mw.GET, d, opaque=0x102), (mw.GET, mw.STATUS_DENIED, 0x102)),
        (mw.request(mw.GETK, k, opaque=0x103), (mw.GETK, mw.STATUS_OK, 0x103)),
        (mw.set_request(d, b"x" * 40, opaque=0x104), (mw.SET, mw.STATUS_DENIED, 0x104)),
        (mw.request(mw.DELETE, d, opaque=0x105), (mw.DELETE, mw.STATUS_DENIED, 0x105)),
        (mw.incr_request(k + b"n", 5, initial=10, opaque=0x106), (mw.INCREMENT, mw.STATUS_OK, 0x106)),
        (mw.request(mw.FLUSH, opaque=0x107), (mw.FLUSH, mw.STATUS_DENIED, 0x107)),
        (mw.request(mw.VERSION, opaque=0x108), (mw.VERSION, mw.STATUS_DENIED, 0x108)),
        (mw.request(mw.GET, k + b"missing", opaque=0x109), (mw.GET, mw.STATUS_NOT_FOUND, 0x109)),
        (mw.request(mw.NOOP, opaque=0x10A), (mw.NOOP, mw.STATUS_OK, 0x10A)),
    ]


def assert_denied_shape(response):
    if response.status == mw.STATUS_DENIED:
        assert (response.magic, response.extras, response.key, response.value) == (0x81, b"", b"", DENIED_BODY)


@pytest.mark.parametrize("delivery", ["whole", "in pieces"])
def test_pipelined_mix_keeps_order_and_opaques(delivery, wire, memcached, key):
    k, d = key(), key("priv")
    steps = pipeline(k, d)
    w = wire()
    data = b"".join(r for r, _ in steps)
    # The incr of a missing counter with an initial value creates it: memcached counts no incr miss.
    with Unseen(memcached, d, moved={"cmd_set": 1, "cmd_get": 2, "get_hits": 1, "get_misses": 1}):
        if delivery == "whole":
            w.send(data)
        else:
            w.send_in_pieces(data, seed=len(data), largest=11)
        responses = [mw.read_response(w) for _ in steps]
    assert [r.summary() for r in responses] == [expected for _, expected in steps]
    for r in responses:
        assert_denied_shape(r)
    assert responses[2].key == k.encode() and responses[2].value == b"v1"
    assert responses[5].value == (10).to_bytes(8, "big"), "a missing counter starts at the initial value"
    assert w.nothing_more()


def test_quiet_requests_keep_their_place(wire, direct, memcached, key):
    """Quiet requests answer only on a hit (GETQ) or an error; the proxy's denial is an error, so it is answered,
    in order, and NOOP closes the batch."""
    hit, miss, stored, d = key(), key(), key(), key("priv")
    direct.set(hit, b"here")
    w = wire()
    steps = [
        mw.request(mw.GETQ, miss.encode(), opaque=1),
        mw.request(mw.GETQ, hit.encode(), opaque=2),
        mw.request(mw.GETQ, d.encode(), opaque=3),
        mw.set_request(stored.encode(), b"quiet", opaque=4, quiet=True),
        mw.set_request(d.encode(), b"quiet", opaque=5, quiet=True),
        mw.request(mw.GETKQ, miss.encode(), opaque=6),
        mw.request(mw.NOOP, opaque=7),
    ]
    with Unseen(memcached, d, moved={"cmd_get": 3, "get_hits": 1, "get_misses": 2, "cmd_set": 1}):
        w.send(b"".join(steps))
        responses = [mw.read_response(w) for _ in range(4)]
    assert [r.summary() for r in responses] == [
        (mw.GETQ, mw.STATUS_OK, 2), (mw.GETQ, mw.STATUS_DENIED, 3), (mw.SETQ, mw.STATUS_DENIED, 5),
        (mw.NOOP, mw.STATUS_OK, 7)]
    for r in responses:
        assert_denied_shape(r)
    assert responses[0].value == b"here" and direct.get(stored) == b"quiet"
    assert w.nothing_more()


def test_large_binary_value(binary_client, direct, key):
    k, value = key(), os.urandom(3 << 20)
    assert binary_client.set(k, value, compress_level=0) is True
    assert binary_client.get(k) == value and direct.get(k) == value


def test_many_quiet_denials_beyond_the_inject_buffer(wire, direct, memcached, key):
    """200 denied GETQ (7 KiB of denial responses, more than Envoy's 1 KiB inject buffer) around quiet hits and
    misses, then NOOP: every answer in order, with its opaque."""
    hit, miss, d = key(), key(), key("priv")
    direct.set(hit, b"v")
    requests, expected = [], []
    for i in range(200):
        requests.append(mw.request(mw.GETQ, d.encode(), opaque=1000 + i))
        expected.append((mw.GETQ, mw.STATUS_DENIED, 1000 + i))
        if i % 40 == 0:
            requests.append(mw.request(mw.GETKQ, hit.encode(), opaque=i))
            expected.append((mw.GETKQ, mw.STATUS_OK, i))
            requests.append(mw.request(mw.GETQ, miss.encode(), opaque=5000 + i))
    requests.append(mw.request(mw.NOOP, opaque=9999))
    expected.append((mw.NOOP, mw.STATUS_OK, 9999))
    w = wire()
    with Unseen(memcached, d, moved={"cmd_get": 10, "get_hits": 5, "get_misses": 5}):
        w.send(b"".join(requests))
        assert [mw.read_response(w).summary() for _ in expected] == expected
    assert w.nothing_more()


def test_denied_large_quiet_set_is_dropped_whole(wire, memcached, key):
    d = key("priv").encode()
    w = wire()
    with Unseen(memcached, d.decode()):
        w.send(mw.set_request(d, os.urandom(5 << 20), opaque=1, quiet=True) + mw.request(mw.NOOP, opaque=2))
        assert [mw.read_response(w).summary() for _ in range(2)] == [
            (mw.SETQ, mw.STATUS_DENIED, 1), (mw.NOOP, mw.STATUS_OK, 2)]
    assert w.nothing_more()
