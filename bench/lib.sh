# shellcheck shell=bash
# Helpers shared by the benchmark scripts (bench/*.sh). Sourced, not run,
# after the script has defined usage(). Sources tests/e2e/lib.sh for the
# process helpers stop_pid, gone, cpu_ticks and rss_kb.
#
# Setup
#   usage_lock_knobs       usage()'s lines on LOCK, LOCK_WAIT, QUIET_*
#   bench_setup "$@"       bench_args, bench_root, bench_knobs:
#   bench_args "$@"        --help: usage, exit 0; any argument else: usage on
#                          stderr, exit 2
#   bench_root             ROOT (the git tree), cd there
#   bench_knobs            the knobs every benchmark has: SKIP_BUILD,
#                          BUILD_DIR, LOCK, LOCK_WAIT, QUIET_PCT, QUIET_WAIT
#   die MSG                "SCRIPT: MSG" on stderr, exit 2 (bad usage or setup)
#   defaults NAME=VALUE... each knob NAME keeps a non-empty value from the
#                          environment, else gets VALUE
#   uint_knobs NAME...     each knob a non-negative integer, or die
#   h2load_knobs           DURATION, WARMUP, REPS, PREWARM, PROTO (h2load runs)
#   bench_traps CLEANUP    CLEANUP on EXIT; INT and TERM exit 130 / 143
#   bench_run_dir [SUFFIX] STAMP and RUN=build/bench/STAMP[-SUFFIX], created
#   need_tool CMD PKG...   PKG... go to NEED_APT when CMD is not on PATH
#   install_needed [ARGS]  apt-get install NEED_APT (log: RUN/apt.log), or die
#   build_targets LOG T... builds targets T into BUILD_DIR, or dies
#   build_go_anchor BIN WHAT  (re)builds $GO_SRC's anchors when BIN is
#                          missing or older than its sources, or dies
#   env_common [load]      the date (and load average), machine and OS lines
#                          of env.txt
# Processes, by name: PID[NAME], LABEL[NAME], LOGF[NAME] (its log), DOWN[NAME]
# (it died), DAEMON[NAME] (not our child: no exit status); CRASHES counts the
# deaths
#   alive NAME             its PID runs
#   reap_dead NAME         if it has exited: notes how, with its log's tail
#   stop_named NAME...     stop_pid each that has a PID (cleanup traps)
#   stop_all NAME...       at the end: reap_dead or stop each, forget it
#   stop_everything        exit trap: a running h2load (H2LOAD_PID), then every PID
#   start_port_file NAME CMD...  a server that writes its port (--port-file)
#   free_port HOST         a port nothing listens on now
#   port_busy PORT [HOST]  something listens on HOST (default $HOST):PORT
#   free_udp / udp_busy PORT  a UDP port nothing has bound now / bound
# Runs (they read NOTES, LOCK, LOCK_WAIT, QUIET_PCT, QUIET_WAIT, CLK_TCK,
# DURATION, WARMUP, PREWARM)
#   log MSG / note MSG     "=== MSG" on stderr / MSG on stderr and in NOTES
#   take_lock [WRAPPER...] / drop_lock    LOCK on fd LK, waited for
#   wait_quiet             until the machine is quiet; sets BUSY_PCT
#   h2load_run OUT URL WHAT ARGS...  h2load_measure, a note when the
#                          machine was busy; WHY starts empty
#   h2load_measure OUT URL ARGS...  one h2load run, CPU sampled (see there)
#   h2load_results OUT     h2load_check, reqlog_stats, load_shares; OKFLAG
#   h2load_check OUT       what went wrong, into WHY; RPS OK ERRS N3XX
#   reqlog_stats OUT       latency and CPU per request from OUT.reqlog
#   load_shares OUT        CLIENT_PCT (h2load) and OTHER_PCT (the rest)
#   raw_start NAME COL...  RAW=RUN/runs.tsv with its header: case, NAME, rep,
#                          the h2load columns, COL..., note
#   raw_row CASE TARGET REP VALUE...  a row of RAW (after h2load_results)
#   down_row CASE TARGET REP WHY  a row of RAW for a run that could not start
#   report_run WHAT OUT FORMAT ARGS...  the run's line on stderr (printf
#                          FORMAT ARGS, then "  FAILED: WHY"); notes "WHAT
#                          FAILED: WHY" when WHY is not empty
#   prewarm OUT URL ARGS...  an unrecorded h2load run of PREWARM s
#   h2load_args CASE       ARGS from CASE_ARGS[CASE] ("BODY-ARRAY FLAGS...")
# Summary
#   AWK_STATS              awk functions: med, add, fmt, ratio, count_run,
#                          note_other, all_reps, table, print_other
#   notes_section          "### Notes" and NOTES, when there are any
#   bench_finish TAIL N    prints SUMMARY and "results: ..."; exits 1 when a
#                          run of RAW failed or N > 0

