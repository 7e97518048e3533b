#!/usr/bin/env bash
# Black-box tests of coral's local proxy (`coral proxy start|stop|status|
# list`, the standalone `coral-proxy`) and of the CLI commands that use it
# (`coral status`, `coral agents`, `coral topology`): real discovery, real
# colonies, real proxies, spoken to with curl and `buf curl` (Connect, gRPC,
# gRPC-Web) directly and through the proxy.
#
# Usage: tests/e2e/proxy_test.sh [CORAL [CORAL-DISCOVERY [CORAL-PROXY]]]
#        tests/e2e/proxy_test.sh BUILD_DIR
#        (or env CORAL_BIN, CORAL_DISCOVERY, CORAL_PROXY_BIN; default
#        build/release)
# Prints "ok   NAME" or "FAIL NAME: WHY" per check, then "N passed, M
# failed". Exits 1 on any failure; 77 (skipped) when nothing failed but a
# part could not run (buf missing; the IPv6 part needs root for a network
# namespace); else 0.
# Env: E2E_KEEP=1 keeps the work directory (config dirs, logs);
#      CORAL_BUF: another buf binary.
#
# Traffic stays on loopback: the colonies' mesh networks are 127.42.0.0/16
# and 127.43.0.0/16 (all of 127.0.0.0/8 is loopback on Linux), discovery and
# the proxies listen on 127.0.0.1 (one on [::1]). The IPv6 part runs in a
# network namespace of its own (coral-e2e-proxy-<pid>), deleted on exit.
# Colonies and proxies started with --daemon are not children of this script:
# they are stopped by the PID of their PID file on exit, however it exits.
set -uo pipefail

# shellcheck source=tests/e2e/cli_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh" # sources lib.sh; sets here (tests/e2e) and root

coral_binaries --proxy "$@"
e2e_need jq curl python3
cd "$root" || exit 1 # buf curl resolves --schema from here

BUF=${CORAL_BUF:-$root/tests/interop/node/node_modules/.bin/buf}
HAVE_BUF=0
[[ -x $BUF ]] && HAVE_BUF=1
T=10 # seconds allowed for each client command
COLONY_SVC=coral.colony.v1.ColonyService
MESH_SVC=coral.mesh.v1.MeshService
DISC_SVC=coral.discovery.v1.DiscoveryService
HEALTH=/-/coral/proxy/health

e2e_init
export CORAL_CONFIG_DIR=$E2E_WORK/config
unset CORAL_PROXY
NS_DIR=$E2E_WORK/ns # config dir of the network namespace's colony and proxy

# lib.sh stops what e2e_start started. Daemons, on exit: every proxy, then
# every colony, whose PID file is in one of our config directories (if that
# PID is still a coral / coral-proxy process; the frozen-proxy check stops
# one: it gets SIGCONT first); then the network namespace.
e2e_daemons

# ------------------------------------------------------------------ helpers
# status BASE [CURL-ARGS...]: GetStatus (Connect JSON) at BASE.
status() {
  local base=$1
  shift
  call "$base/$COLONY_SVC/GetStatus" '{}' "$@"
}
# why_colony ID: "" when the last call answered GetStatus of colony ID.
why_colony() {
  local why
  why=$(why_success)
  [[ -n $why ]] && { echo "$why"; return; }
  [[ $(j .colonyId) == "$1" ]] || echo "colonyId '$(j .colonyId)', want $1: $body"
}
answers() { status "$1"; [[ -z $(why_colony "$2") ]]; } # answers BASE ID

yget() { sed -n "s/^ *$1: *//p" "$2" | head -n 1; } # yget KEY FILE (plain YAML)
pidf() { tr -dc 0-9 2>/dev/null <"$CORAL_CONFIG_DIR/$1/$2.pid"; } # pidf colonies|proxies ID

# grpc_raw URL: a gRPC call with an empty message (h2c); headers and
# trailers, one per line, lower-case names, no CR.
grpc_raw() {
  printf '\0\0\0\0\0' | curl -sS -i --max-time "$T" --http2-prior-knowledge -H 'Content-Type: application/grpc' \
    -H 'TE: trailers' --data-binary @- "$1" 2>&1 | tr -d '\r' | grep -ai '^grpc-' | tr '[:upper:]' '[:lower:]'
}
lookup() { # lookup ID: discovery has the colony
  call "$DBASE/$DISC_SVC/LookupColony" "{\"mesh_id\":\"$1\"}"
  [[ $http == 200 && $(j .meshIpv4) == 127.4* ]]
}
# why_out WANT...: "" when $rc is 0 and $out holds every WANT.
why_out() {
  ((rc == 0)) || { echo "exit status $rc: $out $err"; return; }
  local w
  for w in "$@"; do
    [[ $out == *"$w"* ]] || { echo "no '$w' in: $out $err"; return; }
  done
}

# ====================================================== 1. the full stack
e2e_start_server disc "$DISC" --listen 127.0.0.1:0 2>"$E2E_WORK/start.err" ||
  e2e_fatal "start coral-discovery" "$(cat "$E2E_WORK/start.err")"
DPORT=$E2E_PORT
DBASE=http://127.0.0.1:$DPORT

A=e2e-prod
B=e2e-dev
CPORT_A=$(free_port 127.42.0.1)
coral init --app shop --env prod --colony-id "$A" --mesh-ipv4-net 127.42.0.0/16 --discovery "$DBASE" \
  --register-interval 1s --connect-port "$CPORT_A"
((rc == 0)) || e2e_fatal "init colony $A" "exit $rc: $err"
V6A=$(yget mesh_ipv6 "$CORAL_CONFIG_DIR/colonies/$A.yaml")
V6A_PREFIX=${V6A%1}
SECRET_A=$(yget colony_secret "$CORAL_CONFIG_DIR/colonies/$A.yaml")
LOG_A=$CORAL_CONFIG_DIR/colonies/$A.log
COLONY_A=http://127.42.0.1:$CPORT_A
# (--log-level debug: the colony logs each proxied call as "audit: proxy
# request" at debug; at info it writes a summary per proxy and minute.)
coral colony start "$A" --daemon --log-level debug
((rc == 0)) || e2e_fatal "colony start $A --daemon" "exit $rc: $out $err"
e2e_wait 5 lookup "$A" || e2e_fatal "discovery has colony $A" "$body"

