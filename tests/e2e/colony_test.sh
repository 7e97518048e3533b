#!/usr/bin/env bash
# Black-box tests of the coral CLI (init, colony list/current/use/start/stop/
# status) and of the colony it runs: the real processes, a real
# coral-discovery, spoken to with curl (Connect JSON) and `buf curl`
# (Connect, gRPC, gRPC-Web).
#
# Usage: tests/e2e/colony_test.sh [CORAL [CORAL-DISCOVERY]]
#        tests/e2e/colony_test.sh BUILD_DIR
#        (or env CORAL_BIN, CORAL_DISCOVERY; default build/release)
# Prints "ok   NAME" or "FAIL NAME: WHY" per check, then "N passed, M
# failed". Exits 1 on any failure; 77 (skipped) when nothing failed but a
# part could not run (buf missing; the IPv6 part needs root for a network
# namespace); else 0.
# Env: E2E_KEEP=1 keeps the work directory (config dirs, logs);
#      CORAL_BUF: another buf binary.
#
# Traffic stays on loopback: the colony's mesh network is 127.42.0.0/16 (all
# of 127.0.0.0/8 is loopback on Linux), discovery listens on 127.0.0.1; the
# colony's random IPv6 ULA is on no interface, so it is never served nor
# dialled. The IPv6 part runs in a network namespace of its own
# (coral-e2e-<pid>), deleted on exit. Colonies run as daemons (not children
# of this script): they are stopped by the PID of their PID file on exit,
# however the script exits.
set -uo pipefail

# shellcheck source=tests/e2e/cli_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh" # sources lib.sh; sets here (tests/e2e) and root

coral_binaries "$@"
e2e_need jq curl python3
cd "$root" || exit 1 # buf curl resolves --schema from here

BUF=${CORAL_BUF:-$root/tests/interop/node/node_modules/.bin/buf}
T=10 # seconds allowed for each client command
COLONY_SVC=coral.colony.v1.ColonyService
MESH_SVC=coral.mesh.v1.MeshService
DISC_SVC=coral.discovery.v1.DiscoveryService

e2e_init
export CORAL_CONFIG_DIR=$E2E_WORK/config
BAD_DIR=$E2E_WORK/bad # corrupt copies of the colony's file
NS_DIR=$E2E_WORK/ns   # the colony of the network namespace

# lib.sh stops what e2e_start started; the colonies are daemons: on exit,
# every colony whose PID file is in one of our config directories is stopped
# (if that PID is still a coral process), then the network namespace deleted.
e2e_daemons

# ------------------------------------------------------------------ helpers
# yget FILE KEY: the value of KEY ("colony_id", "wireguard.mesh_ipv4") in a
# colony file (two levels of plain YAML, as coral init writes it).
yget() {
  awk -v want="$2" '
    /^[A-Za-z0-9_]+:/ {
      k = $0; sub(/:.*/, "", k); v = $0; sub(/^[^:]*:[ \t]*/, "", v)
      if (v == "") { sec = k; next }
      sec = ""; if (k == want) { print v; exit }; next
    }
    /^[ \t]+[A-Za-z0-9_]+:/ {
      k = $0; sub(/^[ \t]+/, "", k); sub(/:.*/, "", k); v = $0; sub(/^[^:]*:[ \t]*/, "", v)
      if (sec "." k == want) { print v; exit }
    }' "$1" | sed -e 's/^"\(.*\)"$/\1/'
}
yaml_of() { echo "$CORAL_CONFIG_DIR/colonies/$1.yaml"; }
pid_of() { tr -dc 0-9 2>/dev/null <"$1/colonies/$2.pid"; } # pid_of CONFIG_DIR ID
mode_of() { stat -c %a "$1" 2>/dev/null; }

# ============================================================ 1. coral init
coral init
why=""
if ((rc == 0 || rc == 124)); then why="exit status $rc, want 1"
elif [[ $err != *"missing --app (no terminal to ask on)"* ]]; then why="stderr: $err"
elif compgen -G "$CORAL_CONFIG_DIR/colonies/*.yaml" >/dev/null; then why="a colony file was written"
fi
e2e_result "init: without --app/--env and no terminal -> error naming --app, nothing written" "$why"

coral init --app my-app </dev/null
e2e_result "init: --app without --env, no terminal -> error naming --env" \
  "$( ((rc != 0 && rc != 124)) && [[ $err == *"missing --env"* ]] || echo "exit $rc: $err")"

# On a terminal the missing names are asked for: script(1) gives init a pty
# and passes our answers through it (an empty answer takes the default).
if command -v script >/dev/null; then
  tty_dir=$E2E_WORK/tty-config
  tty_out=$(printf 'tty-app\n\n' | CORAL_CONFIG_DIR=$tty_dir timeout "$T" script -qec \
    "$CORAL init --colony-id tty-colony --mesh-ipv4-net 127.42.0.0/16" /dev/null 2>&1)
  why=""
  if [[ $tty_out != *"Application name"* || $tty_out != *"Environment [development]"* ]]; then
    why="no prompts: $tty_out"
  elif ! grep -qx 'app_name: tty-app' "$tty_dir/colonies/tty-colony.yaml" 2>/dev/null ||
    ! grep -qx 'environment: development' "$tty_dir/colonies/tty-colony.yaml"; then
    why="answers not in the file: $tty_out"
  fi
  e2e_result "init: on a terminal, missing --app/--env are asked for (default environment: development)" "$why"
