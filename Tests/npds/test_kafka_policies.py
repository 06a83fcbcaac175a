"""Upstream's Kafka vectors (cilium/proxy proxylib/kafka/parser_test.go, and the kafka_rules case of
proxylib/libcilium/proxylib_test.go) through the C ABI, each policy delivered by a real NPDS server and every
access-log entry read back by a real collector; then the policy semantics, NACKs, live updates and the `kafka`
access-log entries.

Every vector runs three ways on one library instance:
  1. exact ops and reply-direction inject bytes of each OnData call (upstream's CheckOnDataOK);
  2. the same traffic through the C datapath: what the server and the client receive;
  3. the access-log entries both runs produce (`kafka` {correlation_id, error_code, api_version, api_key, topics}).

Where upstream's behaviour is a defect (shared/parity.md) or the parser contract differs, the vector asserts our
corrected behaviour and says so.
"""
import pytest

from cassandra_support import Vector, drops, passes, reply, request
from kafka_support import (
    DENIED, INVALID_MESSAGE, METADATA, PRODUCE, REQUEST, RESPONSE, TOPIC_AUTHORIZATION_FAILED, KLog,
    api_versions_v0, check_kafka_entries, decode_response, kafka_connect, kafka_policy, kafka_rule, kafka_rules, metadata_v1,
    produce_v3, produce_v3_denial, response_v0, run_kafka_vector)
import policies as P

# ---- upstream's bytes (parser_test.go) -----------------------------------------------------------------------------

MSG1 = bytes.fromhex("0000")  # length 42, first half
MSG2_HEX = ("002a"       # length 42, second half
            "0000"       # api key 0 (Produce)
            "0003"       # version 3
            "00010001"   # correlation id 65537
            "0003414243"  # client id "ABC"
            "000144"     # transactional id "D"
            "{acks}"     # required acks
            "000003")    # timeout 1000 ms, first 3 bytes
MSG2 = bytes.fromhex(MSG2_HEX.format(acks="0000"))  # upstream's: acks = 0
MSG2_ACKS1 = bytes.fromhex(MSG2_HEX.format(acks="0001"))  # the same request expecting an answer
MSG3 = bytes.fromhex("E8" "00000002" "00024546" "00000000" "00024748" "00000000")  # timeout's last byte, [EF, GH]
MSG3_FAIL = bytes.fromhex("E8" "20000002" "00024546" "00000000" "00024748" "00000000")  # 0x20000002 topics
PRODUCE_EF_GH = MSG1 + MSG2 + MSG3  # 46 bytes
PRODUCE_EF_GH_ACKS1 = MSG1 + MSG2_ACKS1 + MSG3
# Upstream's injected answer (Produce v3 response, correlation 65537, [EF, GH] with no partitions, throttle 0).
UP_DENIAL = bytes([0x0, 0x0, 0x0, 0x1c, 0x0, 0x1, 0x0, 0x1, 0x0, 0x0, 0x0, 0x2, 0x0, 0x2, 0x45, 0x46,
                   0x0, 0x0, 0x0, 0x0, 0x0, 0x2, 0x47, 0x48, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0])
# TestKafkaOnDataResponse's reply, in upstream's segments.
UP_RESPONSE_SEGMENTS = [bytes([0x0, 0x0, 0x0, 0x1c]), bytes([0x0, 0x1, 0x0, 0x1]), bytes([0x0, 0x0, 0x0, 0x2]),
                        bytes([0x0, 0x2, 0x45, 0x46, 0x0, 0x0, 0x0, 0x0]),
                        bytes([0x0, 0x2, 0x47, 0x48, 0x0, 0x0, 0x0, 0x0]), bytes([0x0, 0x0, 0x0, 0x0])]

CID = 65537
INVALID_FRAME_TYPE = 2  # FILTEROP_ERROR_INVALID_FRAME_TYPE


def test_frames_are_upstreams_bytes():
    """This file's frame builders produce upstream's bytes."""
    assert len(PRODUCE_EF_GH) == 46
    assert produce_v3(CID, "ABC", ["EF", "GH"], acks=0, transactional_id="D") == PRODUCE_EF_GH
    assert produce_v3(CID, "ABC", ["EF", "GH"], acks=1, transactional_id="D") == PRODUCE_EF_GH_ACKS1
    assert produce_v3_denial(CID, ["EF", "GH"]) == UP_DENIAL
    assert b"".join(UP_RESPONSE_SEGMENTS) == UP_DENIAL


