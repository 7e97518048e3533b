#!/usr/bin/env bash
# bench/mesh.sh: coral's userspace mesh (coral's WireGuard + the userspace
# TCP/IP stack, over loopback UDP) against the wg-netstack anchor
# (wireguard-go + gVisor) and the host transport, in the same run:
#   (a) one bulk TCP stream, up and down, IPv4 and IPv6, between two
#       coral-mesh-bench nodes, and the anchor's raw TCP between its two
#       gVisor stacks (its proxy's /_anchor/tcpbulk);
#   (b) unary GetStatus at -c16 -m16 and -c1 -m1: coral-mesh-bench (itself a
#       userspace mesh peer, registered with `coral colony peers add`)
#       against `coral colony start --mesh userspace` over IPv4 and IPv6;
#       the same load generator over host TCP against `coral colony start
#       --mesh host` (127.42.0.0/16: the no-tunnel baseline); h2load through
#       the anchor's wgns proxy to its colony.
set -uo pipefail

usage() {
  cat <<'EOF'
usage: bench/mesh.sh [--help]

Bulk TCP throughput and unary RPC over coral's userspace mesh, against the
wg-netstack anchor (wireguard-go + gVisor, ../shared/anchors/wg-netstack)
and coral's host transport, in the same run, on loopback only (UDP for
WireGuard, TCP for the host baseline and the anchor's proxy); the mesh
addresses exist only inside the userspace stacks. Prints markdown tables
(median of REPS) and the goals.

Knobs (environment):
  DURATION     measured seconds per run [10]
  WARMUP       unrecorded seconds before each unary run [2]
  REPS         repetitions of every run (interleaved) [3]
  PARTS        "bulk unary" or one of them [bulk unary]
  SKIP_BUILD   1: build/install nothing, use what is there [0]
  BUILD_DIR    coral's build [build/release]
  SHARED_DIR   where anchors/ lives [<git top>/../shared]
  ANCHOR_BIN   the anchor's binaries (wgns, built by its build.sh) [build/anchors]
EOF
  usage_lock_knobs
  cat <<'EOF'

Quick check: DURATION=2 WARMUP=1 REPS=1 QUIET_WAIT=5 bench/mesh.sh
Results: build/bench/<UTC stamp>-mesh/ (summary.md, bulk.tsv, unary.tsv,
per-run outputs, logs, keys and wg-quick files of the run). Exit status: 0
if every run succeeded, 1 if any failed or a process died, 2 on bad usage or
setup. Goals print MET / NOT MET and do not change the exit status.
EOF
}

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_setup "$@"
defaults DURATION=10 WARMUP=2 REPS=3 PREWARM=0 PROTO=0 PARTS="bulk unary" SHARED_DIR="$ROOT/../shared" \
  ANCHOR_BIN="$ROOT/build/anchors"
uint_knobs DURATION WARMUP REPS
((DURATION >= 1 && REPS >= 1)) || die "DURATION and REPS must be >= 1"
for p in $PARTS; do [[ $p == bulk || $p == unary ]] || die "PARTS: unknown part '$p' (bulk, unary)"; done
part() { [[ " $PARTS " == *" $1 "* ]]; }

ANCHOR_DIR=$SHARED_DIR/anchors/wg-netstack
[[ -x $ANCHOR_DIR/build.sh ]] || die "the wg-netstack anchor is not at $ANCHOR_DIR (set SHARED_DIR)"
CORAL=$BUILD_DIR/apps/coral
MESHB=$BUILD_DIR/bench/coral-mesh-bench
RPCB=$BUILD_DIR/bench/coral-rpc-bench-server
WGNS=$ANCHOR_BIN/wgns
RPC_PATH=/coral.colony.v1.ColonyService/GetStatus
HOST=127.0.0.1 # port_busy's default host (lib.sh)
export HOST
CLK_TCK=$(getconf CLK_TCK)

bench_run_dir mesh
NOTES=$RUN/notes.txt
: >"$NOTES"
H2LOAD_PID=
bench_traps stop_everything

# ---------------------------------------------------------------- 1. prepare
log "prepare (results: $RUN)"
need_tool h2load nghttp2-client
need_tool curl curl
need_tool wg wireguard-tools
need_tool sqlite3 sqlite3
install_needed --no-install-recommends
if [[ $SKIP_BUILD != 1 ]]; then
  build_targets "$RUN/build-coral.log" coral coral-mesh-bench coral-rpc-bench-server
  if [[ ! -x $WGNS || -n $(find "$ANCHOR_DIR/src/wgns" -newer "$WGNS" -name '*.go' 2>/dev/null) ]]; then
    log "build the anchor ($ANCHOR_DIR/build.sh $ANCHOR_BIN)"
    GO_BUILD_CACHE=$ANCHOR_BIN/go-cache "$ANCHOR_DIR/build.sh" "$ANCHOR_BIN" >"$RUN/build-anchor.log" 2>&1 ||
      die "the anchor's build failed (log: $RUN/build-anchor.log)"
  fi
fi
for b in "$CORAL" "$MESHB" "$RPCB" "$WGNS"; do [[ -x $b ]] || die "$b missing (run without SKIP_BUILD=1)"; done

udp_rcvbuf_errors() { # IPv4 + IPv6 RcvbufErrors of the host (all sockets)
  awk '/^Udp:/ { if (!h) { for (i = 1; i <= NF; i++) k[$i] = i; h = 1 } else s += $k["RcvbufErrors"] }
       /^Udp6RcvbufErrors/ { s += $2 } END { print s + 0 }' /proc/net/snmp /proc/net/snmp6
}
# run_delay_ms PID: how long its threads were runnable but waited for a CPU
# (/proc/PID/task/*/schedstat), ms: what other load costs a run.
run_delay_ms() {
  cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $2 } END { printf "%.0f", s / 1e6 }'
}
kv() { sed -nE "s/(^|.* )$2=([^ ]*).*/\2/p" <<<"$1" | tail -1; }

