#!/usr/bin/env python3
"""redis-benchmark through proxylib-host (not part of `make test`): requests/s of GET and SET against

  direct   redis-server itself
  redis    proxylib-host --parser redis, policy [{command: "@read"}, {command: "@write"}, {command: "config|get"}]
  nolog    the same with --no-access-log (the library logs nothing: the parser's own cost)
  passer   proxylib-host --parser test.passer (pure forwarding through the same host and datapath)

each run RUNS times (default 3) at every pipeline depth (default 16 and 1); the median is reported, with the
loss against direct. Usage (from the repository root, after `make build/libcilium.so .build/release/proxylib-host`):

    Tests/redis/bench/run.py [--requests 200000] [--pipelines 16,1] [--runs 3] [--clients 50]

The host's access log goes to /dev/null (it is still collected: the redis parser logs every request and every
response, as it would to the Cilium agent; the passer logs nothing). Besides requests/s, the CPU time proxylib-host
spends per request is reported (median), split into its event-loop threads (read, OnData, forward, encode log
entries) and its other threads (the access log's delivery and collection)."""
import argparse
import csv
import io
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
HOST = os.environ.get("PROXYLIB_HOST", os.path.join(ROOT, ".build", "release", "proxylib-host"))
LIBCILIUM = os.environ.get("LIBCILIUM", os.path.join(ROOT, "build", "libcilium.so"))
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
REDIS_BENCHMARK = shutil.which("redis-benchmark") or "/usr/bin/redis-benchmark"