def up_policy(*rules, l7_proto="kafka"):
    """Upstream's policy shape: endpoint 1.1.1.1 (id 2000), port 80, one rule for remote 1000."""
    return kafka_policy(*rules, remotes=(1000,), l7_proto=l7_proto)


def req_log(topics=("EF", "GH"), cid=CID, key=PRODUCE, version=3):
    return KLog(REQUEST, cid, key, version, 0, list(topics))


def denied_log(topics=("EF", "GH"), cid=CID, key=PRODUCE, version=3, error=TOPIC_AUTHORIZATION_FAILED):
    return KLog(DENIED, cid, key, version, error, list(topics))


MINIMAL_POLICY = """
    endpoint_ips: "face::feed"
    endpoint_ips: "1.1.1.1"
    endpoint_id: 2000
    ingress_per_port_policies: < port: 80 >
"""
PORT_ONLY_POLICY = """
    endpoint_ips: "1.1.1.1"
    endpoint_id: 2000
    ingress_per_port_policies: < port: 80 >
"""
SIMPLE_POLICY = up_policy()
EF_ONLY = up_policy(kafka_rule(topic="EF"))
EF_AND_GH = up_policy(kafka_rule(topic="EF"), kafka_rule(topic="GH"))
EF_ABC_AND_GH = up_policy(kafka_rule(topic="EF", client_id="ABC"), kafka_rule(topic="GH"))
CLIENT_ABC = up_policy(kafka_rule(client_id="ABC"))
KEYS_0_ABC = up_policy(kafka_rule(api_keys=[0], client_id="ABC"))
KEYS_1_ABC = up_policy(kafka_rule(api_keys=[1], client_id="ABC"))
VERSION_3_ABC = up_policy(kafka_rule(api_version=3, client_id="ABC"))
VERSION_0_ABC = up_policy(kafka_rule(api_version=0, client_id="ABC"))
EF_ABCD_AND_GH = up_policy(kafka_rule(topic="EF", client_id="ABCD"), kafka_rule(topic="GH"))


def pass_vector(name, policy, logs=(req_log(),), data=PRODUCE_EF_GH, segments=(MSG1, MSG2, MSG3)):
    return Vector(name, policy, [request(list(segments), [passes(data)], logs=list(logs))])


def denial_vectors(name, policy):
    """Upstream's denial, twice: with upstream's request (acks = 0) and with acks = 1.

    With acks = 0 the client expects no answer: a broker never sends one, and an injected answer would be read by
    the client as the answer to its next request. Upstream injects one anyway; the parser contract says a denied
    acks=0 Produce is dropped with nothing injected, which is asserted here. With acks = 1 the injected bytes are
    upstream's exactly."""
    return [
        Vector(f"{name} (upstream's acks=0: nothing injected)", policy, [
            request([MSG1, MSG2, MSG3], [drops(PRODUCE_EF_GH)], b"", logs=[denied_log()])]),
        Vector(f"{name} (acks=1: upstream's answer)", policy, [
            request([MSG1, MSG2_ACKS1, MSG3], [drops(PRODUCE_EF_GH_ACKS1)], UP_DENIAL, logs=[denied_log()])]),
    ]


