#!/usr/bin/env bash
# bench/wireguard.sh: throughput, latency and CPU cost of coral's userspace
# WireGuard (`coral wg up`) against Debian's wireguard-go, in the same run and
# the same two-namespace setup as tests/e2e/wireguard_test.sh (whose
# tests/e2e/wg_lib.sh it shares), plus the bare veth underneath and the
# one-core ChaCha20-Poly1305 ceiling. Prints a markdown table with ratios and
# the goal "coral↔coral ≥ 3× wireguard-go↔wireguard-go". Run with --help for
# the knobs; root only. Traffic stays in the two namespaces it creates (no
# default route), which are deleted on exit; every process is stopped by PID.
set -uo pipefail

usage() {
  cat <<'EOF'
usage: sudo bench/wireguard.sh [--help]

Two network namespaces (cwbA<pid>, cwbB<pid>) joined by a veth
(192.168.251.1/24 <-> .2/24), a WireGuard peer in each (mesh 10.42.0.1/16,
fd42::1/64 <-> .2, ::2; MTU 1420; UDP 51820/51821), iperf3 -s in B, every
client in A (data flows A -> B). Configurations, interleaved within each
repetition, each with freshly started peers:
  veth         no WireGuard: the floor underneath
  wggo-wggo    wireguard-go <-> wireguard-go (Debian, WG_PROCESS_FOREGROUND=1)
  coral-wggo   coral wg up (A) <-> wireguard-go (B)
  coral-coral  coral wg up <-> coral wg up
Cases per configuration and family: iperf3 TCP -P 1 and -P 4 for DURATION s
(receiver's Mbit/s, sender's retransmits), ping RTT (PINGS pings, -i 0.01).
During every run: CPU time (utime+stime, /proc/PID/stat) of both WireGuard
processes -> cores used and Mbit/s per core; UDP receive-buffer drops in B.
Crypto ceiling (REPS times, one core, taskset -c CRYPTO_CPU):
  openssl speed -mr -aead -evp chacha20-poly1305 -bytes 1420 -seconds CRYPTO_SECS
and, when the binary exists, coral's WireGuard micro-benchmark (WG_CORE_BENCH,
run as `taskset -c CRYPTO_CPU $WG_CORE_BENCH --seconds CRYPTO_SECS`; it prints
one "<metric> <value> <unit>" line per figure, e.g. "seal_1420 1402.5 MB/s",
"open_1420 1390.0 MB/s", "handshakes 5100 1/s"; each is tabled as printed).

Environment knobs (defaults in brackets):
  DURATION     seconds per iperf3 run [10]
  REPS         repetitions; tables show the median [3]
  PINGS        pings per RTT run [100]
  FAMILIES     mesh address families to measure: "4", "6" or "4 6" [4]
  CONFIGS      which configurations [veth wggo-wggo coral-wggo coral-coral]
  CRYPTO_SECS  seconds per crypto run [3]
  CRYPTO_CPU   the core for the crypto runs [1]
  SKIP_BUILD   1: build and install nothing, use what is there [0]
  BUILD_DIR    where apps/coral is [build/release]
  CORAL_BIN    the coral binary [BUILD_DIR/apps/coral]
  WG_CORE_BENCH  coral's micro-benchmark [BUILD_DIR/bench/coral-wireguard-bench]
EOF
  usage_lock_knobs
  cat <<'EOF'

Goal (printed as MET / NOT MET; it does not change the exit status):
  coral<->coral TCP 1 stream (IPv4) >= 3x wireguard-go<->wireguard-go, same run
Without `coral wg up` the coral configurations are left out and the goal
reads NOT MEASURED.

