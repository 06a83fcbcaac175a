"""Shared pieces of the Kafka policy tests: policies (cilium.KafkaNetworkPolicyRule in text format), frames written
from the Kafka protocol guide, kafka-python 3.0.12 encoders/decoders for every request and response it knows, and
access-log checks for `kafka` entries.

The vector machinery (Step/Vector, exact ops per OnData call, the same traffic through the C datapath) is the
Cassandra suite's (cassandra_support.py), reused here.
"""
import importlib
import inspect
import pkgutil
import struct
import uuid
from dataclasses import dataclass

import accesslog_pb2
import policies as P

REQUEST, DENIED, RESPONSE = accesslog_pb2.Request, accesslog_pb2.Denied, accesslog_pb2.Response

TOPIC_AUTHORIZATION_FAILED = 29
UNKNOWN_TOPIC_ID = 100
INVALID_MESSAGE = 2  # upstream's ErrInvalidMessage, logged for a request it cannot parse

PRODUCE, FETCH, LIST_OFFSETS, METADATA, API_VERSIONS = 0, 1, 2, 3, 18


# ---- policies --------------------------------------------------------------------------------------------------

def kafka_rule(topic=None, client_id=None, api_keys=(), api_version=-1):
    """One KafkaNetworkPolicyRule. api_version defaults to -1 (any): proto3's default 0 means version 0 only."""
    parts = []
    if api_version is not None:
        parts.append(f"api_version: {api_version}")
    parts += [f"api_keys: {k}" for k in api_keys]
    if client_id is not None:
        parts.append(f'client_id: "{client_id}"')
    if topic is not None:
        parts.append(f'topic: "{topic}"')
    return "kafka_rules: < " + " ".join(parts) + " >"


def kafka_rules(*rules):
    """kafka_rules with the given rule texts (from kafka_rule)."""
    return "kafka_rules: < " + " ".join(rules) + " >"


def kafka_policy(*rules, remotes=(1000,), l7_proto="kafka", endpoint="1.1.1.1", port=80, endpoint_id=2000,
                 extra_rules=""):
    """A port policy for remote(s) `remotes` with the given kafka rules (none: the rule has no L7 rules).
    `extra_rules` is appended as further PortNetworkPolicyRule blocks of the same port."""
    body = kafka_rules(*rules) if rules else ""
    text = P.port_policy(l7_proto, body, port=port, endpoint=endpoint, remotes=remotes)
    text = text.replace("endpoint_id: 2\n", f"endpoint_id: {endpoint_id}\n")
    if extra_rules:
        text = _append_rules(text, extra_rules)
    return text


def _append_rules(text, extra):
    """Adds rule blocks inside the (single) per-port policy of a port_policy text."""
    closing = text.rindex(">")
    return text[:closing] + extra + "\n" + text[closing:]


def allow_all_port(endpoint, port=80, endpoint_id=3000):
    """A port without rules: everything allowed (used for the instance-wide topic-id learning connection)."""
    return f"""
        endpoint_ips: "{endpoint}"
        endpoint_id: {endpoint_id}
        ingress_per_port_policies: < port: {port} >
    """


# ---- frames from the protocol guide (independent of kafka-python) -----------------------------------------------

def i16(n):
    return struct.pack(">h", n)


def i32(n):
    return struct.pack(">i", n)


def kstring(s):
    """STRING / NULLABLE_STRING (None: -1)."""
    if s is None:
        return i16(-1)
    b = s.encode() if isinstance(s, str) else s
    return i16(len(b)) + b


def framed(body):
    return i32(len(body)) + body


def request_header_v1(api_key, api_version, correlation_id, client_id):
    return i16(api_key) + i16(api_version) + i32(correlation_id) + kstring(client_id)


def produce_v3(correlation_id, client_id, topics, acks=1, transactional_id=None, timeout=1000):
    """Produce v3 with the given topics, each with no partitions (upstream's test shape)."""
    body = request_header_v1(PRODUCE, 3, correlation_id, client_id) + kstring(transactional_id) + i16(acks) + \
        i32(timeout) + i32(len(topics)) + b"".join(kstring(t) + i32(0) for t in topics)
    return framed(body)


def produce_v3_denial(correlation_id, topics):
    """The Produce v3 response upstream injects: every topic with no partitions, throttle time 0."""
    return framed(i32(correlation_id) + i32(len(topics)) + b"".join(kstring(t) + i32(0) for t in topics) + i32(0))


def metadata_v1(correlation_id, client_id, topics):
    """Metadata v1 (topics: None = all topics, encoded as a null array)."""
    arr = i32(-1) if topics is None else i32(len(topics)) + b"".join(kstring(t) for t in topics)
    return framed(request_header_v1(METADATA, 1, correlation_id, client_id) + arr)


