"""Independent Kafka vectors: every request is encoded by kafka-python 3.0.12's own protocol classes (the
`kafka.protocol` ApiMessage classes generated from Apache Kafka's JSON schemas, with kafka-python's request header
encoder: v1, or v2 with tagged fields in flexible versions), for every api key and every version kafka-python
knows, and driven through the C datapath with a policy delivered over NPDS. Every answer the library injects is
decoded with kafka-python's response class of the same key and version; server answers are encoded with it too.

  (a) a policy allowing the request's topics: it passes byte-identical; logged Request.
  (b) a policy denying one of its topics (or, for a request without topics, its api key): it is dropped and the
      injected answer decodes as TOPIC_AUTHORIZATION_FAILED (29) in every error field, with the request's
      correlation id and its topics and partitions echoed; logged Denied with error_code 29.
  (c) ordering: a denial never overtakes the answer to an earlier request.
  (d) Produce acks=0: a denied one gets no answer at all; an allowed one does not hold back a later denial.
  (e) topics named only by id: unknown → UNKNOWN_TOPIC_ID (100); once a Metadata (v10+) answer has mapped the id,
      the name decides.

kafka-python 3.0.12 has classes for 55 api keys (all client-facing ones; not the inter-broker keys 4-7 or the
delegation-token, KRaft and share-group keys); each is parametrized over versions 0..max, 262 in all. It encodes
versions below a schema's validVersions minimum too (it resets the minimum to 0 on purpose), so no version in
that range lacks a class and none is skipped.
"""
import itertools
import os
import tempfile
import uuid

import pytest

import access_log_collector
import npds_server
from kafka_support import (
    DENIED, FETCH, METADATA, PRODUCE, REQUEST, REQUEST_CLASSES, RESPONSE, RESPONSE_CLASSES,
    TOPIC_AUTHORIZATION_FAILED, UNKNOWN_TOPIC_ID, MessageBuilder, all_request_versions, allow_all_port,
    decode_response, encode_request, encode_response, error_codes, kafka_policy, kafka_rule,
    request_has_topics, request_topics_by_id_only, top_level_error_codes, topic_entries)

ENDPOINT, LEARN_ENDPOINT = "1.1.1.1", "2.2.2.2"
REMOTE, LOCAL = 1000, 2000
ALLOWED, OTHER = "allowed", "other"

VERSIONS = all_request_versions()
VERSION_IDS = [f"{REQUEST_CLASSES[k].__name__}-v{v}" for k, v in VERSIONS]
TOPIC_KEYS = sorted({k for k, v in VERSIONS if request_has_topics(k, v)})

# (a): both topics allowed (a request without topics passes a topic rule: it is matched on key/version/client).
ALLOW = kafka_policy(kafka_rule(topic=ALLOWED), kafka_rule(topic=OTHER), remotes=(REMOTE,))
# (b): only ALLOWED, and only for the api keys whose requests name topics, so that every request is denied: one
# naming ALLOWED and OTHER because OTHER is not covered, one without topics because of its api key.
DENY_OTHER = kafka_policy(kafka_rule(topic=ALLOWED, api_keys=TOPIC_KEYS), remotes=(REMOTE,))
# (c)-(e): ALLOWED only, any api key.
ONLY_ALLOWED = kafka_policy(kafka_rule(topic=ALLOWED), remotes=(REMOTE,))

_correlation = itertools.count(100)
_connections = itertools.count(50_000)
_versions = itertools.count(1)


class Env:
    """One library instance for the module: NPDS server, access-log collector, and the last policy installed."""

    def __init__(self, library, npds, collector, instance):
        self.library, self.npds, self.collector, self.instance = library, npds, collector, instance
        self.policy = None

    def install(self, policy):
        if policy != self.policy:
            # LEARN_ENDPOINT allows everything: the connection that teaches the instance topic ids.
            self.npds.install(f"k{next(_versions)}", policy, allow_all_port(LEARN_ENDPOINT))
            self.policy = policy

    def connect(self, endpoint=ENDPOINT):
        result, conn = self.library.connect(self.instance, "kafka", next(_connections), ingress=True, src_id=REMOTE,
                                            dst_id=LOCAL, src_addr="1.1.1.1:34567", dst_addr="10.0.0.2:80",
                                            policy_name=endpoint)
        assert result == "OK"
        return conn

    def wait_entry(self, correlation_id, entry_type, timeout=10.0):
        """The access-log entry of that type for that correlation id (ids are unique within the module)."""
        import time
        deadline = time.monotonic() + timeout
        while True:
            for e in self.collector.settle(quiet=0.02, timeout=0.5):
                if e.WhichOneof("l7") == "kafka" and e.kafka.correlation_id == correlation_id \
                        and e.entry_type == entry_type:
                    return e
            if time.monotonic() > deadline:
                raise AssertionError(f"no access-log entry of type {entry_type} for correlation id {correlation_id}")


