"""What the tests check on memcached itself: a denied request never reached it."""

# memcached's request counters (stats): a denied request must not move any of them.
COUNTERS = ("cmd_get", "cmd_set", "cmd_flush", "cmd_touch", "get_hits", "get_misses", "delete_hits",
            "delete_misses", "incr_hits", "incr_misses", "decr_hits", "decr_misses", "cas_hits", "cas_misses",
            "cas_badval", "touch_hits", "touch_misses")


class Unseen:
    """with Unseen(memcached, *keys, moved={...}): ... asserts that, during the block, memcached's request log
    names none of `keys` (str) and its request counters moved by exactly `moved` (the allowed requests in the
    block; by default none). Keep direct reads of memcached out of the block."""

    def __init__(self, memcached, *keys, moved=None):
        self.memcached = memcached
        self.keys = keys
        self.moved = moved or {}

    def counters(self):
        stats = self.memcached.stats()
        return {name: stats[name] for name in COUNTERS}

    def __enter__(self):
        self.before = self.counters()
        self.mark = self.memcached.log_mark()  # after our own `stats`: its log line is not in the block
        return self

    def __exit__(self, kind, value, traceback):
        if kind is not None:
            return False
        seen = [key for key in self.keys if self.memcached.saw(key, since=self.mark)]
        assert not seen, f"memcached received requests for {seen}"
        after = self.counters()
        moved = {name: after[name] - self.before[name] for name in COUNTERS if after[name] != self.before[name]}
        assert moved == self.moved, f"memcached's request counters moved by {moved}, expected {self.moved}"
        return False
