#!/bin/bash
# A CA service that is down, slow, not the one configured, or answering
# garbage never costs a client its working certificate: the renewal fails
# with a message naming the service and the cause, nothing is written, and
# the client goes on with the still-valid certificate it has (served by the
# broker as before). On an empty volume the same failures fail client
# creation closed, with nothing written. The misbehaving answers come from
# tests/enrol/canned_service.py, whose TLS certificate is issued by the CA
# service's own intermediate (so it is "the service" as far as the client
# can tell), and once by another root (a service that is not ours).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../step_ca.sh"
start_step_ca
ks=$WORK/keystore vol=$WORK/keystore/kafka-producer id=fail-$RANDOM topic=seed-fail-$RANDOM
mkdir -m 700 "$ks" "$WORK/tokens" "$WORK/canned"
new_topic "$topic"
tok=$WORK/tokens/producer.token
step_token "$tok" "Callisto kafka-producer"
out=$("$KMTLS_TOOL" issue "$vol" --enrol-url "$STEP_URL" --enrol-ca "$STEP_ROOT" --token-file "$tok" \
      --key-type ec:P-256 --not-after 10m 2>&1) || { fail "kafka-mtls issue (enrolment)" "$out"; exit 1; }
serial=$(serial_of "$vol")

# ---- the canned service: its certificate from the CA service's intermediate
# (127.0.0.1, sent with the intermediate), and one from another root
C=$WORK/canned
mkcert() {  # mkcert NAME CA_CRT CA_KEY [CHAIN]
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$C/$1.key" \
    -subj "/CN=canned service" -out "$C/$1.csr" 2>/dev/null &&
  printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n' >"$C/$1.ext" &&
  openssl x509 -req -in "$C/$1.csr" -CA "$2" -CAkey "$3" -days 1 -set_serial "0x$(openssl rand -hex 16)" \
    -extfile "$C/$1.ext" -out "$C/$1.crt" 2>/dev/null &&
  cat "$C/$1.crt" ${4:+"$4"} "$C/$1.key" >"$C/$1.pem"
}
openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$C/other.key" \
  -out "$C/other.crt" -days 1 -subj "/CN=another root" -addext basicConstraints=critical,CA:TRUE 2>/dev/null
mkcert ours "$WORLD_STEP_PKI/int.crt" "$WORLD_STEP_PKI/int.key" "$WORLD_STEP_PKI/int.crt" &&
  mkcert theirs "$C/other.crt" "$C/other.key" || { fail "making the canned service's certificates"; exit 1; }
PY=$(command -v /usr/bin/python3 python3 | head -n 1)
read -r P_OURS P_THEIRS P_TARPIT P_DOWN < <(env -u LD_PRELOAD "$STEP_PEER" pick-ports 4 | paste -sd' ')
"$PY" "$KMTLS_SOURCE_ROOT/tests/enrol/canned_service.py" --cert "$C/ours.pem" --port "$P_OURS" \
  --expired-cert "$C/theirs.pem" --expired-port "$P_THEIRS" --tarpit-port "$P_TARPIT" --log "$C/log" \
  >"$C/out" 2>&1 &
canned=$!
CLEANUP+=("kill $canned")
for (( i = 0; i < 200; i++ )); do
  grep -qs '^READY' "$C/out" && break
  kill -0 "$canned" 2>/dev/null || break
  sleep 0.05
done
grep -qs '^READY' "$C/out" || { fail "canned_service.py did not start" "$(cat "$C/out")"; exit 1; }

# renew_through URL WHAT PATTERN [-X ...]: a producer whose certificate is in
# its renew window (95%) renews through URL: it must warn with PATTERN, keep
# the certificate (same serial) and be served with it
renew_through() {
  local url=$1 what=$2 pat=$3 cid=$id-$RANDOM
  shift 3
  out=$(echo "$what" | kc "${PLUG[@]}" -X "mtls.volume=$vol" -X "mtls.enrol.url=$url" \
        -X "mtls.enrol.ca.location=$STEP_ROOT" -X mtls.key.type=ec:P-256 -X mtls.renew.before=95% "$@" \
        -X "client.id=$cid" -b "$WORLD_BOOTSTRAP" -P -t "$topic" 2>&1); rc=$?
  if (( rc == 0 )) && grep -q 'could not renew the client certificate' <<<"$out" && grep -qE -- "$pat" <<<"$out" &&
     [[ $(serial_of "$vol") == "$serial" ]] && served "$cid" "$(seed_principal kafka-producer)"; then
    ok "$what: the renewal failed naming the cause, nothing was written, the valid certificate served on"
  else fail "$what (rc=$rc, serial $(serial_of "$vol"), want $serial)" "$out"; fi
}
renew_through "https://127.0.0.1:$P_DOWN" "service down" "rekey is unreachable: .*Couldn't connect.*retry later"
renew_through "https://127.0.0.1:$P_TARPIT" "service silent (mtls.wait.ms=1500)" \
  "rekey timed out after [0-9]+ ms.*what was left of mtls.wait.ms=1500" -X mtls.wait.ms=1500
renew_through "https://127.0.0.1:$P_THEIRS/target" "another root's service certificate" \
  "TLS failed: the service's certificate is not trusted.*nothing was sent"
renew_through "https://127.0.0.1:$P_OURS/not-json" "a body that is not JSON" "sent a bad response: the body is not JSON"
renew_through "https://127.0.0.1:$P_OURS/truncated" "a truncated body" "sent a bad response: the body is not JSON"
renew_through "https://127.0.0.1:$P_OURS/big-length" "an announced 300 KiB body" \
  "sent a bad response: the response announces a body larger than 262144 bytes"
renew_through "https://127.0.0.1:$P_OURS/big-chunked" "a chunked 320 KiB body" \
  "sent a bad response: the response body is larger than 262144 bytes"
renew_through "https://127.0.0.1:$P_OURS/html-500" "an HTTP 500" "answered HTTP 500"
if grep -q "POST /not-json/1.0/rekey" "$C/log" && ! grep -q "/1.0/sign" "$C/log"; then
  ok "the canned service saw rekeys only: a failed renewal never falls back to a token"
else fail "requests to the canned service" "$(cat "$C/log")"; fi

# ---- an empty volume: the same failures fail client creation closed
empty=$ks/kafka-empty
for c in "https://127.0.0.1:$P_DOWN|unreachable" "https://127.0.0.1:$P_OURS/not-json|bad response" \
         "https://127.0.0.1:$P_THEIRS/target|not trusted"; do
  url=${c%%|*} pat=${c#*|}
  step_token "$WORK/tokens/empty.token" "Callisto kafka-producer"
  out=$(kc "${PLUG[@]}" -X "mtls.volume=$empty" -X "mtls.enrol.url=$url" -X "mtls.enrol.ca.location=$STEP_ROOT" \
        -X "mtls.enrol.token.file=$WORK/tokens/empty.token" -X mtls.key.type=ec:P-256 -b "$WORLD_BOOTSTRAP" -L 2>&1); rc=$?
  if (( rc != 0 )) && grep -q "Failed to create" <<<"$out" && grep -q "$pat" <<<"$out" &&
     ! compgen -G "$empty/*.jks" >/dev/null && ! compgen -G "$empty/*_creds" >/dev/null; then
    ok "empty volume, $pat: client creation failed closed, nothing written"
  else fail "empty volume, $pat (rc=$rc)" "$out"; fi
done
