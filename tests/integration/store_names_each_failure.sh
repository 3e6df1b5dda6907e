#!/bin/bash
# The error matrix: each bad input gives a failed load with the provider's
# reason and a message naming the file and the cause, as `openssl storeutl`
# shows it. Nothing is yielded from a store that fails.
. "$(dirname "$0")/lib.sh"

su() { openssl storeutl "${PROV[@]}" "$@"; }
# must_fail NAME PATTERN URI [storeutl args]: non-zero exit, message, no object printed
must_fail() {
  local name=$1 pat=$2 out rc; shift 2
  out=$(su "$@" 2>&1); rc=$?
  # storeutl (3.0) exits 0 even after a failed load: judge by what it printed
  if grep -qE -- "$pat" <<<"$out" && ! grep -q -- "-----BEGIN" <<<"$out"; then ok "$name"
  else fail "$name (rc=$rc, expected /$pat/, nothing yielded)" "$out"; fi
}

P12=$VOL/client-p12; JKS=$VOL/client-jks; JCEKS=$VOL/client-jceks
cp -r "$P12" "$WORK/p12"; cp -r "$JKS" "$WORK/jks"; cp -r "$JCEKS" "$WORK/jceks"

printf 'not-the-password\n' >"$WORK/wrong.pw"
must_fail "wrong password (PKCS#12)" "wrong password.*client-p12.keystore.jks|client-p12.keystore.jks: wrong password" \
  "keystore:$P12?password-file=$WORK/wrong.pw"
must_fail "wrong password (JKS)" "client-jks.keystore.jks.*wrong password" "keystore:$JKS?password-file=$WORK/wrong.pw"
must_fail "wrong password (JCEKS)" "client-jceks.keystore.jks.*wrong password" "keystore:$JCEKS?password-file=$WORK/wrong.pw"
must_fail "missing password file" "password file $WORK/nope: No such file or directory" \
  "keystore:$P12?password-file=$WORK/nope"
mkdir "$WORK/pwdir"
must_fail "unreadable password file (a directory)" "password file $WORK/pwdir: not a regular file" \
  "keystore:$P12?password-file=$WORK/pwdir"
: >"$WORK/empty.pw"
must_fail "empty password file" "password file $WORK/empty.pw: empty" "keystore:$P12?password-file=$WORK/empty.pw"

# truncated and corrupted stores
ks=$WORK/p12/client-p12.keystore.jks; size=$(stat -c %s "$ks")
head -c $((size / 2)) "$P12/client-p12.keystore.jks" >"$ks"
# libcrypto's reason ends the message, without debug = 1
must_fail "truncated PKCS#12" "client-p12.keystore.jks: truncated or malformed PKCS#12 file \(libcrypto: [a-z]" \
  "keystore:$WORK/p12"
cp "$JKS/client-jks.keystore.jks" "$WORK/jks/client-jks.keystore.jks"
jks=$WORK/jks/client-jks.keystore.jks
head -c 300 "$JKS/client-jks.keystore.jks" >"$jks"
must_fail "truncated JKS" "client-jks.keystore.jks: .*(truncated|runs past)" "keystore:$WORK/jks"
# flip one byte inside the certificate area (well-formed, MAC/trailer must catch it)
flip() { python3 - "$1" "$2" <<'PY'
import sys; p, off = sys.argv[1], int(sys.argv[2]); b = bytearray(open(p, 'rb').read())
b[off if off >= 0 else len(b) + off] ^= 0x01; open(p, 'wb').write(b)
PY
}
# flip_mac FILE: one bit of a PKCS#12 file's MAC digest, the safes untouched
flip_mac() { python3 - "$1" <<'PY'
import sys
p = sys.argv[1]; b = bytearray(open(p, 'rb').read())
def tlv(i):  # where the value of the DER element at i starts and ends
    n = b[i + 1]; i += 2
    if n & 0x80:
        k = n & 0x7f; n = int.from_bytes(b[i:i + k], 'big'); i += k
    return i, i + n
v, _ = tlv(0)      # PFX
_, v = tlv(v)      # version
_, v = tlv(v)      # authSafe
mac, _ = tlv(v)    # macData
di, _ = tlv(mac)   # DigestInfo
_, d = tlv(di)     # digestAlgorithm
dv, _ = tlv(d)     # digest
b[dv] ^= 1
open(p, 'wb').write(b)
PY
}
cp "$P12/client-p12.keystore.jks" "$ks"; flip_mac "$ks"
must_fail "PKCS#12 MAC failure, the password right (modified file)" \
  "client-p12.keystore.jks: PKCS#12 MAC verification failed although the password is right: the file was modified" \
  "keystore:$WORK/p12"
