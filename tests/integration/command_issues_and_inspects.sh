#!/bin/bash
# `kafka-mtls issue` / `inspect` end to end: what Java (keytool 17) and
# OpenSSL (s_client/s_server through the provider) make of an issued volume,
# what inspect shows, idempotence, --force renewal keeping ALIAS_creds, a
# fixed password, the renew window, a CA change, and the refusals.
. "$(dirname "$0")/lib.sh"
: "${KMTLS_TOOL:?run through meson test}"

# Our command (leak-checked under ASan); keytool without the ASan preload.
tool() { ASAN_OPTIONS=${KMTLS_TOOL_ASAN_OPTIONS:-${ASAN_OPTIONS:-}} "$KMTLS_TOOL" "$@"; }
kt() { env -u LD_PRELOAD keytool "$@"; }
CA=(--ca "$FX/ca/ca.crt" --ca-key "$FX/ca/ca.key" --ca-key-password-file "$FX/ca/ca.pass")
field() { sed -n "s/^ *$1 *//p" <<<"$2" | head -1; }   # field NAME OUTPUT

V=$WORK/keystore/client1
A=client1

# --- first issuance on an empty (not yet existing) volume
out=$(tool issue "$V" "${CA[@]}" --san 'DNS:${alias},DNS:localhost' 2>&1); rc=$?
serial=$(field serial "$out")
if (( rc == 0 )) && grep -q "^issued: $V " <<<"$out" && [[ $serial =~ ^[0-9A-F]{32}$ ]] &&
   grep -q "subject     CN=client1" <<<"$out" && grep -qE "elapsed +[0-9.]+ ms \(check and lock [0-9.]+, issue [0-9.]+ of which key generation [0-9.]+, read back [0-9.]+\)" <<<"$out"; then
  ok "issue: empty volume -> issued (serial $serial)"
else fail "issue: empty volume" "$out"; fi
[[ -s $V/${A}_creds ]] && pw=$(head -1 "$V/${A}_creds") || pw=
iters() {  # iters STORE PASSWORD: the distinct "Iteration N" counts openssl reports
  openssl pkcs12 -info -in "$1" -passin "pass:$2" -nokeys -nocerts 2>&1 | grep -o 'Iteration [0-9]*' | sort -u | tr '\n' ' '
}
generated="$(iters "$V/$A.keystore.jks" "$pw")/$(iters "$V/$A.truststore.jks" "$pw")"
modes=$(stat -c '%a %n' "$V" "$V/$A.keystore.jks" "$V/$A.truststore.jks" "$V/$A-ca-signed.crt" "$V/${A}_creds" \
        "$V/.kafka-mtls.lock" 2>&1)
if [[ $(awk '{print $1}' <<<"$modes" | tr '\n' ' ') == "700 600 600 600 600 600 " ]]; then
  ok "issue: directory 0700, files 0600"
else fail "issue: modes" "$modes"; fi

# --- Java reads it as its own (keytool 17)
out=$(kt -list -v -keystore "$V/$A.keystore.jks" -storepass "$(cat "$V/${A}_creds")" 2>&1)
if grep -q "Keystore type: PKCS12" <<<"$out" && grep -q "Alias name: client1" <<<"$out" &&
   grep -q "Entry type: PrivateKeyEntry" <<<"$out" && grep -q "Certificate chain length: 2" <<<"$out" &&
   grep -q "Owner: CN=client1$" <<<"$out" && grep -qi "Serial number: ${serial,,}" <<<"$out"; then
  ok "keytool -list -v: PrivateKeyEntry client1, chain length 2, the issued serial"
else fail "keytool -list -v keystore" "$out"; fi
if grep -q "Alias name: caroot" <<<"$out" && grep -A2 "Alias name: caroot" <<<"$out" | grep -q trustedCertEntry; then
  ok "keytool -list -v: the keystore's CA is a trustedCertEntry (caroot)"
else fail "keytool: caroot in keystore" "$out"; fi
out=$(kt -list -keystore "$V/$A.truststore.jks" -storepass "$(cat "$V/${A}_creds")" 2>&1)
if grep -q "Your keystore contains 1 entry" <<<"$out" && grep -q "^caroot, .*trustedCertEntry" <<<"$out"; then
  ok "keytool -list: truststore holds the CA as trustedCertEntry"
