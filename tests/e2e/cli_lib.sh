# shellcheck shell=bash
# Helpers of the e2e scripts that drive the coral CLI and speak Connect
# JSON with curl (colony_test.sh, proxy_test.sh). Source after lib.sh; they
# read $E2E_WORK, $T (seconds per client command), $CORAL and $BUF.
# shellcheck disable=SC2034 # out, err, rc, http, body, ... are read by the sourcing script

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

# coral_binaries [BUILD_DIR | CORAL [CORAL-DISCOVERY]]: sets $CORAL and $DISC
# (absolute) from the script's arguments (a build directory, default
# $root/build/release; or the binaries), or from env CORAL_BIN and
# CORAL_DISCOVERY; exits with "FAIL setup" when one is not executable.
coral_binaries() {
  local arg=${1:-$root/build/release} b
  CORAL=${CORAL_BIN:-}
  DISC=${CORAL_DISCOVERY:-}
  if [[ -d $arg ]]; then
    CORAL=${CORAL:-$arg/apps/coral}
    DISC=${DISC:-$arg/apps/coral-discovery}
  else
    CORAL=${CORAL:-$arg}
    DISC=${DISC:-${2:-$(dirname "$arg")/coral-discovery}}
  fi
  for b in "$CORAL" "$DISC"; do
    if [[ ! -x $b ]]; then
      echo "FAIL setup: $b is not an executable (build it: scripts/build release coral coral-discovery)"
      echo "0 passed, 1 failed"
      exit 1
    fi
  done
  CORAL=$(readlink -f "$CORAL")
  DISC=$(readlink -f "$DISC")
}
