#!/usr/bin/env bash
# Black-box tests of `coral wg genkey` and `coral wg pubkey` against
# wireguard-tools' `wg genkey` and `wg pubkey`: the same keys in, the same
# keys out.
#
# Usage: tests/e2e/wg_keys_test.sh [CORAL | BUILD_DIR]
#        (or env CORAL_BIN; default build/release)
# Prints "ok   NAME" or "FAIL NAME: WHY" per check, then "N passed, M
# failed". Exits 1 on any failure; 77 (skipped) when nothing failed but the
# comparisons with `wg` could not run (wireguard-tools missing); else 0.
# Env: E2E_KEEP=1 keeps the work directory.
#
# No network, no privileges: keys only.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$here/lib.sh"

CORAL=${CORAL_BIN:-}
arg=${1:-$root/build/release}
if [[ -d $arg ]]; then CORAL=${CORAL:-$arg/apps/coral}; else CORAL=${CORAL:-$arg}; fi
if [[ ! -x $CORAL ]]; then
  echo "FAIL setup: $CORAL is not an executable (build it: scripts/build release coral)"
  echo "0 passed, 1 failed"
  exit 1
fi
CORAL=$(readlink -f "$CORAL")
WG=$(command -v wg || true)

e2e_init

out=""
err=""
rc=0
# feed INPUT CMD...: runs CMD with INPUT (printf %s) on stdin, bounded;
# stdout in $out, stderr in $err, status in $rc.
feed() {
  local input=$1
  shift
  out=$(printf '%s' "$input" | timeout 10 "$@" 2>"$E2E_WORK/err")
  rc=$?
  err=$(cat "$E2E_WORK/err")
}
# is_key TEXT: 44 characters of base64 ending in one '='.
is_key() { [[ $1 =~ ^[A-Za-z0-9+/]{43}=$ ]]; }

# RFC 7748 section 6.1: Alice's private key and her public key, as
# `wg pubkey` prints them (tests/unit/crypto/keys_test.cpp has more).
ALICE_PRIVATE=dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=
ALICE_PUBLIC=hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=

# ------------------------------------------------------------- 1. genkey
feed "" "$CORAL" wg genkey
why=""
if ((rc != 0)); then why="exit status $rc: $err"
elif ! is_key "$out"; then why="not a base64 key: $out"
elif [[ -n $err ]]; then why="unexpected stderr: $err"
fi
e2e_result "genkey prints one base64 key" "$why"
first=$out
feed "" "$CORAL" wg genkey
e2e_result "genkey makes a new key each time" "$([[ $out != "$first" ]] || echo "the same key twice")"

# A key written to a file others can read: a warning on stderr, as wg does.
(umask 022 && "$CORAL" wg genkey >"$E2E_WORK/open.key" 2>"$E2E_WORK/open.err")
why=""
if ! grep -q "warning: writing a private key to a file that other users can access" "$E2E_WORK/open.err"; then
  why="no warning on stderr: $(cat "$E2E_WORK/open.err")"
elif ! is_key "$(cat "$E2E_WORK/open.key")"; then why="the file holds no key"
fi
e2e_result "genkey warns when the key file is world-readable" "$why"
(umask 077 && "$CORAL" wg genkey >"$E2E_WORK/private.key" 2>"$E2E_WORK/private.err")
why=""
if [[ -s $E2E_WORK/private.err ]]; then why="stderr: $(cat "$E2E_WORK/private.err")"
elif [[ $(stat -c %a "$E2E_WORK/private.key") != 600 ]]; then why="mode $(stat -c %a "$E2E_WORK/private.key")"
fi
e2e_result "genkey is quiet with umask 077" "$why"

# ------------------------------------------------------------- 2. pubkey
feed "$ALICE_PRIVATE" "$CORAL" wg pubkey
e2e_result "pubkey of RFC 7748's Alice" \
  "$( ((rc == 0)) && [[ $out == "$ALICE_PUBLIC" && -z $err ]] || echo "exit $rc, got '$out', stderr '$err'")"
feed $'  \t'"$ALICE_PRIVATE"$'\r\n\n' "$CORAL" wg pubkey
e2e_result "pubkey ignores whitespace around the key" \
  "$( ((rc == 0)) && [[ $out == "$ALICE_PUBLIC" ]] || echo "exit $rc, got '$out', stderr '$err'")"

