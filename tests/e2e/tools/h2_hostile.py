#!/usr/bin/python3
"""Hostile and bulk HTTP/2 (h2c, prior knowledge) clients for the e2e tests.

  h2_hostile.py zero-window HOST PORT PATH --connections C --streams S --seconds T
      Each connection advertises a zero stream window and never grants
      credit, opens S streams calling PATH (Connect unary JSON "{}"), and
      holds them for T seconds, reading whatever the server sends. Prints
      "opened=N refused=N reset=N" at the end.

  h2_hostile.py register HOST PORT COLONY_YAML --count N [--name-prefix P]
      Registers N agent peers (MeshService/Register, Connect JSON) over one
      connection, 64 streams at a time. The colony secret is read from
      COLONY_YAML (never from arguments). Prints "registered=N failed=N".

Every loop is bounded by a count or a deadline; sockets are closed on exit.
"""

import argparse
import base64
import json
import os
import socket
import sys
import time

import h2.config
import h2.connection
import h2.events
import h2.settings


def connect(host, port, window):
    sock = socket.create_connection((host, port), timeout=10)
    config = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
    conn = h2.connection.H2Connection(config=config)
    conn.local_settings = h2.settings.Settings(
        client=True,
        initial_values={
            h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: window,
            h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 1000,
        },
    )
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    return sock, conn


def headers(host, port, path, length):
    return [
        (":method", "POST"),
        (":scheme", "http"),
        (":authority", f"{host}:{port}"),
        (":path", path),
        ("content-type", "application/json"),
        ("content-length", str(length)),
    ]


def zero_window(args):
    conns = []
    for _ in range(args.connections):
        sock, conn = connect(args.host, args.port, 0)
        for _ in range(args.streams):
            sid = conn.get_next_available_stream_id()
            conn.send_headers(sid, headers(args.host, args.port, args.path, 2))
            conn.send_data(sid, b"{}", end_stream=True)
        sock.sendall(conn.data_to_send())
        sock.settimeout(0.2)
        conns.append((sock, conn))
    opened = args.connections * args.streams
    refused = reset = 0
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        for sock, conn in conns:
            try:
                data = sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                data = b""
            if not data:
                continue
            try:
                events = conn.receive_data(data)
            except Exception:  # a protocol error from the server ends the attack on it
                continue
            for event in events:
                if isinstance(event, h2.events.StreamReset):
                    if event.error_code == 7:  # REFUSED_STREAM
                        refused += 1
                    else:
                        reset += 1
            # No acknowledge_received_data(): the windows stay closed. Only
            # PING and SETTINGS acks go out.
            out = conn.data_to_send()
            if out:
                try:
                    sock.sendall(out)
                except OSError:
                    pass
    for sock, _ in conns:
        sock.close()
    print(f"opened={opened} refused={refused} reset={reset}")


def read_secret(path):
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("colony_secret:"):
                return line.split(":", 1)[1].strip().strip('"')
    sys.exit(f"no colony_secret in {path}")


def colony_id(path):
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("colony_id:"):
                return line.split(":", 1)[1].strip().strip('"')
    sys.exit(f"no colony_id in {path}")


def register(args):
    secret = read_secret(args.colony_yaml)
    cid = colony_id(args.colony_yaml)
    sock, conn = connect(args.host, args.port, 1 << 20)
    sock.settimeout(10)
    path = "/coral.mesh.v1.MeshService/Register"
    name = (args.name_prefix + "x" * 63)[:63]
    next_index = 0
    in_flight = {}
    ok = failed = 0
    statuses = {}
    deadline = time.monotonic() + args.seconds
    while (next_index < args.count or in_flight) and time.monotonic() < deadline:
        while next_index < args.count and len(in_flight) < 64:
            key = base64.b64encode(next_index.to_bytes(4, "big") + os.urandom(28)).decode()
            body = json.dumps({"colony_id": cid, "colony_secret": secret, "wireguard_pubkey": key,
                               "component_name": name, "kind": "PEER_KIND_AGENT"}).encode()
            sid = conn.get_next_available_stream_id()
            conn.send_headers(sid, headers(args.host, args.port, path, len(body)))
            conn.send_data(sid, body, end_stream=True)
            in_flight[sid] = True
            next_index += 1
        sock.sendall(conn.data_to_send())
        data = sock.recv(65536)
        if not data:
            break
        for event in conn.receive_data(data):
            if isinstance(event, h2.events.ResponseReceived):
                statuses[event.stream_id] = dict(event.headers).get(":status")
            elif isinstance(event, h2.events.DataReceived):
                conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                if statuses.pop(event.stream_id, None) == "200":
                    ok += 1
                else:
                    failed += 1
                in_flight.pop(event.stream_id, None)
            elif isinstance(event, h2.events.StreamReset):
                failed += 1
                in_flight.pop(event.stream_id, None)
        out = conn.data_to_send()
        if out:
            sock.sendall(out)
    sock.close()
    print(f"registered={ok} failed={failed + len(in_flight) + args.count - next_index}")


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="mode", required=True)
    z = sub.add_parser("zero-window")
    z.add_argument("host")
    z.add_argument("port", type=int)
    z.add_argument("path")
    z.add_argument("--connections", type=int, default=2)
    z.add_argument("--streams", type=int, default=256)
    z.add_argument("--seconds", type=float, default=10)
    r = sub.add_parser("register")
    r.add_argument("host")
    r.add_argument("port", type=int)
    r.add_argument("colony_yaml")
    r.add_argument("--count", type=int, default=1000)
    r.add_argument("--name-prefix", default="agent-")
    r.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    if args.mode == "zero-window":
        zero_window(args)
    else:
        register(args)


if __name__ == "__main__":
    main()
