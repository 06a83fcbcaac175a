"""proxylib-host's access log (--log-json) for cassandra: one generic_l7 entry with proto "cassandra" and fields
{query_action, query_table} per statement the parser decides on (each statement of a batch), Request when
allowed, Denied when not. Each test reads and writes tables of its own (created on the server directly), so that
its entries can be told apart."""
import uuid

import pytest
from cassandra import Unauthorized
from cassandra.query import BatchStatement

from cass_procs import wait_for


@pytest.fixture
def tables(server):
    """tables(*prefixes) -> fresh table names ks.<prefix>_<tag> (k text PRIMARY KEY, v int), made on the server."""
    def make(*prefixes):
        tag = uuid.uuid4().hex[:10]
        names = [f"{p}_{tag}" for p in prefixes]
        for name in names:
            server.direct.execute(f"CREATE TABLE ks.{name} (k text PRIMARY KEY, v int)")
        return names
    return make


def entries_for(proxy, table):
    return [(e["entry_type"], e["generic_l7"]["fields"]) for e in proxy.entries()
            if e.get("generic_l7", {}).get("proto") == "cassandra"
            and e["generic_l7"]["fields"].get("query_table") == table]


def logged(proxy, server, table, count=1):
    """The (entry type, fields) of the entries for `table` once `count` are there; checks an entry's endpoints."""
    wait_for(lambda: len(entries_for(proxy, table)) >= count, f"{count} access-log entries for {table}")
    entry = next(e for e in proxy.entries() if e.get("generic_l7", {}).get("fields", {}).get("query_table") == table)
    assert entry["destination_address"] == f"127.0.0.1:{server.port}" and entry["is_ingress"] is True
    return entries_for(proxy, table)


def test_query_entries(proxy, server, session, tables):
    allowed, secret = tables("allowed_log", "secret_log")
    session.execute(f"INSERT INTO ks.{allowed} (k, v) VALUES ('a', 1)")
    session.execute(f"SELECT * FROM ks.{allowed}")
    with pytest.raises(Unauthorized):
        session.execute(f"SELECT * FROM ks.{secret}")
    with pytest.raises(Unauthorized):
        session.execute(f"DELETE FROM ks.{allowed} WHERE k = 'a'")
    assert logged(proxy, server, f"ks.{allowed}", 3) == [
        ("Request", {"query_action": "insert", "query_table": f"ks.{allowed}"}),
        ("Request", {"query_action": "select", "query_table": f"ks.{allowed}"}),
        ("Denied", {"query_action": "delete", "query_table": f"ks.{allowed}"})]
    assert logged(proxy, server, f"ks.{secret}") == [
        ("Denied", {"query_action": "select", "query_table": f"ks.{secret}"})]


def test_unqualified_names_are_logged_with_the_keyspace(proxy, server, session, tables):
    allowed, secret = tables("allowed_log", "secret_log")
    session.execute("USE ks")
    session.execute(f"SELECT * FROM {allowed}")
    with pytest.raises(Unauthorized):
        session.execute(f"INSERT INTO {secret} (k, v) VALUES ('a', 1)")
    assert logged(proxy, server, f"ks.{allowed}") == [
        ("Request", {"query_action": "select", "query_table": f"ks.{allowed}"})]
    assert logged(proxy, server, f"ks.{secret}") == [
        ("Denied", {"query_action": "insert", "query_table": f"ks.{secret}"})]


def test_prepared_and_batch_entries(proxy, server, session, tables):
    allowed, secret = tables("allowed_log", "secret_log")
    insert = session.prepare(f"INSERT INTO ks.{allowed} (k, v) VALUES (?, ?)")
    session.execute(insert, ("a", 1))
    batch = BatchStatement()
    batch.add(insert, ("b", 2))
    batch.add(f"INSERT INTO ks.{secret} (k, v) VALUES ('b', 2)")
    with pytest.raises(Unauthorized):
        session.execute(batch)
    # PREPARE and EXECUTE are each checked and logged as the statement they carry; a refused batch logs every
    # statement as Denied (none of them reached the server).
    assert logged(proxy, server, f"ks.{allowed}", 3) == [
        ("Request", {"query_action": "insert", "query_table": f"ks.{allowed}"}),
        ("Request", {"query_action": "insert", "query_table": f"ks.{allowed}"}),
        ("Denied", {"query_action": "insert", "query_table": f"ks.{allowed}"})]
    assert logged(proxy, server, f"ks.{secret}") == [
        ("Denied", {"query_action": "insert", "query_table": f"ks.{secret}"})]
