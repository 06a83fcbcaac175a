"""Kafka rules through live policy changes of the running proxy (the policy file is rewritten; the library gets it
over NPDS): the next request of an open producer or consumer is checked against the new policy, and the rule
shapes operators write (a topic alone, api keys, Cilium's roles, client ids) let real clients work.

Under KAFKA_DIRECT=1 every test here fails (there is no policy to change)."""
import pytest
from kafka import TopicPartition
from kafka.errors import TopicAuthorizationFailedError

from kafka_checks import connections, consume, never_received
from kafka_policy import ALLOWED, METADATA_RULE, SECRET, policy_yaml

PRODUCE = 0
NEWEST = pytest.mark.parametrize("stack", ["newest"], indirect=True)
NEWEST_AND_OLD = pytest.mark.parametrize("stack", ["newest", "old"], indirect=True)


def set_policy(stack, rules):
    assert stack.proxy.set_policy(policy_yaml(stack.broker.port, rules)) is None


@NEWEST_AND_OLD
def test_edit_flips_decisions_on_open_connections(policy, clients, unique):
    stack = policy
    producer = clients.producer(stack)
    client_id = producer.config["client_id"]
    producer.send(ALLOWED, unique("before").encode(), partition=0).get(timeout=10)
    with pytest.raises(TopicAuthorizationFailedError):
        producer.send(SECRET, b"denied", partition=0).get(timeout=10)
    consumer = clients.consumer(stack)
    consumer.assign([TopicPartition(SECRET, 0)])
    with pytest.raises(TopicAuthorizationFailedError):
        consumer.poll(timeout_ms=3000)
    opened = connections(stack.broker, client_id)

    # Now secret may be used and allowed may not: the same producer and consumer see the change.
    set_policy(stack, [{"topic": SECRET}, METADATA_RULE])
    value = unique("now-allowed").encode()
    producer.send(SECRET, value, partition=0).get(timeout=10)
    assert stack.broker.values(SECRET)[-1] == value
    mark = stack.broker.mark()
    with pytest.raises(TopicAuthorizationFailedError):
        producer.send(ALLOWED, b"now-denied", partition=0).get(timeout=10)
    never_received(stack.broker, mark, PRODUCE, ALLOWED)
    assert value in consume(consumer, len(stack.broker.values(SECRET)))
    assert connections(stack.broker, client_id) == opened, "the producer had to reconnect"


@NEWEST_AND_OLD
def test_a_topic_rule_alone_lets_a_client_work(policy, clients, unique):
    """The contract's example: [{topic: t}] is a working policy for a producer and a consumer of t (the rule also
    lets through the requests that name no topic). A topic without a rule is refused at its Metadata lookup."""
    stack = policy
    set_policy(stack, [{"topic": ALLOWED}])
    producer = clients.producer(stack)
    value = unique("topic-rule").encode()
    producer.send(ALLOWED, value, partition=0).get(timeout=10)
    consumer = clients.consumer(stack)
    consumer.assign([TopicPartition(ALLOWED, 0)])
    assert value in consume(consumer, len(stack.broker.values(ALLOWED)))
    with pytest.raises(TopicAuthorizationFailedError):
        producer.send(SECRET, b"no-metadata", partition=0).get(timeout=10)
    producer.send(ALLOWED, unique("after").encode(), partition=0).get(timeout=10)


@NEWEST_AND_OLD
def test_roles(policy, clients, unique):
    """Cilium's documented Kafka policy shape: `role: produce` / `role: consume` with a topic."""
    stack = policy
    set_policy(stack, [{"role": "produce", "topic": ALLOWED}, {"role": "consume", "topic": ALLOWED}])
    producer = clients.producer(stack)
    value = unique("role").encode()
    producer.send(ALLOWED, value, partition=0).get(timeout=10)
    consumer = clients.consumer(stack)
    consumer.assign([TopicPartition(ALLOWED, 0)])
    assert value in consume(consumer, len(stack.broker.values(ALLOWED)))
    mark = stack.broker.mark()
    with pytest.raises(TopicAuthorizationFailedError):
        producer.send(SECRET, b"denied", partition=0).get(timeout=10)
    never_received(stack.broker, mark, PRODUCE, SECRET)


@NEWEST
def test_api_key_rules(policy, clients, unique):
    """Produce allowed on a topic, but not the consumer's ListOffsets on it."""
    stack = policy
    set_policy(stack, [{"apiKey": "produce", "topic": ALLOWED}, {"apiKey": "apiversions"}, METADATA_RULE])
    producer = clients.producer(stack)
    producer.send(ALLOWED, unique("keys").encode(), partition=0).get(timeout=10)
    consumer = clients.consumer(stack)
    consumer.assign([TopicPartition(ALLOWED, 0)])
    with pytest.raises(TopicAuthorizationFailedError):
        consumer.poll(timeout_ms=3000)


@NEWEST
def test_client_id_rule(policy, clients, unique):
    """Only the client with client id "trusted" may produce to secret; everybody may use allowed."""
    stack = policy
    set_policy(stack, [{"topic": ALLOWED}, METADATA_RULE, {"clientID": "trusted", "topic": SECRET}])
    trusted = clients.producer(stack, client_id="trusted")
    value = unique("trusted").encode()
    trusted.send(SECRET, value, partition=0).get(timeout=10)
    assert stack.broker.values(SECRET)[-1] == value
    other = clients.producer(stack)
    with pytest.raises(TopicAuthorizationFailedError):
        other.send(SECRET, b"untrusted", partition=0).get(timeout=10)
    other.send(ALLOWED, unique("untrusted-allowed").encode(), partition=0).get(timeout=10)