else fail "keytool -list truststore" "$out"; fi
out=$(kt -importkeystore -noprompt -srckeystore "$V/$A.keystore.jks" -srcstorepass "$pw" \
      -destkeystore "$WORK/java-copy.p12" -deststoretype PKCS12 -deststorepass "$pw" 2>&1 &&
      kt -list -keystore "$WORK/java-copy.p12" -storepass "$pw" 2>&1)
if grep -q "Entry for alias client1 successfully imported" <<<"$out" &&
   grep -q "^client1, .*PrivateKeyEntry" <<<"$out"; then
  ok "keytool -importkeystore: Java recovers the private key entry with the password"
else fail "keytool -importkeystore" "$out"; fi

# --- OpenSSL: mutual TLS with the issued volume through the provider
log="$WORK/server.log"
if start_s_server "$log" -cert "$FX/server/server.crt" -key "$FX/server/server.key" -CAfile "$FX/ca/ca.crt"; then
  u="keystore:$V"
  out=$(echo "hello from the issued volume" | openssl s_client "${PROV[@]}" -connect "127.0.0.1:$SERVER_PORT" \
        -cert "$u" -key "$u" -CAstore "$u" -verify_return_error -quiet -no_ign_eof 2>&1)
  wait "$SERVER_PID" 2>/dev/null
  if grep -q "CN = client1$" "$log" && grep -q "hello from the issued volume" "$log"; then
    ok "s_client -> s_server -Verify: server verified the issued client certificate"
  else fail "mutual TLS with the issued volume" "client: $out
server: $(cat "$log")"; fi
else fail "s_server did not start"; fi

# --- inspect: what a user sees
out=$(tool inspect "$V" 2>&1); rc=$?
if (( rc == 0 )) && grep -q "^layout      seed, alias client1" <<<"$out" && grep -q "^ready       yes" <<<"$out" &&
   grep -q "key         RSA 2048, matches the certificate" <<<"$out" &&
   grep -q "subject     CN=client1" <<<"$out" && grep -q "issuer      O=kafka-mtls tests,CN=kafka-mtls test CA" <<<"$out" &&
   grep -q "SAN         DNS:client1, DNS:localhost" <<<"$out" && grep -q "serial      $serial" <<<"$out" &&
   grep -qE "not-after .*\((89|90) days left\)" <<<"$out" && grep -q "chain       2 certificates" <<<"$out" &&
   grep -q "verifies    yes" <<<"$out" && grep -qE "client1\.keystore\.jks +0600 .*PKCS#12" <<<"$out" &&
   grep -q "client1_creds .*password file (not shown)" <<<"$out" && grep -q "^result      ok" <<<"$out"; then
  ok "inspect: layout, ready, key matches, subject/issuer/SAN/serial, days left, chain verifies (exit 0)"
else fail "inspect (rc=$rc)" "$out"; fi
if [[ -n $pw ]] && ! grep -qF -- "$pw" <<<"$out"; then ok "inspect: never prints the password"
else fail "inspect printed the password (or there is none)"; fi
! grep -q WARNING <<<"$out" && ok "inspect: no warning on the issued volume" || fail "inspect warned" "$out"
cp -r "$VOL/client-p12" "$WORK/client-p12" && chmod 644 "$WORK/client-p12/client-p12_creds"
out=$(tool inspect "$WORK/client-p12" 2>&1); rc=$?
if (( rc == 0 )) && grep -q "client-p12_creds .*0644 .*password file (not shown)  WARNING: readable by group or others" <<<"$out" &&
   grep -q "key         RSA 2048, matches the certificate" <<<"$out"; then
  ok "inspect: a keytool-made seed volume; a world-readable ALIAS_creds is flagged"
else fail "inspect seed fixture (rc=$rc)" "$out"; fi
out=$(tool inspect "$V/$A.truststore.jks" 2>&1); rc=$?
if (( rc == 0 )) && grep -q "^format      PKCS#12" <<<"$out" && grep -q "no key entry (a truststore)" <<<"$out" &&
   grep -q "truststore  1 trusted certificate" <<<"$out"; then
  ok "inspect FILE: a truststore, password from ALIAS_creds beside it"
else fail "inspect truststore file (rc=$rc)" "$out"; fi

# --- idempotent: a fresh volume is left alone
out=$(tool issue "$V" "${CA[@]}" 2>&1); rc=$?
if (( rc == 0 )) && grep -q "^fresh: $V " <<<"$out" && [[ $(field serial "$out") == "$serial" ]] &&
   [[ $(head -1 "$V/${A}_creds") == "$pw" ]]; then
  ok "issue again: fresh, same serial, nothing rewritten"
