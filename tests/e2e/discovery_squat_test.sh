#!/usr/bin/env bash
# Issue 16 §2: discovery must not decide where the colony secret goes.
#
#   1. proof of possession: a registration without a proof, or with the
#      victim's public key but a proof made without its private key, is
#      refused (unauthenticated) and not stored;
#   2. a squatter colony (its own key) holds the victim's mesh id first: the
#      real colony is refused, and `coral colony status` says REFUSED and why
#      (text and --json), not "registered";
#   3. pinning: `coral proxy start victim` against a discovery answer with
#      another key refuses, naming both keys, and never connects to the
#      squatter's address (a fake colony on 127.42.77.1 records every
#      connection); with the right key but the squatter's address, the proxy
#      dials only the local config's address;
#   4. limits: a flood of maximal-metadata registrations stops at
#      --max-store-bytes with resource_exhausted, RSS stays bounded and comes
#      back after the leases expire; a source over --register-rate is refused.
#
# Loopback only: discovery on 127.0.0.1, colonies on 127.42.0.0/16 (victim)
# and 127.43.0.0/16 (squatter), the fake colony on 127.42.77.1.
#
# Usage: tests/e2e/discovery_squat_test.sh [BUILD_DIR | CORAL DISCOVERY PROXY]

set -u
# shellcheck source=tests/e2e/cli_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh" # sources lib.sh; sets here (tests/e2e) and root

coral_binaries "$@"
e2e_need jq curl "$PY"

T=10
SVC=coral.discovery.v1.DiscoveryService
e2e_init
VDIR=$E2E_WORK/victim   # the real colony's machine
SDIR=$E2E_WORK/squatter # the squatter's
export CORAL_CONFIG_DIR=$VDIR

# The colonies and proxies are daemons: on exit, each is stopped by the PID
# in its file, if that PID is still our coral binary.
e2e_daemons
yval() { sed -n "s/^ *$2: *//p" "$1" | head -n 1 | sed -e 's/^"\(.*\)"$/\1/'; } # yval FILE KEY (second level)

# ------------------------------------------------------------ discovery
e2e_start_server disc "$DISC" --listen 127.0.0.1:0 2>"$E2E_WORK/start.err" ||
  e2e_fatal "start coral-discovery" "$(cat "$E2E_WORK/start.err")"
DBASE=http://127.0.0.1:$E2E_PORT

# ====================================================== 1. proof of possession
V_PORT=$(free_port 127.42.0.1)
coral init --app shop --env prod --colony-id victim --mesh-ipv4-net 127.42.0.0/16 --discovery "$DBASE" \
  --register-interval 1s --connect-port "$V_PORT"
