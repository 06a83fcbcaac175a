"""The access-log collector failing under background traffic: killed and restarted, not reading, absent when
the instance opens. Workers must never wait on it (WORKER_CALL_BOUND), entries are dropped rather than queued
without bound, and delivery resumes once a collector reads again."""
import os
import time

import access_log_collector
from conftest import SMOKE, WORKER_CALL_BOUND, close_module, open_with_policy


def wait_more(collector, than, timeout=20.0):
    """Waits until the collector holds more than `than` entries."""
    return collector.wait_for_count(than + 1, timeout=timeout)


def test_collector_killed_and_restarted(library, npds, collector, load):
    instance = open_with_policy(library, npds, {"xds-path": npds.path, "access-log-path": collector.path}, 0)
    try:
        running = load(instance)
        wait_more(collector, 0)
        current = collector
        for _ in range(1 if SMOKE else 4):
            current.stop()  # killed: listener and connection closed, socket file gone
            time.sleep(0.5)
            current = access_log_collector.Collector(collector.path).start()
            # The sender redials with a backoff (at most 5 s) once an entry waits.
            wait_more(current, 0, timeout=20)
        stats = running.stop_and_check(WORKER_CALL_BOUND)
        assert stats["log_expected"] > 0
        current.stop()
    finally:
        close_module(library, instance)


def test_collector_not_reading(library, npds, collector, load):
    instance = open_with_policy(library, npds, {"xds-path": npds.path, "access-log-path": collector.path}, 0)
    try:
        running = load(instance)
        wait_more(collector, 0)
        collector.pause_reading()
        time.sleep(1.0 if SMOKE else 3.0)  # the socket buffer and the library's queue fill; the rest is dropped
        stuck = len(collector.entries)
        collector.resume_reading()
        wait_more(collector, stuck + 10)
        stats = running.stop_and_check(WORKER_CALL_BOUND)
        # Far more entries were made than the queue and the socket can hold: most were dropped, none waited.
        assert len(collector.entries) < stats["log_expected"]
    finally:
        close_module(library, instance)


def test_collector_absent_at_open_then_started(library, npds, socket_dir, load):
    path = os.path.join(socket_dir, "late-log.sock")
    instance = open_with_policy(library, npds, {"xds-path": npds.path, "access-log-path": path}, 0)
    try:
        running = load(instance)
        time.sleep(0.5)
        late = access_log_collector.Collector(path).start()
        try:
            wait_more(late, 0, timeout=20)
        finally:
            late.stop()
        running.stop_and_check(WORKER_CALL_BOUND)
    finally:
        close_module(library, instance)


def test_close_module_with_a_stuck_collector_is_prompt(library, npds, collector, load):
    instance = open_with_policy(library, npds, {"xds-path": npds.path, "access-log-path": collector.path}, 0)
    running = load(instance)
    wait_more(collector, 0)
    collector.pause_reading()
    time.sleep(0.5)
    running.stop_and_check(WORKER_CALL_BOUND)
    close_module(library, instance)  # the sender is blocked on a full socket: shutdown must cut it short
    collector.resume_reading()
