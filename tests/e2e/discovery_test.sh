#!/usr/bin/env bash
# Black-box tests of the coral-discovery binary (issue 4): the real process,
# spoken to with curl (Connect JSON) and `buf curl` (Connect, gRPC,
# gRPC-Web), with the memory store and with a real redis-server.
#
# Usage: tests/e2e/discovery_test.sh [BUILD_DIR | PATH/TO/coral-discovery]
#        (or env CORAL_DISCOVERY=PATH; default build/release)
# Prints "ok   NAME" or "FAIL NAME: WHY" per check, then "N passed, M
# failed". Exits 1 on any failure; 77 (skipped) when nothing failed but a
# part could not run (buf, redis-server or jq missing); else 0.
# Env: E2E_KEEP=1 keeps the processes' logs (the path is printed);
#      CORAL_BUF, CORAL_REDIS_SERVER: other buf / redis-server binaries.
#
# Traffic stays on 127.0.0.1 and ::1. Every process (discovery servers,
# redis-server) is started here and stopped by its PID on exit. Short TTLs
# keep the run near 30 s.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$here/lib.sh"

bin=${CORAL_DISCOVERY:-}
if [[ -z $bin ]]; then
  arg=${1:-$root/build/release}
  if [[ -d $arg ]]; then bin=$arg/apps/coral-discovery; else bin=$arg; fi
fi
if [[ ! -x $bin ]]; then
  echo "FAIL setup: $bin is not an executable (build it: scripts/build release coral-discovery)"
  echo "0 passed, 1 failed"
  exit 1
fi
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
if ! command -v jq >/dev/null; then
  echo "SKIP: jq is not installed (it reads the JSON answers)"
  exit 77
fi
cd "$root" || exit 1 # buf curl resolves --schema from here

BUF=${CORAL_BUF:-$root/tests/interop/node/node_modules/.bin/buf}
REDIS_SERVER=${CORAL_REDIS_SERVER:-redis-server}
SCHEMA=proto/coral/discovery/v1/discovery.proto
SVC=coral.discovery.v1.DiscoveryService
T=10 # seconds allowed for each client command

e2e_init

# ------------------------------------------------------------------ helpers

# key WORD: a canonical base64 WireGuard key (32 bytes) made from WORD.
key() { printf '%-32.32s' "$1" | base64 -w0; }
K1=$(key colony-one)
K2=$(key colony-two)
K3=$(key colony-three)

now() { date +%s; }
# epoch seconds of an RFC 3339 time stamp, "" if it does not parse
epoch() { [[ -n $1 ]] && date -u -d "$1" +%s 2>/dev/null; }

http=""
body=""
crc=0
# call BASE METHOD JSON [CURL-ARGS...]: Connect unary JSON over HTTP/1.1;
# sets $http (status), $body, $crc (curl's exit status).
call() {
  local base=$1 method=$2 json=$3
  shift 3
  http=$(curl -sS --max-time "$T" "$@" -H 'Content-Type: application/json' -o "$E2E_WORK/body" \
    -w '%{http_code}' --data-binary "$json" "$base/$SVC/$method" 2>"$E2E_WORK/curl.err")
  crc=$?
  body=$(cat "$E2E_WORK/body" 2>/dev/null; cat "$E2E_WORK/curl.err")
  rm -f "$E2E_WORK/body"
}
# j FILTER: jq -r over $body ("" on null or on a body that is not JSON)
j() { jq -r "($1) // empty" 2>/dev/null <<<"$body"; }
health() { call "$1" Health '{}'; }
count_of() { health "$1"; j '.registeredColonies // 0'; }
why_count() { local c; c=$(count_of "$1"); [[ $c == "$2" ]] || echo "count $c, want $2"; } # why_count BASE N

# why_success: "" when the last call was a 200 with a JSON body.
why_success() {
  if ((crc != 0)); then echo "curl exit status $crc: $body"
  elif [[ $http != 200 ]]; then echo "HTTP $http, want 200: $body"
  elif ! jq -e . >/dev/null 2>&1 <<<"$body"; then echo "body is not JSON: $body"
  fi
}
# why_error CODE HTTP [NEEDLE...]: "" when the last call failed with Connect
# error CODE, HTTP status HTTP and a message containing every NEEDLE.
why_error() {
  local code=$1 status=$2 n msg
  shift 2
  if ((crc != 0)); then echo "curl exit status $crc: $body"; return; fi
  if [[ $http != "$status" ]]; then echo "HTTP $http, want $status: $body"; return; fi
  if [[ $(j .code) != "$code" ]]; then echo "code '$(j .code)', want $code: $body"; return; fi
  msg=$(j .message)
  for n in "$@"; do
    [[ $msg == *"$n"* ]] || { echo "message does not mention '$n': $msg"; return; }
  done
}
# why_within WHAT STAMP LOW HIGH: "" when STAMP is an RFC 3339 time within
# [LOW, HIGH] epoch seconds.
why_within() {
  local t
  t=$(epoch "$2")
  if [[ -z $t ]]; then echo "$1 '$2' is not an RFC 3339 time"
  elif ((t < $3 || t > $4)); then echo "$1 $2 ($t) is outside [$3, $4]"
  fi
}

