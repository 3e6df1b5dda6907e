#!/bin/bash
# Renewal decisions that depend on the wall clock, with kcat at a faked
# clock (libfaketime) against the mTLS mock cluster (tests/peer/mtls-peer.sh):
# an expired certificate without a CA fails client creation, and a
# long-running client's volume is renewed in the background when the
# certificate in use enters its renew window. libfaketime and a preloaded
# ASan runtime deadlock at start-up: under the asan setup the test is
# skipped (77); it runs in the regular build. Env from meson: KMTLS_PLUGIN,
# KMTLS_PEER_DIR, KMTLS_TOOL, KMOCKD, and lib.sh's.
. "$(dirname "$0")/lib.sh"
: "${KMTLS_PLUGIN:?}" "${KMTLS_PEER_DIR:?}" "${KMTLS_TOOL:?}"

if [[ ${LD_PRELOAD:-} == *libasan* ]]; then
  echo "# skip: libfaketime deadlocks under the ASan runtime (runs in the regular build)"
  trap - EXIT; rm -rf "$WORK"; exit 77
fi
FAKELIB=$(ls /usr/lib/*/faketime/libfaketime.so.1 2>/dev/null | head -n 1)
[[ -n $FAKELIB ]] || { fail "libfaketime is not installed (tests/run.sh installs faketime)"; exit 1; }
# at_clock FAKETIME-SPEC CMD...: CMD with a faked wall clock (libfaketime),
# preloaded after any sanitizer runtime, which must come first
# (AT_CLOCK_EXEC=1 in a background job: the job becomes the command, so
# that killing $! stops it rather than the subshell around it)
at_clock() {
  local spec=$1; shift
  LD_PRELOAD="${LD_PRELOAD:+$LD_PRELOAD:}$FAKELIB" FAKETIME="$spec" FAKETIME_DONT_FAKE_MONOTONIC=1 \
    ${AT_CLOCK_EXEC:+exec} "$@"
}
CA=(-X "mtls.ca.location=$FX/ca/ca.crt" -X "mtls.ca.key.location=$FX/ca/ca.key"
    -X "mtls.ca.key.password.file=$FX/ca/ca.pass")

# the peer: 3 brokers, stopped when this script ends, even by SIGKILL (lib.sh)
start_mtls_peer
PLUG=(-b "$B" -X "plugin.library.paths=$KMTLS_PLUGIN")
serial() { openssl x509 -in "$1" -noout -serial 2>/dev/null; }

# 1. expired without a CA: client creation fails, naming the volume and the date
V=$WORK/vol/nocav; mkdir -p -m 700 "$V"
"$KMTLS_TOOL" issue "$V" --ca "$FX/ca/ca.crt" --ca-key "$FX/ca/ca.key" \
  --ca-key-password-file "$FX/ca/ca.pass" --days 2 --key-type ec:P-256 >/dev/null
before=$(grep -ac 'accepted connection' "$LOG")
out=$(at_clock '+3d' timeout 60 kcat "${PLUG[@]}" -X "mtls.volume=$V" -L -m 5 2>&1); rc=$?
after=$(grep -ac 'accepted connection' "$LOG")
(( rc != 0 )) && grep -q "kafka-mtls: mtls.volume=$V: the client certificate .*CN=nocav expired on" <<<"$out" &&
  (( after == before )) &&
  ok "expired without a CA: client creation fails, naming the volume and the date; no connection" ||
  fail "expired without a CA (rc=$rc, connections $before -> $after)" "$out"

# 2. a long-running client: the volume is renewed in the background when the
# certificate in use enters its window (the client runs at a faked clock
# set 2 s before the window opens; its TLS peer keeps the real one)
V=$WORK/vol/bg; mkdir -p -m 700 "$V"
"$KMTLS_TOOL" issue "$V" --ca "$FX/ca/ca.crt" --ca-key "$FX/ca/ca.key" \
  --ca-key-password-file "$FX/ca/ca.pass" --key-type ec:P-256 >/dev/null
old=$(serial "$V/bg-ca-signed.crt")
nb=$(date -d "$(openssl x509 -in "$V/bg-ca-signed.crt" -noout -startdate | cut -d= -f2)" +%s)
na=$(date -d "$(openssl x509 -in "$V/bg-ca-signed.crt" -noout -enddate | cut -d= -f2)" +%s)
window=$(( na - (na - nb) / 3 ))                       # default: the last third
AT_CLOCK_EXEC=1 at_clock "@$(date -u -d "@$((window - 2))" '+%Y-%m-%d %H:%M:%S')" \
  timeout -k 2 90 kcat "${PLUG[@]}" -X "mtls.volume=$V" "${CA[@]}" -C -t bgtopic -o end \
  >"$WORK/bg.out" 2>&1 &
bg=$!; CLEANUP+=("kill $bg")
new=$old
for _ in $(seq 600); do                                # until renewed, at most 60 s
  new=$(serial "$V/bg-ca-signed.crt"); [[ $new != "$old" ]] && break
  kill -0 "$bg" 2>/dev/null || break
  sleep 0.1
done
for _ in $(seq 100); do grep -q "kafka-mtls: renewed a certificate for CN=bg" "$WORK/bg.out" && break; sleep 0.1; done
kill "$bg" 2>/dev/null; wait "$bg" 2>/dev/null
if [[ $new != "$old" ]] && grep -q "the client certificate in use (.*CN=bg) expires on .* a new client instance picks up the new certificate" "$WORK/bg.out" &&
   grep -q "kafka-mtls: renewed a certificate for CN=bg" "$WORK/bg.out"; then
  ok "long-running client: warned when its certificate entered the window, and the volume was renewed in the background"
else fail "background renewal ($old -> $new)" "$(cat "$WORK/bg.out")"; fi
