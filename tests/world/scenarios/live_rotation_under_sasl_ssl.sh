#!/bin/bash
# mtls.rotation=live under SASL_SSL: librdkafka runs sasl_plaintext over the
# plugin's TLS, SASL/PLAIN authenticates each connection, the broker still
# requires the client certificate. SASL binds to a connection, so a rotation
# moves these connections by closing them at a request boundary and
# librdkafka reconnecting with the new certificate (never in place, which
# would carry unauthenticated requests): one disconnect per connection and
# rotation, nothing lost or duplicated (the idempotent producer), no
# rebalance, and the broker receives each new serial. The world's broker has
# no SASL listener: this scenario starts one of the same version with an
# SASL_SSL listener beside the SSL one, user alice, and ACLs for User:alice.
# Kafka 3.3.2 runs the client on librdkafka 2.12.0, 4.4.0 on 2.0.2.
. "$(dirname "$0")/../lib.sh"
: "${KMTLS_LIVE_CLIENT:?run through meson test}"
LIB=''
if [[ $WORLD_VERSION == 3.* ]]; then
  LIB=$("$KMTLS_SOURCE_ROOT/tests/clients/librdkafka-src.sh" build 2>"$WORK/rdk-build.log")/lib ||
    { fail "building librdkafka 2.12.0" "$(tail -n 20 "$WORK/rdk-build.log")"; exit 1; }
fi
PEERS=$KMTLS_PEER_DIR/kafka-peer.sh
kp() { env -u LD_PRELOAD "$PEERS" "$@"; }

# ---- the broker: SSL (the admin's) and SASL_SSL (the clients'), both requiring certificates
mkdir -p "$WORK/broker"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$WORK/broker/broker.key" 2>/dev/null
openssl req -new -key "$WORK/broker/broker.key" -subj "/CN=Callisto kafka/O=UK Home Office/C=GB" -out "$WORK/broker/csr"
printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n' \
  >"$WORK/broker/ext"
openssl x509 -req -in "$WORK/broker/csr" -CA "$FX/ca/ca.crt" -CAkey "$FX/ca/ca.key" -passin "file:$FX/ca/ca.pass" \
  -days 2 -set_serial "0x$(openssl rand -hex 16)" -sha256 -extfile "$WORK/broker/ext" -out "$WORK/broker/broker.crt" \
  2>/dev/null || { fail "the SASL broker's certificate"; exit 1; }
CLEANUP+=("env -u LD_PRELOAD '$PEERS' stop '$WORK/sasl'")
for attempt in 1 2 3; do
  mapfile -t P < <(kp pick-ports 3)
  PEER_PROPS="listeners=SSL://127.0.0.1:${P[0]},SASL_SSL://127.0.0.1:${P[2]},CONTROLLER://127.0.0.1:${P[1]}
advertised.listeners=SSL://127.0.0.1:${P[0]},SASL_SSL://127.0.0.1:${P[2]}
listener.security.protocol.map=SSL:SSL,SASL_SSL:SASL_SSL,CONTROLLER:SSL
sasl.enabled.mechanisms=PLAIN
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_alice=\"alice-secret\";
listener.name.sasl_ssl.ssl.client.auth=required"
  PEER_DIR=$WORK/sasl KAFKA_VERSION=$WORLD_VERSION PEER_SERVER_PROPERTIES=$PEER_PROPS \
    PEER_JAVA_OPTS=-Djavax.net.debug=ssl:handshake \
    kp start "$FX/ca/ca.crt" "$WORK/broker/broker.crt" "$WORK/broker/broker.key" "${P[0]}" "${P[1]}" >"$WORK/sasl.out" 2>&1
  rc=$?
  (( rc == 3 )) || break
done
if (( rc != 0 )); then fail "a Kafka $WORLD_VERSION broker with an SASL_SSL listener (rc=$rc)" "$(tail -n 20 "$WORK/sasl.out")"; exit 1; fi
SASL_BOOT=127.0.0.1:${P[2]} TOPIC=seed-sasl-$RANDOM
out=$(kp topic "$WORK/sasl" "$TOPIC" 3 2>&1 && kp acl "$WORK/sasl" --add --allow-principal User:alice --producer \
      --consumer --topic "$TOPIC" --group "$TOPIC" 2>&1) || { fail "topic and ACLs for User:alice" "$out"; exit 1; }
ok "Kafka $WORLD_VERSION with SASL_SSL://$SASL_BOOT (PLAIN, client certificates required); ACLs for User:alice"

