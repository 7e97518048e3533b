#!/usr/bin/env python3
"""Regenerates the checked-in seed corpora in tests/fuzz/corpus/.

envelope/: [split byte][limit byte][length-prefixed messages...], see
envelope_fuzz.cpp. connect/: texts that the parsers in connect_fuzz.cpp
accept or almost accept. wg_message/: WireGuard messages of each type and
sizes around theirs. wg_conf/: configuration files, good and bad.
wg_uapi/: [limits byte][split byte][UAPI stream], see wg_uapi_fuzz.cpp.
pid_file/, proxy_state/, colony_config/: file contents, good and bad.
proto_json/: [selector][body], see proto_json_fuzz.cpp. http1_server/,
http1_client/: [flags][split seed][bytes]; h2_server/, h2_client/:
[flags][frame ops], see http_fuzz_support.h. Two HTTP/2 seeds are recorded
with python3-h2's encoder: run this script with /usr/bin/python3.

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
Address = 127.42.0.1/16, fdc0:42::1/64
Address = 10.43.0.1
MTU = 1380
FwMark = 0x2a
DNS = 127.42.0.53
PostUp = iptables -A FORWARD -i %i -j ACCEPT

[Peer]
PublicKey = {PUBLIC_1}
PresharedKey = {PRESHARED}
Endpoint = 192.0.2.1:51820
AllowedIPs = 127.42.0.2/32, fdc0:42::2/128
AllowedIPs = 127.42.1.7/24
PersistentKeepalive = 25

[Peer]
PublicKey = {PUBLIC_2}
Endpoint = [2001:db8::1]:51821
AllowedIPs = 127.42.1.0/24, 0.0.0.0/0, ::/0
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
allowedips = 127.42.0.2
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
    "bad_prefix": f"[Interface]\nPrivateKey = {PRIVATE_A}\n[Peer]\nPublicKey = {PUBLIC_1}\nAllowedIPs = 127.42.0.1/33,,fdc0:42::/129\n",
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
allowed_ip=127.42.0.2/32
allowed_ip=fdc0:42::2/128
allowed_ip=127.42.1.0/24
public_key={PUBLIC_2_HEX}
endpoint=[2001:db8::1]:51821
allowed_ip=127.42.1.0/24
allowed_ip=-127.42.9.0/24

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


# ---- PID files, proxy state, colony file, protobuf bodies ----

pid_file = {
    "pid": "12345\n",
    "pid_no_newline": "4242",
    "max": "2147483647\n",
    "over_max": "2147483648\n",
    "minus_one": "-1\n",
    "zero": "0\n",
    "one": "1\n",
    "two": "2\n",
    "empty": "",
    "newline": "\n",
    "junk": "12abc\n",
    "spaces": " 123 \n",
    "plus": "+123\n",
    "leading_zero": "0123\n",
    "two_newlines": "123\n\n",
    "crlf": "123\r\n",
}

PROXY_STATE = """colony_id: my-shop-production-a3f2e1
listen: localhost:8000
colony_mesh_ipv4: 127.42.0.1
colony_mesh_ipv6: fdc0:42::1
colony_connect_port: 9000
forwarding_to: 127.42.0.1:9000
mesh_ipv4: 127.42.0.15
mesh_ipv6: fdc0:42::f
transport: host
status: connected
pid: 12345
started_at: 2026-11-24T23:24:28Z
"""

proxy_state = {
    "full": PROXY_STATE,
    "minimal": "colony_id: a\nlisten: 127.0.0.1:1\n",
    "no_listen": "colony_id: a\n",
    "pid_negative": PROXY_STATE.replace("pid: 12345", "pid: -1"),
    "pid_text": PROXY_STATE.replace("pid: 12345", "pid: abc"),
    "port_too_big": PROXY_STATE.replace("colony_connect_port: 9000", "colony_connect_port: 70000"),
    "list_value": PROXY_STATE.replace("listen: localhost:8000", "listen: [a, b]"),
    "quoted": 'colony_id: "a\\x01b"\nlisten: \'[::1]:8000\'\nstatus: !!str 12\n',
    "flow": "{colony_id: x, listen: 'localhost:1', pid: 7}\n",
    "not_a_map": "- a\n- b\n",
    "anchors": "a: &x localhost:1\ncolony_id: *x\nlisten: *x\n",
    "bad_yaml": "colony_id: [\n",
}

COLONY = """# coral colony config (RFD 005). Holds secrets (wireguard.private_key,
# colony_secret): keep it mode 0600. See docs/configuration.md.
colony_id: my-shop-production-a3f2e1
app_name: my-shop
environment: production

