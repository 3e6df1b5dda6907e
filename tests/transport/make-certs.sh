#!/bin/bash
# make-certs.sh OUTDIR — the keys and certificates the transport tests use,
# made at build time with tests/fixtures/volume.sh (never committed):
#   ca/        the test CA (the peers trust it; so do the clients)
#   foreign/   an unrelated CA (a client trusting only it refuses the broker)
#   server/    the broker's certificate: SAN IP:127.0.0.1, IP:::1, DNS:localhost
#   app-v1/    client certificate CN=app-v1 (tls.crt, tls.key, ca.crt)
#   app-v2/    client certificate CN=app-v2: the "renewed" credentials
#   stranger/  client certificate CN=stranger from foreign/: the broker refuses it
# Only openssl: EC P-256 leaves, RSA-2048 CAs, well under a second.
set -euo pipefail
out=$(realpath -m "$1")
v=$(cd "$(dirname "$0")/../fixtures" && pwd)/volume.sh
rm -rf "$out.tmp" && mkdir -p "$out.tmp" && cd "$out.tmp"
"$v" ca ca "kafka-mtls transport test CA"
"$v" ca foreign "kafka-mtls foreign CA"
"$v" server ca server
"$v" certmanager ca app-v1 app-v1
"$v" certmanager ca app-v2 app-v2
"$v" certmanager foreign stranger stranger
cd .. && rm -rf "$out" && mv "$out.tmp" "$out"