# Malformed input: exit 1, "error: ..." on stderr, nothing on stdout, and
# the input never echoed (it is meant to be a secret).
check_refused() {
  local name=$1 input=$2 want=$3
  feed "$input" "$CORAL" wg pubkey
  local why=""
  if ((rc != 1)); then why="exit status $rc, want 1 (stderr: $err)"
  elif [[ -n $out ]]; then why="stdout: $out"
  elif [[ $err != *"error: $want"* ]]; then why="stderr lacks 'error: $want': $err"
  elif [[ -n $input && ${#input} -ge 8 && $err == *"${input:0:8}"* ]]; then why="stderr echoes the input: $err"
  fi
  e2e_result "pubkey refuses $name" "$why"
}
check_refused "an empty stdin" "" "no private key on stdin"
check_refused "a key one character short" "${ALICE_PRIVATE:1}" \
  "the private key on stdin is not valid: it must be 32 bytes in base64 (44 characters ending in '='), got 43 characters"
check_refused "a key with a bad character" "!${ALICE_PRIVATE:1}" \
  "the private key on stdin is not valid: it must be 32 bytes in base64 (44 characters ending in '='), got characters that are not base64"
check_refused "two keys" "$ALICE_PRIVATE $ALICE_PRIVATE" "the private key on stdin is not valid"
check_refused "a hex key" "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a" \
  "the private key on stdin is not valid"
check_refused "a megabyte of input" "$(head -c 1048576 /dev/zero | tr '\0' 'A')" \
  "stdin holds more than a private key (over 1024 bytes)"

# ------------------------------------------------------------- 3. --help
for args in "wg --help" "wg genkey --help" "wg pubkey --help"; do
  # shellcheck disable=SC2086 # split on purpose
  feed "" "$CORAL" $args
  why=""
  if ((rc != 0)); then why="exit status $rc: $err"
  elif [[ $out != *Usage:* ]]; then why="no usage text: $out"
  fi
  e2e_result "coral $args" "$why"
done
feed "" "$CORAL" wg
e2e_result "coral wg without a subcommand is bad usage (exit 2)" "$( ((rc == 2)) || echo "exit status $rc")"

# ------------------------------------------------------------- 4. against wg
if [[ -z $WG ]]; then
  e2e_skip "comparisons with wg" "wg (wireguard-tools) is not installed"
else
  why=""
  for _ in 1 2 3 4 5; do
    key=$("$CORAL" wg genkey)
    theirs=$(printf '%s\n' "$key" | "$WG" pubkey 2>&1)
    ours=$(printf '%s\n' "$key" | "$CORAL" wg pubkey 2>&1)
    if [[ $theirs != "$ours" ]] || ! is_key "$ours"; then why="coral wg genkey key: wg pubkey '$theirs', coral wg pubkey '$ours'"; break; fi
  done
  e2e_result "a coral wg genkey key: wg pubkey = coral wg pubkey" "$why"
  why=""
  for _ in 1 2 3 4 5; do
    key=$("$WG" genkey)
    theirs=$(printf '%s\n' "$key" | "$WG" pubkey 2>&1)
    ours=$(printf '%s\n' "$key" | "$CORAL" wg pubkey 2>&1)
    if [[ $theirs != "$ours" ]] || ! is_key "$ours"; then why="wg genkey key: wg pubkey '$theirs', coral wg pubkey '$ours'"; break; fi
  done
  e2e_result "a wg genkey key: wg pubkey = coral wg pubkey" "$why"
  theirs=$(printf '%s\n' "$ALICE_PRIVATE" | "$WG" pubkey)
  e2e_result "wg agrees on RFC 7748's Alice" "$([[ $theirs == "$ALICE_PUBLIC" ]] || echo "wg pubkey printed $theirs")"
  # The pipeline as people type it.
  pipeline=$("$CORAL" wg genkey | tee "$E2E_WORK/pipe.key" | "$WG" pubkey)
  e2e_result "coral wg genkey | wg pubkey" \
    "$([[ $pipeline == "$("$CORAL" wg pubkey <"$E2E_WORK/pipe.key")" ]] || echo "the public keys differ")"
fi

e2e_summary
