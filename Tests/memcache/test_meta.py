"""The meta protocol (memcached >= 1.6: mg/ms/md/ma/mn) through the proxy over raw sockets. A denied meta request
is answered CLIENT_ERROR access denied in its reply's place; base64 keys (flag b) are judged decoded."""
import base64

import pytest

from mc_checks import Unseen
from mc_wire import DENIED_TEXT

DENIED = DENIED_TEXT.decode()


def b64(text):
    return base64.b64encode(text.encode()).decode()


def run(wire, steps, delivery="whole"):
    """Sends all requests of (request, expected reply) pairs at once and compares all replies."""
    requests = "".join(r for r, _ in steps).encode()
    expected = "".join(e for _, e in steps)
    w = wire()
    if delivery == "whole":
        w.send(requests)
    else:
        w.send_in_pieces(requests, seed=len(requests))
    assert w.read(len(expected)).decode() == expected
    assert w.nothing_more()


@pytest.mark.parametrize("delivery", ["whole", "in pieces"])
def test_meta_commands(delivery, wire, direct, memcached, key):
    k, d = key(), key("priv")
    steps = [
        (f"ms {k} 5 T0\r\nhello\r\n", "HD\r\n"),
        (f"mg {k} v\r\n", "VA 5\r\nhello\r\n"),
        (f"mg {d} v\r\n", DENIED),
        (f"ms {d} 13 T0\r\nmg pub:x v\r\nx\r\n", DENIED),  # its data block goes with it
        (f"mg {k} s v Oabc\r\n", "VA 5 s5 Oabc\r\nhello\r\n"),
        (f"md {d}\r\n", DENIED),
        (f"ma {d}\r\n", DENIED),
        ("mn\r\n", "MN\r\n"),
        (f"md {k}\r\n", "HD\r\n"),
        (f"mg {k} v\r\n", "EN\r\n"),
    ]
    with Unseen(memcached, d, moved={"cmd_set": 1, "cmd_get": 3, "get_hits": 2, "get_misses": 1,
                                     "delete_hits": 1}):
        run(wire, steps, delivery)
    assert direct.get(k) is None


def test_base64_keys_are_judged_decoded(wire, direct, memcached, key):
    allowed, denied = key().replace(":", "/"), key("priv").replace(":", "/")
    steps = [
        (f"ms {b64(allowed)} 5 b T0\r\nhello\r\n", "HD\r\n"),
        (f"mg {b64(allowed)} b v\r\n", "VA 5\r\nhello\r\n"),
        (f"mg {b64(denied)} b v\r\n", DENIED),
        (f"ms {b64(denied)} 2 b T0\r\nhi\r\n", DENIED),
        ("mg pubx b v\r\n", DENIED),  # "pubx" is base64 for the bytes a6 e6 f1: not under "pub"
        ("mn\r\n", "MN\r\n"),
    ]
    with Unseen(memcached, b64(denied), "pubx", moved={"cmd_set": 1, "cmd_get": 1, "get_hits": 1}):
        run(wire, steps)
    assert direct.get(allowed) == b"hello", "memcached stored the decoded key"


def test_quiet_mode_keeps_order(wire, direct, memcached, key):
    """q hides EN (mg) and HD (ms, md); errors, the proxy's denials included, are still answered, in order; mn
    closes the batch."""
    hit, miss, stored, d = key(), key(), key(), key("priv")
    direct.set(hit, b"here")
    steps = [
        (f"mg {miss} v q\r\n", ""),
        (f"mg {hit} v q\r\n", "VA 4\r\nhere\r\n"),
        (f"mg {d} v q\r\n", DENIED),
        (f"ms {stored} 1 q T0\r\nx\r\n", ""),
        (f"md {d} q\r\n", DENIED),
        (f"mg {miss} v q k\r\n", ""),
        ("mn\r\n", "MN\r\n"),
    ]
    with Unseen(memcached, d, moved={"cmd_get": 3, "get_hits": 1, "get_misses": 2, "cmd_set": 1}):
        run(wire, steps)
    assert direct.get(stored) == b"x"


def test_arithmetic(wire, direct, memcached, key):
    n, fresh, d = key(), key(), key("priv")
    steps = [
        (f"ms {n} 2 T0\r\n10\r\n", "HD\r\n"),
        (f"ma {n} v\r\n", "VA 2\r\n11\r\n"),
        (f"ma {n} MD D3 v\r\n", "VA 1\r\n8\r\n"),
        (f"ma {n} D100\r\n", "HD\r\n"),
        (f"ma {fresh} N0 J5 v\r\n", "VA 1\r\n5\r\n"),  # created on a miss with the initial value
        (f"ma {d} v\r\n", DENIED),
        ("mn\r\n", "MN\r\n"),
    ]
    with Unseen(memcached, d, moved={"cmd_set": 1, "incr_hits": 2, "decr_hits": 1}):
        run(wire, steps)
    assert direct.get(n) == b"108" and direct.get(fresh) == b"5"
