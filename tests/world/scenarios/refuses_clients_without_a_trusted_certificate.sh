#!/bin/bash
# The broker requires client certificates, and only from the CA it trusts:
# plain kcat without a certificate, plain kcat with a certificate from
# another CA (with the seed's subject for the same client) are refused in
# the TLS handshake -- they fail, the broker serves them no request and logs
# a failed authentication -- while the plugin-configured client beside
# them, issuing from the broker's CA, produces as the seed's principal. (The same
# refusals by the mock cluster and Kafka 0.9: tests/peer/peer-selftest.sh,
# test peers_require_client_certificates.)
. "$(dirname "$0")/../lib.sh"
id=refuse-$RANDOM topic=seed-refuse-$RANDOM
new_topic "$topic"
ks=$WORK/keystore
mkdir -m 700 "$ks"
VOLUME_SH=$KMTLS_SOURCE_ROOT/tests/fixtures/volume.sh
"$VOLUME_SH" ca "$WORK/otherca" "another CA" >/dev/null &&
  "$VOLUME_SH" certmanager "$WORK/otherca" "$WORK/rogue" "Callisto kafka-producer" ||
  { fail "making another CA and a certificate from it"; exit 1; }
TLS=(-X security.protocol=ssl -X "ssl.ca.location=$FX/ca/ca.crt")
auth_failures() { grep -c 'Failed authentication with /127.0.0.1' "$WORLD_PEER/kafka.log" 2>/dev/null; }

# refused NAME CLIENT_ID KCAT_ARGS...: kcat -L must fail (not time out; kcat
# 1.7.1 may crash on exit after a refused connection: any other non-zero
# status counts) with a TLS error, and the broker must log one more failed
# authentication. kcat gives up after its metadata timeout (-m).
refused() {
  local name=$1 cid=$2 before out rc i; shift 2
  before=$(auth_failures)
  out=$(kc -b "$WORLD_BOOTSTRAP" -X "client.id=$cid" "$@" -m 5 -L 2>&1); rc=$?
  for (( i = 0; i < 100 && $(auth_failures) <= before; i++ )); do sleep 0.1; done
  if (( rc != 0 && rc != 124 && rc != 137 )) &&
     grep -qiE 'handshake|certificate|alert|SSL' <<<"$out" && (( $(auth_failures) > before )); then
    ok "$name: refused ($(grep -oiE '[^:]*(handshake|alert)[^:]*' <<<"$out" | head -n 1 | sed 's/^ *//')); the broker logged a failed authentication"
  else fail "$name must be refused (rc=$rc; failed authentications logged: $before -> $(auth_failures))" "$out"; fi
}
refused "kcat without a client certificate" "$id-nocert" "${TLS[@]}"
refused "kcat with a certificate for CN=Callisto kafka-producer from another CA" "$id-rogue" "${TLS[@]}" \
  -X "ssl.certificate.location=$WORK/rogue/tls.crt" -X "ssl.key.location=$WORK/rogue/tls.key"

out=$(msgs "$id" 3 | kc "${PLUG[@]}" -X "mtls.volume=$ks/kafka-producer" "${CA[@]}" \
      -X "mtls.subject=$SEED_SUBJECT_TEMPLATE" -X "client.id=$id-plugin" -b "$WORLD_BOOTSTRAP" \
      -P -t "$topic" 2>&1); rc=$?
if (( rc == 0 )) && served "$id-plugin" "$(seed_principal kafka-producer)"; then
  ok "beside them, the plugin-configured client (the broker's CA) produced as $(seed_principal kafka-producer)"
else fail "the plugin-configured client (rc=$rc; principals: $(principals_of "$id-plugin"))" "$out"; fi
# the broker logs a request once its response is sent: the refused clients'
# attempts came before the served client's, so they would be logged by now
for cid in "$id-nocert" "$id-rogue"; do
  if grep -qF "\"clientId\":\"$cid\"" "$WORLD_PEER/request.log"; then
    fail "the broker served a request from $cid" "$(grep -F "\"clientId\":\"$cid\"" "$WORLD_PEER/request.log" | head -n 3)"
  else ok "request.log: no request from $cid"; fi
done
