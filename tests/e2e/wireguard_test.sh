#!/usr/bin/env bash
# Interop tests of coral's userspace WireGuard (`coral wg up FILE.conf
# --interface NAME`) against Debian's wireguard-go + wireguard-tools, and
# against itself: two network namespaces made here, joined by a veth, one
# peer in each (see wg_lib.sh). For each pair coral↔wireguard-go,
# coral↔coral and wireguard-go↔wireguard-go (the harness's own sanity case):
#   1. fresh start, A sends first: handshake, ping both ways over the IPv4
#      and IPv6 mesh addresses, iperf3 TCP 2 s (IPv4 A→B, IPv6 B→A), `wg
#      show` of side A (keys, port, peer, endpoint, allowed ips, handshake,
#      transfer), `wg set ... persistent-keepalive 5`;
#   2. fresh start with a preshared key, B sends first: handshake, pings;
#      recovery: each side in turn stopped with SIGTERM and restarted,
#      traffic resumes; bad input to A's port (random, truncated, mac1-valid
#      initiations, a garbage burst, replayed and tampered transport packets
#      from another port): A keeps working and does not roam;
#   3. fresh start with CORAL_WG_REKEY_AFTER_SECONDS=3 on coral sides:
#      rekey while pinging every 0.2 s for 8 s (A = coral); roaming: B's veth
#      address moves to 192.168.251.3 and back, A follows.
# Every SIGTERM of a coral side must end it with status 0 and remove its
# interface and UAPI socket. Once: config errors (the line is named), the
# missing-CAP_NET_ADMIN message, the default interface name, genkey/pubkey.
#
# Usage: tests/e2e/wireguard_test.sh [CORAL | BUILD_DIR]
#        (or env CORAL_BIN; default build/release)
# Prints "ok   NAME" or "FAIL NAME: WHY" per check, then "N passed, M
# failed". Exits 1 on any failure; 77 (skipped) when not root, when
# wireguard-go, wg, iperf3, ping, python3 or /dev/net/tun is missing, or when
# coral cases were skipped (only with CORAL_WG_ALLOW_MISSING=1); else 0.
# Env: CORAL_WG_ALLOW_MISSING=1: a coral without `coral wg up` skips the coral
#      cases instead of failing them; WG_PAIRS (default "coral:wggo
#      coral:coral wggo:wggo", sides A:B); E2E_KEEP=1 keeps the work directory.
#
# Network: traffic only inside the two namespaces (cwgA<pid>, cwgB<pid>),
# deleted on exit however the script ends; they have no default route. Every
# process is stopped by its PID from the EXIT trap; every wait is bounded.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$here/lib.sh"
# shellcheck source=tests/e2e/wg_lib.sh
. "$here/wg_lib.sh"

# `coral wg up` is part of coral: its absence is a failure, unless allowed.
require_coral=1
[[ ${CORAL_WG_ALLOW_MISSING:-0} == 1 ]] && require_coral=0

CORAL=${CORAL_BIN:-}
arg=${1:-$root/build/release}
if [[ -z $CORAL ]]; then
  if [[ -d $arg ]]; then CORAL=$arg/apps/coral; else CORAL=$arg; fi
fi
if [[ ! -x $CORAL ]]; then
  echo "FAIL setup: $CORAL is not an executable (build it: scripts/build release coral)"
  echo "0 passed, 1 failed"
  exit 1
fi
CORAL=$(readlink -f "$CORAL")
if ((EUID != 0)); then
  echo "SKIP: needs root (network namespaces, TUN devices)"
  exit 77
fi
for tool in wireguard-go wg iperf3 ping python3 jq ip; do
  if ! command -v "$tool" >/dev/null; then
    echo "SKIP: $tool is not installed (scripts/setup --test installs it)"
    exit 77
  fi
done
if [[ ! -c /dev/net/tun ]]; then
  echo "SKIP: no /dev/net/tun"
  exit 77
fi

T0=$SECONDS
umask 077
e2e_init
wg_cleanup_all() {
  local status=$?
  wg_cleanup
  [[ -n ${NOBODY_DIR:-} ]] && rm -rf "$NOBODY_DIR"
  (exit "$status")
  e2e_cleanup
}
trap wg_cleanup_all EXIT

