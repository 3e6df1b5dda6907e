#!/bin/bash
# peer-selftest.sh - prove that the mTLS test peers work, using only plain
# tools (openssl via tests/fixtures/volume.sh, kcat) and no project code:
# for each peer, a client with a certificate from the right CA can list
# metadata, produce and consume, and the peer's log names its subject; a
# client without a certificate, and one whose certificate comes from another
# CA, are refused; stopping leaves no process and no listening port behind.
# meson runs it for the mock and Kafka 0.9 (test peers_require_client_certificates).
# The modern Kafka peer (kafka-peer.sh, KRaft + ACLs) proves here that an
# ACL grants a topic and a group, and that a topic without one is denied
# (kcat's error and the broker's authorizer log, naming the principal); its
# refusals are the world suite's scenario
# refuses_clients_without_a_trusted_certificate, against both versions.
#
#   peer-selftest.sh            runs every peer (the JVM peers start in the
#                               background while another peer is tested)
# Environment:
#   SELFTEST_PEERS  "mtls kafka09 kafka" (default) or any of them
#   SELFTEST_KAFKA_VERSIONS  versions for kafka-peer.sh (default
#                   $KAFKA_VERSION, else 4.4.0; e.g. "3.3.2 4.4.0").  Each is
#                   installed from Maven Central on first use; when Maven
#                   Central cannot be reached that peer is skipped ("# SKIP").
#   SELFTEST_KEEP   1: keep the work dir (it is always kept on failure)
#   and whatever the peers read (KMOCKD, KAFKA_HOME, PEER_CACHE, ...).
# Prints TAP-style "ok N - ..." lines, peer start times, and last
# "<N> passed, <M> failed" (", <K> skipped" when some were); exits 0 only
# when nothing failed, 77 when every selected peer was skipped.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
ROOT=$(cd "$HERE/../.." && pwd -P)
VOLUME=$ROOT/tests/fixtures/volume.sh
MTLS=$HERE/mtls-peer.sh
K09=$HERE/kafka09-peer.sh
KP=$HERE/kafka-peer.sh
PEERS=${SELFTEST_PEERS:-mtls kafka09 kafka}
read -r -a KVERSIONS <<<"${SELFTEST_KAFKA_VERSIONS:-${KAFKA_VERSION:-4.4.0}}"
T0=$EPOCHREALTIME

pass=0 fail=0 skipped=0 n=0
ok()     { n=$((n + 1)); pass=$((pass + 1)); echo "ok $n - $1"; }
skip()   { n=$((n + 1)); skipped=$((skipped + 1)); echo "ok $n - $1 # SKIP $2"; }
not_ok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n - $1"; shift
           local f; for f in "$@"; do [[ -s $f ]] && sed 's/^/#   /' "$f" | tail -n 25; done; }
