#!/usr/bin/env bash
# bench/lwip_choice.sh: lwIP 2.1.3 as coral builds it from Debian's source
# package (src/netstack: our lwipopts.h, NO_SYS=1, 1 MiB windows, 10 ms TCP
# ticks, 200 ms RTO floor) against Debian's binary liblwip-dev (built for
# GNU Hurd: NO_SYS=0 with tcpip_thread, 64 KiB windows, 250/500 ms TCP
# ticks), measured by one program (bench/lwip_choice/lwip_choice.cpp)
# compiled both ways: bulk throughput at three one-way delays, sequential
# 1-byte request/response latency, and the cost of a tail loss that only a
# retransmission timeout repairs. Prints a markdown table (docs/netstack.md,
# "The measurement", keeps the figures). Run with --help for the knobs.
# Everything happens in memory inside the two processes (no network, no
# root needed but for installing liblwip-dev); each case is bounded by
# LIMIT seconds and the whole run takes well under 2 minutes.
set -uo pipefail

usage() {
  cat <<'EOF'
usage: bench/lwip_choice.sh [--help]

Builds and runs, one after the other:
  source    build/release/bench/lwip_choice/coral-lwip-choice-source
            (scripts/build release coral-lwip-choice-source: coral_lwip)
  packaged  build/lwip_choice/coral-lwip-choice-packaged
            (g++ -DLWIP_CHOICE_PACKAGED -isystem /usr/include/lwip ... -llwip;
            liblwip-dev is installed with apt-get when missing, through sudo
            when not root)
Each: two lwIP interfaces joined by an in-memory wire with a one-way delay;
raw TCP API, Nagle off (see the top of lwip_choice.cpp):
  bulk   one stream of BULK_MIB MiB at one-way delays 0, 0.5 and 2 ms: Mbit/s
         and the process's CPU time (all its threads) per MiB
  rr     ROUNDS sequential 1-byte requests / 1-byte responses, 0.1 ms: p50, p99
  loss   1 MiB in 16 request bursts of 64 KiB, each answered with 1 byte, at
         0.5 ms; the last segment of burst 8 lost once (no fast retransmit
         possible): median of REPS runs with and without the loss

Environment knobs (defaults in brackets):
  BULK_MIB     MiB per bulk transfer [64]
  ROUNDS       request/response rounds [2000]
  REPS         runs of the loss case, with and without loss [3]
  LIMIT        time limit of every case, seconds [20]
  SKIP_BUILD   1: build and install nothing, use what is there [0]
  BUILD_DIR    the CMake build with the source variant [build/release]
EOF
  usage_lock_knobs
  cat <<'EOF'

Output: the table on stdout; the raw key/value output of both programs,
env.txt and summary.md in build/bench/<UTC stamp>-lwip_choice/. Exit status
0 when every case of both variants succeeded, 1 when one failed, 2 on bad
usage or setup.
EOF
}

# QUIET_WAIT: this benchmark is short; do not wait 3 minutes for quiet.
QUIET_WAIT=${QUIET_WAIT:-30}
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_setup "$@"
defaults BULK_MIB=64 ROUNDS=2000 REPS=3 LIMIT=20
uint_knobs BULK_MIB ROUNDS REPS LIMIT
# shellcheck disable=SC2153 # LIMIT is set by defaults
((BULK_MIB >= 1 && ROUNDS >= 1 && REPS >= 1 && LIMIT >= 1)) || die "BULK_MIB, ROUNDS, REPS and LIMIT must be >= 1"
CLK_TCK=$(getconf CLK_TCK)

bench_run_dir lwip_choice
NOTES=$RUN/notes.txt
: >"$NOTES"
SOURCE_BIN=$BUILD_DIR/bench/lwip_choice/coral-lwip-choice-source
PACKAGED_BIN=$ROOT/build/lwip_choice/coral-lwip-choice-packaged
log "results: $RUN"

# liblwip-dev: Debian's lwIP headers (its lwipopts.h) and liblwip.so.
if ! dpkg-query -W -f='${Status}' liblwip-dev 2>/dev/null | grep -q '^install ok installed'; then
  [[ $SKIP_BUILD == 1 ]] && die "liblwip-dev is not installed (SKIP_BUILD=1: not installing)"
  SUDO=()
  ((EUID == 0)) || SUDO=(sudo)
  log "install liblwip-dev (${SUDO[*]:+sudo }apt-get)"
  { "${SUDO[@]}" apt-get update -qq && DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq liblwip-dev; } \
    >"$RUN/apt.log" 2>&1 || die "apt-get install liblwip-dev failed (see $RUN/apt.log)"
fi