# Starts coral-discovery as NAME with ARGS (port 0 unless ARGS has
# --listen) and --accept-unproven --register-rate 0; sets BASE to its URL. Fails the check NAME when it cannot.
BASE=""
discovery() {
  local name=$1 host=127.0.0.1
  shift
  local args=("$@")
  if [[ " ${args[*]} " != *" --listen "* ]]; then args=(--listen 127.0.0.1:0 "${args[@]}"); fi
  # These checks are about leases, registered with curl: no proofs of
  # possession (discovery_squat_test.sh checks those), no rate limit.
  args+=(--accept-unproven --register-rate 0)
  [[ " ${args[*]} " == *" --listen [::1]"* ]] && host='[::1]'
  if ! e2e_start_server "$name" "$bin" "${args[@]}" 2>"$E2E_WORK/start.err"; then
    e2e_fail "start $name" "$(cat "$E2E_WORK/start.err")"
    BASE=""
    return 1
  fi
  BASE=http://$host:$E2E_PORT
}
log_of() { cat "$E2E_WORK/$1.log" 2>/dev/null; }

# A full registration (every RFD 005 field) of MESH_ID with KEY, original
# (proto) field names.
full_reg() {
  printf '{"mesh_id":"%s","wireguard_pubkey":"%s","public_endpoints":["203.0.113.7:41820","[2001:db8::7]:41820"],"mesh_ipv4":"127.42.0.1","mesh_ipv6":"fdc0:42::1","connect_port":9000,"metadata":{"app":"my-app","env":"prod"}}' "$1" "$2"
}
# takeover REG LOOKUP ID KEY: sets why to "" when RegisterColony of ID with
# KEY at base URL REG succeeds and LookupColony of ID at LOOKUP then answers
# KEY.
takeover() {
  call "$1" RegisterColony "$(full_reg "$3" "$4")"
  why=$(why_success)
  [[ -n $why ]] && return
  call "$2" LookupColony "{\"mesh_id\":\"$3\"}"
  [[ $(j .wireguardPubkey) == "$4" ]] || why="lookup at $2 after the takeover: $body"
}
# why_full_lookup KEY LOW HIGH: "" when $body is the lookup answer of a
# full_reg with KEY, last seen within [LOW, HIGH].
why_full_lookup() {
  local why
  why=$(why_success)
  [[ -n $why ]] && { echo "$why"; return; }
  [[ $(j .wireguardPubkey) == "$1" ]] || { echo "wireguardPubkey '$(j .wireguardPubkey)', want $1"; return; }
  [[ $(j '.publicEndpoints | join(",")') == '203.0.113.7:41820,[2001:db8::7]:41820' ]] ||
    { echo "publicEndpoints $(j .publicEndpoints)"; return; }
  [[ $(j .meshIpv4) == 127.42.0.1 ]] || { echo "meshIpv4 '$(j .meshIpv4)', want 127.42.0.1"; return; }
  [[ $(j .meshIpv6) == fdc0:42::1 ]] || { echo "meshIpv6 '$(j .meshIpv6)', want fdc0:42::1"; return; }
  [[ $(j .connectPort) == 9000 ]] || { echo "connectPort '$(j .connectPort)', want 9000"; return; }
  [[ $(j '.metadata | to_entries | map(.key + "=" + .value) | sort | join(",")') == app=my-app,env=prod ]] ||
    { echo "metadata $(j .metadata)"; return; }
  why_within lastSeen "$(j .lastSeen)" "$2" "$3"
}

buf_out=""
buf_err=""
buf_rc=0
bufcurl() {
  buf_out=$(timeout 20 "$BUF" curl --schema "$SCHEMA" "$@" 2>"$E2E_WORK/buf.err")
  buf_rc=$?
  buf_err=$(cat "$E2E_WORK/buf.err")
}

# ------------------------------------------------------------ 14. bad flags
# (first: they need no server)
bad_flag() {
  local name=$1 needle=$2
  shift 2
  local out rc args=("$@")
  [[ " $* " == *" --listen "* ]] || args=(--listen 127.0.0.1:0 "$@")
  out=$(timeout 5 "$bin" "${args[@]}" 2>&1 </dev/null)
  rc=$?
  if ((rc == 0)); then e2e_fail "$name" "exit status 0, want non-zero: $out"
  elif ((rc == 124)); then e2e_fail "$name" "still running after 5 s (killed): $out"
  elif ! grep -Eq -- "$needle" <<<"$out"; then e2e_fail "$name" "exit $rc but the message does not match /$needle/: $out"
  else e2e_ok "$name"
  fi
}
bad_flag "flags: --store bogus refused" '--store' --store bogus
bad_flag "flags: --store redis://127.0.0.1:notaport/0 refused" '--store' --store redis://127.0.0.1:notaport/0
bad_flag "flags: --ttl 5x refused" '--ttl' --ttl 5x
bad_flag "flags: --ttl 0s refused" '--ttl' --ttl 0s
bad_flag "flags: --cleanup-interval 0s refused" '--cleanup-interval' --cleanup-interval 0s
bad_flag "flags: --listen nonsense refused" '--listen' --listen nonsense
bad_flag "flags: --listen 127.0.0.1:99999 refused" '--listen' --listen 127.0.0.1:99999
bad_flag "flags: --log-level loud refused" 'log[- ]level' --log-level loud
bad_flag "flags: --log-format xml refused" 'log[- ]format' --log-format xml
bad_flag "flags: unknown --bogus refused" 'bogus' --bogus

