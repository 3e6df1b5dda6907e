#!/bin/bash
# First use exactly as the seed's sidecar does it, with the plugin in its
# place: the shared keystore directory exists, the client's ALIAS/ does not.
# With a CA the plugin creates ALIAS/ (0700), issues the seed's subject, and
# the broker derives the seed's principal: the ACLs written for it admit the
# producer and the group consumer, and deny the producer another topic.
. "$(dirname "$0")/../lib.sh"

id=first-use-$RANDOM topic=seed-first-use-$RANDOM
new_topic "$topic" 3
for alias in kafka-producer kafka-consumer; do
  [[ ! -e $WORLD_KEYSTORE/$alias ]] || { fail "$WORLD_KEYSTORE/$alias exists before first use"; exit 1; }
done
out=$(msgs "$id" 5 | kc "${PLUG[@]}" -X "mtls.volume=$WORLD_KEYSTORE/kafka-producer" "${CA[@]}" \
      -X "mtls.subject=$SEED_SUBJECT_TEMPLATE" -X "client.id=$id-p" -b "$WORLD_BOOTSTRAP" \
      -P -t "$topic" 2>&1); rc=$?
vol=$WORLD_KEYSTORE/kafka-producer
if (( rc == 0 )) && [[ -s $vol/kafka-producer_creds ]]; then
  ok "kcat -P on an absent kafka-producer/: the plugin issued into it and produced 5 messages"
else fail "first-use produce (rc=$rc)" "$out"; fi
if [[ $(stat -c %a "$vol") == 700 && $(stat -c %a "$vol/kafka-producer.keystore.jks") == 600 &&
      $(stat -c %a "$vol/kafka-producer_creds") == 600 ]]; then
  ok "kafka-producer/ was made 0700, its files 0600"
else fail "modes: $(stat -c '%a %n' "$vol" "$vol"/*)"; fi
if [[ $(subject_of "$vol") == "C=GB,O=UK Home Office,CN=Callisto kafka-producer" ]]; then
  ok "the certificate's subject is the seed's: C=GB,O=UK Home Office,CN=Callisto kafka-producer"
else fail "subject: $(subject_of "$vol")"; fi
if served "$id-p" "$(seed_principal kafka-producer)"; then
  ok "the broker authenticated the producer as $(seed_principal kafka-producer)"
else fail "producer principal (saw: $(principals_of "$id-p"))"; fi

out=$(kc "${PLUG[@]}" -X "mtls.volume=$WORLD_KEYSTORE/kafka-consumer" "${CA[@]}" \
      -X "mtls.subject=$SEED_SUBJECT_TEMPLATE" -X "client.id=$id-c" -b "$WORLD_BOOTSTRAP" \
      -X auto.offset.reset=earliest -G "$topic" -e -q "$topic" 2>&1 >"$WORK/consumed"); rc=$?
if got_all "$WORK/consumed" "$id" 5 && served "$id-c" "$(seed_principal kafka-consumer)"; then
  ok "kcat -G (kafka-consumer/, issued on first use) consumed all 5, as $(seed_principal kafka-consumer)"
else fail "group consume (rc=$rc; principals: $(principals_of "$id-c"))" "$out
$(cat "$WORK/consumed")"; fi

out=$(echo nope | kc "${PLUG[@]}" -X "mtls.volume=$vol" -X "client.id=$id-deny" -b "$WORLD_BOOTSTRAP" \
      -P -t other-topic 2>&1); rc=$?
if (( rc != 0 )) && grep -qiE 'authoriz' <<<"$out" && denied "$(seed_principal kafka-producer)" "DESCRIBE|WRITE" other-topic; then
  ok "the same producer on other-topic: denied by the broker's ACLs (authorizer log names the principal)"
else fail "other-topic must be denied (rc=$rc)" "$out
$(grep -i denied "$WORLD_PEER/authorizer.log" | tail -n 3)"; fi

# another client's topic: granted to kafka-consumer alone (Write, Read,
# Describe), which writes to it; kafka-producer's Write there is denied
theirs=callisto-consumer-only-$RANDOM
new_topic "$theirs"
out=$(env -u LD_PRELOAD "$WORLD_PEER_SCRIPT" acl "$WORLD_PEER" --add --allow-principal "$(seed_principal kafka-consumer)" \
      --operation Write --operation Read --operation Describe --topic "$theirs" 2>&1) ||
  { fail "granting $theirs to kafka-consumer" "$out"; exit 1; }
out=$(echo theirs | kc "${PLUG[@]}" -X "mtls.volume=$WORLD_KEYSTORE/kafka-consumer" -X "client.id=$id-theirs" \
      -b "$WORLD_BOOTSTRAP" -P -t "$theirs" 2>&1); rc=$?
if (( rc == 0 )) && served "$id-theirs" "$(seed_principal kafka-consumer)"; then
  ok "$theirs, granted to $(seed_principal kafka-consumer) alone: that client writes to it"
else fail "kafka-consumer writing to its own topic $theirs (rc=$rc)" "$out"; fi
out=$(echo nope | kc "${PLUG[@]}" -X "mtls.volume=$vol" -X "client.id=$id-deny2" -b "$WORLD_BOOTSTRAP" \
      -P -t "$theirs" 2>&1); rc=$?
if (( rc != 0 )) && grep -qiE 'Topic authorization failed|TOPIC_AUTHORIZATION_FAILED' <<<"$out" &&
   denied "$(seed_principal kafka-producer)" "DESCRIBE|WRITE" "$theirs"; then
  ok "kafka-producer on $theirs: $(grep -oiE '[^:]*Topic authorization failed[^:]*' <<<"$out" | head -n 1 | sed 's/^ *//') (the authorizer log names the principal)"
else fail "kafka-producer's Write on kafka-consumer's topic must be denied (rc=$rc)" "$out
$(grep -i denied "$WORLD_PEER/authorizer.log" | tail -n 3)"; fi
