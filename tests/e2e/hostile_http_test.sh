#!/usr/bin/env bash
# Black-box test: coral's servers under a few hostile connections (issue 16
# §3). A real `coral colony start` and coral-discovery on loopback, attacked
# by the Python clients in tests/e2e/tools (python3-h2):
#   1. zero window: 2 HTTP/2 connections × 256 ListAgents streams that never
#      grant flow-control credit; the colony's memory stays bounded and a
#      normal GetStatus is answered meanwhile;
#   2. slowloris: thousands of half-sent request heads against discovery;
#      those over --max-connections are closed at once, a normal request is
#      answered meanwhile, and memory returns near its baseline after;
#   3. a request head sent one byte at a time is closed at the head deadline;
#      a body trickled so (its head complete) once the body-rate grace is over.
# usage: hostile_http_test.sh CORAL CORAL-DISCOVERY
# Environment: E2E_KEEP=1 keeps the work directory; AGENTS (3000) sets how
# many agents ListAgents returns; FLOOD (3000) the slowloris connections.
set -u
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$root/tests/e2e/lib.sh"
CORAL=$(readlink -f "${1:-$root/build/release/apps/coral}")
DISC=$(readlink -f "${2:-$(dirname "$CORAL")/coral-discovery}")
TOOLS=$root/tests/e2e/tools
AGENTS=${AGENTS:-3000}
FLOOD=${FLOOD:-3000}
CAP=500

for b in "$CORAL" "$DISC"; do
  [[ -x $b ]] || { echo "FAIL setup: $b is not an executable (scripts/build release coral coral-discovery)"; exit 1; }
done
e2e_need curl jq
"$PY" -c 'import h2' 2>/dev/null || { echo "SKIP: python3-h2 is not installed (scripts/setup --test)"; exit 77; }
# The flood needs a descriptor per connection, and some room.
if (($(ulimit -n) < FLOOD + 512)); then
  ulimit -n $((FLOOD + 512)) 2>/dev/null || { echo "SKIP: cannot raise ulimit -n to $((FLOOD + 512))"; exit 77; }
fi

e2e_init
export CORAL_CONFIG_DIR=$E2E_WORK/config

# sample_peak PID SECONDS FILE: the highest RSS (kB) seen every 0.2 s, into FILE.
sample_peak() {
  local pid=$1 seconds=$2 file=$3 peak=0 now i
  for ((i = 0; i < seconds * 5; i++)); do
    now=$(rss_kb "$pid")
    ((now > peak)) && peak=$now
    sleep 0.2
  done
  echo "$peak" >"$file"
}
# ok_call URL JSON: true when a Connect JSON call answers 200 within 5 s.
ok_call() {
  [[ $(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary "$2" "$1" 2>/dev/null) == 200 ]]
}

# ------------------------------------------------------------------ servers
disc_flags=(--max-connections "$CAP" --request-head-timeout 2s)
"$DISC" --help 2>/dev/null | grep -q -- --body-rate-grace && disc_flags+=(--body-rate-grace 2s)
if ! "$DISC" --help 2>/dev/null | grep -q -- --max-connections; then
  # A build from before these flags (to show that the checks fail on it).
  echo "note: $DISC has no --max-connections / --request-head-timeout; started without them"
  disc_flags=()
fi
if ! e2e_start_server disc "$DISC" --listen 127.0.0.1:0 "${disc_flags[@]}" 2>"$E2E_WORK/start.err"; then
  e2e_fail "start coral-discovery" "$(cat "$E2E_WORK/start.err")"
  e2e_summary
  exit 1
fi
DPORT=$E2E_PORT
DISC_PID=${E2E_PIDS[disc]}
HEALTH=http://127.0.0.1:$DPORT/coral.discovery.v1.DiscoveryService/Health

CPORT=$(e2e_free_port)
ID=e2e-hostile
if ! timeout 30 "$CORAL" init --app shop --env e2e --colony-id "$ID" --mesh-ipv4-net 127.42.0.0/16 \
  --discovery "http://127.0.0.1:$DPORT" --connect-port "$CPORT" >"$E2E_WORK/init.out" 2>&1; then
  e2e_fail "coral init" "$(cat "$E2E_WORK/init.out")"
  e2e_summary
  exit 1
fi
YAML=$CORAL_CONFIG_DIR/colonies/$ID.yaml
e2e_start colony "$CORAL" colony start "$ID"
COLONY=http://127.42.0.1:$CPORT/coral.colony.v1.ColonyService
if ! e2e_wait 15 ok_call "$COLONY/GetStatus" '{}'; then
  e2e_fail "colony start" "GetStatus not answered: $(cat "$E2E_WORK/colony.log")"
  e2e_summary
  exit 1
fi
COLONY_PID=${E2E_PIDS[colony]}

