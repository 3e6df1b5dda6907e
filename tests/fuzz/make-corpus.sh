#!/bin/bash
# tests/fuzz/make-corpus.sh OUTDIR — generates the seed corpora of the fuzz
# targets from real keytool and openssl output (never committed):
#
#   OUTDIR/jks/       keytool -storetype JKS / JCEKS keystores and truststores
#   OUTDIR/pkcs12/    keytool PKCS12 (keytool 17's default), openssl pkcs12
#                     (AES, -legacy RC2/3DES, unencrypted safes, no MAC)
#   OUTDIR/pem/       cert-manager / spiffe-helper files, bundles, encrypted keys
#   OUTDIR/volume/    whole volumes in fuzz_volume.c's input format
#   OUTDIR/password/  password files     OUTDIR/uri/  keystore: URIs
#   OUTDIR/settings/  plugin properties (paths into OUTDIR/files)
#
# Every store uses the password fuzz_common.h's KMFUZZ_PASSWORD. keytool is
# told to use 1 PBE/MAC iteration for PKCS12 (JDK 17 system properties), and
# JCEKS keys, for which keytool never goes below 10000 iterations, are
# re-encrypted at 1 iteration by jceks-reiter.py: the fuzzers should spend
# their time in the parsers, not in PBKDF2 (a keytool PKCS#12 file with its
# default 10000 iterations costs ~120 ms per execution here, and every
# mutant of it as much; the unit tests read such files).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=$(realpath -m "${1:?usage: make-corpus.sh OUTDIR}")
vol="$root/tests/fixtures/volume.sh"
pw=$(sed -n 's/^#define KMFUZZ_PASSWORD "\(.*\)"$/\1/p' "$here/fuzz_common.h")
[[ -n $pw ]] || { echo "make-corpus.sh: KMFUZZ_PASSWORD not found in fuzz_common.h" >&2; exit 1; }
for c in keytool openssl python3; do
  command -v $c >/dev/null || { echo "make-corpus.sh: $c is needed" >&2; exit 1; }
done

rm -rf "$out.tmp"
mkdir -p "$out.tmp"/{jks,pkcs12,pem,volume,password,uri,settings,work}
cd "$out.tmp/work"
export PASSWORD=$pw
lowiter="-Dkeystore.pkcs12.certPbeIterationCount=1 -Dkeystore.pkcs12.keyPbeIterationCount=1 -Dkeystore.pkcs12.macIterationCount=1"
kt() { keytool "$@" -noprompt >/dev/null 2>&1 || { echo "make-corpus.sh: keytool $* failed" >&2; exit 1; }; }

# ---- CAs and volumes (tests/fixtures/volume.sh: the seed's keytool recipe) ----
"$vol" ca ca "kafka-mtls test CA" >/dev/null 2>&1
"$vol" subca ca sub >/dev/null 2>&1
pids=()
JAVA_TOOL_OPTIONS="$lowiter" "$vol" seed PKCS12 ca p12/client & pids+=($!)
JAVA_TOOL_OPTIONS="$lowiter" "$vol" seed PKCS12 sub p12chain/client & pids+=($!)
wait "${pids[@]}"; pids=()
JAVA_TOOL_OPTIONS="$lowiter -Dkeystore.pkcs12.certProtectionAlgorithm=NONE" \
  "$vol" seed PKCS12 ca p12plain/client & pids+=($!)
"$vol" seed JKS ca jks/client & pids+=($!)
wait "${pids[@]}"; pids=()
"$vol" seed JKS sub jkschain/client & pids+=($!)
"$vol" seed JCEKS ca jceks/client & pids+=($!)
wait "${pids[@]}"; pids=()
"$vol" certmanager ca cm cm-client >/dev/null 2>&1
"$vol" spiffe ca spiffe spiffe-client >/dev/null 2>&1
for f in jceks/client/client.keystore.jks jceks/client/client.truststore.jks; do
  python3 "$here/jceks-reiter.py" "$f" "$f.1" "$pw" && mv "$f.1" "$f"
done

