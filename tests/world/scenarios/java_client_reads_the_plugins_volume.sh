#!/bin/bash
# The Java side of the seed: a real KafkaProducer and KafkaConsumer
# (kafka-clients from Maven Central, the broker's own version) with the
# seed's kafka-producer.properties / kafka-consumer.properties read the
# volumes the plugin issued (the store password fixed by
# mtls.keystore.password.file, as the seed's properties carry it), and talk
# to the same broker as the same principals as the librdkafka clients.
. "$(dirname "$0")/../lib.sh"
ks=$WORK/keystore topic=seed-java-$RANDOM
mkdir -m 700 "$ks"
new_topic "$topic"
printf 'confluent\n' >"$WORK/store.pass"
for alias in kafka-producer kafka-consumer; do
  out=$(kc "${PLUG[@]}" -X "mtls.volume=$ks/$alias" "${CA[@]}" -X "mtls.subject=$SEED_SUBJECT_TEMPLATE" \
        -X "mtls.keystore.password.file=$WORK/store.pass" -b "$WORLD_BOOTSTRAP" -L -m 30 2>&1) ||
    { fail "the plugin's first use of $alias/" "$out"; exit 1; }
done
ok "the plugin issued kafka-producer/ and kafka-consumer/ (store password 'confluent', as the seed's properties)"

seed_properties() {  # the seed's Java client properties for ALIAS
  cat <<EOF2
bootstrap.servers=$WORLD_BOOTSTRAP
security.protocol=SSL
ssl.truststore.location=$ks/$1/$1.truststore.jks
ssl.truststore.password=confluent
ssl.keystore.location=$ks/$1/$1.keystore.jks
ssl.keystore.password=confluent
ssl.key.password=confluent
ssl.endpoint.identification.algorithm=
client.id=java-$1-$topic
EOF2
}
seed_properties kafka-producer >"$WORK/kafka-producer.properties"
{ seed_properties kafka-consumer; echo "group.id=$topic"; } >"$WORK/kafka-consumer.properties"
mkdir -p "$WORK/classes"
if ! out=$(javac -d "$WORK/classes" -cp "$WORLD_KAFKA_HOME/libs/*" \
             "$KMTLS_SOURCE_ROOT/tests/clients/java/SeedClient.java" 2>&1); then
  fail "javac SeedClient.java against kafka-clients $WORLD_VERSION" "$out"; exit 1
fi
java_client() {
  timeout -k 5 120 java -Xmx128m -XX:TieredStopAtLevel=1 -cp "$WORK/classes:$WORLD_KAFKA_HOME/libs/*" \
    -Dorg.slf4j.simpleLogger.defaultLogLevel=warn SeedClient "$@" 2>"$WORK/java.err"
}
out=$(java_client "$WORK/kafka-producer.properties" produce "$topic" 5 java); rc=$?
if (( rc == 0 )) && [[ $out == "sent 5" ]] && served "java-kafka-producer-$topic" "$(seed_principal kafka-producer)"; then
  ok "Java KafkaProducer (kafka-clients $WORLD_VERSION) with the seed's properties: sent 5 as $(seed_principal kafka-producer)"
  java_ok=1
else java_ok=0; fail "Java producer (rc=$rc)" "$out
$(tail -n 20 "$WORK/java.err")"; fi
out=$(java_client "$WORK/kafka-consumer.properties" consume "$topic" 5); rc=$?
if (( rc == 0 )) && [[ $(grep -c '^java-[0-4]$' <<<"$out") == 5 ]] &&
   served "java-kafka-consumer-$topic" "$(seed_principal kafka-consumer)"; then
  ok "Java KafkaConsumer in group $topic: consumed all 5 as $(seed_principal kafka-consumer)"
else java_ok=0; fail "Java consumer (rc=$rc)" "$out
$(tail -n 20 "$WORK/java.err")"; fi
# the table's row once both have passed
JAVA_ROW="Java KafkaProducer/KafkaConsumer (kafka-clients of the broker's version; no plugin: reads the plugin's volume)"
if (( java_ok )); then
  compat "$JAVA_ROW" "-" works "produce 5 + group consume 5 with the seed's properties; broker principals asserted"
else compat "$JAVA_ROW" "-" FAILS "see the test log"; fi
# and the plugin's client reads what Java consumed, from the same volume
out=$(kc "${PLUG[@]}" -X "mtls.volume=$ks/kafka-consumer" -X "client.id=$topic-kcat" -b "$WORLD_BOOTSTRAP" \
      -X auto.offset.reset=earliest -G "$topic-kcat" -e -q "$topic" 2>&1); rc=$?
if (( rc == 0 )) && [[ $(grep -c '^java-[0-4]$' <<<"$out") == 5 ]]; then
  ok "kcat with the plugin, same volume: consumed the 5 messages the Java producer sent"
else fail "kcat on the Java topic (rc=$rc)" "$out"; fi
