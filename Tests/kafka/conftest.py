"""Fixtures of the Kafka end-to-end tests: a test broker (kafka_broker.py, in this process) and proxylib-host
(--parser kafka, the standing policy of kafka_policy.py) in front of it for each version profile, kept for the
session; kafka-python producers and consumers (assigned partitions, no group) through the proxy, closed after
each test.

A profile limits the versions the broker advertises in ApiVersions, so that the client negotiates them:
  newest    what kafka-python 3.0.12 speaks at most: flexible versions (ApiVersions v4, Metadata v13 with topic
            ids, Produce v9, Fetch v12, ListOffsets v11, InitProducerId v4)
  flexible  the first flexible versions (Kafka 2.4-2.8: ApiVersions v3, Metadata v9, Produce v9, Fetch v12,
            ListOffsets v6, InitProducerId v2)
  old       no flexible version at all (Kafka 2.3: ApiVersions v2, Metadata v8, Produce v8, Fetch v11,
            ListOffsets v5, InitProducerId v1)

The broker names the proxy's address in its Metadata responses, so clients that bootstrap through the proxy
keep using it.

KAFKA_DIRECT=1 points the clients at the broker itself, without the proxy: the way to check the broker and the
expectations of the allowed paths; every denial test then fails, as it must.
KAFKA_PARSER names the parser proxylib-host runs (default kafka)."""
import itertools
import logging
import os
import sys
import tempfile
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e_common"))

import pytest  # noqa: E402
from host_procs import ProxyHost  # noqa: E402
from kafka import KafkaConsumer, KafkaProducer  # noqa: E402

from kafka_broker import KafkaBroker  # noqa: E402
from kafka_policy import DEFAULT_RULES, TOPICS, policy_yaml  # noqa: E402

DIRECT = os.environ.get("KAFKA_DIRECT") == "1"
PARSER = os.environ.get("KAFKA_PARSER", "kafka")

# Api keys: Produce 0, Fetch 1, ListOffsets 2, Metadata 3, ApiVersions 18, InitProducerId 22.
PROFILES = {
    "newest": {},
    "flexible": {18: 3, 3: 9, 0: 9, 1: 12, 2: 6, 22: 2},
    "old": {18: 2, 3: 8, 0: 8, 1: 11, 2: 5, 22: 1},
}
# The versions the client then uses (kafka-python caps Produce at 9 and Fetch at 12 itself).
EXPECTED_VERSIONS = {
    "newest": {18: 4, 3: 13, 0: 9, 1: 12, 2: 11, 22: 4},
    "flexible": {18: 3, 3: 9, 0: 9, 1: 12, 2: 6, 22: 2},
    "old": {18: 2, 3: 8, 0: 8, 1: 11, 2: 5, 22: 1},
}

# kafka-python logs a refused request's error and reconnections at WARNING/ERROR: kept out of the output.
logging.getLogger("kafka").setLevel(logging.CRITICAL)


@pytest.fixture(scope="session")
def workdir():
    with tempfile.TemporaryDirectory(prefix="kafka-e2e-") as d:
        yield d


class Direct:
    """Stands in for the proxy under KAFKA_DIRECT=1."""

    def __init__(self, port):
        self.port = port

    def set_policy(self, text):
        pytest.fail("KAFKA_DIRECT=1: there is no proxy whose policy could change", pytrace=False)

    def entries(self):
        pytest.fail("KAFKA_DIRECT=1: there is no proxy access log", pytrace=False)

    def stop(self):
        pass


class Stack:
    """One profile's broker and the proxy in front of it."""

    def __init__(self, name, broker, proxy):
        self.name = name
        self.broker = broker
        self.proxy = proxy
        self.versions = EXPECTED_VERSIONS[name]

    @property
    def port(self):
        return self.proxy.port

    @property
    def bootstrap(self):
        return f"127.0.0.1:{self.proxy.port}"


_stacks = {}


@pytest.fixture(scope="session")
def stacks(workdir):
    yield _stacks
    problems = []
    for stack in _stacks.values():
        if isinstance(stack, str):
            continue
        stack.proxy.stop()
        stack.broker.stop()
        problems += [f"{stack.name}: {p}" for p in stack.broker.problems]
    assert not problems, "the test broker saw protocol errors:\n" + "\n".join(problems)


def get_stack(stacks, workdir, name):
    if name not in stacks:
        broker = KafkaBroker(TOPICS, PROFILES[name]).start()
        try:
            proxy = Direct(broker.port) if DIRECT else ProxyHost(
                workdir, broker.port, policy_yaml(broker.port), PARSER, name=f"proxylib-host-{name}")
        except (RuntimeError, AssertionError) as e:
            broker.stop()
            stacks[name] = f"{type(e).__name__}: {e}"
        else:
            broker.advertised = ("127.0.0.1", proxy.port)
            stacks[name] = Stack(name, broker, proxy)
    stack = stacks[name]
    if isinstance(stack, str):
        pytest.fail(f"{name}: the proxy did not start: {stack}", pytrace=False)
    return stack


@pytest.fixture(params=list(PROFILES))
def stack(request, stacks, workdir):
    """Each profile's broker and proxy (made once, kept for the session); the profile is in the test id."""
    return get_stack(stacks, workdir, request.param)


@pytest.fixture
def newest(stacks, workdir):
    """The newest profile alone, for tests whose subject does not depend on the versions."""
    return get_stack(stacks, workdir, "newest")


@pytest.fixture
def policy(stack):
    """The stack, for tests that change its proxy's policy; the standing policy is back after the test."""
    yield stack
    if not DIRECT:
        assert stack.proxy.set_policy(policy_yaml(stack.broker.port, DEFAULT_RULES)) is None


_serial = itertools.count()


@pytest.fixture
def unique():
    """unique(prefix) -> a name no other test uses (client ids, record values)."""
    run = uuid.uuid4().hex[:8]
    return lambda prefix="x": f"{prefix}-{run}-{next(_serial)}"


@pytest.fixture
def clients(unique):
    """clients.producer(stack, **config) / clients.consumer(stack, **config): kafka-python clients through the
    proxy with short timeouts, each with a client id of its own (client.config['client_id']); closed after the
    test."""
    made = []

    class Clients:
        def producer(self, stack, **config):
            options = dict(bootstrap_servers=stack.bootstrap, client_id=unique("producer"), linger_ms=0,
                           enable_idempotence=False, request_timeout_ms=5000, max_block_ms=5000,
                           bootstrap_timeout_ms=5000,
                           delivery_timeout_ms=8000, retry_backoff_ms=50, reconnect_backoff_ms=50)
            options.update(config)
            p = KafkaProducer(**options)
            made.append(p)
            return p

        def consumer(self, stack, **config):
            options = dict(bootstrap_servers=stack.bootstrap, client_id=unique("consumer"), group_id=None,
                           enable_auto_commit=False, auto_offset_reset="earliest", fetch_max_wait_ms=100,
                           request_timeout_ms=5000, bootstrap_timeout_ms=5000, retry_backoff_ms=50,
                           reconnect_backoff_ms=50)
            options.update(config)
            c = KafkaConsumer(**options)
            made.append(c)
            return c

    yield Clients()
    for client in made:
        client.close(timeout=1) if isinstance(client, KafkaProducer) else client.close()

