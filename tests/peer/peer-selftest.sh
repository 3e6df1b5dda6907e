#!/bin/bash
# peer-selftest.sh - prove that both mTLS test peers work, using only plain
# tools (openssl via tests/fixtures/volume.sh, kcat) and no project code:
# for each peer, a client with a certificate from the right CA can list
# metadata, produce and consume, and the peer's log names its subject; a
# client without a certificate, and one whose certificate comes from another
# CA, are refused; stopping leaves no process and no listening port behind.
#
#   peer-selftest.sh            runs both peers (the Kafka 0.9 peer starts in
#                               the background while the mock is tested)
# Environment:
#   SELFTEST_PEERS  "mtls kafka09" (default) or either one
#   SELFTEST_KEEP   1: keep the work dir (it is always kept on failure)
#   and whatever mtls-peer.sh / kafka09-peer.sh read (KMOCKD, KAFKA_HOME,
#   PEER_CACHE, ...).
# Prints TAP-style "ok N - ..." lines, peer start times, and last
# "<N> passed, <M> failed"; exits 0 only when nothing failed.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
ROOT=$(cd "$HERE/../.." && pwd -P)
VOLUME=$ROOT/tests/fixtures/volume.sh
MTLS=$HERE/mtls-peer.sh
K09=$HERE/kafka09-peer.sh
PEERS=${SELFTEST_PEERS:-mtls kafka09}
T0=$EPOCHREALTIME

pass=0 fail=0 n=0
ok()     { n=$((n + 1)); pass=$((pass + 1)); echo "ok $n - $1"; }
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
K09_BG=
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  # A Kafka start still running in the background is bounded by its own
  # timeout and cleans up after itself on failure; wait for it first.
  [[ -n $K09_BG ]] && wait "$K09_BG" 2>/dev/null
  [[ -f $W/mtls/pids ]] && "$MTLS" stop "$W/mtls" >/dev/null
  [[ -f $W/kafka09/pids ]] && "$K09" stop "$W/kafka09" >/dev/null
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

# --- the Kafka 0.9 peer starts (JVMs: seconds) while the mock is tested
if has_peer kafka09; then
  command -v java >/dev/null || { echo "peer-selftest: java is required" >&2; exit 1; }
  PEER_DIR=$W/kafka09 start_peer "$W/k09.start" "$K09" 1 "${SERVER[@]}" &
  K09_BG=$!
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
    refused "$W/k.nocert" 'handshake failed|certificate required|alert' \
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

echo "# total $(ms_since "$T0") ms"
echo "$pass passed, $fail failed"
(( fail == 0 ))
