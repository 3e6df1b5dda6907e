#!/bin/bash
# Mutual TLS with openssl s_client, key material only from keystore: URIs,
# against s_server -Verify (client certificate required and verified).
. "$(dirname "$0")/lib.sh"

# mtls NAME VOLUME_URI EXPECTED_CLIENT_CN [extra s_client args...]
mtls() {
  local name=$1 uri=$2 cn=$3 log="$WORK/server.$RANDOM.log" out; shift 3
  start_s_server "$log" -cert "$FX/server/server.crt" -key "$FX/server/server.key" \
    -CAfile "$FX/ca/ca.crt" || { fail "$name: server"; return; }
  out=$(echo "hello from $name" | openssl s_client "${PROV[@]}" "$@" -connect "127.0.0.1:$SERVER_PORT" \
        -cert "$uri" -key "$uri" -CAstore "$uri" -verify_return_error -verify_ip 127.0.0.1 \
        -quiet -no_ign_eof 2>&1)
  wait "$SERVER_PID" 2>/dev/null
  if grep -q "CN = $cn\$" "$log" && grep -q "hello from $name" "$log"; then
    ok "$name: server verified client CN=$cn"
  else
    fail "$name: mutual TLS" "client: $out
server: $(cat "$log")"
  fi
}

mtls "seed PKCS#12 volume" "keystore:$VOL/client-p12" client-p12
mtls "seed JKS volume" "keystore:$VOL/client-jks" client-jks
mtls "seed JCEKS volume" "keystore:$VOL/client-jceks" client-jceks
mtls "cert-manager volume" "keystore:$VOL/cm" cm-client
mtls "spiffe-helper volume" "keystore:$VOL/spiffe" spiffe-client
mtls "2-level chain (intermediate via -cert_chain)" "keystore:$VOL/client-chain" client-chain \
     -cert_chain "keystore:$VOL/client-chain?part=keystore"
mtls "single keystore file, password from ALIAS_creds" \
     "keystore:$VOL/client-p12/client-p12.keystore.jks" client-p12

# Through OPENSSL_CONF only: no -provider flags at all.
log="$WORK/conf.log"
start_s_server "$log" -cert "$FX/server/server.crt" -key "$FX/server/server.key" -CAfile "$FX/ca/ca.crt"
u="keystore:$VOL/client-p12"
out=$(echo via-conf | OPENSSL_CONF="$KMTLS_SOURCE_ROOT/conf/openssl-kafka-mtls.cnf" \
      OPENSSL_MODULES="$(dirname "$KMTLS_MODULE")" \
      openssl s_client -connect "127.0.0.1:$SERVER_PORT" -cert "$u" -key "$u" -CAstore "$u" \
      -verify_return_error -quiet -no_ign_eof 2>&1)
wait "$SERVER_PID" 2>/dev/null
if grep -q "CN = client-p12\$" "$log" && grep -q via-conf "$log"; then ok "OPENSSL_CONF only: mutual TLS"
else fail "OPENSSL_CONF only: mutual TLS" "$out
$(cat "$log")"; fi

# A client volume signed by a foreign CA is refused by the server.
log="$WORK/foreign.log"
start_s_server "$log" -cert "$FX/server/server.crt" -key "$FX/server/server.key" -CAfile "$FX/ca/ca.crt"
u="keystore:$VOL/foreign"
out=$(echo nope | openssl s_client "${PROV[@]}" -connect "127.0.0.1:$SERVER_PORT" -cert "$u" -key "$u" \
      -CAfile "$FX/ca/ca.crt" -quiet -no_ign_eof 2>&1)
wait "$SERVER_PID" 2>/dev/null
if ! grep -q nope "$log" && grep -qiE "verify error|unable to get local issuer|certificate verify failed" "$log"; then
  ok "foreign-CA volume rejected by the server"
else fail "foreign-CA volume rejected by the server" "$out
$(cat "$log")"; fi

# The client refuses a server its volume's truststore does not trust.
log="$WORK/foreign-server.log"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=rogue -days 1 \
  -keyout "$WORK/rogue.key" -out "$WORK/rogue.crt" 2>/dev/null
start_s_server "$log" -cert "$WORK/rogue.crt" -key "$WORK/rogue.key" -CAfile "$FX/ca/ca.crt"
u="keystore:$VOL/client-p12"
expect_fail "server outside the volume's truststore refused by the client" "verify error|certificate verify failed" \
  openssl s_client "${PROV[@]}" -connect "127.0.0.1:$SERVER_PORT" -cert "$u" -key "$u" -CAstore "$u" \
  -verify_return_error -quiet -no_ign_eof </dev/null
kill "$SERVER_PID" 2>/dev/null
