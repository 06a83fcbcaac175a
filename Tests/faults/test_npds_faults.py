"""The NPDS server failing in every way we could script, under background traffic on 4 worker threads:
killed and restarted, answering garbage, a truncated gRPC message, a 100 MB message, stalling mid-message or
before the HTTP/2 handshake. Every test asserts that no worker call blocks (WORKER_CALL_BOUND), that the
library fails closed (nothing allowed before a valid policy; the last valid policy kept while the server is bad),
and that it recovers once a good server is back on the socket."""
import os
import threading
import time

import pytest

from conftest import (SMOKE, WORKER_CALL_BOUND, close_module, in_force, open_module, open_with_policy,
                      wait_in_force)

# The bad peers: what each one does to the library's stream.
BAD_PEERS = ["garbage", "silent", "truncate", "stall", "big", "raw"]


def rss_kib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def start_bad(peers, mode, path):
    """A peer on `path` that never delivers a valid policy; returns it once the library has met it."""
    if mode in ("big", "raw"):
        peer = peers("npds", path)
        mark = peer.mark()
        peer.send("BIG 100 big" if mode == "big" else "RAW ff00deadbeef")
        peer.wait_line("PUSHED", after=mark)
    else:
        peer = peers(mode, path)
    return peer


def met(peer, mode, mark=0):
    """Waits until the library has connected to the bad peer (and, where there is one, answered or failed)."""
    if mode in ("big", "raw"):
        peer.wait_line("STREAM", timeout=30, after=mark)
        if mode == "raw":
            peer.wait_line("NACK", timeout=30, after=mark)
        else:
            time.sleep(0.5)  # the 100 MB response is refused by its length prefix; the stream fails
    else:
        peer.wait_line("ACCEPT", timeout=30, after=mark)
        time.sleep(0.3)


def test_server_killed_and_restarted_repeatedly(library, socket_dir, peers, load, next_id):
    path = os.path.join(socket_dir, "xds.sock")
    peer = peers("npds", path)
    instance = open_module(library, {"xds-path": path})
    try:
        running = load(instance)
        peer.push_variant(1, "v1")
        wait_in_force(library, instance, next_id, 1)
        for cycle in range(2 if SMOKE else 6):
            peer.kill()
            # The agent is gone: the last accepted policy stays in force, and stays the only thing in force.
            for _ in range(3):
                assert in_force(library, instance, next_id) == (1 if cycle % 2 == 0 else 2)
                time.sleep(0.1)
            peer = peers("npds", path)
            k = 2 if cycle % 2 == 0 else 1
            peer.push_variant(k, f"r{cycle}")
            wait_in_force(library, instance, next_id, k)
        stats = running.stop_and_check(WORKER_CALL_BOUND)
        assert stats["connections"] > 0 and stats["denied.never"] > 0
    finally:
        close_module(library, instance)


@pytest.mark.parametrize("mode", BAD_PEERS)
def test_bad_server_before_any_policy_fails_closed(library, socket_dir, peers, load, next_id, mode):
    path = os.path.join(socket_dir, "xds.sock")
    peer = start_bad(peers, mode, path)
    instance = open_module(library, {"xds-path": path})
    try:
        running = load(instance)
        met(peer, mode)
        for _ in range(3):
            assert in_force(library, instance, next_id) is None, "no valid policy yet: everything denied"
            time.sleep(0.1)
        # A good server comes back on the socket: the library finds it (backoff: at most a few seconds here).
        peer.kill()
        good = peers("npds", path)
        good.push_variant(2, "good")
        wait_in_force(library, instance, next_id, 2)
        running.stop_and_check(WORKER_CALL_BOUND)
    finally:
        close_module(library, instance)  # while nothing is wrong any more; the next test closes during a fault