P1=$(free_port 127.0.0.1)
PROXY_A=http://127.0.0.1:$P1
coral proxy start "$A" --port "$P1" --daemon --verbose
PX=$(pidf proxies "$A")
why=$(why_out "Resolving colony: $A" " ↳ Querying discovery service at $DBASE" \
  " ↳ Assigned mesh IPs: 127.42.0.2 / ${V6A_PREFIX}2" "✓ Proxy started (PID: $PX)")
[[ -z $why && -z $PX ]] && why="no PID file $CORAL_CONFIG_DIR/proxies/$A.pid"
[[ -z $why ]] && ! is_ours "$PX" && why="pid $PX of the PID file is not a coral process"
[[ -z $why && ! -f $CORAL_CONFIG_DIR/proxies/$A.yaml ]] && why="no $CORAL_CONFIG_DIR/proxies/$A.yaml"
e2e_result "proxy start --daemon --verbose: resolving steps, assigned 127.42.0.2, ✓ Proxy started (PID = PID file)" "$why"
[[ -n $why ]] && e2e_fatal "the proxy is needed by the rest" "stopping here"

body=$(curl -sS --max-time "$T" "$PROXY_A$HEALTH" 2>&1)
why=""
if ! jq -e . >/dev/null 2>&1 <<<"$body"; then why="not JSON: $body"
else
  got="$(j .pid) $(j '.uptime_seconds | type') $(j '.requests | type') $(j '.failed | type')"
  got+=" $(j '.colonies[0].colony_id') $(j '.colonies[0].forwarding_to') $(j '.colonies[0].status')"
  want="$PX number number number $A 127.42.0.1:$CPORT_A connected"
  [[ $got == "$want" ]] || why="got '$got', want '$want': $body"
fi
e2e_result "GET $HEALTH: JSON pid, uptime, requests, failed, colonies[{id, forwarding_to, connected}]" "$why"

coral proxy status
e2e_result "proxy status: listening, colony, forwarding to, proxy mesh IPs 127.42.0.2, Connected" \
  "$(why_out "Active Proxies:" "  $A" "Listening: localhost:$P1" "forwarding to 127.42.0.1:$CPORT_A" \
    "Mesh IPs: 127.42.0.2 / ${V6A_PREFIX}2" "Status: Connected")"

coral proxy list
why=$(why_out)
[[ -z $why ]] && ! grep -Eq "^$A +localhost:$P1 +connected " <<<"$out" && why="no '$A localhost:$P1 connected' row: $out"
coral proxy list --json
body=$out
[[ -z $why && $(j ".[] | select(.colony_id == \"$A\") | \"\(.listen) \(.status) \(.pid)\"") != "localhost:$P1 connected $PX" ]] &&
  why="--json: $out"
e2e_result "proxy list (and --json): $A localhost:$P1 connected" "$why"

# an agent, registered with the colony directly (the proxy takes .2, it .3)
call "$COLONY_A/$MESH_SVC/Register" "{\"colony_id\":\"$A\",\"colony_secret\":\"$SECRET_A\",\"wireguard_pubkey\":\"$(key agent-api)\",\"component_name\":\"api\",\"kind\":\"PEER_KIND_AGENT\"}"
AGENT=$(j .peerId)
e2e_result "an agent registers with colony $A directly -> 127.42.0.3" \
  "$([[ -z $(why_success) && $(j .meshIpv4) == 127.42.0.3 ]] || echo "$body")"

lines=$(wc -l <"$LOG_A")
coral status
e2e_result "coral status: [ONLINE via proxy], app, environment, status, agents, mesh IPs, Dashboard: none (nothing serves one), exit 0" \
  "$(why_out "Colony: $A [ONLINE via proxy]" "App: shop" "Environment: prod" "Status: running" "Agents: 1 connected" \
    "Mesh IPs: 127.42.0.1 / $V6A" "Dashboard: none")"

coral status --json
body=$out
why=$(why_out)
if [[ -z $why ]]; then
  if ! jq -e . >/dev/null 2>&1 <<<"$out"; then why="not JSON: $out"
  else
    got="$(j .colony_id) $(j .app_name) $(j .environment) $(j .status) $(j .agent_count) $(j .mesh_ipv4) $(j .mesh_ipv6)"
    want="$A shop prod running 1 127.42.0.1 $V6A"
    [[ $got == "$want" ]] || why="got '$got', want '$want': $out"
  fi
fi
e2e_result "coral status --json: parses; colony_id, app, environment, agent_count, mesh IPs" "$why"

coral status --verbose
e2e_result "coral status --verbose: says it went via the proxy at localhost:$P1, lists the agent" \
  "$(why_out "via proxy at localhost:$P1" "api" "127.42.0.3")"

PEER_PX=$(grep 'msg="peer registered"' "$LOG_A" | grep 'kind=proxy' | tail -n 1 | sed -n 's/.*peer_id=\([^ ]*\).*/\1/p')
audited() { tail -n +$((lines + 1)) "$LOG_A" | grep 'audit: proxy request' | grep -q "peer_id=$PEER_PX .*GetStatus"; }
e2e_wait 3 audited
why=""
line=$(tail -n +$((lines + 1)) "$LOG_A" | grep 'audit: proxy request' | grep GetStatus | tail -n 1)
if [[ -z $PEER_PX ]]; then why="no 'peer registered ... kind=proxy' line in $LOG_A"
elif [[ -z $line ]]; then why="no 'audit: proxy request' line for coral status"
elif [[ $line != *"peer_id=$PEER_PX"* || $line != *"source=127.42.0.2:"* || $line != *"code=ok"* ]]; then
  why="audit line lacks the proxy's peer id $PEER_PX / source 127.42.0.2 / code=ok: $line"
fi
e2e_result "colony log: 'audit: proxy request' with the proxy's peer id and mesh IP" "$why"

coral agents
why=$(why_out "$AGENT" "api" "127.42.0.3")
[[ -z $why && ($out == *127.42.0.2* || $out == *"$PEER_PX"*) ]] && why="the proxy is listed: $out"
coral agents --json
body=$out
[[ -z $why && $(j '[.agents[].mesh_ipv4] | join(",")') != 127.42.0.3 ]] && why="--json: agents $(j '[.agents[].mesh_ipv4] | join(",")'), want 127.42.0.3 only: $out"
e2e_result "coral agents (and --json): the agent, not the proxy (a peer, not an agent)" "$why"

