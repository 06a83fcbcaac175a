"""Policy files for proxylib-host: the toPorts part of a CiliumNetworkPolicy with `l7proto: kafka` and Kafka rules
(`kafka:` entries: apiKey, apiVersion, clientID, topic, role)."""
import json

# The topics of the test broker. allowed and allowed.two may be produced and consumed; secret may be looked up
# (Metadata) but not produced to or consumed; hidden has no rule at all.
ALLOWED, ALLOWED_TWO, SECRET, HIDDEN = "allowed", "allowed.two", "secret", "hidden"
TOPICS = {ALLOWED: 1, ALLOWED_TWO: 1, SECRET: 1, HIDDEN: 1}

# Metadata of any topic (and for no topic: kafka-python's bootstrap asks for the brokers alone, which a rule with
# a topic does not allow), everything on allowed and allowed.two (a rule with a topic also allows the requests
# that name no topic: ApiVersions, InitProducerId, ...).
METADATA_RULE = {"apiKey": "metadata"}
DEFAULT_RULES = [{"topic": ALLOWED}, {"topic": ALLOWED_TWO}, METADATA_RULE]


def policy_yaml(port, rules=DEFAULT_RULES):
    """`rules`: a list of dicts, each one Kafka rule, written as JSON objects (YAML flow mappings)."""
    text = f'- ports:\n    - port: "{port}"\n  rules:\n    l7proto: kafka\n    kafka:\n'
    return text + "".join(f"      - {json.dumps(rule)}\n" for rule in rules)
