"""The toy database behind cql_server.py: CQL types, a small CQL parser and an in-memory table store with the
system tables a driver reads when it connects (system.local, system.peers, system_schema.*).

This is test code, not Cassandra: it understands the statements the end-to-end tests and the drivers send —
SELECT (columns or *, WHERE col = term / col IN (terms) joined by AND, LIMIT), INSERT, UPDATE, DELETE, TRUNCATE,
USE, CREATE/DROP KEYSPACE, CREATE/DROP TABLE, BEGIN BATCH ... APPLY BATCH — with literals and bind markers
(`?`, `:name`). Restrictions are plain filters (no partition-key rules, no ALLOW FILTERING needed), rows come
back in primary-key order, and collections exist only for the system tables' own columns. Anything else is a
syntax error the client sees."""
import hashlib
import re
import threading
import uuid

from cassandra import cqltypes

# ---------------------------------------------------------------------------------------------------------------
# Errors as the native protocol carries them

SERVER_ERROR = 0x0000
PROTOCOL_ERROR = 0x000A
SYNTAX_ERROR = 0x2000
INVALID = 0x2200
CONFIG_ERROR = 0x2300
ALREADY_EXISTS = 0x2400
UNPREPARED = 0x2500


class CqlError(Exception):
    """An ERROR response: code, message and the code's extra fields (already encoded by the server)."""

    def __init__(self, code, message, **extra):
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra


# ---------------------------------------------------------------------------------------------------------------
# Types: CQL name -> (option id, driver marshalling class)

_SIMPLE_TYPES = {
    "ascii": (0x0001, cqltypes.AsciiType),
    "bigint": (0x0002, cqltypes.LongType),
    "blob": (0x0003, cqltypes.BytesType),
    "boolean": (0x0004, cqltypes.BooleanType),
    "counter": (0x0005, cqltypes.CounterColumnType),
    "double": (0x0007, cqltypes.DoubleType),
    "float": (0x0008, cqltypes.FloatType),
    "int": (0x0009, cqltypes.Int32Type),
    "timestamp": (0x000B, cqltypes.DateType),
    "uuid": (0x000C, cqltypes.UUIDType),
    "text": (0x000D, cqltypes.UTF8Type),
    "varchar": (0x000D, cqltypes.UTF8Type),
    "varint": (0x000E, cqltypes.IntegerType),
    "timeuuid": (0x000F, cqltypes.TimeUUIDType),
    "inet": (0x0010, cqltypes.InetAddressType),
    "smallint": (0x0013, cqltypes.ShortType),
    "tinyint": (0x0014, cqltypes.ByteType),
}
_COLLECTIONS = {"list": (0x0020, cqltypes.ListType), "map": (0x0021, cqltypes.MapType),
                "set": (0x0022, cqltypes.SetType)}


class CqlType:
    """A column type: its CQL name, its [option] encoding for result metadata, and (de)serialization."""

    def __init__(self, name, params=()):
        self.params = tuple(params)
        if params:
            option, kind = _COLLECTIONS[name]
            self.marshal = kind.apply_parameters([p.marshal for p in params])
            self.name = f"{name}<{', '.join(p.name for p in params)}>"
        else:
            option, self.marshal = _SIMPLE_TYPES[name]
            self.name = "text" if name == "varchar" else name
        self.option_id = option

    def option(self):
        """The type's [option] bytes."""
        return b"".join([self.option_id.to_bytes(2, "big")] + [p.option() for p in self.params])

    def serialize(self, value, version):
        return None if value is None else self.marshal.to_binary(value, version)

    def deserialize(self, data, version):
        return None if data is None else self.marshal.from_binary(data, version)

    def coerce(self, literal):
        """A literal of the query text as a value of this type (CqlError when it cannot be one)."""
        if literal is None:
            return None
        base = self.name.split("<")[0]
        ok = {
            "ascii": str, "text": str, "inet": str, "bigint": int, "int": int, "smallint": int, "tinyint": int,
            "varint": int, "counter": int, "timestamp": int, "double": (int, float), "float": (int, float),
            "boolean": bool, "uuid": uuid.UUID, "timeuuid": uuid.UUID, "blob": bytes,
        }.get(base)
        if ok is None or not isinstance(literal, ok) or (isinstance(literal, bool) and base != "boolean"):
            raise CqlError(INVALID, f"Invalid literal {literal!r} for a column of type {self.name}")
        return float(literal) if base in ("double", "float") else literal

    def __repr__(self):
        return self.name


