#!/usr/bin/env python3
"""Kafka request vectors for Tests/ProxylibParsersTests/Kafka/KafkaRequestVectorTests.swift.

An encoder of its own, driven by Apache Kafka's published message definitions (the `*Request.json` files of
clients/src/main/resources/common/message/ in apache/kafka), independent of the parser's hand-written Swift
tables. The definitions are not in this repository: pass one or more folders holding them, newest first, each
labelled with where it came from. For every api key and version the first folder whose file lists the version
is used (Kafka 4.0 removed old versions from the newest files; an older copy supplies them):

    python3 Tests/kafka/vectors/generate.py \\
        --json 'apache/kafka 4.3 (as vendored by dpkp/kafka-python@65113cfd)=/tmp/kjson/new' \\
        --json 'apache/kafka@aed0d799/0e54774e (stored file versions)=/tmp/kjson/stored' \\
        --json 'apache/kafka@1eb7644349cb (trunk, 2024-10-25, before KIP-896 removals)=/tmp/kjson/old' \\
        -o Tests/ProxylibParsersTests/Kafka/Vectors/kafka-requests.json

Encoding rules implemented here (Kafka protocol guide, KIP-482): big-endian fixed-width integers; unsigned
varints (7 bits a byte, low group first) for compact lengths and tags; STRING = int16 length (-1: null),
COMPACT_STRING = uvarint length + 1 (0: null); BYTES/RECORDS = int32 length (-1: null), compact forms with
uvarint length + 1; ARRAY = int32 count (-1: null), COMPACT_ARRAY = uvarint count + 1 (0: null); UUID = 16
bytes; in flexible versions every struct (and the message) ends with a tagged-field section: uvarint count, then
per field uvarint tag, uvarint size, data, in increasing tag order. Request header v1 = api_key int16,
api_version int16, correlation_id int32, client_id int16-length nullable string; header v2 (flexible versions)
adds a tagged-field section and keeps the int16-length client_id. Frames carry a 4-byte size prefix.

Content is deterministic (a PRNG seeded by the correlation id). Topic names come from a small plan per vector;
fields the plan does not cover are filled with plausible values. Known tagged fields are written in "rich"
vectors, together with unknown tags (numbers above every known tag) carrying a few bytes, so that a reader's
skipping is exercised; header v2 gets an unknown tag in rich vectors too.
"""

import argparse
import json
import os
import random
import struct
import sys

# ---------------------------------------------------------------------------------------------------------------
# Reading the definitions: JSON with // comments.


def strip_comments(text):
    out = []
    i, n = 0, len(text)
    in_string = False
    while i < n:
        c = text[i]
        if in_string:
            out.append(c)
            if c == "\\" and i + 1 < n:
                out.append(text[i + 1])
                i += 2
                continue
            if c == '"':
                in_string = False
        elif c == '"':
            in_string = True
            out.append(c)
        elif text.startswith("//", i):
            while i < n and text[i] != "\n":
                i += 1
            continue
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
            continue
        else:
            out.append(c)
        i += 1
    return "".join(out)


class Versions:
    """A version range as the definitions spell it: "none", "3", "1-4", "5+"."""

    def __init__(self, spec):
        spec = (spec or "none").strip()
        if spec == "none":
            self.lo, self.hi = 1, 0
        elif spec.endswith("+"):
            self.lo, self.hi = int(spec[:-1]), 1 << 15
        elif "-" in spec:
            a, b = spec.split("-")
            self.lo, self.hi = int(a), int(b)
        else:
            self.lo = self.hi = int(spec)
        self.spec = spec

    def __contains__(self, v):
        return self.lo <= v <= self.hi

    def __repr__(self):
        return self.spec