else
  e2e_skip "init prompts on a terminal" "script(1) (util-linux) is not installed"
fi

coral init --app my-app --env prod --mesh-ipv4-net 127.42.0.0/16
ID1=$(sed -n 's/^✓ Colony created: //p' <<<"$out")
Y1=$(yaml_of "$ID1")
why=""
if ((rc != 0)); then why="exit status $rc: $err"
elif [[ ! $ID1 =~ ^my-app-prod-[0-9a-f]{6}$ ]]; then why="colony id '$ID1', want my-app-prod-<6 hex digits>: $out"
elif [[ ! -f $Y1 ]]; then why="no $Y1"
elif [[ $(mode_of "$Y1") != 600 ]]; then why="$Y1 has mode $(mode_of "$Y1"), want 600"
fi
e2e_result "init: --app --env -> colonies/<app>-<env>-<6 hex>.yaml, mode 0600" "$why"

why=""
for field in colony_id app_name environment wireguard.private_key wireguard.public_key wireguard.mesh_ipv4 \
  wireguard.mesh_ipv6 wireguard.listen_port wireguard.mesh_network_ipv4 wireguard.mesh_network_ipv6 \
  services.connect_port services.dashboard_port discovery.endpoint discovery.mesh_id \
  discovery.register_interval discovery.auto_register colony_secret; do
  [[ -n $(yget "$Y1" "$field") ]] || why="$why $field"
done
[[ -n $why ]] && why="missing or empty:$why"
if [[ -z $why ]]; then
  got="$(yget "$Y1" colony_id) $(yget "$Y1" app_name) $(yget "$Y1" environment) $(yget "$Y1" wireguard.mesh_ipv4)"
  got+=" $(yget "$Y1" wireguard.mesh_network_ipv4) $(yget "$Y1" wireguard.listen_port) $(yget "$Y1" services.connect_port)"
  got+=" $(yget "$Y1" services.dashboard_port) $(yget "$Y1" discovery.endpoint) $(yget "$Y1" discovery.mesh_id)"
  got+=" $(yget "$Y1" discovery.register_interval) $(yget "$Y1" discovery.auto_register)"
  want="$ID1 my-app prod 127.42.0.1 127.42.0.0/16 41820 9000 3000 http://localhost:8080 $ID1 60s true"
  [[ $got == "$want" ]] || why="values '$got', want '$want'"
fi
if [[ -z $why ]]; then
  for field in wireguard.private_key wireguard.public_key; do
    v=$(yget "$Y1" "$field")
    [[ $(base64 -d <<<"$v" 2>/dev/null | wc -c) == 32 ]] || why="$field '$v' is not base64 of 32 bytes"
  done
  s=$(yget "$Y1" colony_secret)
  [[ -z $why && ! $s =~ ^[A-Za-z0-9_-]{32,}$ ]] && why="colony_secret '$s' is not 32+ url-safe characters"
fi
e2e_result "init: the file has RFD 005's fields, defaults and keys" "$why"

ula_why() { # ula_why FILE: "" when the IPv6 net is a /64 of fd00::/8 and the colony its ::1
  python3 -c 'import ipaddress, sys
net, ip = sys.argv[1], sys.argv[2]
try:
    n = ipaddress.IPv6Network(net); a = ipaddress.IPv6Address(ip)
except ValueError as e:
    print("not IPv6: %s / %s (%s)" % (net, ip, e)); sys.exit()
if n.prefixlen != 64 or not n.subnet_of(ipaddress.IPv6Network("fd00::/8")):
    print("mesh_network_ipv6 %s is not a /64 in fd00::/8" % net)
elif a != n[1]:
    print("mesh_ipv6 %s is not %s" % (a, n[1]))' "$(yget "$1" wireguard.mesh_network_ipv6)" "$(yget "$1" wireguard.mesh_ipv6)"
}
e2e_result "init: default IPv6 mesh net is an RFC 4193 fdXX:XXXX:XXXX::/64, colony ::1" "$(ula_why "$Y1")"

coral init --app my-app --env prod --mesh-ipv4-net 127.42.0.0/16
ID2=$(sed -n 's/^✓ Colony created: //p' <<<"$out")
Y2=$(yaml_of "$ID2")
why=""
if ((rc != 0)); then why="exit status $rc: $err"
elif [[ $ID2 == "$ID1" || ! $ID2 =~ ^my-app-prod-[0-9a-f]{6}$ ]]; then why="second id '$ID2' (first $ID1)"
elif [[ $(yget "$Y2" wireguard.mesh_network_ipv6) == "$(yget "$Y1" wireguard.mesh_network_ipv6)" ]]; then
  why="both colonies got $(yget "$Y2" wireguard.mesh_network_ipv6)"
elif [[ $(yget "$Y2" colony_secret) == "$(yget "$Y1" colony_secret)" ]]; then why="both colonies got the same secret"
fi
e2e_result "init: a second colony gets its own id, ULA net and secret" "$why"

coral colony current
e2e_result "colony current: the last colony created" "$( ((rc == 0)) && [[ $out == "$ID2" ]] || echo "exit $rc: $out $err")"

coral colony list
why=""
if ((rc != 0)); then why="exit $rc: $err"
elif ! grep -Eq "^\* +$ID2 +colony +my-app +prod +127\.42\.0\.1 / fd" <<<"$out"; then
  why="no '* $ID2 colony my-app prod 127.42.0.1 / fd..' row: $out"