((rc == 0)) || e2e_fatal "init the victim colony" "exit $rc: $err"
VKEY=$(yval "$VDIR/colonies/victim.yaml" public_key)
[[ ${#VKEY} == 44 ]] || e2e_fatal "victim's public key" "got '$VKEY'"
reg_json() { # reg_json KEY IPV4 PORT [EXTRA]: a registration of mesh id victim
  echo "{\"mesh_id\":\"victim\",\"wireguard_pubkey\":\"$1\",\"mesh_ipv4\":\"$2\",\"mesh_ipv6\":\"fdc0:77::1\",\"connect_port\":$3${4:-}}"
}

call "$DBASE/$SVC/RegisterColony" "$(reg_json "$VKEY" 127.42.77.1 9000)"
why=$(why_error unauthenticated 401)
[[ -z $why && $body != *"proof of possession"* ]] && why="message does not mention the proof: $body"
e2e_result "squatter with the victim's key and no proof -> unauthenticated" "$why"

call "$DBASE/$SVC/GetRegistrationChallenge" "{\"mesh_id\":\"victim\",\"wireguard_pubkey\":\"$VKEY\"}"
CHALLENGE=$(j .challenge)
why=$(why_success)
[[ -z $why && -z $CHALLENGE ]] && why="no challenge: $body"
[[ -z $why && $(j .discoveryPubkey | wc -c) != 45 ]] && why="no discovery key: $body"
e2e_result "GetRegistrationChallenge -> a challenge and discovery's key" "$why"
FORGED=$(head -c 32 /dev/urandom | base64 -w0)
call "$DBASE/$SVC/RegisterColony" "$(reg_json "$VKEY" 127.42.77.1 9000 ",\"challenge\":\"$CHALLENGE\",\"proof\":\"$FORGED\"")"
why=$(why_error unauthenticated 401)
[[ -z $why && $body != *"does not hold the private key"* ]] && why="message: $body"
e2e_result "squatter with the victim's public key but not its private key -> unauthenticated" "$why"

call "$DBASE/$SVC/LookupColony" '{"mesh_id":"victim"}'
e2e_result "... and nothing was stored (lookup -> not_found)" "$(why_error not_found 404)"

# ======================================== 2. a squatter colony holds it first
S_PORT=$(free_port 127.43.0.1)
CORAL_CONFIG_DIR=$SDIR coral init --app shop --env prod --colony-id victim --mesh-ipv4-net 127.43.0.0/16 \
  --discovery "$DBASE" --register-interval 1s --connect-port "$S_PORT"
((rc == 0)) || e2e_fatal "init the squatter colony" "exit $rc: $err"
SKEY=$(yval "$SDIR/colonies/victim.yaml" public_key)
CORAL_CONFIG_DIR=$SDIR coral colony start victim --daemon
((rc == 0)) || e2e_fatal "start the squatter colony" "exit $rc: $out $err"
squatter_holds() {
  call "$DBASE/$SVC/LookupColony" '{"mesh_id":"victim"}'
  [[ $http == 200 && $(j .wireguardPubkey) == "$SKEY" ]]
}
e2e_wait 10 squatter_holds
e2e_result "a squatter with its own key registers the mesh id first (proven)" \
  "$([[ $(j .wireguardPubkey) == "$SKEY" && $(j .proven) == true ]] || echo "$body")"

coral colony start victim --daemon
((rc == 0)) || e2e_fatal "start the victim colony" "exit $rc: $out $err"
refused() {
  coral colony status victim
  [[ $out == *"REFUSED"* ]]
}
e2e_wait 10 refused
why=""
if [[ $out != *"Discovery: REFUSED by $DBASE (already_exists)"* ]]; then why="status: $out $err"
elif [[ $out == *"registered at"* ]]; then why="status still says registered: $out"
fi
e2e_result "the real colony is refused, and colony status says REFUSED (already_exists) and why" "$why"
coral colony status victim --json
body=$out
why=""
if [[ $(j .registration.state) != refused || $(j .registration.code) != already_exists ]]; then why="json: $out"
elif [[ $(j .registration.reason) != *"another WireGuard key"* ]]; then why="reason: $out"
elif [[ $(jq -r .discovery_key_matches <<<"$out") != false ]]; then why="discovery_key_matches: $out"
fi
e2e_result "colony status --json: registration.state refused, code, reason; discovery_key_matches false" "$why"

# The squatter leaves; the victim's next try (backoff <= 1 s) registers.
CORAL_CONFIG_DIR=$SDIR coral colony stop victim
registered() {
  coral colony status victim
  [[ $out == *"Discovery: registered at $DBASE as victim"* ]]
}
# The squatter's lease (300 s) outlives it: a fresh discovery shows the rest.
e2e_stop disc
e2e_start_server disc "$DISC" --listen "127.0.0.1:${DBASE##*:}" 2>"$E2E_WORK/start.err" ||
  e2e_fatal "restart coral-discovery" "$(cat "$E2E_WORK/start.err")"
e2e_wait 15 registered
e2e_result "the real colony registers (proven) and colony status says registered" \
  "$([[ $out == *"registered at $DBASE as victim"* && $out != *unproven* ]] || echo "$out $err")"

# ============================================================= 3. pinning
# A discovery that stores unproven records (as for older colonies), where
# the squatter announces its fake colony.
e2e_start_server lax "$DISC" --listen 127.0.0.1:0 --accept-unproven 2>"$E2E_WORK/start.err" ||
  e2e_fatal "start coral-discovery --accept-unproven" "$(cat "$E2E_WORK/start.err")"
LAX=http://127.0.0.1:$E2E_PORT
FAKE_PORT=$(free_port 127.42.77.1)
FAKE_LOG=$E2E_WORK/fake-colony.connections
: >"$FAKE_LOG"
# The fake colony: accepts TCP on 127.42.77.1 and writes one line per
# connection, with what it received (a Register would carry the secret).
e2e_start fake "$PY" -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.42.77.1", int(sys.argv[1])))
s.listen(16)
while True:
    c, peer = s.accept()
    c.settimeout(2)
    data = b""
    try:
        while len(data) < 65536:
            chunk = c.recv(4096)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    with open(sys.argv[2], "a") as log:
        log.write("connection from %s:%d, %d bytes\n" % (peer[0], peer[1], len(data)))
    c.close()
' "$FAKE_PORT" "$FAKE_LOG"
fake_up() { (exec 3<>"/dev/tcp/127.42.77.1/$FAKE_PORT") 2>/dev/null; }
e2e_wait 5 fake_up || e2e_fatal "fake colony on 127.42.77.1:$FAKE_PORT" "$(cat "$E2E_WORK/fake.log")"
sleep 2.5 # the probe's connection is logged after its 2 s read timeout
: >"$FAKE_LOG"

call "$LAX/$SVC/RegisterColony" "$(reg_json "$SKEY" 127.42.77.1 "$FAKE_PORT")"
e2e_result "lax discovery: squatter registers victim with its key and the fake address" "$(why_success)"
P1=$(free_port 127.0.0.1)
coral proxy start victim --port "$P1" --discovery "$LAX"
why=""
if ((rc == 0)); then why="exit 0, want an error: $out"
elif [[ $err != *"with WireGuard key $SKEY"* || $err != *"pins key $VKEY"* ]]; then why="error does not name both keys: $err"
elif [[ $err != *"refusing to connect or to send it the colony secret"* ]]; then why="error: $err"
fi
e2e_result "proxy start: discovery answers with another key -> refused, naming both keys" "$why"
sleep 2.5
e2e_result "... and the squatter's address got no connection (no Register, no secret)" \
  "$([[ ! -s $FAKE_LOG ]] || cat "$FAKE_LOG")"

# An operator who knows the colony's key reserves its mesh id.
e2e_start_server res "$DISC" --listen 127.0.0.1:0 --accept-unproven --reserve "victim=$VKEY" \
  2>"$E2E_WORK/start.err" || e2e_fatal "start coral-discovery --reserve" "$(cat "$E2E_WORK/start.err")"
RES=http://127.0.0.1:$E2E_PORT
call "$RES/$SVC/RegisterColony" "$(reg_json "$SKEY" 127.42.77.1 "$FAKE_PORT")"
why=$(why_error permission_denied 403)
[[ -z $why && $body != *"reserved for WireGuard key $VKEY"* ]] && why="message: $body"
e2e_result "--reserve victim=KEY: the squatter cannot hold the mesh id first (permission_denied)" "$why"
e2e_stop res

# The victim's real key, but the squatter's address.
e2e_stop lax
e2e_start_server lax "$DISC" --listen "127.0.0.1:${LAX##*:}" --accept-unproven 2>"$E2E_WORK/start.err" ||
  e2e_fatal "restart lax discovery" "$(cat "$E2E_WORK/start.err")"
call "$LAX/$SVC/RegisterColony" "$(reg_json "$VKEY" 127.42.77.1 "$FAKE_PORT")"
e2e_result "lax discovery: squatter registers victim with the victim's key and the fake address" "$(why_success)"
coral proxy start victim --port "$P1" --discovery "$LAX" --daemon
PXPID=$(tr -dc 0-9 2>/dev/null <"$VDIR/proxies/victim.pid")
why=""
if ((rc != 0)); then why="exit $rc: $out $err"
elif [[ "$out$err" != *"announced other mesh addresses"* ]]; then why="no warning about the announced address: $out $err"
fi
e2e_result "proxy start: right key, other address -> uses the local config's address, with a warning" "$why"
coral proxy status
e2e_result "... it forwards to the local config's address 127.42.0.1:$V_PORT" \
  "$([[ $out == *"127.42.0.1:$V_PORT"* ]] || echo "$out $err")"
sleep 2.5
e2e_result "... and the squatter's address got no connection" "$([[ ! -s $FAKE_LOG ]] || cat "$FAKE_LOG")"
[[ -n $PXPID ]] && coral proxy stop victim

# ============================================================== 4. limits
# Records with the largest metadata (32 x 63-byte keys, 256-byte values),
# as fast as one HTTP/1.1 connection goes, against --max-store-bytes 8M.
e2e_start_server flood "$DISC" --listen 127.0.0.1:0 --accept-unproven --max-store-bytes 8M --ttl 3s \
  --cleanup-interval 1s --register-rate 0 2>"$E2E_WORK/start.err" ||
  e2e_fatal "start coral-discovery with low limits" "$(cat "$E2E_WORK/start.err")"
FLOOD_PORT=$E2E_PORT
FPID=${E2E_PIDS[flood]}
flood() { # flood PREFIX COUNT: prints "stored refused first_refusal_code"
  "$PY" - "$FLOOD_PORT" "$1" "$2" <<'EOF'
import http.client, json, sys
port, prefix, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
meta = {("k%02d" % i) + "x" * 60: "v" * 256 for i in range(32)}
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
stored = refused = 0
code = ""
for i in range(count):
    body = json.dumps({"mesh_id": "%s%06d" % (prefix, i), "wireguard_pubkey": "A" * 43 + "=",
                       "public_endpoints": ["192.0.2.1:41820"], "metadata": meta})
    conn.request("POST", "/coral.discovery.v1.DiscoveryService/RegisterColony", body,
                 {"Content-Type": "application/json"})
    r = conn.getresponse()
    data = r.read()
    if r.status == 200:
        stored += 1
    else:
        refused += 1
        if not code:
            code = json.loads(data).get("code", "?")
print(stored, refused, code or "-")
EOF
}
RSS0=$(rss_kb "$FPID")
read -r STORED REFUSED CODE <<<"$(flood a 2000)"
RSS1=$(rss_kb "$FPID")
why=""
if [[ $CODE != resource_exhausted ]]; then why="first refusal '$CODE', want resource_exhausted ($STORED stored, $REFUSED refused)"
elif ((STORED < 500 || STORED > 850)); then why="$STORED stored, want 8 MiB / ~10.6 KB = ~790 or a little fewer"
fi
e2e_result "flood: 2000 maximal records -> $STORED stored, the rest resource_exhausted (--max-store-bytes 8M)" "$why"
e2e_result "flood: RSS bounded (${RSS0} kB -> ${RSS1} kB)" "$( ((RSS1 - RSS0 < 40000)) || echo "grew by $((RSS1 - RSS0)) kB")"
sleep 5 # leases of 3 s, purged every second
RSS2=$(rss_kb "$FPID")
e2e_result "flood: memory back after the leases expire (${RSS1} kB -> ${RSS2} kB, started at ${RSS0} kB)" \
  "$( ((RSS2 - RSS0 < 8000)) || echo "still $((RSS2 - RSS0)) kB over the start")"
read -r STORED2 _ CODE2 <<<"$(flood b 100)"
e2e_result "flood: after expiry there is room again" "$( ((STORED2 == 100)) || echo "$STORED2 stored, $CODE2")"

e2e_start_server rate "$DISC" --listen 127.0.0.1:0 --accept-unproven --register-rate 5 --register-burst 10 \
  2>"$E2E_WORK/start.err" || e2e_fatal "start coral-discovery --register-rate 5" "$(cat "$E2E_WORK/start.err")"
FLOOD_PORT=$E2E_PORT
read -r STORED REFUSED CODE <<<"$(flood r 30)"
e2e_result "rate: 30 quick registrations from one source -> $STORED stored, $REFUSED resource_exhausted" \
  "$( ((STORED >= 10 && STORED <= 13 && REFUSED == 30 - STORED)) && [[ $CODE == resource_exhausted ]] ||
    echo "$STORED stored, $REFUSED refused, first refusal $CODE")"

e2e_summary