class Message:
    def __init__(self, path, label):
        with open(path, encoding="utf-8") as f:
            spec = json.loads(strip_comments(f.read()))
        self.file = os.path.basename(path)
        self.label = label
        self.name = spec["name"]
        self.api_key = spec.get("apiKey")
        self.valid = Versions(spec.get("validVersions"))
        self.flexible = Versions(spec.get("flexibleVersions"))
        self.fields = spec.get("fields", [])
        self.common = {s["name"]: s["fields"] for s in spec.get("commonStructs", [])}

    def struct_fields(self, field):
        """The fields of a struct-typed field (inline, or a common struct)."""
        if "fields" in field:
            return field["fields"]
        t = field["type"][2:] if field["type"].startswith("[]") else field["type"]
        return self.common[t]


PRIMITIVES = {"bool", "int8", "int16", "uint16", "int32", "uint32", "int64", "float64", "string", "bytes",
              "records", "uuid"}


def is_tagged(field, version):
    return "tag" in field and version in Versions(field.get("taggedVersions", field.get("versions")))


def nullable(field, version):
    return version in Versions(field.get("nullableVersions"))


# ---------------------------------------------------------------------------------------------------------------
# Primitive encoders.


def uvarint(n):
    assert n >= 0
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def varint(n):  # zigzag, for completeness (RECORDS internals use it; the vectors' records are opaque)
    return uvarint((n << 1) ^ (n >> 63))


def enc_string(s, flexible):
    if s is None:
        return uvarint(0) if flexible else struct.pack(">h", -1)
    b = s.encode("utf-8")
    return (uvarint(len(b) + 1) if flexible else struct.pack(">h", len(b))) + b


def enc_bytes(b, flexible):
    if b is None:
        return uvarint(0) if flexible else struct.pack(">i", -1)
    return (uvarint(len(b) + 1) if flexible else struct.pack(">i", len(b))) + b


def enc_array_len(n, flexible):
    if n is None:
        return uvarint(0) if flexible else struct.pack(">i", -1)
    return uvarint(n + 1) if flexible else struct.pack(">i", n)


FIXED = {"bool": ">?", "int8": ">b", "int16": ">h", "uint16": ">H", "int32": ">i", "uint32": ">I",
         "int64": ">q", "float64": ">d"}


def enc_primitive(t, value, flexible):
    if t in FIXED:
        return struct.pack(FIXED[t], value)
    if t == "string":
        return enc_string(value, flexible)
    if t in ("bytes", "records"):
        return enc_bytes(value, flexible)
    if t == "uuid":
        assert len(value) == 16
        return value
    raise ValueError(t)


# ---------------------------------------------------------------------------------------------------------------
# What goes into a vector.

TOPIC_UUIDS = {
    "orders": bytes.fromhex("6f7264657273000040008000000000a1"),
    "audit.log": bytes.fromhex("61756469742e6c6f4000800000000a02"),
    "tenant-1_x": bytes.fromhex("74656e616e742d314000800000000a03"),
}

# Where each topic-bearing request lists its topics: candidate paths of field names from the message root; the
# first whose fields all exist in the version is used. Inside a topic entry, the name is the string field
# `Name`/`Topic`/`ResourceName`, the id the uuid `TopicId`, the partitions the field `Partitions`,
# `PartitionData` or `PartitionIndexes` ([]int32, or structs whose first int32 field is the index).
TOPIC_PATHS = {
    0: [["TopicData"]], 1: [["Topics"]], 2: [["Topics"]], 3: [["Topics"]], 8: [["Topics"]],
    9: [["Topics"], ["Groups", "Topics"]], 19: [["Topics"]], 20: [["TopicNames"], ["Topics"]],
    21: [["Topics"]], 23: [["Topics"]], 24: [["V3AndBelowTopics"], ["Transactions", "Topics"]],
    27: [["Markers", "Topics"]], 28: [["Topics"]], 32: [["Resources"]], 33: [["Resources"]],
    34: [["Dirs", "Topics"]], 35: [["Topics"]], 37: [["Topics"]], 43: [["TopicPartitions"]],
    44: [["Resources"]], 45: [["Topics"]], 46: [["Topics"]], 47: [["Topics"]], 61: [["Topics"]],
    75: [["Topics"]],
}
NAME_FIELDS = ("Name", "Topic", "ResourceName")
PARTITION_FIELDS = ("Partitions", "PartitionData", "PartitionIndexes")
CONFIG_APIS = (32, 33, 44)

