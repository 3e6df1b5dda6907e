# Shared helpers for the shell integration tests (sourced).
# Env from meson: KMTLS_MODULE (provider .so), KMTLS_FIXTURES, KMTLS_SOURCE_ROOT.
set -uo pipefail
: "${KMTLS_MODULE:?run through meson test}" "${KMTLS_FIXTURES:?run through meson test}"
PROV=(-provider "$KMTLS_MODULE" -provider default)
# The asan test setup: what the test runs loads our instrumented module and
# plugin, so the sanitizer runtime comes first; those programs' own leaks
# are not ours to report.
if [[ -n ${KMTLS_ASAN_RUNTIME:-} ]]; then
  export LD_PRELOAD=$KMTLS_ASAN_RUNTIME${LD_PRELOAD:+:$LD_PRELOAD} ASAN_OPTIONS=detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}
fi
FX=$KMTLS_FIXTURES
VOL=$FX/vol
PASS=0 FAIL=0 SKIP=0
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kmtls-test.XXXXXX")
CLEANUP=()
finish() {
  [[ $BASHPID == "$$" ]] || return 0   # not in $(...) subshells
  for c in "${CLEANUP[@]}"; do eval "$c" >/dev/null 2>&1 || true; done
  [[ -n ${KMTLS_KEEP_WORK:-} ]] && echo "# kept $WORK" || rm -rf "$WORK"
  if (( SKIP )); then echo "$PASS passed, $FAIL failed, $SKIP skipped"; else echo "$PASS passed, $FAIL failed"; fi
  (( FAIL == 0 )) || exit 1
  (( SKIP == 0 )) || exit 77   # meson shows a test that skipped a case as SKIP
  (( PASS > 0 )) || exit 1
  exit 0
}
trap finish EXIT

ok()   { PASS=$((PASS + 1)); echo "ok   - $1"; }
# skip_case WHAT: a case that could not run here; the test then ends 77 (SKIP)
# unless something failed
skip_case() { SKIP=$((SKIP + 1)); echo "skip - $1"; }
fail() { FAIL=$((FAIL + 1)); echo "FAIL - $1"; [[ -z ${2:-} ]] || printf '%s\n' "$2" | sed 's/^/       | /' | head -20; }

# expect_output NAME PATTERN CMD... : CMD must exit 0 and print (stdout+stderr) PATTERN (grep -E)
expect_output() {
  local name=$1 pat=$2 out rc; shift 2
  out=$("$@" 2>&1); rc=$?
  if (( rc == 0 )) && grep -qE -- "$pat" <<<"$out"; then ok "$name"
  else fail "$name (expected exit 0 and /$pat/, rc=$rc)" "$out"; fi
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

# ---- the test peers (tests/peer/*-peer.sh; PEER, set by the test, is the
# script). They are not ours to sanitize: no ASan runtime preloaded into them.
peer() { env -u LD_PRELOAD "$PEER" "$@"; }

# start_peer_in NAME NPORTS LABEL: start $PEER with the fixture CA and server
# certificate (or PEER_CA, PEER_CERT, PEER_KEY) in $WORK/NAME on NPORTS loopback ports picked now (picked again
# when it exits 3: one was taken meanwhile); sets PORTS and B (its BOOTSTRAP);
# its output stays in $WORK/NAME.out. A peer that does not start fails the
# test (LABEL names it). It is stopped by the EXIT trap -- and by a watchdog
# in its own session should this script be killed (meson ends a timed-out
# test with SIGKILL, which no trap sees): the watchdog waits for EOF on a
# pipe, fd $WATCHDOG, that only this script and its short-lived children hold
# (start a long-lived one with {WATCHDOG}>&-), then stops the peer, unmounts
# what the script mounted under $WORK/mnt* (faults_leave_volume_whole.sh, each_bad_input_handled.sh) and
# removes the work dir, never across a mount still there.
start_peer_in() {
  local name=$1 n=$2 label=$3 rc=1
  CLEANUP+=("peer stop '$WORK/$name'")
  exec {WATCHDOG}> >(exec setsid sh -c 'cat >/dev/null; env -u LD_PRELOAD "$0" stop "$1/$2"
      for m in "$1"/mnt*; do umount -l "$m"; done; rm -rf --one-file-system "$1"' \
      "$PEER" "$WORK" "$name" >/dev/null 2>&1)
  for _ in 1 2 3; do
    mapfile -t PORTS < <(peer pick-ports "$n")
    PEER_DIR=$WORK/$name peer start "${PEER_CA:-$FX/ca/ca.crt}" "${PEER_CERT:-$FX/server/server.crt}" \
      "${PEER_KEY:-$FX/server/server.key}" "${PORTS[@]}" >"$WORK/$name.out" 2>&1 {WATCHDOG}>&-
    rc=$?
    (( rc == 3 )) || break   # 3: a port was taken meanwhile, pick others
  done
  if (( rc != 0 )); then fail "$label start (rc=$rc)" "$(cat "$WORK/$name.out")"; exit 1; fi
  B=$(sed -n 's/^BOOTSTRAP //p' "$WORK/$name.out")
}
# start_mtls_peer: the 3-broker Kafka mock cluster behind stunnel
# (tests/peer/mtls-peer.sh) in $WORK/peer, as start_peer_in; LOG is its TLS
# log ("Certificate accepted at depth=0: ..." per accepted client).
start_mtls_peer() {
  PEER=${KMTLS_PEER_DIR:?run through meson test}/mtls-peer.sh
  start_peer_in peer 3 "mtls peer"
  LOG=$WORK/peer/stunnel.log
}

# java_ssl_properties: the ssl.* lines of a Java client's properties file
# for the seed volume client-p12, as they are (kcat reads them with -F, after
# plugin.library.paths).
java_ssl_properties() {
  local v=$VOL/client-p12 pw
  pw=$(<"$v/client-p12_creds")
  echo "security.protocol=SSL"
  echo "ssl.keystore.location=$v/client-p12.keystore.jks"
  echo "ssl.keystore.password=$pw"
  echo "ssl.key.password=$pw"
  echo "ssl.keystore.type=PKCS12"
  echo "ssl.truststore.location=$v/client-p12.truststore.jks"
  echo "ssl.truststore.password=$pw"
  echo "ssl.endpoint.identification.algorithm="
}

# The peer's TLS log ($LOG) since a mark: each case looks only at the lines
# written after its own mark.
mark() { MARK=$(wc -l <"$LOG"); }
since() { tail -n "+$((MARK + 1))" "$LOG"; }
# logged ERE: a line since the mark matches (grep reads all: no SIGPIPE
# for tail under pipefail, as grep -q would cause; -a: the log may hold bytes)
logged() { since | grep -aE -- "$1" >/dev/null; }
connections() { since | grep -ac 'accepted connection from'; }
# accepted CN: the peer verified a client certificate for CN since the mark
accepted() { logged "Certificate accepted at depth=0: (.*, )?CN=$1\$"; }
