"""Policy files for proxylib-host: the toPorts part of a CiliumNetworkPolicy with `l7proto: redis`."""
import json

# The suite's standing policy: keys under "pub:" for reading, writing and scripts; channels under "news.";
# connection and transaction commands, SCAN (keyless). Everything else (other keys, FLUSHDB, CONFIG, KEYS, …)
# is denied.
DEFAULT_RULES = [
    {"command": "@read", "keyPrefix": "pub:"},
    {"command": "@write", "keyPrefix": "pub:"},
    {"command": "@scripting", "keyPrefix": "pub:"},  # EVAL/EVALSHA/FCALL with keys under pub:
    {"command": "@connection"},                      # PING, ECHO, SELECT, CLIENT …, HELLO, RESET
    {"command": "@transaction"},                     # MULTI, EXEC, DISCARD, WATCH, UNWATCH
    {"command": "@pubsub", "channelPrefix": "news."},
    {"command": "scan"},
]

# Everything (a rule without conditions allows every command).
ALLOW_ALL = [{}]


def policy_yaml(port, rules=DEFAULT_RULES):
    """`rules` is a list of dicts (each one l7 rule; {} allows everything), or None for a port without L7 rules.
    Each rule is written as a JSON object, which YAML reads as a flow mapping. (The host's policy file has
    allow rules only.)"""
    text = f'- ports:\n    - port: "{port}"\n  rules:\n    l7proto: redis\n'
    if rules is not None:
        text += "    l7:\n" + "".join(f"      - {json.dumps(rule)}\n" for rule in rules)
    return text
