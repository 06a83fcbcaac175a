"""Access logging through the C ABI: entries decoded by Google's protobuf from a real SOCK_SEQPACKET
collector, upstream's pass/drop expectations, bounded entries, and collector faults that must never stall
the datapath."""
import os
import time

import pytest

import access_log_collector
import accesslog_pb2
import policies as P
from test_policy_scenarios import HEADER_SCENARIOS, LINES

READ = b"READ /public/a\r\n"



def fields(entry):
    return dict(entry.generic_l7.fields)


def test_r2d2_denied_entry_has_every_field(library, npds, collector, logged_module, next_id):
    npds.install("1", P.R2D2_PUBLIC_READS)
    result, conn = library.connect(logged_module, "r2d2", next_id(), ingress=True, src_id=11, dst_id=22,
                                   src_addr="10.0.0.1:41000", dst_addr="10.0.0.2:80", policy_name="1.1.1.1")
    assert result == "OK"
    before = time.time_ns()
    try:
        assert conn.client_sends(b"READ /private/key\r\n") == ("OK", b"", b"ERROR\r\n")
        assert conn.client_sends(b"READ /public/index\r\n") == ("OK", b"READ /public/index\r\n", b"")
    finally:
        conn.close()
    denied, allowed = collector.wait_for_count(2)
    assert denied.entry_type == accesslog_pb2.Denied
    assert allowed.entry_type == accesslog_pb2.Request
    assert denied.WhichOneof("l7") == "generic_l7"
    assert denied.generic_l7.proto == "r2d2"
    assert fields(denied) == {"cmd": "READ", "file": "/private/key"}
    assert fields(allowed) == {"cmd": "READ", "file": "/public/index"}
    assert denied.policy_name == "1.1.1.1"
    assert denied.source_security_id == 11 and denied.destination_security_id == 22
    assert denied.source_address == "10.0.0.1:41000" and denied.destination_address == "10.0.0.2:80"
    assert denied.is_ingress is True
    assert before - 5 * 10**9 <= denied.timestamp <= time.time_ns() + 5 * 10**9


@pytest.mark.parametrize("name,policy,conn_args,passes", HEADER_SCENARIOS, ids=[s[0] for s in HEADER_SCENARIOS])
def test_upstream_pass_and_drop_counts(library, npds, collector, logged_module, next_id, name, policy, conn_args,
                                       passes):
    npds.install("1", policy)
    result, conn = library.connect(logged_module, "test.headerparser", next_id(), **conn_args)
    assert result == "OK"
    try:
        conn.client_sends(b"".join(LINES))
    finally:
        conn.close()
    entries = collector.wait_for_count(len(passes))
    assert collector.settle() == entries, "no more entries than lines"
    assert collector.counts() == (sum(passes), len(passes) - sum(passes))
    for entry, passed in zip(entries, passes):
        assert entry.generic_l7.proto == "test.headerparser"
        assert fields(entry) == {"status": "PASS" if passed else "DROP"}


def test_no_policy_drops_are_logged(library, collector, socket_dir, next_id):
    # Upstream TestOnDataNoPolicy: no policy source at all, two dropped lines, two Denied entries.
    instance = library.open_module({"access-log-path": collector.path})
    try:
        result, conn = library.connect(instance, "test.headerparser", next_id())
        assert result == "OK"
        res, ops, injected = conn.on_data_raw([b"No policy\n", b"Dropped\nfoo"])
        assert (res, ops) == ("OK", [("DROP", 10), ("DROP", 8), ("MORE", 1)])
        conn.close()
        assert [e.entry_type for e in collector.wait_for_count(2)] == [accesslog_pb2.Denied] * 2
    finally:
        library.close_module(instance)