elif ! grep -Eq "^  +$ID1 +colony +my-app .*stopped" <<<"$out"; then why="no unmarked row for $ID1: $out"
fi
e2e_result "colony list: both colonies, * on the current one" "$why"

coral colony list --json
body=$out
why=""
((rc == 0)) || why="exit $rc: $err"
[[ -z $why && $(j 'length') != 2 ]] && why="$(j length) entries, want 2: $out"
[[ -z $why && $(j "map(select(.current)) | map(.colony_id) | join(\",\")") != "$ID2" ]] && why="current: $out"
[[ -z $why && $(j ".[] | select(.colony_id == \"$ID1\") | .app_name + \" \" + .environment + \" \" + .process") != "my-app prod stopped" ]] &&
  why="entry of $ID1: $out"
[[ -z $why && $(j 'map(.kind) | join(",")') != colony,colony ]] && why="kinds: $out"
e2e_result "colony list --json: array of both, current flagged, kind colony" "$why"

coral colony use "$ID1"
r1=$rc
coral colony current
why=""
if ((r1 != 0)); then why="use: exit $r1"
elif [[ $out != "$ID1" ]]; then why="current after use: $out"
elif ! grep -q "current_colony: $ID1" "$CORAL_CONFIG_DIR/config.yaml"; then why="config.yaml: $(cat "$CORAL_CONFIG_DIR/config.yaml")"
fi
e2e_result "colony use ID: makes it current (config.yaml)" "$why"

coral colony use no-such-colony
e2e_result "colony use: an unknown id -> error naming it and the known ones" \
  "$( ((rc == 1)) && [[ $err == *no-such-colony* && $err == *"$ID1"* ]] || echo "exit $rc: $err")"

# --force
coral init --app shop --env e2e --colony-id e2e-force --mesh-ipv4-net 127.42.0.0/16
cp "$(yaml_of e2e-force)" "$E2E_WORK/force.orig"
coral init --app shop --env e2e --colony-id e2e-force --mesh-ipv4-net 127.42.0.0/16
why=""
if ((rc == 0 || rc == 124)); then why="exit status $rc, want 1"
elif [[ $err != *"already exists"* || $err != *--force* ]]; then why="stderr does not say it exists / --force: $err"
elif ! cmp -s "$(yaml_of e2e-force)" "$E2E_WORK/force.orig"; then why="the file changed"
fi
e2e_result "init: same --colony-id again -> refused (names --force), file unchanged" "$why"

coral init --app shop --env e2e --colony-id e2e-force --mesh-ipv4-net 127.42.0.0/16 --force
why=""
if ((rc != 0)); then why="exit status $rc: $err"
elif [[ $(yget "$(yaml_of e2e-force)" wireguard.private_key) == "$(yget "$E2E_WORK/force.orig" wireguard.private_key)" ]]; then
  why="same private key"
elif [[ $(yget "$(yaml_of e2e-force)" colony_secret) == "$(yget "$E2E_WORK/force.orig" colony_secret)" ]]; then
  why="same colony secret"
elif [[ $(mode_of "$(yaml_of e2e-force)") != 600 ]]; then why="mode $(mode_of "$(yaml_of e2e-force)")"
fi
e2e_result "init --force: replaces it with new keys and secret, mode 0600" "$why"

# ================================================ 2. discovery + colony start
if ! e2e_start_server disc "$DISC" --listen 127.0.0.1:0 2>"$E2E_WORK/start.err"; then
  e2e_fail "start coral-discovery" "$(cat "$E2E_WORK/start.err")"
  e2e_summary
  exit 1
fi
DPORT=$E2E_PORT
DBASE=http://127.0.0.1:$DPORT
CPORT=$(free_port 127.42.0.1)
ID=e2e-main
coral init --app shop --env e2e --colony-id "$ID" --mesh-ipv4-net 127.42.0.0/16 --discovery "$DBASE" \
  --register-interval 1s --connect-port "$CPORT"
Y=$(yaml_of "$ID")
LOG=$CORAL_CONFIG_DIR/colonies/$ID.log
SECRET=$(sed -n 's/^colony_secret: *//p' "$Y")
PUBKEY=$(yget "$Y" wireguard.public_key)
V6=$(yget "$Y" wireguard.mesh_ipv6)
V6PREFIX=${V6%1} # "fdxx:xxxx:xxxx::"
COLONY=http://127.42.0.1:$CPORT
e2e_result "init: colony on 127.42.0.0/16 with a discovery URL" \
  "$( ((rc == 0)) && [[ -n $SECRET && $V6 == *::1 ]] || echo "exit $rc: $err")"

# (--heartbeat-interval 1h: the proxy registered by hand below never
# heartbeats; keep it from expiring during the test.)
start_daemon() { # start_daemon [ARGS]: coral colony start --daemon; sets PID
  coral colony start --daemon --heartbeat-interval 1h "$@"
  PID=$(pid_of "$CORAL_CONFIG_DIR" "$ID")
}
start_daemon
why=""
if ((rc != 0)); then why="exit status $rc: $out $err"
elif [[ $out != *"✓ Colony $ID running (pid $PID)"* ]]; then why="stdout does not say running (pid $PID): $out"
elif [[ $out != *"127.42.0.1:$CPORT"* ]]; then why="stdout does not name 127.42.0.1:$CPORT: $out"
elif ! is_ours "$PID"; then why="pid $PID (PID file) is not a coral process"
elif [[ $(mode_of "$LOG") != 600 ]]; then why="log $LOG mode $(mode_of "$LOG")"
fi
e2e_result "start --daemon: exit 0 once serving, prints ✓ running (pid N) = PID file, log 0600" "$why"
if [[ -n $why ]]; then
  e2e_summary
  exit 1
