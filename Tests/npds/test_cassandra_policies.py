"""Upstream's Cassandra vectors (cilium/proxy proxylib/cassandra/cassandraparser_test.go) through the C ABI, each
policy delivered by a real NPDS server and every access-log entry read back by a real collector, then the
cases where our parser deliberately differs from upstream (shared/parity.md) and the policy-plane checks.

Every vector runs three ways on one library instance:
  1. exact ops and reply-direction inject bytes of each OnData call (upstream's CheckOnDataOK);
  2. the same traffic through the C datapath: what the server and the client receive;
  3. the access-log entries both runs produce (generic_l7 `cassandra`, query_action/query_table, or
     error="unknown prepared query id"; Request when allowed, Denied when denied; nothing for USE, non-query
     requests and replies).

Upstream sets prepared ids directly in the parser's maps; here they are established through the protocol: a
PREPARE request, then the server's RESULT/Prepared reply with the same stream id.
"""

import pytest

from cassandra_support import (
    MORE9, QUERY, UNKNOWN_ID_LOG, Log, Vector, allowed, auth_response, batch, cassandra_policy,
    connect, denied, drops, execute, frame, long_string, new_policy, options, passes, prepare, prepared_result,
    query, register, reply, request, run_vector, set_keyspace_result, startup, unauthorized, unprepared,
    upstream_unprepared,
    DENIED, REQUEST)

# ---- upstream's bytes ------------------------------------------------------------------------------------------

# OPTIONS, stream 0 (TestCassandraOnDataOptionsReq).
UP_OPTIONS = bytes.fromhex("040000000500000000")
# QUERY on stream 4: "SELECT cluster_name, ... FROM system.local WHERE key='local'", consistency ONE, flags 0.
UP_SELECT_LOCAL = bytes.fromhex(
    "0400000407000000760000006f53454c45435420636c75737465725f6e616d652c20646174615f63656e7465722c207261636b2c20"
    "746f6b656e732c20706172746974696f6e65722c20736368656d615f76657273696f6e2046524f4d2073797374656d2e6c6f63616c"
    "205748455245206b65793d276c6f63616c27000100")


def _upstream_batch(table2):
    return bytes([0x04, 0x00, 0x00, 0x04, 0x0D, 0, 0, 0, 0x3C, 0x00, 0x00, 0x02,
                  0x00, 0, 0, 0, 0x14]) + b"SELECT * FROM db1.t1" + bytes([0, 0, 0x00, 0, 0, 0, 0x14]) + \
        b"SELECT * FROM " + table2 + bytes([0, 0, 0, 0, 0])


UP_BATCH = _upstream_batch(b"db1.t2")            # TestCassandraBatchRequestPolicy
UP_BATCH_DB2 = _upstream_batch(b"db2.t2")        # TestCassandraBatchRequestPolicyDenied
# TestCassandraBatchRequestPreparedStatement(Denied): prepared ids "aaaa" and "bbbb", stream 4.
UP_BATCH_PREPARED = bytes([0x04, 0x00, 0x00, 0x04, 0x0D, 0, 0, 0, 0x18, 0x00, 0x00, 0x02,
                           0x01, 0x00, 0x04]) + b"aaaa" + bytes([0, 0, 0x01, 0x00, 0x04]) + b"bbbb" + bytes([0, 0, 0, 0, 0])
# TestCassandraExecutePreparedStatement: EXECUTE "aaaa" on stream 4 with three trailing bytes of values.
UP_EXECUTE = bytes([0x04, 0x00, 0x00, 0x04, 0x0A, 0, 0, 0, 0x09, 0x00, 0x04]) + b"aaaaxyz"
# TestCassandraExecutePreparedStatementUnknownID.
UP_EXECUTE_UNKNOWN = bytes([0x04, 0x00, 0x00, 0x04, 0x0A, 0, 0, 0, 0x06, 0x00, 0x04]) + b"aaaa"
# TestCassandraPreparedResultReply: RESULT/Prepared "aaaa" on stream 4 (metadata without result metadata).
UP_PREPARED_RESULT = bytes([0x84, 0x00, 0x00, 0x04, 0x08, 0, 0, 0, 0x16, 0, 0, 0, 4, 0x00, 0x04]) + b"aaaa" + bytes(12)