if [[ $SKIP_BUILD != 1 ]]; then
  build_targets "$RUN/build-source.log" coral-lwip-choice-source
  log "build the packaged variant (g++ ... -llwip)"
  mkdir -p "${PACKAGED_BIN%/*}"
  g++ -std=c++23 -O2 -g -Wall -Wextra -Werror -DLWIP_CHOICE_PACKAGED -isystem /usr/include/lwip \
    bench/lwip_choice/lwip_choice.cpp -o "$PACKAGED_BIN" -llwip -pthread >"$RUN/build-packaged.log" 2>&1 || {
    tail -40 "$RUN/build-packaged.log" >&2
    die "building the packaged variant failed (log: $RUN/build-packaged.log)"
  }
fi
[[ -x $SOURCE_BIN ]] || die "missing $SOURCE_BIN (run without SKIP_BUILD=1)"
[[ -x $PACKAGED_BIN ]] || die "missing $PACKAGED_BIN (run without SKIP_BUILD=1)"

{
  env_common load
  echo "lwIP: source .deps/lwip ($(cat .deps/lwip/VERSION 2>/dev/null || echo '?')), packaged $(dpkg-query -W -f='${Package} ${Version}' liblwip-dev)"
  echo "knobs: BULK_MIB=$BULK_MIB ROUNDS=$ROUNDS REPS=$REPS LIMIT=$LIMIT"
  echo "git: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- 2>/dev/null || echo ' (modified)')"
} >"$RUN/env.txt"

FAILED=0
# Each variant under the bench lock, once the machine is quiet (QUIET_PCT).
for variant in source packaged; do
  bin=SOURCE_BIN
  [[ $variant == packaged ]] && bin=PACKAGED_BIN
  take_lock
  wait_quiet || note "$variant: started although the machine was busy (${BUSY_PCT}% of a core)"
  log "run $variant"
  rc=0
  timeout $((LIMIT * (6 + 2 * REPS) + 30)) nice "${!bin}" --bulk-mib "$BULK_MIB" --rounds "$ROUNDS" --reps "$REPS" \
    --limit "$LIMIT" >"$RUN/$variant.tsv" 2>"$RUN/$variant.log" {LK}>&- || rc=$?
  drop_lock
  if ((rc != 0)); then
    FAILED=1
    note "$variant: exit status $rc; $(grep -c '^failed' "$RUN/$variant.tsv") failed case(s):"
    grep '^failed' "$RUN/$variant.tsv" | tee -a "$NOTES" >&2
    tail -5 "$RUN/$variant.log" | tee -a "$NOTES" >&2
  fi
done

SUMMARY=$RUN/summary.md
{
  echo "### lwIP: Debian's liblwip-dev vs coral's source build ($(date -u '+%Y-%m-%d %H:%M UTC'))"
  echo
  awk -F'\t' -v bulk="$BULK_MIB" -v rounds="$ROUNDS" -v reps="$REPS" '
    FNR == 1 { v = (FILENAME ~ /packaged/) ? "p" : "s" }
    { val[v, $1] = $2 }
    function row(label, key, unit,  p, s, r) {
      p = ((("p", key) in val) ? val["p", key] : "failed")
      s = ((("s", key) in val) ? val["s", key] : "failed")
      r = (p + 0 > 0 && s != "failed" && p != "failed") ? sprintf("%.2f", s / p) : "–"
      printf "| %s | %s | %s | %s |\n", label, p unit, s unit, r
    }
    END {
      print "| measure | packaged (liblwip-dev) | source (coral_lwip) | source / packaged |"
      print "| --- | ---: | ---: | ---: |"
      row("bulk " bulk " MiB, one-way delay 0", "bulk_mbps_0ms", " Mbit/s")
      row("bulk " bulk " MiB, one-way delay 0.5 ms", "bulk_mbps_0.5ms", " Mbit/s")
      row("bulk " bulk " MiB, one-way delay 2 ms", "bulk_mbps_2ms", " Mbit/s")
      row("bulk, CPU (all threads) per MiB, delay 0", "bulk_cpu_ms_per_mib_0ms", " ms")
      row("bulk, CPU per MiB, delay 0.5 ms", "bulk_cpu_ms_per_mib_0.5ms", " ms")
      row("bulk, CPU per MiB, delay 2 ms", "bulk_cpu_ms_per_mib_2ms", " ms")
      row("1-byte request/response, 0.1 ms: p50", "rr_p50_us", " µs")
      row("1-byte request/response, 0.1 ms: p99", "rr_p99_us", " µs")
      row("1 MiB in 16 bursts, 0.5 ms, no loss (median of " reps ")", "loss_ms_without", " ms")
      row("same, last segment of burst 8 lost", "loss_ms_with", " ms")
      row("cost of that loss", "loss_penalty_ms", " ms")
      print ""
      printf "Loss runs (ms): packaged %s; source %s. Configurations: packaged `%s`; source `%s`.\n",
        val["p", "loss_ms_with_runs"], val["s", "loss_ms_with_runs"], val["p", "config"], val["s", "config"]
    }' "$RUN/source.tsv" "$RUN/packaged.tsv"
  notes_section
} >"$SUMMARY"
echo
cat "$SUMMARY"
echo
echo "results: $RUN"
exit "$FAILED"
