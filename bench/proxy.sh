#!/usr/bin/env bash
# bench/proxy.sh: h2load benchmark of coral's local proxy (`coral proxy
# start`). One coral colony is the backend; in the same run, interleaved, h2load
# drives it directly and through three proxies: coral's, the Go reference shape
# (httputil.ReverseProxy behind h2c, h2c upstream; ../shared/anchors) and
# nghttpx (one worker, h2c front and back). Prints one markdown table per case
# with req/s, ratios to direct, latency added over direct and CPU time per
# 1000 requests of each proxy process, then the goals. Run with --help for the
# knobs; bench/README.md explains the method. Loopback only (127.0.0.1 and
# 127.42.0.0/16); every process it starts is stopped by PID on exit.
set -uo pipefail

usage() {
  cat <<'EOF'
usage: bench/proxy.sh [--help]

Starts coral-discovery (127.0.0.1, port 0) and a coral colony `bench-proxy`
(CORAL_CONFIG_DIR in the run directory, mesh 127.42.0.0/16 + fdc0:42::/64,
Connect on 127.42.0.1:<free port>, registered with that discovery), then
three proxies in front of the colony, all on 127.0.0.1:
  coral    coral proxy start bench-proxy --listen 127.0.0.1:0 --daemon
           (resolves the colony through discovery; one multiplexed h2c
           connection to it)
  go       $SHARED_DIR/anchors/go-reference proxy -upstream h2c
           (httputil.ReverseProxy behind h2c.NewHandler, GOMAXPROCS = 2)
  nghttpx  nghttpx --single-process --workers=1, frontend no-tls (h2c),
           backend proto=h2 (h2c)
and, with MESH=1 (the default), two more paths over a userspace WireGuard
mesh, whose addresses exist only inside userspace stacks:
  mesh     coral proxy start bench-mesh: coral's proxy joined over its own
           WireGuard tunnel (ephemeral key, Register over the tunnel) to a
           second colony `bench-mesh` started with init's defaults
           (--mesh userspace, WireGuard on 127.0.0.1:<free UDP port>)
  anchor   ../shared/anchors/wg-netstack: the wgns proxy (ReverseProxy over
           wireguard-go + gVisor netstack) to the wgns colony in its own
           netstack (a fixed GetStatus reply): the RFD's flow done the Go way
and drives POST /coral.colony.v1.ColonyService/GetStatus (Connect unary,
JSON body {}, h2c prior knowledge) with h2load, one target at a time,
interleaved within each repetition: direct (the colony itself), coral, go,
nghttpx, mesh, anchor. Then cold starts (MESH=1): `coral proxy start
bench-mesh --daemon` to the first successful `coral status`, beside the
anchor's launch to first GetStatus (wgns coldstart), and `coral status`'s
wall time, medians of COLD_REPS.

Cases: -c16 -m16 (throughput: req/s) and -c1 -m1 (latency: p50/p99 added
over direct); PROTO=1 adds Connect binary proto (empty body) at -c16 -m16.
CPU: utime+stime of each proxy process (and of the colony) over the main
phase, per 1000 requests.

Environment knobs (defaults in brackets):
  DURATION     main phase of each h2load run, seconds [10]
  WARMUP       h2load --warm-up-time, seconds [2]
  REPS         repetitions per case and target; tables show the median [3]
  PREWARM      unrecorded h2load -c16 -m16 run per target first, s [3]
  PROTO        1: add the Connect proto -c16 -m16 case [0]
  MESH         1: add the userspace-mesh paths (coral, anchor) and cold starts [1]
  COLD_REPS    cold starts and `coral status` timings, each [5]
  ANCHOR_BIN   the wg-netstack anchor's binaries (wgns) [build/anchors]
  SKIP_BUILD   1: do not build or install anything, use what is there [0]
  BUILD_DIR    where coral and coral-discovery are (apps/) [build/release]
  SHARED_DIR   where anchors/ lives [$(git rev-parse --show-toplevel)/../shared]
  MAX_STARTS   starts allowed per process (the colony and each proxy are
               restarted when found dead; each death is a failure) [8]
EOF
  usage_lock_knobs
  cat <<'EOF'

Goals (printed as MET / NOT MET; they do not change the exit status):
  coral proxy req/s >= 2x the Go reference's (-c16 -m16)
  coral proxy req/s >= nghttpx's (-c16 -m16)
  coral proxy req/s >= 80% of direct (-c16 -m16)
  coral proxy adds < 50 us to the p50 of direct (-c1 -m1)

Quick check of the script: DURATION=2 WARMUP=1 REPS=1 PREWARM=1 bench/proxy.sh
Raw results go to build/bench/<UTC stamp>-proxy/ (summary.md, runs.tsv,
env.txt, h2load output, gzipped per-request logs, process logs). Exit
status: 0 if every run succeeded (200 only, no errors, no process exit), 1 if
any failed, 2 on bad usage or setup.
EOF
}

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_setup "$@"
h2load_knobs
defaults SHARED_DIR="$ROOT/../shared" MAX_STARTS=8 MESH=1 COLD_REPS=5 ANCHOR_BIN="$ROOT/build/anchors"
HOST=127.0.0.1      # discovery, the proxies and h2load's side
MESH_HOST=127.42.0.1 # the colony's mesh IPv4 address (host transport)
COLONY=bench-proxy
RPC_PATH=/coral.colony.v1.ColonyService/GetStatus

uint_knobs MAX_STARTS COLD_REPS
[[ $PROTO == 0 || $PROTO == 1 ]] || die "PROTO must be 0 or 1"
[[ $MESH == 0 || $MESH == 1 ]] || die "MESH must be 0 or 1"
MESH_COLONY=bench-mesh

[[ -d $SHARED_DIR/anchors/go-reference ]] ||
  die "anchors not found under SHARED_DIR=$SHARED_DIR (expected anchors/go-reference); set SHARED_DIR"
