#!/bin/bash
# world.sh VERSION: the seed's world against a genuine Apache Kafka VERSION
# (3.3.2, the seed's; 4.4.0, the newest), then every scenario in
# tests/world/scenarios/ against it, each named by the behaviour it proves.
#
# The broker (tests/peer/kafka-peer.sh, installed from Maven Central into
# the cache on first use): KRaft, SSL://127.0.0.1:PORT with
# ssl.client.auth=required, StandardAuthorizer with
# allow.everyone.if.no.acl.found=false, super.users = the broker's own
# principal User:C=GB,O=UK Home Office,CN=Callisto kafka (its certificate
# is made here, signed by the fixtures' root CA, the only CA it trusts).
# ACLs, as the seed grants them, per client principal: kafka-producer may
# write the topics seed-*, kafka-consumer may read them (groups seed-*);
# other-topic is nobody's.
# Env from meson: KMTLS_PLUGIN, KMTLS_TOOL, KMTLS_PEER_DIR, KMTLS_WORLD_OUT
# (where the compatibility rows go), and lib.sh's.
. "$(dirname "$0")/lib.sh"
trap 'exit 130' INT
trap 'exit 143' TERM
VERSION=${1:?usage: world.sh KAFKA_VERSION}
T0=$(date +%s%N)
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

PEER=$KMTLS_PEER_DIR/kafka-peer.sh
out=$(timeout -k 10 900 env -u LD_PRELOAD "$PEER" fetch "$VERSION" 2>&1); rc=$?
if (( rc != 0 )); then fail "installing Apache Kafka $VERSION from Maven Central (rc=$rc)" "$out"; exit 1; fi
KAFKA_HOME=$(tail -n 1 <<<"$out")

# ---- the broker's certificate: the seed's subject, IP SANs for 127.0.0.1 and ::1
mkdir -p "$WORK/broker"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$WORK/broker/broker.key" 2>/dev/null
openssl req -new -key "$WORK/broker/broker.key" -subj "/CN=Callisto kafka/O=UK Home Office/C=GB" \
  -out "$WORK/broker/broker.csr"
printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\n' \
  >"$WORK/broker/ext"
openssl x509 -req -in "$WORK/broker/broker.csr" -CA "$FX/ca/ca.crt" -CAkey "$FX/ca/ca.key" \
  -passin "file:$FX/ca/ca.pass" -days 30 -set_serial "0x$(openssl rand -hex 16)" -sha256 \
  -extfile "$WORK/broker/ext" -out "$WORK/broker/broker.crt" 2>/dev/null ||
  { fail "making the broker's certificate"; exit 1; }

# ---- the CA service's PKI (step-ca, tests/peer/step-ca-peer.sh): an
# intermediate of its own under the fixtures' root, made now, as a CA
# service is set up under an organisation's root. The broker's certificate
# and the service's clients chain to that one root, so a client whose
# truststore is the service's root (mtls.enrol.ca.location) verifies the
# broker, and the broker admits it with the trust it has. Each enrolling
# scenario starts its own step-ca on it (tests/world/step_ca.sh); without
# step-ca (it cannot be built: fetch exits 77) those are skipped, the rest
# run as before; KMTLS_REQUIRE_PEERS=1 makes that a failure.
STEP_PEER=$KMTLS_PEER_DIR/step-ca-peer.sh
export WORLD_STEP_PKI='' WORLD_STEP_PEER=$STEP_PEER
out=$(timeout -k 10 1800 env -u LD_PRELOAD "$STEP_PEER" fetch 2>&1); rc=$?
if (( rc != 0 && rc != 77 )); then   # 77: cannot be built here (never with KMTLS_REQUIRE_PEERS=1)
  fail "step-ca-peer.sh fetch (rc=$rc)" "$out"
elif (( rc == 0 )); then
  P=$WORK/step-pki
  ( umask 077; mkdir "$P" && cp "$FX/ca/ca.crt" "$P/root.crt" &&
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$P/int.key" \
      -subj "/O=kafka-mtls test/CN=kafka-mtls world step-ca intermediate" -out "$P/int.csr" 2>/dev/null &&
    printf '%s\n' 'basicConstraints=critical,CA:TRUE,pathlen:0' 'keyUsage=critical,keyCertSign,cRLSign' \
      'subjectKeyIdentifier=hash' 'authorityKeyIdentifier=keyid:always' >"$P/int.ext" &&
    openssl x509 -req -in "$P/int.csr" -CA "$FX/ca/ca.crt" -CAkey "$FX/ca/ca.key" -passin "file:$FX/ca/ca.pass" \
      -days 30 -set_serial "0x$(openssl rand -hex 16)" -sha256 -extfile "$P/int.ext" -out "$P/int.crt" 2>/dev/null ) &&
    WORLD_STEP_PKI=$P || echo "# no CA service: cannot make its intermediate"
else echo "# no CA service: step-ca-peer.sh fetch: $(tail -n 1 <<<"$out")"; fi