fi
# (The warning used to be printed on stdout, with the result.)
e2e_result "start: the unserved IPv6 ULA is a warning (on stderr), not a failure" \
  "$([[ $err == *"warning: not serving on [$V6]:$CPORT"* && $out != *warning* ]] || echo "stdout: $out stderr: $err")"

lookup() { call "$DBASE/$DISC_SVC/LookupColony" "{\"mesh_id\":\"$ID\"}"; [[ $http == 200 ]]; }
e2e_wait 5 lookup
why=$(why_success)
if [[ -z $why ]]; then
  got="$(j .meshIpv4) $(j .meshIpv6) $(j .connectPort) $(j .wireguardPubkey) $(j .metadata.app) $(j .metadata.environment) $(j .metadata.colony_id)"
  want="127.42.0.1 $V6 $CPORT $PUBKEY shop e2e $ID"
  [[ $got == "$want" ]] || why="got '$got', want '$want'"
fi
e2e_result "discovery: LookupColony -> mesh IPs, connect port, key, metadata app/environment" "$why"
e2e_result "log: 'colony running' and 'registered with discovery'" \
  "$(grep -q 'msg="colony running"' "$LOG" && grep -q 'msg="registered with discovery"' "$LOG" || echo "log: $(cat "$LOG")")"

# ===================================================== 3. status, buf curl
call "$COLONY/$COLONY_SVC/GetStatus" '{}'
why=$(why_success)
got="$(j .colonyId) $(j .appName) $(j .environment) $(j .status) $(j .meshIpv4) $(j .meshIpv6) $(j .dashboardUrl)"
# (dashboardUrl was http://127.42.0.1:3000, where nothing answers.)
[[ -z $why && $got != "$ID shop e2e running 127.42.0.1 $V6 " ]] && why="got '$got'"
e2e_result "curl: GetStatus (Connect JSON) -> id, app, environment, running, mesh IPs, no dashboard URL" "$why"

call "$COLONY/$COLONY_SVC/GetTopology" '{}' --http2-prior-knowledge
why=$(why_success)
[[ -z $why && $(j .colonyId) != "$ID" ]] && why="colonyId '$(j .colonyId)'"
e2e_result "curl: GetTopology over h2c" "$why"

if [[ ! -x $BUF ]]; then
  e2e_skip "buf curl" "$BUF missing (run npm ci in tests/interop/node)"
else
  for protocol in connect grpc grpcweb; do
    buf_flags "$protocol"
    bufcurl "${flags[@]}" -d '{}' "$COLONY/$COLONY_SVC/GetStatus"
    body=$buf_out
    why=""
    if ((buf_rc != 0)); then why="GetStatus: exit status $buf_rc: $buf_err"
    elif [[ "$(j .colonyId) $(j .appName) $(j .meshIpv4)" != "$ID shop 127.42.0.1" ]]; then why="GetStatus: $buf_out"
    else
      bufcurl "${flags[@]}" -d '{}' "$COLONY/$COLONY_SVC/ListAgents"
      body=$buf_out
      if ((buf_rc != 0)); then why="ListAgents: exit status $buf_rc: $buf_err"
      elif [[ $(jq -r '.agents // [] | length' <<<"$body" 2>/dev/null) != 0 ]]; then why="ListAgents: $buf_out"
      fi
    fi
    e2e_result "buf curl $protocol: GetStatus and ListAgents (none yet)" "$why"
  done
fi

coral colony status
why=""
if ((rc != 0)); then why="exit status $rc, want 0: $out $err"
elif [[ $out != *"Colony: $ID [RUNNING, pid $PID]"* ]]; then why="no RUNNING line: $out"
elif [[ $out != *"Status: running"* || $out != *"Agents: 0"* ]]; then why="no status / agents: $out"
elif [[ $out != *"registered at $DBASE as $ID"* ]]; then why="discovery not shown: $out"
fi
e2e_result "colony status: exit 0, RUNNING with pid, status, agents, discovery" "$why"

coral colony status --json
body=$out
why=""
((rc == 0)) || why="exit status $rc: $err"
got="$(j .colony_id) $(j .running) $(j .pid) $(j .reached_at) $(j .status.colony_id) $(j .status.app_name) $(j .status.environment) $(j .status.status) $(j .status.mesh_ipv4) $(j .discovery.mesh_ipv4) $(j .discovery.connect_port)"
# A colony running here is reached through its admin socket (it serves
# ColonyService too), whatever carries its mesh.
want="$ID true $PID $CORAL_CONFIG_DIR/colonies/$ID.sock $ID shop e2e running 127.42.0.1 127.42.0.1 $CPORT"
[[ -z $why && $got != "$want" ]] && why="got '$got', want '$want': $out"
e2e_result "colony status --json: process, status.*, discovery.*" "$why"