# stats_line NAME: the last "stats:" line NAME prints on SIGUSR1 (coral-mesh-bench
# bulk-serve and wgns both do), after asking for a fresh one.
stats_line() {
  local s=$1 n0 i
  n0=$(grep -c 'stats: ' "${LOGF[$s]}")
  kill -USR1 "${PID[$s]}" 2>/dev/null
  for ((i = 0; i < 100; i++)); do
    (($(grep -c 'stats: ' "${LOGF[$s]}") > n0)) && break
    sleep 0.02
  done
  grep 'stats: ' "${LOGF[$s]}" | tail -1 | sed 's/.*stats: //'
}

KEYS=$RUN/keys
mkdir -p "$KEYS" && chmod 700 "$KEYS"
genkey() { (umask 077 && wg genkey >"$KEYS/$1.key") && wg pubkey <"$KEYS/$1.key" >"$KEYS/$1.pub"; }
for k in bulk-a bulk-b standin-a standin-b anchor-colony anchor-proxy loadgen; do genkey "$k"; done
key() { cat "$KEYS/$1.key"; }
pub() { cat "$KEYS/$1.pub"; }

{
  env_common load
  echo "coral: $CORAL, tree $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src bench/mesh_peer.cpp 2>/dev/null || echo ' + uncommitted changes')"
  echo "anchor: $WGNS ($(go version 2>/dev/null | cut -d' ' -f3); gvisor $(dpkg-query -W -f='${Version}' golang-gvisor-gvisor-dev 2>/dev/null); wireguard-go $(dpkg-query -W -f='${Version}' golang-golang.zx2c4-wireguard-dev 2>/dev/null))"
  echo "h2load: $(h2load --version | head -1)"
  echo "knobs: DURATION=$DURATION WARMUP=$WARMUP REPS=$REPS PARTS='$PARTS' QUIET_PCT=$QUIET_PCT QUIET_WAIT=$QUIET_WAIT, CLK_TCK=$CLK_TCK"
  echo "net.core.rmem_max=$(cat /proc/sys/net/core/rmem_max) wmem_max=$(cat /proc/sys/net/core/wmem_max)"
} >"$RUN/env.txt"
cat "$RUN/env.txt" >&2

# start_bg NAME CMD...: CMD in the background, output to LOGF[NAME]; waits
# (10 s at most) for WAIT_FOR (a regex) in its log when set.
start_bg() {
  local s=$1 i
  shift
  LOGF[$s]=${LOGF[$s]:-$RUN/$s.log}
  "$@" >"${LOGF[$s]}" 2>&1 &
  PID[$s]=$!
  echo "$s: pid ${PID[$s]}: $*" | sed -E 's/(-private-key )[^ ]+/\1<key>/' >>"$RUN/commands.txt"
  [[ -z ${WAIT_FOR:-} ]] && return 0
  for ((i = 0; i < 100; i++)); do
    grep -qE "$WAIT_FOR" "${LOGF[$s]}" && return 0
    alive "$s" || { reap_dead "$s"; return 1; }
    sleep 0.1
  done
  note "$s: '$WAIT_FOR' not in its log after 10 s"
  return 1
}

