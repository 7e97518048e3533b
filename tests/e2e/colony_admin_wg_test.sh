#!/usr/bin/env bash
# A device added by hand joins the colony's WireGuard mesh with the standard
# tools, and revocation cuts it off: `coral colony peers add laptop
# --private-key-file ... --out laptop.conf`, then wireguard-go and `wg
# setconf` (no coral) in a network namespace reach the colony's services at
# its mesh address; `coral colony peers` shows the handshake; `coral colony
# revoke laptop` and the next request gets nothing.
#
# Usage: tests/e2e/colony_admin_wg_test.sh [CORAL [CORAL-DISCOVERY]]
#        tests/e2e/colony_admin_wg_test.sh BUILD_DIR
# Prints "ok   NAME" or "FAIL NAME: WHY" per check, then "N passed, M
# failed"; exits 1 on any failure, 77 (skipped) without root, ip,
# wireguard-go, wg, /dev/net/tun, or a coral whose colony runs on a
# userspace WireGuard mesh (`coral colony start --mesh userspace`).
# Env: E2E_KEEP=1 keeps the work directory.
#
# Setup: the colony on the host with --mesh userspace (coral's WireGuard on
# UDP, mesh 10.79.0.0/16), a namespace coral-adm<pid> joined to the host by
# a veth pair (192.168.253.1 host, .2 namespace), wireguard-go in the
# namespace configured from the wg-quick file. No default route in the
# namespace; it is deleted on exit.
set -uo pipefail

# shellcheck source=tests/e2e/cli_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh" # sources lib.sh; sets here (tests/e2e) and root

coral_binaries "$@"
T=10
e2e_init
export CORAL_CONFIG_DIR=$E2E_WORK/config

skip() {
  e2e_skip "device joins the mesh with wireguard-go" "$1"
  e2e_summary
  exit $?
}
((EUID == 0)) || skip "needs root (network namespace, TUN)"
for tool in ip wg wireguard-go curl jq python3; do
  command -v "$tool" >/dev/null || skip "$tool is not installed"
done
[[ -c /dev/net/tun ]] || skip "no /dev/net/tun"
"$CORAL" colony start --help 2>/dev/null | grep -q -- '--mesh .*userspace' ||
  skip "this coral has no userspace WireGuard mesh (coral colony start --mesh userspace)"

NS=coral-adm$$
HOST_VETH=cadmh$$
NS_VETH=cadmn$$
WG_IF=cadmw$$      # wireguard-go's interface in the namespace
COLONY_IF=cadmc$$  # the colony's UAPI socket name
E2E_NETNS=$NS      # deleted on exit, with the veth
e2e_daemons        # stops the colony by its PID file on exit

ip netns add "$NS" || e2e_fatal "setup" "ip netns add $NS"
ip link add "$HOST_VETH" type veth peer name "$NS_VETH" netns "$NS" &&
  ip addr add 192.168.253.1/24 dev "$HOST_VETH" && ip link set "$HOST_VETH" up &&
  ip -n "$NS" addr add 192.168.253.2/24 dev "$NS_VETH" && ip -n "$NS" link set "$NS_VETH" up &&
  ip -n "$NS" link set lo up || e2e_fatal "setup" "veth"
e2e_wait 5 ip netns exec "$NS" ping -c1 -W1 192.168.253.1 >/dev/null || e2e_fatal "setup" "no ping over the veth"

udp_port() {
  python3 -c 'import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 0))
print(s.getsockname()[1])
s.close()'
}
LP=$(udp_port)
CPORT=9000
ID=e2e-admin-wg
coral init --app shop --env e2e --colony-id "$ID" --mesh-ipv4-net 10.79.0.0/16 --listen-port "$LP" \
  --connect-port "$CPORT" --discovery http://127.0.0.1:9
((rc == 0)) || e2e_fatal "init" "exit $rc: $err"
coral colony start --daemon --mesh userspace --interface "$COLONY_IF" --public-endpoint "192.168.253.1:$LP"
((rc == 0)) || e2e_fatal "colony start --mesh userspace" "exit $rc: $out $err"