coral topology
e2e_result "coral topology: via the proxy, the agent ('1 agent, 0 connections')" "$(why_out "Colony: $A" "api" "1 agent, 0 connections")"

coral status --proxy "http://localhost:$P1"
why=$(why_out "[ONLINE via proxy]")
coral status --proxy "localhost:$P1"
[[ -z $why ]] && why=$(why_out "[ONLINE via proxy]")
[[ -n $why ]] && why="--proxy localhost:$P1 (no scheme): $why"
coral status --proxy "not a proxy"
[[ -z $why ]] && { ((rc == 2)) && [[ $err == "error: --proxy \"not a proxy\": expected http://HOST:PORT or HOST:PORT"* ]] ||
  why="--proxy <garbage>: exit $rc, want 2: $out $err"; }
CORAL_PROXY=http://127.0.0.1:$(free_port 127.0.0.1) run "$CORAL" status
[[ -z $why ]] && { ((rc != 0)) && [[ $err == *"not reachable"* ]] || why="CORAL_PROXY=<nothing there>: exit $rc: $out $err"; }
e2e_result "coral status --proxy URL and HOST:PORT work, garbage is bad usage (exit 2); CORAL_PROXY naming a dead proxy -> error, exit 1" "$why"

# ================================ 5. protocols through the proxy (vs direct)
pick='{colonyId, appName, environment, startedAt, meshIpv4, meshIpv6, agentCount}'
status "$COLONY_A"
direct=$(jq -c "$pick" <<<"$body" 2>/dev/null)
status "$PROXY_A"
why=$(why_colony "$A")
[[ -z $why && $http_version != 1.1 ]] && why="HTTP version $http_version, want 1.1"
[[ -z $why && $(jq -c "$pick" <<<"$body") != "$direct" ]] && why="proxied $(jq -c "$pick" <<<"$body"), direct $direct"
e2e_result "Connect unary JSON over HTTP/1.1 through the proxy = direct" "$why"

status "$PROXY_A" --http2-prior-knowledge
why=$(why_colony "$A")
[[ -z $why && $http_version != 2 ]] && why="HTTP version $http_version, want 2"
[[ -z $why && $(jq -c "$pick" <<<"$body") != "$direct" ]] && why="proxied $(jq -c "$pick" <<<"$body"), direct $direct"
e2e_result "Connect unary JSON over h2c through the proxy = direct" "$why"

if ((HAVE_BUF)); then
  for protocol in connect grpc grpcweb; do
    buf_flags "$protocol"
    why=""
    for m in GetStatus ListAgents; do
      bufcurl "${flags[@]}" -d '{}' "$COLONY_A/$COLONY_SVC/$m"
      d_rc=$buf_rc d_out=$(jq -c "del(.uptimeSeconds, .storageBytes, .agents[]?.lastSeen)" <<<"$buf_out" 2>/dev/null)
      bufcurl "${flags[@]}" -d '{}' "$PROXY_A/$COLONY_SVC/$m"
      p_out=$(jq -c "del(.uptimeSeconds, .storageBytes, .agents[]?.lastSeen)" <<<"$buf_out" 2>/dev/null)
      if ((buf_rc != 0)); then why="$m: exit $buf_rc: $buf_out $buf_err"
      elif ((d_rc != 0)) || [[ -z $d_out || $p_out != "$d_out" ]]; then why="$m: proxied '$p_out', direct '$d_out' (exit $d_rc)"
      fi
      [[ -n $why ]] && break
    done
    e2e_result "buf curl $protocol: GetStatus and ListAgents through the proxy = direct" "$why"
  done

  # Ask is server-streaming and answers unimplemented: the error (in the
  # trailers / end-stream message) must arrive as the colony sent it.
  for protocol in connect grpc grpcweb; do
    buf_flags "$protocol"
    bufcurl "${flags[@]}" -d '{"question":"why?"}' "$COLONY_A/$COLONY_SVC/Ask"
    direct="$buf_rc $buf_out $buf_err"
    bufcurl "${flags[@]}" -d '{"question":"why?"}' "$PROXY_A/$COLONY_SVC/Ask"
    why=""
    if [[ $buf_out$buf_err != *'"code": "unimplemented"'* ]]; then why="no unimplemented: exit $buf_rc: $buf_out $buf_err"
    elif [[ "$buf_rc $buf_out $buf_err" != "$direct" ]]; then why="proxied '$buf_rc $buf_out $buf_err', direct '$direct'"
    fi
    e2e_result "buf curl $protocol: server-streaming Ask -> unimplemented through the proxy, as direct" "$why"
  done
else
  e2e_skip "buf curl through the proxy" "$BUF missing (run npm ci in tests/interop/node)"
fi

direct=$(grpc_raw "$COLONY_A/$COLONY_SVC/Ask")
proxied=$(grpc_raw "$PROXY_A/$COLONY_SVC/Ask")
why=""
if [[ $proxied != *"grpc-status: 12"* || $proxied != *"grpc-message: "*"ask is not implemented"* ]]; then why="proxied: $proxied"
elif [[ $proxied != "$direct" ]]; then why="proxied '$proxied', direct '$direct'"
fi
e2e_result "gRPC (curl, h2c) Ask: grpc-status 12 and grpc-message through the proxy, as direct" "$why"

# connect_stream URL [CURL-ARGS]: a Connect server-streaming call (JSON);
# the raw response body in $E2E_WORK/stream, its content type in $ctype.
ctype=""
connect_stream() {
  local url=$1
  shift
  printf '\0\0\0\0\x13{"question":"why?"}' | curl -sS --max-time "$T" "$@" -H 'Content-Type: application/connect+json' \
    -o "$E2E_WORK/stream" -w '%{content_type}' --data-binary @- "$url" >"$E2E_WORK/ctype" 2>&1
  ctype=$(cat "$E2E_WORK/ctype")
}
for h in http1.1 h2c; do
  flags=()
  [[ $h == h2c ]] && flags=(--http2-prior-knowledge)
  connect_stream "$COLONY_A/$COLONY_SVC/Ask" "${flags[@]}"
  mv "$E2E_WORK/stream" "$E2E_WORK/stream.direct"
  connect_stream "$PROXY_A/$COLONY_SVC/Ask" "${flags[@]}"
  why=""
  if [[ $ctype != application/connect+json* ]]; then why="content type '$ctype'"
  elif ! grep -aq '"code":"unimplemented"' "$E2E_WORK/stream"; then why="no end-stream error: $(cat -v "$E2E_WORK/stream")"
  elif [[ $(head -c 1 "$E2E_WORK/stream" | od -An -tx1 | tr -d ' ') != 02 ]]; then why="first frame is not an end-stream frame (flags 0x02)"
  elif ! cmp -s "$E2E_WORK/stream" "$E2E_WORK/stream.direct"; then
    why="proxied $(cat -v "$E2E_WORK/stream"), direct $(cat -v "$E2E_WORK/stream.direct")"
  fi
  e2e_result "Connect server-streaming Ask over $h: end-stream frame through the proxy, byte for byte as direct" "$why"