# shellcheck disable=SC2034 # ARGS, PCTS, WIN, ... are read by the sourcing script
# shellcheck disable=SC2119,SC2120 # functions with optional arguments

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$BENCH_DIR/../tests/e2e/lib.sh"

# ------------------------------------------------------------------- setup
# usage_lock_knobs: the lines of usage() on LOCK, LOCK_WAIT, QUIET_PCT and
# QUIET_WAIT.
usage_lock_knobs() {
  cat <<'EOF'
  LOCK         lock file every run holds [/tmp/coral-bench.lock]
  LOCK_WAIT    longest wait for that lock per run, seconds [1800]
  QUIET_PCT    a run starts only when the rest of the machine uses at most
               this % of one core (1 s sample, with the lock held) [20]
  QUIET_WAIT   longest wait for that per run, seconds; then it runs anyway
               and the summary says so [180]
EOF
}
bench_args() {
  case ${1:-} in
    -h|--help) usage; exit 0 ;;
    "") ;;
    *) usage >&2; exit 2 ;;
  esac
}
die() { echo "${0##*/}: $*" >&2; exit 2; }
bench_root() {
  ROOT=$(git -C "$BENCH_DIR" rev-parse --show-toplevel 2>/dev/null) || die "not inside the coral git tree"
  cd "$ROOT" || die "cd $ROOT"
}
bench_setup() {
  bench_args "$@"
  bench_root
  bench_knobs
}
defaults() {
  local kv name
  for kv in "$@"; do
    name=${kv%%=*}
    [[ -n ${!name:-} ]] || printf -v "$name" '%s' "${kv#*=}"
  done
}
uint_knobs() {
  local knob
  for knob in "$@"; do
    [[ ${!knob} =~ ^[0-9]+$ ]] || die "$knob must be a non-negative integer (got '${!knob}')"
  done
}
bench_knobs() {
  defaults SKIP_BUILD=0 BUILD_DIR="$ROOT/build/release" LOCK=/tmp/coral-bench.lock LOCK_WAIT=1800 QUIET_PCT=20 QUIET_WAIT=180
  uint_knobs LOCK_WAIT QUIET_PCT QUIET_WAIT
  command -v flock >/dev/null || die "flock is needed (util-linux)"
}
h2load_knobs() {
  defaults DURATION=10 WARMUP=2 REPS=3 PREWARM=3 PROTO=0
  uint_knobs DURATION WARMUP REPS PREWARM
  ((DURATION >= 1 && REPS >= 1)) || die "DURATION and REPS must be >= 1"
}
bench_traps() { # bench_traps CLEANUP: CLEANUP runs on exit, however the script ends
  # shellcheck disable=SC2064 # CLEANUP is a function name, expanded now on purpose
  trap "$1" EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}
bench_run_dir() {
  STAMP=$(date -u +%Y%m%dT%H%M%SZ)
  RUN=$ROOT/build/bench/$STAMP${1:+-$1}
  mkdir -p "$RUN" || die "mkdir $RUN"
}