# ============================================ 1. the device's file
(umask 077 && wg genkey >"$E2E_WORK/laptop.key")
coral colony peers add laptop --private-key-file "$E2E_WORK/laptop.key" --out "$E2E_WORK/laptop.conf"
((rc == 0)) || e2e_fatal "peers add laptop" "exit $rc: $out $err"
ADDRESSES=$(sed -n 's/^Address = //p' "$E2E_WORK/laptop.conf")
V4=${ADDRESSES%%,*}
V6=${ADDRESSES#*, }
e2e_result "peers add: the device's addresses" "$( [[ $V4 == 10.79.0.2/16 && $V6 == *::2/64 ]] || echo "$ADDRESSES")"

# ============================================ 2. wireguard-go, wg setconf, ip: no coral
e2e_start wggo env WG_PROCESS_FOREGROUND=1 LOG_LEVEL=error ip netns exec "$NS" wireguard-go "$WG_IF"
e2e_wait 5 test -S "/var/run/wireguard/$WG_IF.sock" || e2e_fatal "wireguard-go" "no UAPI socket"
# wg reads every key of the file but wg-quick's Address.
grep -v '^Address' "$E2E_WORK/laptop.conf" >"$E2E_WORK/laptop.wg"
why=""
ip netns exec "$NS" wg setconf "$WG_IF" "$E2E_WORK/laptop.wg" 2>"$E2E_WORK/wg.err" || why="wg setconf: $(cat "$E2E_WORK/wg.err")"
[[ -z $why ]] && { ip -n "$NS" addr add "$V4" dev "$WG_IF" && ip -n "$NS" addr add "$V6" dev "$WG_IF" nodad &&
  ip -n "$NS" link set "$WG_IF" up; } 2>"$E2E_WORK/ip.err" || why="${why:-ip: $(cat "$E2E_WORK/ip.err")}"
e2e_result "wg setconf takes the file as it is (but Address, which is wg-quick's)" "$why"

status_from_device() { # GetStatus from the namespace, over the mesh
  http=$(ip netns exec "$NS" curl -sS --max-time "${1:-5}" -o "$E2E_WORK/body" -w '%{http_code}' \
    -H 'Content-Type: application/json' --data-binary '{}' \
    "http://10.79.0.1:$CPORT/coral.colony.v1.ColonyService/GetStatus" 2>"$E2E_WORK/curl.err")
  crc=$?
  body=$(cat "$E2E_WORK/body" 2>/dev/null)
}
e2e_wait 10 bash -c "ip netns exec $NS curl -s --max-time 2 -o /dev/null -d '{}' -H 'Content-Type: application/json' \
  http://10.79.0.1:$CPORT/coral.colony.v1.ColonyService/GetStatus"
status_from_device
why=""
if ((crc != 0)); then why="curl exit $crc: $(cat "$E2E_WORK/curl.err")"
elif [[ $http != 200 || $(j .colonyId) != "$ID" ]]; then why="HTTP $http: $body"
fi
e2e_result "the device reaches the colony's services at 10.79.0.1 over WireGuard" "$why"

coral colony peers --json
body=$out
why=""
if ((rc != 0)); then why="exit $rc: $err"
elif [[ $(j '.wireguard_device') != true ]]; then why="wireguard_device: $out"
elif [[ -z $(j '.peers[0].wireguard.latest_handshake') ]]; then why="no latest_handshake: $out"
elif [[ $(j '.peers[0].wireguard.endpoint') != 192.168.253.2:* ]]; then why="endpoint: $out"
elif (($(j '.peers[0].wireguard.rx_bytes // 0') == 0)); then why="rx_bytes: $out"
fi
e2e_result "peers --json: the device's endpoint, handshake and bytes" "$why"
coral colony peers
e2e_result "peers: the handshake is recent" "$( [[ $out == *"s ago"* ]] || echo "$out")"

# ============================================ 3. revoke
coral colony revoke laptop
((rc == 0)) || e2e_fail "revoke laptop" "exit $rc: $err"
status_from_device 3
why=""
if ((crc == 0)); then why="HTTP $http after revoke: $body"
fi
e2e_result "after revoke the device's next request gets nothing" "$why"
peers=$(wg show "$COLONY_IF" peers 2>&1)
e2e_result "after revoke the colony's device has no peer (wg show)" "$( [[ -z $peers ]] || echo "$peers")"

e2e_summary
