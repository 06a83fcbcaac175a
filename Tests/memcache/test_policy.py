"""Memcache rules through a live policy change of the running proxy (the policy file is rewritten; the library
gets it over NPDS): key conditions, command groups, the allow-all rule, and rules the library rejects (NACK: the
previous policy stays in force)."""
import os

import pytest
from pymemcache.exceptions import MemcacheClientError

import mc_wire as mw
from mc_policy import DEFAULT_RULES, policy_yaml
from host_procs import ROOT
from mc_wire import DENIED_TEXT

# (id, rules, [(text request, allowed)]): keys are fresh per run ({u} is a unique tag), so allowed gets miss (END).
TEXT_CASES = [
    ("keyExact", [{"command": "get", "keyExact": "exact:{u}"}],
     [("get exact:{u}", True), ("get exact:{u}x", False), ("gets exact:{u}", True), ("get exact:{u} exact:{u}", True),
      ("set exact:{u} 0 0 1\r\nx", False)]),
    ("keyRegex", [{"command": "get", "keyRegex": "^re:{u}:[0-9]+$"}],
     [("get re:{u}:12", True), ("get re:{u}:1a", False), ("get re:{u}:1 re:{u}:2", True), ("get re:{u}:1 x", False)]),
    ("every condition holds", [{"command": "get", "keyPrefix": "pre", "keyRegex": "[0-9]$"}],
     [("get pre{u}1", True), ("get pre{u}x", False), ("get x{u}1", False)]),
    ("command only", [{"command": "version"}], [("version", True), ("get pub:{u}", False)]),
    ("writeGroup", [{"command": "writeGroup", "keyPrefix": "w"}],
     [("set w{u} 0 0 1\r\nx", True), ("touch w{u} 10", True), ("delete w{u}", True), ("get w{u}", False)]),
    ("meta by its classic equivalent", [{"command": "set", "keyPrefix": "m"}, {"command": "delete"}],
     [("ms m{u} 1 T0\r\nx", True), ("md m{u}", True), ("mg m{u} v", False), ("ms p{u} 1 T0\r\nx", False)]),
    ("an empty rule allows everything", [{}], [("version", True), ("get priv:{u}", True), ("mn", True)]),
    ("no l7 rules allow everything", None, [("version", True), ("delete priv:{u}", True)]),
]


@pytest.mark.parametrize("rules,requests", [c[1:] for c in TEXT_CASES], ids=[c[0] for c in TEXT_CASES])
def test_text_rules(rules, requests, policy, memcached, wire, key):
    u = key("").strip(":").replace(":", "-")
    if rules is not None:
        rules = [{name: value.replace("{u}", u) for name, value in rule.items()} for rule in rules]
    assert policy.set_policy(policy_yaml(memcached.port, rules)) is None
    w = wire()
    for request, allowed in requests:
        request = request.replace("{u}", u)
        w.send(request.encode() + b"\r\n")
        reply = w.read_line()
        assert (reply == DENIED_TEXT) is not allowed, f"{request!r} -> {reply!r}"
        assert not allowed or not reply.startswith((b"ERROR", b"CLIENT_ERROR", b"SERVER_ERROR")), reply
    assert w.nothing_more()


def test_binary_groups(policy, memcached, wire, key):
    k = key("w").encode()
    assert policy.set_policy(policy_yaml(memcached.port, [{"command": "writeGroup", "keyPrefix": "w"},
                                                          {"command": "noop"}])) is None
    w = wire()
    w.send(mw.set_request(k, b"v", opaque=1) + mw.request(mw.GETK, k, opaque=2) + mw.request(mw.DELETE, k, opaque=3)
           + mw.set_request(b"x" + k, b"v", opaque=4) + mw.request(mw.NOOP, opaque=5))
    assert [mw.read_response(w).summary() for _ in range(5)] == [
        (mw.SET, mw.STATUS_OK, 1), (mw.GETK, mw.STATUS_DENIED, 2), (mw.DELETE, mw.STATUS_OK, 3),
        (mw.SET, mw.STATUS_DENIED, 4), (mw.NOOP, mw.STATUS_OK, 5)]


STATS_ALLOWED = [{"command": "stats"}, {"command": "get", "keyPrefix": "pub"}, {"command": "noop"}]