Quick check of the script: DURATION=2 REPS=1 PINGS=20 CRYPTO_SECS=1 bench/wireguard.sh
Results go to build/bench/<UTC stamp>-wireguard/ (summary.md, runs.tsv,
env.txt, iperf3 JSON, ping and crypto output, peer logs). Exit status: 0 if
every run succeeded, 1 if any failed, 2 on bad usage or setup.
EOF
}

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" # and tests/e2e/lib.sh (e2e_wait, stop_pid, for wg_lib.sh)
# shellcheck source=tests/e2e/wg_lib.sh
source "$BENCH_DIR/../tests/e2e/wg_lib.sh"
bench_setup "$@"
((EUID == 0)) || die "needs root (network namespaces, TUN devices): sudo $0"

defaults DURATION=10 REPS=3 PINGS=100 FAMILIES=4 "CONFIGS=veth wggo-wggo coral-wggo coral-coral" CRYPTO_SECS=3 CRYPTO_CPU=1
uint_knobs DURATION REPS PINGS CRYPTO_SECS CRYPTO_CPU
((DURATION >= 1 && REPS >= 1 && PINGS >= 1 && CRYPTO_SECS >= 1)) || die "DURATION, REPS, PINGS and CRYPTO_SECS must be >= 1"
for f in $FAMILIES; do [[ $f == 4 || $f == 6 ]] || die "FAMILIES: 4 and/or 6 (got '$FAMILIES')"; done
for c in $CONFIGS; do [[ $c == @(veth|wggo-wggo|coral-wggo|coral-coral) ]] || die "CONFIGS: unknown '$c'"; done
((CRYPTO_CPU < $(nproc))) || die "CRYPTO_CPU=$CRYPTO_CPU, but there are $(nproc) CPUs"
BUILD_DIR=$(cd "$BUILD_DIR" 2>/dev/null && pwd || echo "$BUILD_DIR")
CORAL=${CORAL_BIN:-$BUILD_DIR/apps/coral}
WG_CORE_BENCH=${WG_CORE_BENCH:-$BUILD_DIR/bench/coral-wireguard-bench}

bench_run_dir wireguard
umask 077

# ------------------------------------------------------------------ processes
# wg_lib.sh records every peer and helper it starts; cleanup stops them by
# PID and deletes the namespaces, however the script ends.
IPERF_PID=
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  [[ -n $IPERF_PID ]] && stop_pid "$IPERF_PID"
  wg_cleanup
}
bench_traps cleanup

# ---------------------------------------------------------------- 1. prepare
log "prepare (results: $RUN)"
need_tool wireguard-go wireguard-go
need_tool wg wireguard-tools
need_tool iperf3 iperf3
need_tool ping iputils-ping
need_tool jq jq
need_tool openssl openssl
# --no-install-recommends: wireguard-tools recommends a whole kernel image.
install_needed --no-install-recommends
[[ -c /dev/net/tun ]] || die "no /dev/net/tun"
command -v taskset >/dev/null || die "taskset is needed (util-linux)"

if [[ $SKIP_BUILD != 1 && -z ${CORAL_BIN:-} ]]; then
  build_targets "$RUN/build-coral.log" coral coral-wireguard-bench
fi
HAVE_CORAL=0
if [[ -x $CORAL ]] && wg_has_coral "$CORAL"; then HAVE_CORAL=1; fi
HAVE_CORE_BENCH=0
[[ -x $WG_CORE_BENCH ]] && HAVE_CORE_BENCH=1

CLK_TCK=$(getconf CLK_TCK)
NOTES=$RUN/notes.txt
: >"$NOTES"
((HAVE_CORAL)) || note "coral: $CORAL has no 'coral wg up': the coral configurations are left out"
((HAVE_CORE_BENCH)) || note "coral's WireGuard micro-benchmark $WG_CORE_BENCH does not exist: left out (set WG_CORE_BENCH)"
{
  env_common load
  echo "coral: $CORAL$( ((HAVE_CORAL)) || echo " (no 'coral wg up')"), tree $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src apps 2>/dev/null && [[ -z $(git ls-files --others --exclude-standard src apps) ]] || echo ' + uncommitted changes in src/ or apps/')"
  echo "wireguard-go $(dpkg-query -W -f='${Version}' wireguard-go 2>/dev/null), wireguard-tools $(dpkg-query -W -f='${Version}' wireguard-tools 2>/dev/null), $(iperf3 --version | head -1 | awk '{print $1, $2}'), $(openssl version | awk '{print $1, $2}')"
  echo "knobs: DURATION=$DURATION REPS=$REPS PINGS=$PINGS FAMILIES='$FAMILIES' CONFIGS='$CONFIGS' CRYPTO_SECS=$CRYPTO_SECS CRYPTO_CPU=$CRYPTO_CPU QUIET_PCT=$QUIET_PCT, CLK_TCK=$CLK_TCK"
} >"$RUN/env.txt"
cat "$RUN/env.txt" >&2