cp "$JKS/client-jks.keystore.jks" "$jks"; flip "$jks" -100
must_fail "JKS integrity failure (modified file)" "client-jks.keystore.jks: .*integrity check failed" "keystore:$WORK/jks"
cp "$JCEKS/client-jceks.keystore.jks" "$WORK/jceks/client-jceks.keystore.jks"; flip "$WORK/jceks/client-jceks.keystore.jks" -100
must_fail "JCEKS integrity failure (modified file)" "client-jceks.keystore.jks: .*integrity check failed" "keystore:$WORK/jceks"

# key that does not match the certificate
cp -r "$VOL/cm" "$WORK/cm-mismatch"; cp "$VOL/spiffe/svid_key.pem" "$WORK/cm-mismatch/tls.key"
must_fail "key does not match the certificate" \
  "tls.key: the private key does not match the certificate .*cm-client \(libcrypto: key values mismatch\)" \
  "keystore:$WORK/cm-mismatch"

# damaged trusted certificates (ca.crt). The provider keeps a trust anchor
# as read, its outer shape checked, and OSSL_STORE's decode is its one
# decode: a block that is not a certificate's shape is refused as the file
# is read; one with that shape (a CSR's DER under a CERTIFICATE header)
# when OSSL_STORE cannot decode it, with the provider's reason, last
cp -r "$VOL/cm" "$WORK/cm-badca"
printf -- '-----BEGIN CERTIFICATE-----\n%s\n-----END CERTIFICATE-----\n' "$(printf 'not DER at all' | base64)" \
  >"$WORK/cm-badca/ca.crt"
must_fail "trusted certificate that is not DER" "ca.crt: PEM block 1 \(CERTIFICATE\) is not a valid certificate" \
  "keystore:$WORK/cm-badca"
openssl req -new -key "$VOL/cm/tls.key" -subj /CN=csr -outform DER -out "$WORK/csr.der" 2>/dev/null
printf -- '-----BEGIN CERTIFICATE-----\n%s\n-----END CERTIFICATE-----\n' "$(base64 -w 64 "$WORK/csr.der")" \
  >"$WORK/cm-badca/ca.crt"
must_fail "trusted certificate of a certificate's shape that does not decode" \
  "cm-badca: trusted certificate 1 is not a valid certificate" "keystore:$WORK/cm-badca?part=truststore"
expect_fail "the same through the plugin's load loop (kafka-mtls inspect)" "trusted certificate 1 is not a valid certificate" \
  "$KMTLS_TOOL" inspect "$WORK/cm-badca"

# no key: a truststore asked for a key
expect_fail "no key in the store (openssl pkey)" "client-p12.truststore.jks: no private key" \
  openssl pkey "${PROV[@]}" -in "keystore:$P12/client-p12.truststore.jks" -noout

# several keys and no alias
two=$WORK/two.p12; pw=$(cat "$P12/client-p12_creds")
keytool -importkeystore -noprompt -srckeystore "$P12/client-p12.keystore.jks" -srcstorepass "$pw" \
  -destkeystore "$two" -deststoretype PKCS12 -deststorepass "$pw" >/dev/null 2>&1
keytool -genkeypair -noprompt -alias second -keyalg EC -dname CN=second -keystore "$two" \
  -storetype PKCS12 -storepass "$pw" >/dev/null 2>&1
cp "$P12/client-p12_creds" "$WORK/two.pw"
must_fail "several keys and no alias" "two.p12: 2 private keys \(.*\) and no alias" \
  "keystore:$two?password-file=$WORK/two.pw"
expect_output "several keys, alias chooses one" "CN ?= ?second" \
  openssl x509 "${PROV[@]}" -in "keystore:$two?password-file=$WORK/two.pw&alias=second" -noout -subject
must_fail "alias not found" "two.p12: no private key entry 'third'" "keystore:$two?password-file=$WORK/two.pw&alias=third"