@pytest.fixture(scope="module")
def env(library):
    with tempfile.TemporaryDirectory(prefix="kafka-") as d:
        npds = npds_server.NPDSServer(os.path.join(d, "xds.sock")).start()
        collector = access_log_collector.Collector(os.path.join(d, "access_log.sock")).start()
        instance = library.open_module({"xds-path": npds.path, "access-log-path": collector.path})
        assert instance != 0
        npds.wait_for_initial_request()
        try:
            yield Env(library, npds, collector, instance)
        finally:
            library.close_module(instance)
            collector.stop()
            npds.stop()


def fresh_ids(*names):
    return {n: uuid.uuid4() for n in names}


def learn_ids(env, ids, version=12):
    """Teaches the instance `ids` (name → uuid): a Metadata request by name on a connection whose endpoint allows
    everything, and kafka-python's Metadata response (v10+) naming each topic with its id."""
    conn = env.connect(LEARN_ENDPOINT)
    try:
        cid = next(_correlation)
        req = encode_request(MessageBuilder(list(ids)).request(METADATA, version), cid)
        assert conn.client_sends(req) == ("OK", req, b"")
        resp = encode_response(MessageBuilder(list(ids), ids, overrides={"error_code": 0}, ids_with_names=True)
                               .response(METADATA, version), cid)
        assert conn.server_sends(resp) == ("OK", resp)
    finally:
        conn.close()


def check_denial(api_key, version, data, correlation_id, request_message, error=TOPIC_AUTHORIZATION_FAILED):
    """`data` is exactly one answer: kafka-python decodes it; correlation id, every error field, topics and
    partitions echoed."""
    cid, _, body = decode_response(api_key, version, data)
    assert cid == correlation_id
    codes = error_codes(body, version)
    top = top_level_error_codes(body, version)
    nested = list(codes)
    for code in top:
        nested.remove(code)
    if nested:
        # The denial sits in the per-topic (per-partition, per-item) entries; the message's own error field, a
        # failure of the whole exchange to clients (a Fetch session error), stays 0.
        assert all(c == error for c in nested), f"error codes {codes}: {body}"
        assert all(c in (0, error) for c in top), f"error codes {codes}: {body}"
    else:
        assert top and all(c == error for c in top), f"error codes {codes}: {body}"
    if api_key == 35:
        # DescribeLogDirs answers per log directory, which the request does not name: only the error fields
        # are checked.
        return body
    expected = topic_entries(request_message, version)
    got = topic_entries(body, version)
    response_has_partitions = _response_topic_partitions(api_key, version)
    assert [k for k, _ in got] == [k for k, _ in expected], f"topics echoed {got}, request {expected}: {body}"
    if response_has_partitions:
        assert got == expected, f"partitions echoed {got}, request {expected}: {body}"
    return body


def _response_topic_partitions(api_key, version):
    """Whether the response schema lists partitions under its topic entries (built answer with partitions
    echoes them)."""
    probe = MessageBuilder(["t"], overrides={"error_code": 0}).response(api_key, version)
    return any(parts for _, parts in topic_entries(probe, version))


def _id_map_for(api_key, version):
    return fresh_ids(ALLOWED, OTHER) if request_topics_by_id_only(api_key, version) else {}


# ---- (a) allowed: byte-identical -----------------------------------------------------------------------------------

@pytest.mark.parametrize("api_key,version", VERSIONS, ids=VERSION_IDS)
def test_allowed_request_passes_unchanged(env, api_key, version):
    env.install(ALLOW)
    ids = _id_map_for(api_key, version)
    if ids:
        learn_ids(env, ids)
    message = MessageBuilder([ALLOWED, OTHER], ids).request(api_key, version)
    cid = next(_correlation)
    data = encode_request(message, cid)
    conn = env.connect()
    try:
        assert conn.client_sends(data) == ("OK", data, b""), f"request {data.hex()}"
        # ... and in two pieces, cut inside the header
        conn2 = env.connect()
        try:
            res1 = conn2.client_sends(data[:9])
            res2 = conn2.client_sends(data[9:])
            assert (res1[0], res2[0]) == ("OK", "OK")
            assert res1[1] + res2[1] == data and res1[2] + res2[2] == b""
        finally:
            conn2.close()
    finally:
        conn.close()
    entry = env.wait_entry(cid, REQUEST)
    assert (entry.kafka.api_key, entry.kafka.api_version, entry.kafka.error_code) == (api_key, version, 0)
    if request_has_topics(api_key, version):
        assert list(entry.kafka.topics) == [ALLOWED, OTHER]
    else:
        assert list(entry.kafka.topics) == []


