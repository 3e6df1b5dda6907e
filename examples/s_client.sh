#!/bin/bash
# s_client.sh — mutual TLS with the stock `openssl s_client`, the client's key,
# certificate and trusted CAs coming only from a keystore volume:
#
#   OPENSSL_CONF=conf/openssl-kafka-mtls.cnf openssl s_client \
#     -cert keystore:VOL -key keystore:VOL -CAstore keystore:VOL ...
#
# against `openssl s_server -Verify 1 -verify_return_error`, which requires a
# client certificate and verifies it. Prints the client subject the server
# verified. Exits 0 on success.
#
#   examples/s_client.sh                  throwaway CA + seed-recipe volume (keytool)
#   examples/s_client.sh CA_DIR VOLUME    an existing CA (tests/fixtures/volume.sh ca)
#                                         and a client volume it signed
# Environment: BUILD_DIR (default build/ of this checkout: its provider/ is
# used as OPENSSL_MODULES when it holds kafka-mtls.so; otherwise the
# installed module is used).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
VOLUME_SH=$ROOT/tests/fixtures/volume.sh
die() { echo "s_client.sh: $*" >&2; exit 1; }
(( $# == 0 || $# == 2 )) || { echo "usage: $0 [CA_DIR VOLUME]" >&2; exit 2; }
command -v openssl >/dev/null || die "openssl not found"

W=$(mktemp -d "${TMPDIR:-/tmp}/kafka-mtls-s_client.XXXXXX")
SERVER_PID=
server_in=
cleanup() {
  [[ -z $SERVER_PID ]] || kill "$SERVER_PID" 2>/dev/null || true
  [[ -z $server_in ]] || exec {server_in}>&-
  rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if (( $# == 2 )); then
  CA=$(realpath -e -- "$1") || die "no CA at $1"
  VOL=$(realpath -e -- "$2") || die "no volume at $2"
else
  echo "--- a throwaway CA and a client volume (the seed's keytool recipe: client1.keystore.jks, ...)"
  "$VOLUME_SH" ca "$W/ca" "kafka-mtls s_client example CA" >/dev/null
  "$VOLUME_SH" seed PKCS12 "$W/ca" "$W/keystore/client1"
  CA=$W/ca VOL=$W/keystore/client1
fi
"$VOLUME_SH" server "$CA" "$W/server"   # server certificate for 127.0.0.1

modules=${BUILD_DIR:-$ROOT/build}/provider
if [[ -f $modules/kafka-mtls.so ]]; then
  export OPENSSL_MODULES=$modules
elif [[ ! -f $(openssl version -m | sed -n 's/^MODULESDIR: "\(.*\)"$/\1/p')/kafka-mtls.so ]]; then
  die "kafka-mtls.so not found in $modules or OpenSSL's modules directory: build or install it"
fi

# The server: a client certificate is required (-Verify) and must chain to
# the CA (-verify_return_error); one connection, then it exits. Its stdin is
# a FIFO held open by this script: at EOF on stdin s_server would shut down.
mkfifo "$W/server.in"
exec {server_in}<>"$W/server.in"
start_server() {
  local port
  port=$("$ROOT/tests/peer/mtls-peer.sh" pick-ports 1)
  : >"$W/server.log"
  openssl s_server -accept "127.0.0.1:$port" -naccept 1 -Verify 1 -verify_return_error \
    -cert "$W/server/server.crt" -key "$W/server/server.key" -CAfile "$CA/ca.crt" \
    <"$W/server.in" >"$W/server.log" 2>&1 &
  SERVER_PID=$!
  # ready once it prints ACCEPT (it has bound and listens)
  local deadline=$((SECONDS + 10))
  until grep -q '^ACCEPT' "$W/server.log"; do
    kill -0 "$SERVER_PID" 2>/dev/null || { SERVER_PID=; return 1; }
    (( SECONDS < deadline )) || die "s_server not ready after 10 s: $(cat "$W/server.log")"
    sleep 0.02
  done
  PORT=$port
}
for try in 1 2 3; do
  start_server && break
  (( try < 3 )) || die "s_server did not start: $(cat "$W/server.log")"
done   # (a retry only if another process took the port meanwhile)

U=keystore:$VOL
MSG="hello from openssl s_client, key material from $U"
echo "--- openssl s_client, key, certificate and CAs from $U"
echo "  \$ ${OPENSSL_MODULES:+OPENSSL_MODULES=${OPENSSL_MODULES#"$ROOT"/} }OPENSSL_CONF=conf/openssl-kafka-mtls.cnf \\"
echo "      openssl s_client -connect 127.0.0.1:$PORT \\"
echo "      -cert $U -key $U -CAstore $U -verify_return_error -verify_ip 127.0.0.1 -quiet -no_ign_eof"
if ! out=$(printf '%s\n' "$MSG" |
           OPENSSL_CONF=$ROOT/conf/openssl-kafka-mtls.cnf timeout -k 5 30 \
           openssl s_client -connect "127.0.0.1:$PORT" -cert "$U" -key "$U" -CAstore "$U" \
             -verify_return_error -verify_ip 127.0.0.1 -quiet -no_ign_eof 2>&1); then
  die "s_client failed:
$out
server: $(cat "$W/server.log")"
fi
# s_server exits after its one connection (-naccept 1); its log is complete then
for _ in $(seq 500); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.02; done

subject=$(sed -n 's/^subject=//p' "$W/server.log")
if [[ -z $subject ]] || ! grep -qxF "$MSG" "$W/server.log"; then
  die "the server did not verify the client:
$(cat "$W/server.log")"
fi
echo "--- s_server verified the client certificate and received the message"
echo "  client subject: $subject"
echo "  issuer:         $(sed -n 's/^issuer=//p' "$W/server.log")"
echo "  received:       $MSG"
