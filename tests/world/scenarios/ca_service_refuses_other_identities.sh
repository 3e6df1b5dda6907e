#!/bin/bash
# Least privilege, enforced by the service: a client whose token is for
# kafka-producer asks for kafka-consumer, and for the broker's own
# principal (the super user); step-ca refuses both, the plugin fails client
# creation closed with step-ca's reason, and nothing is written. The
# refusal spent the token (step-ca spends it before it reads the CSR): the
# same token again is refused as used. Nothing a producer holds can become
# another identity. A producer token with a request for its own CN but
# another O and C, or a SAN the token lacks: the CSR carries the CN only,
# step-ca signs the token's identity (its template fixes O and C, the token
# the SANs), and the plugin refuses that answer, as it is not what was asked
# for: client creation fails naming both subjects (or the SANs), nothing is
# written, the token is spent.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../step_ca.sh"
start_step_ca
ks=$WORK/keystore id=refuse-$RANDOM
mkdir -m 700 "$ks" "$WORK/tokens"

# ask ALIAS SUBJECT [-X ...]: client creation with a fresh producer token, asking for SUBJECT
ask() {
  local alias=$1 subject=$2
  shift 2
  step_token "$WORK/tokens/$alias.token" "Callisto kafka-producer"
  step_mark
  out=$(kc "${PLUG[@]}" -X "mtls.volume=$ks/$alias" "${ENROL[@]}" -X "mtls.enrol.token.file=$WORK/tokens/$alias.token" \
        -X "mtls.subject=$subject" -X mtls.key.type=ec:P-256 "$@" -X "client.id=$id" -b "$WORLD_BOOTSTRAP" -L 2>&1); rc=$?
}
# nothing_written VOLUME: no store, no password file (the directory and its lock may exist)
nothing_written() { ! compgen -G "$1/*.jks" >/dev/null && ! compgen -G "$1/*_creds" >/dev/null && ! compgen -G "$1/*.crt" >/dev/null; }

for target in kafka-consumer kafka; do
  ask "as-$target" "$SEED_DN_PREFIX $target"
  if (( rc != 0 )) && grep -q "refused the request (403): certificate request does not contain the valid common name - got Callisto $target, want \[Callisto kafka-producer" <<<"$out" &&
     grep -q 'the token is spent' <<<"$out" && nothing_written "$ks/as-$target" &&
     ! grep -qF -- "$(cut -d. -f2 "$WORK/tokens/as-$target.token")" <<<"$out" &&
     (( $(step_log_count 'path=/1.0/sign .*status=403') == 1 )); then
    ok "a producer token asking for CN=Callisto $target: step-ca refused (403), client creation failed with its reason (the token in no message), nothing written"
  else fail "producer token for Callisto $target (rc=$rc)" "$out
$(ls -la "$ks/as-$target" 2>&1)"; fi
done
# the token's own CN, but another O and C; then a SAN the token does not carry
ask as-us "C=US,O=X,CN=Callisto kafka-producer"
if (( rc != 0 )) && grep -q "Failed to create" <<<"$out" &&
   grep -qF "the service issued the subject 'C=GB,O=UK Home Office,CN=Callisto kafka-producer', not the configured 'C=US,O=X,CN=Callisto kafka-producer'; nothing was written" <<<"$out" &&
   nothing_written "$ks/as-us" && (( $(step_log_count 'path=/1.0/sign .*status=201') == 1 )); then
  ok "a producer token asking for O=X, C=US: step-ca signed its template's O and C, the plugin refused that answer naming both subjects; nothing written"
else fail "producer token for C=US,O=X (rc=$rc)" "$out"; fi
ask as-broker-san "$SEED_DN_PREFIX kafka-producer" -X mtls.san=DNS:broker
if (( rc != 0 )) && grep -q "Failed to create" <<<"$out" &&
   grep -qF "the service issued other subjectAltNames than the configured 'DNS:broker'; nothing was written" <<<"$out" &&
   nothing_written "$ks/as-broker-san"; then
  ok "a producer token asking for the SAN DNS:broker: not in the token, so not issued; the plugin refused the answer; nothing written"
else fail "producer token for DNS:broker (rc=$rc)" "$out"; fi
step_mark
out=$(kc "${PLUG[@]}" -X "mtls.volume=$ks/as-us" "${ENROL[@]}" -X "mtls.enrol.token.file=$WORK/tokens/as-us.token" \
      -X mtls.key.type=ec:P-256 -b "$WORLD_BOOTSTRAP" -L 2>&1); rc=$?
if (( rc != 0 )) && grep -q 'refused the token (401)' <<<"$out" && nothing_written "$ks/as-us"; then
  ok "... and its token is spent: asked again, step-ca refuses it (401), nothing written"
else fail "the as-us token again (rc=$rc)" "$out"; fi

if ! grep -qF "\"clientId\":\"$id\"" "$WORLD_PEER/request.log" 2>/dev/null; then
  ok "the refused clients never reached the broker (no request from client.id $id)"
else fail "a refused client reached the broker: $(principals_of "$id")"; fi

# the spent token: refused as used, still nothing written
step_mark
out=$(kc "${PLUG[@]}" -X "mtls.volume=$ks/as-kafka" "${ENROL[@]}" -X "mtls.enrol.token.file=$WORK/tokens/as-kafka.token" \
      -X mtls.key.type=ec:P-256 -b "$WORLD_BOOTSTRAP" -L 2>&1); rc=$?
if (( rc != 0 )) && grep -q 'refused the token (401)' <<<"$out" && grep -q 'get a new token' <<<"$out" &&
   nothing_written "$ks/as-kafka"; then
  ok "the spent token again: refused (401, get a new token), nothing written"
else fail "spent token (rc=$rc)" "$out"; fi

# without mtls.subject the token decides: the same alias gets the producer identity
step_token "$WORK/tokens/ok.token" "Callisto kafka-producer"
out=$(kc "${PLUG[@]}" -X "mtls.volume=$ks/as-kafka" "${ENROL[@]}" -X "mtls.enrol.token.file=$WORK/tokens/ok.token" \
      -X mtls.key.type=ec:P-256 -X "client.id=$id-ok" -b "$WORLD_BOOTSTRAP" -L 2>&1); rc=$?
if (( rc == 0 )) && [[ $(subject_of "$ks/as-kafka") == "$SEED_DN_PREFIX kafka-producer" ]] &&
   served "$id-ok" "$(seed_principal kafka-producer)"; then
  ok "with a new token and no subject asked for: the token's identity, $(seed_principal kafka-producer), whatever the volume's name"
else fail "the token's identity (rc=$rc, subject $(subject_of "$ks/as-kafka"))" "$out"; fi