# ---- (b) denied: dropped, kafka-python decodes the answer -------------------------------------------------------------

@pytest.mark.parametrize("api_key,version", VERSIONS, ids=VERSION_IDS)
def test_denied_request_answered_with_auth_failure(env, api_key, version):
    env.install(DENY_OTHER)
    ids = _id_map_for(api_key, version)
    if ids:
        learn_ids(env, ids)
    # A Metadata request naming an allowed topic goes to the broker with its denied ones masked in the answer
    # (test_metadata_answer_masks_denied_topics); one naming only denied topics is denied whole.
    topics = [OTHER] if api_key == METADATA else [ALLOWED, OTHER]
    message = MessageBuilder(topics, ids).request(api_key, version)
    cid = next(_correlation)
    data = encode_request(message, cid)
    conn = env.connect()
    try:
        res, forwarded, injected = conn.client_sends(data)
        assert (res, forwarded) == ("OK", b""), f"request {data.hex()}: {res}, forwarded {forwarded.hex()}"
        assert injected, f"nothing injected for {data.hex()}"
        check_denial(api_key, version, injected, cid, message)
    finally:
        conn.close()
    entry = env.wait_entry(cid, DENIED)
    assert (entry.kafka.api_key, entry.kafka.api_version, entry.kafka.error_code) == \
        (api_key, version, TOPIC_AUTHORIZATION_FAILED)


# ---- (c) ordering ------------------------------------------------------------------------------------------------

ORDER_CASES = [(PRODUCE, 3), (PRODUCE, 9), (PRODUCE, 12), (FETCH, 4), (FETCH, 12), (METADATA, 1), (METADATA, 12),
               (2, 5), (2, 9), (8, 8), (9, 7), (19, 5), (23, 4)]


def _pair(api_key, version, topics, cid):
    message = MessageBuilder(topics).request(api_key, version)
    return message, encode_request(message, cid)


def _answer(api_key, version, topics, cid):
    return encode_response(MessageBuilder(topics, overrides={"error_code": 0}).response(api_key, version), cid)


@pytest.mark.parametrize("api_key,version", ORDER_CASES, ids=[f"{REQUEST_CLASSES[k].__name__}-v{v}" for k, v in ORDER_CASES])
def test_denial_waits_for_earlier_answers(env, api_key, version):
    env.install(ONLY_ALLOWED)
    a_id, b_id, c_id = next(_correlation), next(_correlation), next(_correlation)
    _, a = _pair(api_key, version, [ALLOWED], a_id)
    b_msg, b = _pair(api_key, version, [OTHER] if api_key == METADATA else [ALLOWED, OTHER], b_id)
    _, c = _pair(api_key, version, [ALLOWED], c_id)
    a_answer, c_answer = _answer(api_key, version, [ALLOWED], a_id), _answer(api_key, version, [ALLOWED], c_id)
    conn = env.connect()
    try:
        assert conn.client_sends(a) == ("OK", a, b"")
        # B is denied while A's answer is due: nothing reaches the client yet.
        assert conn.client_sends(b) == ("OK", b"", b"")
        # A's answer passes first, then B's denial.
        res, to_client = conn.server_sends(a_answer)
        assert res == "OK" and to_client.startswith(a_answer), to_client.hex()
        check_denial(api_key, version, to_client[len(a_answer):], b_id, b_msg)
        # C after: passes, its answer passes alone.
        assert conn.client_sends(c) == ("OK", c, b"")
        assert conn.server_sends(c_answer) == ("OK", c_answer)
    finally:
        conn.close()
    env.wait_entry(b_id, DENIED)
    env.wait_entry(a_id, RESPONSE)


