#!/bin/bash
# kafka-mtls issue as a client of a real CA service (smallstep step-ca,
# tests/peer/step-ca-peer.sh, on a port picked now, stopped in the trap):
# first enrolment with a one-time token (EC and RSA), a fresh volume left
# alone, renewal by mutual TLS (--force: rekey, no token), a new key type
# needing a token, a refused identity, an untrusted service and a service
# that is down writing nothing, 32 concurrent runs on one empty volume
# making one enrolment, and keytool reading what was written. Exit 77 only
# when step-ca cannot be built.
. "$(dirname "$0")/lib.sh"
: "${KMTLS_TOOL:?run through meson test}"
STEP=$KMTLS_SOURCE_ROOT/tests/peer/step-ca-peer.sh
out=$(env -u LD_PRELOAD "$STEP" fetch 2>&1); rc=$?
if (( rc == 77 )); then   # never with KMTLS_REQUIRE_PEERS=1 (peer-lib.sh)
  echo "SKIP: step-ca cannot be built: $(tail -n 1 <<<"$out")"; trap - EXIT; rm -rf "$WORK"; exit 77
elif (( rc != 0 )); then fail "step-ca-peer.sh fetch (rc=$rc)" "$out"; exit 1; fi
env -u LD_PRELOAD "$STEP" init "$WORK/pki" >/dev/null && env -u LD_PRELOAD "$STEP" init "$WORK/other" >/dev/null ||
  { fail "step-ca-peer.sh init"; exit 1; }
CLEANUP+=("env -u LD_PRELOAD '$STEP' stop '$WORK/step'")
for _ in 1 2 3; do
  port=$(env -u LD_PRELOAD "$STEP" pick-ports 1)
  out=$(PEER_DIR=$WORK/step env -u LD_PRELOAD "$STEP" start "$WORK/pki" "$port" 2>&1); rc=$?
  (( rc == 3 )) || break
done
(( rc == 0 )) || { fail "step-ca start (rc=$rc)" "$out"; exit 1; }
URL=https://127.0.0.1:$port ROOT=$WORK/pki/root.crt LOG=$WORK/step/step-ca.log
mkdir -m 700 "$WORK/ks"
token() { ( umask 077; env -u LD_PRELOAD "$STEP" token "$WORK/step" "$@" >"$WORK/token" ); }
count() { tail -n "+$((MARK + 1))" "$LOG" | grep -cE -- "$1"; }   # step-ca's log lines since mark
svc=(--enrol-url "$URL" --enrol-ca "$ROOT")
serial() { openssl x509 "${PROV[@]}" -in "keystore:$1" -noout -serial 2>/dev/null | sed 's/^serial=//'; }
vol=$WORK/ks/kafka-producer

# ---- first enrolment
token "Callisto kafka-producer"; mark
expect_output "first enrolment: a sign with the token, into an absent ALIAS/" \
  '^  service     sign https://127.0.0.1:[0-9]+ \(no certificate to renew: first enrolment' \
  "$KMTLS_TOOL" issue "$vol" "${svc[@]}" --token-file "$WORK/token" --key-type ec:P-256
s1=$(serial "$vol")
subj=$(openssl x509 "${PROV[@]}" -in "keystore:$vol" -noout -subject -nameopt RFC2253 2>/dev/null)
if [[ $subj == "subject=C=GB,O=UK Home Office,CN=Callisto kafka-producer" ]] && (( $(count 'path=/1.0/sign .*status=201') == 1 )); then
  ok "the subject is the token's CN with the service's O and C: $subj"
else fail "subject '$subj', signs $(count 'path=/1.0/sign')"; fi
pw=$(<"$vol/kafka-producer_creds")
if keytool -list -keystore "$vol/kafka-producer.keystore.jks" -storepass "$pw" 2>&1 | grep -q 'kafka-producer, .*PrivateKeyEntry' &&
   keytool -list -keystore "$vol/kafka-producer.truststore.jks" -storepass "$pw" 2>&1 | grep -q 'caroot, .*trustedCertEntry'; then
  ok "keytool reads the keystore (PrivateKeyEntry kafka-producer) and the truststore (caroot) as the seed's"
else fail "keytool -list" "$(keytool -list -keystore "$vol/kafka-producer.keystore.jks" -storepass "$pw" 2>&1)"; fi
expect_output "the truststore is the configured root" "verifies +yes" "$KMTLS_TOOL" inspect "$vol"

# ---- fresh: nothing asked; --force: rekey by mutual TLS, no token
mark
expect_output "a fresh volume is left as it is" '^fresh: ' "$KMTLS_TOOL" issue "$vol" "${svc[@]}" --key-type ec:P-256
expect_output "--force renews by rekey (mutual TLS, no token)" \
  '^  service     rekey https://127.0.0.1:[0-9]+ \(renewal by mutual TLS' \
  "$KMTLS_TOOL" issue "$vol" "${svc[@]}" --key-type ec:P-256 --force
