#!/usr/bin/env bash
# The local proxy as a real mesh peer, with no privileges (RFD 005,
# "Connection Flow"; issue 14): two "machines" — network namespaces joined
# by a veth (tests/e2e/wg_lib.sh) — with every coral process running as
# uid 65534 with no capabilities (setpriv), and separate config directories.
#
#   A (the colony's machine): coral-discovery and the colony with its
#     defaults (`coral init`: 10.42.0.0/16, a random ULA, the userspace
#     mesh); on the network it has nothing but its WireGuard UDP port.
#   B (an operator's machine): a member file from `coral colony invite`,
#     carried across and `coral colony import`ed (never the colony's private
#     key); `coral proxy start` generates an ephemeral key, looks the colony
#     up, handshakes with its public endpoint, registers over the tunnel
#     (a provisional peer until then), and forwards the CLI's calls.
#
# Checks: the proxy's steps as the RFD prints them; `coral status`,
# `coral proxy status` (mesh IPs, tunnel); buf curl (Connect, gRPC,
# gRPC-Web) through the proxy to http://10.42.0.1:9000 and, with --ipv6, to
# the ULA; `coral proxy stop`'s lines; `coral status` with the proxy stopped
# (RFD 005's full-stack steps: the fallback); a wrong secret; revocation (the live
# proxy is cut off and says so) and rotate-secret; kill -9 and restart of
# the colony under a `coral status` loop, 10 s without the link, and a new
# colony UDP port re-registered in discovery — each healed within a stated
# bound with no command from the user; two colonies with the same subnets
# behind one proxy and behind two, `coral colony use` switching between
# them (the RFD's multi-colony steps); a proxy behind a masquerading NAT
# (nftables) idle past the NAT's UDP timeout.
#
# Usage: tests/e2e/tunnel_test.sh CORAL CORAL-DISCOVERY. Prints "ok NAME" /
# "FAIL NAME: WHY", then "N passed, M failed". Exits 77 (skipped) when not
# root (namespaces; coral itself runs unprivileged) or a tool is missing.
#
# Network: traffic only inside the two namespaces (ctnA<pid>, ctnB<pid>),
# deleted on exit; no default route in either. The mesh addresses exist only
# inside the userspace stacks of the colony and the proxy. Every process is
# stopped by its PID from the EXIT trap; every wait is bounded.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$here/lib.sh"
# shellcheck source=tests/e2e/wg_lib.sh
. "$here/wg_lib.sh"

CORAL=$(readlink -f "${1:-$root/build/release/apps/coral}")
DISC=$(readlink -f "${2:-$root/build/release/apps/coral-discovery}")
[[ -x $CORAL && -x $DISC ]] || { echo "FAIL setup: need coral and coral-discovery"; echo "0 passed, 1 failed"; exit 1; }
if ((EUID != 0)); then
  echo "SKIP: needs root (network namespaces; every coral process itself runs unprivileged)"
  exit 77
fi
e2e_need ip setpriv wg jq python3
BUF=${CORAL_BUF:-$root/tests/interop/node/node_modules/.bin/buf}
cd "$root" || exit 1 # buf curl resolves --schema from here

