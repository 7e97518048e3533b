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

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_setup "$@"
h2load_knobs
defaults COLONIES=100000 "STORES=memory redis" HEALTH=1 LOAD_CONCURRENCY=128 LOAD_TIMEOUT=900
HOST=127.0.0.1
PREFIX=bench-colony-

uint_knobs COLONIES LOAD_CONCURRENCY LOAD_TIMEOUT
((COLONIES >= 1 && COLONIES <= 10000000)) || die "COLONIES must be 1-10000000"
((LOAD_CONCURRENCY >= 1 && LOAD_CONCURRENCY <= 256)) || die "LOAD_CONCURRENCY must be 1-256"
for s in $STORES; do [[ $s == memory || $s == redis ]] || die "STORES: unknown store '$s' (memory, redis)"; done
[[ -n ${STORES// /} ]] || die "STORES is empty"
LOOKUP_ID=${LOOKUP_ID:-$PREFIX$(printf '%07d' $((42421 % COLONIES)))}
[[ $LOOKUP_ID =~ ^[a-z0-9._-]{1,63}$ ]] || die "LOOKUP_ID must be a valid mesh_id (got '$LOOKUP_ID')"

DISCOVERY_BIN=$BUILD_DIR/apps/coral-discovery
LOAD_BIN=$BUILD_DIR/bench/coral-discovery-load
BASE_BIN=$BUILD_DIR/bench/coral-rpc-bench-server

bench_run_dir discovery

# ------------------------------------------------------------------ processes
# Every process this script starts is recorded in PID (server name -> pid)
# and stopped by PID on exit.
H2LOAD_PID=
LOADER_PID=
cleanup() {
  [[ -n $H2LOAD_PID ]] && stop_pid "$H2LOAD_PID"
  [[ -n $LOADER_PID ]] && stop_pid "$LOADER_PID"
  # Discovery servers before redis-server, so they do not log a Redis outage.
  stop_named disc-memory disc-redis base redis
}
bench_traps cleanup

# ---------------------------------------------------------------- 1. prepare
log "prepare (results: $RUN)"
need_tool h2load nghttp2-client
need_tool curl curl
[[ " $STORES " == *" redis "* ]] && { command -v redis-server >/dev/null && command -v redis-cli >/dev/null || NEED_APT+=(redis-server redis-tools); }
install_needed

if [[ $SKIP_BUILD != 1 ]]; then
  build_targets "$RUN/build.log" coral-discovery coral-discovery-load coral-rpc-bench-server
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
  env_common
  echo "coral: $BUILD_DIR, tree $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src proto apps bench ':!bench/*.sh' ':!bench/*.md' 2>/dev/null && [[ -z $(git ls-files --others --exclude-standard src proto apps bench) ]] || echo ' + uncommitted changes in src/, proto/, apps/ or bench/')"
  echo "h2load: $(h2load --version | head -1)"
  [[ " $STORES " == *" redis "* ]] && echo "redis: $(redis-server --version)"
  # shellcheck disable=SC2153 # HEALTH: a knob (defaults)
  echo "knobs: COLONIES=$COLONIES LOOKUP_ID=$LOOKUP_ID STORES='$STORES' DURATION=$DURATION WARMUP=$WARMUP REPS=$REPS PREWARM=$PREWARM HEALTH=$HEALTH PROTO=$PROTO LOAD_CONCURRENCY=$LOAD_CONCURRENCY, CLK_TCK=$CLK_TCK"
} >"$RUN/env.txt"
cat "$RUN/env.txt" >&2

# ------------------------------------------------------------------ 2. helpers
# CRASHES (lib.sh): processes found dead; each makes the exit status 1
FAILURES=0  # setup steps that failed (load, preflight, counts); each makes it 1
NOTES=$RUN/notes.txt
: >"$NOTES"
declare -A PORT=()
declare -A LABEL=([disc-memory]="coral-discovery (memory)" [disc-redis]="coral-discovery (redis)" [base]="coral-rpc-bench-server" [redis]="redis-server")

rss_bytes() { # VmRSS of PID in bytes ("" when it is gone)
  local kb
  kb=$(rss_kb "$1")
  [[ -n $kb && $kb != 0 ]] && echo $((kb * 1024))
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

  local t0 rc
  take_lock
  wait_quiet || note "load $st: started although the machine was busy (${BUSY_PCT}% of a core)"
  log "load $COLONIES colonies into the $st store (coral-discovery-load, concurrency $LOAD_CONCURRENCY)"
  t0=$(now_us)
  "$LOAD_BIN" "$(url_of "$s" "")" "$COLONIES" --concurrency "$LOAD_CONCURRENCY" --prefix "$PREFIX" \
    --timeout "$LOAD_TIMEOUT" >"$RUN/load-$st.txt" 2>&1 {LK}>&- &
  LOADER_PID=$!
  wait "$LOADER_PID"; rc=$?
  LOADER_PID=
  drop_lock
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
declare -A CASE_ARGS=([lookup-json-c16m16]="LOOKUP_J -c16 -m16" [lookup-json-c1m1]="LOOKUP_J -c1 -m1"
  [lookup-proto-c16m16]="LOOKUP_P -c16 -m16" [health-json-c16m16]="HEALTH_J -c16 -m16"
  [getstatus-json-c16m16]="STATUS_J -c16 -m16" [getstatus-json-c1m1]="STATUS_J -c1 -m1")
declare -A CASE_PATH=([lookup-json-c16m16]=$LOOKUP_PATH [lookup-json-c1m1]=$LOOKUP_PATH [lookup-proto-c16m16]=$LOOKUP_PATH
  [health-json-c16m16]=$HEALTH_PATH [getstatus-json-c16m16]=$GETSTATUS_PATH [getstatus-json-c1m1]=$GETSTATUS_PATH)
# Order within a rep: per concurrency, the baseline, then each store, so that
# drift and other load hit them alike.
RUNS=()
for t in "${TARGETS[@]}"; do [[ $t == base ]] && RUNS+=("getstatus-json-c16m16 base") || RUNS+=("lookup-json-c16m16 $t"); done
if [[ $HEALTH == 1 ]]; then for t in "${TARGETS[@]}"; do [[ $t != base ]] && RUNS+=("health-json-c16m16 $t"); done; fi
if [[ $PROTO == 1 ]]; then for t in "${TARGETS[@]}"; do [[ $t != base ]] && RUNS+=("lookup-proto-c16m16 $t"); done; fi
for t in "${TARGETS[@]}"; do [[ $t == base ]] && RUNS+=("getstatus-json-c1m1 base") || RUNS+=("lookup-json-c1m1 $t"); done

raw_start target cpu_ticks cpu_window_reqs cpu_us_per_req redis_ticks redis_us_per_req wait_s h2load_cpu_pct other_cpu_pct

# run_one CASE TARGET REP: one h2load run under the lock, with the server's
# (and for the Redis store redis-server's) CPU sampled after the warm-up and
# after h2load exits (h2load_measure); appends a row to RAW.
run_one() {
  local c=$1 s=$2 rep=$3 out=$RUN/$1-$2-$3
  h2load_args "$c"
  alive "$s" || reap_dead "$s"
  [[ $s == disc-redis ]] && { alive redis || reap_dead redis; }
  if [[ -n ${DOWN[$s]:-} || ($s == disc-redis && -n ${DOWN[redis]:-}) ]]; then
    down_row "$c" "$s" "$rep" "server down"
    echo "$c $s rep $rep: skipped (server down)" >&2
    return
  fi
  SAMPLE=("${PID[$s]}") IDLE=()
  [[ $s == disc-redis ]] && SAMPLE+=("${PID[redis]}")
  h2load_run "$out" "$(url_of "$s" "${CASE_PATH[$c]}")" "$c $s rep $rep" "${ARGS[@]}"
  alive "$s" || { WHY+="server died during the run; "; reap_dead "$s"; }
  if [[ $s == disc-redis ]]; then alive redis || { WHY+="redis-server died during the run; "; reap_dead redis; }; fi
  h2load_results "$out"
  local rticks="" rcpu_req=""
  [[ $s == disc-redis ]] && { rticks=$((TICKS2[1] - TICKS1[1])); rcpu_req=${CPU_REQ[1]:-}; }
  raw_row "$c" "$s" "$rep" "$((TICKS2[0] - TICKS1[0]))" "$WIN" "${CPU_REQ[0]:-}" "$rticks" "$rcpu_req" "$WAITED" "$CLIENT_PCT" "$OTHER_PCT"
  report_run "$c $s rep $rep" "$out" \
    '%-20s %-11s rep %s: %8s req/s  mean %6s us  p99 %6s us  cpu %6s us/req%s  h2load %3s%%  other %3s%%' \
    "$c" "$s" "$rep" "$RPS" "$MEAN" "$(cut -f3 <<<"$PCTS")" "${CPU_REQ[0]:-}" "${rcpu_req:+ (+redis $rcpu_req)}" "$CLIENT_PCT" "$OTHER_PCT"
}

if ((PREWARM > 0)); then
  log "pre-warm: ${PREWARM}s of h2load -c16 -m16 per server (not recorded)"
  for t in "${TARGETS[@]}"; do
    alive "$t" || continue
    if [[ $t == base ]]; then c=getstatus-json-c16m16; else c=lookup-json-c16m16; fi
    h2load_args "$c"
    prewarm "$RUN/prewarm-$t.txt" "$(url_of "$t" "${CASE_PATH[$c]}")" "${ARGS[@]}"
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

stop_all disc-memory disc-redis base redis
log "servers stopped"
# coral-discovery logs at warn level: anything it logged is worth a look.
for st in $STORES; do
  [[ -s $RUN/server-disc-$st.log ]] && note "coral-discovery ($st) logged $(wc -l <"$RUN/server-disc-$st.log") line(s), first: $(head -c 300 "$RUN/server-disc-$st.log")"
done

# ----------------------------------------------------------------- 5. summary
SUMMARY=$RUN/summary.md
summarize() {
  awk -F'\t' -v colonies="$COLONIES" "$AWK_STATS"'
    function conc(c) { return c ~ /c16m16$/ ? "c16m16" : "c1m1" }
    FNR == 1 { next }
    FILENAME ~ /memory.tsv$/ { bpc[$1] = $9; rbpc[$1] = $12; next }
    {
      k = $1 SUBSEP $2; if (!(k in seen)) { order[++nk] = k }
      if (!count_run(k)) next
      add(rps, k, $5); add(mean, k, $6); add(p50, k, $7); add(p99, k, $9); add(cpu, k, $17); add(rcpu, k, $19); add(cli, k, $21)
      note_other($22, $1 " " $2 " #" $3)
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
        base = M["getstatus-json-" conc(c), "base"]
        printf "| %s | %s | %s | %s | %s | %s / %s / %s | %s | %s | %s | %s | %d of %d |\n", store[t], cname[c], fmt(M[c, t], 0), all_reps(k),
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
      print ""
      print_other()
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
  notes_section
} >"$SUMMARY"
bench_finish "$FAILURES setup failures, $CRASHES process exits" $((CRASHES + FAILURES))