HAVE_CORAL=0
wg_has_coral "$CORAL" && HAVE_CORAL=1
wg_init "$E2E_WORK" cwg "$CORAL" || { e2e_fail setup "wg genkey failed"; e2e_summary; exit 1; }
wg_net_up || { e2e_fail "setup: namespaces ${WG_NS[A]}, ${WG_NS[B]} and veth" "$WG_WHY"; e2e_summary; exit 1; }
wg_bg iperf3-server B iperf3 -s -p 5201
iperf_listens() { wg_in B ss -Hltn 'sport = :5201' 2>/dev/null | grep -q .; }
e2e_wait 5 iperf_listens || { e2e_fail "setup: iperf3 -s in ${WG_NS[B]}" "not listening on 5201"; e2e_summary; exit 1; }
echo "# namespaces ${WG_NS[A]} (${WG_VIP[A]}) and ${WG_NS[B]} (${WG_VIP[B]}); coral: $CORAL$( ((HAVE_CORAL)) || echo " (no 'coral wg up')")"

# ------------------------------------------------------------------ helpers
# Checks collect what went wrong in $why (w WHY adds one reason) and report
# it with chk; they run in this shell, not in $(...), because they start and
# stop processes and set figures (FIRST_MS, IPERF_MBIT, ...) for the report.
label=""   # the pair under test, e.g. coral↔wggo
tag=""     # the same for file names, e.g. coral-wggo
why=""
w() { why+="${why:+; }$*"; }
chk() { e2e_result "[$label] $1" "$why"; why=""; }

PING_OUT=""
# ping_all SIDE DST [COUNT]: every one of COUNT pings (0.2 s apart) answered.
# (ping -c N -w D counts replies: with replies slower than the interval, one
# more request is in flight and may be answered too, "4 received" of 3.)
ping_all() {
  local n=${3:-3}
  PING_OUT=$(wg_in "$1" ping -n -q -c "$n" -i 0.2 -W 2 -w $((n + 3)) "$2" 2>&1)
  [[ $PING_OUT =~ ([0-9]+)\ received ]] && ((BASH_REMATCH[1] >= n))
}
check_ping() { ping_all "$@" || w "ping $2 from side $1: $(tail -n 2 <<<"$PING_OUT" | tr '\n' ' ')"; }
ping1() { wg_in "$1" ping -n -q -c 1 -W 1 "$2" >/dev/null 2>&1; }
# check_pings: both directions, both families.
check_pings() {
  check_ping A "${WG_M4[B]}"
  check_ping A "${WG_M6[B]}"
  check_ping B "${WG_M4[A]}"
  check_ping B "${WG_M6[A]}"
}
hs() { wg_wg "$1" show "${WG_IF[$1]}" latest-handshakes 2>/dev/null | awk 'NR == 1 {print $2}'; }
endpoint() { wg_wg "$1" show "${WG_IF[$1]}" endpoints 2>/dev/null | awk 'NR == 1 {print $2}'; }
endpoint_is() { [[ $(endpoint "$1") == "$2" ]]; }