# ====================================================== 4. MeshService.Register
# register SECRET KEY COMPONENT KIND [CURL-ARGS...]
register() {
  local secret=$1 pubkey=$2 component=$3 kind=$4
  shift 4
  call "$COLONY/$MESH_SVC/Register" \
    "{\"colony_id\":\"$ID\",\"colony_secret\":\"$secret\",\"wireguard_pubkey\":\"$pubkey\",\"component_name\":\"$component\",\"kind\":\"$kind\"}" "$@"
}
# why_assigned N: "" when the last Register answered 127.42.0.N / <prefix>N.
why_assigned() {
  local why
  why=$(why_success)
  [[ -n $why ]] && { echo "$why"; return; }
  [[ "$(j .meshIpv4) $(j .meshIpv6)" == "127.42.0.$1 $V6PREFIX$(printf %x "$1")" ]] ||
    echo "assigned $(j .meshIpv4) $(j .meshIpv6), want 127.42.0.$1 $V6PREFIX$(printf %x "$1")"
}
KA=$(key agent-a)
KB=$(key agent-b)
KP=$(key proxy-p)
KC=$(key agent-c)
KD=$(key agent-d)

register "$SECRET" "$KA" api PEER_KIND_AGENT
why=$(why_assigned 2)
PEER_A=$(j .peerId)
got="$(j .colonyMeshIpv4) $(j .colonyMeshIpv6) $(j .meshNetworkIpv4) $(j .meshNetworkIpv6) $(j .colonyWireguardPubkey) $(j .colonyConnectPort)"
want="127.42.0.1 $V6 127.42.0.0/16 ${V6PREFIX}/64 $PUBKEY $CPORT"
[[ -z $why && $got != "$want" ]] && why="colony fields '$got', want '$want'"
[[ -z $why && -z $PEER_A ]] && why="no peerId: $body"
e2e_result "Register agent (right secret) -> 127.42.0.2 / ::2 and the colony's fields" "$why"

register "$SECRET" "$KB" web PEER_KIND_AGENT
PEER_B=$(j .peerId)
e2e_result "Register a second peer -> 127.42.0.3 / ::3" "$(why_assigned 3)"

register "$SECRET" "$KA" api PEER_KIND_AGENT
why=$(why_assigned 2)
[[ -z $why && $(j .peerId) != "$PEER_A" ]] && why="peerId $(j .peerId), want $PEER_A"
e2e_result "Register the first key again -> the same addresses and peer id" "$why"

call "$COLONY/$MESH_SVC/Heartbeat" "{\"peer_id\":\"$PEER_A\",\"wireguard_pubkey\":\"$KA\",\"status\":\"healthy\"}"
why=$(why_success)
[[ -z $why && -z $(j .nextHeartbeatBefore) ]] && why="no nextHeartbeatBefore: $body"
e2e_result "Heartbeat of a registered peer -> next_heartbeat_before" "$why"

call "$COLONY/$COLONY_SVC/ListAgents" '{}'
why=$(why_success)
got=$(j '[.agents[] | .agentId + "," + .componentName + "," + .meshIpv4 + "," + .status] | sort | join(" ")')
want=$(printf '%s\n' "$PEER_A,api,127.42.0.2,healthy" "$PEER_B,web,127.42.0.3,healthy" | sort | tr '\n' ' ')
[[ -z $why && "$got " != "$want" ]] && why="agents '$got', want '$want'"
e2e_result "ListAgents: both agents with id, component, IP, healthy" "$why"

WRONG=WrongSecretWrongSecretWrongSecret0123456789
lines=$(wc -l <"$LOG")
register "$WRONG" "$KC" api PEER_KIND_AGENT
e2e_result "Register with a wrong secret -> permission_denied (HTTP 403)" "$(why_error permission_denied 403)"
e2e_wait 3 grep -q 'register refused: wrong colony secret' "$LOG"
line=$(tail -n +$((lines + 1)) "$LOG" | grep 'register refused: wrong colony secret')
why=""
if [[ -z $line ]]; then why="no 'register refused: wrong colony secret' line"
elif [[ $line != *"$KC"* ]]; then why="the line does not name the key presented: $line"
elif grep -qF -- "$WRONG" "$LOG"; then why="the wrong secret is in the log"
fi
e2e_result "log: the refusal is logged with the key, without the secret presented" "$why"
register "$SECRET" "$KC" api PEER_KIND_AGENT --http2-prior-knowledge
# (the same key with the right secret, over h2c: the refusal took no address)
e2e_result "Register after a refusal -> the next free address (.4)" "$(why_assigned 4)"

call "$COLONY/$MESH_SVC/Register" "{\"colony_id\":\"not-$ID\",\"colony_secret\":\"$SECRET\",\"wireguard_pubkey\":\"$KD\",\"kind\":\"PEER_KIND_AGENT\",\"component_name\":\"x\"}"
e2e_result "Register for another colony id -> not_found (404)" "$(why_error not_found 404)"

register "$SECRET" "$KP" "" PEER_KIND_PROXY
why=$(why_assigned 5)
PROXY_IP=$(j .meshIpv4)
PEER_P=$(j .peerId)
e2e_result "Register a proxy -> 127.42.0.5" "$why"

if [[ -n $PROXY_IP ]]; then
  call "$COLONY/$COLONY_SVC/GetStatus" '{}' --interface "$PROXY_IP"
  why=$(why_success)
  # Counted, and summarized per proxy once a minute and at shutdown (checked
  # after colony stop below); one line per call only at debug level.
  [[ -z $why ]] && grep -q 'msg="audit: proxy request"' "$LOG" && why="a per-request audit line at info"
  e2e_result "audit: a call from the proxy's address (curl --interface) is counted, not logged per request" "$why"
  call "$COLONY/$COLONY_SVC/GetStatus" '{}' --interface 127.42.0.2
fi

