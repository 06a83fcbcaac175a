"""Policy texts used by the scenarios (protobuf text format of cilium.NetworkPolicy), after upstream's tests."""


def port_policy(l7_proto, rules="", port=80, direction="ingress", endpoint="1.1.1.1", remotes=(), extra=""):
    remote_lines = "".join(f"remote_policies: {r}\n" for r in remotes)
    l7 = f'l7_proto: "{l7_proto}"\n' if l7_proto else ""
    return f"""
        endpoint_ips: "{endpoint}"
        endpoint_id: 2
        {direction}_per_port_policies: <
          port: {port}
          {extra}
          rules: <
            {remote_lines}{l7}{rules}
          >
        >
    """


def l7_rules(*allow, deny=()):
    """l7_rules with allow (and deny) rule maps given as dicts."""
    def rule_block(kind, rule):
        entries = "".join(f'rule: < key: "{k}" value: "{v}" >\n' for k, v in rule.items())
        return f"{kind}: < {entries} >\n"
    body = "".join(rule_block("l7_allow_rules", r) for r in allow)
    body += "".join(rule_block("l7_deny_rules", r) for r in deny)
    return f"l7_rules: < {body} >"


SIMPLE_HEADER_POLICY = port_policy("test.headerparser", l7_rules({"prefix": "Beginning"}, {"suffix": "End"}),
                                   remotes=(1, 3, 4))
ALLOW_ALL_HEADER_POLICY = port_policy("test.headerparser", "l7_rules: < l7_allow_rules: <> >")

DENY_ALL_HEADER_POLICY = """
    endpoint_ips: "1.1.1.1"
    endpoint_id: 2
    ingress_per_port_policies: <
      port: 80
      rules: < remote_policies: 1 l7_proto: "test.headerparser" l7_rules: < l7_allow_rules: <> > >
      rules: < deny: true >
    >
"""

DENY_OTHER_REMOTE_HEADER_POLICY = """
    endpoint_ips: "1.1.1.1"
    endpoint_id: 2
    ingress_per_port_policies: <
      port: 80
      rules: < remote_policies: 1 l7_proto: "test.headerparser" l7_rules: < l7_allow_rules: <> > >
      rules: < remote_policies: 42 deny: true >
    >
"""

ALLOW_EMPTY_HEADER_POLICY = port_policy("test.headerparser")

EGRESS_HEADER_POLICY = port_policy("test.headerparser", "l7_rules: < l7_allow_rules: <> >", direction="egress",
                                   remotes=(2,))

KAFKA_RULES_ON_HEADER_PORT = port_policy("", 'kafka_rules: < kafka_rules: < topic: "Topic" > >', remotes=(1, 3, 4))

UNKNOWN_L7_PARSER = port_policy("this-parser-does-not-exist", l7_rules({"prefix": "Beginning"}), remotes=(1, 3, 4))

ENVOY_L7 = port_policy("envoy.filter.network.test", l7_rules({"action": "drop"}), remotes=(1, 3, 4))

TWO_RULES_FIRST_NO_L7 = """
    endpoint_ips: "1.1.1.1"
    endpoint_id: 2
    ingress_per_port_policies: <
      port: 80
      rules: < remote_policies: 11 >
      rules: <
        remote_policies: 1 remote_policies: 3 remote_policies: 4
        l7_proto: "test.headerparser"
        l7_rules: < l7_allow_rules: < rule: < key: "prefix" value: "Beginning" > >
                    l7_allow_rules: < rule: < key: "suffix" value: "End" > > >
      >
    >
"""

MISMATCHING_L7 = """
    endpoint_ips: "1.1.1.1"
    endpoint_id: 2
    ingress_per_port_policies: <
      port: 80
      rules: < remote_policies: 11 l7_proto: "r2d2" >
      rules: < remote_policies: 1 l7_proto: "test.headerparser" l7_rules: < l7_allow_rules: <> > >
    >
"""

R2D2_ALLOW_ALL = port_policy("r2d2")
R2D2_READ_ONLY = port_policy("r2d2", l7_rules({"cmd": "READ"}))
R2D2_FILE_REGEX = port_policy("r2d2", l7_rules({"file": "s.*"}))
R2D2_PUBLIC_READS = port_policy("r2d2", l7_rules({"cmd": "READ", "file": "^/public/"}))


# ---- memcache (upstream libcilium/proxylib_memcached_test.go): rules on port 80 for remotes 1, 3 and 4 ----

def memcache_policy(*allow):
    """A memcache port policy whose allow rules are the given dicts ({} is a rule without conditions)."""
    return port_policy("memcache", l7_rules(*allow), remotes=(1, 3, 4))


MEMCACHE_ALLOW_ALL = memcache_policy({})
MEMCACHE_SET = memcache_policy({"keyExact": "", "command": "set"})  # keyExact "" is no key condition
MEMCACHE_SET_KEY_TROLO = memcache_policy({"keyExact": "trolo", "command": "set"})
MEMCACHE_GET = memcache_policy({"keyExact": "", "command": "get"})
MEMCACHE_GET_ONLY = memcache_policy({"command": "get"})
MEMCACHE_GAT = memcache_policy({"keyExact": "", "command": "gat"})
MEMCACHE_DELETE = memcache_policy({"keyExact": "", "command": "delete"})
MEMCACHE_INCR = memcache_policy({"keyExact": "", "command": "incr"})
MEMCACHE_INCR_OTHER_KEY = memcache_policy({"keyExact": "otherKey", "command": "incr"})
MEMCACHE_TOUCH_KEY = memcache_policy({"keyExact": "key", "command": "touch"})
MEMCACHE_TOUCH_OTHER_KEY = memcache_policy({"keyExact": "otherKey", "command": "touch"})
MEMCACHE_SLABS = memcache_policy({"command": "slabs"})
MEMCACHE_LRU_CRAWLER = memcache_policy({"command": "lru_crawler"})
MEMCACHE_STATS = memcache_policy({"command": "stats"})
MEMCACHE_FLUSH_ALL = memcache_policy({"command": "flush_all"})
MEMCACHE_WATCH = memcache_policy({"command": "watch"})
MEMCACHE_GET_HELLO_EXACT = memcache_policy({"keyExact": "Hello", "command": "get"})
MEMCACHE_GET_HELLO_PREFIX = memcache_policy({"keyPrefix": "Hell", "command": "get"})
MEMCACHE_GET_HELLO_REGEX = memcache_policy({"keyRegex": "^.el.o$", "command": "get"})
MEMCACHE_GET_TEST1_EXACT = memcache_policy({"keyExact": "Test1", "command": "get"})

# Rejected with a NACK (upstream accepts the last one and allows everything: an unknown command name made an
# empty rule).
MEMCACHE_KEY_WITHOUT_COMMAND = memcache_policy({"keyExact": "key"})
MEMCACHE_UNKNOWN_RULE_KEY = memcache_policy({"command": "get", "keyGlob": "k*"})
MEMCACHE_UNKNOWN_COMMAND = memcache_policy({"command": "frobnicate"})
MEMCACHE_INVALID_KEY_REGEX = memcache_policy({"command": "get", "keyRegex": "(unclosed"})
