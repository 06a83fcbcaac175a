"""NPDS server for the stress run: pushes a changed policy every INTERVAL_MS to every stream.

    usage: npds_churn.py SOCKET INTERVAL_MS

The pushes cycle through the valid variants of Tests/Stress/policy_variants.py; every tenth push is the invalid
variant, which the library must NACK while it keeps enforcing the previous one. The server is the test suite's
(Tests/npds/npds_server.py, Google's grpcio and protobuf), set up the way bench/npds_serve.py does it.

Stdout, one line each, flushed: `LISTENING <socket>` once the server is up, `FIRST-ACK <version>` once the
library has accepted a policy, and at the end
    SUMMARY pushes=N valid=N invalid=N acks=N nacks=N wrong=N unanswered=N duplicates=N seconds=S max_gap_ms=G
where `wrong` counts answers that contradict the push (an ACK of the invalid variant, a NACK of a valid one, an
ACK naming another version, an unknown nonce) and `unanswered` pushes the library never answered.

Pushing stops at a line `STOP` on stdin or at its end of file (the driver closes it, or dies); the server then
waits up to 10 s for the answers to every push and prints SUMMARY; at end of file it stops, removes the socket
and exits.
"""
import os
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "bench"))
sys.path.insert(0, HERE)

import npds_serve  # noqa: E402  (bench/npds_serve.py: generates the pb2 modules, imports npds_server)
import policy_variants  # noqa: E402

INVALID_EVERY = 10


def main(argv):
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    socket_path, interval = argv[1], float(argv[2]) / 1000.0
    npds_server = npds_serve.import_test_modules()
    encoded = [[npds_server.encode_policy(p) for p in policy_variants.variant(k)]
               for k in range(policy_variants.VALID_VARIANTS)]
    invalid = [npds_server.encode_policy(p) for p in policy_variants.invalid_variant()]

    server = npds_server.NPDSServer(socket_path).start()
    pushes = {}  # nonce -> (version, valid)
    lock = threading.Lock()
    nonce = server.push("1", [], raw_resources=encoded[0])
    pushes[nonce] = ("1", True)
    print("LISTENING " + socket_path, flush=True)

    stop = threading.Event()
    gaps = [0.0]

    def push_loop():
        # Pushes made before the library's stream exists would be superseded unseen (a new stream gets only the
        # current state): start once the stream has sent its initial request (its queue is registered by then).
        server.wait_for_initial_request(timeout=300)
        k = 1
        started = last = time.monotonic()
        while not stop.is_set():
            k += 1
            version = str(k)
            valid = k % INVALID_EVERY != 0
            resources = encoded[k % len(encoded)] if valid else invalid
            with lock:
                pushes[server.push(version, [], raw_resources=resources)] = (version, valid)
            now = time.monotonic()
            gaps[0] = max(gaps[0], now - last)
            last = now
            # A fixed schedule: a slow push is not followed by a burst, and the average rate holds.
            delay = started + (k - 1) * interval - time.monotonic()
            if delay > 0:
                stop.wait(delay)

    def first_ack():
        try:
            recorded = server.wait_for(lambda r: r.nonce != "" and r.error is None, timeout=120, what="first ACK")
            print("FIRST-ACK " + recorded.version, flush=True)
        except AssertionError:
            print("NO-ACK", flush=True)

    threading.Thread(target=first_ack, daemon=True).start()
    pusher = threading.Thread(target=push_loop, daemon=True)
    started = time.monotonic()
    pusher.start()
    # "STOP" (or end of file) ends the pushes; the server stays up until end of file, so that the library can
    # be closed before its agent goes away.
    for line in sys.stdin:
        if line.strip() == "STOP":
            break
    stop.set()
    pusher.join()
    seconds = time.monotonic() - started

    def tally():
        acks = nacks = wrong = duplicates = 0
        answered = set()
        with lock:
            known = dict(pushes)
        for r in list(server.requests):
            if r.nonce == "":
                continue  # the initial request of a stream
            if r.nonce not in known:
                wrong += 1
                continue
            if r.nonce in answered:
                duplicates += 1  # a reconnected stream answers the current push again
                continue
            answered.add(r.nonce)
            version, valid = known[r.nonce]
            if valid and r.error is None and r.version == version:
                acks += 1
            elif not valid and r.error is not None:
                nacks += 1
            else:
                wrong += 1
        missing = sorted((int(v) for n, (v, _) in known.items() if n not in answered))
        return acks, nacks, wrong, duplicates, len(known) - len(answered), missing

    deadline = time.monotonic() + 10
    while tally()[4] > 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    acks, nacks, wrong, duplicates, unanswered, missing = tally()
    valid = sum(1 for _, v in pushes.values() if v)
    print(f"SUMMARY pushes={len(pushes)} valid={valid} invalid={len(pushes) - valid} acks={acks} nacks={nacks} "
          f"wrong={wrong} unanswered={unanswered} duplicates={duplicates} seconds={seconds:.1f} "
          f"max_gap_ms={gaps[0] * 1000:.1f}" + (f" unanswered_versions={missing[:10]}" if missing else ""), flush=True)
    for _ in sys.stdin:
        pass
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
