#!/usr/bin/env bash
# Black-box tests of the local proxy's forwarder under hostile downstream
# clients (issue 16 §3): a real discovery, colony and `coral proxy`, on
# loopback, attacked with Python h2 clients (tests/e2e/tools/*.py).
#
#   1. rapid reset through the proxy (reconnecting every 900 streams) while
#      a normal client makes 40 calls: every call succeeds, the proxy uses
#      at most 2 connections to the colony (sampled with ss by the proxy's
#      PID every 50 ms), its health's active count is back to 0 afterwards,
#      and its RSS stays flat;
#   2. a repeated identical Content-Length answers 200 through the proxy as
#      it does directly; differing values are still refused (400);
#   3. uploads to a stalled colony (SIGSTOP: it reads nothing) are paused,
#      not buffered: the proxy's RSS stays bounded. This one needs the
#      server codecs' ResponseWriter::pause_body (a no-op before it landed);
#   4. a client that opens 512 ListAgents streams through the proxy and
#      reads nothing, with answers larger than the stream window (8,000
#      agents, ~1.2 MB): another client's GetStatus calls through the same
#      proxy (one colony connection) are answered, each within 1 s.
#
# Usage: tests/e2e/hostile_proxy_test.sh [BUILD_DIR | CORAL CORAL-DISCOVERY]
#        (default build/release; env CORAL_BIN, CORAL_DISCOVERY)
# Prints "ok   NAME" / "FAIL NAME: WHY" per check, the measured figures,
# then "N passed, M failed"; exit 1 on failure, 77 when it cannot run.
# Env: E2E_KEEP=1 keeps the work directory; HOSTILE_SECONDS (default 10):
#      the normal client's 40 calls are paced over half of it (plus their
#      own time), and the attack lasts as long as they do (at most 60 s);
#      HOSTILE_DELAY_MS (default 0): the attacker's pause between a batch
#      of requests and its resets; HOSTILE_UPLOAD_MB (default 64): size of
#      each of the three uploads. About 40 s of wall time in all.
# Colony mesh: 127.45.0.0/16 (loopback); every process is stopped by PID.
set -uo pipefail

# shellcheck source=tests/e2e/cli_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh" # sources lib.sh; sets here (tests/e2e) and root

coral_binaries "$@"
TOOLS=$here/tools
e2e_need jq curl ss
if ! $PY -c 'import h2' 2>/dev/null; then
  echo "SKIP: $PY has no h2 module (apt-get install python3-h2)"
  exit 77
fi

T=5
SECONDS_ATTACK=${HOSTILE_SECONDS:-10}
UPLOAD_MB=${HOSTILE_UPLOAD_MB:-64}
COLONY_SVC=coral.colony.v1.ColonyService
HEALTH=/-/coral/proxy/health

e2e_init
export CORAL_CONFIG_DIR=$E2E_WORK/config
unset CORAL_PROXY

e2e_daemons # on exit: the proxy, then the colony, by their PID files (SIGCONT first: the stalled-colony check stops it)

pidf() { tr -dc 0-9 2>/dev/null <"$CORAL_CONFIG_DIR/$1/$2.pid"; }
rss_mb() { echo $(($(rss_kb "$1") / 1024)); }
# upstream_connections: established TCP connections of the proxy to the colony.
upstream_connections() {
  ss -Htnp state established "( dport = :$CPORT )" 2>/dev/null | grep -c "pid=$PX,"
}
active() { curl -sS --max-time 2 "$PROXY$HEALTH" 2>/dev/null | jq -r '.active // empty'; }
lookup() {
  call "$DBASE/coral.discovery.v1.DiscoveryService/LookupColony" "{\"mesh_id\":\"$1\"}"
  [[ $http == 200 && $(j .meshIpv4) == 127.45.* ]]
}

# ------------------------------------------------------------ the stack
e2e_start_server disc "$DISC" --listen 127.0.0.1:0 2>"$E2E_WORK/start.err" ||
  e2e_fatal "start coral-discovery" "$(cat "$E2E_WORK/start.err")"
DBASE=http://127.0.0.1:$E2E_PORT
A=e2e-hostile
CPORT=$(free_port 127.45.0.1)
coral init --app shop --env prod --colony-id "$A" --mesh-ipv4-net 127.45.0.0/16 --discovery "$DBASE" \
  --register-interval 1s --connect-port "$CPORT"