umask 077
e2e_init
NOBODY_DIR=
declare -A BGPID=()
tunnel_cleanup() {
  local status=$? name
  for name in "${!BGPID[@]}"; do stop_pid "${BGPID[$name]}" TERM 5; done
  # Daemonized proxies left by a check that failed half-way.
  local pid_file
  for pid_file in "$NOBODY_DIR"/home*/.coral/proxies/*.pid; do
    [[ -n $NOBODY_DIR && -s $pid_file ]] && stop_pid "$(head -n 1 "$pid_file")" TERM 5
  done
  wg_cleanup
  [[ -n $NOBODY_DIR ]] && rm -rf "$NOBODY_DIR"
  (exit "$status")
  e2e_cleanup
}
trap tunnel_cleanup EXIT

wg_init "$E2E_WORK" ctn "$CORAL" || e2e_fatal setup "wg genkey failed"
wg_net_up || e2e_fatal "setup: namespaces ${WG_NS[A]}, ${WG_NS[B]} and veth" "$WG_WHY"
NS_A=${WG_NS[A]}
NS_B=${WG_NS[B]}
HOST_A=${WG_VIP[A]}

# The unprivileged user's two machines: its own copy of coral and a home
# (config directory) on each.
NOBODY_DIR=$(mktemp -d /tmp/coral-tunnel-nobody.XXXXXX)
chmod 711 "$NOBODY_DIR"
cp "$CORAL" "$NOBODY_DIR/coral"
cp "$DISC" "$NOBODY_DIR/coral-discovery"
chmod 755 "$NOBODY_DIR/coral" "$NOBODY_DIR/coral-discovery"
for m in A B; do
  mkdir -p "$NOBODY_DIR/home$m"
  chown 65534:65534 "$NOBODY_DIR/home$m"
done
CFG_A=$NOBODY_DIR/homeA/.coral
CFG_B=$NOBODY_DIR/homeB/.coral
ID=tunnel-e2e
UDP=51820
DPORT=8080

# nobody_in SIDE CMD...: CMD in SIDE's namespace as uid/gid 65534, no
# groups, no capabilities, that machine's home and config directory.
nobody_in() {
  local side=$1
  shift
  ip netns exec "${WG_NS[$side]}" setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
    --bounding-set=-all env -i PATH=/usr/bin:/bin HOME="$NOBODY_DIR/home$side" \
    CORAL_CONFIG_DIR="$NOBODY_DIR/home$side/.coral" "$@"
}
# coral_on SIDE ARGS...: the unprivileged coral on SIDE, bounded; out/err/rc.
out="" err="" rc=0
coral_on() {
  local side=$1
  shift
  out=$(nobody_in "$side" timeout 30 "$NOBODY_DIR/coral" "$@" 2>"$E2E_WORK/coral.err" </dev/null)
  rc=$?
  err=$(cat "$E2E_WORK/coral.err")
}
# bg NAME SIDE CMD...: CMD as nobody in SIDE's namespace, in the
# background; ip netns exec, setpriv and env exec, so the PID is CMD's own.
bg() {
  local name=$1 side=$2
  shift 2
  ip netns exec "${WG_NS[$side]}" setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
    --bounding-set=-all env -i PATH=/usr/bin:/bin HOME="$NOBODY_DIR/home$side" \
    CORAL_CONFIG_DIR="$NOBODY_DIR/home$side/.coral" "$@" </dev/null >>"$E2E_WORK/$name.log" 2>&1 &
  BGPID[$name]=$!
}
bg_stop() { # bg_stop NAME [SIG]
  [[ -n ${BGPID[$1]:-} ]] || return 0
  stop_pid "${BGPID[$1]}" "${2:-TERM}" 10
  unset "BGPID[$1]"
}

why=""
w() { why+="${why:+; }$*"; }

# ================================================ A: discovery and the colony
bg disc A "$NOBODY_DIR/coral-discovery" --listen "$HOST_A:$DPORT"
e2e_wait 10 ip netns exec "$NS_A" bash -c "exec 3<>/dev/tcp/$HOST_A/$DPORT" 2>/dev/null ||
  e2e_fatal "coral-discovery in $NS_A" "$(cat "$E2E_WORK/disc.log")"

coral_on A init --app shop --env e2e --colony-id "$ID" --listen-port "$UDP" --discovery "http://$HOST_A:$DPORT"
((rc == 0)) || e2e_fatal "coral init (defaults) on A" "exit $rc: $out $err"
V6=$(awk '/^ *mesh_ipv6:/ { gsub(/"/, "", $2); print $2 }' "$CFG_A/colonies/$ID.yaml")
V6_PREFIX=${V6%::1}
COLONY_KEY=$(awk '/^ *private_key:/ { gsub(/"/, "", $2); print $2 }' "$CFG_A/colonies/$ID.yaml")
[[ $V6 == *::1 && -n $COLONY_KEY ]] || e2e_fatal "setup: the colony file" "mesh_ipv6 '$V6'"

start_colony() { # start_colony [--public-endpoint ...]: waits for its ✓ line (bounded)
  : >"$E2E_WORK/colony.log"
  bg colony A "$NOBODY_DIR/coral" colony start "$ID" --heartbeat-interval 1s \
    --public-endpoint "$HOST_A:$UDP" "$@"
  e2e_wait 10 grep -q '^✓' "$E2E_WORK/colony.log"
}
start_colony || e2e_fatal "colony start (userspace, uid 65534) on A" "$(cat "$E2E_WORK/colony.log")"
why=""
COLONY_PID=${BGPID[colony]}
uid=$(awk '/^Uid:/ { print $2 }' "/proc/$COLONY_PID/status" 2>/dev/null)
[[ $uid == 65534 ]] || w "colony uid '$uid'"
tcp=$(ip netns exec "$NS_A" ss -Htlnp 2>/dev/null | grep -c "pid=$COLONY_PID," || true)
udp=$(ip netns exec "$NS_A" ss -Hulnp 2>/dev/null | grep "pid=$COLONY_PID," | awk '{ print $4 }' | tr '\n' ' ')
((tcp == 0)) || w "$tcp TCP listener(s) of the colony on A's network"
[[ $udp == *":$UDP "* ]] || w "UDP sockets: '$udp'"
grep -q "userspace transport" "$E2E_WORK/colony.log" || w "started: $(head -n 4 "$E2E_WORK/colony.log")"
e2e_result "colony with init's defaults, uid 65534: only its WireGuard UDP port on the network" "$why"

# ================================================ the member file, carried across
MEMBER=$E2E_WORK/member.yaml
coral_on A colony invite "$ID" --out "$NOBODY_DIR/homeA/member.yaml"
why=""
((rc == 0)) || w "invite: exit $rc: $out $err"
cp "$NOBODY_DIR/homeA/member.yaml" "$MEMBER" 2>/dev/null || w "no member file"
mkdir -p "$NOBODY_DIR/homeB/in" && cp "$MEMBER" "$NOBODY_DIR/homeB/in/member.yaml" &&
  chown -R 65534:65534 "$NOBODY_DIR/homeB/in"
coral_on B colony import "$NOBODY_DIR/homeB/in/member.yaml"
[[ -z $why && $rc != 0 ]] && w "import: exit $rc: $out $err"
if [[ -z $why ]]; then
  grep -rqF "$COLONY_KEY" "$CFG_B" && w "B's config directory holds the colony's private key"
  [[ -e $CFG_B/colonies/$ID.yaml ]] && w "B has a colony file"
  mode=$(stat -c %a "$CFG_B/members/$ID.yaml" 2>/dev/null)
  [[ $mode == 600 ]] || w "member entry mode '$mode'"
fi
e2e_result "invite on A, import on B: a 0600 member entry, no colony private key on B" "$why"

# ================================================ B: the proxy over the tunnel
PPORT=8000
coral_on B proxy start "$ID" --port "$PPORT" --daemon --verbose
why=""
if ((rc != 0)); then w "exit $rc: $out $err"
else
  for want in "Resolving colony: $ID" " ↳ Querying discovery service at http://$HOST_A:$DPORT..." \
    " ↳ Colony endpoint: $HOST_A:$UDP (mesh IPs: 10.42.0.1 / $V6)" " ↳ Establishing WireGuard tunnel..." \
    " ↳ Registering as proxy peer..." " ↳ Assigned mesh IPs: 10.42.0.2 / ${V6_PREFIX}::2" \
    "Generating ephemeral WireGuard keypair..." "AllowedIPs: 10.42.0.0/16, ${V6_PREFIX}::/64" \
    "WireGuard tunnel established ($HOST_A:$UDP)" "POST http://[$V6]:9000/coral.mesh.v1.MeshService/Register" \
    "✓ Proxy started (PID:"; do
    [[ $out == *"$want"* ]] || { w "no '$want' in: $out"; break; }
  done
fi
e2e_result "proxy start on B (uid 65534): RFD 005's steps, --verbose's lines, assigned 10.42.0.2 / ::2" "$why"

status_ok() { # status_ok: coral status on B through the proxy names the colony
  coral_on B status
  ((rc == 0)) && [[ $out == *"Colony: $ID [ONLINE via proxy]"* ]]
}
why=""
status_ok || w "coral status: exit $rc: $out $err"
e2e_result "coral status on B -> [ONLINE via proxy]" "$why"

coral_on B proxy status
why=""
((rc == 0)) || w "exit $rc: $err"
for want in "Mesh IPs: 10.42.0.2 / ${V6_PREFIX}::2" "Tunnel: WireGuard (userspace, UDP port" "to $HOST_A:$UDP" \
  "Status: Connected"; do
  [[ $out == *"$want"* ]] || { w "no '$want' in: $out"; break; }
done
[[ $out == *"latest handshake never"* ]] && w "no handshake: $out"
e2e_result "proxy status on B: its mesh IPs, the tunnel (endpoint, latest handshake, bytes)" "$why"

# The proxy's own sockets on B: its localhost listener and one UDP socket.
why=""
PROXY_PID=$(cat "$CFG_B/proxies/$ID.pid" 2>/dev/null)
uid=$(awk '/^Uid:/ { print $2 }' "/proc/$PROXY_PID/status" 2>/dev/null)
[[ $uid == 65534 ]] || w "proxy uid '$uid'"
tcp=$(ip netns exec "$NS_B" ss -Htlnp 2>/dev/null | grep "pid=$PROXY_PID," | awk '{ print $4 }' | tr '\n' ' ')
[[ $tcp == "127.0.0.1:$PPORT " || $tcp == "127.0.0.1:$PPORT [::1]:$PPORT " || $tcp == "[::1]:$PPORT 127.0.0.1:$PPORT " ]] ||
  w "TCP listeners '$tcp'"
e2e_result "the proxy runs as uid 65534; it listens on localhost only" "$why"

if [[ -x $BUF ]]; then
  buf_call() { # buf_call PROTOCOL [--http2-prior-knowledge]
    ip netns exec "$NS_B" timeout 20 "$BUF" curl --schema proto --protocol "$1" "${@:2}" \
      -d '{}' "http://127.0.0.1:$PPORT/coral.colony.v1.ColonyService/GetStatus" 2>&1
  }
  why=""
  for p in connect grpc grpcweb; do
    extra=()
    [[ $p == grpc ]] && extra=(--http2-prior-knowledge)
    body=$(buf_call "$p" "${extra[@]}")
    [[ $(jq -r .colonyId <<<"$body" 2>/dev/null) == "$ID" ]] || { w "$p: $body"; break; }
  done
  e2e_result "buf curl through the proxy over the tunnel: Connect, gRPC, gRPC-Web" "$why"
else
  e2e_skip "buf curl through the proxy" "no buf at $BUF (npm ci in tests/interop/node)"
fi

coral_on B proxy stop "$ID"
why=""
((rc == 0)) || w "exit $rc: $err"
for want in "Stopping proxy for: $ID" " ↳ Closing WireGuard tunnel..." " ↳ Unregistering from colony..."; do
  [[ $out == *"$want"* ]] || { w "no '$want' in: $out"; break; }
done
e2e_result "proxy stop: Closing WireGuard tunnel..., Unregistering from colony..." "$why"

# RFD 005's full-stack steps 4-5: with the proxy stopped, `coral status`
# on B falls back to what the member entry says, and says how to connect.
coral_on B status
why=""
if ((rc == 0)); then w "exit 0 with no proxy: $out"
else
  for want in "Mesh IPs: 10.42.0.1 / $V6 (from the member file" "coral proxy start $ID"; do
    [[ "$out $err" == *"$want"* ]] || { w "no '$want' in: $out $err"; break; }
  done
fi
e2e_result "proxy stopped: coral status falls back to the member entry and says to start a proxy" "$why"

# IPv6 mesh target.
coral_on B proxy start "$ID" --port "$PPORT" --daemon --ipv6
why=""
((rc == 0)) || w "exit $rc: $out $err"
[[ -z $why && $out != *"Forwarding to colony at [$V6]:9000"* ]] && w "$out"
[[ -z $why ]] && { status_ok || w "coral status: $out $err"; }
e2e_result "proxy --ipv6: forwards to [$V6]:9000 through the tunnel" "$why"
coral_on B proxy stop "$ID"

# ================================================ faults, healed with no command
# A `coral status` loop on B while the fault happens; healed when it
# answers again, within the bound.
healed_within() { # healed_within SECONDS: status answers within SECONDS
  local deadline=$((SECONDS + $1))
  while ((SECONDS < deadline)); do
    status_ok && return 0
    sleep 0.5
  done
  return 1
}
coral_on B proxy start "$ID" --port "$PPORT" --daemon
((rc == 0)) || e2e_fatal "proxy start for the fault checks" "exit $rc: $out $err"
status_ok || e2e_fatal "coral status before the faults" "$out $err"

bg_stop colony KILL
t0=$SECONDS
start_colony || e2e_fatal "colony restart" "$(cat "$E2E_WORK/colony.log")"
why=""
healed_within 20 || w "coral status still failing 20 s after the restart: $out $err"
e2e_result "kill -9 and restart of the colony: coral status heals within 20 s ($((SECONDS - t0)) s)" "$why"

ip -n "$NS_B" link set "${WG_VETH[B]}" down
sleep 10
ip -n "$NS_B" link set "${WG_VETH[B]}" up
t0=$SECONDS
why=""
healed_within 30 || w "coral status still failing 30 s after the link came back: $out $err"
e2e_result "10 s without the network: heals within 30 s of its return ($((SECONDS - t0)) s)" "$why"

# A new UDP port: the colony re-registers it in discovery; the proxy looks
# it up again.
bg_stop colony TERM
UDP=51830
sed -i "s/^    listen_port: .*/    listen_port: $UDP/" "$CFG_A/colonies/$ID.yaml"
t0=$SECONDS
start_colony || e2e_fatal "colony start on UDP $UDP" "$(cat "$E2E_WORK/colony.log")"
why=""
healed_within 40 || w "coral status still failing 40 s after the move: $out $err"
coral_on B proxy status
[[ -z $why && $out != *"to $HOST_A:$UDP"* ]] && w "proxy status: $out"
e2e_result "the colony moved to UDP $UDP: the proxy re-looks it up and heals within 40 s ($((SECONDS - t0)) s)" "$why"

# ================================================ revocation and the secret
coral_on A colony peers "$ID" --json
PEER_ID=$(jq -r '[.peers[] | select(.kind == "proxy")][0].peer_id // empty' <<<"$out" 2>/dev/null)
coral_on A colony revoke "$PEER_ID" --colony "$ID"
why=""
((rc == 0)) || w "revoke '$PEER_ID': exit $rc: $out $err"
coral_on B status
[[ -z $why && $rc == 0 ]] && w "coral status still answered after the revocation"
deadline=$((SECONDS + 20))
while ((SECONDS < deadline)); do
  coral_on B proxy status
  [[ $out == *"Status: Revoked"* ]] && break
  sleep 0.5
done
[[ -z $why && $out != *"Status: Revoked"* ]] && w "proxy status after 20 s: $out"
coral_on B status
[[ -z $why && $err != *"revoked"* ]] && w "coral status: exit $rc: $err"
e2e_result "revoke: the live proxy is cut off at once; proxy status and coral status say revoked" "$why"
coral_on B proxy stop "$ID"

coral_on A colony rotate-secret "$ID"
why=""
((rc == 0)) || w "rotate-secret: exit $rc: $out $err"
coral_on B proxy start "$ID" --port "$PPORT" --daemon
[[ -z $why ]] && [[ $rc == 0 || $err != *"registration refused: wrong colony secret"* ]] &&
  w "proxy start with the old secret: exit $rc: $out $err"
coral_on B proxy stop "$ID"
coral_on A colony invite "$ID" --out "$NOBODY_DIR/homeA/member2.yaml"
[[ -z $why && $rc != 0 ]] && w "invite after the rotation: exit $rc: $out $err"
cp "$NOBODY_DIR/homeA/member2.yaml" "$NOBODY_DIR/homeB/in/member2.yaml" &&
  chown 65534:65534 "$NOBODY_DIR/homeB/in/member2.yaml"
coral_on B colony import "$NOBODY_DIR/homeB/in/member2.yaml" --force
[[ -z $why && $rc != 0 ]] && w "import of the new member file: exit $rc: $out $err"
coral_on B proxy start "$ID" --port "$PPORT" --daemon
[[ -z $why && $rc != 0 ]] && w "proxy start with the new member file: exit $rc: $out $err"
[[ -z $why ]] && { status_ok || w "coral status with the new secret: $out $err"; }
e2e_result "rotate-secret: the old member file is refused (wrong secret), a new invite joins" "$why"
coral_on B proxy stop "$ID"

# ================================================ two colonies with the same subnets
# A second colony on A with the first one's subnets (10.42.0.0/16 and the
# same ULA): one proxy serving both (path prefix / Colony-ID header), each
# colony with its own tunnel and stack, both proxies' mesh IPs 10.42.0.2;
# then a proxy for each.
ID2=tunnel-e2e-2
UDP2=51840
coral_on A init --app shop --env two --colony-id "$ID2" --listen-port "$UDP2" --discovery "http://$HOST_A:$DPORT" \
  --mesh-ipv6-net "${V6_PREFIX}::/64"
((rc == 0)) || e2e_fatal "init of a second colony with the same subnets" "exit $rc: $out $err"
: >"$E2E_WORK/colony2.log"
bg colony2 A "$NOBODY_DIR/coral" colony start "$ID2" --heartbeat-interval 1s --public-endpoint "$HOST_A:$UDP2"
e2e_wait 10 grep -q '^✓' "$E2E_WORK/colony2.log" || e2e_fatal "start of $ID2" "$(cat "$E2E_WORK/colony2.log")"
coral_on A colony invite "$ID2" --out "$NOBODY_DIR/homeA/member3.yaml"
cp "$NOBODY_DIR/homeA/member3.yaml" "$NOBODY_DIR/homeB/in/member3.yaml" &&
  chown 65534:65534 "$NOBODY_DIR/homeB/in/member3.yaml"
coral_on B colony import "$NOBODY_DIR/homeB/in/member3.yaml"
((rc == 0)) || e2e_fatal "import of $ID2's member file" "exit $rc: $out $err"
status_of() { # status_of ID: coral status --colony ID through a proxy names ID
  coral_on B status --colony "$1"
  ((rc == 0)) && [[ $out == *"Colony: $1 [ONLINE via proxy]"* ]]
}
coral_on B proxy start "$ID" "$ID2" --port "$PPORT" --daemon --verbose
why=""
((rc == 0)) || w "one proxy for both: exit $rc: $out $err"
[[ -z $why && $(grep -c " ↳ Assigned mesh IPs: 10.42.0.[0-9]* / ${V6_PREFIX}::" <<<"$out") != 2 ]] &&
  w "not assigned addresses of 10.42.0.0/16 in both meshes: $out"
[[ -z $why ]] && { status_of "$ID" || w "status of $ID: $out $err"; }
[[ -z $why ]] && { status_of "$ID2" || w "status of $ID2: $out $err"; }
e2e_result "two colonies with the same subnets behind one proxy: a tunnel and mesh IPs in each, both answer" "$why"
coral_on B proxy stop "$ID" "$ID2"

coral_on B proxy start "$ID" --port "$PPORT" --daemon
why=""
((rc == 0)) || w "proxy for $ID: exit $rc: $out $err"
coral_on B proxy start "$ID2" --port $((PPORT + 1)) --daemon
[[ -z $why && $rc != 0 ]] && w "proxy for $ID2: exit $rc: $out $err"
[[ -z $why ]] && { status_of "$ID" || w "status of $ID: $out $err"; }
[[ -z $why ]] && { status_of "$ID2" || w "status of $ID2: $out $err"; }
# Switching colonies with the CLI: the current colony's proxy answers.
coral_on B colony use "$ID2"
[[ -z $why && $rc != 0 ]] && w "colony use $ID2: exit $rc: $err"
coral_on B status
[[ -z $why && $out != *"Colony: $ID2 [ONLINE via proxy]"* ]] && w "after colony use $ID2: $out $err"
coral_on B colony use "$ID"
coral_on B status
[[ -z $why && $out != *"Colony: $ID [ONLINE via proxy]"* ]] && w "after colony use $ID: $out $err"
e2e_result "two colonies with the same subnets behind two proxies: both answer; coral colony use switches coral status between them" "$why"
coral_on B proxy stop "$ID2"
coral_on B proxy stop "$ID"
bg_stop colony2

# ================================================ NAT: the proxy behind a masquerading router
# A third machine N behind B, which masquerades N's traffic to A
# (nftables); A has no route to N. B's conntrack forgets idle UDP after
# 10 s, under the proxy's 25 s keepalive: after 15 s idle the proxy still
# answers (the colony follows it to whatever mapping it has: roaming).
if command -v nft >/dev/null 2>&1; then
  NS_N=ctnN$$
  WG_NS[N]=$NS_N
  why=""
  if ip netns add "$NS_N" 2>>"$E2E_WORK/nat.log"; then
    WG_NETNS_MADE+=("$NS_N")
    {
      ip link add "ctnvN$$" netns "$NS_N" type veth peer name "ctnvR$$" netns "$NS_B" &&
        ip -n "$NS_N" link set lo up && ip -n "$NS_N" addr add 192.168.252.2/24 dev "ctnvN$$" &&
        ip -n "$NS_N" link set "ctnvN$$" up && ip -n "$NS_B" addr add 192.168.252.1/24 dev "ctnvR$$" &&
        ip -n "$NS_B" link set "ctnvR$$" up && ip -n "$NS_N" route add 192.168.251.0/24 via 192.168.252.1 &&
        ip netns exec "$NS_B" sysctl -qw net.ipv4.ip_forward=1 &&
        ip netns exec "$NS_B" nft -f - <<NFT
table ip ctnat {
  chain post { type nat hook postrouting priority 100; oifname "${WG_VETH[B]}" masquerade; }
}
NFT
    } 2>>"$E2E_WORK/nat.log" || w "NAT setup: $(cat "$E2E_WORK/nat.log")"
    ip netns exec "$NS_B" sysctl -qw net.netfilter.nf_conntrack_udp_timeout=10 \
      net.netfilter.nf_conntrack_udp_timeout_stream=10 2>>"$E2E_WORK/nat.log" || true
  else
    w "ip netns add $NS_N: $(cat "$E2E_WORK/nat.log")"
  fi
  if [[ -z $why ]]; then
    mkdir -p "$NOBODY_DIR/homeN/in" && cp "$NOBODY_DIR/homeA/member2.yaml" "$NOBODY_DIR/homeN/in/member.yaml" &&
      chown -R 65534:65534 "$NOBODY_DIR/homeN"
    coral_on N colony import "$NOBODY_DIR/homeN/in/member.yaml"
    ((rc == 0)) || w "import on N: exit $rc: $out $err"
  fi
  if [[ -z $why ]]; then
    coral_on N proxy start "$ID" --port "$PPORT" --daemon
    ((rc == 0)) || w "proxy start behind the NAT: exit $rc: $out $err"
  fi
  nat_status() { coral_on N status; ((rc == 0)) && [[ $out == *"Colony: $ID [ONLINE via proxy]"* ]]; }
  [[ -z $why ]] && { nat_status || w "coral status behind the NAT: $out $err"; }
  if [[ -z $why ]]; then
    coral_on A colony peers "$ID" --json
    seen=$(jq -r '[.peers[] | select(.kind == "proxy") | .wireguard.endpoint // empty] | join(" ")' <<<"$out" 2>/dev/null)
    [[ $seen == "${WG_VIP[B]}:"* ]] || w "the colony sees the proxy at '$seen', not at the NAT's ${WG_VIP[B]}: $out"
  fi
  if [[ -z $why ]]; then
    sleep 15
    nat_status || w "coral status after 15 s idle (NAT timeout 10 s): $out $err"
  fi
  e2e_result "proxy behind a masquerading NAT: joins, the colony sees the NAT's address, still answers after idling past the NAT's UDP timeout" "$why"
  coral_on N proxy stop "$ID"
else
  e2e_skip "proxy behind a NAT" "nft is not installed"
fi

bg_stop colony
bg_stop disc
e2e_summary
