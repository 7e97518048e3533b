#!/usr/bin/python3
"""Sends one raw HTTP/1.1 request (bytes as given, \\n turned into \\r\\n in
the head) to HOST:PORT and prints the response's status code (or "none").

Usage: raw_http1.py HOST PORT HEAD-FILE BODY
The head file holds the request line and fields, one per line, without the
blank line that ends them. Loopback only; bounded by a 5 s timeout.
"""
import socket
import sys


def main():
    host, port, head_file, body = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4].encode()
    if not host.startswith("127.") and host != "::1":
        raise SystemExit("loopback only")
    with open(head_file, "rb") as f:
        head = f.read().rstrip(b"\n").replace(b"\n", b"\r\n")
    request = head + b"\r\n\r\n" + body
    received = b""
    try:
        with socket.create_connection((host, port), timeout=5) as sock:
            sock.sendall(request)
            while b"\r\n\r\n" not in received and len(received) < 65536:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                received += chunk
    except OSError:
        pass
    parts = received.split(b" ", 2)
    print(parts[1].decode() if len(parts) >= 2 and received.startswith(b"HTTP/1.") else "none")


if __name__ == "__main__":
    main()
