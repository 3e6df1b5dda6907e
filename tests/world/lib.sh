# shellcheck shell=bash
# The seed's world (sourced by world.sh and by each scenario): a genuine
# Apache Kafka broker in KRaft mode (tests/peer/kafka-peer.sh) with one SSL
# listener requiring client certificates, the standard authorizer, the
# broker's own principal as super user and ACLs per client principal; one
# shared keystore directory holding every client's volume, as the seed's
# named volume does.
#
# world.sh exports WORLD_* for the scenarios:
#   WORLD_VERSION  the broker's Kafka version    WORLD_BOOTSTRAP  127.0.0.1:PORT
#   WORLD_PEER     the broker's run dir (request.log, authorizer.log)
#   WORLD_KEYSTORE the shared keystore directory (the seed's /keystore)
#   WORLD_KAFKA_HOME  the broker's jars (kafka-clients for the Java client)
#   WORLD_PEER_SCRIPT kafka-peer.sh (topic, acl)
#   WORLD_COMPAT   the file collecting compatibility rows (client, librdkafka,
#                  broker, result, how tested), tab-separated
. "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"
: "${KMTLS_PLUGIN:?run through meson test}" "${KMTLS_TOOL:?run through meson test}"
: "${KMTLS_PEER_DIR:?run through meson test}"
WORLD_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PLUG=(-X "plugin.library.paths=$KMTLS_PLUGIN")
# The seed's names: its subjects, and the principal string Kafka derives
# from them (X500Principal.getName(), RFC 2253: the DER order reversed).
SEED_DN_PREFIX='C=GB,O=UK Home Office,CN=Callisto'
seed_principal() { echo "User:$SEED_DN_PREFIX $1"; }
SEED_SUBJECT_TEMPLATE="$SEED_DN_PREFIX \${alias}"
# The CAs of the fixtures: ca/ (root; the broker trusts only it) and sub/
# (an intermediate under it, with sub/chain.crt = sub + root).
CA=(-X "mtls.ca.location=$FX/ca/ca.crt" -X "mtls.ca.key.location=$FX/ca/ca.key"
    -X "mtls.ca.key.password.file=$FX/ca/ca.pass")
SUB_CA=(-X "mtls.ca.location=$FX/sub/chain.crt" -X "mtls.ca.key.location=$FX/sub/ca.key"
        -X "mtls.ca.key.password.file=$FX/sub/ca.pass")
kc() { timeout -k 5 60 kcat "$@"; }

