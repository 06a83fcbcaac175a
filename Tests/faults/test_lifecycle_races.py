"""Module and connection lifecycles racing with traffic on other threads: OpenModule/CloseModule of shared and
separate instances while workers use them, CloseModule of an instance whose connections are still in use, and
Close of connections while another thread is inside OnData on its own connection."""
import os
import threading
import time

import policy_variants as V
import traffic
from conftest import SMOKE, WORKER_CALL_BOUND, close_module, in_force, open_module, open_with_policy


def test_open_and_close_module_race_with_traffic(library, npds, collector, socket_dir, load, next_id):
    stable = open_with_policy(library, npds, {"xds-path": npds.path}, 0)
    steady = load(stable, threads=3)
    churned = load(0, threads=2)  # follows whichever instance the loop below has just opened
    missing = os.path.join(socket_dir, "nobody-here.sock")
    errors = []

    def churn(thread):
        try:
            for i in range(10 if SMOKE else 40):
                # Same parameters: the stable instance, counted once more, then released again.
                assert open_module(library, {"xds-path": npds.path}) == stable
                close_module(library, stable)
                kind = i % 4
                if kind == 0:
                    params = {"xds-path": npds.path, "node-id": f"host~10.2.{thread}.{i}~race~local"}
                elif kind == 1:
                    params = {"access-log-path": collector.path, "node-id": f"host~10.3.{thread}.{i}~race~local"}
                elif kind == 2:
                    params = {"xds-path": missing, "node-id": f"host~10.4.{thread}.{i}~race~local"}
                else:
                    params = {"xds-path": npds.path, "access-log-path": collector.path,
                              "node-id": f"host~10.5.{thread}.{i}~race~local"}
                other = open_module(library, params)
                churned.set_instance(other)
                time.sleep(0.02)
                # Closed while the churned workers still use it: their open connections carry on, new ones are
                # refused (INVALID_INSTANCE) until the next open.
                close_module(library, other)
        except AssertionError as e:
            errors.append(e)

    threads = [threading.Thread(target=churn, args=(t,)) for t in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    assert in_force(library, stable, next_id) == 0, "the shared instance kept its policy throughout"
    steady_stats = steady.stop_and_check(WORKER_CALL_BOUND)
    churned_stats = churned.stop_and_check(WORKER_CALL_BOUND)
    assert steady_stats["refused"] == 0, "the stable instance was never closed under its users"
    assert steady_stats["connections"] > 0 and churned_stats["connections"] > 0
    close_module(library, stable)


def test_connections_outlive_their_instance(library, npds, next_id):
    instance = open_with_policy(library, npds, {"xds-path": npds.path}, 1)
    result, conn = library.connect(instance, "r2d2", next_id(), dst_addr="1.1.1.1:80")
    assert result == "OK"
    try:
        assert conn.client_sends(V.R2D2_ALWAYS) == ("OK", V.R2D2_ALWAYS, b"")
        close_module(library, instance)
        # Envoy may still drain a connection of a filter config it has dropped: the policy it had still
        # applies, denials included; a new connection on the closed instance is refused.
        assert conn.client_sends(V.R2D2_ALWAYS) == ("OK", V.R2D2_ALWAYS, b"")
        assert conn.client_sends(V.R2D2_NEVER) == ("OK", b"", b"ERROR\r\n")
        assert library.connect(instance, "r2d2", next_id())[0] == "INVALID_INSTANCE"
    finally:
        conn.close()


def test_close_while_another_thread_is_in_on_data(library, npds):
    instance = open_with_policy(library, npds, {"xds-path": npds.path}, 0)
    try:
        stats = traffic.close_race(library, instance, closers=3, batch=2000, rounds=4 if SMOKE else 25)
        traffic.check(stats, WORKER_CALL_BOUND, "close race")
        assert stats["connections"] == 3 * 2000 * (4 if SMOKE else 25)
        assert stats["requests"] > 0, "the streaming connection ran during the closes"
    finally:
        close_module(library, instance)