out=$(timeout 5 "$bin" --help 2>&1 </dev/null)
rc=$?
why=""
((rc == 0)) || why="exit status $rc"
for flag in --listen --ttl --cleanup-interval --store --log-level --log-format --port-file; do
  [[ -z $why && $out != *"$flag"* ]] && why="does not list $flag"
done
e2e_result "flags: --help lists every flag, exits 0" "$why"

# ------------------------------------------------------- the main server
# memory store, default TTL (300s)
if ! discovery main --log-level debug; then
  echo "cannot go on without a server"
  e2e_summary
  exit 1
fi
MAIN=$BASE
MAIN_PORT=$E2E_PORT

line=$(log_of main | grep 'coral-discovery listening' | head -n 1)
why=""
if [[ -z $line ]]; then why="no 'coral-discovery listening' line"
elif [[ $line != *"http://127.0.0.1:$MAIN_PORT"* ]]; then why="address missing: $line"
elif [[ $line != *"store=memory"* ]]; then why="store=memory missing: $line"
elif [[ $line != *"ttl=5m"* && $line != *"ttl=300s"* ]]; then why="ttl missing: $line"
fi
e2e_result "log: listening line names address, store and ttl" "$why"

# The port is taken now: a second server on it must refuse to start.
out=$(timeout 5 "$bin" --listen "127.0.0.1:$MAIN_PORT" 2>&1 </dev/null)
rc=$?
if ((rc == 0 || rc == 124)); then e2e_result "flags: --listen on a port in use fails" "exit status $rc: $out"
else e2e_result "flags: --listen on a port in use fails" ""
fi

# ---------------------------------------------------- 1. curl JSON (Connect)
health "$MAIN"
count0=$(j '.registeredColonies // 0')

t0=$(now)
call "$MAIN" RegisterColony "$(full_reg my-app-prod "$K1")"
why=$(why_success)
[[ -z $why && $(j .success) != true ]] && why="success is not true: $body"
[[ -z $why && $(j .ttl) != 300 ]] && why="ttl '$(j .ttl)', want 300"
[[ -z $why ]] && why=$(why_within expiresAt "$(j .expiresAt)" $((t0 + 299)) $(($(now) + 301)))
e2e_result "curl: RegisterColony (proto field names) -> success, ttl 300, expires_at" "$why"
t1=$(now)

# The RFD's exact command.
body=$(curl -sS --max-time "$T" -H 'Content-Type: application/json' -d '{"mesh_id":"my-app-prod"}' \
  "$MAIN/coral.discovery.v1.DiscoveryService/LookupColony" -w '\n%{http_code}' 2>&1)
crc=$?
http=$(tail -n 1 <<<"$body")
body=$(sed '$d' <<<"$body")
e2e_result "curl: LookupColony (RFD command) -> every field and lastSeen" "$(why_full_lookup "$K1" "$t0" "$t1")"

call "$MAIN" RegisterColony "{\"meshId\":\"camel-case\",\"wireguardPubkey\":\"$K2\",\"publicEndpoints\":[\"198.51.100.1:51820\"],\"meshIpv4\":\"127.42.0.2\",\"meshIpv6\":\"fdc0:42::2\",\"connectPort\":9001,\"metadata\":{\"k\":\"v\"}}"
why=$(why_success)
if [[ -z $why ]]; then
  call "$MAIN" LookupColony '{"meshId":"camel-case"}'
  why=$(why_success)
  [[ -z $why && "$(j .wireguardPubkey) $(j .meshIpv4) $(j .meshIpv6) $(j .connectPort) $(j .metadata.k) $(j '.publicEndpoints[0]')" != "$K2 127.42.0.2 fdc0:42::2 9001 v 198.51.100.1:51820" ]] &&
    why="wrong answer: $body"
fi
e2e_result "curl: register + lookup with JSON (camelCase) field names" "$why"

body=$(curl -sS --max-time "$T" -G --data-urlencode 'message={"mesh_id":"my-app-prod"}' \
  --data-urlencode encoding=json --data-urlencode connect=v1 -w '\n%{http_code}' \
  "$MAIN/$SVC/LookupColony" 2>&1)
crc=$?
http=$(tail -n 1 <<<"$body")
body=$(sed '$d' <<<"$body")
e2e_result "curl: LookupColony as a Connect GET" "$(why_full_lookup "$K1" "$t0" "$t1")"

call "$MAIN" LookupColony '{"mesh_id":"my-app-prod"}' --http2-prior-knowledge
e2e_result "curl: LookupColony over h2c" "$(why_full_lookup "$K1" "$t0" "$t1")"

call "$MAIN" LookupColony '{"mesh_id":"nobody-here"}'
e2e_result "curl: LookupColony of an unknown colony -> not_found (404) naming it" \
  "$(why_error not_found 404 nobody-here)"

# -------------------------------------------------------------- 2. buf curl
if [[ ! -x $BUF ]]; then
  e2e_skip "buf curl" "$BUF missing (run npm ci in tests/interop/node)"
