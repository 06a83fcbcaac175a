#!/usr/bin/env python3
"""A tiny r2d2 droid: the toy line protocol of Cilium's proxylib guide, served on loopback.

    request = cmd [" " file] "\\r\\n"     cmd: READ | WRITE | HALT | RESET
    reply   = "OK" [" " text] "\\r\\n"  |  "ERROR" "\\r\\n"

usage: droid_server.py [--port 9000]   (prints "droid listening on 127.0.0.1:PORT" when ready)
"""
import argparse
import socket
import socketserver

FILES = {
    "/public/plans.txt": "deathstar plans v1 (public copy)",
    "/public/manual.txt": "how to fix a hyperdrive",
    "/private/override-codes": "TK-421",
}


class Droid(socketserver.StreamRequestHandler):
    def handle(self):
        for raw in self.rfile:
            line = raw.rstrip(b"\r\n").decode(errors="replace")
            cmd, _, arg = line.partition(" ")
            if cmd == "READ":
                reply = f"OK {FILES[arg]}" if arg in FILES else "ERROR"
            elif cmd == "WRITE":
                FILES[arg] = "(written)"
                reply = "OK"
            elif cmd in ("HALT", "RESET"):
                reply = f"OK {cmd.lower()}"
            else:
                reply = "ERROR"
            self.wfile.write(reply.encode() + b"\r\n")
            self.wfile.flush()


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9000)
    args = parser.parse_args()
    with Server(("127.0.0.1", args.port), Droid) as server:
        print(f"droid listening on 127.0.0.1:{server.server_address[1]}", flush=True)
        server.serve_forever()


if __name__ == "__main__":
    main()