def parse_type(text):
    """'text', 'set<text>', 'map<text, text>' -> CqlType."""
    tokens = re.findall(r"\w+|[<>,]", text.lower())
    t, rest = _type_from_tokens(tokens)
    if rest:
        raise CqlError(SYNTAX_ERROR, f"Unexpected {' '.join(rest)!r} after type {t.name}")
    return t


def _type_from_tokens(tokens):
    if not tokens:
        raise CqlError(SYNTAX_ERROR, "Missing type")
    name, rest = tokens[0], tokens[1:]
    if name == "frozen" and rest[:1] == ["<"]:
        inner, rest = _type_from_tokens(rest[1:])
        if rest[:1] != [">"]:
            raise CqlError(SYNTAX_ERROR, "Unterminated frozen<...>")
        return inner, rest[1:]
    if name in _COLLECTIONS:
        if rest[:1] != ["<"]:
            raise CqlError(SYNTAX_ERROR, f"{name} needs type parameters")
        params, rest = [], rest[1:]
        while True:
            p, rest = _type_from_tokens(rest)
            params.append(p)
            if rest[:1] == [","]:
                rest = rest[1:]
                continue
            if rest[:1] == [">"]:
                rest = rest[1:]
                break
            raise CqlError(SYNTAX_ERROR, f"Bad type parameters for {name}")
        if len(params) != (2 if name == "map" else 1):
            raise CqlError(SYNTAX_ERROR, f"Wrong number of type parameters for {name}")
        return CqlType(name, params), rest
    if name not in _SIMPLE_TYPES:
        raise CqlError(SYNTAX_ERROR, f"Unknown type {name}")
    return CqlType(name), rest


# ---------------------------------------------------------------------------------------------------------------
# Lexer

_TOKEN = re.compile(r"""
    (?P<space>\s+|--[^\n]*|//[^\n]*|/\*.*?\*/)
  | (?P<string>'(?:[^']|'')*')
  | (?P<qident>"(?:[^"]|"")+")
  | (?P<uuid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?![\w-]))
  | (?P<blob>0[xX][0-9a-fA-F]*(?!\w))
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?!\w))
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<named>:[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct><=|>=|!=|[(),.;=*<>?{}\[\]:+-])
""", re.S | re.X)


class Token:
    def __init__(self, kind, text, value):
        self.kind, self.text, self.value = kind, text, value

    def __repr__(self):
        return self.text


def tokenize(query):
    tokens, pos = [], 0
    while pos < len(query):
        m = _TOKEN.match(query, pos)
        if not m:
            raise CqlError(SYNTAX_ERROR, f"line 1:{pos} unexpected character {query[pos]!r}")
        pos = m.end()
        kind, text = m.lastgroup, m.group()
        if kind == "space":
            continue
        if kind == "string":
            value = text[1:-1].replace("''", "'")
        elif kind == "qident":
            value = text[1:-1].replace('""', '"')
        elif kind == "ident":
            value = text.lower()
        elif kind == "uuid":
            value = uuid.UUID(text)
        elif kind == "blob":
            value = bytes.fromhex(text[2:])
        elif kind == "number":
            value = float(text) if any(c in text for c in ".eE") else int(text)
        elif kind == "named":
            value = text[1:].lower()
        else:
            value = text
        tokens.append(Token(kind, text, value))
    return tokens


# ---------------------------------------------------------------------------------------------------------------
# Statements

class Marker:
    """A bind marker: its position among the statement's markers, and its name for `:name` markers."""

    def __init__(self, index, name=None):
        self.index, self.name = index, name


class Statement:
    """kind: select, insert, update, delete, truncate, use, create_keyspace, create_table, drop_keyspace,
    drop_table, batch (BEGIN BATCH ... APPLY BATCH: `statements`). `table` is (keyspace or None, name); `markers`
    lists (Marker, column name) in order."""

    def __init__(self, kind, **fields):
        self.kind = kind
        self.table = None
        self.markers = []
        self.__dict__.update(fields)


