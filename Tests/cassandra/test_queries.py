"""cassandra-driver through the proxy, for each protocol variant (v4, v4+LZ4, v5, v5+LZ4; the test id names it).
Standing policy: SELECT on the system tables, SELECT and INSERT on ks.allowed_*. A denied request gets an
Unauthorized error in its response's place, never reaches the server, and the connection carries on."""
import pytest
from cassandra import InvalidRequest, Unauthorized
from cassandra.query import BatchStatement, BatchType, SimpleStatement

from cass_checks import Unseen


def rows(result):
    return [tuple(r) for r in result]


def test_allowed_insert_and_select(session, server, key):
    k = key()
    session.execute("INSERT INTO ks.allowed_kv (k, v) VALUES (%s, %s)", (k, 7))
    assert rows(session.execute("SELECT k, v FROM ks.allowed_kv WHERE k = %s", (k,))) == [(k, 7)]
    assert rows(session.execute(f"SELECT * FROM ks.allowed_kv WHERE k = '{k}'")) == [(k, 7)]
    assert rows(server.direct.execute("SELECT v FROM ks.allowed_kv WHERE k = %s", (k,))) == [(7,)]


def test_rows_written_elsewhere_are_read(session, server, key):
    ks = [key() for _ in range(3)]
    for i, k in enumerate(ks):
        server.direct.execute("INSERT INTO ks.allowed_kv (k, v) VALUES (%s, %s)", (k, i))
    got = rows(session.execute("SELECT k, v FROM ks.allowed_kv WHERE k IN (%s, %s, %s)", ks))
    assert sorted(got) == sorted((k, i) for i, k in enumerate(ks))


# (what, CQL with {k} for a fresh key that has the row (k, 7)): each is allowed and returns the row.
SPELLINGS = [
    ("upper case", "SELECT V FROM KS.ALLOWED_KV WHERE K = '{k}'"),
    ("quoted names", 'SELECT "v" FROM "ks"."allowed_kv" WHERE "k" = \'{k}\''),
    ("no spaces", "SELECT*FROM ks.allowed_kv WHERE k='{k}'"),
    ("whitespace and semicolon", "\n\t select  v\nfrom\tks . allowed_kv\n where k = '{k}' ;"),
    ("comments", "/* c */ SELECT v -- c\n FROM // c\n ks.allowed_kv WHERE k = '{k}'"),
    ("a string with quotes and keywords", "SELECT v FROM ks.allowed_kv WHERE k IN ('{k}', 'it''s FROM ks.secret')"),
]


@pytest.mark.parametrize("query", [q for _, q in SPELLINGS], ids=[i for i, _ in SPELLINGS])
def test_allowed_spellings(session, server, key, query):
    k = key()
    server.direct.execute("INSERT INTO ks.allowed_kv (k, v) VALUES (%s, 7)", (k,))
    assert [row[-1] for row in session.execute(query.format(k=k))] == [7]


# (what, CQL with {k} for a fresh key): each must be refused by the proxy.
DENIED = [
    ("select, table outside the policy", "SELECT * FROM ks.secret WHERE k = '{k}'"),
    ("insert, table outside the policy", "INSERT INTO ks.secret (k, v) VALUES ('{k}', 1)"),
    ("select, other keyspace", "SELECT * FROM other.allowed_kv WHERE k = '{k}'"),
    ("update, action outside the policy", "UPDATE ks.allowed_kv SET v = 2 WHERE k = '{k}'"),
    ("delete, action outside the policy", "DELETE FROM ks.allowed_kv WHERE k = '{k}'"),
    ("truncate", "TRUNCATE ks.allowed_scratch"),
    ("create table", "CREATE TABLE ks.allowed_new_{k2} (k text PRIMARY KEY)"),
    ("drop table", "DROP TABLE ks.allowed_scratch"),
    ("select, quoted names", 'SELECT * FROM "ks"."secret" WHERE k = \'{k}\''),
    ("select, a string naming an allowed table", "SELECT * FROM ks.secret WHERE k = '{k} from ks.allowed_kv'"),
    ("select, comment naming an allowed table", "SELECT * FROM /* ks.allowed_kv */ ks.secret WHERE k = '{k}'"),
]