mkdir -p "$RUN/peers"
wg_init "$RUN/peers" cwb "$CORAL" || die "wg genkey failed"
wg_net_up || die "$WG_WHY"
log "namespaces ${WG_NS[A]} and ${WG_NS[B]} are up"

start_iperf_server() {
  [[ -n $IPERF_PID ]] && stop_pid "$IPERF_PID"
  ip netns exec "${WG_NS[B]}" iperf3 -s -p 5201 </dev/null >>"$RUN/iperf3-server.log" 2>&1 &
  IPERF_PID=$!
  local i
  for ((i = 0; i < 50; i++)); do
    ip netns exec "${WG_NS[B]}" ss -Hltn 'sport = :5201' 2>/dev/null | grep -q . && return 0
    sleep 0.1
  done
  return 1
}
start_iperf_server || die "iperf3 -s did not listen in ${WG_NS[B]}"

# ------------------------------------------------------------------ 2. runs
RAW=$RUN/runs.tsv
printf 'config\tfamily\tcase\trep\tok\tvalue\tunit\tretransmits_or_rtt_range\twg_cores\tudp_rcvbuf_drops_B\tother_pct\twait_s\tnote\n' >"$RAW"
FAILS=0

udp_drops_b() { # UDP receive-buffer drops (IPv4 + IPv6 sockets) in B's namespace
  ip netns exec "${WG_NS[B]}" cat /proc/net/snmp /proc/net/snmp6 2>/dev/null |
    awk '$1 == "Udp:" && $2 ~ /^[0-9]+$/ { s += $6 } $1 == "Udp6RcvbufErrors" { s += $2 } END { print s + 0 }'
}
wg_ticks() { # CPU ticks of the running WireGuard peers together (0 when none)
  local t=0 s v
  for s in A B; do
    [[ -n ${WG_PID[$s]:-} ]] || continue
    v=$(cpu_ticks "${WG_PID[$s]}")
    ((v >= 0)) && t=$((t + v))
  done
  echo "$t"
}