# Upstream's denial for a v4 request on stream 4 (createUnauthMsg(0x4)) and Unprepared (createUnpreparedMsg).
UP_UNAUTH_4 = bytes([0x84, 0x00, 0x00, 0x04, 0x00, 0, 0, 0, 0x1A, 0, 0, 0x21, 0x00, 0x00, 0x14]) + b"Request Unauthorized"
UP_UNPREPARED_AAAA = bytes([0x84, 0x00, 0x00, 0x04, 0x00, 0, 0, 0, 0x0A, 0, 0, 0x25, 0x00, 0x00, 0x04]) + b"aaaa"

ADDITIONAL_QUERIES = [
    "CREATE TABLE db4.t1 (f1 varchar, f2 timeuuid, PRIMARY KEY ((f1), f2))",
    "INSERT INTO db4.t1 (f1, f2, f3) values ('dan', now(), 'Cilium!')",
    "UPDATE db4.t1 SET f1 = 'donald' where f2 in (1,2,3)",
    "DROP TABLE db4.t1",
    "TRUNCATE db4.t1",
    "CREATE TABLE IF NOT EXISTS db4.t1 (f1 varchar, PRIMARY KEY(f1))",
]


def upstream_query(cql, stream=5):
    """Upstream's queryMsgBase: a QUERY whose body is the [long string] alone (no consistency, no flags)."""
    return frame(QUERY, long_string(cql), stream)


def test_frames_are_upstreams_bytes():
    """The spec-built frames of this file are upstream's bytes where upstream has them."""
    assert len(UP_BATCH) == 9 + 0x3C and len(UP_BATCH_PREPARED) == 9 + 0x18
    # The batch helper writes consistency ONE; upstream writes ANY (0): equal apart from that short.
    built = batch(["SELECT * FROM db1.t1", "SELECT * FROM db1.t2"], stream=4)
    assert built[:-3] == UP_BATCH[:-3] and built[-1:] == UP_BATCH[-1:]
    built = batch([b"aaaa", b"bbbb"], stream=4)
    assert built[:-3] == UP_BATCH_PREPARED[:-3]
    assert unauthorized(4) == UP_UNAUTH_4
    assert upstream_unprepared(b"aaaa", 4) == UP_UNPREPARED_AAAA
    assert options() == UP_OPTIONS
    cql = UP_SELECT_LOCAL[13:13 + 0x6F].decode()
    assert query(cql, stream=4) == UP_SELECT_LOCAL
    q = ADDITIONAL_QUERIES[0].encode()
    upstream = bytearray([0x04, 0x00, 0x00, 0x05, 0x07, 0, 0, 0, 0, 0, 0, 0, 0]) + q
    upstream[8], upstream[12] = 4 + len(q), len(q)
    assert upstream_query(ADDITIONAL_QUERIES[0]) == bytes(upstream)


# ---- policies (upstream's, on port 80 for remotes 1, 3, 4) ------------------------------------------------------

SELECT_ONLY = cassandra_policy({"query_action": "select"})
ANY_TABLE = cassandra_policy({"query_table": ".*"})
NO_MATCH = cassandra_policy({"query_table": "no-match"})
DB1 = cassandra_policy({"query_table": "db1.*"})
DB3 = cassandra_policy({"query_table": "db3.*"})
DB3_OR_DB4 = cassandra_policy({"query_table": "db[34]\\."})
DB4_T1 = cassandra_policy({"query_table": "db4.t1"})
DB5_T1 = cassandra_policy({"query_table": "db5.t1"})


def prepared(cql, prepared_id, stream, table, action="select"):
    """PREPARE `cql` on `stream` (allowed), then the server's RESULT/Prepared with `prepared_id`."""
    req, result = prepare(cql, stream), prepared_result(prepared_id, stream)
    return [request([req], [passes(req), MORE9], logs=[allowed(action, table)]),
            reply([result], [passes(result)])]


