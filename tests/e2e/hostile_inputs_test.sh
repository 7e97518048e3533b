#!/usr/bin/env bash
# What held up under hostile input, kept so (issue 16): against each server
# coral runs — coral-discovery, a colony, a local proxy — fifty-one hostile
# HTTP/1.1 inputs answered with the status each calls for
# (tools/h1_hostile.py), and single-connection HTTP/2 floods (rapid reset,
# SETTINGS, PING, CONTINUATION, more streams than the server allows, an
# HPACK bomb: tools/h2_floods.py) that end in the server closing the
# connection or resetting the stream, after each of which the server still
# answers a normal request.
#
# Usage: tests/e2e/hostile_inputs_test.sh [BUILD_DIR]   (default build/release)
# Prints "ok   NAME" / "FAIL NAME: WHY", then "N passed, M failed"; 77 when
# python3-h2 is missing.
#
# Traffic stays on loopback: discovery and the proxy on 127.0.0.1, the
# colony on 127.42.0.1 (its mesh network is 127.42.0.0/16). Every process is
# a child of this script, stopped by its PID on exit.
set -uo pipefail

# shellcheck source=tests/e2e/cli_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh" # sources lib.sh; sets here (tests/e2e) and root

coral_binaries "$@"
if ! "$PY" -c 'import h2, hpack, hyperframe' 2>/dev/null; then
  echo "SKIP: python3-h2 is not installed (scripts/setup --test installs it)"
  exit 77
fi
e2e_need curl
T=10

e2e_init
export CORAL_CONFIG_DIR=$E2E_WORK/config

e2e_start_server disc "$DISC" --listen 127.0.0.1:0 || e2e_fatal "start coral-discovery" "see its log"
DPORT=$E2E_PORT
ID=e2e-hostile
CPORT=$(free_port 127.42.0.1)
coral init --app hostile --env e2e --colony-id "$ID" --mesh-ipv4-net 127.42.0.0/16 \
  --discovery "http://127.0.0.1:$DPORT" --connect-port "$CPORT"
((rc == 0)) || e2e_fatal "init" "exit $rc: $err"
e2e_start colony "$CORAL" colony start "$ID"
e2e_wait 10 curl -sf -o /dev/null --max-time 1 -H 'Content-Type: application/json' -d '{}' \
  "http://127.42.0.1:$CPORT/coral.colony.v1.ColonyService/GetStatus" || e2e_fatal "colony start" "not serving"
PPORT=$(free_port 127.0.0.1)
e2e_start proxy "$CORAL" proxy start "$ID" --port "$PPORT"
e2e_wait 10 curl -sf -o /dev/null --max-time 1 -H 'Content-Type: application/json' -d '{}' \
  "http://127.0.0.1:$PPORT/coral.colony.v1.ColonyService/GetStatus" || e2e_fatal "proxy start" "not serving"

# name host port path-of-a-unary-method
targets=(
  "discovery 127.0.0.1 $DPORT /coral.discovery.v1.DiscoveryService/Health"
  "colony 127.42.0.1 $CPORT /coral.colony.v1.ColonyService/GetStatus"
  "proxy 127.0.0.1 $PPORT /coral.colony.v1.ColonyService/GetStatus"
)

# serves HOST PORT PATH: a normal Connect call over h2c and over HTTP/1.1 succeeds.
serves() {
  local v
  for v in --http2-prior-knowledge --http1.1; do
    curl -sf -o /dev/null --max-time "$T" "$v" -H 'Content-Type: application/json' -d '{}' "http://$1:$2$3" ||
      return 1
  done
}

for target in "${targets[@]}"; do
  read -r name host port path <<<"$target"
  report=$(timeout 300 "$PY" "$here/tools/h1_hostile.py" "$host" "$port" "$path" 2>&1)
  status=$?
  why=""
  if ((status != 0)); then why=$(grep -E '^FAIL|Error|error' <<<"$report" | head -5)
  elif ! serves "$host" "$port" "$path"; then why="a normal request fails afterwards"
  fi
  e2e_result "$name: $(tail -1 <<<"$report" | cut -d, -f1) hostile HTTP/1.1 inputs answered as they call for" "$why"

  for mode in rapid-reset settings ping continuation streams hpack-bomb; do
    result=$(timeout 60 "$PY" "$here/tools/h2_floods.py" "$host" "$port" "$mode" --seconds 5 --path "$path" 2>&1)
    why=""
    if ! jq -e . >/dev/null 2>&1 <<<"$result"; then why="prober: $result"
    else
      closed=$(jq -r '.closed or (.goaway != null)' <<<"$result")
      case $mode in
        rapid-reset | settings | ping | continuation)
          # Closed (GOAWAY) long before the prober's bounds ran out.
          [[ $closed == true ]] || why="connection still open after the flood: $result" ;;
        streams)
          # More streams than SETTINGS_MAX_CONCURRENT_STREAMS (256): refused or the connection closed.
          [[ $closed == true || $(jq -r '.refused' <<<"$result") -gt 0 ]] || why="all 300 streams accepted: $result" ;;
        hpack-bomb)
          # The 4 MiB header block is refused: stream reset (or 431), or the connection closed.
          [[ $closed == true || $(jq -r '.reset' <<<"$result") -gt 0 || $(jq -r '.statuses["431"] // 0' <<<"$result") -gt 0 ]] ||
            why="the bomb was served: $result" ;;
      esac
      [[ -z $why ]] && ! serves "$host" "$port" "$path" && why="a normal request fails afterwards"
    fi
    e2e_result "$name: HTTP/2 $mode flood on one connection -> refused, others still served" "$why"
  done
done

for name in disc colony proxy; do
  e2e_alive "$name" || e2e_fail "$name survives every attack" "it exited (see its log)"
done
e2e_summary
