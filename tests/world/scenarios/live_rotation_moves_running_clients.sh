#!/bin/bash
# mtls.rotation=live: a running, unmodified librdkafka client presents the
# renewed certificate on its next connection, and its existing connections
# move to it, without a restart. One process (tests/world/live_client.c)
# runs an idempotent producer as kafka-producer and a group consumer as
# kafka-consumer, each configured by a properties file whose first line
# loads the plugin, while their volumes are rewritten under them, by every
# source the plugin reads:
#   round "seed": the producer's own renewer with a CA, certificates of one
#     minute (mtls.validity=1m), renewed every ~40 s for more than three
#     lifetimes; the consumer's volume rewritten twice by the seed's sidecar
#     (rm -rf, mkdir, keytool, ALIAS_creds last: not ready for seconds);
#   round "kubernetes": the producer's volume a Kubernetes secret whose
#     ..data is swapped twice; the consumer's cert-manager tls.crt/tls.key
#     rewritten in place twice, certificate first (half-written for a moment);
#     both clients bootstrapped on the broker's IPv6 listener, [::1]
#     (WORLD_BOOTSTRAP6, where the host has IPv6 loopback): every connection
#     of the round, moves included, is IPv6, and the broker's request log
#     says each request came on listener SSL6.
# After each rotation the broker must have received the new certificate's
# serial (the JDK's handshake log, lib.sh: broker_saw) and the client must
# have moved its connections to it. At the end every message is delivered
# and consumed exactly once, the group saw no rebalance, neither client saw
# an error or a failed request, the admin API answers, and the broker's
# request log names only the seed's principals for both clients (the ACLs
# kept admitting them). Each broker version runs one round on librdkafka
# 2.0.2 and the other on 2.12.0.
. "$(dirname "$0")/../lib.sh"
: "${KMTLS_LIVE_CLIENT:?run through meson test}"
CLIENTS=$KMTLS_SOURCE_ROOT/tests/clients
if ! rdk=$("$CLIENTS/librdkafka-src.sh" build 2>"$WORK/rdk-build.log"); then
  fail "building librdkafka 2.12.0" "$(tail -n 20 "$WORK/rdk-build.log")"; exit 1
fi
if [[ $WORLD_VERSION == 3.* ]]; then SEED_LIB='' K8S_LIB=$rdk/lib; else SEED_LIB=$rdk/lib K8S_LIB=''; fi
lib_name() { [[ -n $1 ]] && echo "librdkafka 2.12.0" || echo "librdkafka 2.0.2"; }

# props FILE VOLUME CLIENT_ID [KEY=VALUE...]: a client's properties, the plugin
# first, bootstrapped on BOOT (default WORLD_BOOTSTRAP)
props() {
  local f=$1 vol=$2 id=$3; shift 3
  { echo "plugin.library.paths=$KMTLS_PLUGIN"
    echo "bootstrap.servers=${BOOT:-$WORLD_BOOTSTRAP}"
    echo "mtls.volume=$vol"
    echo "mtls.rotation=live"
    echo "client.id=$id"
    printf '%s\n' "$@"; } >"$f"
}

# in_place VOLUME ALIAS N: cert-manager rewriting tls.crt, then tls.key once
# the client has refused the half-written volume (the Nth time it says so)
in_place() {
  local vol=$1 new=$WORK/new-$2-$RANDOM i
  pem_identity "$new" "$2"
  cp "$new/tls.crt" "$vol/tls.crt.tmp" && mv "$vol/tls.crt.tmp" "$vol/tls.crt"
  for (( i = 0; i < 200; i++ )); do
    (( $(grep -ac '^consumer|.*new material not used: .*does not match' "$OUT") >= $3 )) && break
    sleep 0.1
  done
  if (( i < 200 )); then ok "$ROUND: the half-written volume (new tls.crt, old tls.key) was refused, the old certificate kept"
  else fail "$ROUND: no refusal of the half-written volume" "$(grep -a '^consumer|.*MTLS' "$OUT" | tail -n 5)"; fi
  cp "$new/tls.key" "$vol/tls.key.tmp" && mv "$vol/tls.key.tmp" "$vol/tls.key"
}