UPSTREAM_VECTORS = [
    # TestCassandraOnDataNoHeader: two bytes of a header, on a connection whose endpoint has no policy.
    Vector("no header", ANY_TABLE, [request([bytes.fromhex("0400")], [("MORE", 7)])], policy_name="no-policy"),
    # TestCassandraOnDataOptionsReq: OPTIONS passes a select-only policy and is not logged.
    Vector("options request", SELECT_ONLY, [request([UP_OPTIONS], [passes(UP_OPTIONS), MORE9])]),
    # TestCassandraOnDataPartialReq: the query without its last byte.
    Vector("partial request", ANY_TABLE, [request([UP_SELECT_LOCAL[:-1]], [("MORE", 1)])]),
    # TestCassandraOnDataQueryReq.
    Vector("query request", ANY_TABLE, [
        request([UP_SELECT_LOCAL], [passes(UP_SELECT_LOCAL), MORE9], logs=[allowed("select", "system.local")]),
    ]),
    # TestCassandraOnDataSplitQueryReq: the header cut after its first byte of length.
    Vector("split query request", ANY_TABLE, [
        request([UP_SELECT_LOCAL[:10], UP_SELECT_LOCAL[10:]], [passes(UP_SELECT_LOCAL), MORE9],
                logs=[allowed("select", "system.local")]),
    ]),
    # TestCassandraOnDataMultiReq.
    Vector("multiple requests", ANY_TABLE, [
        request([UP_OPTIONS, UP_SELECT_LOCAL], [passes(UP_OPTIONS), passes(UP_SELECT_LOCAL), MORE9],
                logs=[allowed("select", "system.local")]),
    ]),
    # TestSimpleCassandraPolicy: OPTIONS passes, the query is denied with upstream's Unauthorized bytes.
    Vector("simple policy", NO_MATCH, [
        request([UP_OPTIONS, UP_SELECT_LOCAL], [passes(UP_OPTIONS), drops(UP_SELECT_LOCAL), MORE9], UP_UNAUTH_4,
                logs=[denied("select", "system.local")]),
    ]),
    # TestCassandraBatchRequestPolicy: each statement logged.
    Vector("batch allowed", DB1, [
        request([UP_BATCH], [passes(UP_BATCH), MORE9], logs=[allowed("select", "db1.t1"), allowed("select", "db1.t2")]),
    ]),
    # TestCassandraBatchRequestPolicyDenied (a suite method upstream never runs): one statement denied denies the
    # batch, and both statements are logged Denied.
    Vector("batch denied", DB1, [
        request([UP_BATCH_DB2], [drops(UP_BATCH_DB2), MORE9], UP_UNAUTH_4,
                logs=[denied("select", "db1.t1"), denied("select", "db2.t2")]),
    ]),
    # TestCassandraBatchRequestPreparedStatement.
    Vector("batch of prepared statements", DB3,
           prepared("SELECT * FROM db3.t1", b"aaaa", 1, "db3.t1") + prepared("SELECT * FROM db3.t2", b"bbbb", 2, "db3.t2") + [
               request([UP_BATCH_PREPARED], [passes(UP_BATCH_PREPARED), MORE9],
                       logs=[allowed("select", "db3.t1"), allowed("select", "db3.t2")]),
           ]),
    # TestCassandraBatchRequestPreparedStatementDenied: "bbbb" was prepared for db4.t2 while the policy allowed
    # it; under the new policy (db3 only) the batch is denied whole.
    Vector("batch of prepared statements denied", DB3_OR_DB4,
           prepared("SELECT * FROM db3.t1", b"aaaa", 1, "db3.t1") + prepared("SELECT * FROM db4.t2", b"bbbb", 2, "db4.t2") + [
               new_policy(DB3),
               request([UP_BATCH_PREPARED], [drops(UP_BATCH_PREPARED), MORE9], UP_UNAUTH_4,
                       logs=[denied("select", "db3.t1"), denied("select", "db4.t2")]),
           ]),
    # TestCassandraExecutePreparedStatement.
    Vector("execute prepared statement", DB3, prepared("SELECT * FROM db3.t1", b"aaaa", 3, "db3.t1") + [
        request([UP_EXECUTE], [passes(UP_EXECUTE), MORE9], logs=[allowed("select", "db3.t1")]),
    ]),
    # TestCassandraExecutePreparedStatementUnknownID: on an endpoint without policy, Unprepared (not
    # Unauthorized) and a Denied entry with the error.
    Vector("execute unknown prepared id", DB3, [
        request([UP_EXECUTE_UNKNOWN], [drops(UP_EXECUTE_UNKNOWN), MORE9], unprepared(b"aaaa", 4), logs=[UNKNOWN_ID_LOG]),
    ], policy_name="cp1"),
    # TestCassandraPreparedResultReply: upstream's reply to a PREPARE on stream 4 passes and is not logged; the
    # id it carries then executes. Differs from upstream on purpose (README, "Where we differ"): no MORE 9 after
    # the last reply, since the reply side must stay callable to write denials that wait for room.
    Vector("prepared result reply", DB3, [
        request([prepare("SELECT * FROM db3.t1", 4)], [passes(prepare("SELECT * FROM db3.t1", 4)), MORE9],
                logs=[allowed("select", "db3.t1")]),
        reply([UP_PREPARED_RESULT], [passes(UP_PREPARED_RESULT)]),
        request([UP_EXECUTE], [passes(UP_EXECUTE), MORE9], logs=[allowed("select", "db3.t1")]),
    ]),
    # The same reply with no PREPARE outstanding on its stream (upstream's cp1 connection): it passes, and the id
    # stays unknown.
    Vector("prepared result reply without prepare", DB3, [
        reply([UP_PREPARED_RESULT], [passes(UP_PREPARED_RESULT)]),
        request([UP_EXECUTE], [drops(UP_EXECUTE), MORE9], unprepared(b"aaaa", 4), logs=[UNKNOWN_ID_LOG]),
    ], policy_name="cp1"),
    # TestCassandraAdditionalQueries. Differs from upstream on purpose: TRUNCATE is truncate-table db4.t1 (upstream
    # logs action "truncate-db4.t1" with an empty table, which every query_table rule allows).
    Vector("additional queries", DB4_T1, [
        request([upstream_query(q) for q in ADDITIONAL_QUERIES],
                [passes(upstream_query(q)) for q in ADDITIONAL_QUERIES] + [MORE9],
                logs=[allowed("create-table", "db4.t1"), allowed("insert", "db4.t1"), allowed("update", "db4.t1"),
                      allowed("drop-table", "db4.t1"), allowed("truncate-table", "db4.t1"),
                      allowed("create-table", "db4.t1")]),
    ]),
    # TestCassandraUseQuery: USE passes unlogged and sets the keyspace of the pipelined INSERT.
    Vector("use query", DB5_T1, [
        request([upstream_query("USE db5"), upstream_query("INSERT INTO t1 (f1, f2, f3) values ('dan', now(), 'Cilium!')")],
                [passes(upstream_query("USE db5")),
                 passes(upstream_query("INSERT INTO t1 (f1, f2, f3) values ('dan', now(), 'Cilium!')")), MORE9],
                logs=[allowed("insert", "db5.t1")]),
    ]),
]


