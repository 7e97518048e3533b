#!/usr/bin/python3
"""Hostile HTTP/1.1 inputs against a server on loopback (issue 16, "what
held up"): each input goes on a connection of its own; the server must
answer it with the status the input calls for (or close the connection
where no answer is possible) within the timeout, and never with 2xx.
Prints one line per input ("ok   NAME: 400" / "FAIL NAME: ...") and exits 1
on any failure.

Usage: h1_hostile.py HOST PORT PATH
"""
import ipaddress
import socket
import sys

LONG = "a" * 70_000


def cases(path):
    # (name, raw bytes, acceptable statuses; "close" = connection closed with no answer)
    post = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    return [
        ("garbage line", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", {400, "close"}),
        ("no version", f"GET {path}\r\n\r\n".encode(), {400}),
        ("HTTP/2.0 in an h1 request line", f"GET {path} HTTP/2.0\r\nHost: x\r\n\r\n".encode(), {400, 505}),
        ("HTTP/9.9", f"GET {path} HTTP/9.9\r\nHost: x\r\n\r\n".encode(), {400, 505}),
        ("lowercase version", f"GET {path} http/1.1\r\nHost: x\r\n\r\n".encode(), {400}),
        ("two spaces", f"GET  {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode(), {400}),
        ("tab in request line", f"GET\t{path} HTTP/1.1\r\nHost: x\r\n\r\n".encode(), {400}),
        ("NUL in target", f"GET {path}\x00 HTTP/1.1\r\nHost: x\r\n\r\n".encode(), {400}),
        ("control char in target", f"GET {path}\x1b[2J HTTP/1.1\r\nHost: x\r\n\r\n".encode(), {400}),
        ("bare LF line endings", f"GET {path} HTTP/1.1\nHost: x\n\n".encode(), {400, 404, 405, 415}),
        ("bare CR", f"GET {path} HTTP/1.1\rHost: x\r\n\r\n".encode(), {400}),
        ("header without colon", f"GET {path} HTTP/1.1\r\nHost x\r\n\r\n".encode(), {400}),
        ("space before colon", f"GET {path} HTTP/1.1\r\nHost : x\r\n\r\n".encode(), {400}),
        ("obs-fold", f"GET {path} HTTP/1.1\r\nHost: x\r\nX-A: b\r\n c\r\n\r\n".encode(), {400}),
        ("NUL in header value", f"GET {path} HTTP/1.1\r\nHost: x\r\nX-A: b\x00c\r\n\r\n".encode(), {400}),
        ("DEL in header name", f"GET {path} HTTP/1.1\r\nHost: x\r\nX\x7fA: b\r\n\r\n".encode(), {400}),
        ("empty header name", f"GET {path} HTTP/1.1\r\nHost: x\r\n: b\r\n\r\n".encode(), {400}),
        ("huge request line", f"GET /{LONG} HTTP/1.1\r\nHost: x\r\n\r\n".encode(), {414, 431, 400}),
        ("huge header", f"GET {path} HTTP/1.1\r\nHost: x\r\nX-A: {LONG}\r\n\r\n".encode(), {431}),
        ("many headers", (f"GET {path} HTTP/1.1\r\nHost: x\r\n" + "X-A: b\r\n" * 10_000 + "\r\n").encode(), {431}),
        ("content-length negative", (post + "Content-Length: -1\r\n\r\n").encode(), {400}),
        ("content-length not a number", (post + "Content-Length: ten\r\n\r\n").encode(), {400}),
        ("content-length overflow", (post + "Content-Length: 99999999999999999999999\r\n\r\n").encode(), {400, 413}),
        ("content-length with sign", (post + "Content-Length: +2\r\n\r\n{}").encode(), {400}),
        ("content-length hex", (post + "Content-Length: 0x2\r\n\r\n{}").encode(), {400}),
        ("two different content-lengths", (post + "Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}").encode(), {400}),
        ("content-length list of different values", (post + "Content-Length: 2, 3\r\n\r\n{}").encode(), {400}),
        ("content-length and chunked", (post + "Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n").encode(), {400}),
        ("unknown transfer-encoding", (post + "Transfer-Encoding: gzip\r\n\r\n").encode(), {501, 400}),
        ("chunked twice", (post + "Transfer-Encoding: chunked, chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n").encode(), {400, 501}),
        ("transfer-encoding in HTTP/1.0", f"POST {path} HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{{}}\r\n0\r\n\r\n".encode(), {400, 501, 200, 415}),
        ("chunk size not hex", (post + "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n").encode(), {400}),
        ("chunk size overflow", (post + "Transfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\n").encode(), {400, 413}),
        ("chunk without CRLF", (post + "Transfer-Encoding: chunked\r\n\r\n2\r\n{}XX0\r\n\r\n").encode(), {400}),
        ("negative chunk size", (post + "Transfer-Encoding: chunked\r\n\r\n-2\r\n{}\r\n0\r\n\r\n").encode(), {400}),
        ("chunk extension flood", (post + "Transfer-Encoding: chunked\r\n\r\n2;" + "a=b;" * 20_000 + "\r\n{}\r\n0\r\n\r\n").encode(), {400, 413, 431}),
        ("trailer flood", (post + "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n" + "X-T: a\r\n" * 20_000 + "\r\n").encode(), {400, 431}),
        ("body over the limit", (post + "Content-Length: 1073741824\r\n\r\n").encode(), {413, 429}),  # 429: Connect resource_exhausted
        ("CONNECT", b"CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n", {400, 404, 405, 501}),  # never tunnelled
        ("absolute URI to elsewhere", f"GET http://127.0.0.2:1{path} HTTP/1.1\r\nHost: x\r\n\r\n".encode(), {400, 404, 405}),
        ("asterisk target with GET", b"GET * HTTP/1.1\r\nHost: x\r\n\r\n", {400, 404}),
        ("dot segments", b"GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", {400, 404}),
        ("unknown method", f"BREW {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode(), {400, 405, 501}),
        ("method with a NUL", f"GE\x00T {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode(), {400}),
        ("huge method", (("A" * 70_000) + f" {path} HTTP/1.1\r\nHost: x\r\n\r\n").encode(), {400, 414, 431, 501}),
        ("upgrade to websocket", f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n".encode(), {400, 404, 405, 415, 501}),
        ("h2c upgrade with bad settings", f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: !!!\r\n\r\n".encode(), {400, 404, 405, 415, 200}),  # the Upgrade ignored, never 101
        ("expect unknown", (post + "Expect: 200-ok\r\nContent-Length: 2\r\n\r\n{}").encode(), {417, 400, 200}),  # RFC 9110: 417 is a MAY
        ("h2 preface then garbage", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\xff\xff\xff\xff\xff\xff\xff\xff\xff", {"close", "h2 GOAWAY"}),
        ("only CRLFs", b"\r\n" * 5000, {400, "close"}),
        ("high-bit bytes in header name", f"GET {path} HTTP/1.1\r\nHost: x\r\n\xc3\xa9: b\r\n\r\n".encode("latin-1"), {400}),
    ]


def status_of(host, port, data):
    """The status of the server's first answer, "close" when it closes
    without one, "timeout" when it says nothing within 5 s."""
    with socket.create_connection((host, port), timeout=5) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # it may answer and close before taking everything
        reply = b""
        try:
            while (b"\r\n" not in reply or not reply.startswith(b"HTTP/")) and len(reply) < 4096:
                chunk = s.recv(4096)
                if not chunk:
                    break
                reply += chunk
        except socket.timeout:
            return "timeout"
        except ConnectionResetError:
            pass
    if not reply:
        return "close"
    if not reply.startswith(b"HTTP/"):  # HTTP/2 frames: look for a GOAWAY
        while len(reply) >= 9:
            length, kind = int.from_bytes(reply[:3], "big"), reply[3]
            if kind == 0x7:
                return "h2 GOAWAY"
            reply = reply[9 + length:]
    parts = reply.split(b"\r\n", 1)[0].split(b" ")
    if len(parts) >= 2 and parts[0].startswith(b"HTTP/1.") and parts[1].isdigit():
        return int(parts[1])
    return "not HTTP: %r" % reply[:40]


def main():
    host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    if not ipaddress.ip_address(host).is_loopback:
        sys.exit("h1_hostile.py: only loopback servers")
    failed = 0
    for name, data, want in cases(path):
        got = status_of(host, port, data)
        if got in want:
            print(f"ok   {name}: {got}")
        else:
            failed += 1
            print(f"FAIL {name}: got {got}, want one of {sorted(map(str, want))}")
    print(f"{len(cases(path)) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
