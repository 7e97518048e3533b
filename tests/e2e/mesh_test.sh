#!/usr/bin/env bash
# The colony as a WireGuard hub, against a TCP/IP stack and a WireGuard no
# one here wrote: two network namespaces made here, joined by a veth
# (tests/e2e/wg_lib.sh). In A, a colony started with `--mesh userspace` as
# an unprivileged user (setpriv: uid 65534, no capabilities); in B,
# Debian's wireguard-go with `wg` and the Linux kernel's TCP, configured
# from the wg-quick file `coral colony peers add` printed.
#   1. the colony runs as uid 65534 with no capabilities, its only sockets
#      the WireGuard UDP port (no TCP listener on the host: the services
#      are inside its userspace stack);
#   2. a key the colony does not know is at most a provisional peer (it may
#      complete a handshake, to register over the tunnel) and gets nothing:
#      no ping, no answer from its configured address;
#   3. registered with `coral colony peers add`: ping of the colony's mesh
#      IPv4 and IPv6, curl (Connect JSON, HTTP/1.1 and h2c) and buf curl
#      (Connect, gRPC, gRPC-Web) to http://10.42.0.1:9000 and
#      http://[<colony ULA>::1]:9000, a 3 MB upload over each family
#      (check_services), a 32 MB download from a second coral node in A
#      (coral-mesh-bench, uid 65534) to the kernel's TCP; `coral colony
#      peers` shows the handshake and bytes;
#   4. after `coral colony revoke`, the peer gets nothing;
#   5. `--mesh tun` (root, in A): as uid 65534 the CAP_NET_ADMIN message;
#      as root, the same check_services over the kernel's TCP on both
#      sides, `wg show` of the colony's device, the TUN device gone after.
#
# Usage: tests/e2e/mesh_test.sh [BUILD_DIR | CORAL] (env CORAL_BIN; default
# build/release). Prints "ok NAME" / "FAIL NAME: WHY", then "N passed, M
# failed". Exits 77 (skipped) when not root or a tool is missing.
#
# Network: traffic only inside the two namespaces (cmsA<pid>, cmsB<pid>),
# deleted on exit; no default route in either. The mesh addresses exist only
# inside coral's userspace stack and on B's wireguard-go device (and, in 5,
# on A's TUN device), all inside the namespaces. Every process is stopped by
# its PID from the EXIT trap; every wait is bounded.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$here/lib.sh"
# shellcheck source=tests/e2e/wg_lib.sh
. "$here/wg_lib.sh"

arg=${1:-$root/build/release}
CORAL=${CORAL_BIN:-}
if [[ -z $CORAL ]]; then
  if [[ -d $arg ]]; then CORAL=$arg/apps/coral; else CORAL=$arg; fi
fi
[[ -x $CORAL ]] || { echo "FAIL setup: $CORAL is not an executable"; echo "0 passed, 1 failed"; exit 1; }
CORAL=$(readlink -f "$CORAL")
if ((EUID != 0)); then
  echo "SKIP: needs root (network namespaces; the colony itself runs unprivileged)"
  exit 77
fi
e2e_need wireguard-go wg wg-quick ping curl jq ip setpriv python3
BUF=${CORAL_BUF:-$root/tests/interop/node/node_modules/.bin/buf}
# A second userspace mesh node for the download check (built with bench/).
MESH_BENCH=${CORAL_MESH_BENCH:-$(dirname "$CORAL")/../bench/coral-mesh-bench}
cd "$root" || exit 1 # buf curl resolves --schema from here

umask 077
e2e_init
NOBODY_DIR=
mesh_cleanup() {
  local status=$?
  [[ -n ${COLONY_PID:-} ]] && stop_pid "$COLONY_PID" TERM 10
  [[ -n ${B_PID:-} ]] && stop_pid "$B_PID" TERM 5
  [[ -n ${NODE_PID:-} ]] && stop_pid "$NODE_PID" TERM 5
  wg_cleanup
  [[ -n $NOBODY_DIR ]] && rm -rf "$NOBODY_DIR"
  (exit "$status")
  e2e_cleanup
}
trap mesh_cleanup EXIT