done

# ================================================= 2. stop proxy: fallbacks
coral proxy stop "$A"
why=$(why_out "Stopping proxy for: $A" " ↳ Unregistered from colony, listener closed (pid $PX)" "✓ Proxy stopped")
[[ -z $why ]] && ! gone "$PX" && why="pid $PX still runs"
[[ -z $why && -e $CORAL_CONFIG_DIR/proxies/$A.stopped ]] && why="the stop report is still there"
[[ -z $why && -e $CORAL_CONFIG_DIR/proxies/$A.pid ]] && why="the PID file is still there"
[[ -z $why && -e $CORAL_CONFIG_DIR/proxies/$A.yaml ]] && why="the state file is still there"
e2e_wait 3 grep -q "msg=\"peer unregistered\".*peer_id=$PEER_PX" "$LOG_A"
[[ -z $why ]] && ! grep -q "msg=\"peer unregistered\".*peer_id=$PEER_PX" "$LOG_A" && why="the colony logged no 'peer unregistered' for $PEER_PX"
e2e_result "proxy stop: exit 0, ✓ stopped, process gone, PID/state files removed, unregistered from the colony" "$why"

coral status
why=$(why_out "Colony: $A [ONLINE direct]" "Environment: prod" "Agents: 1 connected")
e2e_result "no proxy, colony runs here -> coral status falls back to [ONLINE direct], exit 0" "$why"

CPID=$(pidf colonies "$A")
coral colony stop "$A"
coral status
why=""
if ((rc != 1)); then why="exit status $rc, want 1: $out $err"
elif [[ $out != *"Colony: $A [OFFLINE]"* || $out != *"App: shop"* || $out != *"Environment: prod"* ]]; then why="stdout: $out"
elif [[ $err != *"no proxy running for $A — start one with: coral proxy start $A"* ]]; then why="stderr: $err"
fi
e2e_result "no proxy, colony stopped -> [OFFLINE] config view, hint 'coral proxy start $A', exit 1" "$why"
coral agents
why=""
((rc == 1)) && [[ $err == *"no proxy running for $A"*"coral proxy start $A"* ]] || why="agents: exit $rc: $err"
coral topology
[[ -z $why ]] && { ((rc == 1)) && [[ $err == *"coral proxy start $A"* ]] || why="topology: exit $rc: $err"; }
e2e_result "coral agents / topology with the colony offline -> the same hint, exit 1" "$why"

coral colony start "$A" --daemon --log-level debug
r1=$rc
e2e_wait 5 lookup "$A"
coral proxy start "$A" --port "$P1" --daemon
PX=$(pidf proxies "$A")
why=""
if ((r1 != 0)); then why="colony start: exit $r1"
elif ((rc != 0)); then why="proxy start on the same port: exit $rc: $out $err"
else
  coral status
  why=$(why_out "Colony: $A [ONLINE via proxy]" "Agents: 1 connected")
fi
e2e_result "colony and proxy (same port) started again -> [ONLINE via proxy]" "$why"

# ======================================= 3. the colony dies, the proxy stays
CPID=$(pidf colonies "$A")
status "$PROXY_A"
started=$(j .startedAt)
kill -KILL "$CPID" 2>/dev/null
e2e_wait 5 gone "$CPID"
status "$PROXY_A"
why=$(why_error unavailable 503)
[[ -z $why && $(j .message) != *"colony $A is not reachable at 127.42.0.1:$CPORT_A"* ]] && why="message: $(j .message)"
e2e_result "colony killed: Connect call through the proxy -> unavailable (HTTP 503) naming colony and address" "$why"
# (The proxy answers at once, before the request's body, then resets the
# stream with NO_ERROR, as RFC 9113 8.1 allows; curl 7.88 sometimes takes
# that for an error (exit 92), so gRPC is checked with buf curl, or with
# curl retried.)
if ((HAVE_BUF)); then
  bufcurl --protocol grpc --http2-prior-knowledge -d '{}' "$PROXY_A/$COLONY_SVC/GetStatus"
  got="exit $buf_rc: $buf_out $buf_err"
  [[ $buf_out$buf_err == *'"code": "unavailable"'* ]] && got="grpc-status: 14"
else
  grpc_14() { got=$(grpc_raw "$PROXY_A/$COLONY_SVC/GetStatus"); [[ $got == *"grpc-status: 14"* ]]; }
  e2e_wait 2 grpc_14
fi
e2e_result "colony killed: gRPC call through the proxy -> unavailable (grpc-status 14)" \
  "$([[ $got == *"grpc-status: 14"* ]] || echo "got: $got")"
if ((HAVE_BUF)); then
  bufcurl --protocol grpcweb -d '{}' "$PROXY_A/$COLONY_SVC/GetStatus"
  e2e_result "colony killed: gRPC-Web call through the proxy -> unavailable" \
    "$( ((buf_rc != 0)) && [[ $buf_out$buf_err == *'"code": "unavailable"'* ]] || echo "exit $buf_rc: $buf_out $buf_err")"
fi
body=$(curl -sS --max-time "$T" "$PROXY_A$HEALTH" 2>&1)
why=""
[[ $(j '.colonies[0].status') == unreachable* ]] || why="health: $body"
coral proxy list
[[ -z $why ]] && ! grep -Eq "^$A +localhost:$P1 +unreachable" <<<"$out" && why="proxy list: $out"
e2e_result "colony killed: health and proxy list say unreachable" "$why"
coral status
e2e_result "colony killed: coral status -> error saying it is not reachable, exit 1" \
  "$( ((rc == 1)) && [[ $err == *"not reachable"* && $out != *ONLINE* ]] || echo "exit $rc: $out $err")"