# measure CONFIG FAMILY CASE REP: one run under the lock, after the quiet
# wait; appends a row to RAW.
measure() {
  local cfg=$1 fam=$2 c=$3 rep=$4 out t0 waited w0 w1 b0 b1 k0 k1 d0 d1 dst why="" busy_note=""
  local value="" unit="" retr="" cores="" other="" own_pct=0 rc
  if [[ $cfg == veth ]]; then dst=${WG_VIP[B]}; elif [[ $fam == 4 ]]; then dst=${WG_M4[B]}; else dst=${WG_M6[B]}; fi
  out=$RUN/$cfg-ip$fam-$c-$rep
  t0=$SECONDS
  take_lock wg_fg
  if ! wait_quiet; then
    busy_note="machine busy (${BUSY_PCT}% of a core) after waiting ${QUIET_WAIT}s; "
    note "$cfg IPv$fam $c rep $rep: started although the machine was busy (${BUSY_PCT}% of a core)"
  fi
  waited=$((SECONDS - t0))
  w0=$(now_us); b0=$(busy_ticks); k0=$(wg_ticks); d0=$(udp_drops_b)
  case $c in
    tcp*)
      wg_fg ip netns exec "${WG_NS[A]}" timeout $((DURATION + 30)) iperf3 -c "$dst" -p 5201 -t "$DURATION" -P "${c#tcp}" -J \
        --connect-timeout 5000 >"$out.json" 2>&1 {LK}>&-
      rc=$?
      ;;
    ping)
      wg_fg ip netns exec "${WG_NS[A]}" timeout $((PINGS / 50 + 30)) ping -n -q -c "$PINGS" -i 0.01 -W 2 "$dst" >"$out.txt" 2>&1 {LK}>&-
      rc=$?
      ;;
  esac
  w1=$(now_us); b1=$(busy_ticks); k1=$(wg_ticks); d1=$(udp_drops_b)
  drop_lock

  local wall_s
  wall_s=$(awk -v a="$w0" -v b="$w1" 'BEGIN { printf "%.3f", (b - a) / 1e6 }')
  [[ $cfg == veth ]] || cores=$(awk -v t="$((k1 - k0))" -v hz="$CLK_TCK" -v s="$wall_s" 'BEGIN { printf "%.2f", t / hz / s }')
  case $c in
    tcp*)
      local err
      err=$(jq -r '.error // empty' "$out.json" 2>/dev/null)
      value=$(jq -r '.end.sum_received.bits_per_second // empty' "$out.json" 2>/dev/null)
      retr=$(jq -r '.end.sum_sent.retransmits // empty' "$out.json" 2>/dev/null)
      # iperf3's own CPU (client + server), % of one core: not "other" load
      own_pct=$(jq -r '((.end.cpu_utilization_percent.host_total // 0) + (.end.cpu_utilization_percent.remote_total // 0)) | floor' "$out.json" 2>/dev/null)
      unit=Mbit/s
      ((rc == 0)) || why+="iperf3 exit status $rc${err:+: $err}; "
      if [[ -n $value ]]; then value=$(awk -v v="$value" 'BEGIN { printf "%.0f", v / 1e6 }')
      else why+="no iperf3 result; "
      fi
      [[ -n $err ]] && start_iperf_server
      ;;
    ping)
      local line loss
      line=$(sed -n 's|^rtt min/avg/max/mdev = \([0-9.]*\)/\([0-9.]*\)/\([0-9.]*\)/.*|\1 \2 \3|p' "$out.txt")
      loss=$(sed -n 's/.* \([0-9.]*\)% packet loss.*/\1/p' "$out.txt")
      unit=ms
      if [[ -n $line ]]; then
        read -r _ value _ <<<"$line"
        retr=$(awk '{print "min " $1 " max " $3}' <<<"$line")
      else why+="no ping statistics (exit status $rc); "
      fi
      [[ -z $loss || $loss == 0 ]] || why+="${loss}% loss; "
      ;;
  esac
  # everything else on the machine, % of one core: busy minus WireGuard and iperf3
  other=$(awk -v b="$((b1 - b0 - (k1 - k0)))" -v hz="$CLK_TCK" -v s="$wall_s" -v own="${own_pct:-0}" \
    'BEGIN { v = b / hz / s * 100 - own; printf "%.0f", (v < 0 ? 0 : v) }')
  if [[ $cfg != veth ]]; then
    local s
    for s in A B; do [[ -n ${WG_PID[$s]:-} ]] && ! wg_alive "$s" && why+="the peer of side $s died; "; done
  fi
  local ok=1
  [[ -n $why ]] && { ok=0; FAILS=$((FAILS + 1)); note "$cfg IPv$fam $c rep $rep FAILED: $why(output: $out.*)"; }
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$cfg" "$fam" "$c" "$rep" "$ok" "$value" "$unit" "$retr" \
    "$cores" "$((d1 - d0))" "$other" "$waited" "${why}${busy_note}" >>"$RAW"
  printf '%-12s IPv%s %-5s rep %s: %8s %-6s retr/rtt %-20s wg cores %5s  B udp drops %6s  other %3s%%%s\n' \
    "$cfg" "$fam" "$c" "$rep" "${value:--}" "$unit" "${retr:--}" "${cores:--}" "$((d1 - d0))" "$other" "${why:+  FAILED: $why}" >&2
}