# check_first_ping SIDE: the first packet of a fresh pair, sent by SIDE;
# nothing may have handshaken before it. FIRST_MS = its RTT.
FIRST_MS=""
check_first_ping() {
  local s=$1 o out h
  o=$(wg_other "$s")
  FIRST_MS=""
  for h in A B; do
    [[ $(hs "$h") == 0 ]] || { w "side $h shows a handshake ($(hs "$h")) before any traffic"; return; }
  done
  out=$(wg_in "$s" ping -n -c 1 -W 5 "${WG_M4[$o]}" 2>&1)
  FIRST_MS=$(sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p' <<<"$out" | head -n 1)
  [[ -n $FIRST_MS ]] || { w "no reply to the first ping ${WG_M4[$o]} from side $s: $(tail -n 2 <<<"$out" | tr '\n' ' ')"; return; }
  for h in A B; do
    [[ $(hs "$h") =~ ^[1-9][0-9]*$ ]] || w "side $h shows no handshake after the first ping ($(hs "$h"))"
  done
}

start_pair() { # start_pair IMPL_A IMPL_B: fresh peers on both sides
  wg_start A "$1" || { w "$WG_WHY"; chk "start side A ($1)"; return 1; }
  wg_start B "$2" || { w "$WG_WHY"; chk "start side B ($2)"; wg_stop A; return 1; }
}

# stop_side SIDE: SIGTERM; a coral side must exit 0 within 5 s and take its
# interface and UAPI socket with it (collected in STOP_WHY, reported per pair).
STOP_WHY=""
STOPS=0
interface_gone() { ! ip -n "${WG_NS[$1]}" link show "${WG_IF[$1]}" >/dev/null 2>&1; }
stop_side() {
  local s=$1 impl=${WG_IMPL[$1]:-} r=""
  wg_stop "$s" TERM 5 || return 0
  [[ $impl == coral ]] || return 0
  STOPS=$((STOPS + 1))
  [[ $WG_STATUS == 0 ]] || r+="exit status $WG_STATUS, want 0; "
  e2e_wait 2 interface_gone "$s" || r+="interface ${WG_IF[$s]} still exists; "
  [[ -e $WG_SOCK_DIR/${WG_IF[$s]}.sock ]] && r+="$WG_SOCK_DIR/${WG_IF[$s]}.sock still exists; "
  [[ -n $r ]] && STOP_WHY+="side $s: $r"
  return 0
}
stop_pair() { stop_side A; stop_side B; }

# check_interface SIDE: coral configured the TUN device from its file.
check_interface() {
  local s=$1 addrs link
  addrs=$(ip -n "${WG_NS[$s]}" -o addr show dev "${WG_IF[$s]}" 2>&1)
  link=$(ip -n "${WG_NS[$s]}" -o link show dev "${WG_IF[$s]}" 2>&1)
  [[ $addrs == *" ${WG_M4[$s]}/16 "* ]] || w "no ${WG_M4[$s]}/16: $addrs"
  [[ $addrs == *" ${WG_M6[$s]}/64 "* ]] || w "no ${WG_M6[$s]}/64: $addrs"
  [[ $link == *" mtu $WG_MTU "* ]] || w "mtu is not $WG_MTU: $link"
  [[ $link == *"<"*UP*">"* ]] || w "not up: $link"
}

# check_show: `wg show A dump` against what side A was configured with.
check_show() {
  local dump l1 l2 n priv pub port fwmark ppub psk ep ips hsec rx tx ka now
  dump=$(wg_wg A show "${WG_IF[A]}" dump 2>&1) || { w "wg show ${WG_IF[A]} dump failed: $dump"; return; }
  n=$(wc -l <<<"$dump")
  ((n == 2)) || { w "want 2 lines (interface, 1 peer), got $n: $dump"; return; }
  l1=$(sed -n 1p <<<"$dump")
  l2=$(sed -n 2p <<<"$dump")
  IFS=$'\t' read -r priv pub port fwmark <<<"$l1"
  IFS=$'\t' read -r ppub psk ep ips hsec rx tx ka <<<"$l2"
  now=$(date +%s)
  [[ $priv == "$(cat "${WG_KEY[A]}")" ]] || w "private key differs"
  [[ $pub == "${WG_PUB[A]}" ]] || w "public key $pub, want ${WG_PUB[A]}"
  [[ $port == "${WG_PORT[A]}" ]] || w "listen port $port, want ${WG_PORT[A]}"
  [[ $fwmark == off ]] || w "fwmark $fwmark, want off"
  [[ $ppub == "${WG_PUB[B]}" ]] || w "peer $ppub, want ${WG_PUB[B]}"
  [[ $psk == "(none)" ]] || w "preshared key set, want (none)"
  [[ $ep == "${WG_VIP[B]}:${WG_PORT[B]}" ]] || w "endpoint $ep, want ${WG_VIP[B]}:${WG_PORT[B]}"
  [[ $(tr ',' '\n' <<<"$ips" | sort | paste -sd,) == "${WG_M4[B]}/32,${WG_M6[B]}/128" ]] ||
    w "allowed ips $ips, want ${WG_M4[B]}/32,${WG_M6[B]}/128"
  { [[ $hsec =~ ^[0-9]+$ ]] && ((hsec > 0 && now - hsec >= -2 && now - hsec < 120)); } ||
    w "latest handshake $hsec, want within the last 2 min of $now"
  [[ $rx =~ ^[1-9][0-9]*$ && $tx =~ ^[1-9][0-9]*$ ]] || w "transfer rx $rx tx $tx, want both > 0"
  [[ $ka == off ]] || w "persistent keepalive $ka, want off"
}

# check_keepalive: `wg set ... persistent-keepalive 5` on A shows in `wg show`.
check_keepalive() {
  local out
  out=$(wg_wg A set "${WG_IF[A]}" peer "${WG_PUB[B]}" persistent-keepalive 5 2>&1) || { w "wg set failed: $out"; return; }
  out=$(wg_wg A show "${WG_IF[A]}" persistent-keepalive 2>&1)
  [[ $out == "${WG_PUB[B]}"$'\t'5 ]] || w "wg show persistent-keepalive: '$out', want '${WG_PUB[B]}<TAB>5'"
  out=$(wg_wg A show "${WG_IF[A]}" 2>&1)
  [[ $out == *"persistent keepalive: every 5 seconds"* ]] || w "wg show: no 'persistent keepalive: every 5 seconds': $out"
}

# check_iperf DST [-R]: 2 s of TCP between the mesh addresses, client in A,
# server in B (-R: B sends). IPERF_MBIT = what the receiver got.
IPERF_MBIT=""
check_iperf() {
  local dst=$1 out err bytes rc
  shift
  out=$E2E_WORK/iperf-$tag-${dst//:/_}$*.json
  wg_fg ip netns exec "${WG_NS[A]}" timeout 20 iperf3 -c "$dst" -p 5201 -t 2 -J --connect-timeout 3000 "$@" >"$out" 2>&1
  rc=$?
  err=$(jq -r '.error // empty' "$out" 2>/dev/null)
  bytes=$(jq -r '.end.sum_received.bytes // 0' "$out" 2>/dev/null)
  IPERF_MBIT=$(jq -r '(.end.sum_received.bits_per_second // 0) / 1e6 | floor' "$out" 2>/dev/null)
  if ((rc != 0)) || [[ -n $err ]]; then w "iperf3 exit status $rc: ${err:-$(tail -c 300 "$out")}"
  elif ! [[ $bytes =~ ^[1-9][0-9]*$ ]]; then w "received ${bytes:-no} bytes"
  fi
}

# The bad-input sender: runs in B's namespace against A's UDP port.
BAD_PY=$E2E_WORK/bad_input.py
cat >"$BAD_PY" <<'EOF'
# bad_input.py TARGET_IP TARGET_PORT TARGET_PUBKEY CAPTURE_IFACE PING_DST PEER_PORT SEED
# Sends, from an ephemeral UDP port of this namespace to the WireGuard port
# TARGET: random datagrams; every message type cut short and overlong;
# initiations of the right size with random content; initiations with a
# valid mac1 (computed from TARGET_PUBKEY) but garbage inside; a burst of
# garbage; and replays plus tampered copies of real transport packets that
# the peer (PEER_PORT -> TARGET_PORT) sent while pinging PING_DST, captured
# on CAPTURE_IFACE. Prints one summary line; exits 3 if nothing was captured.
import base64, hashlib, random, socket, struct, subprocess, sys, time

tgt_ip, tgt_port, pub_b64, iface, ping_dst, peer_port, seed = sys.argv[1:8]
tgt = (tgt_ip, int(tgt_port))
pub = base64.b64decode(pub_b64)
rnd = random.Random(int(seed))
count = {}
replies = {}

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 0))
s.setblocking(False)