s2=$(serial "$vol")
if [[ -n $s2 && $s2 != "$s1" ]] && (( $(count 'path=/1.0/') == 1 && $(count 'path=/1.0/rekey .*status=201') == 1 )) &&
   [[ $(openssl x509 "${PROV[@]}" -in "keystore:$vol" -noout -subject -nameopt RFC2253 2>/dev/null) == "$subj" ]]; then
  ok "one request in all (a rekey); new serial $s2, same subject"
else fail "rekey: serials $s1 -> $s2, requests $(count 'path=/1.0/')"; fi

# ---- another key type needs a new enrolment, and so a token
expect_fail "a new key type without a token fails, naming the token file" \
  'the key type changes: a renewal keeps it, and there is no token' \
  "$KMTLS_TOOL" issue "$vol" "${svc[@]}" --key-type rsa:2048 --force
[[ $(serial "$vol") == "$s2" ]] && ok "... and wrote nothing" || fail "the volume changed"
token "Callisto kafka-producer"
expect_output "with a token: a sign for the RSA-2048 key" '^  service     sign .*the key type changes' \
  "$KMTLS_TOOL" issue "$vol" "${svc[@]}" --token-file "$WORK/token" --key-type rsa:2048 --force
expect_output "the keystore holds the RSA-2048 key" 'key +RSA 2048' "$KMTLS_TOOL" inspect "$vol"

# ---- what the service refuses, and services that are not it, write nothing
token "Callisto kafka-producer"
other=$WORK/ks/kafka-consumer
expect_fail "a producer token asking for kafka-consumer: step-ca refuses, the token is spent" \
  'refused the request \(403\): certificate request does not contain the valid common name.*the token is spent' \
  "$KMTLS_TOOL" issue "$other" "${svc[@]}" --token-file "$WORK/token" --subject 'C=GB,O=UK Home Office,CN=Callisto kafka-consumer'
token "Callisto kafka-consumer"
expect_fail "a service certificate from another root: TLS refused, nothing sent" \
  "TLS failed: the service's certificate is not trusted" \
  "$KMTLS_TOOL" issue "$other" --enrol-url "$URL" --enrol-ca "$WORK/other/root.crt" --token-file "$WORK/token"
down=$(free_port)
expect_fail "a service that is down: unreachable, retry later" 'is unreachable: .*retry later' \
  "$KMTLS_TOOL" issue "$other" --enrol-url "https://127.0.0.1:$down" --enrol-ca "$ROOT" --token-file "$WORK/token"
if ! compgen -G "$other/*.jks" >/dev/null && ! compgen -G "$other/*_creds" >/dev/null; then
  ok "none of them wrote anything into $other"
else fail "$other: $(ls -A "$other")"; fi
expect_output "the token the failures did not spend still enrols" '^  service     sign ' \
  "$KMTLS_TOOL" issue "$other" "${svc[@]}" --token-file "$WORK/token"
expect_fail "--enrol-url beside --ca is a usage error" '--enrol-url and --ca/--ca-key are two issuers' \
  "$KMTLS_TOOL" issue "$other" "${svc[@]}" --ca "$FX/ca/ca.crt" --ca-key "$FX/ca/ca.key"
expect_fail "an http:// URL is refused" 'expected https://' \
  "$KMTLS_TOOL" issue "$other" --enrol-url "http://127.0.0.1:$port" --enrol-ca "$ROOT" --force
expect_fail "a lifetime that is no duration is refused" "lifetime '3 days'" \
  "$KMTLS_TOOL" issue "$other" "${svc[@]}" --not-after '3 days' --force

# ---- 32 runs at once on one empty volume, one token: one enrolment
burst=$WORK/ks/burst
token "Callisto kafka-producer"; mark
pids=()
for i in $(seq 32); do
  "$KMTLS_TOOL" issue "$burst" "${svc[@]}" --token-file "$WORK/token" --key-type ec:P-256 >"$WORK/burst.$i" 2>&1 &
  pids+=($!)
done
failed=0
for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
serials=$(cat "$WORK"/burst.* | sed -n 's/^  serial *//p' | sort -u | wc -l)
if (( failed == 0 && serials == 1 )) && (( $(count 'path=/1.0/sign') == 1 )); then
  ok "32 runs at once: all succeeded, one serial, one sign request"
else fail "32 at once: $failed failed, $serials serials, $(count 'path=/1.0/sign') signs" "$(cat "$WORK"/burst.* | head -20)"; fi

# ---- a 2-minute lifetime asked for (step-ca backdates a minute: 3 in all)
token "Callisto kafka-producer"
"$KMTLS_TOOL" issue "$WORK/ks/short" "${svc[@]}" --token-file "$WORK/token" --key-type ec:P-256 --not-after 2m >/dev/null 2>&1
nb=$(date -d "$(openssl x509 "${PROV[@]}" -in "keystore:$WORK/ks/short" -noout -startdate 2>/dev/null | cut -d= -f2)" +%s)
na=$(date -d "$(openssl x509 "${PROV[@]}" -in "keystore:$WORK/ks/short" -noout -enddate 2>/dev/null | cut -d= -f2)" +%s)
if (( na - nb == 180 )); then ok "--not-after 2m: the certificate lives 3 minutes (1 backdated)"
else fail "--not-after 2m: lifetime $((na - nb)) s"; fi