NEED_APT=()
need_tool() { command -v "$1" >/dev/null || NEED_APT+=("${@:2}"); }
install_needed() { # install_needed [APT-GET-ARGS...]; with SKIP_BUILD=1 it dies instead
  ((${#NEED_APT[@]})) || return 0
  [[ $SKIP_BUILD == 1 ]] && die "missing ${NEED_APT[*]} (SKIP_BUILD=1: not installing)"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" "${NEED_APT[@]}"; } \
    >"$RUN/apt.log" 2>&1 || die "apt-get install ${NEED_APT[*]} failed (see $RUN/apt.log)"
}

# build_targets LOG TARGET...: scripts/build release when BUILD_DIR is
# build/release, else cmake --build BUILD_DIR; on failure the log's tail and die.
build_targets() {
  local logf=$1
  shift
  if [[ $BUILD_DIR == "$ROOT/build/release" ]]; then
    log "build $* (scripts/build release)"
    scripts/build release "$@" >"$logf" 2>&1
  else
    log "build $* ($BUILD_DIR)"
    cmake --build "$BUILD_DIR" --target "$@" >"$logf" 2>&1
  fi || {
    tail -40 "$logf" >&2
    die "building $* failed (log: $logf)"
  }
}
# build_go_anchor BIN WHAT: BIN is build/anchors/NAME, built from
# $GO_SRC/src/NAME by $GO_SRC/build.sh.
build_go_anchor() {
  local bin=$1 what=$2
  [[ -x $bin && -z $(find "$GO_SRC/src/${bin##*/}" -newer "$bin" -name '*.go' 2>/dev/null) ]] && return 0
  log "build the Go $what ($GO_SRC/build.sh build/anchors)"
  "$GO_SRC/build.sh" "$ROOT/build/anchors" >"$RUN/build-go.log" 2>&1 ||
    die "go-reference build.sh failed (log: $RUN/build-go.log)"
}

env_common() {
  echo "date (UTC): $(date -u '+%Y-%m-%d %H:%M:%S')${1:+, load average at start: $(cut -d' ' -f1-3 /proc/loadavg)}"
  echo "machine: $(uname -srm), $(nproc) CPUs, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
  echo "os: $(. /etc/os-release && echo "$PRETTY_NAME")"
}

# --------------------------------------------------------------- processes
declare -gA PID=() LABEL=() LOGF=() DOWN=() DAEMON=() PORT=()
CRASHES=0
alive() { [[ -n ${PID[$1]:-} ]] && kill -0 "${PID[$1]}" 2>/dev/null; }
reap_dead() {
  local s=$1 rc=0 how
  [[ -n ${PID[$s]:-} ]] || return 0
  alive "$s" && return 0
  wait "${PID[$s]}" 2>/dev/null || rc=$?
  CRASHES=$((CRASHES + 1))
  DOWN[$s]=1
  how=" (status $rc$( ((rc > 128)) && echo ", signal $((rc - 128))"))"
  [[ -n ${DAEMON[$s]:-} ]] && how=""
  note "${LABEL[$s]:-$s}: pid ${PID[$s]} had exited$how; log tail (${LOGF[$s]:-}):"
  tail -20 "${LOGF[$s]:-/dev/null}" 2>/dev/null | tee -a "$NOTES" >&2
  unset "PID[$s]"
}
stop_named() {
  local s
  for s in "$@"; do [[ -n ${PID[$s]:-} ]] && stop_pid "${PID[$s]}"; done
  return 0
}
# stop_everything: a running h2load (H2LOAD_PID), then every process in PID
# (the exit trap of scripts whose processes all stop alike).
stop_everything() {
  [[ -n ${H2LOAD_PID:-} ]] && stop_pid "$H2LOAD_PID"
  stop_named "${!PID[@]}"
}
stop_all() {
  local s
  for s in "$@"; do
    reap_dead "$s"
    [[ -n ${PID[$s]:-} ]] && { stop_pid "${PID[$s]}"; unset "PID[$s]"; }
  done
  return 0
}
# start_port_file NAME CMD...: starts CMD --port-file RUN/NAME.port in the
# background (output to LOGF[NAME], default RUN/server-NAME.log) and waits
# for the port file (at most 10 s); sets PORT[NAME].
start_port_file() {
  local s=$1 i
  shift
  LOGF[$s]=${LOGF[$s]:-$RUN/server-$s.log}
  rm -f "$RUN/$s.port"
  "$@" --port-file "$RUN/$s.port" >"${LOGF[$s]}" 2>&1 &
  PID[$s]=$!
  for ((i = 0; i < 100; i++)); do
    [[ -s $RUN/$s.port ]] && break
    alive "$s" || { reap_dead "$s"; return 1; }
    sleep 0.1
  done
  [[ -s $RUN/$s.port ]] || { note "${LABEL[$s]:-$s}: no port file after 10 s"; return 1; }
  PORT[$s]=$(tr -dc 0-9 <"$RUN/$s.port")
  return 0
}
# bash's /dev/tcp connect fails on free ports.
port_busy() { timeout 1 bash -c "exec 3<>/dev/tcp/${2:-$HOST}/$1" 2>/dev/null; }
free_port() {
  local p
  for p in $(shuf -i 20000-29999 -n 30); do
    port_busy "$p" "$1" || { echo "$p"; return 0; }
  done
  return 1
}
udp_busy() { grep -qi ":$(printf '%04X' "$1") " /proc/net/udp /proc/net/udp6; }
free_udp() {
  local p
  for p in $(shuf -i 30000-39999 -n 50); do udp_busy "$p" || { echo "$p"; return 0; }; done
  return 1
}

# -------------------------------------------------------------------- runs
log() { printf '=== %s\n' "$*" >&2; }
note() { echo "$*" | tee -a "$NOTES" >&2; }
now_us() { date +%s%6N; }
busy_ticks() { # busy time of the whole machine (user+nice+system+irq+softirq+steal), clock ticks
  awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat
}
wait_quiet() { # wait_quiet: until the machine is quiet (QUIET_PCT) or QUIET_WAIT s passed; sets BUSY_PCT
  local deadline=$((SECONDS + QUIET_WAIT)) b0
  while :; do
    b0=$(busy_ticks); sleep 1
    BUSY_PCT=$((($(busy_ticks) - b0) * 100 / CLK_TCK))
    ((BUSY_PCT <= QUIET_PCT)) && return 0
    ((SECONDS >= deadline)) && return 1
    sleep 2
  done
}
# take_lock [WRAPPER...]: opens LOCK on fd LK and waits at most LOCK_WAIT s
# for it (flock run through WRAPPER, e.g. wg_fg); drop_lock lets it go.
LK=
take_lock() {
  exec {LK}>>"$LOCK" || die "cannot open $LOCK"
  "$@" flock -w "$LOCK_WAIT" "$LK" || die "waited ${LOCK_WAIT}s for $LOCK"
}
drop_lock() { flock -u "$LK"; exec {LK}>&-; }

# h2load_measure OUT URL H2LOAD-ARGS...: one h2load run (WARMUP s of warm-up,
# then DURATION s) under the lock, once the machine is quiet (else BUSY_NOTE
# says so). Output in OUT.txt, the request log in OUT.reqlog, the shell's
# `times` before and after in OUT.times0 and OUT.times1. The CPU ticks of each
# pid in the array SAMPLE (the processes measured) are read at the start
# (TICKS0), after the warm-up (TICKS1) and once h2load has exited (TICKS2);
# IDLE_TICKS is the most any pid in the array IDLE (processes that should get
# nothing) used. Sets RC (h2load's status), T1 (µs, after the warm-up), W0,
# W1 (µs, start and end), B0, B1 (the machine's busy ticks), WAITED (s).
SAMPLE=() IDLE=() TICKS0=() TICKS1=() TICKS2=()
h2load_measure() {
  local out=$1 url=$2 t0 i d
  shift 2
  local -A idle0=()
  t0=$(date +%s)
  take_lock
  BUSY_NOTE=
  wait_quiet || BUSY_NOTE="machine busy (${BUSY_PCT}% of a core) after waiting ${QUIET_WAIT}s; "
  WAITED=$(($(date +%s) - t0))
  for i in "${IDLE[@]}"; do idle0[$i]=$(cpu_ticks "$i"); done
  times >"$out.times0"         # children's CPU so far (h2load's is added when it is reaped)
  W0=$(now_us); B0=$(busy_ticks)
  for i in "${!SAMPLE[@]}"; do TICKS0[i]=$(cpu_ticks "${SAMPLE[i]}"); done
  timeout $((WARMUP + DURATION + 60)) h2load "$@" -D "$DURATION" --warm-up-time="$WARMUP" \
    --log-file="$out.reqlog" "$url" >"$out.txt" 2>&1 {LK}>&- &
  H2LOAD_PID=$!
  sleep "$WARMUP.5"           # main phase starts ~WARMUP s after h2load connects
  T1=$(now_us)
  for i in "${!SAMPLE[@]}"; do TICKS1[i]=$(cpu_ticks "${SAMPLE[i]}"); done
  wait "$H2LOAD_PID"; RC=$?
  H2LOAD_PID=
  times >"$out.times1"
  W1=$(now_us); B1=$(busy_ticks)
  for i in "${!SAMPLE[@]}"; do TICKS2[i]=$(cpu_ticks "${SAMPLE[i]}"); done
  IDLE_TICKS=0
  for i in "${!idle0[@]}"; do
    d=$(($(cpu_ticks "$i") - ${idle0[$i]})); ((d > IDLE_TICKS)) && IDLE_TICKS=$d
  done
  drop_lock
}

h2load_run() {
  local out=$1 url=$2 what=$3
  shift 3
  h2load_measure "$out" "$url" "$@"
  [[ -n $BUSY_NOTE ]] && note "$what: started although the machine was busy (${BUSY_PCT}% of a core)"
  WHY=
}
h2load_results() {
  h2load_check "$1"
  reqlog_stats "$1"
  load_shares "$1"
  OKFLAG=1
  [[ -z $WHY ]] || OKFLAG=0
}
raw_start() {
  RAW=$RUN/runs.tsv
  local cols=(case "$1" rep ok req_s mean_us p50_us p90_us p99_us max_us succeeded errors non200 status0 "${@:2}" note)
  local IFS=$'\t'
  echo "${cols[*]}" >"$RAW"
}
raw_row() {
  local f=("$1" "$2" "$3" "$OKFLAG" "$RPS" "$MEAN" "$PCTS" "$OK" "$ERRS" "$BAD" "$ST0" "${@:4}" "${WHY}${BUSY_NOTE}${CPU_NOTE}")
  local IFS=$'\t'
  echo "${f[*]}" >>"$RAW"
}
report_run() {
  local what=$1 out=$2 format=$3
  shift 3
  # shellcheck disable=SC2059 # the format is the caller's
  printf "$format%s\n" "$@" "${WHY:+  FAILED: $WHY}" >&2
  [[ -z $WHY ]] || note "$what FAILED: $WHY(h2load output: $out.txt)"
}
# down_row CASE TARGET REP WHY: runs.tsv's columns 4 (ok) and 11-14 (counts)
# are 0, the last is WHY, the others are empty.
down_row() {
  local head
  head=$(head -1 "$RAW")
  awk -F'\t' -v c="$1" -v t="$2" -v rep="$3" -v why="$4" 'NR == 1 {
    for (i = 1; i <= NF; i++) f[i] = ""
    f[1] = c; f[2] = t; f[3] = rep; f[4] = f[11] = f[12] = f[13] = f[14] = 0; f[NF] = why
    for (i = 1; i <= NF; i++) printf "%s%s", f[i], (i < NF ? "\t" : "\n")
  }' <<<"$head" >>"$RAW"
}

# h2load_check OUT: appends to WHY h2load's failure, missing /proc samples,
# and what its summary reports ("finished in 12.00s, N req/s, ..."; "requests:
# N total, N started, N done, N succeeded, N failed, N errored, N timeout";
# "status codes: N 2xx, N 3xx, N 4xx, N 5xx"); sets RPS, OK, ERRS, N3XX.
h2load_check() {
  local out=$1 i
  ((RC == 0)) || WHY+="h2load exit status $RC; "
  for i in "${!SAMPLE[@]}"; do
    ((TICKS1[i] >= 0 && TICKS2[i] >= 0)) || { WHY+="no /proc stat; "; break; }
  done
  [[ -f $out.reqlog ]] || : >"$out.reqlog"
  RPS=$(awk '/^finished in/ {print $4; exit}' "$out.txt")
  OK=$(awk '/^requests:/ {print $8; exit}' "$out.txt")
  ERRS=$(awk '/^requests:/ {print $10 + $12 + $14; exit}' "$out.txt")
  N3XX=$(awk '/^status codes:/ {print $5 + $7 + $9; exit}' "$out.txt")
  [[ -n $RPS && -n $OK ]] || { WHY+="no h2load summary; "; RPS=${RPS:-0}; OK=${OK:-0}; ERRS=${ERRS:-0}; }
  ((OK > 0)) || WHY+="no request succeeded; "
  ((ERRS == 0)) || WHY+="$ERRS failed/errored/timed-out requests ($(awk '/^requests:/ {print $10, $11, $12, $13, $14, $15; exit}' "$out.txt")); "
  ((${N3XX:-0} == 0)) || WHY+="$N3XX non-2xx responses; "
}

# reqlog_stats OUT: from OUT.reqlog (main phase only: start_us <TAB> status
# <TAB> duration_us), then gzips it. Status 0 marks a request that straddled
# the warm-up/main boundary (h2load counts it as succeeded): left out of the
# latency figures, not an error. Latency: status 200 only. CPU: the ticks of
# SAMPLE[i] from T1 to h2load's exit over the requests that completed in that
# window (all main phase, since T1 is after the main phase began; checked
# against the first logged request). Sets N (200s), BAD (other statuses, also
# in WHY), ST0, WIN (200s in the window), MEAN (µs), CPU_REQ[i] (µs of CPU per
# request, "" without requests), CPU_NOTE, PCTS (p50, p90, p99, max µs,
# tab-separated).
CPU_REQ=()
reqlog_stats() {
  local out=$1 i dts=()
  for i in "${!SAMPLE[@]}"; do dts+=("$((TICKS2[i] - TICKS1[i]))"); done
  awk -F'\t' -v t1="$T1" -v dts="${dts[*]}" -v tck="$CLK_TCK" '
    $2 == 200 { n++; sum += $3; if ($1 + $3 >= t1) win++; if (!first || $1 < first) first = $1; next }
    $2 == 0 { st0++; next }
    { bad++ }
    END {
      printf "%d\t%d\t%d\t%d\t%s", n, bad, st0, win, (n ? sprintf("%.0f", sum / n) : "-")
      nd = split(dts, dt, " ")
      for (i = 1; i <= nd; i++) printf "\t%s", (win ? sprintf("%.1f", dt[i] * 1e6 / tck / win) : "-")
      printf "\n%s\n", ((first && t1 < first) ? "cpu window began before the main phase" : "")
    }' "$out.reqlog" >"$out.stats"
  local rest
  IFS=$'\t' read -r N BAD ST0 WIN MEAN rest <"$out.stats" # ("-": none; tabs would fold)
  [[ $MEAN == - ]] && MEAN=
  CPU_REQ=()
  [[ -n $rest ]] && IFS=$'\t' read -ra CPU_REQ <<<"$rest"
  for i in "${!CPU_REQ[@]}"; do [[ ${CPU_REQ[i]} == - ]] && CPU_REQ[i]=""; done
  CPU_NOTE=$(sed -n 2p "$out.stats")
  rm -f "$out.stats"
  ((BAD == 0)) || WHY+="$BAD non-200 responses in the request log; "
  ((N > 0)) || WHY+="no status-200 entry in the request log; "
  PCTS=$(awk -F'\t' '$2 == 200 {print $3}' "$out.reqlog" | sort -n | awk '
    { d[NR] = $1 }
    function pct(p,  k) { k = int(p * NR + 0.999999); if (k < 1) k = 1; return d[k] }
    END { if (NR) printf "%d\t%d\t%d\t%d", pct(.5), pct(.9), pct(.99), d[NR]; else printf "\t\t\t" }')
  gzip -f "$out.reqlog"
}

# load_shares OUT: CLIENT_PCT, h2load's CPU (user+sys) as a share of one core
# over its wall time (the few short helpers run between the two `times` add a
# few ms at most); OTHER_PCT, everything else on the machine in % of one core:
# busy time minus SAMPLE's and h2load's. Near 0 on a quiet machine.
load_shares() {
  local out=$1 i own=0
  CLIENT_PCT=$(cat "$out.times0" "$out.times1" | awk -v wall="$((W1 - W0))" '
    function sec(x,  m) { m = x; sub(/m.*/, "", m); sub(/^[0-9]+m/, "", x); sub(/s$/, "", x); return m * 60 + x }
    NR == 2 { a = sec($1) + sec($2) } NR == 4 { b = sec($1) + sec($2) }
    END { printf "%.0f", (wall > 0 ? (b - a) * 1e8 / wall : 0) }')
  rm -f "$out.times0" "$out.times1"
  for i in "${!SAMPLE[@]}"; do own=$((own + TICKS2[i] - TICKS0[i])); done
  OTHER_PCT=$(awk -v b="$((B1 - B0 - own))" -v tck="$CLK_TCK" -v wall="$((W1 - W0))" -v cli="$CLIENT_PCT" \
    'BEGIN { printf "%.0f", (wall > 0 ? b * 1e8 / tck / wall - cli : 0) }')
}

prewarm() {
  local out=$1 url=$2
  shift 2
  flock -w "$LOCK_WAIT" "$LOCK" timeout $((PREWARM + 30)) h2load -D "$PREWARM" "$@" "$url" >"$out" 2>&1
}
# h2load_args CASE: CASE_ARGS[CASE] is "BODY-ARRAY-NAME FLAGS...".
h2load_args() {
  local spec=${CASE_ARGS[$1]}
  local -n body=${spec%% *}
  local conc
  read -ra conc <<<"${spec#* }"
  ARGS=("${body[@]}" "${conc[@]}")
}

# ----------------------------------------------------------------- summary
# shellcheck disable=SC2016 # awk's $ fields
AWK_STATS='
  function med(list,  n, a, i, j, t) {
    n = split(list, a, " "); if (!n) return ""
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  function add(arr, k, v) { if (v == "") return; if (k in arr) arr[k] = arr[k] " " v; else arr[k] = v }
  function fmt(x, d, unit) { return x == "" ? "–" : sprintf("%." d "f", x) unit }
  function ratio(a, b) { return (a == "" || b == "" || b + 0 == 0) ? "" : a / b }
  # count_run(k): a runs.tsv row ($4 ok, $5 req/s) of key k; true if it succeeded
  function count_run(k) {
    seen[k] = 1; runs[k]++
    add(rpsall, k, $4 ? sprintf("%.0f", $5) : "failed")
    if (!$4) failed[k]++
    return $4
  }
  # note_other(v, what): the other load of a successful run (% of a core)
  function note_other(v, what) {
    nruns++
    if (v == "") return
    add(oth, "all", v); if (v + 0 > othmax) othmax = v + 0
    if (v + 0 > 15) { nbusy++; busy = busy (busy ? ", " : "") what " (" v "%)" }
  }
  function all_reps(k,  a) { a = rpsall[k]; gsub(/ /, ", ", a); return a }
  function table(title, head, align) { printf "### %s\n\n%s\n%s\n", title, head, align }
  function print_other() {
    printf "Other processes used a median of %s%% and at most %s%% of one core during the runs%s.\n", fmt(med(oth["all"]), 0), othmax + 0,
      (othmax > 15 ? " (WARNING: the machine was not quiet; rerun when it is)" : "")
    if (nbusy) printf "Runs disturbed by more than 15%% of a core of other load: %d of %d: %s.\n", nbusy, nruns, busy
  }
'
notes_section() {
  [[ -s $NOTES ]] || return 0
  echo; echo "### Notes"; echo; sed 's/^/    /' "$NOTES"
}
bench_finish() {
  local nfail
  echo
  cat "$SUMMARY"
  nfail=$(awk -F'\t' 'NR > 1 && !$4' "$RAW" | wc -l)
  echo
  echo "results: $RUN ($(tail -n +2 "$RAW" | wc -l) runs, $nfail failed${1:+, $1})"
  exit $((nfail + $2 > 0))
}