# The topic-less client requests (and their names), besides the topic-bearing ones above.
TOPICLESS = [10, 11, 12, 13, 14, 15, 16, 17, 18, 22, 25, 26, 29, 30, 31, 36, 38, 39, 40, 41, 42, 48, 49, 50, 51,
             57, 60, 65, 66, 68, 69, 71, 72]


class Plan:
    """One vector's choices."""

    def __init__(self, api_key, version, correlation_id, client_id, topics, acks=1, rich=False, groups=1,
                 null_topics=False, id_only=False, broker_resource=False, label=""):
        self.api_key = api_key
        self.version = version
        self.correlation_id = correlation_id
        self.client_id = client_id
        self.topics = topics  # [(name, [partitions])]
        self.acks = acks
        self.rich = rich
        self.groups = groups
        self.null_topics = null_topics
        self.id_only = id_only
        self.broker_resource = broker_resource
        self.label = label


class Encoder:
    def __init__(self, message, plan):
        self.m = message
        self.plan = plan
        self.v = plan.version
        self.flex = self.v in message.flexible
        self.rng = random.Random(plan.correlation_id * 7919 + plan.api_key)
        self.recorded = []  # (name or None, id hex or None, partitions or None) in request order
        self.struct_count = 0
        self.in_tagged = 0

    # -- generic values -----------------------------------------------------------------------------------------
    def value(self, field, t):
        name = field["name"]
        nul = nullable(field, self.v)
        if t == "bool":
            return True
        if t == "int8":
            return 1
        if t == "int16":
            if name == "Acks":
                return self.plan.acks
            return self.rng.randint(0, 300)
        if t in ("int32", "uint16"):
            if name.endswith("TimeoutMs") or name.endswith("Ms"):
                return 30000
            return self.rng.randint(0, 5000)
        if t == "uint32":
            return self.rng.randint(0, 1 << 20)
        if t == "int64":
            return self.rng.randint(0, 1 << 40)
        if t == "float64":
            return 1.5
        if t == "uuid":
            if name == "TopicId":
                return TOPIC_UUIDS[self.plan.topics[0][0]] if self.plan.topics else TOPIC_UUIDS["orders"]
            return bytes(self.rng.getrandbits(8) for _ in range(16))
        if t == "string":
            if field.get("entityType") == "topicName":
                return self.plan.topics[0][0] if self.plan.topics else "orders"
            if nul and self.rng.random() < 0.3:
                return None
            return "k-" + name.lower()[:12]
        if t == "bytes":
            if nul and self.rng.random() < 0.3:
                return None
            return bytes([0x00, 0x01, 0xFE, self.rng.randint(0, 255)])
        if t == "records":
            # Opaque to the parser: never a real record batch.
            return b"\x00\x00\x00\x00\x00\x00\x00\x07REC" + bytes([self.rng.randint(0, 255)])
        raise ValueError(t)

    # -- structure ----------------------------------------------------------------------------------------------
    def field_bytes(self, field, override=None):
        """Encodes one field with a generated value (or `override`, a callable producing the bytes)."""
        if override is not None:
            return override()
        t = field["type"]
        if t in PRIMITIVES:
            return enc_primitive(t, self.value(field, t), self.flex)
        if t.startswith("[]"):
            inner = t[2:]
            if nullable(field, self.v) and self.rng.random() < 0.15 and field["name"] not in ("Partitions",):
                return enc_array_len(None, self.flex)
            if inner in PRIMITIVES:
                count = 2
                out = enc_array_len(count, self.flex)
                for _ in range(count):
                    out += enc_primitive(inner, self.value(field, inner), self.flex)
                return out
            count = 1
            out = enc_array_len(count, self.flex)
            for _ in range(count):
                out += self.struct(self.m.struct_fields(field), ["~" + field["name"]])
            return out
        # A single struct.
        if nullable(field, self.v) and self.rng.random() < 0.5:
            return b"\xff"  # int8 -1: a null struct
        body = self.struct(self.m.struct_fields(field), ["~" + field["name"]])
        return (b"\x01" + body) if nullable(field, self.v) else body

    def struct(self, fields, path, overrides=None):
        overrides = overrides or {}
        out = b""
        tagged = []
        for f in fields:
            if is_tagged(f, self.v):
                tagged.append(f)
                continue
            if self.v not in Versions(f.get("versions")):
                continue
            out += self.field_bytes(f, overrides.get(f["name"]) or self.topic_override(f, path))
        if self.flex:
            out += self.tag_section(tagged, overrides)
        return out

    def tag_section(self, tagged, overrides):
        self.struct_count += 1
        entries = []
        if self.plan.rich:
            for f in tagged:
                self.in_tagged += 1  # a tagged struct's own section stays empty (kafka-python insists on it)
                entries.append((f["tag"], self.field_bytes(f, overrides.get(f["name"]))))
                self.in_tagged -= 1
            if self.struct_count % 2 == 1 and not self.in_tagged:
                top = max([f["tag"] for f in tagged], default=-1)
                base = max(top + 1, 40)
                entries.append((base + self.struct_count, bytes([0xCA, 0xFE, self.struct_count & 0xFF])))
        out = uvarint(len(entries))
        for tag, data in sorted(entries):
            out += uvarint(tag) + uvarint(len(data)) + data
        return out

    # -- topics -------------------------------------------------------------------------------------------------
    def topic_path(self):
        for path in TOPIC_PATHS.get(self.plan.api_key, []):
            fields = self.m.fields
            ok = True
            for i, name in enumerate(path):
                f = next((f for f in fields if f["name"] == name and self.v in Versions(f.get("versions"))), None)
                if f is None:
                    ok = False
                    break
                if i + 1 < len(path):
                    fields = self.m.struct_fields(f)
            if ok:
                return path
        return None

    def topic_override(self, field, path):
        tp = self.topic_path()
        if tp is None:
            return None
        here = path + [field["name"]]
        if here == tp:
            return lambda: self.topic_array(field)
        if here == tp[:len(here)]:
            return lambda: self.outer_array(field, here)
        return None

    def outer_array(self, field, here):
        """An array on the way to the topics (OffsetFetch groups, transactions, markers, log dirs)."""
        groups = self.plan.groups
        out = enc_array_len(groups, self.flex)
        chunks = split(self.plan.topics, groups)
        for chunk in chunks:
            saved = self.plan.topics
            self.plan.topics = chunk
            out += self.struct(self.m.struct_fields(field), here)
            self.plan.topics = saved
        return out

    def topic_array(self, field):
        t = field["type"]
        plan = self.plan
        if plan.null_topics:
            assert nullable(field, self.v), "topics not nullable in this version"
            return enc_array_len(None, self.flex)
        if t == "[]string":  # DeleteTopics v0-5
            out = enc_array_len(len(plan.topics), self.flex)
            for name, _ in plan.topics:
                out += enc_string(name, self.flex)
                self.recorded.append((name, None, None))
            return out
        fields = self.m.struct_fields(field)
        entries = list(plan.topics)
        resources = []
        if plan.api_key in CONFIG_APIS:
            resources = [(2, n, p) for n, p in entries]
            if plan.broker_resource:
                resources.insert(1, (4, "1", None))
        else:
            resources = [(None, n, p) for n, p in entries]
        out = enc_array_len(len(resources), self.flex)
        for rtype, name, parts in resources:
            out += self.topic_entry(fields, rtype, name, parts)
        return out

    def topic_entry(self, fields, rtype, name, parts):
        v = self.v
        live = [f for f in fields if v in Versions(f.get("versions")) and not is_tagged(f, v)]
        name_field = next((f for f in live if f["name"] in NAME_FIELDS and f["type"] == "string"), None)
        id_field = next((f for f in live if f["name"] == "TopicId" and f["type"] == "uuid"), None)
        part_field = next((f for f in live if f["name"] in PARTITION_FIELDS), None)
        overrides = {}
        topic_id = TOPIC_UUIDS.get(name)
        wire_name = name
        record_id = None
        if id_field is not None:
            if name_field is None:
                wire_name = None
            if name_field is None or self.plan.id_only:
                record_id = topic_id
                overrides["TopicId"] = lambda: topic_id
                if name_field is not None:
                    wire_name = None
                    assert nullable(name_field, v), "id-only topic needs a nullable name"
            else:
                overrides["TopicId"] = lambda: bytes(16)  # names given: the zero id, as clients send
        if name_field is not None:
            overrides[name_field["name"]] = lambda: enc_string(wire_name, self.flex)
        if rtype is not None:
            overrides["ResourceType"] = lambda: struct.pack(">b", rtype)
        recorded_parts = None
        if part_field is not None:
            recorded_parts = list(parts)
            if part_field["type"] == "[]int32":
                overrides[part_field["name"]] = lambda: enc_array_len(len(parts), self.flex) + b"".join(
                    struct.pack(">i", p) for p in parts)
            else:
                pfields = self.m.struct_fields(part_field)

                def partitions():
                    out = enc_array_len(len(parts), self.flex)
                    index = next(f for f in pfields if f["type"] == "int32" and v in Versions(f.get("versions")))
                    for p in parts:
                        out += self.struct(pfields, ["<partition>"], {index["name"]: (lambda p=p: struct.pack(">i", p))})
                    return out
                overrides[part_field["name"]] = partitions
        if rtype == 4:
            recorded = None
        elif record_id is not None and wire_name is None:
            recorded = (None, record_id.hex(), recorded_parts)
        else:
            recorded = (name, None, recorded_parts)
        saved = self.plan.topics
        self.plan.topics = [(name, parts)] if name in TOPIC_UUIDS else saved
        body = self.struct(fields, ["<topic>"], overrides)
        self.plan.topics = saved
        if recorded is not None:
            self.recorded.append(recorded)
        return body

    # -- frame --------------------------------------------------------------------------------------------------
    def body(self):
        return self.struct(self.m.fields, [])

    def header(self):
        p = self.plan
        out = struct.pack(">hhi", p.api_key, p.version, p.correlation_id) + enc_string(p.client_id, False)
        if self.flex:
            if p.rich:
                out += uvarint(1) + uvarint(3) + uvarint(2) + b"\x7a\x7b"
            else:
                out += uvarint(0)
        return out