# served CLIENT_ID PRINCIPAL: the broker completed a request from CLIENT_ID
# authenticated as PRINCIPAL (request.log: one JSON line per request, with
# "clientId" and "principal"). The broker logs a request once its response
# is sent, possibly just after the client saw it: wait up to 10 s.
served() {
  local id=$1 principal=$2 i
  for (( i = 0; i < 200; i++ )); do
    grep -F "\"clientId\":\"$id\"" "$WORLD_PEER/request.log" 2>/dev/null |
      grep -qF "\"principal\":\"$principal\"" && return 0
    sleep 0.05
  done
  return 1
}
principals_of() {
  grep -F "\"clientId\":\"$1\"" "$WORLD_PEER/request.log" 2>/dev/null |
    grep -o '"principal":"[^"]*"' | sort -u | paste -sd' '
}
# listeners_of CLIENT_ID...: the listeners their requests came on, as above
listeners_of() {
  local id pats=()
  for id; do pats+=(-e "\"clientId\":\"$id\""); done
  grep -F "${pats[@]}" "$WORLD_PEER/request.log" 2>/dev/null |
    grep -o '"listener":"[^"]*"' | sort -u | paste -sd' '
}
# denied PRINCIPAL OPERATIONS TOPIC: the authorizer logged a denial to
# PRINCIPAL of one of OPERATIONS (an ERE: a producer is refused Describe in
# its metadata request before any Write) on TOPIC.
denied() {
  local i
  for (( i = 0; i < 200; i++ )); do
    grep -F "Principal = $1 is Denied operation = " "$WORLD_PEER/authorizer.log" 2>/dev/null |
      grep -E "is Denied operation = ($2) from .* on resource = Topic:LITERAL:$3 " >/dev/null && return 0
    sleep 0.05
  done
  return 1
}
# serial_of VOLUME ALIAS: the serial of the volume's certificate (hex, as
# openssl prints it), read through the provider as any client reads it.
serial_of() {
  openssl x509 "${PROV[@]}" -in "keystore:$1" -noout -serial 2>/dev/null | sed 's/^serial=//'
}
subject_of() {
  openssl x509 "${PROV[@]}" -in "keystore:$1" -noout -subject -nameopt RFC2253 2>/dev/null |
    sed 's/^subject=//'
}
# compat CLIENT LIBRDKAFKA RESULT HOW: one row of the compatibility table.
compat() {
  printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$WORLD_VERSION" "$3" "$4" >>"$WORLD_COMPAT"
}
# msgs PREFIX N: N distinct message lines.
msgs() { local i; for (( i = 0; i < $2; i++ )); do echo "$1-$i"; done; }
# got_all FILE PREFIX N: every message PREFIX-0..N-1 is in FILE exactly once.
got_all() {
  local i
  for (( i = 0; i < $3; i++ )); do
    [[ $(grep -cxF -- "$2-$i" "$1") == 1 ]] || return 1
  done
}
# new_topic NAME [PARTITIONS]: a topic of the scenario's own (seed-* topics
# are granted by the seed's ACLs).
new_topic() {
  local out
  out=$(env -u LD_PRELOAD "$WORLD_PEER_SCRIPT" topic "$WORLD_PEER" "$1" "${2:-1}" 2>&1) ||
    { fail "creating topic $1" "$out"; exit 1; }
}
# pem_identity DIR ALIAS: a cert-manager style tls.key, tls.crt (the seed's
# subject, from the fixtures' root CA) and ca.crt in DIR
pem_identity() {
  local d=$1 a=$2
  mkdir -p "$d"
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$d/tls.key" 2>/dev/null
  openssl req -new -key "$d/tls.key" -subj "/CN=Callisto $a/O=UK Home Office/C=GB" -out "$d/req.csr"
  printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n' >"$d/ext"
  openssl x509 -req -in "$d/req.csr" -CA "$FX/ca/ca.crt" -CAkey "$FX/ca/ca.key" -passin "file:$FX/ca/ca.pass" \
    -days 2 -set_serial "0x$(openssl rand -hex 16)" -sha256 -extfile "$d/ext" -out "$d/tls.crt" 2>/dev/null
  cp "$FX/ca/ca.crt" "$d/ca.crt"
  rm -f "$d/req.csr" "$d/ext"
}
# kube_swap VOLUME ALIAS: kubelet's update of a secret volume: the files in a
# new ..TIMESTAMP directory, ..data re-pointed in one rename, the old one removed
kube_swap() {
  local vol=$1 ts old f
  ts=..$(date +%Y_%m_%d_%H_%M_%S.%N)
  pem_identity "$vol/$ts" "$2"
  old=$(readlink "$vol/..data" 2>/dev/null || true)
  ln -sfn "$ts" "$vol/..data_tmp" && mv -T "$vol/..data_tmp" "$vol/..data"
  for f in tls.crt tls.key ca.crt; do [[ -L $vol/$f ]] || ln -s "..data/$f" "$vol/$f"; done
  [[ -z $old ]] || rm -rf "${vol:?}/$old"
}
# serials_seen [PEER_DIR]: the serial of every client certificate the broker received,
# in order (the leaf of each "Consuming client Certificate" message that the
# JDK logs into kafka.log with javax.net.debug=ssl:handshake, which world.sh
# turns on), one per line, upper-case hex without colons or leading zeros.
serials_seen() {
  awk '/Consuming client Certificate handshake message/ { want = 1; next }
       want && /"serial number"/ { s = $0; sub(/.*"serial number" *: *"/, "", s); sub(/".*/, "", s)
                                   gsub(/:/, "", s); s = toupper(s); sub(/^0+/, "", s); print s; want = 0 }' \
    "${1:-$WORLD_PEER}/kafka.log" 2>/dev/null
}
# broker_saw SERIAL [PEER_DIR]: the broker (the world's, or the one in
# PEER_DIR) has received a client certificate with SERIAL (hex, as openssl
# prints it); the JDK logs it during the handshake: wait up to 15 s.
broker_saw() {
  local want i
  want=$(tr a-f A-F <<<"${1//:/}" | sed 's/^0*//')
  for (( i = 0; i < 150; i++ )); do
    serials_seen "${2:-}" | grep -xF -- "$want" >/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# A live client run in the background (tests/world/live_client.c): its
# output file in $OUT, its pid in $PID, its control directory in $CTL.
# client_line WHAT ERE SECONDS: wait until a line of $OUT matches ERE; a
# failure naming WHAT (and saying whether the client exited) otherwise.
client_line() {
  local i
  for (( i = 0; i < $3 * 20; i++ )); do
    grep -aE -- "$2" "$OUT" >/dev/null 2>&1 && return 0
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.05
  done
  fail "$1: no line /$2/ within $3 s$(kill -0 "$PID" 2>/dev/null || echo "; the client exited")" \
    "$(grep -a 'MTLS\|ERROR\|FAIL\|live-client' "$OUT" | tail -n 15)"
  return 1
}
# client_count FIELD: the client's count FIELD so far (delivered, consumed,
# ... from $CTL/status, which tests/world/live_client.c rewrites every
# second; 0 before its first report).
client_count() {
  local v
  v=$(sed -n "s/^\\(.* \\)\\{0,1\\}$1=\\([0-9]*\\).*/\\2/p" "$CTL/status" 2>/dev/null)
  echo "${v:-0}"
}
# client_count_reaches FIELD N SECONDS: wait until client_count FIELD >= N
# (0.1 s polls of the status file, the client's own readiness report)
client_count_reaches() {
  local i
  for (( i = 0; i < $3 * 10; i++ )); do
    (( $(client_count "$1") >= $2 )) && return 0
    sleep 0.1
  done
  (( $(client_count "$1") >= $2 ))
}
# client_generation WHO GEN SECONDS: WHO's volume gave generation GEN (the
# plugin's line) and WHO's transport took it; sets SERIAL (the new
# certificate's) and OLD (WHO's connections of older generations then open)
client_generation() {
  client_line "$1 generation $2" "^$1\\|.* is generation $2:" "$3" || return 1
  SERIAL=$(sed -n "s/^$1|.* (serial \\([0-9A-F]*\\), valid until .*) is generation $2:.*/\\1/p" "$OUT" | head -n 1)
  client_line "$1's transport took generation $2" "^$1\\|.*new credentials \\(generation $2\\): [0-9]+ connection" "$3" || return 1
  OLD=$(sed -n "s/^$1|.*new credentials (generation $2): \\([0-9]*\\) connection.*/\\1/p" "$OUT" | head -n 1)
}