call "$COLONY/$COLONY_SVC/GetStatus" '{}'
n_status=$(j '.agentCount // 0')
call "$COLONY/$COLONY_SVC/ListAgents" '{}'
n_list=$(j '.agents | length')
kinds=$(j '[.agents[].componentName] | sort | join(",")')
e2e_result "ListAgents lists agents only, as many as GetStatus.agent_count (a proxy is not an agent)" \
  "$([[ $n_status == 3 && $n_list == 3 ]] || echo "agent_count $n_status, ListAgents $n_list entries ($kinds); want 3 and 3")"

e2e_result "log: the colony secret appears nowhere in the log" \
  "$(! grep -qF -- "$SECRET" "$LOG" || echo "the secret is in $LOG")"

# ========================================================= 6a. start twice
coral colony start --daemon
why=""
if ((rc == 0 || rc == 124)); then why="exit status $rc, want 1"
elif [[ $err != *"already running (pid $PID)"* ]]; then why="stderr: $err"
elif [[ $(pid_of "$CORAL_CONFIG_DIR" "$ID") != "$PID" ]] || gone "$PID"; then why="the running colony was disturbed"
fi
coral colony start "$ID"
[[ -z $why && ($rc == 0 || $rc == 124 || $err != *"already running (pid $PID)"*) ]] && why="foreground: exit $rc: $err"
e2e_result "start while running (daemon or not) -> 'already running (pid N)', exit 1" "$why"

# ==================================================== 6b. corrupt config file
mkdir -p "$BAD_DIR/colonies"
chmod 700 "$BAD_DIR" "$BAD_DIR/colonies"
BAD=$BAD_DIR/colonies/$ID.yaml
# bad_config NAME NEEDLE: start the colony of $BAD (already edited) -> fails
# naming the file and NEEDLE; the file is unchanged; nothing runs.
bad_config() {
  local name=$1 needle=$2 why=""
  chmod 600 "$BAD"
  cp "$BAD" "$E2E_WORK/bad.orig"
  CORAL_CONFIG_DIR=$BAD_DIR run "$CORAL" colony start "$ID" --daemon
  if ((rc == 0 || rc == 124)); then why="exit status $rc, want 1: $out"
  elif [[ $err != *"$BAD"* ]]; then why="the message does not name $BAD: $err"
  elif [[ $err != *"$needle"* ]]; then why="the message does not name '$needle': $err"
  elif ! cmp -s "$BAD" "$E2E_WORK/bad.orig"; then why="the file was changed"
  elif [[ -n $(pid_of "$BAD_DIR" "$ID") ]] && is_ours "$(pid_of "$BAD_DIR" "$ID")"; then why="a colony runs"
  fi
  e2e_result "bad config: $name -> start fails naming file and field, file unchanged" "$why"
}
sed 's/^\(    mesh_ipv4:\).*/\1 127.42.0/' "$Y" >"$BAD"
bad_config "mesh_ipv4: 127.42.0" wireguard.mesh_ipv4
sed '/^    connect_port:/d' "$Y" >"$BAD"
bad_config "no services.connect_port" services.connect_port
sed 's/^\(    listen_port:\).*/\1 70000/' "$Y" >"$BAD"
bad_config "listen_port: 70000" wireguard.listen_port
sed 's/^\(    register_interval:\).*/\1 soon/' "$Y" >"$BAD"
bad_config "register_interval: soon" discovery.register_interval
sed "s|^\(    public_key:\).*|\1 $(key somebody-else)|" "$Y" >"$BAD"
bad_config "public_key of another private key" wireguard.public_key
sed 's/^\(colony_secret:\).*/\1 short/' "$Y" >"$BAD"
bad_config "colony_secret: short" colony_secret
sed "s/^colony_id: .*/colony_id: someone-else/" "$Y" >"$BAD"
bad_config "colony_id not the file's name" colony_id
sed 's/^\(    mesh_network_ipv4:\).*/\1 127.43.0.0\/16/' "$Y" >"$BAD"
bad_config "mesh_ipv4 outside mesh_network_ipv4" wireguard.mesh_ipv4
printf 'wireguard: [\n\x01\x02 garbage: {{{\n' >"$BAD"
bad_config "garbage" YAML
rm -f "$BAD"

cp "$Y" "$BAD"
chmod 644 "$BAD"
CORAL_CONFIG_DIR=$BAD_DIR run "$CORAL" colony status "$ID"
e2e_result "config file readable by others -> warning naming the file and chmod 600" \
  "$([[ $err == *"warning: $BAD holds secrets"*"chmod 600"* ]] || echo "exit $rc, stderr: $err")"
rm -f "$BAD"

# ===================================================== 6c. discovery outage
lines=$(wc -l <"$LOG")
e2e_stop disc
warned() { tail -n +$((lines + 1)) "$LOG" | grep -q 'discovery registration failed'; }
e2e_wait 6 warned
sleep 2.5 # a few more failed attempts (retried every 1 s)
why=""
warned || why="no 'discovery registration failed' line in the log"
n=$(tail -n +$((lines + 1)) "$LOG" | grep -c 'level=warn msg="discovery registration failed')
[[ -z $why && $n != 1 ]] && why="$n warnings for one outage, want 1"
line=$(tail -n +$((lines + 1)) "$LOG" | grep 'discovery registration failed' | head -n 1)
[[ -z $why && $line != *"$DBASE"* ]] && why="the warning does not name the discovery URL: $line"
e2e_result "discovery down: one warning 'discovery registration failed' naming it" "$why"

