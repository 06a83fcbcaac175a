"""How drivers connect through the proxy: protocol version negotiation (the driver starts at DSE_V2 = 0x42 and
steps down on the server's protocol error), schema-change events the server pushes on the control connection
(stream -1), after which the driver re-reads system_schema through the proxy, protocol v3, idle heartbeats."""
import time
import uuid

import pytest
from cassandra import Unauthorized

from conftest import VARIANTS, make_cluster


def test_protocol_version_negotiation(proxy, server):
    mark = server.log_mark()
    cluster = make_cluster(proxy.port, compression=True)
    try:
        session = cluster.connect()
        assert cluster.protocol_version == 5
        assert [tuple(r) for r in session.execute("SELECT v FROM ks.allowed_kv WHERE k = 'nothing'")] == []
    finally:
        cluster.shutdown()
    refused = [line.split()[1] for line in server.process.read(server.process.out_path, mark).splitlines()
               if "unsupported version" in line]
    assert refused[:2] == ["v66", "v65"], "the driver tried DSE_V2 and DSE_V1 first"


@pytest.mark.parametrize("cluster", [VARIANTS[0], VARIANTS[3]], ids=[VARIANTS[0][0], VARIANTS[3][0]],
                         indirect=True)
def test_schema_events_reach_the_driver(cluster, server):
    table = f"allowed_event_{uuid.uuid4().hex[:10]}"
    server.direct.execute(f"CREATE TABLE ks.{table} (k text PRIMARY KEY, v int)")
    deadline = time.monotonic() + 5
    while table not in cluster.metadata.keyspaces["ks"].tables:
        assert time.monotonic() < deadline, "the driver never learnt of the new table"
        time.sleep(0.02)
    assert list(cluster.metadata.keyspaces["ks"].tables[table].columns) == ["k", "v"]


def test_protocol_v3(proxy, server, key):
    """Protocol v3 (no unset values, no pk indexes in PREPARED results, one-byte query flags)."""
    k = key()
    cluster = make_cluster(proxy.port, 3)
    try:
        session = cluster.connect()
        insert = session.prepare("INSERT INTO ks.allowed_kv (k, v) VALUES (?, ?)")
        session.execute(insert, (k, 3))
        assert [tuple(r) for r in session.execute("SELECT v FROM ks.allowed_kv WHERE k = %s", (k,))] == [(3,)]
        with pytest.raises(Unauthorized):
            session.execute("SELECT v FROM ks.secret WHERE k = %s", (k,))
        with pytest.raises(Unauthorized):
            session.prepare("DELETE FROM ks.allowed_kv WHERE k = ?")
        session.execute(insert, (k, 4))
    finally:
        cluster.shutdown()
    assert not server.saw(f"FROM ks.secret WHERE k = '{k}'")


def test_heartbeats(proxy, server):
    """The driver's idle heartbeat is an OPTIONS request on the open connection (in v5 inside a segment)."""
    clusters = [make_cluster(proxy.port, version, compression, idle_heartbeat_interval=1)
                for version, compression in ((4, False), (5, True))]
    try:
        sessions = [c.connect() for c in clusters]
        mark = server.log_mark()
        deadline = time.monotonic() + 5
        while sum(" OPTIONS " in line for line in server.requests(mark)) < 4:  # control and pool connections
            assert time.monotonic() < deadline, "no heartbeats seen"
            time.sleep(0.05)
        for s in sessions:
            assert [tuple(r) for r in s.execute("SELECT v FROM ks.allowed_kv WHERE k = 'nothing'")] == []
    finally:
        for c in clusters:
            c.shutdown()
