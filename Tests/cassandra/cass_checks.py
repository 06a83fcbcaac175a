"""What the tests check on the server itself: a denied request never reached it."""


class Unseen:
    """with Unseen(server, *texts): ... asserts that, during the block, the server logged no request containing
    any of `texts` (the unique keys or table names of the denied requests)."""

    def __init__(self, server, *texts):
        self.server = server
        self.texts = texts

    def __enter__(self):
        self.mark = self.server.log_mark()
        return self

    def __exit__(self, kind, value, traceback):
        if kind is not None:
            return False
        seen = [line for line in self.server.requests(self.mark) if any(t in line for t in self.texts)]
        assert not seen, f"the server received denied requests: {seen}"
        return False
