# shellcheck shell=bash
# Helpers of the e2e scripts that drive the coral CLI and speak Connect
# JSON with curl (colony_test.sh, proxy_test.sh, ...). Sourcing it sources
# lib.sh and sets $here (tests/e2e) and $root (the repository). They read
# $E2E_WORK, $T (seconds per client command), $CORAL and $BUF.
#
#   coral_binaries [--proxy] ARGS  $CORAL, $DISC (and $PROXY) from the
#                               script's arguments or the environment
#   is_ours PID                 PID runs one of $OURS (coral_binaries: the
#                               coral binary, and coral-proxy with --proxy)
#   stop_daemon PID             stop_pid for a daemon that is ours and alive
#                               (SIGCONT first: a check may have frozen it)
#   e2e_daemons                 replaces the EXIT trap: stops the daemons of
#                               every config directory in $E2E_WORK (their PID
#                               files: proxies, then colonies) and the PIDs in
#                               E2E_DAEMON_PIDS, links their logs to be printed
#                               on failure, deletes the network namespace
#                               E2E_NETNS (when set), then e2e_cleanup
#   v6_netns NS ADDR...         for the IPv6 checks: a network namespace with
#                               lo up and ADDR/128 on it, coral-discovery on
#                               [::1] in it (NS_DPORT)
# shellcheck disable=SC2034 # out, err, rc, http, body, ... are read by the sourcing script

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$here/lib.sh"

out=""
err=""
rc=0
# run CMD...: stdout in $out, stderr in $err, status in $rc (bounded).
run() {
  out=$(timeout 30 "$@" </dev/null 2>"$E2E_WORK/run.err")
  rc=$?
  err=$(cat "$E2E_WORK/run.err")
}
coral() { run "$CORAL" "$@"; }

http=""
body=""
crc=0
# call URL JSON [CURL-ARGS...]: Connect unary JSON; sets $http, $body, $crc.
call() {
  local url=$1 json=$2
  shift 2
  http=$(curl -sS -g --max-time "$T" "$@" -H 'Content-Type: application/json' -o "$E2E_WORK/body" \
    -w '%{http_code} %{http_version}' --data-binary "$json" "$url" 2>"$E2E_WORK/curl.err")
  crc=$?
  body=$(cat "$E2E_WORK/body" 2>/dev/null; cat "$E2E_WORK/curl.err")
  rm -f "$E2E_WORK/body"
  http_version=${http#* }
  http=${http%% *}
}
http_version=""
j() { jq -r "($1) // empty" 2>/dev/null <<<"$body"; }
why_success() {
  if ((crc != 0)); then echo "curl exit status $crc: $body"
  elif [[ $http != 200 ]]; then echo "HTTP $http, want 200: $body"
  elif ! jq -e . >/dev/null 2>&1 <<<"$body"; then echo "body is not JSON: $body"
  fi
}
# why_error CODE HTTP: "" when the last call failed with that Connect error.
why_error() {
  if ((crc != 0)); then echo "curl exit status $crc: $body"
  elif [[ $http != "$2" ]]; then echo "HTTP $http, want $2: $body"
  elif [[ $(j .code) != "$1" ]]; then echo "code '$(j .code)', want $1: $body"
  fi
}
# free_port ADDRESS: a TCP port free on ADDRESS just now.
free_port() {
  python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET)
s.bind((sys.argv[1], 0))
print(s.getsockname()[1])
s.close()' "$1"
}
# key WORD: a canonical base64 WireGuard key (32 bytes) made from WORD.
key() { printf '%-32.32s' "$1" | base64 -w0; }

buf_out=""
buf_err=""
buf_rc=0
bufcurl() {
  buf_out=$(timeout 20 "$BUF" curl --schema proto "$@" 2>"$E2E_WORK/buf.err")
  buf_rc=$?
  buf_err=$(cat "$E2E_WORK/buf.err")
}
# buf_flags PROTOCOL: flags=(the bufcurl flags of PROTOCOL: connect, grpc
# (h2c, prior knowledge) or grpcweb).
flags=()
buf_flags() {
  flags=(--protocol "$1")
  [[ $1 == grpc ]] && flags+=(--http2-prior-knowledge)
  return 0
}

