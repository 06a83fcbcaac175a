"""Allowed topics through the proxy with kafka-python's KafkaProducer and KafkaConsumer (assigned partitions), at
the versions each profile makes the client negotiate: the records arrive at the broker as sent, and the consumer
reads them back."""
import pytest
from kafka import TopicPartition

from kafka_checks import consume, received, wait_for
from kafka_policy import ALLOWED, ALLOWED_TWO

PRODUCE, FETCH, LIST_OFFSETS, METADATA, API_VERSIONS, INIT_PRODUCER_ID = 0, 1, 2, 3, 18, 22


def versions_used(broker, client_id, mark):
    """{api key: set of versions} of the client's requests that reached the broker."""
    used = {}
    for r in received(broker, mark, client_id=client_id):
        used.setdefault(r.api_key, set()).add(r.api_version)
    return used


def test_produce_and_consume(stack, clients, unique):
    mark = stack.broker.mark()
    producer = clients.producer(stack)
    values = [unique("value").encode() for _ in range(5)]
    for value in values:
        producer.send(ALLOWED, value, partition=0).get(timeout=10)
    other = unique("value").encode()
    producer.send(ALLOWED_TWO, other, partition=0).get(timeout=10)
    stored = stack.broker.values(ALLOWED)
    assert stored[-5:] == values and stack.broker.values(ALLOWED_TWO)[-1] == other

    consumer = clients.consumer(stack)
    consumer.assign([TopicPartition(ALLOWED, 0), TopicPartition(ALLOWED_TWO, 0)])
    got = consume(consumer, len(stored) + len(stack.broker.values(ALLOWED_TWO)))
    assert [v for v in got if v in values] == values and other in got

    v = stack.versions
    assert versions_used(stack.broker, producer.config["client_id"], mark) == {
        API_VERSIONS: {v[API_VERSIONS]}, METADATA: {v[METADATA]}, PRODUCE: {v[PRODUCE]}}
    assert versions_used(stack.broker, consumer.config["client_id"], mark) == {
        API_VERSIONS: {v[API_VERSIONS]}, METADATA: {v[METADATA]}, LIST_OFFSETS: {v[LIST_OFFSETS]},
        FETCH: {v[FETCH]}}


@pytest.mark.parametrize("acks", [0, 1, "all"])
def test_acks(stack, clients, unique, acks):
    producer = clients.producer(stack, acks=acks)
    values = [unique(f"acks{acks}").encode() for _ in range(3)]
    for value in values:
        producer.send(ALLOWED, value, partition=0).get(timeout=10)
    producer.flush(timeout=5)
    wait_for(lambda: all(v in stack.broker.values(ALLOWED) for v in values), "the records at the broker")


def test_idempotent_producer(stack, clients, unique):
    """kafka-python's default producer is idempotent: it asks for a producer id (InitProducerId) first."""
    mark = stack.broker.mark()
    producer = clients.producer(stack, enable_idempotence=True, acks="all")
    value = unique("idempotent").encode()
    producer.send(ALLOWED, value, partition=0).get(timeout=10)
    assert value in stack.broker.values(ALLOWED)
    assert stack.versions[INIT_PRODUCER_ID] in versions_used(stack.broker, producer.config["client_id"], mark)[
        INIT_PRODUCER_ID]


def test_consumer_follows_new_records(stack, clients, unique):
    """A consumer positioned at the end gets records produced after it started fetching (Fetch waits)."""
    consumer = clients.consumer(stack, auto_offset_reset="latest")
    consumer.assign([TopicPartition(ALLOWED, 0)])
    consumer.poll(timeout_ms=300)
    producer = clients.producer(stack)
    values = [unique("late").encode() for _ in range(3)]
    for value in values:
        producer.send(ALLOWED, value, partition=0).get(timeout=10)
    assert consume(consumer, 3) == values


def test_large_records(stack, clients, unique):
    """Records bigger than a socket read: requests and responses arrive in pieces."""
    producer = clients.producer(stack, max_request_size=4 << 20)
    values = [unique("large").encode() + bytes([i]) * (300_000 + i) for i in range(3)]
    for value in values:
        producer.send(ALLOWED_TWO, value, partition=0).get(timeout=10)
    consumer = clients.consumer(stack, max_partition_fetch_bytes=8 << 20, fetch_max_bytes=16 << 20)
    consumer.assign([TopicPartition(ALLOWED_TWO, 0)])
    got = consume(consumer, len(stack.broker.values(ALLOWED_TWO)))
    assert got[-3:] == values