wg_init "$E2E_WORK" cms "$CORAL" || e2e_fatal setup "wg genkey failed"
wg_net_up || e2e_fatal "setup: namespaces ${WG_NS[A]}, ${WG_NS[B]} and veth" "$WG_WHY"

# The unprivileged user's world: its own copy of coral (the build tree may
# not be readable by it) and its config directory.
NOBODY_DIR=$(mktemp -d /tmp/coral-mesh-nobody.XXXXXX)
chmod 711 "$NOBODY_DIR"
cp "$CORAL" "$NOBODY_DIR/coral"
chmod 755 "$NOBODY_DIR/coral"
mkdir -p "$NOBODY_DIR/home"
chown 65534:65534 "$NOBODY_DIR/home"
CFG=$NOBODY_DIR/home/.coral
ID=mesh-e2e
PORT=51820
ENDPOINT=${WG_VIP[A]}:$PORT

# as_nobody CMD...: CMD as uid/gid 65534, no groups, no capabilities at all.
as_nobody() {
  setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all \
    env -i PATH=/usr/bin:/bin HOME="$NOBODY_DIR/home" CORAL_CONFIG_DIR="$CFG" "$@"
}
# coral_a ARGS...: the unprivileged coral in namespace A; out/err/rc.
out="" err="" rc=0
coral_a() {
  out=$(ip netns exec "${WG_NS[A]}" timeout 20 setpriv --reuid=65534 --regid=65534 --clear-groups \
    --inh-caps=-all --bounding-set=-all env -i PATH=/usr/bin:/bin HOME="$NOBODY_DIR/home" \
    CORAL_CONFIG_DIR="$CFG" "$NOBODY_DIR/coral" "$@" 2>"$E2E_WORK/coral.err" </dev/null)
  rc=$?
  err=$(cat "$E2E_WORK/coral.err")
}

coral_a init --app mesh --env e2e --colony-id "$ID" --listen-port "$PORT" --discovery http://127.0.0.1:9
((rc == 0)) || e2e_fatal "coral init (defaults: 10.42.0.0/16 and a random ULA)" "exit $rc: $out $err"
V4=10.42.0.1
V6=$(awk '/^ *mesh_ipv6:/ { gsub(/"/, "", $2); print $2 }' "$CFG/colonies/$ID.yaml")
[[ $V6 == *::1 ]] || e2e_fatal "setup: the colony's IPv6 mesh address" "got '$V6'"
echo "# colony $ID: $V4 and $V6 in ${WG_NS[A]} (userspace), peer in ${WG_NS[B]} (wireguard-go + kernel TCP)"

COLONY_PID=
COLONY_LOG=$E2E_WORK/colony.log
# start_colony MESH [as_root]: the colony in A, waited for (bounded) until
# it printed its ✓ line.
start_colony() {
  local mesh=$1 who=${2:-nobody}
  : >"$COLONY_LOG"
  if [[ $who == root ]]; then
    ip netns exec "${WG_NS[A]}" env HOME="$NOBODY_DIR/home" CORAL_CONFIG_DIR="$CFG" \
      "$NOBODY_DIR/coral" colony start "$ID" --mesh "$mesh" --public-endpoint "$ENDPOINT" --interface "cmsT$$" \
      </dev/null >"$COLONY_LOG" 2>&1 &
  else
    ip netns exec "${WG_NS[A]}" setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
      --bounding-set=-all env -i PATH=/usr/bin:/bin HOME="$NOBODY_DIR/home" CORAL_CONFIG_DIR="$CFG" \
      "$NOBODY_DIR/coral" colony start "$ID" --mesh "$mesh" --public-endpoint "$ENDPOINT" \
      </dev/null >"$COLONY_LOG" 2>&1 &
  fi
  COLONY_PID=$!
  e2e_wait 10 grep -q '^✓' "$COLONY_LOG"
}
stop_colony() {
  [[ -n $COLONY_PID ]] || return 0
  stop_pid "$COLONY_PID" TERM 10
  COLONY_PID=
}

