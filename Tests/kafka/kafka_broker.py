"""A small Kafka broker for the tests (no Kafka installs here): one node, fixed topics, records kept in memory.

It speaks the wire protocol through kafka-python's own message classes: each request is decoded with the
library's request class for its api key and version (header included), and each response is built from and
encoded with the library's response class, so the bytes are what kafka-python's schemas (Kafka's JSON message
definitions) say they are. It answers what a producer and a consumer with assigned partitions need:

    ApiVersions (18)   the versions it serves: every api key up to `max_versions` (default: the newest the
                       library knows); a request above the advertised ApiVersions version gets
                       UNSUPPORTED_VERSION at v0, as Kafka answers, and the client retries lower
    Metadata (3)       one broker whose address is `advertised` (the proxy's host:port, so that clients keep
                       talking through the proxy), the requested topics (by name, or by id in v10+), with topic ids
    Produce (0)        stores each partition's record batch (offsets assigned, as a broker does); acks=0 gets no
                       response
    Fetch (1)          the stored batches from the fetch offset on (names, or topic ids in v13+), waiting up to
                       max_wait_ms for data; no fetch sessions (session id 0: the client sends full requests)
    ListOffsets (2)    earliest (-2) and latest (-1) offsets
    InitProducerId (22) a new producer id (an idempotent producer, kafka-python's default, asks for one)

Topics it does not have are answered UNKNOWN_TOPIC_OR_PARTITION (3), unknown ids UNKNOWN_TOPIC_ID (100).
Anything else (another api key, a version it did not advertise, bytes that do not decode) is a protocol error:
reported in `problems` (and on stderr) and the connection is closed.

Every request it decodes is recorded in `requests` (api key, version, correlation id, client id, topic names):
what reached the broker, so tests can check that a denied request never did.

Used in-process by the tests (KafkaBroker(...).start()); `python kafka_broker.py --port N` runs one alone.
"""
import argparse
import io
import socket
import socketserver
import struct
import sys
import threading
import time
import uuid
from collections import namedtuple

from kafka.protocol.api_key import ApiKey
from kafka.protocol.consumer import FetchRequest, FetchResponse, ListOffsetsRequest, ListOffsetsResponse
from kafka.protocol.metadata import ApiVersionsRequest, ApiVersionsResponse, MetadataRequest, MetadataResponse
from kafka.protocol.producer import (InitProducerIdRequest, InitProducerIdResponse, ProduceRequest,
                                     ProduceResponse)
from kafka.record import MemoryRecords

NONE = 0
UNKNOWN_TOPIC_OR_PARTITION = 3
UNSUPPORTED_VERSION = 35
UNKNOWN_TOPIC_ID = 100

REQUESTS = {cls.API_KEY: cls for cls in (ProduceRequest, FetchRequest, ListOffsetsRequest, MetadataRequest,
                                         ApiVersionsRequest, InitProducerIdRequest)}
# Where every api key starts: the lowest version kafka-python reads (its schemas drop older ones).
MIN_VERSIONS = {ApiKey.Produce: 3, ApiKey.Fetch: 4, ApiKey.ListOffsets: 1, ApiKey.Metadata: 0, ApiKey.ApiVersions: 0,
                ApiKey.InitProducerId: 0}
NEWEST = {key: cls.max_version for key, cls in REQUESTS.items()}

NODE_ID = 0
CLUSTER_ID = "swift-proxylib-test"

Request = namedtuple("Request", "api_key api_version correlation_id client_id topics")


class Partition:
    """One partition's log: record batches (magic 2) with the offsets the broker gave them."""

    def __init__(self):
        self.batches = []  # (base offset, batch bytes)
        self.end = 0

    def append(self, records):
        """Appends the batches of a produce request's `records`; -> the base offset of the first."""
        base = self.end
        data = bytearray(records)
        pos = 0
        while pos + 61 <= len(data):
            length, = struct.unpack_from(">i", data, pos + 8)
            last_delta, = struct.unpack_from(">i", data, pos + 23)
            struct.pack_into(">q", data, pos, self.end)  # the base offset is outside the batch's CRC
            self.batches.append((self.end, bytes(data[pos:pos + 12 + length])))
            self.end += last_delta + 1
            pos += 12 + length
        return base

    def read(self, offset, max_bytes):
        """The batches holding offsets from `offset` on, at least one, then up to max_bytes."""
        out = b""
        for base, batch in self.batches:
            last = base + struct.unpack_from(">i", batch, 23)[0]
            if last < offset:
                continue
            if out and len(out) + len(batch) > max_bytes:
                break
            out += batch
        return out


