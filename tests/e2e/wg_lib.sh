# shellcheck shell=bash
# Two network namespaces joined by a veth pair, with one WireGuard peer in
# each: the setup of tests/e2e/wireguard_test.sh and bench/wireguard.sh.
# Sourced, not run. Each side's peer is either coral (`coral wg up FILE
# --interface NAME`, configured from a wg-quick style file) or Debian's
# wireguard-go (configured with `wg set` and `ip`), so that every pair of
# implementations runs in the same setup.
#
#   wg_init DIR PREFIX CORAL    names for this run (PREFIX + A|B + $$), keys
#                               and configs in DIR; CORAL is the coral binary
#   wg_net_up                   the namespaces and the veth; sets WG_WHY on failure
#   wg_start SIDE IMPL          SIDE A|B, IMPL coral|wggo; returns when the
#                               device answers on its UAPI socket (coral: and
#                               printed its "✓" line) and is configured
#   wg_stop SIDE [SIG] [SECS]   signals the peer (TERM), waits at most SECS (5)
#                               then KILLs it; sets WG_STATUS (exit status or
#                               "killed"); true if it was running
#   wg_bg NAME SIDE CMD...      CMD in SIDE's namespace in the background,
#                               output in DIR/NAME.log; wg_bg_stop NAME
#   wg_in SIDE CMD...           CMD in SIDE's namespace
#   wg_wg SIDE ARGS...          `wg ARGS` in SIDE's namespace, bounded
#   wg_fg CMD...                CMD in the background, waited for: a trapped
#                               signal (Ctrl-C, TERM) ends the wait at once
#                               (bash defers traps while a foreground command
#                               runs, and `timeout` moves its command out of
#                               the terminal's process group)
#   wg_cleanup                  every process stopped by PID, namespaces deleted
#
# Options read by wg_start: WG_PSK (a preshared-key file, or empty),
# WG_REKEY (coral only: CORAL_WG_REKEY_AFTER_SECONDS, or empty), WG_MTU
# (1420), WG_START_TIMEOUT (seconds, 10).
#
# Addresses: veth 192.168.251.1/24 (A) and .2/24 (B); WireGuard UDP ports
# 51820 (A) and 51821 (B); mesh 10.42.0.1/16 + fd42::1/64 (A) and .2 / ::2
# (B), on the WireGuard devices only. No default route exists in either
# namespace, so no packet can leave them. The UAPI sockets
# (/var/run/wireguard/NAME.sock) are not per namespace: every device of a run
# has its own name, and names carry the PID of the run.
#
# Every process started here is recorded by PID and stopped by wg_cleanup,
# which the sourcing script calls from its EXIT trap. Uses e2e_wait and
# stop_pid from tests/e2e/lib.sh, which the sourcing script sources first.

# shellcheck disable=SC2034 # WG_* are read by the sourcing scripts
declare -gA WG_NS=() WG_IF=() WG_VETH=() WG_VIP=() WG_PORT=() WG_M4=() WG_M6=() WG_KEY=() WG_PUB=()
declare -gA WG_PID=() WG_IMPL=() WG_LOG=() WG_STARTS=() WG_BG=()
WG_DIR=
WG_CORAL=
WG_WHY=
WG_STATUS=
WG_READY_MS=
WG_PSK=${WG_PSK:-}
WG_REKEY=${WG_REKEY:-}
WG_MTU=${WG_MTU:-1420}
WG_START_TIMEOUT=${WG_START_TIMEOUT:-10}
WG_NETNS_MADE=()
WG_SOCK_DIR=/var/run/wireguard

wg_init() {
  local s
  WG_DIR=$1
  WG_CORAL=$3
  WG_NS=([A]="$2A$$" [B]="$2B$$")
  WG_IF=([A]="$2A$$" [B]="$2B$$")          # <= 15 characters while $$ < 10^8
  WG_VETH=([A]="$2vA$$" [B]="$2vB$$")
  WG_VIP=([A]=192.168.251.1 [B]=192.168.251.2)
  WG_PORT=([A]=51820 [B]=51821)
  WG_M4=([A]=10.42.0.1 [B]=10.42.0.2)
  WG_M6=([A]=fd42::1 [B]=fd42::2)
  for s in A B; do
    WG_KEY[$s]=$WG_DIR/$s.key
    WG_STARTS[$s]=0
    (umask 077 && wg genkey >"${WG_KEY[$s]}") || return 1
    WG_PUB[$s]=$(wg pubkey <"${WG_KEY[$s]}") || return 1
  done
  (umask 077 && wg genpsk >"$WG_DIR/psk") || return 1
}

