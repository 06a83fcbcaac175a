"""Connections that authenticate: a second server requiring a password (STARTUP -> AUTHENTICATE, AUTH_RESPONSE
-> AUTH_SUCCESS; in v5 the segments start right after AUTHENTICATE, before the credentials), behind a second
proxylib-host with the standing policy."""
import pytest
from cassandra import Unauthorized
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import NoHostAvailable

from cass_policy import policy_yaml
from cass_procs import CqlServer, ProxyHost
from conftest import DIRECT, PARSER, VARIANTS, make_cluster, with_schema

CREDENTIALS = PlainTextAuthProvider("e2e-user", "e2e-password")


@pytest.fixture(scope="module")
def auth_server(workdir):
    server = CqlServer(workdir, "cql-server-auth", auth="e2e-user:e2e-password")
    cluster = with_schema(server, auth_provider=CREDENTIALS)
    yield server
    cluster.shutdown()
    problems = server.stop()
    assert not problems, f"cql_server (auth) reported errors:\n{problems}"


@pytest.fixture(scope="module")
def auth_port(workdir, auth_server):
    if DIRECT:
        yield auth_server.port
        return
    host = ProxyHost(workdir, auth_server.port, policy_yaml(auth_server.port), PARSER, "proxylib-host-auth")
    yield host.port
    host.stop()


@pytest.mark.parametrize("version,compression", [v[1:] for v in VARIANTS], ids=[v[0] for v in VARIANTS])
def test_authenticated_connections(auth_port, auth_server, key, version, compression):
    k = key()
    cluster = make_cluster(auth_port, version, compression, auth_provider=CREDENTIALS)
    try:
        session = cluster.connect()
        session.execute("INSERT INTO ks.allowed_kv (k, v) VALUES (%s, 31)", (k,))
        assert [tuple(r) for r in session.execute("SELECT v FROM ks.allowed_kv WHERE k = %s", (k,))] == [(31,)]
        with pytest.raises(Unauthorized):
            session.execute("SELECT v FROM ks.secret WHERE k = %s", (k,))
        assert [tuple(r) for r in session.execute("SELECT v FROM ks.allowed_kv WHERE k = 'nothing'")] == []
    finally:
        cluster.shutdown()
    assert not auth_server.saw(f"FROM ks.secret WHERE k = '{k}'")


def test_wrong_password(auth_port):
    cluster = make_cluster(auth_port, 5, True, auth_provider=PlainTextAuthProvider("e2e-user", "wrong"))
    try:
        with pytest.raises(NoHostAvailable, match="incorrect"):
            cluster.connect()
    finally:
        cluster.shutdown()
