"""The policy plane under stress and failure: a server that is not there yet, one that dies and comes back,
rejected updates (NACK with the reason, the previous policy still enforced), our extensions (end_port ranges,
L7 deny rules), IPv6 endpoints, and many threads checking policy while updates land."""
import os
import threading
import time

import npds_server
import policies as P

READ = b"READ /public/a\r\n"
WRITE = b"WRITE /public/a\r\n"



def verdict(library, instance, conn_id, request=READ, **kwargs):
    """'PASS' or 'DROP' for one r2d2 request on a fresh connection."""
    result, conn = library.connect(instance, "r2d2", conn_id, **kwargs)
    assert result == "OK"
    try:
        res, ops, injected = conn.on_data_raw([request])
        assert res == "OK" and ops[-1] == ("MORE", 1)
        assert injected == (b"ERROR\r\n" if ops[0][0] == "DROP" else b"")
        return ops[0][0]
    finally:
        conn.close()


def test_server_absent_at_open_then_started(library, socket_dir, next_id):
    path = os.path.join(socket_dir, "late.sock")
    started = time.monotonic()
    instance = library.open_module({"xds-path": path})
    assert instance != 0
    assert time.monotonic() - started < 2.0, "OpenModule waits only for the first attempt"
    try:
        assert verdict(library, instance, next_id()) == "DROP", "no policy yet: deny"
        server = npds_server.NPDSServer(path).start()
        try:
            server.push("1", [P.R2D2_ALLOW_ALL])
            server.wait_for_ack("1", timeout=15)
            assert verdict(library, instance, next_id()) == "PASS"
        finally:
            server.stop()
    finally:
        library.close_module(instance)


def test_server_killed_and_restarted_mid_connection(library, npds, module, next_id):
    npds.install("1", P.R2D2_READ_ONLY)
    result, conn = library.connect(module, "r2d2", next_id())
    assert result == "OK"
    try:
        assert conn.client_sends(READ) == ("OK", READ, b"")
        npds.stop()
        # The agent is gone; the last policy stays in force on the open connection.
        assert conn.client_sends(READ) == ("OK", READ, b"")
        assert conn.client_sends(WRITE) == ("OK", b"", b"ERROR\r\n")
        restarted = npds_server.NPDSServer(npds.path).start()
        try:
            restarted.push("2", [P.R2D2_READ_ONLY])
            ack = restarted.wait_for_ack("2", timeout=15)
            assert ack.node_id.startswith("host~127.0.0.2~libcilium-")
            assert conn.client_sends(READ) == ("OK", READ, b"")
            restarted.install("3", P.R2D2_ALLOW_ALL)
            assert conn.client_sends(WRITE) == ("OK", WRITE, b"")
        finally:
            restarted.stop()
    finally:
        conn.close()


INVALID_UPDATES = [
    ("bad regex", [P.port_policy("r2d2", P.l7_rules({"file": "(a"}))], {}, "regular expression"),
    ("backreference", [P.port_policy("r2d2", P.l7_rules({"file": "(a)\\\\1"}))], {}, "regular expression"),
    ("unknown rule key", [P.port_policy("r2d2", P.l7_rules({"colour": "blue"}))], {}, "unsupported key"),
    ("invalid r2d2 cmd", [P.port_policy("r2d2", P.l7_rules({"cmd": "JUMP"}))], {}, "invalid cmd"),
    ("mixed L7 types", [P.MISMATCHING_L7], {}, "mismatching L7"),
    ("response type_url", [P.R2D2_ALLOW_ALL], {"type_url": "type.googleapis.com/cilium.Other"}, "type"),
    ("resource type_url", [P.R2D2_ALLOW_ALL], {"resource_type_url": "type.googleapis.com/cilium.Other"}, "type"),
    ("no endpoint IPs", ['endpoint_id: 9 ingress_per_port_policies: < port: 80 >'], {}, "endpoint_ips"),
    ("port out of range", [P.port_policy("r2d2", port=70000)], {}, "port"),
    ("undecodable resource", [], {"raw_resources": [b"\xff\xff\xff\xff"]}, ""),
]


