#!/usr/bin/env python3
"""Regenerates the checked-in seed corpora in tests/fuzz/corpus/.

envelope/: [split byte][limit byte][length-prefixed messages...], see
envelope_fuzz.cpp. connect/: texts that the parsers in connect_fuzz.cpp
accept or almost accept. wg_message/: WireGuard messages of each type and
sizes around theirs. wg_conf/: configuration files, good and bad.
wg_uapi/: [limits byte][split byte][UAPI stream], see wg_uapi_fuzz.cpp.

wg_engine/ needs real handshakes, which this script cannot make: the
fuzzer writes it (WG_ENGINE_FUZZ_WRITE_SEEDS=tests/fuzz/corpus/wg_engine
build/fuzz/tests/fuzz/wg_engine_fuzz).
"""
import base64
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


# ---- WireGuard ----


def key(fill, clamp=False):
    raw = bytearray([fill]) * 32
    if clamp:
        raw[0] &= 248
        raw[31] = (raw[31] & 127) | 64
    return bytes(raw)


def b64(raw):
    return base64.b64encode(raw).decode()


def message(type_, size, fill):
    return bytes([type_, 0, 0, 0]) + bytes((fill + i) & 0xFF for i in range(size - 4))


wg_message = {
    "initiation": message(1, 148, 0x10),
    "response": message(2, 92, 0x20),
    "cookie_reply": message(3, 64, 0x30),
    "keepalive": message(4, 32, 0x40),
    "transport": message(4, 16 + 64 + 16, 0x50),
    "initiation_short": message(1, 147, 0x11),
    "initiation_long": message(1, 149, 0x12),
    "response_sized_initiation": message(1, 92, 0x13),
    "transport_short": message(4, 31, 0x41),
    "reserved_not_zero": bytes([1, 0, 1, 0]) + bytes(144),
    "type_5": message(5, 64, 0x60),
    "type_only": bytes([2, 0, 0, 0]),
    "three_bytes": bytes([1, 0, 0]),
}

PRIVATE_A = b64(key(0xA1, clamp=True))
PRIVATE_B = b64(key(0xB2, clamp=True))
PUBLIC_1 = b64(key(0x01))
PUBLIC_2 = b64(key(0x02))
PRESHARED = b64(key(0x5C))

wg_conf = {
    "full": f"""[Interface]
# a comment
PrivateKey = {PRIVATE_A}
ListenPort = 51820
Address = 10.42.0.1/16, fd42::1/64
Address = 10.43.0.1
MTU = 1380
FwMark = 0x2a
DNS = 10.42.0.53
PostUp = iptables -A FORWARD -i %i -j ACCEPT

[Peer]
PublicKey = {PUBLIC_1}
PresharedKey = {PRESHARED}
Endpoint = 192.0.2.1:51820
AllowedIPs = 10.42.0.2/32, fd42::2/128
AllowedIPs = 10.42.1.7/24
PersistentKeepalive = 25

[Peer]
PublicKey = {PUBLIC_2}
Endpoint = [2001:db8::1]:51821
AllowedIPs = 10.42.1.0/24, 0.0.0.0/0, ::/0
PersistentKeepalive = off
""",
    "minimal": f"[Interface]\nPrivateKey={PRIVATE_B}\n",
    "odd_spelling": f"""  [interface]  # trailing comment
\tprivatekey\t=\t{PRIVATE_B}   # a key
fwmark = off
listenport=0
[INTERFACE]
mtu=65535
[peer]
publickey = {PUBLIC_1}
allowedips = 10.42.0.2
endpoint = [::ffff:192.0.2.1]:1
""",
    "wg_quick_keys": f"""[Interface]
PrivateKey = {PRIVATE_A}
Table = off
PreUp = true
PostDown = true
PreDown = true
SaveConfig = true
""",
    "no_private_key": "[Interface]\nListenPort = 51820\n",
    "no_interface": f"[Peer]\nPublicKey = {PUBLIC_1}\n",
    "key_outside_section": f"PrivateKey = {PRIVATE_A}\n[Interface]\n",
    "duplicate_peer": f"[Interface]\nPrivateKey = {PRIVATE_A}\n[Peer]\nPublicKey = {PUBLIC_1}\n[Peer]\nPublicKey = {PUBLIC_1}\n",
    "shared_prefix": f"[Interface]\nPrivateKey = {PRIVATE_A}\n[Peer]\nPublicKey = {PUBLIC_1}\nAllowedIPs = 10.0.0.0/8\n"
    f"[Peer]\nPublicKey = {PUBLIC_2}\nAllowedIPs = 10.0.0.0/8\n",
    "peer_without_key": f"[Interface]\nPrivateKey = {PRIVATE_A}\n[Peer]\nAllowedIPs = 10.0.0.0/8\n",
    "host_name_endpoint": f"[Interface]\nPrivateKey = {PRIVATE_A}\n[Peer]\nPublicKey = {PUBLIC_1}\nEndpoint = vpn.example.com:51820\n",
    "misspelled_key": f"[Interface]\nPrivateKey = {PRIVATE_A}\n[Peer]\nPublicKey = {PUBLIC_1}\nAllowedIP = 10.0.0.0/8\n",
    "misplaced_key": f"[Interface]\nPrivateKey = {PRIVATE_A}\nPublicKey = {PUBLIC_1}\n",
    "pasted_key": f"[Interface]\nPrivateKey = {PRIVATE_A}\n{PRIVATE_B}\n",
    "broken_private_key": f"[Interface]\nPrivateKey = {PRIVATE_A[:-2]}\n",
    "unknown_section": "[Interfaces]\nPrivateKey = x\n",
    "header_run_on": f"[Peer]PublicKey={PUBLIC_1}\n",
    "bad_numbers": f"[Interface]\nPrivateKey = {PRIVATE_A}\nMTU = 1279\nListenPort = 65536\n",
    "bad_prefix": f"[Interface]\nPrivateKey = {PRIVATE_A}\n[Peer]\nPublicKey = {PUBLIC_1}\nAllowedIPs = 10.42.0.1/33,,fd42::/129\n",
    "bad_fwmark": f"[Interface]\nPrivateKey = {PRIVATE_A}\nFwMark = 0x1ffffffff\n",
}