# ============================================== 1. zero window, 512 streams
reg=$(timeout 120 "$PY" "$TOOLS/h2_hostile.py" register 127.42.0.1 "$CPORT" "$YAML" --count "$AGENTS" --seconds 100)
e2e_result "setup: $AGENTS agents registered (ListAgents answers are large)" \
  "$([[ $reg == "registered=$AGENTS failed=0" ]] || echo "$reg")"
ok_call "$COLONY/ListAgents" '{}' # warm up allocations the first answer makes
base=$(rss_kb "$COLONY_PID")
sample_peak "$COLONY_PID" 10 "$E2E_WORK/zw.peak" &
sampler=$!
timeout 30 "$PY" "$TOOLS/h2_hostile.py" zero-window 127.42.0.1 "$CPORT" \
  /coral.colony.v1.ColonyService/ListAgents --connections 2 --streams 256 --seconds 9 >"$E2E_WORK/zw.out" 2>&1 &
attacker=$!
sleep 3
status_ok=no
ok_call "$COLONY/GetStatus" '{}' && status_ok=yes
list_ok=no
ok_call "$COLONY/ListAgents" '{}' && list_ok=yes
wait "$attacker"
wait "$sampler"
peak=$(cat "$E2E_WORK/zw.peak")
grown=$(((peak - base) / 1024))
echo "     colony RSS: ${base} kB before, ${peak} kB peak under attack (+${grown} MB); $(cat "$E2E_WORK/zw.out")"
e2e_result "zero window × 512 ListAgents streams: colony RSS grows < 64 MB (+$grown MB)" \
  "$( ((grown < 64)) || echo "RSS ${base} kB -> ${peak} kB")"
e2e_result "zero window: GetStatus and ListAgents of a normal client answered during the attack" \
  "$([[ $status_ok == yes && $list_ok == yes ]] || echo "GetStatus: $status_ok, ListAgents: $list_ok")"
e2e_result "zero window: the colony still serves after the attack" \
  "$(ok_call "$COLONY/GetStatus" '{}' || echo "GetStatus failed")"

# ====================================================== 2. slowloris flood
ok_call "$HEALTH" '{}'
base=$(rss_kb "$DISC_PID")
rm -f "$E2E_WORK/flood.ready"
timeout 40 "$PY" "$TOOLS/slowloris.py" flood 127.0.0.1 "$DPORT" --connections "$FLOOD" --seconds 8 \
  --ready "$E2E_WORK/flood.ready" >"$E2E_WORK/flood.out" 2>&1 &
attacker=$!
e2e_wait 20 test -f "$E2E_WORK/flood.ready"
sleep 0.5
during=$(rss_kb "$DISC_PID")
health_ok=no
ok_call "$HEALTH" '{}' && health_ok=yes
wait "$attacker"
flood=$(cat "$E2E_WORK/flood.out")
closed_early=$(sed -n 's/.*closed_early=\([0-9]*\).*/\1/p' <<<"$flood")
e2e_result "slowloris × $FLOOD: a normal Health call is answered during the flood" \
  "$([[ $health_ok == yes ]] || echo "Health failed; $flood")"
e2e_result "slowloris: connections over --max-connections $CAP are closed at once (the longest-waiting first)" \
  "$( ((${closed_early:-0} >= FLOOD - CAP - 100)) || echo "$flood")"
warnings=$(grep -c 'too many connections' "$E2E_WORK/disc.log")
e2e_result "slowloris: refusals logged as a rate-limited warning (1-2 lines, not one per connection)" \
  "$( ((warnings >= 1 && warnings <= 2)) || echo "$warnings warning lines")"
sleep 2 # the server trims its heap once the burst of closes is over
after=$(rss_kb "$DISC_PID")
echo "     discovery RSS: ${base} kB before, ${during} kB during, ${after} kB after; $flood"
e2e_result "slowloris: discovery RSS back within 16 MB of its baseline after the flood" \
  "$( (((after - base) / 1024 < 16)) || echo "RSS ${base} kB -> ${during} kB -> ${after} kB")"

# ================================================ 3. one byte at a time
trickle=$(timeout 30 "$PY" "$TOOLS/slowloris.py" trickle 127.0.0.1 "$DPORT" --interval 0.5 --seconds 10)
secs=$(sed -n 's/^closed_after=\([0-9]*\).*/\1/p' <<<"$trickle")
e2e_result "a head trickled one byte every 0.5 s is closed at the 2 s head deadline" \
  "$([[ -n $secs ]] && ((secs <= 4)) || echo "$trickle")"
trickle=$(timeout 30 "$PY" "$TOOLS/slowloris.py" trickle 127.0.0.1 "$DPORT" --body --interval 0.5 --seconds 10)
secs=$(sed -n 's/^closed_after=\([0-9]*\).*/\1/p' <<<"$trickle")
e2e_result "a body trickled one byte every 0.5 s (head complete) is closed after the 2 s body-rate grace" \
  "$([[ -n $secs ]] && ((secs <= 5)) || echo "$trickle")"
e2e_result "discovery still serves after the attacks" "$(ok_call "$HEALTH" '{}' || echo "Health failed")"

e2e_summary
