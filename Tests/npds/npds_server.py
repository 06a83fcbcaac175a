"""A real NPDS server for tests: Google's grpcio serving cilium.NetworkPolicyDiscoveryService on a unix socket.

Policies are written in protobuf text format (like upstream's CheckInsertPolicyText strings) and encoded with
Google's protobuf, an encoder independent of the library's protobuf-c decoder. Every DiscoveryRequest the
library sends is recorded, so tests can wait for ACKs and NACKs and read their version, nonce and error.
"""
import os
import queue
import threading
import time
from concurrent import futures

import grpc
from google.protobuf import text_format

import npds_pb2  # generated from Proto/ by conftest.py
import discovery_pb2

METHOD = "/cilium.NetworkPolicyDiscoveryService/StreamNetworkPolicies"
TYPE_URL = "type.googleapis.com/cilium.NetworkPolicy"


class Recorded:
    """One DiscoveryRequest received from the library."""

    def __init__(self, request):
        self.version = request.version_info
        self.nonce = request.response_nonce
        self.node_id = request.node.id
        self.type_url = request.type_url
        self.resource_names = list(request.resource_names)
        self.error = request.error_detail.message if request.HasField("error_detail") else None

    def __repr__(self):
        return f"Request(version={self.version!r}, nonce={self.nonce!r}, error={self.error!r})"


def encode_policy(text):
    """A cilium.NetworkPolicy from text format, serialized."""
    policy = npds_pb2.NetworkPolicy()
    text_format.Parse(text, policy)
    return policy.SerializeToString()


class NPDSServer:
    def __init__(self, path):
        self.path = path
        self.requests = []
        self.streams_opened = 0
        self._cond = threading.Condition()
        self._queues = []
        self._nonce = 0
        self._current = None  # the last response, sent to every new stream
        self._server = None

    # ---- lifecycle ----

    def start(self):
        if os.path.exists(self.path):
            os.unlink(self.path)
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
        handler = grpc.stream_stream_rpc_method_handler(
            self._stream,
            request_deserializer=discovery_pb2.DiscoveryRequest.FromString,
            response_serializer=lambda raw: raw)  # responses are pre-serialized bytes
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
            "cilium.NetworkPolicyDiscoveryService", {"StreamNetworkPolicies": handler}),))
        server.add_insecure_port("unix:" + self.path)
        server.start()
        self._server = server
        return self

    def stop(self):
        """Kills the server: open streams are cancelled, the socket goes away."""
        if self._server is not None:
            with self._cond:
                for q in self._queues:
                    q.put(None)
            self._server.stop(grace=0).wait()
            self._server = None
        if os.path.exists(self.path):
            os.unlink(self.path)

    # ---- pushing policy ----

    def push(self, version, policies, type_url=TYPE_URL, resource_type_url=None, raw_resources=None):
        """Sends a full state of the world: `policies` in text format (or `raw_resources` bytes as they are).
        Returns the response nonce."""
        with self._cond:
            self._nonce += 1
            nonce = str(self._nonce)
        response = discovery_pb2.DiscoveryResponse(version_info=version, type_url=type_url, nonce=nonce)
        for value in (raw_resources if raw_resources is not None else [encode_policy(p) for p in policies]):
            resource = response.resources.add()
            resource.type_url = resource_type_url or TYPE_URL
            resource.value = value
        self._broadcast(response.SerializeToString())
        return nonce

    def install(self, version, *texts):
        """Pushes `texts` as version `version` and waits until the library ACKs exactly that response."""
        return self.wait_for_ack(version, self.push(version, list(texts)))

    def push_raw(self, payload):
        """Sends bytes that are not a DiscoveryResponse at all."""
        self._broadcast(payload)

    def _broadcast(self, payload):
        with self._cond:
            self._current = payload
            for q in self._queues:
                q.put(payload)

    # ---- the RPC ----

    def _stream(self, request_iterator, context):
        q = queue.Queue()
        with self._cond:
            self.streams_opened += 1
            self._queues.append(q)
            if self._current is not None:
                q.put(self._current)

        def read():
            try:
                for request in request_iterator:
                    with self._cond:
                        self.requests.append(Recorded(request))
                        self._cond.notify_all()
            except Exception:
                pass
            q.put(None)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            while context.is_active():
                try:
                    item = q.get(timeout=0.1)
                except queue.Empty:
                    continue
                if item is None:
                    break
                yield item
        finally:
            with self._cond:
                if q in self._queues:
                    self._queues.remove(q)

    def open_streams(self):
        with self._cond:
            return len(self._queues)

    # ---- waiting ----

    def wait_for(self, predicate, timeout=10.0, what="request"):
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for recorded in self.requests:
                    if predicate(recorded):
                        return recorded
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out waiting for {what}; requests so far: {self.requests}")
                self._cond.wait(remaining)

    def wait_for_ack(self, version, nonce=None, timeout=10.0):
        return self.wait_for(lambda r: r.version == version and r.error is None and (nonce is None or r.nonce == nonce),
                             timeout, f"ACK of version {version!r}")

    def wait_for_nack(self, nonce, timeout=10.0):
        return self.wait_for(lambda r: r.nonce == nonce and r.error is not None, timeout, f"NACK of nonce {nonce}")

    def wait_for_initial_request(self, count=1, timeout=10.0):
        """Waits until `count` streams have sent their initial request (empty nonce)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while sum(1 for r in self.requests if r.nonce == "") < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out waiting for initial request #{count}: {self.requests}")
                self._cond.wait(remaining)