else
  for combo in "connect h1" "connect h2c" "grpc h2c" "grpcweb h1" "grpcweb h2c"; do
    read -r protocol mode <<<"$combo"
    flags=(--protocol "$protocol")
    [[ $mode == h2c ]] && flags+=(--http2-prior-knowledge)
    tag="buf curl $protocol $mode"
    mesh=buf-$protocol-$mode
    t0=$(now)
    bufcurl "${flags[@]}" -d "$(full_reg "$mesh" "$K1")" "$MAIN/$SVC/RegisterColony"
    why=""
    if ((buf_rc != 0)); then why="exit status $buf_rc: $buf_err"
    else
      body=$buf_out
      [[ $(j .success) == true && $(j .ttl) == 300 ]] || why="unexpected answer: $buf_out"
      [[ -z $why ]] && why=$(why_within expiresAt "$(j .expiresAt)" $((t0 + 299)) $(($(now) + 301)))
    fi
    e2e_result "$tag: RegisterColony" "$why"
    t1=$(now)

    bufcurl "${flags[@]}" -d "{\"mesh_id\":\"$mesh\"}" "$MAIN/$SVC/LookupColony"
    if ((buf_rc != 0)); then why="exit status $buf_rc: $buf_err"
    else
      body=$buf_out http=200 crc=0
      why=$(why_full_lookup "$K1" "$t0" "$t1")
    fi
    e2e_result "$tag: LookupColony -> every field" "$why"

    bufcurl "${flags[@]}" -d '{"mesh_id":"nobody-here"}' "$MAIN/$SVC/LookupColony"
    why=""
    if ((buf_rc != 40)); then why="exit status $buf_rc, want 40 (not_found << 3): $buf_err"
    elif [[ $buf_err != *nobody-here* ]]; then why="message does not name the colony: $buf_err"
    fi
    e2e_result "$tag: LookupColony unknown -> not_found" "$why"
  done

  bufcurl --protocol grpc -d '{"mesh_id":"BAD"}' "$MAIN/$SVC/LookupColony"
  why=""
  if ((buf_rc != 24)); then why="exit status $buf_rc, want 24 (invalid_argument << 3): $buf_err"
  elif [[ $buf_err != *mesh_id* ]]; then why="message does not name mesh_id: $buf_err"
  fi
  e2e_result "buf curl grpc: LookupColony invalid mesh_id -> invalid_argument" "$why"

  bufcurl --protocol grpc -d "$(full_reg my-app-prod "$K2")" "$MAIN/$SVC/RegisterColony"
  why=""
  if ((buf_rc != 48)); then why="exit status $buf_rc, want 48 (already_exists << 3): $buf_err"
  elif [[ $buf_err != *my-app-prod* ]]; then why="message does not name the colony: $buf_err"
  fi
  e2e_result "buf curl grpc: takeover of a live lease -> already_exists" "$why"

  bufcurl --protocol grpc -d '{}' "$MAIN/$SVC/Health"
  body=$buf_out
  why=""
  ((buf_rc == 0)) || why="exit status $buf_rc: $buf_err"
  [[ -z $why && $(j .status) != ok ]] && why="status '$(j .status)', want ok"
  e2e_result "buf curl grpc: Health" "$why"
fi

# ------------------------------------------------------------- 3. Health
health "$MAIN"
why=$(why_success)
c=$(j '.registeredColonies // 0')
[[ -z $why && $(j .status) != ok ]] && why="status '$(j .status)', want ok"
[[ -z $why && -z $(j .version) ]] && why="no version: $body"
[[ -z $why && ! $(j '.uptimeSeconds // "0"') =~ ^[0-9]+$ ]] && why="uptimeSeconds is not a count: $body"
e2e_result "Health: status ok, version, uptime" "$why"
before=$c
call "$MAIN" RegisterColony "$(full_reg health-probe "$K1")"
c1=$(count_of "$MAIN")
call "$MAIN" RegisterColony "$(full_reg health-probe "$K1")"
c2=$(count_of "$MAIN")
why=""
if [[ $c1 != $((before + 1)) ]]; then why="count $before -> $c1 after a new registration, want $((before + 1))"
elif [[ $c2 != "$c1" ]]; then why="count $c1 -> $c2 after re-registering the same colony"
fi
e2e_result "Health: registered_colonies counts new colonies once" "$why"
expected=$((count0 + 2)) # my-app-prod, camel-case
[[ -x $BUF ]] && expected=$((expected + 5))
e2e_result "Health: registered_colonies is every colony registered here" \
  "$([[ $c2 == $((expected + 1)) ]] || echo "count $c2, want $((expected + 1))")"

# -------------------------------------------------------- 7. older client
call "$MAIN" RegisterColony "{\"mesh_id\":\"old-client\",\"wireguard_pubkey\":\"$K3\",\"public_endpoints\":[\"192.0.2.1:41820\"]}"
why=$(why_success)
[[ -z $why && $(j .success) != true ]] && why="success is not true: $body"
e2e_result "old client: register with mesh_id, pubkey, endpoints only" "$why"
call "$MAIN" LookupColony '{"mesh_id":"old-client"}'
why=$(why_success)
[[ -z $why && ($(j .wireguardPubkey) != "$K3" || $(j '.publicEndpoints | join(",")') != 192.0.2.1:41820) ]] &&
  why="wrong answer: $body"
[[ -z $why && -n $(j .meshIpv4)$(j .meshIpv6)$(j .connectPort) ]] && why="mesh fields out of nowhere: $body"
e2e_result "old client: lookup works" "$why"

