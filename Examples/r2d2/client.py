#!/usr/bin/env python3
"""A scripted r2d2 client: sends each request on one connection and prints what comes back.

usage: client.py HOST:PORT REQUEST...   (e.g. client.py 127.0.0.1:8000 "READ /public/plans.txt" HALT)
"""
import socket
import sys


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        reader = conn.makefile("rb")
        for request in sys.argv[2:]:
            conn.sendall(request.encode() + b"\r\n")
            reply = reader.readline().rstrip(b"\r\n").decode(errors="replace")
            print(f"client: {request:<32} -> {reply}", flush=True)


if __name__ == "__main__":
    main()