class Topic:
    def __init__(self, name, partitions):
        self.name = name
        self.id = uuid.uuid4()
        self.partitions = [Partition() for _ in range(partitions)]


class KafkaBroker:
    """The broker on 127.0.0.1:`port` (0: a free one). `topics`: {name: partition count}. `max_versions`:
    {api key: highest version to advertise} over the defaults (the newest kafka-python knows)."""

    def __init__(self, topics, max_versions=None, port=0, produce_delay=0.0):
        self.topics = {name: Topic(name, count) for name, count in topics.items()}
        self.max_versions = dict(NEWEST)
        self.max_versions.update(max_versions or {})
        self.produce_delay = produce_delay  # seconds before each Produce response: keeps requests in flight
        self.requests = []
        self.problems = []
        self.producer_ids = 1000
        self.lock = threading.Condition()
        broker = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                broker._serve(self.request)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.advertised = ("127.0.0.1", self.port)  # what Metadata names as the broker: set to the proxy

    def start(self):
        threading.Thread(target=self.server.serve_forever, name="kafka-broker", daemon=True).start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    # What the tests read

    def topic_id(self, name):
        return self.topics[name].id

    def new_topic_id(self, name):
        """Gives a topic a new id (as if it had been deleted and made again, its records kept); -> the id."""
        with self.lock:
            self.topics[name].id = uuid.uuid4()
            return self.topics[name].id

    def values(self, topic, partition=0):
        """The values of the records stored in a partition, in offset order."""
        with self.lock:
            batches = [b for _, b in self.topics[topic].partitions[partition].batches]
        values = []
        for batch in batches:
            records = MemoryRecords(batch)
            while records.has_next():
                for record in records.next_batch():
                    values.append(record.value)
        return values

    def received(self, since=0):
        with self.lock:
            return list(self.requests[since:])

    def mark(self):
        with self.lock:
            return len(self.requests)

    # The connection

    def _serve(self, sock):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                size = _read(sock, 4)
                if size is None:
                    return
                size, = struct.unpack(">i", size)
                payload = _read(sock, size)
                if payload is None:
                    return
                response = self._answer(payload)
                if response is not None:
                    sock.sendall(response)
        except OSError:
            pass
        except Exception as e:  # a ProtocolError, or the broker's own failure: both end the connection
            problem = str(e) if isinstance(e, ProtocolError) else f"broker failure: {e!r}"
            with self.lock:
                self.problems.append(problem)
            print(f"kafka_broker: {problem}", file=sys.stderr, flush=True)
        finally:
            sock.close()

    def _answer(self, payload):
        """The framed response to one request (None for acks=0 Produce)."""
        api_key, version = struct.unpack_from(">hh", payload)
        cls = REQUESTS.get(api_key)
        if cls is None:
            raise ProtocolError(f"api key {api_key} is not served")
        if api_key == ApiKey.ApiVersions and version > self.max_versions[api_key]:
            # Kafka answers a too-new ApiVersions with v0 (header v0) and the range it serves.
            header = cls.parse_header(io.BytesIO(payload), version=min(version, cls.max_version))
            response = ApiVersionsResponse(version=0, error_code=UNSUPPORTED_VERSION, api_keys=[
                ApiVersionsResponse.ApiVersion(api_key=api_key, min_version=0, max_version=self.max_versions[api_key])])
            return _encode(response, header.correlation_id)
        if not MIN_VERSIONS[api_key] <= version <= self.max_versions[api_key]:
            raise ProtocolError(f"{ApiKey(api_key).name} v{version} was not advertised")
        try:
            request = cls.decode(payload, version=version, header=True)
        except Exception as e:
            raise ProtocolError(f"{ApiKey(api_key).name} v{version} does not decode: {e!r}") from e
        header = request.header
        with self.lock:
            self.requests.append(Request(api_key, version, header.correlation_id, header.client_id,
                                         self._topic_names(api_key, version, request)))
        handler = {ApiKey.ApiVersions: self._api_versions, ApiKey.Metadata: self._metadata,
                   ApiKey.Produce: self._produce, ApiKey.Fetch: self._fetch, ApiKey.ListOffsets: self._list_offsets,
                   ApiKey.InitProducerId: self._init_producer_id}
        response = handler[api_key](request, version)
        if response is None:
            return None
        return _encode(response, header.correlation_id)

    def _topic_names(self, api_key, version, request):
        """The topics a request names (ids as their names, or the id's text when unknown)."""
        def name(topic_name, topic_id):
            if topic_name:
                return topic_name
            return self._by_id(topic_id).name if self._by_id(topic_id) else str(topic_id)
        if api_key == ApiKey.Metadata:
            return None if request.topics is None else [name(t.name, t.topic_id) for t in request.topics]
        if api_key == ApiKey.Produce:
            return [name(t.name, t.topic_id) for t in request.topic_data]
        if api_key == ApiKey.Fetch:
            return [name(t.topic, t.topic_id) for t in request.topics]
        if api_key == ApiKey.ListOffsets:
            return [t.name for t in request.topics]
        return []

    def _by_id(self, topic_id):
        return next((t for t in self.topics.values() if t.id == topic_id), None)

    # The api keys

    def _api_versions(self, request, version):
        return ApiVersionsResponse(version=version, error_code=NONE, throttle_time_ms=0, api_keys=[
            ApiVersionsResponse.ApiVersion(api_key=key, min_version=MIN_VERSIONS[key], max_version=top)
            for key, top in sorted(self.max_versions.items())])

    def _metadata(self, request, version):
        R = MetadataResponse
        if request.topics is None:
            wanted = [(name, None) for name in self.topics]
        else:
            wanted = [(t.name, t.topic_id) for t in request.topics]
        topics = []
        for name, topic_id in wanted:
            topic = self.topics.get(name) if name else self._by_id(topic_id)
            if topic is None:
                error = UNKNOWN_TOPIC_OR_PARTITION if name else UNKNOWN_TOPIC_ID
                topics.append(R.MetadataResponseTopic(error_code=error, name=name, topic_id=topic_id or _ZERO_UUID,
                                                      is_internal=False, partitions=[]))
                continue
            topics.append(R.MetadataResponseTopic(
                error_code=NONE, name=topic.name, topic_id=topic.id, is_internal=False, partitions=[
                    R.MetadataResponseTopic.MetadataResponsePartition(
                        error_code=NONE, partition_index=i, leader_id=NODE_ID, leader_epoch=0,
                        replica_nodes=[NODE_ID], isr_nodes=[NODE_ID], offline_replicas=[])
                    for i in range(len(topic.partitions))]))
        host, port = self.advertised
        return R(version=version, throttle_time_ms=0, cluster_id=CLUSTER_ID, controller_id=NODE_ID, error_code=NONE,
                 brokers=[R.MetadataResponseBroker(node_id=NODE_ID, host=host, port=port, rack=None)], topics=topics)

    def _init_producer_id(self, request, version):
        with self.lock:
            self.producer_ids += 1
            producer_id = self.producer_ids
        return InitProducerIdResponse(version=version, throttle_time_ms=0, error_code=NONE, producer_id=producer_id,
                                      producer_epoch=0, ongoing_txn_producer_id=-1, ongoing_txn_producer_epoch=-1)

    def _produce(self, request, version):
        R = ProduceResponse
        responses = []
        for data in request.topic_data:
            topic = self.topics.get(data.name) if data.name else self._by_id(data.topic_id)
            partitions = []
            for p in data.partition_data:
                if topic is None or not 0 <= p.index < len(topic.partitions):
                    error, base = (UNKNOWN_TOPIC_OR_PARTITION if data.name else UNKNOWN_TOPIC_ID), -1
                else:
                    with self.lock:
                        error, base = NONE, topic.partitions[p.index].append(p.records)
                        self.lock.notify_all()
                partitions.append(R.TopicProduceResponse.PartitionProduceResponse(
                    index=p.index, error_code=error, base_offset=base, log_append_time_ms=-1, log_start_offset=0,
                    record_errors=[], error_message=None))
            responses.append(R.TopicProduceResponse(name=data.name, topic_id=data.topic_id,
                                                    partition_responses=partitions))
        if request.acks == 0:
            return None
        if self.produce_delay:
            time.sleep(self.produce_delay)
        return R(version=version, responses=responses, throttle_time_ms=0)

    def _fetch(self, request, version):
        R = FetchResponse
        deadline = time.monotonic() + min(request.max_wait_ms, 1000) / 1000

        def collect():
            out, size = [], 0
            for t in request.topics:
                topic = self.topics.get(t.topic) if t.topic else self._by_id(t.topic_id)
                partitions = []
                for p in t.partitions:
                    if topic is None or not 0 <= p.partition < len(topic.partitions):
                        error = UNKNOWN_TOPIC_OR_PARTITION if t.topic else UNKNOWN_TOPIC_ID
                        records, end = None, -1
                    else:
                        log = topic.partitions[p.partition]
                        error, end = NONE, log.end
                        records = log.read(p.fetch_offset, p.partition_max_bytes)
                        size += len(records)
                    partitions.append(R.FetchableTopicResponse.PartitionData(
                        partition_index=p.partition, error_code=error, high_watermark=end, last_stable_offset=end,
                        log_start_offset=0, aborted_transactions=None, preferred_read_replica=-1, records=records))
                out.append(R.FetchableTopicResponse(topic=t.topic, topic_id=t.topic_id, partitions=partitions))
            return out, size

        with self.lock:
            responses, size = collect()
            while size < max(request.min_bytes, 1) and time.monotonic() < deadline:
                self.lock.wait(max(0.0, deadline - time.monotonic()))
                responses, size = collect()
        return R(version=version, throttle_time_ms=0, error_code=NONE, session_id=0, responses=responses)

    def _list_offsets(self, request, version):
        R = ListOffsetsResponse
        topics = []
        for t in request.topics:
            topic = self.topics.get(t.name)
            partitions = []
            for p in t.partitions:
                if topic is None or not 0 <= p.partition_index < len(topic.partitions):
                    error, offset = UNKNOWN_TOPIC_OR_PARTITION, -1
                else:
                    end = topic.partitions[p.partition_index].end
                    error, offset = NONE, (0 if p.timestamp == -2 else end)
                partitions.append(R.ListOffsetsTopicResponse.ListOffsetsPartitionResponse(
                    partition_index=p.partition_index, error_code=error, timestamp=-1, offset=offset, leader_epoch=0))
            topics.append(R.ListOffsetsTopicResponse(name=t.name, partitions=partitions))
        return R(version=version, throttle_time_ms=0, topics=topics)


class ProtocolError(Exception):
    pass


_ZERO_UUID = uuid.UUID(int=0)


def _encode(response, correlation_id):
    response.with_header(correlation_id=correlation_id)
    return bytes(response.encode(header=True, framed=True))


def _read(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9092)
    parser.add_argument("--topic", action="append", default=[], help="NAME[:PARTITIONS] (repeatable)")
    parser.add_argument("--advertise", help="HOST:PORT named in Metadata (default: the broker itself)")
    parser.add_argument("--max-version", action="append", default=[], help="API_KEY:VERSION (repeatable)")
    args = parser.parse_args()
    topics = {}
    for spec in args.topic or ["test"]:
        name, _, count = spec.partition(":")
        topics[name] = int(count or 1)
    versions = {int(k): int(v) for k, v in (s.split(":") for s in args.max_version)}
    broker = KafkaBroker(topics, versions, port=args.port)
    if args.advertise:
        host, _, port = args.advertise.rpartition(":")
        broker.advertised = (host, int(port))
    print(f"kafka_broker listening on 127.0.0.1:{broker.port}", file=sys.stderr, flush=True)
    try:
        broker.server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
