"""Fixtures of the memcache end-to-end tests: one real memcached and one proxylib-host in front of it for the
session (the standing policy of mc_policy.py), fresh clients per test, unique keys per test.

MEMCACHE_DIRECT=1 points the clients at memcached itself, without the proxy: the way to check the clients and
the expectations about memcached; every denial test then fails, as it must."""
import itertools
import os
import sys
import tempfile
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e_common"))

import bmemcached
import pytest
from pymemcache.client.base import Client

from mc_policy import DEFAULT_RULES, policy_yaml
from host_procs import ProxyHost
from mc_servers import Memcached
from mc_wire import Wire

DIRECT = os.environ.get("MEMCACHE_DIRECT") == "1"


@pytest.fixture(scope="session")
def workdir():
    with tempfile.TemporaryDirectory(prefix="memcache-e2e-") as d:
        yield d


@pytest.fixture(scope="session")
def memcached(workdir):
    try:
        server = Memcached(workdir)
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)
    yield server
    server.stop()


class Direct:
    """Stands in for the proxy under MEMCACHE_DIRECT=1."""

    def __init__(self, port):
        self.port = port

    def set_policy(self, text):
        pytest.fail("MEMCACHE_DIRECT=1: there is no proxy whose policy could change", pytrace=False)

    def entries(self):
        pytest.fail("MEMCACHE_DIRECT=1: there is no proxy access log", pytrace=False)


@pytest.fixture(scope="session")
def proxy(workdir, memcached):
    if DIRECT:
        yield Direct(memcached.port)
        return
    try:
        host = ProxyHost(workdir, memcached.port, policy_yaml(memcached.port), "memcache")
    except (RuntimeError, AssertionError) as e:
        pytest.fail(str(e), pytrace=False)
    yield host
    host.stop()


@pytest.fixture
def policy(proxy, memcached):
    """The proxy, for tests that change its policy; the standing policy is back in force after the test."""
    yield proxy
    assert proxy.set_policy(policy_yaml(memcached.port, DEFAULT_RULES)) is None


_serial = itertools.count()


@pytest.fixture
def key():
    """key(prefix) -> a key no other test uses, e.g. pub:3f2a9c1e:0 (denied prefixes: anything but "pub")."""
    run = uuid.uuid4().hex[:8]
    return lambda prefix="pub": f"{prefix}:{run}:{next(_serial)}"


@pytest.fixture
def text_client(proxy):
    """pymemcache through the proxy; replies are awaited (its default is noreply for storage commands)."""
    client = Client(("127.0.0.1", proxy.port), default_noreply=False, timeout=5, connect_timeout=5)
    yield client
    client.close()


@pytest.fixture
def direct(memcached):
    """pymemcache straight to memcached: what is really stored."""
    client = memcached.client()
    yield client
    client.close()


@pytest.fixture
def binary_client(proxy):
    client = bmemcached.Client([f"127.0.0.1:{proxy.port}"], socket_timeout=5)
    yield client
    client.disconnect_all()


@pytest.fixture
def wire(proxy):
    """wire() -> a new raw connection through the proxy (closed after the test)."""
    opened = []

    def connect():
        opened.append(Wire(proxy.port))
        return opened[-1]

    yield connect
    for w in opened:
        w.close()