def test_multi_part_replies_around_a_denial(policy, memcached, wire, key):
    """`stats` answers with many lines (text) or many packets ending with an empty key (binary): the denial that
    follows must come after all of them."""
    assert policy.set_policy(policy_yaml(memcached.port, STATS_ALLOWED)) is None
    d, k = key("priv"), key()
    t = wire()
    t.send(f"stats\r\nget {d}\r\nstats settings\r\nget {k}\r\n".encode())
    replies, line = [], b""
    while line != b"END\r\n" or len(replies) < 4:
        line = t.read_line()
        assert line, f"replies cut short after {replies[-3:]}"
        if line.startswith(b"STAT "):
            continue  # inside a stats reply
        replies.append(line)
    assert replies == [b"END\r\n", DENIED_TEXT, b"END\r\n", b"END\r\n"]
    b = wire()
    b.send(mw.request(mw.STAT, opaque=1) + mw.request(mw.GET, d.encode(), opaque=2) + mw.request(mw.NOOP, opaque=3))
    stats = [mw.read_response(b)]
    while stats[-1].key:
        stats.append(mw.read_response(b))
    assert len(stats) > 10 and {r.summary() for r in stats} == {(mw.STAT, mw.STATUS_OK, 1)}
    assert [mw.read_response(b).summary() for _ in range(2)] == [(mw.GET, mw.STATUS_DENIED, 2), (mw.NOOP, 0, 3)]


# (what, call(pymemcache client, key), check(result)): replies of every shape, framed by the parser.
ADMIN = [
    ("stats", lambda c, k: c.stats(), lambda r: r[b"pid"] > 0 and len(r) > 50),
    ("stats slabs", lambda c, k: c.stats("slabs"), lambda r: b"active_slabs" in r),
    ("stats settings", lambda c, k: c.stats("settings"), lambda r: r[b"item_size_max"] == 8 << 20),
    ("version", lambda c, k: c.version(), lambda r: r.startswith(b"1.")),
    ("cache_memlimit", lambda c, k: c.cache_memlimit(64), lambda r: r is True),
    ("lru_crawler metadump", lambda c, k: c.raw_command("lru_crawler metadump all", b"END\r\n"),
     lambda r: r.startswith(b"key=")),
    ("get", lambda c, k: c.get(k), lambda r: r == b"still here"),
]


def test_admin_commands_under_an_allow_all_rule(policy, memcached, text_client, direct, key):
    k = key()
    direct.set(k, b"still here")
    assert policy.set_policy(policy_yaml(memcached.port, [{}])) is None
    for what, call, check in ADMIN:
        result = call(text_client, k)
        assert check(result), f"{what}: {result!r}"


def test_open_connection_follows_the_new_policy(policy, memcached, text_client, key):
    k = key("other")
    with pytest.raises(MemcacheClientError, match="access denied"):
        text_client.get(k)
    assert policy.set_policy(policy_yaml(memcached.port, DEFAULT_RULES + [{"command": "get", "keyPrefix": "other"}])) \
        is None
    assert text_client.get(k) is None, "the next request on the same connection is allowed"


# (id, rules, what the rejection names): the library NACKs the whole update and keeps the standing policy.
REJECTED = [
    ("key without command", [{"keyPrefix": "pub"}], "command not specified"),
    ("unknown command", [{"command": "nosuch"}], "unknown command"),
    ("unknown rule key", [{"command": "get", "keyPrfix": "pub"}], "unsupported key"),
    ("invalid regular expression", [{"command": "get", "keyRegex": "(["}], "regular expression"),
]


@pytest.mark.parametrize("rules,reason", [c[1:] for c in REJECTED], ids=[c[0] for c in REJECTED])
def test_rejected_rules_keep_the_standing_policy(rules, reason, policy, memcached, wire, key):
    verdict = policy.set_policy(policy_yaml(memcached.port, rules))
    assert verdict is not None and "REJECTED" in verdict and reason in verdict, verdict
    w = wire()
    assert w.ask(f"get {key('priv')}\r\n".encode(), DENIED_TEXT) == DENIED_TEXT
    assert w.ask(f"get {key()}\r\n".encode(), b"END\r\n") == b"END\r\n"


def test_example_policy(policy, memcached, wire, key):
    """Examples/memcache/policy.yaml is accepted and does what its comments say, in each wire format."""
    with open(os.path.join(ROOT, "Examples", "memcache", "policy.yaml")) as f:
        example = f.read()
    assert '"11211"' in example
    assert policy.set_policy(example.replace('"11211"', f'"{memcached.port}"')) is None
    u = key("").strip(":").replace(":", "")
    t = wire()
    assert t.ask(f"get public/{u}\r\n".encode(), b"END\r\n") == b"END\r\n"
    assert t.ask(f"get private/{u}\r\n".encode(), DENIED_TEXT) == DENIED_TEXT
    b = wire()
    b.send(mw.set_request(f"session:{u}".encode(), b"v", opaque=1)
           + mw.set_request(f"user:{u}".encode(), b"v", opaque=2) + mw.request(mw.NOOP, opaque=3))
    assert [mw.read_response(b).summary() for _ in range(3)] == [
        (mw.SET, mw.STATUS_OK, 1), (mw.SET, mw.STATUS_DENIED, 2), (mw.NOOP, mw.STATUS_OK, 3)]
    m, expected = wire(), b"NF\r\n" + DENIED_TEXT + b"MN\r\n"
    assert m.ask(f"md tmp/{u}\r\nmd public/{u}\r\nmn\r\n".encode(), expected) == expected