def send(kind, data):
    try:
        s.sendto(data, tgt)
        count[kind] = count.get(kind, 0) + 1
    except OSError:
        count["send_error"] = count.get("send_error", 0) + 1
    drain()

def drain():
    while True:
        try:
            data = s.recv(2048)
        except OSError:
            return
        key = "type%d" % data[0] if data else "empty"
        replies[key] = replies.get(key, 0) + 1

def rb(n):
    return rnd.randbytes(max(n, 0))

# random datagrams, 0..1500 bytes
for _ in range(300):
    send("random", rb(rnd.randint(0, 1500)))
# each message type (size): cut short, one byte long, and with reserved bytes set
for t, full in ((1, 148), (2, 92), (3, 64), (4, 32)):
    for n in sorted({1, 2, 3, 4, 5, 8, 16, full // 2, full - 17, full - 1, full + 1, full + 16}):
        send("truncated", (bytes([t, 0, 0, 0]) + rb(n))[:n])
    send("reserved", bytes([t, 1, 2, 3]) + rb(full - 4))
# right-sized initiations, responses, cookie replies with random content
for t, full in ((1, 148), (2, 92), (3, 64)):
    for _ in range(50):
        send("random_sized", bytes([t, 0, 0, 0]) + rb(full - 4))
# initiations with a valid mac1: the responder has to do the DH work, and fail
mac1_key = hashlib.blake2s(b"mac1----" + pub).digest()
for _ in range(200):
    msg = bytes([1, 0, 0, 0]) + rb(112)
    msg += hashlib.blake2s(msg, digest_size=16, key=mac1_key).digest() + bytes(16)
    send("mac1_valid_initiation", msg)
# a burst of garbage with valid-looking type bytes, at most 3 s
end = time.monotonic() + 3
for i in range(20000):
    if time.monotonic() > end:
        break
    send("burst", bytes([rnd.randint(1, 4), 0, 0, 0]) + rb(rnd.randint(0, 200)))

# capture real transport packets of the peer while it pings through the tunnel
cap = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
cap.bind((iface, 0))
cap.settimeout(0.2)
ping = subprocess.Popen(["ping", "-n", "-q", "-c", "10", "-i", "0.1", "-W", "1", ping_dst],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
captured = []
end = time.monotonic() + 3
while time.monotonic() < end and len(captured) < 40:
    try:
        frame = cap.recv(65536)
    except socket.timeout:
        if ping.poll() is not None:
            break
        continue
    if len(frame) < 14 + 20 + 8 or frame[12:14] != b"\x08\x00":
        continue
    ip = frame[14:]
    ihl = (ip[0] & 15) * 4
    if ip[9] != 17 or socket.inet_ntoa(ip[16:20]) != tgt_ip:
        continue
    sport, dport = struct.unpack("!HH", ip[ihl:ihl + 4])
    payload = ip[ihl + 8:]
    if sport == int(peer_port) and dport == tgt[1] and len(payload) >= 32 and payload[0] == 4:
        captured.append(bytes(payload))
try:
    ping.wait(timeout=5)
except subprocess.TimeoutExpired:
    ping.kill()
    ping.wait()
cap.close()
for p in captured:
    for _ in range(3):
        send("replayed", p)
    bad = bytearray(p)
    bad[-1] ^= 0x80  # breaks the Poly1305 tag
    send("tampered", bytes(bad))
time.sleep(0.2)
drain()
print("sent " + " ".join("%s=%d" % kv for kv in sorted(count.items())) +
      "; captured %d transport packets" % len(captured) +
      "; replies " + (" ".join("%s=%d" % kv for kv in sorted(replies.items())) or "none"))
sys.exit(0 if captured else 3)
EOF

# check_bad_input: garbage to A, then A must still run, keep B's endpoint
# and move traffic both ways.
check_bad_input() {
  local out rc seed=$RANDOM
  wg_fg ip netns exec "${WG_NS[B]}" timeout 40 python3 "$BAD_PY" "${WG_VIP[A]}" "${WG_PORT[A]}" "${WG_PUB[A]}" "${WG_VETH[B]}" \
    "${WG_M4[A]}" "${WG_PORT[B]}" "$seed" >"$E2E_WORK/bad-input-$tag.txt" 2>&1
  rc=$?
  out=$(cat "$E2E_WORK/bad-input-$tag.txt")
  echo "# [$label] bad input (seed $seed): $out"
  ((rc == 0)) || w "bad_input.py exit status $rc: $out"
  wg_alive A || { w "side A (${WG_IMPL[A]}) died"; return; }
  [[ $(endpoint A) == "${WG_VIP[B]}:${WG_PORT[B]}" ]] || w "A's endpoint of B moved to $(endpoint A)"
  check_ping A "${WG_M4[B]}"
  check_ping B "${WG_M6[A]}"
}

# check_rekey: with CORAL_WG_REKEY_AFTER_SECONDS=3 on A (the initiator), 8 s
# of pings every 0.2 s see new handshakes on both sides and lose at most 2.
REKEY_INFO=""
check_rekey() {
  local a0 b0 a1 b1 out sent got
  a0=$(hs A)
  b0=$(hs B)
  wg_fg ip netns exec "${WG_NS[A]}" ping -n -q -c 40 -i 0.2 -W 1 -w 20 "${WG_M4[B]}" >"$E2E_WORK/rekey-$tag.txt" 2>&1
  out=$(cat "$E2E_WORK/rekey-$tag.txt")
  a1=$(hs A)
  b1=$(hs B)
  sent=$(sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' <<<"$out")
  got=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' <<<"$out")
  REKEY_INFO="handshake A +$((a1 - a0)) s, B +$((b1 - b0)) s; $got of $sent replies"
  { [[ $a0 =~ ^[0-9]+$ && $a1 =~ ^[0-9]+$ ]] && ((a1 > a0)); } || w "A's latest handshake did not advance ($a0 -> $a1)"
  { [[ $b0 =~ ^[0-9]+$ && $b1 =~ ^[0-9]+$ ]] && ((b1 > b0)); } || w "B's latest handshake did not advance ($b0 -> $b1)"
  { [[ $sent == 40 && -n $got ]] && ((sent - got <= 2)); } || w "lost more than 2 pings: $(tail -n 2 <<<"$out" | tr '\n' ' ')"
}

# check_roam: B's veth address moves to .3 (and back); A's endpoint follows
# B's authenticated packets, traffic continues. wireguard-go keeps sending
# from the address it last received on (its "sticky" source) and does not
# let go of it on ENETUNREACH, so a wireguard-go B is told to rebind (wg set
# listen-port, same port), which drops that cache; a coral B gets no help.
ROAM_IP=192.168.251.3
rebind_wggo_b() {
  [[ ${WG_IMPL[B]} == wggo ]] || return 0
  wg_wg B set "${WG_IF[B]}" listen-port "${WG_PORT[B]}" || w "wg set ${WG_IF[B]} listen-port failed"
}
check_roam() {
  local ns=${WG_NS[B]} dev=${WG_VETH[B]}
  { ip -n "$ns" addr del "${WG_VIP[B]}/24" dev "$dev" && ip -n "$ns" addr add "$ROAM_IP/24" dev "$dev"; } ||
    { w "could not move B's veth address"; return; }
  rebind_wggo_b
  e2e_wait 5 ping1 B "${WG_M4[A]}" || w "no ping B -> A from $ROAM_IP within 5 s"
  e2e_wait 3 endpoint_is A "$ROAM_IP:${WG_PORT[B]}" || w "A's endpoint of B is $(endpoint A), want $ROAM_IP:${WG_PORT[B]}"
  check_ping A "${WG_M6[B]}"
  { ip -n "$ns" addr del "$ROAM_IP/24" dev "$dev" && ip -n "$ns" addr add "${WG_VIP[B]}/24" dev "$dev"; } ||
    { w "could not move B's veth address back"; return; }
  rebind_wggo_b
  e2e_wait 5 ping1 B "${WG_M4[A]}" || w "no ping B -> A from ${WG_VIP[B]} within 5 s"
  e2e_wait 3 endpoint_is A "${WG_VIP[B]}:${WG_PORT[B]}" || w "A's endpoint of B is $(endpoint A) after moving back"
}

# check_recover SIDE IMPL: SIGTERM, restart, SIDE sends first; RECOVER_MS.
RECOVER_MS=""
check_recover() {
  local s=$1 impl=$2 o t0
  o=$(wg_other "$s")
  RECOVER_MS=""
  stop_side "$s"
  t0=${EPOCHREALTIME/./}
  wg_start "$s" "$impl" || { w "restart failed: $WG_WHY"; return; }
  e2e_wait 10 ping1 "$s" "${WG_M4[$o]}" || { w "no ping $s -> $o within 10 s of the restart"; return; }
  RECOVER_MS=$(((${EPOCHREALTIME/./} - t0) / 1000))
  check_ping "$o" "${WG_M6[$s]}"
}

# ------------------------------------------------------------------ a pair
run_pair() {
  local a=$1 b=$2 s
  label="$a↔$b"
  tag="$a-$b"
  STOP_WHY=""
  STOPS=0
  WG_PSK="" WG_REKEY=""

  # 1. fresh, A sends first
  start_pair "$a" "$b" || return
  for s in A B; do
    if [[ ${WG_IMPL[$s]} == coral ]]; then
      check_interface "$s"
      chk "side $s: coral wg up prints ✓ and serves its UAPI socket; ${WG_IF[$s]} has ${WG_M4[$s]}/16, ${WG_M6[$s]}/64, mtu $WG_MTU, up"
    fi
  done
  check_first_ping A
  local first=$why
  chk "handshake initiated by A ($a): first ping ${WG_M4[A]} -> ${WG_M4[B]} answered (${FIRST_MS:-?} ms)"
  if [[ -z $first ]]; then
    check_pings
    chk "ping both ways over IPv4 and IPv6 mesh addresses"
    check_iperf "${WG_M4[B]}"
    chk "iperf3 TCP 2 s over IPv4, A -> B (${IPERF_MBIT:-?} Mbit/s)"
    check_iperf "${WG_M6[B]}" -R
    chk "iperf3 TCP 2 s over IPv6, B -> A (${IPERF_MBIT:-?} Mbit/s)"
    check_show
    chk "wg show ${WG_IF[A]} ($a): keys, port, peer, endpoint, allowed ips, latest handshake, transfer"
    check_keepalive
    chk "wg set ${WG_IF[A]} ($a) peer ... persistent-keepalive 5: wg show shows it"
  fi
  stop_pair

  # 2. fresh with a preshared key, B sends first; recovery; bad input
  WG_PSK=$E2E_WORK/psk
  start_pair "$a" "$b" || return
  check_first_ping B
  first=$why
  chk "handshake initiated by B ($b), with a preshared key: first ping answered (${FIRST_MS:-?} ms)"
  if [[ -z $first ]]; then
    check_pings
    chk "ping both ways over IPv4 and IPv6 (preshared key)"
    check_recover A "$a"
    chk "recovery: A ($a) SIGTERM + restart, traffic resumes (${RECOVER_MS:-?} ms to the first reply)"
    check_recover B "$b"
    chk "recovery: B ($b) SIGTERM + restart, traffic resumes (${RECOVER_MS:-?} ms to the first reply)"
    check_bad_input
    chk "bad input to A's port ($a): random, truncated, mac1-valid, burst, replayed, tampered: still works, no roaming"
  fi
  stop_pair

  # 3. fresh with a 3 s rekey interval on coral sides; rekey; roaming
  WG_PSK="" WG_REKEY=3
  if start_pair "$a" "$b"; then
    check_first_ping A
    first=$why
    chk "handshake initiated by A ($a), CORAL_WG_REKEY_AFTER_SECONDS=3 on coral sides"
    if [[ -z $first ]]; then
      if [[ $a == coral ]]; then
        check_rekey
        chk "rekey every 3 s while pinging 8 s at 0.2 s ($REKEY_INFO)"
      fi
      check_roam
      chk "roaming: B ($b) moves ${WG_VIP[B]} -> $ROAM_IP and back; A ($a) follows, traffic continues"
    fi
    stop_pair
  fi
  WG_REKEY=""
  if [[ $a == coral || $b == coral ]]; then
    why=$STOP_WHY
    chk "SIGTERM ($STOPS stops): coral exits 0, its interface and UAPI socket are gone"
  fi
}

# ----------------------------------------------------- coral alone (once)
# check_conf_error FILE WANT: coral wg up FILE fails fast, says WANT, leaves
# no interface.
check_conf_error() {
  local file=$1 want=$2 out rc
  out=$(wg_in A timeout 10 "$CORAL" wg up "$file" --interface "cwgX$$" 2>&1 </dev/null)
  rc=$?
  ((rc == 124)) && { w "still running after 10 s: $out"; return; }
  ((rc != 0)) || w "exit status 0"
  [[ $out == *"$want"* ]] || w "no '$want' in: $out"
  ip -n "${WG_NS[A]}" link show "cwgX$$" >/dev/null 2>&1 && w "interface cwgX$$ exists"
}

# check_default_name: a lone device named after its file, started, stopped.
check_default_name() {
  local name=coral-w$$0 file=$E2E_WORK/w$$.conf pid out t
  ((${#name} <= 15)) || { w "(test) $name is longer than 15 characters"; return; }
  printf '[Interface]\nPrivateKey = %s\nListenPort = 51899\nAddress = 10.42.0.9/16, fd42::9/64\n' \
    "$(cat "${WG_KEY[A]}")" >"$file"
  # not through a function: $! must be coral itself (ip netns exec execs)
  ip netns exec "${WG_NS[A]}" "$CORAL" wg up "$file" </dev/null >"$E2E_WORK/default-name.log" 2>"$E2E_WORK/default-name.err.log" &
  pid=$!
  lone_ready() { grep -q '^✓' "$E2E_WORK/default-name.log" && wg_wg A show "$name" listen-port >/dev/null 2>&1; }
  if ! e2e_wait 10 lone_ready; then
    w "no ✓ line or no UAPI socket for $name within 10 s: $(cat "$E2E_WORK"/default-name*.log)"
  else
    out=$(wg_wg A show "$name" listen-port 2>&1)
    [[ $out == 51899 ]] || w "wg show $name listen-port: $out"
    out=$(ip -n "${WG_NS[A]}" -o addr show dev "$name" 2>&1)
    [[ $out == *" 10.42.0.9/16 "* && $out == *" fd42::9/64 "* ]] || w "addresses: $out"
    out=$(ip -n "${WG_NS[A]}" -o link show dev "$name" 2>&1)
    [[ $out == *" mtu 1420 "* ]] || w "default MTU is not 1420: $out"
  fi
  kill -TERM "$pid" 2>/dev/null
  for ((t = 0; t < 50; t++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null
    w "still running 5 s after SIGTERM"
  fi
  wait "$pid"
  t=$?
  [[ $t == 0 ]] || w "exit status $t after SIGTERM"
  ip -n "${WG_NS[A]}" link show "$name" >/dev/null 2>&1 && w "$name still exists after exit"
  [[ -e $WG_SOCK_DIR/$name.sock ]] && w "$WG_SOCK_DIR/$name.sock still exists after exit"
  rm -f "$WG_SOCK_DIR/$name.sock"
}

# check_not_root: as uid 65534 (no capabilities) a clear CAP_NET_ADMIN message.
check_not_root() {
  local out rc
  NOBODY_DIR=$(mktemp -d /tmp/coral-wg-nobody.XXXXXX)
  chmod 711 "$NOBODY_DIR"
  cp "$E2E_WORK/w$$.conf" "$NOBODY_DIR/n.conf"
  chown 65534:65534 "$NOBODY_DIR/n.conf"
  out=$(wg_in A timeout 10 setpriv --reuid=65534 --regid=65534 --clear-groups \
    "$CORAL" wg up "$NOBODY_DIR/n.conf" --interface "cwgN$$" 2>&1 </dev/null)
  rc=$?
  if ((rc == 124)); then w "still running after 10 s: $out"
  elif ((rc == 0)); then w "exit status 0: $out"
  elif [[ $out != *CAP_NET_ADMIN* ]]; then w "exit status $rc, no 'CAP_NET_ADMIN' in: $out"
  fi
  ip -n "${WG_NS[A]}" link show "cwgN$$" >/dev/null 2>&1 && w "interface cwgN$$ exists"
  rm -rf "$NOBODY_DIR"
  NOBODY_DIR=""
}

coral_alone() {
  local key pub1 pub2
  label=coral
  key=$(timeout 10 "$CORAL" wg genkey 2>&1)
  if [[ ! $key =~ ^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$ ]]; then w "coral wg genkey printed '$key'"
  else
    pub1=$(timeout 10 "$CORAL" wg pubkey <<<"$key" 2>&1)
    pub2=$(wg pubkey <<<"$key" 2>&1)
    [[ $pub1 == "$pub2" ]] || w "coral wg pubkey '$pub1', wg pubkey '$pub2'"
  fi
  pub1=$(timeout 10 "$CORAL" wg pubkey <"${WG_KEY[A]}" 2>&1)
  [[ $pub1 == "${WG_PUB[A]}" ]] || w "coral wg pubkey of wg genkey's key: '$pub1', want ${WG_PUB[A]}"
  chk "coral wg genkey | coral wg pubkey: the same keys as wg genkey | wg pubkey"

  printf '[Interface]\nPrivateKey = %s\nListenPort = not-a-port\n' "$(cat "${WG_KEY[A]}")" >"$E2E_WORK/bad.conf"
  check_conf_error "$E2E_WORK/bad.conf" "bad.conf:3:"
  chk "config error on line 3: exit non-zero, the message names bad.conf:3:, no interface"
  check_conf_error "$E2E_WORK/nonexistent.conf" nonexistent.conf
  chk "missing config file: exit non-zero, the message names it"

  check_default_name
  chk "no --interface: device coral-w$$0 (coral-<file stem>0) with ListenPort, Address, MTU 1420; gone after SIGTERM, exit 0"

  if command -v setpriv >/dev/null; then
    check_not_root
    chk "not root (setpriv uid 65534, no capabilities): exit non-zero, the message says CAP_NET_ADMIN"
  else
    echo "# setpriv is missing: the CAP_NET_ADMIN check is left out"
  fi
}

# ------------------------------------------------------------------ run
coral_missing() { # coral_missing WHAT
  if ((require_coral)); then
    e2e_fail "$1" "coral has no 'coral wg up' ($CORAL wg up --help does not show --interface)"
  else
    e2e_skip "$1" "coral has no 'coral wg up' (CORAL_WG_ALLOW_MISSING=1)"
  fi
}

read -ra pairs <<<"${WG_PAIRS-coral:wggo coral:coral wggo:wggo}"
for p in "${pairs[@]}"; do
  a=${p%%:*}
  b=${p##*:}
  if [[ $a != @(coral|wggo) || $b != @(coral|wggo) ]]; then
    e2e_fail "WG_PAIRS" "bad pair '$p' (want IMPL:IMPL, IMPL coral or wggo)"
    continue
  fi
  if [[ $a == coral || $b == coral ]] && ((!HAVE_CORAL)); then
    coral_missing "[$a↔$b] all checks"
    continue
  fi
  run_pair "$a" "$b"
done
if ((HAVE_CORAL)); then coral_alone; else coral_missing "[coral] config errors, CAP_NET_ADMIN, default name, genkey"; fi

echo "# $((SECONDS - T0)) s"
e2e_summary
