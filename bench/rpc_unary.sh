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
EOF
  usage_lock_knobs
  cat <<'EOF'

Quick check of the script: DURATION=2 WARMUP=1 REPS=1 bench/rpc_unary.sh
Raw results go to build/bench/<UTC stamp>/ (summary.md, runs.tsv, h2load
output, gzipped per-request logs, server logs). Exit status: 0 if every run
succeeded (200 only, no errors), 1 if any failed, 2 on bad usage or setup.
Goals are printed as MET / NOT MET and do not change the exit status.
EOF
}

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_setup "$@"
h2load_knobs
defaults PORT_CORAL=18191 PORT_NODE=18192 PORT_GO=18193 SHARED_DIR="$ROOT/../shared"
HOST=127.0.0.1
RPC_PATH=/coral.colony.v1.ColonyService/GetStatus

uint_knobs PORT_CORAL PORT_NODE PORT_GO
((PORT_CORAL != PORT_NODE && PORT_NODE != PORT_GO && PORT_CORAL != PORT_GO)) || die "PORT_CORAL, PORT_NODE and PORT_GO must differ"

[[ -d $SHARED_DIR/anchors/connect-node && -d $SHARED_DIR/anchors/go-reference ]] ||
  die "anchors not found under SHARED_DIR=$SHARED_DIR (expected anchors/connect-node and anchors/go-reference); set SHARED_DIR"
SHARED_DIR=$(cd "$SHARED_DIR" && pwd)
NODE_DIR=$SHARED_DIR/anchors/connect-node
GO_SRC=$SHARED_DIR/anchors/go-reference
CORAL_BIN=${CORAL_BIN:-$ROOT/build/release/bench/coral-rpc-bench-server}
GO_BIN=$ROOT/build/anchors/backend

bench_run_dir

# ------------------------------------------------------------------ processes
# Every process this script starts is recorded in PID (server name -> pid)
# and stopped by PID on exit.
H2LOAD_PID=
bench_traps stop_everything

# ---------------------------------------------------------------- 1. prepare
log "prepare (results: $RUN)"
need_tool h2load nghttp2-client
need_tool curl curl
install_needed
command -v node >/dev/null || die "node not found (connect-node needs Node >= 20)"
[[ $(node -p 'process.versions.node.split(".")[0]') -ge 20 ]] || die "node $(node --version) < 20"

if [[ $SKIP_BUILD != 1 ]]; then
  build_targets "$RUN/build-coral.log" coral-rpc-bench-server
  build_go_anchor "$GO_BIN" backend
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
  env_common
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
# CRASHES (lib.sh): servers found dead (during or between runs); each makes the exit status 1
NOTES=$RUN/notes.txt
: >"$NOTES"

url() { echo "http://$HOST:${PORT[$1]}$RPC_PATH"; }