coral colony start "$A" --daemon --log-level debug
r1=$rc
lines=$(wc -l <"$LOG_A")
e2e_wait 10 answers "$PROXY_A" "$A"
why=$(why_colony "$A")
if ((r1 != 0)); then why="colony start: exit $r1"
elif [[ -z $why && $(j .startedAt) == "$started" ]]; then why="startedAt unchanged ($started): not the new colony"
elif [[ -z $why ]] && gone "$PX"; then why="the proxy (pid $PX) is gone"
elif [[ -z $why && $(pidf proxies "$A") != "$PX" ]]; then why="another proxy pid $(pidf proxies "$A"), want $PX"
fi
e2e_result "colony back: the same proxy reaches it again by itself" "$why"
body=$(curl -sS --max-time "$T" "$PROXY_A$HEALTH" 2>&1)
e2e_result "colony back: health says connected again" \
  "$([[ $(j '.colonies[0].status') == connected ]] || echo "health: $body")"
PEER_PX=$(grep -E 'msg="peer (re-)?registered"' "$LOG_A" | grep 'kind=proxy' | tail -n 1 | sed -n 's/.*peer_id=\([^ ]*\).*/\1/p')
e2e_wait 3 audited
e2e_result "colony back: its calls from the proxy are audited with the proxy's peer id" \
  "$(audited || echo "no new audit line for $PEER_PX: $(tail -n +$((lines + 1)) "$LOG_A" | grep audit | tail -n 2)")"

# A frozen proxy holds its files but does not answer: not used.
kill -STOP "$PX"
coral proxy list
why=$(why_out)
[[ -z $why ]] && ! grep -Eq "^$A +localhost:$P1 +offline" <<<"$out" && why="proxy list: $out"
coral status
[[ -z $why ]] && why=$(why_out "Colony: $A [ONLINE direct]")
kill -CONT "$PX"
coral proxy list
[[ -z $why ]] && ! grep -Eq "^$A +localhost:$P1 +connected" <<<"$out" && why="thawed, proxy list: $out"
e2e_result "frozen proxy (SIGSTOP): proxy list says offline, coral status goes direct; thawed: connected" "$why"

# ====================================================== 4. two colonies
CPORT_B=$(free_port 127.43.0.1)
coral init --app shop --env dev --colony-id "$B" --mesh-ipv4-net 127.43.0.0/16 --discovery "$DBASE" \
  --register-interval 1s --connect-port "$CPORT_B"
r1=$rc
coral colony start "$B" --daemon
((r1 == 0 && rc == 0)) || e2e_fatal "init and start colony $B" "exit $r1 / $rc: $out $err"
e2e_wait 5 lookup "$B" || e2e_fatal "discovery has colony $B" "$body"
P2=$(free_port 127.0.0.1)
PROXY_B=http://127.0.0.1:$P2
coral proxy start "$B" --port "$P2" --daemon
why=$(why_out "✓ Proxy started (PID: ")
if [[ -z $why ]]; then
  status "$PROXY_A"
  why=$(why_colony "$A")
  [[ -z $why ]] && { status "$PROXY_B"; why=$(why_colony "$B"); }
fi
e2e_result "two colonies, two proxies: :$P1 answers $A, :$P2 answers $B" "$why"

coral proxy list
why=$(why_out)
[[ -z $why ]] && { grep -Eq "^$A +localhost:$P1 +connected" <<<"$out" && grep -Eq "^$B +localhost:$P2 +connected" <<<"$out" || why="$out"; }
e2e_result "proxy list: both proxies, connected" "$why"

coral colony use "$B"
coral status
why=$(why_out "Colony: $B [ONLINE via proxy]" "Environment: dev" "Mesh IPs: 127.43.0.1 /")
coral colony use "$A"
coral status
[[ -z $why ]] && why=$(why_out "Colony: $A [ONLINE via proxy]" "Environment: prod")
coral status --colony "$B" --json
body=$out
[[ -z $why && $(j .colony_id) != "$B" ]] && why="--colony $B --json: $out"
e2e_result "switching colonies (colony use / --colony): coral status goes through each one's proxy" "$why"

coral proxy stop "$A"
r1=$rc
coral proxy stop "$B"
((r1 == 0 && rc == 0)) || e2e_fail "stop both proxies" "exit $r1 / $rc: $out $err"
P3=$(free_port 127.0.0.1)
PROXY_AB=http://127.0.0.1:$P3
coral proxy start "$A" "$B" --port "$P3" --daemon
PXAB=$(pidf proxies "$A")
why=$(why_out "✓ Proxy started (PID: $PXAB)")
[[ -z $why && $(pidf proxies "$B") != "$PXAB" ]] && why="PID files: $A $PXAB, $B $(pidf proxies "$B")"
e2e_result "one proxy for two colonies (proxy start $A $B): started, holds both PID files" "$why"

status "$PROXY_AB"
why=$(why_colony "$A")
e2e_result "one proxy, two colonies: the default route is the first ($A)" "$why"
status "$PROXY_AB/$B"
why=$(why_colony "$B")
[[ -z $why ]] && { status "$PROXY_AB/$A"; why=$(why_colony "$A"); }
e2e_result "one proxy, two colonies: path prefix /$B/... -> $B, /$A/... -> $A" "$why"
status "$PROXY_AB" -H "Colony-ID: $B"
why=$(why_colony "$B")
[[ -z $why ]] && { status "$PROXY_AB" -H "Colony-ID: $A"; why=$(why_colony "$A"); }
e2e_result "one proxy, two colonies: header Colony-ID: $B -> $B, Colony-ID: $A -> $A" "$why"
status "$PROXY_AB" -H 'Colony-ID: e2e-nowhere'
why=$(why_error not_found 404)
[[ -z $why && $(j .message) != *e2e-nowhere* ]] && why="message does not name the colony: $body"
e2e_result "one proxy, two colonies: unknown Colony-ID -> not_found (HTTP 404) naming it" "$why"
if ((HAVE_BUF)); then
  bufcurl --protocol grpc --http2-prior-knowledge -d '{}' "$PROXY_AB/$B/$COLONY_SVC/GetStatus"
  body=$buf_out
  why=""
  ((buf_rc == 0)) && [[ $(j .colonyId) == "$B" ]] || why="path prefix: exit $buf_rc: $buf_out $buf_err"
  bufcurl --protocol grpc --http2-prior-knowledge -H "Colony-ID: $B" -d '{}' "$PROXY_AB/$COLONY_SVC/GetStatus"
  body=$buf_out
  [[ -z $why ]] && { ((buf_rc == 0)) && [[ $(j .colonyId) == "$B" ]] || why="header: exit $buf_rc: $buf_out $buf_err"; }
  bufcurl --protocol grpc --http2-prior-knowledge -H 'Colony-ID: e2e-nowhere' -d '{}' "$PROXY_AB/$COLONY_SVC/GetStatus"
  [[ -z $why ]] && { ((buf_rc != 0)) && [[ $buf_out$buf_err == *'"code": "not_found"'* ]] || why="unknown header: exit $buf_rc: $buf_out $buf_err"; }
  e2e_result "one proxy, two colonies, gRPC: path prefix and Colony-ID route to $B; unknown -> not_found" "$why"
