#!/usr/bin/env python3
"""Creates a new protocol parser from the templates beside this script (`make new-parser NAME=foo`).

The result is a working parser for a small line protocol (`verb [resource]`), with everything a parser of this
project comes with: its rule parser and registration, a unit-test table, a fuzz target with its oracle, seeds
and dictionary, a C-harness scenario, an allocation check, and an example policy, server and script for
proxylib-host. It compiles and its tests pass at once; edit it into your protocol (Documentation/writing-a-parser.md).

    new_parser.py NAME            create the parser NAME (the `l7proto` name: lowercase letters and digits)
    new_parser.py --type NAME     print the Swift type prefix for NAME (foo -> Foo)
"""
import argparse
import os
import re
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]{0,31}$")


def type_prefix(name):
    return name[0].upper() + name[1:]


def render(text, name):
    return text.replace("@Name@", type_prefix(name)).replace("@name@", name)


# Lines added to shared files, each just above its marker line (indentation taken from the marker).
INSERTIONS = [
    ("Sources/ProxylibParsers/BuiltinParsers.swift", "// make new-parser: registrations go above this line.", [
        "registry.register(parser: @Name@Parser.name, ParserFactoryFor<@Name@Parser>())",
        "registry.register(ruleParser: @Name@Parser.name, @Name@Rule.ruleParser)",
    ]),
    ("Sources/ProxylibFuzzTargets/DatapathFuzzTarget.swift", "// make new-parser: profiles go above this line.", [
        'Profile(parser: "@name@", oracle: @Name@Oracle(), hasPolicy: true),',
    ]),
    ("bench/alloc-bench.c", "/* make new-parser: rows go above this line. */", [
        '{"@name@ GET, no policy (denied)", "@name@", "GET public/readme.txt\\r\\n", 1},',
    ]),
]


# The seed corpus of datapath-NAME: datapath scripts (see Sources/ProxylibFuzzTargets/DatapathFuzzTarget.swift
# for the encoding). Each seed: (setup byte, steps); a step is ("client"|"server", text[, end_stream]) or one of
# "close-mid-frame", "flush", "both-end".
def setup(remote=0, egress=False, ops=0, inject=0):
    return remote | (4 if egress else 0) | ops << 3 | inject << 6


SEEDS = [
    (0, [("client", "GET public/a\nGET private/b\nPING\n"), ("server", "OK a\nPONG\n")]),
    (0, [("client", "GET pub"), ("client", "lic/a\r\n"), ("server", "OK\r\n")]),
    (setup(remote=1), [("client", "PUT tmp/x\nPUT tmp/secret\n")]),
    (setup(remote=2), [("client", "PING\nGET public/a\n")]),
    (setup(remote=3, egress=True), [("client", "GET public/a b\n"), ("server", "OK\n")]),
    (setup(inject=3), [("client", "PUT a\nPUT b\nPUT c\n"), "flush"]),
    (setup(ops=1), [("client", "GET public/a\nDEL b\nGET public/c\n"), ("server", "A\n"), ("server", "C\n")]),
    (0, [("server", "HELLO\n"), ("client", "123 bad\n")]),
    (0, [("client", "GET pu"), "close-mid-frame", ("client", "blic/x\n")]),
    (0, [("client", "PING\n", True), "both-end"]),
]

DICTIONARY = ["GET", "PUT", "PING", "public/", "tmp/", "secret", " ", "\\x0a", "\\x0d\\x0a", "\\x40", "\\x80"]


def encode_seed(setup_byte, steps):
    out = bytearray([setup_byte])
    for step in steps:
        if step == "close-mid-frame":
            out.append(3 << 2 | 3)
        elif step == "flush":
            out.append(4 << 2 | 3)
        elif step == "both-end":
            out.append(6 << 2 | 3)
        else:
            side, text = step[0], step[1].encode()
            end = len(step) > 2 and step[2]
            client = side == "client"
            if len(text) >= 256:
                raise ValueError("seed writes are under 256 bytes")
            if len(text) < 64 and not (end and not client):
                out.append(len(text) << 2 | (0 if client and not end else 2 if client else 1))
            else:
                kind = 0 if client else (2 if end else 1)
                if client and end:
                    raise ValueError("a client write with end of stream must be under 64 bytes")
                out += bytes([kind << 2 | 3, len(text)])
            out += text
    return bytes(out)