# a key where a certificate belongs, and a key file on its own: no stack of
# certificates at all
mkdir "$WORK/key-as-crt"; cp "$VOL/cm/tls.key" "$VOL/cm/ca.crt" "$WORK/key-as-crt/"
cp "$VOL/cm/tls.key" "$WORK/key-as-crt/tls.crt"
must_fail "cert-manager tls.crt holding a key" "key-as-crt/tls.crt: no certificate" "keystore:$WORK/key-as-crt"
expect_output "a lone PEM key file yields its key (openssl pkey)" "BEGIN PRIVATE KEY" \
  openssl pkey "${PROV[@]}" -in "keystore:$VOL/cm/tls.key"

# unsupported format, empty file, relative path, unknown parameter
head -c 2000 /dev/urandom | tr '\0-' 'ab' >"$WORK/random.bin"
must_fail "unsupported format" "random.bin: unsupported format" "keystore:$WORK/random.bin"
: >"$WORK/empty.jks"
must_fail "empty keystore file" "empty.jks: empty file" "keystore:$WORK/empty.jks"
must_fail "relative path" "keystore:some/dir: the path must be absolute" "keystore:some/dir"
must_fail "unknown URI parameter" "unknown parameter 'alais'" "keystore:$P12?alais=x"
must_fail "missing volume" "$WORK/no-such-volume: No such file or directory" "keystore:$WORK/no-such-volume"

# not ready: the seed writes ALIAS_creds last
cp -r "$P12" "$WORK/client-p12"; rm "$WORK/client-p12/client-p12_creds"
must_fail "not-ready volume (no ALIAS_creds yet)" "volume not ready.*client-p12_creds does not exist yet" \
  "keystore:$WORK/client-p12"
mkdir "$WORK/empty-volume"
must_fail "not-ready volume (empty)" "volume not ready.*holds no keystore yet" "keystore:$WORK/empty-volume"
# the store password given explicitly does not wait for ALIAS_creds
cp "$P12/client-p12_creds" "$WORK/explicit.pw"
expect_output "explicit password-file needs no ALIAS_creds" "Total found: 4" \
  su "keystore:$WORK/client-p12?password-file=$WORK/explicit.pw"

# password from the provider's configuration (OPENSSL_CONF section)
cat >"$WORK/openssl.cnf" <<CNF
openssl_conf = init
[init]
providers = provs
[provs]
default = dflt
kafka-mtls = kmtls
[dflt]
activate = 1
[kmtls]
module = $KMTLS_MODULE
activate = 1
password-file = $WORK/explicit.pw
CNF
cp "$P12/client-p12.keystore.jks" "$WORK/bare.p12"
expect_output "password-file from the provider configuration" "Total found: 4" \
  env OPENSSL_CONF="$WORK/openssl.cnf" openssl storeutl "keystore:$WORK/bare.p12"
# and from the application's prompt (-passin) when nothing else has one
expect_output "password from the application (-passin)" "Total found: 4" \
  openssl storeutl "${PROV[@]}" -passin "file:$WORK/explicit.pw" "keystore:$WORK/bare.p12"
must_fail "no password anywhere" "bare.p12: no password" "keystore:$WORK/bare.p12" </dev/null

# an expired certificate is still yielded (expiry is the caller's policy)
mkdir -p "$WORK/expired"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=expired \
  -keyout "$WORK/expired/tls.key" -out "$WORK/expired/tls.crt" -days 0 2>/dev/null ||
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=expired \
  -keyout "$WORK/expired/tls.key" -out "$WORK/expired/tls.crt" -days 1 2>/dev/null
expect_output "expired certificate still yielded" "CN ?= ?expired" \
  openssl x509 "${PROV[@]}" -in "keystore:$WORK/expired" -noout -subject

# PKCS#12 as old JDKs and `openssl pkcs12 -legacy` write it (RC2/3DES, SHA-1 MAC)
openssl pkcs12 -export -legacy -in "$VOL/cm/tls.crt" -inkey "$VOL/cm/tls.key" -certfile "$FX/ca/ca.crt" \
  -passout "file:$WORK/explicit.pw" -out "$WORK/legacy.p12"
must_fail "legacy PKCS#12 without the legacy provider" "legacy.p12: .*activate OpenSSL's 'legacy' provider" \
  "keystore:$WORK/legacy.p12?password-file=$WORK/explicit.pw"
expect_output "legacy PKCS#12 with the legacy provider" "Total found: 3" \
  openssl storeutl "${PROV[@]}" -provider legacy "keystore:$WORK/legacy.p12?password-file=$WORK/explicit.pw"
