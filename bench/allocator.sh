#!/usr/bin/env bash
# bench/allocator.sh: cost of the mesh IP allocator as the number of peers
# in one 127.42.0.0/16 grows (coral-allocator-bench, Google Benchmark), as
# ratios within one run: cost at 60,000 peers / cost at 1,000 peers (goal:
# about 1, i.e. the cost does not grow with the number of peers), and each
# fill level against the same-run baseline (fill 0). Run with --help for the
# knobs; bench/README.md explains the method. No network, no servers.
set -uo pipefail

usage() {
  cat <<'EOF'
usage: bench/allocator.sh [--help]

Runs build/release/bench/coral-allocator-bench with --benchmark_format=json,
REPS repetitions of every case in random interleaved order, and prints the
median ns per allocate+release step at each fill level (0, 1000, 10000,
60000, 65000 peers in a /16), the ratios to fill 1000 and to the fill-0
baseline, the same ratio for a control (a flat bitmap searched from its
start, whose cost grows with the peers), and the replay (restart) cost per
peer.

Environment knobs (defaults in brackets):
  REPS        repetitions of each case; the table shows the median [10]
  MIN_TIME    --benchmark_min_time per repetition, seconds [0.2]
  GOAL        highest acceptable cost(60000) / cost(1000) [1.5]
  SKIP_BUILD  1: do not build, use the binary that is there [0]
  BUILD_DIR   where the binary is [build/release]
  LOCK        lock file held during the run, shared with the other
              benchmarks on this machine [/tmp/coral-bench.lock]
  LOCK_WAIT   longest wait for that lock, seconds [1800]

Results go to build/bench/<UTC stamp>-allocator/ (raw.json, summary.md).
Exit status: 0 if the run succeeded, 1 if the benchmark failed, 2 on bad
usage or setup. The goal is printed as MET / NOT MET and does not change the
exit status.
EOF
}

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_setup "$@"
defaults REPS=10 MIN_TIME=0.2 GOAL=1.5

[[ $REPS =~ ^[0-9]+$ ]] && ((REPS >= 1 && REPS <= 1000)) || die "REPS must be 1-1000 (got '$REPS')"
[[ $MIN_TIME =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "MIN_TIME must be a number of seconds (got '$MIN_TIME')"
[[ $GOAL =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "GOAL must be a number (got '$GOAL')"
command -v python3 >/dev/null || die "python3 is needed (apt-get install python3)"

bench_run_dir allocator
RAW=$RUN/raw.json
[[ $SKIP_BUILD == 1 ]] || build_targets "$RUN/build.log" coral-allocator-bench
BIN=$BUILD_DIR/bench/coral-allocator-bench
[[ -x $BIN ]] || die "$BIN is missing (build it, or set BUILD_DIR)"

echo "=== $BIN: $REPS reps x ${MIN_TIME}s per case, interleaved (waiting for $LOCK)" >&2
# A bounded run: the benchmark takes about cases x REPS x (MIN_TIME + setup).
if ! flock -w "$LOCK_WAIT" "$LOCK" timeout 1800 "$BIN" --benchmark_format=json --benchmark_repetitions="$REPS" \
  --benchmark_min_time="$MIN_TIME" --benchmark_enable_random_interleaving=true \
  --benchmark_report_aggregates_only=false >"$RAW" 2>"$RUN/stderr.txt"; then
  echo "allocator.sh: the benchmark failed; see $RUN/stderr.txt" >&2
  tail -5 "$RUN/stderr.txt" >&2
  exit 1
fi

python3 - "$RAW" "$GOAL" "$REPS" "$MIN_TIME" >"$RUN/summary.md" <<'EOF'
import json, statistics, sys

raw, goal, reps, min_time = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4]
doc = json.load(open(raw))
runs = {}
errors = []
for b in doc["benchmarks"]:
    if b.get("run_type") != "iteration":
        continue
    if b.get("error_occurred"):
        errors.append(f'{b["name"]}: {b.get("error_message", "error")}')
        continue
    name = b["run_name"]
    scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[b.get("time_unit", "ns")]
    runs.setdefault(name, []).append(b["cpu_time"] * scale)
if errors:
    print("errors: " + "; ".join(errors), file=sys.stderr)
    sys.exit(1)

def med(name):
    return statistics.median(runs[name]) if name in runs else None

ctx = doc.get("context", {})
print(f'## Mesh IP allocator benchmark, {ctx.get("date", "")}')
print()
print(f'    host {ctx.get("host_name", "?")}, {ctx.get("num_cpus", "?")} CPUs at {ctx.get("mhz_per_cpu", "?")} MHz, '
      f'load average {", ".join(f"{x:.2f}" for x in ctx.get("load_avg", []))}; '
      f'library build {ctx.get("library_build_type", "?")}')
print(f'    {reps} repetitions x {min_time} s per case, random interleaving; medians of the CPU time')
print()
print("One step = allocate() (lowest free index) + release() of a random peer, at a constant fill level,")
print("in 127.42.0.0/16 + fdc0:42::/64 (65,533 peer addresses).")
print()
print("| peers (fill) | ns per step (median) | min – max | × fill 1000 | × baseline (fill 0) |")
print("|---:|---:|---|---:|---:|")
base = med("BM_Churn/fill:0")
ref = med("BM_Churn/fill:1000")
for fill in (0, 1000, 10000, 60000, 65000):
    name = f"BM_Churn/fill:{fill}"
    m = med(name)
    if m is None:
        continue
    print(f"| {fill} | {m:.1f} | {min(runs[name]):.1f} – {max(runs[name]):.1f} | "
          f"{m / ref:.2f}× | {m / base:.2f}× |")
print()
for peers in (1000, 60000):
    m = med(f"BM_Replay/peers:{peers}")
    if m is not None:
        print(f"- restart replay of {peers} peers (new allocator + {peers} reserve() + 1 allocate()): "
              f"{m / 1e3:.1f} µs, {m / peers:.2f} ns per peer")
f1, f60 = med("BM_ChurnFlatScan/fill:1000"), med("BM_ChurnFlatScan/fill:60000")
if f1 is not None and f60 is not None:
    print(f"- control, a flat bitmap searched from its first word (the cost the allocator avoids): "
          f"{f1:.1f} ns at 1000 peers, {f60:.1f} ns at 60000, ratio {f60 / f1:.2f}")
hi = med("BM_Churn/fill:60000")
if hi is None or ref is None:
    print("- cost(60000) / cost(1000): NO DATA")
    sys.exit(1)
ratio = hi / ref
print(f"- cost(60000 peers) / cost(1000 peers) = {ratio:.2f} (goal ≤ {goal}): {'MET' if ratio <= goal else 'NOT MET'}")
print(f"- cost(60000 peers) / baseline (fill 0) = {hi / base:.2f}")
EOF
status=$?
cat "$RUN/summary.md"
echo
echo "results: $RUN"
exit $((status != 0))