def fail(message):
    print(f"new-parser: {message}", file=sys.stderr)
    sys.exit(1)


def existing_parser_names():
    """Folder names under Sources/ProxylibParsers and the names registered in BuiltinParsers, lowercased."""
    names = {entry.lower() for entry in os.listdir(os.path.join(ROOT, "Sources/ProxylibParsers"))}
    registry = open(os.path.join(ROOT, "Sources/ProxylibParsers/BuiltinParsers.swift")).read()
    for parser_type in re.findall(r"register\(parser: (\w+)\.name", registry):
        names.add(parser_type.removesuffix("Parser").lower())
    return names


def planned_files(name):
    files = []
    for directory, _, entries in os.walk(TEMPLATES):
        for entry in sorted(entries):
            source = os.path.join(directory, entry)
            target = render(os.path.relpath(source, TEMPLATES), name)
            files.append((source, target))
    files.sort(key=lambda pair: pair[1])
    return files


def create(name):
    if not NAME_PATTERN.match(name):
        fail(f"'{name}' is not a parser name: lowercase ASCII letters and digits, starting with a letter, "
             "at most 32 (it becomes the l7proto name)")
    if name in existing_parser_names():
        fail(f"a parser named '{name}' (or a folder Sources/ProxylibParsers/{type_prefix(name)}) exists already")
    files = planned_files(name)
    corpus = f"Tests/Fuzz/corpus/datapath-{name}"
    dictionary = f"Tests/Fuzz/dict/datapath-{name}.dict"
    for _, target in files:
        if os.path.exists(os.path.join(ROOT, target)):
            fail(f"{target} exists already")
    for path in (corpus, dictionary):
        if os.path.exists(os.path.join(ROOT, path)):
            fail(f"{path} exists already")
    for path, marker, _ in INSERTIONS:
        if marker not in open(os.path.join(ROOT, path)).read():
            fail(f"{path} has lost its marker line '{marker}'")

    for source, target in files:
        full = os.path.join(ROOT, target)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(source) as template, open(full, "w") as out:
            out.write(render(template.read(), name))
        os.chmod(full, os.stat(source).st_mode & 0o777)
    for path, marker, lines in INSERTIONS:
        full = os.path.join(ROOT, path)
        result = []
        for line in open(full).read().splitlines(keepends=True):
            if line.strip() == marker:
                indent = line[: len(line) - len(line.lstrip())]
                result += [indent + render(added, name) + "\n" for added in lines]
            result.append(line)
        with open(full, "w") as out:
            out.writelines(result)
    os.makedirs(os.path.join(ROOT, corpus))
    for index, (setup_byte, steps) in enumerate(SEEDS):
        with open(os.path.join(ROOT, corpus, f"seed-{index:02d}"), "wb") as out:
            out.write(encode_seed(setup_byte, steps))
    with open(os.path.join(ROOT, dictionary), "w") as out:
        out.write(f"# {name} requests (verb [\" \" resource] LF) and the fuzz policy's words; script steps: client "
                  "writes of 16/32 bytes\n")
        out.writelines(f'"{word}"\n' for word in DICTIONARY)

    print(f"Created the parser '{name}':")
    for _, target in files:
        print(f"  {target}")
    print(f"  {corpus}/ ({len(SEEDS)} seeds)\n  {dictionary}")
    print("and registered it in:")
    for path, _, _ in INSERTIONS:
        print(f"  {path}")
    print(f"""
Next:
  make parser-check NAME={name}   its unit tests, harness scenario, fuzz seeds and a live try, on a debug build
  make try-parser NAME={name}     allowed and denied requests through proxylib-host, with the access log
Then edit Sources/ProxylibParsers/{type_prefix(name)}/ into your protocol: Documentation/writing-a-parser.md.""")


def main():
    arguments = argparse.ArgumentParser(description="Create a new protocol parser from the scaffold's templates.")
    arguments.add_argument("--type", action="store_true", help="print the Swift type prefix for NAME and exit")
    arguments.add_argument("name", metavar="NAME")
    options = arguments.parse_args()
    if options.type:
        print(type_prefix(options.name))
    else:
        create(options.name)


if __name__ == "__main__":
    main()
