#!/usr/bin/env bash
# Black-box tests of what a hostile client or a clumsy operator could do to
# a colony (issue 16, part 4): secrets in parse errors, init --force under a
# running colony, an emptied or hand-edited store, a flood of wrong secrets,
# control characters in logs, per-request audit lines, proxies killed with
# -9, and a config directory others can write to.
#
# Usage: tests/e2e/colony_safety_test.sh [CORAL [CORAL-DISCOVERY]]
#        tests/e2e/colony_safety_test.sh BUILD_DIR
#        (or env CORAL_BIN, CORAL_DISCOVERY; default build/release)
# Prints "ok   NAME" or "FAIL NAME: WHY" per check, then "N passed, M
# failed"; exits 1 on any failure, 77 when a part was skipped (no sqlite3).
# Env: E2E_KEEP=1 keeps the work directory.
#
# Loopback only: colonies on 127.42.0.0/16, discovery on 127.0.0.1. The
# colonies and the proxy run as daemons and are stopped by the PIDs of their
# PID files on exit, however the script exits.
set -uo pipefail

# shellcheck source=tests/e2e/cli_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh" # sources lib.sh; sets here (tests/e2e) and root

coral_binaries "$@"
e2e_need jq curl "$PY"

T=10
MESH_SVC=coral.mesh.v1.MeshService
COLONY_SVC=coral.colony.v1.ColonyService

e2e_init
export CORAL_CONFIG_DIR=$E2E_WORK/config

e2e_daemons # stops the colonies and proxies by their PID files on exit
pid_in() { tr -dc 0-9 2>/dev/null <"$1"; }

yaml_of() { echo "$CORAL_CONFIG_DIR/colonies/$1.yaml"; }
secret_of() { sed -n 's/^colony_secret: *//p' "$(yaml_of "$1")"; }

e2e_start_server disc "$DISC" --listen 127.0.0.1:0 2>"$E2E_WORK/start.err" ||
  e2e_fatal "start coral-discovery" "$(cat "$E2E_WORK/start.err")"
DBASE=http://127.0.0.1:$E2E_PORT
# new_colony ID [INIT-ARGS]: a colony on loopback; sets CPORT.
new_colony() {
  local id=$1
  shift
  CPORT=$(free_port 127.42.0.1)
  coral init --app shop --env e2e --colony-id "$id" --mesh-ipv4-net 127.42.0.0/16 --discovery "$DBASE" \
    --register-interval 1s --connect-port "$CPORT" "$@"
  ((rc == 0)) || e2e_fatal "init $id" "exit $rc: $err"
}

# ============================================ 1. a typo'd colony_secret line
new_colony typo
TYPO_SECRET=$(secret_of typo)
sed -i 's/^colony_secret: /colony_secret:/' "$(yaml_of typo)"
leaks=""
for cmd in "colony start typo" "colony start typo --daemon" "colony list" "colony list --json" \
  "proxy start typo --port $(free_port 127.0.0.1)" "proxy start typo --daemon --port $(free_port 127.0.0.1)"; do
  # shellcheck disable=SC2086 # word splitting wanted
  coral $cmd
  [[ "$out$err" == *"${TYPO_SECRET:0:12}"* ]] && leaks+=" [$cmd]"
  [[ $cmd == "colony list"* ]] || ((rc != 0)) || leaks+=" [$cmd: exit 0]"
done
coral colony list
[[ $out == *"put a space after the colon"* ]] || leaks+=" [colony list does not say what is wrong: $out]"
# Nothing the commands left behind (logs, state) holds it either.
if grep -rlF -- "${TYPO_SECRET:0:12}" "$CORAL_CONFIG_DIR" | grep -v "/colonies/typo.yaml$" >"$E2E_WORK/leaked"; then
  leaks+=" [files: $(tr '\n' ' ' <"$E2E_WORK/leaked")]"
fi
e2e_result "colony_secret:VALUE (no space): start/list/list --json/proxy start never print it, no log keeps it" "$leaks"
rm -f "$(yaml_of typo)"

# ============================================= 2. a running colony, and init
ID=main
new_colony "$ID"
SECRET=$(secret_of "$ID")
COLONY=http://127.42.0.1:$CPORT
LOG=$CORAL_CONFIG_DIR/colonies/$ID.log
DB=$CORAL_CONFIG_DIR/colonies/$ID.db
coral colony start "$ID" --daemon --heartbeat-interval 1s
((rc == 0)) || e2e_fatal "colony start $ID --daemon" "exit $rc: $out $err"