# ---------------------------------------------------------- 8. bad inputs
# bad NAME JSON FIELD: RegisterColony(JSON) -> invalid_argument (400) naming FIELD
bad() {
  call "$MAIN" RegisterColony "$2"
  e2e_result "bad input: $1 -> invalid_argument naming $3" "$(why_error invalid_argument 400 "$3")"
}
# reg FIELDS: a valid registration of "bad-input" plus/overridden by FIELDS
reg() { printf '{"mesh_id":"bad-input","wireguard_pubkey":"%s","public_endpoints":["192.0.2.1:41820"]%s}' "$K1" "${1:+,$1}"; }
mesh_ips='"mesh_ipv4":"127.42.0.9","mesh_ipv6":"fdc0:42::9"'
many_endpoints=$(printf '"192.0.2.1:%d",' $(seq 41001 41017))
many_metadata=$(printf '"k%02d":"v",' $(seq 1 33))

bad "mesh_id empty" "{\"mesh_id\":\"\",\"wireguard_pubkey\":\"$K1\"}" mesh_id
bad "mesh_id uppercase" "{\"mesh_id\":\"My-App\",\"wireguard_pubkey\":\"$K1\"}" mesh_id
bad "mesh_id 64 chars" "{\"mesh_id\":\"$(printf 'a%.0s' $(seq 64))\",\"wireguard_pubkey\":\"$K1\"}" mesh_id
bad "pubkey not base64" '{"mesh_id":"bad-input","wireguard_pubkey":"not base64 at all!!"}' wireguard_pubkey
bad "pubkey 31 bytes" "{\"mesh_id\":\"bad-input\",\"wireguard_pubkey\":\"$(printf '%-31.31s' x | base64 -w0)\"}" wireguard_pubkey
bad "pubkey missing" '{"mesh_id":"bad-input"}' wireguard_pubkey
bad "mesh_ipv4 127.42.0" "$(reg '"mesh_ipv4":"127.42.0","connect_port":9000')" mesh_ipv4
bad "mesh_ipv4 ::1" "$(reg '"mesh_ipv4":"::1","connect_port":9000')" mesh_ipv4
bad "mesh_ipv6 ::ffff:10.0.0.1" "$(reg '"mesh_ipv6":"::ffff:10.0.0.1","connect_port":9000')" mesh_ipv6
bad "mesh_ipv6 fdc0:42::zz" "$(reg '"mesh_ipv6":"fdc0:42::zz","connect_port":9000')" mesh_ipv6
bad "mesh_ipv6 10.0.0.1" "$(reg '"mesh_ipv6":"10.0.0.1","connect_port":9000')" mesh_ipv6
bad "connect_port 70000" "$(reg "$mesh_ips,\"connect_port\":70000")" connect_port
bad "connect_port 0 with mesh ips" "$(reg "$mesh_ips,\"connect_port\":0")" connect_port
bad "endpoint host without port" "{\"mesh_id\":\"bad-input\",\"wireguard_pubkey\":\"$K1\",\"public_endpoints\":[\"host\"]}" public_endpoints
bad "endpoint [fdc0:42::1:41820" "{\"mesh_id\":\"bad-input\",\"wireguard_pubkey\":\"$K1\",\"public_endpoints\":[\"[fdc0:42::1:41820\"]}" public_endpoints
bad "endpoint port 70000" "{\"mesh_id\":\"bad-input\",\"wireguard_pubkey\":\"$K1\",\"public_endpoints\":[\"192.0.2.1:70000\"]}" public_endpoints
bad "17 endpoints" "{\"mesh_id\":\"bad-input\",\"wireguard_pubkey\":\"$K1\",\"public_endpoints\":[${many_endpoints%,}]}" public_endpoints
bad "33 metadata entries" "$(reg "\"metadata\":{${many_metadata%,}}")" metadata

call "$MAIN" LookupColony '{"mesh_id":"bad-input"}'
e2e_result "bad input: nothing was stored" "$(why_error not_found 404 bad-input)"

call "$MAIN" LookupColony '{"mesh_id":""}'
e2e_result "bad input: LookupColony empty mesh_id -> invalid_argument naming mesh_id" \
  "$(why_error invalid_argument 400 mesh_id)"

call "$MAIN" RegisterColony '{"mesh_id":"bad-input",'
e2e_result "bad input: malformed JSON -> invalid_argument (400)" "$(why_error invalid_argument 400)"

call "$MAIN" RegisterColony '{"mesh_id":"bad-input","connect_port":"many"}'
e2e_result "bad input: wrong JSON type -> invalid_argument (400)" "$(why_error invalid_argument 400)"

http=$(curl -sS --max-time "$T" -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -d '{}' \
  "$MAIN/$SVC/NoSuchMethod" 2>&1)
e2e_result "bad input: unknown method -> 404" "$([[ $http == 404 ]] || echo "HTTP $http, want 404")"

http=$(curl -sS --max-time "$T" -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -d '{}' \
  "$MAIN/coral.discovery.v1.NoSuchService/Health" 2>&1)
e2e_result "bad input: unknown service -> 404" "$([[ $http == 404 ]] || echo "HTTP $http, want 404")"

{ printf '{"mesh_id":"big","wireguard_pubkey":"'; head -c $((5 * 1024 * 1024)) /dev/zero | tr '\0' a; printf '"}'; } \
  >"$E2E_WORK/big.json"
call "$MAIN" RegisterColony "@$E2E_WORK/big.json"
# (call passes JSON to --data-binary, so "@file" reads the file)
e2e_result "bad input: 5 MiB body -> resource_exhausted (429)" "$(why_error resource_exhausted 429)"
rm -f "$E2E_WORK/big.json"