OUT='' CTL=''
generations() { grep -ac "^$1|.*MTLS| kafka-mtls: .* is generation [0-9]*:" "$OUT"; }
# rotated WHO GEN: WHO's volume gave generation GEN, the broker received its
# serial, and WHO's connections of older generations moved to it. When the
# transport took GEN with no connection of an older one open (librdkafka
# between two connections: a CI run saw it once, at the kubernetes round's
# first rotation, moments after the client started), nothing is left to
# move and the next connection presents GEN; conclude still requires each
# client to have moved connections in place in each round.
rotated() {
  local who=$1 gen=$2 how
  client_generation "$who" "$gen" 90 || return 1
  if (( OLD > 0 )); then
    client_line "$who moved to generation $gen" "^$who\\|.*moved from generation [0-9]+ to $gen " 30 || return 1
    how="moved to generation $gen"
  else how="on generation $gen by its next connection (none was open to move)"; fi
  if broker_saw "$SERIAL"; then ok "$ROUND: $who $how, serial $SERIAL, seen by the broker"
  else fail "$ROUND: the broker never received $who's serial $SERIAL (generation $gen)"; return 1; fi
}

# launch ROUND NAME LIB: the client on WORK/NAME-{p,c}.properties (client ids
# TOPIC-p and TOPIC-c, topic and group TOPIC), in the background, on LIB
# (empty: the system's librdkafka)
launch() {
  ROUND=$1 OUT=$WORK/$2.out CTL=$WORK/$2.ctl TOPIC=seed-live-$2-$RANDOM
  sed -i "s/^client.id=PLACEHOLDER-/client.id=$TOPIC-/" "$WORK/$2-p.properties" "$WORK/$2-c.properties"
  mkdir -p "$CTL"
  new_topic "$TOPIC" 3
  env LD_LIBRARY_PATH="$3" "$KMTLS_LIVE_CLIENT" "$WORK/$2-p.properties" "$WORK/$2-c.properties" "$TOPIC" "$TOPIC" \
    "$CTL" 50 >"$OUT" 2>&1 &
  PID=$! T0=$SECONDS
  CLEANUP+=("kill $PID")
  client_line "$ROUND: the client started" '^STARTED ' 60 || exit 1
  client_line "$ROUND: the group assigned" '^consumer\|.*REBALANCE\| assigned' 60 || exit 1
  # both clients connected and carrying messages (consumed implies produced)
  client_count_reaches consumed 1 60 ||
    { fail "$ROUND: nothing consumed 60 s after the start" "$(cat "$CTL/status" 2>&1)"; exit 1; }
}
# conclude: stop producing, every message accounted for, principals as the seed's
conclude() {
  local rc i
  touch "$CTL/stop"
  for (( i = 0; i < 1800; i++ )); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
  wait "$PID"; rc=$?
  result=$(grep -a '^RESULT ' "$OUT")
  if (( rc == 0 )); then ok "$ROUND on $(sed -n 's/^STARTED \(librdkafka [0-9.]*\).*/\1/p' "$OUT"): ${result#RESULT }"
  else fail "$ROUND: rc=$rc ${result:-no result}" "$(grep -a 'ERROR\|FAIL\|failed\|REBALANCE\|Disconnected' "$OUT" | tail -n 15)"; fi
  if [[ $(principals_of "$TOPIC-p") == "\"principal\":\"$(seed_principal kafka-producer)\"" &&
        $(principals_of "$TOPIC-c") == "\"principal\":\"$(seed_principal kafka-consumer)\"" ]]; then
    ok "$ROUND: every request of both clients was served as the seed's principals"
  else fail "$ROUND: principals $(principals_of "$TOPIC-p") / $(principals_of "$TOPIC-c")"; fi
  if grep -aE "is Denied operation = .* on resource = (Topic|Group):LITERAL:$TOPIC " "$WORLD_PEER/authorizer.log" >/dev/null; then
    fail "$ROUND: the broker denied something to the clients" "$(grep -a "$TOPIC" "$WORLD_PEER/authorizer.log" | grep Denied | head -5)"
  fi
  for who in producer consumer; do
    grep -aqE "^$who\\|.*moved from generation [0-9]+ to " "$OUT" ||
      fail "$ROUND: no connection of the $who was moved in place this round" "$(grep -a "^$who|.*MTLS" "$OUT" | tail -n 8)"
  done
  if grep -aE 'drain_timeout_ms|did not work|Disconnected|ALL_BROKERS_DOWN' "$OUT" >/dev/null; then
    fail "$ROUND: a connection did not move cleanly" "$(grep -aE 'drain_timeout_ms|did not work|Disconnected|ALL_BROKERS_DOWN' "$OUT" | head -5)"
  fi
}

