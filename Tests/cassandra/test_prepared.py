"""Prepared statements across connections and server restarts. cassandra-driver prepares a statement once (on one
connection per host) and executes it on any connection of any Session of the Cluster; Cassandra knows its
prepared statements server-wide. A statement unknown where it is executed gets an Unprepared error (0x2500 with
the id), on which the driver prepares it again on that connection and retries: through the proxy that PREPARE
is checked against the policy in force."""
import pytest
from cassandra import Unauthorized

from cass_policy import SYSTEM_RULE, policy_yaml


def rows(result):
    return [tuple(r) for r in result]


def test_executed_on_another_connection(cluster, server, key):
    """Prepared on one Session's connection, executed on another's: Cassandra knows the statement from the other
    connection; the proxy may not, and then answers Unprepared so that the driver prepares it on this one."""
    k = key()
    first, second = cluster.connect("ks"), cluster.connect("ks")
    try:
        insert = first.prepare("INSERT INTO allowed_kv (k, v) VALUES (?, ?)")
        select = first.prepare("SELECT v FROM allowed_kv WHERE k = ?")
        second.execute(insert, (k, 21))
        assert rows(second.execute(select, (k,))) == [(21,)]
        assert rows(first.execute(select, (k,))) == [(21,)]
    finally:
        first.shutdown()
        second.shutdown()


def test_executed_on_another_connection_without_keyspace(cluster, server, key):
    """The same with sessions that have no keyspace and fully qualified statements."""
    k = key()
    first, second = cluster.connect(), cluster.connect()
    try:
        insert = first.prepare("INSERT INTO ks.allowed_kv (k, v) VALUES (?, ?)")
        second.execute(insert, (k, 22))
        assert rows(second.execute("SELECT v FROM ks.allowed_kv WHERE k = %s", (k,))) == [(22,)]
    finally:
        first.shutdown()
        second.shutdown()


def test_another_connection_checks_the_current_policy(policy, cluster, server, key):
    """Prepared while allowed, executed on another connection after the policy stopped allowing it: refused."""
    k = key()
    first, second = cluster.connect("ks"), cluster.connect("ks")
    try:
        insert = first.prepare("INSERT INTO allowed_kv (k, v) VALUES (?, ?)")
        first.execute(insert, (k, 1))
        assert policy.set_policy(policy_yaml(server.port, [
            SYSTEM_RULE, {"query_action": "select", "query_table": r"^ks\.allowed_"}])) is None
        mark = server.log_mark()
        with pytest.raises(Unauthorized):
            second.execute(insert, (k, 2))
        assert not [line for line in server.requests(mark) if "EXECUTE" in line], "the EXECUTE never got through"
    finally:
        first.shutdown()
        second.shutdown()
    assert rows(server.direct.execute("SELECT v FROM ks.allowed_kv WHERE k = %s", (k,))) == [(1,)]


def test_server_forgets_prepared_statements(cluster, server, key):
    """The server answers Unprepared (as after a restart): the driver prepares again on the same connection, the
    proxy lets the allowed PREPARE through and the retried EXECUTE works."""
    k = key()
    session = cluster.connect("ks")
    try:
        insert = session.prepare("INSERT INTO allowed_kv (k, v) VALUES (?, ?)")
        session.execute(insert, (k, 1))
        server.forget_prepared()
        mark = server.log_mark()
        session.execute(insert, (k, 2))
        assert [line.split()[2] for line in server.requests(mark)] == ["EXECUTE", "PREPARE", "EXECUTE"]
        assert rows(session.execute("SELECT v FROM allowed_kv WHERE k = %s", (k,))) == [(2,)]
    finally:
        session.shutdown()
