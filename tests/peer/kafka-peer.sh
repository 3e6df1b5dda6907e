#!/bin/bash
# kafka-peer.sh - a genuine, modern Apache Kafka broker (KRaft, combined
# broker+controller, node.id=1), installed from Maven Central, with one
# client listener SSL://127.0.0.1:PORT that requires client certificates
# (ssl.client.auth=required) and the standard authorizer enforcing ACLs
# (allow.everyone.if.no.acl.found=false).  Versions: 3.3.2 (the seed's) and
# 4.4.0 (default); any 3.3.x or 4.x is accepted, those two are tested.
#
#   kafka-peer.sh fetch [VERSION]
#       install Kafka VERSION (default $KAFKA_VERSION, else 4.4.0) if needed
#       and print its KAFKA_HOME (a directory with libs/*.jar)
#   kafka-peer.sh start CA_PEM SERVER_CERT_PEM SERVER_KEY_PEM PORT [CONTROLLER_PORT]
#       CONTROLLER_PORT is picked at run time when not given.  Prints:
#         PIDS <kafka-pid>
#         BOOTSTRAP 127.0.0.1:<PORT>
#         BOOTSTRAP6 [::1]:<port>   (with PEER_IPV6=1)
#         VERSION <version>
#         SUPER_USER User:<broker certificate subject, RFC 2253, as Kafka saw it>
#         DIR <run dir>
#         STARTED_MS <ms from the call to a broker that serves SSL clients>
#         STOP <this script> stop <run dir>
#   kafka-peer.sh stop PEER_DIR|PORT
#   kafka-peer.sh pick-ports N        N free loopback TCP ports, one a line
#   kafka-peer.sh acl PEER_DIR|PORT ARGS...
#       Kafka's own AclCommand (kafka.admin.AclCommand in 3.x,
#       org.apache.kafka.tools.AclCommand in 4.x) over --bootstrap-server,
#       with the broker's certificate (a super user) as the admin client, e.g.
#         acl DIR --add --allow-principal 'User:C=GB,O=UK Home Office,CN=app' \
#             --operation Write --operation Describe --topic t
#   kafka-peer.sh topic PEER_DIR|PORT NAME [PARTITIONS]
#       create topic NAME (default 1 partition, replication factor 1) as the
#       super user; an existing topic is left as it is (--if-not-exists)
#
# Environment:
#   KAFKA_VERSION  3.3.2 | 4.4.0 (default) - start and fetch
#   PEER_DIR       run dir (default ${TMPDIR:-/tmp}/kafka-kraft-mtls-peer.<PORT>)
#   PEER_TIMEOUT   seconds to wait for the broker (default 90)
#   SUPER_USERS    super.users, ';'-separated.  Default: User:<the server
#                  certificate's subject>, which the broker needs for itself.
#                  A value starting with '+' is added to that default
#                  (SUPER_USERS='+User:CN=admin'); any other replaces it.
#   PEER_SERVER_PROPERTIES  lines appended to server.properties
#   PEER_IPV6      1: a second client listener, SSL6://[::1]:<a port picked
#                  now>, advertised as such and configured as SSL (same
#                  certificates, ssl.client.auth, ACLs); start also prints
#                  BOOTSTRAP6 [::1]:<port>. Clients bootstrapped there are
#                  sent only [::1] addresses; the request log says
#                  "listener":"SSL6" for their requests.
#   PEER_JAVA_OPTS  more JVM options for the broker (not its tools), split at
#                  spaces, e.g. -Djavax.net.debug=ssl:handshake: the JDK then
#                  logs into kafka.log every client certificate it receives,
#                  serial number included ("Consuming client Certificate")
#   KAFKA_PEER_HOME  a Kafka installation of that version (with
#                  libs/kafka_2.13-<VERSION>.jar, e.g. an unpacked release; not
#                  KAFKA_HOME, which is kafka09-peer.sh's); otherwise `mvn`
#                  copies the release's jars from Maven Central into the cache
#                  dir, once per version, under a lock (see peer-lib.sh:
#                  PEER_CACHE, XDG_CACHE_HOME, HOME)
#   JAVA           java binary (default $JAVA_HOME/bin/java, else java; 17+)
#   PEER_CDS       0: no class-data sharing archives (see cds_prepare)
#
# Run dir: kafka.log (the broker's log), request.log (kafka.request.logger
# at DEBUG: one "Completed request:{...json...}" line per request, with the
# "clientId" and "principal":"User:<subject>", JSON-escaped), authorizer.log
# (kafka.authorizer.logger at DEBUG: "Principal = User:<subject> is Denied
# operation = ..." at INFO, "... is Allowed ..." at DEBUG), server.properties,
# log4j.properties (3.x) / log4j2.properties (4.x), client.properties (the
# admin client's), ks.p12/ts.p12 (PKCS#12 from the given PEMs, random
# password), format.log (the storage tool's output), data/, peer.env, pids,
# kafka.pid.  tests/peer/README.md shows the exact line formats.
# Topics are never auto-created: create them with `topic`.  The controller
# listener (CONTROLLER_PORT) is SSL with ssl.client.auth=required and the same
# certificate; it is not advertised to clients.  So the server certificate
# must allow client authentication (EKU clientAuth, or no EKU at all).  The
# broker does not check its own host name when it connects to itself
# (ssl.endpoint.identification.algorithm empty: Kafka 3.3 connects to its
# controller as "localhost"); clients check whatever they check.
# Exit codes: 0 ok, 1 failure, 2 usage, 3 a port is busy (pick others, retry).
#
# Needs: java (JDK 17), keytool, openssl, iproute2 (ss), flock, and mvn on
# first use of a version (unless KAFKA_PEER_HOME).  Generates no keys or
# certificates.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
PEER_NAME=kafka-peer
# shellcheck source=peer-lib.sh
. "$HERE/peer-lib.sh"

