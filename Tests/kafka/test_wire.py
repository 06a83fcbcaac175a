"""Exact request sequences on one connection, made and read with kafka-python's own message classes (RawClient):
pipelined Produce requests to allowed and denied topics answered in request order, a request naming an allowed
and a denied topic denied whole, acks=0 denials answered by nothing, topics named by id (Fetch v13+), and
ApiVersions of every version.

Under KAFKA_DIRECT=1 the denial tests fail."""
import time

import pytest
from kafka.protocol.consumer import FetchRequest
from kafka.protocol.metadata import ApiVersionsRequest, MetadataRequest
from kafka.protocol.producer import ProduceRequest
from kafka.record import MemoryRecordsBuilder

from kafka_checks import RawClient, never_received
from kafka_policy import ALLOWED, ALLOWED_TWO, SECRET

PRODUCE, FETCH = 0, 1
NONE, TOPIC_AUTHORIZATION_FAILED, UNKNOWN_TOPIC_ID = 0, 29, 100


@pytest.fixture
def raw(unique):
    made = []

    def connect(stack):
        client = RawClient(stack.port, client_id=unique("raw"))
        made.append(client)
        return client
    yield connect
    for client in made:
        client.close()


def batch(*values):
    builder = MemoryRecordsBuilder(magic=2, compression_type=0, batch_size=1 << 20)
    for value in values:
        builder.append(int(time.time() * 1000), None, value)
    builder.close()
    return bytes(builder.buffer())


def produce(version, topics, acks=1):
    """topics: [(name, [(partition, [values])])]."""
    T = ProduceRequest.TopicProduceData
    return ProduceRequest(version=version, transactional_id=None, acks=acks, timeout_ms=5000, topic_data=[
        T(name=name, partition_data=[T.PartitionProduceData(index=p, records=batch(*values)) for p, values in parts])
        for name, parts in topics])


def errors(response):
    """[(topic, partition, error code)] of a Produce or Fetch response."""
    if hasattr(response, "topic_data") or hasattr(response.responses[0], "partition_responses"):
        return [(t.name, p.index, p.error_code) for t in response.responses for p in t.partition_responses]
    return [(t.topic or t.topic_id, p.partition_index, p.error_code) for t in response.responses for p in t.partitions]


def test_pipelined_produce_answered_in_order(stack, raw, unique):
    mark = stack.broker.mark()
    client = raw(stack)
    version = stack.versions[PRODUCE]
    plan = [ALLOWED, SECRET, ALLOWED_TWO, SECRET, SECRET, ALLOWED, SECRET]
    values = {i: unique(f"pipelined{i}").encode() for i in range(len(plan))}
    stack.broker.produce_delay = 0.02  # the broker's answers come late: denials wait for them
    try:
        sent = [client.send(produce(version, [(topic, [(0, [values[i]])])])) for i, topic in enumerate(plan)]
        client.flush()  # all seven requests in one write
        answers = client.responses(len(plan))  # KafkaProtocol raises CorrelationIdError on any other order
    finally:
        stack.broker.produce_delay = 0.0
    assert [cid for cid, _ in answers] == sent
    for topic, (_, response) in zip(plan, answers):
        expected = TOPIC_AUTHORIZATION_FAILED if topic == SECRET else NONE
        assert errors(response) == [(topic, 0, expected)]
    stored = stack.broker.values(ALLOWED) + stack.broker.values(ALLOWED_TWO)
    assert all(values[i] in stored for i, topic in enumerate(plan) if topic != SECRET)
    never_received(stack.broker, mark, PRODUCE, SECRET)
    assert client.nothing_more()


def test_request_naming_allowed_and_denied_topics_is_denied_whole(stack, raw, unique):
    mark = stack.broker.mark()
    client = raw(stack)
    value = unique("mixed").encode()
    request = produce(stack.versions[PRODUCE], [(ALLOWED, [(0, [value])]), (SECRET, [(0, [b"s"]), (1, [b"t"])])])
    assert errors(client.call(request)) == [
        (ALLOWED, 0, TOPIC_AUTHORIZATION_FAILED), (SECRET, 0, TOPIC_AUTHORIZATION_FAILED),
        (SECRET, 1, TOPIC_AUTHORIZATION_FAILED)]
    assert value not in stack.broker.values(ALLOWED)
    never_received(stack.broker, mark, PRODUCE, SECRET)
    # The connection goes on.
    after = unique("after-mixed").encode()
    assert errors(client.call(produce(stack.versions[PRODUCE], [(ALLOWED, [(0, [after])])]))) == [(ALLOWED, 0, NONE)]


