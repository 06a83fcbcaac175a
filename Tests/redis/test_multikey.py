"""Commands with several keys, found the way redis finds them (key specs: index, keyword search, ranges, key
counts; SORT's STORE): under the standing policy (keys under "pub:") a command is allowed only when every one
of its keys is; one key outside denies it, and then nothing changed on the server (checked with DUMP of every
key involved)."""
import pytest
import redis

SETUP = {
    "strings": lambda d, k: d.mset({k[0]: "1", k[1]: "2", k[2]: "3"}),
    "streams": lambda d, k: [d.xadd(x, {"f": "v"}, id="1-1") for x in k],
    "zsets": lambda d, k: [d.zadd(x, {"a": 1, "b": 2}) for x in k],
    "lists": lambda d, k: [d.rpush(x, "3", "1", "2") for x in k],
    "sets": lambda d, k: [d.sadd(x, "m", "n") for x in k],
    "hll": lambda d, k: [d.pfadd(x, "a", "b") for x in k],
    "geo": lambda d, k: [d.geoadd(x, (0.1, 0.1, "p")) for x in k],
    "source": lambda d, k: d.rpush(k[0], "3", "1", "2"),
    None: lambda d, k: None,
}

# (id, setup, command with {0} {1} {2} for the keys, index of the key put outside "pub:" for the denied run)
CASES = [
    ("mget", "strings", "MGET {0} {1}", 1),
    ("mset", None, "MSET {0} a {1} b", 1),
    ("del", "strings", "DEL {0} {1} {2}", 0),
    ("exists", "strings", "EXISTS {0} {1} {2}", 2),
    ("unlink", "strings", "UNLINK {0} {1}", 1),
    ("eval numkeys", None, "EVAL {script} 2 {0} {1}", 1),
    ("xread streams", "streams", "XREAD COUNT 1 STREAMS {0} {1} 0 0", 1),
    ("zunionstore source", "zsets", "ZUNIONSTORE {0} 2 {1} {2}", 2),
    ("zunionstore destination", "zsets", "ZUNIONSTORE {0} 2 {1} {2}", 0),
    ("zinterstore", "zsets", "ZINTERSTORE {0} 2 {1} {2} WEIGHTS 1 2", 1),
    ("zdiff", "zsets", "ZDIFF 2 {0} {1}", 1),
    ("zintercard", "zsets", "ZINTERCARD 2 {0} {1}", 1),
    ("sort store", "source", "SORT {0} STORE {1}", 1),
    ("sort source", "source", "SORT {0} STORE {1}", 0),
    ("rename", "strings", "RENAME {0} {1}", 1),
    ("copy", "strings", "COPY {0} {1} REPLACE", 1),
    ("lmove", "lists", "LMOVE {0} {1} LEFT RIGHT", 1),
    ("lmpop", "lists", "LMPOP 2 {0} {1} LEFT", 0),
    ("smove", "sets", "SMOVE {0} {1} m", 1),
    ("sinterstore", "sets", "SINTERSTORE {0} {1} {2}", 2),
    ("bitop", "strings", "BITOP OR {0} {1} {2}", 2),
    ("pfmerge", "hll", "PFMERGE {0} {1} {2}", 1),
    ("geosearchstore", "geo", "GEOSEARCHSTORE {0} {1} FROMLONLAT 0 0 BYRADIUS 100 km", 1),
    ("georadius store", "geo", "GEORADIUS {0} 0 0 100 km STORE {1}", 1),
    ("object encoding", "strings", "OBJECT ENCODING {0}", 0),
    ("set get", "strings", "SET {0} x GET", 0),
]

SCRIPT = "redis.call('SET', KEYS[1], 'lua') return #KEYS"


def run(client, template, keys):
    args = template.split()
    args = [SCRIPT if a == "{script}" else a.format(*keys) for a in args]
    return client.execute_command(*args)


def snapshot(direct_bytes, keys):
    return {k: direct_bytes.dump(k) for k in keys}


@pytest.fixture
def direct_bytes(redis_server):
    client = redis_server.client()
    yield client
    client.close()


@pytest.mark.parametrize("setup,template,bad", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_one_key_outside_denies(setup, template, bad, r, direct, direct_bytes, key):
    keys = [key() for _ in range(3)]
    keys[bad] = key("priv")
    SETUP[setup](direct, keys)
    before = snapshot(direct_bytes, keys)
    name = template.split()[0].lower()
    if name == "object":
        name = "object|encoding"
    with pytest.raises(redis.exceptions.NoPermissionError, match=f"does not allow '{name}'"):
        run(r, template, keys)
    assert snapshot(direct_bytes, keys) == before, "the denied command changed nothing"


@pytest.mark.parametrize("setup,template,bad", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_all_keys_inside_allows(setup, template, bad, r, direct, key):
    keys = [key() for _ in range(3)]
    SETUP[setup](direct, keys)
    expected = run(direct, template, keys)  # what redis answers on an identical copy
    for k in keys:
        direct.delete(k)
    SETUP[setup](direct, keys)
    assert run(r, template, keys) == expected


def test_sort_reading_keys_named_by_data_is_denied(r, direct, key):
    """SORT … BY/GET with a `*` pattern reads keys the request does not name: the key list is incomplete,
    which fails every allow rule with key conditions (contract), even with every named key inside."""
    k, dst = key(), key()
    direct.rpush(k, "2", "1")
    with pytest.raises(redis.exceptions.NoPermissionError):
        r.sort(k, by=f"{k}:w_*")
    with pytest.raises(redis.exceptions.NoPermissionError):
        r.sort(k, get=f"{k}:o_*", store=dst)
    assert direct.exists(dst) == 0
    assert r.sort(k, by="nosort") == ["2", "1"] and r.sort(k, get="#") == ["1", "2"]


def test_eval_key_counts(r, direct, key):
    """EVAL's numkeys: 0 keys fails a rule with key conditions (at least one key is needed); a count that is
    not a number makes the key list incomplete (denied, although redis itself would answer an error)."""
    k = key()
    with pytest.raises(redis.exceptions.NoPermissionError):
        r.eval("return 1", 0)
    with pytest.raises(redis.exceptions.NoPermissionError):
        r.execute_command("EVAL", "return 1", "one", k)
    with pytest.raises(redis.exceptions.NoPermissionError):
        r.execute_command("EVAL", "return 1", "3", k)  # more keys than arguments
    assert r.eval("return #KEYS", 1, k) == 1
    sha = direct.script_load("return KEYS[1]")
    assert r.evalsha(sha, 1, k) == k
    with pytest.raises(redis.exceptions.NoPermissionError):
        r.evalsha(sha, 1, key("priv"))


def test_key_counts_that_do_not_fit(r, direct, key):
    """A key count beyond the arguments, not a number, or negative: the key list is incomplete, which fails
    allow rules with key conditions (redis itself would refuse these commands)."""
    d, a, b = key(), key(), key()
    for args in (("ZUNIONSTORE", d, "3", a, b), ("ZUNIONSTORE", d, "x", a, b), ("ZUNIONSTORE", d, "-1", a),
                 ("EVAL", "return 1", "01", a), ("LMPOP", "5", a, b, "LEFT")):
        with pytest.raises(redis.exceptions.NoPermissionError):
            r.execute_command(*args)
    assert direct.exists(d) == 0


def test_sort_with_two_store_options(r, direct, key):
    src, first, last = key(), key("priv"), key()
    direct.rpush(src, "2", "1")
    assert r.execute_command("SORT", src, "STORE", first, "STORE", last) == 2
    assert direct.lrange(last, 0, -1) == ["1", "2"] and direct.exists(first) == 0