# ---- ours: where we differ from upstream, and the rest of the contract --------------------------------------------

def query_allowed(name, policy, cql, action, table, stream=7, version=4):
    q = query(cql, stream, version)
    return Vector(name, policy, [request([q], [passes(q), MORE9], logs=[allowed(action, table)])])


def query_denied(name, policy, cql, action=None, table=None, stream=7, version=4):
    """Denied with Unauthorized; logged Denied with the given action and table (any fields when None)."""
    q = query(cql, stream, version)
    log = denied(action, table) if action is not None else Log(DENIED)
    return Vector(name, policy, [request([q], [drops(q), MORE9], unauthorized(stream, version), logs=[log])])


PUBLIC = cassandra_policy({"query_table": "^public\\."})
SECRET = cassandra_policy({"query_table": "^secret\\."})
KS_T = cassandra_policy({"query_table": "^ks\\.t$"})
DB4_T1_ANCHORED = cassandra_policy({"query_table": "^db4\\.t1$"})
INSERT_DB5 = cassandra_policy({"query_action": "insert", "query_table": "^db5\\."})
SELECT_OR_INSERT_DB5 = cassandra_policy({"query_action": "select"}, {"query_action": "insert", "query_table": "^db5\\."})
DB1_T1_EXACT = cassandra_policy({"query_table": "^db1\\.t1$"})
QUOTED_EXACT = cassandra_policy({"query_table": "^MyKs\\.MyTable$"})
CREATE_INDEX = cassandra_policy({"query_action": "create-index"})
ALLOW_ALL_RULE = cassandra_policy({})

