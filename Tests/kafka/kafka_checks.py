"""What the tests check on the broker, and a raw protocol client for exact request sequences.

The broker records every request it decodes; a client's own client id tells its requests apart:
- never_received(broker, mark, api_key, topic): no such request reached the broker since `mark`;
- connections(broker, client_id): how many connections the client opened (each starts with ApiVersions), so a
  test can tell that a denial did not cost the client its connection.

RawClient speaks the protocol with kafka-python's own request and response classes over one socket
(kafka.protocol.parser.KafkaProtocol: it numbers the requests and checks that responses come back in request
order, raising CorrelationIdError otherwise)."""
import socket
import time

from kafka.protocol.parser import KafkaProtocol

from host_procs import wait_for  # noqa: F401 (for the tests)

API_VERSIONS = 18


def received(broker, since=0, api_key=None, client_id=None, topic=None):
    return [r for r in broker.received(since)
            if (api_key is None or r.api_key == api_key) and (client_id is None or r.client_id == client_id)
            and (topic is None or (r.topics is not None and topic in r.topics))]


def never_received(broker, mark, api_key, topic):
    seen = received(broker, mark, api_key=api_key, topic=topic)
    assert not seen, f"the broker received denied requests: {seen}"


def connections(broker, client_id):
    """Connections the client opened so far: the ApiVersions requests that reached the broker (one per
    connection; a retry after UNSUPPORTED_VERSION is answered before it is recorded)."""
    return len(received(broker, api_key=API_VERSIONS, client_id=client_id))


def consume(consumer, count, timeout=10.0):
    """Polls until `count` record values arrived (fails after `timeout`); -> the values."""
    values = []
    deadline = time.monotonic() + timeout
    while len(values) < count and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=200).values():
            values += [r.value for r in records]
    assert len(values) >= count, f"got {len(values)} of {count} records: {values}"
    return values


class RawClient:
    """One connection. send(request[, correlation_id]) queues a request (a message made with version=...;
    returns its correlation id), flush() writes all queued requests at once (pipelined), responses(n) reads n
    responses in order as (correlation id, response)."""

    def __init__(self, port, client_id="raw-client"):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.protocol = KafkaProtocol(client_id=client_id)
        self.pending = []

    @property
    def address(self):
        host, port = self.sock.getsockname()
        return f"{host}:{port}"

    def send(self, request, correlation_id=None):
        return self.protocol.send_request(request, correlation_id)

    def flush(self):
        self.sock.sendall(self.protocol.send_bytes())

    def call(self, request):
        self.send(request)
        self.flush()
        return self.responses(1)[0][1]

    def responses(self, count):
        while len(self.pending) < count:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError(f"connection closed with {count - len(self.pending)} responses missing")
            self.pending += self.protocol.receive_bytes(data)
        out, self.pending = self.pending[:count], self.pending[count:]
        return out

    def nothing_more(self, wait=0.3):
        """True when no byte arrives within `wait` seconds (and the connection is still open)."""
        self.sock.settimeout(wait)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return True
        finally:
            self.sock.settimeout(5)
        if not data:
            raise ConnectionError("connection closed")
        self.pending += self.protocol.receive_bytes(data)
        return False

    def close(self):
        self.sock.close()
