"""proxylib-host's access log (--log-json) for kafka: an entry {correlation_id, error_code, api_version, api_key,
topics} per request the parser decides on — Request when allowed, Denied (error_code 29) when not — and Response
for the broker's answers. The requests come from RawClient with correlation ids of their own, so that the test
finds its entries among everybody's.

Under KAFKA_DIRECT=1 these tests fail (there is no proxy access log)."""
import random

from kafka_checks import RawClient, wait_for
from test_wire import produce

PRODUCE = 0


def kafka_entries(proxy, correlation_ids):
    return [e for e in proxy.entries() if "kafka" in e and e["kafka"]["correlation_id"] in correlation_ids]


def test_produce_entries(stack, unique):
    client = RawClient(stack.port, client_id=unique("log"))
    try:
        version = stack.versions[PRODUCE]
        base = random.randrange(1 << 20, 1 << 30)
        allowed, denied = base, base + 1
        client.send(produce(version, [("allowed", [(0, [b"logged"])]), ("allowed.two", [(0, [b"too"])])]), allowed)
        client.send(produce(version, [("secret", [(0, [b"refused"])])]), denied)
        client.flush()
        client.responses(2)
    finally:
        client.close()
    wait_for(lambda: len(kafka_entries(stack.proxy, {allowed, denied})) >= 3, "3 access-log entries")
    entries = kafka_entries(stack.proxy, {allowed, denied})
    got = sorted((e["entry_type"], e["kafka"]["correlation_id"], e["kafka"]["api_key"], e["kafka"]["api_version"],
                  e["kafka"]["error_code"], tuple(e["kafka"]["topics"])) for e in entries)
    assert ("Request", allowed, PRODUCE, version, 0, ("allowed", "allowed.two")) in got
    assert ("Denied", denied, PRODUCE, version, 29, ("secret",)) in got
    assert [g[:4] for g in got if g[0] == "Response"] == [("Response", allowed, PRODUCE, version)]
    assert len(got) == 3, got
    for e in entries:
        assert e["destination_address"] == f"127.0.0.1:{stack.broker.port}" and e["is_ingress"] is True