REDIS_POLICY = """- ports:
    - port: "{port}"
  rules:
    l7proto: redis
    l7:
      - command: "@read"
      - command: "@write"
      - command: "config|get"   # redis-benchmark reads `save` and `appendonly` at start
"""
PASSER_POLICY = """- ports:
    - port: "{port}"
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, proc, what, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{what} exited at start")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"{what} did not listen on {port}")


def start_host(workdir, parser, upstream, policy, extra=(), tag=""):
    name = parser + tag
    path = os.path.join(workdir, f"{name}-policy.yaml")
    with open(path, "w") as f:
        f.write(policy.format(port=upstream))
    port = free_port()
    err_path = os.path.join(workdir, f"{name}-host.err")
    err = open(err_path, "wb")
    proc = subprocess.Popen([HOST, "--library", LIBCILIUM, "--parser", parser, "--listen", f"127.0.0.1:{port}",
                             "--upstream", f"127.0.0.1:{upstream}", "--policy", path, *extra],
                            stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        text = open(err_path, errors="replace").read()
        if "accepted" in text:
            break
        if "REJECTED" in text or proc.poll() is not None:
            sys.exit(f"proxylib-host --parser {parser}: {text}")
        time.sleep(0.05)
    else:
        sys.exit(f"proxylib-host --parser {parser}: no policy verdict")
    wait_listening(port, proc, f"proxylib-host --parser {parser}")
    return proc, port


def cpu_seconds(pid):
    """(event-loop threads, other threads): user + system CPU seconds of process `pid` so far, from /proc. The
    event-loop threads (SwiftNIO's, named NIO-ELT-…) read, parse (OnData), forward and encode access-log
    entries; the others deliver the access log (the library's sender, the host's collector, which formats and
    prints each entry)."""
    loops = other = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/stat") as f:
                text = f.read()
        except OSError:
            continue
        name = text[text.index("(") + 1:text.rindex(")")]
        fields = text.rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / tick
        if name.startswith("NIO-ELT"):
            loops += cpu
        else:
            other += cpu
    return loops, other


def benchmark(port, requests, pipeline, clients):
    """{"SET": rps, "GET": rps} from redis-benchmark --csv."""
    done = subprocess.run([REDIS_BENCHMARK, "-h", "127.0.0.1", "-p", str(port), "-q", "--csv", "-t", "get,set",
                           "-n", str(requests), "-P", str(pipeline), "-c", str(clients)],
                          capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        sys.exit(f"redis-benchmark failed: {done.stderr}")
    rows = list(csv.reader(io.StringIO(done.stdout)))
    result = {row[0]: float(row[1]) for row in rows[1:] if len(row) > 1}
    if set(result) != {"SET", "GET"}:
        sys.exit(f"unexpected redis-benchmark output: {done.stdout!r} {done.stderr!r}")
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200000)
    parser.add_argument("--pipelines", default="16,1")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--clients", type=int, default=50)
    args = parser.parse_args()
    for path in (HOST, LIBCILIUM, REDIS_SERVER, REDIS_BENCHMARK):
        if not os.access(path, os.R_OK):
            sys.exit(f"{path} not found (make build/libcilium.so .build/release/proxylib-host; "
                     "apt-get install redis-server redis-tools)")
    pipelines = [int(p) for p in args.pipelines.split(",")]
    with tempfile.TemporaryDirectory(prefix="redis-bench-") as workdir:
        server_port = free_port()
        server = subprocess.Popen([REDIS_SERVER, "--port", str(server_port), "--bind", "127.0.0.1", "--save", "",
                                   "--appendonly", "no", "--dir", workdir, "--logfile", ""],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        hosts = []
        try:
            wait_listening(server_port, server, "redis-server")
            redis_host, redis_port = start_host(workdir, "redis", server_port, REDIS_POLICY)
            quiet_host, quiet_port = start_host(workdir, "redis", server_port, REDIS_POLICY, ("--no-access-log",),
                                                "-nolog")
            passer_host, passer_port = start_host(workdir, "test.passer", server_port, PASSER_POLICY)
            hosts = [redis_host, quiet_host, passer_host]
            targets = [("direct", server_port, None), ("redis", redis_port, redis_host),
                       ("nolog", quiet_port, quiet_host), ("passer", passer_port, passer_host)]
            results = {}
            for pipeline in pipelines:
                for run in range(args.runs):
                    # Interleaved, so that a change in the machine's load hits every configuration alike.
                    for name, port, host in targets:
                        before = cpu_seconds(host.pid) if host else (0.0, 0.0)
                        r = benchmark(port, args.requests, pipeline, args.clients)
                        after = cpu_seconds(host.pid) if host else (0.0, 0.0)
                        # CPU time of proxylib-host per request (SET and GET runs together), in microseconds.
                        per = 1e6 / (2 * args.requests)
                        r["loops"], r["other"] = (after[0] - before[0]) * per, (after[1] - before[1]) * per
                        r["cpu"] = r["loops"] + r["other"]
                        results.setdefault((name, pipeline), []).append(r)
                        print(f"-P {pipeline:<2} run {run + 1}  {name:<6}  SET {r['SET']:>10.0f}  GET {r['GET']:>10.0f}"
                              f"  host CPU/request {r['cpu']:.2f} us (event loops {r['loops']:.2f}, "
                              f"other threads {r['other']:.2f})", flush=True)
            print()
            print(f"median of {args.runs} runs, requests/s (-n {args.requests} -c {args.clients}); "
                  "loss = 1 - rate / direct rate")
            print(f"{'pipeline':<9}{'config':<8}{'SET':>10}{'loss':>8}{'GET':>10}{'loss':>8}{'host us/req':>13}"
                  f"{'loops':>7}{'other':>7}   runs (SET / GET)")
            for pipeline in pipelines:
                base = {t: statistics.median(r[t] for r in results[("direct", pipeline)]) for t in ("SET", "GET")}
                for name, _, _ in targets:
                    runs = results[(name, pipeline)]
                    med = {t: statistics.median(r[t] for r in runs) for t in ("SET", "GET", "cpu", "loops", "other")}
                    loss = {t: 1 - med[t] / base[t] for t in ("SET", "GET")}
                    detail = ", ".join(f"{r['SET']:.0f}/{r['GET']:.0f}" for r in runs)
                    cpu = [f"{med[t]:.2f}" if name != "direct" else "-" for t in ("cpu", "loops", "other")]
                    print(f"-P {pipeline:<6}{name:<8}{med['SET']:>10.0f}{loss['SET']:>8.1%}"
                          f"{med['GET']:>10.0f}{loss['GET']:>8.1%}{cpu[0]:>13}{cpu[1]:>7}{cpu[2]:>7}   {detail}")
        finally:
            for proc in hosts + [server]:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGINT)
                    try:
                        proc.wait(5)
                    except subprocess.TimeoutExpired:
                        proc.kill()


if __name__ == "__main__":
    main()
