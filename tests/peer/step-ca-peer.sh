#!/bin/bash
# step-ca-peer.sh - a real certificate authority for enrolment tests:
# smallstep step-ca (github.com/smallstep/certificates) built from the Go
# module proxy, with the step CLI (github.com/smallstep/cli) for tokens.
# It listens on https://127.0.0.1:PORT only (a server certificate for IP
# 127.0.0.1 issued by its own intermediate; verify it with ROOT) and has one
# JWK provisioner, "enrol", whose one-time tokens bind one identity:
#   POST /1.0/sign   {"csr": PEM, "ott": token[, "notAfter": "2m"]}
#                    -> 201 {"crt","ca","certChain":[leaf, intermediate]}
#   POST /1.0/renew  (mutual TLS with the current certificate; no body)
#   POST /1.0/rekey  (mutual TLS, {"csr": PEM with the NEW key})
# The certificate's subject is CN=<token subject>, O=$PEER_SUBJECT_O,
# C=$PEER_SUBJECT_C in that DER order (RFC 2253: "C=GB,O=UK Home
# Office,CN=<subject>"), EKU clientAuth (template step-ca/client-leaf.tpl).
#
#   step-ca-peer.sh fetch
#       build step-ca and step (once, into the cache dir) and print
#         STEP_CA <path>
#         STEP <path>
#   step-ca-peer.sh init PKI_DIR
#       make a fresh test PKI in PKI_DIR (created 0700; refuses to overwrite):
#       root.crt/root.key (EC P-256, self-signed) and int.crt/int.key (the
#       issuing intermediate, pathlen 0).  Prints ROOT <path>, INTERMEDIATE
#       <path>, DIR <PKI_DIR>.
#   step-ca-peer.sh start PKI_DIR PORT
#       PKI_DIR holds root.crt, int.crt and int.key (unencrypted, or with its
#       password in int.pass); root.key is not needed.  Prints, on success:
#         PIDS <step-ca-pid>
#         URL https://127.0.0.1:<PORT>
#         ROOT <PKI_DIR>/root.crt
#         DIR <run dir>
#         STARTED_MS <ms from the call to GET /health answering {"status":"ok"}>
#         STOP <this script> stop <run dir>
#   step-ca-peer.sh token DIR|PORT SUBJECT_CN [SAN...]
#       print a one-time enrolment token (JWT, valid $PEER_TOKEN_TTL) for
#       exactly that identity: CN SUBJECT_CN and, in the certificate, exactly
#       the SANs given (DNS name, IP, e-mail or URI; none by default)
#   step-ca-peer.sh stop DIR|PORT
#   step-ca-peer.sh pick-ports N        N free loopback TCP ports, one a line
#
# Environment:
#   PEER_DIR        run dir (default ${TMPDIR:-/tmp}/step-ca-peer.<PORT>)
#   PEER_TIMEOUT    seconds to wait for /health (default 20)
#   PEER_SUBJECT_O  the O of every issued certificate (default "UK Home Office")
#   PEER_SUBJECT_C  the C of every issued certificate (default GB)
#   PEER_CERT_MIN, PEER_CERT_DEFAULT, PEER_CERT_MAX
#                   the provisioner's TLS certificate durations (default 1m,
#                   24h, 2160h); a client asks for one with "notAfter"
#   PEER_RENEW_AFTER_EXPIRY  true: allowRenewalAfterExpiry (default false)
#   PEER_TOKEN_TTL  token lifetime for `token` (default 5m)
#   PEER_PKI_DAYS   validity of the PKI made by `init` (default 30)
#   STEP_CA_BIN, STEP_BIN  prebuilt binaries (both or neither); otherwise
#                   built with `go install` (GO, else /usr/local/go/bin/go,
#                   else go on PATH; Go >= 1.25: `step-ca-peer.sh go` prints
#                   it or says why there is none) into the cache dir (see
#                   peer-lib.sh: PEER_CACHE, XDG_CACHE_HOME, HOME) once,
#                   under a lock, with GOPATH/GOMODCACHE/GOCACHE inside it
#
# Run dir: step-ca.log (the CA's log: one line per request with the path,
# status, subject/serial of what it issued, or the error), ca.json,
# client-leaf.tpl, provisioner.pub.json / provisioner.key.json (the JWK
# provisioner's key pair, made at start, 0600), peer.env, steppath/ (STEPPATH
# for both tools), pids, step-ca.pid.  No database: used token IDs are kept
# in memory, and tokens issued before the CA started are refused, so a
# restart cannot be used to replay one.
# Exit codes: 0 ok, 1 failure, 2 usage, 3 a port is busy (pick others, retry),
# 77 (fetch) step-ca cannot be built here: no Go, no module proxy, a build
# that fails (a failure instead with KMTLS_REQUIRE_PEERS=1, peer-lib.sh).
#
# Needs: bash, openssl, curl, iproute2 (ss), /proc; to build: Go >= 1.25 and
# the Go module proxy (first run only).  Never writes keys into the source tree.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
PEER_NAME=step-ca-peer
# shellcheck source=peer-lib.sh
. "$HERE/peer-lib.sh"