else fail "issue on a fresh volume" "$out"; fi

# --- --force renews and keeps ALIAS_creds
out=$(tool issue "$V" "${CA[@]}" --force --key-type ec:P-256 2>&1); rc=$?
serial2=$(field serial "$out")
if (( rc == 0 )) && grep -q "^renewed: $V (--force; serial $serial replaced)" <<<"$out" &&
   [[ -n $serial2 && $serial2 != "$serial" ]] && grep -q "password    kept from client1_creds" <<<"$out" &&
   [[ $(head -1 "$V/${A}_creds") == "$pw" ]]; then
  ok "issue --force: renewed (new serial), ALIAS_creds unchanged"
else fail "issue --force" "$out"; fi
out=$(kt -list -v -keystore "$V/$A.keystore.jks" -storepass "$pw" 2>&1)
if grep -qi "Serial number: ${serial2,,}" <<<"$out" && grep -q "Certificate chain length: 2" <<<"$out"; then
  ok "keytool reads the renewed keystore with the kept password"
else fail "keytool after --force" "$out"; fi

# --- not ready: inspect says why, exit 3
mkdir -p "$WORK/notready/nr" && chmod 700 "$WORK/notready/nr"
cp "$V/$A.keystore.jks" "$WORK/notready/nr/nr.keystore.jks"
out=$(tool inspect "$WORK/notready/nr" 2>&1); rc=$?
if (( rc == 3 )) && grep -q "ready       no: .*nr_creds does not exist yet" <<<"$out" && grep -q "^result      not ready" <<<"$out"; then
  ok "inspect: no ALIAS_creds -> not ready, exit 3"
else fail "inspect not ready (rc=$rc)" "$out"; fi
# a keystore paired with the wrong password: exit 1, named
printf 'wrong\n' >"$WORK/notready/nr/nr_creds"
out=$(tool inspect "$WORK/notready/nr" 2>&1); rc=$?
if (( rc == 1 )) && grep -q "nr.keystore.jks: wrong password" <<<"$out"; then
  ok "inspect: wrong password in ALIAS_creds -> exit 1, file named"
else fail "inspect wrong password (rc=$rc)" "$out"; fi

# --- a fixed password (Java properties that name it), and a broker keystore
printf 'Fixed-Passw0rd\n' >"$WORK/store.pw"
B=$WORK/keystore/broker
out=$(tool issue "$B" "${CA[@]}" --password-file "$WORK/store.pw" --key-type ec:P-384 \
      --subject '/CN=localhost/O=kafka-mtls tests' --san 'DNS:localhost,IP:127.0.0.1' --eku serverAuth,clientAuth 2>&1); rc=$?
if (( rc == 0 )) && [[ $(cat "$B/broker_creds") == Fixed-Passw0rd ]] &&
   kt -list -keystore "$B/broker.keystore.jks" -storepass Fixed-Passw0rd 2>&1 | grep -q "^broker, .*PrivateKeyEntry"; then
  ok "issue --password-file: ALIAS_creds holds it, keytool opens the store with it"
else fail "issue --password-file" "$out"; fi
chosen="$(iters "$B/broker.keystore.jks" Fixed-Passw0rd)/$(iters "$B/broker.truststore.jks" Fixed-Passw0rd)"
renewed="$(iters "$V/$A.keystore.jks" "$pw")/$(iters "$V/$A.truststore.jks" "$pw")"
# keytool's 10000 for a chosen password, 2048 for a generated one (kept by a renewal)
if [[ $chosen == "Iteration 10000 /Iteration 10000 " && $generated == "Iteration 2048 /Iteration 2048 " &&
      $renewed == "$generated" ]]; then
  ok "iterations: 10000 with a chosen password, 2048 with a generated one, also after --force renewals (MAC, safes, key)"