UPSTREAM_VECTORS = [
    # TestKafkaOnDataNoHeader, on an endpoint without policy: MORE until 8 bytes, then MORE until the frame.
    # (Split in two vectors: the datapath run re-offers unconsumed input, and upstream's 5th input does not extend
    # its 4th.)
    Vector("no header: fewer than 8 bytes", SIMPLE_POLICY, [
        request([b""], []),
        request([bytes.fromhex("00")], [("MORE", 7)]),
        request([bytes.fromhex("0000")], [("MORE", 6)]),
        request([bytes.fromhex("000001")], [("MORE", 5)]),
        request([bytes.fromhex("00000100")], [("MORE", 4)]),
    ], policy_name="no-policy"),
    Vector("no header: 7 bytes, then a 64 KiB frame begun", SIMPLE_POLICY, [
        request([bytes.fromhex("00010000010203")], [("MORE", 1)]),
        request([bytes.fromhex("000100000102030405060708")], [("MORE", 65536 - 8)]),
    ], policy_name="no-policy"),
    # TestKafkaOnDataSimpleHeaderMinimalPolicy: a port without rules allows.
    pass_vector("minimal policy", MINIMAL_POLICY),
    # TestKafkaOnDataInvalidMessage: 0x20000002 topics cannot fit in the frame → ERROR (invalid frame type), one
    # Denied entry. Upstream logs the api key/version bytes as the correlation id (parity.md); ours logs 65537.
    # error_code is upstream's ErrInvalidMessage (2).
    Vector("invalid message", PORT_ONLY_POLICY, [
        request([MSG1, MSG2, MSG3_FAIL], [("ERROR", INVALID_FRAME_TYPE)],
                logs=[KLog(DENIED, CID, error_code=INVALID_MESSAGE)]),
    ]),
    # TestKafkaOnDataSimpleHeaderSimplePolicy: a kafka rule without kafka_rules allows.
    pass_vector("simple policy", SIMPLE_POLICY),
    # TestKafkaOnDataSimpleHeaderWithPolicyAllow: EF and GH each allowed by a rule.
    pass_vector("policy allow", EF_AND_GH),
    # TestKafkaOnDataSimpleHeaderWithClientIDAllow.
    pass_vector("client id allow", EF_ABC_AND_GH),
    # TestKafkaOnDataSimpleHeaderWithClientID.
    pass_vector("client id", CLIENT_ABC),
    # TestKafkaOnDataSimpleHeaderWithApiKeys.
    pass_vector("api keys", KEYS_0_ABC),
    # TestKafkaOnDataSimpleHeaderWithApiVersion.
    pass_vector("api version", VERSION_3_ABC),
    # TestKafkaOnDataResponse: a reply passes whole and is logged as a Response with its correlation id (policy
    # name "" as upstream; no request outstanding, so api key and version are not compared).
    Vector("response", SIMPLE_POLICY, [
        reply(UP_RESPONSE_SEGMENTS, [passes(UP_DENIAL)], logs=[KLog(RESPONSE, CID)]),
    ], policy_name=""),
]
# TestKafkaOnDataSimpleHeaderWithPolicyDrop: only EF allowed; upstream adds 2 bytes of a next frame (MORE 6).
UPSTREAM_VECTORS += [
    Vector("policy drop (upstream's acks=0: nothing injected)", EF_ONLY, [
        request([MSG1, MSG2, MSG3, bytes.fromhex("0000")], [drops(PRODUCE_EF_GH), ("MORE", 6)], b"",
                logs=[denied_log()])]),
    Vector("policy drop (acks=1: upstream's answer)", EF_ONLY, [
        request([MSG1, MSG2_ACKS1, MSG3, bytes.fromhex("0000")], [drops(PRODUCE_EF_GH_ACKS1), ("MORE", 6)],
                UP_DENIAL, logs=[denied_log()])]),
]
UPSTREAM_VECTORS += denial_vectors("api keys mismatch", KEYS_1_ABC)       # TestKafkaOnDataSimpleHeaderWithApiKeysMismatch
UPSTREAM_VECTORS += denial_vectors("api version mismatch", VERSION_0_ABC)  # ...WithApiVersionMismatch
UPSTREAM_VECTORS += denial_vectors("client id deny", EF_ABCD_AND_GH)      # ...WithClientIDDeny


@pytest.mark.parametrize("vector", UPSTREAM_VECTORS, ids=[v.name for v in UPSTREAM_VECTORS])
def test_upstream_vector(library, npds, collector, logged_module, next_id, vector):
    # The datapath run of the response vector would need a request outstanding to be meaningful; it is OnData only
    # there as upstream's test.
    run_kafka_vector(library, npds, collector, logged_module, next_id, vector,
                     datapath=vector.name != "response")


# ---- libcilium's TestUnsupportedL7Drops: kafka_rules without l7_proto ---------------------------------------------

KAFKA_RULES_NO_L7_PROTO = P.port_policy("", 'kafka_rules: < kafka_rules: < api_version: -1 topic: "Topic" > >',
                                        remotes=(1, 3, 4))


def test_kafka_rules_without_l7_proto_are_enforced(library, npds, collector, logged_module, next_id):
    """Upstream: the port's rules select no parser (the oneof's Go type name matches none), so everything is
    dropped (its test checks that a headerparser connection's 4 lines are dropped; test_policy_scenarios covers
    that). Ours (parity.md) reads them as Kafka rules: a Kafka request naming Topic passes, another is denied."""
    npds.install("1", KAFKA_RULES_NO_L7_PROTO)
    conn = kafka_connect(library, logged_module, next_id(), src_id=1, dst_id=2)
    try:
        ok = produce_v3(7, "c", ["Topic"])
        assert conn.client_sends(ok) == ("OK", ok, b"")
        bad = produce_v3(8, "c", ["Other"])
        assert conn.client_sends(bad) == ("OK", b"", b"")  # answer 7 is still due: the denial waits for it
        res, to_client = conn.server_sends(response_v0(7, bytes(4) + bytes(4)))
        assert res == "OK" and to_client == response_v0(7, bytes(8)) + produce_v3_denial(8, ["Other"])
    finally:
        conn.close()
    entries = collector.wait_for_count(3)
    check_kafka_entries(entries, [req_log(["Topic"], 7), denied_log(["Other"], 8), KLog(RESPONSE, 7, PRODUCE, 3)],
                        src_id=1, dst_id=2)


