#!/usr/bin/env bash
# `coral colony stop` and `coral proxy stop` signal only the daemon itself,
# whatever its PID file has been made to say (issue 16 §1: "-1" made stop
# call kill(-1, SIGTERM), "0" or junk kill(0, ...), "1" signalled init).
# Each bad value is written into the PID file of a running colony and of a
# running proxy (the daemon keeps holding the lock); stop must refuse with
# "PID file … is corrupt; not signalling anything", exit 1, and every
# process — the daemon, a bystander whose PID is written in the file, this
# script — must live on. Then the right PID is written back and stop works.
#
# Usage: tests/e2e/pid_file_test.sh [BUILD_DIR]   (or CORAL BIN DIR: coral,
#        coral-discovery next to it; default build/release)
# Prints "ok   NAME" / "FAIL NAME: WHY", then "N passed, M failed".
#
# Traffic stays on loopback (127.0.0.1, the colony on 127.42.0.0/16). The
# daemons are stopped by the PID their lock holder has, on any exit.
set -uo pipefail

# shellcheck source=tests/e2e/cli_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh" # sources lib.sh; sets here (tests/e2e) and root

coral_binaries "$@"
e2e_need python3
T=10

e2e_init
export CORAL_CONFIG_DIR=$E2E_WORK/config
COLONY_PID=""
PROXY_PID=""
# The daemons are not children of this script: on exit, they are stopped by
# the PIDs that were verified when they started (E2E_DAEMON_PIDS), if they
# are still coral processes, whatever their PID files say by then.
e2e_daemons

# A bystander: a process whose PID gets written into the PID files.
e2e_start bystander sleep 300
BYSTANDER=${E2E_PIDS[bystander]}

e2e_start_server disc "$DISC" --listen 127.0.0.1:0 || e2e_fatal "start coral-discovery" "see its log"
DBASE=http://127.0.0.1:$E2E_PORT
ID=e2e-pid
CPORT=$(free_port 127.42.0.1)
coral init --app pid --env e2e --colony-id "$ID" --mesh-ipv4-net 127.42.0.0/16 --discovery "$DBASE" \
  --connect-port "$CPORT"
((rc == 0)) || e2e_fatal "init" "exit $rc: $err"
coral colony start --daemon
((rc == 0)) || e2e_fatal "colony start --daemon" "exit $rc: $out $err"
CFILE=$CORAL_CONFIG_DIR/colonies/$ID.pid
COLONY_PID=$(cat "$CFILE")
E2E_DAEMON_PIDS+=("$COLONY_PID")
is_ours "$COLONY_PID" || e2e_fatal "colony start" "PID file says '$COLONY_PID', not a coral process"
PPORT=$(free_port 127.0.0.1)
coral proxy start "$ID" --port "$PPORT" --daemon
((rc == 0)) || e2e_fatal "proxy start --daemon" "exit $rc: $out $err"
PFILE=$CORAL_CONFIG_DIR/proxies/$ID.pid
PROXY_PID=$(cat "$PFILE")
E2E_DAEMON_PIDS=("$PROXY_PID" "${E2E_DAEMON_PIDS[@]}")
is_ours "$PROXY_PID" || e2e_fatal "proxy start" "PID file says '$PROXY_PID', not a coral process"

# overwrite FILE TEXT: in place (same inode), as `echo TEXT > FILE` does, so
# the daemon keeps its lock on it.
overwrite() { printf '%b' "$2" >"$1"; }

# check_refused WHAT FILE TEXT LABEL: `coral WHAT stop` with FILE saying TEXT.
check_refused() {
  local what=$1 file=$2 text=$3 label=$4 why=""
  overwrite "$file" "$text"
  if [[ $what == colony ]]; then coral colony stop "$ID" --timeout 2s; else coral proxy stop "$ID" --timeout 2s; fi
  if ((rc != 1)); then why="exit status $rc, want 1: $out $err"
  elif [[ $err != *"PID file $file is corrupt"*"not signalling anything"* ]]; then why="stderr: $err"
  elif ! is_ours "$COLONY_PID"; then why="the colony (pid $COLONY_PID) was killed"
  elif ! is_ours "$PROXY_PID"; then why="the proxy (pid $PROXY_PID) was killed"
  elif ! e2e_alive bystander; then why="the bystander (pid $BYSTANDER) was killed"
  elif [[ ! -f $file ]]; then why="the PID file was removed"
  fi
  e2e_result "$what stop, PID file says $label -> 'corrupt; not signalling anything', exit 1, nobody signalled" "$why"
}

for what in colony proxy; do
  file=$CFILE
  [[ $what == proxy ]] && file=$PFILE
  check_refused "$what" "$file" '-1\n' '-1'
  check_refused "$what" "$file" '0\n' '0'
  check_refused "$what" "$file" '' 'nothing'
  check_refused "$what" "$file" '1\n' '1 (init)'
  check_refused "$what" "$file" 'junk\n' 'junk'
  check_refused "$what" "$file" '12abc\n' '12abc'
  check_refused "$what" "$file" ' 42\n' "' 42'"
  check_refused "$what" "$file" '99999999999\n' '99999999999'
  check_refused "$what" "$file" "$BYSTANDER\n" "a live process's PID (not the lock holder)"
  check_refused "$what" "$file" "$$\n" "this script's PID"
done

# The holder is named in the message, so the operator knows whom to stop.
overwrite "$CFILE" 'junk\n'
coral colony stop "$ID" --timeout 2s
e2e_result "colony stop, corrupt PID file -> the message names the lock holder (pid $COLONY_PID)" \
  "$([[ $err == *"its lock is held by pid $COLONY_PID"* ]] || echo "stderr: $err")"

# status and start still know the colony runs.
coral colony status "$ID"
e2e_result "colony status, corrupt PID file -> RUNNING, PID file corrupt" \
  "$([[ $out == *"RUNNING, PID file corrupt"* ]] || echo "exit $rc: $out $err")"
coral colony start "$ID" --daemon
e2e_result "colony start, corrupt PID file of a live colony -> already running, exit 1" \
  "$( ((rc == 1)) && [[ $err == *"already running (its PID file is corrupt)"* ]] || echo "exit $rc: $out $err")"
coral proxy list
e2e_result "proxy list, corrupt proxy PID file of a live proxy -> state kept" \
  "$([[ -f $CORAL_CONFIG_DIR/proxies/$ID.yaml && -f $PFILE ]] || echo "state removed: $out $err")"

# With the right PIDs back, stop works.
overwrite "$PFILE" "$PROXY_PID\n"
coral proxy stop "$ID"
why=""
if ((rc != 0)); then why="exit $rc: $out $err"
elif [[ $out != *"✓ Proxy stopped"* ]]; then why="stdout: $out"
else
  for ((i = 0; i < 50; i++)); do is_ours "$PROXY_PID" || break; sleep 0.1; done
  is_ours "$PROXY_PID" && why="the proxy (pid $PROXY_PID) still runs"
fi
e2e_result "proxy stop with its PID restored -> stopped" "$why"
overwrite "$CFILE" "$COLONY_PID\n"
coral colony stop "$ID"
why=""
if ((rc != 0)); then why="exit $rc: $out $err"
elif [[ $out != *"✓ Colony $ID stopped"* ]]; then why="stdout: $out"
elif ! e2e_alive bystander; then why="the bystander was killed"
fi
e2e_result "colony stop with its PID restored -> stopped, bystander alive" "$why"

e2e_summary
