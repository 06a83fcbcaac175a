"""ctypes bindings to the traffic generator of Tests/Stress/traffic.c, built with the datapath into
build/libstress.so (so a `datapath.Library` loaded with it as its datapath library has these too).

A Load runs worker threads in C that open, drive and close connections over every parser, checking every byte
that reaches the server and the client, and time every OnNewConnection, OnData and Close call; Python only
starts, redirects and stops it, so the timings do not include the GIL.
"""
import ctypes

import datapath

STAT_NAMES = ["violations", "connections", "refused", "requests", "log_expected",
              "allowed.always", "denied.always", "allowed.never", "denied.never", "allowed.maybe", "denied.maybe",
              "calls.new", "calls.data", "calls.close", "max_ns.new", "max_ns.data", "max_ns.close",
              "p50_ns.data", "p99_ns.data"]


def _declare(dp):
    if getattr(dp, "_traffic_declared", False):
        return
    dp.tr_load_start.argtypes = [ctypes.POINTER(datapath.DpLibrary), ctypes.c_uint64, ctypes.c_int, ctypes.c_uint64,
                                 ctypes.c_int]
    dp.tr_load_start.restype = ctypes.c_void_p
    dp.tr_load_set_instance.argtypes = [ctypes.c_void_p, ctypes.c_uint64]
    dp.tr_load_stop.argtypes = [ctypes.c_void_p]
    dp.tr_load_stop.restype = ctypes.c_void_p
    dp.tr_close_race.argtypes = [ctypes.POINTER(datapath.DpLibrary), ctypes.c_uint64, ctypes.c_int, ctypes.c_int,
                                 ctypes.c_int]
    dp.tr_close_race.restype = ctypes.c_void_p
    dp.tr_stats_value.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    dp.tr_stats_value.restype = ctypes.c_double
    dp.tr_stats_violation.argtypes = [ctypes.c_void_p]
    dp.tr_stats_violation.restype = ctypes.c_char_p
    dp.tr_stats_free.argtypes = [ctypes.c_void_p]
    dp._traffic_declared = True


def _read_stats(dp, pointer):
    stats = {name: dp.tr_stats_value(pointer, name.encode()) for name in STAT_NAMES}
    stats["first_violation"] = dp.tr_stats_violation(pointer).decode(errors="replace")
    dp.tr_stats_free(pointer)
    return stats


def check(stats, call_bound, what="traffic"):
    """Asserts no violation and every timed call within `call_bound` seconds."""
    import conftest  # the session's figures (Tests/faults/conftest.py)
    conftest.record(stats)
    assert stats["violations"] == 0, f"{what}: {stats['violations']:.0f} violation(s): {stats['first_violation']}"
    assert stats["allowed.never"] == 0, f"{what}: never-allowed requests forwarded"
    for kind in ("new", "data", "close"):
        worst = stats[f"max_ns.{kind}"] / 1e9
        assert worst < call_bound, f"{what}: a {kind} call took {worst:.3f} s (bound {call_bound} s): {stats}"


class Load:
    def __init__(self, library, instance, threads=4, seed=1, strict=False):
        self.dp = library.dp
        _declare(self.dp)
        self.handle = self.dp.tr_load_start(ctypes.byref(library.lib), instance, threads, seed, int(strict))
        assert self.handle, "tr_load_start failed"
        self.stats = None

    def set_instance(self, instance):
        self.dp.tr_load_set_instance(self.handle, instance)

    def stop(self):
        """Stops the workers (their connections are closed and checked); returns the stats. Idempotent."""
        if self.stats is None:
            self.stats = _read_stats(self.dp, self.dp.tr_load_stop(self.handle))
            self.handle = None
        return self.stats

    def stop_and_check(self, call_bound):
        stats = self.stop()
        check(stats, call_bound)
        return stats


def close_race(library, instance, closers, batch, rounds):
    """Close racing OnData (see traffic.h); returns the stats."""
    _declare(library.dp)
    return _read_stats(library.dp, library.dp.tr_close_race(ctypes.byref(library.lib), instance, closers, batch,
                                                            rounds))
