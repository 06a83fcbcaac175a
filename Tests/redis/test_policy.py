"""Redis rules through live policy changes of the running proxy (the policy file is rewritten; proxylib-host
serves it to the library over NPDS): the open connection follows the new policy, command names, containers,
subcommands and categories, key and channel conditions, unknown (module) commands, rules the library rejects
(the previous policy stays in force), and Examples/redis/policy.yaml."""
import os

import pytest
import redis

from host_procs import ROOT
from rd_policy import DEFAULT_RULES, policy_yaml
from rd_wire import UNKNOWN_DENIED, denied


def test_open_connection_follows_the_new_policy(policy, redis_server, r, direct, key):
    k = key("other")
    with pytest.raises(redis.exceptions.NoPermissionError):
        r.set(k, "1")
    assert policy.set_policy(policy_yaml(redis_server.port, DEFAULT_RULES + [{"command": "set", "keyPrefix": "other:"}])) \
        is None
    assert r.set(k, "1") is True, "the next command on the same connection is judged by the new policy"
    with pytest.raises(redis.exceptions.NoPermissionError):
        r.get(k)  # only SET was added for other:
    assert policy.set_policy(policy_yaml(redis_server.port, DEFAULT_RULES)) is None
    with pytest.raises(redis.exceptions.NoPermissionError):
        r.set(k, "2")
    assert direct.get(k) == "1"


# (id, rules, [(request args with {u} for a unique tag, allowed)]): judged on one raw connection; allowed
# requests must not come back NOPERM (whatever redis answers).
CASES = [
    ("command name", [{"command": "get"}],
     [("GET x{u}", True), ("get y{u}", True), ("SET x{u} 1", False), ("MGET x{u}", False)]),
    ("container covers its subcommands", [{"command": "config"}],
     [("CONFIG GET maxmemory", True), ("CONFIG RESETSTAT", True), ("CLIENT ID", False)]),
    ("subcommand with a bar", [{"command": "config|get"}],
     [("CONFIG GET maxmemory", True), ("CONFIG SET maxmemory 0", False)]),
    ("subcommand with a blank", [{"command": "CLIENT ID"}],
     [("CLIENT ID", True), ("CLIENT LIST", False)]),
    ("category @read", [{"command": "@read"}],
     [("GET k{u}", True), ("HGETALL k{u}", True), ("DBSIZE", True), ("SET k{u} 1", False), ("FOO.BAR", False)]),
    ("category @string with keys", [{"command": "@string", "keyPrefix": "s:"}],
     [("SET s:{u} 1", True), ("APPEND s:{u} x", True), ("LPUSH s:{u}l x", False), ("SET t:{u} 1", False)]),
    ("category @dangerous", [{"command": "@dangerous"}],
     [("KEYS nothing{u}*", True), ("DEBUG SLEEP 0", True), ("GET k{u}", False)]),
    ("keyExact", [{"command": "get", "keyExact": "exact{u}"}],
     [("GET exact{u}", True), ("GET exact{u}x", False), ("GET xexact{u}", False)]),
    ("keyRegex unanchored", [{"command": "@read", "keyRegex": "^re{u}:[0-9]+$"}],
     [("GET re{u}:12", True), ("MGET re{u}:1 re{u}:2", True), ("MGET re{u}:1 re{u}:x", False), ("DBSIZE", False)]),
    ("every condition holds", [{"command": "@write", "keyPrefix": "p{u}", "keyRegex": "[0-9]$"}],
     [("SET p{u}1 v", True), ("SET p{u}x v", False), ("SET q{u}1 v", False)]),
    ("keys without command", [{"keyPrefix": "k{u}"}],
     [("GET k{u}a", True), ("DEL k{u}a k{u}b", True), ("DEL k{u}a x", False), ("PING", False)]),
    ("channelExact", [{"command": "publish", "channelExact": "c{u}"}],
     [("PUBLISH c{u} m", True), ("PUBLISH c{u}x m", False), ("SPUBLISH c{u} m", False)]),
    ("channelRegex", [{"command": "@pubsub", "channelRegex": "^ch{u}\\.[a-z]+$"}],
     [("PUBLISH ch{u}.abc m", True), ("PUBLISH ch{u}.1 m", False), ("PUBSUB CHANNELS", False)]),
    ("psubscribe with channelExact", [{"command": "psubscribe", "channelExact": "ex{u}"}],
     [("PSUBSCRIBE ex{u}", True), ("PSUBSCRIBE ex{u}*", False), ("PSUBSCRIBE ex{u}?", False)]),
    ("psubscribe with channelRegex", [{"command": "psubscribe", "channelRegex": "^rx{u}"}],
     [("PSUBSCRIBE rx{u}.a", True), ("PSUBSCRIBE rx{u}.*", False)]),
    ("unsubscribing passes channel conditions", [{"command": "@pubsub", "channelExact": "only{u}"}],
     [("UNSUBSCRIBE other{u}", True), ("PUNSUBSCRIBE other{u}*", True), ("SUBSCRIBE other{u}", False),
      ("SUBSCRIBE only{u}", True), ("PUBSUB NUMSUB only{u}", False)]),
    ("category @keyspace", [{"command": "@keyspace", "keyPrefix": "ks{u}"}],
     [("DEL ks{u}a", True), ("EXPIRE ks{u}a 10", True), ("TYPE ks{u}a", True), ("GET ks{u}a", False),
      ("DEL other{u}", False), ("DBSIZE", False)]),
    ("an empty rule allows everything", [{}], [("FLUSHDB", True), ("FOO.BAR", True), ("GET x{u}", True)]),
    ("empty values count as absent", [{"command": "get", "keyPrefix": ""}], [("GET any{u}", True), ("SET a{u} 1", False)]),
    ("no l7 rules allow everything", None, [("CONFIG GET port", True), ("GET x{u}", True)]),
]