class _Parser:
    def __init__(self, query):
        self.tokens = tokenize(query)
        self.pos = 0
        self.markers = []

    def peek(self, offset=0):
        i = self.pos + offset
        return self.tokens[i] if i < len(self.tokens) else None

    def at(self, *words):
        t = self.peek()
        return t is not None and t.kind in ("ident", "punct") and t.value in words

    def accept(self, *words):
        if self.at(*words):
            self.pos += 1
            return True
        return False

    def expect(self, word):
        if not self.accept(word):
            found = self.peek()
            raise CqlError(SYNTAX_ERROR, f"line 1:{self.pos} expecting {word.upper()!r}, "
                                         f"got {found.text if found else 'end of input'!r}")

    def name(self, what="name"):
        t = self.peek()
        if t is None or t.kind not in ("ident", "qident"):
            raise CqlError(SYNTAX_ERROR, f"expecting a {what}, got {t.text if t else 'end of input'!r}")
        self.pos += 1
        return t.value

    def table_name(self):
        first = self.name("table name")
        if self.accept("."):
            return (first, self.name("table name"))
        return (None, first)

    def term(self, column):
        t = self.peek()
        if t is None:
            raise CqlError(SYNTAX_ERROR, "expecting a value, got end of input")
        self.pos += 1
        if t.kind == "punct" and t.value == "?":
            m = Marker(len(self.markers))
        elif t.kind == "named":
            m = Marker(len(self.markers), t.value)
        elif t.kind in ("string", "number", "uuid", "blob"):
            return ("literal", t.value)
        elif t.kind == "ident" and t.value in ("true", "false"):
            return ("literal", t.value == "true")
        elif t.kind == "ident" and t.value == "null":
            return ("literal", None)
        elif t.kind == "punct" and t.value == "-" and self.peek() and self.peek().kind == "number":
            self.pos += 1
            return ("literal", -self.tokens[self.pos - 1].value)
        else:
            raise CqlError(SYNTAX_ERROR, f"unsupported value {t.text!r} (this test server knows literals and "
                                         "bind markers only)")
        self.markers.append((m, column))
        return ("marker", m)

    def end(self):
        self.accept(";")
        if self.peek() is not None:
            raise CqlError(SYNTAX_ERROR, f"line 1:{self.pos} unexpected {self.peek().text!r}")

    def where(self):
        conditions = []
        if self.accept("where"):
            while True:
                column = self.name("column name")
                if self.accept("="):
                    conditions.append((column, "=", [self.term(column)]))
                elif self.accept("in"):
                    self.expect("(")
                    terms = [self.term(column)]
                    while self.accept(","):
                        terms.append(self.term(column))
                    self.expect(")")
                    conditions.append((column, "in", terms))
                else:
                    raise CqlError(SYNTAX_ERROR, f"only = and IN restrictions are supported (column {column})")
                if not self.accept("and"):
                    break
        return conditions

    def using(self):
        if self.accept("using"):
            while True:
                if not self.accept("ttl", "timestamp"):
                    raise CqlError(SYNTAX_ERROR, "expecting TTL or TIMESTAMP after USING")
                self.term(None)
                if not self.accept("and"):
                    break

    def skip_rest(self):
        """WITH options of CREATE statements: accepted and ignored."""
        self.pos = len(self.tokens)


def parse(query):
    p = _Parser(query)
    s = _statement(p)
    p.end()
    s.markers = p.markers
    return s