def api_versions_v0(correlation_id, client_id):
    return framed(request_header_v1(API_VERSIONS, 0, correlation_id, client_id))


def response_v0(correlation_id, body=b""):
    return framed(i32(correlation_id) + body)


# ---- access log --------------------------------------------------------------------------------------------------

@dataclass
class KLog:
    """An expected `kafka` access-log entry (None: that field is not compared)."""
    type: int
    correlation_id: int = None
    api_key: int = None
    api_version: int = None
    error_code: int = None
    topics: list = None


def klog_view(entry, like):
    k = entry.kafka
    return KLog(entry.entry_type,
                None if like.correlation_id is None else k.correlation_id,
                None if like.api_key is None else k.api_key,
                None if like.api_version is None else k.api_version,
                None if like.error_code is None else k.error_code,
                None if like.topics is None else list(k.topics))


def check_kafka_entries(entries, expected, policy_name="1.1.1.1", src_id=1000, dst_id=2000):
    assert len(entries) == len(expected), (
        f"{len(entries)} entries, expected {len(expected)}: {[(e.entry_type, str(e.kafka)) for e in entries]}")
    for entry, exp in zip(entries, expected):
        assert entry.WhichOneof("l7") == "kafka", entry
        assert entry.policy_name == policy_name and entry.is_ingress
        assert entry.source_security_id == src_id and entry.destination_security_id == dst_id
        assert klog_view(entry, exp) == exp


# ---- kafka-python 3.0.12: every request and response class ------------------------------------------------------

def _api_classes():
    import kafka.protocol as kp
    from kafka.protocol.api_message import ApiMessage
    requests, responses = {}, {}
    for info in pkgutil.walk_packages(kp.__path__, "kafka.protocol."):
        if ".old" in info.name or "schemas" in info.name or "generate_stubs" in info.name:
            continue
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if inspect.isclass(value) and issubclass(value, ApiMessage) and value is not ApiMessage \
                    and value._class_version is None and value.json is not None:
                (requests if value.type == "request" else responses)[value.API_KEY] = value
    return requests, responses


REQUEST_CLASSES, RESPONSE_CLASSES = _api_classes()


def all_request_versions():
    """(api_key, version) for every request kafka-python 3.0.12 can encode: 0..max_version of each class (it
    lets a request schema whose oldest versions Kafka 4 removed still encode them)."""
    return [(key, v) for key, cls in sorted(REQUEST_CLASSES.items()) for v in range(cls.min_version, cls.max_version + 1)]


def is_flexible(api_key, version):
    return REQUEST_CLASSES[api_key].flexible_version_q(version)


def _fields_for(fields, version):
    """The untagged fields present in `version` (fields is a struct's field list)."""
    return [f for f in fields if f.for_version_q(version) and f.tag is None]


def _struct_fields(field):
    """The fields of a struct or struct array field, as a list."""
    fs = field.fields
    return list(fs.values()) if isinstance(fs, dict) else list(fs)


def _is_topic_name(field):
    return field._json.get("entityType") == "topicName"


def _is_topic_id(field):
    return field.name == "topic_id" and field.type_str == "uuid"


def _topic_struct(field, version):
    """Whether a struct array's elements each name one topic (by name or id) in `version`."""
    return any((_is_topic_name(f) or _is_topic_id(f)) and f.for_version_q(version) and not f.is_array()
               for f in _struct_fields(field))


def _names_topics_by_id_only(field, version):
    fs = [f for f in _struct_fields(field) if f.for_version_q(version)]
    return any(_is_topic_id(f) for f in fs) and not any(_is_topic_name(f) and not f.is_array() for f in fs)


PARTITION_NAMES = {"partition_index", "partition", "index", "partition_id"}
PARTITION_ARRAY_NAMES = {"partitions", "partition_indexes"}


