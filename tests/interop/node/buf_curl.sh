#!/usr/bin/env bash
# Calls coral.testing.v1.EchoService at BASE_URL with `buf curl` (Connect,
# gRPC, gRPC-Web; HTTP/1.1 and h2c) and with plain curl (Connect unary JSON),
# and checks the answers. Works against coral's test server and against
# server.mjs alike.
#
# Usage: tests/interop/node/buf_curl.sh BASE_URL     (e.g. http://127.0.0.1:8080)
# Needs: `npm ci` done in this directory (for node_modules/.bin/buf), curl.
# Env:   TIMEOUT  seconds allowed for each command (20).
# Prints one "ok   <name>" or "FAIL <name>: <why>" line per check, then
# "N passed, M failed"; exits 1 if any check failed, 2 on bad usage.
#
# Notes on buf curl:
# - `--schema` is required: the servers register no reflection service.
# - -d and the printed output are proto3 JSON (camelCase names, int64 and
#   bytes as strings, defaults omitted: index 0 prints as {}); on the wire
#   buf curl always sends binary proto, so `encoding` is "proto".
# - Without --http2-prior-knowledge an http:// URL means HTTP/1.1, except for
#   --protocol grpc, which always uses h2c (gRPC needs HTTP/2).
# - An RPC error goes to stderr as {"code": ..., "message": ...} and the exit
#   status is the gRPC code << 3 (not_found 5 -> 40, aborted 10 -> 80).
set -uo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 BASE_URL" >&2
  exit 2
fi
BASE=${1%/}
SVC=$BASE/coral.testing.v1.EchoService
T=${TIMEOUT:-20}

cd "$(dirname "${BASH_SOURCE[0]}")" || exit 2
BUF=node_modules/.bin/buf
SCHEMA=../../proto/coral/testing/v1/echo.proto
if [[ ! -x $BUF ]]; then
  echo "FAIL setup: $PWD/$BUF missing (run npm ci in $PWD)"
  echo "0 passed, 1 failed"
  exit 1
fi

pass=0
fail=0
out=""
err=""
rc=0
errfile=$(mktemp)
trap 'rm -f "$errfile"' EXIT

# run CMD... : runs CMD under the timeout; sets $out (stdout), $err (stderr)
# and $rc.
run() {
  out=$(timeout "$T" "$@" 2>"$errfile")
  rc=$?
  err=$(<"$errfile")
}

# Stdout and stderr without whitespace, so that checks do not depend on how
# a server or buf curl lays out JSON.
flat() { tr -d ' \t\r\n' <<<"$out$err"; }

# result NAME WHY: WHY empty means the check passed.
result() {
  local name=$1 why=$2
  if [[ -z $why ]]; then
    pass=$((pass + 1))
    echo "ok   $name"
  else
    fail=$((fail + 1))
    echo "FAIL $name: $why"
    { [[ -n $out ]] && echo "$out"; [[ -n $err ]] && echo "$err"; } | sed 's/^/    | /' | head -40
  fi
}

# want NEEDLE...: the first needle (whitespace-free) missing from the
# flattened output, as a reason; nothing if all are there.
want() {
  local f n
  f=$(flat)
  for n in "$@"; do
    if [[ $f != *"$n"* ]]; then
      echo "missing $n"
      return
    fi
  done
}

# Number of messages in buf curl's stream output (stdout): each JSON object
# starts at column 0.
messages() { grep -c '^{' <<<"$out"; }