SECRET_WITH_LITERAL = "SELECT * FROM secret.t WHERE c = 'x from public.t'"
COMMENTED = [
    ("block comment before the table", "SELECT * FROM /* public.t */ secret.t"),
    ("line comment after the table", "SELECT * FROM secret.t -- from public.t"),
    ("double-slash comment after the table", "SELECT * FROM secret.t // from public.t"),
    ("line comment before FROM", "SELECT * -- FROM public.t\nFROM secret.t"),
    ("block comment with from inside", "SELECT * /* FROM public.t */ FROM secret.t WHERE k = 1"),
]

OUR_VECTORS = [
    # TRUNCATE is checked against its table (upstream: empty table, allowed by any query_table rule).
    query_denied("truncate checks its table", DB4_T1_ANCHORED, "TRUNCATE db5.t1", "truncate-table", "db5.t1"),
    query_allowed("truncate of the allowed table", DB4_T1_ANCHORED, "TRUNCATE db4.t1", "truncate-table", "db4.t1"),
    query_denied("truncate table checks its table", DB4_T1_ANCHORED, "TRUNCATE TABLE db5.t1", "truncate-table", "db5.t1"),
    query_allowed("truncate table of the allowed table", DB4_T1_ANCHORED, "TRUNCATE TABLE db4.t1", "truncate-table",
                  "db4.t1"),
    # The table is the one the statement uses, not a word inside a string literal.
    query_denied("string literal does not choose the table", PUBLIC, SECRET_WITH_LITERAL, "select", "secret.t"),
    query_allowed("table beside a string literal", SECRET, SECRET_WITH_LITERAL, "select", "secret.t"),
    query_allowed("select without spaces", KS_T, "SELECT*FROM ks.t", "select", "ks.t"),
    query_allowed("trailing semicolon", KS_T, "SELECT * FROM ks.t;", "select", "ks.t"),
    query_allowed("delete", KS_T, "DELETE FROM ks.t WHERE k = 1", "delete", "ks.t"),
    query_allowed("unquoted identifiers are lowercased", DB1_T1_EXACT, "SELECT * FROM DB1.T1", "select", "db1.t1"),
    query_allowed("quoted identifiers keep their case", QUOTED_EXACT, 'SELECT * FROM "MyKs"."MyTable"', "select",
                  "MyKs.MyTable"),
    query_allowed("insert and select rules together, select", SELECT_OR_INSERT_DB5, "SELECT * FROM other.t", "select",
                  "other.t"),
    # A query_table rule never matches a statement without a table (upstream let those through any table rule).
    query_denied("no-table statement under a query_table rule", ANY_TABLE, "CREATE ROLE alice WITH LOGIN = true"),
    query_denied("create index under a query_table rule", ANY_TABLE, "CREATE INDEX ON ks.t (c)"),
    query_allowed("query_action and query_table together", INSERT_DB5, "INSERT INTO db5.t (k) VALUES (1)", "insert",
                  "db5.t"),
    query_denied("query_action mismatch", INSERT_DB5, "SELECT * FROM db5.t", "select", "db5.t"),
    query_denied("query_table mismatch", INSERT_DB5, "INSERT INTO db6.t (k) VALUES (1)", "insert", "db6.t"),
    # Protocol v3: the denial carries version 0x83.
    query_denied("v3 denial", PUBLIC, "SELECT * FROM secret.t", "select", "secret.t", stream=0x0102, version=3),
    # A query that cannot be classified is denied, never passed and never answered with ERROR.
    query_denied("unknown statement is denied", ANY_TABLE, "FROBNICATE ks.t"),
    query_denied("query ending in FROM is denied", ANY_TABLE, "SELECT * FROM"),
    query_denied("empty query is denied", ANY_TABLE, ""),
    # ... except by a rule without keys (README: an unclassified statement is allowed only by such a rule),
    # logged by its first word.
    Vector("unknown statement under a rule without conditions", ALLOW_ALL_RULE, [
        request([query("FROBNICATE ks.t", 7)], [passes(query("FROBNICATE ks.t", 7)), MORE9], logs=[Log(REQUEST)]),
    ]),
] + [query_denied(f"comment: {name}", PUBLIC, cql, "select", "secret.t") for name, cql in COMMENTED] + [
    query_allowed(f"comment allowed: {name}", SECRET, cql, "select", "secret.t") for name, cql in COMMENTED
] + [
    # Non-query requests pass an allowed remote whatever the rules, unlogged.
    Vector("non-query requests pass", SELECT_ONLY, [
        request([startup(), options(1), register(stream=2), auth_response(stream=3)],
                [passes(startup()), passes(options(1)), passes(register(stream=2)), passes(auth_response(stream=3)),
                 MORE9]),
    ]),
    # ... and are denied (Unauthorized, unlogged) for a remote the policy does not allow.
    Vector("non-query request from a remote not allowed", SELECT_ONLY, [
        request([options(9)], [drops(options(9)), MORE9], unauthorized(9)),
    ], src_id=7),
    # USE passes and is not logged even where the policy allows nothing it could name; the keyspace the server
    # confirms (RESULT/Set_keyspace) carries over to later calls.
    Vector("use is never denied", INSERT_DB5, [
        request([query("USE db6", 1)], [passes(query("USE db6", 1)), MORE9]),
        reply([set_keyspace_result("db6", 1)], [passes(set_keyspace_result("db6", 1))]),
        request([query("INSERT INTO t (k) VALUES (1)", 2)], [drops(query("INSERT INTO t (k) VALUES (1)", 2)), MORE9],
                unauthorized(2), logs=[denied("insert", "db6.t")]),
        request([query('USE "db5"', 3)], [passes(query('USE "db5"', 3)), MORE9]),
        reply([set_keyspace_result("db5", 3)], [passes(set_keyspace_result("db5", 3))]),
        request([query("INSERT INTO t (k) VALUES (1)", 4)], [passes(query("INSERT INTO t (k) VALUES (1)", 4)), MORE9],
                logs=[allowed("insert", "db5.t")]),
    ]),
    # Upstream passes USE from anyone; ours only where a control request would pass (never logged either way).
    Vector("use from a remote not allowed", INSERT_DB5, [
        request([query("USE db5", 1)], [drops(query("USE db5", 1)), MORE9], unauthorized(1)),
    ], src_id=7),
    # Pipelined allow and deny: each frame decided on its own, denials in order.
    Vector("pipelined allow and deny", PUBLIC, [
        request([query("SELECT * FROM public.a", 1), query("SELECT * FROM secret.b", 2),
                 query("SELECT * FROM public.c", 3), query("SELECT * FROM secret.d", 4)],
                [passes(query("SELECT * FROM public.a", 1)), drops(query("SELECT * FROM secret.b", 2)),
                 passes(query("SELECT * FROM public.c", 3)), drops(query("SELECT * FROM secret.d", 4)), MORE9],
                unauthorized(2) + unauthorized(4),
                logs=[allowed("select", "public.a"), denied("select", "secret.b"), allowed("select", "public.c"),
                      denied("select", "secret.d")]),
    ]),
    # A PREPARE is checked like its query; a denied PREPARE gets no id, so its later EXECUTE is Unprepared.
    Vector("prepare denied", PUBLIC, [
        request([prepare("SELECT * FROM secret.t", 5)], [drops(prepare("SELECT * FROM secret.t", 5)), MORE9],
                unauthorized(5), logs=[denied("select", "secret.t")]),
        reply([prepared_result(b"sid", 5)], [passes(prepared_result(b"sid", 5))]),
        request([execute(b"sid", 6)], [drops(execute(b"sid", 6)), MORE9], unprepared(b"sid", 6), logs=[UNKNOWN_ID_LOG]),
    ]),
    # EXECUTE is checked against the policy in force when it runs.
    Vector("execute after the policy changed", DB3_OR_DB4, prepared("SELECT * FROM db4.t2", b"\x01\x02", 1, "db4.t2") + [
        request([execute(b"\x01\x02", 2)], [passes(execute(b"\x01\x02", 2)), MORE9], logs=[allowed("select", "db4.t2")]),
        new_policy(DB3),
        request([execute(b"\x01\x02", 3)], [drops(execute(b"\x01\x02", 3)), MORE9], unauthorized(3),
                logs=[denied("select", "db4.t2")]),
    ]),
    # A batch naming an unknown prepared id: Unprepared with that id, one Denied entry with the error.
    Vector("batch with unknown prepared id", DB3, prepared("SELECT * FROM db3.t1", b"aaaa", 1, "db3.t1") + [
        request([batch([b"aaaa", b"zzzz"], 4)], [drops(batch([b"aaaa", b"zzzz"], 4)), MORE9], unprepared(b"zzzz", 4),
                logs=[UNKNOWN_ID_LOG]),
    ]),
    # A mixed batch (a query and a prepared id), allowed.
    Vector("mixed batch", DB3, prepared("INSERT INTO db3.t1 (k) VALUES (?)", b"ins", 1, "db3.t1", "insert") + [
        request([batch(["UPDATE db3.t2 SET v = 1 WHERE k = 2", b"ins"], 4)],
                [passes(batch(["UPDATE db3.t2 SET v = 1 WHERE k = 2", b"ins"], 4)), MORE9],
                logs=[allowed("update", "db3.t2"), allowed("insert", "db3.t1")]),
    ]),
    # Replies are unlogged. One the parser waits for (the answer to a PREPARE) is taken whole ...
    Vector("awaited reply in pieces", ANY_TABLE, prepared("SELECT * FROM ks.t", b"x", 1, "ks.t")[:1] + [
        reply([prepared_result(b"x", 1)[:4]], [("MORE", 5)]),
        reply([prepared_result(b"x", 1)[:12]], [("MORE", len(prepared_result(b"x", 1)) - 12)]),
        reply([prepared_result(b"x", 1)], [passes(prepared_result(b"x", 1))]),
        request([execute(b"x", 2)], [passes(execute(b"x", 2)), MORE9], logs=[allowed("select", "ks.t")]),
    ]),
    # ... any other passes once its header is in, the rest of its body with it.
    Vector("other reply in pieces", ANY_TABLE, [
        reply([prepared_result(b"x", 1)[:4]], [("MORE", 5)]),
        reply([prepared_result(b"x", 1)[:12]], [passes(prepared_result(b"x", 1))]),
    ]),
    # A body of exactly 256 MiB is waited for.
    Vector("request of 256 MiB", ANY_TABLE, [
        request([frame(QUERY, b"", 1, length=256 * 1024 * 1024)], [("MORE", 256 * 1024 * 1024)]),
    ]),
    # Larger: ERROR (INVALID_FRAME_LENGTH = 3), as upstream.
    Vector("request over 256 MiB", ANY_TABLE, [
        request([frame(QUERY, b"", 1, length=256 * 1024 * 1024 + 1)], [("ERROR", 3)]),
    ]),
]