@pytest.mark.parametrize("api_key,version", ORDER_CASES[:4], ids=[f"{REQUEST_CLASSES[k].__name__}-v{v}" for k, v in ORDER_CASES[:4]])
def test_pipelined_denial_between_answers(env, api_key, version):
    """A, B (denied), C in one write; A's answer in two pieces, then C's: the client sees A, B's denial, C."""
    env.install(ONLY_ALLOWED)
    a_id, b_id, c_id = next(_correlation), next(_correlation), next(_correlation)
    _, a = _pair(api_key, version, [ALLOWED], a_id)
    b_msg, b = _pair(api_key, version, [OTHER], b_id)
    _, c = _pair(api_key, version, [ALLOWED], c_id)
    a_answer, c_answer = _answer(api_key, version, [ALLOWED], a_id), _answer(api_key, version, [ALLOWED], c_id)
    conn = env.connect()
    try:
        assert conn.client_sends(a + b + c) == ("OK", a + c, b"")
        r1 = conn.server_sends(a_answer[:6])
        r2 = conn.server_sends(a_answer[6:])
        assert (r1[0], r2[0]) == ("OK", "OK")
        received = r1[1] + r2[1]
        assert received.startswith(a_answer), received.hex()
        check_denial(api_key, version, received[len(a_answer):], b_id, b_msg)
        assert conn.server_sends(c_answer) == ("OK", c_answer)
    finally:
        conn.close()


def test_denial_waits_for_every_earlier_answer(env):
    """Two allowed requests outstanding: the denial comes only after both answers, in request order."""
    env.install(ONLY_ALLOWED)
    ids = [next(_correlation) for _ in range(3)]
    a1, a2 = _pair(PRODUCE, 9, [ALLOWED], ids[0])[1], _pair(FETCH, 12, [ALLOWED], ids[1])[1]
    b_msg, b = _pair(METADATA, 12, [OTHER], ids[2])
    conn = env.connect()
    try:
        assert conn.client_sends(a1 + a2 + b) == ("OK", a1 + a2, b"")
        first = _answer(PRODUCE, 9, [ALLOWED], ids[0])
        assert conn.server_sends(first) == ("OK", first)
        second = _answer(FETCH, 12, [ALLOWED], ids[1])
        res, to_client = conn.server_sends(second)
        assert res == "OK" and to_client.startswith(second)
        check_denial(METADATA, 12, to_client[len(second):], ids[2], b_msg)
    finally:
        conn.close()


# ---- (d) Produce acks=0 ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("version", [3, 8, 9, 12])
def test_denied_produce_acks0_gets_no_answer(env, version):
    env.install(ONLY_ALLOWED)
    cid, later = next(_correlation), next(_correlation)
    p = encode_request(MessageBuilder([OTHER], acks=0).request(PRODUCE, version), cid)
    assert REQUEST_CLASSES[PRODUCE].decode(p, version=version, header=True, framed=True).acks == 0
    a = encode_request(MessageBuilder([ALLOWED]).request(PRODUCE, version), later)
    conn = env.connect()
    try:
        assert conn.client_sends(p) == ("OK", b"", b"")
        # Nothing is owed for it: the next request's answer is the next thing the client sees.
        assert conn.client_sends(a) == ("OK", a, b"")
        answer = _answer(PRODUCE, version, [ALLOWED], later)
        assert conn.server_sends(answer) == ("OK", answer)
    finally:
        conn.close()
    entry = env.wait_entry(cid, DENIED)
    assert entry.kafka.error_code == TOPIC_AUTHORIZATION_FAILED


@pytest.mark.parametrize("version", [3, 9])
def test_allowed_produce_acks0_does_not_hold_back_a_denial(env, version):
    env.install(ONLY_ALLOWED)
    p_id, b_id = next(_correlation), next(_correlation)
    p = encode_request(MessageBuilder([ALLOWED], acks=0).request(PRODUCE, version), p_id)
    b_msg = MessageBuilder([OTHER]).request(PRODUCE, version)
    b = encode_request(b_msg, b_id)
    conn = env.connect()
    try:
        assert conn.client_sends(p) == ("OK", p, b"")
        res, forwarded, injected = conn.client_sends(b)
        assert (res, forwarded) == ("OK", b"")
        check_denial(PRODUCE, version, injected, b_id, b_msg)
    finally:
        conn.close()


# ---- (e) topics named by id ---------------------------------------------------------------------------------------

ID_CASES = [(PRODUCE, 13), (FETCH, 13), (FETCH, 18)] + [
    (k, v) for k, v in VERSIONS if request_topics_by_id_only(k, v) and k not in (PRODUCE, FETCH)]