register() { # register SECRET KEY KIND [CURL-ARGS]
  local secret=$1 pubkey=$2 kind=$3
  shift 3
  call "$COLONY/$MESH_SVC/Register" \
    "{\"colony_id\":\"$ID\",\"colony_secret\":\"$secret\",\"wireguard_pubkey\":\"$pubkey\",\"component_name\":\"c\",\"kind\":\"$kind\"}" "$@"
}
register "$SECRET" "$(key agent-one)" PEER_KIND_AGENT
[[ $http == 200 ]] || e2e_fatal "Register an agent" "$(why_success)"

cp "$(yaml_of "$ID")" "$E2E_WORK/main.yaml"
sqlite3 "$DB" .dump >"$E2E_WORK/main.before" 2>/dev/null
coral init --app shop --env e2e --colony-id "$ID" --mesh-ipv4-net 127.42.0.0/16 --force
why=""
if ((rc != 1)); then why="exit $rc, want 1: $out $err"
elif [[ $err != *"colony $ID is running (pid "* || $err != *"coral colony stop $ID"* ]]; then why="stderr: $err"
elif ! cmp -s "$(yaml_of "$ID")" "$E2E_WORK/main.yaml"; then why="the colony file changed"
elif [[ ! -s $DB ]]; then why="the store is gone"
elif command -v sqlite3 >/dev/null && [[ $(sqlite3 "$DB" "SELECT count(*) FROM peers") != 1 ]]; then
  why="the store lost its peer"
fi
e2e_result "init --force on a running colony: refused (exit 1, says stop it first), file and store intact" "$why"

# ====================================== 3. control characters from a client
# A wrong colony id is logged (clipped): ESC [2J, BEL, DEL, U+009B (CSI).
call "$COLONY/$MESH_SVC/Register" \
  '{"colony_id":"evil\u001b[2J\u0007\u007f\u009bid","colony_secret":"x","wireguard_pubkey":"k"}'
why=$(why_error not_found 404)
if [[ -z $why ]]; then
  e2e_wait 3 grep -q 'register refused: wrong colony' "$LOG"
  line=$(grep -a 'register refused: wrong colony' "$LOG" | tail -n 1)
  if LC_ALL=C grep -aq $'[\x01-\x08\x0b-\x1f\x7f]' "$LOG"; then why="raw C0/DEL bytes in the log"
  elif LC_ALL=C grep -aq $'\xc2[\x80-\x9f]' "$LOG"; then why="a raw C1 character in the log"
  elif [[ $line != *'evil\u001b[2J\u0007\u007f\u009bid'* ]]; then why="not escaped as \\u00XX: $line"
  fi
fi
e2e_result "ESC, BEL, DEL and C1 from a client are escaped in the colony's log" "$why"

# ================================= 4. proxied calls, heartbeats and kill -9
have_proxy=1
P=$(free_port 127.0.0.1)
coral proxy start "$ID" --port "$P" --daemon
if ((rc != 0)); then
  have_proxy=0
  e2e_fail "proxy start $ID --daemon" "exit $rc: $out $err"
fi
if ((have_proxy)); then
  PROXY_PID=$(pid_in "$CORAL_CONFIG_DIR/proxies/$ID.pid")
  "$PY" - "http://127.0.0.1:$P/$COLONY_SVC/GetStatus" >"$E2E_WORK/calls" 2>&1 <<'EOF'
