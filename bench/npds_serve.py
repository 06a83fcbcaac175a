"""NPDS server for bench/bench.c: serves the policies of a text file on a unix socket and reports ACKs.

    usage: npds_serve.py SOCKET POLICY_FILE [VERSION]

POLICY_FILE holds cilium.NetworkPolicy resources in protobuf text format, separated by lines of `---`
(`#` lines are comments). They are pushed once, as VERSION (default "1"), to every stream that opens.

Stdout, one line each, flushed: `LISTENING <socket>` once the server is up, then `ACK <version>` or
`NACK <version> <reason>` for every non-initial DiscoveryRequest the library sends. The server runs until
stdin reaches end of file (the driver closes its end, or dies), then removes the socket and exits.

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

    def watch_stdin():
        while sys.stdin.buffer.read(4096):
            pass
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