DEFAULT_VERSION=4.4.0
# pinned, so that a first install needs nothing but Maven Central
MVN_COPY=org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies
RUN_PREFIX=kafka-kraft-mtls-peer

usage() {
  peer_usage "usage: $0 fetch [VERSION] | start CA CERT KEY PORT [CONTROLLER_PORT] | stop PEER_DIR|PORT | pick-ports N | acl PEER_DIR|PORT ARGS... | topic PEER_DIR|PORT NAME [PARTITIONS]"
}

# kafka_major VERSION: 3 or 4 (the two configuration families), or a usage
# error.  3.3 is the first release with production-ready KRaft; 3.4+ moved
# tools around, which is not handled here.
kafka_major() {
  [[ $1 =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || peer_usage "bad Kafka version '$1'"
  case $1 in
    3.3.[0-9]*) echo 3 ;;
    4.[0-9]*.[0-9]*) echo 4 ;;
    *) peer_usage "unsupported Kafka version '$1' (3.3.x or 4.x; tested: 3.3.2, 4.4.0)" ;;
  esac
}

# write_pom VERSION FILE: the release's runtime jars, plus the logging
# backend its distribution ships: reload4j behind slf4j for 3.x, log4j2
# behind slf4j for 4.x (its broker also uses log4j-core directly).
# kafka-tools (4.x: AclCommand, TopicCommand) without connect-runtime, which
# only the Connect tools need.
write_pom() {
  local v=$1 deps
  if [[ $(kafka_major "$v") == 3 ]]; then
    deps="
    <dependency><groupId>ch.qos.reload4j</groupId><artifactId>reload4j</artifactId><version>1.2.19</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>1.7.36</version></dependency>"
  else
    deps="
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$v</version>
      <exclusions><exclusion><groupId>org.apache.kafka</groupId><artifactId>connect-runtime</artifactId></exclusion></exclusions>
    </dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>2.25.5</version></dependency>"
  fi
  cat >"$2" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.kafka-mtls</groupId>
  <artifactId>kafka-peer-$v</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$v</version></dependency>$deps
  </dependencies>
</project>
POM
}