start_server() { # start_server NAME: starts it, waits until GetStatus answers 200
  local s=$1 p=${PORT[$1]} i code
  ((STARTS[$s] < 4)) || { note "$s: not restarting again (started ${STARTS[$s]} times)"; return 1; }
  port_busy "$p" && die "something already listens on $HOST:$p (set PORT_${s^^})"
  STARTS[$s]=$((STARTS[$s] + 1))
  local logf=$RUN/server-$s.${STARTS[$s]}.log
  LOGF[$s]=$logf
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

raw_start server cpu_ticks cpu_window_reqs cpu_us_per_req idle_ticks wait_s h2load_cpu_pct other_cpu_pct

# run_one CASE SERVER REP: one h2load run under the lock, with the server's
# CPU sampled after the warm-up and after h2load exits (h2load_measure);
# appends a row to RAW.
run_one() {
  local c=$1 s=$2 rep=$3 out=$RUN/$1-$2-$3 o
  h2load_args "$c"
  if ! ensure_up "$s"; then
    down_row "$c" "$s" "$rep" "server down"
    return
  fi
  SAMPLE=("${PID[$s]}") IDLE=()
  for o in "${SERVERS[@]}"; do [[ $o != "$s" ]] && alive "$o" && IDLE+=("${PID[$o]}"); done
  h2load_run "$out" "$(url "$s")" "$c ${LABEL[$s]} rep $rep" "${ARGS[@]}"
  alive "$s" || WHY+="server died during the run; "
  h2load_results "$out"
  raw_row "$c" "$s" "$rep" "$((TICKS2[0] - TICKS1[0]))" "$WIN" "${CPU_REQ[0]:-}" "$IDLE_TICKS" "$WAITED" "$CLIENT_PCT" "$OTHER_PCT"
  report_run "$c ${LABEL[$s]} rep $rep" "$out" \
    '%-13s %-12s rep %s: %8s req/s  mean %6s us  p99 %6s us  cpu %6s us/req  h2load %3s%%  other %3s%%' \
    "$c" "${LABEL[$s]}" "$rep" "$RPS" "$MEAN" "$(cut -f3 <<<"$PCTS")" "${CPU_REQ[0]:-}" "$CLIENT_PCT" "$OTHER_PCT"
}

# Unrecorded pre-warm (JIT, heap sizing, allocator) so rep 1 is not the coldest.
if ((PREWARM > 0)); then
  log "pre-warm: ${PREWARM}s of h2load -c16 -m16 per server and body (not recorded)"
  for s in "${SERVERS[@]}"; do
    for b in J P; do
      [[ $b == P && ($PROTO != 1 || $s == go) ]] && continue
      declare -n wargs=$b
      ensure_up "$s" || continue
      prewarm "$RUN/prewarm-$s-$b.txt" "$(url "$s")" -c16 -m16 "${wargs[@]}"
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

stop_all "${SERVERS[@]}"
log "servers stopped"

# ----------------------------------------------------------------- 4. summary
SUMMARY=$RUN/summary.md
summarize() {
  awk -F'\t' -v cases="${CASES[*]}" \
      -v title_j16="${CASE_TITLE[json-c16m16]}" -v title_j1="${CASE_TITLE[json-c1m1]}" \
      -v title_p16="${CASE_TITLE[proto-c16m16]}" -v title_p1="${CASE_TITLE[proto-c1m1]}" "$AWK_STATS"'
    NR == 1 { next }
    {
      k = $1 SUBSEP $2
      if (!count_run(k)) next   # medians: successful runs only
      add(rps, k, $5); add(mean, k, $6); add(p50, k, $7); add(p99, k, $9); add(cpu, k, $17); add(cli, k, $20)
      if ($18 + 0 > idle) idle = $18 + 0
      note_other($21, $1 " " $2 " #" $3)
    }
    END {
      title["json-c16m16"] = title_j16; title["json-c1m1"] = title_j1
      title["proto-c16m16"] = title_p16; title["proto-c1m1"] = title_p1
      label["coral"] = "coral"; label["node"] = "connect-node"; label["go"] = "Go h2c backend"
      nc = split(cases, cl, " "); ns = split("coral node go", sl, " ")
      for (i = 1; i <= nc; i++) {
        c = cl[i]
        table(title[c], "| server | req/s (median) | req/s (all reps) | × connect-node | mean / p50 / p99 µs | CPU µs/request | h2load CPU | failed runs |",
          "|---|---:|---|---:|---|---:|---:|---:|")
        for (j = 1; j <= ns; j++) {
          s = sl[j]; k = c SUBSEP s
          if (!(k in seen)) continue
          M[c, s, "rps"] = med(rps[k]); M[c, s, "p99"] = med(p99[k]); M[c, s, "cpu"] = med(cpu[k])
          printf "| %s | %s | %s | %s | %s / %s / %s | %s | %s | %d of %d |\n", label[s], fmt(M[c, s, "rps"], 0), all_reps(k),
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
      print_other()
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
  notes_section
} >"$SUMMARY"
bench_finish "$CRASHES server exits" "$CRASHES"
