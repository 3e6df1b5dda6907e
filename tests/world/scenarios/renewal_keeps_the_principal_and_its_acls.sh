#!/bin/bash
# A renewal keeps the identity: a volume whose certificate is inside its
# renew window is renewed by the plugin at client creation with the subject
# (RDN order included) and SANs of the certificate it replaces, so the
# broker derives the same principal and the ACLs written for it keep
# admitting the client. No mtls.subject or mtls.san is configured here.
. "$(dirname "$0")/../lib.sh"
ks=$WORK/keystore vol=$WORK/keystore/kafka-producer id=renew-$RANDOM topic=seed-renew-$RANDOM
mkdir -m 700 "$ks"
new_topic "$topic"
out=$("$KMTLS_TOOL" issue "$vol" --ca "$FX/ca/ca.crt" --ca-key "$FX/ca/ca.key" \
      --ca-key-password-file "$FX/ca/ca.pass" --days 3 --key-type ec:P-256 \
      --subject "$SEED_SUBJECT_TEMPLATE" --san 'DNS:${alias},DNS:localhost' 2>&1) ||
  { fail "kafka-mtls issue (3 days)" "$out"; exit 1; }
serial1=$(serial_of "$vol") subject1=$(subject_of "$vol")
san1=$(openssl x509 "${PROV[@]}" -in "keystore:$vol" -noout -ext subjectAltName 2>/dev/null | tail -n +2)

# 3 days left, renew window 4 days: the plugin renews (into 30 days) first
out=$(echo "$id" | kc "${PLUG[@]}" -X "mtls.volume=$vol" "${CA[@]}" -X mtls.validity.days=30 \
      -X mtls.renew.before=4d -X "client.id=$id" -b "$WORLD_BOOTSTRAP" -P -t "$topic" 2>&1); rc=$?
serial2=$(serial_of "$vol")
if (( rc == 0 )) && [[ -n $serial1 && $serial2 != "$serial1" ]] &&
   grep -q "renewed a certificate for $SEED_DN_PREFIX kafka-producer (serial $serial2)" <<<"$out"; then
  ok "inside its renew window: renewed at client creation (serial $serial1 -> $serial2)"
else fail "renewal (rc=$rc, serials $serial1 -> $serial2)" "$out"; fi
san2=$(openssl x509 "${PROV[@]}" -in "keystore:$vol" -noout -ext subjectAltName 2>/dev/null | tail -n +2)
if [[ $(subject_of "$vol") == "$subject1" && $subject1 == "$SEED_DN_PREFIX kafka-producer" && $san2 == "$san1" ]]; then
  ok "subject and SANs kept: $subject1; $(echo $san1)"
else fail "identity changed: '$subject1' -> '$(subject_of "$vol")', '$san1' -> '$san2'"; fi
if served "$id" "$(seed_principal kafka-producer)"; then
  ok "the renewed client was admitted by the ACLs as $(seed_principal kafka-producer)"
else fail "principal after renewal: $(principals_of "$id")"; fi
# and the next client is served by the renewed, fresh certificate as it is
out=$(echo "$id-2" | kc "${PLUG[@]}" -X "mtls.volume=$vol" "${CA[@]}" -X mtls.validity.days=30 \
      -X mtls.renew.before=4d -X "client.id=$id-2" -b "$WORLD_BOOTSTRAP" -P -t "$topic" 2>&1); rc=$?
if (( rc == 0 )) && [[ $(serial_of "$vol") == "$serial2" ]] && served "$id-2" "$(seed_principal kafka-producer)"; then
  ok "the next client uses the renewed certificate as it is (no second renewal)"
else fail "second client (rc=$rc)" "$out"; fi

# A volume the seed's sidecar wrote (keytool: JKS, RSA 2048, the seed's
# subject, no SANs; openssl signs it) is renewed by the plugin just the
# same: the seed's subject, the principal its ACLs name, stores the seed's
# Java clients still open with the password in kafka-producer_creds.
sks=$WORK/sidecar-keystore svol=$WORK/sidecar-keystore/kafka-producer
mkdir -m 700 "$sks"
DAYS=3 "$WORLD_HERE/sidecar.sh" "$sks" kafka-producer "$FX/ca" || { fail "the sidecar's run"; exit 1; }
serial1=$(serial_of "$svol") subject1=$(subject_of "$svol")
out=$(echo "$id-sidecar" | kc "${PLUG[@]}" -X "mtls.volume=$svol" "${CA[@]}" -X mtls.validity.days=30 \
      -X mtls.renew.before=4d -X "client.id=$id-sidecar" -b "$WORLD_BOOTSTRAP" -P -t "$topic" 2>&1); rc=$?
serial2=$(serial_of "$svol")
if (( rc == 0 )) && [[ -n $serial1 && $serial2 != "$serial1" ]] &&
   grep -q "renewed a certificate for $SEED_DN_PREFIX kafka-producer (serial $serial2)" <<<"$out"; then
  ok "the sidecar's volume (3 days left): renewed at client creation (serial $serial1 -> $serial2)"
else fail "renewing the sidecar's volume (rc=$rc, serials $serial1 -> $serial2)" "$out"; fi
if [[ $subject1 == "$SEED_DN_PREFIX kafka-producer" && $(subject_of "$svol") == "$subject1" ]]; then
  ok "the sidecar's subject kept: $subject1"
else fail "the sidecar's subject changed: '$subject1' -> '$(subject_of "$svol")'"; fi
if served "$id-sidecar" "$(seed_principal kafka-producer)"; then
  ok "the client renewing the sidecar's volume was admitted by the ACLs as $(seed_principal kafka-producer)"
else fail "principal after renewing the sidecar's volume: $(principals_of "$id-sidecar")"; fi
pw=$(<"$svol/kafka-producer_creds")
if keytool -list -keystore "$svol/kafka-producer.keystore.jks" -storepass "$pw" >/dev/null 2>&1 &&
   keytool -list -keystore "$svol/kafka-producer.truststore.jks" -storepass "$pw" >/dev/null 2>&1; then
  ok "the renewed stores open with the password in kafka-producer_creds (keytool, as the seed's Java clients)"
else fail "keytool cannot open the renewed sidecar stores with kafka-producer_creds"; fi