class MessageBuilder:
    """Fills a request or response schema with plausible values: every array that holds topics holds `topics`
    (names, or the ids of `topic_ids` where the version names topics by id only), every partition array the
    partitions `partitions`, every other array one element; `overrides` gives values by field name (e.g.
    error_code 0 for a server's answer). Tagged fields stay unset. With `ids_with_names`, a struct that has both a
    name and an id carries both (a Metadata response); otherwise the id is the zero UUID there, as clients send
    Metadata v10+ and DeleteTopics v6 by name."""

    def __init__(self, topics, topic_ids=None, partitions=(3, 7), acks=-1, records=b"", overrides=None,
                 ids_with_names=False):
        self.topics, self.topic_ids, self.partitions = list(topics), dict(topic_ids or {}), list(partitions)
        self.acks, self.records = acks, records
        self.overrides = dict(overrides or {})
        self.ids_with_names = ids_with_names

    def value(self, field, version, topic=None, partition=None):
        name = field.name
        if name in self.overrides and not (field.is_struct() or field.is_struct_array()):
            return self.overrides[name]
        if field.is_struct_array():
            if name == "forgotten_topics_data":
                return []  # a full fetch forgets nothing (those topics get no response entry)
            if _topic_struct(field, version):
                return [self.struct(field, version, topic=tp) for tp in self.topics]
            if name in PARTITION_ARRAY_NAMES or any(f.name in PARTITION_NAMES for f in _struct_fields(field)):
                if topic is not None:
                    return [self.struct(field, version, topic=topic, partition=p) for p in self.partitions]
            return [self.struct(field, version, topic=topic)]
        if field.is_struct():
            if name == "cursor":
                return None
            return self.struct(field, version, topic=topic)
        if field.is_array():
            inner = field.array_of
            if _is_topic_name(field):
                return list(self.topics)
            if name in PARTITION_ARRAY_NAMES and inner.type_str == "int32":
                return list(self.partitions)
            return [self.scalar(inner, version, topic, partition)]
        return self.scalar(field, version, topic, partition)

    def scalar(self, field, version, topic, partition):
        name, t = field.name, field.type_str
        if _is_topic_name(field):
            return topic if topic is not None else self.topics[0]
        if _is_topic_id(field):
            return self.topic_ids.get(topic, uuid.UUID(int=0)) if topic is not None else uuid.UUID(int=0)
        if name in PARTITION_NAMES and partition is not None and t == "int32":
            return partition
        if name == "acks":
            return self.acks
        if name in ("replica_id", "leader_id"):
            return -1
        if t in ("int8", "int16", "int32", "int64", "uint16"):
            return 1
        if t == "float64":
            return 1.0
        if t == "bool":
            return False
        if t == "uuid":
            return uuid.UUID("0123456789abcdef0123456789abcdef")
        if t == "string":
            return "s"
        if t == "records":
            return self.records
        if t == "bytes":
            return b"b"
        if t == "bitfield":
            return None
        raise ValueError(f"no value for {name}: {t}")

    def struct(self, field, version, topic=None, partition=None):
        fields = _fields_for(_struct_fields(field), version)
        values = {f.name: self.value(f, version, topic, partition) for f in fields}
        if not self.ids_with_names and any(_is_topic_name(f) for f in fields) and any(_is_topic_id(f) for f in fields):
            values["topic_id"] = uuid.UUID(int=0)
        return field.data_class(**values)

    def message(self, cls, version):
        fields = _fields_for(cls._struct._fields, version)
        return cls[version](**{f.name: self.value(f, version) for f in fields})

    def request(self, api_key, version):
        return self.message(REQUEST_CLASSES[api_key], version)

    def response(self, api_key, version):
        return self.message(RESPONSE_CLASSES[api_key], version)


def encode_request(message, correlation_id, client_id="kafka-python"):
    """kafka-python's own framing: size, request header (v1, or v2 with tagged fields when flexible), body."""
    message.with_header(correlation_id=correlation_id, client_id=client_id)
    return bytes(message.encode(header=True, framed=True))


def request_topics_by_id_only(api_key, version):
    """Whether the request's topic structs carry only ids in `version` (Produce v13, Fetch v13+, ...)."""
    cls = REQUEST_CLASSES[api_key]

    def walk(fields):
        for f in _fields_for(fields, version):
            if f.is_struct_array():
                if _topic_struct(f, version) and _names_topics_by_id_only(f, version):
                    return True
                if walk(_struct_fields(f)):
                    return True
        return False
    return walk(cls._struct._fields)


def request_has_topics(api_key, version):
    """Whether the request names topics (by name or id) in `version`, by the schema's entityType/topic_id."""
    cls = REQUEST_CLASSES[api_key]

    def walk(fields):
        for f in _fields_for(fields, version):
            if _is_topic_name(f) or _is_topic_id(f):
                return True
            if (f.is_struct_array() or f.is_struct()) and f.name != "cursor" and walk(_struct_fields(f)):
                return True
        return False
    return walk(cls._struct._fields)


def decode_response(api_key, version, data):
    """Decodes a framed response with kafka-python: the size must be the frame's; the header is v0 for ApiVersions
    and non-flexible versions, v1 (correlation id + tagged fields) for flexible ones; then the body with the
    response class of that key and version. Returns (correlation_id, header, body).

    Note for ApiVersions: kafka-python (like the Java client's fallback) reads an ApiVersions response whose
    error_code is not 0 with the version-0 body (error_code, int32-counted api_keys), as brokers answer with
    version 0 when they refuse the request's version; so a denial of ApiVersions must be a v0 body to decode here
    (a v3 body, with its compact array, does not)."""
    from kafka.protocol.api_header import ResponseHeader
    import io
    assert len(data) >= 4, data.hex()
    size = struct.unpack(">i", data[:4])[0]
    assert size == len(data) - 4, f"size {size}, frame of {len(data) - 4} bytes: {data.hex()}"
    cls = RESPONSE_CLASSES[api_key]
    flexible = cls.flexible_version_q(version) and api_key != API_VERSIONS
    stream = io.BytesIO(data[4:])
    header = ResponseHeader.decode(stream, flexible=flexible)
    rest = data[4 + stream.tell():]
    body = cls.decode(rest, version=version)
    return header.correlation_id, header, body


