"""The policies of the stress run and the fault suite (cilium.NetworkPolicy, protobuf text format).

Three valid variants and an invalid one, all for endpoint 1.1.1.1, ingress, remote identities 1, 3 and 4 (never 9),
built so that what Tests/Stress/traffic.c sends falls into fixed classes whatever variant is in force:

  r2d2 (port 80)                 variant 0   variant 1   variant 2
    READ /public/...   always       allow       allow       allow
    WRITE /secret/...  never        deny        deny        deny
    HALT               maybe        allow       deny        allow
    RESET              maybe        deny        deny        allow
    READ /private/...  maybe        deny        allow       deny
    WRITE /upload/...  maybe        deny        deny (L7 deny rule)  allow
  test.headerparser (port 81)
    "Beginning ..."    always       allow       allow       allow
    "Forbidden ..."    never        deny        deny        deny
    "Perhaps maybe ..." maybe       allow       deny        deny
    "Line ... the end" maybe        deny        allow       deny

Remote 9 and policy name 9.9.9.9 are named by no variant: everything there is denied. The invalid variant is
variant 0 plus a rule whose regular expression does not compile: the library must reject (NACK) the whole
update and keep enforcing the previous one. Ten unrelated endpoints make the map less trivial.
"""

R2D2_EXTRA = [
    'l7_allow_rules: < rule: < key: "cmd" value: "HALT" > >',
    'l7_allow_rules: < rule: < key: "cmd" value: "READ" > rule: < key: "file" value: "^/private/" > >'
    ' l7_deny_rules: < rule: < key: "cmd" value: "WRITE" > >',
    'l7_allow_rules: < rule: < key: "cmd" value: "HALT" > >'
    ' l7_allow_rules: < rule: < key: "cmd" value: "RESET" > >'
    ' l7_allow_rules: < rule: < key: "cmd" value: "WRITE" > rule: < key: "file" value: "^/upload/" > >',
]

HEADER_EXTRA = [
    'l7_allow_rules: < rule: < key: "contains" value: "maybe" > >',
    'l7_allow_rules: < rule: < key: "suffix" value: "the end" > >',
    '',
]

INVALID_R2D2_RULE = 'l7_allow_rules: < rule: < key: "file" value: "(unclosed" > >'


def endpoint_policy(r2d2_extra, header_extra):
    return f"""
        endpoint_ips: "1.1.1.1"
        endpoint_id: 2
        ingress_per_port_policies: <
          port: 80
          rules: <
            remote_policies: 1 remote_policies: 3 remote_policies: 4
            l7_proto: "r2d2"
            l7_rules: <
              l7_allow_rules: < rule: < key: "cmd" value: "READ" > rule: < key: "file" value: "^/public/" > >
              {r2d2_extra}
            >
          >
        >
        ingress_per_port_policies: <
          port: 81
          rules: <
            remote_policies: 1 remote_policies: 3 remote_policies: 4
            l7_proto: "test.headerparser"
            l7_rules: <
              l7_allow_rules: < rule: < key: "prefix" value: "Beginning" > >
              {header_extra}
            >
          >
        >
    """


def filler(i):
    return f"""
        endpoint_ips: "10.200.{i}.1"
        endpoint_id: {100 + i}
        ingress_per_port_policies: <
          port: 80
          rules: < remote_policies: {i + 1} l7_proto: "r2d2"
                   l7_rules: < l7_allow_rules: < rule: < key: "cmd" value: "READ" > > > >
        >
    """


def variant(k):
    """The policies (text) of valid variant k (0, 1 or 2)."""
    return [endpoint_policy(R2D2_EXTRA[k], HEADER_EXTRA[k])] + [filler(i) for i in range(10)]


def invalid_variant():
    return [endpoint_policy(R2D2_EXTRA[0] + " " + INVALID_R2D2_RULE, HEADER_EXTRA[0])] + [filler(i) for i in range(10)]


VALID_VARIANTS = 3

# Requests and their verdict under each valid variant, for the fault suite's own checks (r2d2, remote 1).
R2D2_ALWAYS = b"READ /public/check\r\n"
R2D2_NEVER = b"WRITE /secret/check\r\n"
# Allowed under exactly one variant: tells which one is in force.
R2D2_ONLY_IN = {1: b"READ /private/check\r\n", 2: b"RESET\r\n"}