@pytest.mark.parametrize("rules,requests", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rules(rules, requests, policy, redis_server, wire, key):
    u = key("").strip(":").replace(":", "-")
    if rules is not None:
        rules = [{name: value.replace("{u}", u) for name, value in rule.items()} for rule in rules]
    assert policy.set_policy(policy_yaml(redis_server.port, rules)) is None
    w = wire()
    for request, allowed in requests:
        args = request.replace("{u}", u).split()
        reply = w.ask(tuple(args))[0]
        assert reply.startswith(b"-NOPERM") is not allowed, f"{args} -> {reply!r}"


def test_unknown_command_by_name(policy, redis_server, r, wire, key):
    """A command redis-server does not know (a module's): without a rule naming it, denied by the proxy; with
    `command: foo.bar`, it reaches the server, which answers its unknown-command error."""
    k = key()
    with pytest.raises(redis.exceptions.NoPermissionError, match="does not allow this command"):
        r.execute_command("FOO.BAR", k)
    assert policy.set_policy(policy_yaml(redis_server.port, DEFAULT_RULES + [{"command": "foo.bar"}])) is None
    with pytest.raises(redis.exceptions.ResponseError) as e:
        r.execute_command("FOO.BAR", k)
    assert not isinstance(e.value, redis.exceptions.NoPermissionError)
    assert str(e.value).startswith("unknown command 'FOO.BAR'"), str(e.value)
    w = wire()
    assert w.ask(("foo.BAR", k), ("FOO.BAZ", k))[1] == UNKNOWN_DENIED  # by name, case-insensitively
    # A rule with key conditions never allows an unknown command (its keys cannot be known).
    assert policy.set_policy(policy_yaml(redis_server.port, [{"command": "foo.bar", "keyPrefix": "pub:"}])) is None
    assert w.ask(("FOO.BAR", k)) == [UNKNOWN_DENIED]


# (id, rules, what the rejection names): the library NACKs the whole update and keeps the standing policy.
REJECTED = [
    ("unknown rule key", [{"command": "get", "keyPrfix": "pub:"}], "unsupported key"),
    ("unknown category", [{"command": "@nosuch"}], "unknown command category"),
    ("unknown subcommand", [{"command": "config|nope"}], "unknown subcommand"),
    ("db not a number", [{"db": "one"}], "db must be a database number"),
    ("negative db", [{"db": "-1"}], "db must be a database number"),
    ("keys and channels", [{"command": "@pubsub", "keyPrefix": "a", "channelPrefix": "b"}], "not both"),
    ("invalid regular expression", [{"command": "get", "keyRegex": "(["}], "regular expression"),
    ("blank in a command name", [{"command": "no such"}], "not a command name"),
]


@pytest.mark.parametrize("rules,reason", [c[1:] for c in REJECTED], ids=[c[0] for c in REJECTED])
def test_rejected_rules_keep_the_standing_policy(rules, reason, policy, redis_server, wire, key):
    verdict = policy.set_policy(policy_yaml(redis_server.port, rules))
    assert verdict is not None and "REJECTED" in verdict and reason in verdict, verdict
    w = wire()
    assert w.ask(("GET", key("priv")), ("GET", key())) == [denied("get"), b"$-1\r\n"]


def test_example_policy(policy, redis_server, wire, direct, key):
    """Examples/redis/policy.yaml is accepted and does what its comments say."""
    with open(os.path.join(ROOT, "Examples", "redis", "policy.yaml")) as f:
        example = f.read()
    assert '"6379"' in example
    assert policy.set_policy(example.replace('"6379"', f'"{redis_server.port}"')) is None
    u = key("").strip(":").replace(":", "")
    w = wire()
    assert w.ask(("GET", f"public:{u}"), ("HGETALL", f"public:{u}"), ("SET", f"public:{u}", "x")) == [
        b"$-1\r\n", b"*0\r\n", denied("set")]
    assert w.ask(("SET", f"cache:{u}", "v", "EX", "60"), ("DEL", f"cache:{u}"), ("FLUSHDB",)) == [
        b"+OK\r\n", b":1\r\n", denied("flushdb")]
    assert w.ask(("PUBLISH", f"events.{u}", "m"), ("PUBLISH", f"audit.{u}", "m")) == [b":0\r\n", denied("publish")]
    assert w.ask(("PING",), ("CONFIG", "GET", "maxmemory"), ("CONFIG", "SET", "maxmemory", "0")) == [
        b"+PONG\r\n", b"*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n", denied("config|set")]
    assert w.ask(("SELECT", "3"), ("SET", f"session:{u}", "s"), ("GET", f"public:{u}"), ("SELECT", "5")) == [
        b"+OK\r\n", b"+OK\r\n", denied("get"), denied("select")]
    d3 = redis_server.client(db=3, decode_responses=True)
    assert d3.get(f"session:{u}") == "s"
    d3.close()