# kafka_home VERSION: $KAFKA_PEER_HOME, else the cached copy, installed on first
# use with mvn from Maven Central (under a lock, so concurrent first runs
# install once; published by rename).  When Maven Central cannot be reached
# the message says so ("cannot reach Maven Central").
kafka_home() {
  local v=$1 jar=libs/kafka_2.13-$1.jar cache home
  if [[ -n ${KAFKA_PEER_HOME:-} ]]; then
    [[ -f $KAFKA_PEER_HOME/$jar ]] || peer_die "no Kafka $v in KAFKA_PEER_HOME=$KAFKA_PEER_HOME (no $jar)"
    (cd "$KAFKA_PEER_HOME" && pwd -P)
    return
  fi
  cache=$(peer_cache_dir)
  home=$cache/kafka-$v
  if [[ ! -f $home/$jar ]]; then
    (
      flock -w 900 9 || peer_die "timed out waiting for the lock on $cache/kafka-$v.lock"
      [[ -f $home/$jar ]] && exit 0
      command -v mvn >/dev/null || peer_die "need mvn to install Kafka $v from Maven Central (or set KAFKA_PEER_HOME)"
      tmp=$(mktemp -d "$cache/kafka-$v.tmp.XXXXXX")
      trap 'rm -rf "$tmp"' EXIT
      echo "$PEER_NAME: installing Kafka $v from Maven Central into $cache (once)" >&2
      write_pom "$v" "$tmp/pom.xml"
      if ! mvn -q -B -Dstyle.color=never -f "$tmp/pom.xml" "$MVN_COPY" \
             -DoutputDirectory="$tmp/home/libs" >"$tmp/mvn.log" 2>&1; then
        sed 's/\x1b\[[0-9;]*m//g' "$tmp/mvn.log" | grep -E '^\[(ERROR|FATAL)\] .' |
          grep -vE '^\[ERROR\] (To see the full|Re-run Maven|For more information|\[Help [0-9]+\])' |
          head -n 15 >&2 || tail -n 15 "$tmp/mvn.log" >&2
        if grep -qE 'Could not transfer|Unknown ?host|Name or service not known|Temporary failure in name resolution|Connection refused|Network is unreachable|No route to host|timed out' "$tmp/mvn.log"; then
          peer_unavailable "cannot reach Maven Central (mvn could not download Kafka $v)"
        fi
        peer_die "mvn could not install Kafka $v (see above)"
      fi
      [[ -f $tmp/home/$jar ]] || peer_die "mvn did not produce $jar"
      echo "$v" >"$tmp/home/VERSION"
      rm -rf "$home"
      mv -T "$tmp/home" "$home" || peer_die "cannot install into $home"
    ) 9>"$cache/kafka-$v.lock" || exit
    [[ -f $home/$jar ]] || peer_die "installing Kafka $v failed"
  fi
  echo "$home"
}

java_bin() {
  local j=${JAVA:-${JAVA_HOME:+$JAVA_HOME/bin/java}}
  j=${j:-java}
  command -v "$j" >/dev/null || peer_die "java not found (set JAVA or JAVA_HOME)"
  echo "$j"
}

# prop_escape VALUE: VALUE as a java.util.Properties value (Kafka reads its
# configuration, and log4j its own, with Properties.load, ISO-8859-1): a
# backslash doubled - RFC 2253 names escape ',' '+' ';' etc. with one - and
# anything outside ASCII as \uXXXX.
prop_escape() {
  if command -v perl >/dev/null; then
    printf '%s' "$1" | perl -CS -pe 's/\\/\\\\/g; s/([^\x00-\x7f])/sprintf("\\u%04x", ord($1))/ge'
  else
    printf '%s' "${1//\\/\\\\}"
  fi
}

kafka_classpath() {  # kafka_classpath KAFKA_HOME
  find "$1/libs" -maxdepth 1 -name '*.jar' ! -name '*-javadoc.jar' \
    ! -name '*-scaladoc.jar' ! -name '*-sources.jar' ! -name '*-test.jar' | sort | paste -sd:
}

# Class-data sharing: the JVM maps the classes a broker (or a tool) loaded
# last time from an archive instead of loading them from the jars again.
# The first run of each (version, program) records an archive when its JVM
# exits (-XX:ArchiveClassesAtExit: the storage tool and the tools at once,
# the broker at `stop`); it is checked (-Xshare:on) and published by rename
# into the cache dir, keyed by the JVM and the classpath.  Later runs map it.
# PEER_CDS=0 turns this off.  cds_prepare VERSION KAFKA_HOME NAME NEW_FILE
# sets CDS_OPTS (JVM options), CDS_NEW (NEW_FILE when this run records the
# archive, else empty) and CDS_ARCHIVE (where it is published).
cds_prepare() {
  CDS_OPTS=() CDS_NEW='' CDS_ARCHIVE=''
  [[ ${PEER_CDS:-1} != 0 ]] || return 0
  local j lib key dir
  j=$(readlink -f "$(command -v "$JAVA")") || return 0
  lib=${j%/bin/java}/lib/server/libjvm.so
  [[ -f $lib ]] || return 0
  key=$(printf '%s\n' "$j" "$(stat -L -c '%s %Y' "$lib")" "$2" | cksum | cut -d' ' -f1)
  dir=$(peer_cache_dir)/kafka-$1.cds
  mkdir -p "$dir" || return 0
  CDS_ARCHIVE=$dir/$3-$key.jsa
  if [[ -s $CDS_ARCHIVE ]]; then
    CDS_OPTS=("-XX:SharedArchiveFile=$CDS_ARCHIVE" '-Xlog:cds*=off')
  else
    CDS_NEW=$4
    rm -f "$CDS_NEW"
    CDS_OPTS=("-XX:ArchiveClassesAtExit=$CDS_NEW" '-Xlog:cds*=off')
  fi
}

