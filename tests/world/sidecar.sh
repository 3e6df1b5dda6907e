#!/bin/bash
# sidecar.sh KEYSTORE ALIAS CA_DIR [STEP]: the seed's certificate service,
# as its script does it: rm -rf KEYSTORE/ALIAS; mkdir -p KEYSTORE/ALIAS;
# keytool makes the key pair with the seed's subject, openssl signs the
# request with the CA, keytool imports the CA and the signed certificate
# and writes the truststore, and ALIAS_creds (the password) comes LAST.
# STEP=partial stops after the keystore's key pair (a sidecar killed
# midway); PASSWORD fixes the password (default: openssl rand -hex 16),
# DAYS the certificate's lifetime (default 365, the seed's).
set -euo pipefail
ks=$1 alias=$2 ca=$3 step=${4:-all}
vol=$ks/$alias pw=${PASSWORD:-$(openssl rand -hex 16)}
kt() { keytool "$@" -storepass "$pw" -keypass "$pw" -noprompt >/dev/null 2>&1 || { echo "keytool $1 failed" >&2; exit 1; }; }
rm -rf "$vol"
mkdir -p "$vol"
kt -genkey -alias "$alias" -dname "C=GB, O=UK Home Office, CN=Callisto $alias" -keyalg RSA -keysize 2048 \
   -validity 365 -keystore "$vol/$alias.keystore.jks"
[[ $step == partial ]] && exit 0
kt -certreq -alias "$alias" -file "$vol/$alias.csr" -keystore "$vol/$alias.keystore.jks"
openssl x509 -req -CA "$ca/ca.crt" -CAkey "$ca/ca.key" -passin "file:$ca/ca.pass" -in "$vol/$alias.csr" \
  -out "$vol/$alias-ca1-signed.crt" -days "${DAYS:-365}" -set_serial "0x$(openssl rand -hex 16)" 2>/dev/null
kt -import -alias CARoot -file "$ca/ca.crt" -keystore "$vol/$alias.keystore.jks"
kt -import -alias "$alias" -file "$vol/$alias-ca1-signed.crt" -keystore "$vol/$alias.keystore.jks"
kt -import -alias CARoot -file "$ca/ca.crt" -keystore "$vol/$alias.truststore.jks"
rm -f "$vol/$alias.csr"
printf '%s\n' "$pw" >"$vol/${alias}_creds"
