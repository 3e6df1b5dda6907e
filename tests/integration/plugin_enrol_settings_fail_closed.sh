#!/bin/bash
# The mtls.enrol.* properties fail closed, each with a message naming the
# property and the cause: what can be judged when a property is set fails
# in rd_kafka_conf_set (kcat: "% ERROR: ..."), what needs the whole
# configuration fails client creation. Nothing here reaches a network or
# writes a volume: kcat against no broker (127.0.0.1:1), no CA service.
. "$(dirname "$0")/lib.sh"
: "${KMTLS_PLUGIN:?run through meson test}"
mkdir -m 700 "$WORK/ks"
root=$FX/ca/ca.crt
vol=$WORK/ks/client
KC=(timeout -k 5 30 kcat -X "plugin.library.paths=$KMTLS_PLUGIN" -X "mtls.volume=$vol" -b 127.0.0.1:1 -m 1 -L)
URL=(-X mtls.enrol.url=https://127.0.0.1:1 -X "mtls.enrol.ca.location=$root")

expect_fail "an http:// service URL is refused when set" \
  "mtls.enrol.url: CA service URL 'http://127.0.0.1:1': expected https://" \
  "${KC[@]}" -X mtls.enrol.url=http://127.0.0.1:1
expect_fail "a lifetime that is no Go duration is refused when set" "mtls.enrol.not.after: lifetime '3d'" \
  "${KC[@]}" "${URL[@]}" -X mtls.enrol.not.after=3d
expect_fail "a relative token file is refused when set" "mtls.enrol.token.file: token file 'token': not an absolute path" \
  "${KC[@]}" "${URL[@]}" -X mtls.enrol.token.file=token
expect_fail "a missing service root is refused when set" "mtls.enrol.ca.location: $WORK/none.crt" \
  "${KC[@]}" -X mtls.enrol.url=https://127.0.0.1:1 -X "mtls.enrol.ca.location=$WORK/none.crt"
expect_fail "a timeout beyond 600 s is refused when set" 'mtls.enrol.timeout.ms: "700000" is not a number' \
  "${KC[@]}" "${URL[@]}" -X mtls.enrol.timeout.ms=700000
expect_fail "a service URL without its root fails client creation" \
  'mtls.enrol.url needs mtls.enrol.ca.location' "${KC[@]}" -X mtls.enrol.url=https://127.0.0.1:1
expect_fail "a service root without a URL fails client creation" \
  'mtls.enrol.ca.location is set but mtls.enrol.url is not' "${KC[@]}" -X "mtls.enrol.ca.location=$root"
expect_fail "a CA service beside a CA key fails client creation (one issuer)" \
  'configuration conflict: mtls.enrol.url and mtls.ca.key.location both make the plugin the issuer' \
  "${KC[@]}" "${URL[@]}" -X "mtls.ca.location=$root" -X "mtls.ca.key.location=$FX/ca/ca.key"
expect_fail "a timeout longer than mtls.wait.ms fails client creation" \
  'mtls.enrol.timeout.ms=5000 is longer than mtls.wait.ms=1000' \
  "${KC[@]}" "${URL[@]}" -X mtls.wait.ms=1000 -X mtls.enrol.timeout.ms=5000
expect_fail "a local CA's lifetime beside a CA service fails client creation" \
  'mtls.validity.days is a local CA.s lifetime; with mtls.enrol.url ask the service for one with mtls.enrol.not.after' \
  "${KC[@]}" "${URL[@]}" -X mtls.validity.days=30
expect_fail "a first enrolment without a token fails client creation, naming the property" \
  'no certificate to renew: first enrolment, and there is no token \(mtls.enrol.token.file' "${KC[@]}" "${URL[@]}"
if ! compgen -G "$vol/*.jks" >/dev/null && ! compgen -G "$vol/*_creds" >/dev/null; then
  ok "none of them wrote a store into the volume"
else fail "the volume: $(ls -A "$vol")"; fi