# ---- start it (stopped on exit, even by SIGKILL: lib.sh's watchdog). The
# JDK logs every client certificate the broker receives, serial included,
# into kafka.log (lib.sh: serials_seen): what a scenario needs to see which
# certificate a running client presented after a rotation.
export KAFKA_VERSION=$VERSION
# a second client listener on [::1] (kafka-peer.sh: PEER_IPV6), where the
# host has IPv6 loopback: the live-rotation scenario runs a round over it
# (for this broker only: scenarios that start brokers of their own set
# listeners of their own)
if ip -6 addr show dev lo 2>/dev/null | grep -q 'inet6 ::1/'; then v6=1; else v6=0; fi
PEER_IPV6=$v6 PEER_JAVA_OPTS=-Djavax.net.debug=ssl:handshake \
PEER_CERT=$WORK/broker/broker.crt PEER_KEY=$WORK/broker/broker.key start_peer_in kafka 1 "Apache Kafka $VERSION"
super=$(sed -n 's/^SUPER_USER //p' "$WORK/kafka.out")
started=$(sed -n 's/^STARTED_MS //p' "$WORK/kafka.out")
if [[ $super == "$(seed_principal kafka)" ]]; then
  ok "Apache Kafka $VERSION (KRaft) at $B in ${started} ms; super user $super"
else fail "the broker's principal is '$super', not the seed's" "$(cat "$WORK/kafka.out")"; exit 1; fi

# ---- topics and the seed's ACLs
admin() { out=$(env -u LD_PRELOAD "$PEER" "$@" 2>&1) || { fail "kafka-peer.sh $1 $3" "$out"; exit 1; }; }
admin topic "$WORK/kafka" seed-topic 3
admin topic "$WORK/kafka" other-topic 1
admin acl "$WORK/kafka" --add --allow-principal "$(seed_principal kafka-producer)" \
  --operation Write --operation Describe --resource-pattern-type prefixed --topic seed-
admin acl "$WORK/kafka" --add --allow-principal "$(seed_principal kafka-consumer)" \
  --operation Read --operation Describe --resource-pattern-type prefixed --topic seed- --group seed-
ok "topics seed-topic, other-topic; ACLs for $(seed_principal kafka-producer) and ...kafka-consumer"

export WORLD_VERSION=$VERSION WORLD_BOOTSTRAP=$B WORLD_PEER=$WORK/kafka WORLD_KAFKA_HOME=$KAFKA_HOME
WORLD_BOOTSTRAP6=$(sed -n 's/^BOOTSTRAP6 //p' "$WORK/kafka.out"); export WORLD_BOOTSTRAP6
[[ -n $WORLD_BOOTSTRAP6 ]] && ok "the broker also listens on $WORLD_BOOTSTRAP6 (listener SSL6)"
[[ -n $WORLD_BOOTSTRAP6 || $v6 == 0 ]] || { fail "PEER_IPV6=1 but no BOOTSTRAP6" "$(cat "$WORK/kafka.out")"; exit 1; }
export WORLD_PEER_SCRIPT=$PEER
export WORLD_KEYSTORE=$WORK/keystore
# the compatibility rows collect in compat-VERSION.tsv.partial, published as
# compat-VERSION.tsv (what readme_table_is_this_runs.sh compares) only when
# every scenario ran and passed
COMPAT_OUT=${KMTLS_WORLD_OUT:-$WORK}/compat-$VERSION.tsv
export WORLD_COMPAT=$COMPAT_OUT.partial
mkdir -p -m 700 "$WORLD_KEYSTORE"
mkdir -p "$(dirname "$WORLD_COMPAT")" && rm -f "$COMPAT_OUT" && : >"$WORLD_COMPAT"
echo "# broker up and granted in $(ms_since "$T0") ms"

# ---- the scenarios, each a process of its own with its own work dir;
# WORLD_ONLY="NAME ..." runs only those (e.g. WORLD_ONLY=first_use_issues_into_missing_alias_dir
# meson test -C build world_kafka_3.3.2). A scenario that skipped a case
# (exit 77) is counted as skipped: the test then ends 77, SKIP in meson's
# summary, unless something failed.
for s in "$WORLD_HERE"/scenarios/*.sh; do
  name=$(basename "$s" .sh)
  [[ -z ${WORLD_ONLY:-} || " $WORLD_ONLY " == *" $name "* ]] || continue
  t=$(date +%s%N)
  out=$(bash "$s" 2>&1 {WATCHDOG}>&-); rc=$?
  sed 's/^/    /' <<<"$out"
  if (( rc == 0 )); then ok "$name ($(ms_since "$t") ms)"
  elif (( rc == 77 )); then skip_case "$name: $(grep -m 1 '^skip - ' <<<"$out" | cut -c 8-)"
  else fail "$name (rc=$rc)"; fi
done
(( SKIP == 0 )) || echo "# skipped: $SKIP scenario(s), see 'skip - ' above"
if [[ -z ${WORLD_ONLY:-} ]] && (( FAIL == 0 && SKIP == 0 )); then mv -f "$WORLD_COMPAT" "$COMPAT_OUT"
else echo "# partial run: its compatibility rows stay in $WORLD_COMPAT"; fi
echo "# total $(ms_since "$T0") ms (before stopping Kafka)"