fi
coral proxy list
why=$(why_out)
[[ -z $why ]] && { grep -Eq "^$A +localhost:$P3 +connected" <<<"$out" && grep -Eq "^$B +localhost:$P3 +connected" <<<"$out" || why="$out"; }
coral status --colony "$B"
[[ -z $why ]] && why=$(why_out "Colony: $B [ONLINE via proxy]")
e2e_result "one proxy, two colonies: proxy list shows both on :$P3; coral status --colony $B uses it" "$why"

# (It used to stop the shared proxy, and so $A too, without a word.)
coral proxy stop "$B"
why=""
if ((rc != 1)); then why="exit status $rc, want 1: $out $err"
elif [[ $err != *"also serves $A"* || $err != *"stop them together: coral proxy stop $B $A"* ]]; then why="stderr does not name $A / the command: $err"
elif gone "$PXAB"; then why="the shared proxy (pid $PXAB) was stopped"
else
  status "$PROXY_AB"
  why=$(why_colony "$A")
fi
e2e_result "proxy stop $B of a proxy that also serves $A -> refused naming $A, exit 1, $A still served" "$why"
coral proxy stop "$B" "$A"
why=$(why_out "Stopping proxy for: $B, $A" "Unregistered from colonies $B, $A" "✓ Proxy stopped")
[[ -z $why ]] && { e2e_wait 5 gone "$PXAB" || why="pid $PXAB still runs"; }
coral proxy list --json
[[ -z $why && $out != "[]" ]] && why="proxy list --json: $out"
e2e_result "proxy stop $B $A: the shared proxy stops, both unregistered, no proxy left" "$why"

# ============================================================ 7. bad cases
coral proxy start "$A" --port "$P1" --daemon
PX=$(pidf proxies "$A")
((rc == 0)) || e2e_fail "proxy start $A again" "exit $rc: $out $err"

P4=$(free_port 127.0.0.1)
coral proxy start "$A" --port "$P4"
why=""
if ((rc == 0 || rc == 124)); then why="exit status $rc: $out"
elif [[ $err != *"already running (pid $PX)"* ]]; then why="stderr: $err"
elif gone "$PX" || [[ $(pidf proxies "$A") != "$PX" ]]; then why="the running proxy was disturbed"
fi
e2e_result "a second proxy for the same colony -> 'already running (pid N)', exit 1, the first untouched" "$why"

coral proxy start "$B" --port "$DPORT"
why=""
if ((rc == 0 || rc == 124)); then why="exit status $rc: $out"
elif [[ $err != *":$DPORT"* || $err != *"in use"* ]]; then why="stderr does not name port $DPORT / in use: $err"
elif [[ -e $CORAL_CONFIG_DIR/proxies/$B.pid ]] && ! gone "$(pidf proxies "$B")"; then why="a proxy for $B runs"
fi
e2e_result "busy port (--port <discovery's port>) -> error naming the port, exit 1" "$why"

coral proxy start "$B" --port "$DPORT" --daemon
why=""
if ((rc == 0 || rc == 124)); then why="exit status $rc: $out"
elif [[ $err != *":$DPORT"* || $err != *"in use"* ]]; then why="stderr does not name port $DPORT / in use: $err"
elif [[ -e $CORAL_CONFIG_DIR/proxies/$B.pid ]] && ! gone "$(pidf proxies "$B")"; then why="a proxy for $B runs"
fi
e2e_result "busy port with --daemon -> the same error from the command, exit 1" "$why"

coral proxy start e2e-nosuch --port "$P4" --discovery "$DBASE"
why=""
if ((rc == 0 || rc == 124)); then why="exit status $rc: $out"
elif [[ $err != *e2e-nosuch* || $err != *"$DBASE"* ]]; then why="stderr does not name the colony and $DBASE: $err"
elif [[ -e $CORAL_CONFIG_DIR/proxies/e2e-nosuch.pid ]]; then why="a PID file was left"
fi
e2e_result "unknown colony -> error naming it and the discovery service, exit 1" "$why"

coral proxy start "$B" --listen "0.0.0.0:$P4"
why=""
if ((rc == 0 || rc == 124)); then why="exit status $rc: $out"
elif [[ $err != *"0.0.0.0:$P4"* || $err != *--allow-remote* ]]; then why="stderr does not name the address / --allow-remote: $err"
fi
e2e_result "non-loopback --listen without --allow-remote -> refused, exit 1" "$why"

# stale PID file: a proxy killed with -9
coral proxy start "$B" --port "$P4" --daemon
PXB=$(pidf proxies "$B")
if ((rc != 0)) || [[ -z $PXB ]]; then
  e2e_fail "stale PID file: proxy start $B --daemon" "exit $rc: $out $err"
else
  kill -KILL "$PXB"
  e2e_wait 5 gone "$PXB"
  coral status --colony "$B"
  e2e_result "stale proxy PID file: coral status ignores it, falls back to [ONLINE direct]" \
    "$(why_out "Colony: $B [ONLINE direct]")"
  coral proxy list
  why=$(why_out)
  [[ -z $why ]] && ! grep -Eq "^$B +localhost:$P4 +stale" <<<"$out" && why="no stale row for $B: $out"
  [[ -z $why && -e $CORAL_CONFIG_DIR/proxies/$B.pid ]] && why="the stale PID file is still there after list"
  coral proxy list
  [[ -z $why && $out == *"$B "* ]] && why="listed again after the clean-up: $out"
  e2e_result "stale proxy PID file: proxy list shows it stale once and cleans it up" "$why"
  coral proxy start "$B" --port "$P4" --daemon
  why=$(why_out "✓ Proxy started")
  [[ -z $why ]] && { status "http://127.0.0.1:$P4"; why=$(why_colony "$B"); }
  e2e_result "stale proxy PID file: proxy start works again (same port)" "$why"
  coral proxy stop "$B"
