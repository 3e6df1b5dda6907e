#!/bin/bash
# One bound for a whole issuance with a CA service: mtls.wait.ms counts from
# the start of client creation, and kafka-mtls issue's --wait from the
# start of the run, whatever the time goes to (a wait for the volume lock,
# a renewal refused late, then a sign). Every exchange gets only what is
# left. Services: tests/enrol/canned_service.py on loopback, its TLS
# certificate from a test PKI's intermediate (tests/peer/step-ca-peer.sh
# init: openssl only, no step-ca): a port that accepts and never answers,
# and late-refusal (a rekey refused with 401 after 3 s, then a sign never
# answered). The upper bounds are the wait plus a margin for a loaded
# machine, and below what the time would be if each exchange had the whole
# wait again.
. "$(dirname "$0")/lib.sh"
: "${KMTLS_TOOL:?run through meson test}" "${KMTLS_PLUGIN:?run through meson test}"
STEP=$KMTLS_SOURCE_ROOT/tests/peer/step-ca-peer.sh
PY=$(command -v /usr/bin/python3 python3 | head -n 1)
env -u LD_PRELOAD "$STEP" init "$WORK/pki" >/dev/null || { fail "step-ca-peer.sh init"; exit 1; }
P=$WORK/pki ROOT=$WORK/pki/root.crt
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/svc.key" \
  -subj "/CN=canned service" -out "$WORK/svc.csr" 2>/dev/null &&
  printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n' >"$WORK/svc.ext" &&
  openssl x509 -req -in "$WORK/svc.csr" -CA "$P/int.crt" -CAkey "$P/int.key" -days 1 \
    -set_serial "0x$(openssl rand -hex 16)" -extfile "$WORK/svc.ext" -out "$WORK/svc.crt" 2>/dev/null &&
  cat "$WORK/svc.crt" "$P/int.crt" "$WORK/svc.key" >"$WORK/svc.pem" || { fail "the canned service's certificate"; exit 1; }
for _ in 1 2 3; do
  read -r P_TLS P_OTHER P_TARPIT < <(env -u LD_PRELOAD "$STEP" pick-ports 3 | paste -sd' ')
  : >"$WORK/canned.out"
  env -u LD_PRELOAD "$PY" "$KMTLS_SOURCE_ROOT/tests/enrol/canned_service.py" --cert "$WORK/svc.pem" --port "$P_TLS" \
    --expired-cert "$WORK/svc.pem" --expired-port "$P_OTHER" --tarpit-port "$P_TARPIT" --log "$WORK/canned.log" \
    >"$WORK/canned.out" 2>&1 &
  canned=$!
  for (( i = 0; i < 200; i++ )); do
    grep -qs '^READY' "$WORK/canned.out" && break
    kill -0 "$canned" 2>/dev/null || break
    sleep 0.05
  done
  grep -qs '^READY' "$WORK/canned.out" && break
  wait "$canned" 2>/dev/null; canned=
done
[[ -n $canned ]] || { fail "canned_service.py did not start" "$(cat "$WORK/canned.out")"; exit 1; }
CLEANUP+=("kill $canned")
SILENT=https://127.0.0.1:$P_TARPIT LATE=https://127.0.0.1:$P_TLS/late-refusal
# a token for the canned service: a JWT's shape with a subject, never verified by it
b64() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
( umask 077; printf '%s.%s.%s\n' "$(printf '{"alg":"ES256"}' | b64)" \
    "$(printf '{"sub":"Callisto kafka-producer"}' | b64)" "$(printf 'signature' | b64)" >"$WORK/token" )
mkdir -m 700 "$WORK/ks"
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
nothing_written() { ! compgen -G "$1/*.jks" >/dev/null && ! compgen -G "$1/*_creds" >/dev/null; }
KC=(timeout -k 5 60 kcat -X "plugin.library.paths=$KMTLS_PLUGIN" -X mtls.key.type=ec:P-256
    -X "mtls.enrol.ca.location=$ROOT" -X "mtls.enrol.token.file=$WORK/token" -b 127.0.0.1:1 -m 1 -L)

# ---- an empty volume, a service that never answers, mtls.wait.ms=1500
vol=$WORK/ks/silent
t=$(date +%s%N)
out=$("${KC[@]}" -X "mtls.volume=$vol" -X "mtls.enrol.url=$SILENT" -X mtls.wait.ms=1500 2>&1); rc=$?
took=$(ms_since "$t")
if (( rc != 0 && took < 8000 )) && grep -q "Failed to create" <<<"$out" &&
   grep -q "step-ca $SILENT/1.0/sign timed out after [0-9]* ms.*mtls.wait.ms=1500" <<<"$out" && nothing_written "$vol"; then
  ok "a silent service, mtls.wait.ms=1500: client creation failed in $took ms naming the service and mtls.wait.ms; nothing written"
