#!/usr/bin/env bash
# Black-box tests of the colony's local admin socket and the commands that
# use it: `coral colony peers [--json]`, `coral colony peers add` (the
# wg-quick file of a device added by hand) and `coral colony revoke`.
#
# Usage: tests/e2e/colony_admin_test.sh [CORAL [CORAL-DISCOVERY]]
#        tests/e2e/colony_admin_test.sh BUILD_DIR
#        (or env CORAL_BIN, CORAL_DISCOVERY; default build/release)
# Prints "ok   NAME" or "FAIL NAME: WHY" per check, then "N passed, M
# failed"; exits 1 on any failure, else 0.
# Env: E2E_KEEP=1 keeps the work directory.
#
# Unprivileged and loopback only: the colony on 127.42.0.0/16 with the host
# transport, discovery on 127.0.0.1. The colony runs as a daemon and is
# stopped by the PID of its PID file on exit, however the script exits.
set -uo pipefail

# shellcheck source=tests/e2e/cli_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh" # sources lib.sh; sets here (tests/e2e) and root

coral_binaries "$@"
e2e_need jq curl python3

T=10
e2e_init
export CORAL_CONFIG_DIR=$E2E_WORK/config
e2e_daemons # stops the colony by its PID file on exit

mode_of() { stat -c %a "$1" 2>/dev/null; }
# conf_value FILE KEY: the value of the first "KEY = value" line of a wg-quick file.
conf_value() { sed -n "s/^$2 = //p" "$1" | head -n1; }

e2e_start_server disc "$DISC" --listen 127.0.0.1:0 2>"$E2E_WORK/start.err" ||
  e2e_fatal "start coral-discovery" "$(cat "$E2E_WORK/start.err")"
DBASE=http://127.0.0.1:$E2E_PORT
ID=e2e-admin
CPORT=$(free_port 127.42.0.1)
coral init --app shop --env e2e --colony-id "$ID" --mesh-ipv4-net 127.42.0.0/16 --discovery "$DBASE" \
  --register-interval 1s --connect-port "$CPORT"
((rc == 0)) || e2e_fatal "init $ID" "exit $rc: $err"
Y=$CORAL_CONFIG_DIR/colonies/$ID.yaml
SOCK=$CORAL_CONFIG_DIR/colonies/$ID.sock
COLONY_KEY=$(sed -n 's/^ *public_key: *//p' "$Y" | head -n1)
V6NET=$(sed -n 's/^ *mesh_network_ipv6: *//p' "$Y" | head -n1)
V6PREFIX=${V6NET%::/64}

# ============================================ 1. a stopped colony
coral colony peers
why=""
if ((rc != 1)); then why="exit status $rc, want 1: $out $err"
elif [[ $err != *"colony $ID is not running"* || $err != *"coral colony start $ID"* ]]; then why="stderr: $err"
fi
e2e_result "peers on a stopped colony: exit 1, says it is not running and how to start it" "$why"

# ============================================ 2. the socket
coral colony start --daemon --public-endpoint 203.0.113.7:41820 --public-endpoint colony.example:41820
((rc == 0)) || e2e_fatal "colony start" "exit $rc: $out $err"
why=""
if [[ ! -S $SOCK ]]; then why="no socket at $SOCK"
elif [[ $(mode_of "$SOCK") != 600 ]]; then why="mode $(mode_of "$SOCK"), want 600"
fi
e2e_result "start: admin socket colonies/<id>.sock, mode 0600" "$why"

coral colony peers
why=""
if ((rc != 0)); then why="exit status $rc: $err"
elif [[ $out != "No peers."* ]]; then why="stdout: $out"
fi
e2e_result "peers: a new colony has none" "$why"

# ============================================ 3. peers add
KEYFILE=$E2E_WORK/laptop.key
(umask 077 && "$CORAL" wg genkey >"$KEYFILE")
LAPTOP_KEY=$("$CORAL" wg pubkey <"$KEYFILE")
coral colony peers add laptop --pubkey "$LAPTOP_KEY"
printf '%s\n' "$out" >"$E2E_WORK/laptop.conf"
why=""
if ((rc != 0)); then why="exit status $rc: $err"
elif [[ $(conf_value "$E2E_WORK/laptop.conf" Address) != "127.42.0.2/16, ${V6PREFIX}::2/64" ]]; then
  why="Address '$(conf_value "$E2E_WORK/laptop.conf" Address)', want 127.42.0.2/16, ${V6PREFIX}::2/64: $out"
elif [[ $(conf_value "$E2E_WORK/laptop.conf" PublicKey) != "$COLONY_KEY" ]]; then why="PublicKey is not the colony's: $out"
elif [[ $(conf_value "$E2E_WORK/laptop.conf" AllowedIPs) != "127.42.0.0/16, $V6NET" ]]; then why="AllowedIPs: $out"
elif [[ $(conf_value "$E2E_WORK/laptop.conf" Endpoint) != "203.0.113.7:41820" ]]; then why="Endpoint: $out"
elif [[ $(conf_value "$E2E_WORK/laptop.conf" PersistentKeepalive) != 25 ]]; then why="PersistentKeepalive: $out"
elif [[ $out != *"# PrivateKey = <the private key of $LAPTOP_KEY>"* ]]; then why="no PrivateKey comment: $out"
elif grep -q "^PrivateKey" "$E2E_WORK/laptop.conf"; then why="a PrivateKey without --private-key-file: $out"
fi
e2e_result "peers add NAME --pubkey: a wg-quick file with the device's Address, the colony's key, endpoint, AllowedIPs" "$why"