# cds_publish NEW ARCHIVE CLASSPATH: publish a recorded archive if the JVM
# can map it (a JVM killed while writing leaves a useless one).
cds_publish() {
  [[ -n $1 && -s $1 ]] || return 0
  if "$JAVA" -Xshare:on "-XX:SharedArchiveFile=$1" '-Xlog:cds*=off' -cp "$3" -version >/dev/null 2>&1 &&
     cp "$1" "$2.tmp.$$" 2>/dev/null; then
    mv -f "$2.tmp.$$" "$2" || rm -f "$2.tmp.$$"
  fi
  rm -f "$1"
}

# tool_log_conf MAJOR DIR: a WARN-to-stderr logging configuration for the
# command-line tools (written by rename: tools may run concurrently); prints
# the JVM option that selects it.
tool_log_conf() {
  local f
  if [[ $1 == 3 ]]; then
    f=$2/log4j-tools.properties
    printf '%s\n' 'log4j.rootLogger=WARN, stderr' \
      'log4j.appender.stderr=org.apache.log4j.ConsoleAppender' \
      'log4j.appender.stderr.Target=System.err' \
      'log4j.appender.stderr.layout=org.apache.log4j.PatternLayout' \
      'log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n' >"$f.$$"
    echo "-Dlog4j.configuration=file:$f"
  else
    f=$2/log4j2-tools.properties
    printf '%s\n' 'status = warn' 'name = kafka-peer-tools' \
      'appender.stderr.type = Console' 'appender.stderr.name = STDERR' \
      'appender.stderr.target = SYSTEM_ERR' \
      'appender.stderr.layout.type = PatternLayout' \
      'appender.stderr.layout.pattern = [%d] %p %m (%c)%n' \
      'rootLogger.level = WARN' 'rootLogger.appenderRef.stderr.ref = STDERR' >"$f.$$"
    echo "-Dlog4j2.configurationFile=$f"
  fi
  mv -f "$f.$$" "$f"
}

# run_tool DIR CLASS_3 CLASS_4 ARGS...: a Kafka command-line tool against the
# running peer in DIR, as its admin client (the broker's certificate).
run_tool() {
  local d=$1 c3=$2 c4=$3 major kh logopt
  shift 3
  [[ -f $d/pids && -f $d/peer.env && -f $d/client.properties ]] || peer_die "no running peer in $d"
  local VERSION='' PORT='' KH=''
  # shellcheck source=/dev/null
  . "$d/peer.env"
  major=$(kafka_major "$VERSION")
  kh=$KH; [[ -f $kh/libs/kafka_2.13-$VERSION.jar ]] || kh=$(kafka_home "$VERSION")
  logopt=$(tool_log_conf "$major" "$d")
  local cls=$c3 cp rc=0; [[ $major == 4 ]] && cls=$c4
  JAVA=$(java_bin)
  cp=$(kafka_classpath "$kh")
  cds_prepare "$VERSION" "$kh" "${cls##*.}" "$d/${cls##*.}.$$.jsa"
  "$JAVA" -Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData \
    "${CDS_OPTS[@]}" "$logopt" -cp "$cp" "$cls" \
    --bootstrap-server "127.0.0.1:$PORT" --command-config "$d/client.properties" "$@" || rc=$?
  (( rc != 0 )) || cds_publish "$CDS_NEW" "$CDS_ARCHIVE" "$cp"
  [[ -z $CDS_NEW ]] || rm -f "$CDS_NEW"
  exit "$rc"
}