def hexkey(raw):
    return raw.hex()


SMALL_LIMITS = bytes([0x9F])  # lines of 121 bytes, requests of 97
DEFAULT_LIMITS = bytes([0x00])
PRIVATE_HEX = hexkey(key(0xA1, clamp=True))
UNCLAMPED_HEX = hexkey(key(0xFF))
PUBLIC_1_HEX = hexkey(key(0x01))
PUBLIC_2_HEX = hexkey(key(0x02))
PRESHARED_HEX = hexkey(key(0x5C))
# RFC 7748, section 6.1: Alice's private key and its public key, so that a
# seed can name the device's own key as a peer.
ALICE_PRIVATE_HEX = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"
ALICE_PUBLIC_HEX = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"

set_full = f"""set=1
private_key={PRIVATE_HEX}
listen_port=51820
fwmark=42
replace_peers=true
public_key={PUBLIC_1_HEX}
protocol_version=1
preshared_key={PRESHARED_HEX}
endpoint=192.0.2.1:51820
persistent_keepalive_interval=25
replace_allowed_ips=true
allowed_ip=10.42.0.2/32
allowed_ip=fd42::2/128
allowed_ip=10.42.1.0/24
public_key={PUBLIC_2_HEX}
endpoint=[2001:db8::1]:51821
allowed_ip=10.42.1.0/24
allowed_ip=-10.42.9.0/24

"""

wg_uapi = {
    "get": DEFAULT_LIMITS + b"\x00" + b"get=1\n\n",
    "set_full": DEFAULT_LIMITS + b"\x07" + set_full.encode(),
    "set_then_get": DEFAULT_LIMITS + b"\x03" + set_full.encode() + b"get=1\n\n",
    "update_and_remove": DEFAULT_LIMITS + b"\x11" + (set_full + f"""set=1
public_key={PUBLIC_1_HEX}
update_only=true
allowed_ip=::/0
public_key={hexkey(key(0x03))}
update_only=true
endpoint=192.0.2.3:3
public_key={PUBLIC_2_HEX}
remove=true
preshared_key={'0' * 64}

get=1

""").encode(),
    "private_key_changes": DEFAULT_LIMITS + b"\x05" + f"""set=1
private_key={UNCLAMPED_HEX}
public_key={PUBLIC_1_HEX}
allowed_ip=0.0.0.0/0
private_key={'0' * 64}

""".encode(),
    "own_key_as_peer": DEFAULT_LIMITS + b"\x06" + f"""set=1
public_key={ALICE_PUBLIC_HEX}
allowed_ip=10.1.0.0/16
private_key={ALICE_PRIVATE_HEX}
public_key={ALICE_PUBLIC_HEX}
endpoint=192.0.2.9:9

get=1

""".encode(),
    "unknown_key": DEFAULT_LIMITS + b"\x02" + b"set=1\nlisten_port=1\nfrobnicate=1\n\n",
    "hex_as_key": DEFAULT_LIMITS + b"\x02" + f"set=1\n{PRIVATE_HEX}=\n\n".encode(),
    "peer_key_first": DEFAULT_LIMITS + b"\x02" + b"set=1\nendpoint=192.0.2.1:1\n\n",
    "device_key_late": DEFAULT_LIMITS + b"\x02" + f"set=1\npublic_key={PUBLIC_1_HEX}\nlisten_port=2\n\n".encode(),
    "malformed_line": DEFAULT_LIMITS + b"\x02" + f"set=1\n{PRESHARED_HEX}\n\n".encode(),
    "bad_values": DEFAULT_LIMITS + b"\x01" + f"""set=1
public_key={PUBLIC_1_HEX}
endpoint=[fe80::1%eth0]:51820
persistent_keepalive_interval=65536
allowed_ip=10.0.0.1
protocol_version=2

""".encode(),
    "unknown_operation": DEFAULT_LIMITS + b"\x01" + b"put=1\n\n",
    "get_not_terminated": DEFAULT_LIMITS + b"\x01" + b"get=1\nget=1\n\n",
    "line_too_long": SMALL_LIMITS + b"\x09" + b"set=1\nendpoint=" + b"1" * 200 + b"\n\n",
    "request_too_long": SMALL_LIMITS + b"\x04" + b"set=1\n" + b"fwmark=1\n" * 12 + b"\n",
    "partial": DEFAULT_LIMITS + b"\x01" + b"set=1\nlisten_port=1",
}

for name, data in wg_message.items():
    write("wg_message", name, data)
for name, data in wg_conf.items():
    write("wg_conf", name, data)
for name, data in wg_uapi.items():
    write("wg_uapi", name, data)
