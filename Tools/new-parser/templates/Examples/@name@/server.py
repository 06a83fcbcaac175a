#!/usr/bin/env python3
"""A toy @name@ server for trying the parser: answers each request line with one line.

    PING              -> PONG
    GET resource      -> OK contents of <resource>
    any other verb    -> OK <verb> done

Every request it receives is printed on stdout ("got: ..."), so a denied request can be seen not to arrive.
Replace it with your protocol's real server once the parser speaks that protocol.
"""
import argparse
import socketserver
import sys


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        for raw in self.rfile:
            line = raw.rstrip(b"\r\n").decode("utf-8", "replace")
            print(f"got: {line}", flush=True)
            verb, _, resource = line.partition(" ")
            if verb == "PING":
                answer = "PONG"
            elif verb == "GET":
                answer = f"OK contents of {resource}"
            else:
                answer = f"OK {verb} done"
            self.wfile.write(answer.encode() + b"\r\n")


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9100)
    args = parser.parse_args()
    with Server(("127.0.0.1", args.port), Handler) as server:
        print(f"@name@ server listening on 127.0.0.1:{args.port}", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            sys.exit(0)


if __name__ == "__main__":
    main()