SHARED_DIR=$(cd "$SHARED_DIR" && pwd)
GO_SRC=$SHARED_DIR/anchors/go-reference
GO_PROXY=$ROOT/build/anchors/proxy
BUILD_DIR=$(cd "$BUILD_DIR" 2>/dev/null && pwd || echo "$BUILD_DIR")
CORAL=$BUILD_DIR/apps/coral
DISCOVERY=$BUILD_DIR/apps/coral-discovery
ANCHOR_DIR=$SHARED_DIR/anchors/wg-netstack
ANCHOR_BIN=$(mkdir -p "$ANCHOR_BIN" && cd "$ANCHOR_BIN" && pwd)
WGNS=$ANCHOR_BIN/wgns

bench_run_dir proxy
export CORAL_CONFIG_DIR=$RUN/config

# ------------------------------------------------------------------ processes
# Every process this script starts is recorded in PID (process name -> pid)
# and stopped by PID on exit. The colony and coral's proxy daemonize
# (DAEMON): their PIDs come from their PID files; stop_pid works on them too
# (kill -0 / TERM / KILL by PID).
DAEMON=([colony]=1 [coral]=1 [meshcolony]=1 [mesh]=1)
H2LOAD_PID=
cleanup() {
  [[ -n $H2LOAD_PID ]] && stop_pid "$H2LOAD_PID"
  # The proxies first (coral's unregisters from the colony), discovery last.
  stop_named coral go nghttpx mesh anchor colony meshcolony wgcolony discovery
}
bench_traps cleanup

# ---------------------------------------------------------------- 1. prepare
log "prepare (results: $RUN)"
need_tool h2load nghttp2-client
need_tool nghttpx nghttp2-proxy
need_tool curl curl
install_needed

if [[ $SKIP_BUILD != 1 ]]; then
  build_targets "$RUN/build-coral.log" coral coral-discovery
  build_go_anchor "$GO_PROXY" "reference proxy"
  if [[ $MESH == 1 ]] && [[ ! -x $WGNS || -n $(find "$ANCHOR_DIR/src/wgns" -newer "$WGNS" -name '*.go' 2>/dev/null) ]]; then
    log "build the wg-netstack anchor ($ANCHOR_DIR/build.sh $ANCHOR_BIN)"
    GO_BUILD_CACHE=$ANCHOR_BIN/go-cache "$ANCHOR_DIR/build.sh" "$ANCHOR_BIN" >"$RUN/build-anchor.log" 2>&1 ||
      die "the anchor's build failed (log: $RUN/build-anchor.log)"
  fi
fi
[[ $MESH == 0 || -x $WGNS ]] || die "$WGNS missing (build: $ANCHOR_DIR/build.sh $ANCHOR_BIN, or MESH=0)"
[[ -x $CORAL && -x $DISCOVERY ]] || die "$CORAL or $DISCOVERY missing (build: scripts/build release coral coral-discovery, or set BUILD_DIR)"
[[ -x $GO_PROXY ]] || die "$GO_PROXY missing (build: $GO_SRC/build.sh build/anchors)"

# Request body: GetStatusRequest is empty ({} in JSON, no bytes in proto).
printf '{}' >"$RUN/getstatus.json"

CLK_TCK=$(getconf CLK_TCK)
{
  env_common load
  echo "coral: $BUILD_DIR, tree $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src proto apps 2>/dev/null && [[ -z $(git ls-files --others --exclude-standard src proto apps) ]] || echo ' + uncommitted changes in src/, proto/ or apps/')"
  echo "h2load: $(h2load --version | head -1); nghttpx: $(nghttpx --version | head -1)"
  echo "go proxy: built with $(go version 2>/dev/null | cut -d' ' -f3) ($GO_PROXY)"
  echo "knobs: DURATION=$DURATION WARMUP=$WARMUP REPS=$REPS PREWARM=$PREWARM PROTO=$PROTO MAX_STARTS=$MAX_STARTS, CLK_TCK=$CLK_TCK"
} >"$RUN/env.txt"
cat "$RUN/env.txt" >&2

# ------------------------------------------------------------------ 2. helpers
# CRASHES (lib.sh): processes found dead; each makes the exit status 1
NOTES=$RUN/notes.txt
: >"$NOTES"
TARGETS=(direct coral go nghttpx)
[[ $MESH == 1 ]] && TARGETS+=(mesh anchor)
declare -A LABEL=([direct]="direct (colony)" [coral]="coral proxy" [go]="Go ReverseProxy (h2c)" [nghttpx]="nghttpx"
  [mesh]="coral proxy, userspace mesh" [anchor]="anchor: wgns proxy (wireguard-go + gVisor)"
  [colony]="coral colony" [meshcolony]="coral colony (userspace mesh)" [wgcolony]="anchor: wgns colony"
  [discovery]="coral-discovery")
declare -A PORT=() STARTS=([colony]=0 [coral]=0 [go]=0 [nghttpx]=0 [discovery]=0 [meshcolony]=0 [mesh]=0 [wgcolony]=0
  [anchor]=0)
declare -A COLONY_OF=([direct]=colony [coral]=colony [go]=colony [nghttpx]=colony [mesh]=meshcolony [anchor]=wgcolony)
COLONY_LOG=$CORAL_CONFIG_DIR/colonies/$COLONY.log
PROXY_LOG=$CORAL_CONFIG_DIR/proxies/$COLONY.log