def _statement(p):
    if p.accept("begin"):
        return _text_batch(p)
    if p.accept("select"):
        s = _select(p)
    elif p.accept("insert"):
        p.expect("into")
        table = p.table_name()
        p.expect("(")
        columns = [p.name("column name")]
        while p.accept(","):
            columns.append(p.name("column name"))
        p.expect(")")
        p.expect("values")
        p.expect("(")
        values = [p.term(columns[0])]
        while p.accept(","):
            values.append(p.term(columns[len(values)] if len(values) < len(columns) else None))
        p.expect(")")
        if len(values) != len(columns):
            raise CqlError(INVALID, "Unmatched column names/values")
        if p.accept("if"):
            raise CqlError(INVALID, "conditional updates (IF) are not supported by this test server")
        p.using()
        s = Statement("insert", table=table, assignments=list(zip(columns, values)))
    elif p.accept("update"):
        table = p.table_name()
        p.using()
        p.expect("set")
        assignments = []
        while True:
            column = p.name("column name")
            p.expect("=")
            assignments.append((column, p.term(column)))
            if not p.accept(","):
                break
        s = Statement("update", table=table, assignments=assignments, conditions=p.where())
    elif p.accept("delete"):
        columns = []
        if not p.at("from"):
            columns.append(p.name("column name"))
            while p.accept(","):
                columns.append(p.name("column name"))
        p.expect("from")
        table = p.table_name()
        p.using()
        s = Statement("delete", table=table, columns=columns, conditions=p.where())
    elif p.accept("truncate"):
        p.accept("table")
        s = Statement("truncate", table=p.table_name())
    elif p.accept("use"):
        s = Statement("use", keyspace=p.name("keyspace name"))
    elif p.accept("create"):
        if p.accept("keyspace"):
            if_not_exists = _if(p, "not", "exists")
            s = Statement("create_keyspace", keyspace=p.name("keyspace name"), if_not_exists=if_not_exists)
            p.skip_rest()
        else:
            p.expect("table")
            if_not_exists = _if(p, "not", "exists")
            s = _create_table(p, if_not_exists)
    elif p.accept("drop"):
        if p.accept("keyspace"):
            if_exists = _if(p, "exists")
            s = Statement("drop_keyspace", keyspace=p.name("keyspace name"), if_exists=if_exists)
        else:
            p.expect("table")
            if_exists = _if(p, "exists")
            s = Statement("drop_table", table=p.table_name(), if_exists=if_exists)
    else:
        t = p.peek()
        raise CqlError(SYNTAX_ERROR, f"line 1:0 no viable alternative at input {t.text if t else ''!r} "
                                     "(this test server knows SELECT, INSERT, UPDATE, DELETE, TRUNCATE, USE, "
                                     "CREATE/DROP KEYSPACE/TABLE, BEGIN BATCH)")
    return s


def _text_batch(p):
    """BEGIN [UNLOGGED | LOGGED | COUNTER] BATCH [USING TIMESTAMP n] statement [;] ... APPLY BATCH."""
    p.accept("unlogged", "logged", "counter")
    p.expect("batch")
    p.using()
    statements = []
    while not p.accept("apply"):
        if p.peek() is None:
            raise CqlError(SYNTAX_ERROR, "BEGIN BATCH without APPLY BATCH")
        first = len(p.markers)
        if not p.at("insert", "update", "delete"):
            raise CqlError(INVALID, "Invalid statement in batch: only UPDATE, INSERT and DELETE statements are "
                                    "allowed.")
        sub = _statement(p)
        sub.markers = p.markers[first:]
        statements.append(sub)
        p.accept(";")
    p.expect("batch")
    return Statement("batch", statements=statements)


def _if(p, *words):
    if p.accept("if"):
        for w in words:
            p.expect(w)
        return True
    return False


def _select(p):
    if p.at("json", "distinct"):
        raise CqlError(INVALID, f"SELECT {p.peek().text.upper()} is not supported by this test server")
    columns = None
    if not p.accept("*"):
        columns = [p.name("column name")]
        if p.at("("):
            raise CqlError(INVALID, "selector functions are not supported by this test server")
        while p.accept(","):
            columns.append(p.name("column name"))
    p.expect("from")
    table = p.table_name()
    conditions = p.where()
    limit = None
    if p.accept("limit"):
        t = p.peek()
        if t is None or t.kind != "number" or not isinstance(t.value, int) or t.value <= 0:
            raise CqlError(INVALID, "LIMIT must be a positive integer literal here")
        limit = t.value
        p.pos += 1
    if p.accept("allow"):
        p.expect("filtering")
    return Statement("select", table=table, columns=columns, conditions=conditions, limit=limit)