# ------------------------------------------------ side B: wireguard-go
B_IF=${WG_IF[B]}
B_PID=
# start_peer CONF: wireguard-go in B configured from a wg-quick file.
start_peer() {
  local conf=$1 addresses a
  stop_peer
  env WG_PROCESS_FOREGROUND=1 LOG_LEVEL=error ip netns exec "${WG_NS[B]}" wireguard-go "$B_IF" \
    </dev/null >>"$E2E_WORK/wggo.log" 2>&1 &
  B_PID=$!
  e2e_wait 5 wg_wg B show "$B_IF" public-key >/dev/null 2>&1 || return 1
  cp "$conf" "$E2E_WORK/$B_IF.conf"
  wg-quick strip "$E2E_WORK/$B_IF.conf" >"$E2E_WORK/$B_IF.setconf" 2>>"$E2E_WORK/wggo.log" || return 1
  wg_wg B setconf "$B_IF" "$E2E_WORK/$B_IF.setconf" >>"$E2E_WORK/wggo.log" 2>&1 || return 1
  addresses=$(sed -n 's/^ *Address *= *//p' "$conf" | tr ',' ' ')
  for a in $addresses; do
    if [[ $a == *:* ]]; then
      ip -n "${WG_NS[B]}" addr add "$a" dev "$B_IF" nodad || return 1
    else
      ip -n "${WG_NS[B]}" addr add "$a" dev "$B_IF" || return 1
    fi
  done
  ip -n "${WG_NS[B]}" link set "$B_IF" mtu 1420 up
}
stop_peer() {
  [[ -n $B_PID ]] || return 0
  stop_pid "$B_PID" TERM 5
  B_PID=
}

why=""
w() { why+="${why:+; }$*"; }
PING_OUT=""
ping_ok() { # ping_ok DST: 3 of 3 answered
  PING_OUT=$(wg_in B ping -n -q -c 3 -i 0.2 -W 2 -w 6 "$1" 2>&1)
  [[ $PING_OUT =~ ([0-9]+)\ received ]] && ((BASH_REMATCH[1] >= 3))
}
ping_none() { ! wg_in B ping -n -q -c 2 -i 0.3 -W 1 -w 3 "$1" >/dev/null 2>&1; }
# get_status HOST [CURL ARGS...]: GetStatus over Connect JSON from B.
body=""
get_status() {
  local host=$1
  shift
  body=$(wg_in B curl -sS --max-time 5 -H 'Content-Type: application/json' -d '{}' "$@" \
    "http://$host:9000/coral.colony.v1.ColonyService/GetStatus" 2>&1)
}
colony_answers() { # colony_answers URLHOST [CURL ARGS]: GetStatus names the colony
  get_status "$@"
  [[ $(jq -r .colonyId <<<"$body" 2>/dev/null) == "$ID" ]]
}

# ========================================================= 1. unprivileged
start_colony userspace || e2e_fatal "colony start --mesh userspace as uid 65534" "$(cat "$COLONY_LOG")"
why=""
uid=$(awk '/^Uid:/ { print $2 }' "/proc/$COLONY_PID/status" 2>/dev/null)
caps=$(awk '/^CapEff:/ { print $2 }' "/proc/$COLONY_PID/status" 2>/dev/null)
[[ $uid == 65534 ]] || w "uid '$uid'"
[[ $caps == 0000000000000000 ]] || w "effective capabilities '$caps'"
grep -q "userspace transport, WireGuard on UDP $PORT" "$COLONY_LOG" || w "started message: $(head -n 5 "$COLONY_LOG")"
tcp=$(wg_in A ss -Htlnp 2>/dev/null | grep -c "pid=$COLONY_PID," || true)
udp=$(wg_in A ss -Hulnp 2>/dev/null | grep "pid=$COLONY_PID," | awk '{ print $4 }' | tr '\n' ' ')
((tcp == 0)) || w "$tcp TCP listener(s) of the colony on the host: $(wg_in A ss -Htlnp)"
[[ $udp == *":$PORT "* ]] || w "UDP sockets: '$udp'"
e2e_result "colony (--mesh userspace) runs as uid 65534 with no capabilities; on the host only UDP $PORT, no TCP listener" "$why"