url() { # url TARGET: where h2load sends its requests
  case $1 in
    direct) echo "http://$MESH_HOST:${PORT[colony]}$RPC_PATH" ;;
    *) echo "http://$HOST:${PORT[$1]}$RPC_PATH" ;;
  esac
}
proc_of() { [[ $1 == direct ]] && echo colony || echo "$1"; } # the process serving a target
call() { # call TARGET OUT: one GetStatus (Connect JSON) with curl; prints the HTTP status
  curl -s --http2-prior-knowledge --max-time 5 -o "$2" -w '%{http_code}' \
    -H 'content-type: application/json' --data-binary @"$RUN/getstatus.json" "$(url "$1")"
}
wait_200() { # wait_200 TARGET: until GetStatus through it answers 200 (at most 10 s); keeps the reply
  local t=$1 p i code=
  p=$(proc_of "$t")
  for ((i = 0; i < 100; i++)); do
    code=$(call "$t" "$RUN/preflight-$t.body")
    [[ $code == 200 ]] && break
    alive "$p" || { reap_dead "$p"; return 1; }
    sleep 0.1
  done
  [[ $code == 200 ]] || { note "${LABEL[$t]}: GetStatus never answered 200 (last status $code: $(head -c 300 "$RUN/preflight-$t.body" 2>/dev/null))"; return 1; }
  [[ $t == mesh || $t == anchor ]] ||
    grep -q "\"colonyId\":\"$COLONY\"" "$RUN/preflight-$t.body" ||
    { note "${LABEL[$t]}: GetStatus answered 200 but not for $COLONY: $(head -c 300 "$RUN/preflight-$t.body")"; return 1; }
  log "${LABEL[$t]} answers: $(wc -c <"$RUN/preflight-$t.body") B reply: $(head -c 160 "$RUN/preflight-$t.body")"
}

start_discovery() {
  STARTS[discovery]=$((STARTS[discovery] + 1))
  LOGF[discovery]=$RUN/server-discovery.${STARTS[discovery]}.log
  start_port_file discovery "$DISCOVERY" --listen "$HOST:0" --ttl 3600s --log-level warn || return 1
  log "coral-discovery up, pid ${PID[discovery]}, $HOST:${PORT[discovery]}"
}

init_colony() {
  PORT[colony]=$(free_port "$MESH_HOST") || die "no free port found on $MESH_HOST"
  "$CORAL" init --app bench --env proxy --colony-id "$COLONY" --mesh-ipv4-net 127.42.0.0/16 \
    --mesh-ipv6-net fdc0:42::/64 --connect-port "${PORT[colony]}" --discovery "http://$HOST:${PORT[discovery]}" \
    >"$RUN/init.txt" 2>&1 || { cat "$RUN/init.txt" >&2; die "coral init failed"; }
}

start_colony() { # coral colony start --daemon; waits until GetStatus answers 200 directly
  ((STARTS[colony] < MAX_STARTS)) || { note "colony: not restarting again (started ${STARTS[colony]} times)"; return 1; }
  port_busy "${PORT[colony]}" "$MESH_HOST" && { note "something already listens on $MESH_HOST:${PORT[colony]}"; return 1; }
  STARTS[colony]=$((STARTS[colony] + 1))
  LOGF[colony]=$COLONY_LOG
  "$CORAL" colony start "$COLONY" --daemon --log-level warn >"$RUN/start-colony.${STARTS[colony]}.txt" 2>&1 ||
    { note "coral colony start failed: $(tr '\n' ' ' <"$RUN/start-colony.${STARTS[colony]}.txt")"; return 1; }
  PID[colony]=$(tr -dc 0-9 <"$CORAL_CONFIG_DIR/colonies/$COLONY.pid")
  [[ -n ${PID[colony]} ]] || { unset "PID[colony]"; note "colony: no PID file"; return 1; }
  wait_200 direct || return 1
  log "colony up, pid ${PID[colony]}, Connect on $MESH_HOST:${PORT[colony]}"
}

# Until discovery knows the colony (coral's proxy resolves it there), at most 10 s.
wait_registered() {
  local i code=
  for ((i = 0; i < 100; i++)); do
    code=$(curl -s --http2-prior-knowledge --max-time 2 -o "$RUN/lookup.body" -w '%{http_code}' \
      -H 'content-type: application/json' --data-binary "{\"mesh_id\":\"$COLONY\"}" \
      "http://$HOST:${PORT[discovery]}/coral.discovery.v1.DiscoveryService/LookupColony")
    [[ $code == 200 ]] && return 0
    sleep 0.1
  done
  note "discovery never returned the colony (last status $code: $(head -c 200 "$RUN/lookup.body"))"
  return 1
}

start_coral_proxy() {
  local out
  STARTS[coral]=$((STARTS[coral] + 1))
  LOGF[coral]=$PROXY_LOG
  out=$RUN/start-coral.${STARTS[coral]}.txt
  "$CORAL" proxy start "$COLONY" --listen "$HOST:0" --daemon --log-level warn >"$out" 2>&1 ||
    { note "coral proxy start failed: $(tr '\n' ' ' <"$out")"; return 1; }
  PID[coral]=$(tr -dc 0-9 <"$CORAL_CONFIG_DIR/proxies/$COLONY.pid")
  PORT[coral]=$(sed -n "s|.*Listening on http://$HOST:\([0-9]*\).*|\1|p" "$out" | head -1)
  [[ -n ${PID[coral]} && -n ${PORT[coral]} ]] || { note "coral proxy: no PID or port ($(tr '\n' ' ' <"$out"))"; return 1; }
  grep -q '^warning' "$out" && note "coral proxy start: $(grep '^warning' "$out" | tr '\n' ' ')"
  return 0
}