def test_acks0_denial_is_answered_by_nothing(stack, raw, unique):
    mark = stack.broker.mark()
    client = raw(stack)
    version = stack.versions[PRODUCE]
    quiet = unique("quiet").encode()
    client.send(produce(version, [(SECRET, [(0, [b"dropped"])])], acks=0))
    client.send(produce(version, [(ALLOWED, [(0, [quiet])])], acks=0))
    client.send(produce(version, [(SECRET, [(0, [b"dropped"])])], acks=0))
    answered = unique("answered").encode()
    cid = client.send(produce(version, [(ALLOWED, [(0, [answered])])]))
    client.flush()
    # The only response is the acks=1 request's: a response injected for an acks=0 request would come first
    # and break the correlation ids.
    [(got, response)] = client.responses(1)
    assert got == cid and errors(response) == [(ALLOWED, 0, NONE)]
    assert client.nothing_more()
    assert stack.broker.values(ALLOWED)[-2:] == [quiet, answered]
    never_received(stack.broker, mark, PRODUCE, SECRET)


def fetch(version, topic_id):
    T = FetchRequest.FetchTopic
    return FetchRequest(version=version, max_wait_ms=0, min_bytes=0, max_bytes=1 << 20, isolation_level=0,
                        session_id=0, session_epoch=-1, forgotten_topics_data=[], rack_id="", topics=[
                            T(topic_id=topic_id, partitions=[T.FetchPartition(
                                partition=0, current_leader_epoch=-1, fetch_offset=0, last_fetched_epoch=-1,
                                log_start_offset=-1, partition_max_bytes=1 << 20)])])


def metadata(version, *names):
    return MetadataRequest(version=version, allow_auto_topic_creation=False, include_topic_authorized_operations=False,
                           topics=[MetadataRequest.MetadataRequestTopic(name=name) for name in names])


@pytest.mark.parametrize("fetch_version", [13, 16])
def test_fetch_by_topic_id(newest, raw, unique, fetch_version):
    """Fetch v13+ names topics by id: an id no Metadata response has shown the proxy yet is answered
    UNKNOWN_TOPIC_ID (the client would refresh its metadata); once a Metadata response mapped it, the topic's name
    decides (allowed.two: the records; secret: TOPIC_AUTHORIZATION_FAILED)."""
    stack = newest
    client = raw(stack)
    producer_client = raw(stack)
    value = unique("by-id").encode()
    assert errors(producer_client.call(produce(9, [(ALLOWED_TWO, [(0, [value])])]))) == [(ALLOWED_TWO, 0, NONE)]
    new_id = stack.broker.new_topic_id(ALLOWED_TWO)  # an id nobody has asked the broker about yet
    mark = stack.broker.mark()

    response = client.call(fetch(fetch_version, new_id))
    assert errors(response) == [(new_id, 0, UNKNOWN_TOPIC_ID)]
    never_received(stack.broker, mark, FETCH, ALLOWED_TWO)

    topics = client.call(metadata(12, ALLOWED_TWO, SECRET)).topics
    assert [(t.name, t.topic_id, t.error_code) for t in topics] == [
        (ALLOWED_TWO, new_id, NONE), (SECRET, stack.broker.topic_id(SECRET), NONE)]
    response = client.call(fetch(fetch_version, new_id))
    assert errors(response) == [(new_id, 0, NONE)] and value in response.responses[0].partitions[0].records

    secret_id = stack.broker.topic_id(SECRET)
    response = client.call(fetch(fetch_version, secret_id))
    assert errors(response) == [(secret_id, 0, TOPIC_AUTHORIZATION_FAILED)]
    never_received(stack.broker, mark, FETCH, SECRET)


@pytest.mark.parametrize("version", [0, 1, 2, 3, 4])
def test_api_versions_of_every_version(stack, raw, version):
    """ApiVersions passes on its header: the broker's answer arrives, UNSUPPORTED_VERSION (35, at v0) above what
    the profile's broker advertises."""
    client = raw(stack)
    request = ApiVersionsRequest(version=version, client_software_name="raw", client_software_version="1")
    response = client.call(request)
    advertised = stack.versions[18]
    assert response.error_code == (NONE if version <= advertised else 35)
    assert (18, 0, advertised) in [(k.api_key, k.min_version, k.max_version) for k in response.api_keys]
