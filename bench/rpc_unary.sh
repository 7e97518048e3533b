#!/usr/bin/env bash
# bench/rpc_unary.sh: unary RPC benchmark on h2c. Drives coral's RPC server
# (coral-rpc-bench-server), the connect-node anchor and the bare Go h2c
# backend with h2load in the same run, interleaved, and prints one markdown
# table per case with req/s, ratios, latency and CPU time per request of each
# server process. Run with --help for the knobs; bench/README.md explains the
# method. Loopback only; every process it starts is stopped by PID on exit.
set -uo pipefail

usage() {
  cat <<'EOF'
usage: bench/rpc_unary.sh [--help]

Benchmarks POST /coral.colony.v1.ColonyService/GetStatus (Connect unary, JSON
body {"colonyId":"reef-1"}, h2c prior knowledge) on three servers, one at a
time, interleaved within each repetition:
  coral         build/release/bench/coral-rpc-bench-server (single-threaded)
  connect-node  $SHARED_DIR/anchors/connect-node/server.mjs (Node >= 20)
  go            $SHARED_DIR/anchors/go-reference backend (Go net/http + x/net h2c)

Cases: h2c -c16 -m16 (throughput) and h2c -c1 -m1 (latency); with PROTO=1
also Connect binary proto (coral and connect-node only).

Environment knobs (defaults in brackets):
  DURATION     main phase of each h2load run, seconds [10]
  WARMUP       h2load --warm-up-time, seconds [2]
  REPS         repetitions per case and server; the table shows the median [3]
  PREWARM      unrecorded h2load run per server before the first rep, s [3]
  PORT_CORAL   loopback port of coral's server [18191]
  PORT_NODE    loopback port of connect-node [18192]
  PORT_GO      loopback port of the Go backend [18193]
  SKIP_BUILD   1: do not build/install anything, use what is there [0]
  CORAL_BIN    coral server binary [build/release/bench/coral-rpc-bench-server]
  PROTO        1: add the Connect proto cases [0]
  SHARED_DIR   where anchors/ lives [$(git rev-parse --show-toplevel)/../shared]
  LOCK         lock file every h2load run holds [/tmp/coral-bench.lock]
  LOCK_WAIT    longest wait for that lock per run, seconds [1800]
  QUIET_PCT    a run starts only when the rest of the machine uses at most
               this % of one core (1 s sample, with the lock held) [20]
  QUIET_WAIT   longest wait for that per run, seconds; then it runs anyway
               and the summary says so [180]

Quick check of the script: DURATION=2 WARMUP=1 REPS=1 bench/rpc_unary.sh
Raw results go to build/bench/<UTC stamp>/ (summary.md, runs.tsv, h2load
output, gzipped per-request logs, server logs). Exit status: 0 if every run
succeeded (200 only, no errors), 1 if any failed, 2 on bad usage or setup.
Goals are printed as MET / NOT MET and do not change the exit status.
EOF
}

case ${1:-} in
  -h|--help) usage; exit 0 ;;
  "") ;;
  *) usage >&2; exit 2 ;;
esac

die() { echo "rpc_unary.sh: $*" >&2; exit 2; }
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROOT=$(git -C "$(dirname "$0")" rev-parse --show-toplevel 2>/dev/null) || die "not inside the coral git tree"
cd "$ROOT" || die "cd $ROOT"

DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
REPS=${REPS:-3}
PREWARM=${PREWARM:-3}
PORT_CORAL=${PORT_CORAL:-18191}
PORT_NODE=${PORT_NODE:-18192}
PORT_GO=${PORT_GO:-18193}
SKIP_BUILD=${SKIP_BUILD:-0}
PROTO=${PROTO:-0}
LOCK=${LOCK:-/tmp/coral-bench.lock}
LOCK_WAIT=${LOCK_WAIT:-1800}
QUIET_PCT=${QUIET_PCT:-20}
QUIET_WAIT=${QUIET_WAIT:-180}
SHARED_DIR=${SHARED_DIR:-$ROOT/../shared}
HOST=127.0.0.1
RPC_PATH=/coral.colony.v1.ColonyService/GetStatus

