#!/usr/bin/env python3
"""Generates the Redis command table (RedisCommandTable.swift) from redis's own command metadata.

Input: a folder of redis's `src/commands/*.json` files, one command (or subcommand) a file. Output: the Swift
table the Redis parser looks commands up in, and optionally the same facts as JSON for the cross-check against a
live server (Tests/redis/test_command_table.py) and the Swift tests. See Tools/redis-commands/README.md for the
command that regenerates the committed files.

What the table holds, per command and subcommand: the lowercase name, the arity, the command flags, the ACL
categories *including* the implicit ones redis adds at startup (server.c, setImplicitACLCategories), and the key
specs (begin_search, find_keys, flags). The shape is fixed by Sources/ProxylibParsers/Redis/Commands/
RedisCommandSpec.swift; this script reads the option sets' members from that file and fails if a flag it maps is
missing there or a member there is left unmapped, and it fails on any command flag, ACL category, key-spec flag,
begin_search or find_keys kind it does not know.

Standard library only.
"""

import argparse
import json
import os
import re
import sys

# --------------------------------------------------------------------------------------------------------------
# Names in redis's JSON → members of the Swift option sets (RedisCommandSpec.swift). Every JSON name must be here
# (the generator stops on an unknown one), and every Swift member must be the image of exactly one JSON name.

COMMAND_FLAGS = {
    "WRITE": "write",
    "READONLY": "readOnly",
    "DENYOOM": "denyOOM",
    "ADMIN": "admin",
    "PUBSUB": "pubsub",
    "NOSCRIPT": "noScript",
    "BLOCKING": "blocking",
    "LOADING": "loading",
    "STALE": "stale",
    "SKIP_MONITOR": "skipMonitor",
    "SKIP_SLOWLOG": "skipSlowlog",
    "FAST": "fast",
    "NO_AUTH": "noAuth",
    "MAY_REPLICATE": "mayReplicate",
    "SENTINEL": "sentinel",
    "ONLY_SENTINEL": "onlySentinel",
    "NO_MANDATORY_KEYS": "noMandatoryKeys",
    "PROTECTED": "protected",
    "NO_ASYNC_LOADING": "noAsyncLoading",
    "NO_MULTI": "noMulti",
    "ALLOW_BUSY": "allowBusy",
    "TOUCHES_ARBITRARY_KEYS": "touchesArbitraryKeys",
    "ASKING": "asking",
}

# JSON name → (Swift member, the name `ACL CAT` and COMMAND INFO use).
ACL_CATEGORIES = {
    "KEYSPACE": ("keyspace", "keyspace"),
    "READ": ("read", "read"),
    "WRITE": ("write", "write"),
    "SET": ("set", "set"),
    "SORTEDSET": ("sortedSet", "sortedset"),
    "LIST": ("list", "list"),
    "HASH": ("hash", "hash"),
    "STRING": ("string", "string"),
    "BITMAP": ("bitmap", "bitmap"),
    "HYPERLOGLOG": ("hyperLogLog", "hyperloglog"),
    "GEO": ("geo", "geo"),
    "STREAM": ("stream", "stream"),
    "PUBSUB": ("pubsub", "pubsub"),
    "ADMIN": ("admin", "admin"),
    "FAST": ("fast", "fast"),
    "SLOW": ("slow", "slow"),
    "BLOCKING": ("blocking", "blocking"),
    "DANGEROUS": ("dangerous", "dangerous"),
    "CONNECTION": ("connection", "connection"),
    "TRANSACTION": ("transaction", "transaction"),
    "SCRIPTING": ("scripting", "scripting"),
}

KEY_SPEC_FLAGS = {
    "RO": "readOnly",
    "RW": "readWrite",
    "OW": "overwrite",
    "RM": "remove",
    "ACCESS": "access",
    "UPDATE": "update",
    "INSERT": "insert",
    "DELETE": "delete",
    "NOT_KEY": "notKey",
    "INCOMPLETE": "incomplete",
    "VARIABLE_FLAGS": "variableFlags",
}

# The fields a key spec may have; anything else is a format change this script does not understand.
KEY_SPEC_FIELDS = {"flags", "begin_search", "find_keys", "notes"}

