#!/usr/bin/env bash
# Records tests/vectors/wireguard/wireguard_go_handshake.txt: WireGuard
# handshakes and transport messages between Debian's wireguard-go and coral's
# protocol core, with fixed keys (test-only keys, published here).
#
# Needs root (network namespace, TUN device), wireguard-go, wg (wireguard-
# tools), ping, and the recorder: `ninja -C <build dir> wg-vectors-record`.
#
#   tools/wg-vectors/record.sh <build dir>/tools/wg-vectors/wg-vectors-record [output]
#
# Each run makes its own network namespace (cwgvec-<pid>) with only a
# loopback and the wireguard-go device in it, so no packet leaves it, and
# deletes it (and stops wireguard-go) on exit. The device name carries the
# PID too: wireguard-go's UAPI socket (/var/run/wireguard/NAME.sock) is not
# per namespace.
set -euo pipefail

recorder=${1:?usage: record.sh RECORDER [OUTPUT]}
output=${2:-$(cd "$(dirname "$0")/../.." && pwd)/tests/vectors/wireguard/wireguard_go_handshake.txt}
recorder=$(realpath "$recorder")

# Test-only keys: wg genkey / wg genpsk output, fixed so that coral's
# messages can be rebuilt byte for byte.
WG_PRIVATE='OKZ+Zu99InhviRUi2iYZaQj3AvCy7Ym51ALLbbow/Wo='
CORAL_PRIVATE='+GGqqa8hmjMOxIYo/52I94FBcfHbtvWRR9RcRdUOE2I='
RESPONDER_EPHEMERAL='cMTconMmQ0t/WUHaZR9KeAfzS25GYSL+JQYQ9+sQymU='
INITIATOR_EPHEMERAL='MOsGTCW0ErrblyD5niR8wErXOy+IC6E6dVlFu9IcvkE='
PSK='nRC0WZDwA2Mu8nCx1njzdcoVGHz9UfKJNvB9gcHhOXo='
WG_PORT=51820
CORAL_PORT=51821

ns=cwgvec-$$
dev=cwgvec$$
dev=${dev:0:15}
wg_pid=
recorder_pid=
cleanup() {
  [[ -n $recorder_pid ]] && kill "$recorder_pid" 2>/dev/null || true
  [[ -n $wg_pid ]] && kill "$wg_pid" 2>/dev/null && wait "$wg_pid" 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  rm -f "/var/run/wireguard/$dev.sock" "/tmp/$ns.key"
}
trap cleanup EXIT

wg_public=$(printf '%s' "$WG_PRIVATE" | wg pubkey)
coral_public=$(printf '%s' "$CORAL_PRIVATE" | wg pubkey)
version=$(wireguard-go --version | head -n1)
deb_version=$(dpkg-query -W -f='${Version}' wireguard-go 2>/dev/null || echo unknown)
records=$(mktemp)
trap 'cleanup; rm -f "$records"' EXIT

# One run per preshared-key setting: a fresh wireguard-go each time.
record_one() {
  local psk_args=() psk_flag=()
  if [[ $1 == psk ]]; then
    psk_args=(preshared-key /dev/stdin)
    psk_flag=(--psk "$PSK")
  fi
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip netns exec "$ns" env WG_PROCESS_FOREGROUND=1 wireguard-go "$dev" >/dev/null 2>&1 &
  wg_pid=$!
  for _ in $(seq 100); do
    [[ -S /var/run/wireguard/$dev.sock ]] && break
    sleep 0.05
  done
  (umask 077 && printf '%s' "$WG_PRIVATE" > "/tmp/$ns.key")
  printf '%s' "$PSK" | ip netns exec "$ns" wg set "$dev" private-key "/tmp/$ns.key" listen-port "$WG_PORT" \
    peer "$coral_public" "${psk_args[@]}" endpoint "127.0.0.1:$CORAL_PORT" allowed-ips 10.99.0.2/32
  rm -f "/tmp/$ns.key"
  ip -n "$ns" addr add 10.99.0.1/24 dev "$dev"
  ip -n "$ns" link set "$dev" up mtu 1420

  ip netns exec "$ns" "$recorder" --port "$CORAL_PORT" --wg-port "$WG_PORT" --wg-public "$wg_public" \
    --coral-private "$CORAL_PRIVATE" --responder-ephemeral "$RESPONDER_EPHEMERAL" \
    --initiator-ephemeral "$INITIATOR_EPHEMERAL" "${psk_flag[@]}" >> "$records" &
  recorder_pid=$!
  sleep 0.2
  # The ping makes wireguard-go initiate; coral never answers it (the
  # recorder only decrypts it), hence || true.
  ip netns exec "$ns" ping -c 1 -W 3 10.99.0.2 >/dev/null || true
  wait "$recorder_pid"
  recorder_pid=
  kill "$wg_pid"
  wait "$wg_pid" 2>/dev/null || true
  wg_pid=
  ip netns del "$ns"
}

record_one no-psk
record_one psk

{
  cat <<HEADER
# WireGuard known answers from a real reference peer, replayed by
# tests/unit/wireguard/vectors_test.cpp.
#
# Recorded $(date -u +%Y-%m-%d) by tools/wg-vectors/record.sh against Debian's
# wireguard-go $deb_version ($version), in a private network
# namespace: wireguard-go (device address 10.99.0.1/24, UDP 127.0.0.1:$WG_PORT)
# with coral as its one peer (allowed IP 10.99.0.2/32, endpoint
# 127.0.0.1:$CORAL_PORT), coral's side played by wg-vectors-record over the
# protocol core.
#
# [responder ...]: a ping from the namespace to 10.99.0.2 made wireguard-go
# initiate; coral responded with the fixed ephemeral key below; transport_in
# is wireguard-go's first transport message (the ICMP echo request),
# plaintext_in its decryption (zero-padded to 16 bytes).
# [initiator ...]: coral initiated with the fixed ephemeral key and
# timestamp below; wireguard-go responded; coral sent plaintext_out (an ICMP
# echo request 10.99.0.2 -> 10.99.0.1) as transport_out, and transport_in is
# wireguard-go's echo reply.
#
# Keys (base64, as wg prints them; test-only):
#   wireguard-go private  $WG_PRIVATE
#   wireguard-go public   $wg_public
#   coral private         $CORAL_PRIVATE
#   coral public          $coral_public
#   preshared key         $PSK (the "psk" sections only)
# send_key / receive_key are coral's. Byte strings are hex; indices are
# numbers written in hex (the wire carries them little-endian).
wireguard_go_public = $(printf '%s' "$wg_public" | base64 -d | od -An -tx1 -v | tr -d ' \n')
coral_private = $(printf '%s' "$CORAL_PRIVATE" | base64 -d | od -An -tx1 -v | tr -d ' \n')
HEADER
  cat "$records"
} > "$output"
echo "wrote $output"