STEP_CA_MOD=github.com/smallstep/certificates
STEP_CA_VERSION=v0.30.2
STEP_CA_SUM=h1:1G3xBi8sJ740iA1mMPW2Svv7EIZKJ4Zf/iQtA5QlN0Y=
STEP_CLI_MOD=github.com/smallstep/cli
STEP_CLI_VERSION=v0.30.2
STEP_CLI_SUM=h1:ql3fWFwXwICBL5LHy+MBPglx3kxj3ERmhUAX2mYGCx4=
STEP_TAG=step-ca-${STEP_CA_VERSION#v}+step-${STEP_CLI_VERSION#v}

usage() {
  peer_usage "usage: $0 go | fetch | init PKI_DIR | start PKI_DIR PORT | token DIR SUBJECT_CN [SAN...] | stop DIR|PORT | pick-ports N"
}

# step_bins: print "<step-ca> <step>"; built once into the cache dir.
step_bins() {
  if [[ -n ${STEP_CA_BIN:-} || -n ${STEP_BIN:-} ]]; then
    [[ -x ${STEP_CA_BIN:-} && -x ${STEP_BIN:-} ]] ||
      peer_die "set both STEP_CA_BIN and STEP_BIN to executables (or neither)"
    echo "$STEP_CA_BIN $STEP_BIN"
    return
  fi
  local cache pub
  cache=$(peer_cache_dir)
  pub=$cache/$STEP_TAG
  if [[ ! -x $pub/bin/step-ca || ! -x $pub/bin/step ]]; then
    local go
    go=$(peer_go 25) || exit   # the go.mod of step-ca's release: go 1.25
    (
      flock -w 1800 9 || peer_die "timed out waiting for the lock on $cache/step-ca.lock"
      [[ -x $pub/bin/step-ca && -x $pub/bin/step ]] && exit 0
      tmp=$(mktemp -d "$cache/$STEP_TAG.tmp.XXXXXX")
      trap 'rm -rf "$tmp"' EXIT
      echo "$PEER_NAME: building $STEP_TAG into $cache (once; several minutes)" >&2
      # The project's Go layout (as tests/clients/go-build.sh): one GOPATH,
      # module cache and build cache in CACHE/go, shared by every Go build.
      export GOPATH=$cache/go GOMODCACHE=$cache/go/pkg/mod GOCACHE=$cache/go/cache \
             GOFLAGS=-modcacherw CGO_ENABLED=0 GOBIN=$tmp/bin GOTOOLCHAIN=${GOTOOLCHAIN:-local} \
             GOWORK=off
      cd "$tmp"   # no go.mod around: `go install mod@version` and `go mod download` stand alone
      check_sum() {  # MOD VERSION SUM: the module zip is the pinned one
        local got
        got=$("$go" mod download -json "$1@$2" | sed -n 's/^[[:space:]]*"Sum": "\(.*\)",$/\1/p')
        [[ -n $got ]] || peer_unavailable "$1@$2: cannot download it (the Go module proxy)"
        [[ $got == "$3" ]] || peer_die "$1@$2: module sum '$got' is not the pinned $3"
      }
      check_sum "$STEP_CA_MOD" "$STEP_CA_VERSION" "$STEP_CA_SUM"
      check_sum "$STEP_CLI_MOD" "$STEP_CLI_VERSION" "$STEP_CLI_SUM"
      "$go" install -p 2 -trimpath \
        -ldflags "-s -w -X main.Version=${STEP_CA_VERSION#v} -X main.BuildTime=peer" \
        "$STEP_CA_MOD/cmd/step-ca@$STEP_CA_VERSION" >&2 || peer_unavailable "building step-ca failed"
      "$go" install -p 2 -trimpath \
        -ldflags "-s -w -X main.Version=${STEP_CLI_VERSION#v} -X main.BuildTime=peer" \
        "$STEP_CLI_MOD/cmd/step@$STEP_CLI_VERSION" >&2 || peer_unavailable "building step failed"
      [[ -x $tmp/bin/step-ca && -x $tmp/bin/step ]] || peer_die "go install made no binaries"
      rm -rf "$pub"   # a partial leftover (we hold the lock)
      { mkdir "$tmp/pub" && mv "$tmp/bin" "$tmp/pub/bin" && mv -T "$tmp/pub" "$pub"; } ||
        peer_die "cannot install into $pub"
    ) 9>"$cache/step-ca.lock" || exit
    [[ -x $pub/bin/step-ca && -x $pub/bin/step ]] || peer_die "building $STEP_TAG failed"
  fi
  echo "$pub/bin/step-ca $pub/bin/step"
}


# json_str S: S as a JSON string literal.
# shellcheck disable=SC1003  # '\' is a backslash, not an escaped quote
json_str() {
  local s=$1 out='"' c i
  for (( i = 0; i < ${#s}; i++ )); do
    c=${s:i:1}
    case $c in
      '"') out+='\"' ;;
      '\') out+='\\' ;;
      $'\n') out+='\n' ;;
      $'\t') out+='\t' ;;
      *) if [[ $c < ' ' ]]; then peer_usage "control character in '$s'"; fi; out+=$c ;;
    esac
  done
  printf '%s"' "$out"
}

