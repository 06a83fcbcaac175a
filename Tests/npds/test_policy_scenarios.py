"""Upstream's policy tests (libcilium/proxylib_test.go, r2d2/r2d2parser_test.go) through the C ABI, with every
policy delivered by a real NPDS server (grpcio) and acknowledged by the library before traffic flows."""
import pytest

import policies as P

LINES = [b"Beginning----\n", b"foo\n", b"----End\n", b"\n"]



def header_ops(passes):
    return [("PASS" if p else "DROP", len(line)) for line, p in zip(LINES, passes)]


def header_injected(passes):
    return b"".join(b"Line dropped: " + line for line, p in zip(LINES, passes) if not p)


HEADER_SCENARIOS = [
    # (name, policy, connection kwargs, per-line verdicts)
    ("SimplePolicy", P.SIMPLE_HEADER_POLICY, {}, [True, False, True, False]),
    ("SimplePolicy, remote not listed", P.SIMPLE_HEADER_POLICY, {"src_id": 7}, [False] * 4),
    ("AllowAllPolicy", P.ALLOW_ALL_HEADER_POLICY, {}, [True] * 4),
    ("DenyAllPolicy", P.DENY_ALL_HEADER_POLICY, {}, [False] * 4),
    ("DenyPolicy on another remote", P.DENY_OTHER_REMOTE_HEADER_POLICY, {}, [True] * 4),
    ("AllowEmptyPolicy", P.ALLOW_EMPTY_HEADER_POLICY, {}, [True] * 4),
    ("AllowEmptyPolicy, other policy name", P.ALLOW_EMPTY_HEADER_POLICY, {"policy_name": "2.2.2.2"}, [False] * 4),
    ("AllowAllPolicyL3Egress", P.EGRESS_HEADER_POLICY, {"ingress": False, "src_id": 42}, [True] * 4),
    ("UnsupportedL7Drops (kafka rules)", P.KAFKA_RULES_ON_HEADER_PORT, {}, [False] * 4),
    ("UnsupportedL7DropsGeneric", P.UNKNOWN_L7_PARSER, {}, [False] * 4),
    ("EnvoyL7DropsGeneric", P.ENVOY_L7, {}, [False] * 4),
    ("TwoRulesOnSamePortFirstNoL7Generic, remote 11", P.TWO_RULES_FIRST_NO_L7, {"src_id": 11}, [True] * 4),
    ("TwoRulesOnSamePortFirstNoL7Generic, remote 1", P.TWO_RULES_FIRST_NO_L7, {}, [True, False, True, False]),
]


@pytest.mark.parametrize("name,policy,conn_args,passes", HEADER_SCENARIOS, ids=[s[0] for s in HEADER_SCENARIOS])
def test_headerparser_policies(library, npds, module, next_id, name, policy, conn_args, passes):
    npds.install("1", policy)
    result, conn = library.connect(module, "test.headerparser", next_id(), **conn_args)
    assert result == "OK"
    try:
        # Exact ops, as upstream's CheckOnData.
        res, ops, injected = conn.on_data_raw([b"".join(LINES)])
        assert res == "OK"
        assert ops == header_ops(passes)
        assert injected == header_injected(passes)
    finally:
        conn.close()
    # And through the datapath: what the server and the client receive.
    result, conn = library.connect(module, "test.headerparser", next_id(), **conn_args)
    try:
        res, to_server, to_client = conn.client_sends(b"".join(LINES))
        assert res == "OK"
        assert to_server == b"".join(line for line, p in zip(LINES, passes) if p)
        assert to_client == header_injected(passes)
    finally:
        conn.close()


def test_mismatching_l7_types_are_nacked(npds, module):
    nonce = npds.push("1", [P.MISMATCHING_L7])
    nack = npds.wait_for_nack(nonce)
    assert "mismatching L7 types" in nack.error
    assert nack.version == ""


R2D2_SCENARIOS = [
    ("BasicPass", P.R2D2_ALLOW_ALL, [b"READ sssss\r\nWRITE sssss\r\nHALT\r\nRESET\r\n"],
     [("PASS", 12), ("PASS", 13), ("PASS", 6), ("PASS", 7), ("MORE", 1)], b""),
    ("MultipleReq", P.R2D2_ALLOW_ALL, [b"RE", b"SET\r\n"], [("PASS", 7), ("MORE", 1)], b""),
    ("AllowDenyCmd", P.R2D2_READ_ONLY, [b"READ xssss\r\nWRITE xssss\r\n"],
     [("PASS", 12), ("DROP", 13), ("MORE", 1)], b"ERROR\r\n"),
    ("AllowDenyRegex", P.R2D2_FILE_REGEX, [b"READ ssss\r\nWRITE yyyyy\r\n"],
     [("PASS", 11), ("DROP", 13), ("MORE", 1)], b"ERROR\r\n"),
    ("Incomplete, no policy", None, [b"READ xssss"], [("MORE", 1)], b""),
]


@pytest.mark.parametrize("name,policy,segments,ops,injected", R2D2_SCENARIOS, ids=[s[0] for s in R2D2_SCENARIOS])
def test_r2d2_policies(library, npds, module, next_id, name, policy, segments, ops, injected):
    if policy:
        npds.install("1", policy)
    result, conn = library.connect(module, "r2d2", next_id())
    assert result == "OK"
    try:
        assert conn.on_data_raw(segments, ops_cap=1 + 2 * len(ops)) == ("OK", ops, injected)
    finally:
        conn.close()
