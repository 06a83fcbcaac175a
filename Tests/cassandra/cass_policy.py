"""Policy files for proxylib-host: the toPorts part of a CiliumNetworkPolicy with `l7proto: cassandra`."""
import json

# What every client needs when it connects: cassandra-driver reads system.local, system.peers(_v2) and, with its
# schema metadata on (the default, kept on here), system_schema.* and system_virtual_schema.*.
SYSTEM_RULE = {"query_action": "select", "query_table": r"^system(_schema|_virtual_schema)?\."}

# The suite's standing policy: reads of the system tables, reads and inserts on ks.allowed_*. Everything else
# (ks.secret, other keyspaces, UPDATE/DELETE/TRUNCATE/DDL anywhere) is denied.
DEFAULT_RULES = [
    SYSTEM_RULE,
    {"query_action": "select", "query_table": r"^ks\.allowed_"},
    {"query_action": "insert", "query_table": r"^ks\.allowed_"},
]


def policy_yaml(port, rules=DEFAULT_RULES):
    """`rules` is a list of dicts (each one l7 rule; {} allows everything), or None for a port without L7 rules.
    Each rule is written as a JSON object, which YAML reads as a flow mapping."""
    text = f'- ports:\n    - port: "{port}"\n  rules:\n    l7proto: cassandra\n'
    if rules is not None:
        text += "    l7:\n" + "".join(f"      - {json.dumps(rule)}\n" for rule in rules)
    return text