# duration_ok D: a Go duration step-ca accepts, e.g. 90s, 1m, 24h, 1h30m.
duration_ok() { [[ $1 =~ ^([0-9]+(ns|us|ms|s|m|h))+$ ]]; }

pki_init() {  # pki_init PKI_DIR
  local d=$1 days=${PEER_PKI_DAYS:-30} f
  [[ $days =~ ^[1-9][0-9]*$ ]] || peer_usage "bad PEER_PKI_DAYS"
  if [[ ! -d $d ]]; then
    { mkdir -p "$(dirname -- "$d")" && mkdir -m 700 "$d"; } || peer_die "cannot create $d"
  fi
  d=$(cd "$d" && pwd -P)
  for f in root.crt root.key int.crt int.key; do
    [[ ! -e $d/$f ]] || peer_die "$d/$f exists already (init makes a fresh PKI; use another directory)"
  done
  ( umask 077; set -e
    cd "$d"
    openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
      -keyout root.key.tmp -out root.crt.tmp -days "$days" -sha256 \
      -subj "/O=kafka-mtls test/CN=kafka-mtls test step-ca root $(openssl rand -hex 4)" \
      -addext basicConstraints=critical,CA:TRUE \
      -addext keyUsage=critical,keyCertSign,cRLSign \
      -addext subjectKeyIdentifier=hash 2>/dev/null
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
      -keyout int.key.tmp -out int.csr.tmp \
      -subj "/O=kafka-mtls test/CN=kafka-mtls test step-ca intermediate" 2>/dev/null
    printf '%s\n' 'basicConstraints=critical,CA:TRUE,pathlen:0' \
      'keyUsage=critical,keyCertSign,cRLSign,digitalSignature' \
      'subjectKeyIdentifier=hash' 'authorityKeyIdentifier=keyid:always' >int.ext.tmp
    openssl x509 -req -in int.csr.tmp -CA root.crt.tmp -CAkey root.key.tmp \
      -set_serial "0x$(openssl rand -hex 16)" -days "$days" -sha256 \
      -extfile int.ext.tmp -out int.crt.tmp 2>/dev/null
    rm -f int.csr.tmp int.ext.tmp
    chmod 644 root.crt.tmp int.crt.tmp
    mv root.key.tmp root.key && mv int.key.tmp int.key &&
      mv root.crt.tmp root.crt && mv int.crt.tmp int.crt
  ) || { rm -f "$d"/*.tmp; peer_die "openssl could not make the PKI in $d"; }
  echo "ROOT $d/root.crt"
  echo "INTERMEDIATE $d/int.crt"
  echo "DIR $d"
}

# peer_env DIR KEY: a value from DIR/peer.env (written by start).
peer_env() {
  local k v
  while IFS='=' read -r k v; do
    [[ $k == "$2" ]] && { printf '%s\n' "$v"; return 0; }
  done <"$1/peer.env"
  return 1
}

mint_token() {  # mint_token DIR SUBJECT [SAN...]
  local d=$1 subj=$2 url root prov ttl=${PEER_TOKEN_TTL:-5m} san args=()
  shift 2
  [[ -f $d/peer.env && -f $d/pids ]] || peer_die "no running peer in $d"
  duration_ok "$ttl" || peer_usage "bad PEER_TOKEN_TTL '$ttl'"
  [[ -n $subj ]] || peer_usage "token: SUBJECT_CN must not be empty"
  if ! url=$(peer_env "$d" URL) || ! root=$(peer_env "$d" ROOT) || ! prov=$(peer_env "$d" PROVISIONER); then
    peer_die "$d/peer.env is incomplete"
  fi
  read -r _ st < <(step_bins)
  for san in "$@"; do
    [[ -n $san ]] || peer_usage "token: empty SAN"
    args+=(--san "$san")
  done
  # The step CLI adds the subject as the only SAN when none is given; the
  # template drops a SAN equal to the subject, so the certificate then has none.
  local err
  err=$(mktemp "$d/token.err.XXXXXX")
  STEPPATH=$d/steppath "$st" ca token "$subj" "${args[@]}" \
    --ca-url "$url" --root "$root" --provisioner "$prov" \
    --key "$d/provisioner.key.json" --not-after "$ttl" 2>"$err" ||
    { cat "$err" >&2; rm -f "$err"; peer_die "step ca token failed"; }
  rm -f "$err"
}

cmd=${1:-}; shift || true
case $cmd in
  go)   # the go command a build would use, or why there is none
    (( $# == 0 )) || usage
    peer_go 25
    exit ;;
  fetch)
    (( $# == 0 )) || usage
    bins=$(step_bins)   # its exit status (77: cannot be built) is this one's
    read -r sca st <<<"$bins"
    [[ -n ${st:-} ]] || exit 1
    echo "STEP_CA $sca"
    echo "STEP $st"
    exit ;;
  init)
    (( $# == 1 )) || usage
    command -v openssl >/dev/null || peer_die "openssl not found"
    pki_init "$1"
    exit ;;
  token)
    (( $# >= 2 )) || usage
    d=$(peer_dir_for step-ca-peer "$1"); shift
    mint_token "$d" "$@"
    exit ;;
  stop)
    (( $# == 1 )) || usage
    peer_stop_dir "$(peer_dir_for step-ca-peer "$1")" 5
    exit ;;
  pick-ports)
    (( $# == 1 )) || usage
    peer_pick_ports "$1"
    exit ;;
  start) ;;
  *) usage ;;
esac

(( $# == 2 )) || usage
T0=$EPOCHREALTIME
PKI=$(cd "$1" 2>/dev/null && pwd -P) || peer_die "cannot find PKI_DIR $1"
PORT=$2
for f in root.crt int.crt int.key; do
  [[ -r $PKI/$f ]] || peer_die "cannot read $PKI/$f (make a test PKI with: $0 init DIR)"
done
for t in openssl curl; do command -v "$t" >/dev/null || peer_die "$t not found"; done
TIMEOUT=${PEER_TIMEOUT:-20}
[[ $TIMEOUT =~ ^[1-9][0-9]*$ ]] || peer_usage "bad PEER_TIMEOUT"
MIN=${PEER_CERT_MIN:-1m} DEF=${PEER_CERT_DEFAULT:-24h} MAX=${PEER_CERT_MAX:-2160h}
for v in "$MIN" "$DEF" "$MAX"; do duration_ok "$v" || peer_usage "bad certificate duration '$v'"; done
AFTER_EXPIRY=${PEER_RENEW_AFTER_EXPIRY:-false}
[[ $AFTER_EXPIRY == true || $AFTER_EXPIRY == false ]] || peer_usage "PEER_RENEW_AFTER_EXPIRY must be true or false"
SUBJ_O=${PEER_SUBJECT_O-UK Home Office} SUBJ_C=${PEER_SUBJECT_C-GB}
peer_check_port "$PORT"

DIR=${PEER_DIR:-${TMPDIR:-/tmp}/step-ca-peer.$PORT}
mkdir -p "$DIR" || peer_die "cannot create $DIR"
DIR=$(cd "$DIR" && pwd -P)
[[ -f $DIR/pids ]] && { peer_stop_dir "$DIR" 5 >/dev/null || peer_die "cannot stop the old peer in $DIR"; }
for p in "$DIR" "$PKI"; do
  [[ $p != *[\"\\]* ]] || peer_die "path $p must not contain a quote or a backslash"
done
# Only ever remove what this script creates (PEER_DIR may be any directory).
rm -rf "$DIR/steppath"
rm -f "$DIR"/{ca.json,client-leaf.tpl,provisioner.pub.json,provisioner.key.json,peer.env} \
      "$DIR"/step-ca.log "$DIR"/*.pid
mkdir -m 700 "$DIR/steppath"
export STEPPATH=$DIR/steppath

read -r STEP_CA STEP < <(step_bins)
[[ -n ${STEP:-} ]] || exit 1

# From here on a failure (or a signal) must not leave half a peer running.
started=0
trap '[[ $started == 1 ]] || peer_stop_dir "$DIR" 5 >/dev/null 2>&1 || true' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The provisioner's key pair: new for every start, never leaves the run dir.
( umask 077
  "$STEP" crypto jwk create "$DIR/provisioner.pub.json" "$DIR/provisioner.key.json" \
    --kty EC --crv P-256 --use sig --no-password --insecure --force >/dev/null 2>"$DIR/step-ca.log"
) || { cat "$DIR/step-ca.log" >&2; peer_die "step crypto jwk create failed"; }
cp "$HERE/step-ca/client-leaf.tpl" "$DIR/client-leaf.tpl"

PASS=()
[[ -f $PKI/int.pass ]] && PASS=(--password-file "$PKI/int.pass")
TDATA="\"organization\": $(json_str "$SUBJ_O"), \"country\": $(json_str "$SUBJ_C")"
( umask 077; cat >"$DIR/ca.json" ) <<CONF
{
  "root": "$PKI/root.crt",
  "crt": "$PKI/int.crt",
  "key": "$PKI/int.key",
  "address": "127.0.0.1:$PORT",
  "dnsNames": ["127.0.0.1"],
  "logger": {"format": "text"},
  "authority": {
    "provisioners": [{
      "type": "JWK",
      "name": "enrol",
      "key": $(cat "$DIR/provisioner.pub.json"),
      "claims": {
        "minTLSCertDuration": "$MIN",
        "defaultTLSCertDuration": "$DEF",
        "maxTLSCertDuration": "$MAX",
        "disableRenewal": false,
        "allowRenewalAfterExpiry": $AFTER_EXPIRY,
        "enableSSHCA": false
      },
      "options": {"x509": {
        "templateFile": "$DIR/client-leaf.tpl",
        "templateData": {$TDATA}
      }}
    }]
  },
  "tls": {"minVersion": 1.2, "maxVersion": 1.3, "renegotiation": false}
}
CONF
{ echo "URL=https://127.0.0.1:$PORT"; echo "ROOT=$PKI/root.crt"; echo "PROVISIONER=enrol"
  echo "PORT=$PORT"; } >"$DIR/peer.env"

PID=$(peer_spawn "$DIR" step-ca step-ca.log "$STEP_CA" "${PASS[@]}" "$DIR/ca.json")
peer_write_pids "$DIR" "$PID"

# Ready when GET /health, verified with ROOT, says {"status":"ok"}; fail
# fast when step-ca exits (bad config, port taken, ...).
deadline=$((SECONDS + TIMEOUT))
until [[ $(curl -sS --max-time 2 --cacert "$PKI/root.crt" \
            "https://127.0.0.1:$PORT/health" 2>/dev/null) == '{"status":"ok"}' ]]; do
  if ! peer_alive "$PID"; then
    tail -n 20 "$DIR/step-ca.log" >&2 || true
    grep -qs 'address already in use' "$DIR/step-ca.log" && peer_busy "port $PORT is busy"
    peer_die "step-ca failed to start (see $DIR/step-ca.log)"
  fi
  (( SECONDS < deadline )) || peer_die "step-ca not ready after ${TIMEOUT}s (see $DIR/step-ca.log)"
  sleep 0.02
done
peer_listening "$PORT" "$PID" || peer_die "step-ca (pid $PID) is not the one listening on $PORT"
started=1

echo "PIDS $PID"
echo "URL https://127.0.0.1:$PORT"
echo "ROOT $PKI/root.crt"
echo "DIR $DIR"
echo "STARTED_MS $(( (10#${EPOCHREALTIME//[!0-9]/} - 10#${T0//[!0-9]/}) / 1000 ))"
echo "STOP $HERE/step-ca-peer.sh stop $DIR"