# ---- round "seed": the renewer (1-minute certificates) and the sidecar
ks=$WORK/keystore; mkdir -m 700 "$ks"
"$WORLD_HERE/sidecar.sh" "$ks" kafka-consumer "$FX/ca" || { fail "the sidecar"; exit 1; }
props "$WORK/seed-p.properties" "$ks/kafka-producer" "PLACEHOLDER-p" "mtls.ca.location=$FX/ca/ca.crt" \
  "mtls.ca.key.location=$FX/ca/ca.key" "mtls.ca.key.password.file=$FX/ca/ca.pass" \
  "mtls.subject=$SEED_SUBJECT_TEMPLATE" "mtls.key.type=ec:P-256" "mtls.validity=1m"
props "$WORK/seed-c.properties" "$ks/kafka-consumer" "PLACEHOLDER-c"
launch seed seed "$SEED_LIB"
first_not_after=$(openssl x509 "${PROV[@]}" -in "keystore:$ks/kafka-producer" -noout -enddate 2>/dev/null | sed 's/^notAfter=//')
ok "seed on $(lib_name "$SEED_LIB"): producer issued a 1-minute certificate (until $first_not_after), consumer on the sidecar's"
rotated producer 2
"$WORLD_HERE/sidecar.sh" "$ks" kafka-consumer "$FX/ca" || fail "the sidecar (second run)"
rotated consumer 2
rotated producer 3
"$WORLD_HERE/sidecar.sh" "$ks" kafka-consumer "$FX/ca" || fail "the sidecar (third run)"
rotated consumer 3
rotated producer 4
rotated producer 5
# three lifetimes of the first certificate, and it expired while the process ran on
while (( SECONDS - T0 < 185 )); do sleep 1; done
if (( $(date +%s) > $(date -d "$first_not_after" +%s) )) && kill -0 "$PID" 2>/dev/null; then
  ok "seed: the producer outlived its first certificate by $(( $(date +%s) - $(date -d "$first_not_after" +%s) )) s, renewing itself ($(generations producer) renewals), no restart"
else fail "seed: the first certificate has not expired, or the client is gone"; fi
if grep -aq '^consumer|6|MTLS| kafka-mtls: .*new material not used: .*not ready' "$OUT"; then
  ok "seed: while the sidecar rewrote the volume, the consumer said it was not ready and kept its certificate"
else fail "seed: no 'not ready' line while the sidecar wrote" "$(grep -a '^consumer|.*MTLS' "$OUT" | head)"; fi
conclude

# ---- round "kubernetes": a secret volume's ..data swapped; cert-manager in place
ks=$WORK/keystore-k8s; mkdir -m 700 "$ks" "$ks/kafka-producer"
kube_swap "$ks/kafka-producer" kafka-producer
pem_identity "$ks/kafka-consumer" kafka-consumer
BOOT=${WORLD_BOOTSTRAP6:-$WORLD_BOOTSTRAP}
props "$WORK/k8s-p.properties" "$ks/kafka-producer" "PLACEHOLDER-p"
props "$WORK/k8s-c.properties" "$ks/kafka-consumer" "PLACEHOLDER-c"
BOOT=''
launch kubernetes k8s "$K8S_LIB"
ok "kubernetes on $(lib_name "$K8S_LIB"): producer on a secret volume (..data), consumer on cert-manager files, bootstrap ${WORLD_BOOTSTRAP6:-$WORLD_BOOTSTRAP}"
kube_swap "$ks/kafka-producer" kafka-producer
rotated producer 2
in_place "$ks/kafka-consumer" kafka-consumer 1
rotated consumer 2
kube_swap "$ks/kafka-producer" kafka-producer
rotated producer 3
in_place "$ks/kafka-consumer" kafka-consumer 2
rotated consumer 3
# and on, on the new certificates: 250 more messages through both clients
client_count_reaches consumed $(( $(client_count consumed) + 250 )) 60 || fail "kubernetes: the clients made no progress after the rotations ($(cat "$CTL/status"))"
conclude
if [[ -n $WORLD_BOOTSTRAP6 ]]; then
  # every request of both clients, before and after each move, on [::1]
  on=$(listeners_of "$TOPIC-p" "$TOPIC-c")
  if [[ $on == '"listener":"SSL6"' ]]; then
    ok "kubernetes: every request of both clients came over IPv6 ($WORLD_BOOTSTRAP6, listener SSL6), moves included"
  else fail "kubernetes: the clients' requests came on listeners ${on:-none}, not SSL6 alone"; fi
  grep -aqE "^(producer|consumer)\|.*kafka-mtls: broker (\[::1\]|::1):" "$OUT" ||
    fail "kubernetes: the plugin never named an IPv6 broker" "$(grep -a 'MTLS' "$OUT" | head -n 5)"
else echo "# kubernetes round over IPv4: this host has no IPv6 loopback"; fi