for knob in DURATION WARMUP REPS PREWARM PORT_CORAL PORT_NODE PORT_GO LOCK_WAIT QUIET_PCT QUIET_WAIT; do
  [[ ${!knob} =~ ^[0-9]+$ ]] || die "$knob must be a non-negative integer (got '${!knob}')"
done
((DURATION >= 1 && REPS >= 1)) || die "DURATION and REPS must be >= 1"
((PORT_CORAL != PORT_NODE && PORT_NODE != PORT_GO && PORT_CORAL != PORT_GO)) || die "PORT_CORAL, PORT_NODE and PORT_GO must differ"

[[ -d $SHARED_DIR/anchors/connect-node && -d $SHARED_DIR/anchors/go-reference ]] ||
  die "anchors not found under SHARED_DIR=$SHARED_DIR (expected anchors/connect-node and anchors/go-reference); set SHARED_DIR"
SHARED_DIR=$(cd "$SHARED_DIR" && pwd)
NODE_DIR=$SHARED_DIR/anchors/connect-node
GO_SRC=$SHARED_DIR/anchors/go-reference
CORAL_BIN=${CORAL_BIN:-$ROOT/build/release/bench/coral-rpc-bench-server}
GO_BIN=$ROOT/build/anchors/backend

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RUN=$ROOT/build/bench/$STAMP
mkdir -p "$RUN" || die "mkdir $RUN"

