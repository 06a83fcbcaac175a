"""Cassandra rules through live policy changes of the running proxy (the policy file is rewritten; the library gets
it over NPDS): the next request on an open connection is checked against the new policy, prepared statements are
checked when executed, rule shapes (action only, table only, no L7 rules) and rules the library rejects (NACK:
the previous policy stays in force)."""
import pytest
from cassandra import Unauthorized
from cassandra.query import BatchStatement

from cass_checks import Unseen
from cass_policy import SYSTEM_RULE, policy_yaml
from conftest import VARIANTS

ONE_VARIANT = pytest.mark.parametrize("cluster", [VARIANTS[0]], ids=[VARIANTS[0][0]], indirect=True)


def rows(result):
    return [tuple(r) for r in result]


def test_edit_takes_effect_on_the_next_query(policy, server, session, key):
    k = key()
    server.direct.execute("INSERT INTO ks.secret (k, v) VALUES (%s, 1)", (k,))
    select_allowed = "SELECT v FROM ks.allowed_kv WHERE k = %s"
    assert rows(session.execute(select_allowed, (k,))) == []
    with pytest.raises(Unauthorized):
        session.execute("SELECT v FROM ks.secret WHERE k = %s", (k,))

    # Now ks.secret may be read and ks.allowed_kv may not: the same session and connection see the change.
    assert policy.set_policy(policy_yaml(server.port, [
        SYSTEM_RULE, {"query_action": "select", "query_table": r"^ks\.secret$"}])) is None
    assert rows(session.execute("SELECT v FROM ks.secret WHERE k = %s", (k,))) == [(1,)]
    with Unseen(server, k):
        with pytest.raises(Unauthorized):
            session.execute(select_allowed, (k,))
        session.execute("SELECT v FROM ks.secret WHERE k = 'nothing'")


def test_execute_is_checked_against_the_current_policy(policy, server, session, key):
    """A statement prepared while the policy allowed it is refused at EXECUTE once the policy no longer does."""
    k = key()
    insert = session.prepare("INSERT INTO ks.allowed_kv (k, v) VALUES (?, ?)")
    select = session.prepare("SELECT v FROM ks.allowed_kv WHERE k = ?")
    session.execute(insert, (k, 1))
    assert policy.set_policy(policy_yaml(server.port, [
        SYSTEM_RULE, {"query_action": "select", "query_table": r"^ks\.allowed_"}])) is None
    mark = server.log_mark()
    with pytest.raises(Unauthorized):
        session.execute(insert, (k, 2))
    batch = BatchStatement()
    batch.add(insert, (k, 3))
    with pytest.raises(Unauthorized):
        session.execute(batch)
    assert rows(session.execute(select, (k,))) == [(1,)], "the value written before the change is unchanged"
    executed = [line for line in server.requests(mark) if "INSERT" in line]
    assert executed == [], f"the server received the refused executions: {executed}"


@ONE_VARIANT
def test_action_only_rule(policy, server, session, key):
    k = key()
    assert policy.set_policy(policy_yaml(server.port, [{"query_action": "select"}])) is None
    server.direct.execute("INSERT INTO other.secret (k, v) VALUES (%s, 4)", (k,))
    assert rows(session.execute("SELECT v FROM other.secret WHERE k = %s", (k,))) == [(4,)]
    with Unseen(server, k):
        with pytest.raises(Unauthorized):
            session.execute("INSERT INTO ks.allowed_kv (k, v) VALUES (%s, 1)", (k,))
        session.execute("SELECT v FROM other.secret WHERE k = 'nothing'")


@ONE_VARIANT
def test_table_only_rule(policy, server, session, key):
    k = key()
    assert policy.set_policy(policy_yaml(server.port, [SYSTEM_RULE, {"query_table": r"^ks\.secret$"}])) is None
    session.execute("INSERT INTO ks.secret (k, v) VALUES (%s, 1)", (k,))
    session.execute("UPDATE ks.secret SET v = 2 WHERE k = %s", (k,))
    assert rows(session.execute("SELECT v FROM ks.secret WHERE k = %s", (k,))) == [(2,)]
    session.execute("DELETE FROM ks.secret WHERE k = %s", (k,))
    assert rows(server.direct.execute("SELECT v FROM ks.secret WHERE k = %s", (k,))) == []
    with Unseen(server, k):
        with pytest.raises(Unauthorized):
            session.execute("SELECT v FROM ks.allowed_kv WHERE k = %s", (k,))
        session.execute("SELECT v FROM ks.secret WHERE k = 'nothing'")


@ONE_VARIANT
def test_no_l7_rules_allow_everything(policy, server, session, key):
    k = key()
    assert policy.set_policy(policy_yaml(server.port, None)) is None
    session.execute("INSERT INTO ks.secret (k, v) VALUES (%s, 1)", (k,))
    session.execute("TRUNCATE ks.secret")
    assert rows(server.direct.execute("SELECT v FROM ks.secret WHERE k = %s", (k,))) == []


@ONE_VARIANT
@pytest.mark.parametrize("rule", [
    {"query_table": "^ks\\.(unclosed"},
    {"query_tabel": "^ks\\."},
    {"query_action": "frobnicate"},
], ids=["invalid regex", "unknown key", "unknown action"])
def test_rejected_rules_keep_the_previous_policy(policy, server, session, rule):
    verdict = policy.set_policy(policy_yaml(server.port, [SYSTEM_RULE, rule]))
    assert verdict is not None and "REJECTED" in verdict, f"the library accepted {rule}"
    policy.policy_text = None  # the file no longer holds the policy in force: the teardown rewrites it
    # The standing policy is still in force.
    assert rows(session.execute("SELECT v FROM ks.allowed_kv WHERE k = 'nothing'")) == []
    with pytest.raises(Unauthorized):
        session.execute("SELECT v FROM ks.secret WHERE k = 'nothing'")