wg_other() { [[ $1 == A ]] && echo B || echo A; }
wg_in() {
  local s=$1
  shift
  ip netns exec "${WG_NS[$s]}" "$@"
}
wg_wg() {
  local s=$1
  shift
  ip netns exec "${WG_NS[$s]}" timeout 5 wg "$@"
}
wg_alive() { [[ -n ${WG_PID[$1]:-} ]] && kill -0 "${WG_PID[$1]}" 2>/dev/null; }
wg_uapi_ready() { wg_wg "$1" show "${WG_IF[$1]}" public-key >/dev/null 2>&1; }


WG_FG_PID=
wg_fg() {
  local rc
  "$@" &
  WG_FG_PID=$!
  wait "$WG_FG_PID"
  rc=$?
  WG_FG_PID=
  return "$rc"
}

wg_net_up() {
  local s
  WG_WHY=
  for s in A B; do
    ip netns add "${WG_NS[$s]}" 2>"$WG_DIR/ip.err" || { WG_WHY="ip netns add ${WG_NS[$s]}: $(cat "$WG_DIR/ip.err")"; return 1; }
    WG_NETNS_MADE+=("${WG_NS[$s]}")
  done
  ip link add "${WG_VETH[A]}" netns "${WG_NS[A]}" type veth peer name "${WG_VETH[B]}" netns "${WG_NS[B]}" \
    2>"$WG_DIR/ip.err" || { WG_WHY="veth: $(cat "$WG_DIR/ip.err")"; return 1; }
  for s in A B; do
    {
      ip -n "${WG_NS[$s]}" link set lo up &&
        ip -n "${WG_NS[$s]}" addr add "${WG_VIP[$s]}/24" dev "${WG_VETH[$s]}" &&
        ip -n "${WG_NS[$s]}" link set "${WG_VETH[$s]}" up
    } 2>"$WG_DIR/ip.err" ||
      { WG_WHY="veth setup in ${WG_NS[$s]}: $(cat "$WG_DIR/ip.err")"; return 1; }
  done
  # The veth is usable once both ends are up (carrier): bounded wait.
  e2e_wait 5 wg_in A ping -c 1 -W 1 -q "${WG_VIP[B]}" >/dev/null 2>&1 ||
    { WG_WHY="no ping over the veth ${WG_VIP[A]} -> ${WG_VIP[B]}"; return 1; }
}

# wg_conf SIDE FILE: the wg-quick style file `coral wg up` reads for SIDE.
wg_conf() {
  local s=$1 file=$2 o
  o=$(wg_other "$s")
  (
    umask 077
    {
      echo "# coral wg up config of side $s (${WG_NS[$s]}), written by wg_lib.sh"
      echo "[Interface]"
      echo "PrivateKey = $(cat "${WG_KEY[$s]}")"
      echo "ListenPort = ${WG_PORT[$s]}"
      echo "Address = ${WG_M4[$s]}/16, ${WG_M6[$s]}/64"
      echo "MTU = $WG_MTU"
      echo
      echo "[Peer]"
      echo "PublicKey = ${WG_PUB[$o]}"
      [[ -n $WG_PSK ]] && echo "PresharedKey = $(cat "$WG_PSK")"
      echo "Endpoint = ${WG_VIP[$o]}:${WG_PORT[$o]}"
      echo "AllowedIPs = ${WG_M4[$o]}/32, ${WG_M6[$o]}/128"
    } >"$file"
  )
}

