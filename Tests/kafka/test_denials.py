"""Denied topics through the proxy with kafka-python's clients: the client gets TopicAuthorizationFailedError (the
proxy answers for the broker with error 29), the denied request never reaches the broker, and the connection
survives: later allowed requests of the same producer or consumer succeed without a reconnection.

Under KAFKA_DIRECT=1 every test here fails (the broker itself allows everything)."""
import time

import pytest
from kafka import TopicPartition
from kafka.errors import TopicAuthorizationFailedError

from kafka_checks import connections, consume, never_received, received, wait_for
from kafka_policy import ALLOWED, ALLOWED_TWO, SECRET

PRODUCE, FETCH, LIST_OFFSETS = 0, 1, 2


def test_produce_denied_then_allowed(stack, clients, unique):
    mark = stack.broker.mark()
    producer = clients.producer(stack)
    client_id = producer.config["client_id"]
    first = unique("before").encode()
    producer.send(ALLOWED, first, partition=0).get(timeout=10)
    opened = connections(stack.broker, client_id)
    for _ in range(2):
        with pytest.raises(TopicAuthorizationFailedError):
            producer.send(SECRET, unique("secret").encode(), partition=0).get(timeout=10)
    after = unique("after").encode()
    producer.send(ALLOWED, after, partition=0).get(timeout=10)
    assert stack.broker.values(ALLOWED)[-2:] == [first, after]
    never_received(stack.broker, mark, PRODUCE, SECRET)
    assert connections(stack.broker, client_id) == opened, "the producer had to reconnect after the denial"


def test_interleaved_produce_keeps_order(stack, clients, unique):
    """Produce requests to allowed and denied topics in flight together on one connection (the broker holds each
    response 50 ms): every denial reaches the client in its place among the broker's responses, so each send
    gets its own outcome (kafka-python checks that correlation ids come back in request order)."""
    mark = stack.broker.mark()
    producer = clients.producer(stack, max_in_flight_requests_per_connection=10)
    producer.send(ALLOWED, unique("warmup").encode(), partition=0).get(timeout=10)
    producer.send(SECRET, b"warmup", partition=0)  # fetch the secret topic's metadata before the burst
    time.sleep(0.2)
    stack.broker.produce_delay = 0.05
    try:
        plan = [(ALLOWED, unique("a").encode()), (SECRET, b"s1"), (SECRET, b"s2"), (ALLOWED_TWO, unique("b").encode()),
                (SECRET, b"s3"), (ALLOWED, unique("c").encode()), (ALLOWED, unique("d").encode()), (SECRET, b"s4")]
        futures = []
        for topic, value in plan:
            futures.append(producer.send(topic, value, partition=0))
            time.sleep(0.01)  # each send in a request of its own, sent while the earlier ones wait
        outcomes = []
        for future in futures:
            try:
                future.get(timeout=10)
                outcomes.append("ok")
            except TopicAuthorizationFailedError:
                outcomes.append("denied")
    finally:
        stack.broker.produce_delay = 0.0
    assert outcomes == ["denied" if topic == SECRET else "ok" for topic, _ in plan]
    stored = stack.broker.values(ALLOWED) + stack.broker.values(ALLOWED_TWO)
    assert all(value in stored for topic, value in plan if topic != SECRET)
    never_received(stack.broker, mark, PRODUCE, SECRET)
    produces = received(stack.broker, mark, api_key=PRODUCE, client_id=producer.config["client_id"])
    assert all(len(r.topics) == 1 for r in produces), f"the test meant one topic per request: {produces}"


def test_acks0_denied_does_not_break_the_connection(stack, clients, unique):
    """acks=0: no response is expected and none comes for the denied records (test_wire checks the bytes); the
    allowed ones around them arrive, on the same connection."""
    mark = stack.broker.mark()
    producer = clients.producer(stack, acks=0)
    client_id = producer.config["client_id"]
    producer.send(SECRET, b"warmup", partition=0)  # the secret topic's metadata
    producer.flush(timeout=5)
    opened = connections(stack.broker, client_id)
    values = []
    for i in range(4):
        value = unique("acks0").encode()
        values.append(value)
        producer.send(ALLOWED, value, partition=0)
        producer.flush(timeout=5)  # each in a request of its own: a request naming both would be denied whole
        producer.send(SECRET, f"secret{i}".encode(), partition=0)
        producer.flush(timeout=5)
    wait_for(lambda: all(v in stack.broker.values(ALLOWED) for v in values), "the allowed acks=0 records")
    never_received(stack.broker, mark, PRODUCE, SECRET)
    assert connections(stack.broker, client_id) == opened, "the acks=0 producer had to reconnect"


def test_consumer_denied_then_allowed(stack, clients, unique):
    mark = stack.broker.mark()
    producer = clients.producer(stack)
    values = [unique("consumed").encode() for _ in range(2)]
    for value in values:
        producer.send(ALLOWED, value, partition=0).get(timeout=10)

    consumer = clients.consumer(stack)
    client_id = consumer.config["client_id"]
    secret = TopicPartition(SECRET, 0)
    consumer.assign([secret])
    with pytest.raises(TopicAuthorizationFailedError):  # the offset lookup (ListOffsets, earliest)
        consumer.poll(timeout_ms=3000)
    opened = connections(stack.broker, client_id)
    with pytest.raises(TopicAuthorizationFailedError):
        consumer.end_offsets([secret])
    consumer.seek(secret, 0)
    with pytest.raises(TopicAuthorizationFailedError):  # the Fetch itself
        consumer.poll(timeout_ms=3000)
    never_received(stack.broker, mark, LIST_OFFSETS, SECRET)
    never_received(stack.broker, mark, FETCH, SECRET)

    consumer.assign([TopicPartition(ALLOWED, 0)])
    got = consume(consumer, len(stack.broker.values(ALLOWED)))
    assert got[-2:] == values
    assert connections(stack.broker, client_id) == opened, "the consumer had to reconnect after the denials"


def test_consumer_of_two_topics_one_denied(stack, clients, unique):
    """A Fetch naming an allowed and a denied topic is denied as a whole (every topic must be allowed); fetching
    the allowed topic alone afterwards works on the same connection."""
    mark = stack.broker.mark()
    producer = clients.producer(stack)
    value = unique("two").encode()
    producer.send(ALLOWED_TWO, value, partition=0).get(timeout=10)
    consumer = clients.consumer(stack)
    allowed, secret = TopicPartition(ALLOWED_TWO, 0), TopicPartition(SECRET, 0)
    consumer.assign([allowed, secret])
    consumer.seek(allowed, 0)
    consumer.seek(secret, 0)
    with pytest.raises(TopicAuthorizationFailedError):
        for _ in range(20):
            consumer.poll(timeout_ms=200)
    never_received(stack.broker, mark, FETCH, SECRET)
    consumer.assign([allowed])
    consumer.seek(allowed, 0)
    assert value in consume(consumer, len(stack.broker.values(ALLOWED_TWO)))