def _create_table(p, if_not_exists):
    table = p.table_name()
    p.expect("(")
    columns, partition, clustering = [], [], []
    while True:
        if p.accept("primary"):
            p.expect("key")
            p.expect("(")
            if p.accept("("):
                partition = [p.name("column name")]
                while p.accept(","):
                    partition.append(p.name("column name"))
                p.expect(")")
            else:
                partition = [p.name("column name")]
            while p.accept(","):
                clustering.append(p.name("column name"))
            p.expect(")")
        else:
            column = p.name("column name")
            start = p.pos
            depth = 0
            while p.peek() is not None and (depth or not p.at(",", ")", "primary")):
                depth += 1 if p.at("<") else -1 if p.at(">") else 0
                p.pos += 1
            ctype = parse_type(" ".join(t.text for t in p.tokens[start:p.pos]))
            columns.append((column, ctype))
            if p.accept("primary"):
                p.expect("key")
                partition = [column]
        if not p.accept(","):
            break
    p.expect(")")
    p.skip_rest()
    if not partition:
        raise CqlError(INVALID, "No PRIMARY KEY specifed (exactly one required)")
    return Statement("create_table", table=table, columns=columns, partition=partition, clustering=clustering,
                     if_not_exists=if_not_exists)


# ---------------------------------------------------------------------------------------------------------------
# Tables

class Table:
    def __init__(self, keyspace, name, columns, partition, clustering, rows=None):
        names = [c for c, _ in columns]
        for key in partition + clustering:
            if key not in names:
                raise CqlError(INVALID, f"Unknown definition {key} referenced in PRIMARY KEY")
        self.keyspace, self.name = keyspace, name
        types = dict(columns)
        # Cassandra's column order: partition key, clustering columns, then the others by name.
        others = sorted(c for c in names if c not in partition and c not in clustering)
        self.columns = [(c, types[c]) for c in partition + clustering + others]
        self.types = types
        self.partition, self.clustering = partition, clustering
        self.primary = partition + clustering
        self.id = uuid.uuid5(uuid.NAMESPACE_URL, f"cql-test-server/{keyspace}/{name}")
        self._rows = {}  # primary key tuple -> row dict
        self._generate = rows  # system tables: a function returning the current rows

    def rows(self):
        if self._generate is not None:
            return self._generate()
        return [self._rows[k] for k in sorted(self._rows, key=_sort_key)]

    def kind(self, column):
        if column in self.partition:
            return "partition_key"
        if column in self.clustering:
            return "clustering"
        return "regular"


def _sort_key(key):
    return tuple((v is None, str(type(v)), v if v is not None else 0) for v in key)


SYSTEM_KEYSPACES = ("system", "system_schema")
SYSTEM_TABLE_TYPES = {
    "system.local": [("key", "text"), ("bootstrapped", "text"), ("broadcast_address", "inet"),
                     ("broadcast_port", "int"), ("cluster_name", "text"), ("cql_version", "text"),
                     ("data_center", "text"), ("gossip_generation", "int"), ("host_id", "uuid"),
                     ("listen_address", "inet"), ("listen_port", "int"), ("native_protocol_version", "text"),
                     ("partitioner", "text"), ("rack", "text"), ("release_version", "text"), ("rpc_address", "inet"),
                     ("rpc_port", "int"), ("schema_version", "uuid"), ("tokens", "set<text>")],
    "system.peers": [("peer", "inet"), ("data_center", "text"), ("host_id", "uuid"), ("preferred_ip", "inet"),
                     ("rack", "text"), ("release_version", "text"), ("rpc_address", "inet"),
                     ("schema_version", "uuid"), ("tokens", "set<text>")],
    "system_schema.keyspaces": [("keyspace_name", "text"), ("durable_writes", "boolean"),
                                ("replication", "map<text, text>")],
    "system_schema.tables": [("keyspace_name", "text"), ("table_name", "text"), ("comment", "text"),
                             ("default_time_to_live", "int"), ("flags", "set<text>"), ("gc_grace_seconds", "int"),
                             ("id", "uuid")],
    "system_schema.columns": [("keyspace_name", "text"), ("table_name", "text"), ("column_name", "text"),
                              ("clustering_order", "text"), ("column_name_bytes", "blob"), ("kind", "text"),
                              ("position", "int"), ("type", "text")],
    "system_schema.types": [("keyspace_name", "text"), ("type_name", "text"), ("field_names", "list<text>"),
                            ("field_types", "list<text>")],
    "system_schema.functions": [("keyspace_name", "text"), ("function_name", "text"),
                                ("argument_types", "list<text>"), ("argument_names", "list<text>"),
                                ("body", "text"), ("called_on_null_input", "boolean"), ("language", "text"),
                                ("return_type", "text")],
    "system_schema.aggregates": [("keyspace_name", "text"), ("aggregate_name", "text"),
                                 ("argument_types", "list<text>"), ("final_func", "text"), ("initcond", "text"),
                                 ("return_type", "text"), ("state_func", "text"), ("state_type", "text")],
    "system_schema.triggers": [("keyspace_name", "text"), ("table_name", "text"), ("trigger_name", "text"),
                               ("options", "map<text, text>")],
    "system_schema.indexes": [("keyspace_name", "text"), ("table_name", "text"), ("index_name", "text"),
                              ("kind", "text"), ("options", "map<text, text>")],
    "system_schema.views": [("keyspace_name", "text"), ("view_name", "text"), ("base_table_id", "uuid"),
                            ("base_table_name", "text"), ("include_all_columns", "boolean"),
                            ("where_clause", "text")],
}
SYSTEM_KEYS = {"system.local": (["key"], []), "system.peers": (["peer"], []),
               "system_schema.keyspaces": (["keyspace_name"], [])}