# ---- policy semantics -------------------------------------------------------------------------------------------------

def decide(library, npds, instance, next_id, policy, frames, src_id=1000, installed=False):
    """Installs `policy`, sends each frame on a fresh connection; returns [True if passed]."""
    if not installed:
        npds.install(f"p{next_id()}", policy)
    out = []
    for frame in frames:
        conn = kafka_connect(library, instance, next_id(), src_id=src_id)
        try:
            res, forwarded, injected = conn.client_sends(frame)
            assert res == "OK"
            assert forwarded in (frame, b""), forwarded.hex()
            out.append(forwarded == frame)
            if forwarded == b"":
                assert injected, f"denied without an answer: {frame.hex()}"
        finally:
            conn.close()
    return out


def pv3(topics, client="ABC", cid=9):
    return produce_v3(cid, client, topics, acks=1)


SEMANTICS = [
    # (name, rules, frames, expected decisions)
    ("several rules cover the topics together",
     [kafka_rule(topic="EF"), kafka_rule(topic="GH"), kafka_rule(topic="IJ")],
     [pv3(["EF", "GH"]), pv3(["GH", "IJ", "EF"]), pv3(["EF", "XY"]), pv3(["XY"])], [True, True, False, False]),
    ("one topic rule, one topic", [kafka_rule(topic="EF")],
     [pv3(["EF"]), pv3(["EF", "EF"]), pv3(["EF", "GH"])], [True, True, False]),
    ("rule without topic allows any topics", [kafka_rule(api_keys=[0])],
     [pv3(["EF", "GH"]), pv3(["anything"])], [True, True]),
    # A null list asks about every topic: a topic rule does not allow it. An empty list (v1+) asks for the
    # brokers only — how clients bootstrap — and names no topic: matched like a request without topics.
    ("topic rule vs metadata for all topics or for none", [kafka_rule(topic="EF")],
     [metadata_v1(3, "ABC", ["EF"]), metadata_v1(3, "ABC", None), metadata_v1(3, "ABC", []),
      metadata_v1(3, "ABC", ["EF", "GH"])], [True, False, True, True]),  # EF+GH: forwarded, GH masked in the answer
    ("rule without topic allows metadata for all topics", [kafka_rule(api_keys=[3])],
     [metadata_v1(3, "ABC", None), metadata_v1(3, "ABC", []), pv3(["EF"])], [True, True, False]),
    ("request without topics is matched on key, version, client only", [kafka_rule(topic="EF")],
     [api_versions_v0(4, "ABC")], [True]),
    ("request without topics, api key not listed", [kafka_rule(topic="EF", api_keys=[0, 3])],
     [api_versions_v0(4, "ABC"), pv3(["EF"])], [False, True]),
    ("client id", [kafka_rule(client_id="ABC")],
     [pv3(["EF"], "ABC"), pv3(["EF"], "ABCD"), pv3(["EF"], "AB"), pv3(["EF"], None), pv3(["EF"], "")],
     [True, False, False, False, False]),
    ("client id and topic in one rule", [kafka_rule(client_id="ABC", topic="EF")],
     [pv3(["EF"], "ABC"), pv3(["EF"], "XYZ"), pv3(["GH"], "ABC")], [True, False, False]),
    ("api keys list", [kafka_rule(api_keys=[1, 3, 0])],
     [pv3(["EF"]), metadata_v1(3, "c", ["EF"]), api_versions_v0(4, "c")], [True, True, False]),
    ("api version", [kafka_rule(api_version=1)],
     [metadata_v1(3, "c", ["EF"]), pv3(["EF"])], [True, False]),
    ("api version 0 (proto default) means version 0 only", [kafka_rule(api_version=0)],
     [api_versions_v0(4, "c"), metadata_v1(3, "c", ["EF"])], [True, False]),
    ("api version any", [kafka_rule(api_version=-1)],
     [api_versions_v0(4, "c"), metadata_v1(3, "c", ["EF"]), pv3(["EF"])], [True, True, True]),
    ("topic of 255 characters", [kafka_rule(topic="t" * 255)],
     [pv3(["t" * 255]), pv3(["t" * 254])], [True, False]),
]