@pytest.mark.parametrize("vector", UPSTREAM_VECTORS, ids=[v.name for v in UPSTREAM_VECTORS])
def test_upstream_vector(library, npds, collector, logged_module, next_id, vector):
    run_vector(library, npds, collector, logged_module, next_id, vector)


@pytest.mark.parametrize("vector", OUR_VECTORS, ids=[v.name for v in OUR_VECTORS])
def test_cassandra_vector(library, npds, collector, logged_module, next_id, vector):
    run_vector(library, npds, collector, logged_module, next_id, vector)


def test_no_table_action_allowed_by_query_action(library, npds, collector, logged_module, next_id):
    """CREATE INDEX (an action without a table) is allowed by a query_action rule alone and logged with that
    action (its query_table field is not compared)."""
    q = query("CREATE INDEX ON ks.t (c)", 3)
    npds.install("create-index", CREATE_INDEX)
    conn = connect(library, logged_module, next_id())
    try:
        assert conn.on_data_raw([q]) == ("OK", [passes(q), MORE9], b"")
    finally:
        conn.close()
    entries = collector.wait_for_count(1)
    assert dict(entries[0].generic_l7.fields)["query_action"] == "create-index"


# ---- policies the library must reject ------------------------------------------------------------------------------

NACKED = [
    # (name, policy, words the NACK's error text must all contain)
    ("unknown query_action", cassandra_policy({"query_action": "frobnicate"}), ["frobnicate"]),
    ("no-table action with query_table", cassandra_policy({"query_action": "create-index", "query_table": "ks.*"}),
     ["create-index"]),
    ("role action with query_table", cassandra_policy({"query_action": "create-role", "query_table": "ks.*"}),
     ["create-role"]),
    ("unknown rule key", cassandra_policy({"query_keyspace": "ks"}), ["query_keyspace"]),
    ("invalid table regex", cassandra_policy({"query_table": "(unclosed"}), ["(unclosed"]),
]