# two key entries (MULTIPLE_KEYS, ?alias=), an empty store
cp jks/client/client.keystore.jks jks-two.jks
kt -genkeypair -alias second -keyalg EC -groupname secp256r1 -dname CN=second \
   -keystore jks-two.jks -storetype JKS -storepass "$pw" -keypass "$pw"
cp p12/client/client.keystore.jks p12-two.p12
JAVA_TOOL_OPTIONS="$lowiter" kt -genkeypair -alias second -keyalg EC -groupname secp256r1 \
   -dname CN=second -keystore p12-two.p12 -storetype PKCS12 -storepass "$pw" -keypass "$pw"
kt -genkeypair -alias gone -keyalg EC -groupname secp256r1 -dname CN=gone -keystore empty.jks \
   -storetype JKS -storepass "$pw" -keypass "$pw"
kt -delete -alias gone -keystore empty.jks -storetype JKS -storepass "$pw"
# a JKS key entry with an EC key (a different PKCS#8 inside the protector)
kt -genkeypair -alias ec -keyalg EC -groupname secp384r1 -dname CN=ec -keystore ec.jks \
   -storetype JKS -storepass "$pw" -keypass "$pw"
kt -genkeypair -alias ec -keyalg EC -groupname secp256r1 -dname CN=ec -keystore ec.jceks \
   -storetype JCEKS -storepass "$pw" -keypass "$pw"
python3 "$here/jceks-reiter.py" ec.jceks ec.jceks.1 "$pw" && mv ec.jceks.1 ec.jceks

# ---- openssl pkcs12 from the cert-manager volume's files ----
p12() {  # p12 NAME openssl-pkcs12-options...
  local name=$1; shift
  openssl pkcs12 -export -passout "pass:$pw" -iter 1 "$@" -out "$out.tmp/pkcs12/$name" 2>/dev/null
}
p12 openssl-aes.p12 -inkey cm/tls.key -in cm/tls.crt -certfile cm/ca.crt -name client
p12 openssl-legacy.p12 -legacy -inkey cm/tls.key -in cm/tls.crt -certfile cm/ca.crt -name client
p12 openssl-plain.p12 -keypbe NONE -certpbe NONE -inkey cm/tls.key -in cm/tls.crt -name client
p12 openssl-nomac.p12 -nomac -inkey cm/tls.key -in cm/tls.crt -certfile cm/ca.crt
p12 openssl-nokeys.p12 -nokeys -in cm/ca.crt
p12 openssl-csp.p12 -inkey cm/tls.key -in cm/tls.crt -certfile cm/ca.crt -CSP x -name client

# ---- per-target seeds ----
cd "$out.tmp/work"
cp jks/client/client.keystore.jks ../jks/jks-keystore.jks
cp jks/client/client.truststore.jks ../jks/jks-truststore.jks
cp jkschain/client/client.keystore.jks ../jks/jks-chain.jks
cp jceks/client/client.keystore.jks ../jks/jceks-keystore.jceks
cp jceks/client/client.truststore.jks ../jks/jceks-truststore.jceks
cp jks-two.jks empty.jks ec.jks ec.jceks ../jks/

cp p12/client/client.keystore.jks ../pkcs12/keytool-keystore.p12
cp p12/client/client.truststore.jks ../pkcs12/keytool-truststore.p12
cp p12chain/client/client.keystore.jks ../pkcs12/keytool-chain.p12
cp p12plain/client/client.keystore.jks ../pkcs12/keytool-plaincerts.p12
cp p12-two.p12 ../pkcs12/keytool-two-keys.p12

