# shellcheck shell=bash
# Shared helpers for the black-box (e2e) tests of coral's binaries.
# Source it from a bash script:   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
#   e2e_init                    work directory $E2E_WORK, cleanup trap on EXIT
#   e2e_start NAME CMD...       runs CMD in the background, output appended to
#                               $E2E_WORK/NAME.log; remembers its PID by NAME
#   e2e_start_server NAME CMD.. same, with --port-file $E2E_WORK/NAME.port
#                               appended; waits (bounded) for the port and
#                               sets E2E_PORT
#   e2e_stop NAME [SIG] [SECS]  signals it (TERM), waits at most SECS (5) for
#                               it to exit, then KILLs it; sets E2E_STATUS to
#                               its exit status and E2E_STOP_SECONDS
#   e2e_alive NAME              true while it runs
#   e2e_wait SECS CMD...        retries CMD every 0.1 s until it succeeds or
#                               SECS pass (bounded in time and in count)
#   e2e_free_port               a TCP port free on 127.0.0.1 just now
#   e2e_need TOOL...            exits 77 ("SKIP: TOOL is not installed") unless
#                               every TOOL is on PATH (or an executable path)
#   e2e_fatal NAME WHY          e2e_fail, e2e_summary, exit 1
#   e2e_result NAME WHY         WHY empty: "ok   NAME"; else "FAIL NAME: WHY"
#   e2e_ok NAME / e2e_fail NAME WHY / e2e_skip NAME WHY
#   e2e_summary                 "N passed, M failed"; returns 1 on failures,
#                               77 when parts were skipped and none failed
#
# Process helpers, for any PID (bench/lib.sh uses them too):
#   stop_pid PID [SIG] [SECS]   signals PID (TERM), waits at most SECS (5) for
#                               it to exit, then KILLs it; reaps it if it is a
#                               child; E2E_STATUS: its exit status or "killed"
#   gone PID                    true once PID has exited (or is a zombie)
#   cpu_ticks PID               utime+stime of all its threads, clock ticks
#                               (-1 when it is gone)
#   rss_kb PID                  its VmRSS in kB (0 when it is gone)
#
# Every process started here is stopped by its PID when the script exits,
# however it exits. Logs of the processes are printed on failure, and the
# work directory is removed unless E2E_KEEP=1.

# shellcheck disable=SC2034 # E2E_* and PY are read by the sourcing script
PY=/usr/bin/python3 # Debian's, with python3-h2 (a python3 earlier on PATH may lack it)
E2E_PASS=0
E2E_FAIL=0
E2E_SKIP=0
E2E_WORK=
E2E_PORT=
E2E_STATUS=
E2E_STOP_SECONDS=
declare -gA E2E_PIDS=()
E2E_NAMES=()

e2e_init() {
  E2E_WORK=$(mktemp -d "${TMPDIR:-/tmp}/coral-e2e.XXXXXX") || { echo "FAIL setup: mktemp"; exit 1; }
  trap e2e_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

e2e_cleanup() {
  local status=$? name
  for name in "${E2E_NAMES[@]}"; do
    [[ -n ${E2E_PIDS[$name]:-} ]] && stop_pid "${E2E_PIDS[$name]}" TERM 3
  done
  if [[ -n $E2E_WORK && -d $E2E_WORK ]]; then
    if ((E2E_FAIL > 0)) || [[ $status -ne 0 && $status -ne 77 ]]; then
      local log
      for log in "$E2E_WORK"/*.log; do
        [[ -f $log ]] || continue
        echo "--- ${log##*/} (last 40 lines)"
        tail -n 40 "$log"
      done
    fi
    if [[ ${E2E_KEEP:-0} == 1 ]]; then
      echo "logs kept in $E2E_WORK"
    else
      rm -rf "$E2E_WORK"
    fi
  fi
  exit "$status"
}

e2e_start() {
  local name=$1
  shift
  if [[ -n ${E2E_PIDS[$name]:-} ]] && kill -0 "${E2E_PIDS[$name]}" 2>/dev/null; then
    echo "e2e_start: $name is already running" >&2
    return 1
  fi
  "$@" </dev/null >>"$E2E_WORK/$name.log" 2>&1 &
  E2E_PIDS[$name]=$!
  [[ " ${E2E_NAMES[*]} " == *" $name "* ]] || E2E_NAMES+=("$name")
}