fi

# discovery down at proxy start
e2e_stop disc
coral proxy start "$B" --port "$P4"
why=""
if ((rc == 0 || rc == 124)); then why="exit status $rc: $out"
elif [[ $err != *"discovery service at $DBASE"* || $err != *"not reachable"* ]]; then why="stderr: $err"
fi
e2e_result "discovery down at proxy start -> error naming the discovery service, exit 1" "$why"
if ! e2e_start_server disc "$DISC" --listen "127.0.0.1:$DPORT" 2>"$E2E_WORK/start.err"; then
  e2e_fail "restart coral-discovery on port $DPORT" "$(cat "$E2E_WORK/start.err")"
fi
e2e_wait 5 lookup "$B"

# IPv6 loopback listen address
if python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; then
  P6=$(free_port ::1)
  coral proxy start "$B" --listen "[::1]:$P6" --daemon
  why=$(why_out "Listening on http://[::1]:$P6")
  [[ -z $why ]] && { status "http://[::1]:$P6"; why=$(why_colony "$B"); }
  coral proxy list
  [[ -z $why ]] && ! grep -Eq "^$B +\[::1\]:$P6 +connected" <<<"$out" && why="proxy list: $out"
  e2e_result "--listen [::1]:PORT (loopback) -> serves there" "$why"
  coral proxy stop "$B"
else
  e2e_skip "--listen [::1]" "no ::1 on this host"
fi

# the foreground command's default output, and the standalone binary
P5=$(free_port 127.0.0.1)
e2e_start fgproxy "$CORAL" proxy start "$B" --port "$P5"
e2e_wait 10 answers "http://127.0.0.1:$P5" "$B"
why=$(why_colony "$B")
want="✓ Proxy running on http://localhost:$P5"$'\n'"  Forwarding to colony at 127.43.0.1:$CPORT_B (over mesh)"
fg_out=$(grep -v 'level=' "$E2E_WORK/fgproxy.log")
# RFD 005's steps first (always, in the foreground), then the result.
[[ -z $why && ( $fg_out != "Resolving colony: $B"$'\n'* || $fg_out != *" ↳ Assigned mesh IPs: "*$'\n'"$want"* ) ]] &&
  why="output: $(cat "$E2E_WORK/fgproxy.log")"
e2e_stop fgproxy
[[ -z $why && $E2E_STATUS != 0 ]] && why="exit status on SIGTERM: $E2E_STATUS"
[[ -z $why && -e $CORAL_CONFIG_DIR/proxies/$B.pid ]] && why="PID file left after SIGTERM"
e2e_result "coral proxy start (foreground): the steps, ✓ Proxy running on .. / Forwarding to colony at ..; SIGTERM -> exit 0, files removed" "$why"

coral proxy stop "$A"
e2e_start standalone "$PROXY" "$A" "$B" --port "$P5"
e2e_wait 10 answers "http://127.0.0.1:$P5" "$A"
why=$(why_colony "$A")
[[ -z $why ]] && { status "http://127.0.0.1:$P5/$B"; why=$(why_colony "$B"); }
if [[ -z $why ]]; then
  coral status --colony "$B"
  why=$(why_out "Colony: $B [ONLINE via proxy]")
fi
if [[ -z $why ]]; then
  coral proxy list
  grep -Eq "^$A +localhost:$P5 +connected" <<<"$out" || why="proxy list: $out"
fi
e2e_stop standalone
[[ -z $why && $E2E_STATUS != 0 ]] && why="exit status on SIGTERM: $E2E_STATUS"
[[ -z $why && -e $CORAL_CONFIG_DIR/proxies/$A.pid ]] && why="PID file left after SIGTERM"
e2e_result "coral-proxy (standalone) $A $B: serves both, seen by coral proxy list / coral status; SIGTERM -> exit 0" "$why"

coral proxy stop e2e-nosuch
e2e_result "proxy stop of a colony without a proxy -> says so" \
  "$([[ $out$err == *"no proxy"*e2e-nosuch* ]] || echo "exit $rc: $out $err")"