# wg_start SIDE IMPL: starts the peer of SIDE and waits (bounded) until it is
# ready; on failure WG_WHY says why and the process is stopped. Sets
# WG_READY_MS (launch -> ready).
wg_start() {
  local s=$1 impl=$2 o log t0 i ready=0 envs=()
  o=$(wg_other "$s")
  WG_WHY=
  if wg_alive "$s"; then WG_WHY="side $s already runs (pid ${WG_PID[$s]})"; return 1; fi
  WG_STARTS[$s]=$((WG_STARTS[$s] + 1))
  log=$WG_DIR/$s-$impl.${WG_STARTS[$s]}.log
  t0=${EPOCHREALTIME/./}
  case $impl in
    coral)
      wg_conf "$s" "$WG_DIR/$s.conf"
      [[ -n $WG_REKEY ]] && envs+=("CORAL_WG_REKEY_AFTER_SECONDS=$WG_REKEY")
      # ip netns exec and env exec: $! is coral itself. stdout and stderr
      # apart, so that the "✓" line is known to come on stdout.
      ip netns exec "${WG_NS[$s]}" env "${envs[@]}" "$WG_CORAL" wg up "$WG_DIR/$s.conf" --interface "${WG_IF[$s]}" \
        </dev/null >"$log" 2>"${log%.log}.err.log" &
      ;;
    wggo)
      # WG_PROCESS_FOREGROUND=1: no daemonizing re-exec, so $! is the daemon.
      env WG_PROCESS_FOREGROUND=1 LOG_LEVEL=error ip netns exec "${WG_NS[$s]}" wireguard-go "${WG_IF[$s]}" \
        </dev/null >"$log" 2>&1 &
      ;;
    *) WG_WHY="unknown implementation '$impl'"; return 1 ;;
  esac
  WG_PID[$s]=$!
  WG_IMPL[$s]=$impl
  WG_LOG[$s]=$log
  for ((i = 0; i < WG_START_TIMEOUT * 50; i++)); do
    if ! wg_alive "$s"; then
      local rc=0
      wait "${WG_PID[$s]}" 2>/dev/null || rc=$?
      WG_WHY="$impl on side $s exited with status $rc before it was ready: $(tail -n 5 "$log" "${log%.log}.err.log" 2>/dev/null | tr '\n' ' ')"
      unset "WG_PID[$s]"
      return 1
    fi
    if { [[ $impl == wggo ]] || grep -qs '^✓' "$log"; } && wg_uapi_ready "$s"; then
      ready=1
      break
    fi
    ((${EPOCHREALTIME/./} - t0 < WG_START_TIMEOUT * 1000000)) || break
    sleep 0.02
  done
  if ((!ready)); then
    WG_WHY="$impl on side $s not ready within ${WG_START_TIMEOUT} s ($([[ $impl == coral ]] && echo "no line starting with ✓ on stdout and/or ")no answer on $WG_SOCK_DIR/${WG_IF[$s]}.sock): $(tail -n 5 "$log" "${log%.log}.err.log" 2>/dev/null | tr '\n' ' ')"
    wg_stop "$s"
    return 1
  fi
  if [[ $impl == wggo ]]; then
    local psk=()
    [[ -n $WG_PSK ]] && psk=(preshared-key "$WG_PSK")
    if ! {
      wg_wg "$s" set "${WG_IF[$s]}" listen-port "${WG_PORT[$s]}" private-key "${WG_KEY[$s]}" \
        peer "${WG_PUB[$o]}" "${psk[@]}" endpoint "${WG_VIP[$o]}:${WG_PORT[$o]}" \
        allowed-ips "${WG_M4[$o]}/32,${WG_M6[$o]}/128" &&
        ip -n "${WG_NS[$s]}" addr add "${WG_M4[$s]}/16" dev "${WG_IF[$s]}" &&
        ip -n "${WG_NS[$s]}" addr add "${WG_M6[$s]}/64" dev "${WG_IF[$s]}" nodad &&
        ip -n "${WG_NS[$s]}" link set "${WG_IF[$s]}" mtu "$WG_MTU" up
    } >>"$log" 2>&1; then
      WG_WHY="configuring wireguard-go on side $s failed: $(tail -n 3 "$log" | tr '\n' ' ')"
      wg_stop "$s"
      return 1
    fi
  fi
  WG_READY_MS=$(((${EPOCHREALTIME/./} - t0) / 1000))
}

# wg_stop SIDE [SIGNAL] [SECONDS]
wg_stop() {
  local s=$1 pid=${WG_PID[$1]:-}
  WG_STATUS=
  [[ -n $pid ]] || return 1
  stop_pid "$pid" "${2:-TERM}" "${3:-5}"
  WG_STATUS=$E2E_STATUS
  # A killed daemon leaves its socket file behind (ours: the name is this run's).
  [[ $WG_STATUS == killed ]] && rm -f "$WG_SOCK_DIR/${WG_IF[$s]}.sock"
  unset "WG_PID[$s]"
  return 0
}

# wg_bg NAME SIDE CMD...: a helper process (iperf3 -s, ...) in SIDE's namespace.
wg_bg() {
  local name=$1 s=$2
  shift 2
  ip netns exec "${WG_NS[$s]}" "$@" </dev/null >>"$WG_DIR/$name.log" 2>&1 &
  WG_BG[$name]=$!
}
wg_bg_stop() {
  [[ -n ${WG_BG[$1]:-} ]] || return 0
  stop_pid "${WG_BG[$1]}" TERM 3
  unset "WG_BG[$1]"
}

wg_cleanup() {
  local s name ns
  [[ -n $WG_FG_PID ]] && stop_pid "$WG_FG_PID" TERM 3
  WG_FG_PID=
  for s in A B; do wg_stop "$s" TERM 3; done
  for name in "${!WG_BG[@]}"; do wg_bg_stop "$name"; done
  for ns in "${WG_NETNS_MADE[@]}"; do ip netns del "$ns" 2>/dev/null; done
  WG_NETNS_MADE=()
  return 0
}

# wg_has_coral CORAL: `coral wg up` exists. A CLI that does not know `wg`
# prints its top-level help for `wg up --help` and exits 0, so the help must
# also mention --interface, which only `coral wg up` has.
wg_has_coral() {
  local help
  help=$(timeout 10 "$1" wg up --help 2>&1) && [[ $help == *--interface* ]]
}
