#!/bin/bash
# valgrind on the enrolment paths, against a real step-ca (tests/peer/
# step-ca-peer.sh, a port picked now, stopped in the trap): kafka-mtls issue
# enrolling (sign), renewing (rekey), refused by the service and facing a
# service that is down; kcat with the plugin enrolling an empty volume at
# client creation, and keeping its valid certificate when the service is
# down. Each under the valgrind test setup's command (KMTLS_VALGRIND:
# --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite):
# no memory errors, no definite leaks. Runs in `meson test --setup
# valgrind`; 77 elsewhere, or when step-ca cannot be built.
. "$(dirname "$0")/lib.sh"
: "${KMTLS_TOOL:?run through meson test}" "${KMTLS_PLUGIN:?run through meson test}"
skip() { echo "SKIP: $*"; trap - EXIT; rm -rf "$WORK"; exit 77; }
[[ -n ${KMTLS_VALGRIND:-} ]] || skip "runs in the valgrind test setup: meson test --setup valgrind"
read -r -a VG <<<"$KMTLS_VALGRIND"
STEP=$KMTLS_SOURCE_ROOT/tests/peer/step-ca-peer.sh
out=$(env -u LD_PRELOAD "$STEP" fetch 2>&1); rc=$?
(( rc == 77 )) && skip "step-ca cannot be built: $(tail -n 1 <<<"$out")"   # never with KMTLS_REQUIRE_PEERS=1
(( rc == 0 )) || { fail "step-ca-peer.sh fetch (rc=$rc)" "$out"; exit 1; }
env -u LD_PRELOAD "$STEP" init "$WORK/pki" >/dev/null || { fail "step-ca-peer.sh init"; exit 1; }
CLEANUP+=("env -u LD_PRELOAD '$STEP' stop '$WORK/step'")
for _ in 1 2 3; do
  port=$(env -u LD_PRELOAD "$STEP" pick-ports 1)
  out=$(PEER_DIR=$WORK/step env -u LD_PRELOAD "$STEP" start "$WORK/pki" "$port" 2>&1); rc=$?
  (( rc == 3 )) || break
done
(( rc == 0 )) || { fail "step-ca start (rc=$rc)" "$out"; exit 1; }
URL=https://127.0.0.1:$port ROOT=$WORK/pki/root.crt
mkdir -m 700 "$WORK/ks"
token() { ( umask 077; env -u LD_PRELOAD "$STEP" token "$WORK/step" "$@" >"$WORK/token" ); }
down=https://127.0.0.1:$(free_port)

# clean NAME WANT_RC CMD...: CMD under valgrind exits WANT_RC (never 9, valgrind's)
clean() {
  local name=$1 want=$2 rc
  shift 2
  "${VG[@]}" --log-file="$WORK/vg.%p" "$@" >"$WORK/out" 2>&1; rc=$?
  if (( rc == want )) && ! grep -qE 'ERROR SUMMARY: [1-9]|definitely lost: [1-9]' "$WORK"/vg.*; then
    ok "$name: no memory errors, no definite leaks"
  else fail "$name (rc=$rc, want $want)" "$(grep -hE -A12 'Invalid|uninitialised|Syscall param|Conditional|definitely lost in' \
                                              "$WORK"/vg.* | head -16; tail -n 3 "$WORK/out")"; fi
  rm -f "$WORK"/vg.*
}
vol=$WORK/ks/kafka-producer
svc=(--enrol-url "$URL" --enrol-ca "$ROOT")
token "Callisto kafka-producer"
clean "kafka-mtls issue: first enrolment (sign)" 0 "$KMTLS_TOOL" issue "$vol" "${svc[@]}" --token-file "$WORK/token" --key-type ec:P-256
clean "kafka-mtls issue --force: renewal (rekey by mutual TLS)" 0 "$KMTLS_TOOL" issue "$vol" "${svc[@]}" --key-type ec:P-256 --force
token "Callisto kafka-producer"
clean "kafka-mtls issue: a subject the token does not allow (403)" 1 \
  "$KMTLS_TOOL" issue "$WORK/ks/other" "${svc[@]}" --token-file "$WORK/token" --subject 'CN=Callisto kafka'
clean "kafka-mtls issue: the service down" 1 "$KMTLS_TOOL" issue "$vol" --enrol-url "$down" --enrol-ca "$ROOT" --force

# the plugin: enrolment at client creation (the bootstrap is nothing: kcat
# exits 1 after rd_kafka_new, the part under test, succeeded)
token "Callisto kafka-consumer"
KC=(kcat -X "plugin.library.paths=$KMTLS_PLUGIN" -X mtls.key.type=ec:P-256 -X "mtls.enrol.ca.location=$ROOT"
    -b 127.0.0.1:1 -m 1 -L)
clean "kcat + plugin: first enrolment at client creation" 1 \
  "${KC[@]}" -X "mtls.volume=$WORK/ks/kafka-consumer" -X "mtls.enrol.url=$URL" -X "mtls.enrol.token.file=$WORK/token"
grep -q 'enrolled a certificate for C=GB,O=UK Home Office,CN=Callisto kafka-consumer' "$WORK/out" &&
  ok "... and it enrolled" || fail "the plugin did not enrol" "$(cat "$WORK/out")"
clean "kcat + plugin: renewal with the service down keeps the valid certificate" 1 \
  "${KC[@]}" -X "mtls.volume=$WORK/ks/kafka-consumer" -X "mtls.enrol.url=$down" -X mtls.renew.before=1d
grep -q 'could not renew the client certificate' "$WORK/out" && ok "... and it warned" ||
  fail "no renewal warning" "$(cat "$WORK/out")"
