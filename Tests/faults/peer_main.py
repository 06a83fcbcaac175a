"""A peer of the library on a unix socket, run as its own process so that a test can kill it (SIGKILL) like a
crashing agent.

    usage: peer_main.py MODE SOCKET

Modes:
  npds      the test suite's grpcio NPDS server (Tests/npds/npds_server.py). Stdin commands, one per line:
              VARIANT <k> <version>   push valid variant k of Tests/Stress/policy_variants.py
              INVALID <version>       push the invalid variant (the library must NACK it)
              BIG <megabytes> <version>  push a DiscoveryResponse of that size (one huge resource)
              RAW <hex>               push bytes that are not a DiscoveryResponse, as one gRPC message
            Stdout: STREAM (a stream sent its initial request), ACK <version> <nonce>, NACK <version> <nonce>.
  garbage   accepts and answers every connection with random bytes (not HTTP/2), then keeps it open
  silent    accepts and never sends a byte (the HTTP/2 handshake never completes)
  truncate  speaks HTTP/2 (h2); answers the call with response headers, a gRPC message prefix announcing 1000
            bytes followed by 10 of them, then trailers with grpc-status 0: a truncated message
  stall     like truncate, but sends 100 bytes of the message and then nothing, keeping the connection open
Every mode prints `LISTENING <socket>` when ready and `ACCEPT <n>` for each connection it accepts. Stdin end of
file stops the peer.
"""
import os
import random
import socket
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "Tests", "Stress"))


def say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def import_npds_server():
    """The pb2 modules the parent generated (NPDS_PB2_DIR), or a fresh generation (bench/npds_serve.py's)."""
    generated = os.environ.get("NPDS_PB2_DIR")
    if generated:
        import importlib
        sys.path.insert(0, generated)
        sys.modules["npds_pb2"] = importlib.import_module("cilium.api.npds_pb2")
        sys.modules["discovery_pb2"] = importlib.import_module("envoy.service.discovery.v3.discovery_pb2")
        sys.path.insert(0, os.path.join(ROOT, "Tests", "npds"))
        import npds_server
        return npds_server
    sys.path.insert(0, os.path.join(ROOT, "bench"))
    import npds_serve
    return npds_serve.import_test_modules()


def run_npds(path):
    npds_server = import_npds_server()
    import policy_variants
    server = npds_server.NPDSServer(path).start()
    say("LISTENING " + path)
    reported = set()
    done = threading.Event()

    def report():
        while not done.is_set():
            try:
                recorded = server.wait_for(lambda r: id(r) not in reported, timeout=0.2)
            except AssertionError:
                continue
            reported.add(id(recorded))
            # A response that does not decode has no nonce to echo: its NACK has an empty one too.
            if recorded.error is not None:
                say(f"NACK {recorded.version} {recorded.nonce}")
            elif recorded.nonce == "":
                say("STREAM")
            else:
                say(f"ACK {recorded.version} {recorded.nonce}")

    threading.Thread(target=report, daemon=True).start()
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "VARIANT":
            server.push(words[2], policy_variants.variant(int(words[1])))
        elif words[0] == "INVALID":
            server.push(words[1], policy_variants.invalid_variant())
        elif words[0] == "BIG":
            server.push(words[2], [], raw_resources=[b"\x00" * (int(words[1]) << 20)])
        elif words[0] == "RAW":
            server.push_raw(bytes.fromhex(words[1]))
        say("PUSHED " + words[0])
    done.set()
    server.stop()


def serve_raw(path, handle):
    """Accepts connections on a unix stream socket and runs `handle(conn)` for each in a thread."""
    if os.path.exists(path):
        os.unlink(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(16)
    held = []

    def accept():
        count = 0
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            count += 1
            held.append(conn)
            say(f"ACCEPT {count}")
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    say("LISTENING " + path)
    for _ in sys.stdin:
        pass
    listener.close()
    os.unlink(path)


def garbage(conn):
    rng = random.Random(1234)
    try:
        conn.sendall(bytes(rng.randrange(256) for _ in range(4096)))
        # Drain what the library sends so that it never blocks on us; keep the connection open.
        while conn.recv(65536):
            pass
    except OSError:
        pass


def silent(conn):
    try:
        while conn.recv(65536):
            pass
    except OSError:
        pass


def scripted_h2(stall):
    import h2.config
    import h2.connection
    import h2.events

    def handle(conn):
        h2c = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=False, header_encoding=None))
        h2c.initiate_connection()
        try:
            conn.sendall(h2c.data_to_send())
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                for event in h2c.receive_data(data):
                    if isinstance(event, h2.events.DataReceived):
                        h2c.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                    elif isinstance(event, h2.events.RequestReceived):
                        stream = event.stream_id
                        h2c.send_headers(stream, [(":status", "200"), ("content-type", "application/grpc")])
                        prefix = b"\x00" + (1000).to_bytes(4, "big")
                        if stall:
                            h2c.send_data(stream, prefix + b"\x0a" * 100)
                        else:
                            h2c.send_data(stream, prefix + b"\x0a" * 10)
                            h2c.send_headers(stream, [("grpc-status", "0")], end_stream=True)
                conn.sendall(h2c.data_to_send())
        except Exception:  # the library closed the connection; any h2 protocol complaint ends this peer too
            return

    return handle


def main(argv):
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    mode, path = argv[1], argv[2]
    if mode == "npds":
        run_npds(path)
    elif mode == "garbage":
        serve_raw(path, garbage)
    elif mode == "silent":
        serve_raw(path, silent)
    elif mode in ("truncate", "stall"):
        serve_raw(path, scripted_h2(stall=mode == "stall"))
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