@pytest.mark.parametrize("query", [d[1] for d in DENIED], ids=[d[0] for d in DENIED])
def test_denied_and_connection_survives(session, server, key, query):
    k, ok = key(), key()
    for row in (k, ok):
        server.direct.execute("INSERT INTO ks.allowed_kv (k, v) VALUES (%s, 1)", (row,))
    text = query.format(k=k, k2=k.replace("-", "_"))
    with Unseen(server, k if "{k}" in query else text):
        with pytest.raises(Unauthorized):
            session.execute(text)
        # The same connection (one per host in the pool) goes on answering.
        assert rows(session.execute("SELECT v FROM ks.allowed_kv WHERE k = %s", (ok,))) == [(1,)]
    assert rows(server.direct.execute("SELECT v FROM ks.allowed_kv WHERE k = %s", (k,))) == [(1,)], \
        "the row the denied statement names is unchanged"


def test_server_errors_pass_through(session):
    """An allowed request the server refuses comes back with the server's own error."""
    with pytest.raises(InvalidRequest, match="unconfigured table"):
        session.execute("SELECT * FROM ks.allowed_missing")


def test_prepared_statements(session, server, key):
    k = key()
    insert = session.prepare("INSERT INTO ks.allowed_kv (k, v) VALUES (?, ?)")
    select = session.prepare("SELECT k, v FROM ks.allowed_kv WHERE k = ?")
    session.execute(insert, (k, 11))
    assert rows(session.execute(select, (k,))) == [(k, 11)]
    assert rows(session.execute(select.bind({"k": k}))) == [(k, 11)]
    assert rows(server.direct.execute("SELECT v FROM ks.allowed_kv WHERE k = %s", (k,))) == [(11,)]


@pytest.mark.parametrize("query", [
    "SELECT * FROM ks.secret WHERE k = ?",
    "INSERT INTO ks.secret (k, v) VALUES (?, ?)",
    "UPDATE ks.allowed_kv SET v = ? WHERE k = ?",
    "DELETE FROM ks.allowed_kv WHERE k = ?",
], ids=["select secret", "insert secret", "update", "delete"])
def test_prepare_of_a_denied_statement_is_refused(session, server, key, query):
    k = key()
    with Unseen(server, query):
        with pytest.raises(Unauthorized):
            session.prepare(query)
        session.execute("INSERT INTO ks.allowed_kv (k, v) VALUES (%s, 3)", (k,))
    assert rows(session.execute("SELECT v FROM ks.allowed_kv WHERE k = %s", (k,))) == [(3,)]


def test_batch(session, server, key):
    k1, k2, k3 = key(), key(), key()
    insert = session.prepare("INSERT INTO ks.allowed_kv (k, v) VALUES (?, ?)")
    batch = BatchStatement()
    batch.add(insert, (k1, 1))
    batch.add("INSERT INTO ks.allowed_kv (k, v) VALUES (%s, %s)", (k2, 2))
    session.execute(batch)
    assert sorted(rows(server.direct.execute("SELECT k, v FROM ks.allowed_kv WHERE k IN (%s, %s)", (k1, k2)))) \
        == sorted([(k1, 1), (k2, 2)])

    # One denied statement refuses the whole batch: nothing of it is written.
    for denied in ("INSERT INTO ks.secret (k, v) VALUES (%s, %s)", "UPDATE ks.allowed_kv SET v = %s WHERE k = %s"):
        batch = BatchStatement(batch_type=BatchType.UNLOGGED)
        batch.add(insert, (k3, 3))
        args = (k3, 4) if denied.startswith("INSERT") else (4, k3)
        batch.add(denied, args)
        with Unseen(server, k3):
            with pytest.raises(Unauthorized):
                session.execute(batch)
            session.execute(insert, (k1, 5))
        assert rows(server.direct.execute("SELECT * FROM ks.allowed_kv WHERE k = %s", (k3,))) == []
        assert rows(server.direct.execute("SELECT * FROM ks.secret WHERE k = %s", (k3,))) == []


def test_batch_denied_query_entry_first(session, server, key):
    """A batch whose first entry (a query) is denied and whose second (prepared) is allowed."""
    k = key()
    insert = session.prepare("INSERT INTO ks.allowed_kv (k, v) VALUES (?, ?)")
    batch = BatchStatement()
    batch.add("DELETE FROM ks.allowed_kv WHERE k = %s", (k,))
    batch.add(insert, (k, 1))
    with Unseen(server, k):
        with pytest.raises(Unauthorized):
            session.execute(batch)
        assert rows(session.execute("SELECT * FROM ks.allowed_kv WHERE k = 'nothing'")) == []