coral colony peers add phone --private-key-file "$KEYFILE"
why=""
if ((rc != 1)); then why="exit status $rc, want 1 (the key is the laptop's): $out $err"
elif [[ $err != *"already registered"* ]]; then why="stderr: $err"
fi
e2e_result "peers add with a key already registered: exit 1, already registered" "$why"

PHONE_KEYFILE=$E2E_WORK/phone.key
(umask 077 && "$CORAL" wg genkey >"$PHONE_KEYFILE")
coral colony peers add phone --private-key-file "$PHONE_KEYFILE" --out "$E2E_WORK/phone.conf"
why=""
if ((rc != 0)); then why="exit status $rc: $err"
elif [[ $(mode_of "$E2E_WORK/phone.conf") != 600 ]]; then why="--out file mode $(mode_of "$E2E_WORK/phone.conf")"
elif [[ $(conf_value "$E2E_WORK/phone.conf" PrivateKey) != "$(cat "$PHONE_KEYFILE")" ]]; then why="no PrivateKey"
elif [[ $(conf_value "$E2E_WORK/phone.conf" Address) != "127.42.0.3/16, ${V6PREFIX}::3/64" ]]; then why="Address"
elif [[ $out != *"Device phone added"* ]]; then why="stdout: $out"
fi
e2e_result "peers add --private-key-file --out: the key embedded, the file mode 0600" "$why"
if pgrep -af -- "$(cat "$PHONE_KEYFILE")" >/dev/null 2>&1; then
  e2e_fail "the private key is in no process's arguments" "found by pgrep"
fi

coral colony peers add Bad/Name --pubkey "$LAPTOP_KEY"
e2e_result "peers add with a bad NAME: exit 2 (usage)" "$( ((rc == 2)) || echo "exit $rc: $err")"

# ============================================ 4. peers, --json
coral colony peers
why=""
if ((rc != 0)); then why="exit status $rc: $err"
elif ! grep -q "^NAME .*KIND .*IPV4 .*IPV6 .*ENDPOINT .*LATEST HANDSHAKE .*TRANSFER" <<<"$out"; then why="no header: $out"
elif ! grep -q "^laptop .* device .*manual .*127.42.0.2 .*${V6PREFIX}::2 " <<<"$out"; then why="no laptop line: $out"
elif ! grep -q "^phone .* device .*127.42.0.3 " <<<"$out"; then why="no phone line: $out"
fi
e2e_result "peers: a table with both devices, their kind and addresses" "$why"

coral colony peers --json
body=$out
why=""
if ((rc != 0)); then why="exit status $rc: $err"
elif ! jq -e . >/dev/null 2>&1 <<<"$out"; then why="not JSON: $out"
elif [[ $(j '.peers | length') != 2 ]]; then why="peers: $out"
elif [[ $(j '.peers[0].name') != laptop || $(j '.peers[0].kind') != device ]]; then why="first peer: $out"
elif [[ $(j '.peers[0].wireguard_pubkey') != "$LAPTOP_KEY" || $(j '.peers[0].mesh_ipv4') != 127.42.0.2 ]]; then
  why="first peer's key or address: $out"
elif [[ $(j .colony_id) != "$ID" ]]; then why="colony_id: $out"
fi
e2e_result "peers --json: ListPeersResponse as JSON (jq reads it)" "$why"

# ============================================ 5. revoke
coral colony revoke laptop
why=""
if ((rc != 0)); then why="exit status $rc: $err"
elif [[ $out != *"Revoked device laptop"* || $out != *"127.42.0.2"* ]]; then why="stdout: $out"
fi
e2e_result "revoke NAME: says what was revoked" "$why"
coral colony peers --json
body=$out
e2e_result "revoke: the peer is gone" "$( [[ $(j '[.peers[].name] | join(",")') == phone ]] || echo "$out")"

NEWKEY=$("$CORAL" wg genkey | "$CORAL" wg pubkey)
coral colony peers add tablet --pubkey "$NEWKEY"
e2e_result "revoke frees the addresses: the next peer gets 127.42.0.2 again" \
  "$( ((rc == 0)) && [[ $out == *"Address = 127.42.0.2/16"* ]] || echo "exit $rc: $out $err")"

PHONE_ID=$(jq -r '.peers[] | select(.name == "phone") | .peer_id' <<<"$body")
coral colony revoke "$PHONE_ID"
e2e_result "revoke PEER-ID" "$( ((rc == 0)) && [[ $out == *"Revoked device phone"* ]] || echo "exit $rc: $out $err")"
coral colony revoke "$NEWKEY"
e2e_result "revoke PUBKEY" "$( ((rc == 0)) && [[ $out == *"Revoked device tablet"* ]] || echo "exit $rc: $out $err")"
coral colony revoke laptop
e2e_result "revoke of nobody: exit 1, not found" \
  "$( ((rc == 1)) && [[ $err == *"no peer of this colony"* ]] || echo "exit $rc: $out $err")"

# ============================================ 6. stopped again
coral colony stop
((rc == 0)) || e2e_fail "colony stop" "exit $rc: $err"
e2e_result "stop: the admin socket is removed" "$( [[ ! -e $SOCK ]] || echo "$SOCK is still there")"
coral colony revoke laptop
e2e_result "revoke on a stopped colony: exit 1, not running" \
  "$( ((rc == 1)) && [[ $err == *"is not running"* ]] || echo "exit $rc: $out $err")"
coral colony peers --help
e2e_result "peers --help" "$( ((rc == 0)) && [[ $out == *"add"* ]] || echo "exit $rc: $out $err")"

e2e_summary