# ------------------------------------------------------------------ processes
# Every process this script starts is recorded here and stopped by PID on exit.
declare -A PID=()      # server name -> pid
H2LOAD_PID=
cleanup() {
  [[ -n $H2LOAD_PID ]] && stop_pid "$H2LOAD_PID"
  local s
  for s in "${!PID[@]}"; do stop_pid "${PID[$s]}"; done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- 1. prepare
log "prepare (results: $RUN)"
need_apt=()
command -v h2load >/dev/null || need_apt+=(nghttp2-client)
command -v curl >/dev/null || need_apt+=(curl)
if ((${#need_apt[@]})); then
  [[ $SKIP_BUILD == 1 ]] && die "missing ${need_apt[*]} (SKIP_BUILD=1: not installing)"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"; } >"$RUN/apt.log" 2>&1 ||
    die "apt-get install ${need_apt[*]} failed (see $RUN/apt.log)"
fi
command -v node >/dev/null || die "node not found (connect-node needs Node >= 20)"
[[ $(node -p 'process.versions.node.split(".")[0]') -ge 20 ]] || die "node $(node --version) < 20"

if [[ $SKIP_BUILD != 1 ]]; then
  log "build coral-rpc-bench-server (scripts/build release)"
  scripts/build release coral-rpc-bench-server >"$RUN/build-coral.log" 2>&1 || {
    tail -40 "$RUN/build-coral.log" >&2
    die "building coral-rpc-bench-server failed (log: $RUN/build-coral.log)"
  }
  if [[ ! -x $GO_BIN || -n $(find "$GO_SRC/src/backend" -newer "$GO_BIN" -name '*.go' 2>/dev/null) ]]; then
    log "build the Go backend ($GO_SRC/build.sh build/anchors)"
    "$GO_SRC/build.sh" "$ROOT/build/anchors" >"$RUN/build-go.log" 2>&1 ||
      die "go-reference build.sh failed (log: $RUN/build-go.log)"
  fi
  if [[ ! -x $NODE_DIR/node_modules/.bin/buf || ! -f $NODE_DIR/gen/coral/colony/v1/colony_pb.js ]]; then
    log "install connect-node (npm ci + buf generate in $NODE_DIR)"
    (cd "$NODE_DIR" && npm ci --no-audit --no-fund && PATH=$NODE_DIR/node_modules/.bin:$PATH buf generate) \
      >"$RUN/install-node.log" 2>&1 || die "connect-node install failed (log: $RUN/install-node.log)"
  fi
fi
[[ -x $CORAL_BIN ]] || die "$CORAL_BIN missing (build: scripts/build release coral-rpc-bench-server)"
[[ -x $GO_BIN ]] || die "$GO_BIN missing (build: $GO_SRC/build.sh build/anchors)"
[[ -f $NODE_DIR/gen/coral/colony/v1/colony_pb.js && -d $NODE_DIR/node_modules ]] ||
  die "connect-node not installed (cd $NODE_DIR && npm ci && npx buf generate)"

# Request bodies: identical bytes for every server.
printf '{"colonyId":"reef-1"}' >"$RUN/getstatus.json"
printf '\x0a\x06reef-1' >"$RUN/getstatus.bin" # GetStatusRequest{colony_id:"reef-1"}; coral's request is empty and skips field 1

CLK_TCK=$(getconf CLK_TCK)
{
  echo "date (UTC): $(date -u '+%Y-%m-%d %H:%M:%S')"
  echo "machine: $(uname -srm), $(nproc) CPUs, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
  echo "os: $(. /etc/os-release && echo "$PRETTY_NAME")"
  echo "coral: $CORAL_BIN, tree $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src proto bench ':!bench/*.sh' ':!bench/*.md' 2>/dev/null || echo ' + uncommitted changes in src/, proto/ or the bench server')"
  echo "h2load: $(h2load --version | head -1)"
  echo "node: $(node --version), connect-node $(node -p "require('$NODE_DIR/node_modules/@connectrpc/connect-node/package.json').version" 2>/dev/null)"
  echo "go backend: built with $(go version 2>/dev/null | cut -d' ' -f3) ($GO_BIN)"
  echo "knobs: DURATION=$DURATION WARMUP=$WARMUP REPS=$REPS PREWARM=$PREWARM PROTO=$PROTO ports coral=$PORT_CORAL node=$PORT_NODE go=$PORT_GO, CLK_TCK=$CLK_TCK"
} >"$RUN/env.txt"
cat "$RUN/env.txt" >&2

# ------------------------------------------------------------------ 2. servers
SERVERS=(coral node go)
declare -A LABEL=([coral]=coral [node]=connect-node [go]=go-h2c)
declare -A PORT=([coral]=$PORT_CORAL [node]=$PORT_NODE [go]=$PORT_GO)
declare -A STARTS=([coral]=0 [node]=0 [go]=0)
CRASHES=0 # servers found dead (during or between runs); each makes the exit status 1
NOTES=$RUN/notes.txt
: >"$NOTES"

url() { echo "http://$HOST:${PORT[$1]}$RPC_PATH"; }

start_server() { # start_server NAME: starts it, waits until GetStatus answers 200
  local s=$1 p=${PORT[$1]} i code
  ((STARTS[$s] < 4)) || { note "$s: not restarting again (started ${STARTS[$s]} times)"; return 1; }
  port_busy "$p" && die "something already listens on $HOST:$p (set PORT_${s^^})"
  STARTS[$s]=$((STARTS[$s] + 1))
  local logf=$RUN/server-$s.${STARTS[$s]}.log
  case $s in
    coral) "$CORAL_BIN" --listen "$HOST:$p" --port-file "$RUN/coral.port" >"$logf" 2>&1 & ;;
    node) env -C "$NODE_DIR" HOST="$HOST" PORT="$p" node server.mjs >"$logf" 2>&1 & ;;
    go) "$GO_BIN" -listen "$HOST:$p" >"$logf" 2>&1 & ;;
  esac
  PID[$s]=$!
  for ((i = 0; i < 100; i++)); do
    code=$(curl -s --http2-prior-knowledge --max-time 2 -o "$RUN/preflight-$s.body" -w '%{http_code}' \
      -H 'content-type: application/json' --data-binary @"$RUN/getstatus.json" "$(url "$s")")
    [[ $code == 200 ]] && break
    kill -0 "${PID[$s]}" 2>/dev/null || { note "$s: exited while starting; log:"; tail -20 "$logf" | tee -a "$NOTES" >&2; return 1; }
    sleep 0.1
  done
  [[ $code == 200 ]] || { note "$s: GetStatus never answered 200 (last status $code)"; return 1; }
  log "${LABEL[$s]} up, pid ${PID[$s]}, $(wc -c <"$RUN/preflight-$s.body") B reply: $(head -c 120 "$RUN/preflight-$s.body")"
  return 0
}
reap_dead() { # reap_dead NAME: if the server has exited, notes how and forgets its PID
  local s=$1 rc
  [[ -n ${PID[$s]:-} ]] || return 0
  alive "$s" && return 0
  wait "${PID[$s]}" 2>/dev/null; rc=$?
  CRASHES=$((CRASHES + 1))
  note "${LABEL[$s]}: pid ${PID[$s]} had exited (status $rc$( ((rc > 128)) && echo ", signal $((rc - 128))")); log tail ($RUN/server-$s.${STARTS[$s]}.log):"
  tail -20 "$RUN/server-$s.${STARTS[$s]}.log" | tee -a "$NOTES" >&2
  unset "PID[$s]"
}
ensure_up() { # ensure_up NAME: restarts a server that died (its crash is noted)
  alive "$1" && return 0
  reap_dead "$1"
  start_server "$1"
}

# All three servers stay up for the whole run; only the one under test gets
# traffic. The CPU the two idle ones use during each run is recorded too.
log "start servers"
for s in "${SERVERS[@]}"; do start_server "$s" || die "${LABEL[$s]} did not start"; done


# ------------------------------------------------------------------ 3. runs
# shellcheck disable=SC2034 # J and P are used through namerefs
J=(-H 'content-type: application/json' -d "$RUN/getstatus.json")
# shellcheck disable=SC2034
P=(-H 'content-type: application/proto' -d "$RUN/getstatus.bin")
CASES=(json-c16m16 json-c1m1)
declare -A CASE_ARGS=([json-c16m16]="J -c16 -m16" [json-c1m1]="J -c1 -m1" [proto-c16m16]="P -c16 -m16" [proto-c1m1]="P -c1 -m1")
declare -A CASE_SERVERS=([json-c16m16]="coral node go" [json-c1m1]="coral node go" [proto-c16m16]="coral node" [proto-c1m1]="coral node")
declare -A CASE_TITLE=(
  [json-c16m16]="Connect JSON unary, h2c, h2load -c16 -m16 (throughput)"
  [json-c1m1]="Connect JSON unary, h2c, h2load -c1 -m1 (latency)"
  [proto-c16m16]="Connect proto unary, h2c, h2load -c16 -m16"
  [proto-c1m1]="Connect proto unary, h2c, h2load -c1 -m1")
[[ $PROTO == 1 ]] && CASES+=(proto-c16m16 proto-c1m1)

h2load_args() { # h2load_args CASE: fills ARGS with the case's body + concurrency flags
  local spec=${CASE_ARGS[$1]}
  local -n body=${spec%% *}
  local conc
  read -ra conc <<<"${spec#* }"
  ARGS=("${body[@]}" "${conc[@]}")
}

RAW=$RUN/runs.tsv
printf 'case\tserver\trep\tok\treq_s\tmean_us\tp50_us\tp90_us\tp99_us\tmax_us\tsucceeded\terrors\tnon200\tstatus0\tcpu_ticks\tcpu_window_reqs\tcpu_us_per_req\tidle_ticks\twait_s\th2load_cpu_pct\tother_cpu_pct\tnote\n' >"$RAW"

# run_one CASE SERVER REP: one h2load run under the lock, with the server's
# CPU sampled after the warm-up and after h2load exits; appends a row to RAW.
run_one() {
  local c=$1 s=$2 rep=$3 out=$RUN/$1-$2-$3 lk t0 t1 c1 c2 rc o pid why=
  local -A idle1=()
  h2load_args "$c"
  if ! ensure_up "$s"; then
    printf '%s\t%s\t%s\t0\t\t\t\t\t\t\t0\t0\t0\t0\t\t\t\t\t\t\t\tserver down\n' "$c" "$s" "$rep" >>"$RAW"
    return
  fi
  pid=${PID[$s]}
  exec {lk}>>"$LOCK" || die "cannot open $LOCK"
  t0=$(date +%s)
  flock -w "$LOCK_WAIT" "$lk" || die "waited ${LOCK_WAIT}s for $LOCK"
  if ! wait_quiet; then
    why+="machine busy (${BUSY_PCT}% of a core) after waiting ${QUIET_WAIT}s; "
    note "$c ${LABEL[$s]} rep $rep: started although the machine was busy (${BUSY_PCT}% of a core)"
  fi
  local waited=$(($(date +%s) - t0))
  for o in "${SERVERS[@]}"; do [[ $o != "$s" ]] && alive "$o" && idle1[$o]=$(cpu_ticks "${PID[$o]}"); done
  times >"$out.times0"         # children's CPU so far (h2load's is added when it is reaped)
  local w0 b0 c0; w0=$(now_us); b0=$(busy_ticks); c0=$(cpu_ticks "$pid")
  timeout $((WARMUP + DURATION + 60)) h2load "${ARGS[@]}" -D "$DURATION" --warm-up-time="$WARMUP" \
    --log-file="$out.reqlog" "$(url "$s")" >"$out.txt" 2>&1 {lk}>&- &
  H2LOAD_PID=$!
  sleep "$WARMUP.5"           # main phase starts ~WARMUP s after h2load connects
  t1=$(now_us); c1=$(cpu_ticks "$pid")
  wait "$H2LOAD_PID"; rc=$?
  H2LOAD_PID=
  times >"$out.times1"
  local w1 b1; w1=$(now_us); b1=$(busy_ticks)
  c2=$(cpu_ticks "$pid")
  local idle=0 d
  for o in "${!idle1[@]}"; do
    d=$(($(cpu_ticks "${PID[$o]}") - ${idle1[$o]})); ((d > idle)) && idle=$d
  done
  flock -u "$lk"; exec {lk}>&-

  local busy_note=$why; why=
  alive "$s" || why+="server died during the run; "
  ((rc == 0)) || why+="h2load exit status $rc; "
  ((c1 >= 0 && c2 >= 0)) || why+="no /proc stat; "
  [[ -f $out.reqlog ]] || : >"$out.reqlog"
  # h2load summary: "finished in 12.00s, N req/s, ..."; "requests: N total, N started,
  # N done, N succeeded, N failed, N errored, N timeout"; "status codes: N 2xx, N 3xx, N 4xx, N 5xx"
  local rps ok errs n3xx
  rps=$(awk '/^finished in/ {print $4; exit}' "$out.txt")
  ok=$(awk '/^requests:/ {print $8; exit}' "$out.txt")
  errs=$(awk '/^requests:/ {print $10 + $12 + $14; exit}' "$out.txt")
  n3xx=$(awk '/^status codes:/ {print $5 + $7 + $9; exit}' "$out.txt")
  [[ -n $rps && -n $ok ]] || { why+="no h2load summary; "; rps=${rps:-0}; ok=${ok:-0}; errs=${errs:-0}; }
  ((ok > 0)) || why+="no request succeeded; "
  ((errs == 0)) || why+="$errs failed/errored/timed-out requests; "
  ((${n3xx:-0} == 0)) || why+="$n3xx non-2xx responses; "
  # Per-request log (main phase only): start_us <TAB> status <TAB> duration_us.
  # Status 0 marks a request that straddled the warm-up/main boundary (h2load
  # counts it as succeeded): left out of the latency figures, not an error.
  # Latency: status 200 only. CPU: ticks from t1 to h2load's exit over the
  # requests that completed in that window (all main phase, since t1 is after
  # the main phase began; checked against the first logged request).
  awk -F'\t' -v t1="$t1" -v dt="$((c2 - c1))" -v tck="$CLK_TCK" '
    $2 == 200 { lat[++n] = $3; sum += $3; if ($1 + $3 >= t1) win++; if (!first || $1 < first) first = $1; next }
    $2 == 0 { st0++; next }
    { bad++ }
    END {
      printf "%d\t%d\t%d\t%d\t%s\t%s\n", n, bad, st0, win, (n ? sprintf("%.0f", sum / n) : "-"),
        (win ? sprintf("%.1f", dt * 1e6 / tck / win) : "-")
      print ((first && t1 < first) ? "cpu window began before the main phase" : "")
    }' "$out.reqlog" >"$out.stats"
  local n bad st0 win cpu_req mean cpunote
  IFS=$'\t' read -r n bad st0 win mean cpu_req <"$out.stats"
  [[ $mean == - ]] && mean=
  [[ $cpu_req == - ]] && cpu_req=
  cpunote=$(sed -n 2p "$out.stats")
  rm -f "$out.stats"
  ((bad == 0)) || why+="$bad non-200 responses in the request log; "
  ((n > 0)) || why+="no status-200 entry in the request log; "
  local pcts
  pcts=$(awk -F'\t' '$2 == 200 {print $3}' "$out.reqlog" | sort -n | awk '
    { d[NR] = $1 }
    function pct(p,  k) { k = int(p * NR + 0.999999); if (k < 1) k = 1; return d[k] }
    END { if (NR) printf "%d\t%d\t%d\t%d", pct(.5), pct(.9), pct(.99), d[NR]; else printf "\t\t\t" }')
  gzip -f "$out.reqlog"
  # h2load's CPU (user+sys) as a share of one core over its wall time; the few
  # short helpers run between the two `times` calls add a few ms at most.
  local client_pct
  client_pct=$(cat "$out.times0" "$out.times1" | awk -v wall="$((w1 - w0))" '
    function sec(x,  m) { m = x; sub(/m.*/, "", m); sub(/^[0-9]+m/, "", x); sub(/s$/, "", x); return m * 60 + x }
    NR == 2 { a = sec($1) + sec($2) } NR == 4 { b = sec($1) + sec($2) }
    END { printf "%.0f", (wall > 0 ? (b - a) * 1e8 / wall : 0) }')
  rm -f "$out.times0" "$out.times1"
  # Everything else on the machine during the run, in % of one core: busy
  # time minus the server's and h2load's. Near 0 on a quiet machine.
  local other_pct
  other_pct=$(awk -v b="$((b1 - b0 - ($(cpu_ticks "$pid") - c0)))" -v tck="$CLK_TCK" -v wall="$((w1 - w0))" -v cli="$client_pct" \
    'BEGIN { printf "%.0f", (wall > 0 ? b * 1e8 / tck / wall - cli : 0) }')
  local okflag=1; [[ -n $why ]] && okflag=0
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
    "$c" "$s" "$rep" "$okflag" "$rps" "$mean" "$pcts" "$ok" "$errs" "$bad" "$st0" \
    "$((c2 - c1))" "$win" "$cpu_req" "$idle" "$waited" "$client_pct" "$other_pct" "${why}${busy_note}${cpunote}" >>"$RAW"
  printf '%-13s %-12s rep %s: %8s req/s  mean %6s us  p99 %6s us  cpu %6s us/req  h2load %3s%%  other %3s%%%s\n' \
    "$c" "${LABEL[$s]}" "$rep" "$rps" "$mean" "$(cut -f3 <<<"$pcts")" "$cpu_req" "$client_pct" "$other_pct" \
    "${why:+  FAILED: $why}" >&2
  if [[ -n $why ]]; then note "$c ${LABEL[$s]} rep $rep FAILED: $why(h2load output: $out.txt)"; fi
}

# Unrecorded pre-warm (JIT, heap sizing, allocator) so rep 1 is not the coldest.
if ((PREWARM > 0)); then
  log "pre-warm: ${PREWARM}s of h2load -c16 -m16 per server and body (not recorded)"
  for s in "${SERVERS[@]}"; do
    for b in J P; do
      [[ $b == P && ($PROTO != 1 || $s == go) ]] && continue
      declare -n wargs=$b
      ensure_up "$s" || continue
      flock -w "$LOCK_WAIT" "$LOCK" timeout $((PREWARM + 30)) h2load -c16 -m16 -D "$PREWARM" "${wargs[@]}" \
        "$(url "$s")" >"$RUN/prewarm-$s-$b.txt" 2>&1
      unset -n wargs
    done
  done
fi

log "runs: ${#CASES[@]} cases x $REPS reps, ${WARMUP}s warm-up + ${DURATION}s each, servers interleaved"
for ((rep = 1; rep <= REPS; rep++)); do
  for c in "${CASES[@]}"; do
    for s in ${CASE_SERVERS[$c]}; do run_one "$c" "$s" "$rep"; done
  done
done

for s in "${SERVERS[@]}"; do
  reap_dead "$s"
  [[ -n ${PID[$s]:-} ]] && { stop_pid "${PID[$s]}"; unset "PID[$s]"; }
done
log "servers stopped"

# ----------------------------------------------------------------- 4. summary
SUMMARY=$RUN/summary.md
summarize() {
  awk -F'\t' -v cases="${CASES[*]}" \
      -v title_j16="${CASE_TITLE[json-c16m16]}" -v title_j1="${CASE_TITLE[json-c1m1]}" \
      -v title_p16="${CASE_TITLE[proto-c16m16]}" -v title_p1="${CASE_TITLE[proto-c1m1]}" '
    function med(list,  n, a, i, j, t) {
      n = split(list, a, " "); if (!n) return ""
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
      return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    function add(arr, k, v) { if (v == "") return; if (k in arr) arr[k] = arr[k] " " v; else arr[k] = v }
    function fmt(x, d, unit) { return x == "" ? "–" : sprintf("%." d "f", x) unit }
    function ratio(a, b) { return (a == "" || b == "" || b + 0 == 0) ? "" : a / b }
    NR == 1 { next }
    {
      k = $1 SUBSEP $2; seen[k] = 1; runs[k]++
      add(rpsall, k, $4 ? sprintf("%.0f", $5) : "failed")
      if (!$4) { failed[k]++; next }   # medians: successful runs only
      add(rps, k, $5); add(mean, k, $6); add(p50, k, $7); add(p99, k, $9); add(cpu, k, $17); add(cli, k, $20)
      if ($18 + 0 > idle) idle = $18 + 0
      if ($21 != "") {
        add(oth, "all", $21); if ($21 + 0 > othmax) othmax = $21 + 0
        if ($21 + 0 > 15) { nbusy++; busy = busy (busy ? ", " : "") $1 " " $2 " #" $3 " (" $21 "%)" }
      }
      nruns++
    }
    END {
      title["json-c16m16"] = title_j16; title["json-c1m1"] = title_j1
      title["proto-c16m16"] = title_p16; title["proto-c1m1"] = title_p1
      label["coral"] = "coral"; label["node"] = "connect-node"; label["go"] = "Go h2c backend"
      nc = split(cases, cl, " "); ns = split("coral node go", sl, " ")
      for (i = 1; i <= nc; i++) {
        c = cl[i]
        printf "### %s\n\n", title[c]
        print "| server | req/s (median) | req/s (all reps) | × connect-node | mean / p50 / p99 µs | CPU µs/request | h2load CPU | failed runs |"
        print "|---|---:|---|---:|---|---:|---:|---:|"
        for (j = 1; j <= ns; j++) {
          s = sl[j]; k = c SUBSEP s
          if (!(k in seen)) continue
          M[c, s, "rps"] = med(rps[k]); M[c, s, "p99"] = med(p99[k]); M[c, s, "cpu"] = med(cpu[k])
          all = rpsall[k]; gsub(/ /, ", ", all)
          printf "| %s | %s | %s | %s | %s / %s / %s | %s | %s | %d of %d |\n", label[s], fmt(M[c, s, "rps"], 0), all,
            fmt(ratio(M[c, s, "rps"], med(rps[c SUBSEP "node"])), 2, "×"),
            fmt(med(mean[k]), 0), fmt(med(p50[k]), 0), fmt(M[c, s, "p99"], 0), fmt(M[c, s, "cpu"], 1),
            fmt(med(cli[k]), 0, "%"), failed[k] + 0, runs[k]
        }
        print ""
      }
      print "### Goals"
      print ""
      for (i = 1; i <= nc; i++) {
        c = cl[i]; if (c !~ /^json/) continue
        r = ratio(M[c, "coral", "rps"], M[c, "node", "rps"])
        if (c == "json-c16m16")
          printf "- coral / connect-node req/s = %s× (goal ≥ 6×, %s): %s\n", fmt(r, 2), c, r == "" ? "NO DATA" : (r >= 6 ? "MET" : "NOT MET")
        else
          printf "- coral / connect-node req/s = %s× (%s, no goal)\n", fmt(r, 2), c
      }
      for (i = 1; i <= nc; i++) {
        c = cl[i]; if (c !~ /^json/) continue
        pc = M[c, "coral", "p99"]; pn = M[c, "node", "p99"]; r = ratio(pn, pc)
        printf "- coral p99 vs connect-node p99 (%s): %s µs vs %s µs, coral %s× lower: %s\n", c, fmt(pc, 0), fmt(pn, 0), fmt(r, 2),
          r == "" ? "NO DATA" : (pc + 0 <= pn + 0 ? "MET (coral ≤ connect-node)" : "NOT MET (coral > connect-node)")
      }
      for (i = 1; i <= nc; i++) {
        c = cl[i]; if (c !~ /^json/) continue
        printf "- coral / go req/s = %s× (%s)\n", fmt(ratio(M[c, "coral", "rps"], M[c, "go", "rps"]), 2), c
      }
      for (i = 1; i <= nc; i++) {
        c = cl[i]; if (c !~ /^json/) continue
        printf "- CPU per request, connect-node / coral = %s×, go / coral = %s× (%s)\n",
          fmt(ratio(M[c, "node", "cpu"], M[c, "coral", "cpu"]), 2), fmt(ratio(M[c, "go", "cpu"], M[c, "coral", "cpu"]), 2), c
      }
      printf "\nIdle servers used at most %d clock ticks during any run (all three stay up; one gets traffic).\n", idle
      printf "Other processes used a median of %s%% and at most %s%% of one core during the runs%s.\n", fmt(med(oth["all"]), 0), othmax + 0,
        (othmax > 15 ? " (WARNING: the machine was not quiet; rerun when it is)" : "")
      if (nbusy) printf "Runs disturbed by more than 15%% of a core of other load: %d of %d: %s.\n", nbusy, nruns, busy
    }' "$RAW"
}
{
  echo "## coral RPC unary benchmark, $STAMP"
  echo
  sed 's/^/    /' "$RUN/env.txt"
  echo
  echo "h2load, one thread, on the same machine; each run ${WARMUP}s warm-up + ${DURATION}s, median of $REPS reps;"
  echo "latency from h2load's per-request log (status 200 only); CPU = utime+stime of the server process"
  echo "from ${WARMUP}.5 s after h2load starts until it exits, over the requests completed in that window;"
  echo "h2load CPU = the client's user+sys time over its wall time (100% = one core: the client is the bottleneck)."
  echo
  summarize
  ((CRASHES)) && { echo; echo "**A server exited unexpectedly $CRASHES time(s)**; see the notes and server-*.log."; }
  if [[ -s $NOTES ]]; then echo; echo "### Notes"; echo; sed 's/^/    /' "$NOTES"; fi
} >"$SUMMARY"
echo
cat "$SUMMARY"
nfail=$(awk -F'\t' 'NR > 1 && !$4' "$RAW" | wc -l)
echo
echo "results: $RUN ($(tail -n +2 "$RAW" | wc -l) runs, $nfail failed, $CRASHES server exits)"
exit $((nfail + CRASHES > 0))