# start_config CONFIG: fresh peers, then a few unrecorded pings (handshake).
start_config() {
  local cfg=$1 a b
  [[ $cfg == veth ]] && return 0
  a=${cfg%-*} b=${cfg#*-}
  wg_start A "$a" || { note "$cfg: side A ($a) did not start: $WG_WHY"; return 1; }
  wg_start B "$b" || { note "$cfg: side B ($b) did not start: $WG_WHY"; wg_stop A; return 1; }
  ip netns exec "${WG_NS[A]}" ping -n -q -c 3 -i 0.2 -W 5 "${WG_M4[B]}" >/dev/null 2>&1 ||
    { note "$cfg: no ping over the tunnel after the start"; wg_stop A; wg_stop B; return 1; }
}
stop_config() { wg_stop A; wg_stop B; return 0; }

CASES=(tcp1 tcp4 ping)
active=()
for c in $CONFIGS; do
  if [[ $c == coral-* ]] && ((!HAVE_CORAL)); then continue; fi
  active+=("$c")
done
log "runs: ${#active[@]} configurations x families '$FAMILIES' x ${#CASES[@]} cases x $REPS reps (iperf3 ${DURATION}s, $PINGS pings), interleaved"
for ((rep = 1; rep <= REPS; rep++)); do
  for cfg in "${active[@]}"; do
    if ! start_config "$cfg"; then
      FAILS=$((FAILS + 1))
      printf '%s\t\tstart\t%s\t0\t\t\t\t\t\t\t\t%s\n' "$cfg" "$rep" "peers did not start" >>"$RAW"
      continue
    fi
    fams=$FAMILIES
    [[ $cfg == veth ]] && fams=4
    for fam in $fams; do
      for c in "${CASES[@]}"; do measure "$cfg" "$fam" "$c" "$rep"; done
    done
    stop_config
  done
done

# ------------------------------------------------------------------ 3. crypto
CRYPTO=$RUN/crypto.tsv
printf 'name\trep\tvalue\tunit\tother_pct\n' >"$CRYPTO"
crypto_run() { # crypto_run NAME REP CMD...: one single-core run under the lock
  local name=$1 rep=$2 out b0 b1 w0 w1
  shift 2
  out=$RUN/crypto-$name-$rep.txt
  take_lock wg_fg
  wait_quiet || note "crypto $name rep $rep: started although the machine was busy (${BUSY_PCT}% of a core)"
  w0=$(now_us); b0=$(busy_ticks)
  wg_fg timeout $((CRYPTO_SECS * 10 + 60)) taskset -c "$CRYPTO_CPU" "$@" >"$out" 2>"$out.err" {LK}>&-
  local rc=$?
  w1=$(now_us); b1=$(busy_ticks)
  drop_lock
  # the benchmark itself keeps one core busy: other = busy - 100 %
  local other
  other=$(awk -v b="$((b1 - b0))" -v hz="$CLK_TCK" -v w="$((w1 - w0))" 'BEGIN { v = b / hz / (w / 1e6) * 100 - 100; printf "%.0f", (v < 0 ? 0 : v) }')
  ((rc == 0)) || { FAILS=$((FAILS + 1)); note "crypto $name rep $rep: exit status $rc ($(head -c 300 "$out.err"))"; }
  case $name in
    openssl-aead)
      awk -F: -v o="$other" -v r="$rep" '/^\+F:/ { printf "openssl-aead-seal-1420\t%s\t%.0f\tMB/s\t%s\n", r, $4 / 1e6, o }' "$out" >>"$CRYPTO"
      ;;
    core)
      awk -v o="$other" -v r="$rep" 'NF >= 2 && $2 ~ /^[0-9.eE+-]+$/ { printf "core-%s\t%s\t%s\t%s\t%s\n", $1, r, $2, $3, o }' "$out" >>"$CRYPTO"
      ;;
  esac
}
log "crypto ceiling: $REPS x openssl speed -aead ($CRYPTO_SECS s, cpu $CRYPTO_CPU)$( ((HAVE_CORE_BENCH)) && echo ", $REPS x $WG_CORE_BENCH")"
for ((rep = 1; rep <= REPS; rep++)); do
  crypto_run openssl-aead "$rep" openssl speed -mr -aead -evp chacha20-poly1305 -bytes 1420 -seconds "$CRYPTO_SECS"
  ((HAVE_CORE_BENCH)) && crypto_run core "$rep" "$WG_CORE_BENCH" --seconds "$CRYPTO_SECS"