# ---- the clients: a Kubernetes secret volume each, swapped under them
ks=$WORK/keystore; mkdir -m 700 "$ks" "$ks/producer" "$ks/consumer"
kube_swap "$ks/producer" kafka-producer
kube_swap "$ks/consumer" kafka-consumer
for who in producer consumer; do
  cat >"$WORK/$who.properties" <<EOF
plugin.library.paths=$KMTLS_PLUGIN
bootstrap.servers=$SASL_BOOT
security.protocol=SASL_SSL
sasl.mechanisms=PLAIN
sasl.username=alice
sasl.password=alice-secret
mtls.volume=$ks/$who
mtls.rotation=live
client.id=$TOPIC-${who:0:1}
EOF
done
OUT=$WORK/sasl-client.out CTL=$WORK/sasl.ctl; mkdir -p "$CTL"
KMTLS_LIVE_CLIENT_RECONNECTS=1 LD_LIBRARY_PATH=$LIB "$KMTLS_LIVE_CLIENT" "$WORK/producer.properties" "$WORK/consumer.properties" \
  "$TOPIC" "$TOPIC" "$CTL" 50 >"$OUT" 2>&1 &
PID=$!
CLEANUP+=("kill $PID")
client_line "the group assigned" '^consumer\|.*REBALANCE\| assigned' 90 || exit 1
# the producer's connection to the partition leader is up (librdkafka 2.12
# connects to it only when it has something to send, and closes the
# bootstrap connection): a rotation before that would have nothing to move
client_count_reaches delivered 1 60
# moved WHO GEN: WHO's generation GEN, its SASL connections closed at a
# boundary and reconnected, and the broker received the new serial. A
# client whose every connection was already newer (it reconnected as the
# files changed) has nothing to close: the transport says so.
moved() {
  client_generation "$1" "$2" 60 || return 1
  if (( OLD > 0 )); then
    client_line "$1 reconnected on generation $2" \
      "^$1\\|.*closed at a request boundary, every response delivered .*reconnects with generation $2" 60 || return 1
  fi
  if broker_saw "$SERIAL" "$WORK/sasl"; then
    ok "SASL_SSL: $1 on generation $2 (serial $SERIAL) $( (( OLD > 0 )) && echo "by reconnecting" ||
      echo "on connections made after the change, nothing to close"), seen by the broker"
  else fail "SASL_SSL: the broker never received $1's serial $SERIAL"; fi
}
kube_swap "$ks/producer" kafka-producer; moved producer 2
kube_swap "$ks/consumer" kafka-consumer; moved consumer 2
kube_swap "$ks/producer" kafka-producer; moved producer 3
# and on, on the new certificates
client_count_reaches consumed $(( $(client_count consumed) + 250 )) 60
touch "$CTL/stop"
for (( i = 0; i < 1800; i++ )); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
wait "$PID"; rc=$?
result=$(grep -a '^RESULT ' "$OUT")
if (( rc == 0 )); then ok "SASL_SSL on $(sed -n 's/^STARTED \(librdkafka [0-9.]*\).*/\1/p' "$OUT"): ${result#RESULT }"
else fail "SASL_SSL: rc=$rc ${result:-no result}" "$(grep -a 'ERROR\|FAIL\|failed\|REBALANCE' "$OUT" | tail -n 15)"; fi
# a SASL client's connection is never moved in place: a new TLS connection
# under an authenticated one would carry its requests unauthenticated
if ! grep -aq 'moved from generation .* librdkafka saw nothing' "$OUT"; then
  ok "SASL_SSL: no connection was moved in place (every move was a reconnect)"
else fail "SASL_SSL: a SASL connection was moved in place" "$(grep -a 'moved from generation' "$OUT" | head -n 5)"; fi
p=$(grep -F "\"clientId\":\"$TOPIC-p\"" "$WORK/sasl/request.log" | grep -o '"principal":"[^"]*"' | sort -u | paste -sd' ')
c=$(grep -F "\"clientId\":\"$TOPIC-c\"" "$WORK/sasl/request.log" | grep -o '"principal":"[^"]*"' | sort -u | paste -sd' ')
if [[ $p == '"principal":"User:alice"' && $c == '"principal":"User:alice"' ]]; then
  ok "SASL_SSL: every request of both clients was served as User:alice"
else fail "SASL_SSL: principals $p / $c"; fi
