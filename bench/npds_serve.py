"""NPDS server for bench/bench.c: serves the policies of a text file on a unix socket and reports ACKs.

    usage: npds_serve.py SOCKET POLICY_FILE [VERSION]

POLICY_FILE holds cilium.NetworkPolicy resources in protobuf text format, separated by lines of `---`
(`#` lines are comments). They are pushed once, as VERSION (default "1"), to every stream that opens.

Stdout, one line each, flushed: `LISTENING <socket>` once the server is up, then `ACK <version>` or
`NACK <version> <reason>` for every non-initial DiscoveryRequest the library sends. The server runs until
stdin reaches end of file (the driver closes its end, or dies), then removes the socket and exits.

Stdin commands, one per line: `BULK <n> <version>` pushes the file's policies plus <n> generated endpoints
(10.x.y.z, each with an r2d2 rule on port 80) as <version>, then prints `PUSHED <version>`.

The server is the test suite's (Tests/npds/npds_server.py), with the .proto modules generated the same way:
importing Tests/npds/conftest.py runs that generation.
"""
import atexit
import os
import shutil
import sys
import tempfile
import threading

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
TESTS = os.path.join(ROOT, "Tests", "npds")


def import_test_modules():
    before = list(sys.path)
    sys.path.insert(0, TESTS)
    import conftest  # noqa: F401  (generates the pb2 modules into a temporary directory on sys.path)
    generated = [p for p in sys.path if p not in before and os.path.basename(p).startswith("npds-pb2-")
                 and os.path.dirname(p) == tempfile.gettempdir()]
    for path in generated:
        atexit.register(shutil.rmtree, path, True)
    import npds_server
    return npds_server


def read_policies(path):
    with open(path) as f:
        text = "".join(line for line in f if not line.lstrip().startswith("#"))
    return [chunk for chunk in text.split("\n---\n") if chunk.strip()]


def main(argv):
    if len(argv) not in (3, 4):
        sys.stderr.write(__doc__)
        return 2
    socket_path, policy_path = argv[1], argv[2]
    version = argv[3] if len(argv) == 4 else "1"
    npds_server = import_test_modules()
    policies = read_policies(policy_path)
    server = npds_server.NPDSServer(socket_path).start()
    server.push(version, policies)
    print("LISTENING " + socket_path, flush=True)

    done = threading.Event()

    npds_pb2 = sys.modules["npds_pb2"]
    base = [npds_server.encode_policy(p) for p in policies]

    def generated(count):
        """`count` endpoint policies, built as messages (parsing 10,000 texts would dominate the timing)."""
        out = []
        for i in range(count):
            policy = npds_pb2.NetworkPolicy(endpoint_id=100000 + i)
            policy.endpoint_ips.append("10.%d.%d.%d" % (100 + i // 65536, (i // 256) % 256, i % 256))
            port = policy.ingress_per_port_policies.add(port=80)
            rule = port.rules.add(l7_proto="r2d2")
            rule.remote_policies.append(1 + i % 7)
            allow = rule.l7_rules.l7_allow_rules.add()
            allow.rule["cmd"] = "READ"
            allow.rule["file"] = "^/public/"
            out.append(policy.SerializeToString())
        return out

    def watch_stdin():
        for line in sys.stdin:
            words = line.split()
            if len(words) == 3 and words[0] == "BULK":
                resources = base + generated(int(words[1]))
                server.push(words[2], [], raw_resources=resources)
                print("PUSHED " + words[2], flush=True)
        done.set()

    threading.Thread(target=watch_stdin, daemon=True).start()

    reported = set()

    def unreported(recorded):
        return recorded.nonce != "" and id(recorded) not in reported

    while not done.is_set():
        try:
            recorded = server.wait_for(unreported, timeout=0.2)
        except AssertionError:
            continue
        reported.add(id(recorded))
        if recorded.error is None:
            print("ACK " + recorded.version, flush=True)
        else:
            print("NACK %s %s" % (recorded.version, recorded.error.replace("\n", " ")), flush=True)
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
