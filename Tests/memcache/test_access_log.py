"""proxylib-host's access log (--log-json) for memcache: generic_l7 entries with proto textmemcached {command, keys}
(meta commands under their own names, base64 keys decoded, several keys joined with ", ") and binarymemcached
{opcode (decimal), key}."""
import base64

import mc_wire as mw
from host_procs import wait_for
from pymemcache.exceptions import MemcacheClientError


def entries_for(proxy, proto, field, value):
    return [(e["entry_type"], e["generic_l7"]["fields"]) for e in proxy.entries()
            if e.get("generic_l7", {}).get("proto") == proto and e["generic_l7"]["fields"].get(field) == value]


def logged(proxy, memcached, proto, field, value):
    """The (entry type, fields) of the request entries for `value`, once logged; checks the entry's endpoints."""
    wait_for(lambda: entries_for(proxy, proto, field, value), f"the access-log entry for {value}")
    entry = next(e for e in proxy.entries() if e.get("generic_l7", {}).get("fields", {}).get(field) == value)
    assert entry["destination_address"] == f"127.0.0.1:{memcached.port}" and entry["is_ingress"] is True
    return entries_for(proxy, proto, field, value)


def test_text_entries(proxy, memcached, text_client, key):
    k, k2, d = key(), key(), key("priv")
    text_client.get(k)
    try:
        text_client.get_many([k2, d])
    except MemcacheClientError:
        pass
    assert logged(proxy, memcached, "textmemcached", "keys", k) == [("Request", {"command": "get", "keys": k})]
    assert logged(proxy, memcached, "textmemcached", "keys", f"{k2}, {d}") == [
        ("Denied", {"command": "get", "keys": f"{k2}, {d}"})]


def test_meta_entries(proxy, memcached, wire, key):
    k, d = key().replace(":", "/"), key("priv")
    w = wire()
    request = f"mg {base64.b64encode(k.encode()).decode()} b v\r\nmg {d} v\r\n".encode()
    assert w.ask(request, b"EN\r\n" + mw.DENIED_TEXT) == b"EN\r\n" + mw.DENIED_TEXT
    assert logged(proxy, memcached, "textmemcached", "keys", k) == [("Request", {"command": "mg", "keys": k})]
    assert logged(proxy, memcached, "textmemcached", "keys", d) == [("Denied", {"command": "mg", "keys": d})]


def test_binary_entries(proxy, memcached, wire, key):
    k, d = key(), key("priv")
    w = wire()
    w.send(mw.request(mw.GET, k.encode(), opaque=1) + mw.set_request(d.encode(), b"x", opaque=2))
    assert [mw.read_response(w).summary() for _ in range(2)] == [
        (mw.GET, mw.STATUS_NOT_FOUND, 1), (mw.SET, mw.STATUS_DENIED, 2)]
    assert logged(proxy, memcached, "binarymemcached", "key", k) == [("Request", {"opcode": "0", "key": k})]
    assert logged(proxy, memcached, "binarymemcached", "key", d) == [("Denied", {"opcode": "1", "key": d})]
