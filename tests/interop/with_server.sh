#!/usr/bin/env bash
# with_server.sh SERVER-CMD... -- CLIENT-CMD...
#
# Starts a server that writes its port to $PORT_FILE (coral-test-server with
# --port-file, or node server.mjs with PORT_FILE=...), waits for it (at most
# 20 s), runs the client with BASE_URL=http://127.0.0.1:PORT in its
# environment, then stops the server by PID. Exits with the client's status,
# or 77 (skipped) when the Node interop peers are not installed.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [[ ! -d $here/node/node_modules || ! -d $here/node/gen ]]; then
  echo "SKIP: Node interop peers not installed (run scripts/setup --test)"
  exit 77
fi
server=()
while [[ $# -gt 0 && $1 != -- ]]; do server+=("$1"); shift; done
shift || true
work=$(mktemp -d)
export PORT_FILE=$work/port
server_pid=
cleanup() {
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid"
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null
  fi
  rm -rf "$work"
}
trap cleanup EXIT
"${server[@]//@PORT_FILE@/$PORT_FILE}" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 200); do
  [[ -s $PORT_FILE ]] && break
  kill -0 "$server_pid" 2>/dev/null || { echo "server exited:"; cat "$work/server.log"; exit 1; }
  sleep 0.1
done
[[ -s $PORT_FILE ]] || { echo "server did not report a port within 20 s"; cat "$work/server.log"; exit 1; }
export BASE_URL=http://127.0.0.1:$(tr -d '[:space:]' <"$PORT_FILE")
"$@"
status=$?
if [[ $status -ne 0 ]]; then echo "--- server log"; cat "$work/server.log"; fi
exit $status
