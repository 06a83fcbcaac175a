"""Policy files for proxylib-host: the toPorts part of a CiliumNetworkPolicy with `l7proto: memcache`."""
import json

# The suite's standing policy: keys under "pub" for the key commands of each wire format, keyless no-ops.
# Everything else (other keys, flush_all, version, stats, ...) is denied.
DEFAULT_RULES = [
    {"command": "get", "keyPrefix": "pub"},      # get/gets, binary GET*, meta mg
    {"command": "storage", "keyPrefix": "pub"},  # set/add/replace/append/prepend/cas/incr/decr, binary too
    {"command": "delete", "keyPrefix": "pub"},   # delete, binary DELETE*, meta md
    {"command": "touch", "keyPrefix": "pub"},
    {"command": "ms", "keyPrefix": "pub"},
    {"command": "ma", "keyPrefix": "pub"},
    {"command": "noop"},                         # binary NOOP
    {"command": "mn"},                           # meta no-op
]


def policy_yaml(port, rules=DEFAULT_RULES):
    """`rules` is a list of dicts (each one l7 rule; {} allows everything), or None for a port without L7 rules.
    Each rule is written as a JSON object, which YAML reads as a flow mapping."""
    text = f'- ports:\n    - port: "{port}"\n  rules:\n    l7proto: memcache\n'
    if rules is not None:
        text += "    l7:\n" + "".join(f"      - {json.dumps(rule)}\n" for rule in rules)
    return text