pem=../pem
cp cm/tls.crt "$pem/tls.crt"; cp cm/tls.key "$pem/tls.key"; cp cm/ca.crt "$pem/ca.crt"
cp spiffe/svid.pem spiffe/svid_key.pem spiffe/svid_bundle.pem "$pem/"
cat cm/tls.key cm/tls.crt cm/ca.crt >"$pem/bundle.pem"
openssl pkcs8 -topk8 -in cm/tls.key -v2 aes256 -iter 1 -passout "pass:$pw" >"$pem/pkcs8-encrypted.key"
openssl ec -in cm/tls.key -aes128 -passout "pass:$pw" 2>/dev/null >"$pem/ec-traditional-encrypted.key"
openssl ec -in cm/tls.key 2>/dev/null >"$pem/ec-traditional.key"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 2>/dev/null >rsa.key
openssl rsa -in rsa.key -traditional 2>/dev/null >"$pem/rsa-traditional.key"
openssl rsa -in rsa.key -traditional -des3 -passout "pass:$pw" 2>/dev/null >"$pem/rsa-traditional-des3.key"
openssl genpkey -algorithm ED25519 >"$pem/ed25519.key"
{ cat "$pem/pkcs8-encrypted.key"; cat cm/tls.crt; } >"$pem/bundle-encrypted.pem"
openssl x509 -in cm/ca.crt -trustout -addtrust clientAuth >"$pem/trusted.crt"
sed 's/BEGIN CERTIFICATE/BEGIN X509 CERTIFICATE/; s/END CERTIFICATE/END X509 CERTIFICATE/' cm/ca.crt >"$pem/x509-old.crt"
openssl x509 -in cm/tls.crt -text >"$pem/with-text.crt"
sed 's/$/\r/' "$pem/bundle.pem" >"$pem/bundle-crlf.pem"
openssl crl2pkcs7 -nocrl -certfile cm/tls.crt >"$pem/pkcs7.pem"

# ---- volumes: selector byte + parts separated by #KMFUZZ# (fuzz_volume.c) ----
vseed() {  # vseed NAME SELECTOR FILE1 [FILE2 [FILE3]]
  local name=$1 sel=$2; shift 2
  {
    printf "\\x$(printf %02x "$sel")"
    local first=1
    for f in "$@"; do
      (( first )) || printf '#KMFUZZ#'
      first=0
      [[ $f == - ]] || cat "$f"
    done
  } >"../volume/$name"
}
for v in p12 p12chain jks jceks; do
  d=$v/client
  vseed "$v-all" 0 $d/client.keystore.jks $d/client.truststore.jks $d/client_creds
  vseed "$v-all-fix-store" $((0x60)) $d/client.keystore.jks $d/client.truststore.jks $d/client_creds
  vseed "$v-key" $((0x08)) $d/client.keystore.jks $d/client.truststore.jks $d/client_creds
  vseed "$v-certs-alias" $((0x90)) $d/client.keystore.jks $d/client.truststore.jks $d/client_creds
  vseed "$v-truststore-subject" $((0x18)) $d/client.keystore.jks $d/client.truststore.jks $d/client_creds
  vseed "$v-not-ready" 0 $d/client.keystore.jks $d/client.truststore.jks
  vseed "$v-file" 5 $d/client.keystore.jks - $d/client_creds
  vseed "$v-explicit" 7 $d/client.keystore.jks $d/client.truststore.jks $d/client_creds
done
vseed p12-ext 1 p12/client/client.keystore.jks p12/client/client.truststore.jks p12/client/client_creds
vseed jks-two-keys 0 jks-two.jks jks/client/client.truststore.jks jks/client/client_creds
vseed jks-two-keys-alias $((0x80)) jks-two.jks jks/client/client.truststore.jks jks/client/client_creds
vseed p12-explicit-file 6 p12/client/client.keystore.jks
vseed cm-all 2 cm/tls.crt cm/tls.key cm/ca.crt
vseed cm-store $((0x42)) cm/tls.crt cm/tls.key cm/ca.crt
vseed cm-truststore $((0x1a)) cm/tls.crt cm/tls.key cm/ca.crt
vseed cm-no-key 2 cm/tls.crt
vseed spiffe-all 3 spiffe/svid.pem spiffe/svid_key.pem spiffe/svid_bundle.pem
vseed spiffe-key $((0x0b)) spiffe/svid.pem spiffe/svid_key.pem spiffe/svid_bundle.pem
printf '%s\n' "$pw" >pwfile
vseed cm-p12 4 ../pkcs12/openssl-aes.p12 ../pkcs12/openssl-nokeys.p12 pwfile
vseed cm-p12-truststore $((0x1c)) ../pkcs12/openssl-aes.p12 ../pkcs12/openssl-nokeys.p12 pwfile
vseed pem-file 6 "$pem/bundle.pem"