# measure OUT CMD...: CMD (output in OUT) under the lock, once the machine is
# quiet; the CPU ticks of the pids in SAMPLE before and after (TICKS0,
# TICKS2), CMD's own CPU (CMD_CPU_MS, from `times`), WALL_MS, OTHER_PCT (the
# machine's busy time minus SAMPLE's and CMD's, % of one core), UDP_DROPS,
# RC, WAITED, BUSY_NOTE.
measure() {
  local out=$1 t0 i a b
  shift
  t0=$(date +%s)
  take_lock
  BUSY_NOTE=
  wait_quiet || BUSY_NOTE="machine busy (${BUSY_PCT}% of a core) after waiting ${QUIET_WAIT}s; "
  WAITED=$(($(date +%s) - t0))
  [[ -n $BUSY_NOTE ]] && note "${out##*/}: started although the machine was busy (${BUSY_PCT}% of a core)"
  [[ -n ${BEFORE_HOOK:-} ]] && $BEFORE_HOOK
  local u0 u1
  u0=$(udp_rcvbuf_errors)
  times >"$out.times0"
  W0=$(now_us); B0=$(busy_ticks)
  for i in "${!SAMPLE[@]}"; do TICKS0[i]=$(cpu_ticks "${SAMPLE[i]}"); RD0[i]=$(run_delay_ms "${SAMPLE[i]}"); done
  timeout $((DURATION + WARMUP + 90)) "$@" >"$out" 2>"$out.err" {LK}>&-
  RC=$?
  W1=$(now_us); B1=$(busy_ticks)
  for i in "${!SAMPLE[@]}"; do TICKS2[i]=$(cpu_ticks "${SAMPLE[i]}"); RD2[i]=$(run_delay_ms "${SAMPLE[i]}"); done
  times >"$out.times1"
  u1=$(udp_rcvbuf_errors)
  [[ -n ${AFTER_HOOK:-} ]] && $AFTER_HOOK
  drop_lock
  UDP_DROPS=$((u1 - u0))
  WALL_MS=$(((W1 - W0) / 1000))
  CMD_CPU_MS=$(cat "$out.times0" "$out.times1" | awk '
    function sec(x,  m) { m = x; sub(/m.*/, "", m); sub(/^[0-9]+m/, "", x); sub(/s$/, "", x); return m * 60 + x }
    NR == 2 { a = sec($1) + sec($2) } NR == 4 { b = sec($1) + sec($2) } END { printf "%.0f", (b - a) * 1000 }')
  rm -f "$out.times0" "$out.times1"
  a=0
  for i in "${!SAMPLE[@]}"; do a=$((a + TICKS2[i] - TICKS0[i])); done
  OTHER_PCT=$(awk -v b="$((B1 - B0 - a))" -v tck="$CLK_TCK" -v wall="$WALL_MS" -v cmd="$CMD_CPU_MS" \
    'BEGIN { o = (wall > 0 ? (b * 1000 / tck - cmd) * 100 / wall : 0); if (o < 0) o = 0; printf "%.0f", o }')
  b=$(((TICKS2[0] - TICKS0[0]) * 1000 / CLK_TCK))
  SAMPLE_MS=("$b")
  for ((i = 1; i < ${#SAMPLE[@]}; i++)); do SAMPLE_MS+=("$(((TICKS2[i] - TICKS0[i]) * 1000 / CLK_TCK))"); done
  WAIT_PCT=()
  for i in "${!SAMPLE[@]}"; do WAIT_PCT+=("$(((RD2[i] - RD0[i]) * 100 / (WALL_MS > 0 ? WALL_MS : 1)))"); done
}
RD0=() RD2=() WAIT_PCT=()

# ------------------------------------------------------------------ 2. bulk
BULK=$RUN/bulk.tsv
printf 'path\tip\tdir\trep\tok\tmbps\tclient_cores\tserver_cores\tretransmits\tspurious\tudp_drops\tother_pct\twait_s\tclient_runq_pct\tserver_runq_pct\tnote\n' >"$BULK"

# pair_confs NAME: RUN/NAME-a.conf (the server, 10.42.0.1 / fd42::1) and
# RUN/NAME-b.conf (the client, 10.42.0.2 / fd42::2), each the other's only
# peer, on two free loopback UDP ports.
pair_confs() {
  local n=$1 pa pb
  pa=$(free_udp) && pb=$(free_udp) || die "no free UDP port"
  while [[ $pb == "$pa" ]]; do pb=$(free_udp); done
  umask 077
  cat >"$RUN/$n-a.conf" <<EOF
# $n server: 10.42.0.1 / fd42::1
[Interface]
PrivateKey = $(key "$n-a")
ListenPort = $pa
Address = 10.42.0.1/16, fd42::1/64
[Peer]
PublicKey = $(pub "$n-b")
Endpoint = 127.0.0.1:$pb
AllowedIPs = 10.42.0.2/32, fd42::2/128
EOF
  cat >"$RUN/$n-b.conf" <<EOF
# $n client: 10.42.0.2 / fd42::2
[Interface]
PrivateKey = $(key "$n-b")
ListenPort = $pb
Address = 10.42.0.2/16, fd42::2/64
[Peer]
PublicKey = $(pub "$n-a")
Endpoint = 127.0.0.1:$pa
AllowedIPs = 10.42.0.0/16, fd42::/64
EOF
  umask 022
}

bulk_setup() {
  pair_confs bulk
  P_AC=$(free_udp) || die "no free UDP port"
  WAIT_FOR='^ready' start_bg coral-bulk-serve "$MESHB" --conf "$RUN/bulk-a.conf" bulk-serve --port 9001 ||
    die "coral-mesh-bench bulk-serve did not start"
  ANCHOR_PROXY_PORT=$(free_port 127.0.0.1) || die "no free TCP port"
  WAIT_FOR='colony: ' start_bg anchor-colony "$WGNS" colony -private-key "$(key anchor-colony)" \
    -peer-public-key "$(pub anchor-proxy)" -listen-port "$P_AC" || die "wgns colony did not start"
  WAIT_FOR='proxy: h2c on' start_bg anchor-proxy "$WGNS" proxy -private-key "$(key anchor-proxy)" \
    -peer-public-key "$(pub anchor-colony)" -endpoint "127.0.0.1:$P_AC" -listen "127.0.0.1:$ANCHOR_PROXY_PORT" ||
    die "wgns proxy did not start"
  local i code
  for ((i = 0; i < 100; i++)); do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 --http2-prior-knowledge -X POST \
      -H 'content-type: application/json' -d '{}' "http://127.0.0.1:$ANCHOR_PROXY_PORT$RPC_PATH")
    [[ $code == 200 ]] && break
    sleep 0.1
  done
  [[ $code == 200 ]] || die "the anchor's proxy never answered GetStatus through its tunnel (status $code)"
}

# The server side's counters around each run: stats lines before (S0) and after (S1).
hook_coral_before() { S0=$(stats_line coral-bulk-serve); }
hook_coral_after() { S1=$(stats_line coral-bulk-serve); }
hook_anchor_before() { SP0=$(stats_line anchor-proxy); SC0=$(stats_line anchor-colony); }
hook_anchor_after() { SP1=$(stats_line anchor-proxy); SC1=$(stats_line anchor-colony); }

bulk_row() { # path ip dir rep ok mbps client_cores server_cores retrans spurious why [client_runq server_runq]
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$6" "$7" "$8" "$9" "${10}" \
    "$UDP_DROPS" "$OTHER_PCT" "$WAITED" "${12:-}" "${13:-}" "${11}${BUSY_NOTE}" >>"$BULK"
  printf '%-7s %s %-4s rep %s: %8s Mbit/s  cores client %s server %s  run-queue wait %s%% / %s%%  retransmits %s  udp drops %s  other %s%%%s\n' \
    "$1" "$2" "$3" "$4" "$6" "$7" "$8" "${12:-}" "${13:-}" "$9" "$UDP_DROPS" "$OTHER_PCT" "${11:+  FAILED: ${11}}" >&2
  [[ -z ${11} ]] || note "bulk $1 $2 $3 rep $4 FAILED: ${11}"
}

bulk_coral() { # ip dir rep
  local ip=$1 dir=$2 rep=$3 out=$RUN/bulk-coral-$1-$2-$3.txt target why="" mbps cli srv rt
  target=10.42.0.1
  [[ $ip == v6 ]] && target=fd42::1
  alive coral-bulk-serve || { reap_dead coral-bulk-serve; UDP_DROPS=0 OTHER_PCT=0 WAITED=0 BUSY_NOTE=; bulk_row coral "$ip" "$dir" "$rep" 0 "" "" "" "" "" "server down"; return; }
  SAMPLE=("${PID[coral-bulk-serve]}")
  BEFORE_HOOK=hook_coral_before AFTER_HOOK=hook_coral_after \
    measure "$out" "$MESHB" --conf "$RUN/bulk-b.conf" bulk --target "$target" --port 9001 --direction "$dir" --seconds "$DURATION"
  ((RC == 0)) || why+="client exit status $RC ($(tail -1 "$out.err")); "
  alive coral-bulk-serve || why+="the server died; "
  mbps=$(kv "$(grep '^bulk ' "$out")" mbps)
  [[ -n $mbps ]] || why+="no result; "
  cli=$(awk -v c="$(kv "$(grep '^bulk ' "$out")" cpu_s)" -v w="$WALL_MS" 'BEGIN { if (c != "" && w > 0) printf "%.2f", c * 1000 / w }')
  srv=$(awk -v c="${SAMPLE_MS[0]}" -v w="$WALL_MS" 'BEGIN { if (w > 0) printf "%.2f", c / w }')
  rt=$(($(kv "$(grep '^stats: ' "$out")" retransmits) + $(kv "$S1" retransmits) - $(kv "$S0" retransmits)))
  # Every retransmission on loss-free loopback is spurious unless a UDP buffer dropped a datagram.
  bulk_row coral "$ip" "$dir" "$rep" "$([[ -z $why ]] && echo 1 || echo 0)" "$mbps" "$cli" "$srv" "$rt" \
    "$((UDP_DROPS == 0 ? rt : -1))" "$why" \
    "$(awk -v d="$(kv "$(grep '^bulk ' "$out")" run_delay_s)" -v w="$WALL_MS" 'BEGIN { if (d != "" && w > 0) printf "%.0f", d * 1e5 / w }')" \
    "${WAIT_PCT[0]}"
}

bulk_anchor() { # ip dir rep: the proxy's netstack <-> the colony's, raw TCP (no HTTP)
  local ip=$1 dir=$2 rep=$3 out=$RUN/bulk-anchor-$1-$2-$3.txt why="" mbps v6=0 rt sp
  [[ $ip == v6 ]] && v6=1
  if ! alive anchor-proxy || ! alive anchor-colony; then
    reap_dead anchor-proxy; reap_dead anchor-colony
    UDP_DROPS=0 OTHER_PCT=0 WAITED=0 BUSY_NOTE=
    bulk_row anchor "$ip" "$dir" "$rep" 0 "" "" "" "" "" "anchor down"; return
  fi
  SAMPLE=("${PID[anchor-proxy]}" "${PID[anchor-colony]}")
  BEFORE_HOOK=hook_anchor_before AFTER_HOOK=hook_anchor_after \
    measure "$out" curl -s --max-time $((DURATION + 40)) \
    "http://127.0.0.1:$ANCHOR_PROXY_PORT/_anchor/tcpbulk?dir=$dir&secs=$DURATION&v6=$v6"
  ((RC == 0)) || why+="curl exit status $RC; "
  mbps=$(sed -nE 's/.*"mbps":([0-9.]+).*/\1/p' "$out")
  [[ -n $mbps ]] || why+="no result ($(head -c 200 "$out")); "
  rt=$(($(kv "$SP1" tcp_retrans) - $(kv "$SP0" tcp_retrans) + $(kv "$SC1" tcp_retrans) - $(kv "$SC0" tcp_retrans)))
  sp=$(($(kv "$SP1" tcp_spurious_recovery) - $(kv "$SP0" tcp_spurious_recovery) + $(kv "$SC1" tcp_spurious_recovery) - $(kv "$SC0" tcp_spurious_recovery)))
  bulk_row anchor "$ip" "$dir" "$rep" "$([[ -z $why ]] && echo 1 || echo 0)" "$mbps" \
    "$(awk -v c="${SAMPLE_MS[0]}" -v w="$WALL_MS" 'BEGIN { printf "%.2f", c / w }')" \
    "$(awk -v c="${SAMPLE_MS[1]}" -v w="$WALL_MS" 'BEGIN { printf "%.2f", c / w }')" "$rt" "$sp" "$why" \
    "${WAIT_PCT[0]}" "${WAIT_PCT[1]}"
}

# ------------------------------------------------------------------ 3. unary
UNARY=$RUN/unary.tsv
printf 'case\tpath\trep\tok\trps\tp50_us\tp99_us\tmean_us\tclient_cpu_us\tcolony_cpu_us\tfailures\tother_pct\twait_s\tclient_runq_pct\tcolony_runq_pct\tnote\n' >"$UNARY"
export CORAL_CONFIG_DIR=$RUN/config
COLONY_US=bench-mesh-us
COLONY_HOST=bench-mesh-host

colony_pid() { cat "$CORAL_CONFIG_DIR/colonies/$1.pid" 2>/dev/null; }
start_colony() { # NAME ID ARGS...: coral colony start ID --daemon ARGS
  local s=$1 id=$2
  shift 2
  "$CORAL" colony start "$id" --daemon --log-level warn "$@" >"$RUN/start-$id.txt" 2>&1 ||
    { note "coral colony start $id failed:"; tee -a "$NOTES" <"$RUN/start-$id.txt" >&2; return 1; }
  PID[$s]=$(colony_pid "$id")
  DAEMON[$s]=1
  LOGF[$s]=$CORAL_CONFIG_DIR/colonies/$id.log
  echo "$s: pid ${PID[$s]}: coral colony start $id --daemon $*" >>"$RUN/commands.txt"
}

unary_setup() {
  local host_port us_udp v6net v6p cpub i
  host_port=$(free_port 127.42.0.1) || die "no free TCP port on 127.42.0.1"
  us_udp=$(free_udp) || die "no free UDP port"
  # The host-transport colony first, the userspace one last (it is then the current colony).
  "$CORAL" init --app bench --env mesh-host --colony-id "$COLONY_HOST" --mesh-ipv4-net 127.42.0.0/16 \
    --mesh-ipv6-net fdc0:42::/64 --connect-port "$host_port" --listen-port "$(free_udp)" \
    --discovery http://127.0.0.1:9 >"$RUN/init-host.txt" 2>&1 || die "coral init ($COLONY_HOST) failed (see $RUN/init-host.txt)"
  "$CORAL" init --app bench --env mesh-us --colony-id "$COLONY_US" --mesh-ipv4-net 10.42.0.0/16 \
    --connect-port 9000 --listen-port "$us_udp" \
    --discovery http://127.0.0.1:9 >"$RUN/init-us.txt" 2>&1 || die "coral init ($COLONY_US) failed (see $RUN/init-us.txt)"
  # Discovery is not part of this benchmark: no registration.
  sed -i 's/auto_register: true/auto_register: false/' "$CORAL_CONFIG_DIR"/colonies/*.yaml
  v6net=$(sed -n 's/^ *mesh_network_ipv6: //p' "$CORAL_CONFIG_DIR/colonies/$COLONY_US.yaml")
  US_V6=$(sed -n 's/^ *mesh_ipv6: //p' "$CORAL_CONFIG_DIR/colonies/$COLONY_US.yaml")
  cpub=$(sed -n 's/^ *public_key: //p' "$CORAL_CONFIG_DIR/colonies/$COLONY_US.yaml")

  start_colony colony-host "$COLONY_HOST" --mesh host || die "the host-transport colony did not start"
  start_colony colony-us "$COLONY_US" --mesh userspace --public-endpoint "127.0.0.1:$us_udp" ||
    die "the userspace colony did not start"
  HOST_URL=http://127.42.0.1:$host_port

  # The load generator as a peer of the userspace colony.
  if "$CORAL" colony --help 2>/dev/null | grep -qE '^ +peers +'; then
    REGISTERED_BY="coral colony peers add"
    (umask 077 && "$CORAL" colony peers add loadgen --colony "$COLONY_US" --pubkey "$(pub loadgen)" --private-key-file "$KEYS/loadgen.key" \
      --out "$RUN/loadgen.conf") >"$RUN/peers-add.txt" 2>&1 ||
      die "coral colony peers add failed (see $RUN/peers-add.txt)"
  else
    # Before `coral colony peers add` existed: the registry row written
    # directly (colony stopped), and the wg-quick file that command writes.
    REGISTERED_BY="a registry row written with sqlite3 (coral colony peers add is not in this build)"
    note "the load generator was registered by writing the colony's registry with sqlite3: this coral has no 'colony peers add'"
    stop_pid "${PID[colony-us]}" TERM 10
    unset "PID[colony-us]"
    v6p=${v6net%%::/64}
    sqlite3 "$CORAL_CONFIG_DIR/colonies/$COLONY_US.db" "INSERT INTO peers VALUES ('loadgen', '$(pub loadgen)', 'agent',
      'loadgen', 100, '10.42.0.100', '$v6p::64', $(date +%s%N), $(date +%s%N), 'healthy')" ||
      die "could not write the registry"
    umask 077
    cat >"$RUN/loadgen.conf" <<EOF
[Interface]
Address = 10.42.0.100/16, $v6p::64/64
PrivateKey = $(key loadgen)
[Peer]
PublicKey = $cpub
Endpoint = 127.0.0.1:$us_udp
AllowedIPs = 10.42.0.0/16, $v6net
PersistentKeepalive = 25
EOF
    umask 022
    start_colony colony-us "$COLONY_US" --mesh userspace --public-endpoint "127.0.0.1:$us_udp" ||
      die "the userspace colony did not restart"
  fi
  log "load generator registered ($REGISTERED_BY); its wg-quick file: $RUN/loadgen.conf"
  # The stand-in: coral's RPC server with a fixed GetStatus reply (as the
  # anchor's colony has) on a userspace mesh node: the transport's cost
  # without the colony's own work per call.
  pair_confs standin
  WAIT_FOR='^ready' start_bg standin "$MESHB" --conf "$RUN/standin-a.conf" status-serve --port 9000 ||
    die "coral-mesh-bench status-serve did not start"
  # The same server code and reply on host TCP: the stand-in's no-tunnel baseline.
  local sh_port
  sh_port=$(free_port 127.0.0.1) || die "no free TCP port"
  WAIT_FOR='^listening' start_bg standin-host "$RPCB" --listen "127.0.0.1:$sh_port" ||
    die "coral-rpc-bench-server did not start"
  STANDIN_HOST_URL=http://127.0.0.1:$sh_port
  US_URL4=http://10.42.0.1:9000
  US_URL6="http://[$US_V6]:9000"
  # Preflight: one short run each (also the WireGuard handshake works).
  for i in "$US_URL4" "$US_URL6"; do
    "$MESHB" --conf "$RUN/loadgen.conf" load --target "$i" -c 1 -m 1 --seconds 0.5 --warmup 0 \
      >"$RUN/preflight-mesh.txt" 2>&1 || { cat "$RUN/preflight-mesh.txt" >&2; die "GetStatus through the mesh ($i) failed"; }
  done
  "$MESHB" load --target "$HOST_URL" -c 1 -m 1 --seconds 0.5 --warmup 0 >"$RUN/preflight-host.txt" 2>&1 ||
    { cat "$RUN/preflight-host.txt" >&2; die "GetStatus over host TCP ($HOST_URL) failed"; }
  curl -s --http2-prior-knowledge -H 'content-type: application/json' -d '{}' "http://127.0.0.1:$ANCHOR_PROXY_PORT$RPC_PATH" \
    >"$RUN/preflight-anchor.body"
  log "GetStatus answers: mesh ok, host ok, anchor $(wc -c <"$RUN/preflight-anchor.body") B"
}

unary_row() { # case path rep ok rps p50 p99 mean cli colony failures why [client_runq colony_runq]
  local f=("${@:1:11}" "$OTHER_PCT" "$WAITED" "${13:-}" "${14:-}" "${12}${BUSY_NOTE}")
  (IFS=$'\t' && echo "${f[*]}") >>"$UNARY"
  printf '%-7s %-8s rep %s: %7s req/s  p50 %6s us  p99 %6s us  cpu client/proxy %6s + colony %6s us/req  run-queue wait %s%% / %s%%  other %s%%%s\n' \
    "$1" "$2" "$3" "$5" "$6" "$7" "$9" "${10}" "${13:-}" "${14:-}" "$OTHER_PCT" "${12:+  FAILED: ${12}}" >&2
  [[ -z ${12} ]] || note "unary $1 $2 rep $3 FAILED: ${12}"
}

declare -A CONC=([c16m16]="16 16" [c1m1]="1 1")
unary_coral() { # case path rep: coral-mesh-bench load (mesh4, mesh6: through the mesh; host: host TCP)
  local c=$1 path=$2 rep=$3 out=$RUN/unary-$1-$2-$3.txt why="" line s url conf=() cc mm
  read -r cc mm <<<"${CONC[$c]}"
  case $path in
    mesh4) s=colony-us url=$US_URL4 conf=(--conf "$RUN/loadgen.conf") ;;
    mesh6) s=colony-us url=$US_URL6 conf=(--conf "$RUN/loadgen.conf") ;;
    host) s=colony-host url=$HOST_URL ;;
    standin4) s=standin url=http://10.42.0.1:9000 conf=(--conf "$RUN/standin-b.conf") ;;
    standinhost) s=standin-host url=$STANDIN_HOST_URL ;;
  esac
  if ! alive "$s"; then
    reap_dead "$s"; OTHER_PCT=0 WAITED=0 BUSY_NOTE=
    unary_row "$c" "$path" "$rep" 0 "" "" "" "" "" "" "" "colony down"; return
  fi
  SAMPLE=("${PID[$s]}")
  measure "$out" "$MESHB" "${conf[@]}" load --target "$url" -c "$cc" -m "$mm" --seconds "$DURATION" \
    --warmup "$WARMUP" --cpu-pid "${PID[$s]}"
  ((RC == 0)) || why+="load exit status $RC ($(tail -1 "$out.err")); "
  alive "$s" || why+="the colony died; "
  line=$(grep '^load ' "$out")
  [[ -n $line ]] || why+="no result; "
  unary_row "$c" "$path" "$rep" "$([[ -z $why ]] && echo 1 || echo 0)" "$(kv "$line" rps)" "$(kv "$line" p50_us)" \
    "$(kv "$line" p99_us)" "$(kv "$line" mean_us)" "$(kv "$line" client_cpu_us_per_req)" \
    "$(kv "$line" "pid${PID[$s]}_cpu_us_per_req")" "$(kv "$line" failures)" "$why" "$(kv "$line" client_wait_pct)" \
    "$(kv "$line" "pid${PID[$s]}_wait_pct")"
}

unary_anchor() { # case rep: h2load -> wgns proxy -> WireGuard + gVisor -> wgns colony (IPv4)
  local c=$1 rep=$2 out=$RUN/unary-$1-anchor4-$2 cc mm
  read -r cc mm <<<"${CONC[$c]}"
  if ! alive anchor-proxy || ! alive anchor-colony; then
    reap_dead anchor-proxy; reap_dead anchor-colony; OTHER_PCT=0 WAITED=0 BUSY_NOTE=
    unary_row "$c" anchor4 "$rep" 0 "" "" "" "" "" "" "" "anchor down"; return
  fi
  SAMPLE=("${PID[anchor-proxy]}" "${PID[anchor-colony]}") IDLE=()
  local rp0 rc0 rp1 rc1
  rp0=$(run_delay_ms "${PID[anchor-proxy]}") rc0=$(run_delay_ms "${PID[anchor-colony]}")
  h2load_measure "$out" "http://127.0.0.1:$ANCHOR_PROXY_PORT$RPC_PATH" -c"$cc" -m"$mm" \
    -H 'content-type: application/json' -d "$RUN/getstatus.json"
  [[ -n $BUSY_NOTE ]] && note "unary $c anchor4 rep $rep: started although the machine was busy (${BUSY_PCT}% of a core)"
  WHY=
  h2load_check "$out"
  reqlog_stats "$out"
  load_shares "$out"
  alive anchor-proxy && alive anchor-colony || WHY+="the anchor died; "
  local p50 p99 wall=$(((W1 - W0) / 1000))
  rp1=$(run_delay_ms "${PID[anchor-proxy]}") rc1=$(run_delay_ms "${PID[anchor-colony]}")
  p50=$(cut -f1 <<<"$PCTS") p99=$(cut -f3 <<<"$PCTS")
  unary_row "$c" anchor4 "$rep" "$([[ -z $WHY ]] && echo 1 || echo 0)" "$RPS" "$p50" "$p99" "$MEAN" \
    "${CPU_REQ[0]:-}" "${CPU_REQ[1]:-}" "$ERRS" "$WHY" "$(((rp1 - rp0) * 100 / wall))" "$(((rc1 - rc0) * 100 / wall))"
}

# ------------------------------------------------------------------ 4. runs
log "start: coral-mesh-bench bulk-serve, the anchor's colony and proxy"
bulk_setup
if part unary; then
  printf '{}' >"$RUN/getstatus.json"
  log "start: coral colonies (userspace and host transports)"
  unary_setup
fi

for ((rep = 1; rep <= REPS; rep++)); do
  if part bulk; then
    for ip in v4 v6; do
      for dir in up down; do
        bulk_coral "$ip" "$dir" "$rep"
        bulk_anchor "$ip" "$dir" "$rep"
      done
    done
  fi
  if part unary; then
    for c in c16m16 c1m1; do
      for path in mesh4 mesh6 host standin4 standinhost; do unary_coral "$c" "$path" "$rep"; done
      unary_anchor "$c" "$rep"
    done
  fi
done

stop_all coral-bulk-serve standin standin-host anchor-proxy anchor-colony colony-us colony-host
log "processes stopped"

# ------------------------------------------------------------------ 5. summary
SUMMARY=$RUN/summary.md
summarize_bulk() {
  awk -F'\t' "$AWK_STATS"'
    NR == 1 { next }
    {
      k = $1 SUBSEP $2 SUBSEP $3
      seen[k] = 1; runs[k]++
      add(rpsall, k, $5 ? sprintf("%.0f", $6) : "failed")
      if (!$5) { failed[k]++; next }
      add(mbps, k, $6); add(cc, k, $7); add(sc, k, $8)
      rt[k] += $9; if ($10 == -1 || sp[k] == -1) sp[k] = -1; else sp[k] += $10; drops[k] += $11
      if ($7 + $8 > 0) add(per, k, $6 / ($7 + $8))
      add(cq, k, $14); add(sq, k, $15)
      note_other($12, "bulk " $1 " " $2 " " $3 " #" $4)
    }
    END {
      table("One bulk TCP stream, " dur " s per run (median of " reps ")",
        "| path | IP | direction | Mbit/s (median) | Mbit/s (all reps) | client CPU, cores | server CPU, cores | Mbit/s per core (both) | run-queue wait, client / server ⁴ | TCP retransmits (sum of runs) | of them spurious | host UDP RcvbufErrors (sum) | failed runs |",
        "|---|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
      np = split("coral anchor", pl, " ")
      for (i = 1; i <= 2; i++) for (d = 1; d <= 2; d++) for (j = 1; j <= np; j++) {
        ip = (i == 1 ? "v4" : "v6"); dir = (d == 1 ? "up" : "down"); p = pl[j]; k = p SUBSEP ip SUBSEP dir
        if (!(k in seen)) continue
        M[k] = med(mbps[k])
        label = (p == "coral" ? "coral userspace mesh (WireGuard + lwIP), node ↔ node" : "anchor: wireguard-go + gVisor, proxy stack ↔ colony stack")
        printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s / %s | %d | %s | %d | %d of %d |\n", label, ip,
          (dir == "up" ? "up (client → server)" : "down (server → client)"), fmt(M[k], 0), all_reps(k),
          fmt(med(cc[k]), 2), fmt(med(sc[k]), 2), fmt(med(per[k]), 0), fmt(med(cq[k]), 0, "%"), fmt(med(sq[k]), 0, "%"),
          rt[k], (sp[k] == -1 ? "? (UDP drops)" : sp[k]),
          drops[k], failed[k] + 0, runs[k]
      }
      print ""
      print "coral: client = the coral-mesh-bench bulk process (10.42.0.2), server = bulk-serve (10.42.0.1). Anchor: client ="
      print "the wgns proxy'"'"'s netstack, server = the wgns colony'"'"'s. Spurious: coral counts every segment its stack sends"
      print "again (StackStats::retransmits); on loopback with no UDP drop, each one is spurious. The anchor: gVisor'"'"'s"
      print "TCP.SpuriousRecovery counter."
      print "⁴ Time the process was runnable but waited for a CPU (/proc/PID/task/*/schedstat), % of the run: other load."
      print ""
      print "### Goals: bulk"
      print ""
      for (i = 1; i <= 2; i++) for (d = 1; d <= 2; d++) {
        ip = (i == 1 ? "v4" : "v6"); dir = (d == 1 ? "up" : "down")
        kc = "coral" SUBSEP ip SUBSEP dir; ka = "anchor" SUBSEP ip SUBSEP dir
        if (!(kc in M)) continue
        r = ratio(M[kc], M[ka])
        ok = (r != "" && r >= 2 && M[kc] >= 1200 && sp[kc] == 0)
        printf "- %s %s: coral %s Mbit/s = %s× the anchor (%s Mbit/s); goal ≥ 2× and ≥ 1200 Mbit/s with 0 spurious retransmits (%s): %s\n",
          ip, dir, fmt(M[kc], 0), fmt(r, 2), fmt(M[ka], 0), (sp[kc] == -1 ? "unknown: UDP drops" : sp[kc] " spurious"),
          (M[kc] == "" ? "NO DATA" : (ok ? "MET" : "NOT MET"))
      }
      print ""
      print_other()
    }' dur="$DURATION" reps="$REPS" "$BULK"
}
summarize_unary() {
  awk -F'\t' "$AWK_STATS"'
    NR == 1 { next }
    {
      k = $1 SUBSEP $2
      seen[k] = 1; runs[k]++
      add(rpsall, k, $4 ? sprintf("%.0f", $5) : "failed")
      if (!$4) { failed[k]++; next }
      add(rps, k, $5); add(p50, k, $6); add(p99, k, $7); add(cli, k, $9); add(col, k, $10); add(tot, k, $9 + $10)
      add(cq, k, $14); add(oq, k, $15)
      note_other($12, "unary " $1 " " $2 " #" $3)
    }
    END {
      label["mesh4"] = "coral-mesh-bench (a userspace mesh peer) → colony --mesh userspace, IPv4"
      label["mesh6"] = "coral-mesh-bench (a userspace mesh peer) → colony --mesh userspace, IPv6"
      label["host"] = "coral-mesh-bench over host TCP → colony --mesh host (no tunnel)"
      label["standin4"] = "coral-mesh-bench → stand-in colony (coral-mesh-bench status-serve: fixed reply) on the userspace mesh, IPv4 ³"
      label["anchor4"] = "anchor: h2load → wgns proxy → WireGuard + gVisor → wgns colony (fixed reply), IPv4 ¹"
      label["standinhost"] = "coral-mesh-bench over host TCP → the stand-in'"'"'s server on host TCP (coral-rpc-bench-server, no tunnel) ³"
      np = split("mesh4 mesh6 host standin4 standinhost anchor4", pl, " ")
      for (ci = 1; ci <= 2; ci++) {
        c = (ci == 1 ? "c16m16" : "c1m1")
        table("GetStatus, Connect JSON over h2c, " (c == "c16m16" ? "16 connections × 16 streams" : "1 × 1") ", " dur " s per run (median of " reps ")",
          "| path | req/s (median) | req/s (all reps) | p50 µs | p99 µs | CPU µs/request: load generator ² or proxy | colony | both ends | run-queue wait, client or proxy / colony ⁴ | failed runs |",
          "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|")
        for (j = 1; j <= np; j++) {
          p = pl[j]; k = c SUBSEP p
          if (!(k in seen)) continue
          R[k] = med(rps[k]); P50[k] = med(p50[k]); T[k] = med(tot[k])
          printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s / %s | %d of %d |\n", label[p], fmt(R[k], 0), all_reps(k), fmt(P50[k], 0),
            fmt(med(p99[k]), 0), fmt(med(cli[k]), 1), fmt(med(col[k]), 1), fmt(T[k], 1), fmt(med(cq[k]), 0, "%"), fmt(med(oq[k]), 0, "%"),
            failed[k] + 0, runs[k]
        }
        print ""
      }
      print "¹ The anchor has a proxy hop: h2load (not counted) → the wgns proxy (h2c on host TCP, then h2 over its"
      print "  netstack and WireGuard) → the wgns colony. Its \"both ends\" is proxy + colony. coral has no proxy here: the"
      print "  load generator is itself the mesh peer, so its CPU includes making the calls (what h2load does for the anchor)."
      print "² coral-mesh-bench: the RPC client, HTTP/2, and (mesh paths) its own WireGuard device and userspace stack, one thread."
      print "³ The same fixed 193-byte GetStatus reply as coral-rpc-bench-server, as the anchor'"'"'s colony answers a fixed 209-byte"
      print "  one: the mesh'"'"'s cost per call without what the real colony does per GetStatus."
      print "⁴ Time the process was runnable but waited for a CPU (/proc/PID/task/*/schedstat), % of the run: other load."
      print ""
      print "### Goals: unary"
      print ""
      for (v = 4; v <= 6; v += 2) {
        m = "c16m16" SUBSEP "mesh" v; h = "c16m16" SUBSEP "host"; r = ratio(R[m], R[h])
        printf "- mesh IPv%d / host req/s at 16 × 16 = %s (%s vs %s); goal ≥ 0.80: %s\n", v, fmt(r, 2), fmt(R[m], 0), fmt(R[h], 0),
          (r == "" ? "NO DATA" : (r >= 0.8 ? "MET" : "NOT MET"))
      }
      m = "c16m16" SUBSEP "standin4"; h = "c16m16" SUBSEP "standinhost"; r = ratio(R[m], R[h])
      printf "- the same for the stand-in (fixed reply: the mesh without the colony'"'"'s work), mesh / host req/s = %s (%s vs %s): %s\n",
        fmt(r, 2), fmt(R[m], 0), fmt(R[h], 0), (r == "" ? "NO DATA" : (r >= 0.8 ? "MET" : "NOT MET"))
      for (v = 4; v <= 8; v += 2) {
        m = "c1m1" SUBSEP (v == 8 ? "standin4" : "mesh" v); h = "c1m1" SUBSEP (v == 8 ? "standinhost" : "host")
        what = (v == 8 ? "the stand-in, IPv4" : "IPv" v)
        if (P50[m] == "" || P50[h] == "") { printf "- p50 added at 1 × 1 (%s): NO DATA\n", what; continue }
        d = P50[m] - P50[h]
        printf "- p50 added by the mesh at 1 × 1, %s: %s − %s = %s µs; goal < 100 µs: %s\n", what, fmt(P50[m], 0), fmt(P50[h], 0), fmt(d, 0),
          (d < 100 ? "MET" : "NOT MET")
      }
      m = "c16m16" SUBSEP "mesh4"; a = "c16m16" SUBSEP "anchor4"
      r = ratio(T[m], T[a])
      printf "- CPU per request, both ends, at 16 × 16: coral %s µs vs the anchor %s µs (same run) = %s of it; goal ≤ 0.20: %s\n",
        fmt(T[m], 1), fmt(T[a], 1), fmt(r, 3), (r == "" ? "NO DATA" : (r <= 0.2 ? "MET" : "NOT MET"))
      m = "c16m16" SUBSEP "standin4"; r = ratio(T[m], T[a])
      printf "- the same with the stand-in colony (fixed reply, as the anchor'"'"'s): coral %s µs = %s of the anchor'"'"'s; goal ≤ 0.20: %s\n",
        fmt(T[m], 1), fmt(r, 3), (r == "" ? "NO DATA" : (r <= 0.2 ? "MET" : "NOT MET"))
      m = "c16m16" SUBSEP "mesh4"
      r = ratio(T[m], 293)
      printf "- the same against the anchor'"'"'s quiet-machine figure (194 + 99 = 293 µs): %s; goal ≤ 0.20 (58.6 µs): %s\n",
        fmt(r, 2), (r == "" ? "NO DATA" : (r <= 0.2 ? "MET" : "NOT MET"))
      print ""
      print_other()
    }' dur="$DURATION" reps="$REPS" "$UNARY"
}
{
  echo "## coral userspace mesh benchmark, $STAMP"
  echo
  sed 's/^/    /' "$RUN/env.txt"
  echo
  echo "All on loopback: WireGuard over 127.0.0.1 UDP; the mesh addresses exist only inside the userspace stacks."
  echo "CPU = utime+stime (/proc/PID/stat; coral-mesh-bench: getrusage) over the run; cores = CPU / wall time."
  part unary && echo "The load generator was registered with the userspace colony by: $REGISTERED_BY."
  echo
  part bulk && summarize_bulk && echo
  part unary && summarize_unary
  ((CRASHES)) && { echo; echo "**A process exited unexpectedly $CRASHES time(s)**; see the notes."; }
  notes_section
} >"$SUMMARY"
echo
cat "$SUMMARY"
nfail=$(awk -F'\t' 'FNR > 1 && (FILENAME ~ /bulk/ ? !$5 : !$4)' "$BULK" "$UNARY" | wc -l)
echo
echo "results: $RUN ($(($(wc -l <"$BULK") + $(wc -l <"$UNARY") - 2)) runs, $nfail failed, $CRASHES process exits)"
exit $((nfail + CRASHES > 0))