def split(items, k):
    if k <= 1:
        return [items]
    size = (len(items) + k - 1) // k
    return [items[i * size:(i + 1) * size] for i in range(k)]


# ---------------------------------------------------------------------------------------------------------------
# Sources and versions.


class Catalog:
    def __init__(self, sources):
        self.sources = sources  # [(label, folder)]
        self.cache = {}

    def files_for(self, api_key, kind="Request"):
        out = []
        for label, folder in self.sources:
            for name in sorted(os.listdir(folder)):
                if not name.endswith(kind + ".json"):
                    continue
                key = (folder, name)
                if key not in self.cache:
                    self.cache[key] = Message(os.path.join(folder, name), label)
                m = self.cache[key]
                if m.api_key == api_key:
                    out.append(m)
        return out

    def message(self, api_key, version, kind="Request"):
        for m in self.files_for(api_key, kind):
            if version in m.valid:
                return m
        raise KeyError((api_key, version))

    def versions(self, api_key):
        vs = set()
        for m in self.files_for(api_key):
            if m.valid.lo <= m.valid.hi:
                vs.update(range(m.valid.lo, m.valid.hi + 1))
        return sorted(vs)


PLANS = [
    [("orders", [0, 1]), ("audit.log", [0]), ("tenant-1_x", [2, 0, 1])],
    [("audit.log", [1]), ("orders", [0])],
    [("orders", [0]), ("tenant-1_x", [1]), ("orders", [2])],  # a duplicate topic
    [("tenant-1_x", [0, 1]), ("audit.log", [2])],
]


