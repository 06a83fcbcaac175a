"""Fixtures of the redis end-to-end tests: one real redis-server and one proxylib-host (--parser redis, the
standing policy of rd_policy.py) in front of it for the session; fresh clients per test (redis-py over RESP2
and RESP3, redis-cli, raw connections), unique keys and channels per test.

REDIS_DIRECT=1 points the clients at redis-server itself, without the proxy: the way to check the clients and
the expectations about redis-server; every denial test then fails, as it must."""
import itertools
import os
import subprocess
import sys
import tempfile
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e_common"))

import pytest  # noqa: E402
import redis  # noqa: E402

from host_procs import ProxyHost  # noqa: E402
from rd_policy import DEFAULT_RULES, policy_yaml  # noqa: E402
from rd_servers import REDIS_CLI, RedisServer  # noqa: E402
from rd_wire import Wire  # noqa: E402

DIRECT = os.environ.get("REDIS_DIRECT") == "1"


@pytest.fixture(scope="session")
def workdir():
    with tempfile.TemporaryDirectory(prefix="redis-e2e-") as d:
        yield d


def start_server(workdir, name="redis-server", password=None):
    try:
        return RedisServer(workdir, name=name, password=password)
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture(scope="session")
def redis_server(workdir):
    server = start_server(workdir)
    yield server
    server.stop()


class Direct:
    """Stands in for the proxy under REDIS_DIRECT=1."""

    def __init__(self, port):
        self.port = port

    def set_policy(self, text):
        pytest.fail("REDIS_DIRECT=1: there is no proxy whose policy could change", pytrace=False)

    def entries(self):
        pytest.fail("REDIS_DIRECT=1: there is no proxy access log", pytrace=False)

    def stop(self):
        pass


def start_proxy(workdir, server, policy_text, name="proxylib-host", parser="redis"):
    """proxylib-host in front of `server` (or the server itself under REDIS_DIRECT=1)."""
    if DIRECT:
        return Direct(server.port)
    try:
        return ProxyHost(workdir, server.port, policy_text, parser, name=name)
    except (RuntimeError, AssertionError) as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture(scope="session")
def proxy(workdir, redis_server):
    host = start_proxy(workdir, redis_server, policy_yaml(redis_server.port))
    yield host
    host.stop()


@pytest.fixture
def policy(proxy, redis_server):
    """The proxy, for tests that change its policy; the standing policy is back in force after the test."""
    yield proxy
    if not DIRECT:
        assert proxy.set_policy(policy_yaml(redis_server.port, DEFAULT_RULES)) is None


_serial = itertools.count()


@pytest.fixture
def key():
    """key(prefix) -> a key no other test uses, e.g. pub:3f2a9c1e:0 (the standing policy allows "pub:…" only).
    Channels: key("news.") -> news.3f2a9c1e.1 (allowed: "news."…)."""
    run = uuid.uuid4().hex[:8]

    def make(prefix="pub"):
        if prefix.endswith("."):
            return f"{prefix}{run}.{next(_serial)}"
        return f"{prefix}:{run}:{next(_serial)}"
    return make


def proxied_client(port, **options):
    """redis-py on one connection (a pool would hide which connection a command used)."""
    options.setdefault("decode_responses", True)
    # RESP2 unless a test asks for RESP3 (redis-py 8 would otherwise say HELLO 3 on every connection).
    options.setdefault("protocol", 2)
    return redis.Redis(host="127.0.0.1", port=port, socket_timeout=5, single_connection_client=True, **options)


@pytest.fixture
def r(proxy):
    """redis-py through the proxy, RESP2."""
    client = proxied_client(proxy.port)
    yield client
    client.close()


@pytest.fixture
def r3(proxy):
    """redis-py through the proxy, RESP3 (HELLO 3 on connect)."""
    client = proxied_client(proxy.port, protocol=3)
    yield client
    client.close()


@pytest.fixture
def direct(redis_server):
    """redis-py straight to redis-server: what the server really holds."""
    client = redis_server.client(decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def cli(proxy):
    """cli(*args, resp3=False, stdin=None, extra=(), port=None, exit_code=0) -> redis-cli's stdout, in its tty
    format (--no-raw: `(error) …`, `(integer) 1`, `"value"`). (--pipe exits 1 when a reply was an error.)"""
    def run(*args, resp3=False, stdin=None, extra=(), port=None, exit_code=0):
        command = [REDIS_CLI, "-h", "127.0.0.1", "-p", str(port or proxy.port), "--no-raw"]
        if resp3:
            command.append("-3")
        command += list(extra) + [str(a) for a in args]
        done = subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=20)
        assert done.returncode == exit_code, f"{command}: exit {done.returncode}: {done.stderr}"
        return done.stdout
    return run


@pytest.fixture
def wire(proxy):
    """wire() -> a new raw connection through the proxy (closed after the test)."""
    opened = []

    def connect(port=None):
        opened.append(Wire(port or proxy.port))
        return opened[-1]

    yield connect
    for w in opened:
        w.close()
