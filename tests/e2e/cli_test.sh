#!/usr/bin/env bash
# Black-box tests of what the CLI binaries (coral, coral-proxy,
# coral-discovery) say and how they exit (docs/cli.md, "Exit status"):
# --version, usage errors ("error: ...", exit 2, did-you-mean), unknown
# colonies, shell completion, warnings on stderr, init --force's clean-up.
#
# Usage: tests/e2e/cli_test.sh [BUILD_DIR | CORAL [CORAL-DISCOVERY]]
#        (or env CORAL_BIN, CORAL_DISCOVERY; default build/release)
# Prints "ok   NAME" or "FAIL NAME: WHY" per check, then "N passed, M
# failed". Exits 1 on any failure, else 0. Env: E2E_KEEP=1 keeps the work
# directory.
#
# Colonies get loopback subnets (127.44.0.0/16); discovery, when one is
# named, is a closed port.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$here/lib.sh"
# shellcheck source=tests/e2e/cli_lib.sh
. "$here/cli_lib.sh"
coral_binaries "$@"
PROXY=$(dirname "$CORAL")/coral-proxy

e2e_init
export CORAL_CONFIG_DIR=$E2E_WORK/config
unset CORAL_PROXY
cli_cleanup() {
  local status=$? file pid
  for file in "$CORAL_CONFIG_DIR"/colonies/*.pid; do
    [[ -f $file ]] || continue
    pid=$(tr -dc 0-9 <"$file")
    [[ -n $pid && $(readlink "/proc/$pid/exe" 2>/dev/null) == "$CORAL" ]] && kill -TERM "$pid" 2>/dev/null
  done
  (exit "$status")
  e2e_cleanup
}
trap cli_cleanup EXIT

# why_usage WANT: "" when the last command was bad usage: exit 2, nothing
# on stdout, stderr starting "error: " and holding WANT.
why_usage() {
  if ((rc != 2)); then echo "exit status $rc, want 2: $out $err"
  elif [[ -n $out ]]; then echo "stdout: $out"
  elif [[ $err != "error: "* || $err != *"$1"* ]]; then echo "stderr: $err"
  fi
}

# ------------------------------------------------------------ --version
why=""
for binary in "$CORAL" "$PROXY" "$DISC"; do
  run "$binary" --version
  name=$(basename "$binary")
  if ((rc != 0)) || [[ ! $out =~ ^$name\ [0-9]+\.[0-9]+\.[0-9]+ || -n $err ]]; then why="$name --version: exit $rc: $out $err"; fi
done
coral --version
version=$out
coral version
[[ -z $why && ($rc != 0 || $out != "$version") ]] && why="coral version: exit $rc: '$out', --version says '$version'"
e2e_result "--version on coral, coral-proxy, coral-discovery (and coral version): '<name> X.Y.Z', exit 0" "$why"

# ------------------------------------------------------------ bad usage
coral statsu
why=$(why_usage "unknown command 'statsu' — did you mean 'status'?")
coral --config-dir "$CORAL_CONFIG_DIR" colony stauts
[[ -z $why ]] && why=$(why_usage "unknown command 'colony stauts' — did you mean 'colony status'?")
e2e_result "coral statsu / colony stauts -> 'unknown command ... did you mean', exit 2" "$why"

coral status --bogus
why=$(why_usage "--bogus")
[[ -n $why ]] && why="coral: $why"
run "$PROXY" cli-x --bogus
[[ -z $why ]] && { why=$(why_usage "--bogus"); [[ -n $why ]] && why="coral-proxy: $why"; }
run "$DISC" --lsten 127.0.0.1:0
[[ -z $why ]] && { why=$(why_usage "--lsten"); [[ -n $why ]] && why="coral-discovery --lsten: $why"; }
run "$DISC" --ttl 0s
[[ -z $why ]] && { why=$(why_usage "--ttl"); [[ -n $why ]] && why="coral-discovery --ttl 0s: $why"; }
e2e_result "unknown flags on all three binaries (coral-discovery --lsten was exit 109) -> 'error: ...' on stderr, exit 2" "$why"
coral colony start --log-level loud
why=$(why_usage "--log-level")
coral proxy stop x --timeout soon
[[ -z $why ]] && why=$(why_usage "--timeout")
e2e_result "a flag value a command rejects (colony start --log-level loud, proxy stop --timeout soon) -> exit 2 (was 1)" "$why"

# ------------------------------------------------------------ completion
coral completion bash
why=""
if ((rc != 0)); then why="exit $rc: $err"
elif ! bash -n <<<"$out" 2>"$E2E_WORK/bash.err"; then why="bash -n: $(cat "$E2E_WORK/bash.err")"
else
  printf '%s\n' "$out" >"$E2E_WORK/completion.bash"
  got=$(bash -c '. "$1" || exit 1
    COMP_WORDS=(coral sta); COMP_CWORD=1; _coral; echo "${COMPREPLY[*]}"
    COMP_WORDS=(coral colony st); COMP_CWORD=2; _coral; echo "${COMPREPLY[*]}"
    COMP_WORDS=(coral proxy stop --t); COMP_CWORD=3; _coral; echo "${COMPREPLY[*]}"' _ "$E2E_WORK/completion.bash" 2>&1)
  want=$'status\nstart stop status\n--timeout'
  [[ $got == "$want" ]] || why="completions '$got', want '$want'"
fi
e2e_result "coral completion bash: parses (bash -n), completes commands, subcommands and flags" "$why"
coral completion zsh
why=""
((rc == 0)) && [[ $out == "#compdef coral"* && $out == *bashcompinit* ]] || why="zsh: exit $rc: ${out:0:80} $err"
coral completion fish
[[ -z $why ]] && why=$(why_usage "fish")
e2e_result "coral completion zsh -> #compdef script; an unknown shell is bad usage" "$why"

# ------------------------------------------------------------ unknown colonies
ID=cli-shop-prod
coral init --app shop --env prod --colony-id "$ID" --mesh-ipv4-net 127.44.0.0/16 --discovery http://127.0.0.1:9 \
  --connect-port "$(free_port 127.44.0.1)" --register-interval 1s
((rc == 0)) || e2e_fail "init" "exit $rc: $err"
coral colony stop nope
why=""
if ((rc != 1)); then why="exit status $rc, want 1: $out $err"
elif [[ $out == *"not running"* ]]; then why="says it is not running: $out"
elif [[ $err != "error: no colony 'nope' in $CORAL_CONFIG_DIR/colonies"* || $err != *"known: $ID"* ]]; then why="stderr: $err"
fi
e2e_result "colony stop nope (no such colony) -> error 'no colony 'nope'', exit 1 (was 'not running', exit 0)" "$why"
why=""
for command in "colony stop" "colony start" "colony status" "colony use"; do
  # shellcheck disable=SC2086 # two words
  coral $command cli-shop-prd
  if ((rc != 1)) || [[ $err != *"no colony 'cli-shop-prd'"*"— did you mean '$ID'?"* ]]; then
    why="$command: exit $rc: $out $err"
    break
  fi
done
e2e_result "colony stop/start/status/use <typo> -> 'did you mean '$ID'?', exit 1" "$why"

# ------------------------------------------------------------ a colony's warnings, init --force
# (its random IPv6 ULA is on no interface: the host transport warns.)
coral colony start "$ID" --daemon
why=""
if ((rc != 0)); then why="exit $rc: $out $err"
elif [[ $out == *warning* ]]; then why="a warning on stdout: $out"
elif [[ $err != *"warning: not serving on ["* ]]; then why="no warning on stderr: $err"
fi
e2e_result "colony start --daemon: the result on stdout, the warning (IPv6 not served) on stderr" "$why"
REG=$CORAL_CONFIG_DIR/colonies/$ID.registration
e2e_wait 5 test -s "$REG"
why=""
[[ -s $REG ]] || why="the running colony wrote no $REG"
coral init --app shop --env prod --colony-id "$ID" --mesh-ipv4-net 127.44.0.0/16 --force
[[ -z $why ]] && { ((rc == 1)) && [[ $err == *"is running"* ]] || why="init --force while running: exit $rc: $err"; }
coral colony stop "$ID"
[[ -z $why && $rc != 0 ]] && why="colony stop: exit $rc: $err"
coral init --app shop --env prod --colony-id "$ID" --mesh-ipv4-net 127.44.0.0/16 --force
[[ -z $why && $rc != 0 ]] && why="init --force: exit $rc: $err"
[[ -z $why && -e $REG ]] && why="$REG (the old key's registration state) is still there: $(cat "$REG")"
e2e_result "init --force on a stopped colony removes its old registration state ($ID.registration)" "$why"

coral colony status "$ID"
e2e_result "colony status of a stopped colony -> exit 3 (as systemctl status)" \
  "$( ((rc == 3)) && [[ $out == *"[STOPPED]"* ]] || echo "exit $rc: $out $err")"

# ------------------------------------------------------------ init's defaults: the userspace mesh
# init's defaults (10.42.0.0/16, a random ULA, wireguard.mesh: userspace)
# start as they are: the mesh addresses exist only in the colony's own
# TCP/IP stack (nothing is sent: no peer is registered); on the host
# transport they cannot be served.
UDP_PORT=$(e2e_free_port)
coral init --app mesh --env cli --colony-id mesh-cli --listen-port "$UDP_PORT" --discovery "http://127.0.0.1:$(e2e_free_port)"
why=""
if ((rc != 0)); then why="init: exit $rc: $out $err"
elif [[ $out != *"Mesh transport: userspace"* ]]; then why="init: $out"
elif ! grep -q '^    mesh: userspace$' "$CORAL_CONFIG_DIR/colonies/mesh-cli.yaml"; then why="colony file: no mesh: userspace"
fi
coral colony start mesh-cli --daemon
if [[ -z $why ]]; then
  if ((rc != 0)); then why="defaults: exit $rc: $out $err"
  elif [[ $out != *"Serving: 10.42.0.1:9000, ["*"]:9000 (userspace transport, WireGuard on UDP $UDP_PORT)"* ]]; then
    why="defaults: $out"
  elif [[ $err == *warning* ]]; then why="defaults warned: $err"
  fi
fi
coral colony stop mesh-cli
[[ -z $why && $rc != 0 ]] && why="colony stop: exit $rc: $out $err"
coral colony start mesh-cli --daemon --mesh host
if [[ -z $why ]]; then
  if ((rc != 1)); then why="host transport: exit $rc, want 1: $out $err"
  elif [[ $err != *"cannot serve on the colony's mesh addresses"* ]]; then why="host transport: $err"
  fi
fi
coral colony start mesh-cli --mesh wireguard
[[ -z $why ]] && why=$(why_usage "--mesh wireguard: unknown mesh transport")
e2e_result "init's defaults: colony start serves on the userspace mesh (both families), fails with --mesh host; --mesh wireguard -> exit 2" "$why"

# A loopback mesh network gets the host transport unless told otherwise.
coral init --app mesh --env loop --colony-id mesh-loop --mesh-ipv4-net 127.47.0.0/16 --discovery http://127.0.0.1:9
why=""
if ((rc != 0)); then why="exit $rc: $out $err"
elif [[ $out != *"Mesh transport: host"* ]]; then why="$out"
elif ! grep -q '^    mesh: host$' "$CORAL_CONFIG_DIR/colonies/mesh-loop.yaml"; then why="colony file: no mesh: host"
fi
e2e_result "init --mesh-ipv4-net 127.47.0.0/16: the host transport (a loopback network this host reaches)" "$why"

# ------------------------------------------------------------ rotate-secret, revocation remembered
# A colony on the host transport (127.46.0.0/16); Register through curl
# (Connect JSON) with the secrets before and after.
T=10
RID=cli-rotate
RFILE=$CORAL_CONFIG_DIR/colonies/$RID.yaml
RPORT=$(free_port 127.46.0.1)
coral init --app rotate --env cli --colony-id "$RID" --mesh-ipv4-net 127.46.0.0/16 --discovery http://127.0.0.1:9 \
  --connect-port "$RPORT"
((rc == 0)) || e2e_fail "init $RID" "exit $rc: $err"
secret_of() { sed -n 's/^colony_secret: *//p' "$1"; }
register() { # register SECRET PUBKEY
  call "http://127.46.0.1:$RPORT/coral.mesh.v1.MeshService/Register" \
    "{\"colony_id\":\"$RID\",\"colony_secret\":\"$1\",\"wireguard_pubkey\":\"$2\",\"component_name\":\"api\"}"
}
S0=$(secret_of "$RFILE")
coral colony rotate-secret "$RID"
S1=$(secret_of "$RFILE")
why=""
if ((rc != 0)); then why="exit $rc: $out $err"
elif [[ $S1 == "$S0" || ${#S1} != 43 ]]; then why="the file's secret did not change: '$S0' -> '$S1'"
elif [[ $out != *"$S1"* || $out != *"not running"* ]]; then why="stdout: $out"
elif [[ $(stat -c %a "$RFILE") != 600 ]]; then why="mode $(stat -c %a "$RFILE")"
fi
e2e_result "colony rotate-secret (stopped): a new secret in the file (0600), printed once" "$why"

coral colony start "$RID" --daemon
((rc == 0)) || e2e_fail "colony start $RID" "exit $rc: $err"
K1=$(key member-one)
register "$S1" "$K1"
why=$(why_success)
coral colony rotate-secret "$RID" --json
body=$out
S2=$(secret_of "$RFILE")
if [[ -z $why ]]; then
  if ((rc != 0)); then why="exit $rc: $out $err"
  elif [[ $(j .colony_secret) != "$S2" || $S2 == "$S1" ]]; then why="json secret '$(j .colony_secret)', file '$S2': $out"
  elif [[ $(j .running) != true || $(j .peers_kept) != 1 ]]; then why="json: $out"
  elif [[ $(stat -c %a "$RFILE") != 600 ]]; then why="mode $(stat -c %a "$RFILE")"
  fi
fi
register "$S1" "$(key member-two)"
[[ -z $why ]] && why=$(why_error permission_denied 403)
register "$S2" "$(key member-two)"
[[ -z $why ]] && why=$(why_success)
coral colony peers "$RID" --json
body=$out
[[ -z $why && $(j '[.peers[].wireguard_pubkey] | join(",")') != "$K1,$(key member-two)" ]] && why="peers: $out"
grep -q -- "$S2" "$CORAL_CONFIG_DIR/colonies/$RID.log" && why="the log holds the secret"
e2e_result "colony rotate-secret (running): in force at once, the old secret refused (permission_denied), peers kept" "$why"

coral colony revoke "$K1" --colony "$RID"
why=""
((rc == 0)) || why="revoke: exit $rc: $err"
register "$S2" "$K1"
[[ -z $why ]] && why=$(why_error permission_denied 403)
[[ -z $why && $(j .message) != revoked* ]] && why="message: $body"
coral colony stop "$RID"
coral colony start "$RID" --daemon
register "$S2" "$K1"
[[ -z $why ]] && why=$(why_error permission_denied 403)
coral colony peers "$RID" --revoked
[[ -z $why && $out != *"$K1"* ]] && why="peers --revoked: $out $err"
coral colony stop "$RID"
e2e_result "a revoked key is refused (permission_denied: revoked...), also after a restart; peers --revoked lists it" "$why"

# ------------------------------------------------------------ member files: invite, import
# Two machines as two config directories: A has the colony, B imports the
# member file (and never sees the colony's private key); C is another
# colony that happens to have the same id.
IID=cli-invite
coral init --app invite --env cli --colony-id "$IID" --mesh-ipv4-net 127.47.0.0/16 --discovery http://127.0.0.1:9
((rc == 0)) || e2e_fail "init $IID" "exit $rc: $err"
PRIVATE=$(sed -n 's/^ *private_key: *//p' "$CORAL_CONFIG_DIR/colonies/$IID.yaml")
SECRET=$(secret_of "$CORAL_CONFIG_DIR/colonies/$IID.yaml")
MFILE=$E2E_WORK/member.yaml
coral colony invite "$IID" --out "$MFILE" --public-endpoint 203.0.113.7:41820
why=""
if ((rc != 0)); then why="exit $rc: $out $err"
elif [[ $(stat -c %a "$MFILE") != 600 ]]; then why="mode $(stat -c %a "$MFILE")"
elif [[ -z $PRIVATE ]] || grep -qF -- "$PRIVATE" "$MFILE" || grep -q private_key "$MFILE"; then why="the member file holds the private key"
elif ! grep -qF -- "colony_secret: $SECRET" "$MFILE" || ! grep -q '203.0.113.7:41820' "$MFILE"; then why="file: $(cat "$MFILE")"
elif [[ $out != *"coral colony import $MFILE"* ]]; then why="stdout: $out"
fi
e2e_result "colony invite --out: a member file (0600) with the secret and endpoints, without the private key" "$why"
coral colony invite "$IID"
why=""
if ((rc != 0)); then why="exit $rc: $err"
elif [[ $out != *"kind: member"* || $out == *"$PRIVATE"* ]]; then why="stdout: $out"
elif [[ $err != *"warning: this member file holds colony $IID's secret"* ]]; then why="stderr: $err"
fi
coral colony invite "$IID" --out "$MFILE"
[[ -z $why ]] && { ((rc == 1)) && [[ $err == *"already exists"*"--force"* ]] || why="--out over a file: exit $rc: $err"; }
e2e_result "colony invite to stdout warns on stderr; an existing --out file needs --force" "$why"

B=$E2E_WORK/config-b
CORAL_CONFIG_DIR=$B coral colony import "$MFILE"
why=""
if ((rc != 0)); then why="exit $rc: $out $err"
elif [[ $(stat -c %a "$B/members/$IID.yaml") != 600 ]]; then why="mode $(stat -c %a "$B/members/$IID.yaml")"
elif grep -rqF -- "$PRIVATE" "$B"; then why="B holds the colony's private key"
fi
CORAL_CONFIG_DIR=$B coral colony list
[[ -z $why && ($rc != 0 || $out != *"* $IID"*member*) ]] && why="list: exit $rc: $out $err"
CORAL_CONFIG_DIR=$B coral colony list --json
body=$out
[[ -z $why && ($(j '.[0].kind') != member || $(j '.[0].current') != true) ]] && why="list --json: $out"
CORAL_CONFIG_DIR=$B coral colony current
[[ -z $why && $out != "$IID" ]] && why="current: $out $err"
e2e_result "colony import in another config dir: stored 0600, current, listed as a member (--json kind), no private key" "$why"

CORAL_CONFIG_DIR=$B coral colony start "$IID"
e2e_result "colony start of a member entry: refused, says why" \
  "$( ((rc == 1)) && [[ $err == *"$IID is a member entry (imported from a member file): run the colony on its own machine"* ]] || echo "exit $rc: $out $err")"

C=$E2E_WORK/config-c
CORAL_CONFIG_DIR=$C coral init --app other --env cli --colony-id "$IID" --mesh-ipv4-net 127.48.0.0/16 --discovery http://127.0.0.1:9
CORAL_CONFIG_DIR=$C coral colony invite --out "$E2E_WORK/other.yaml"
CORAL_CONFIG_DIR=$B coral colony import "$E2E_WORK/other.yaml"
why=""
if ((rc != 1)) || [[ $err != *"already holds another colony"*"--force"* ]]; then why="exit $rc: $out $err"
elif ! cmp -s <(grep -v '^#' "$MFILE") <(grep -v '^#' "$B/members/$IID.yaml"); then why="the entry changed"
fi
CORAL_CONFIG_DIR=$B coral colony import "$E2E_WORK/other.yaml" --force
[[ -z $why ]] && { ((rc == 0)) && grep -q 'app_name: other' "$B/members/$IID.yaml" || why="--force: exit $rc: $err"; }
CORAL_CONFIG_DIR=$B coral colony import "$CORAL_CONFIG_DIR/colonies/$IID.yaml"
[[ -z $why ]] && { ((rc == 1)) && [[ $err == *"this is a colony file"* && $err != *"$PRIVATE"* ]] || why="a colony file: exit $rc: $err"; }
e2e_result "colony import of another colony with the same id: refused without --force; a colony file is refused as such" "$why"

e2e_summary
