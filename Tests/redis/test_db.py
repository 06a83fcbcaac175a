"""Database rules: the connection's database as SELECT sets it (redis-py sends SELECT n on connect for
Redis(db=n)); MOVE, COPY … DB, SWAPDB reach a second database; FLUSHALL reaches every database."""
import pytest
import redis

from rd_policy import policy_yaml
from rd_wire import denied


def test_db_rule_with_redis_py(policy, redis_server, proxy, key):
    from conftest import proxied_client
    assert policy.set_policy(policy_yaml(redis_server.port, [{"db": "1"}])) is None
    k = key()
    in1 = proxied_client(proxy.port, db=1)
    in0 = proxied_client(proxy.port)  # db 0
    try:
        assert in1.set(k, "in db 1") is True and in1.get(k) == "in db 1"
        assert in1.incr(n := key("any")) == 1  # any key, any command: the rule names only the database
        with pytest.raises(redis.exceptions.NoPermissionError, match="does not allow 'set'"):
            in0.set(k, "in db 0")
        with pytest.raises(redis.exceptions.NoPermissionError, match="does not allow 'get'"):
            in0.get(k)
    finally:
        in1.close()
        in0.close()
    d1, d0 = redis_server.client(db=1, decode_responses=True), redis_server.client(decode_responses=True)
    assert d1.get(k) == "in db 1" and d1.get(n) == "1" and d0.exists(k) == 0
    d1.close()
    d0.close()


def test_db_rule_on_the_wire(policy, redis_server, wire, key):
    assert policy.set_policy(policy_yaml(redis_server.port, [{"db": "1"}])) is None
    k = key()
    w = wire()
    assert w.ask(("SET", k, "0"), ("SELECT", "1"), ("SET", k, "1"), ("SELECT", "2"), ("GET", k)) == [
        denied("set"), b"+OK\r\n", b"+OK\r\n", denied("select"), b"$1\r\n1\r\n"]
    # A second database: MOVE, COPY … DB, SWAPDB; FLUSHALL reaches them all.
    assert w.ask(("MOVE", k, "3"), ("COPY", k, key(), "DB", "4"), ("COPY", k, key(), "DB", "1"),
                 ("SWAPDB", "1", "5"), ("FLUSHALL",), ("FLUSHDB",)) == [
        denied("move"), denied("copy"), b":1\r\n", denied("swapdb"), denied("flushall"), b"+OK\r\n"]
    d1 = redis_server.client(db=1)
    assert d1.dbsize() == 0, "FLUSHDB emptied db 1"
    d1.close()


def test_select_inside_a_transaction(policy, redis_server, wire, key):
    """A SELECT queued in MULTI applies to the commands queued after it, and after EXEC to the connection."""
    assert policy.set_policy(policy_yaml(redis_server.port, [{"db": "2"}, {"command": "multi"},
                                                              {"command": "exec"}, {"command": "select"}])) is None
    k = key()
    w = wire()
    assert w.ask(("MULTI",), ("SET", k, "no"), ("SELECT", "2"), ("SET", k, "yes"), ("EXEC",), ("GET", k)) == [
        b"+OK\r\n", denied("set"), b"+QUEUED\r\n", b"+QUEUED\r\n",
        b"-EXECABORT Transaction discarded: a queued command was denied by policy\r\n",
        denied("get")]  # the aborted transaction's SELECT never ran: still db 0
    d2 = redis_server.client(db=2, decode_responses=True)
    assert d2.exists(k) == 0
    assert w.ask(("MULTI",), ("SELECT", "2"), ("SET", k, "yes"), ("EXEC",), ("GET", k)) == [
        b"+OK\r\n", b"+QUEUED\r\n", b"+QUEUED\r\n", b"*2\r\n+OK\r\n+OK\r\n", b"$3\r\nyes\r\n"]
    assert d2.get(k) == "yes"
    d2.close()


def test_failed_select_keeps_the_database(policy, redis_server, wire, key):
    """SELECT 99 fails on the server (16 databases): the connection stays in its database."""
    assert policy.set_policy(policy_yaml(redis_server.port, [{"db": "0"}, {"command": "select"}])) is None
    k = key()
    w = wire()
    reply = w.ask(("SELECT", "99"))[0]
    assert reply.startswith(b"-ERR DB index is out of range")
    assert w.ask(("SET", k, "v"), ("SELECT", "3"), ("GET", k)) == [b"+OK\r\n", b"+OK\r\n", denied("get")]


DB2_RULES = [{"db": "2"}, {"command": "select"}, {"command": "watch"}, {"command": "multi"}, {"command": "exec"},
             {"command": "set", "keyPrefix": "pub:"}]


@pytest.mark.parametrize("protocol", [
    "2", "3"])
def test_exec_with_a_failed_watch_keeps_the_database(protocol, policy, redis_server, wire, direct, key):
    """A transaction with a SELECT whose EXEC answers null (a WATCHed key changed) ran nothing: the connection
    stays in its database."""
    assert policy.set_policy(policy_yaml(redis_server.port, DB2_RULES + [{"command": "hello"}])) is None
    k, d = key(), key("priv")
    direct.set(d, "db 0 secret")
    w = wire()
    assert w.ask(("HELLO", protocol))[0][:1] in (b"*", b"%")
    assert w.ask(("WATCH", k), ("MULTI",), ("SELECT", "2"), ("SET", d, "x")) == [
        b"+OK\r\n", b"+OK\r\n", b"+QUEUED\r\n", b"+QUEUED\r\n"]
    direct.set(k, "changed")
    assert w.ask(("EXEC",)) == [b"*-1\r\n" if protocol == "2" else b"_\r\n"]
    assert w.ask(("GET", d)) == [denied("get")], "still db 0, where only SET of pub: keys is allowed"


def test_exec_refused_by_redis_keeps_the_database(policy, redis_server, wire, direct, key):
    """A transaction with a SELECT whose EXEC answers EXECABORT (a queued command was refused by redis itself)."""
    assert policy.set_policy(policy_yaml(redis_server.port, DB2_RULES)) is None
    d = key("priv")
    direct.set(d, "db 0 secret")
    w = wire()
    assert w.ask(("MULTI",), ("SELECT", "2"), ("SET", d), ("EXEC",))[2:] == [
        b"-ERR wrong number of arguments for 'set' command\r\n",
        b"-EXECABORT Transaction discarded because of previous errors.\r\n"]
    assert w.ask(("GET", d)) == [denied("get")]
    d2 = redis_server.client(db=2)
    assert d2.exists(d) == 0
    d2.close()


def test_failed_select_then_a_later_select(policy, redis_server, wire, key):
    """SELECT 99 fails, the SELECT 3 sent after it succeeds: the connection is in db 3 (the failure restores
    nothing once a later SELECT was sent)."""
    assert policy.set_policy(policy_yaml(redis_server.port, [{"command": "select"}, {"db": "3"}])) is None
    k = key()
    w = wire()
    replies = w.ask(("SELECT", "99"), ("SELECT", "3"))
    assert replies[0].startswith(b"-ERR") and replies[1] == b"+OK\r\n"
    assert w.ask(("SET", k, "in 3"), ("GET", k)) == [b"+OK\r\n", b"$4\r\nin 3\r\n"]
