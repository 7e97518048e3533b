#!/usr/bin/env bash
# bench/discovery_lookup.sh: LookupColony throughput, latency and CPU cost of
# coral-discovery on h2c with COLONIES registered colonies, for the memory
# store and the Redis store, plus the server's resident memory per colony;
# with a same-run baseline (coral's RPC server answering a fixed GetStatus,
# no store). Run with --help for the knobs; bench/README.md explains the
# method. Loopback only; every process it starts is stopped by PID on exit.
set -uo pipefail

usage() {
  cat <<'EOF'
usage: bench/discovery_lookup.sh [--help]

For each store (memory, then redis://127.0.0.1:<free port>/0 on a throwaway
redis-server with no persistence), starts coral-discovery on 127.0.0.1
(--ttl 3600s), registers COLONIES colonies with coral-discovery-load (one
h2c connection, LOAD_CONCURRENCY calls in flight), and reads the server's
VmRSS (and Redis's used_memory) before and after: bytes per colony. Then
h2load drives POST /coral.discovery.v1.DiscoveryService/LookupColony
(Connect JSON, body {"mesh_id":"<LOOKUP_ID>"}, h2c prior knowledge) on each
server, interleaved within each repetition with the baseline: the same h2load
against build/release/bench/coral-rpc-bench-server (coral's RPC server, one
thread, fixed GetStatus reply, no store).

Cases: -c16 -m16 (throughput) and -c1 -m1 (latency) for LookupColony and the
baseline; HEALTH=1 adds Health at -c16 -m16 on each discovery server; PROTO=1
adds LookupColony in Connect binary proto at -c16 -m16.

Environment knobs (defaults in brackets):
  COLONIES         colonies registered per store [100000]
  LOOKUP_ID        the mesh_id looked up [bench-colony-0042421, or index
                   42421 % COLONIES when COLONIES <= 42421]
  STORES           which stores, space separated: memory redis [memory redis]
  DURATION         main phase of each h2load run, seconds [10]
  WARMUP           h2load --warm-up-time, seconds [2]
  REPS             repetitions per case; the table shows the median [3]
  PREWARM          unrecorded h2load -c16 -m16 run per server first, s [3]
  HEALTH           1: also Health -c16 -m16 on each discovery server [1]
  PROTO            1: also LookupColony in Connect proto -c16 -m16 [0]
  LOAD_CONCURRENCY coral-discovery-load --concurrency [128]
  LOAD_TIMEOUT     coral-discovery-load --timeout, seconds [900]
  SKIP_BUILD       1: do not build anything, use what is there [0]
  BUILD_DIR        where the binaries are [build/release]
  LOCK             lock file every h2load run (and every load) holds
                   [/tmp/coral-bench.lock]
  LOCK_WAIT        longest wait for that lock per run, seconds [1800]
  QUIET_PCT        a run starts only when the rest of the machine uses at
                   most this % of one core (1 s sample, lock held) [20]
  QUIET_WAIT       longest wait for that per run, seconds; then it runs
                   anyway and the summary says so [180]

Quick check of the script:
  COLONIES=10000 DURATION=2 WARMUP=1 REPS=1 bench/discovery_lookup.sh
Raw results go to build/bench/<UTC stamp>-discovery/ (summary.md, runs.tsv,
memory.tsv, h2load output, gzipped per-request logs, server and load logs).
Exit status: 0 if everything succeeded (every response 200, no errors, no
server exit, every colony registered), 1 if anything failed, 2 on bad usage
or setup. Goals are printed as MET / NOT MET and do not change the exit
status.
EOF
}

case ${1:-} in
  -h|--help) usage; exit 0 ;;
  "") ;;
  *) usage >&2; exit 2 ;;
esac

die() { echo "discovery_lookup.sh: $*" >&2; exit 2; }
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROOT=$(git -C "$(dirname "$0")" rev-parse --show-toplevel 2>/dev/null) || die "not inside the coral git tree"
cd "$ROOT" || die "cd $ROOT"

COLONIES=${COLONIES:-100000}
STORES=${STORES:-memory redis}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
REPS=${REPS:-3}
PREWARM=${PREWARM:-3}
HEALTH=${HEALTH:-1}
PROTO=${PROTO:-0}
LOAD_CONCURRENCY=${LOAD_CONCURRENCY:-128}
LOAD_TIMEOUT=${LOAD_TIMEOUT:-900}
SKIP_BUILD=${SKIP_BUILD:-0}
BUILD_DIR=${BUILD_DIR:-$ROOT/build/release}
LOCK=${LOCK:-/tmp/coral-bench.lock}
LOCK_WAIT=${LOCK_WAIT:-1800}
QUIET_PCT=${QUIET_PCT:-20}
QUIET_WAIT=${QUIET_WAIT:-180}
HOST=127.0.0.1
PREFIX=bench-colony-

for knob in COLONIES DURATION WARMUP REPS PREWARM LOAD_CONCURRENCY LOAD_TIMEOUT LOCK_WAIT QUIET_PCT QUIET_WAIT; do
  [[ ${!knob} =~ ^[0-9]+$ ]] || die "$knob must be a non-negative integer (got '${!knob}')"
