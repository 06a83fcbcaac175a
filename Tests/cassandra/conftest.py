"""Fixtures of the Cassandra end-to-end tests: one cql_server.py and one proxylib-host in front of it for the
session (the standing policy of cass_policy.py), one cassandra-driver Cluster per protocol variant (v4, v4+LZ4,
v5, v5+LZ4, v4+Snappy) kept for the session, a fresh Session (new pooled connection) per test.

The schema (keyspaces ks and other; tables allowed_kv, allowed_blob, secret in both) is created directly on the
server, not through the proxy: DDL is outside the standing policy.

CASSANDRA_DIRECT=1 points the clients at the server itself, without the proxy: the way to check the clients and
the expectations about the server; every denial test then fails, as it must.
CASSANDRA_PARSER names the parser proxylib-host runs (default cassandra; test.passer passes everything, so the
denial tests fail through it too)."""
import itertools
import logging
import os
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e_common"))

import pytest  # noqa: E402
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
from cassandra.policies import ConstantReconnectionPolicy, RoundRobinPolicy

from cass_policy import DEFAULT_RULES, policy_yaml
from cass_procs import CqlServer, ProxyHost

DIRECT = os.environ.get("CASSANDRA_DIRECT") == "1"
PARSER = os.environ.get("CASSANDRA_PARSER", "cassandra")

# (id, protocol_version, compression)
VARIANTS = [("v4", 4, False), ("v4-lz4", 4, True), ("v5", 5, False), ("v5-lz4", 5, True), ("v4-snappy", 4, "snappy")]

SCHEMA = [
    "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
    "CREATE KEYSPACE other WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
] + [f"CREATE TABLE {ks}.{table}" for ks in ("ks", "other") for table in (
    "allowed_kv (k text PRIMARY KEY, v int)",
    "allowed_blob (k text PRIMARY KEY, data blob)",
    "secret (k text PRIMARY KEY, v int)",
    "allowed_scratch (k text PRIMARY KEY, v int)",  # what the denied TRUNCATE and DROP name
    "allowed_pages (p text, c int, v int, PRIMARY KEY (p, c))",
)]

# The driver logs a denied request's error, and reconnection attempts, at WARNING/ERROR: kept out of the output.
logging.getLogger("cassandra").setLevel(logging.CRITICAL)


def make_cluster(port, protocol_version=None, compression=False, **options):
    """A Cluster tuned for a quick test run: short timeouts, fast schema-event handling, one local host."""
    profile = ExecutionProfile(load_balancing_policy=RoundRobinPolicy(), request_timeout=5)
    kwargs = dict(contact_points=["127.0.0.1"], port=port, compression=compression,
                  execution_profiles={EXEC_PROFILE_DEFAULT: profile}, connect_timeout=3,
                  control_connection_timeout=3, reconnection_policy=ConstantReconnectionPolicy(0.2, None),
                  schema_event_refresh_window=0.05, topology_event_refresh_window=0.05,
                  status_event_refresh_window=0.05, max_schema_agreement_wait=2)
    if protocol_version is not None:
        kwargs["protocol_version"] = protocol_version
    kwargs.update(options)
    return Cluster(**kwargs)


@pytest.fixture(scope="session")
def workdir():
    with tempfile.TemporaryDirectory(prefix="cassandra-e2e-") as d:
        yield d


@pytest.fixture(scope="session")
def server(workdir):
    try:
        s = CqlServer(workdir)
    except (RuntimeError, AssertionError) as e:
        pytest.fail(str(e), pytrace=False)
    cluster = with_schema(s)
    yield s
    cluster.shutdown()
    problems = s.stop()
    assert not problems, f"cql_server reported errors:\n{problems}"


def with_schema(server, **options):
    """Creates the suite's schema on `server` over a direct connection, kept as server.direct; -> its Cluster."""
    cluster = make_cluster(server.port, 4, **options)
    server.direct = cluster.connect()  # a session straight to the server: what is really stored
    for statement in SCHEMA:
        server.direct.execute(statement)
    return cluster


class Direct:
    """Stands in for the proxy under CASSANDRA_DIRECT=1."""

    def __init__(self, port):
        self.port = port

    def set_policy(self, text):
        pytest.fail("CASSANDRA_DIRECT=1: there is no proxy whose policy could change", pytrace=False)

    def entries(self):
        pytest.fail("CASSANDRA_DIRECT=1: there is no proxy access log", pytrace=False)


@pytest.fixture(scope="session")
def proxy(workdir, server):
    if DIRECT:
        yield Direct(server.port)
        return
    try:
        host = ProxyHost(workdir, server.port, policy_yaml(server.port), PARSER)
    except (RuntimeError, AssertionError) as e:
        pytest.fail(str(e), pytrace=False)
    yield host
    host.stop()


@pytest.fixture
def policy(proxy, server):
    """The proxy, for tests that change its policy; the standing policy is back in force after the test."""
    yield proxy
    if not DIRECT:
        assert proxy.set_policy(policy_yaml(server.port, DEFAULT_RULES)) is None


_clusters = {}


@pytest.fixture(scope="session")
def clusters(proxy):
    yield _clusters
    for cluster in _clusters.values():
        if not isinstance(cluster, str):
            cluster.shutdown()


@pytest.fixture(params=VARIANTS, ids=[v[0] for v in VARIANTS])
def cluster(request, proxy, clusters):
    """A connected Cluster through the proxy for each protocol variant (made once, kept for the session)."""
    name, version, compression = request.param
    if name not in clusters:
        c = make_cluster(proxy.port, version, compression)
        try:
            c.connect().shutdown()  # the control connection, and a first pool: fails here, not in each test
        except Exception as e:
            c.shutdown()
            clusters[name] = f"{type(e).__name__}: {e}"
        else:
            clusters[name] = c
    c = clusters[name]
    if isinstance(c, str):  # this variant could not connect once: not tried again by every test
        pytest.fail(f"{name}: the driver could not connect through the proxy: {c}", pytrace=False)
    return c


@pytest.fixture
def session(cluster):
    """A new Session (its own pooled connection) through the proxy; the protocol variant is in the test id."""
    s = cluster.connect()
    yield s
    s.shutdown()
    # A connection that broke in one test (a test's failure, a proxy that closed it) marks the host down; wait
    # for the driver to reconnect, so that the failure stays with that test.
    deadline = time.monotonic() + 5
    while not all(h.is_up for h in cluster.metadata.all_hosts()) and time.monotonic() < deadline:
        time.sleep(0.05)


_serial = itertools.count()


@pytest.fixture
def key():
    """key() -> a partition key no other test uses: the tests find their requests in the server's log by it."""
    run = uuid.uuid4().hex[:8]
    return lambda: f"k-{run}-{next(_serial)}"