((rc == 0)) || e2e_fatal "init colony $A" "exit $rc: $err"
coral colony start "$A" --daemon
((rc == 0)) || e2e_fatal "colony start $A --daemon" "exit $rc: $out $err"
CX=$(pidf colonies "$A")
e2e_wait 5 lookup "$A" || e2e_fatal "discovery has colony $A" "$body"
PPORT=$(free_port 127.0.0.1)
PROXY=http://127.0.0.1:$PPORT
coral proxy start "$A" --port "$PPORT" --daemon
((rc == 0)) || e2e_fatal "proxy start $A --daemon" "exit $rc: $out $err"
PX=$(pidf proxies "$A")
[[ -n $PX ]] || e2e_fatal "proxy PID file" "none in $CORAL_CONFIG_DIR/proxies"
call "$PROXY/$COLONY_SVC/GetStatus" '{}'
[[ -z $(why_success) ]] || e2e_fatal "GetStatus through the proxy" "$(why_success)"

# ====================================================== 1. rapid reset
rss_proxy0=$(rss_mb "$PX")
rss_colony0=$(rss_mb "$CX")
e2e_start attacker "$PY" "$here/tools/rapid_reset.py" 127.0.0.1 "$PPORT" "/$COLONY_SVC/GetStatus" \
  60 --per-connection 900 --delay-ms "${HOSTILE_DELAY_MS:-0}"
# every connection of the proxy to the colony, sampled each 50 ms (bounded)
e2e_start sampler bash -c "for ((i = 0; i < 1500; i++)); do
  ss -Htnp state established '( dport = :$CPORT )' | grep 'pid=$PX,' | awk '{ print \$3 }'; sleep 0.05; done"
sleep 0.5
ok=0
max_conns=0
calls=40
pause=$(awk -v s="$SECONDS_ATTACK" -v n="$calls" 'BEGIN { printf "%.3f", s / n / 2 }')
failures=""
for ((i = 0; i < calls; i++)); do
  call "$PROXY/$COLONY_SVC/GetStatus" '{}'
  if [[ -z $(why_success) ]]; then ok=$((ok + 1)); else failures="$http $(head -c 200 <<<"$body")"; fi
  n=$(upstream_connections)
  ((n > max_conns)) && max_conns=$n
  sleep "$pause"
done
attacker_alive=0
e2e_alive attacker && attacker_alive=1
e2e_stop attacker TERM 5
e2e_stop sampler
opened=$(sort -u "$E2E_WORK/sampler.log" | grep -c .)
attack=$(grep -o 'streams=.*' "$E2E_WORK/attacker.log" | tail -n 1)
active_zero() { [[ $(active) == 0 ]]; }
e2e_wait 10 active_zero
left=$(active)
rss_proxy1=$(rss_mb "$PX")
rss_colony1=$(rss_mb "$CX")
echo "  rapid reset: $attack; other client: $ok/$calls calls ok; proxy->colony connections: max $max_conns at once, $opened seen;" \
  "active after: $left; RSS proxy $rss_proxy0 -> $rss_proxy1 MB, colony $rss_colony0 -> $rss_colony1 MB"
why=""
((attacker_alive)) || why="the attacker ended before the normal client's calls did: $(tail -n 3 "$E2E_WORK/attacker.log")"
[[ -z $why && $attack != streams=* ]] && why="the attacker reported nothing: $(tail -n 3 "$E2E_WORK/attacker.log")"
[[ -z $why ]] && ((ok != calls)) && why="$((calls - ok)) of $calls calls failed, last: $failures"
e2e_result "rapid reset through the proxy: all $calls calls of another client succeed" "$why"
e2e_result "rapid reset: the proxy uses at most 2 connections to the colony (seen: $opened, max $max_conns at once)" \
  "$( ((opened <= 2 && max_conns >= 1)) || echo "$opened connections seen, max $max_conns at once")"
e2e_result "rapid reset: health's active streams back to 0 within 10 s" \
  "$([[ $left == 0 ]] || echo "active: '$left'")"
e2e_result "rapid reset: proxy RSS grows by less than 24 MB ($rss_proxy0 -> $rss_proxy1 MB)" \
  "$( ((rss_proxy1 - rss_proxy0 < 24)) || echo "$rss_proxy0 -> $rss_proxy1 MB")"

# ============================================ 2. repeated Content-Length
cl_status() { # cl_status PORT HOST LENGTH-LINES...: status of a GetStatus with those fields
  local port=$1 host=$2
  shift 2
  {
    echo "POST /$COLONY_SVC/GetStatus HTTP/1.1"
    echo "Host: localhost"
    echo "Content-Type: application/json"
    echo "Connection: close"
    printf '%s\n' "$@"
  } >"$E2E_WORK/head"
  "$PY" "$here/tools/raw_http1.py" "$host" "$port" "$E2E_WORK/head" '{}'
}
direct=$(cl_status "$CPORT" 127.45.0.1 "Content-Length: 2" "Content-Length: 2")
proxied=$(cl_status "$PPORT" 127.0.0.1 "Content-Length: 2" "Content-Length: 2")
e2e_result "repeated identical Content-Length: 200 through the proxy as directly" \
  "$([[ $direct == 200 && $proxied == 200 ]] || echo "direct $direct, through the proxy $proxied")"
