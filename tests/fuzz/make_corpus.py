#!/usr/bin/env python3
"""Regenerates the checked-in seed corpora in tests/fuzz/corpus/.

envelope/: [split byte][limit byte][length-prefixed messages...], see
envelope_fuzz.cpp. connect/: texts that the parsers in connect_fuzz.cpp
accept or almost accept.
"""
import gzip
import pathlib
import struct

ROOT = pathlib.Path(__file__).resolve().parent / "corpus"


def env(flags, payload):
    return struct.pack(">BI", flags, len(payload)) + payload


def write(folder, name, data):
    path = ROOT / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode())


NO_LIMIT = bytes([0xFF])  # 8 MiB
SMALL = bytes([0x20])     # 32 bytes

envelope = {
    "single": b"\x03" + NO_LIMIT + env(0, b"\x0a\x05hello"),
    "empty_message": b"\x00" + NO_LIMIT + env(0, b""),
    "connect_end_stream": b"\x07" + NO_LIMIT + env(0, b"\x08\x01") + env(2, b'{"metadata":{"x-a":["1"]}}'),
    "connect_end_error": b"\x09" + NO_LIMIT + env(2, b'{"error":{"code":"internal","message":"boom"}}'),
    "grpc_web_trailers": b"\x10" + NO_LIMIT + env(0, b"\x0a\x01x")
    + env(0x80, b"grpc-status: 0\r\ngrpc-message: \r\nx-trace: abc\r\n"),
    "grpc_web_bad_trailers": b"\x02" + NO_LIMIT + env(0x80, b"grpc-status 0\r\n:\r\nbad name: v"),
    "compressed": b"\x05" + NO_LIMIT + env(1, gzip.compress(b"hello " * 20, mtime=0)),
    "over_limit": b"\x01" + SMALL + env(0, b"x" * 33),
    "lying_length": b"\x02" + bytes([0xF4]) + b"\x00\x40\x00\x00\x00abc",
    "truncated_header": b"\x01" + NO_LIMIT + b"\x00\x00\x00",
    "truncated_payload": b"\x04" + NO_LIMIT + b"\x00\x00\x00\x00\x10short",
    "many": b"\x30" + NO_LIMIT + b"".join(env(i & 3, bytes([i]) * i) for i in range(20)),
}

connect = {
    "error_full": '{"code":"not_found","message":"user \\u00e9 \\ud83d\\ude00","details":[{"type":"t","value":"AA"}]}',
    "error_code_only": '{"code":"unavailable"}',
    "error_unknown_code": '{"code":"teapot","message":"m"}',
    "error_html": "<html><body>502 Bad Gateway</body></html>",
    "end_stream_full": '{"error":{"code":"aborted","message":"x"},"metadata":{"X-A":["1","2"],"b":[]}}',
    "end_stream_empty": "{}",
    "end_stream_nested": '{"future":[{"a":[1,-2.5e+3,true,false,null]}],"metadata":null,"error":null}',
    "get_proto": "connect=v1&encoding=proto&base64=1&message=CgVoZWxsbw",
    "get_json": "encoding=json&message=%7B%22name%22%3A%22Ada+L%22%7D&connect=v1",
    "get_compressed": "encoding=proto&base64=1&compression=gzip&message=H4sIAAAAAAAAA8tIzcnJBwCGphA2BQAAAA==",
    "timeout_ms": "1500",
    "timeout_grpc": "250m",
    "timeout_grpc_nanos": "99999999n",
    "grpc_message": "user%20%C3%A9%20not%20found%zz%",
    "content_type": "application/connect+json; charset=utf-8",
    "content_type_grpc": "application/grpc-web+proto",
}

for name, data in envelope.items():
    write("envelope", name, data)
for name, data in connect.items():
    write("connect", name, data)
write("connect", "gzip_hello", gzip.compress(b"hello, world", mtime=0))
write("connect", "gzip_bomb", gzip.compress(b"\0" * (1 << 20), mtime=0))