def build(catalog):
    vectors = []
    ranges = {}
    corr = [1000]

    def add(api_key, version, label, **kw):
        corr[0] += 17
        m = catalog.message(api_key, version)
        client = kw.pop("client_id", "kvec-%d" % api_key)
        plan_index = kw.pop("plan", len(vectors) % len(PLANS))
        topics = [] if api_key not in TOPIC_PATHS else [(n, list(p)) for n, p in PLANS[plan_index]]
        plan = Plan(api_key, version, kw.pop("correlation_id", corr[0]), client, topics, label=label, **kw)
        enc = Encoder(m, plan)
        body = enc.body()
        header = enc.header()
        frame = struct.pack(">i", len(header) + len(body)) + header + body
        v = {
            "name": "%s v%d %s" % (m.name[:-len("Request")], version, label),
            "api_key": api_key,
            "api_version": version,
            "correlation_id": plan.correlation_id,
            "client_id": client,
            "topic_bearing": api_key in TOPIC_PATHS,
            "topics": [r[0] for r in enc.recorded],
            "topic_ids": [r[1] for r in enc.recorded],
            "partitions": [r[2] for r in enc.recorded],
        }
        if api_key == 0:
            v["acks"] = plan.acks
        v["flexible"] = enc.flex
        v["source"] = "%s: %s" % (m.label, m.file)
        v["frame_hex"] = frame.hex()
        vectors.append(v)

    for api_key in sorted(TOPIC_PATHS) + TOPICLESS:
        vs = catalog.versions(api_key)
        if not vs:
            print("no definition for api key %d" % api_key, file=sys.stderr)
            continue
        lo, hi = vs[0], vs[-1]
        picks = {lo: "lowest", hi: "newest"}
        mid = (lo + hi) // 2
        picks.setdefault(mid, "middle")
        flex = next((v for v in vs if v in catalog.message(api_key, v).flexible), None)
        if flex is not None:
            picks.setdefault(flex, "first flexible")
        ranges[str(api_key)] = {
            "name": catalog.message(api_key, hi).name[:-len("Request")],
            "versions": "%d-%d" % (lo, hi),
            "flexible_from": flex,
            "vectors": sorted(picks),
            "sources": ["%s: %s %s" % (m.label, m.file, m.valid) for m in catalog.files_for(api_key)],
        }
        for n, version in enumerate(sorted(picks)):
            add(api_key, version, picks[version], rich=(n % 2 == 1))
        # Extras.
        if api_key == 0:
            add(0, 9, "acks=0", acks=0, plan=0)
            add(0, hi, "acks=0", acks=0, plan=1, rich=True)
            add(0, 3, "null client_id", client_id=None, plan=2)
        if api_key == 3:
            add(3, 1, "all topics (null array)", null_topics=True)
            add(3, hi, "all topics (null array)", null_topics=True, rich=True)
            add(3, 12, "topics by id only", id_only=True, plan=0)
            add(3, 10, "names and zero ids", plan=2, rich=True)
        if api_key == 9:
            add(9, 8, "two groups", groups=2, plan=0)
            add(9, hi, "two groups", groups=2, plan=2, rich=True)
            add(9, 2, "all topics (null array)", null_topics=True)
        if api_key == 20:
            add(20, 6, "topics by id only", id_only=True, plan=1)
        if api_key in CONFIG_APIS:
            add(api_key, lo, "with a broker resource", broker_resource=True, plan=1)
            add(api_key, hi, "with a broker resource", broker_resource=True, plan=2, rich=True)
        if api_key == 18:
            add(18, hi, "null client_id", client_id=None)
    return vectors, ranges