def encode_response(message, correlation_id):
    """A server response encoded by kafka-python (it chooses the header: v0, or v1 when flexible, but v0 always
    for ApiVersions)."""
    message.with_header(correlation_id=correlation_id)
    return bytes(message.encode(header=True, framed=True))


def walk_values(container, version):
    """Yields (field, value) for every untagged field of a message present in `version`, depth first."""
    for f in _fields_for(container._struct._fields, version):
        value = getattr(container, f.name)
        yield f, value
        if f.is_struct_array() and value:
            for item in value:
                yield from walk_values(item, version)
        elif f.is_struct() and value is not None:
            yield from walk_values(value, version)


def _is_error_field(f):
    return f.name.endswith("error_code") and f.type_str == "int16"


def error_codes(message, version):
    """Every int16 error field of a message (error_code, partition_error_code, ...), depth first."""
    return [v for f, v in walk_values(message, version) if _is_error_field(f)]


def top_level_error_codes(message, version):
    """The message's own error fields (not those of its topics, partitions, groups, ...)."""
    return [getattr(message, f.name) for f in _fields_for(message._struct._fields, version) if _is_error_field(f)]


def topic_entries(message, version):
    """(topic name, or id where the entry has no name, [partitions sorted]) per struct naming a topic, and per
    name of a topic-name array, depth first."""
    out = []

    def walk(container):
        for f in _fields_for(container._struct._fields, version):
            value = getattr(container, f.name)
            if f.is_struct_array() and value:
                inner = _fields_for(_struct_fields(f), version)
                for item in value:
                    names = [getattr(item, g.name) for g in inner if _is_topic_name(g) and not g.is_array()]
                    ids = [getattr(item, g.name) for g in inner if _is_topic_id(g)]
                    if names or ids:
                        key = names[0] if names and names[0] is not None else (ids[0] if ids else None)
                        out.append((key, sorted(_partitions_of(item, version))))
                    walk(item)
            elif f.is_struct() and value is not None:
                walk(value)
            elif f.is_array() and _is_topic_name(f) and value:
                out.extend((t, []) for t in value)
    walk(message)
    return out


def _partitions_of(item, version):
    parts = []
    for f in _fields_for(item._struct._fields, version):
        value = getattr(item, f.name)
        if f.is_struct_array() and value:
            for sub in value:
                parts += [getattr(sub, g.name) for g in _fields_for(_struct_fields(f), version)
                          if g.name in PARTITION_NAMES and g.type_str == "int32"]
        elif f.is_array() and f.name in PARTITION_ARRAY_NAMES and value and f.array_of.type_str == "int32":
            parts.extend(value)
    return parts


# ---- vectors through OnData and the datapath (the Cassandra suite's runner) -------------------------------------

def kafka_connect(library, instance, conn_id, policy_name="1.1.1.1", src_id=1000, dst_id=2000):
    result, conn = library.connect(instance, "kafka", conn_id, ingress=True, src_id=src_id, dst_id=dst_id,
                                   src_addr="1.1.1.1:34567", dst_addr="10.0.0.2:80", policy_name=policy_name)
    assert result == "OK", result
    return conn


def run_kafka_vector(library, npds, collector, instance, next_id, vector, src_id=1000, dst_id=2000, datapath=True):
    """`vector` (cassandra_support.Vector whose steps log KLog entries) through OnData, then through the datapath,
    each on a fresh connection; then the access log of both runs."""
    from cassandra_support import install, run_datapath, run_on_data
    runs = 2 if datapath else 1
    install(npds, vector.policy)
    conn = kafka_connect(library, instance, next_id(), vector.policy_name, src_id, dst_id)
    try:
        run_on_data(conn, vector, npds)
    finally:
        conn.close()
    if datapath:
        install(npds, vector.policy)
        conn = kafka_connect(library, instance, next_id(), vector.policy_name, src_id, dst_id)
        try:
            run_datapath(conn, vector, npds)
        finally:
            conn.close()
    if vector.logs:
        collector.wait_for_count(runs * len(vector.logs))
    check_kafka_entries(collector.settle(quiet=0.1), vector.logs * runs, vector.policy_name, src_id, dst_id)