wireguard:
    private_key: cFSI0co/r3XHm3ObLQlVZF0+mMN05F+QyymspC9pd3I=
    public_key: 8rhmHSFo4QXcfXRO2PfDYqrqf73D99jeY0mB99nyQxE=
    mesh_ipv4: 127.42.0.1
    mesh_ipv6: fd1d:d124:af1d::1
    listen_port: 41820
    mesh_network_ipv4: 127.42.0.0/16
    mesh_network_ipv6: fd1d:d124:af1d::/64

services:
    connect_port: 9000
    dashboard_port: 3000

discovery:
    endpoint: http://localhost:8080
    mesh_id: my-shop-production-a3f2e1
    register_interval: 60s
    auto_register: true

colony_secret: MrsbG3Ihsb82sNf6jzRIJtKw1jWXZh6m8F8rSuzOKCs
"""
SECRET_LINE = "colony_secret: MrsbG3Ihsb82sNf6jzRIJtKw1jWXZh6m8F8rSuzOKCs"

colony_config = {
    "example": COLONY,
    "secret_no_space": COLONY.replace(SECRET_LINE, SECRET_LINE.replace(": ", ":")),
    "secret_indented": COLONY.replace(SECRET_LINE, "  " + SECRET_LINE),
    "secret_short": COLONY.replace(SECRET_LINE, "colony_secret: short"),
    "secret_bad_char": COLONY.replace(SECRET_LINE, SECRET_LINE + "!"),
    "secret_list": COLONY.replace(SECRET_LINE, "colony_secret: [" + SECRET_LINE[15:] + "]"),
    "secret_twice": COLONY + SECRET_LINE + "\n",
    "private_key_no_space": COLONY.replace("private_key: ", "private_key:"),
    "private_key_bad": COLONY.replace("cFSI0co/r3XHm3ObLQlVZF0+", "cFSI0co/r3XHm3ObLQlVZF0!"),
    "key_mismatch": COLONY.replace("8rhmHSFo", "9rhmHSFo"),
    "typo_field": COLONY.replace("connect_port", "conect_port"),
    "bad_ip": COLONY.replace("mesh_ipv4: 127.42.0.1", "mesh_ipv4: 127.42.0"),
    "ip_outside": COLONY.replace("mesh_ipv4: 127.42.0.1", "mesh_ipv4: 10.43.0.1"),
    "bad_interval": COLONY.replace("60s", "60 parsecs"),
    "bad_endpoint": COLONY.replace("http://localhost:8080", "ftp://x"),
    "tabs": COLONY.replace("    ", "\t"),
    "flow": "{colony_id: a, app_name: b, environment: c, wireguard: {}, services: {}, discovery: {}}\n",
    "empty": "",
    "not_a_map": "- 1\n",
    "bad_yaml": "wireguard:\n  - [\n",
}

MEMBER = """\
# coral member file
kind: member
colony_id: my-shop-production-a3f2e1
app_name: my-shop
environment: production

wireguard:
    public_key: 8rhmHSFo4QXcfXRO2PfDYqrqf73D99jeY0mB99nyQxE=
    mesh_ipv4: 127.42.0.1
    mesh_ipv6: "fdc0:42::1"
    mesh_network_ipv4: 127.42.0.0/16
    mesh_network_ipv6: "fdc0:42::/64"
    public_endpoints:
        - 203.0.113.7:41820
        - "[2001:db8::7]:41820"

services:
    connect_port: 9000

discovery:
    endpoint: http://localhost:8080
    mesh_id: my-shop-production-a3f2e1