call "$COLONY/$COLONY_SVC/GetStatus" '{}'
why=$(why_success)
[[ -z $why ]] && gone "$PID" && why="the colony exited"
[[ -z $why && $(j .colonyId) != "$ID" ]] && why="GetStatus: $body"
e2e_result "discovery down: the colony keeps running and serving" "$why"

coral colony status --json
body=$out
e2e_result "discovery down: colony status exits 0 and reports discovery_error" \
  "$( ((rc == 0)) && [[ $(j .running) == true && -n $(j .discovery_error) ]] || echo "exit $rc: $out $err")"

if e2e_start_server disc "$DISC" --listen "127.0.0.1:$DPORT" 2>"$E2E_WORK/start.err"; then
  e2e_wait 8 lookup
  why=$(why_success)
  [[ -z $why && $(j .meshIpv4) != 127.42.0.1 ]] && why="lookup: $body"
  e2e_result "discovery back: the colony registers again by itself" "$why"
  e2e_wait 3 grep -q 'registered with discovery again' "$LOG"
  e2e_result "log: 'registered with discovery again'" \
    "$(grep -q 'msg="registered with discovery again"' "$LOG" || echo "no such line")"
else
  e2e_fail "discovery back: restart coral-discovery on port $DPORT" "$(cat "$E2E_WORK/start.err")"
fi

# ================================================ 5. stop, restart, persistence
coral colony stop
why=""
if ((rc != 0)); then why="exit status $rc: $out $err"
elif [[ $out != *"✓ Colony $ID stopped"* ]]; then why="stdout: $out"
elif ! gone "$PID"; then why="pid $PID still runs"
elif [[ -e $CORAL_CONFIG_DIR/colonies/$ID.pid ]]; then why="the PID file is still there"
elif ! grep -q 'msg="shutting down" signal=SIGTERM' "$LOG" || ! grep -q 'msg="colony stopped"' "$LOG"; then
  why="no 'shutting down' / 'colony stopped' in the log"
elif [[ -n $PROXY_IP ]] && ! grep -q "msg=\"audit: proxy requests\" peer_id=$PEER_P requests=1 failed=0 " "$LOG"; then
  why="no audit summary of the proxy's 1 call (the agent's call not counted): $(grep 'audit: proxy' "$LOG")"
fi
e2e_result "colony stop: SIGTERM, exit 0, ✓ stopped, PID file removed, logged" "$why"

coral colony status
why=""
((rc == 3)) || why="exit status $rc, want 3"
[[ -z $why && $out != *"Colony: $ID [STOPPED]"* ]] && why="stdout: $out"
e2e_result "colony status of a stopped colony -> STOPPED, exit 3" "$why"

coral colony stop
e2e_result "colony stop of a stopped colony -> 'not running', exit 0" \
  "$( ((rc == 0)) && [[ $out == *"is not running"* ]] || echo "exit $rc: $out $err")"

start_daemon
why=""
((rc == 0)) || why="restart: exit $rc: $err"
if [[ -z $why ]]; then
  register "$SECRET" "$KA" api PEER_KIND_AGENT
  why=$(why_assigned 2)
  [[ -z $why && $(j .peerId) != "$PEER_A" ]] && why="peerId $(j .peerId), want $PEER_A"
fi
e2e_result "restart: re-registering the first key -> the same addresses and peer id" "$why"
register "$SECRET" "$KD" db PEER_KIND_AGENT
e2e_result "restart: a new peer -> the next free address (.6)" "$(why_assigned 6)"

call "$COLONY/$MESH_SVC/Unregister" "{\"peer_id\":\"$PEER_B\",\"wireguard_pubkey\":\"$KB\"}"
why=$(why_success)
if [[ -z $why ]]; then
  register "$SECRET" "$(key agent-e)" cache PEER_KIND_AGENT
  why=$(why_assigned 3)
fi
e2e_result "Unregister releases .3; the next new peer gets it" "$why"

# ================================================== 6d. stale PID file
kill -KILL "$PID"
e2e_wait 5 gone "$PID"
coral colony status --json
body=$out
why=""
((rc == 3)) || why="exit status $rc, want 3: $out"
[[ -z $why && ($(j '.running | tostring') != false || $(j .process) != *stale*) ]] && why="process: $(j .process), running $(j '.running | tostring')"
coral colony list
[[ -z $why && $out != *"stale PID file of pid $PID"* ]] && why="colony list: $out"
e2e_result "kill -9: status says stopped (stale PID file), exit 3" "$why"

lines=$(wc -l <"$LOG")
start_daemon --log-format json --log-level debug
why=""
((rc == 0)) || why="exit $rc: $err"
[[ -z $why && $out != *"running (pid $PID)"* ]] && why="stdout: $out"
if [[ -z $why ]]; then
  register "$SECRET" "$KD" db PEER_KIND_AGENT
  why=$(why_assigned 6)
fi
e2e_result "kill -9: start works again over the stale PID file; assignments kept" "$why"

