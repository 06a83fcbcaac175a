"""The generated Redis command table against a live redis-server.

What: RedisCommandTable.swift is generated (Tools/redis-commands/generate.py) from redis 7.4.1's src/commands/*.json,
with the ACL categories redis adds at startup worked out by the generator. The same run writes
Tests/redis/vectors/command-table.json (RedisCommandTableTests checks that it agrees with the Swift table). This
test starts a redis-server of its own (the one on PATH, or $REDIS_SERVER), asks it `COMMAND` (COMMAND INFO for
every command, subcommands included) over RESP3, and compares, for every command and subcommand both know: the
arity, the ACL categories, the key specs (begin_search, find_keys, flags) and the command flags COMMAND INFO shows.

Why: the JSON files are redis's source, not its interface (their README says so: some fields and flags are
filled in at startup), and the generator re-implements that filling-in. The server is the authority on what a
command's categories and key specs really are; comparing with it checks the generator's reading of the metadata,
not only its formatting.

The installed server is older (Debian's 7.0.15) than the table's source (7.4.1). Commands added since are only in
the table, which is fine: each must be marked in the metadata as added after the server's version (`since`), or be
Sentinel-only. Where 7.0 and 7.4 legitimately differ on a command both have, ALLOWED_DIFFERENCES lists it with the
reason; with a 7.0.x server every listed difference must still occur (a stale entry fails), with another version
the list only excuses.

Run: .venv/bin/pytest Tests/redis/test_command_table.py (needs pytest and redis-py: Tests/redis/requirements.txt).
"""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest
import redis

HERE = os.path.dirname(os.path.abspath(__file__))
TABLE_JSON = os.path.join(HERE, "vectors", "command-table.json")

# The command flags COMMAND INFO shows (server.c, addReplyFlagsForCommand, 7.0 and 7.4 alike): MAY_REPLICATE,
# SENTINEL, ONLY_SENTINEL, PROTECTED and TOUCHES_ARBITRARY_KEYS are hidden on purpose; "module" and "movablekeys"
# are worked out at run time, not declared.
SHOWN_FLAGS = {
    "write", "readonly", "denyoom", "admin", "pubsub", "noscript", "blocking", "loading", "stale", "skip_monitor",
    "skip_slowlog", "asking", "fast", "no_auth", "no_mandatory_keys", "no_async_loading", "no_multi", "allow_busy",
}
RUNTIME_FLAGS = {"module", "movablekeys"}

# (full name, field) -> why redis 7.0 and the 7.4.1 table legitimately differ there. Fields: arity, categories,
# key_specs, flags. Filled in from running this test against Debian's redis-server 7.0.15.
ALLOWED_DIFFERENCES = {
    ("command|getkeys", "arity"):
        "-4 -> -3 in 7.2: the command's own arguments made optional, a 7.0 regression fixed (redis #11201)",
    ("command|getkeysandflags", "arity"):
        "-4 -> -3 in 7.2: the command's own arguments made optional, a 7.0 regression fixed (redis #11201)",
    ("zrank", "arity"): "3 -> -3 in 7.2: the optional WITHSCORE argument (redis #11235)",
    ("zrevrank", "arity"): "3 -> -3 in 7.2: the optional WITHSCORE argument (redis #11235)",
    ("wait", "flags"): "7.2 dropped NOSCRIPT (redis #11568) and 7.4 added BLOCKING (redis #12977)",
    ("wait", "categories"): "@blocking follows from the BLOCKING flag 7.4 added (redis #12977)",
    ("blmove", "flags"): "NOSCRIPT dropped in 7.2: blocking commands run non-blocking in scripts (redis #11568)",
    ("blpop", "flags"): "NOSCRIPT dropped in 7.2: blocking commands run non-blocking in scripts (redis #11568)",
    ("brpop", "flags"): "NOSCRIPT dropped in 7.2: blocking commands run non-blocking in scripts (redis #11568)",
    ("brpoplpush", "flags"): "NOSCRIPT dropped in 7.2: blocking commands run non-blocking in scripts (redis #11568)",
    ("bzpopmax", "flags"): "NOSCRIPT dropped in 7.2: blocking commands run non-blocking in scripts (redis #11568)",
    ("bzpopmin", "flags"): "NOSCRIPT dropped in 7.2: blocking commands run non-blocking in scripts (redis #11568)",
    ("cluster|shards", "flags"): "LOADING added in 7.2: answers while the dataset loads (redis #12269)",
    ("cluster|slots", "flags"): "LOADING added in 7.2: answers while the dataset loads (redis #12269)",
    ("sinterstore", "key_specs"):
        "destination key RW UPDATE -> OW UPDATE in 7.4, like the other *STORE commands (redis #12917)",
}

# Commands a 7.0 server has that the 7.4.1 table lacks (removed since): none expected.
REMOVED_SINCE_SERVER = {
}


def version_tuple(text):
    return tuple(int(part) for part in text.split("."))


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(binary, directory):
    """A redis-server on a free loopback port, without persistence; (process, port, log path)."""
    last_log = ""
    for attempt in range(3):
        port = free_port()
        log_path = os.path.join(directory, f"redis-{attempt}.log")
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--dir", directory, "--daemonize", "no"],
                stdout=log, stderr=subprocess.STDOUT, cwd=directory)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return process, port
            except OSError:
                time.sleep(0.05)
        stop_server(process)
        with open(log_path, encoding="utf-8", errors="replace") as f:
            last_log = f.read()
    pytest.fail(f"redis-server ({binary}) did not start:\n{last_log}")