# ---------------------------------------------------------------- buf curl
for protocol in connect grpc grpcweb; do
  case $protocol in
    connect) wire=connect ;;
    grpc) wire=grpc ;;
    grpcweb) wire=grpc_web ;;
  esac
  for mode in default h2c; do
    flags=()
    version=HTTP/1.1
    if [[ $mode == h2c ]]; then
      flags=(--http2-prior-knowledge)
      version=HTTP/2
    fi
    [[ $protocol == grpc ]] && version=HTTP/2 # buf curl: gRPC is always h2c
    bc=("$BUF" curl --schema "$SCHEMA" --protocol "$protocol" "${flags[@]}")
    tag="buf curl $protocol $mode"

    # Unary: every field comes back, and the server saw what we asked for.
    run "${bc[@]}" -H 'x-test-echo: from-buf-curl' \
      -d '{"text":"hi reef","number":"-42","payload":"AAEC/w==","tags":["a","b"]}' "$SVC/Echo"
    why=""
    ((rc == 0)) || why="exit status $rc"
    [[ -z $why ]] && why=$(want '"text":"hireef"' '"number":"-42"' '"payload":"AAEC/w=="' \
      '"tags":["a","b"]' "\"protocol\":\"$wire\"" '"encoding":"proto"' \
      "\"httpVersion\":\"$version\"" '"headerEcho":"from-buf-curl"')
    result "$tag Echo" "$why"

    # Server streaming: 3 messages, indexes 0..2 (index 0 prints as no field),
    # each with a 2-byte payload "xx" (eHg=).
    run "${bc[@]}" -d '{"count":3,"payloadBytes":2}' "$SVC/Count"
    why=""
    n=$(messages)
    p=$(flat | grep -o '"payload":"eHg="' | wc -l)
    if ((rc != 0)); then why="exit status $rc"
    elif [[ $n != 3 ]]; then why="$n messages, want 3"
    elif [[ $p != 3 ]]; then why="$p payloads \"eHg=\", want 3"
    elif [[ $(flat) == *'"index":3'* ]]; then why="unexpected index 3"
    else why=$(want '"index":1' '"index":2')
    fi
    result "$tag Count" "$why"

    # Unary error: code and message on stderr, exit status not_found(5) << 3.
    run "${bc[@]}" -d '{"code":"not_found","message":"no such reef"}' "$SVC/Fail"
    why=""
    if ((rc != 40)); then why="exit status $rc, want 40 (not_found << 3)"
    elif [[ $err != *"no such reef"* ]]; then why="message missing from stderr"
    else why=$(want '"code":"not_found"')
    fi
    result "$tag Fail not_found" "$why"

    # Stream error after messages: 2 messages, then aborted(10) << 3.
    run "${bc[@]}" -d '{"count":2,"failCode":"aborted"}' "$SVC/Count"
    why=""
    n=$(messages)
    if ((rc != 80)); then why="exit status $rc, want 80 (aborted << 3)"
    elif [[ $n != 2 ]]; then why="$n messages, want 2"
    elif [[ $(tr -d ' \t\r\n' <<<"$err") != *'"code":"aborted"'* ]]; then why="no aborted error on stderr"
    else why=$(want '"index":1')
    fi
    result "$tag Count then aborted" "$why"
  done
done

# ------------------------------------------------------- plain curl (JSON)
for mode in h1 h2c; do
  flags=()
  version=HTTP/1.1
  curlv=1.1
  if [[ $mode == h2c ]]; then
    flags=(--http2-prior-knowledge)
    version=HTTP/2
    curlv=2
  fi
  cu=(curl -sS --max-time "$T" "${flags[@]}" -H 'content-type: application/json')

  run "${cu[@]}" -H 'x-test-echo: from-curl' -w '\n%{http_code} HTTP/%{http_version}' \
    -d '{"text":"hi"}' "$SVC/Echo"
  why=""
  last=$(tail -n 1 <<<"$out")
  if ((rc != 0)); then why="curl exit status $rc"
  elif [[ $last != "200 HTTP/$curlv" ]]; then why="got '$last', want '200 HTTP/$curlv'"
  else why=$(want '"text":"hi"' '"protocol":"connect"' '"encoding":"json"' \
    "\"httpVersion\":\"$version\"" '"headerEcho":"from-curl"')
  fi
  result "curl connect json $mode Echo" "$why"

  run "${cu[@]}" -w '\n%{http_code}' -d '{"code":"not_found","message":"no such reef"}' "$SVC/Fail"
  why=""
  last=$(tail -n 1 <<<"$out")
  if ((rc != 0)); then why="curl exit status $rc"
  elif [[ $last != 404 ]]; then why="HTTP status $last, want 404"
  elif [[ $out != *"no such reef"* ]]; then why="message missing"
  else why=$(want '"code":"not_found"')
  fi
  result "curl connect json $mode Fail not_found -> 404" "$why"
done

echo "$pass passed, $fail failed"
((fail == 0))