cmd=${1:-}; shift || true
case $cmd in
  acl)
    (( $# >= 2 )) || usage
    d=$(peer_dir_for "$RUN_PREFIX" "$1"); shift
    run_tool "$d" kafka.admin.AclCommand org.apache.kafka.tools.AclCommand "$@" ;;
  topic)
    (( $# == 2 || $# == 3 )) || usage
    d=$(peer_dir_for "$RUN_PREFIX" "$1")
    [[ $2 =~ ^[A-Za-z0-9._-]{1,249}$ ]] || peer_usage "bad topic name '$2'"
    [[ ${3:-1} =~ ^[1-9][0-9]*$ ]] || peer_usage "bad partition count '${3:-}'"
    run_tool "$d" kafka.admin.TopicCommand org.apache.kafka.tools.TopicCommand \
      --create --if-not-exists --topic "$2" --partitions "${3:-1}" --replication-factor 1 ;;
  stop)
    (( $# == 1 )) || usage
    d=$(peer_dir_for "$RUN_PREFIX" "$1")
    peer_stop_dir "$d" 30 || exit
    # the broker recorded its class-data archive when it exited
    if [[ -s $d/kafka.jsa && -f $d/peer.env ]]; then
      CDS_BROKER='' KH=''
      # shellcheck source=/dev/null
      . "$d/peer.env"
      JAVA=$(java_bin)
      [[ -z $CDS_BROKER ]] || cds_publish "$d/kafka.jsa" "$CDS_BROKER" "$(kafka_classpath "$KH")"
    fi
    rm -f "$d/kafka.jsa"
    exit ;;
  pick-ports)
    (( $# == 1 )) || usage
    peer_pick_ports "$1"
    exit ;;
  fetch)
    (( $# <= 1 )) || usage
    v=${1:-${KAFKA_VERSION:-$DEFAULT_VERSION}}
    kafka_major "$v" >/dev/null
    kafka_home "$v"
    exit ;;
  start) ;;
  *) usage ;;
esac

T0=$EPOCHREALTIME
(( $# >= 4 && $# <= 5 )) || usage
CA=$(realpath -e -- "$1") || peer_die "cannot find $1"
CERT=$(realpath -e -- "$2") || peer_die "cannot find $2"
KEY=$(realpath -e -- "$3") || peer_die "cannot find $3"
PORT=$4 CPORT=${5:-}
for f in "$CA" "$CERT" "$KEY"; do [[ -r $f ]] || peer_die "cannot read $f"; done
VERSION=${KAFKA_VERSION:-$DEFAULT_VERSION}
MAJOR=$(kafka_major "$VERSION")
JAVA=$(java_bin)
command -v keytool >/dev/null || peer_die "keytool not found"
command -v openssl >/dev/null || peer_die "openssl not found"
TIMEOUT=${PEER_TIMEOUT:-90}
[[ $TIMEOUT =~ ^[1-9][0-9]*$ ]] || peer_usage "bad PEER_TIMEOUT"

peer_check_port "$PORT"
if [[ -z $CPORT ]]; then
  mapfile -t extra < <(peer_pick_ports 2)
  CPORT=${extra[0]}; [[ $CPORT == "$PORT" ]] && CPORT=${extra[1]}
fi
peer_check_port "$CPORT"
[[ $CPORT != "$PORT" ]] || peer_usage "ports must be distinct"
V6PORT='' LISTENERS6='' ADVERTISED6='' MAP6=''
if [[ ${PEER_IPV6:-0} == 1 ]]; then
  mapfile -t extra < <(peer_pick_ports 3)
  for V6PORT in "${extra[@]}"; do [[ $V6PORT != "$PORT" && $V6PORT != "$CPORT" ]] && break; done
  LISTENERS6=",SSL6://[::1]:$V6PORT" ADVERTISED6=",SSL6://[::1]:$V6PORT" MAP6=",SSL6:SSL"
fi

# The broker authenticates to its own controller (and its raft client) with
# the server certificate, so it must be usable as a TLS client certificate.
EKU=$(openssl x509 -in "$CERT" -noout -ext extendedKeyUsage 2>/dev/null | tail -n +2 || true)
if [[ -n $EKU && $EKU != *"TLS Web Client Authentication"* ]]; then
  peer_die "the server certificate's extendedKeyUsage lacks clientAuth: the broker connects to its own SSL controller listener with it"
fi
# The broker's principal: Kafka's default principal builder uses
# X500Principal.getName() (RFC 2253); OpenSSL's RFC2253 rendering (UTF-8 kept
# as it is) agrees for the usual attributes (CN, O, OU, C, L, ST, DC, UID).
# Startup checks it against what the broker logs for its own connections.
SUBJECT=$(openssl x509 -in "$CERT" -noout -subject -nameopt RFC2253,-esc_msb) ||
  peer_die "cannot read the subject of $CERT"
SUBJECT=${SUBJECT#subject=}
BROKER_PRINCIPAL="User:$SUBJECT"
case ${SUPER_USERS:-} in
  '') SUPERS=$BROKER_PRINCIPAL ;;
  +*) SUPERS="$BROKER_PRINCIPAL;${SUPER_USERS#+}" ;;
  *) SUPERS=$SUPER_USERS ;;
esac

DIR=${PEER_DIR:-${TMPDIR:-/tmp}/$RUN_PREFIX.$PORT}
mkdir -p "$DIR" || peer_die "cannot create $DIR"
DIR=$(cd "$DIR" && pwd -P)
[[ -f $DIR/pids ]] && { peer_stop_dir "$DIR" 30 >/dev/null || peer_die "cannot stop the old peer in $DIR"; }
# Only ever remove what this script creates (PEER_DIR may be any directory).
rm -rf "$DIR/data"
rm -f "$DIR"/{ks.p12,ts.p12,server.properties,client.properties,peer.env,format.log,keytool.out} \
      "$DIR"/{log4j,log4j-tools}.properties "$DIR"/{log4j2,log4j2-tools}.properties \
      "$DIR"/{kafka,request,authorizer}.log "$DIR"/*.pid "$DIR"/*.jsa
mkdir -p "$DIR/data"

KH=$(kafka_home "$VERSION")
CP=$(kafka_classpath "$KH")
PDIR=$(prop_escape "$DIR")

# From here on a failure (or a signal) must not leave half a peer running.
started=0 KTPID=
cleanup_start() {
  [[ $started == 1 ]] && return
  [[ -n $KTPID ]] && kill "$KTPID" 2>/dev/null
  # spawned, but interrupted before its pid was recorded
  [[ -f $DIR/pids || ! -s $DIR/kafka.pid ]] || peer_write_pids "$DIR" "$(<"$DIR/kafka.pid")"
  peer_stop_dir "$DIR" 10 >/dev/null 2>&1 || true
}
trap cleanup_start EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Logging: the broker's own log on stdout (kafka.log), every completed
# request with its principal in request.log, authorizer decisions (denials
# at INFO, allowed at DEBUG) in authorizer.log.  Same line layout in both
# logging systems.
if [[ $MAJOR == 3 ]]; then
  LOGOPT="-Dlog4j.configuration=file:$DIR/log4j.properties"
  cat >"$DIR/log4j.properties" <<CONF
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=DEBUG, req
log4j.additivity.kafka.request.logger=false
log4j.appender.req=org.apache.log4j.FileAppender
log4j.appender.req.File=$PDIR/request.log
log4j.appender.req.layout=org.apache.log4j.PatternLayout
log4j.appender.req.layout.ConversionPattern=[%d] %m%n
log4j.logger.kafka.authorizer.logger=DEBUG, auth
log4j.additivity.kafka.authorizer.logger=false
log4j.appender.auth=org.apache.log4j.FileAppender
log4j.appender.auth.File=$PDIR/authorizer.log
log4j.appender.auth.layout=org.apache.log4j.PatternLayout
log4j.appender.auth.layout.ConversionPattern=[%d] %p %m%n
CONF
else
  LOGOPT="-Dlog4j2.configurationFile=$DIR/log4j2.properties"
  cat >"$DIR/log4j2.properties" <<CONF
status = warn
name = kafka-peer
shutdownHook = disable
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
appender.req.type = File
appender.req.name = REQUEST
appender.req.fileName = $PDIR/request.log
appender.req.layout.type = PatternLayout
appender.req.layout.pattern = [%d] %m%n
appender.auth.type = File
appender.auth.name = AUTHORIZER
appender.auth.fileName = $PDIR/authorizer.log
appender.auth.layout.type = PatternLayout
appender.auth.layout.pattern = [%d] %p %m%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.req.name = kafka.request.logger
logger.req.level = DEBUG
logger.req.additivity = false
logger.req.appenderRef.req.ref = REQUEST
logger.auth.name = kafka.authorizer.logger
logger.auth.level = DEBUG
logger.auth.additivity = false
logger.auth.appenderRef.auth.ref = AUTHORIZER
CONF
fi

# Small heap, serial GC, C1 only: starts faster and is plenty for tests.
BASE_JOPTS=(-Xmx256m -Xss1m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData
            -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true)
# shellcheck disable=SC2206 # options split at spaces, as documented
JOPTS=("${BASE_JOPTS[@]}" ${PEER_JAVA_OPTS:-} "$LOGOPT" -cp "$CP")

# Key and trust stores from the given PEMs (nothing new is generated).  The
# keystore first: it also checks that CERT and KEY belong together.
PW=$(openssl rand -hex 12)
( umask 077
  openssl pkcs12 -export -in "$CERT" -inkey "$KEY" -certfile "$CA" -name broker \
    -out "$DIR/ks.p12" -passout "pass:$PW" ) || peer_die "cannot make the PKCS#12 keystore"
# keytool (a JVM) makes the truststore while the storage tool (another JVM)
# formats the log directory.
keytool -importcert -noprompt -storetype PKCS12 -keystore "$DIR/ts.p12" \
  -storepass "$PW" -alias ca -file "$CA" >"$DIR/keytool.out" 2>&1 &
KTPID=$!

SSL_CONF="ssl.keystore.location=$PDIR/ks.p12
ssl.keystore.type=PKCS12
ssl.keystore.password=$PW
ssl.key.password=$PW
ssl.truststore.location=$PDIR/ts.p12
ssl.truststore.type=PKCS12
ssl.truststore.password=$PW
ssl.endpoint.identification.algorithm="
if [[ $MAJOR == 3 ]]; then
  QUORUM="controller.quorum.voters=1@127.0.0.1:$CPORT"
  FORMAT_ARGS=()
else
  # 4.x: a dynamic quorum (KIP-853), bootstrapped by `format --standalone`.
  QUORUM="controller.quorum.bootstrap.servers=127.0.0.1:$CPORT"
  FORMAT_ARGS=(--standalone)
fi
( umask 077; cat >"$DIR/server.properties" ) <<CONF
process.roles=broker,controller
node.id=1
$QUORUM
controller.listener.names=CONTROLLER
listeners=SSL://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CPORT$LISTENERS6
advertised.listeners=SSL://127.0.0.1:$PORT$ADVERTISED6
listener.security.protocol.map=SSL:SSL,CONTROLLER:SSL$MAP6
inter.broker.listener.name=SSL
$SSL_CONF
ssl.client.auth=required
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=$(prop_escape "$SUPERS")
log.dirs=$PDIR/data
auto.create.topics.enable=false
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=2
background.threads=2
num.recovery.threads.per.data.dir=1
${PEER_SERVER_PROPERTIES:-}
CONF
( umask 077; cat >"$DIR/client.properties" ) <<CONF
security.protocol=SSL
$SSL_CONF
CONF
printf 'VERSION=%s\nPORT=%s\nCPORT=%s\nKH=%q\n' "$VERSION" "$PORT" "$CPORT" "$KH" >"$DIR/peer.env"

# A cluster id is a base64url Uuid (22 characters); one starting with '-'
# would read as an option.
CLUSTER_ID=-
while [[ $CLUSTER_ID == -* ]]; do
  CLUSTER_ID=$(openssl rand 16 | base64 | tr '+/' '-_' | tr -d '=\n')
done
cds_prepare "$VERSION" "$KH" StorageTool "$DIR/StorageTool.jsa"
"$JAVA" "${BASE_JOPTS[@]}" "${CDS_OPTS[@]}" "$(tool_log_conf "$MAJOR" "$DIR")" -cp "$CP" \
  kafka.tools.StorageTool format -t "$CLUSTER_ID" -c "$DIR/server.properties" "${FORMAT_ARGS[@]}" \
  >"$DIR/format.log" 2>&1 ||
  { cat "$DIR/format.log" >&2; peer_die "formatting the log directory failed (see $DIR/format.log)"; }
cds_publish "$CDS_NEW" "$CDS_ARCHIVE" "$CP"
wait "$KTPID" || { cat "$DIR/keytool.out" >&2; peer_die "cannot make the truststore"; }
KTPID=
rm -f "$DIR/keytool.out"

cds_prepare "$VERSION" "$KH" kafka "$DIR/kafka.jsa"
[[ -n $CDS_NEW ]] && printf 'CDS_BROKER=%q\n' "$CDS_ARCHIVE" >>"$DIR/peer.env"
KPID=$(peer_spawn "$DIR" kafka kafka.log "$JAVA" "${CDS_OPTS[@]}" "${JOPTS[@]}" kafka.Kafka "$DIR/server.properties")
peer_write_pids "$DIR" "$KPID"

# broker_principal: the principal of the broker's own connections to its
# controller listener, as Kafka's request log shows it (JSON-unescaped; empty
# until the first one).
broker_principal() {
  { grep -m1 '^[^{]*{"isForwarded":false,.*"listener":"CONTROLLER"' "$DIR/request.log" 2>/dev/null || true; } |
    sed -n 's/.*"securityProtocol":"[A-Z_]*","principal":"\(\([^"\\]\|\\.\)*\)".*/\1/; T; s/\\\(.\)/\1/g; p'
}

# is_super PRINCIPAL: PRINCIPAL is in super.users (Kafka splits it at ';'
# and trims each entry).
is_super() {
  local e entries
  IFS=';' read -r -a entries <<<"$SUPERS"
  for e in "${entries[@]}"; do
    e=${e#"${e%%[![:space:]]*}"}; e=${e%"${e##*[![:space:]]}"}
    [[ $e == "$1" ]] && return 0
  done
  return 1
}

# Ready: the broker logged that it started (after it registered with the
# controller, was unfenced and loaded the ACLs) and listens on PORT.  Fails
# fast when the JVM exits, or when the broker's own principal is not a super
# user (its registration would be denied for ever).
deadline=$((SECONDS + TIMEOUT))
until grep -q 'Kafka Server started' "$DIR/kafka.log" && peer_listening "$PORT" "$KPID" &&
      { [[ -z $V6PORT ]] || peer_listening "$V6PORT" "$KPID"; }; do
  if ! peer_alive "$KPID"; then
    grep -A3 -E '^\[[^]]*\] (FATAL|ERROR) ' "$DIR/kafka.log" | head -n 20 >&2 || tail -n 20 "$DIR/kafka.log" >&2 || true
    grep -qs 'Address already in use' "$DIR/kafka.log" && peer_busy "a port is busy"
    peer_die "kafka $VERSION failed to start (see $DIR/kafka.log)"
  fi
  if grep -q 'failed authentication due to' "$DIR/kafka.log"; then
    grep -m3 'failed authentication due to' "$DIR/kafka.log" >&2 || true
    peer_die "the broker cannot authenticate to its own controller listener (see $DIR/kafka.log)"
  fi
  seen=$(broker_principal)
  if { [[ -n $seen ]] && ! is_super "$seen"; } ||
     grep -q 'returned error CLUSTER_AUTHORIZATION_FAILED' "$DIR/kafka.log"; then
    peer_die "the broker connects as '${seen:-?}', which is not a super user (super.users=$SUPERS; set SUPER_USERS)"
  fi
  (( SECONDS < deadline )) || peer_die "kafka $VERSION not ready after ${TIMEOUT}s (see $DIR/kafka.log)"
  sleep 0.05
done
seen=$(broker_principal)
if [[ -n $seen && $seen != "$BROKER_PRINCIPAL" ]]; then
  echo "$PEER_NAME: warning: Kafka renders the broker's subject as '$seen', openssl as '$BROKER_PRINCIPAL'" >&2
  BROKER_PRINCIPAL=$seen
fi
started=1

echo "PIDS $KPID"
echo "BOOTSTRAP 127.0.0.1:$PORT"
[[ -z $V6PORT ]] || echo "BOOTSTRAP6 [::1]:$V6PORT"
echo "VERSION $VERSION"
echo "SUPER_USER $BROKER_PRINCIPAL"
echo "DIR $DIR"
echo "STARTED_MS $(( (10#${EPOCHREALTIME//[!0-9]/} - 10#${T0//[!0-9]/}) / 1000 ))"
echo "STOP $HERE/kafka-peer.sh stop $DIR"
