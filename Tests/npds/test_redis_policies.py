"""The redis parser's policy contract (issue 14: its "Rules", "Denials" and "Access log") through the C ABI:
every policy delivered by a real NPDS server (grpcio), every request encoded by a real client (redis-py's own
RESP serializer; inline commands by hand), every byte checked as the C datapath delivers it to the server and
to the client, and the access log read back by a real SOCK_SEQPACKET collector.

  VERDICTS       one policy, many requests, each on a fresh connection (db 0, no state): forwarded whole, or
                 dropped and answered `-NOPERM …` at once.
  CONVERSATIONS  one connection, client and server writes in order: denials in place among pipelined replies,
                 MULTI/EXEC aborts, CLIENT REPLY OFF/SKIP, SELECT and the db rules, pub/sub, live updates. Each
                 runs with every write whole, byte by byte, and in 5-byte pieces.
  NACKS          each invalid rule form: the NPDS server reads a NACK naming the problem; the policy before it
                 stays in force.
  ACCESS LOG     Request/Denied/Response entries (generic_l7 "redis": command, keys or channels, db), and no
                 password or value in any byte of the log.
"""
import pytest

from redis_support import (
    DENIED_UNKNOWN, DISCARD, EXECABORT, NIL, OK, QUEUED, Client, Conversation, Install, Server, array, bulk,
    check_redis_entries, cmd, connect, den, denied, inline, integer, pipeline, play, push_confirmation,
    redis_policy, req, resp, RESPONSE)

C = cmd


# ---- verdicts --------------------------------------------------------------------------------------------------

def ok(request):
    """Forwarded to the server unchanged; nothing for the client yet."""
    return request, None


def no(request, command):
    """Dropped; the client reads the NOPERM naming `command` (`get`, `config|get`)."""
    return request, denied(command)


def no_unknown(request):
    """Dropped; a command the table does not know is not named in the NOPERM."""
    return request, DENIED_UNKNOWN


SCRIPT = "return redis.call('get', KEYS[1])"