@pytest.mark.parametrize("name,rules,frames,expected", SEMANTICS, ids=[s[0] for s in SEMANTICS])
def test_rule_semantics(library, npds, module, next_id, name, rules, frames, expected):
    assert decide(library, npds, module, next_id, up_policy(*rules), frames) == expected


def test_rule_semantics_without_l7_proto(library, npds, module, next_id):
    """The same rules without l7_proto decide the same (parity.md: upstream drops everything there)."""
    for name, rules, frames, expected in SEMANTICS:
        policy = up_policy(*rules, l7_proto="")
        assert decide(library, npds, module, next_id, policy, frames) == expected, name


def test_remote_selection_and_deny(library, npds, module, next_id):
    policy = up_policy(kafka_rule(topic="EF"))
    policy = policy.replace("remote_policies: 1000", "remote_policies: 1000 remote_policies: 1001")
    from kafka_support import _append_rules
    policy = _append_rules(policy, "rules: < remote_policies: 1001 deny: true >\n"
                                   "rules: < remote_policies: 1002 l7_proto: \"kafka\" > ")
    npds.install("deny", policy)
    frame = pv3(["EF"])
    assert decide(library, npds, module, next_id, None, [frame], src_id=1000, installed=True) == [True]
    # deny wins over the kafka rule that would allow it
    assert decide(library, npds, module, next_id, None, [frame], src_id=1001, installed=True) == [False]
    # a remote with a rule without kafka rules: anything
    assert decide(library, npds, module, next_id, None, [pv3(["XY"])], src_id=1002, installed=True) == [True]
    # a remote no rule names
    assert decide(library, npds, module, next_id, None, [frame], src_id=1003, installed=True) == [False]


def test_denial_answer_for_other_remote(library, npds, module, next_id):
    """A denial by remote (no rule for it) still answers with the request's correlation id and topics."""
    npds.install("r", up_policy(kafka_rule(topic="EF")))
    conn = kafka_connect(library, module, next_id(), src_id=4242)
    try:
        assert conn.client_sends(pv3(["EF"], cid=31)) == ("OK", b"", produce_v3_denial(31, ["EF"]))
    finally:
        conn.close()


def test_live_policy_update_changes_decisions(library, npds, collector, logged_module, next_id):
    """One open connection: the decision follows the policy in force when each request arrives."""
    npds.install("1", up_policy(kafka_rule(topic="EF")))
    conn = kafka_connect(library, logged_module, next_id())
    try:
        a = pv3(["EF"], cid=1)
        assert conn.client_sends(a) == ("OK", a, b"")
        assert conn.server_sends(response_v0(1, bytes(8))) == ("OK", response_v0(1, bytes(8)))
        npds.install("2", up_policy(kafka_rule(topic="GH")))
        assert conn.client_sends(pv3(["EF"], cid=2)) == ("OK", b"", produce_v3_denial(2, ["EF"]))
        g = pv3(["GH"], cid=3)
        assert conn.client_sends(g) == ("OK", g, b"")
        assert conn.server_sends(response_v0(3, bytes(8))) == ("OK", response_v0(3, bytes(8)))
        npds.install("3", up_policy(kafka_rule(topic="GH"), kafka_rule(topic="EF")))
        e = pv3(["EF", "GH"], cid=4)
        assert conn.client_sends(e) == ("OK", e, b"")
    finally:
        conn.close()
    entries = collector.wait_for_count(6)
    check_kafka_entries(entries[:6], [
        req_log(["EF"], 1), KLog(RESPONSE, 1, PRODUCE, 3), denied_log(["EF"], 2), req_log(["GH"], 3),
        KLog(RESPONSE, 3, PRODUCE, 3), req_log(["EF", "GH"], 4)])


def test_no_policy_for_endpoint_denies(library, npds, module, next_id):
    npds.install("1", up_policy(kafka_rule(topic="EF")))
    conn = kafka_connect(library, module, next_id(), policy_name="9.9.9.9")
    try:
        assert conn.client_sends(pv3(["EF"], cid=5)) == ("OK", b"", produce_v3_denial(5, ["EF"]))
    finally:
        conn.close()


# ---- NACKs --------------------------------------------------------------------------------------------------------