# Entries per array literal in the Swift output (see generate_swift).
CHUNK = 16

INT16_MIN, INT16_MAX = -(1 << 15), (1 << 15) - 1
NAME_PATTERN = re.compile(r"[A-Za-z0-9_-]+\Z")


class GenerationError(Exception):
    pass


def fail(message):
    raise GenerationError(message)


# --------------------------------------------------------------------------------------------------------------
# The Swift option sets' members and bits, read from RedisCommandSpec.swift.

OPTION_SET_TYPES = ("RedisCommandFlags", "RedisACLCategories", "RedisKeySpecFlags")


def read_option_sets(spec_path):
    """{type: {member: bit}} for the three option sets, from `static let m = Type(rawValue: 1 << n)` lines."""
    try:
        with open(spec_path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        fail(f"cannot read the Swift types ({spec_path}): {e}")
    members = {}
    for type_name in OPTION_SET_TYPES:
        pattern = re.compile(
            r"static let (\w+) = " + type_name + r"\(rawValue: 1 << (\d+)\)")
        found = {}
        for name, bit in pattern.findall(text):
            if name in found:
                fail(f"{spec_path}: {type_name}.{name} declared twice")
            found[name] = int(bit)
        if not found:
            fail(f"{spec_path}: no members of {type_name} found (expected `static let m = {type_name}(rawValue: 1 << n)`)")
        if len(set(found.values())) != len(found):
            fail(f"{spec_path}: two members of {type_name} share a bit")
        members[type_name] = found
    return members


def check_mapping(type_name, swift_members, mapped):
    mapped = list(mapped)
    missing = sorted(set(mapped) - set(swift_members))
    if missing:
        fail(f"{type_name} has no member(s) {', '.join(missing)}: add them to RedisCommandSpec.swift")
    unmapped = sorted(set(swift_members) - set(mapped))
    if unmapped:
        fail(f"{type_name} member(s) {', '.join(unmapped)} have no JSON name in generate.py")
    if len(set(mapped)) != len(mapped):
        fail(f"generate.py maps two JSON names to the same {type_name} member")


# --------------------------------------------------------------------------------------------------------------
# Reading the JSON.


def int16(value, what):
    if not isinstance(value, int) or isinstance(value, bool) or not INT16_MIN <= value <= INT16_MAX:
        fail(f"{what}: {value!r} is not a 16-bit integer")
    return value


class KeySpec:
    def __init__(self, owner, index, raw):
        where = f"{owner} key_specs[{index}]"
        if not isinstance(raw, dict):
            fail(f"{where}: not an object")
        extra = sorted(set(raw) - KEY_SPEC_FIELDS)
        if extra:
            fail(f"{where}: unknown field(s) {', '.join(extra)}")
        flags = raw.get("flags")
        if not isinstance(flags, list):
            fail(f"{where}: flags missing or not a list")
        for flag in flags:
            if flag not in KEY_SPEC_FLAGS:
                fail(f"{where}: unknown key-spec flag {flag!r}")
        if len(set(flags)) != len(flags):
            fail(f"{where}: a flag is repeated")
        self.flags = flags

        search = raw.get("begin_search")
        if not isinstance(search, dict) or len(search) != 1:
            fail(f"{where}: begin_search must be an object with one kind")
        (kind, body), = search.items()
        if kind == "index":
            self.search = ("index", int16(body.get("pos"), f"{where} begin_search.index.pos"))
        elif kind == "keyword":
            keyword = body.get("keyword")
            if not isinstance(keyword, str) or not NAME_PATTERN.match(keyword):
                fail(f"{where}: begin_search keyword {keyword!r} is not a plain word")
            self.search = ("keyword", keyword, int16(body.get("startfrom"), f"{where} begin_search.keyword.startfrom"))
        elif kind == "unknown":
            if body is not None:
                fail(f"{where}: begin_search unknown carries {body!r}")
            self.search = ("unknown",)
        else:
            fail(f"{where}: unknown begin_search kind {kind!r}")

        find = raw.get("find_keys")
        if not isinstance(find, dict) or len(find) != 1:
            fail(f"{where}: find_keys must be an object with one kind")
        (kind, body), = find.items()
        if kind == "range":
            if set(body) != {"lastkey", "step", "limit"}:
                fail(f"{where}: find_keys range has fields {sorted(body)}")
            self.find = ("range", int16(body["lastkey"], f"{where} lastkey"), int16(body["step"], f"{where} step"),
                         int16(body["limit"], f"{where} limit"))
        elif kind == "keynum":
            if set(body) != {"keynumidx", "firstkey", "step"}:
                fail(f"{where}: find_keys keynum has fields {sorted(body)}")
            self.find = ("keynum", int16(body["keynumidx"], f"{where} keynumidx"),
                         int16(body["firstkey"], f"{where} firstkey"), int16(body["step"], f"{where} step"))
        elif kind == "unknown":
            if body is not None:
                fail(f"{where}: find_keys unknown carries {body!r}")
            self.find = ("unknown",)
        else:
            fail(f"{where}: unknown find_keys kind {kind!r}")

    def swift_search(self):
        if self.search[0] == "index":
            return f".index({self.search[1]})"
        if self.search[0] == "keyword":
            return f'.keyword("{self.search[1]}", startFrom: {self.search[2]})'
        return ".unknown"

    def swift_find(self):
        if self.find[0] == "range":
            return f".range(lastKey: {self.find[1]}, step: {self.find[2]}, limit: {self.find[3]})"
        if self.find[0] == "keynum":
            return f".keyNum(keyNumIndex: {self.find[1]}, firstKey: {self.find[2]}, step: {self.find[3]})"
        return ".unknown"

    def json(self):
        """In the shape COMMAND INFO reports a key spec (RESP3 maps), flags as in the source JSON."""
        if self.search[0] == "index":
            search = {"type": "index", "spec": {"index": self.search[1]}}
        elif self.search[0] == "keyword":
            search = {"type": "keyword", "spec": {"keyword": self.search[1], "startfrom": self.search[2]}}
        else:
            search = {"type": "unknown", "spec": {}}
        if self.find[0] == "range":
            find = {"type": "range", "spec": {"lastkey": self.find[1], "keystep": self.find[2], "limit": self.find[3]}}
        elif self.find[0] == "keynum":
            find = {"type": "keynum", "spec": {"keynumidx": self.find[1], "firstkey": self.find[2],
                                                "keystep": self.find[3]}}
        else:
            find = {"type": "unknown", "spec": {}}
        return {"flags": self.flags, "begin_search": search, "find_keys": find}


class Command:
    def __init__(self, file_name, name, raw):
        where = f"{file_name} ({name})"
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            fail(f"{where}: command name is not a plain word")
        if not isinstance(raw, dict):
            fail(f"{where}: not an object")
        self.file_name = file_name
        self.name = name.lower()
        self.container = raw.get("container")
        if self.container is not None:
            if not isinstance(self.container, str) or not NAME_PATTERN.match(self.container):
                fail(f"{where}: container {self.container!r} is not a plain word")
            self.container = self.container.lower()
        self.full_name = f"{self.container}|{self.name}" if self.container else self.name
        self.arity = int16(raw.get("arity"), f"{where} arity")
        if self.arity == 0:
            fail(f"{where}: arity 0")
        self.since = raw.get("since")
        if not isinstance(self.since, str) or not re.fullmatch(r"\d+\.\d+\.\d+", self.since):
            fail(f"{where}: since {self.since!r} is not a version")

        self.flags = raw.get("command_flags", [])
        if not isinstance(self.flags, list):
            fail(f"{where}: command_flags is not a list")
        for flag in self.flags:
            if flag not in COMMAND_FLAGS:
                fail(f"{where}: unknown command flag {flag!r}")
        if len(set(self.flags)) != len(self.flags):
            fail(f"{where}: a command flag is repeated")

        declared = raw.get("acl_categories", [])
        if not isinstance(declared, list):
            fail(f"{where}: acl_categories is not a list")
        for category in declared:
            if category not in ACL_CATEGORIES:
                fail(f"{where}: unknown ACL category {category!r}")
        self.declared_categories = list(declared)
        self.categories = implicit_categories(set(declared), set(self.flags))

        specs = raw.get("key_specs", [])
        if not isinstance(specs, list):
            fail(f"{where}: key_specs is not a list")
        self.key_specs = [KeySpec(where, i, s) for i, s in enumerate(specs)]
        self.subcommands = []


def implicit_categories(categories, flags):
    """The categories redis ends up with: the declared ones plus setImplicitACLCategories's (redis 7.4 server.c)."""
    result = set(categories)
    if "WRITE" in flags:
        result.add("WRITE")
    if "READONLY" in flags and "SCRIPTING" not in result:
        result.add("READ")
    if "ADMIN" in flags:
        result.update(("ADMIN", "DANGEROUS"))
    if "PUBSUB" in flags:
        result.add("PUBSUB")
    if "FAST" in flags:
        result.add("FAST")
    if "BLOCKING" in flags:
        result.add("BLOCKING")
    if "FAST" not in result:
        result.add("SLOW")
    return result


def read_commands(directory):
    try:
        file_names = sorted(n for n in os.listdir(directory) if n.endswith(".json"))
    except OSError as e:
        fail(f"cannot list {directory}: {e}")
    if not file_names:
        fail(f"no *.json files in {directory}")
    commands = []
    for file_name in file_names:
        path = os.path.join(directory, file_name)
        try:
            with open(path, encoding="utf-8") as f:
                document = json.load(f)
        except (OSError, ValueError) as e:
            fail(f"cannot read {path}: {e}")
        if not isinstance(document, dict) or len(document) != 1:
            fail(f"{path}: expected one command per file")
        (name, raw), = document.items()
        commands.append(Command(file_name, name, raw))
    return commands


def name_key(command):
    return command.name.encode("ascii")


def build_table(commands):
    """(top-level commands sorted, subcommands grouped in that order) with the containers' groups filled in."""
    top = {}
    for c in commands:
        if c.container is None:
            if c.name in top:
                fail(f"{c.file_name}: command {c.name} defined twice (also in {top[c.name].file_name})")
            top[c.name] = c
    seen = set()
    for c in commands:
        if c.container is None:
            continue
        parent = top.get(c.container)
        if parent is None:
            fail(f"{c.file_name}: container {c.container} of {c.name} does not exist")
        if c.full_name in seen:
            fail(f"{c.file_name}: subcommand {c.full_name} defined twice")
        seen.add(c.full_name)
        parent.subcommands.append(c)
    ordered = sorted(top.values(), key=name_key)
    for c in ordered:
        c.subcommands.sort(key=name_key)
    return ordered


# --------------------------------------------------------------------------------------------------------------
# Output.


def bits(names, mapping, members):
    value = 0
    for name in names:
        value |= 1 << members[mapping[name]]
    return value


def ordered_members(names, mapping, members):
    """The Swift members for these JSON names, in bit order."""
    return sorted((mapping[n] for n in names), key=lambda m: members[m])


def swift_header(source):
    return f"""\
// GENERATED FILE: do not edit by hand.
//
// Generated by Tools/redis-commands/generate.py from redis's command metadata (src/commands/*.json) of
// {source}.
// To regenerate (Tools/redis-commands/README.md says where to get the JSON files):
//
//     python3 Tools/redis-commands/generate.py --commands <redis>/src/commands \\
//         --source '{source}' \\
//         --output Sources/ProxylibParsers/Redis/Commands/RedisCommandTable.swift \\
//         --json-output Tests/redis/vectors/command-table.json
//
// Categories include the implicit ones redis adds at startup (setImplicitACLCategories): what COMMAND INFO reports.
// Flags and categories are raw bits of RedisCommandFlags / RedisACLCategories / RedisKeySpecFlags (bit numbers read
// from RedisCommandSpec.swift); the trailing comments name them.
"""


def generate_swift(ordered, source, members):
    cmd_bits = members["RedisCommandFlags"]
    cat_bits = members["RedisACLCategories"]
    ks_bits = members["RedisKeySpecFlags"]
    cat_swift = {k: v[0] for k, v in ACL_CATEGORIES.items()}

    key_specs = []  # (owner full name, KeySpec)
    spec_lines = []
    sub_lines = []

    def entry(c, start, count, sub_start, sub_count, container):
        flags = bits(c.flags, COMMAND_FLAGS, cmd_bits)
        categories = bits(c.categories, cat_swift, cat_bits)
        flag_names = " ".join(ordered_members(c.flags, COMMAND_FLAGS, cmd_bits)) or "-"
        category_names = " ".join("@" + ACL_CATEGORIES[n][1] for n in
                                  sorted(c.categories, key=lambda n: cat_bits[cat_swift[n]]))
        return (f'RedisCommandSpec(name: "{c.name}", arity: {c.arity}, '
                f"flags: RedisCommandFlags(rawValue: 0x{flags:06x}), "
                f"categories: RedisACLCategories(rawValue: 0x{categories:06x}), "
                f"keySpecStart: {start}, keySpecCount: {count}, "
                f"subcommandStart: {sub_start}, subcommandCount: {sub_count}, container: {container}), "
                f"// {c.full_name}: {flag_names}; {category_names}")

    def add_specs(c):
        start = len(key_specs) if c.key_specs else 0
        for spec in c.key_specs:
            key_specs.append((c.full_name, spec))
        return start, len(c.key_specs)

    # Key specs: the top-level commands' first, in table order, then the subcommands', in table order.
    command_lines = []
    spec_ranges = {}
    for c in ordered:
        spec_ranges[c.full_name] = add_specs(c)
    for c in ordered:
        for s in c.subcommands:
            spec_ranges[s.full_name] = add_specs(s)

    sub_index = 0
    for index, c in enumerate(ordered):
        sub_start = sub_index if c.subcommands else 0
        for s in c.subcommands:
            start, count = spec_ranges[s.full_name]
            sub_lines.append(entry(s, start, count, 0, 0, index))
            sub_index += 1
        start, count = spec_ranges[c.full_name]
        command_lines.append(entry(c, start, count, sub_start, len(c.subcommands), -1))

    for owner, spec in key_specs:
        flags = bits(spec.flags, KEY_SPEC_FLAGS, ks_bits)
        names = " ".join(ordered_members(spec.flags, KEY_SPEC_FLAGS, ks_bits)) or "-"
        spec_lines.append(f"RedisKeySpec(search: {spec.swift_search()}, range: {spec.swift_find()}, "
                          f"flags: RedisKeySpecFlags(rawValue: 0x{flags:04x})), // {owner}: {names}")

    for what, lines in (("commands", command_lines), ("subcommands", sub_lines), ("keySpecs", spec_lines)):
        if len(lines) > INT16_MAX:
            fail(f"too many {what} for Int16 indices")

    # Quoted in a Swift string literal and, in the header, in a shell command.
    if any(c in source for c in "\"'\\\n"):
        fail("--source must not contain quotes, backslashes or newlines")

    def array(name, element_type, doc, lines):
        """`name` as one array, joined from functions returning literal chunks of CHUNK entries, each named after
        the index of its first entry. A single literal of hundreds of entries costs the type checker superlinear
        time (seconds); chunks do not. Function bodies, unlike stored properties' initializers, are skipped by the
        build's emit-module job, so the literals are type-checked once, not twice."""
        starts = list(range(0, len(lines), CHUNK))
        text = f"    /// {doc}\n"
        if not starts:
            return text + f"    static let {name}: [{element_type}] = []\n"
        parts = ", ".join(f"{name}At{start}()" for start in starts)
        text += f"    static let {name}: [{element_type}] = Array([{parts}].joined())\n"
        for start in starts:
            text += f"\n    private static func {name}At{start}() -> [{element_type}] {{\n        [\n"
            text += "".join(f"            {line}\n" for line in lines[start:start + CHUNK])
            text += "        ]\n    }\n"
        return text

    commands_text = array("commands", "RedisCommandSpec",
                          f"Every top-level command ({len(command_lines)}), sorted by name (bytes); containers "
                          "point at their subcommands.", command_lines)
    subcommands_text = array("subcommands", "RedisCommandSpec",
                             f"Every subcommand ({len(sub_lines)}), grouped by container in the order of `commands`, "
                             "each group sorted by name.", sub_lines)
    key_specs_text = array("keySpecs", "RedisKeySpec",
                           f"Every key spec ({len(spec_lines)}); commands and subcommands point at their own runs.",
                           spec_lines)
    return (swift_header(source)
            + "\n/// Redis's commands, as `COMMAND INFO` describes them: generated, see the comment at the top of the file.\n"
            + "enum RedisCommandTable {\n"
            + "    /// Where the facts come from.\n"
            + f'    static let source: StaticString = "{source}"\n\n'
            + commands_text + "\n" + subcommands_text + "\n" + key_specs_text
            + "}\n")


def generate_json(ordered, source):
    cat_order = list(ACL_CATEGORIES)

    def entry(c):
        return {
            "name": c.full_name,
            "arity": c.arity,
            "since": c.since,
            "flags": c.flags,
            "categories": [ACL_CATEGORIES[n][1] for n in sorted(c.categories, key=cat_order.index)],
            "key_specs": [s.json() for s in c.key_specs],
        }

    entries = []
    for c in ordered:
        entries.append(entry(c))
        entries.extend(entry(s) for s in c.subcommands)
    counts = {
        "commands": len(ordered),
        "subcommands": sum(len(c.subcommands) for c in ordered),
        "key_specs": sum(len(c.key_specs) + sum(len(s.key_specs) for s in c.subcommands) for c in ordered),
    }
    lines = [
        "{",
        f'"generated_by": "Tools/redis-commands/generate.py (the same run as RedisCommandTable.swift)",',
        f'"source": {json.dumps(source)},',
        f'"counts": {json.dumps(counts, sort_keys=True)},',
        '"note": "one entry per command, each container followed by its subcommands (name container|sub), in table '
        'order; since is the redis version that added it; categories include the implicit ones; key specs in the shape '
        'COMMAND INFO reports them",',
        '"commands": [',
    ]
    for i, e in enumerate(entries):
        lines.append(json.dumps(e) + ("," if i + 1 < len(entries) else ""))
    lines.append("]")
    lines.append("}")
    return "\n".join(lines) + "\n"


def write(path, text):
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    temporary = path + ".tmp"
    with open(temporary, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(temporary, path)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commands", required=True, help="folder of redis's src/commands/*.json")
    parser.add_argument("--source", required=True,
                        help="where the JSON files come from (repository, tag, commit), cited in the output")
    parser.add_argument("--output", required=True, help="the Swift file to write (RedisCommandTable.swift)")
    parser.add_argument("--json-output", help="also write the table as JSON (for the tests)")
    parser.add_argument("--spec", help="RedisCommandSpec.swift (default: next to --output)")
    args = parser.parse_args(argv)

    spec_path = args.spec or os.path.join(os.path.dirname(args.output) or ".", "RedisCommandSpec.swift")
    try:
        members = read_option_sets(spec_path)
        check_mapping("RedisCommandFlags", members["RedisCommandFlags"], COMMAND_FLAGS.values())
        check_mapping("RedisACLCategories", members["RedisACLCategories"], (v[0] for v in ACL_CATEGORIES.values()))
        check_mapping("RedisKeySpecFlags", members["RedisKeySpecFlags"], KEY_SPEC_FLAGS.values())
        ordered = build_table(read_commands(args.commands))
        swift = generate_swift(ordered, args.source, members)
        table_json = generate_json(ordered, args.source) if args.json_output else None
    except GenerationError as e:
        print(f"generate.py: {e}", file=sys.stderr)
        return 1
    write(args.output, swift)
    if table_json is not None:
        write(args.json_output, table_json)
    subcommands = sum(len(c.subcommands) for c in ordered)
    specs = sum(len(c.key_specs) + sum(len(s.key_specs) for s in c.subcommands) for c in ordered)
    print(f"{len(ordered)} commands, {subcommands} subcommands, {specs} key specs -> {args.output}"
          + (f", {args.json_output}" if args.json_output else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