RELEASE_VERSION = "4.0.11"
CQL_VERSION = "3.4.5"


class Store:
    """Keyspaces and tables, shared by every connection (one lock); prepared statements by id."""

    def __init__(self, listen_address="127.0.0.1", port=9042):
        self.lock = threading.RLock()
        self.keyspaces = {}  # name -> {table name -> Table}
        self.prepared = {}  # id -> (query, keyspace, Statement)
        self.listen_address, self.port = listen_address, port
        self.host_id = uuid.uuid4()
        self.schema_version = uuid.uuid4()
        for qualified, columns in SYSTEM_TABLE_TYPES.items():
            ks, name = qualified.split(".")
            partition, clustering = SYSTEM_KEYS.get(qualified, (["keyspace_name"], [columns[1][0]]))
            generate = getattr(self, "_rows_" + qualified.replace(".", "_"), lambda: [])
            table = Table(ks, name, [(c, parse_type(t)) for c, t in columns], partition, clustering, generate)
            self.keyspaces.setdefault(ks, {})[name] = table

    # system tables' rows

    def _rows_system_local(self):
        return [{"key": "local", "bootstrapped": "COMPLETED", "broadcast_address": self.listen_address,
                 "broadcast_port": 7000, "cluster_name": "cql-test-server", "cql_version": CQL_VERSION,
                 "data_center": "datacenter1", "gossip_generation": 1, "host_id": self.host_id,
                 "listen_address": self.listen_address, "listen_port": 7000, "native_protocol_version": "5",
                 "partitioner": "org.apache.cassandra.dht.Murmur3Partitioner", "rack": "rack1",
                 "release_version": RELEASE_VERSION, "rpc_address": self.listen_address, "rpc_port": self.port,
                 "schema_version": self.schema_version, "tokens": {"0"}}]

    def _rows_system_schema_keyspaces(self):
        rows = []
        for ks in sorted(self.keyspaces):
            strategy = ({"class": "org.apache.cassandra.locator.LocalStrategy"} if ks in SYSTEM_KEYSPACES else
                        {"class": "org.apache.cassandra.locator.SimpleStrategy", "replication_factor": "1"})
            rows.append({"keyspace_name": ks, "durable_writes": True, "replication": strategy})
        return rows

    def _rows_system_schema_tables(self):
        return [{"keyspace_name": t.keyspace, "table_name": t.name, "comment": "", "default_time_to_live": 0,
                 "flags": {"compound"}, "gc_grace_seconds": 864000, "id": t.id} for t in self._all_tables()]

    def _rows_system_schema_columns(self):
        rows = []
        for t in self._all_tables():
            for column, ctype in t.columns:
                kind = t.kind(column)
                position = (t.partition.index(column) if kind == "partition_key" else
                            t.clustering.index(column) if kind == "clustering" else -1)
                rows.append({"keyspace_name": t.keyspace, "table_name": t.name, "column_name": column,
                             "clustering_order": "asc" if kind == "clustering" else "none",
                             "column_name_bytes": column.encode(), "kind": kind, "position": position,
                             "type": ctype.name})
        return rows

    def _all_tables(self):
        return [self.keyspaces[ks][t] for ks in sorted(self.keyspaces) for t in sorted(self.keyspaces[ks])]

    # schema

    def table(self, ref, keyspace):
        ks, name = ref
        ks = ks or keyspace
        if ks is None:
            raise CqlError(INVALID, "No keyspace has been specified. USE a keyspace, or explicitly specify "
                                    "keyspace.tablename")
        if ks not in self.keyspaces:
            raise CqlError(INVALID, f"Keyspace {ks} does not exist")
        if name not in self.keyspaces[ks]:
            raise CqlError(INVALID, f"unconfigured table {name}")
        return self.keyspaces[ks][name]

    def prepare(self, query, keyspace):
        """-> (id, Statement, bind columns [(ks, table, column, CqlType)], result columns, pk indexes)."""
        statement = parse(query)
        bind = self.bind_columns(statement, keyspace)
        result = self.result_columns(statement, keyspace)
        pid = hashlib.md5(f"{keyspace or ''}\0{query}".encode()).digest()
        with self.lock:
            self.prepared[pid] = (query, keyspace, statement)
        pk = []
        if statement.table is not None and statement.kind in ("select", "insert", "update", "delete"):
            table = self.table(statement.table, keyspace)
            by_column = {column: i for i, (_, _, column, _) in enumerate(bind)}
            if all(k in by_column for k in table.partition):
                pk = [by_column[k] for k in table.partition]
        return pid, statement, bind, result, pk

    def bind_columns(self, statement, keyspace):
        if statement.kind == "batch":
            return [c for sub in statement.statements for c in self.bind_columns(sub, keyspace)]
        if not statement.markers:
            return []
        if statement.table is None:
            raise CqlError(INVALID, "bind markers are only supported in statements on a table here")
        table = self.table(statement.table, keyspace)
        out = []
        for marker, column in statement.markers:
            if column is None:  # USING TTL ? / TIMESTAMP ?
                out.append((table.keyspace, table.name, f"[{marker.name or 'using'}]", CqlType("bigint")))
                continue
            if column not in table.types:
                raise CqlError(INVALID, f"Undefined column name {column}")
            out.append((table.keyspace, table.name, marker.name or column, table.types[column]))
        return out

    def result_columns(self, statement, keyspace):
        if statement.kind != "select":
            return []
        table = self.table(statement.table, keyspace)
        names = statement.columns or [c for c, _ in table.columns]
        for c in names:
            if c not in table.types:
                raise CqlError(INVALID, f"Undefined column name {c}")
        return [(table.keyspace, table.name, c, table.types[c]) for c in names]

    # execution

    def execute(self, statement, keyspace, values):
        """Runs a parsed statement with its bound values (python objects, by marker index). Returns one of
        ("void",), ("rows", columns, rows), ("set_keyspace", name), ("schema_change", change, target, ks[, name])."""
        with self.lock:
            return getattr(self, "_" + statement.kind)(statement, keyspace, values)

    def _value(self, term, ctype, values):
        kind, v = term
        if kind == "marker":
            if v.index >= len(values):
                raise CqlError(INVALID, f"There were {len(values)} markers(?) in CQL but more values expected")
            return values[v.index]
        return ctype.coerce(v)

    def _matching(self, table, conditions, values):
        wanted = []
        for column, _op, terms in conditions:
            if column not in table.types:
                raise CqlError(INVALID, f"Undefined column name {column}")
            wanted.append((column, [self._value(t, table.types[column], values) for t in terms]))
        return [row for row in table.rows() if all(row.get(c) in vs for c, vs in wanted)]

    def _select(self, s, keyspace, values):
        table = self.table(s.table, keyspace)
        columns = self.result_columns(s, keyspace)
        rows = self._matching(table, s.conditions, values)[:s.limit]
        return ("rows", columns, [[row.get(c) for _, _, c, _ in columns] for row in rows])

    def _writable(self, ref, keyspace):
        table = self.table(ref, keyspace)
        if table.keyspace in SYSTEM_KEYSPACES:
            raise CqlError(INVALID, f"{table.keyspace} keyspace is not user-modifiable")
        return table

    def _upsert(self, table, assigned):
        missing = [k for k in table.primary if assigned.get(k) is None]
        if missing:
            raise CqlError(INVALID, f"Some partition key parts are missing: {', '.join(missing)}")
        key = tuple(assigned[k] for k in table.primary)
        row = table._rows.setdefault(key, {k: assigned[k] for k in table.primary})
        row.update(assigned)

    def _insert(self, s, keyspace, values):
        table = self._writable(s.table, keyspace)
        assigned = {}
        for column, term in s.assignments:
            if column not in table.types:
                raise CqlError(INVALID, f"Undefined column name {column}")
            assigned[column] = self._value(term, table.types[column], values)
        self._upsert(table, assigned)
        return ("void",)

    def _update(self, s, keyspace, values):
        table = self._writable(s.table, keyspace)
        keys = {}
        for column, op, terms in s.conditions:
            if column not in table.primary or op != "=":
                raise CqlError(INVALID, f"UPDATE needs = restrictions on the primary key only ({column})")
            keys[column] = self._value(terms[0], table.types[column], values)
        assigned = dict(keys)
        for column, term in s.assignments:
            if column not in table.types or column in table.primary:
                raise CqlError(INVALID, f"Cannot set column {column}")
            assigned[column] = self._value(term, table.types[column], values)
        self._upsert(table, assigned)
        return ("void",)

    def _delete(self, s, keyspace, values):
        table = self._writable(s.table, keyspace)
        for row in self._matching(table, s.conditions, values):
            key = tuple(row[k] for k in table.primary)
            if s.columns:
                for c in s.columns:
                    table._rows[key][c] = None
            else:
                del table._rows[key]
        return ("void",)

    def _batch(self, s, keyspace, values):
        for sub in s.statements:
            self.execute(sub, keyspace, values)
        return ("void",)

    def _truncate(self, s, keyspace, values):
        self._writable(s.table, keyspace)._rows.clear()
        return ("void",)

    def _use(self, s, keyspace, values):
        if s.keyspace not in self.keyspaces:
            raise CqlError(INVALID, f"Keyspace '{s.keyspace}' does not exist")
        return ("set_keyspace", s.keyspace)

    def _schema_changed(self):
        self.schema_version = uuid.uuid4()

    def _create_keyspace(self, s, keyspace, values):
        if s.keyspace in self.keyspaces:
            if s.if_not_exists:
                return ("void",)
            raise CqlError(ALREADY_EXISTS, f"Keyspace {s.keyspace} already exists", keyspace=s.keyspace, table="")
        self.keyspaces[s.keyspace] = {}
        self._schema_changed()
        return ("schema_change", "CREATED", "KEYSPACE", s.keyspace)

    def _create_table(self, s, keyspace, values):
        ks = s.table[0] or keyspace
        if ks is None or ks not in self.keyspaces:
            raise CqlError(INVALID, f"Keyspace {ks} does not exist" if ks else "No keyspace has been specified")
        if ks in SYSTEM_KEYSPACES:
            raise CqlError(INVALID, f"{ks} keyspace is not user-modifiable")
        name = s.table[1]
        if name in self.keyspaces[ks]:
            if s.if_not_exists:
                return ("void",)
            raise CqlError(ALREADY_EXISTS, f"Table {ks}.{name} already exists", keyspace=ks, table=name)
        self.keyspaces[ks][name] = Table(ks, name, s.columns, s.partition, s.clustering)
        self._schema_changed()
        return ("schema_change", "CREATED", "TABLE", ks, name)

    def _drop_keyspace(self, s, keyspace, values):
        if s.keyspace not in self.keyspaces:
            if s.if_exists:
                return ("void",)
            raise CqlError(CONFIG_ERROR, f"Cannot drop non existing keyspace '{s.keyspace}'.")
        if s.keyspace in SYSTEM_KEYSPACES:
            raise CqlError(INVALID, f"{s.keyspace} keyspace is not user-modifiable")
        del self.keyspaces[s.keyspace]
        self._schema_changed()
        return ("schema_change", "DROPPED", "KEYSPACE", s.keyspace)

    def _drop_table(self, s, keyspace, values):
        try:
            table = self._writable(s.table, keyspace)
        except CqlError:
            if s.if_exists:
                return ("void",)
            raise
        del self.keyspaces[table.keyspace][table.name]
        self._schema_changed()
        return ("schema_change", "DROPPED", "TABLE", table.keyspace, table.name)
