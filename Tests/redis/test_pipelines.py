"""Pipelines and transactions through the proxy: a denied command's NOPERM comes exactly where its reply would
have been; a transaction with a denied command fails at EXEC (EXECABORT, as redis fails a transaction whose
command its ACL refuses) and none of its commands runs on the server."""
import pytest
import redis

from rd_wire import EXEC_ABORT, denied


def test_pipeline_denials_in_order(r, direct, key):
    k, n, d, d2 = key(), key(), key("priv"), key("priv")
    pipe = r.pipeline(transaction=False)
    pipe.set(k, "v").set(d, "x").get(k).get(d2).incr(n).hset(d, "f", "v").incr(n).echo("end")
    results = pipe.execute(raise_on_error=False)
    assert results[0] is True and results[2] == "v" and results[4] == 1 and results[6] == 2 and results[7] == "end"
    for i, name in ((1, "set"), (3, "get"), (5, "hset")):
        assert isinstance(results[i], redis.exceptions.NoPermissionError), (i, results[i])
        assert f"the network policy does not allow '{name}'" in str(results[i])
    assert direct.get(k) == "v" and direct.get(n) == "2" and direct.exists(d, d2) == 0


def test_long_pipeline(r, direct, key):
    """500 commands in one write, every tenth denied."""
    keys = [key() if i % 10 else key("priv") for i in range(500)]
    pipe = r.pipeline(transaction=False)
    for i, k in enumerate(keys):
        pipe.set(k, str(i))
    results = pipe.execute(raise_on_error=False)
    for i, result in enumerate(results):
        if i % 10:
            assert result is True, (i, result)
        else:
            assert isinstance(result, redis.exceptions.NoPermissionError), (i, result)
    assert direct.mget(keys) == [None if i % 10 == 0 else str(i) for i in range(500)]


def test_transaction_allowed(r, direct, key):
    k, h = key(), key()
    pipe = r.pipeline(transaction=True)
    pipe.set(k, "1").incr(k).hset(h, "f", "v").get(k)
    assert pipe.execute() == [True, 2, 1, "2"]
    assert direct.get(k) == "2" and direct.hget(h, "f") == "v"


def test_transaction_with_a_denied_command_runs_nothing(r, direct, key):
    k, k2, d = key(), key(), key("priv")
    pipe = r.pipeline(transaction=True)
    pipe.set(k, "1").set(d, "x").incr(k2)
    with pytest.raises(redis.exceptions.NoPermissionError, match="does not allow 'set'"):
        pipe.execute()
    assert direct.exists(k, k2, d) == 0, "nothing of the transaction ran"
    # The connection is out of MULTI and still works.
    assert r.set(k, "after") is True and r.get(k) == "after"
    pipe = r.pipeline(transaction=True)
    pipe.incr(k2).incr(k2)
    assert pipe.execute() == [1, 2]
    assert direct.get(k2) == "2"


def test_transaction_on_the_wire(wire, direct, key):
    """The replies the client reads: +QUEUED for the allowed, NOPERM in place of the denied one's +QUEUED,
    EXECABORT for EXEC; then DISCARD-free normal service."""
    k, d = key(), key("priv")
    w = wire()
    assert w.ask(("MULTI",), ("SET", k, "1"), ("DEL", d), ("INCR", k), ("EXEC",), ("PING",)) == [
        b"+OK\r\n", b"+QUEUED\r\n", denied("del"), b"+QUEUED\r\n", EXEC_ABORT, b"+PONG\r\n"]
    assert direct.exists(k) == 0
    # DISCARD after a denial: redis's own reply.
    assert w.ask(("MULTI",), ("GET", d), ("DISCARD",), ("SET", k, "2")) == [
        b"+OK\r\n", denied("get"), b"+OK\r\n", b"+OK\r\n"]
    assert direct.get(k) == "2"


def test_watch_then_conflicting_write(r, direct, key):
    """A transaction that fails because a WATCHed key changed (EXEC answers null): redis-py's WatchError."""
    k = key()
    direct.set(k, "0")
    with r.pipeline(transaction=True) as pipe:
        pipe.watch(k)
        direct.set(k, "changed")
        pipe.multi()
        pipe.set(k, "mine")
        with pytest.raises(redis.exceptions.WatchError):
            pipe.execute()
    assert direct.get(k) == "changed"
    assert r.get(k) == "changed"