e2e_alive() {
  local pid=${E2E_PIDS[$1]:-}
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null
}

# e2e_start_server NAME CMD...: the server must understand --port-file FILE.
# Returns 1 (with the reason on stderr) if it exits or reports no port in
# ${E2E_START_TIMEOUT:-15} seconds.
e2e_start_server() {
  local name=$1
  shift
  local port_file=$E2E_WORK/$name.port
  rm -f "$port_file"
  E2E_PORT=
  e2e_start "$name" "$@" --port-file "$port_file" || return 1
  local i limit=$((${E2E_START_TIMEOUT:-15} * 10))
  for ((i = 0; i < limit; i++)); do
    if [[ -s $port_file ]]; then
      E2E_PORT=$(tr -d '[:space:]' <"$port_file")
      [[ $E2E_PORT =~ ^[0-9]+$ ]] && return 0
    fi
    if ! e2e_alive "$name"; then
      echo "$name exited before reporting its port" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "$name reported no port within ${E2E_START_TIMEOUT:-15} s" >&2
  return 1
}

# e2e_stop NAME [SIGNAL] [SECONDS]
e2e_stop() {
  local name=$1 signal=${2:-TERM} seconds=${3:-5}
  local pid=${E2E_PIDS[$name]:-}
  E2E_STATUS=
  E2E_STOP_SECONDS=
  [[ -n $pid ]] || return 1
  local start=$EPOCHREALTIME
  stop_pid "$pid" "$signal" "$seconds"
  E2E_STOP_SECONDS=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
  unset "E2E_PIDS[$name]"
  return 0
}

# e2e_wait SECONDS CMD...: CMD's status (0 once it succeeded, else its last).
e2e_wait() {
  local seconds=$1
  shift
  local deadline=$((${EPOCHREALTIME/./} + seconds * 1000000)) i rc=1
  for ((i = 0; i < seconds * 20 + 1; i++)); do
    "$@" && return 0
    rc=$?
    ((${EPOCHREALTIME/./} < deadline)) || break
    sleep 0.1
  done
  return "$rc"
}

e2e_free_port() {
  python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# e2e_need TOOL...: each TOOL a command on PATH or an executable path.
e2e_need() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
  done
}

# stop_pid PID [SIGNAL] [SECONDS]: returns 1 when PID is empty.
stop_pid() {
  local pid=$1 signal=${2:-TERM} seconds=${3:-5} i
  E2E_STATUS=
  [[ -n $pid ]] || return 1
  kill "-$signal" "$pid" 2>/dev/null
  for ((i = 0; i < seconds * 20; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    E2E_STATUS=killed
  else
    wait "$pid" 2>/dev/null
    E2E_STATUS=$?
  fi
  return 0
}
gone() { [[ ! -e /proc/$1 || $(ps -o stat= -p "$1" 2>/dev/null) == Z* ]]; }
cpu_ticks() { # fields 14 and 15 of /proc/PID/stat (after the command name)
  awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo -1
}
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

e2e_ok() {
  E2E_PASS=$((E2E_PASS + 1))
  echo "ok   $1"
}

e2e_fail() {
  E2E_FAIL=$((E2E_FAIL + 1))
  echo "FAIL $1: $2"
}

e2e_skip() {
  E2E_SKIP=$((E2E_SKIP + 1))
  echo "skip $1: $2"
}

e2e_result() {
  if [[ -z $2 ]]; then e2e_ok "$1"; else e2e_fail "$1" "$2"; fi
}

e2e_fatal() {
  e2e_fail "$1" "$2"
  e2e_summary
  exit 1
}

e2e_summary() {
  ((E2E_SKIP > 0)) && echo "$E2E_SKIP skipped"
  echo "$E2E_PASS passed, $E2E_FAIL failed"
  if ((E2E_FAIL > 0)); then return 1; fi
  if ((E2E_SKIP > 0)); then return 77; fi
  return 0
}