start_go_proxy() { # -listen 127.0.0.1:0; the bound address is in its log
  local i
  STARTS[go]=$((STARTS[go] + 1))
  LOGF[go]=$RUN/server-go.${STARTS[go]}.log
  "$GO_PROXY" -listen "$HOST:0" -target "http://$MESH_HOST:${PORT[colony]}" -upstream h2c >"${LOGF[go]}" 2>&1 &
  PID[go]=$!
  for ((i = 0; i < 100; i++)); do
    PORT[go]=$(sed -n "s|.*proxy: h2c on $HOST:\([0-9]*\) .*|\1|p" "${LOGF[go]}" | head -1)
    [[ -n ${PORT[go]} ]] && return 0
    alive go || { reap_dead go; return 1; }
    sleep 0.1
  done
  note "Go proxy: no listen address in its log after 10 s"
  return 1
}

start_nghttpx() { # one process, one worker thread, h2c in and out
  PORT[nghttpx]=$(free_port "$HOST") || { note "no free port on $HOST for nghttpx"; return 1; }
  STARTS[nghttpx]=$((STARTS[nghttpx] + 1))
  LOGF[nghttpx]=$RUN/server-nghttpx.${STARTS[nghttpx]}.log
  nghttpx --conf=/dev/null --single-process --workers=1 --no-ocsp \
    --frontend="$HOST,${PORT[nghttpx]};no-tls" --backend="$MESH_HOST,${PORT[colony]};;proto=h2" \
    --log-level=WARN --errorlog-file="${LOGF[nghttpx]}" >"${LOGF[nghttpx]}.out" 2>&1 &
  PID[nghttpx]=$!
}

# The userspace-mesh colony: init's defaults (10.42.0.0/16, a random ULA,
# --mesh userspace), WireGuard on 127.0.0.1:<free UDP port> (announced as
# its public endpoint); its services exist only inside its stack.
init_mesh_colony() {
  PORT[meshcolony]=$(free_udp) || die "no free UDP port"
  "$CORAL" init --app bench --env mesh --colony-id "$MESH_COLONY" --listen-port "${PORT[meshcolony]}" \
    --discovery "http://$HOST:${PORT[discovery]}" >"$RUN/init-mesh.txt" 2>&1 ||
    { cat "$RUN/init-mesh.txt" >&2; die "coral init (userspace mesh) failed"; }
}
start_mesh_colony() {
  local out
  ((STARTS[meshcolony] < MAX_STARTS)) || { note "mesh colony: not restarting again"; return 1; }
  STARTS[meshcolony]=$((STARTS[meshcolony] + 1))
  LOGF[meshcolony]=$CORAL_CONFIG_DIR/colonies/$MESH_COLONY.log
  out=$RUN/start-meshcolony.${STARTS[meshcolony]}.txt
  "$CORAL" colony start "$MESH_COLONY" --daemon --log-level warn --public-endpoint "$HOST:${PORT[meshcolony]}" \
    >"$out" 2>&1 || { note "coral colony start (userspace) failed: $(tr '\n' ' ' <"$out")"; return 1; }
  PID[meshcolony]=$(tr -dc 0-9 <"$CORAL_CONFIG_DIR/colonies/$MESH_COLONY.pid")
  [[ -n ${PID[meshcolony]} ]] || { unset "PID[meshcolony]"; note "mesh colony: no PID file"; return 1; }
  log "mesh colony up, pid ${PID[meshcolony]}, WireGuard on UDP ${PORT[meshcolony]}"
}
start_mesh_proxy() {
  local out
  STARTS[mesh]=$((STARTS[mesh] + 1))
  LOGF[mesh]=$CORAL_CONFIG_DIR/proxies/$MESH_COLONY.log
  out=$RUN/start-mesh.${STARTS[mesh]}.txt
  "$CORAL" proxy start "$MESH_COLONY" --listen "$HOST:0" --daemon --log-level warn >"$out" 2>&1 ||
    { note "coral proxy start (userspace mesh) failed: $(tr '\n' ' ' <"$out")"; return 1; }
  PID[mesh]=$(tr -dc 0-9 <"$CORAL_CONFIG_DIR/proxies/$MESH_COLONY.pid")
  PORT[mesh]=$(sed -n "s|.*Listening on http://$HOST:\([0-9]*\).*|\1|p" "$out" | head -1)
  [[ -n ${PID[mesh]} && -n ${PORT[mesh]} ]] || { note "mesh proxy: no PID or port ($(tr '\n' ' ' <"$out"))"; return 1; }
}
# The anchor: keys from wg genkey (this run's), the wgns colony on a free
# UDP port, the wgns proxy on a free TCP port.
KEYS=$RUN/keys
anchor_keys() {
  local k
  mkdir -p "$KEYS"
  for k in wgcolony anchor; do
    (umask 077 && wg genkey >"$KEYS/$k.key" && wg pubkey <"$KEYS/$k.key" >"$KEYS/$k.pub") || die "wg genkey failed"
  done
}
start_wgns() { # start_wgns NAME WAIT CMD...: in the background, until WAIT is in its log (10 s)
  local s=$1 wait=$2 i
  shift 2
  STARTS[$s]=$((STARTS[$s] + 1))
  LOGF[$s]=$RUN/server-$s.${STARTS[$s]}.log
  "$@" >"${LOGF[$s]}" 2>&1 &
  PID[$s]=$!
  for ((i = 0; i < 100; i++)); do
    grep -q "$wait" "${LOGF[$s]}" && return 0
    alive "$s" || { reap_dead "$s"; return 1; }
    sleep 0.1
  done
  note "$s: '$wait' not in its log after 10 s"
  return 1
}
start_wgcolony() {
  PORT[wgcolony]=$(free_udp) || return 1
  start_wgns wgcolony 'colony: ' "$WGNS" colony -private-key "$(cat "$KEYS/wgcolony.key")" \
    -peer-public-key "$(cat "$KEYS/anchor.pub")" -listen-port "${PORT[wgcolony]}"
}
anchor_proxy_cmd() { # the wgns proxy's command line, listening on $1
  echo "$WGNS" proxy -private-key "$(cat "$KEYS/anchor.key")" -peer-public-key "$(cat "$KEYS/wgcolony.pub")" \
    -endpoint "$HOST:${PORT[wgcolony]}" -listen "$HOST:$1"
}
start_anchor() {
  PORT[anchor]=$(free_port "$HOST") || return 1
  # shellcheck disable=SC2046 # the command line, word-split on purpose (no spaces in its words)
  start_wgns anchor 'proxy: h2c on' $(anchor_proxy_cmd "${PORT[anchor]}")
}