# ============================================ 6. IPv6 in a network namespace
ns_checks() {
  local ns=coral-e2e-proxy-$$ nid=e2e-v6 dport why
  # the colony's ::1 and the ::2 the proxy will be given, on the namespace's lo
  v6_netns "$ns" fdc0:42::1 fdc0:42::2 || return
  dport=$NS_DPORT
  local -x CORAL_CONFIG_DIR=$NS_DIR
  coral init --app shop --env v6 --colony-id "$nid" --mesh-ipv4-net 127.42.0.0/16 --mesh-ipv6-net fdc0:42::/64 \
    --discovery "http://[::1]:$dport" --register-interval 1s
  ((rc == 0)) || { e2e_fail "ipv6: init" "exit $rc: $err"; return; }
  nsx() { run ip netns exec "$ns" "$@"; }
  nsx "$CORAL" colony start --daemon --log-level debug
  ((rc == 0)) || { e2e_fail "ipv6: colony start in $ns" "exit $rc: $out $err"; return; }
  ns_lookup() {
    nsx curl -sS -g --max-time "$T" -H 'Content-Type: application/json' -d "{\"mesh_id\":\"$nid\"}" \
      "http://[::1]:$dport/$DISC_SVC/LookupColony"
    body=$out
    [[ $(j .meshIpv6) == fdc0:42::1 ]]
  }
  e2e_wait 5 ns_lookup

  # default listen address (localhost:8000: nothing else runs in here)
  nsx "$CORAL" proxy start "$nid" --ipv6 --daemon --verbose
  why=$(why_out " ↳ Querying discovery service at http://[::1]:$dport" " ↳ Assigned mesh IPs: 127.42.0.2 / fdc0:42::2" \
    "✓ Proxy started (PID: " "Forwarding to colony at [fdc0:42::1]:9000")
  e2e_result "ipv6: proxy start --ipv6 in a netns -> assigned 127.42.0.2 / fdc0:42::2, forwarding to [fdc0:42::1]:9000" "$why"
  [[ -z $why ]] || return

  nsx "$CORAL" proxy status
  e2e_result "ipv6: proxy status shows forwarding to [fdc0:42::1]:9000 and both mesh IPs" \
    "$(why_out "Listening: localhost:8000" "Colony: 127.42.0.1:9000 / [fdc0:42::1]:9000" \
      "forwarding to [fdc0:42::1]:9000" "Mesh IPs: 127.42.0.2 / fdc0:42::2" "Status: Connected")"

  nsx curl -sS -g --max-time "$T" -H 'Content-Type: application/json' -d '{}' \
    "http://127.0.0.1:8000/$COLONY_SVC/GetStatus"
  body=$out
  e2e_result "ipv6: GetStatus through the proxy (over the IPv6 mesh address)" \
    "$([[ "$(j .colonyId) $(j .meshIpv6)" == "$nid fdc0:42::1" ]] || echo "$out $err")"
  local log=$NS_DIR/colonies/$nid.log
  e2e_wait 3 grep -q 'audit: proxy request.*source=\[fdc0:42::2\]' "$log"
  e2e_result "ipv6: the colony audits it from the proxy's IPv6 mesh address [fdc0:42::2]" \
    "$(grep -q 'audit: proxy request.*source=\[fdc0:42::2\]:.*GetStatus' "$log" || grep audit "$log" | tail -n 2)"
  if ((HAVE_BUF)); then
    buf_out=$(timeout 20 ip netns exec "$ns" "$BUF" curl --schema proto --protocol grpc --http2-prior-knowledge \
      -d '{}' "http://127.0.0.1:8000/$COLONY_SVC/GetStatus" 2>&1)
    body=$buf_out
    e2e_result "ipv6: gRPC through the proxy" "$([[ $(j .meshIpv6) == fdc0:42::1 ]] || echo "$buf_out")"
  fi

  nsx "$CORAL" status
  e2e_result "ipv6: coral status via the proxy shows both mesh IPs" \
    "$(why_out "Colony: $nid [ONLINE via proxy]" "Mesh IPs: 127.42.0.1 / fdc0:42::1")"

  nsx "$CORAL" proxy stop "$nid"
  e2e_result "ipv6: proxy stop in the netns" "$(why_out "✓ Proxy stopped")"

  # A proxy started while its colony is down (discovery still holds the
  # colony's lease): it starts, answers unavailable, and connects once the
  # colony is up. (In here, not on the host: the proxy then probes the
  # colony's other address too, and here no route leads off the machine.)
  local cpid
  cpid=$(tr -dc 0-9 <"$NS_DIR/colonies/$nid.pid")
  kill -KILL "$cpid" 2>/dev/null
  e2e_wait 5 gone "$cpid"
  nsx "$CORAL" proxy start "$nid" --daemon
  why=$(why_out "✓ Proxy started (PID: ")
  [[ -z $why && $out$err != *"colony $nid is not reachable yet"* ]] && why="no warning that the colony is not reachable yet: $out $err"
  ns_status() {
    nsx curl -sS --max-time "$T" -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -d '{}' \
      "http://127.0.0.1:8000/$COLONY_SVC/GetStatus"
    [[ $out == "$1" ]]
  }
  [[ -z $why ]] && ! ns_status 503 && why="GetStatus through it: HTTP $out, want 503 (unavailable)"
  e2e_result "proxy started while its colony is down -> starts with a warning; calls -> unavailable" "$why"
  nsx "$CORAL" colony start --daemon --log-level debug
  e2e_wait 10 ns_status 200
  e2e_result "... colony back -> the proxy forwards to it by itself" \
    "$(ns_status 200 || echo "GetStatus through it: HTTP $out, want 200")"
  ns_registered() { nsx "$CORAL" proxy status; [[ $out == *"Mesh IPs: 127.42.0.2 / fdc0:42::2"* ]]; }
  e2e_wait 5 ns_registered
  why=""
  ns_registered || why="not a mesh peer of the colony 5 s after it came back: $(grep 'Mesh IPs' <<<"$out")"
  e2e_result "... and registers with it as a mesh peer (127.42.0.2 / fdc0:42::2)" "$why"

  nsx "$CORAL" proxy stop "$nid"
  why=$(why_out "✓ Proxy stopped")
  nsx "$CORAL" colony stop
  [[ -z $why ]] && why=$(why_out "stopped")
  e2e_result "ipv6: proxy stop and colony stop in the netns" "$why"
  e2e_stop nsdisc
}
ns_checks

# ============== proxy stop with the colony down: it says what really happened
# (It used to say "Unregistered from colony" while the proxy's log said the
# unregister failed.)
coral proxy start "$A" --port "$P5" --daemon
PX=$(pidf proxies "$A")
why=$(why_out "✓ Proxy started")
registered() { coral proxy status; [[ $out == *"Mesh IPs: 127.42.0."* ]]; }
[[ -z $why ]] && { e2e_wait 5 registered || why="not registered: $out"; }
if [[ -z $why ]]; then
  CPID=$(pidf colonies "$A")
  kill -KILL "$CPID" 2>/dev/null
  e2e_wait 5 gone "$CPID"
  coral proxy stop "$A"
  why=$(why_out " ↳ Listener closed (pid $PX)" "✓ Proxy stopped")
  [[ -z $why && $out == *Unregistered* ]] && why="claims to have unregistered: $out"
  [[ -z $why && $err != "warning: the proxy could not unregister from colony $A: "* ]] && why="no warning on stderr: $err"
  [[ -z $why ]] && ! gone "$PX" && why="pid $PX still runs"
fi
e2e_result "proxy stop while its colony is down -> 'Listener closed', a warning that it could not unregister, exit 0" "$why"

# ====================================================== the end: stop, clean
coral proxy stop "$A" # (none runs: the standalone one was stopped)
coral colony stop "$A"
r1=$rc
coral colony stop "$B"
why=""
((r1 == 0 && rc == 0)) || why="colony stop: exit $r1 / $rc"
coral proxy list --json
[[ -z $why && $out != "[]" ]] && why="proxies left: $out"
e2e_result "the end: colonies stopped, no proxy left" "$why"
e2e_stop disc

e2e_summary