health "$MAIN"
why=$(why_success)
[[ -z $why && $(j .status) != ok ]] && why="status '$(j .status)'"
e2e_alive main || why="the server exited"
if [[ -z $why ]]; then
  call "$MAIN" LookupColony '{"mesh_id":"my-app-prod"}'
  [[ $(j .wireguardPubkey) == "$K1" ]] || why="lookup after the bad inputs: $body"
fi
e2e_result "bad input: the server still serves afterwards" "$why"

# ------------------------------------- 4-6. expiry, refresh, takeover (TTL 2s)
if discovery short --ttl 2s --cleanup-interval 1s; then
  SHORT=$BASE
  t0=$(now)
  call "$SHORT" RegisterColony "$(full_reg refresh-me "$K1")"
  first_expiry=$(epoch "$(j .expiresAt)")
  first_expiry_text=$(j .expiresAt)
  why=$(why_success)
  [[ -z $why && $(j .ttl) != 2 ]] && why="ttl '$(j .ttl)', want 2"
  e2e_result "expiry: register with --ttl 2s -> ttl 2" "$why"
  call "$SHORT" RegisterColony "$(full_reg expire-me "$K1")"
  call "$SHORT" RegisterColony "$(full_reg take-me "$K1")"
  t1=$(now)
  call "$SHORT" LookupColony '{"mesh_id":"expire-me"}'
  e2e_result "expiry: lookup before the TTL -> found" "$(why_full_lookup "$K1" "$t0" "$t1")"
  e2e_result "expiry: Health counts 3" "$(why_count "$SHORT" 3)"

  call "$SHORT" RegisterColony "$(full_reg take-me "$K2")"
  why=$(why_error already_exists 409 take-me)
  if [[ -z $why ]]; then
    msg=$(j .message)
    # when the lease ends: an RFC 3339 time within a few seconds of the lease
    stamp=$(grep -Eo '[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z' <<<"$msg" | head -n 1)
    if [[ -z $stamp ]]; then why="message does not say when the lease ends: $msg"
    else why=$(why_within "lease end in the message" "$stamp" "$t0" $((t1 + 4)))
    fi
  fi
  e2e_result "takeover: another pubkey while the lease lives -> already_exists (409) naming its end" "$why"

  call "$SHORT" LookupColony '{"mesh_id":"take-me"}'
  e2e_result "takeover: the refused registration changed nothing" \
    "$([[ $(j .wireguardPubkey) == "$K1" ]] || echo "holder now: $body")"

  # refresh: re-register refresh-me 1 s later; its lease must move forward.
  sleep 1.1
  call "$SHORT" RegisterColony "$(full_reg refresh-me "$K1")"
  second_expiry=$(epoch "$(j .expiresAt)")
  why=$(why_success)
  if [[ -z $why ]]; then
    if [[ -z $first_expiry || -z $second_expiry ]]; then why="expiresAt missing: $first_expiry_text / $body"
    elif ((second_expiry < first_expiry + 1)); then why="expiresAt did not move forward: $first_expiry_text -> $(j .expiresAt)"
    fi
  fi
  e2e_result "refresh: re-registering moves expires_at forward" "$why"

  # expire-me was registered after refresh-me's first lease: once it is gone,
  # so is that lease, and only the refresh keeps refresh-me.
  expired() { call "$SHORT" LookupColony '{"mesh_id":"expire-me"}'; [[ $http == 404 ]]; }
  e2e_wait 5 expired
  e2e_result "expiry: after the TTL, lookup -> not_found naming the colony" "$(why_error not_found 404 expire-me)"
  gone_at=$(now)
  e2e_result "expiry: not before the TTL" "$( ((gone_at - t0 >= 2)) || echo "gone after $((gone_at - t0)) s, TTL 2s")"

  call "$SHORT" LookupColony '{"mesh_id":"refresh-me"}'
  e2e_result "refresh: the refreshed colony outlives its first lease" "$(why_success)"

  takeover "$SHORT" "$SHORT" take-me "$K2"
  e2e_result "takeover: after the lease expired, another pubkey succeeds" "$why"

  zero() { [[ $(count_of "$SHORT") == 0 ]]; }
  e2e_wait 6 zero
  e2e_result "expiry: Health count back to 0" "$(why_count "$SHORT" 0)"
  e2e_wait 3 grep -q 'expired leases purged' "$E2E_WORK/short.log"
  e2e_result "expiry: the cleanup loop purges and logs it" \
    "$(grep -q 'expired leases purged' "$E2E_WORK/short.log" || echo "no 'expired leases purged' line in the log")"
  e2e_stop short
fi

# ------------------------------------------------------------- 9. IPv6 listen
if discovery v6 --listen '[::1]:0'; then
  t0=$(now)
  call "$BASE" RegisterColony "$(full_reg over-ipv6 "$K1")"
  why=$(why_success)
  t1=$(now)
  if [[ -z $why ]]; then
    call "$BASE" LookupColony '{"mesh_id":"over-ipv6"}'
    why=$(why_full_lookup "$K1" "$t0" "$t1")
  fi
  e2e_result "ipv6: --listen [::1]:0 -> register + lookup over http://[::1]:P" "$why"
  line=$(log_of v6 | grep 'coral-discovery listening' | head -n 1)
  e2e_result "ipv6: the log names http://[::1]:P" \
    "$([[ $line == *"http://[::1]:$E2E_PORT"* ]] || echo "listening line: $line")"
  e2e_stop v6
fi