start_target() { # start_target TARGET: starts the proxy and waits until GetStatus answers through it
  local t=$1
  case $t in
    direct) return 0 ;;
    coral) start_coral_proxy ;;
    go) start_go_proxy ;;
    nghttpx) start_nghttpx ;;
    mesh) start_mesh_proxy ;;
    anchor) start_anchor ;;
  esac || return 1
  wait_200 "$t" || return 1
  log "${LABEL[$t]} up, pid ${PID[$t]}, $HOST:${PORT[$t]}"
}

ensure_up() { # ensure_up TARGET: restarts a process that died (its exit is noted); at most MAX_STARTS starts each
  local t=$1 p c
  p=$(proc_of "$t")
  c=${COLONY_OF[$t]}
  if ! alive "$c"; then
    reap_dead "$c"
    case $c in
      colony) start_colony ;;
      meshcolony) start_mesh_colony ;;
      wgcolony) start_wgcolony ;;
    esac || return 1
  fi
  [[ $t == direct ]] && return 0
  alive "$p" && return 0
  reap_dead "$p"
  ((STARTS[$p] < MAX_STARTS)) || { note "${LABEL[$p]}: not restarting again (started ${STARTS[$p]} times)"; return 1; }
  start_target "$t"
}

# ------------------------------------------------------------------ 3. start
log "start coral-discovery, the colony and the proxies (CORAL_CONFIG_DIR=$CORAL_CONFIG_DIR)"
start_discovery || die "coral-discovery did not start"
init_colony
start_colony || die "the colony did not start (log: $COLONY_LOG)"
grep -q '^warning' "$RUN/start-colony.1.txt" && log "colony start: $(grep '^warning' "$RUN/start-colony.1.txt")"
wait_registered || die "the colony did not register with discovery"
if [[ $MESH == 1 ]]; then
  init_mesh_colony
  start_mesh_colony || die "the userspace-mesh colony did not start"
  anchor_keys
  start_wgcolony || die "the anchor's wgns colony did not start"
fi
for t in "${TARGETS[@]:1}"; do start_target "$t" || die "${LABEL[$t]} did not start"; done

# ------------------------------------------------------------------ 4. runs
# shellcheck disable=SC2034 # J and P are used through namerefs
J=(-H 'content-type: application/json' -d "$RUN/getstatus.json")
# shellcheck disable=SC2034
P=(-H ':method: POST' -H 'content-type: application/proto') # empty body: h2load cannot -d an empty file
CASES=(json-c16m16 json-c1m1)
[[ $PROTO == 1 ]] && CASES=(json-c16m16 proto-c16m16 json-c1m1)
declare -A CASE_ARGS=([json-c16m16]="J -c16 -m16" [json-c1m1]="J -c1 -m1" [proto-c16m16]="P -c16 -m16")
declare -A CASE_TITLE=(
  [json-c16m16]="Connect JSON unary, h2c, h2load -c16 -m16 (throughput)"
  [json-c1m1]="Connect JSON unary, h2c, h2load -c1 -m1 (latency)"
  [proto-c16m16]="Connect proto unary (empty body), h2c, h2load -c16 -m16")

raw_start target proxy_ticks cpu_window_reqs proxy_us_per_req colony_ticks colony_us_per_req idle_ticks wait_s h2load_cpu_pct other_cpu_pct

# run_one CASE TARGET REP: one h2load run under the lock, with the proxy's and
# the colony's CPU sampled after the warm-up and after h2load exits
# (h2load_measure); appends a row to RAW. For direct, the "proxy" columns stay
# empty.
run_one() {
  local c=$1 t=$2 rep=$3 out=$RUN/$1-$2-$3 o
  h2load_args "$c"
  if ! ensure_up "$t"; then
    down_row "$c" "$t" "$rep" "process down"
    echo "$c ${LABEL[$t]} rep $rep: skipped (process down)" >&2
    return
  fi
  # SAMPLE: the colony, then the proxy (direct: the colony alone)
  local col=${COLONY_OF[$t]}
  SAMPLE=("${PID[$col]}") IDLE=()
  [[ $t != direct ]] && SAMPLE+=("${PID[$t]}")
  for o in coral go nghttpx mesh anchor; do [[ $o != "$t" ]] && alive "$o" && IDLE+=("${PID[$o]}"); done
  h2load_run "$out" "$(url "$t")" "$c ${LABEL[$t]} rep $rep" "${ARGS[@]}"
  alive "$col" || { WHY+="the colony died during the run; "; reap_dead "$col"; }
  if [[ $t != direct ]]; then alive "$t" || { WHY+="the proxy died during the run; "; reap_dead "$t"; }; fi
  h2load_results "$out"
  local pticks="" pcpu=""
  [[ $t != direct ]] && { pticks=$((TICKS2[1] - TICKS1[1])); pcpu=${CPU_REQ[1]:-}; }
  raw_row "$c" "$t" "$rep" "$pticks" "$WIN" "$pcpu" "$((TICKS2[0] - TICKS1[0]))" "${CPU_REQ[0]:-}" "$IDLE_TICKS" \
    "$WAITED" "$CLIENT_PCT" "$OTHER_PCT"
  report_run "$c ${LABEL[$t]} rep $rep" "$out" \
    '%-13s %-22s rep %s: %8s req/s  p50 %6s us  p99 %6s us  proxy cpu %6s us/req  colony cpu %6s us/req  h2load %3s%%  other %3s%%' \
    "$c" "${LABEL[$t]}" "$rep" "$RPS" "$(cut -f1 <<<"$PCTS")" "$(cut -f3 <<<"$PCTS")" "${pcpu:--}" "${CPU_REQ[0]:-}" "$CLIENT_PCT" "$OTHER_PCT"
}