MIXED_ON_ONE_PORT = """
    endpoint_ips: "1.1.1.1"
    endpoint_id: 2000
    ingress_per_port_policies: <
      port: 80
      rules: < remote_policies: 1000 l7_proto: "kafka" kafka_rules: < kafka_rules: < api_version: -1 topic: "EF" > > >
      rules: < remote_policies: 1001 l7_proto: "r2d2" l7_rules: < l7_allow_rules: < rule: < key: "cmd" value: "READ" > > > >
    >
"""
MIXED_WITHOUT_L7_PROTO = MIXED_ON_ONE_PORT.replace('l7_proto: "kafka" ', "")

NACKED = [
    ("kafka rules and r2d2 rules on one port", MIXED_ON_ONE_PORT),
    ("kafka rules without l7_proto and r2d2 rules on one port", MIXED_WITHOUT_L7_PROTO),
    ("client id with a space", up_policy(kafka_rule(client_id="A B"))),
    ("client id with a slash", up_policy(kafka_rule(client_id="a/b"))),
    ("client id with non-ASCII", up_policy(kafka_rule(client_id="caf\\303\\251"))),
    ("topic with a space", up_policy(kafka_rule(topic="E F"))),
    ("topic with a colon", up_policy(kafka_rule(topic="a:b"))),
    ("topic of 256 characters", up_policy(kafka_rule(topic="t" * 256))),
    ("invalid topic without l7_proto", up_policy(kafka_rule(topic="E*F"), l7_proto="")),
]


@pytest.mark.parametrize("name,policy", NACKED, ids=[n[0] for n in NACKED])
def test_invalid_kafka_policy_is_nacked(library, npds, module, next_id, name, policy):
    # A good policy first: it must stay in force.
    npds.install("good", up_policy(kafka_rule(topic="EF")))
    nack = npds.wait_for_nack(npds.push("bad", [policy]))
    assert nack.version == "good" and nack.error
    assert decide(library, npds, module, next_id, None, [pv3(["EF"]), pv3(["GH"])], installed=True) == [True, False]


ACCEPTED = [
    ("topic charset", up_policy(kafka_rule(topic="a-Z_0.9"))),
    ("client id charset", up_policy(kafka_rule(client_id="my-client_1.0"))),
    ("topic of 255 characters", up_policy(kafka_rule(topic="t" * 255))),
    ("several api keys and a version", up_policy(kafka_rule(api_keys=[0, 1, 3, 18], api_version=7))),
]


@pytest.mark.parametrize("name,policy", ACCEPTED, ids=[a[0] for a in ACCEPTED])
def test_valid_kafka_policy_is_acked(npds, module, name, policy):
    npds.install("ok", policy)


# ---- access log ----------------------------------------------------------------------------------------------------

def test_access_log_entries(library, npds, collector, logged_module, next_id):
    """Request (topics unique, in request order), Denied (29), Response (the request's key and version), and the
    request's own correlation id in each (upstream logs api key/version bytes for requests: parity.md)."""
    npds.install("1", up_policy(kafka_rule(topic="GH"), kafka_rule(topic="EF")))
    conn = kafka_connect(library, logged_module, next_id())
    try:
        a = produce_v3(0x01020304, "ABC", ["GH", "EF", "GH"], acks=1)
        assert conn.client_sends(a) == ("OK", a, b"")
        m = metadata_v1(0x7fffffff, "ABC", ["XY", "ZZ"])
        assert conn.client_sends(m) == ("OK", b"", b"")  # waits for a's answer
        answer = response_v0(0x01020304, bytes(8))
        res, to_client = conn.server_sends(answer)
        assert res == "OK" and to_client.startswith(answer)
        # the denial, decoded by kafka-python: Metadata v1, both topics TOPIC_AUTHORIZATION_FAILED
        cid, _, body = decode_response(METADATA, 1, to_client[len(answer):])
        assert cid == 0x7fffffff
        assert [(t.name, t.error_code) for t in body.topics] == [("XY", 29), ("ZZ", 29)]
    finally:
        conn.close()
    entries = collector.wait_for_count(3)
    check_kafka_entries(entries, [
        KLog(REQUEST, 0x01020304, PRODUCE, 3, 0, ["GH", "EF"]),
        KLog(DENIED, 0x7fffffff, METADATA, 1, TOPIC_AUTHORIZATION_FAILED, ["XY", "ZZ"]),
        KLog(RESPONSE, 0x01020304, PRODUCE, 3),
    ])