def test_invalid_updates_are_nacked_and_the_old_policy_stays(library, npds, module, next_id):
    npds.install("1", P.R2D2_READ_ONLY)
    for name, texts, options, reason in INVALID_UPDATES:
        nonce = npds.push(f"bad-{name}", texts, **options)
        nack = npds.wait_for_nack(nonce)
        assert nack.version == "1", name
        assert reason.lower() in nack.error.lower(), f"{name}: {nack.error}"
        assert verdict(library, module, next_id(), READ) == "PASS", name
        assert verdict(library, module, next_id(), WRITE) == "DROP", name
    # Garbage that is not a DiscoveryResponse at all.
    before = len(npds.requests)
    npds.push_raw(b"\xff\x00garbage")
    npds.wait_for(lambda r: r.error is not None and npds.requests.index(r) >= before, what="NACK of garbage")
    assert verdict(library, module, next_id(), READ) == "PASS"
    # A good update is still accepted afterwards.
    npds.install("2", P.R2D2_ALLOW_ALL)
    assert verdict(library, module, next_id(), WRITE) == "PASS"


def test_end_port_range(library, npds, module, next_id):
    npds.install("1", P.port_policy("r2d2", port=1000, extra="end_port: 2000"))
    for port, expected in [(999, "DROP"), (1000, "PASS"), (1500, "PASS"), (2000, "PASS"), (2001, "DROP")]:
        assert verdict(library, module, next_id(), dst_addr=f"10.0.0.2:{port}") == expected, port


def test_l7_deny_rules(library, npds, module, next_id):
    npds.install("1", P.port_policy("r2d2", P.l7_rules({}, deny=[{"cmd": "WRITE"}])))
    assert verdict(library, module, next_id(), READ) == "PASS"
    assert verdict(library, module, next_id(), WRITE) == "DROP"


def test_ipv4_and_ipv6_endpoints(library, npds, module, next_id):
    policy = P.R2D2_ALLOW_ALL.replace('endpoint_ips: "1.1.1.1"', 'endpoint_ips: "10.1.1.1" endpoint_ips: "f00d::1"')
    npds.install("1", policy)
    assert verdict(library, module, next_id(), policy_name="10.1.1.1") == "PASS"
    assert verdict(library, module, next_id(), policy_name="f00d::1", src_addr="[f00d::2]:4567",
                   dst_addr="[f00d::1]:80") == "PASS"
    assert verdict(library, module, next_id(), policy_name="1.1.1.1") == "DROP"


def test_eight_threads_check_policy_while_updates_land(library, npds, module, next_id):
    npds.install("0", P.R2D2_READ_ONLY)
    stop = threading.Event()
    failures = []
    seen = {"PASS": 0, "DROP": 0}
    lock = threading.Lock()

    def worker(conn_id):
        result, conn = library.connect(module, "r2d2", conn_id)
        if result != "OK":
            failures.append(result)
            return
        try:
            while not stop.is_set():
                res, ops, injected = conn.on_data_raw([READ])
                ok = res == "OK" and len(ops) == 2 and ops[0][1] == len(READ) and ops[1] == ("MORE", 1)
                ok = ok and injected == (b"ERROR\r\n" if ops[0][0] == "DROP" else b"")
                if not ok:
                    failures.append((res, ops, injected))
                    return
                with lock:
                    seen[ops[0][0]] += 1
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, args=(next_id(),)) for _ in range(8)]
    for t in threads:
        t.start()
    for version in range(1, 60):
        npds.push(str(version), [P.R2D2_READ_ONLY if version % 2 else P.port_policy("r2d2", P.l7_rules({"cmd": "HALT"}))])
        time.sleep(0.005)
    npds.wait_for_ack("59", timeout=15)
    stop.set()
    for t in threads:
        t.join()
    assert not failures
    assert seen["PASS"] > 0 and seen["DROP"] > 0, seen


def test_node_id_and_close_module_ends_the_stream(library, npds, next_id):
    instance = library.open_module({"xds-path": npds.path, "node-id": "host~10.9.8.7~proxy-test~localdomain"})
    assert instance != 0
    first = npds.wait_for(lambda r: r.nonce == "", what="initial request")
    assert first.node_id == "host~10.9.8.7~proxy-test~localdomain"
    assert first.version == "" and first.resource_names == []
    assert first.type_url == "type.googleapis.com/cilium.NetworkPolicy"
    npds.install("1", P.R2D2_ALLOW_ALL)
    library.close_module(instance)
    deadline = time.monotonic() + 5
    while npds.open_streams() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert npds.open_streams() == 0, "CloseModule closes the NPDS stream"