# Unrecorded pre-warm (allocators, connection pools, Go's heap) so rep 1 is not the coldest.
if ((PREWARM > 0)); then
  log "pre-warm: ${PREWARM}s of h2load -c16 -m16 per target (not recorded)"
  for t in "${TARGETS[@]}"; do
    ensure_up "$t" || continue
    prewarm "$RUN/prewarm-$t.txt" "$(url "$t")" -c16 -m16 "${J[@]}"
  done
fi

log "runs: ${#CASES[@]} cases x ${#TARGETS[@]} targets x $REPS reps, ${WARMUP}s warm-up + ${DURATION}s each, targets interleaved"
for ((rep = 1; rep <= REPS; rep++)); do
  for c in "${CASES[@]}"; do
    for t in "${TARGETS[@]}"; do run_one "$c" "$t" "$rep"; done
  done
done

# What the proxies counted themselves: coral's health endpoint (requests,
# failed), the Go proxy's 502 count (logged on SIGTERM), nghttpx's error log.
if alive coral; then
  curl -s --max-time 5 "http://$HOST:${PORT[coral]}/-/coral/proxy/health" >"$RUN/coral-proxy-health.json"
  log "coral proxy health: $(head -c 400 "$RUN/coral-proxy-health.json")"
fi
# Cold starts (MESH=1): `coral proxy start` (userspace mesh: key, lookup,
# handshake, Register over the tunnel) to the first `coral status` that
# answers through it; the anchor's wgns proxy from launch to its first
# GetStatus 200 (wgns coldstart); `coral status` through a running proxy.
COLD=$RUN/cold.tsv
printf 'what\trep\tms\n' >"$COLD"
now_us() { echo $(($(date +%s%N) / 1000)); }
if [[ $MESH == 1 ]]; then
  log "cold starts: $COLD_REPS reps each"
  stop_all anchor # stopped on purpose: not a crash
  for ((rep = 1; rep <= COLD_REPS; rep++)); do
    stop_all mesh
    t0=$(now_us)
    if "$CORAL" proxy start "$MESH_COLONY" --listen "$HOST:0" --daemon --log-level warn >"$RUN/cold-$rep.txt" 2>&1; then
      ok=0
      for ((i = 0; i < 500; i++)); do
        "$CORAL" status --colony "$MESH_COLONY" >"$RUN/cold-status-$rep.txt" 2>&1 && { ok=1; break; }
      done
      t1=$(now_us)
      PID[mesh]=$(tr -dc 0-9 <"$CORAL_CONFIG_DIR/proxies/$MESH_COLONY.pid")
      ((ok)) && printf 'coral-cold\t%d\t%s\n' "$rep" "$(awk -v d=$((t1 - t0)) 'BEGIN { printf "%.1f", d / 1000 }')" >>"$COLD"
      ((ok)) || note "cold start $rep: coral status never answered: $(head -c 300 "$RUN/cold-status-$rep.txt")"
      for ((i = 0; i < 3; i++)); do
        t0=$(now_us)
        "$CORAL" status --colony "$MESH_COLONY" >/dev/null 2>&1 &&
          printf 'coral-status\t%d\t%s\n' "$rep" "$(awk -v d=$(($(now_us) - t0)) 'BEGIN { printf "%.1f", d / 1000 }')" >>"$COLD"
      done
    else
      note "cold start $rep: coral proxy start failed: $(tr '\n' ' ' <"$RUN/cold-$rep.txt" | head -c 300)"
    fi
    port=$(free_port "$HOST") || continue
    # shellcheck disable=SC2046 # the anchor's command line, word-split on purpose
    "$WGNS" coldstart -log "$RUN/anchor-cold-$rep.log" -url "http://$HOST:$port$RPC_PATH" -- \
      $(anchor_proxy_cmd "$port") >"$RUN/anchor-cold-$rep.out" 2>&1
    ms=$(sed -n 's/.*first_ok_ms=\([0-9.]*\).*/\1/p' "$RUN/anchor-cold-$rep.out" | head -1)
    [[ -n $ms ]] && printf 'anchor-cold\t%d\t%s\n' "$rep" "$ms" >>"$COLD"
  done
fi

stop_all coral go nghttpx mesh anchor colony meshcolony wgcolony discovery
log "processes stopped"
PROXY_COUNTS=
if [[ -s $RUN/coral-proxy-health.json ]]; then
  PROXY_COUNTS+="coral proxy health at the end: $(grep -o '"requests":[0-9]*,"failed":[0-9]*' "$RUN/coral-proxy-health.json" | tr -d '"')"