else fail "iteration counts" "chosen: $chosen generated: $generated renewed: $renewed"; fi
log="$WORK/server2.log"
b="keystore:$B"; c="keystore:$V"
if start_s_server "$log" "${PROV[@]}" -cert "$b" -key "$b" -CAfile "$FX/ca/ca.crt"; then
  out=$(echo "broker and client both issued" | openssl s_client "${PROV[@]}" -connect "127.0.0.1:$SERVER_PORT" \
        -cert "$c" -key "$c" -CAstore "$c" -verify_return_error -verify_ip 127.0.0.1 -quiet -no_ign_eof 2>&1)
  wait "$SERVER_PID" 2>/dev/null
  if grep -q "CN = client1$" "$log" && grep -q "broker and client both issued" "$log"; then
    ok "mutual TLS: issued broker keystore (serverAuth, SAN IP) <-> issued client volume"
  else fail "mutual TLS with an issued broker keystore" "client: $out
server: $(cat "$log")"; fi
else fail "s_server with the issued broker keystore did not start" "$(cat "$log")"; fi

# --- the renew window: a certificate inside it is renewed, outside it is not
R=$WORK/keystore/short
tool issue "$R" "${CA[@]}" --key-type ec:P-256 --days 10 >/dev/null 2>&1
out=$(tool issue "$R" "${CA[@]}" --key-type ec:P-256 --days 10 --renew-before 5d 2>&1)
grep -q "^fresh:" <<<"$out" && ok "renew-before 5d on a 10-day certificate: fresh" || fail "renew-before 5d" "$out"
out=$(tool issue "$R" "${CA[@]}" --key-type ec:P-256 --days 10 --renew-before 11d 2>&1); rc=$?
if (( rc == 2 )) && grep -q "\-\-renew-before 11d: a renew window of 950400s is not shorter than the lifetime" <<<"$out"; then
  ok "renew-before 11d on a 10-day certificate: refused (it would renew at every run)"
else fail "renew-before 11d (rc=$rc)" "$out"; fi

# --- a volume issued by another CA is reissued by this one
out=$(tool issue "$R" --ca "$FX/foreign/ca.crt" --ca-key "$FX/foreign/ca.key" \
      --ca-key-password-file "$FX/foreign/ca.pass" --key-type ec:P-256 2>&1)
if grep -q "^renewed: $R (the certificate (serial [0-9A-F]*) was not issued by the configured CA: issued by .*CN=kafka-mtls test CA, not by the configured CA .*CN=foreign CA)" <<<"$out" &&
   tool inspect "$R" | grep -q "issuer      O=kafka-mtls tests,CN=foreign CA"; then
  ok "CA changed: reissued by the new CA"
else fail "CA change" "$out"; fi

# --- refusals: exit 1 with the file and the cause; usage: exit 2
expect_fail "refuses a non-CA certificate" "CA certificate $FX/server/server.crt .* is not a CA certificate" \
  tool issue "$WORK/keystore/x" --ca "$FX/server/server.crt" --ca-key "$FX/server/server.key"
expect_fail "refuses a CA key that does not match" "CA key $FX/foreign/ca.key does not match the CA certificate" \
  tool issue "$WORK/keystore/x" --ca "$FX/ca/ca.crt" --ca-key "$FX/foreign/ca.key" --ca-key-password-file "$FX/foreign/ca.pass"
expect_fail "encrypted CA key without its password" "CA key $FX/ca/ca.key is encrypted and no CA key password" \
  tool issue "$WORK/keystore/x" --ca "$FX/ca/ca.crt" --ca-key "$FX/ca/ca.key"
[[ ! -e $WORK/keystore/x/x_creds ]] && ok "refusals write no ALIAS_creds" || fail "a refusal left ALIAS_creds"
mkdir -p "$WORK/open" && chmod 777 "$WORK/open"
expect_fail "refuses a world-writable volume" "volume $WORK/open: writable by group or others" \
  tool issue "$WORK/open" "${CA[@]}"
out=$(tool issue "$WORK/keystore/y" --ca "$FX/ca/ca.crt" 2>&1); rc=$?
(( rc == 2 )) && grep -q -- "--ca and --ca-key are required" <<<"$out" && ok "usage error: exit 2" ||
  fail "usage error (rc=$rc)" "$out"
out=$(tool issue "$WORK/keystore/y" "${CA[@]}" --key-type rsa:1024 2>&1); rc=$?
(( rc == 2 )) && grep -q "unknown key type 'rsa:1024'" <<<"$out" && ok "bad --key-type: exit 2, named" ||
  fail "bad key type (rc=$rc)" "$out"
out=$(tool --help 2>&1)
if grep -q "^Exit status:" <<<"$out" && grep -q "3  inspect: the volume is not ready" <<<"$out"; then
  ok "--help documents the exit codes"
else fail "--help" "$out"; fi