check()  { local desc=$1; shift; if "$@"; then ok "$desc"; else not_ok "$desc"; return 1; fi; }
# ms_since T: milliseconds since T (an $EPOCHREALTIME, whose decimal mark
# depends on the locale).
ms_since() { local a=${1//[!0-9]/} b=${EPOCHREALTIME//[!0-9]/}; echo $(( (10#$b - 10#$a) / 1000 )); }
has_peer() { [[ " $PEERS " == *" $1 "* ]]; }

for t in kcat openssl ss timeout; do
  command -v "$t" >/dev/null || { echo "peer-selftest: $t is required" >&2; exit 1; }
done

W=$(mktemp -d "${TMPDIR:-/tmp}/peer-selftest.XXXXXX") || exit 1
K09_BG='' KP_BG=''
cleanup() {
  local rc=$? v
  trap - EXIT INT TERM
  # A Kafka start still running in the background is bounded by its own
  # timeout and cleans up after itself on failure; wait for it first.
  [[ -n $K09_BG ]] && wait "$K09_BG" 2>/dev/null
  [[ -n $KP_BG ]] && wait "$KP_BG" 2>/dev/null
  [[ -f $W/mtls/pids ]] && "$MTLS" stop "$W/mtls" >/dev/null
  [[ -f $W/kafka09/pids ]] && "$K09" stop "$W/kafka09" >/dev/null
  for v in "${KVERSIONS[@]}"; do
    [[ -f $W/kafka-$v/pids ]] && "$KP" stop "$W/kafka-$v" >/dev/null
  done
  if (( rc == 0 )) && [[ ${SELFTEST_KEEP:-0} != 1 ]]; then
    rm -rf "$W"
  else
    echo "# work dir kept: $W" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- certificates: CA, server (SAN IP:127.0.0.1), good and rogue clients
CN=peer-selftest-client
if ! { "$VOLUME" ca "$W/ca" >/dev/null &&
        "$VOLUME" server "$W/ca" "$W/server" &&
        "$VOLUME" certmanager "$W/ca" "$W/client" "$CN" &&
        "$VOLUME" ca "$W/otherca" "peer-selftest rogue CA" >/dev/null &&
        "$VOLUME" certmanager "$W/otherca" "$W/rogue" rogue-client; }; then
  echo "peer-selftest: cannot make certificates" >&2
  exit 1
fi
CA=$W/ca/ca.crt
SERVER=("$CA" "$W/server/server.crt" "$W/server/server.key")
TLS=(-X security.protocol=ssl -X "ssl.ca.location=$CA")
GOOD=("${TLS[@]}" -X "ssl.certificate.location=$W/client/tls.crt" -X "ssl.key.location=$W/client/tls.key")
ROGUE=("${TLS[@]}" -X "ssl.certificate.location=$W/rogue/tls.crt" -X "ssl.key.location=$W/rogue/tls.key")

# start_peer OUT SCRIPT NPORTS ARGS...: start with freshly picked ports,
# retrying when a port turned out to be busy (exit 3).  Output in OUT, the
# time taken in OUT.ms.
start_peer() {
  local out=$1 script=$2 np=$3 rc t ports; shift 3
  for _ in 1 2 3; do
    mapfile -t ports < <("$script" pick-ports "$np")
    t=$EPOCHREALTIME
    "$script" start "$@" "${ports[@]}" >"$out" 2>&1
    rc=$?
    ms_since "$t" >"$out.ms"
    (( rc == 3 )) || break
  done
  return "$rc"
}
field() { sed -n "s/^$1 //p" "$2"; }
# has_lines FILE LINE...: FILE has every LINE (whole-line match).
has_lines() { local f=$1 l; shift; for l in "$@"; do grep -qxF -- "$l" "$f" || return 1; done; }
# lists_brokers FILE PORT...: kcat -L output names a broker at every PORT.
lists_brokers() {
  local f=$1 p; shift
  grep -q " $# brokers:" "$f" || return 1
  for p in "$@"; do grep -q "at 127.0.0.1:$p\$" "$f" || return 1; done
}
# kraft_lists FILE PORT TOPIC: kcat -L output names one broker, at PORT (a
# KRaft broker that is also the controller is listed "... (controller)"),
# and TOPIC.
kraft_lists() {
  grep -q " 1 brokers:" "$1" && grep -q "broker 1 at 127.0.0.1:$2\( (controller)\)\?\$" "$1" &&
    grep -q "topic \"$3\" with " "$1"
}
# served_all LOG PORT...: stunnel accepted a connection on every PORT.
served_all() {
  local f=$1 p; shift
  for p in "$@"; do grep -qF "Service [broker-$p] accepted connection" "$f" || return 1; done
}

# kc OUT ARGS...: kcat with a hard time limit, stdout+stderr to OUT.
kc() { local out=$1; shift; timeout -k 5 60 kcat "$@" >"$out" 2>&1; }

# refused OUT REGEX ARGS...: kcat must fail (kcat 1.7.1 may segfault on exit
# after a refused connection: any non-zero status but a timeout counts) and
# print the expected error.
refused() {
  local out=$1 re=$2 rc; shift 2
  kc "$out" "$@"; rc=$?
  (( rc != 0 && rc != 124 && rc != 137 )) && grep -Eq "$re" "$out"
}

# no_leftovers DIR PORT...: no live process names DIR, no PORT is listening.
no_leftovers() {
  local d=$1 p f cmd; shift
  for f in /proc/[0-9]*/cmdline; do
    cmd=$(tr '\0' ' ' 2>/dev/null <"$f") || continue
    [[ $cmd == *"$d/"* ]] && { echo "# left behind: ${f%/cmdline}: $cmd"; return 1; }
  done
  for p in "$@"; do
    [[ -z $(ss -Hltn "sport = :$p") ]] || { echo "# port $p still listening"; return 1; }
  done
}

# kp_start VERSION: install (if needed) and start the modern Kafka peer;
# 77 when Maven Central cannot be reached for the install.
kp_start() {
  local rc=0
  "$KP" fetch "$1" >"$W/kp-$1.fetch" 2>&1 || rc=$?
  if (( rc != 0 )); then
    (( rc == 77 )) && return 77   # peer-lib.sh's peer_unavailable (a failure with KMTLS_REQUIRE_PEERS=1)
    cp "$W/kp-$1.fetch" "$W/kp-$1.start"
    return 1
  fi
  KAFKA_VERSION=$1 PEER_DIR=$W/kafka-$1 start_peer "$W/kp-$1.start" "$KP" 1 "${SERVER[@]}"
}
# kp_bg VERSION: kp_start in the background (KP_BG), unless it runs already.
kp_bg() { [[ -n $KP_BG ]] || { kp_start "$1" & KP_BG=$!; }; }

if has_peer kafka09 || has_peer kafka; then
  command -v java >/dev/null || { echo "peer-selftest: java is required" >&2; exit 1; }
fi
# --- the Kafka 0.9 peer starts (JVMs: seconds) while the mock is tested;
# the modern one then starts while the Kafka 0.9 peer is tested
if has_peer kafka09; then
  PEER_DIR=$W/kafka09 start_peer "$W/k09.start" "$K09" 1 "${SERVER[@]}" &
  K09_BG=$!
elif has_peer kafka; then
  kp_bg "${KVERSIONS[0]}"
fi

# --- librdkafka mock cluster (3 brokers) behind stunnel
if has_peer mtls; then
  if PEER_DIR=$W/mtls PEER_TOPICS=selftest:3 start_peer "$W/mtls.start" "$MTLS" 3 "${SERVER[@]}"; then
    ok "mtls peer started in $(<"$W/mtls.start.ms") ms"
    B=$(field BOOTSTRAP "$W/mtls.start")
    D=$(field DIR "$W/mtls.start")
    read -r -a MPORTS < <(awk '{printf "%s ", $1}' "$D/ready")
    kc "$W/m.L" -b "$B" "${GOOD[@]}" -L
    check "mtls: metadata lists 3 brokers at their TLS ports" \
      lists_brokers "$W/m.L" "${MPORTS[@]}" || sed 's/^/#   /' "$W/m.L"
    msgs=()
    prod_ok=1
    for part in 0 1 2; do
      msgs+=("mtls-$part-$RANDOM$RANDOM")
      printf '%s\n' "${msgs[part]}" | kc "$W/m.P$part" -b "$B" "${GOOD[@]}" -P -t selftest -p "$part" ||
        prod_ok=0
    done
    if (( prod_ok )); then ok "mtls: produced one message to each of 3 partitions"
    else not_ok "mtls: produce" "$W"/m.P*; fi
    if kc "$W/m.C" -b "$B" "${GOOD[@]}" -C -t selftest -o beginning -e -q &&
       has_lines "$W/m.C" "${msgs[@]}"; then
      ok "mtls: consumed all 3 messages back"
    else not_ok "mtls: consume" "$W/m.C"; fi
    check "mtls: stunnel verified the client (Certificate accepted at depth=0: CN=$CN)" \
      grep -q "Certificate accepted at depth=0: CN=$CN\$" "$D/stunnel.log"
    check "mtls: all 3 TLS ports served the client" \
      served_all "$D/stunnel.log" "${MPORTS[@]}"
    # both refusals at once: each waits out kcat's metadata timeout (-m)
    refused "$W/m.nocert" 'certificate required|handshake failed|alert' \
      -b "$B" "${TLS[@]}" -m 2 -L & r1=$!
    refused "$W/m.rogue" 'unknown ca|handshake failed|alert' \
      -b "$B" "${ROGUE[@]}" -m 2 -L & r2=$!
    if wait "$r1" && grep -q 'peer did not return a certificate' "$D/stunnel.log"; then
      ok "mtls: client without a certificate refused"
    else not_ok "mtls: client without a certificate refused" "$W/m.nocert"; fi
    if wait "$r2" && grep -q 'Rejected by CERT at depth=0: CN=rogue-client' "$D/stunnel.log"; then
      ok "mtls: client with a certificate from another CA refused"
    else not_ok "mtls: client with a certificate from another CA refused" "$W/m.rogue"; fi
    t=$EPOCHREALTIME
    if "$MTLS" stop "$D" >"$W/m.stop" 2>&1 && no_leftovers "$D" "${MPORTS[@]}"; then
      ok "mtls: stopped in $(ms_since "$t") ms, no process or port left"
    else not_ok "mtls: stop" "$W/m.stop"; fi
  else
    not_ok "mtls peer start" "$W/mtls.start"
  fi
fi

# --- genuine Apache Kafka 0.9.0.1 with ssl.client.auth=required
if has_peer kafka09; then
  wait "$K09_BG"; rc=$?; K09_BG=
  has_peer kafka && kp_bg "${KVERSIONS[0]}"
  if (( rc == 0 )); then
    ok "kafka09 peer started in $(<"$W/k09.start.ms") ms"
    B=$(field BOOTSTRAP "$W/k09.start")
    D=$(field DIR "$W/k09.start")
    read -r -a OLD < <(field CLIENT_CONF "$W/k09.start")
    KPORT=${B##*:}
    kc "$W/k.L" -b "$B" "${GOOD[@]}" "${OLD[@]}" -L
    check "kafka09: metadata lists broker 0 at its TLS port" \
      lists_brokers "$W/k.L" "$KPORT" || sed 's/^/#   /' "$W/k.L"
    msg=k09-$RANDOM$RANDOM
    if printf '%s\n' "$msg" | kc "$W/k.P" -b "$B" "${GOOD[@]}" "${OLD[@]}" -P -t selftest -p 0; then
      ok "kafka09: produced a message"
    else not_ok "kafka09: produce" "$W/k.P"; fi
    if kc "$W/k.C" -b "$B" "${GOOD[@]}" "${OLD[@]}" -C -t selftest -p 0 -o beginning -e -q &&
       has_lines "$W/k.C" "$msg"; then
      ok "kafka09: consumed it back"
    else not_ok "kafka09: consume" "$W/k.C"; fi
    check "kafka09: request log names the client (principal:User:CN=$CN)" \
      grep -q "principal:User:CN=$CN\$" "$D/request.log"
    # JDK 17 under Kafka 0.9 ends the handshake of a client without a
    # certificate with an alert, or (seen once, in a full local run) with a record
    # OpenSSL calls an unexpected message: a refusal either way
    refused "$W/k.nocert" 'handshake failed|certificate required|alert|unexpected message' \
      -b "$B" "${TLS[@]}" "${OLD[@]}" -m 2 -L & r1=$!
    refused "$W/k.rogue" 'handshake failed|unknown ca|alert' \
      -b "$B" "${ROGUE[@]}" "${OLD[@]}" -m 2 -L & r2=$!
    if wait "$r1"; then
      ok "kafka09: client without a certificate refused"
    else not_ok "kafka09: client without a certificate refused" "$W/k.nocert"; fi
    if wait "$r2" && ! grep -q 'CN=rogue-client' "$D/request.log"; then
      ok "kafka09: client with a certificate from another CA refused"
    else not_ok "kafka09: client with a certificate from another CA refused" "$W/k.rogue"; fi
    t=$EPOCHREALTIME
    ZKPORT=$(awk -F= '$1 == "clientPort" {print $2}' "$D/zk.properties")
    if "$K09" stop "$D" >"$W/k.stop" 2>&1 && no_leftovers "$D" "$KPORT" "$ZKPORT"; then
      ok "kafka09: stopped in $(ms_since "$t") ms, no process or port left"
    else not_ok "kafka09: stop" "$W/k.stop"; fi
  else
    not_ok "kafka09 peer start" "$W/k09.start"
  fi
fi

# --- genuine Apache Kafka 3.3 / 4.x (KRaft) with ssl.client.auth=required
# and ACLs (StandardAuthorizer, allow.everyone.if.no.acl.found=false)
KP_SKIPPED=0
if has_peer kafka; then
  for v in "${KVERSIONS[@]}"; do
    if [[ -n $KP_BG ]]; then wait "$KP_BG"; rc=$?; KP_BG=
    else kp_start "$v"; rc=$?; fi
    if (( rc == 77 )); then
      skip "kafka $v peer" "Maven Central cannot be reached to install Kafka $v"
      KP_SKIPPED=$((KP_SKIPPED + 1))
      continue
    fi
    if (( rc != 0 )); then not_ok "kafka $v peer start" "$W/kp-$v.start"; continue; fi
    S=$W/kp-$v.start
    ok "kafka $v peer started in $(<"$S.ms") ms (the peer's own STARTED_MS $(field STARTED_MS "$S"))"
    B=$(field BOOTSTRAP "$S")
    D=$(field DIR "$S")
    KPORT=${B##*:}
    check "kafka $v: the broker's principal is User:CN=localhost (the server certificate)" \
      has_lines "$S" "SUPER_USER User:CN=localhost" "VERSION $v"
    T=selftest G=selftest-group DENIED=selftest-denied PRINC="User:CN=$CN"
    if "$KP" topic "$D" "$T" >"$W/kp.topic" 2>&1 &&
       "$KP" acl "$D" --add --allow-principal "$PRINC" --producer --consumer \
         --topic "$T" --group "$G" >"$W/kp.acl" 2>&1; then
      ok "kafka $v: created topic $T, granted $PRINC produce/consume on it and group $G"
    else not_ok "kafka $v: topic and ACLs" "$W/kp.topic" "$W/kp.acl"; fi
    kc "$W/kp.L" -b "$B" "${GOOD[@]}" -L
    check "kafka $v: metadata lists broker 1 at its TLS port and the granted topic" \
      kraft_lists "$W/kp.L" "$KPORT" "$T" || sed 's/^/#   /' "$W/kp.L"
    msg=kp-$v-$RANDOM$RANDOM
    if printf '%s\n' "$msg" | kc "$W/kp.P" -b "$B" "${GOOD[@]}" -X client.id=selftest-producer -P -t "$T" -p 0; then
      ok "kafka $v: produced a message (ACL Write)"
    else not_ok "kafka $v: produce" "$W/kp.P"; fi
    if kc "$W/kp.C" -b "$B" "${GOOD[@]}" -X client.id=selftest-consumer -G "$G" "$T" -o beginning -e -q &&
       has_lines "$W/kp.C" "$msg"; then
      ok "kafka $v: consumed it back in group $G (ACL Read on topic and group)"
    else not_ok "kafka $v: consume" "$W/kp.C"; fi
    check "kafka $v: request log names the client ($PRINC for client.id selftest-producer)" \
      grep -q "\"clientId\":\"selftest-producer\".*\"principal\":\"$PRINC\"" "$D/request.log"
    refused "$W/kp.denied" 'Topic authorization failed' \
      -b "$B" "${GOOD[@]}" -X client.id=selftest-denied -C -t "$DENIED" -p 0 -o beginning -e -q & r0=$!
    # its refusals of a client without a certificate and of one from another
    # CA: tests/world/scenarios/refuses_clients_without_a_trusted_certificate.sh
    if wait "$r0" &&
       grep -q "Principal = $PRINC is Denied operation = DESCRIBE .* on resource = Topic:LITERAL:$DENIED " "$D/authorizer.log"; then
      ok "kafka $v: topic $DENIED without an ACL denied (kcat's error and the authorizer log)"
    else not_ok "kafka $v: topic without an ACL denied" "$W/kp.denied" "$D/authorizer.log"; fi
    t=$EPOCHREALTIME
    CPORT=$(sed -n 's/^CPORT=//p' "$D/peer.env")
    if "$KP" stop "$D" >"$W/kp.stop" 2>&1 && no_leftovers "$D" "$KPORT" "$CPORT"; then
      ok "kafka $v: stopped in $(ms_since "$t") ms, no process or port left"
    else not_ok "kafka $v: stop" "$W/kp.stop"; fi
  done
fi

echo "# total $(ms_since "$T0") ms"
if (( skipped )); then echo "$pass passed, $fail failed, $skipped skipped"
else echo "$pass passed, $fail failed"; fi
if (( fail == 0 && KP_SKIPPED == ${#KVERSIONS[@]} )) && [[ ${PEERS// /} == kafka ]]; then
  exit 77  # every selected peer was skipped: nothing was tested
fi
(( fail == 0 ))
