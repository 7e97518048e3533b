# Helpers shared by the h2load benchmark scripts (rpc_unary.sh,
# discovery_lookup.sh). Sourced, not run. They read the caller's HOST, PID
# (associative: name -> pid), NOTES, QUIET_PCT, QUIET_WAIT and CLK_TCK.

log() { printf '=== %s\n' "$*" >&2; }
stop_pid() { # stop_pid PID: SIGTERM, up to 5 s, then SIGKILL; reaps the child
  local p=$1 i
  kill -0 "$p" 2>/dev/null || { wait "$p" 2>/dev/null; return 0; }
  kill -TERM "$p" 2>/dev/null
  for ((i = 0; i < 50; i++)); do
    kill -0 "$p" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null
  wait "$p" 2>/dev/null
  return 0
}
note() { echo "$*" | tee -a "$NOTES" >&2; }
port_busy() { timeout 1 bash -c "exec 3<>/dev/tcp/$HOST/$1" 2>/dev/null; }
alive() { [[ -n ${PID[$1]:-} ]] && kill -0 "${PID[$1]}" 2>/dev/null; }
cpu_ticks() { # utime+stime (fields 14 and 15 of /proc/PID/stat) in clock ticks, all threads
  awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo -1
}
now_us() { date +%s%6N; }
busy_ticks() { # busy time of the whole machine (user+nice+system+irq+softirq+steal), clock ticks
  awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat
}
wait_quiet() { # wait_quiet: until the machine is quiet (QUIET_PCT) or QUIET_WAIT s passed; sets BUSY_PCT
  local deadline=$((SECONDS + QUIET_WAIT)) b0
  while :; do
    b0=$(busy_ticks); sleep 1
    BUSY_PCT=$((($(busy_ticks) - b0) * 100 / CLK_TCK))
    ((BUSY_PCT <= QUIET_PCT)) && return 0
    ((SECONDS >= deadline)) && return 1
    sleep 2
  done
}