# coral_binaries [--proxy] [BUILD_DIR | CORAL [CORAL-DISCOVERY [CORAL-PROXY]]]:
# sets $CORAL and $DISC (absolute; with --proxy $PROXY too) from the
# script's arguments (a build directory, default $root/build/release; or the
# binaries), or from env CORAL_BIN, CORAL_DISCOVERY (and CORAL_PROXY_BIN);
# exits with "FAIL setup" when one is not executable.
OURS=()
coral_binaries() {
  local with_proxy=0 b
  [[ ${1:-} == --proxy ]] && { with_proxy=1; shift; }
  local arg=${1:-$root/build/release}
  CORAL=${CORAL_BIN:-}
  DISC=${CORAL_DISCOVERY:-}
  local bins=(CORAL DISC) names="coral coral-discovery"
  if ((with_proxy)); then
    PROXY=${CORAL_PROXY_BIN:-}
    bins+=(PROXY)
    names+=" coral-proxy"
  fi
  if [[ -d $arg ]]; then
    CORAL=${CORAL:-$arg/apps/coral}
    DISC=${DISC:-$arg/apps/coral-discovery}
    ((with_proxy)) && PROXY=${PROXY:-$arg/apps/coral-proxy}
  else
    CORAL=${CORAL:-$arg}
    DISC=${DISC:-${2:-$(dirname "$arg")/coral-discovery}}
    ((with_proxy)) && PROXY=${PROXY:-${3:-$(dirname "$arg")/coral-proxy}}
  fi
  for b in "${bins[@]}"; do
    if [[ ! -x ${!b} ]]; then
      echo "FAIL setup: ${!b} is not an executable (build it: scripts/build release $names)"
      echo "0 passed, 1 failed"
      exit 1
    fi
    printf -v "$b" '%s' "$(readlink -f "${!b}")"
  done
  OURS=("$CORAL")
  ((with_proxy)) && OURS+=("$PROXY")
  return 0
}

# ------------------------------------------------------------------ daemons
is_ours() {
  local exe b
  [[ -n $1 ]] || return 1
  exe=$(readlink "/proc/$1/exe" 2>/dev/null) || return 1
  for b in "${OURS[@]}"; do [[ $exe == "$b" ]] && return 0; done
  return 1
}
stop_daemon() {
  local pid=$1
  if [[ -z $pid ]] || ! is_ours "$pid" || gone "$pid"; then return 0; fi
  kill -CONT "$pid" 2>/dev/null
  stop_pid "$pid"
}
E2E_DAEMON_PIDS=()
E2E_NETNS=""
e2e_daemons() { trap e2e_daemons_cleanup EXIT; }
e2e_daemons_cleanup() {
  local status=$? file pid dir
  for pid in "${E2E_DAEMON_PIDS[@]}"; do stop_daemon "$pid"; done
  for file in "$E2E_WORK"/*/proxies/*.pid "$E2E_WORK"/*/colonies/*.pid; do
    [[ -f $file ]] && stop_daemon "$(tr -dc 0-9 <"$file")"
  done
  [[ -n $E2E_NETNS ]] && ip netns del "$E2E_NETNS" 2>/dev/null
  # as colonies-CONFIG-ID.log, proxies-CONFIG-ID.log: printed with the others on failure
  for file in "$E2E_WORK"/*/colonies/*.log "$E2E_WORK"/*/proxies/*.log; do
    [[ -f $file ]] || continue
    dir=${file%/*}
    ln -sf "$file" "$E2E_WORK/${dir##*/}-$(basename "$(dirname "$dir")")-${file##*/}"
  done
  (exit "$status")
  e2e_cleanup
}

# v6_netns NS ADDR...: root only; e2e_skip (no root, no ip, no namespace) or
# e2e_fail and return 1 when it cannot. The namespace is deleted on exit
# (e2e_daemons); the discovery is the e2e process nsdisc.
NS_DPORT=""
v6_netns() {
  local ns=$1 a
  shift
  if ((EUID != 0)); then e2e_skip "ipv6 (network namespace)" "needs root for ip netns"; return 1; fi
  if ! command -v ip >/dev/null; then e2e_skip "ipv6 (network namespace)" "ip (iproute2) is not installed"; return 1; fi
  if ! ip netns add "$ns" 2>"$E2E_WORK/ns.err"; then
    e2e_skip "ipv6 (network namespace)" "ip netns add: $(cat "$E2E_WORK/ns.err")"
    return 1
  fi
  E2E_NETNS=$ns
  ip -n "$ns" link set lo up || { e2e_fail "ipv6: set up lo in $ns" "ip failed"; return 1; }
  for a in "$@"; do
    ip -n "$ns" addr add "$a/128" dev lo || { e2e_fail "ipv6: set up lo in $ns" "ip failed"; return 1; }
  done
  if ! e2e_start_server nsdisc ip netns exec "$ns" "$DISC" --listen '[::1]:0' 2>"$E2E_WORK/start.err"; then
    e2e_fail "ipv6: coral-discovery on [::1] in $ns" "$(cat "$E2E_WORK/start.err")"
    return 1
  fi
  NS_DPORT=$E2E_PORT
}