done

# ----------------------------------------------------------------- 4. summary
SUMMARY=$RUN/summary.md
summarize() {
  awk -F'\t' -v fams="$FAMILIES" -v have_coral="$HAVE_CORAL" -v crypto="$CRYPTO" "$AWK_STATS"'
    function pct(r) { return r == "" ? "–" : sprintf("%.1f%%", r * 100) }
    function verdict(ok, have) { return have ? (ok ? "MET" : "NOT MET") : "NOT MEASURED" }
    FNR == 1 { next }
    FILENAME == crypto { add(cv, $1, $3); cu[$1] = $4; if (!($1 in corder)) { corder[$1] = ++ncr; cname[ncr] = $1 }; next }
    {
      k = $1 SUBSEP $2 SUBSEP $3
      add(all, k, $5 ? $6 : "failed")
      if (!$5) { failed[k]++; next }
      add(val, k, $6); add(cores, k, $9); add(drops, k, $10)
      if ($8 ~ /^[0-9]+$/) add(retr, k, $8)
      if ($11 + 0 > othmax) othmax = $11 + 0
      if ($11 + 0 > 15) nbusy++
      nruns++
    }
    END {
      ncf = split("wggo-wggo coral-wggo coral-coral veth", cf, " ")
      label["wggo-wggo"] = "wggo↔wggo"; label["coral-wggo"] = "coral↔wggo"; label["coral-coral"] = "coral↔coral"; label["veth"] = "bare veth"
      nf = split(fams, fl, " ")
      for (i = 1; i <= nf; i++) {
        f = fl[i]
        printf "### IPv%s (veth: IPv4)\n\n", f
        print "| metric | wggo↔wggo | coral↔wggo | coral↔coral | bare veth | coral↔coral / wggo↔wggo | coral↔wggo / wggo↔wggo |"
        print "|---|---:|---:|---:|---:|---:|---:|"
        split("tcp1 tcp4 ping", cs, " ")
        for (j = 1; j <= 3; j++) {
          c = cs[j]
          for (m = 1; m <= ncf; m++) {
            ff = (cf[m] == "veth") ? 4 : f
            k = cf[m] SUBSEP ff SUBSEP c
            M[cf[m], c] = med(val[k]); C[cf[m], c] = med(cores[k]); R[cf[m], c] = med(retr[k]); D[cf[m], c] = med(drops[k])
            A[cf[m], c] = all[k]; F[cf[m], c] = failed[k] + 0
          }
          if (c == "ping") {
            row = "| ping RTT avg, ms (" "median" ")"
            for (m = 1; m <= ncf; m++) row = row " | " fmt(M[cf[m], c], 3)
            row = row " | " fmt(ratio(M["coral-coral", c], M["wggo-wggo", c]), 2, "×") " | " fmt(ratio(M["coral-wggo", c], M["wggo-wggo", c]), 2, "×") " |"
            print row
            continue
          }
          n = substr(c, 4)
          row = "| TCP " n " stream" (n > 1 ? "s" : "") ", Mbit/s (median)"
          for (m = 1; m <= ncf; m++) row = row " | **" fmt(M[cf[m], c], 0) "**"
          row = row " | **" fmt(ratio(M["coral-coral", c], M["wggo-wggo", c]), 2, "×") "** | " fmt(ratio(M["coral-wggo", c], M["wggo-wggo", c]), 2, "×") " |"
          print row
          row = "| ↳ all reps"
          for (m = 1; m <= ncf; m++) { a = A[cf[m], c]; gsub(/ /, ", ", a); row = row " | " (a == "" ? "–" : a) }
          print row " | | |"
          row = "| ↳ WireGuard CPU, cores (both peers)"
          for (m = 1; m <= ncf; m++) row = row " | " (cf[m] == "veth" ? "–" : fmt(C[cf[m], c], 2))
          print row " | | |"
          row = "| ↳ Mbit/s per WireGuard core"
          for (m = 1; m <= ncf; m++) { pc[m] = ratio(M[cf[m], c], C[cf[m], c]); row = row " | " (cf[m] == "veth" ? "–" : fmt(pc[m], 0)) }
          row = row " | " fmt(ratio(pc[3], pc[1]), 2, "×") " | " fmt(ratio(pc[2], pc[1]), 2, "×") " |"
          print row
          row = "| ↳ TCP retransmits (median)"
          for (m = 1; m <= ncf; m++) row = row " | " fmt(R[cf[m], c], 0)
          print row " | | |"
          row = "| ↳ UDP receive-buffer drops in B (median)"
          for (m = 1; m <= ncf; m++) row = row " | " (cf[m] == "veth" ? "–" : fmt(D[cf[m], c], 0))
          print row " | | |"
          if (f == 4 && c == "tcp1") { g1 = ratio(M["coral-coral", c], M["wggo-wggo", c]); for (m = 1; m <= ncf; m++) M4[cf[m]] = M[cf[m], c] }
          if (f == 4 && c == "tcp4") { g4 = ratio(M["coral-coral", c], M["wggo-wggo", c]) }
        }
        print ""
      }
      print "### Crypto ceiling (one core)"
      print ""
      print "| metric | median | all reps |"
      print "|---|---:|---|"
      for (i = 1; i <= ncr; i++) {
        n = cname[i]; a = cv[n]; gsub(/ /, ", ", a)
        printf "| %s, %s | %s | %s |\n", n, cu[n], med(cv[n]), a
      }
      seal = med(cv["openssl-aead-seal-1420"])
      if (seal != "") {
        printf "\nStreaming ceiling (openssl speed: one endless message, no per-packet nonce or tag) = %.0f Mbit/s on one core; wggo↔wggo TCP 1 stream (IPv4) is %s of it, coral↔coral %s.\n",
          seal * 8, pct(ratio(M4["wggo-wggo"], seal * 8)), pct(ratio(M4["coral-coral"], seal * 8))
      }
      print ""
      print "### Goal"
      print ""
      printf "- coral↔coral / wireguard-go↔wireguard-go, TCP IPv4, same run: 1 stream %s, 4 streams %s%s\n",
        fmt(g1, 2, "×"), fmt(g4, 2, "×"), (have_coral ? "" : " (no `coral wg up` in this build)")
      printf "- **coral↔coral ≥ 3× wireguard-go↔wireguard-go (TCP 1 stream): %s**\n", verdict(g1 >= 3, g1 != "")
      print ""
      printf "Other processes used at most %d%% of one core during a run (beyond WireGuard and iperf3)%s.\n", othmax,
        (nbusy ? sprintf("; %d run(s) had more than 15%% (rerun when the machine is quiet)", nbusy) : "")
    }' "$CRYPTO" "$RAW"
}
{
  echo "## coral WireGuard benchmark, $STAMP"
  echo
  sed 's/^/    /' "$RUN/env.txt"
  echo "    load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  echo "Two network namespaces joined by a veth; iperf3 client in A, server in B (data A → B), ${DURATION} s per run,"
  echo "median of $REPS reps, configurations interleaved, fresh peers per configuration and rep; Mbit/s = receiver's;"
  echo "WireGuard CPU = utime+stime of both peer processes over the run / wall time (2.0 = both cores of a 2-CPU VM)."
  echo
  summarize
  notes_section
} >"$SUMMARY"
echo
cat "$SUMMARY"
echo
echo "results: $RUN ($(tail -n +2 "$RAW" | wc -l) runs, $FAILS failed)"
exit $((FAILS > 0))
