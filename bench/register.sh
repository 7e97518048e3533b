#!/usr/bin/env bash
# bench/register.sh: MeshService.Register throughput of a real colony
# (`coral colony start`, host transport on 127.42.0.1) as its registry fills
# to 60,000 peers in one /16, with a same-run baseline (GetStatus on the same
# colony and connection). Goal: the cost of a registration does not grow
# with the number of peers (rate of the last 10,000 / rate of the first
# 10,000 ≥ GOAL). Run with --help for the knobs.
set -uo pipefail

usage() {
  cat <<'USAGE'
usage: bench/register.sh [--help]

Builds coral and coral-register-load (build/release), creates a colony in a
temporary config directory (127.42.0.0/16 + fdc0:42::/64, a free port),
starts it with `coral colony start --daemon`, then runs
coral-register-load: BASELINE GetStatus calls, COUNT registrations of new
peers (rate per BUCKET), COUNT re-registrations of the same keys. Stops the
colony by its PID and prints a summary (also in build/bench/<stamp>-register/).

Environment knobs (defaults in brackets):
  COUNT        peers to register [60000] (at most 65533 in a /16)
  BUCKET       report the rate per this many registrations [10000]
  BASELINE     GetStatus calls of the baseline [20000]
  CONCURRENCY  calls in flight on the one h2c connection [64]
  GOAL         lowest acceptable rate(last bucket) / rate(first bucket) [0.8]
  SKIP_BUILD   1: use the binaries that are there [0]
  BUILD_DIR    where they are [build/release]
  LOCK         lock file shared with the other benchmarks [/tmp/coral-bench.lock]
  LOCK_WAIT    longest wait for that lock, seconds [1800]

Exit status: 0 if the run succeeded, 1 if it failed, 2 on bad usage or
setup. The goal is printed as MET / NOT MET and does not change the exit
status. Traffic stays on 127.42.0.1.
USAGE
}

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_setup "$@"
defaults COUNT=60000 BUCKET=10000 BASELINE=20000 CONCURRENCY=64 GOAL=0.8
uint_knobs COUNT BUCKET BASELINE CONCURRENCY
((COUNT >= 1 && BUCKET >= 1 && BASELINE >= 1 && CONCURRENCY >= 1)) || die "COUNT, BUCKET, BASELINE and CONCURRENCY must be >= 1"
((COUNT <= 65533)) || die "COUNT must be at most 65533 (the peers of a /16)"
[[ $GOAL =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "GOAL must be a number (got '$GOAL')"

bench_run_dir register
[[ $SKIP_BUILD == 1 ]] || build_targets "$RUN/build.log" coral coral-register-load
CORAL=$BUILD_DIR/apps/coral
LOAD=$BUILD_DIR/bench/coral-register-load
[[ -x $CORAL && -x $LOAD ]] || die "$CORAL or $LOAD is missing (build them, or set BUILD_DIR)"

export CORAL_CONFIG_DIR=$RUN/config
COLONY_PID=
cleanup() { [[ -n $COLONY_PID ]] && stop_pid "$COLONY_PID" TERM 10; }
bench_traps cleanup

COLONY_PORT=$(free_port 127.42.0.1) || die "no free port found on 127.42.0.1"

run() {
  "$CORAL" init --app bench --env register --colony-id bench-register --mesh-ipv4-net 127.42.0.0/16 \
    --mesh-ipv6-net fdc0:42::/64 --connect-port "$COLONY_PORT" --discovery http://127.0.0.1:9 >"$RUN/init.txt" ||
    { echo "register.sh: coral init failed" >&2; return 1; }
  # Discovery is not part of this benchmark (it would only log that port 9 refuses).
  sed -i 's/auto_register: true/auto_register: false/' "$CORAL_CONFIG_DIR/colonies/bench-register.yaml"
  "$CORAL" colony start bench-register --daemon --log-level warn >"$RUN/start.txt" 2>&1 ||
    { echo "register.sh: the colony did not start:" >&2; cat "$RUN/start.txt" >&2; return 1; }
  COLONY_PID=$(cat "$CORAL_CONFIG_DIR/colonies/bench-register.pid")
  local secret
  secret=$(sed -n 's/^colony_secret: //p' "$CORAL_CONFIG_DIR/colonies/bench-register.yaml")
  echo "=== coral-register-load: $BASELINE GetStatus, then $COUNT new peers and again (colony pid $COLONY_PID)" >&2
  CORAL_COLONY_SECRET=$secret timeout 1800 "$LOAD" "http://127.42.0.1:$COLONY_PORT" bench-register "$COUNT" \
    --concurrency "$CONCURRENCY" --bucket "$BUCKET" --baseline "$BASELINE" >"$RUN/load.txt" 2>&1
  local status=$?
  # The colony's resident memory and state size with COUNT peers.
  awk '/^VmRSS/ { print "colony VmRSS with peers: " $2 " kB" }' "/proc/$COLONY_PID/status" >>"$RUN/load.txt"
  echo "state file: $(du -k "$CORAL_CONFIG_DIR/colonies/bench-register.db" | cut -f1) kB" >>"$RUN/load.txt"
  "$CORAL" colony stop bench-register >/dev/null
  return $status
}

echo "=== waiting for $LOCK" >&2
take_lock # held until the end
run
status=$?
{
  echo "## MeshService.Register benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  echo "    coral colony (host transport, 127.42.0.1:$COLONY_PORT), one h2c connection, concurrency $CONCURRENCY"
  echo
  sed 's/^/    /' "$RUN/load.txt"
  echo
  ratio=$(sed -n 's/^last bucket \/ first bucket rate: //p' "$RUN/load.txt")
  if [[ -n $ratio ]]; then
    verdict=$(awk -v r="$ratio" -v g="$GOAL" 'BEGIN { print (r >= g) ? "MET" : "NOT MET" }')
    echo "- rate(last $BUCKET) / rate(first $BUCKET) = $ratio (goal ≥ $GOAL): $verdict"
  else
    echo "- rate(last) / rate(first): NO DATA"
  fi
} >"$RUN/summary.md"
cat "$RUN/summary.md"
echo
echo "results: $RUN"
exit $((status != 0))