fi
go_err=$(cat "$RUN"/server-go.*.log 2>/dev/null | sed -n 's/.*upstream errors (502) = \([0-9]*\).*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
PROXY_COUNTS+="${PROXY_COUNTS:+; }Go proxy upstream errors (502): $go_err"
ngx_lines=$(cat "$RUN"/server-nghttpx.*.log 2>/dev/null | wc -l)
PROXY_COUNTS+="; nghttpx error log: $ngx_lines line(s)"
# The colony and coral's proxy log at warn level: anything they logged is worth a look.
for f in "$COLONY_LOG" "$PROXY_LOG"; do
  [[ -s $f ]] || continue
  grep -v 'mesh address not served' "$f" | grep -q . &&
    note "$(basename "$(dirname "$f")")/$(basename "$f"): $(grep -vc 'mesh address not served' "$f") line(s) besides the IPv6 warning, first: $(grep -v 'mesh address not served' "$f" | head -c 300)"
done
((ngx_lines > 0)) && note "nghttpx logged $ngx_lines line(s), first: $(cat "$RUN"/server-nghttpx.*.log | head -c 300)"

# ----------------------------------------------------------------- 5. summary
SUMMARY=$RUN/summary.md
summarize() {
  awk -F'\t' -v cases="${CASES[*]}" \
      -v title_j16="${CASE_TITLE[json-c16m16]}" -v title_j1="${CASE_TITLE[json-c1m1]}" -v title_p16="${CASE_TITLE[proto-c16m16]}" "$AWK_STATS"'
    function sfmt(x, d, unit) { return x == "" ? "–" : sprintf("%+." d "f", x) unit }
    function diff(a, b) { return (a == "" || b == "") ? "" : a - b }
    function verdict(ok, have) { return have ? (ok ? "MET" : "NOT MET") : "NO DATA" }
    NR == 1 { next }
    {
      k = $1 SUBSEP $2
      ok = count_run(k)
      if ($12 + 0 > 0) {
        errsum[k] += $12
        errruns[k] = errruns[k] (errruns[k] ? ", " : "") "rep " $3 ": " $12 ($24 ~ /colony died/ ? ", the colony died during that run" : "")
      }
      if (!ok) next   # medians: successful runs only
      add(rps, k, $5); add(mean, k, $6); add(p50, k, $7); add(p99, k, $9)
      add(pcpu, k, $17); add(kcpu, k, $19); add(cli, k, $22)
      if ($20 + 0 > idle) idle = $20 + 0
      note_other($23, $1 " " $2 " #" $3)
    }
    END {
      title["json-c16m16"] = title_j16; title["json-c1m1"] = title_j1; title["proto-c16m16"] = title_p16
      label["direct"] = "direct (colony)"; label["coral"] = "coral proxy"; label["go"] = "Go ReverseProxy (h2c)"; label["nghttpx"] = "nghttpx (1 worker)"
      label["mesh"] = "coral proxy, userspace mesh ²"; label["anchor"] = "anchor: wgns proxy, wireguard-go + gVisor ²"
      nc = split(cases, cl, " "); ns = split("direct coral go nghttpx mesh anchor", sl, " ")
      for (i = 1; i <= nc; i++) {
        c = cl[i]
        for (j = 1; j <= ns; j++) {
          s = sl[j]; k = c SUBSEP s
          M[c, s, "rps"] = med(rps[k]); M[c, s, "p50"] = med(p50[k]); M[c, s, "p99"] = med(p99[k])
          M[c, s, "mean"] = med(mean[k]); M[c, s, "pcpu"] = med(pcpu[k]); M[c, s, "kcpu"] = med(kcpu[k])
        }
        table(title[c], "| target | req/s (median) | req/s (all reps) | × direct | mean / p50 / p99 µs | added p50 / p99 µs | proxy CPU ms / 1000 req | colony CPU ms / 1000 req | h2load CPU | failed runs |",
          "|---|---:|---|---:|---|---|---:|---:|---:|---:|")
        for (j = 1; j <= ns; j++) {
          s = sl[j]; k = c SUBSEP s
          if (!(k in seen)) continue
          printf "| %s | %s | %s | %s | %s / %s / %s | %s | %s | %s | %s | %d of %d |\n", label[s], fmt(M[c, s, "rps"], 0), all_reps(k),
            fmt(ratio(M[c, s, "rps"], M[c, "direct", "rps"]), 2, "×"),
            fmt(M[c, s, "mean"], 0), fmt(M[c, s, "p50"], 0), fmt(M[c, s, "p99"], 0),
            (s == "direct" ? "–" : sfmt(diff(M[c, s, "p50"], M[c, "direct", "p50"]), 0) " / " sfmt(diff(M[c, s, "p99"], M[c, "direct", "p99"]), 0)),
            (s == "direct" ? "–" : fmt(M[c, s, "pcpu"], 1)), fmt(M[c, s, "kcpu"], 1), fmt(med(cli[k]), 0, "%"), failed[k] + 0, runs[k]
        }
        print ""
      }
      print "### Goals"
      print ""
      c = "json-c16m16"
      r = ratio(M[c, "coral", "rps"], M[c, "go", "rps"])
      printf "- coral proxy / Go ReverseProxy req/s = %s (goal ≥ 2×, -c16 -m16): %s\n", fmt(r, 2, "×"), verdict(r >= 2, r != "")
      r = ratio(M[c, "coral", "rps"], M[c, "nghttpx", "rps"])
      printf "- coral proxy / nghttpx req/s = %s (goal ≥ 1×, -c16 -m16): %s\n", fmt(r, 2, "×"), verdict(r >= 1, r != "")
      r = ratio(M[c, "coral", "rps"], M[c, "direct", "rps"])
      printf "- coral proxy / direct req/s = %s (goal ≥ 80%%, -c16 -m16): %s\n", fmt(r == "" ? "" : r * 100, 0, "%"), verdict(r >= 0.8, r != "")
      c = "json-c1m1"
      d = diff(M[c, "coral", "p50"], M[c, "direct", "p50"])
      printf "- coral proxy p50 − direct p50 = %s (goal < 50 µs, -c1 -m1; %s vs %s µs): %s\n", sfmt(d, 0, " µs"),
        fmt(M[c, "coral", "p50"], 0), fmt(M[c, "direct", "p50"], 0), verdict(d < 50, d != "")
      c = "json-c16m16"
      r = ratio(M[c, "nghttpx", "pcpu"], M[c, "coral", "pcpu"])
      printf "- host transport: coral proxy CPU %s µs/req vs nghttpx %s (goal ≤ nghttpx, -c16 -m16): %s\n",
        fmt(M[c, "coral", "pcpu"], 1), fmt(M[c, "nghttpx", "pcpu"], 1), verdict(r >= 1, r != "")
      if (M[c, "mesh", "rps"] != "") {
        r = ratio(M[c, "mesh", "rps"], M[c, "anchor", "rps"])
        printf "- userspace mesh: coral / anchor req/s = %s (goal ≥ 3×, -c16 -m16): %s\n", fmt(r, 2, "×"), verdict(r >= 3, r != "")
        r = ratio(M[c, "mesh", "rps"], M[c, "coral", "rps"])
        printf "- userspace mesh / host-transport coral proxy req/s = %s (goal ≥ 80%%, -c16 -m16): %s\n",
          fmt(r == "" ? "" : r * 100, 0, "%"), verdict(r >= 0.8, r != "")
        tm = (M[c, "mesh", "pcpu"] == "" || M[c, "mesh", "kcpu"] == "") ? "" : M[c, "mesh", "pcpu"] + M[c, "mesh", "kcpu"]
        ta = (M[c, "anchor", "pcpu"] == "" || M[c, "anchor", "kcpu"] == "") ? "" : M[c, "anchor", "pcpu"] + M[c, "anchor", "kcpu"]
        r = ratio(tm, ta)
        printf "- userspace mesh: proxy + colony CPU %s µs/req vs the anchor %s = %s (goal ≤ 0.20, -c16 -m16): %s\n",
          fmt(tm, 1), fmt(ta, 1), fmt(r, 2), verdict(r <= 0.2, r != "")
        c = "json-c1m1"
        r = ratio(M[c, "mesh", "p50"], M[c, "anchor", "p50"])
        printf "- userspace mesh: p50 %s µs vs the anchor %s = %s (goal ≤ 0.50, -c1 -m1): %s\n",
          fmt(M[c, "mesh", "p50"], 0), fmt(M[c, "anchor", "p50"], 0), fmt(r, 2), verdict(r <= 0.5, r != "")
      }
      print ""
      for (i = 1; i <= nc; i++) {
        c = cl[i]
        printf "- %s: proxy CPU per 1000 requests: coral %s ms, Go %s ms, nghttpx %s ms (Go / coral %s, nghttpx / coral %s); colony alone (direct) %s ms\n", c,
          fmt(M[c, "coral", "pcpu"], 1), fmt(M[c, "go", "pcpu"], 1), fmt(M[c, "nghttpx", "pcpu"], 1),
          fmt(ratio(M[c, "go", "pcpu"], M[c, "coral", "pcpu"]), 2, "×"), fmt(ratio(M[c, "nghttpx", "pcpu"], M[c, "coral", "pcpu"]), 2, "×"),
          fmt(M[c, "direct", "kcpu"], 1)
      }
      for (i = 1; i <= nc; i++) for (j = 2; j <= ns; j++) {
        k = cl[i] SUBSEP sl[j]
        if (errsum[k]) printf "- **%s, %s: %d failed/errored/timed-out requests** (%s)\n", label[sl[j]], cl[i], errsum[k], errruns[k]
      }
      printf "\nIdle proxies used at most %d clock ticks during any run (all stay up; one gets traffic).\n", idle
      print_other()
    }' "$RAW"
}
{
  echo "## coral local proxy benchmark, $STAMP"
  echo
  sed 's/^/    /' "$RUN/env.txt"
  echo "    load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  echo "Backend: one coral colony (\`coral colony start\`, Connect on $MESH_HOST); GetStatus, Connect JSON, body {}."
  echo "h2load, one thread, on the same machine; each run ${WARMUP}s warm-up + ${DURATION}s, median of $REPS reps;"
  echo "latency from h2load's per-request log (status 200 only); added = target's median minus direct's median;"
  echo "CPU = utime+stime of the process from ${WARMUP}.5 s after h2load starts until it exits, over the requests"
  echo "completed in that window (ms per 1000 requests = µs per request); h2load CPU in % of one core."
  echo
  summarize
  echo
  echo "$PROXY_COUNTS."
  if [[ $MESH == 1 ]]; then
    echo
    echo "² Over a userspace WireGuard mesh on loopback UDP: coral's proxy (its own WireGuard + lwIP stack, joined with"
    echo "an ephemeral key and Register over the tunnel) to a second coral colony on \`--mesh userspace\`; the anchor's"
    echo "wgns proxy (httputil.ReverseProxy, wireguard-go, gVisor netstack) to the wgns colony in its own netstack (a"
    echo "fixed 209-byte GetStatus reply). Their colony CPU column is that colony's."
    echo
    echo "### Cold starts (medians of $COLD_REPS)"
    echo
    awk -F'\t' 'NR > 1 { v[$1] = v[$1] " " $3 }
      function median(list,   n, a, i, j, t) {
        n = split(list, a, " "); if (n == 0) return ""
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
      }
      function verdict(ok, have) { return have ? (ok ? "MET" : "NOT MET") : "NO DATA" }
      END {
        c = median(v["coral-cold"]); a = median(v["anchor-cold"]); s = median(v["coral-status"])
        printf "- `coral proxy start` (userspace mesh: key, lookup, handshake, Register) to the first `coral status` through it: %s ms (all:%s); goal ≤ 100 ms: %s\n", c, v["coral-cold"], verdict(c <= 100, c != "")
        printf "- the anchor, wgns proxy launch to its first GetStatus 200: %s ms (all:%s)\n", a, v["anchor-cold"]
        printf "- `coral status` through a running proxy, wall: %s ms (all:%s); goal ≤ 20 ms: %s\n", s, v["coral-status"], verdict(s <= 20, s != "")
      }' "$COLD"
  fi
  ((CRASHES)) && { echo; echo "**A process exited unexpectedly $CRASHES time(s)**; see the notes and the logs."; }
  notes_section
} >"$SUMMARY"
bench_finish "$CRASHES process exits" "$CRASHES"