# ---- password files ----
cd "$out.tmp/password"
cp ../work/jks/client/client_creds creds
printf '%s' "$pw" >no-newline
printf '%s\r\n' "$pw" >crlf
printf 'one\ntwo\n' >two-lines
printf '\n' >empty-line
: >empty
printf 'p\xc3\xa4ssw\xc3\xb6rd \xf0\x9f\x94\x91\n' >utf8
printf 'bad\xc0\xafutf8\xed\xa0\x80\n' >bad-utf8
printf 'trailing\r\r\n' >two-cr
head -c 4097 /dev/zero | tr '\0' 'x' >too-long

# ---- keystore: URIs ----
cd "$out.tmp/uri"
i=0
while IFS= read -r u; do printf '%s' "$u" >"uri-$i"; i=$((i + 1)); done <<'EOF'
keystore:/keystore/client1
keystore:///keystore/client1/
keystore:/keystore/client1?alias=client1&part=keystore
keystore:/keystore/client1?part=truststore&password-file=/run/secrets/pw
keystore:/keystore/client%201?alias=a%2Fb
keystore:/keystore/client1?alias=x&alias=y
keystore:/keystore/client1?part=both
keystore:/keystore/client1?password-file=relative
keystore:/keystore/client1?alias=&&part=keystore
keystore://host/keystore
keystore:relative/path
KEYSTORE:/%2F%2f/
keystore:/a%zz
keystore:/a%00b
keystore:/a?unknown=1
keystore:/a?noequals
keystore:?alias=x
file:/keystore/client1
EOF

# ---- plugin properties (fuzz_settings.c: "name=value" lines) ----
# Paths in them must exist: a few generated files stay in OUTDIR/files.
mkdir -p "$out.tmp/files"
cp -r "$out.tmp/work/jks" "$out.tmp/work/ca" "$out.tmp/work/pwfile" "$out.tmp/files/"
cd "$out.tmp/settings"
d=$out/files
i=0
while IFS= read -r l; do printf '%b' "$l" >"props-$i"; i=$((i + 1)); done <<EOF
mtls.volume=$d/jks/client\nmtls.alias=client\nmtls.wait.ms=0
mtls.volume=relative\nmtls.volume=/nonexistent
mtls.password.file=$d/jks/client/client_creds\nmtls.password.file=$d/jks
ssl.keystore.location=$d/jks/client/client.keystore.jks\nssl.keystore.password=$pw\nssl.key.password=$pw\nssl.keystore.type=JKS
ssl.truststore.location=$d/jks/client/client.truststore.jks\nssl.truststore.password=$pw\nssl.truststore.type=pkcs12\nssl.keystore.type=BKS
ssl.endpoint.identification.algorithm=\nssl.endpoint.identification.algorithm=https
mtls.ca.location=$d/ca/ca.crt\nmtls.ca.key.location=$d/ca/ca.key\nmtls.ca.key.password.file=$d/ca/ca.pass\nmtls.ca.key.password=secret
mtls.subject=CN=\${alias},O=example\nmtls.subject=no-equals
mtls.san=DNS:a.example, URI:spiffe://x/y,IP:127.0.0.1\nmtls.san=EMAIL:x@y
mtls.key.type=ec:P-256\nmtls.key.type=rsa:1024\nmtls.key.type=ED25519
mtls.validity.days=90\nmtls.validity.days=0\nmtls.validity.days=99999999999999999999
mtls.renew.before=30d\nmtls.renew.before=33%\nmtls.renew.before=100%\nmtls.renew.before=-1
mtls.keystore.password.file=$d/pwfile\nmtls.wait.ms=3600001\nmtls.wait.ms= 5
!7\nmtls.volume=relative-but-long-enough-to-be-cut\nmtls.alias=a/b
mtls.alias\nbootstrap.servers=broker:9093\n=value
EOF

rm -rf "$out.tmp/work"
rm -rf "$out" && mv "$out.tmp" "$out"
for t in jks pkcs12 pem volume password uri settings; do
  printf '%s: %s seeds\n' "$t" "$(ls "$out/$t" | wc -l)"
done
