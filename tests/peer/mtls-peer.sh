#!/bin/bash
# mtls-peer.sh - a Kafka-protocol cluster on 127.0.0.1 that REQUIRES and
# VERIFIES TLS client certificates: librdkafka's mock cluster (plaintext,
# kmockd.c) behind stunnel4 (verifyChain + requireCert).  Each mock broker
# advertises its stunnel port in Metadata, so clients only ever see mTLS.
#
#   mtls-peer.sh start CA_PEM SERVER_CERT_PEM SERVER_KEY_PEM PORT [PORT...]
#       one broker per PORT (1..16); bootstrap = 127.0.0.1:<first PORT>.
#       Prints, on success:
#         PIDS <kmockd-pid> <stunnel-pid>
#         BOOTSTRAP 127.0.0.1:<first PORT>
#         DIR <run dir>
#         STOP <this script> stop <run dir>
#   mtls-peer.sh stop PEER_DIR|PORT     (PORT = the first PORT given to start)
#   mtls-peer.sh pick-ports N           N free loopback TCP ports, one a line
#   mtls-peer.sh build                  build kmockd (if needed), print its path
#
# Environment:
#   PEER_DIR      run dir (default ${TMPDIR:-/tmp}/kafka-mtls-peer.<first PORT>)
#   PEER_TOPICS   "topic[:partitions] ..." created at start (others are
#                 auto-created with 4 partitions on first use)
#   PEER_TIMEOUT  seconds to wait for readiness (default 20)
#   PEER_TLS_MAX  e.g. TLSv1.2 to cap the TLS version (with TLS 1.3 a rejected
#                 client sees the alert on its first read, with TLS 1.2
#                 inside the handshake)
#   PEER_IPV6     1: each broker is also served on [::1]:<its PORT> (a second
#                 stunnel service, [broker-PORT-v6], logging the same lines);
#                 Metadata still advertises 127.0.0.1.  Start also prints
#                 BOOTSTRAP6 [::1]:<first PORT>.
#   KMOCKD        a prebuilt kmockd binary; otherwise kmockd.c is compiled
#                 with ${CC:-cc} into the cache dir (see peer-lib.sh:
#                 PEER_CACHE, XDG_CACHE_HOME, HOME) on first use
#
# Run dir: kmockd.log (mock cluster), stunnel.log (TLS log: "Certificate
# accepted at depth=0: <subject>" per accepted client; "peer did not return
# a certificate" / "Rejected by CERT at depth=..." for refused ones),
# stunnel.out (stunnel's own stderr), stunnel.conf, ready, pids, *.pid.
# Exit codes: 0 ok, 1 failure, 2 usage, 3 a port is busy (pick others, retry).
#
# Needs: bash, stunnel4, iproute2 (ss), python3 (optional), /proc; to build kmockd:
# a C compiler, pkg-config and librdkafka-dev (>= 1.4; tested 2.0.2).  The
# server cert must carry SAN IP:127.0.0.1 (librdkafka >= 2.0 verifies the
# broker host name).  Generates no keys or certificates.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
PEER_NAME=mtls-peer
# shellcheck source=peer-lib.sh
. "$HERE/peer-lib.sh"

usage() {
  peer_usage "usage: $0 start CA CERT KEY PORT [PORT...] | stop PEER_DIR|PORT | pick-ports N | build"
}

kmockd_bin() {
  if [[ -n ${KMOCKD:-} ]]; then
    [[ -f $KMOCKD && -x $KMOCKD ]] || peer_die "KMOCKD=$KMOCKD is not an executable file"
    echo "$KMOCKD"
    return
  fi
  local cache src=$HERE/kmockd.c cc=${CC:-cc} pc key bin
  local flags=(-std=c11 -O2 -Wall -Wextra -Werror -D_GNU_SOURCE)
  command -v pkg-config >/dev/null ||
    peer_die "need pkg-config to build kmockd (or set KMOCKD=/path/to/kmockd)"
  pc=$(pkg-config --cflags --libs rdkafka 2>/dev/null) ||
    peer_die "librdkafka development files not found (librdkafka-dev), or set KMOCKD"
  cache=$(peer_cache_dir)
  # Content-addressed: a changed source, compiler or librdkafka gets a new
  # binary (mtimes mean nothing in a fresh clone).
  key=$({ cat "$src"; echo "$cc ${flags[*]} $pc"; pkg-config --modversion rdkafka
          $cc --version 2>/dev/null | head -n1; } | sha256sum | cut -c1-16)
  bin=$cache/kmockd-$key
  if [[ ! -x $bin ]]; then
    # shellcheck disable=SC2086  # $cc and $pc are word lists
    $cc "${flags[@]}" -o "$bin.tmp.$$" "$src" $pc -lpthread -ldl >&2 ||
      { rm -f "$bin.tmp.$$"; peer_die "building kmockd from $src failed"; }
    mv -f "$bin.tmp.$$" "$bin"   # atomic: concurrent builders are fine
  fi
  echo "$bin"
}

