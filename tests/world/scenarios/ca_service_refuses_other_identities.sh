#!/bin/bash
# Least privilege, enforced by the service: a client whose token is for
# kafka-producer asks for kafka-consumer, and for the broker's own
# principal (the super user); step-ca refuses both, the plugin fails client
# creation closed with step-ca's reason, and nothing is written. The
# refusal spent the token (step-ca spends it before it reads the CSR): the
# same token again is refused as used. Nothing a producer holds can become
# another identity.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../step_ca.sh"
start_step_ca
ks=$WORK/keystore id=refuse-$RANDOM
mkdir -m 700 "$ks" "$WORK/tokens"

# ask ALIAS SUBJECT: client creation with a fresh producer token, asking for SUBJECT
ask() {
  step_token "$WORK/tokens/$1.token" "Callisto kafka-producer"
  step_mark
  out=$(kc "${PLUG[@]}" -X "mtls.volume=$ks/$1" "${ENROL[@]}" -X "mtls.enrol.token.file=$WORK/tokens/$1.token" \
        -X "mtls.subject=$2" -X mtls.key.type=ec:P-256 -X "client.id=$id" -b "$WORLD_BOOTSTRAP" -L 2>&1); rc=$?
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
