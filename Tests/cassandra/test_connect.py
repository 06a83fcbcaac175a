"""How drivers connect through the proxy: protocol version negotiation (the driver starts at DSE_V2 = 0x42 and
steps down on the server's protocol error), and schema-change events the server pushes on the control
connection (stream -1), after which the driver re-reads system_schema through the proxy."""
import time
import uuid

import pytest

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