done
((DURATION >= 1 && REPS >= 1)) || die "DURATION and REPS must be >= 1"
((COLONIES >= 1 && COLONIES <= 10000000)) || die "COLONIES must be 1-10000000"
((LOAD_CONCURRENCY >= 1 && LOAD_CONCURRENCY <= 256)) || die "LOAD_CONCURRENCY must be 1-256"
for s in $STORES; do [[ $s == memory || $s == redis ]] || die "STORES: unknown store '$s' (memory, redis)"; done
[[ -n ${STORES// /} ]] || die "STORES is empty"
LOOKUP_ID=${LOOKUP_ID:-$PREFIX$(printf '%07d' $((42421 % COLONIES)))}
[[ $LOOKUP_ID =~ ^[a-z0-9._-]{1,63}$ ]] || die "LOOKUP_ID must be a valid mesh_id (got '$LOOKUP_ID')"

DISCOVERY_BIN=$BUILD_DIR/apps/coral-discovery
LOAD_BIN=$BUILD_DIR/bench/coral-discovery-load
BASE_BIN=$BUILD_DIR/bench/coral-rpc-bench-server

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RUN=$ROOT/build/bench/$STAMP-discovery
mkdir -p "$RUN" || die "mkdir $RUN"

# ------------------------------------------------------------------ processes
# Every process this script starts is recorded here and stopped by PID on exit.
declare -A PID=()      # server name -> pid
H2LOAD_PID=
LOADER_PID=
cleanup() {
  [[ -n $H2LOAD_PID ]] && stop_pid "$H2LOAD_PID"
  [[ -n $LOADER_PID ]] && stop_pid "$LOADER_PID"
  local s
  # Discovery servers before redis-server, so they do not log a Redis outage.
  for s in disc-memory disc-redis base redis; do [[ -n ${PID[$s]:-} ]] && stop_pid "${PID[$s]}"; done
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- 1. prepare
log "prepare (results: $RUN)"
need_apt=()
command -v h2load >/dev/null || need_apt+=(nghttp2-client)
command -v curl >/dev/null || need_apt+=(curl)
[[ " $STORES " == *" redis "* ]] && { command -v redis-server >/dev/null && command -v redis-cli >/dev/null || need_apt+=(redis-server redis-tools); }
if ((${#need_apt[@]})); then
  [[ $SKIP_BUILD == 1 ]] && die "missing ${need_apt[*]} (SKIP_BUILD=1: not installing)"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"; } >"$RUN/apt.log" 2>&1 ||
    die "apt-get install ${need_apt[*]} failed (see $RUN/apt.log)"
fi

if [[ $SKIP_BUILD != 1 ]]; then
  log "build coral-discovery, coral-discovery-load, coral-rpc-bench-server (scripts/build release)"
  scripts/build release coral-discovery coral-discovery-load coral-rpc-bench-server >"$RUN/build.log" 2>&1 || {
    tail -40 "$RUN/build.log" >&2
    die "build failed (log: $RUN/build.log)"
  }
fi
for b in "$DISCOVERY_BIN" "$LOAD_BIN" "$BASE_BIN"; do
  [[ -x $b ]] || die "$b missing (build: scripts/build release coral-discovery coral-discovery-load coral-rpc-bench-server)"
done

# Request bodies.
printf '{"mesh_id":"%s"}' "$LOOKUP_ID" >"$RUN/lookup.json"
printf "\\x0a\\x$(printf '%02x' ${#LOOKUP_ID})%s" "$LOOKUP_ID" >"$RUN/lookup.bin" # LookupColonyRequest{mesh_id}
printf '{}' >"$RUN/health.json"
printf '{"colonyId":"reef-1"}' >"$RUN/getstatus.json" # as in rpc_unary.sh

CLK_TCK=$(getconf CLK_TCK)
{
  echo "date (UTC): $(date -u '+%Y-%m-%d %H:%M:%S')"
  echo "machine: $(uname -srm), $(nproc) CPUs, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
  echo "os: $(. /etc/os-release && echo "$PRETTY_NAME")"
  echo "coral: $BUILD_DIR, tree $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src proto apps bench ':!bench/*.sh' ':!bench/*.md' 2>/dev/null && [[ -z $(git ls-files --others --exclude-standard src proto apps bench) ]] || echo ' + uncommitted changes in src/, proto/, apps/ or bench/')"
  echo "h2load: $(h2load --version | head -1)"
  [[ " $STORES " == *" redis "* ]] && echo "redis: $(redis-server --version)"
  echo "knobs: COLONIES=$COLONIES LOOKUP_ID=$LOOKUP_ID STORES='$STORES' DURATION=$DURATION WARMUP=$WARMUP REPS=$REPS PREWARM=$PREWARM HEALTH=$HEALTH PROTO=$PROTO LOAD_CONCURRENCY=$LOAD_CONCURRENCY, CLK_TCK=$CLK_TCK"
} >"$RUN/env.txt"
cat "$RUN/env.txt" >&2

# ------------------------------------------------------------------ 2. helpers
CRASHES=0   # processes found dead; each makes the exit status 1
FAILURES=0  # setup steps that failed (load, preflight, counts); each makes it 1
NOTES=$RUN/notes.txt
: >"$NOTES"
declare -A PORT=() LOGF=() DOWN=()
declare -A LABEL=([disc-memory]="coral-discovery (memory)" [disc-redis]="coral-discovery (redis)" [base]="coral-rpc-bench-server" [redis]="redis-server")

reap_dead() { # reap_dead NAME: if the process has exited, notes how and forgets its PID
  local s=$1 rc
  [[ -n ${PID[$s]:-} ]] || return 0
  alive "$s" && return 0
  wait "${PID[$s]}" 2>/dev/null; rc=$?
  CRASHES=$((CRASHES + 1))
  DOWN[$s]=1
  note "${LABEL[$s]}: pid ${PID[$s]} had exited (status $rc$( ((rc > 128)) && echo ", signal $((rc - 128))")); log tail (${LOGF[$s]}):"
  tail -20 "${LOGF[$s]}" | tee -a "$NOTES" >&2
  unset "PID[$s]"
}
rss_bytes() { # VmRSS of PID in bytes
  awk '/^VmRSS:/ { print $2 * 1024; exit }' "/proc/$1/status" 2>/dev/null
}
redis_used() { # used_memory of the redis-server, bytes
  redis-cli -h "$HOST" -p "${PORT[redis]}" info memory 2>/dev/null | tr -d '\r' | awk -F: '/^used_memory:/ { print $2; exit }'
}
url_of() { # url_of SERVER PATH
  echo "http://$HOST:${PORT[$1]}$2"
}
call() { # call SERVER PATH BODYFILE OUT: one Connect JSON call with curl (h2c); prints the HTTP status
  curl -s --http2-prior-knowledge --max-time 5 -o "$4" -w '%{http_code}' \
    -H 'content-type: application/json' --data-binary @"$3" "$(url_of "$1" "$2")"
}
LOOKUP_PATH=/coral.discovery.v1.DiscoveryService/LookupColony
HEALTH_PATH=/coral.discovery.v1.DiscoveryService/Health
GETSTATUS_PATH=/coral.colony.v1.ColonyService/GetStatus

# start_port_file NAME CMD...: starts a coral server that writes its bound port
# (--port-file is appended) and waits for the port file (at most 10 s).
start_port_file() {
  local s=$1 i
  shift
  LOGF[$s]=$RUN/server-$s.log
  rm -f "$RUN/$s.port"
  "$@" --port-file "$RUN/$s.port" >"${LOGF[$s]}" 2>&1 &
  PID[$s]=$!
  for ((i = 0; i < 100; i++)); do
    [[ -s $RUN/$s.port ]] && break
    alive "$s" || { reap_dead "$s"; return 1; }
    sleep 0.1
  done
  [[ -s $RUN/$s.port ]] || { note "${LABEL[$s]}: no port file after 10 s"; return 1; }
  PORT[$s]=$(tr -dc 0-9 <"$RUN/$s.port")
  return 0
}

# wait_200 NAME PATH BODY: until a call answers 200 (at most 5 s); keeps the body
wait_200() {
  local s=$1 i code=
  for ((i = 0; i < 50; i++)); do
    code=$(call "$s" "$2" "$3" "$RUN/preflight-$s.body")
    [[ $code == 200 ]] && return 0
    alive "$s" || { reap_dead "$s"; return 1; }
    sleep 0.1
  done
  note "${LABEL[$s]}: $2 never answered 200 (last status $code: $(head -c 300 "$RUN/preflight-$s.body" 2>/dev/null))"
  return 1
}

start_redis() { # a throwaway redis-server on a free loopback port, no persistence
  local attempt p i
  LOGF[redis]=$RUN/server-redis.log
  for ((attempt = 0; attempt < 5; attempt++)); do
    p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
    port_busy "$p" && continue
    redis-server --port "$p" --bind "$HOST" --save '' --appendonly no --daemonize no \
      --loglevel warning --logfile '' --dir "$RUN" >"${LOGF[redis]}" 2>&1 &
    PID[redis]=$!
    PORT[redis]=$p
    for ((i = 0; i < 50; i++)); do
      [[ $(redis-cli -h "$HOST" -p "$p" ping 2>/dev/null) == PONG ]] && return 0
      kill -0 "${PID[redis]}" 2>/dev/null || break
      sleep 0.1
    done
    stop_pid "${PID[redis]}"
    unset "PID[redis]"
  done
  return 1
}

# ---------------------------------------------------- 3. servers and loading
MEM=$RUN/memory.tsv
printf 'store\tcolonies\tload_ok\tload_s\treg_per_s\trss_before\trss_after_load\trss_after_runs\tbytes_per_colony\tredis_used_before\tredis_used_after\tredis_bytes_per_colony\tredis_rss_before\tredis_rss_after\tredis_rss_per_colony\tlive_colonies\n' >"$MEM"
declare -A RSS0=() RSS1=() REG_S=() LOAD_S=() LOAD_OK=() RUSED0=() RUSED1=() RRSS0=() RRSS1=() LIVE=()

log "start the baseline: coral-rpc-bench-server"
start_port_file base "$BASE_BIN" --listen "$HOST:0" || die "coral-rpc-bench-server did not start"
wait_200 base "$GETSTATUS_PATH" "$RUN/getstatus.json" || die "coral-rpc-bench-server did not answer GetStatus"
log "baseline up, pid ${PID[base]}, port ${PORT[base]}"

# load_store STORE: starts coral-discovery with that store, registers COLONIES
# colonies under the lock and records the memory figures.
load_store() {
  local st=$1 s=disc-$1 store_arg=memory
  if [[ $st == redis ]]; then
    start_redis || { note "redis-server did not start (5 attempts)"; return 1; }
    store_arg=redis://$HOST:${PORT[redis]}/0
    log "redis-server up, pid ${PID[redis]}, port ${PORT[redis]}"
  fi
  # coral-discovery-load registers without proofs of possession, as fast as
  # it can, from one source: accept that (the benchmark measures lookups).
  start_port_file "$s" "$DISCOVERY_BIN" --listen "$HOST:0" --ttl 3600s --store "$store_arg" --log-level warn \
    --accept-unproven --register-rate 0 --max-colonies 1000000 ||
    { note "${LABEL[$s]} did not start"; return 1; }
  wait_200 "$s" "$HEALTH_PATH" "$RUN/health.json" || return 1
  log "${LABEL[$s]} up, pid ${PID[$s]}, port ${PORT[$s]}: $(head -c 200 "$RUN/preflight-$s.body")"
  sleep 0.5
  RSS0[$st]=$(rss_bytes "${PID[$s]}")
  if [[ $st == redis ]]; then RUSED0[$st]=$(redis_used); RRSS0[$st]=$(rss_bytes "${PID[redis]}"); fi

  local lk t0 rc
  exec {lk}>>"$LOCK" || die "cannot open $LOCK"
  flock -w "$LOCK_WAIT" "$lk" || die "waited ${LOCK_WAIT}s for $LOCK"
  wait_quiet || note "load $st: started although the machine was busy (${BUSY_PCT}% of a core)"
  log "load $COLONIES colonies into the $st store (coral-discovery-load, concurrency $LOAD_CONCURRENCY)"
  t0=$(now_us)
  "$LOAD_BIN" "$(url_of "$s" "")" "$COLONIES" --concurrency "$LOAD_CONCURRENCY" --prefix "$PREFIX" \
    --timeout "$LOAD_TIMEOUT" >"$RUN/load-$st.txt" 2>&1 {lk}>&- &
  LOADER_PID=$!
  wait "$LOADER_PID"; rc=$?
  LOADER_PID=
  flock -u "$lk"; exec {lk}>&-
  LOAD_S[$st]=$(awk -v a="$t0" -v b="$(now_us)" 'BEGIN { printf "%.2f", (b - a) / 1e6 }')
  cat "$RUN/load-$st.txt" >&2
  alive "$s" || reap_dead "$s"
  if ((rc != 0)); then
    note "load $st FAILED (coral-discovery-load exit status $rc after ${LOAD_S[$st]} s): $(head -3 "$RUN/load-$st.txt" | tr '\n' ' ')"
    FAILURES=$((FAILURES + 1)); LOAD_OK[$st]=0
  else
    LOAD_OK[$st]=1
  fi
  REG_S[$st]=$(awk '/^registered/ { for (i = 1; i <= NF; i++) if ($(i) ~ /^registrations\/s/) print $(i - 1) }' "$RUN/load-$st.txt")
  alive "$s" || return 1
  sleep 1 # let the allocator settle
  RSS1[$st]=$(rss_bytes "${PID[$s]}")
  if [[ $st == redis ]]; then RUSED1[$st]=$(redis_used); RRSS1[$st]=$(rss_bytes "${PID[redis]}"); fi
  # Every colony must be live, and the looked-up one must be there.
  if [[ $(call "$s" "$HEALTH_PATH" "$RUN/health.json" "$RUN/health-$st.body") == 200 ]]; then
    LIVE[$st]=$(grep -o '"registeredColonies":[0-9]*' "$RUN/health-$st.body" | cut -d: -f2)
  fi
  if [[ ${LIVE[$st]:-} != "$COLONIES" ]]; then
    note "$st: Health reports ${LIVE[$st]:-no} registered colonies after loading $COLONIES ($(head -c 200 "$RUN/health-$st.body" 2>/dev/null))"
    FAILURES=$((FAILURES + 1))
  fi
  local code
  code=$(call "$s" "$LOOKUP_PATH" "$RUN/lookup.json" "$RUN/lookup-$st.body")
  if [[ $code != 200 ]] || ! grep -q '"wireguardPubkey"' "$RUN/lookup-$st.body"; then
    note "$st: LookupColony $LOOKUP_ID answered $code: $(head -c 300 "$RUN/lookup-$st.body")"
    FAILURES=$((FAILURES + 1))
    return 1
  fi
  log "$st: LookupColony reply ($(wc -c <"$RUN/lookup-$st.body") B): $(head -c 400 "$RUN/lookup-$st.body")"
  return 0
}

TARGETS=(base)
for st in $STORES; do
  if load_store "$st"; then
    TARGETS+=("disc-$st")
  else
    note "$st store: no lookup runs (setup failed; see above)"
    FAILURES=$((FAILURES + 1))
  fi
done
((${#TARGETS[@]} > 1)) || { note "no discovery server is ready; only the baseline would run"; }

# ------------------------------------------------------------------ 4. runs
# shellcheck disable=SC2034 # the body arrays are used through namerefs
LOOKUP_J=(-H 'content-type: application/json' -d "$RUN/lookup.json")
# shellcheck disable=SC2034
LOOKUP_P=(-H 'content-type: application/proto' -d "$RUN/lookup.bin")
# shellcheck disable=SC2034
HEALTH_J=(-H 'content-type: application/json' -d "$RUN/health.json")
# shellcheck disable=SC2034
STATUS_J=(-H 'content-type: application/json' -d "$RUN/getstatus.json")

# A run: CASE on TARGET. Cases: <method>-<encoding>-<concurrency>.
declare -A CASE_BODY=([lookup-json-c16m16]=LOOKUP_J [lookup-json-c1m1]=LOOKUP_J [lookup-proto-c16m16]=LOOKUP_P
  [health-json-c16m16]=HEALTH_J [getstatus-json-c16m16]=STATUS_J [getstatus-json-c1m1]=STATUS_J)
declare -A CASE_PATH=([lookup-json-c16m16]=$LOOKUP_PATH [lookup-json-c1m1]=$LOOKUP_PATH [lookup-proto-c16m16]=$LOOKUP_PATH
  [health-json-c16m16]=$HEALTH_PATH [getstatus-json-c16m16]=$GETSTATUS_PATH [getstatus-json-c1m1]=$GETSTATUS_PATH)
declare -A CASE_CONC=([lookup-json-c16m16]="-c16 -m16" [lookup-json-c1m1]="-c1 -m1" [lookup-proto-c16m16]="-c16 -m16"
  [health-json-c16m16]="-c16 -m16" [getstatus-json-c16m16]="-c16 -m16" [getstatus-json-c1m1]="-c1 -m1")
# Order within a rep: per concurrency, the baseline, then each store, so that
# drift and other load hit them alike.
RUNS=()
for t in "${TARGETS[@]}"; do [[ $t == base ]] && RUNS+=("getstatus-json-c16m16 base") || RUNS+=("lookup-json-c16m16 $t"); done
if [[ $HEALTH == 1 ]]; then for t in "${TARGETS[@]}"; do [[ $t != base ]] && RUNS+=("health-json-c16m16 $t"); done; fi
if [[ $PROTO == 1 ]]; then for t in "${TARGETS[@]}"; do [[ $t != base ]] && RUNS+=("lookup-proto-c16m16 $t"); done; fi
for t in "${TARGETS[@]}"; do [[ $t == base ]] && RUNS+=("getstatus-json-c1m1 base") || RUNS+=("lookup-json-c1m1 $t"); done

RAW=$RUN/runs.tsv
printf 'case\ttarget\trep\tok\treq_s\tmean_us\tp50_us\tp90_us\tp99_us\tmax_us\tsucceeded\terrors\tnon200\tstatus0\tcpu_ticks\tcpu_window_reqs\tcpu_us_per_req\tredis_ticks\tredis_us_per_req\twait_s\th2load_cpu_pct\tother_cpu_pct\tnote\n' >"$RAW"

# run_one CASE TARGET REP: one h2load run under the lock, with the server's
# (and for the Redis store redis-server's) CPU sampled after the warm-up and
# after h2load exits; appends a row to RAW.
run_one() {
  local c=$1 s=$2 rep=$3 out=$RUN/$1-$2-$3 lk t0 t1 c1 c2 r1=-1 r2=-1 rc pid why=
  local -n body=${CASE_BODY[$c]}
  local conc
  read -ra conc <<<"${CASE_CONC[$c]}"
  alive "$s" || reap_dead "$s"
  [[ $s == disc-redis ]] && { alive redis || reap_dead redis; }
  if [[ -n ${DOWN[$s]:-} || ($s == disc-redis && -n ${DOWN[redis]:-}) ]]; then
    printf '%s\t%s\t%s\t0\t\t\t\t\t\t\t0\t0\t0\t0\t\t\t\t\t\t\t\t\tserver down\n' "$c" "$s" "$rep" >>"$RAW"
    echo "$c $s rep $rep: skipped (server down)" >&2
    return
  fi
  pid=${PID[$s]}
  exec {lk}>>"$LOCK" || die "cannot open $LOCK"
  t0=$(date +%s)
  flock -w "$LOCK_WAIT" "$lk" || die "waited ${LOCK_WAIT}s for $LOCK"
  if ! wait_quiet; then
    why+="machine busy (${BUSY_PCT}% of a core) after waiting ${QUIET_WAIT}s; "
    note "$c $s rep $rep: started although the machine was busy (${BUSY_PCT}% of a core)"
  fi
  local busy_note=$why; why=
  local waited=$(($(date +%s) - t0))
  times >"$out.times0"
  local w0 b0 c0 r0=0; w0=$(now_us); b0=$(busy_ticks); c0=$(cpu_ticks "$pid")
  [[ $s == disc-redis ]] && r0=$(cpu_ticks "${PID[redis]}")
  timeout $((WARMUP + DURATION + 60)) h2load "${body[@]}" "${conc[@]}" -D "$DURATION" --warm-up-time="$WARMUP" \
    --log-file="$out.reqlog" "$(url_of "$s" "${CASE_PATH[$c]}")" >"$out.txt" 2>&1 {lk}>&- &
  H2LOAD_PID=$!
  sleep "$WARMUP.5"           # main phase starts ~WARMUP s after h2load connects
  t1=$(now_us); c1=$(cpu_ticks "$pid")
  [[ $s == disc-redis ]] && r1=$(cpu_ticks "${PID[redis]}")
  wait "$H2LOAD_PID"; rc=$?
  H2LOAD_PID=
  times >"$out.times1"
  local w1 b1; w1=$(now_us); b1=$(busy_ticks)
  c2=$(cpu_ticks "$pid")
  local rend=0
  if [[ $s == disc-redis ]]; then r2=$(cpu_ticks "${PID[redis]}"); rend=$r2; fi
  flock -u "$lk"; exec {lk}>&-

  alive "$s" || { why+="server died during the run; "; reap_dead "$s"; }
  if [[ $s == disc-redis ]]; then alive redis || { why+="redis-server died during the run; "; reap_dead redis; }; fi
  ((rc == 0)) || why+="h2load exit status $rc; "
  ((c1 >= 0 && c2 >= 0)) || why+="no /proc stat; "
  [[ -f $out.reqlog ]] || : >"$out.reqlog"
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
  # Status 0: a request that straddled the warm-up/main boundary; left out.
  awk -F'\t' -v t1="$t1" -v dt="$((c2 - c1))" -v rdt="$((r2 - r1))" -v tck="$CLK_TCK" '
    $2 == 200 { lat[++n] = $3; sum += $3; if ($1 + $3 >= t1) win++; if (!first || $1 < first) first = $1; next }
    $2 == 0 { st0++; next }
    { bad++ }
    END {
      printf "%d\t%d\t%d\t%d\t%s\t%s\t%s\n", n, bad, st0, win, (n ? sprintf("%.0f", sum / n) : "-"),
        (win ? sprintf("%.1f", dt * 1e6 / tck / win) : "-"), (win ? sprintf("%.1f", rdt * 1e6 / tck / win) : "-")
      print ((first && t1 < first) ? "cpu window began before the main phase" : "")
    }' "$out.reqlog" >"$out.stats"
  local n bad st0 win cpu_req rcpu_req mean cpunote
  IFS=$'\t' read -r n bad st0 win mean cpu_req rcpu_req <"$out.stats"
  [[ $mean == - ]] && mean=
  [[ $cpu_req == - ]] && cpu_req=
  [[ $rcpu_req == - || $s != disc-redis ]] && rcpu_req=
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
  local client_pct
  client_pct=$(cat "$out.times0" "$out.times1" | awk -v wall="$((w1 - w0))" '
    function sec(x,  m) { m = x; sub(/m.*/, "", m); sub(/^[0-9]+m/, "", x); sub(/s$/, "", x); return m * 60 + x }
    NR == 2 { a = sec($1) + sec($2) } NR == 4 { b = sec($1) + sec($2) }
    END { printf "%.0f", (wall > 0 ? (b - a) * 1e8 / wall : 0) }')
  rm -f "$out.times0" "$out.times1"
  # Everything else on the machine, in % of one core: busy time minus the
  # server's (and redis-server's) and h2load's. Near 0 on a quiet machine.
  local other_pct own=$(($(cpu_ticks "$pid") - c0))
  [[ $s == disc-redis ]] && own=$((own + rend - r0))
  other_pct=$(awk -v b="$((b1 - b0 - own))" -v tck="$CLK_TCK" -v wall="$((w1 - w0))" -v cli="$client_pct" \
    'BEGIN { printf "%.0f", (wall > 0 ? b * 1e8 / tck / wall - cli : 0) }')
  local okflag=1; [[ -n $why ]] && okflag=0
  local rticks=; [[ $s == disc-redis ]] && rticks=$((r2 - r1))
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
    "$c" "$s" "$rep" "$okflag" "$rps" "$mean" "$pcts" "$ok" "$errs" "$bad" "$st0" \
    "$((c2 - c1))" "$win" "$cpu_req" "$rticks" "$rcpu_req" "$waited" "$client_pct" "$other_pct" "${why}${busy_note}${cpunote}" >>"$RAW"
  printf '%-20s %-11s rep %s: %8s req/s  mean %6s us  p99 %6s us  cpu %6s us/req%s  h2load %3s%%  other %3s%%%s\n' \
    "$c" "$s" "$rep" "$rps" "$mean" "$(cut -f3 <<<"$pcts")" "$cpu_req" "${rcpu_req:+ (+redis $rcpu_req)}" "$client_pct" "$other_pct" \
    "${why:+  FAILED: $why}" >&2
  if [[ -n $why ]]; then note "$c $s rep $rep FAILED: $why(h2load output: $out.txt)"; fi
}

if ((PREWARM > 0)); then
  log "pre-warm: ${PREWARM}s of h2load -c16 -m16 per server (not recorded)"
  for t in "${TARGETS[@]}"; do
    alive "$t" || continue
    if [[ $t == base ]]; then c=getstatus-json-c16m16; else c=lookup-json-c16m16; fi
    declare -n wargs=${CASE_BODY[$c]}
    flock -w "$LOCK_WAIT" "$LOCK" timeout $((PREWARM + 30)) h2load -c16 -m16 -D "$PREWARM" "${wargs[@]}" \
      "$(url_of "$t" "${CASE_PATH[$c]}")" >"$RUN/prewarm-$t.txt" 2>&1
    unset -n wargs
  done
fi

log "runs: ${#RUNS[@]} per rep x $REPS reps, ${WARMUP}s warm-up + ${DURATION}s each"
RSSREP=$RUN/rss-by-rep.tsv # VmRSS of each discovery server after each rep: growth here would be a leak
printf 'rep\tstore\tvmrss\n' >"$RSSREP"
for ((rep = 1; rep <= REPS; rep++)); do
  for r in "${RUNS[@]}"; do
    read -r c t <<<"$r"
    run_one "$c" "$t" "$rep"
  done
  for st in $STORES; do alive "disc-$st" && printf '%s\t%s\t%s\n' "$rep" "$st" "$(rss_bytes "${PID[disc-$st]}")" >>"$RSSREP"; done
done

# Memory after the runs (a leak in the lookup path would show here).
declare -A RSS2=()
for st in $STORES; do alive "disc-$st" && RSS2[$st]=$(rss_bytes "${PID[disc-$st]}"); done
for st in $STORES; do
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$st" "$COLONIES" "${LOAD_OK[$st]:-0}" "${LOAD_S[$st]:-}" \
    "${REG_S[$st]:-}" "${RSS0[$st]:-}" "${RSS1[$st]:-}" "${RSS2[$st]:-}" \
    "$([[ -n ${RSS0[$st]:-} && -n ${RSS1[$st]:-} ]] && awk -v a="${RSS0[$st]}" -v b="${RSS1[$st]}" -v n="$COLONIES" 'BEGIN { printf "%.0f", (b - a) / n }')" \
    "${RUSED0[$st]:-}" "${RUSED1[$st]:-}" \
    "$([[ -n ${RUSED0[$st]:-} && -n ${RUSED1[$st]:-} ]] && awk -v a="${RUSED0[$st]}" -v b="${RUSED1[$st]}" -v n="$COLONIES" 'BEGIN { printf "%.0f", (b - a) / n }')" \
    "${RRSS0[$st]:-}" "${RRSS1[$st]:-}" \
    "$([[ -n ${RRSS0[$st]:-} && -n ${RRSS1[$st]:-} ]] && awk -v a="${RRSS0[$st]}" -v b="${RRSS1[$st]}" -v n="$COLONIES" 'BEGIN { printf "%.0f", (b - a) / n }')" \
    "${LIVE[$st]:-}" >>"$MEM"
done

for s in disc-memory disc-redis base redis; do
  reap_dead "$s"
  [[ -n ${PID[$s]:-} ]] && { stop_pid "${PID[$s]}"; unset "PID[$s]"; }
done
log "servers stopped"
# coral-discovery logs at warn level: anything it logged is worth a look.
for st in $STORES; do
  [[ -s $RUN/server-disc-$st.log ]] && note "coral-discovery ($st) logged $(wc -l <"$RUN/server-disc-$st.log") line(s), first: $(head -c 300 "$RUN/server-disc-$st.log")"
done

# ----------------------------------------------------------------- 5. summary
SUMMARY=$RUN/summary.md
summarize() {
  awk -F'\t' -v colonies="$COLONIES" '
    function med(list,  n, a, i, j, t) {
      n = split(list, a, " "); if (!n) return ""
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
      return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    function add(arr, k, v) { if (v == "") return; if (k in arr) arr[k] = arr[k] " " v; else arr[k] = v }
    function fmt(x, d, unit) { return x == "" ? "–" : sprintf("%." d "f", x) unit }
    function ratio(a, b) { return (a == "" || b == "" || b + 0 == 0) ? "" : a / b }
    function conc(c) { return c ~ /c16m16$/ ? "c16m16" : "c1m1" }
    FNR == 1 { next }
    FILENAME ~ /memory.tsv$/ { bpc[$1] = $9; rbpc[$1] = $12; next }
    {
      k = $1 SUBSEP $2; if (!(k in seen)) { order[++nk] = k }; seen[k] = 1; runs[k]++
      add(rpsall, k, $4 ? sprintf("%.0f", $5) : "failed")
      if (!$4) { failed[k]++; next }
      add(rps, k, $5); add(mean, k, $6); add(p50, k, $7); add(p99, k, $9); add(cpu, k, $17); add(rcpu, k, $19); add(cli, k, $21)
      if ($22 != "") {
        add(oth, "all", $22); if ($22 + 0 > othmax) othmax = $22 + 0
        if ($22 + 0 > 15) { nbusy++; busy = busy (busy ? ", " : "") $1 " " $2 " #" $3 " (" $22 "%)" }
      }
      nruns++
    }
    END {
      store["base"] = "none (baseline)"; store["disc-memory"] = "memory"; store["disc-redis"] = "redis"
      cname["lookup-json-c16m16"] = "LookupColony JSON -c16 -m16"; cname["lookup-json-c1m1"] = "LookupColony JSON -c1 -m1"
      cname["lookup-proto-c16m16"] = "LookupColony proto -c16 -m16"; cname["health-json-c16m16"] = "Health JSON -c16 -m16"
      cname["getstatus-json-c16m16"] = "GetStatus JSON -c16 -m16"; cname["getstatus-json-c1m1"] = "GetStatus JSON -c1 -m1"
      for (i = 1; i <= nk; i++) { k = order[i]; split(k, kk, SUBSEP); M[kk[1], kk[2]] = med(rps[k]) }
      print "| store | case | req/s (median) | req/s (all reps) | × baseline | mean / p50 / p99 µs | CPU µs/req | redis-server CPU µs/req | h2load CPU | RSS bytes/colony | failed runs |"
      print "|---|---|---:|---|---:|---|---:|---:|---:|---:|---:|"
      ns = split("disc-memory disc-redis base", sl, " ")
      for (j = 1; j <= ns; j++) for (i = 1; i <= nk; i++) {
        k = order[i]; split(k, kk, SUBSEP); c = kk[1]; t = kk[2]
        if (t != sl[j]) continue
        st = t; sub(/^disc-/, "", st)
        all = rpsall[k]; gsub(/ /, ", ", all)
        base = M["getstatus-json-" conc(c), "base"]
        printf "| %s | %s | %s | %s | %s | %s / %s / %s | %s | %s | %s | %s | %d of %d |\n", store[t], cname[c], fmt(M[c, t], 0), all,
          (t == "base" ? "1.00×" : fmt(ratio(M[c, t], base), 2, "×")),
          fmt(med(mean[k]), 0), fmt(med(p50[k]), 0), fmt(med(p99[k]), 0), fmt(med(cpu[k]), 1),
          (t == "disc-redis" ? fmt(med(rcpu[k]), 1) : "–"), fmt(med(cli[k]), 0, "%"),
          (t == "base" ? "–" : (t == "disc-redis" ? fmt(bpc[st], 0) " (+ Redis " fmt(rbpc[st], 0) ")" : fmt(bpc[st], 0))),
          failed[k] + 0, runs[k]
      }
      print ""
      r = M["lookup-json-c16m16", "disc-memory"]
      printf "- memory store lookups/s = %s (goal ≥ 50,000): %s\n", fmt(r, 0), r == "" ? "NO DATA" : (r >= 50000 ? "MET" : "NOT MET")
      b = bpc["memory"]
      printf "- bytes per colony = %s (goal < 2048; memory store, coral-discovery VmRSS delta / %d colonies): %s\n", fmt(b, 0), colonies,
        b == "" ? "NO DATA" : (b < 2048 ? "MET" : "NOT MET")
      if (("lookup-json-c16m16", "disc-redis") in M) {
        printf "- redis store lookups/s = %s (no goal; %s of the memory store)\n", fmt(M["lookup-json-c16m16", "disc-redis"], 0),
          fmt(ratio(M["lookup-json-c16m16", "disc-redis"], r), 2, "×")
        printf "- redis store: Redis used_memory delta per colony = %s B, coral-discovery VmRSS delta per colony = %s B (no goal; the data lives in Redis)\n",
          fmt(rbpc["redis"], 0), fmt(bpc["redis"], 0)
      }
      for (j = 1; j <= 2; j++) {
        cc = j == 1 ? "c16m16" : "c1m1"
        printf "- LookupColony / baseline GetStatus req/s (%s): memory %s, redis %s\n", cc,
          fmt(ratio(M["lookup-json-" cc, "disc-memory"], M["getstatus-json-" cc, "base"]), 2, "×"),
          fmt(ratio(M["lookup-json-" cc, "disc-redis"], M["getstatus-json-" cc, "base"]), 2, "×")
      }
      printf "\nOther processes used a median of %s%% and at most %s%% of one core during the runs%s.\n", fmt(med(oth["all"]), 0), othmax + 0,
        (othmax > 15 ? " (WARNING: the machine was not quiet; rerun when it is)" : "")
      if (nbusy) printf "Runs disturbed by more than 15%% of a core of other load: %d of %d: %s.\n", nbusy, nruns, busy
    }' "$MEM" "$RAW"
}
memory_table() {
  echo "| store | colonies | registration: s, registrations/s | coral-discovery VmRSS before → after load → after runs | coral-discovery bytes/colony | Redis used_memory before → after | Redis used_memory bytes/colony | redis-server VmRSS bytes/colony | live colonies (Health) |"
  echo "|---|---:|---|---|---:|---|---:|---:|---:|"
  awk -F'\t' '
    function mib(x) { return x == "" ? "–" : sprintf("%.1f MiB", x / 1048576) }
    function v(x) { return x == "" ? "–" : x }
    NR > 1 {
      printf "| %s | %s | %s s, %s/s%s | %s → %s → %s | %s | %s | %s | %s | %s |\n", $1, $2, v($4), v($5), ($3 ? "" : " (FAILED)"),
        mib($6), mib($7), mib($8), v($9), ($10 == "" ? "–" : mib($10) " → " mib($11)), v($12), v($15), v($16)
    }' "$MEM"
}
{
  echo "## coral-discovery LookupColony benchmark, $STAMP"
  echo
  sed 's/^/    /' "$RUN/env.txt"
  echo
  echo "$COLONIES colonies registered per store (coral-discovery-load, one h2c connection, $LOAD_CONCURRENCY in flight);"
  echo "LookupColony of \"$LOOKUP_ID\" with h2load (one thread, same machine), Connect unary on h2c;"
  echo "each run ${WARMUP}s warm-up + ${DURATION}s, median of $REPS reps; baseline = coral-rpc-bench-server GetStatus"
  echo "(same RPC stack, fixed reply, no store). Latency from h2load's per-request log (status 200 only);"
  echo "CPU = utime+stime of the process from ${WARMUP}.5 s after h2load starts until it exits, over the"
  echo "requests completed in that window; RSS bytes/colony = VmRSS delta over the load / colonies."
  echo
  summarize
  echo
  echo "### Memory and registration"
  echo
  memory_table
  echo
  echo "coral-discovery VmRSS after each rep (MiB): $(awk -F'\t' 'NR > 1 { a[$2] = a[$2] (a[$2] ? ", " : "") sprintf("%.1f", $3 / 1048576) } END { for (s in a) printf "%s%s: %s", (n++ ? "; " : ""), s, a[s] }' "$RSSREP")"
  ((CRASHES)) && { echo; echo "**A process exited unexpectedly $CRASHES time(s)**; see the notes and server-*.log."; }
  if [[ -s $NOTES ]]; then echo; echo "### Notes"; echo; sed 's/^/    /' "$NOTES"; fi
} >"$SUMMARY"
echo
cat "$SUMMARY"
nfail=$(awk -F'\t' 'NR > 1 && !$4' "$RAW" | wc -l)
echo
echo "results: $RUN ($(tail -n +2 "$RAW" | wc -l) runs, $nfail failed, $FAILURES setup failures, $CRASHES process exits)"
exit $((nfail + CRASHES + FAILURES > 0))
