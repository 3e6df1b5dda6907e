# Shared helpers for the shell integration tests (sourced).
# Env from meson: KMTLS_MODULE (provider .so), KMTLS_FIXTURES, KMTLS_SOURCE_ROOT.
set -uo pipefail
: "${KMTLS_MODULE:?run through meson test}" "${KMTLS_FIXTURES:?run through meson test}"
PROV=(-provider "$KMTLS_MODULE" -provider default)
FX=$KMTLS_FIXTURES
VOL=$FX/vol
PASS=0 FAIL=0
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kmtls-test.XXXXXX")
CLEANUP=()
finish() {
  [[ $BASHPID == "$$" ]] || return 0   # not in $(...) subshells
  for c in "${CLEANUP[@]}"; do eval "$c" >/dev/null 2>&1 || true; done
  rm -rf "$WORK"
  echo "$PASS passed, $FAIL failed"
  (( FAIL == 0 && PASS > 0 )) || exit 1
  exit 0
}
trap finish EXIT

ok()   { PASS=$((PASS + 1)); echo "ok   - $1"; }
fail() { FAIL=$((FAIL + 1)); echo "FAIL - $1"; [[ -z ${2:-} ]] || printf '%s\n' "$2" | sed 's/^/       | /' | head -20; }

# expect_output NAME PATTERN CMD... : CMD must print (stdout+stderr) PATTERN (grep -E)
expect_output() {
  local name=$1 pat=$2 out; shift 2
  out=$("$@" 2>&1)
  if grep -qE -- "$pat" <<<"$out"; then ok "$name"; else fail "$name (expected /$pat/)" "$out"; fi
}
# expect_fail NAME PATTERN CMD... : CMD must exit non-zero and print PATTERN
expect_fail() {
  local name=$1 pat=$2 out rc; shift 2
  out=$("$@" 2>&1); rc=$?
  if (( rc != 0 )) && grep -qE -- "$pat" <<<"$out"; then ok "$name"
  else fail "$name (expected failure with /$pat/, rc=$rc)" "$out"; fi
}

# free_port: a loopback TCP port nobody listens on, chosen now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# start_s_server LOG ARGS... : openssl s_server requiring a client certificate;
# sets SERVER_PORT and SERVER_PID once it accepts connections.
start_s_server() {
  local log=$1; shift
  SERVER_PORT=$(free_port)
  openssl s_server -accept "127.0.0.1:$SERVER_PORT" -naccept 1 \
    -Verify 2 -verify_return_error "$@" >"$log" 2>&1 < <(sleep 120) &
  SERVER_PID=$!
  CLEANUP+=("kill $SERVER_PID")
  for _ in $(seq 200); do
    grep -q '^ACCEPT' "$log" 2>/dev/null && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.02
  done
  echo "s_server did not start:"; cat "$log"; return 1
}