def test_parser_failure_logs_a_panic_entry(library, collector, next_id):
    # An INSERT line longer than the inject buffer: the lineparser claims more injected bytes than it could
    # inject, a contract violation: PARSER_ERROR and a Denied "Panic" entry, as upstream's recover() path.
    instance = library.open_module({"access-log-path": collector.path})
    try:
        result, conn = library.connect(instance, "test.lineparser", next_id())
        line = b"INSERT " + b"x" * 2000 + b"\n"
        res, ops, _ = conn.on_data_raw([line])
        assert res == "PARSER_ERROR"
        conn.close()
        (entry,) = collector.wait_for_count(1)
        assert entry.entry_type == accesslog_pb2.Denied
        assert entry.generic_l7.proto == "test.lineparser"
        assert fields(entry)["status"].startswith("Panic: ")
    finally:
        library.close_module(instance)


def test_oversized_field_is_truncated_and_still_decodes(library, npds, collector, logged_module, next_id):
    npds.install("1", P.R2D2_ALLOW_ALL)
    result, conn = library.connect(logged_module, "r2d2", next_id())
    name = "/" + "n" * 100_000
    try:
        res, to_server, _ = conn.client_sends(b"READ " + name.encode() + b"\r\n")
        assert res == "OK" and len(to_server) == 100_008
    finally:
        conn.close()
    (entry,) = collector.wait_for_count(1)
    assert len(collector.packets[0]) <= 4096
    logged = fields(entry)["file"]
    assert logged.startswith("/nnnn") and len(logged) < 4096
    assert "truncated" in logged


def _send_until_logged(library, instance, collector, next_id, count, timeout=15.0):
    """Sends one r2d2 request per connection until `count` entries have arrived (the client redials lazily)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result, conn = library.connect(instance, "r2d2", next_id())
        conn.client_sends(READ)
        conn.close()
        if len(collector.entries) >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"only {len(collector.entries)} entries arrived")


def test_collector_absent_at_open_then_started(library, socket_dir, next_id):
    path = os.path.join(socket_dir, "late-log.sock")
    instance = library.open_module({"access-log-path": path})
    assert instance != 0
    try:
        result, conn = library.connect(instance, "r2d2", next_id())
        assert conn.client_sends(READ) == ("OK", b"", b"ERROR\r\n"), "logging trouble never blocks traffic"
        conn.close()
        collector = access_log_collector.Collector(path).start()
        try:
            _send_until_logged(library, instance, collector, next_id, 1)
        finally:
            collector.stop()
    finally:
        library.close_module(instance)


def test_collector_killed_and_restarted(library, collector, next_id):
    instance = library.open_module({"access-log-path": collector.path})
    try:
        _send_until_logged(library, instance, collector, next_id, 1)
        collector.stop()
        for _ in range(20):  # entries while the collector is gone: dropped or queued, never blocking
            result, conn = library.connect(instance, "r2d2", next_id())
            assert conn.client_sends(READ)[0] == "OK"
            conn.close()
        restarted = access_log_collector.Collector(collector.path).start()
        try:
            _send_until_logged(library, instance, restarted, next_id, 1)
        finally:
            restarted.stop()
    finally:
        library.close_module(instance)


def test_stuck_collector_never_stalls_the_datapath(library, collector, next_id):
    instance = library.open_module({"access-log-path": collector.path})
    try:
        _send_until_logged(library, instance, collector, next_id, 1)
        collector.pause_reading()
        result, conn = library.connect(instance, "r2d2", next_id())
        slowest = 0.0
        for _ in range(20_000):
            started = time.monotonic()
            res, ops, injected = conn.on_data_raw([READ])
            slowest = max(slowest, time.monotonic() - started)
            assert res == "OK" and ops[0] == ("DROP", len(READ))
        conn.close()
        # A sanity bound, not a benchmark: a blocked send would take seconds.
        assert slowest < 0.5, f"an OnData call took {slowest:.3f} s with a stuck collector"
        collector.resume_reading()
        _send_until_logged(library, instance, collector, next_id, len(collector.entries) + 1)
    finally:
        library.close_module(instance)