else fail "silent service, empty volume (rc=$rc, $took ms)" "$out"; fi

# ---- the same, behind another process holding the volume lock for 3 s:
# the lock wait is part of the 4 s (each exchange with the whole wait again: 7 s)
vol=$WORK/ks/queued
mkdir -m 700 "$vol" && ( umask 077; : >"$vol/.kafka-mtls.lock" )
flock -x "$vol/.kafka-mtls.lock" sleep 3 &
holder=$!
CLEANUP+=("kill $holder")
for (( i = 0; i < 200; i++ )); do flock -n "$vol/.kafka-mtls.lock" true || break; sleep 0.01; done
t=$(date +%s%N)
out=$("${KC[@]}" -X "mtls.volume=$vol" -X "mtls.enrol.url=$SILENT" -X mtls.wait.ms=4000 2>&1); rc=$?
took=$(ms_since "$t")
wait "$holder"
if (( rc != 0 && took < 6500 )) && grep -q "Failed to create" <<<"$out" &&
   grep -qE "timed out after [0-9]+ ms.*\(what was left of mtls.wait.ms=4000\)|no time left within mtls.wait.ms=4000" <<<"$out" &&
   nothing_written "$vol"; then
  ok "a lock held 3 s, then a silent service, mtls.wait.ms=4000: failed in $took ms (the wait bounds both); nothing written"
else fail "lock wait + silent service (rc=$rc, $took ms, want < 6500)" "$out"; fi

# ---- a valid certificate in its renew window (all but its first second): the renewal is refused after
# 3 s (401), the sign it falls back to is never answered; mtls.wait.ms=4000
# (each exchange with the whole wait: 3 + 4 s)
vol=$WORK/ks/kafka-producer
out=$("$KMTLS_TOOL" issue "$vol" --ca "$P/int.crt" --ca-key "$P/int.key" --subject "CN=Callisto kafka-producer" \
      --key-type ec:P-256 --validity 1h 2>&1) || { fail "kafka-mtls issue (a local certificate under the PKI)" "$out"; exit 1; }
serial=$(openssl x509 "${PROV[@]}" -in "keystore:$vol" -noout -serial 2>/dev/null)
for (( i = 0; i < 300; i++ )); do   # its window opens a second after its start
  openssl x509 "${PROV[@]}" -in "keystore:$vol" -noout -checkend 3599 >/dev/null 2>&1 || break
  sleep 0.01
done
t=$(date +%s%N)
out=$("${KC[@]}" -X "mtls.volume=$vol" -X "mtls.enrol.url=$LATE" -X mtls.wait.ms=4000 -X mtls.renew.before=3599s 2>&1)
# the time of the reason, from its log line (%4|SECONDS.MS|...), not kcat's metadata wait after it
warned=$(grep -m1 'enrolling mtls.volume=.* with the CA service failed' <<<"$out" | cut -d'|' -f2)
took=-1
[[ -n $warned ]] && took=$(( ${warned/./} - t / 1000000 ))
if [[ -n $warned ]] && (( took >= 0 && took < 6500 )) &&
   grep -q 'could not renew the client certificate' <<<"$out" &&
   grep -qE "late-refusal/1.0/sign timed out after [0-9]+ ms.*what was left of mtls.wait.ms=4000" <<<"$out" &&
   [[ $(openssl x509 "${PROV[@]}" -in "keystore:$vol" -noout -serial 2>/dev/null) == "$serial" ]]; then
  ok "rekey refused late, then a silent sign, mtls.wait.ms=4000: the client went on with its certificate after $took ms; nothing written"
else fail "renew then sign (took $took ms, want < 6500)" "$out
$(cat "$WORK/canned.log")"; fi

# ---- the command: --wait 4 bounds the same path (each exchange its default 10 s: 13 s)
t=$(date +%s%N)
out=$("$KMTLS_TOOL" issue "$vol" --enrol-url "$LATE" --enrol-ca "$ROOT" --token-file "$WORK/token" --key-type ec:P-256 \
      --force --wait 4 2>&1); rc=$?
took=$(ms_since "$t")
if (( rc != 0 && took < 6500 )) && grep -qE "sign timed out after [0-9]+ ms.*what was left of --wait 4|no time left within --wait 4" <<<"$out" &&
   [[ $(openssl x509 "${PROV[@]}" -in "keystore:$vol" -noout -serial 2>/dev/null) == "$serial" ]]; then
  ok "kafka-mtls issue --wait 4, rekey refused late then a silent sign: failed in $took ms naming --wait; nothing written"
else fail "the command's --wait (rc=$rc, $took ms, want < 6500)" "$out"; fi