def stop_server(process):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def normalize_key_spec(spec):
    """A key spec as a canonical JSON string: flags upper-cased and sorted, notes dropped."""
    return json.dumps({
        "flags": sorted(flag.upper() for flag in spec["flags"]),
        "begin_search": {"type": spec["begin_search"]["type"], "spec": spec["begin_search"]["spec"] or {}},
        "find_keys": {"type": spec["find_keys"]["type"], "spec": spec["find_keys"]["spec"] or {}},
    }, sort_keys=True)


def server_entry(reply):
    """One COMMAND reply entry (RESP3): name, arity, flags, first/last/step, categories, tips, key specs, subs."""
    name, arity, flags, _first, _last, _step, categories, _tips, key_specs, _subcommands = reply[:10]
    return {
        "name": name.lower(),
        "arity": arity,
        "flags": sorted(set(flags) - RUNTIME_FLAGS),
        "categories": sorted(c.lstrip("@") for c in categories),
        "key_specs": [normalize_key_spec(s) for s in key_specs],
    }


def table_entry(entry):
    return {
        "name": entry["name"],
        "arity": entry["arity"],
        "flags": sorted({flag.lower() for flag in entry["flags"]} & SHOWN_FLAGS),
        "categories": sorted(entry["categories"]),
        "key_specs": [normalize_key_spec(s) for s in entry["key_specs"]],
        "since": entry["since"],
        "declared_flags": entry["flags"],
    }


@pytest.fixture(scope="module")
def server():
    """{"version": "7.0.15", "commands": {full name: entry}} from a redis-server started for this module."""
    binary = os.environ.get("REDIS_SERVER") or shutil.which("redis-server")
    if not binary:
        pytest.fail("redis-server not found (apt: redis-server, or set REDIS_SERVER)")
    with tempfile.TemporaryDirectory(prefix="redis-command-table-") as directory:
        process, port = start_server(binary, directory)
        try:
            connection = redis.Connection(host="127.0.0.1", port=port, protocol=3, decode_responses=True)
            connection.connect()
            try:
                connection.send_command("INFO", "server")
                info = connection.read_response()
                connection.send_command("COMMAND")
                replies = connection.read_response()
            finally:
                connection.disconnect()
        finally:
            stop_server(process)
    version = next(line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("redis_version:"))
    commands = {}
    for reply in replies:
        entry = server_entry(reply)
        commands[entry["name"]] = entry
        for sub in reply[9]:
            sub_entry = server_entry(sub)
            commands[sub_entry["name"]] = sub_entry
    return {"version": version, "commands": commands}


@pytest.fixture(scope="module")
def table():
    with open(TABLE_JSON, encoding="utf-8") as f:
        document = json.load(f)
    return {entry["name"]: table_entry(entry) for entry in document["commands"]}


def differences(server, table):
    found = {}
    for name in sorted(set(server["commands"]) & set(table)):
        theirs, ours = server["commands"][name], table[name]
        for field in ("arity", "categories", "key_specs", "flags"):
            if theirs[field] != ours[field]:
                found[(name, field)] = (ours[field], theirs[field])
    return found


def describe(found):
    lines = []
    for (name, field), (ours, theirs) in sorted(found.items()):
        lines.append(f"{name} {field}:\n    table (7.4.1): {ours}\n    server:        {theirs}")
    return "\n".join(lines)


def test_the_server_and_table_overlap(server, table):
    both = set(server["commands"]) & set(table)
    # A sanity floor: a 7.x server knows well over 300 commands and subcommands, nearly all in the table.
    assert len(both) > 300, sorted(both)
    for name in ("get", "set", "config|get", "xread", "eval"):
        assert name in both


def test_every_server_command_is_in_the_table(server, table):
    missing = sorted(set(server["commands"]) - set(table) - set(REMOVED_SINCE_SERVER))
    assert not missing, f"in redis {server['version']} but not in the table: {missing}"


def test_table_only_commands_are_newer_than_the_server_or_sentinel_only(server, table):
    server_version = version_tuple(server["version"])
    unexplained = []
    for name in sorted(set(table) - set(server["commands"])):
        entry = table[name]
        container = table.get(name.split("|", 1)[0], entry)
        sentinel_only = "ONLY_SENTINEL" in entry["declared_flags"] + container["declared_flags"]
        if not sentinel_only and version_tuple(entry["since"]) <= server_version:
            unexplained.append(f"{name} (since {entry['since']})")
    assert not unexplained, f"in the table, not in redis {server['version']}, yet not newer: {unexplained}"
    for name in sorted(set(table) & set(server["commands"])):
        assert version_tuple(table[name]["since"]) <= server_version, f"{name} since {table[name]['since']}"


@pytest.mark.parametrize("field", ["arity", "categories", "key_specs", "flags"])
def test_the_same(server, table, field):
    found = {key: value for key, value in differences(server, table).items() if key[1] == field}
    unexpected = {key: value for key, value in found.items() if key not in ALLOWED_DIFFERENCES}
    assert not unexpected, f"{field} differs from redis {server['version']}:\n{describe(unexpected)}"


def test_the_allowed_differences_still_occur(server, table):
    if not server["version"].startswith("7.0."):
        pytest.skip(f"the allow-list was made against redis 7.0.x, the server is {server['version']}")
    found = differences(server, table)
    stale = sorted(key for key in ALLOWED_DIFFERENCES if key not in found)
    assert not stale, f"allowed differences that no longer occur: {stale}"
    removed = sorted(name for name in REMOVED_SINCE_SERVER if name not in server["commands"] or name in table)
    assert not removed, f"REMOVED_SINCE_SERVER entries that do not apply: {removed}"