# ========================================================= 2. unknown key
(umask 077 && wg genkey >"$E2E_WORK/stranger.key")
COLONY_PUB=$(awk '/^ *public_key:/ { gsub(/"/, "", $2); print $2 }' "$CFG/colonies/$ID.yaml")
{
  echo "[Interface]"
  echo "PrivateKey = $(cat "$E2E_WORK/stranger.key")"
  echo "Address = 10.42.0.77/16, ${V6%::1}::77/64"
  echo "[Peer]"
  echo "PublicKey = $COLONY_PUB"
  echo "Endpoint = $ENDPOINT"
  echo "AllowedIPs = 10.42.0.0/16, ${V6%::1}::/64"
} >"$E2E_WORK/stranger.conf"
why=""
if start_peer "$E2E_WORK/stranger.conf"; then
  ping_none "$V4" || w "ping $V4 answered"
  get_status "$V4" --max-time 3
  [[ $(jq -r .colonyId <<<"$body" 2>/dev/null) == "$ID" ]] && w "GetStatus answered"
  ping_none "$V6" || w "ping $V6 answered"
  get_status "[$V6]" --max-time 3
  [[ $(jq -r .colonyId <<<"$body" 2>/dev/null) == "$ID" ]] && w "GetStatus over IPv6 answered"
  # Its handshake, if any, made it a provisional peer: only its
  # registration address (fe80::/64) is routed for it, not 10.42.0.77.
  hs=$(wg_wg B show "$B_IF" latest-handshakes | awk '{ print $2 }')
  if [[ $hs != 0 ]] && ! grep -q 'provisional peer admitted' "$COLONY_LOG"; then
    w "handshake at $hs without a provisional admission in the colony's log"
  fi
else
  w "wireguard-go with the stranger's config: $(tail -n 3 "$E2E_WORK/wggo.log")"
fi
e2e_result "a key the colony does not know: at most a provisional handshake; no ping, no answer (IPv4, IPv6)" "$why"
stop_peer

# ========================================================= 3. registered
(umask 077 && wg genkey >"$NOBODY_DIR/home/laptop.key")
chown 65534:65534 "$NOBODY_DIR/home/laptop.key"
LAPTOP_PUB=$(wg pubkey <"$NOBODY_DIR/home/laptop.key")
coral_a colony peers add laptop --pubkey "$LAPTOP_PUB" --private-key-file "$NOBODY_DIR/home/laptop.key" \
  --out "$NOBODY_DIR/home/laptop.conf"
why=""
if ((rc != 0)); then
  w "exit $rc: $out $err"
else
  conf=$(cat "$NOBODY_DIR/home/laptop.conf" 2>/dev/null)
  mode=$(stat -c %a "$NOBODY_DIR/home/laptop.conf" 2>/dev/null)
  [[ $mode == 600 ]] || w "file mode $mode"
  [[ $conf == *"PublicKey = $COLONY_PUB"* ]] || w "no [Peer] PublicKey of the colony"
  [[ $conf == *"Endpoint = $ENDPOINT"* ]] || w "no Endpoint $ENDPOINT"
  [[ $conf == *"PersistentKeepalive = 25"* ]] || w "no PersistentKeepalive = 25"
  [[ $conf =~ Address\ =\ (10\.42\.[0-9.]+)/16,\ ([0-9a-f:]+)/64 ]] || w "no Address line: $conf"
  LAPTOP_V4=${BASH_REMATCH[1]:-}
  [[ $conf == *"AllowedIPs = 10.42.0.0/16, ${V6%::1}::/64"* ]] || w "AllowedIPs: $(grep AllowedIPs <<<"$conf")"
