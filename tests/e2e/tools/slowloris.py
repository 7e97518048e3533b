#!/usr/bin/python3
"""Slowloris clients for the e2e tests (HTTP/1.1 request heads never finished).

  slowloris.py flood HOST PORT --connections N --seconds T [--ready FILE]
      Opens N connections, each sending the start of a request head and one
      more header byte every 2 s, for T seconds. Writes "ready" to FILE once
      all were attempted. At the end prints
        "attempted=N connected=N open=N closed_early=N"
      where open counts connections still open at the end and closed_early
      those the server closed within 1 s of connecting (refused over a cap).

  slowloris.py trickle HOST PORT --interval S --seconds T [--body]
      One connection sending its request head one byte every S seconds
      (--body: a complete head, then its 100,000-byte body so).
      Prints "closed_after=SECONDS" when the server closed it, or
      "open_after=SECONDS" when it was still open after T seconds.

Every loop is bounded by a deadline; sockets are closed on exit.
"""

import argparse
import selectors
import socket
import time

HEAD = b"GET / HTTP/1.1\r\nHost: slow\r\n"


def flood(args):
    sel = selectors.DefaultSelector()
    opened_at = {}
    closed_early = 0
    connected = 0
    for _ in range(args.connections):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect_ex((args.host, args.port))
        except OSError:
            s.close()
            continue
        sel.register(s, selectors.EVENT_WRITE)
        opened_at[s] = None
    if args.ready:
        with open(args.ready, "w", encoding="utf-8") as f:
            f.write("ready\n")
    start = time.monotonic()
    deadline = start + args.seconds
    next_trickle = start + 2
    while time.monotonic() < deadline and opened_at:
        for key, events in sel.select(timeout=0.2):
            s = key.fileobj
            if events & selectors.EVENT_WRITE and opened_at[s] is None:
                if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                    sel.unregister(s)
                    del opened_at[s]
                    s.close()
                    continue
                connected += 1
                opened_at[s] = time.monotonic()
                try:
                    s.send(HEAD)
                except OSError:
                    pass
                sel.modify(s, selectors.EVENT_READ)
            elif events & selectors.EVENT_READ:
                try:
                    data = s.recv(4096)
                except OSError:
                    data = b""
                if not data:
                    if opened_at[s] is not None and time.monotonic() - opened_at[s] < 1:
                        closed_early += 1
                    sel.unregister(s)
                    del opened_at[s]
                    s.close()
        now = time.monotonic()
        if now >= next_trickle:
            next_trickle = now + 2
            for s, t in opened_at.items():
                if t is not None:
                    try:
                        s.send(b"X")
                    except OSError:
                        pass
    still_open = len(opened_at)
    for s in list(opened_at):
        s.close()
    print(f"attempted={args.connections} connected={connected} open={still_open} closed_early={closed_early}")


def trickle(args):
    s = socket.create_connection((args.host, args.port), timeout=args.interval)
    start = time.monotonic()
    deadline = start + args.seconds
    head = HEAD + b"X-Slow: " + b"a" * 1000
    i = 0
    if args.body:
        s.sendall(b"POST / HTTP/1.1\r\nHost: slow\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 100000\r\n\r\n")
        head = b"x" * 100000
    while time.monotonic() < deadline:
        try:
            if i < len(head):
                s.send(head[i:i + 1])
                i += 1
            data = s.recv(4096)
            if not data:
                print(f"closed_after={time.monotonic() - start:.1f}")
                s.close()
                return
            # An answer (408, say) counts as closing once EOF follows.
        except socket.timeout:
            continue
        except OSError:
            print(f"closed_after={time.monotonic() - start:.1f}")
            s.close()
            return
    print(f"open_after={time.monotonic() - start:.1f}")
    s.close()


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="mode", required=True)
    f = sub.add_parser("flood")
    f.add_argument("host")
    f.add_argument("port", type=int)
    f.add_argument("--connections", type=int, default=1000)
    f.add_argument("--seconds", type=float, default=10)
    f.add_argument("--ready")
    t = sub.add_parser("trickle")
    t.add_argument("host")
    t.add_argument("port", type=int)
    t.add_argument("--interval", type=float, default=1)
    t.add_argument("--seconds", type=float, default=10)
    t.add_argument("--body", action="store_true")
    args = parser.parse_args()
    if args.mode == "flood":
        flood(args)
    else:
        trickle(args)


if __name__ == "__main__":
    main()