colony_secret: MrsbG3Ihsb82sNf6jzRIJtKw1jWXZh6m8F8rSuzOKCs
"""

member_config = {
    "example": MEMBER,
    "no_endpoints": MEMBER.replace('        - 203.0.113.7:41820\n        - "[2001:db8::7]:41820"\n', "").replace(
        "public_endpoints:", "public_endpoints: []"),
    "secret_no_space": MEMBER.replace(SECRET_LINE, SECRET_LINE.replace(": ", ":")),
    "secret_indented": MEMBER.replace(SECRET_LINE, "  " + SECRET_LINE),
    "secret_short": MEMBER.replace(SECRET_LINE, "colony_secret: short"),
    "wrong_kind": MEMBER.replace("kind: member", "kind: colony"),
    "zero_key": MEMBER.replace("8rhmHSFo4QXcfXRO2PfDYqrqf73D99jeY0mB99nyQxE=", "A" * 43 + "="),
    "bad_endpoint": MEMBER.replace("203.0.113.7:41820", "203.0.113.7"),
    "ip_outside": MEMBER.replace("mesh_ipv4: 127.42.0.1", "mesh_ipv4: 10.43.0.1"),
    "colony_file": COLONY,
    "flow": "{kind: member, colony_id: a, wireguard: {}, services: {}, discovery: {}}\n",
    "empty": "",
}

# proto_json: [selector][body]; selector % 16 = message type (see
# proto_json_fuzz.cpp), & 0x80 = binary.
proto_json = {
    "register_colony": (0, '{"meshId":"my-app-prod","wireguardPubkey":"8rhmHSFo4QXcfXRO2PfDYqrqf73D99jeY0mB99nyQxE=",'
                           '"publicEndpoints":["192.0.2.1:41820"],"meshIpv4":"127.42.0.1","meshIpv6":"fdc0:42::1",'
                           '"connectPort":9000,"metadata":{"region":"eu"}}'),
    "register_colony_snake": (0, '{"mesh_id":"x","connect_port":"9000","unknown":{"a":[1,2]}}'),
    "lookup": (1, '{"meshId":"my-app-prod"}'),
    "lookup_response": (2, '{"wireguardPubkey":"AAAA","public_endpoints":["a:1"],"connectPort":9000,"lastSeen":"2026-11-24T23:24:28Z"}'),
    "register_colony_response": (3, '{"success":true,"ttl":300,"expiresAt":"2026-11-24T23:24:28.123456789Z"}'),
    "health_response": (4, '{"status":"ok","uptimeSeconds":"12","registeredColonies":3}'),
    "mesh_register": (5, '{"colonyId":"c","componentName":"coral-proxy","wireguardPubkey":"AAAA",'
                         '"colonySecret":"s","metadata":{"k":"v"}}'),
    "mesh_register_response": (6, '{"meshIpv4":"127.42.0.2","meshIpv6":"fdc0:42::2","meshNetworkIpv4":"127.42.0.0/16",'
                                  '"colonyConnectPort":9000,"peerId":"p"}'),
    "heartbeat": (7, '{"peerId":"a","wireguardPubkey":"k","status":"healthy"}'),
    "heartbeat_response": (8, '{"nextHeartbeatBefore":"2026-11-24T23:24:28Z","heartbeatIntervalSeconds":30}'),
    "unregister": (9, '{"agentId":"a"}'),
    "status_response": (10, '{"colonyId":"c","status":"running","uptimeSeconds":"5","agentCount":1}'),
    "agents": (11, '{"agents":[{"agentId":"a","componentName":"api","meshIpv4":"127.42.0.2","lastSeen":'
                   '"2026-01-01T00:00:00Z"}]}'),
    "topology": (12, '{"colonyId":"c","agents":[],"connections":[{"sourceId":"a","targetId":"b"}]}'),
    "ask": (13, '{"question":"why is it slow? \\u00e9\\ud83d\\ude00"}'),
    "ask_response": (14, '{"answer":"x"}'),
    "empty_message": (15, "{}"),
    "null_fields": (0, '{"meshId":null,"endpoints":null,"metadata":null}'),
    "wrong_types": (0, '{"meshId":1,"connectPort":"x","endpoints":"a"}'),
    "big_number": (0, '{"connectPort":1e400}'),
    "negative": (0, '{"connectPort":-1}'),
    "deep": (0, '{"a":' * 50 + "1" + "}" * 50),
    "truncated": (0, '{"meshId":"'),
    "binary_register": (0x85, bytes([0x0A, 0x03]) + b"abc" + bytes([0x12, 0x01]) + b"x"),
    "binary_bad": (0x80, bytes([0xFF, 0xFF, 0xFF])),
}

for name, data in pid_file.items():
    write("pid_file", name, data)
for name, data in proxy_state.items():
    write("proxy_state", name, data)
for name, data in colony_config.items():
    write("colony_config", name, data)
for name, data in member_config.items():
    write("member_config", name, data)
for name, (selector, body) in proto_json.items():
    write("proto_json", name, bytes([selector]) + (body if isinstance(body, bytes) else body.encode()))


# ---- HTTP codecs ----
# http1_server/ and http1_client/: [flags][split seed][bytes], see
# http1_server_fuzz.cpp and http1_client_fuzz.cpp. The server's answer to a
# request depends on its path (http_fuzz_support.h), so the paths vary.

# One path per answer: 5, 0, 2, 5, 1, 6, 4, 7, 3 (sum of bytes % 8).
PATHS = ["/coral.colony.v1.ColonyService/GetStatus", "/a", "/ab", "/abc", "/abcd", "/abcde", "/abcdef", "/x/y", "/abi"]


def post(path, body, extra=""):
    return (f"POST {path} HTTP/1.1\r\nHost: localhost:8000\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{extra}\r\n{body}")


def chunked(path, pieces, trailers=""):
    out = f"POST {path} HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Type: application/grpc-web\r\n\r\n"
    for piece in pieces:
        out += f"{len(piece):x}\r\n{piece}\r\n"
    return out + "0\r\n" + trailers + "\r\n"


http1_server = {
    "get": (0x00, 0x03, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"),
    "connect_unary": (0x00, 0x05, post(PATHS[0], '{"x":1}', "Connect-Protocol-Version: 1\r\n")),
    "chunked_trailers": (0x00, 0x02, chunked("/ab", ["hello", "world!"], "x-t: 1\r\n")),
    "pipelined": (0x04, 0x07, "".join(post(p, "{}") for p in PATHS)),
    "pipelined_get": (0x00, 0x01, "".join(f"GET {p} HTTP/1.1\r\nHost: h\r\n\r\n" for p in PATHS)),
    "upgrade_h2c": (0x00, 0x06, "GET /abc HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                                "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n"
                                "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00"),
    "upgrade_with_body": (0x00, 0x04, post("/abcd", "body!", "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
                                                          "HTTP2-Settings: \r\n")),
    "expect_continue": (0x00, 0x08, post("/abcde", "0123456789", "Expect: 100-continue\r\n")),
    "keep_alive_close": (0x02, 0x03, "GET /a HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\nGET /b HTTP/1.1\r\n\r\n"),
    "http10": (0x00, 0x02, "GET /abcdef HTTP/1.0\r\n\r\n"),
    "big_header": (0x01, 0x0b, "GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + "a" * 2000 + "\r\n\r\n"),
    "duplicate_content_length": (0x00, 0x04, "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n"
                                             "Content-Length: 2\r\n\r\n{}"),
    "conflicting_length": (0x00, 0x04, "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n"
                                       "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"),
    "bad_chunk": (0x00, 0x03, "POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
    "absolute_uri": (0x00, 0x02, "GET http://evil.example/../x HTTP/1.1\r\nHost: h\r\n\r\n"),
    "connect_method": (0x00, 0x02, "CONNECT 127.42.0.1:9000 HTTP/1.1\r\nHost: 127.42.0.1:9000\r\n\r\n"),
    "options_star": (0x00, 0x02, "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n"),
    "bare_lf": (0x00, 0x01, "GET / HTTP/1.1\nHost: h\n\n"),
    "obs_fold": (0x00, 0x01, "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n"),
    "half_sent": (0x02, 0x09, post("/abc", "0123456789")[:-4]),
    "large_body": (0x04, 0x0b, post("/abcdef", "z" * 3000)),
    "large_response": (0x00, 0x0a, post("/abi", "{}") + "GET /abi HTTP/1.1\r\nHost: h\r\n\r\n"),
    "garbage": (0x00, 0x00, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
}

http1_client = {
    "ok": (0x01, 0x03, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"),
    "chunked_trailers": (0x02, 0x02, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n"
                                     "grpc-status: 0\r\n\r\n"),
    "two_responses": (0x09, 0x04, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na"
                                  "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"),
    "no_content": (0x00, 0x01, "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
    "head": (0x03, 0x01, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"),
    "not_modified": (0x00, 0x02, "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n"),
    "close_delimited": (0x00, 0x05, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nbody until close"),
    "continue": (0x02, 0x03, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
    "early_error": (0x06, 0x02, "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
    "switching": (0x00, 0x01, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n"),
    "bad_status": (0x00, 0x01, "HTTP/1.1 2000 OK\r\n\r\n"),
    "bad_version": (0x00, 0x01, "HTTP/9.9 200 OK\r\nContent-Length: 0\r\n\r\n"),
    "huge_length": (0x00, 0x06, "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\nx"),
    "bad_chunk": (0x00, 0x02, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n"),
    "grpc_web": (0x01, 0x07, "HTTP/1.1 200 OK\r\nContent-Type: application/grpc-web+proto\r\nTransfer-Encoding: chunked"
                             "\r\n\r\n7\r\n\x00\x00\x00\x00\x02\x08\x01\r\n14\r\n\x80\x00\x00\x00\x0fgrpc-status:0\r\n\r\n"
                             "0\r\n\r\n"),
}

for name, (flags, seed, text) in http1_server.items():
    write("http1_server", name, bytes([flags, seed]) + text.encode("latin-1"))
for name, (flags, seed, text) in http1_client.items():
    write("http1_client", name, bytes([flags, seed]) + text.encode("latin-1"))

# h2_server/ and h2_client/: [flags][ops...], see http_fuzz_support.h
# (FrameWriter). Frame ops: [type][flags][stream][length][payload]; header
# block ops: [10][flags][stream][count][fields...]; raw: [0x1b][length:2][bytes];
# 13-15: the application's turn (server), or start/send/reset (client).
END_STREAM, END_HEADERS, PADDED, PRIORITY = 0x1, 0x4, 0x8, 0x20


def op_frame(type_, flags, stream, payload=b""):
    if len(payload) < 256:
        return bytes([type_, flags, stream, len(payload)]) + payload
    return bytes([type_ | 0x10, flags, stream, len(payload) >> 8, len(payload) & 0xFF]) + payload


def op_headers(flags, stream, fields=()):
    # fields: (name index, value, replace) with indexes into FrameWriter's kNames.
    out = bytes([10, flags, stream, len(fields)])
    for index, value, replace in fields:
        out += bytes([index | (0x80 if replace else 0), len(value)]) + value
    return out


def op_raw(data):
    return bytes([0x1B, len(data) >> 8, len(data) & 0xFF]) + data


def envelope(payload):
    return struct.pack(">BI", 0, len(payload)) + payload


TICK = bytes([13])
PATH, CONTENT_TYPE, TE, GRPC_TIMEOUT, STATUS, GRPC_STATUS = 1, 5, 7, 8, 2, 11

h2_server = {
    "get_end": bytes([0]) + op_headers(END_STREAM, 1) + TICK * 3,
    "unary_grpc": bytes([0]) + op_headers(0, 1, [(CONTENT_TYPE, b"application/grpc", False), (TE, b"trailers", False)])
    + op_frame(0, END_STREAM, 1, envelope(b"\x0a\x01x")) + TICK * 4,
    "streams_paths": bytes([0]) + b"".join(
        op_headers(0, 2 * i + 1, [(PATH, p.encode(), True)]) + op_frame(0, END_STREAM, 2 * i + 1, b"{}")
        for i, p in enumerate(PATHS)) + TICK * 10,
    "continuation": bytes([2]) + op_headers(0x40 | END_STREAM, 1, [(GRPC_TIMEOUT, b"100m", False)]) + TICK,
    "window_zero": bytes([0]) + op_frame(4, 0, 0, struct.pack(">HI", 4, 0))
    + op_headers(END_STREAM, 1, [(PATH, b"/abi", True)]) + TICK * 8
    + op_frame(8, 0, 1, struct.pack(">I", 65535)) + TICK * 4,
    "rst_and_ping": bytes([0]) + op_headers(0, 1) + op_frame(3, 0, 1, struct.pack(">I", 8))
    + op_frame(6, 0, 0, b"12345678") + op_frame(6, 1, 0, b"abcdefgh"),
    "priority_padded": bytes([0]) + op_headers(PRIORITY, 1) + op_frame(2, 0, 3, b"\x00\x00\x00\x01\x10")
    + op_frame(0, PADDED | END_STREAM, 1, b"\x03ab\x00\x00\x00"),
    "goaway": bytes([4]) + op_headers(0, 1) + op_frame(7, 0, 0, struct.pack(">II", 1, 0)) + TICK,
    "settings_table": bytes([1]) + op_frame(4, 0, 0, struct.pack(">HIHIHI", 1, 0, 3, 1, 6, 100))
    + op_headers(END_STREAM, 1) + op_frame(4, 1, 0),
    "push_promise": bytes([0]) + op_frame(5, END_HEADERS, 1, b"\x00\x00\x00\x02\x82"),
    "even_stream": bytes([0]) + op_headers(END_STREAM, 2),
    "data_idle": bytes([0]) + op_frame(0, 0, 5, b"data on an idle stream"),
    "unknown_frame": bytes([0]) + bytes([0xEC, 0, 0, 3]) + b"xyz" + op_headers(END_STREAM, 1),
    "bad_fields": bytes([0]) + op_headers(END_STREAM, 1, [(13, b"keep-alive", False), (20, b"x", False),
                                                          (21, b"", False), (6, b"-1", False)]),
    "content_length_mismatch": bytes([0]) + op_headers(0, 1, [(6, b"10", False)]) + op_frame(0, END_STREAM, 1, b"abc"),
}

h2_client = {
    "ok": bytes([0]) + op_headers(0, 1, [(CONTENT_TYPE, b"application/grpc", False)])
    + op_frame(0, 0, 1, envelope(b"\x08\x01")) + op_headers(END_STREAM, 1, [(GRPC_STATUS, b"0", False)]),
    "trailers_only": bytes([0]) + op_headers(END_STREAM, 1, [(GRPC_STATUS, b"14", False)])
    + op_headers(END_STREAM, 3, [(STATUS, b"503", True)]),
    "bodies": bytes([2]) + bytes([14, 0, 14, 1]) + op_headers(0, 1) + op_frame(0, END_STREAM, 1, b"abc")
    + op_headers(END_STREAM, 3),
    "reset_by_us": bytes([0]) + bytes([15, 0]) + op_headers(END_STREAM, 3),
    "reset_by_server": bytes([0]) + op_frame(3, 0, 1, struct.pack(">I", 2)) + op_frame(3, 0, 3, struct.pack(">I", 7)),
    "goaway": bytes([0]) + op_headers(0, 1) + op_frame(7, 0, 0, struct.pack(">II", 1, 2)) + bytes([13]),
    "settings_ping": bytes([1]) + op_frame(4, 0, 0, struct.pack(">HI", 3, 1)) + op_frame(6, 0, 0, b"pingpong")
    + bytes([13, 13, 0x1D]) + op_frame(4, 1, 0),
    "continuation": bytes([0]) + op_headers(0x40, 1, [(18, b"v" * 50, False)]) + op_frame(0, END_STREAM, 1, b""),
    "window": bytes([2]) + op_frame(8, 0, 0, struct.pack(">I", 1 << 20)) + op_frame(8, 0, 1, struct.pack(">I", 0))
    + bytes([14, 0]),
    "bad_status": bytes([0]) + op_headers(END_STREAM, 1, [(STATUS, b"99", True)]) + op_headers(END_STREAM, 3, [(STATUS, b"", True)]),
    "informational": bytes([0]) + op_headers(0, 1, [(STATUS, b"100", True)]) + op_headers(END_STREAM, 1),
    "push_promise": bytes([0]) + op_frame(5, END_HEADERS, 1, b"\x00\x00\x00\x02\x82\x86\x84"),
    "data_before_headers": bytes([0]) + op_frame(0, END_STREAM, 1, b"early"),
    "many_streams": bytes([0]) + bytes([13]) * 20 + b"".join(op_headers(END_STREAM, 2 * i + 1) for i in range(16)),
}

# Recorded with python3-h2's encoder: a whole client connection (preface
# included; the fuzzer adds another, which a server refuses: a seed for the
# error paths) and a server's answer, as raw ops.
try:
    import h2.config
    import h2.connection

    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    client.initiate_connection()
    client.send_headers(1, [(":method", "POST"), (":scheme", "http"), (":authority", "localhost:8000"),
                            (":path", "/coral.mesh.v1.MeshService/Register"), ("content-type", "application/grpc"),
                            ("te", "trailers"), ("grpc-timeout", "5S")])
    client.send_data(1, envelope(b"\x0a\x03abc"), end_stream=True)
    client.increment_flow_control_window(1 << 20)
    recorded_client = client.data_to_send()
    h2_server["recorded_h2_client"] = bytes([1]) + op_raw(recorded_client[24:]) + TICK * 4
    h2_server["recorded_with_preface"] = bytes([1]) + op_raw(recorded_client)

    server = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    server.initiate_connection()
    server.receive_data(recorded_client)
    server.send_headers(1, [(":status", "200"), ("content-type", "application/grpc")])
    server.send_data(1, envelope(b"\x0a\x02127.42.0.2"))
    server.send_headers(1, [("grpc-status", "0"), ("grpc-message", "")], end_stream=True)
    h2_client["recorded_h2_server"] = bytes([1]) + op_raw(server.data_to_send())
except ImportError:
    print("python3-h2 is missing: the recorded HTTP/2 seeds were not written (use /usr/bin/python3)")

for name, data in h2_server.items():
    write("h2_server", name, data)
for name, data in h2_client.items():
    write("h2_client", name, data)
