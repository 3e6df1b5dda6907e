#!/bin/bash
# First use without the CA key on the client: the volume is empty, the
# client holds the CA service's root and a one-time token for its identity
# (minted by the orchestrator with `step ca token`), nothing else. The
# plugin makes the key, sends a CSR to step-ca over HTTPS, and writes the
# seed's layout; an unmodified kcat (producer) and the PyPI confluent-kafka
# client (group consumer) are served by the genuine broker as the seed's
# principals, under its ACLs. No file on the client holds a CA key. Then
# 32 clients start at once on one empty volume: one enrolment.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../step_ca.sh"
CLIENTS=$KMTLS_SOURCE_ROOT/tests/clients
start_step_ca
ks=$WORK/keystore id=enrol-$RANDOM topic=seed-enrol-$RANDOM
mkdir -m 700 "$ks" "$WORK/tokens"
new_topic "$topic"

# props ALIAS: a client's whole configuration, the plugin first
props() {
  cat <<EOF
plugin.library.paths=$KMTLS_PLUGIN
bootstrap.servers=$WORLD_BOOTSTRAP
mtls.volume=$ks/$1
$(enrol_props "$WORK/tokens/$1.token")
mtls.key.type=ec:P-256
EOF
}
step_token "$WORK/tokens/kafka-producer.token" "Callisto kafka-producer"
step_token "$WORK/tokens/kafka-consumer.token" "Callisto kafka-consumer"
props kafka-producer >"$WORK/producer.properties"
props kafka-consumer >"$WORK/consumer.properties"

# ---- kcat (Debian's, unmodified) produces as kafka-producer
out=$(msgs "$id" 5 | kc -F "$WORK/producer.properties" -X "client.id=$id-p" -P -t "$topic" 2>&1); rc=$?
vol=$ks/kafka-producer
if (( rc == 0 )) && [[ -s $vol/kafka-producer_creds ]] && (( $(step_log_count 'path=/1.0/sign .*status=201') == 1 )); then
  ok "kcat -P on an empty volume: enrolled with step-ca (one sign, 201) and produced 5 messages"
else fail "first-use enrolment (rc=$rc; sign lines: $(step_log_count 'path=/1.0/sign'))" "$out
$(tail -n 5 "$STEP_LOG")"; fi
if [[ $(subject_of "$vol") == "C=GB,O=UK Home Office,CN=Callisto kafka-producer" ]]; then
  ok "the subject is the seed's, from the token (CN) and step-ca's template (O, C)"
else fail "subject: $(subject_of "$vol")"; fi
if served "$id-p" "$(seed_principal kafka-producer)"; then
  ok "the broker authenticated the producer as $(seed_principal kafka-producer)"
else fail "producer principal (saw: $(principals_of "$id-p"))"; fi
# the truststore is the configured root, nothing from the service's answer
ts=$(openssl storeutl "${PROV[@]}" -certs "keystore:$vol?part=truststore" 2>/dev/null |
     openssl x509 -noout -fingerprint -sha256 2>/dev/null)
if [[ -n $ts && $ts == "$(openssl x509 -in "$STEP_ROOT" -noout -fingerprint -sha256)" ]] &&
   (( $(openssl storeutl "${PROV[@]}" -certs "keystore:$vol?part=truststore" 2>/dev/null | grep -c '^[0-9]*: Certificate') == 1 )); then
  ok "the truststore holds exactly the configured root (mtls.enrol.ca.location)"
else fail "truststore: $ts"; fi
if [[ $(stat -c %a "$vol") == 700 && $(stat -c %a "$vol/kafka-producer.keystore.jks") == 600 &&
      $(stat -c %a "$vol/kafka-producer_creds") == 600 ]]; then
  ok "kafka-producer/ was made 0700, its files 0600, as local issuance makes them"
else fail "modes: $(stat -c '%a %n' "$vol" "$vol"/*)"; fi
if ! grep -qF -- "$(cut -d. -f2 "$WORK/tokens/kafka-producer.token")" <<<"$out"; then
  ok "the token is in none of the client's output"
else fail "the client's output holds the token"; fi
if why=$(no_ca_key_on_client "$vol" "$WORK/producer.properties" "$WORK/tokens/kafka-producer.token"); then
  ok "no CA key on the client: its configuration and token name none, the volume holds only its own key"
else fail "a key on the client: $why"; fi

# ---- confluent-kafka-python (PyPI wheel) consumes in a group as kafka-consumer
if py=$("$CLIENTS/python-venv.sh" build 2>"$WORK/venv.log"); then
  step_mark
  timeout -k 5 90 "$py" "$CLIENTS/python/kafka_mtls_py_client.py" -X "client.id=$id-c" -consume 5 \
    -topic "$topic" -group "$topic" "$WORK/consumer.properties" >"$WORK/consumed" 2>&1; rc=$?
  out=$(cat "$WORK/consumed")
  if (( rc == 0 )) && got_all "$WORK/consumed" "$id" 5 && served "$id-c" "$(seed_principal kafka-consumer)" &&
     (( $(step_log_count 'path=/1.0/sign .*status=201') == 1 )); then
    ok "confluent-kafka-python enrolled kafka-consumer/ and consumed all 5 in a group, as $(seed_principal kafka-consumer)"
  else fail "python group consume (rc=$rc; principals: $(principals_of "$id-c"))" "$out"; fi
  if why=$(no_ca_key_on_client "$ks/kafka-consumer" "$WORK/consumer.properties"); then
    ok "no CA key on the consumer either"
  else fail "a key on the consumer: $why"; fi
else fail "the confluent-kafka venv" "$(tail -n 20 "$WORK/venv.log")"; fi

# ---- a second client on the enrolled volume uses it as it is: no request
step_mark
out=$(echo again | kc -F "$WORK/producer.properties" -X "client.id=$id-p2" -P -t "$topic" 2>&1); rc=$?
if (( rc == 0 )) && (( $(step_log_count 'path=/1.0/') == 0 )); then
  ok "a second client on the enrolled volume asks the service nothing"
else fail "second client (rc=$rc; requests: $(step_log_count 'path=/1.0/'))" "$out"; fi

# ---- 32 clients at once on one empty volume: one enrolment, all served
burst=$ks/burst/kafka-producer
mkdir -m 700 "$ks/burst"
step_token "$WORK/tokens/burst.token" "Callisto kafka-producer"
step_mark
pids=()
for i in $(seq 32); do
  kc "${PLUG[@]}" -X "mtls.volume=$burst" "${ENROL[@]}" -X "mtls.enrol.token.file=$WORK/tokens/burst.token" \
    -X mtls.key.type=ec:P-256 -X "client.id=$id-b$i" -b "$WORLD_BOOTSTRAP" -L -t "$topic" \
    >"$WORK/burst.$i" 2>&1 &
  pids+=($!)
done
failed=0
for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
signs=$(step_log_count 'path=/1.0/sign') created=$(step_log_count 'path=/1.0/sign .*status=201')
if (( failed == 0 && signs == 1 && created == 1 )) && served "$id-b32" "$(seed_principal kafka-producer)"; then
  ok "32 clients at once on one empty volume: 32 served, 1 enrolment (1 sign request in step-ca's log)"
else fail "32 at once: $failed failed, $signs sign requests ($created created)" "$(cat "$WORK"/burst.* | sort | uniq -c | sort -rn | head)"; fi