def test_use_keyspace_then_unqualified_names(session, server, key):
    k = key()
    session.execute("USE ks")
    session.execute("INSERT INTO allowed_kv (k, v) VALUES (%s, 5)", (k,))
    assert rows(session.execute("SELECT v FROM allowed_kv WHERE k = %s", (k,))) == [(5,)]
    with Unseen(server, k):
        with pytest.raises(Unauthorized):
            session.execute("SELECT * FROM secret WHERE k = %s", (k,))
        with pytest.raises(Unauthorized):
            session.prepare(f"SELECT * FROM secret WHERE k = '{k}' AND v = ?")
        assert rows(session.execute("SELECT v FROM allowed_kv WHERE k = 'nothing'")) == []
    # Another keyspace: the same table name is now other.allowed_kv, outside the policy.
    session.execute("USE other")
    with Unseen(server, k):
        with pytest.raises(Unauthorized):
            session.execute("SELECT * FROM allowed_kv WHERE k = %s", (k,))
        assert rows(session.execute("SELECT v FROM ks.allowed_kv WHERE k = 'nothing'")) == []
    assert rows(session.execute("SELECT v FROM ks.allowed_kv WHERE k = %s", (k,))) == [(5,)]


def test_session_keyspace(cluster, server, key):
    """cluster.connect('ks') sends USE ks on each pooled connection; prepared statements then name no keyspace."""
    k = key()
    s = cluster.connect("ks")
    try:
        insert = s.prepare("INSERT INTO allowed_kv (k, v) VALUES (?, ?)")
        s.execute(insert, (k, 8))
        assert rows(s.execute("SELECT v FROM allowed_kv WHERE k = %s", (k,))) == [(8,)]
        with Unseen(server, k):
            with pytest.raises(Unauthorized):
                s.execute("SELECT * FROM secret WHERE k = %s", (k,))
            s.execute(insert, (k, 9))
    finally:
        s.shutdown()
    assert rows(server.direct.execute("SELECT v FROM ks.allowed_kv WHERE k = %s", (k,))) == [(9,)]


def test_v5_keyspace_flag(session, server, key):
    """Protocol v5 can name the keyspace in the QUERY/PREPARE message itself (not in the CQL text)."""
    if session.cluster.protocol_version < 5:
        pytest.skip("the keyspace flag is new in protocol v5")
    k = key()
    session.execute(SimpleStatement("INSERT INTO allowed_kv (k, v) VALUES (%s, 6)", keyspace="ks"), (k,))
    assert rows(session.execute(SimpleStatement("SELECT v FROM allowed_kv WHERE k = %s", keyspace="ks"),
                                (k,))) == [(6,)]
    with Unseen(server, k):
        with pytest.raises(Unauthorized):
            session.execute(SimpleStatement("SELECT * FROM secret WHERE k = %s", keyspace="ks"), (k,))
        with pytest.raises(Unauthorized):
            session.execute(SimpleStatement("SELECT * FROM allowed_kv WHERE k = %s", keyspace="other"), (k,))
        with pytest.raises(Unauthorized):
            session.prepare(f"SELECT * FROM secret WHERE k = '{k}' AND v = ?", keyspace="ks")
        assert rows(session.execute("SELECT v FROM ks.allowed_kv WHERE k = 'nothing'")) == []
    assert rows(session.execute("SELECT v FROM ks.allowed_kv WHERE k = %s", (k,))) == [(6,)]
    assert "ks=ks" in next(line for line in server.requests() if k in line and "INSERT" in line), \
        "the driver sent the keyspace in the message"


def test_concurrent_requests_on_one_connection(session, server, key):
    """Hundreds of requests in flight on one connection, allowed and denied interleaved: each answer (rows or
    Unauthorized) reaches the request it belongs to (stream ids), in whatever order they arrive. In v5 the server
    answers requests that arrived together with several frames per segment, as Cassandra does."""
    keys = [key() for _ in range(300)]  # stream ids past 127 and 255
    for i, k in enumerate(keys):
        server.direct.execute("INSERT INTO ks.allowed_kv (k, v) VALUES (%s, %s)", (k, i))
    futures = []
    for i, k in enumerate(keys):
        if i % 3 == 1:
            futures.append((Unauthorized, session.execute_async("SELECT v FROM ks.secret WHERE k = %s", (k,))))
        else:
            futures.append(([(i,)], session.execute_async("SELECT v FROM ks.allowed_kv WHERE k = %s", (k,))))
    outcomes = []
    for _, future in futures:  # every answer collected before anything is asserted: none left in flight
        try:
            outcomes.append(rows(future.result()))
        except Exception as e:
            outcomes.append(type(e))
    assert outcomes == [expected for expected, _ in futures]
    if session.cluster.protocol_version >= 5:
        assert "frames in one segment" in server.process.out, "the server packed several responses in a segment"