cmd=${1:-}; shift || true
case $cmd in
  stop)
    (( $# == 1 )) || usage
    peer_stop_dir "$(peer_dir_for kafka-mtls-peer "$1")" 5
    exit ;;
  pick-ports)
    (( $# == 1 )) || usage
    peer_pick_ports "$1"
    exit ;;
  build)
    (( $# == 0 )) || usage
    kmockd_bin
    exit ;;
  start) ;;
  *) usage ;;
esac

(( $# >= 4 )) || usage
STUNNEL=$(command -v stunnel4 || command -v stunnel) || peer_die "stunnel4 not found"
CA=$(realpath -e -- "$1") || peer_die "cannot find $1"
CERT=$(realpath -e -- "$2") || peer_die "cannot find $2"
KEY=$(realpath -e -- "$3") || peer_die "cannot find $3"
shift 3
PORTS=("$@")
for f in "$CA" "$CERT" "$KEY"; do [[ -r $f ]] || peer_die "cannot read $f"; done
(( ${#PORTS[@]} <= 16 )) || peer_usage "at most 16 brokers"
for p in "${PORTS[@]}"; do peer_check_port "$p"; done
[[ $(printf '%s\n' "${PORTS[@]}" | sort -u | wc -l) == "${#PORTS[@]}" ]] ||
  peer_usage "ports must be distinct"
TIMEOUT=${PEER_TIMEOUT:-20}
[[ $TIMEOUT =~ ^[1-9][0-9]*$ ]] || peer_usage "bad PEER_TIMEOUT"
DIR=${PEER_DIR:-${TMPDIR:-/tmp}/kafka-mtls-peer.${PORTS[0]}}
mkdir -p "$DIR" || peer_die "cannot create $DIR"
DIR=$(cd "$DIR" && pwd -P)
[[ -f $DIR/pids ]] && { peer_stop_dir "$DIR" 5 >/dev/null || peer_die "cannot stop the old peer in $DIR"; }
rm -f "$DIR/ready" "$DIR/stunnel.conf" "$DIR"/*.log "$DIR"/*.out "$DIR"/*.pid

KMOCKD_BIN=$(kmockd_bin)
targs=()
for t in ${PEER_TOPICS:-}; do targs+=(-t "$t"); done

# From here on a failure (or a signal) must not leave half a peer running.
started=0
trap '[[ $started == 1 ]] || peer_stop_dir "$DIR" 2 >/dev/null 2>&1 || true' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# 1. plaintext mock cluster on 127.0.0.1:<ephemeral>, advertising PORTS
MPID=$(peer_spawn "$DIR" kmockd kmockd.log "$KMOCKD_BIN" "${targs[@]}" -r "$DIR/ready" "${PORTS[@]}")
peer_write_pids "$DIR" "$MPID"
deadline=$((SECONDS + TIMEOUT))
until [[ -s $DIR/ready ]]; do
  peer_alive "$MPID" || { cat "$DIR/kmockd.log" >&2; peer_die "kmockd exited"; }
  (( SECONDS < deadline )) || peer_die "kmockd not ready after ${TIMEOUT}s (see $DIR/kmockd.log)"
  sleep 0.02
done

# 2. stunnel: one TLS service per broker; client certificate required and
#    verified against CA_PEM.
# service NAME ACCEPT CONNECT: one stunnel service
service() {
  echo "[$1]"
  echo "accept = $2"
  echo "connect = $3"
  echo "cert = $CERT"
  echo "key = $KEY"
  echo "CAfile = $CA"
  echo "verifyChain = yes"
  echo "requireCert = yes"
  echo "sslVersionMin = TLSv1.2"
  [[ -z ${PEER_TLS_MAX:-} ]] || echo "sslVersionMax = $PEER_TLS_MAX"
}
{
  echo "foreground = quiet"  # stay attached, log only to the output file
  echo "pid ="
  echo "syslog = no"
  echo "debug = info"
  echo "output = $DIR/stunnel.log"
  while read -r adv real; do
    service "broker-$adv" "127.0.0.1:$adv" "127.0.0.1:$real"
    [[ ${PEER_IPV6:-0} != 1 ]] || service "broker-$adv-v6" "::1:$adv" "127.0.0.1:$real"
  done <"$DIR/ready"
} >"$DIR/stunnel.conf"
SPID=$(peer_spawn "$DIR" stunnel stunnel.out "$STUNNEL" "$DIR/stunnel.conf")
peer_write_pids "$DIR" "$SPID" "$MPID"

# 3. ready when stunnel itself listens on every advertised port
while :; do
  ok=1
  for p in "${PORTS[@]}"; do
    peer_listening "$p" "$SPID" || { ok=0; break; }
    [[ ${PEER_IPV6:-0} != 1 ]] || peer_listening "$p" "$SPID" '::1' || { ok=0; break; }
  done
  (( ok )) && break
  if ! peer_alive "$SPID"; then
    cat "$DIR/stunnel.out" "$DIR/stunnel.log" >&2 2>/dev/null || true
    grep -qs 'Address already in use' "$DIR/stunnel.out" "$DIR/stunnel.log" &&
      peer_busy "a port is busy"
    peer_die "stunnel exited"
  fi
  (( SECONDS < deadline )) || peer_die "stunnel not listening after ${TIMEOUT}s (see $DIR/stunnel.log)"
  sleep 0.02
done
started=1

echo "PIDS $MPID $SPID"
echo "BOOTSTRAP 127.0.0.1:${PORTS[0]}"
[[ ${PEER_IPV6:-0} != 1 ]] || echo "BOOTSTRAP6 [::1]:${PORTS[0]}"
echo "DIR $DIR"
echo "STOP $HERE/mtls-peer.sh stop $DIR"