# -------------------------------------------------- 10a. restart, memory store
if discovery mem; then
  call "$BASE" RegisterColony "$(full_reg forget-me "$K1")"
  e2e_result "restart (memory): register" "$(why_success)"
  e2e_stop mem INT
  e2e_result "shutdown: SIGINT -> exit 0" "$([[ $E2E_STATUS == 0 ]] || echo "exit status $E2E_STATUS")"
  if discovery mem; then
    call "$BASE" LookupColony '{"mesh_id":"forget-me"}'
    e2e_result "restart (memory): the registration is gone" "$(why_error not_found 404 forget-me)"
    e2e_stop mem
  fi
fi

# ------------------------------------------------------------ Redis parts
redis_pid_name=redis
REDIS_PORT=""
start_redis() { # start_redis PORT
  e2e_start "$redis_pid_name" "$REDIS_SERVER" --bind 127.0.0.1 --port "$1" --save '' --appendonly no \
    --protected-mode yes --dir "$E2E_WORK" --loglevel warning
  e2e_wait 5 redis_ping "$1"
}
redis_ping() {
  if command -v redis-cli >/dev/null; then
    [[ $(timeout 2 redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null) == PONG ]]
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$1" && printf 'PING\r\n' >&3 && read -r -t 2 reply <&3 && [[ $reply == +PONG* ]]) 2>/dev/null
  fi
}

if ! command -v "$REDIS_SERVER" >/dev/null; then
  e2e_skip "redis" "$REDIS_SERVER is not installed"
else
  for _ in 1 2 3; do
    REDIS_PORT=$(e2e_free_port)
    start_redis "$REDIS_PORT" && break
    e2e_stop "$redis_pid_name" TERM 2
    REDIS_PORT=""
  done
  if [[ -z $REDIS_PORT ]]; then
    e2e_fail "redis: start redis-server" "$(log_of redis | tail -n 5)"
  else
    STORE=redis://127.0.0.1:$REDIS_PORT/0
    RARGS=(--store "$STORE" --ttl 4s --cleanup-interval 1s)

    # ------------------------------------------- 10b. restart, Redis store
    if discovery ra "${RARGS[@]}"; then
      line=$(log_of ra | grep 'coral-discovery listening' | head -n 1)
      e2e_result "redis: listening line names the store" \
        "$([[ $line == *"$STORE"* ]] || echo "listening line: $line")"
      t0=$(now)
      call "$BASE" RegisterColony "$(full_reg keep-me "$K1")"
      why=$(why_success)
      [[ -z $why && $(j .ttl) != 4 ]] && why="ttl '$(j .ttl)', want 4"
      e2e_result "restart (redis): register" "$why"
      t1=$(now)
      e2e_stop ra
      e2e_result "restart (redis): SIGTERM -> exit 0" "$([[ $E2E_STATUS == 0 ]] || echo "exit status $E2E_STATUS")"
    fi
    if discovery ra "${RARGS[@]}"; then
      A=$BASE
      call "$A" LookupColony '{"mesh_id":"keep-me"}'
      e2e_result "restart (redis): the registration survives, every field" "$(why_full_lookup "$K1" "$t0" "$t1")"

      # ----------------------------------------- 11. two replicas, one Redis
      if discovery rb "${RARGS[@]}"; then
        B=$BASE
        call "$B" LookupColony '{"mesh_id":"keep-me"}'
        e2e_result "replicas: registered on A, looked up on B" "$(why_full_lookup "$K1" "$t0" "$t1")"
        e2e_result "replicas: Health on B counts it" "$(why_count "$B" 1)"

        call "$B" RegisterColony "$(full_reg keep-me "$K2")"
        why=$(why_error already_exists 409 keep-me)
        [[ -z $why && ! $(j .message) =~ [0-9]{4}-[0-9]{2}-[0-9]{2}T ]] && why="no lease end in: $(j .message)"
        e2e_result "replicas: takeover on B of A's live lease -> already_exists" "$why"

        call "$A" RegisterColony "$(full_reg both-see "$K3")"
        call "$B" RegisterColony "$(full_reg both-see "$K3")"
        why=$(why_success)
        e2e_result "replicas: the holder re-registers through B" "$why"

        expired() { call "$B" LookupColony '{"mesh_id":"keep-me"}'; [[ $http == 404 ]]; }
        e2e_wait 8 expired
        e2e_result "redis: the lease expires (Redis key TTL)" "$(why_error not_found 404 keep-me)"
        takeover "$B" "$A" keep-me "$K2"
        e2e_result "replicas: takeover on B after expiry, A sees the new key" "$why"

        # ------------------------------------------- 12. Redis down and back
        lines_a=$(log_of ra | wc -l)
        lines_b=$(log_of rb | wc -l)
        e2e_stop "$redis_pid_name" TERM 5
        call "$A" RegisterColony "$(full_reg during-outage "$K1")"
        why=$(why_error unavailable 503)
        [[ -z $why && ! $(j .message) =~ [Rr]edis ]] && why="the message does not say Redis: $(j .message)"
        e2e_result "redis down: register -> unavailable (503) with a clear message" "$why"
        call "$A" LookupColony '{"mesh_id":"keep-me"}'
        e2e_result "redis down: lookup on A -> unavailable (503)" "$(why_error unavailable 503)"
        call "$B" LookupColony '{"mesh_id":"keep-me"}'
        e2e_result "redis down: lookup on B -> unavailable (503)" "$(why_error unavailable 503)"
        if [[ -x $BUF ]]; then
          bufcurl --protocol grpc -d '{"mesh_id":"keep-me"}' "$A/$SVC/LookupColony"
          e2e_result "redis down: buf curl grpc lookup -> unavailable" \
            "$( ((buf_rc == 112)) || echo "exit status $buf_rc, want 112 (unavailable << 3): $buf_err")"
        fi
        health "$A"
        why=$(why_success)
        [[ -z $why && $(j .status) != degraded* ]] && why="status '$(j .status)', want degraded…"
        e2e_result "redis down: Health answers, status degraded" "$why"
        for _ in 1 2 3; do
          call "$A" RegisterColony "$(full_reg during-outage "$K1")"
          call "$A" LookupColony '{"mesh_id":"keep-me"}'
          call "$B" LookupColony '{"mesh_id":"keep-me"}'
          sleep 0.4 # let the cleanup loops (1 s) run during the outage
        done
        why=""
        e2e_alive ra || why="replica A exited"
        e2e_alive rb || why="$why replica B exited"
        e2e_result "redis down: both replicas still run" "$why"
        warn_a=$(log_of ra | tail -n +$((lines_a + 1)) | grep -Ec 'level=(warn|error)')
        warn_b=$(log_of rb | tail -n +$((lines_b + 1)) | grep -Ec 'level=(warn|error)')
        why=""
        if [[ $warn_a != 1 || $warn_b != 1 ]]; then
          why="warnings during the outage: A $warn_a, B $warn_b (want 1 each): $(log_of ra | tail -n +$((lines_a + 1)) | grep -E 'level=(warn|error)' | head -n 3 | tr '\n' ' ')"
        elif ! log_of ra | tail -n +$((lines_a + 1)) | grep -E 'level=(warn|error)' | grep -qi redis; then
          why="the warning does not mention redis"
        fi
        e2e_result "redis down: logged once per replica" "$why"

        if start_redis "$REDIS_PORT"; then
          back() { call "$A" RegisterColony "$(full_reg after-outage "$K1")"; [[ $http == 200 ]]; }
          e2e_wait 10 back
          e2e_result "redis back: register on A succeeds again" "$(why_success)"
          back_b() { call "$B" LookupColony '{"mesh_id":"after-outage"}'; [[ $http == 200 ]]; }
          e2e_wait 10 back_b
          why=$(why_success)
          [[ -z $why && $(j .wireguardPubkey) != "$K1" ]] && why="wrong answer: $body"
          e2e_result "redis back: lookup on B succeeds again" "$why"
          health "$A"
          e2e_result "redis back: Health ok" "$([[ $(j .status) == ok ]] || echo "status '$(j .status)'")"
        else
          e2e_fail "redis back: restart redis-server on port $REDIS_PORT" "$(log_of redis | tail -n 5)"
        fi
        e2e_stop rb
      fi
      e2e_stop ra
    fi
    e2e_stop "$redis_pid_name"
  fi