VERDICTS = [
    # (name, allow rules, deny rules, [(request, None if forwarded else the client's reply)])

    # -- rules without conditions ------------------------------------------------------------------------------
    ("no l7 rules allow everything", [], [], [
        ok(C("GET", "a")), ok(C("FLUSHALL")), ok(C("JSON.GET", "doc")), ok(inline("KEYS *"))]),
    ("an empty rule allows everything", [{}], [], [
        ok(C("SET", "a", "1")), ok(C("CONFIG", "SET", "maxmemory", "1")), ok(C("JSON.SET", "doc", "$", "1"))]),
    ("empty values count as absent", [{"command": "", "keyExact": "", "channelPrefix": "", "db": ""}], [], [
        ok(C("SET", "a", "1")), ok(C("PUBLISH", "ch", "m")), ok(C("DBSIZE"))]),
    ("an empty value leaves the other conditions", [{"command": "get", "keyExact": ""}], [], [
        ok(C("GET", "anything")), no(C("SET", "a", "1"), "set")]),

    # -- command names, containers, subcommands ------------------------------------------------------------------
    ("command by name, any case", [{"command": "get"}], [], [
        ok(C("GET", "a")), ok(C("get", "a")), ok(C("GeT", "a")), ok(inline("get a")),
        no(C("SET", "a", "1"), "set"), no(C("MGET", "a"), "mget"), no(C("GETEX", "a"), "getex"),
        no(C("PING"), "ping"), no(C("QUIT"), "quit"), no_unknown(inline("getx a"))]),
    ("rule names in upper case", [{"command": "GET"}, {"command": "Config|Get"}], [], [
        ok(C("get", "a")), ok(C("config", "get", "maxmemory")), no(C("CONFIG", "SET", "a", "b"), "config|set")]),
    ("a container covers its subcommands", [{"command": "config"}], [], [
        ok(C("CONFIG", "GET", "maxmemory")), ok(C("CONFIG", "SET", "maxmemory", "1")), ok(C("CONFIG", "RESETSTAT")),
        ok(C("CONFIG", "NOPE")), ok(C("CONFIG")), no(C("GET", "a"), "get"), no(C("CLIENT", "LIST"), "client|list")]),
    ("container|subcommand", [{"command": "config|get"}], [], [
        ok(C("CONFIG", "GET", "maxmemory")), ok(C("config", "get", "*")), ok(inline("config get maxmemory")),
        ok(C("Config", "GeT", "maxmemory")),
        no(C("CONFIG", "SET", "maxmemory", "1"), "config|set"), no(C("CONFIG", "RESETSTAT"), "config|resetstat"),
        # an unknown subcommand is the container itself (redis answers an error and runs nothing)
        no(C("CONFIG", "NOPE"), "config"), no(C("CONFIG"), "config")]),
    ("container subcommand with a blank", [{"command": "config get"}], [], [
        ok(C("CONFIG", "GET", "maxmemory")), no(C("CONFIG", "SET", "maxmemory", "1"), "config|set")]),
    ("the container alone is not its subcommands", [{"command": "object|encoding"}], [], [
        ok(C("OBJECT", "ENCODING", "k")), no(C("OBJECT", "FREQ", "k"), "object|freq"),
        no(C("OBJECT", "HELP"), "object|help")]),
    ("a subcommand rule with keys", [{"command": "object|encoding", "keyPrefix": "pub:"}], [], [
        ok(C("OBJECT", "ENCODING", "pub:k")), no(C("OBJECT", "ENCODING", "k"), "object|encoding")]),

    # -- ACL categories ------------------------------------------------------------------------------------------
    ("@read", [{"command": "@read"}], [], [
        ok(C("GET", "a")), ok(C("MGET", "a", "b")), ok(C("DBSIZE")), ok(C("KEYS", "*")), ok(C("HGETALL", "h")),
        ok(C("XREAD", "STREAMS", "s", "0")), ok(C("OBJECT", "ENCODING", "k")),
        no(C("SET", "a", "1"), "set"), no(C("DEL", "a"), "del"), no(C("CONFIG", "GET", "x"), "config|get"),
        no(C("PING"), "ping"), no_unknown(C("JSON.GET", "doc"))]),
    ("@write", [{"command": "@write"}], [], [
        ok(C("SET", "a", "1")), ok(C("DEL", "a")), ok(C("FLUSHALL")), ok(C("LPUSH", "l", "x")),
        ok(C("SORT", "l")), no(C("GET", "a"), "get"), no(C("SORT_RO", "l"), "sort_ro"), no_unknown(C("JSON.SET", "d", "$", "1"))]),
    ("@admin (implicitly @dangerous too)", [{"command": "@admin"}], [], [
        ok(C("CONFIG", "GET", "maxmemory")), ok(C("CONFIG", "SET", "maxmemory", "1")), ok(C("DEBUG", "SLEEP", "0")),
        ok(C("BGSAVE")),
        # the CONFIG container itself is @slow only
        no(C("CONFIG", "NOPE"), "config"), no(C("FLUSHALL"), "flushall"), no(C("KEYS", "*"), "keys"),
        no(C("GET", "a"), "get")]),
    ("@dangerous", [{"command": "@dangerous"}], [], [
        ok(C("KEYS", "*")), ok(C("FLUSHALL")), ok(C("FLUSHDB")), ok(C("INFO")), ok(C("CONFIG", "GET", "x")),
        ok(C("SORT", "l")), ok(C("SWAPDB", "0", "1")), no(C("GET", "a"), "get"), no(C("DEL", "a"), "del")]),
    ("@keyspace", [{"command": "@keyspace"}], [], [
        ok(C("DEL", "a")), ok(C("DBSIZE")), ok(C("EXISTS", "a", "b")), ok(C("KEYS", "*")), ok(C("MOVE", "a", "1")),
        ok(C("OBJECT", "ENCODING", "k")), no(C("GET", "a"), "get"), no(C("SET", "a", "1"), "set")]),
    ("@string", [{"command": "@string"}], [], [
        ok(C("GET", "a")), ok(C("SET", "a", "1")), ok(C("APPEND", "a", "x")), ok(C("MSET", "a", "1", "b", "2")),
        no(C("DEL", "a"), "del"), no(C("LPUSH", "l", "x"), "lpush"), no(C("HGETALL", "h"), "hgetall")]),
    ("@connection", [{"command": "@connection"}], [], [
        ok(C("PING")), ok(C("ECHO", "hi")), ok(C("SELECT", "0")), ok(C("CLIENT", "REPLY", "ON")),
        ok(C("CLIENT", "INFO")), ok(C("CLIENT", "KILL", "ID", "1")), no(C("GET", "a"), "get"), no(C("CONFIG", "GET", "x"), "config|get")]),
    ("@pubsub", [{"command": "@pubsub"}], [], [
        ok(C("PUBLISH", "ch", "m")), ok(C("SUBSCRIBE", "ch")), ok(C("PSUBSCRIBE", "c*")), ok(C("SPUBLISH", "ch", "m")),
        ok(C("PUBSUB", "CHANNELS")), no(C("GET", "a"), "get")]),
    ("implicit categories: flags make @fast/@slow/@blocking, readonly scripting is not @read",
     [{"command": "@fast"}, {"command": "@blocking"}, {"command": "@scripting"}], [], [
        ok(C("GET", "a")), ok(C("BLPOP", "l", "0")), ok(C("XREAD", "BLOCK", "0", "STREAMS", "s", "$")),
        ok(C("EVAL_RO", SCRIPT, "0")), no(C("SET", "a", "1"), "set"), no(C("KEYS", "*"), "keys")]),
    ("readonly scripting commands are not @read", [{"command": "@read"}], [], [
        no(C("EVAL_RO", SCRIPT, "1", "a"), "eval_ro"), no(C("FCALL_RO", "f", "1", "a"), "fcall_ro"), ok(C("GET", "a"))]),
    ("@transaction and @slow", [{"command": "@transaction"}, {"command": "@slow"}], [], [
        ok(C("MULTI")), ok(C("EXEC")), ok(C("WATCH", "a")), ok(C("SET", "a", "1")), ok(C("CONFIG", "NOPE")),
        no(C("GET", "a"), "get"), no(C("PING"), "ping")]),
    ("category in upper case", [{"command": "@READ"}], [], [ok(C("GET", "a")), no(C("SET", "a", "1"), "set")]),
    ("a category with a key condition", [{"command": "@read", "keyPrefix": "pub:"}], [], [
        ok(C("GET", "pub:a")), ok(C("MGET", "pub:a", "pub:b")), no(C("MGET", "pub:a", "b"), "mget"),
        no(C("SET", "pub:a", "1"), "set"), no(C("DBSIZE"), "dbsize"), no(C("KEYS", "pub:*"), "keys")]),

    # -- key conditions ------------------------------------------------------------------------------------------
    ("keyExact", [{"command": "get", "keyExact": "a"}], [], [
        ok(C("GET", "a")), no(C("GET", "b"), "get"), no(C("GET", "ab"), "get"), no(C("GET", "A"), "get")]),
    ("keyPrefix on single-key commands", [{"keyPrefix": "user:"}], [], [
        ok(C("GET", "user:1")), ok(C("SET", "user:1", "other:value")), ok(C("INCR", "user:n")),
        no(C("GET", "other:1"), "get"), no(C("SET", "other:1", "user:1"), "set"), no(C("GET", "user"), "get")]),
    ("keyPrefix on multi-key commands: every key", [{"keyPrefix": "user:"}], [], [
        ok(C("MGET", "user:1", "user:2")), no(C("MGET", "user:1", "other"), "mget"),
        ok(C("DEL", "user:1", "user:2", "user:3")), no(C("DEL", "user:1", "other"), "del"),
        # MSET's values are not keys
        ok(C("MSET", "user:1", "other:a", "user:2", "other:b")), no(C("MSET", "user:1", "a", "other", "b"), "mset"),
        ok(C("EXISTS", "user:1")), ok(C("RENAME", "user:a", "user:b")), no(C("RENAME", "user:a", "other"), "rename")]),
    ("keyPrefix on EVAL: numkeys counts the keys", [{"keyPrefix": "user:"}], [], [
        ok(C("EVAL", SCRIPT, "1", "user:1")), ok(C("EVAL", SCRIPT, "2", "user:1", "user:2")),
        ok(C("EVAL", SCRIPT, "1", "user:1", "other-argument")), no(C("EVAL", SCRIPT, "2", "user:1", "other"), "eval"),
        ok(C("EVALSHA", "a" * 40, "1", "user:1")), ok(C("FCALL", "f", "1", "user:1", "arg")),
        # no key at all: a key rule needs at least one
        no(C("EVAL", SCRIPT, "0"), "eval"), no(C("EVAL", SCRIPT, "0", "user:1"), "eval"),
        # keys beyond the arguments, a count that is not a number: incomplete
        no(C("EVAL", SCRIPT, "3", "user:1"), "eval"), no(C("EVAL", SCRIPT, "x", "user:1"), "eval"),
        no(C("EVAL", SCRIPT, "-1", "user:1"), "eval"), no(C("EVAL", SCRIPT, "01", "user:1"), "eval")]),
    ("keyPrefix on XREAD STREAMS", [{"keyPrefix": "user:"}], [], [
        ok(C("XREAD", "STREAMS", "user:a", "0")), ok(C("XREAD", "COUNT", "1", "STREAMS", "user:a", "user:b", "0", "0")),
        # the IDs after the keys are not keys
        ok(C("XREAD", "STREAMS", "user:a", "user:b", "other", "$")),
        no(C("XREAD", "STREAMS", "user:a", "other", "0", "0"), "xread"),
        ok(C("XREADGROUP", "GROUP", "g", "c", "STREAMS", "user:a", ">"))]),
    ("keyPrefix on ZUNIONSTORE", [{"keyPrefix": "user:"}], [], [
        ok(C("ZUNIONSTORE", "user:dst", "2", "user:a", "user:b")),
        ok(C("ZUNIONSTORE", "user:dst", "1", "user:a", "WEIGHTS", "2")),
        no(C("ZUNIONSTORE", "other", "2", "user:a", "user:b"), "zunionstore"),
        no(C("ZUNIONSTORE", "user:dst", "2", "user:a", "other"), "zunionstore"),
        no(C("ZUNIONSTORE", "user:dst", "3", "user:a", "user:b"), "zunionstore")]),
    ("keyPrefix on SORT: STORE is a key, BY/GET patterns with * read keys named by data", [{"keyPrefix": "user:"}], [], [
        ok(C("SORT", "user:l")), ok(C("SORT", "user:l", "STORE", "user:out")), ok(C("SORT", "user:l", "LIMIT", "0", "10", "ALPHA")),
        ok(C("SORT", "user:l", "BY", "nosort")), ok(C("SORT", "user:l", "GET", "#")),
        no(C("SORT", "user:l", "STORE", "other"), "sort"), no(C("SORT", "other"), "sort"),
        no(C("SORT", "user:l", "BY", "user:w_*"), "sort"), no(C("SORT", "user:l", "GET", "user:*->f"), "sort"),
        no(C("SORT", "user:l", "BY", "nosort", "GET", "#", "GET", "user:o_*", "STORE", "user:out"), "sort"),
        ok(C("SORT_RO", "user:l", "ALPHA")), no(C("SORT_RO", "user:l", "BY", "user:*"), "sort_ro"),
        # the keywords in any case; SORT_RO has no STORE
        no(C("sort", "user:l", "by", "user:*"), "sort"), no(C("SORT", "user:l", "store", "other"), "sort"),
        ok(C("SORT_RO", "user:l", "STORE", "other"))]),
    ("keyPrefix on MIGRATE: the key, or the keys after KEYS", [{"keyPrefix": "user:"}], [], [
        ok(C("MIGRATE", "redis-b.example", "6379", "user:1", "0", "5000")),
        ok(C("MIGRATE", "redis-b.example", "6379", "user:1", "0", "5000", "COPY", "REPLACE")),
        no(C("MIGRATE", "redis-b.example", "6379", "other", "0", "5000"), "migrate"),
        ok(C("MIGRATE", "redis-b.example", "6379", "", "0", "5000", "KEYS", "user:1", "user:2")),
        no(C("MIGRATE", "redis-b.example", "6379", "", "0", "5000", "KEYS", "user:1", "other"), "migrate"),
        # AUTH takes one argument, AUTH2 two: neither is a key
        ok(C("MIGRATE", "redis-b.example", "6379", "", "0", "5000", "AUTH", "pw", "KEYS", "user:1")),
        ok(C("MIGRATE", "redis-b.example", "6379", "", "0", "5000", "AUTH2", "other", "pw", "KEYS", "user:1")),
        ok(C("MIGRATE", "redis-b.example", "6379", "user:1", "0", "5000", "AUTH2", "KEYS", "pw")),
        # KEYS with a non-empty key argument: redis refuses it, the key list is incomplete
        no(C("MIGRATE", "redis-b.example", "6379", "user:1", "0", "5000", "KEYS", "user:2"), "migrate")]),
    ("keyless commands fail a key rule", [{"keyPrefix": "user:"}], [], [
        no(C("KEYS", "*"), "keys"), no(C("KEYS", "user:*"), "keys"), no(C("FLUSHALL"), "flushall"),
        no(C("DBSIZE"), "dbsize"), no(C("PING"), "ping"), no(C("SCAN", "0", "MATCH", "user:*"), "scan"),
        no(C("PUBLISH", "user:1", "m"), "publish"),
        # shard channels are NOT_KEY key specs: not keys
        no(C("SPUBLISH", "user:1", "m"), "spublish"), no(C("SSUBSCRIBE", "user:1"), "ssubscribe")]),
    ("unknown commands fail a key rule", [{"keyPrefix": "doc"}, {"command": "json.get", "keyPrefix": "doc"}], [], [
        no_unknown(C("JSON.GET", "doc")), no_unknown(C("JSON.GET", "doc:1", "$"))]),
    ("keyPrefix on keyword key specs: GEORADIUS STORE, LMPOP numkeys", [{"keyPrefix": "user:"}], [], [
        ok(C("GEORADIUS", "user:g", "0", "0", "1", "km")), ok(C("GEORADIUS", "user:g", "0", "0", "1", "km", "STORE", "user:o")),
        no(C("GEORADIUS", "user:g", "0", "0", "1", "km", "STORE", "other"), "georadius"),
        no(C("GEORADIUS", "user:g", "0", "0", "1", "km", "STOREDIST", "other"), "georadius"),
        ok(C("LMPOP", "2", "user:a", "user:b", "LEFT")), no(C("LMPOP", "2", "user:a", "other", "LEFT"), "lmpop"),
        ok(C("BLMPOP", "0", "1", "user:a", "RIGHT", "COUNT", "2"))]),
    ("keyPrefix on subcommands and key counts", [{"keyPrefix": "user:"}], [], [
        ok(C("XINFO", "STREAM", "user:s")), no(C("XINFO", "STREAM", "other"), "xinfo|stream"),
        ok(C("MEMORY", "USAGE", "user:k")), ok(C("XGROUP", "CREATE", "user:s", "g", "$")),
        ok(C("SINTERCARD", "2", "user:a", "user:b", "LIMIT", "1")), no(C("SINTERCARD", "2", "user:a", "x"), "sintercard"),
        no(C("SINTERCARD", "99999999999999999999", "user:a"), "sintercard"),
        no(C("SINTERCARD", "123456789012345678901", "user:a"), "sintercard"),
        no(C("SCRIPT", "LOAD", "return 1"), "script|load"), no(C("CLIENT", "LIST"), "client|list")]),
    ("keys of inline commands, as redis splits them", [{"command": "get", "keyExact": "a b"}], [], [
        ok(inline('GET "a b"')), ok(inline("GET 'a b'")), ok(inline('GET "a\\x20b"')), ok(inline("get  'a b'  ")),
        ok(inline(b'GET "a b"\r')), no(inline("GET a b"), "get"), no(inline("GET ab"), "get")]),
    ("keyRegex, unanchored", [{"command": "get", "keyRegex": "[0-9]$"}], [], [
        ok(C("GET", "a1")), ok(C("GET", "9")), no(C("GET", "1a"), "get")]),
    ("keyRegex anchored, every key", [{"keyRegex": "^user:[0-9]+$"}], [], [
        ok(C("GET", "user:12")), ok(C("MGET", "user:1", "user:2")), no(C("MGET", "user:1", "user:x"), "mget"),
        no(C("GET", "xuser:1"), "get")]),
    ("every key condition of a rule", [{"keyPrefix": "user:", "keyRegex": "[0-9]$", "command": "@read"}], [], [
        ok(C("GET", "user:1")), no(C("GET", "user:a"), "get"), no(C("GET", "x1"), "get"),
        no(C("SET", "user:1", "v"), "set")]),
    ("one rule per command", [{"command": "get", "keyPrefix": "a"}, {"command": "set", "keyPrefix": "b"}], [], [
        ok(C("GET", "a1")), ok(C("SET", "b1", "v")), no(C("GET", "b1"), "get"), no(C("SET", "a1", "v"), "set")]),
    ("rules do not pool their keys", [{"keyPrefix": "a"}, {"keyPrefix": "b"}], [], [
        ok(C("MGET", "a1", "a2")), ok(C("MGET", "b1", "b2")), no(C("MGET", "a1", "b1"), "mget")]),

    # -- channel conditions --------------------------------------------------------------------------------------
    ("channelPrefix", [{"channelPrefix": "news."}], [], [
        ok(C("PUBLISH", "news.a", "hi")), no(C("PUBLISH", "secret", "hi"), "publish"),
        ok(C("SPUBLISH", "news.a", "hi")), ok(C("SUBSCRIBE", "news.a", "news.b")),
        no(C("SUBSCRIBE", "news.a", "secret"), "subscribe"), ok(C("SSUBSCRIBE", "news.a")),
        # PSUBSCRIBE: the prefix must lie before the first glob character
        ok(C("PSUBSCRIBE", "news.*")), ok(C("PSUBSCRIBE", "news.[ab]")), ok(C("PSUBSCRIBE", "news.a?")),
        no(C("PSUBSCRIBE", "new*"), "psubscribe"), no(C("PSUBSCRIBE", "*"), "psubscribe"),
        no(C("PSUBSCRIBE", "news?x"), "psubscribe"), no(C("PSUBSCRIBE", "news\\.x"), "psubscribe"),
        ok(C("PSUBSCRIBE", "news.a")),  # no glob: a literal channel
        # unsubscribing always passes channel conditions
        ok(C("UNSUBSCRIBE", "secret")), ok(C("UNSUBSCRIBE")), ok(C("PUNSUBSCRIBE", "*")), ok(C("SUNSUBSCRIBE", "x")),
        # a channel rule matches only channel commands
        no(C("GET", "news.a"), "get"), no(C("PUBSUB", "CHANNELS"), "pubsub|channels"), no(C("PING"), "ping")]),
    ("channelExact: never a glob pattern", [{"channelExact": "news"}], [], [
        ok(C("PUBLISH", "news", "m")), no(C("PUBLISH", "news2", "m"), "publish"), ok(C("PSUBSCRIBE", "news")),
        no(C("PSUBSCRIBE", "news*"), "psubscribe"), no(C("PSUBSCRIBE", "new?"), "psubscribe")]),
    ("channelRegex: never a glob pattern", [{"channelRegex": r"^news\."}], [], [
        ok(C("PUBLISH", "news.a", "m")), no(C("PUBLISH", "xnews.a", "m"), "publish"), ok(C("PSUBSCRIBE", "news.a")),
        no(C("PSUBSCRIBE", "news.*"), "psubscribe"), ok(C("SUBSCRIBE", "news.x", "news.y"))]),
    ("a channel prefix holding a glob character", [{"channelPrefix": "a*"}], [], [
        ok(C("PUBLISH", "a*b", "m")), no(C("PUBLISH", "ab", "m"), "publish"), no(C("PSUBSCRIBE", "a*"), "psubscribe"),
        no(C("PSUBSCRIBE", "a*b*"), "psubscribe")]),
    ("channel rule with a command", [{"command": "publish", "channelExact": "news"}], [], [
        ok(C("PUBLISH", "news", "m")), no(C("SUBSCRIBE", "news"), "subscribe"),
        no(C("UNSUBSCRIBE", "news"), "unsubscribe")]),
    ("channel rule with a category", [{"command": "@pubsub", "channelPrefix": "a"}], [], [
        ok(C("PUBLISH", "a1", "m")), ok(C("UNSUBSCRIBE")), no(C("PUBLISH", "b1", "m"), "publish")]),

    # -- deny rules ----------------------------------------------------------------------------------------------
    ("a deny rule wins over an allow rule", [{}], [{"command": "flushall"}], [
        no(C("FLUSHALL"), "flushall"), no(C("flushall", "ASYNC"), "flushall"), ok(C("FLUSHDB")), ok(C("GET", "a"))]),
    ("deny a category", [{}], [{"command": "@dangerous"}], [
        no(C("KEYS", "*"), "keys"), no(C("CONFIG", "GET", "x"), "config|get"), no(C("SORT", "l"), "sort"),
        ok(C("GET", "a")), ok(C("CONFIG", "NOPE")), ok(C("JSON.GET", "doc"))]),
    ("deny a subcommand, allow its container", [{"command": "config"}], [{"command": "config|set"}], [
        ok(C("CONFIG", "GET", "x")), no(C("CONFIG", "SET", "x", "1"), "config|set")]),
    ("deny an unknown command by name", [{}], [{"command": "json.del"}], [
        no_unknown(C("JSON.DEL", "doc")), ok(C("JSON.GET", "doc"))]),
    ("deny keys by prefix: some key suffices", [{}], [{"keyPrefix": "secret:"}], [
        no(C("GET", "secret:1"), "get"), no(C("MGET", "a", "secret:1"), "mget"), ok(C("MGET", "a", "b")),
        no(C("MSET", "a", "1", "secret:x", "2"), "mset"), ok(C("MSET", "a", "secret:value")),
        ok(C("DBSIZE")), ok(C("KEYS", "secret:*")), ok(C("EVAL", SCRIPT, "0")), ok(C("PUBLISH", "secret:1", "m")),
        ok(C("SPUBLISH", "secret:1", "m")), ok(C("SSUBSCRIBE", "secret:1"))]),
    ("deny rules with key conditions deny incomplete key lists", [{}], [{"keyPrefix": "secret:"}], [
        no(C("SORT", "l", "BY", "w_*"), "sort"), ok(C("SORT", "l", "BY", "nosort")),
        no(C("SORT_RO", "l", "GET", "*->f"), "sort_ro"),
        no(C("EVAL", SCRIPT, "x", "a"), "eval"), no(C("EVAL", SCRIPT, "5", "a"), "eval"),
        no(C("MIGRATE", "redis-b.example", "6379", "a", "0", "5000", "KEYS", "b"), "migrate"),
        no_unknown(C("JSON.GET", "doc"))]),
    ("deny with a command and a key", [{}], [{"command": "set", "keyPrefix": "ro:"}], [
        no(C("SET", "ro:1", "v"), "set"), ok(C("GET", "ro:1")), ok(C("SET", "rw:1", "v")), ok(C("DEL", "ro:1"))]),
    ("deny needs one key to meet every condition", [{}], [{"keyPrefix": "a", "keyRegex": "9$"}], [
        ok(C("MGET", "a1", "b9")), no(C("MGET", "b1", "a9"), "mget"), ok(C("GET", "a1"))]),
    ("deny keyRegex", [{"command": "@read"}], [{"keyRegex": "^tmp"}], [
        no(C("GET", "tmp1"), "get"), ok(C("GET", "xtmp")), no(C("SET", "x", "1"), "set")]),
    ("deny channels: any glob pattern", [{}], [{"channelPrefix": "secret"}], [
        no(C("PUBLISH", "secret.x", "m"), "publish"), ok(C("PUBLISH", "news", "m")),
        no(C("SUBSCRIBE", "news", "secret.x"), "subscribe"), ok(C("PSUBSCRIBE", "news.a")),
        no(C("PSUBSCRIBE", "news.*"), "psubscribe"), no(C("PSUBSCRIBE", "secret.a"), "psubscribe"),
        ok(C("UNSUBSCRIBE", "secret.x")), ok(C("PUNSUBSCRIBE", "*")), ok(C("GET", "secret.x"))]),
    ("a deny rule without conditions denies everything but AUTH and HELLO", [{}], [{}], [
        no(C("GET", "a"), "get"), no(C("PING"), "ping"), no_unknown(C("JSON.GET", "d")),
        ok(C("AUTH", "s3cr3t")), ok(C("AUTH", "alice", "s3cr3t")), ok(C("HELLO", "3")),
        ok(C("HELLO", "2", "AUTH", "alice", "s3cr3t", "SETNAME", "x")), ok(inline("auth s3cr3t"))]),

    # -- AUTH and HELLO are never checked ------------------------------------------------------------------------
    ("AUTH and HELLO pass any rule", [{"command": "get", "keyPrefix": "a"}], [{"command": "@connection"}], [
        ok(C("AUTH", "pw")), ok(C("HELLO")), ok(C("HELLO", "3", "AUTH", "default", "pw")),
        no(C("PING"), "ping"), no(C("SELECT", "1"), "select"), ok(C("GET", "a1"))]),

    # -- unknown commands --------------------------------------------------------------------------------------
    ("unknown commands by name", [{"command": "json.get"}], [], [
        ok(C("JSON.GET", "doc")), ok(C("json.get", "doc", "$")), ok(inline("Json.Get doc")),
        no_unknown(C("JSON.SET", "doc", "$", "1")), no(C("GET", "doc"), "get")]),
    ("unknown command names up to 64 bytes", [{"command": "x" * 64}], [], [
        ok(C("X" * 64)), ok(C("x" * 64, "arg")), no_unknown(C("x" * 65)), no_unknown(C("x" * 63))]),
    ("a deny rule on an unknown command with a key condition: keys unknown, denied", [{}],
     [{"command": "json.get", "keyPrefix": "secret"}], [
        no_unknown(C("JSON.GET", "public")), ok(C("JSON.SET", "public", "$", "1")), ok(C("GET", "public"))]),
    ("a category never matches an unknown command", [{"command": "@read"}, {"command": "@write"}], [], [
        no_unknown(C("JSON.GET", "doc")), no_unknown(C("FT.SEARCH", "idx", "*"))]),

    # -- db conditions (fresh connections: db 0) -----------------------------------------------------------------
    ("allow db 0: commands confined to it", [{"db": "0"}], [], [
        ok(C("GET", "a")), ok(C("SELECT", "0")), no(C("SELECT", "1"), "select"),
        ok(C("MOVE", "a", "0")), no(C("MOVE", "a", "1"), "move"),
        ok(C("COPY", "a", "b")), ok(C("COPY", "a", "b", "DB", "0", "REPLACE")), no(C("COPY", "a", "b", "DB", "1"), "copy"),
        ok(C("SWAPDB", "0", "0")), no(C("SWAPDB", "0", "1"), "swapdb"), no(C("SWAPDB", "1", "0"), "swapdb"),
        ok(C("FLUSHDB")), no(C("FLUSHALL"), "flushall")]),
    ("allow db 1 from db 0", [{"db": "1"}], [], [
        no(C("GET", "a"), "get"), ok(C("SELECT", "1")), no(C("MOVE", "a", "1"), "move"), ok(C("SWAPDB", "1", "1")),
        no(C("FLUSHALL"), "flushall"), no(C("SELECT", "x"), "select")]),
    ("deny db 1: anything that touches it", [{}], [{"db": "1"}], [
        ok(C("GET", "a")), ok(C("SELECT", "2")), no(C("SELECT", "1"), "select"),
        no(C("MOVE", "a", "1"), "move"), ok(C("MOVE", "a", "2")),
        no(C("COPY", "a", "b", "DB", "1"), "copy"), ok(C("COPY", "a", "b", "DB", "2")), ok(C("COPY", "a", "b")),
        no(C("SWAPDB", "0", "1"), "swapdb"), no(C("SWAPDB", "1", "2"), "swapdb"), ok(C("SWAPDB", "0", "2")),
        no(C("FLUSHALL"), "flushall"), ok(C("FLUSHDB"))]),
    ("db with a command", [{"command": "select", "db": "2"}, {"command": "get"}], [], [
        ok(C("SELECT", "2")), no(C("SELECT", "3"), "select"), ok(C("GET", "a"))]),
]


