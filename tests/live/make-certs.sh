#!/bin/bash
# make-certs.sh OUTDIR — what the live-rotation tests use, made at build
# time (never committed): the transport tests' set (tests/transport/
# make-certs.sh: ca/, foreign/, server/, app-v1/, app-v2/, stranger/) plus
#   broker-dns/  a broker certificate naming only DNS:broker.invalid (a client
#                that connects to 127.0.0.1 finds the name wrong)
#   crl/ca.crl   a CRL of ca/ revoking server/server.crt
#   java/app-v1.p12  app-v1's key and chain as a PKCS#12 keystore (password
#                in java/password), for Java-style ssl.keystore.* properties
set -euo pipefail
out=$(realpath -m "$1")
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$out.tmp"
"$here/../transport/make-certs.sh" "$out.tmp"
cd "$out.tmp"
mkdir broker-dns crl
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out broker-dns/server.key 2>/dev/null
openssl req -new -key broker-dns/server.key -subj "/CN=broker.invalid" -out broker-dns/server.csr
printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:broker.invalid\n' \
  >broker-dns/server.ext
openssl x509 -req -in broker-dns/server.csr -CA ca/ca.crt -CAkey ca/ca.key -passin file:ca/ca.pass \
  -days 30 -set_serial "0x$(openssl rand -hex 16)" -sha256 -extfile broker-dns/server.ext \
  -out broker-dns/server.crt 2>/dev/null
rm -f broker-dns/server.csr broker-dns/server.ext
# openssl ca keeps its revocations in an index file
: >crl/index.txt
printf 'unique_subject = no\n' >crl/index.txt.attr
cat >crl/ca.cnf <<CNF
[ca]
default_ca = test
[test]
database = $PWD/crl/index.txt
crlnumber = $PWD/crl/crlnumber
default_md = sha256
default_crl_days = 30
CNF
echo 01 >crl/crlnumber
openssl ca -config crl/ca.cnf -keyfile ca/ca.key -passin file:ca/ca.pass -cert ca/ca.crt \
  -revoke server/server.crt >/dev/null 2>&1
openssl ca -config crl/ca.cnf -keyfile ca/ca.key -passin file:ca/ca.pass -cert ca/ca.crt \
  -gencrl -out crl/ca.crl >/dev/null 2>&1
grep -q BEGIN crl/ca.crl
mkdir java
openssl rand -hex 12 >java/password
openssl pkcs12 -export -in app-v1/tls.crt -inkey app-v1/tls.key -name app-v1 -out java/app-v1.p12 \
  -passout file:java/password 2>/dev/null
cd .. && rm -rf "$out" && mv "$out.tmp" "$out"