fi

# ------------------------------------------- 13. JSON logs, graceful shutdown
if discovery json --log-format json --log-level debug; then
  call "$BASE" RegisterColony "$(full_reg json-logs "$K1")"
  call "$BASE" LookupColony '{"mesh_id":"json-logs"}'
  call "$BASE" LookupColony '{"mesh_id":"BAD"}'
  e2e_stop json TERM 5
  why=""
  [[ $E2E_STATUS == 0 ]] || why="exit status $E2E_STATUS after SIGTERM"
  if [[ -z $why ]]; then
    why=$(python3 -c '
import json, sys
lines = [l for l in open(sys.argv[1], encoding="utf-8").read().splitlines() if l.strip()]
objs = []
for n, l in enumerate(lines, 1):
    try:
        o = json.loads(l)
    except ValueError as e:
        print("line %d is not JSON (%s): %s" % (n, e, l[:200])); sys.exit()
    if not isinstance(o, dict):
        print("line %d is not an object: %s" % (n, l[:200])); sys.exit()
    objs.append(o)
def has(text):
    return [o for o in objs if text in [str(v) for v in o.values()]]
listening = has("coral-discovery listening")
if not listening:
    print("no listening line"); sys.exit()
missing = [k for k in ("address", "store", "ttl") if k not in listening[0]]
if missing:
    print("listening line lacks %s: %s" % (missing, listening[0])); sys.exit()
if not has("shutting down"):
    print("no shutting down line"); sys.exit()
if len(has("call")) < 3:
    print("%d debug call lines, want 3" % len(has("call"))); sys.exit()
' "$E2E_WORK/json.log" 2>&1)
  fi
  e2e_result "json logs: SIGTERM -> exit 0; every line is a JSON object with the listening, call and shutdown events" "$why"
fi

# The main server: SIGTERM -> exit 0 within 5 s, "shutting down" logged.
e2e_stop main TERM 6
why=""
if [[ $E2E_STATUS != 0 ]]; then why="exit status $E2E_STATUS"
elif awk -v s="$E2E_STOP_SECONDS" 'BEGIN { exit !(s > 5) }'; then why="took $E2E_STOP_SECONDS s"
elif ! grep -q 'shutting down' "$E2E_WORK/main.log"; then why="no 'shutting down' in the log"
fi
e2e_result "shutdown: SIGTERM -> exit 0 within 5 s, logs 'shutting down'" "$why"

e2e_summary