fi
e2e_result "colony peers add laptop: a ready wg-quick file (0600): its addresses, the colony's key, endpoint, subnets, keepalive" "$why"

# check_services MODE CONF: with wireguard-go up from CONF, what the peer
# gets from the colony (MODE names the colony's transport in the results):
# ping of both mesh addresses, GetStatus with curl (HTTP/1.1, h2c) and buf
# curl (Connect, gRPC, gRPC-Web) on both, and a 3 MB upload on both.
check_services() {
  local mode=$1 conf=$2 host protocol got t0 ms sent
  why=""
  start_peer "$conf" || w "wireguard-go from $conf: $(tail -n 3 "$E2E_WORK/wggo.log")"
  if [[ -z $why ]]; then
    ping_ok "$V4" || w "ping $V4: $(tail -n 2 <<<"$PING_OUT" | tr '\n' ' ')"
    ping_ok "$V6" || w "ping $V6: $(tail -n 2 <<<"$PING_OUT" | tr '\n' ' ')"
  fi
  e2e_result "[$mode] wireguard-go peer pings the colony's mesh IPv4 and IPv6" "$why"

  why=""
  for host in "$V4" "[$V6]"; do
    colony_answers "$host" || w "$host HTTP/1.1: $body"
    colony_answers "$host" --http2-prior-knowledge || w "$host h2c: $body"
    [[ $(jq -r .meshIpv4 <<<"$body" 2>/dev/null) == "$V4" ]] || w "$host: meshIpv4 in $body"
  done
  e2e_result "[$mode] curl from the kernel's TCP: GetStatus on http://$V4:9000 and http://[$V6]:9000 (HTTP/1.1 and h2c)" "$why"

  if [[ ! -x $BUF ]]; then
    e2e_skip "[$mode] buf curl over the mesh" "$BUF missing (run npm ci in tests/interop/node)"
  else
    for protocol in connect grpc grpcweb; do
      why=""
      for host in "$V4" "[$V6]"; do
        flags=(--protocol "$protocol")
        [[ $protocol == grpc ]] && flags+=(--http2-prior-knowledge)
        got=$(ip netns exec "${WG_NS[B]}" timeout 20 "$BUF" curl --schema proto "${flags[@]}" -d '{}' \
          "http://$host:9000/coral.colony.v1.ColonyService/GetStatus" 2>&1)
        [[ $(jq -r .colonyId <<<"$got" 2>/dev/null) == "$ID" ]] || w "$host: $got"
      done
      e2e_result "[$mode] buf curl $protocol over the mesh: GetStatus on both families" "$why"
    done
  fi

  # A 3 MB upload: a GetStatus request padded with JSON whitespace, which
  # the colony reads whole before it answers.
  why=""
  for host in "$V4" "[$V6]"; do
    t0=${EPOCHREALTIME/./}
    body=$(wg_in B curl -sS --max-time 20 -H 'Content-Type: application/json' --data-binary "@$PAD" \
      -w ' %{size_upload}' "http://$host:9000/coral.colony.v1.ColonyService/GetStatus" 2>&1)
    ms=$(((${EPOCHREALTIME/./} - t0) / 1000))
    sent=${body##* }
    [[ $sent == 3000002 && $body == *"\"colonyId\":\"$ID\""* ]] || w "$host upload: ${body:0:200}"
    echo "# [$mode] upload of 3 MB over $host: $ms ms"
  done
  e2e_result "[$mode] bulk upload, 3 MB in one request over each family, answered" "$why"
}
PAD=$E2E_WORK/upload.json
python3 -c 'import sys; sys.stdout.write("{" + " " * (3 * 1000 * 1000) + "}")' >"$PAD"

check_services userspace "$NOBODY_DIR/home/laptop.conf"

# Download: coral's stack sending to the kernel's TCP. The colony has no
# bulk service, so a second coral mesh node in A (coral-mesh-bench
# bulk-serve, uid 65534, 10.99.0.1) streams to the wireguard-go peer; B
# takes it as one more peer.
if [[ ! -x $MESH_BENCH ]]; then
  e2e_skip "[userspace] bulk download from coral's stack" "$MESH_BENCH missing (a build with the benchmarks)"
else
  why=""
  (umask 077 && wg genkey >"$NOBODY_DIR/home/node.key")
  NODE_PUB=$(wg pubkey <"$NOBODY_DIR/home/node.key")
  B_PORT=$(wg_wg B show "$B_IF" listen-port)
  {
    echo "[Interface]"
    echo "PrivateKey = $(cat "$NOBODY_DIR/home/node.key")"
    echo "Address = 10.99.0.1/32"
    echo "ListenPort = 51830"
    echo "[Peer]"
    echo "PublicKey = $LAPTOP_PUB"
    echo "Endpoint = ${WG_VIP[B]}:$B_PORT"
    echo "AllowedIPs = $LAPTOP_V4/32"
  } >"$NOBODY_DIR/home/node.conf"
  chown 65534:65534 "$NOBODY_DIR/home/node.conf" "$NOBODY_DIR/home/node.key"
  cp "$MESH_BENCH" "$NOBODY_DIR/coral-mesh-bench" && chmod 755 "$NOBODY_DIR/coral-mesh-bench"
  ip netns exec "${WG_NS[A]}" setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all \
    "$NOBODY_DIR/coral-mesh-bench" --conf "$NOBODY_DIR/home/node.conf" bulk-serve --port 9001 \
    </dev/null >"$E2E_WORK/node.log" 2>&1 &
  NODE_PID=$!
  wg_wg B set "$B_IF" peer "$NODE_PUB" endpoint "${WG_VIP[A]}:51830" allowed-ips 10.99.0.1/32 &&
    ip -n "${WG_NS[B]}" route add 10.99.0.1/32 dev "$B_IF" || w "adding the node to B failed"
  got=$(wg_in B timeout 40 python3 -c '
import socket, struct, sys, time
deadline = time.monotonic() + 10
while True:
    try:
        s = socket.create_connection(("10.99.0.1", 9001), timeout=2)
        break
    except OSError:
        if time.monotonic() > deadline: raise
        time.sleep(0.2)
s.settimeout(10)
s.sendall(b"D" + struct.pack(">I", 2000))
total, t0 = 0, time.monotonic()
while total < 32 * 1000 * 1000:
    chunk = s.recv(1 << 20)
    if not chunk: break
    total += len(chunk)
print(total, round(total * 8 / (time.monotonic() - t0) / 1e6))
' 2>&1)
  stop_pid "$NODE_PID" TERM 5
  NODE_PID=
  read -r bytes mbit <<<"$got"
  [[ $bytes =~ ^[0-9]+$ ]] && ((bytes >= 32000000)) || w "received: $(tr "\n" " " <<<"$got"); node: $(tail -n 3 "$E2E_WORK/node.log" | tr "\n" " ")"
  echo "# [userspace] download of 32 MB from coral's stack to the kernel's TCP: ${mbit:-?} Mbit/s"
  e2e_result "[userspace] bulk download: 32 MB from coral's stack (uid 65534) to the kernel's TCP over WireGuard" "$why"
fi

coral_a colony peers --json
why=""
if ((rc != 0)); then w "exit $rc: $out $err"
else
  entry=$(jq -c '.peers[] | select(.name == "laptop")' <<<"$out" 2>/dev/null)
  [[ $(jq -r .wireguard_device <<<"$out" 2>/dev/null) == true ]] || w "wireguard_device: $out"
  [[ -n $entry ]] || w "no laptop in $out"
  [[ $entry == *"\"$LAPTOP_V4\""* ]] || w "the laptop's IPv4 $LAPTOP_V4 not in $entry"
  [[ $(jq -r .wireguard.endpoint <<<"$entry") == "${WG_VIP[B]}":* ]] || w "endpoint: $entry"
  [[ -n $(jq -r '.wireguard.latest_handshake // empty' <<<"$entry") ]] || w "no latest_handshake: $entry"
  (($(jq -r '.wireguard.rx_bytes // 0' <<<"$entry") > 3000000)) || w "rx_bytes (3 MB came in): $entry"
fi
coral_a colony peers
[[ $out == *laptop*"s ago"* ]] || w "coral colony peers: no recent handshake: $out"
e2e_result "colony peers (--json): the laptop with its mesh IP, endpoint, a recent handshake and the bytes" "$why"

# ========================================================= 4. revoked
coral_a colony revoke laptop
why=""
((rc == 0)) || w "revoke: exit $rc: $out $err"
ping_none "$V4" || w "ping $V4 still answered"
get_status "$V4" --max-time 3
[[ $(jq -r .colonyId <<<"$body" 2>/dev/null) == "$ID" ]] && w "GetStatus still answered"
e2e_result "colony revoke laptop: from then on the peer gets nothing" "$why"
stop_colony

# ========================================================= 5. tun
why=""
out=$(ip netns exec "${WG_NS[A]}" timeout 10 setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
  --bounding-set=-all env -i PATH=/usr/bin:/bin HOME="$NOBODY_DIR/home" CORAL_CONFIG_DIR="$CFG" \
  "$NOBODY_DIR/coral" colony start "$ID" --mesh tun 2>&1 </dev/null)
rc=$?
((rc == 1)) || w "exit $rc, want 1"
[[ $out == *CAP_NET_ADMIN* ]] || w "no CAP_NET_ADMIN in: $out"
[[ $out == *"--mesh userspace"* ]] || w "no hint of --mesh userspace in: $out"
e2e_result "--mesh tun as uid 65534: exit 1, says CAP_NET_ADMIN and suggests --mesh userspace" "$why"

why=""
if ! start_colony tun root; then
  w "colony start --mesh tun (root): $(cat "$COLONY_LOG")"
else
  grep -q "tun transport" "$COLONY_LOG" || w "started message: $(head -n 3 "$COLONY_LOG")"
  # The colony runs as root now: so does its admin socket's client. The
  # laptop's key was revoked above, and revoked keys are remembered: a
  # new key for the second laptop.
  (umask 077 && wg genkey >"$NOBODY_DIR/home/laptop2.key")
  LAPTOP2_PUB=$(wg pubkey <"$NOBODY_DIR/home/laptop2.key")
  ip netns exec "${WG_NS[A]}" env HOME="$NOBODY_DIR/home" CORAL_CONFIG_DIR="$CFG" timeout 20 "$NOBODY_DIR/coral" \
    colony peers add laptop2 --pubkey "$LAPTOP2_PUB" --private-key-file "$NOBODY_DIR/home/laptop2.key" \
    --out "$NOBODY_DIR/home/laptop2.conf" >"$E2E_WORK/add2.log" 2>&1 || w "peers add laptop2: $(cat "$E2E_WORK/add2.log")"
fi
e2e_result "colony start --mesh tun (root, in ${WG_NS[A]}): TUN device cmsT$$" "$why"

if [[ -n $COLONY_PID ]]; then
  check_services tun "$NOBODY_DIR/home/laptop2.conf"
  # wg(8) reads the colony's device through its UAPI socket.
  peers=$(timeout 5 wg show "cmsT$$" peers 2>&1)
  e2e_result "[tun] wg show reads the colony's device (the laptop is its peer)" \
    "$([[ $peers == *"$LAPTOP2_PUB"* ]] || echo "wg show cmsT$$ peers: $peers")"
fi
stop_peer
stop_colony
why=""
ip -n "${WG_NS[A]}" link show "cmsT$$" >/dev/null 2>&1 && w "TUN device cmsT$$ still there after the colony stopped"
e2e_result "--mesh tun: the TUN device is gone when the colony stops" "$why"

e2e_summary