@pytest.mark.parametrize("mode", BAD_PEERS)
def test_bad_server_keeps_the_last_valid_policy_and_recovers(library, socket_dir, peers, load, next_id, mode):
    path = os.path.join(socket_dir, "xds.sock")
    good = peers("npds", path)
    instance = open_module(library, {"xds-path": path})
    closed = False
    try:
        running = load(instance)
        good.push_variant(1, "v1")
        wait_in_force(library, instance, next_id, 1)
        rss_before = rss_kib()
        if mode in ("big", "raw"):
            # The same server turns bad: the response on the open stream is refused (too large, not a
            # DiscoveryResponse); for "big" the stream fails and every reconnection gets the same response.
            mark = good.mark()
            good.send("BIG 100 big" if mode == "big" else "RAW ff00deadbeef")
            good.wait_line("NACK" if mode == "raw" else "STREAM", timeout=30, after=mark)
            bad = good
        else:
            good.kill()
            bad = start_bad(peers, mode, path)
            met(bad, mode)
        for _ in range(3):
            assert in_force(library, instance, next_id) == 1, "the last valid policy stays in force"
            time.sleep(0.1)
        if mode in ("truncate", "garbage"):
            # The library saw the stream (or the connection) fail and dialled again.
            bad.wait_line("ACCEPT 2", timeout=15)
        if mode == "big":
            assert bad.count("STREAM") >= 2, "the library reconnected after refusing the 100 MB message"
            # Refused by its length prefix (limit 64 MiB), not buffered: this process (the library's) did not grow
            # by anything like 100 MB.
            assert rss_kib() - rss_before < 32 * 1024, f"RSS grew by {rss_kib() - rss_before} KiB"
        if mode in ("stall", "silent"):
            # CloseModule while the stream hangs (mid-message, or before the handshake) is still prompt.
            running.stop_and_check(WORKER_CALL_BOUND)
            close_module(library, instance)
            closed = True
            return
        bad.kill()
        good = peers("npds", path)
        good.push_variant(2, "v2")
        wait_in_force(library, instance, next_id, 2)
        running.stop_and_check(WORKER_CALL_BOUND)
    finally:
        if not closed:
            close_module(library, instance)


def test_stalled_server_recovers_when_it_goes_away(library, socket_dir, peers, load, next_id):
    """A server stalled mid-message holds the stream (like Go's client, we have no message timeout); once the
    connection drops the library reconnects to whoever serves the socket next."""
    path = os.path.join(socket_dir, "xds.sock")
    good = peers("npds", path)
    instance = open_module(library, {"xds-path": path})
    try:
        running = load(instance)
        good.push_variant(2, "v2")
        wait_in_force(library, instance, next_id, 2)
        good.kill()
        stalled = peers("stall", path)
        met(stalled, "stall")
        time.sleep(1.0)
        assert in_force(library, instance, next_id) == 2
        stalled.kill()
        good = peers("npds", path)
        good.push_variant(1, "v1")
        wait_in_force(library, instance, next_id, 1)
        running.stop_and_check(WORKER_CALL_BOUND)
    finally:
        close_module(library, instance)


def test_open_module_waiting_for_a_silent_server_does_not_block_workers(library, socket_dir, peers, load,
                                                                        npds, next_id):
    """OpenModule may wait up to 1 s for a silent agent; Envoy's workers must not wait with it (they did, for
    the whole second, while the instance table's lock was held across that wait)."""
    busy = open_with_policy(library, npds, {"xds-path": npds.path}, 0)
    silent_path = os.path.join(socket_dir, "silent.sock")
    peers("silent", silent_path)
    try:
        running = load(busy)
        time.sleep(0.2)
        for i in range(2 if SMOKE else 5):
            instance = open_module(library, {"xds-path": silent_path, "node-id": f"host~10.0.0.{i}~silent~local"})
            close_module(library, instance)
        stats = running.stop_and_check(WORKER_CALL_BOUND)
        assert stats["connections"] > 0
    finally:
        close_module(library, busy)


def test_invalid_pushes_under_load_keep_the_previous_policy(library, socket_dir, peers, load, next_id):
    """Valid and invalid updates alternating fast while workers run: every invalid one NACKed, the policy in
    force always the last valid one."""
    path = os.path.join(socket_dir, "xds.sock")
    peer = peers("npds", path)
    instance = open_module(library, {"xds-path": path})
    try:
        running = load(instance)
        for i in range(5 if SMOKE else 20):
            k = 1 + i % 2
            peer.push_variant(k, f"ok{i}")
            mark = peer.mark()
            peer.send(f"INVALID bad{i}")
            peer.wait_line("NACK", after=mark)
            assert in_force(library, instance, next_id) == k
        running.stop_and_check(WORKER_CALL_BOUND)
    finally:
        close_module(library, instance)


def test_repeated_kills_while_opening_and_closing(library, socket_dir, peers, next_id):
    """The server killed at random moments while instances open and close against it: every call bounded."""
    path = os.path.join(socket_dir, "xds.sock")
    stop = threading.Event()
    errors = []

    def killer():
        while not stop.is_set():
            try:
                peer = peers("npds", path)
                peer.send("VARIANT 0 k")
                time.sleep(0.15)
                peer.kill()
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)
                return

    thread = threading.Thread(target=killer)
    thread.start()
    try:
        for i in range(5 if SMOKE else 20):
            instance = open_module(library, {"xds-path": path, "node-id": f"host~10.1.0.{i}~kill~local"})
            assert in_force(library, instance, next_id) in (None, 0)
            close_module(library, instance)
    finally:
        stop.set()
        thread.join()
    assert not errors, errors