import http.client, sys, urllib.parse
url = urllib.parse.urlsplit(sys.argv[1])
conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
ok = 0
for _ in range(300):
    conn.request("POST", url.path, body=b"{}", headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    response.read()
    ok += response.status == 200
print(ok)
EOF
  calls=$(cat "$E2E_WORK/calls")
  per_request=$(grep -ac 'level=info msg="audit: proxy request"' "$LOG")
  why=""
  [[ $calls == 300 ]] || why="300 calls through the proxy: $calls succeeded"
  ((per_request == 0)) || why="$per_request per-request audit lines at info for 300 calls"
  e2e_result "300 proxied calls: no per-request audit line at the default level" "$why"

  # The proxy heartbeats: with 1 s intervals it is still registered after 6 s
  # (4 missed intervals expire a proxy).
  sleep 6
  why=""
  grep -aq 'audit: peer expired' "$LOG" && why="a heartbeating proxy expired: $(grep -a 'peer expired' "$LOG")"
  e2e_result "a running proxy heartbeats and is not expired" "$why"

  kill -KILL "$PROXY_PID"
  e2e_wait 10 grep -q 'audit: peer expired' "$LOG"
  why=""
  line=$(grep -a 'audit: peer expired' "$LOG" | head -n 1)
  if [[ -z $line ]]; then why="no 'peer expired' line within 10 s of kill -9"
  elif [[ $line != *"kind=proxy"* || $line != *"mesh_ipv4=127.42.0.3"* ]]; then why="$line"
  else
    # Its address is free again: the next new peer gets it.
    register "$SECRET" "$(key agent-two)" PEER_KIND_AGENT --interface 127.0.0.2
    [[ $(j .meshIpv4) == 127.42.0.3 ]] || why="the next peer got $(j .meshIpv4), not the expired 127.42.0.3: $body"
  fi
  e2e_result "a proxy killed with -9 expires (audit line) and its address is reused" "$why"
  rm -f "$CORAL_CONFIG_DIR/proxies/$ID.pid" "$CORAL_CONFIG_DIR/proxies/$ID.yaml"
fi

# ======================================= 5. a flood of wrong colony secrets
before=$(grep -ac 'register refused' "$LOG")
"$PY" - "$COLONY/$MESH_SVC/Register" "$ID" >"$E2E_WORK/flood" 2>&1 <<'EOF'
import http.client, json, sys, urllib.parse
url = urllib.parse.urlsplit(sys.argv[1])
conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
codes = {}
for i in range(5000):
    body = json.dumps({"colony_id": sys.argv[2], "colony_secret": "guess-%040d" % i,
                       "wireguard_pubkey": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}).encode()
    conn.request("POST", url.path, body=body, headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    code = json.loads(response.read() or b"{}").get("code", "ok")
    codes[code] = codes.get(code, 0) + 1
print(codes.get("permission_denied", 0), codes.get("resource_exhausted", 0))
EOF
read -r unauth limited <"$E2E_WORK/flood"
register "$SECRET" "$(key agent-three)" PEER_KIND_AGENT
later=$(j .code)
register "$SECRET" "$(key agent-three)" PEER_KIND_AGENT --interface 127.0.0.2
other=$http
e2e_wait 15 grep -q 'register refused [0-9]* more times from 127.0.0.1' "$LOG"
lines=$(($(grep -ac 'register refused' "$LOG") - before))
why=""
if [[ -z ${unauth:-} || -z ${limited:-} ]]; then why="the flood did not run: $(cat "$E2E_WORK/flood")"
elif ((unauth != 10 || limited != 4990)); then why="$unauth permission_denied, $limited resource_exhausted of 5000, want 10 and 4990"
elif [[ $later != resource_exhausted ]]; then why="the right secret from the flooding address right after: '$later'"
elif [[ $other != 200 ]]; then why="another address was refused too: HTTP $other"
elif ((lines > 5)); then why="$lines log lines about wrong secrets for 5000 attempts"
elif ! grep -aq 'register refused [0-9]* more times from 127.0.0.1 in the last .* wrong_secret=9 wrong_colony=0 rate_limited=499[01]' "$LOG"; then
  why="no summary line: $(grep -a 'more times' "$LOG")"
fi
e2e_result "5000 wrong secrets: $lines log lines, later attempts from that address refused, others served" "$why"

# ===================================== 6. the store: emptied, hand-edited
new_colony empty
: >"$CORAL_CONFIG_DIR/colonies/empty.db"
coral colony start empty --daemon
why=""
if ((rc == 0)); then why="started (exit 0)"
elif [[ $err != *"$CORAL_CONFIG_DIR/colonies/empty.db: the file is empty"* ]]; then why="stderr: $err"
elif [[ -s $CORAL_CONFIG_DIR/colonies/empty.db ]]; then why="the file was written to"
fi
e2e_result "an empty store file: colony start fails, naming the file, and leaves it empty" "$why"

if command -v sqlite3 >/dev/null; then
  coral colony stop "$ID"
  sqlite3 "$DB" "UPDATE peers SET mesh_ipv4 = '127.42.0.2' WHERE mesh_ipv4 != '127.42.0.2'" 2>"$E2E_WORK/sqlite.err"
  coral colony start "$ID" --daemon --heartbeat-interval 1s
  why=""
  if ((rc == 0)); then why="started (exit 0)"
  elif [[ $err != *"$DB: peers "*" both hold mesh address 127.42.0.2"* ]]; then why="stderr: $err"
  fi
  e2e_result "a store with duplicate mesh addresses: colony start refuses, naming the file" "$why"
else
  e2e_skip "a store with duplicate mesh addresses" "sqlite3 is not installed"
fi

# ======================================== 7. a config dir others can write
chmod 0777 "$CORAL_CONFIG_DIR"
coral colony list
why=""
[[ $err == *"warning: $CORAL_CONFIG_DIR is writable by group and others (mode 0777)"* ]] || why="stderr: $err"
chmod 0700 "$CORAL_CONFIG_DIR"
coral colony list
[[ -z $why && $err == *"writable by"* ]] && why="still warns at 0700: $err"
e2e_result "a world-writable config dir: commands warn (and not at 0700)" "$why"

e2e_summary