# (this start logs JSON at debug level)
logged_since() { tail -n +$((lines + 1)) "$LOG" | grep -q "$1"; }
e2e_wait 3 logged_since 'MeshService/Register'
why=$(tail -n +$((lines + 1)) "$LOG" | python3 -c '
import json, sys
objs = []
for n, line in enumerate(sys.stdin, 1):
    if not line.strip(): continue
    try:
        o = json.loads(line)
    except ValueError as e:
        print("line %d is not JSON (%s): %s" % (n, e, line[:200])); sys.exit()
    if not isinstance(o, dict):
        print("line %d is not an object" % n); sys.exit()
    objs.append(o)
msgs = [o.get("msg") for o in objs]
if "colony running" not in msgs:
    print("no colony running line: %s" % msgs); sys.exit()
calls = [o for o in objs if o.get("msg") == "call" and "Register" in str(o.get("procedure"))]
if not calls:
    print("no debug call line for Register: %s" % msgs)
' 2>&1)
e2e_result "--log-format json --log-level debug: JSON lines, a debug 'call' line per request" "$why"

# ============================================ 8. IPv6 in a network namespace
ns_checks() {
  local ns=coral-e2e-$$ nid=e2e-v6 npid dport
  # a discovery inside the namespace, on [::1]
  v6_netns "$ns" fdc0:42::1 || return
  dport=$NS_DPORT
  local -x CORAL_CONFIG_DIR=$NS_DIR
  coral init --app shop --env v6 --colony-id "$nid" --mesh-ipv4-net 127.42.0.0/16 --mesh-ipv6-net fdc0:42::/64 \
    --discovery "http://[::1]:$dport" --register-interval 1s
  ((rc == 0)) || { e2e_fail "ipv6: init" "exit $rc: $err"; return; }
  nsx() { run ip netns exec "$ns" "$CORAL" "$@"; }

  nsx colony start --daemon
  npid=$(pid_of "$NS_DIR" "$nid")
  local why=""
  if ((rc != 0)); then why="exit $rc: $out $err"
  elif [[ $out != *"✓ Colony $nid running (pid $npid)"* || $out != *"127.42.0.1:9000, [fdc0:42::1]:9000"* ]]; then why="stdout: $out"
  elif [[ $out$err == *warning* ]]; then why="a warning: $out $err"
  fi
  e2e_result "ipv6: start --daemon in a netns serves 127.42.0.1:9000 and [fdc0:42::1]:9000" "$why"
  [[ -z $why ]] || return

  out=$(ip netns exec "$ns" curl -sS -g --max-time "$T" -H 'Content-Type: application/json' -d '{}' \
    'http://[fdc0:42::1]:9000/coral.colony.v1.ColonyService/GetStatus' 2>&1)
  body=$out
  e2e_result "ipv6: GetStatus over http://[fdc0:42::1]:9000 -> meshIpv6 fdc0:42::1" \
    "$([[ "$(j .colonyId) $(j .meshIpv6) $(j .meshIpv4)" == "$nid fdc0:42::1 127.42.0.1" ]] || echo "$out")"

  local secret
  secret=$(sed -n 's/^colony_secret: *//p' "$NS_DIR/colonies/$nid.yaml")
  out=$(ip netns exec "$ns" curl -sS -g --max-time "$T" --http2-prior-knowledge -H 'Content-Type: application/json' \
    -d "{\"colony_id\":\"$nid\",\"colony_secret\":\"$secret\",\"wireguard_pubkey\":\"$KA\",\"component_name\":\"api\",\"kind\":\"PEER_KIND_AGENT\"}" \
    'http://[fdc0:42::1]:9000/coral.mesh.v1.MeshService/Register' 2>&1)
  body=$out
  e2e_result "ipv6: Register over IPv6 (h2c) -> 127.42.0.2 / fdc0:42::2" \
    "$([[ "$(j .meshIpv4) $(j .meshIpv6) $(j .meshNetworkIpv6)" == "127.42.0.2 fdc0:42::2 fdc0:42::/64" ]] || echo "$out")"

  ns_lookup() {
    body=$(ip netns exec "$ns" curl -sS -g --max-time "$T" -H 'Content-Type: application/json' \
      -d "{\"mesh_id\":\"$nid\"}" "http://[::1]:$dport/$DISC_SVC/LookupColony" 2>&1)
    [[ $(j .meshIpv6) == fdc0:42::1 ]]
  }
  e2e_wait 5 ns_lookup
  e2e_result "ipv6: discovery on [::1] has the colony's meshIpv6 fdc0:42::1" \
    "$([[ "$(j .meshIpv6) $(j .connectPort)" == "fdc0:42::1 9000" ]] || echo "$body")"

  nsx colony status
  e2e_result "ipv6: colony status in the netns -> RUNNING, exit 0" \
    "$( ((rc == 0)) && [[ $out == *"[RUNNING, pid $npid]"* ]] || echo "exit $rc: $out $err")"

  # Frozen, it holds its PID file but answers nothing: status exits 1 (after
  # its 3 s time-out on each mesh address).
  kill -STOP "$npid"
  nsx colony status
  kill -CONT "$npid"
  e2e_result "ipv6: colony status of a frozen colony -> NOT RESPONDING, exit 1" \
    "$( ((rc == 1)) && [[ $out == *"NOT RESPONDING, pid $npid"* ]] || echo "exit $rc: $out $err")"

  nsx colony stop
  e2e_result "ipv6: colony stop in the netns -> stopped" \
    "$( ((rc == 0)) && [[ $out == *"✓ Colony $nid stopped"* ]] && gone "$npid" || echo "exit $rc: $out $err")"
  e2e_stop nsdisc
}
ns_checks

# ====================================================== the end: stop, clean
coral colony stop
e2e_result "colony stop (final) -> exit 0" "$( ((rc == 0)) && gone "$PID" || echo "exit $rc: $out $err")"
e2e_stop disc

# 7. (SIGTERM while a request is in flight: no slow procedure to hold one
# open from outside, so the drain is left to the unit tests.)

e2e_summary