@pytest.mark.parametrize("name,policy,mentions", NACKED, ids=[n[0] for n in NACKED])
def test_invalid_cassandra_rules_are_nacked(library, npds, module, next_id, name, policy, mentions):
    nack = npds.wait_for_nack(npds.push("1", [policy]))
    assert nack.version == ""
    assert all(word in nack.error for word in mentions), nack.error
    # Nothing was installed: without a policy the request is denied.
    conn = connect(library, module, next_id())
    try:
        q = query("SELECT * FROM ks.t", 3)
        assert conn.client_sends(q) == ("OK", b"", unauthorized(3))
    finally:
        conn.close()


ACCEPTED_ACTIONS = ["select", "delete", "insert", "update", "create-table", "drop-table", "alter-table",
                    "truncate-table", "use", "create-keyspace", "alter-keyspace", "drop-keyspace", "drop-index",
                    "create-index", "create-materialized-view", "drop-materialized-view", "create-role",
                    "alter-role", "drop-role", "grant-role", "revoke-role", "list-roles", "grant-permission",
                    "revoke-permission", "list-permissions", "create-user", "alter-user", "drop-user", "list-users",
                    "create-function", "drop-function", "create-aggregate", "drop-aggregate", "create-type",
                    "alter-type", "drop-type", "create-trigger", "drop-trigger"]


def test_upstream_query_actions_are_accepted(library, npds, module):
    """Every query_action of upstream's list is accepted in one policy (the table-taking ones with a table)."""
    no_table = {"drop-index", "create-index", "create-materialized-view", "drop-materialized-view"} | {
        a for a in ACCEPTED_ACTIONS if a.split("-")[-1] in ("role", "roles", "permission", "permissions", "user",
                                                             "users", "function", "aggregate", "type", "trigger")}
    rules = [{"query_action": a} if a in no_table else {"query_action": a, "query_table": "^ks\\."}
             for a in ACCEPTED_ACTIONS]
    npds.install("all-actions", cassandra_policy(*rules))