def metadata_prelude(catalog, version=12):
    """A Metadata request naming the three topics and the server's answer mapping them to their ids."""
    names = ["orders", "audit.log", "tenant-1_x"]
    req_m = catalog.message(3, version)
    plan = Plan(3, version, 77, "kvec-metadata", [(n, [0]) for n in names], label="prelude")
    enc = Encoder(req_m, plan)
    body = enc.body()
    header = enc.header()
    request = struct.pack(">i", len(header) + len(body)) + header + body
    resp_m = catalog.message(3, version, kind="Response")
    rplan = Plan(3, version, 77, None, [], label="prelude")
    renc = Encoder(resp_m, rplan)
    topic_field = next(f for f in resp_m.fields if f["name"] == "Topics")
    tfields = resp_m.struct_fields(topic_field)

    def topics():
        out = enc_array_len(len(names), renc.flex)
        for n in names:
            out += renc.struct(tfields, ["<t>"], {
                "ErrorCode": lambda: struct.pack(">h", 0),
                "Name": lambda n=n: enc_string(n, renc.flex),
                "TopicId": lambda n=n: TOPIC_UUIDS[n],
            })
        return out
    rbody = renc.struct(resp_m.fields, [], {"Topics": topics, "ErrorCode": lambda: struct.pack(">h", 0)})
    rheader = struct.pack(">i", 77) + (uvarint(0) if renc.flex else b"")
    response = struct.pack(">i", len(rheader) + len(rbody)) + rheader + rbody
    return {
        "api_version": version,
        "request_hex": request.hex(),
        "response_hex": response.hex(),
        "topic_ids": {n: TOPIC_UUIDS[n].hex() for n in names},
        "source": "%s: %s, %s: %s" % (req_m.label, req_m.file, resp_m.label, resp_m.file),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", action="append", required=True, metavar="LABEL=FOLDER",
                    help="a folder of Kafka message definitions and where it came from; newest first")
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args()
    sources = []
    for item in args.json:
        label, _, folder = item.rpartition("=")
        if not label or not os.path.isdir(folder):
            ap.error("--json wants LABEL=FOLDER: %r" % item)
        sources.append((label, folder))
    catalog = Catalog(sources)
    vectors, ranges = build(catalog)
    doc_head = {
        "generated_by": "Tests/kafka/vectors/generate.py",
        "sources": [label for label, _ in sources],
        "api_versions": ranges,
        "topic_uuids": {n: u.hex() for n, u in TOPIC_UUIDS.items()},
        "metadata_prelude": metadata_prelude(catalog),
    }
    with open(args.output, "w", encoding="utf-8") as f:
        f.write("{\n")
        for k, val in doc_head.items():
            if k == "api_versions":
                f.write('"api_versions": {\n')
                f.write(",\n".join("  %s: %s" % (json.dumps(key), json.dumps(r)) for key, r in val.items()))
                f.write("\n},\n")
            else:
                f.write("%s: %s,\n" % (json.dumps(k), json.dumps(val)))
        f.write('"vectors": [\n')
        f.write(",\n".join(json.dumps(v) for v in vectors))
        f.write("\n]\n}\n")
    counts = {}
    for v in vectors:
        counts[v["api_key"]] = counts.get(v["api_key"], 0) + 1
    print("%d vectors for %d api keys" % (len(vectors), len(counts)), file=sys.stderr)


if __name__ == "__main__":
    main()