def test_large_values(session, server, key):
    """Values that make frames of several hundred KiB: several reads per frame through the proxy, and in v5
    several segments per frame (a segment carries at most 128 KiB)."""
    k = key()
    data = bytes(range(256)) * 1200 + b"end"  # 300 KiB, not compressible away entirely
    data = bytes((b * 7 + i // 256) & 0xFF for i, b in enumerate(data))
    insert = session.prepare("INSERT INTO ks.allowed_blob (k, data) VALUES (?, ?)")
    session.execute(insert, (k, data))
    assert rows(session.execute("SELECT data FROM ks.allowed_blob WHERE k = %s", (k,))) == [(data,)]
    assert rows(server.direct.execute("SELECT data FROM ks.allowed_blob WHERE k = %s", (k,))) == [(data,)]
    with Unseen(server, k):
        with pytest.raises(Unauthorized):
            session.execute("INSERT INTO ks.secret (k, v) VALUES (%s, %s) USING TTL 100",
                            (k + "x" * 200_000, 1))
        assert rows(session.execute("SELECT k FROM ks.allowed_blob WHERE k = 'nothing'")) == []
    # 6 MiB that compress to almost nothing: the proxy inflates what it inspects.
    zeros = bytes(6 << 20)
    session.execute(insert, (k, zeros))
    assert rows(session.execute("SELECT data FROM ks.allowed_blob WHERE k = %s", (k,))) == [(zeros,)]


def test_paging(session, server, key):
    """Results over several pages: each following page is a request of its own (with the paging state in its
    query parameters, and in v5 after it the keyspace), checked like the first."""
    p = key()
    for c in range(7):
        server.direct.execute("INSERT INTO ks.allowed_pages (p, c, v) VALUES (%s, %s, %s)", (p, c, c * 10))
    mark = server.log_mark()
    query = SimpleStatement("SELECT c, v FROM ks.allowed_pages WHERE p = %s", fetch_size=3)
    assert rows(session.execute(query, (p,))) == [(c, c * 10) for c in range(7)]
    select = session.prepare("SELECT c FROM ks.allowed_pages WHERE p = ?")
    select.fetch_size = 2
    assert rows(session.execute(select, (p,))) == [(c,) for c in range(7)]
    if session.cluster.protocol_version >= 5:
        unqualified = SimpleStatement("SELECT c FROM allowed_pages WHERE p = %s", fetch_size=4, keyspace="ks")
        assert rows(session.execute(unqualified, (p,))) == [(c,) for c in range(7)]
    pages = [line for line in server.requests(mark) if "paging_state=" in line]
    assert len(pages) >= 2 + 3, f"the later pages were requests of their own: {pages}"
    with Unseen(server, p):
        with pytest.raises(Unauthorized):
            session.execute(SimpleStatement("SELECT * FROM ks.secret WHERE k = %s", fetch_size=2), (p,))
        session.execute("SELECT v FROM ks.allowed_kv WHERE k = 'nothing'")


def test_custom_payload(session, server, key):
    """A request with a custom payload (frame flag 0x04) carries a bytes map before its body."""
    k = key()
    payload = {"trace-note": b"e2e", "x": b"\x00\x01"}
    session.execute("INSERT INTO ks.allowed_kv (k, v) VALUES (%s, 12)", (k,), custom_payload=payload)
    assert rows(session.execute("SELECT v FROM ks.allowed_kv WHERE k = %s", (k,), custom_payload=payload)) \
        == [(12,)]
    select = session.prepare("SELECT v FROM ks.allowed_kv WHERE k = ?", custom_payload=payload)
    assert rows(session.execute(select, (k,), custom_payload=payload)) == [(12,)]
    with Unseen(server, k):
        with pytest.raises(Unauthorized):
            session.execute("SELECT v FROM ks.secret WHERE k = %s", (k,), custom_payload=payload)
        with pytest.raises(Unauthorized):
            session.prepare(f"SELECT v FROM ks.secret WHERE k = '{k}' AND v = ?", custom_payload=payload)
        session.execute("SELECT v FROM ks.allowed_kv WHERE k = 'nothing'", custom_payload=payload)


def test_tracing_and_warnings(cluster, server, key):
    """Responses whose body starts with a tracing id (requests with the tracing flag) or a list of warnings
    (Cassandra 4 warns when statements are prepared on a connection with a USE keyspace): the USE and PREPARE
    results behind them still take effect at the proxy."""
    k = key()
    session = cluster.connect()
    try:
        session.execute("USE ks", trace=True)
        assert session.keyspace == "ks"
        session.execute("INSERT INTO allowed_kv (k, v) VALUES (%s, 13)", (k,), trace=True)
        insert = session.prepare("INSERT INTO allowed_kv (k, v) VALUES (?, ?)")
        select = session.prepare("SELECT v FROM allowed_kv WHERE k = ?")
        assert rows(session.execute(select, (k,), trace=True)) == [(13,)]
        session.execute(insert, (k, 14))
        assert rows(session.execute(select, (k,))) == [(14,)]
        with Unseen(server, k):
            with pytest.raises(Unauthorized):
                session.execute("SELECT v FROM secret WHERE k = %s", (k,), trace=True)
            session.execute("SELECT v FROM allowed_kv WHERE k = 'nothing'")
    finally:
        session.shutdown()


def test_batch_in_cql_text(session, server, key):
    """BEGIN BATCH ... APPLY BATCH in one QUERY (as cqlsh users write it): allowed only if every statement in it
    is; a denied one refuses the whole batch."""
    k1, k2 = key(), key()
    session.execute(f"BEGIN BATCH INSERT INTO ks.allowed_kv (k, v) VALUES ('{k1}', 1); "
                    f"INSERT INTO ks.allowed_blob (k, data) VALUES ('{k1}', 0x01) APPLY BATCH")
    assert rows(server.direct.execute("SELECT v FROM ks.allowed_kv WHERE k = %s", (k1,))) == [(1,)]
    for denied in (f"INSERT INTO ks.secret (k, v) VALUES ('{k2}', 2)",
                   f"UPDATE ks.allowed_kv SET v = 2 WHERE k = '{k2}'",
                   f"DELETE FROM ks.allowed_kv WHERE k = '{k1}' AND k = '{k2}'"):
        for text in (f"BEGIN UNLOGGED BATCH INSERT INTO ks.allowed_kv (k, v) VALUES ('{k2}', 1); {denied}; "
                     "APPLY BATCH;",
                     f"BEGIN BATCH {denied}; INSERT INTO ks.allowed_kv (k, v) VALUES ('{k2}', 1); APPLY BATCH"):
            with Unseen(server, k2):
                with pytest.raises(Unauthorized):
                    session.execute(text)
                session.execute("SELECT v FROM ks.allowed_kv WHERE k = 'nothing'")
    assert rows(server.direct.execute("SELECT v FROM ks.allowed_kv WHERE k IN (%s, %s)", (k1, k2))) == [(1,)]


def test_use_in_flight(session, server, key):
    """A USE and the requests behind it, sent before its result is back: a request is never allowed when it would
    be denied in the keyspace it runs in at the server (which runs them in order). While a USE is unconfirmed the
    proxy may also refuse a request that the USE would make allowed (if the USE failed, the request would run in
    the keyspace before it)."""
    k = key()
    server.direct.execute("INSERT INTO ks.allowed_kv (k, v) VALUES (%s, 1)", (k,))
    server.direct.execute("INSERT INTO other.allowed_kv (k, v) VALUES (%s, 2)", (k,))
    session.execute("USE ks")
    query = f"SELECT v FROM allowed_kv WHERE k = '{k}'"
    futures = [session.execute_async(query), session.execute_async("USE other"), session.execute_async(query),
               session.execute_async("USE ks"), session.execute_async(query)]
    outcomes = []
    for future in futures:
        try:
            outcomes.append(rows(future.result()))
        except Exception as e:
            outcomes.append(type(e))
    assert outcomes[:4] == [[(1,)], [], Unauthorized, []]
    assert outcomes[4] in ([(1,)], Unauthorized)
    # (The driver follows each USE result with USE "<keyspace>" on its connections: settle it.)
    session.execute("USE ks")
    assert rows(session.execute(query)) == [(1,)]
    assert all("ks=ks" in line for line in server.requests() if query in line), "other.allowed_kv was never read"