@pytest.mark.parametrize("name,allow,deny,checks", VERDICTS, ids=[v[0] for v in VERDICTS])
def test_redis_verdict(library, npds, module, next_id, name, allow, deny, checks):
    npds.install("1", redis_policy(*allow, deny=deny))
    failures = []
    for request, reply in checks:
        conn = connect(library, module, next_id())
        try:
            got = conn.client_sends(request)
        finally:
            conn.close()
        expected = ("OK", request, b"") if reply is None else ("OK", b"", reply)
        if got != expected:
            failures.append(f"{request!r}: expected {expected}, got {got}")
    assert not failures, "\n".join(failures)


# ---- conversations ---------------------------------------------------------------------------------------------

BIG = "0123456789abcdef" * 4480  # 70 KiB: more than the 64 KiB a last argument may stream past
G = C("GET", "public:a")
G2 = C("GET", "public:b")
SECRET = C("GET", "secret")

CONVERSATIONS = [
    # -- denials in place among pipelined replies -----------------------------------------------------------------
    Conversation("pipelined: each denial exactly where its reply would be", [{"command": "get", "keyPrefix": "public:"}], [
        Client(pipeline(("GET", "public:a"), ("GET", "secret"), ("GET", "public:b"), ("SET", "public:x", "1")),
               server=G + G2),
        Server(bulk("1"), client=bulk("1") + denied("get")),
        Server(NIL, client=NIL + denied("set")),
    ]),
    Conversation("pipelined: a reply in pieces, the denial after its last byte", [{"command": "get", "keyPrefix": "public:"}], [
        Client(G + SECRET, server=G),
        # a small bulk string passes whole (its CRLF checked)
        Server(b"$5\r\nhel", client=b""),
        Server(b"lo\r\n", client=b"$5\r\nhello\r\n" + denied("get")),
    ]),
    Conversation("pipelined: denials at the head are answered at once", [{"command": "get", "keyPrefix": "public:"}], [
        Client(SECRET + C("DEL", "public:a") + G + SECRET, server=G, client=denied("get") + denied("del")),
        Server(NIL, client=NIL + denied("get")),
    ]),
    Conversation("a denial with nothing outstanding is answered at once", [{"command": "@read"}], [
        Client(C("SET", "k", "v"), client=denied("set")),
        Client(C("GET", "k"), server=C("GET", "k")),
        Server(NIL),
        Client(C("DEL", "k"), client=denied("del")),
    ]),
    Conversation("a denial behind a reply still arriving waits for its end", [{"command": "get", "keyPrefix": "public:"}], [
        Client(G, server=G),
        Server(b"*2\r\n$10\r\n01234", client=b"*2\r\n"),
        Client(SECRET),
        Server(b"56789\r\n:1\r\n", client=b"$10\r\n0123456789\r\n:1\r\n" + denied("get")),
    ]),
    Conversation("*0, *-1 and empty inline lines pass and expect no reply", [{"command": "get", "keyPrefix": "public:"}], [
        Client(b"*0\r\n" + SECRET + b"\r\n*-1\r\n" + G + b"\n" + SECRET,
               server=b"*0\r\n\r\n*-1\r\n" + G + b"\n", client=denied("get")),
        Server(NIL, client=NIL + denied("get")),
    ]),
    Conversation("a thousand denials behind one reply", [{"command": "get", "keyPrefix": "public:"}], [
        Client(G + SECRET * 1000, server=G),
        Server(NIL, client=NIL + denied("get") * 1000),
    ], splits=(None, 97)),
    Conversation("large values pass and are dropped whole", [{"command": "set", "keyExact": "big"}, {"command": "get"}], [
        Client(C("SET", "big", BIG) + C("GET", "big") + C("SET", "other", BIG) + C("GET", "x"),
               server=C("SET", "big", BIG) + C("GET", "big") + C("GET", "x")),
        Server(OK + bulk(BIG) + NIL, client=OK + bulk(BIG) + denied("set") + NIL),
        Client(C("SET", "other", BIG), client=denied("set")),
    ], splits=(None, 4093, 65536 + 13)),
    Conversation("a malformed request closes the connection", [{}], [
        Client(C("GET", "a"), server=C("GET", "a")),
        Client(b"*2\r\n$3\r\nGET\r\n+a\r\n", result="PARSER_ERROR"),
    ], splits=(None,)),
    Conversation("a reply with no request due passes", [{"command": "get"}], [
        Server(b"-ERR max number of clients reached\r\n"),
        Client(C("SET", "a", "1"), client=denied("set")),
    ]),
    Conversation("RESP3 pushes: a denial waits for its reply, not for a push", [{"command": "get"}], [
        Client(C("HELLO", "3") + C("GET", "a") + C("SET", "a", "1"), server=C("HELLO", "3") + C("GET", "a")),
        Server(b"%1\r\n+proto\r\n:3\r\n" + b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\na\r\n" + b"_\r\n"
               + b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nb\r\n",
               client=b"%1\r\n+proto\r\n:3\r\n" + b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\na\r\n" + b"_\r\n"
               + denied("set") + b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nb\r\n"),
    ]),
    Conversation("a malformed reply closes the connection", [{}], [
        Client(C("GET", "a"), server=C("GET", "a")),
        Server(b"?what\r\n", client=b"", result="PARSER_ERROR"),
    ], splits=(None,)),
    Conversation("denials among inline commands", [{"command": "get", "keyPrefix": "public:"}], [
        Client(b"GET public:a\r\nGET secret\r\nGET \"public:b\"\r\n", server=b"GET public:a\r\nGET \"public:b\"\r\n"),
        Server(NIL + bulk("x"), client=NIL + denied("get") + bulk("x")),
    ]),
    Conversation("an unknown command denied among replies", [{"command": "get"}], [
        Client(C("GET", "a") + C("JSON.GET", "doc") + C("GET", "b"), server=C("GET", "a") + C("GET", "b")),
        Server(NIL + NIL, client=NIL + DENIED_UNKNOWN + NIL),
    ]),
    Conversation("denials after error and array replies", [{"command": "get"}, {"command": "mget"}], [
        Client(C("GET", "l") + C("SET", "a", "1") + C("MGET", "a", "b") + C("DEL", "a"),
               server=C("GET", "l") + C("MGET", "a", "b")),
        Server(b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n" + array(bulk("1"), NIL),
               client=b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n" + denied("set")
               + array(bulk("1"), NIL) + denied("del")),
    ]),

    # -- MULTI / EXEC ---------------------------------------------------------------------------------------------
    Conversation("a transaction that loses a command: DISCARD in place of EXEC, EXECABORT",
                 [{"command": "@transaction"}, {"command": "get"}], [
        Client(C("MULTI") + C("GET", "a") + C("SET", "a", "1") + C("GET", "b") + C("EXEC"),
               server=C("MULTI") + C("GET", "a") + C("GET", "b") + DISCARD),
        Server(OK + QUEUED + QUEUED + OK, client=OK + QUEUED + denied("set") + QUEUED + EXECABORT),
        # the connection goes on outside the transaction
        Client(C("GET", "c"), server=C("GET", "c")),
        Server(NIL),
        Client(C("SET", "c", "1"), client=denied("set")),
    ]),
    Conversation("EXEC in a later write than the denied command", [{"command": "@transaction"}, {"command": "get"}], [
        Client(C("MULTI") + C("SET", "a", "1"), server=C("MULTI")),
        Server(OK, client=OK + denied("set")),
        Client(C("GET", "a"), server=C("GET", "a")),
        Server(QUEUED),
        Client(C("EXEC"), server=DISCARD),
        Server(OK, client=EXECABORT),
        # the next transaction runs
        Client(C("MULTI") + C("GET", "a") + C("EXEC"), server=C("MULTI") + C("GET", "a") + C("EXEC")),
        Server(OK + QUEUED + array(NIL)),
    ]),
    Conversation("an aborted EXEC pipelined with what follows", [{"command": "@transaction"}, {"command": "get"}], [
        Client(C("MULTI") + C("SET", "a", "1") + C("EXEC") + C("GET", "secret:x") + C("SET", "b", "2") + C("GET", "c"),
               server=C("MULTI") + DISCARD + C("GET", "secret:x") + C("GET", "c")),
        Server(OK + OK + NIL + NIL, client=OK + denied("set") + EXECABORT + NIL + denied("set") + NIL),
    ]),
    Conversation("RESET ends an aborted transaction", [{"command": "@transaction"}, {"command": "reset"}, {"command": "get"}], [
        Client(C("MULTI") + C("SET", "a", "1") + C("RESET") + C("EXEC"),
               server=C("MULTI") + C("RESET") + C("EXEC")),
        Server(OK + b"+RESET\r\n" + b"-ERR EXEC without MULTI\r\n",
               client=OK + denied("set") + b"+RESET\r\n" + b"-ERR EXEC without MULTI\r\n"),
    ]),
    Conversation("a transaction of allowed commands runs", [{"command": "@transaction"}, {"command": "@string"}], [
        Client(C("MULTI") + C("SET", "a", "1") + C("GET", "a") + C("EXEC"),
               server=C("MULTI") + C("SET", "a", "1") + C("GET", "a") + C("EXEC")),
        Server(OK + QUEUED + QUEUED + array(OK, bulk("1"))),
    ]),
    Conversation("DISCARD after a denial passes as the client's", [{"command": "@transaction"}], [
        Client(C("MULTI") + C("SET", "a", "1") + C("DISCARD"), server=C("MULTI") + C("DISCARD")),
        Server(OK + OK, client=OK + denied("set") + OK),
        Client(C("MULTI") + C("EXEC"), server=C("MULTI") + C("EXEC")),
        Server(OK + array()),
    ]),
    Conversation("an unknown command denied inside MULTI aborts it", [{"command": "@transaction"}, {"command": "get"}], [
        Client(C("MULTI") + C("JSON.SET", "d", "$", "1") + C("EXEC"), server=C("MULTI") + DISCARD),
        Server(OK + OK, client=OK + DENIED_UNKNOWN + EXECABORT),
    ]),
    Conversation("a deny rule arriving mid-transaction aborts it", [{"command": "@transaction"}, {"command": "get"}], [
        Client(C("MULTI") + C("GET", "a"), server=C("MULTI") + C("GET", "a")),
        Install(redis_policy({"command": "@transaction"}, {"command": "get"}, deny=[{"keyExact": "b"}])),
        Client(C("GET", "b") + C("GET", "c") + C("EXEC"), server=C("GET", "c") + DISCARD),
        Server(OK + QUEUED + QUEUED + OK, client=OK + QUEUED + denied("get") + QUEUED + EXECABORT),
    ]),
    Conversation("a denied EXEC is denied, not aborted", [{"command": "multi"}, {"command": "get"}], [
        Client(C("MULTI") + C("GET", "a") + C("EXEC"), server=C("MULTI") + C("GET", "a")),
        Server(OK + QUEUED, client=OK + QUEUED + denied("exec")),
    ]),

    # -- CLIENT REPLY OFF / SKIP ----------------------------------------------------------------------------------
    Conversation("CLIENT REPLY OFF: denials are silent", [{"command": "client|reply"}, {"command": "get"}], [
        Client(C("CLIENT", "REPLY", "OFF") + C("SET", "a", "1") + C("GET", "a"),
               server=C("CLIENT", "REPLY", "OFF") + C("GET", "a")),
        Client(C("DEL", "a")),
        Client(C("CLIENT", "REPLY", "ON"), server=C("CLIENT", "REPLY", "ON")),
        Server(OK),
        Client(C("SET", "a", "1"), client=denied("set")),
    ]),
    Conversation("CLIENT REPLY SKIP: only the next command is silent", [{"command": "client|reply"}, {"command": "get"}], [
        # the skipped, denied SET is replaced by a PING, so the server's skip falls on it
        Client(C("CLIENT", "REPLY", "SKIP") + C("SET", "a", "1") + C("SET", "b", "2") + C("GET", "a"),
               server=C("CLIENT", "REPLY", "SKIP") + C("PING") + C("GET", "a"), client=denied("set")),
        Server(NIL),
        Client(C("CLIENT", "REPLY", "SKIP") + C("GET", "a") + C("SET", "b", "2"),
               server=C("CLIENT", "REPLY", "SKIP") + C("GET", "a"), client=denied("set")),
    ]),
    Conversation("CLIENT REPLY OFF behind an outstanding reply", [{"command": "client|reply"}, {"command": "get"}], [
        Client(C("GET", "a") + C("CLIENT", "REPLY", "OFF") + C("SET", "a", "1"), server=C("GET", "a") + C("CLIENT", "REPLY", "OFF")),
        Server(NIL),
    ]),
    Conversation("CLIENT REPLY OFF: an aborted EXEC is silent too", [{"command": "client|reply"}, {"command": "@transaction"},
                                                                             {"command": "get"}], [
        Client(C("CLIENT", "REPLY", "OFF") + C("MULTI") + C("SET", "a", "1") + C("EXEC"),
               server=C("CLIENT", "REPLY", "OFF") + C("MULTI") + DISCARD),
        Client(C("CLIENT", "REPLY", "ON") + C("GET", "a"), server=C("CLIENT", "REPLY", "ON") + C("GET", "a")),
        # the server answers neither MULTI nor DISCARD while replies are off: this +OK is CLIENT REPLY ON's
        Server(OK),
        Server(NIL),
    ]),
    Conversation("a denied CLIENT REPLY OFF leaves replies on", [{"command": "get"}], [
        Client(C("CLIENT", "REPLY", "OFF") + C("SET", "a", "1"), client=denied("client|reply") + denied("set")),
    ]),

    # -- SELECT and db rules -------------------------------------------------------------------------------------
    Conversation("db rules follow SELECT", [{"db": "1"}], [
        Client(C("GET", "a"), client=denied("get")),
        Client(C("SELECT", "1") + C("GET", "a"), server=C("SELECT", "1") + C("GET", "a")),
        Client(C("SELECT", "3")),
        Server(OK + NIL, client=OK + NIL + denied("select")),
        Client(C("GET", "b"), server=C("GET", "b")),
        Server(NIL),
        Client(inline("select 0"), client=denied("select")),
    ]),
    Conversation("a failed SELECT restores the db", [{"db": "7"}, {"command": "select"}], [
        Client(C("SELECT", "7") + C("GET", "a"), server=C("SELECT", "7") + C("GET", "a")),
        Server(b"-ERR DB index is out of range\r\n" + NIL),
        Client(C("GET", "a"), client=denied("get")),
    ]),
    Conversation("a failed SELECT with a later SELECT sent keeps the later one", [{"db": "7"}, {"command": "select"}], [
        Client(C("SELECT", "5") + C("SELECT", "7") + C("GET", "a"), server=C("SELECT", "5") + C("SELECT", "7") + C("GET", "a")),
        Server(b"-ERR DB index is out of range\r\n" + OK + NIL),
        Client(C("GET", "a"), server=C("GET", "a")),
        Server(NIL),
    ]),
    Conversation("the latest SELECT failing returns to the one before", [{"db": "7"}, {"command": "select"}], [
        Client(C("SELECT", "7") + C("SELECT", "99"), server=C("SELECT", "7") + C("SELECT", "99")),
        Server(OK + b"-ERR DB index is out of range\r\n"),
        Client(C("GET", "a"), server=C("GET", "a")),
        Server(NIL),
    ]),
    Conversation("SELECT inside MULTI: later queued commands, and the connection after EXEC",
                 [{"command": "@transaction"}, {"db": "1"}], [
        Client(C("MULTI") + C("SELECT", "1") + C("GET", "a") + C("EXEC"),
               server=C("MULTI") + C("SELECT", "1") + C("GET", "a") + C("EXEC")),
        Server(OK + QUEUED + QUEUED + array(OK, NIL)),
        Client(C("GET", "b"), server=C("GET", "b")),
        Server(NIL),
    ]),
    Conversation("a queued SELECT does not move the connection before EXEC",
                 [{"command": "@transaction"}, {"command": "select"}, {"command": "get", "db": "0"}], [
        Client(C("MULTI") + C("SELECT", "1") + C("GET", "a") + C("EXEC"),
               server=C("MULTI") + C("SELECT", "1") + DISCARD),
        Server(OK + QUEUED + OK, client=OK + QUEUED + denied("get") + EXECABORT),
        # the aborted transaction's SELECT never ran: still db 0
        Client(C("GET", "b"), server=C("GET", "b")),
        Server(NIL),
    ]),
    Conversation("RESP2: EXEC answering null undoes the queued SELECT",
                 [{"command": "@transaction"}, {"command": "select"}, {"command": "get", "db": "0"}], [
        Client(C("MULTI") + C("SELECT", "1") + C("EXEC"), server=C("MULTI") + C("SELECT", "1") + C("EXEC")),
        Server(OK + QUEUED + b"*-1\r\n"),
        Client(C("GET", "a"), server=C("GET", "a")),
        Server(NIL),
    ]),
    Conversation("RESP3: EXEC answering null undoes the queued SELECT",
                 [{"command": "@transaction"}, {"command": "select"}, {"command": "get", "db": "0"}], [
        Client(C("HELLO", "3"), server=C("HELLO", "3")),
        Server(b"%1\r\n+proto\r\n:3\r\n"),
        Client(C("MULTI") + C("SELECT", "1") + C("EXEC"), server=C("MULTI") + C("SELECT", "1") + C("EXEC")),
        Server(OK + QUEUED + b"_\r\n"),
        Client(C("GET", "a"), server=C("GET", "a")),
        Server(b"_\r\n"),
    ]),
    Conversation("DISCARD drops the queued SELECT",
                 [{"command": "@transaction"}, {"command": "select"}, {"command": "get", "db": "0"}], [
        Client(C("MULTI") + C("SELECT", "1") + C("DISCARD") + C("GET", "a"),
               server=C("MULTI") + C("SELECT", "1") + C("DISCARD") + C("GET", "a")),
        Server(OK + QUEUED + OK + NIL),
    ]),
    Conversation("EXEC answering an error undoes the queued SELECT",
                 [{"command": "@transaction"}, {"command": "select"}, {"command": "get", "db": "0"}], [
        Client(C("MULTI") + C("SELECT", "1") + C("EXEC"), server=C("MULTI") + C("SELECT", "1") + C("EXEC")),
        Server(OK + QUEUED + b"-EXECABORT Transaction discarded because of previous errors.\r\n"),
        Client(C("GET", "a"), server=C("GET", "a")),
        Server(NIL),
    ]),
    Conversation("EXEC running the queued SELECT moves the connection",
                 [{"command": "@transaction"}, {"command": "select"}, {"command": "get", "db": "0"}], [
        Client(C("MULTI") + C("SELECT", "1") + C("EXEC"), server=C("MULTI") + C("SELECT", "1") + C("EXEC")),
        Server(OK + QUEUED + array(OK)),
        Client(C("GET", "a"), client=denied("get")),
    ]),
    Conversation("MOVE and SWAPDB from a SELECTed db", [{}], [
        Client(C("SELECT", "2") + C("MOVE", "a", "3") + C("SWAPDB", "2", "1") + C("MOVE", "a", "1"),
               server=C("SELECT", "2") + C("MOVE", "a", "3")),
        Server(OK + integer(1), client=OK + integer(1) + denied("swapdb") + denied("move")),
        Client(C("FLUSHALL"), client=denied("flushall")),
        Client(C("FLUSHDB"), server=C("FLUSHDB")),
        Server(OK),
    ], deny=[{"db": "1"}]),
    Conversation("RESET returns to db 0", [{"db": "0"}, {"command": "select"}, {"command": "reset"}], [
        Client(C("SELECT", "4") + C("GET", "a"), server=C("SELECT", "4")),
        Server(OK, client=OK + denied("get")),
        Client(C("RESET") + C("GET", "a"), server=C("RESET") + C("GET", "a")),
        Server(b"+RESET\r\n" + NIL),
    ]),

    # -- pub/sub -------------------------------------------------------------------------------------------------
    Conversation("pub/sub: confirmations, messages, a denied subscription among them",
                 [{"channelPrefix": "news."}, {"command": "ping"}], [
        Client(C("SUBSCRIBE", "news.a", "news.b") + C("SUBSCRIBE", "secret") + C("PING"),
               server=C("SUBSCRIBE", "news.a", "news.b") + C("PING")),
        Server(push_confirmation("subscribe", "news.a", 1) + array(bulk("message"), bulk("news.a"), bulk("hi"))
               + push_confirmation("subscribe", "news.b", 2) + array(bulk("pong"), bulk("")),
               client=push_confirmation("subscribe", "news.a", 1) + array(bulk("message"), bulk("news.a"), bulk("hi"))
               + push_confirmation("subscribe", "news.b", 2) + denied("subscribe") + array(bulk("pong"), bulk(""))),
        Client(C("UNSUBSCRIBE") + C("GET", "x"), server=C("UNSUBSCRIBE")),
        Server(push_confirmation("unsubscribe", "news.a", 1) + push_confirmation("unsubscribe", "news.b", 0),
               client=push_confirmation("unsubscribe", "news.a", 1) + push_confirmation("unsubscribe", "news.b", 0)
               + denied("get")),
    ]),
    Conversation("UNSUBSCRIBE without arguments ends the channels, not the patterns", [{"command": "@pubsub"}], [
        Client(C("SUBSCRIBE", "a", "a") + C("PSUBSCRIBE", "p*"), server=C("SUBSCRIBE", "a", "a") + C("PSUBSCRIBE", "p*")),
        Server(push_confirmation("subscribe", "a", 1) + push_confirmation("subscribe", "a", 1)
               + push_confirmation("psubscribe", "p*", 2)),
        Client(C("UNSUBSCRIBE") + C("GET", "x"), server=C("UNSUBSCRIBE")),
        Server(push_confirmation("unsubscribe", "a", 1), client=push_confirmation("unsubscribe", "a", 1) + denied("get")),
        Server(array(bulk("pmessage"), bulk("p*"), bulk("pq"), bulk("m"))),
        Client(C("PUNSUBSCRIBE") + C("GET", "y"), server=C("PUNSUBSCRIBE")),
        Server(push_confirmation("punsubscribe", "p*", 0), client=push_confirmation("punsubscribe", "p*", 0) + denied("get")),
    ]),
    Conversation("RESP3: subscription confirmations are pushes that answer the SUBSCRIBE", [{"channelPrefix": "n"}], [
        Client(C("HELLO", "3") + C("SUBSCRIBE", "n1", "n2") + C("SUBSCRIBE", "x"), server=C("HELLO", "3") + C("SUBSCRIBE", "n1", "n2")),
        Server(b"%1\r\n+proto\r\n:3\r\n" + b">3\r\n$9\r\nsubscribe\r\n$2\r\nn1\r\n:1\r\n"
               + b">3\r\n$7\r\nmessage\r\n$2\r\nn1\r\n$2\r\nhi\r\n"
               + b">3\r\n$9\r\nsubscribe\r\n$2\r\nn2\r\n:2\r\n",
               client=b"%1\r\n+proto\r\n:3\r\n" + b">3\r\n$9\r\nsubscribe\r\n$2\r\nn1\r\n:1\r\n"
               + b">3\r\n$7\r\nmessage\r\n$2\r\nn1\r\n$2\r\nhi\r\n"
               + b">3\r\n$9\r\nsubscribe\r\n$2\r\nn2\r\n:2\r\n" + denied("subscribe")),
    ]),
    Conversation("UNSUBSCRIBE with no subscription: one confirmation", [{"command": "unsubscribe"}], [
        Client(C("UNSUBSCRIBE") + C("GET", "a"), server=C("UNSUBSCRIBE")),
        Server(array(bulk("unsubscribe"), NIL, integer(0)),
               client=array(bulk("unsubscribe"), NIL, integer(0)) + denied("get")),
    ]),
    Conversation("PSUBSCRIBE: a pattern past the prefix is denied", [{"channelPrefix": "news."}], [
        Client(C("PSUBSCRIBE", "news.*") + C("PSUBSCRIBE", "n*") + C("PUNSUBSCRIBE", "n*"),
               server=C("PSUBSCRIBE", "news.*") + C("PUNSUBSCRIBE", "n*")),
        Server(push_confirmation("psubscribe", "news.*", 1), client=push_confirmation("psubscribe", "news.*", 1)
               + denied("psubscribe")),
        Server(array(bulk("pmessage"), bulk("news.*"), bulk("news.x"), bulk("m"))),
        Server(push_confirmation("punsubscribe", "n*", 1)),
    ]),

    # -- live policy updates ----------------------------------------------------------------------------------------
    Conversation("a new policy decides the next request on the open connection", [{"command": "get"}], [
        Client(C("GET", "a"), server=C("GET", "a")),
        Server(NIL),
        Install(redis_policy({"command": "set"})),
        Client(C("GET", "a"), client=denied("get")),
        Client(C("SET", "a", "1"), server=C("SET", "a", "1")),
        Server(OK),
        Install(redis_policy({"command": "set"}, {"command": "get", "keyPrefix": "a"})),
        Client(C("GET", "a1") + C("GET", "b1"), server=C("GET", "a1"), client=b""),
        Server(NIL, client=NIL + denied("get")),
    ]),
    Conversation("a policy that drops the endpoint denies everything but AUTH", [{}], [
        Client(C("GET", "a"), server=C("GET", "a")),
        Server(NIL),
        Install(redis_policy({}).replace('endpoint_ips: "1.1.1.1"', 'endpoint_ips: "9.9.9.9"')),
        Client(C("GET", "a") + C("AUTH", "pw"), server=C("AUTH", "pw"), client=denied("get")),
        Server(OK),
        Install(redis_policy({"command": "get"})),
        Client(C("GET", "a"), server=C("GET", "a")),
    ]),
    Conversation("an update between pipelined requests: the earlier ones keep their verdicts", [{"command": "get"}], [
        Client(C("GET", "a"), server=C("GET", "a")),
        Install(redis_policy({"command": "set"})),
        Client(C("GET", "b") + C("SET", "b", "1"), server=C("SET", "b", "1")),
        Server(NIL + OK, client=NIL + denied("get") + OK),
        Install(redis_policy({}, deny=[{"db": "0"}])),
        Client(C("SET", "b", "1"), client=denied("set")),
    ]),
]


@pytest.mark.parametrize("conversation", CONVERSATIONS, ids=lambda c: c.name)
def test_redis_conversation(library, npds, module, next_id, conversation):
    """Whole writes, then byte by byte, then in 5-byte pieces (large values: bigger pieces): the same bytes
    reach each side."""
    versions = iter(range(1, 1000))

    def install(policy):
        npds.install(f"v{next(versions)}", policy)

    for split in conversation.splits:
        install(conversation.policy)
        conn = connect(library, module, next_id())
        try:
            play(conn, conversation.events, install, split)
        except AssertionError as e:
            raise AssertionError(f"writes split in {split or 'whole'} pieces: {e}") from None
        finally:
            conn.close()


def test_remote_not_in_policy(library, npds, module, next_id):
    """A remote no rule names: everything is denied, but AUTH and HELLO pass (contract: never checked)."""
    npds.install("1", redis_policy({}))
    conn = connect(library, module, next_id(), src_id=42)
    try:
        assert conn.client_sends(C("GET", "a")) == ("OK", b"", denied("get"))
        assert conn.client_sends(C("AUTH", "pw") + C("PING")) == ("OK", C("AUTH", "pw"), b"")
        assert conn.server_sends(OK) == ("OK", OK + denied("ping"))
        assert conn.client_sends(C("HELLO", "3")) == ("OK", C("HELLO", "3"), b"")
    finally:
        conn.close()


PER_REMOTE_POLICY = """
    endpoint_ips: "1.1.1.1"
    endpoint_id: 2
    ingress_per_port_policies: <
      port: 80
      rules: < remote_policies: 1 l7_proto: "redis"
               l7_rules: < l7_allow_rules: < rule: < key: "command" value: "get" > >
                           l7_deny_rules: < rule: < key: "keyPrefix" value: "secret" > > > >
      rules: < remote_policies: 3 l7_proto: "redis"
               l7_rules: < l7_allow_rules: < rule: < key: "command" value: "set" > > > >
    >
"""


@pytest.mark.parametrize("src_id,expected", [
    (1, [True, False, False, False]),
    (3, [False, True, False, True]),
    (4, [False, False, False, False]),
])
def test_rules_per_remote(library, npds, module, next_id, src_id, expected):
    """Each remote gets its own rules block; a block's deny rules apply to its remotes only."""
    npds.install("1", PER_REMOTE_POLICY)
    verdicts = []
    for request, name in [(C("GET", "a"), "get"), (C("SET", "a", "1"), "set"), (C("GET", "secret"), "get"),
                          (C("SET", "secret", "1"), "set")]:
        conn = connect(library, module, next_id(), src_id=src_id)
        try:
            got = conn.client_sends(request)
        finally:
            conn.close()
        assert got in [("OK", request, b""), ("OK", b"", denied(name))], got
        verdicts.append(got[1] == request)
    assert verdicts == expected


def test_silent_denials_are_logged(library, npds, collector, logged_module, next_id):
    """CLIENT REPLY OFF: the denial is silent on the wire but still a Denied entry; nothing is answered, so no
    Response entries."""
    npds.install("1", redis_policy({"command": "client|reply"}, {"command": "get"}))
    conn = connect(library, logged_module, next_id())
    try:
        assert conn.client_sends(C("CLIENT", "REPLY", "OFF") + C("SET", "a", "v4lu3-s3cr3t") + C("GET", "b")) == \
            ("OK", C("CLIENT", "REPLY", "OFF") + C("GET", "b"), b"")
    finally:
        conn.close()
    collector.wait_for_count(3)
    check_redis_entries(collector.settle(quiet=0.1), [req("client|reply"), den("set", "a"), req("get", "b")])
    assert not any(b"v4lu3" in p for p in collector.packets)


# ---- NACKs -----------------------------------------------------------------------------------------------------

GOOD = redis_policy({"command": "get"})

NACKED = [
    # (name, policy, words the NACK's error text must all contain)
    ("unknown rule key", redis_policy({"command": "get", "keyGlob": "a*"}), ["redis", "keyGlob"]),
    ("unknown rule key in a deny rule", redis_policy({}, deny=[{"commmand": "get"}]), ["redis", "commmand"]),
    ("unknown category", redis_policy({"command": "@nope"}), ["redis", "@nope"]),
    ("unknown subcommand of a known container", redis_policy({"command": "config|nope"}), ["redis", "config|nope"]),
    ("unknown subcommand with a blank", redis_policy({"command": "config nope"}), ["redis", "config nope"]),
    ("db not a number", redis_policy({"db": "x"}), ["redis", "db", "'x'"]),
    ("negative db", redis_policy({"db": "-1"}), ["redis", "db", "-1"]),
    ("key and channel conditions in one rule", redis_policy({"keyPrefix": "a", "channelPrefix": "b"}),
     ["redis", "keys", "channels"]),
    ("key and channel conditions in one deny rule", redis_policy({}, deny=[{"keyExact": "a", "channelRegex": "b"}]),
     ["redis", "keys", "channels"]),
    ("invalid key regex", redis_policy({"keyRegex": "(unclosed"}), ["(unclosed"]),
    ("invalid channel regex", redis_policy({"channelRegex": "[z-a]"}), ["[z-a]"]),
    ("command name longer than 64 bytes", redis_policy({"command": "x" * 65}), ["redis", "x" * 65]),
    ("command name not ASCII", redis_policy({"command": "caf\u00e9"}), ["redis", "command name"]),
]


@pytest.mark.parametrize("name,policy,mentions", NACKED, ids=[n[0] for n in NACKED])
def test_invalid_redis_rules_are_nacked(library, npds, module, next_id, name, policy, mentions):
    npds.install("good", GOOD)
    nack = npds.wait_for_nack(npds.push("bad", [policy]))
    assert nack.version == "good", nack
    assert all(word in nack.error for word in mentions), nack.error
    # The policy before it stays in force, on a new connection and on one opened before the NACK.
    for request, expected in [(C("GET", "a"), ("OK", C("GET", "a"), b"")), (C("SET", "a", "1"), ("OK", b"", denied("set")))]:
        conn = connect(library, module, next_id())
        try:
            assert conn.client_sends(request) == expected
        finally:
            conn.close()


def test_nacked_update_leaves_open_connections_alone(library, npds, module, next_id):
    npds.install("good", GOOD)
    conn = connect(library, module, next_id())
    try:
        assert conn.client_sends(C("GET", "a")) == ("OK", C("GET", "a"), b"")
        npds.wait_for_nack(npds.push("bad", [redis_policy({"command": "@nope"})]))
        assert conn.client_sends(C("SET", "a", "1")) == ("OK", b"", b"")  # GET's reply still due
        assert conn.server_sends(NIL) == ("OK", NIL + denied("set"))
        assert conn.client_sends(C("GET", "b")) == ("OK", C("GET", "b"), b"")
    finally:
        conn.close()


ACCEPTED = [
    ("every category", redis_policy(*[{"command": "@" + c} for c in (
        "keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap", "hyperloglog", "geo",
        "stream", "pubsub", "admin", "fast", "slow", "blocking", "dangerous", "connection", "transaction",
        "scripting")])),
    ("a module command name", redis_policy({"command": "JSON.GET"}, {"command": "ft.search"})),
    ("every condition kind", redis_policy({"command": "get", "keyExact": "a", "keyPrefix": "a", "keyRegex": "a",
                                           "db": "15"},
                                          {"command": "publish", "channelExact": "c", "channelPrefix": "c",
                                           "channelRegex": "c", "db": "0"},
                                          deny=[{"command": "config|set"}, {"db": "3"}])),
]


@pytest.mark.parametrize("name,policy", ACCEPTED, ids=[a[0] for a in ACCEPTED])
def test_valid_redis_policy_is_acked(npds, module, name, policy):
    npds.install("ok", policy)


# ---- access log ----------------------------------------------------------------------------------------------------

ACCESS_LOG_POLICY = redis_policy({"command": "get"}, {"command": "mget"}, {"command": "config|get"},
                                 {"channelPrefix": "news."}, {"command": "select"}, {"command": "json.get"},
                                 {"command": "migrate"}, {"command": "eval"})
SECRETS = [b"s3cr3t-pass", b"s3cr3t-pass2", b"s3cr3t-hello", b"v4lu3-s3cr3t", b"m3ss4ge-s3cr3t", b"m1gr4te-pw",
           b"sCr1pt-s3cr3t", b"s3cr3t"]
MANY = [f"k{i:02}" for i in range(1, 21)]
LONG = ["a" * 100, "b" * 100, "c" * 100]


def test_redis_access_log(library, npds, collector, logged_module, next_id):
    npds.install("1", ACCESS_LOG_POLICY)
    exchanges = [
        # (request, forwarded?, the server's reply or None, expected entries)
        (C("AUTH", "s3cr3t-pass"), True, OK, [req("auth"), resp("auth")]),
        (C("AUTH", "alice", "s3cr3t-pass2"), True, OK, [req("auth"), resp("auth")]),
        (C("HELLO", "2", "AUTH", "alice", "s3cr3t-hello"), True, array(bulk("server"), bulk("redis")),
         [req("hello"), resp("hello")]),
        (C("SET", "k", "v4lu3-s3cr3t"), False, None, [den("set", "k")]),
        (C("GET", "a"), True, NIL, [req("get", "a"), resp("get")]),
        (C("MGET", *MANY), True, array(*[NIL] * 20), [req("mget", " ".join(MANY[:16]) + " …"), resp("mget")]),
        (C("CONFIG", "GET", "maxmemory"), True, array(bulk("maxmemory"), bulk("0")),
         [req("config|get"), resp("config|get")]),
        (C("CONFIG", "SET", "maxmemory", "1"), False, None, [den("config|set")]),
        (C("PUBLISH", "news.a", "m3ss4ge-s3cr3t"), True, integer(1),
         [req("publish", "news.a", field_name="channels"), resp("publish")]),
        (C("PUBLISH", "secret", "m3ss4ge-s3cr3t"), False, None, [den("publish", "secret", field_name="channels")]),
        (C("SUBSCRIBE", "news.x", "other"), False, None, [den("subscribe", "news.x other", field_name="channels")]),
        (C("MIGRATE", "redis-b.example", "6379", "", "0", "5000", "AUTH", "m1gr4te-pw", "KEYS", "a", "b"), True, OK,
         [req("migrate", "a b"), resp("migrate")]),
        (C("EVAL", "return 'sCr1pt-s3cr3t'", "1", "a", "s3cr3t"), True, bulk("x"), [req("eval", "a"), resp("eval")]),
        (C("SELECT", "2"), True, OK, [req("select", db="2"), resp("select")]),
        (C("GET", "b"), True, NIL, [req("get", "b", db="2"), resp("get")]),
        (C("DEL", "b", "c"), False, None, [den("del", "b c", db="2")]),
        (C("FT.SEARCH", "idx", "*"), False, None, [den("FT.SEARCH", db="2")]),
        (C("CONFIG", "SET", "requirepass", "s3cr3t-pass"), False, None, [den("config|set", db="2")]),
        (C("ACL", "SETUSER", "bob", "on", ">s3cr3t-pass"), False, None, [den("acl|setuser", db="2")]),
        (inline("auth s3cr3t-pass"), True, OK, [req("auth", db="2"), resp("auth")]),
        # last: it leaves the connection subscribed. One Response for the two confirmations.
        (C("SUBSCRIBE", "news.a", "news.b"), True,
         push_confirmation("subscribe", "news.a", 1) + push_confirmation("subscribe", "news.b", 2),
         [req("subscribe", "news.a news.b", db="2", field_name="channels"), resp("subscribe")]),
    ]
    conn = connect(library, logged_module, next_id())
    expected = []
    try:
        for request, forwarded, reply, entries in exchanges:
            if forwarded:
                assert conn.client_sends(request) == ("OK", request, b""), request
                assert conn.server_sends(reply) == ("OK", reply), request
            else:
                res, to_server, to_client = conn.client_sends(request)
                assert (res, to_server) == ("OK", b"") and to_client.startswith(b"-NOPERM "), request
            expected += entries
    finally:
        conn.close()
    collector.wait_for_count(len(expected))
    entries = collector.settle(quiet=0.1)
    check_redis_entries(entries, expected)
    for packet in collector.packets:
        for secret in SECRETS:
            assert secret not in packet, f"{secret!r} in an access-log entry"


def test_redis_access_log_long_keys_are_cut(library, npds, collector, logged_module, next_id):
    npds.install("1", ACCESS_LOG_POLICY)
    conn = connect(library, logged_module, next_id())
    try:
        request = C("MGET", *LONG)
        assert conn.client_sends(request) == ("OK", request, b"")
    finally:
        conn.close()
    (entry,) = collector.wait_for_count(1)
    keys = entry.generic_l7.fields["keys"]
    assert keys.endswith(" …")
    kept = keys[:-len(" …")]
    assert 0 < len(kept.encode()) <= 256 and " ".join(LONG).startswith(kept), keys


def test_redis_access_log_unknown_command_response(library, npds, collector, logged_module, next_id):
    """Contract: Response entries carry `command`, one per request answered: an unknown command's too."""
    npds.install("1", ACCESS_LOG_POLICY)
    conn = connect(library, logged_module, next_id())
    try:
        request = C("JSON.GET", "doc", "$")
        assert conn.client_sends(request) == ("OK", request, b"")
        assert conn.server_sends(bulk("{}")) == ("OK", bulk("{}"))
    finally:
        conn.close()
    collector.wait_for_count(1)
    entries = collector.settle(quiet=0.2)
    check_redis_entries(entries, [req("JSON.GET"), resp("JSON.GET")])


def test_redis_access_log_text_is_utf8(library, npds, collector, logged_module, next_id):
    """Keys are logged as UTF-8 text: UTF-8 kept, other bytes and a character cut by the bound replaced; every
    entry decodes."""
    npds.install("1", redis_policy({}))
    conn = connect(library, logged_module, next_id())
    try:
        for key in ["clé", b"\xff\xfe", "é" * 200]:
            request = C("GET", key)
            assert conn.client_sends(request) == ("OK", request, b"")
            assert conn.server_sends(NIL) == ("OK", NIL)
    finally:
        conn.close()
    collector.wait_for_count(6)
    entries = collector.settle(quiet=0.1)
    assert collector.undecodable == 0
    keys = [e.generic_l7.fields["keys"] for e in entries if e.entry_type != RESPONSE]
    assert keys[0] == "clé"
    assert keys[1] == "\ufffd\ufffd"
    assert keys[2].startswith("é" * 127) and keys[2].endswith(" …") and len(keys[2].encode()) <= 256 + len(" …".encode()) + 3


def test_redis_access_log_transaction(library, npds, collector, logged_module, next_id):
    """A transaction that loses a command. The contract says nothing of EXEC's entries: as implemented, the EXEC
    replaced by DISCARD is logged as an allowed Request, and its EXECABORT answer has no Response entry."""
    npds.install("1", redis_policy({"command": "@transaction"}, {"command": "get"}))
    conn = connect(library, logged_module, next_id())
    try:
        assert conn.client_sends(C("MULTI") + C("GET", "a") + C("SET", "a", "s3cr3t") + C("EXEC")) == \
            ("OK", C("MULTI") + C("GET", "a") + DISCARD, b"")
        assert conn.server_sends(OK + QUEUED + OK) == ("OK", OK + QUEUED + denied("set") + EXECABORT)
    finally:
        conn.close()
    collector.wait_for_count(6)
    check_redis_entries(collector.settle(quiet=0.1), [
        req("multi"), req("get", "a"), den("set", "a"), req("exec"), resp("multi"), resp("get")])
    assert not any(b"s3cr3t" in p for p in collector.packets)