@pytest.mark.parametrize("api_key,version", ID_CASES, ids=[f"{REQUEST_CLASSES[k].__name__}-v{v}" for k, v in ID_CASES])
def test_topic_id_learnt_from_metadata(env, api_key, version):
    env.install(ONLY_ALLOWED)
    ids = fresh_ids(ALLOWED, "secret")
    allowed_only = {ALLOWED: ids[ALLOWED]}
    conn = env.connect()
    try:
        # Unknown id: UNKNOWN_TOPIC_ID, so the client refreshes its metadata.
        cid = next(_correlation)
        message = MessageBuilder([ALLOWED], allowed_only).request(api_key, version)
        data = encode_request(message, cid)
        res, forwarded, injected = conn.client_sends(data)
        assert (res, forwarded) == ("OK", b""), data.hex()
        check_denial(api_key, version, injected, cid, message, error=UNKNOWN_TOPIC_ID)
        assert env.wait_entry(cid, DENIED).kafka.error_code == UNKNOWN_TOPIC_ID

        # The client asks for metadata (by name, allowed); kafka-python's Metadata v12 answer maps the id.
        mid = next(_correlation)
        meta = encode_request(MessageBuilder([ALLOWED]).request(METADATA, 12), mid)
        assert conn.client_sends(meta) == ("OK", meta, b"")
        answer = encode_response(MessageBuilder([ALLOWED], allowed_only, overrides={"error_code": 0},
                                                ids_with_names=True).response(METADATA, 12), mid)
        assert conn.server_sends(answer) == ("OK", answer)

        # Now the id is ALLOWED: passes, logged by name.
        cid = next(_correlation)
        data = encode_request(message, cid)
        assert conn.client_sends(data) == ("OK", data, b"")
        assert list(env.wait_entry(cid, REQUEST).kafka.topics) == [ALLOWED]
        answer = _answer_with_ids(api_key, version, allowed_only, cid)
        assert conn.server_sends(answer) == ("OK", answer)

        # An id mapped (elsewhere in the instance) to a topic the policy does not allow: denied by its name.
        learn_ids(env, {"secret": ids["secret"]})
        cid = next(_correlation)
        message = MessageBuilder(["secret"], {"secret": ids["secret"]}).request(api_key, version)
        data = encode_request(message, cid)
        res, forwarded, injected = conn.client_sends(data)
        assert (res, forwarded) == ("OK", b"")
        check_denial(api_key, version, injected, cid, message)
        entry = env.wait_entry(cid, DENIED)
        assert entry.kafka.error_code == TOPIC_AUTHORIZATION_FAILED and list(entry.kafka.topics) == ["secret"]
    finally:
        conn.close()


def _answer_with_ids(api_key, version, ids, cid):
    return encode_response(MessageBuilder(list(ids), ids, overrides={"error_code": 0}, ids_with_names=True)
                           .response(api_key, version), cid)


def test_every_version_is_covered():
    """The parametrization covers each api key kafka-python has, each version 0..max, and its response class."""
    assert len(VERSIONS) == sum(c.max_version + 1 for c in REQUEST_CLASSES.values())
    assert set(REQUEST_CLASSES) == set(RESPONSE_CLASSES)
    assert len(REQUEST_CLASSES) >= 50
    assert any(REQUEST_CLASSES[k].flexible_version_q(v) for k, v in VERSIONS)


# ---- Metadata naming allowed and denied topics: answered by the broker, denied topics masked -------------------------

@pytest.mark.parametrize("version", range(REQUEST_CLASSES[METADATA].max_version + 1))
def test_metadata_answer_masks_denied_topics(env, version):
    """The broker answers for both topics; the client reads the allowed one as the broker wrote it and the denied
    one as TOPIC_AUTHORIZATION_FAILED with no partitions (and, v10+, a zero id)."""
    env.install(DENY_OTHER)
    cid = next(_correlation)
    message = MessageBuilder([ALLOWED, OTHER]).request(METADATA, version)
    data = encode_request(message, cid)
    answer = _answer(METADATA, version, [ALLOWED, OTHER], cid)
    conn = env.connect()
    try:
        assert conn.client_sends(data) == ("OK", data, b"")
        res, to_client = conn.server_sends(answer)
        assert res == "OK" and to_client, to_client.hex()
    finally:
        conn.close()
    got_cid, _, body = decode_response(METADATA, version, to_client)
    _, _, sent = decode_response(METADATA, version, answer)
    assert got_cid == cid
    topics = {t.name: t for t in body.topics}
    original = {t.name: t for t in sent.topics}
    assert set(topics) == {ALLOWED, OTHER}
    assert topics[ALLOWED] == original[ALLOWED]
    assert original[OTHER].partitions, "the broker's answer must list the denied topic's partitions"
    assert (topics[OTHER].error_code, list(topics[OTHER].partitions)) == (TOPIC_AUTHORIZATION_FAILED, [])
    if version >= 10:
        assert topics[OTHER].topic_id in (None, "AAAAAAAAAAAAAAAAAAAAAA", b"\0" * 16) or \
            str(topics[OTHER].topic_id) == "00000000-0000-0000-0000-000000000000", topics[OTHER].topic_id
    assert list(body.brokers) == list(sent.brokers)
