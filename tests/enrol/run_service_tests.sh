#!/bin/bash
# run_service_tests.sh [test|valgrind|bench [RUNS]] - the enrolment client against
# real services, on loopback ports picked at run time:
#   - smallstep step-ca (tests/peer/step-ca-peer.sh: fetch, init, start,
#     token, stop), with a fresh test PKI, and a second PKI whose root is
#     "another root" (a service certificate that must not verify);
#   - canned_service.py: misbehaving HTTPS answers, the same behind an
#     expired certificate, and a TCP port that accepts and never answers;
#   - a port nothing listens on.
# test (default): runs $ENROL_TEST (test_enrol_service).
# valgrind: the same under the valgrind command in KMTLS_VALGRIND (what the
# project's valgrind setup, tests/valgrind-run.sh, hands a shell test);
# exit 77 (skipped) without it.
# bench: runs $ENROL_BENCH RUNS (default 20) and prints its figures.
# Everything started here is stopped in a trap. Exit 77 (skipped) only when
# step-ca cannot be built at all.
# Environment (set by tests/enrol/meson.build): ENROL_TEST, ENROL_BENCH,
# ENROL_CERTGEN, ENROL_PEER; ENROL_KEEP=1 keeps the work dir.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
MODE=${1:-test}
PEER=${ENROL_PEER:-$HERE/../peer/step-ca-peer.sh}
if [[ $MODE == valgrind && -z ${KMTLS_VALGRIND:-} ]]; then
  echo "SKIP: runs in the valgrind setup (meson test --setup valgrind --suite enrol)"
  exit 77
fi
PY=$(command -v /usr/bin/python3 python3 2>/dev/null | head -n1) || true
[[ -n $PY ]] || { echo "run_service_tests: python3 is needed for the canned service" >&2; exit 1; }

# 77 from fetch (step-ca cannot be built here; never with
# KMTLS_REQUIRE_PEERS=1) skips; any other failure fails
fetched=0
"$PEER" fetch >/dev/null 2>"${TMPDIR:-/tmp}/enrol-fetch.$$.log" || fetched=$?
if (( fetched != 0 )); then
  echo "$( ((fetched == 77)) && echo SKIP || echo FAIL): step-ca cannot be built: $(tail -n 3 "${TMPDIR:-/tmp}/enrol-fetch.$$.log")"
  rm -f "${TMPDIR:-/tmp}/enrol-fetch.$$.log"
  (( fetched == 77 )) && exit 77
  exit 1
fi
rm -f "${TMPDIR:-/tmp}/enrol-fetch.$$.log"

W=$(mktemp -d "${TMPDIR:-/tmp}/enrol-service.XXXXXX")
CANNED_PID='' STEP_DIR='' rc=1
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
  [[ -n $STEP_DIR ]] && "$PEER" stop "$STEP_DIR" >/dev/null 2>&1
  if [[ -n $CANNED_PID ]]; then
    kill "$CANNED_PID" 2>/dev/null && wait "$CANNED_PID" 2>/dev/null
  fi
  if [[ $rc == 0 && ${ENROL_KEEP:-0} != 1 ]]; then rm -rf "$W"; else echo "work dir kept: $W" >&2; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$PEER" init "$W/pki" >/dev/null
"$PEER" init "$W/other-pki" >/dev/null
"$ENROL_CERTGEN" "$W"

# step-ca, then the canned service; a port taken meanwhile (exit 3) is
# picked again.
for _try in 1 2 3; do
  read -r -d '' P_STEP P_CANNED P_EXPIRED P_TARPIT P_DOWN < <("$PEER" pick-ports 5; printf '\0') || true
  set +e
  OUT=$(PEER_DIR=$W/step-ca "$PEER" start "$W/pki" "$P_STEP")
  s=$?
  set -e
  (( s == 3 )) && continue
  (( s == 0 )) || { echo "run_service_tests: step-ca did not start (exit $s)" >&2; exit 1; }
  STEP_DIR=$(sed -n 's/^DIR //p' <<<"$OUT")
  : >"$W/canned.log"
  "$PY" "$HERE/canned_service.py" --cert "$W/fake-server.pem" --port "$P_CANNED" \
    --expired-cert "$W/fake-expired.pem" --expired-port "$P_EXPIRED" \
    --tarpit-port "$P_TARPIT" --log "$W/canned.log" >"$W/canned.out" 2>&1 &
  CANNED_PID=$!
  for _ in $(seq 100); do
    grep -qs '^READY' "$W/canned.out" && break
    kill -0 "$CANNED_PID" 2>/dev/null || break
    sleep 0.1
  done
  if grep -qs '^READY' "$W/canned.out"; then break; fi
  wait "$CANNED_PID" 2>/dev/null || true
  CANNED_PID=
  grep -qs '^BUSY' "$W/canned.out" || { cat "$W/canned.out" >&2; exit 1; }
  "$PEER" stop "$STEP_DIR" >/dev/null; STEP_DIR=
done
[[ -n $CANNED_PID ]] || { echo "run_service_tests: no free ports after 3 tries" >&2; exit 1; }

export ENROL_URL="https://127.0.0.1:$P_STEP"
export ENROL_ROOT=$W/pki/root.crt ENROL_INTERMEDIATE=$W/pki/int.crt
export ENROL_OTHER_ROOT=$W/other-pki/root.crt
export ENROL_PEER=$PEER ENROL_PEER_DIR=$STEP_DIR
export ENROL_FAKE_URL="https://127.0.0.1:$P_CANNED" ENROL_FAKE_ROOT=$W/fake-root.crt
export ENROL_FAKE_LOG=$W/canned.log
export ENROL_EXPIRED_URL="https://127.0.0.1:$P_EXPIRED"
export ENROL_TARPIT_URL="https://127.0.0.1:$P_TARPIT"
export ENROL_DOWN_URL="https://127.0.0.1:$P_DOWN" ENROL_DOWN_PORT=$P_DOWN
export ENROL_STEP_PORT=$P_STEP

case $MODE in
  test)
    set +e; "${ENROL_TEST:?}"; rc=$?; set -e ;;
  valgrind)
    # No fork per test (one process for valgrind to check), and more slack
    # for the timing assertions (everything runs ~20x slower).
    export CK_FORK=no ENROL_SLACK_MS=${ENROL_SLACK_MS:-6000}
    # shellcheck disable=SC2086  # a command line
    set +e; $KMTLS_VALGRIND "${ENROL_TEST:?}"; rc=$?; set -e ;;
  bench)
    set +e; "${ENROL_BENCH:?}" "${2:-20}"; rc=$?; set -e ;;
  *) echo "usage: $0 [test|valgrind|bench [RUNS]]" >&2; rc=2 ;;
esac
exit "$rc"