listed=$(cl_status "$PPORT" 127.0.0.1 "Content-Length: 2, 2")
e2e_result "Content-Length: 2, 2 (a list of one value): 200 through the proxy" \
  "$([[ $listed == 200 ]] || echo "got $listed")"
direct=$(cl_status "$CPORT" 127.45.0.1 "Content-Length: 2" "Content-Length: 3")
proxied=$(cl_status "$PPORT" 127.0.0.1 "Content-Length: 2" "Content-Length: 3")
e2e_result "differing Content-Length values: refused (400) through the proxy as directly" \
  "$([[ $direct == 400 && $proxied == 400 ]] || echo "direct $direct, through the proxy $proxied")"

# ============================================ 3. uploads to a stalled colony
# Needs pause_body from the server codecs: until it landed, the proxy reads
# the uploads as fast as they come and this check fails.
kill -STOP "$CX"
rss0=$(rss_mb "$PX")
max_rss=$rss0
for u in 1 2 3; do
  e2e_start "upload$u" bash -c "head -c ${UPLOAD_MB}M /dev/zero |
    curl -sS --max-time 12 -o /dev/null -H 'Content-Type: application/octet-stream' \
      -X POST -T - '$PROXY/$COLONY_SVC/GetStatus'"
done
for ((i = 0; i < 80; i++)); do
  r=$(rss_mb "$PX")
  ((r > max_rss)) && max_rss=$r
  sleep 0.1
done
for u in 1 2 3; do e2e_stop "upload$u" TERM 2; done
kill -CONT "$CX"
echo "  stalled colony, 3 uploads of $UPLOAD_MB MB through the proxy: proxy RSS $rss0 -> max $max_rss MB"
e2e_result "uploads to a stalled colony: proxy RSS grows by less than 32 MB ($rss0 -> max $max_rss MB; needs pause_body)" \
  "$( ((max_rss - rss0 < 32)) || echo "RSS $rss0 -> $max_rss MB: the bodies were buffered")"
answers() { call "$PROXY/$COLONY_SVC/GetStatus" '{}'; [[ -z $(why_success) ]]; }
e2e_wait 5 answers
e2e_result "after the uploads: GetStatus through the proxy works again" "$(why_success)"

# ======================== 4. zero window through the proxy, large answers
# The unread answers wait in the colony, counted against the proxy's one
# colony connection; before the small-answer rule (rpc small_answer_bytes)
# the colony started no call on it, GetStatus included, until the proxy
# reset the stalled streams (2 s later).
$PY "$TOOLS/h2_hostile.py" register 127.45.0.1 "$CPORT" "$CORAL_CONFIG_DIR/colonies/$A.yaml" \
  --count 8000 --seconds 120 >"$E2E_WORK/register.out" 2>&1
echo "  $(cat "$E2E_WORK/register.out")"
call "$PROXY/$COLONY_SVC/ListAgents" '{}'
listed=$(printf '%s' "$body" | jq '.agents | length' 2>/dev/null)
e2e_result "8000 agents registered; ListAgents through the proxy lists them" \
  "$( ((${listed:-0} >= 8000)) || echo "listed ${listed:-none}: $(why_success)")"
call "$PROXY/$COLONY_SVC/GetStatus" '{}'
timeout 40 $PY "$TOOLS/h2_hostile.py" zero-window 127.0.0.1 "$PPORT" /$COLONY_SVC/ListAgents \
  --connections 2 --streams 256 --seconds 10 >"$E2E_WORK/zw.out" 2>&1 &
attacker=$!
sleep 2
times=() slow=0 failed=0
for ((i = 0; i < 5; i++)); do
  r=$(curl -sS -o /dev/null --max-time 5 -w '%{http_code} %{time_total}' -H 'Content-Type: application/json' \
    -d '{}' "$PROXY/$COLONY_SVC/GetStatus" 2>/dev/null)
  times+=("${r#* }")
  [[ $r == 200\ * ]] || ((failed++))
  awk -v t="${r#* }" 'BEGIN { exit !(t >= 1.0) }' && ((slow++))
  sleep 1
done
wait "$attacker"
echo "  zero window through the proxy: $(cat "$E2E_WORK/zw.out"); GetStatus took ${times[*]} s"
e2e_result "zero window through the proxy: another client's 5 GetStatus calls answered, each within 1 s" \
  "$( ((failed == 0 && slow == 0)) || echo "$failed failed, $slow slow: ${times[*]} s")"
e2e_wait 10 answers
e2e_result "after the zero-window attack: GetStatus through the proxy works" "$(why_success)"

e2e_summary
