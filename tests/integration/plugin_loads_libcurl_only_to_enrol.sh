#!/bin/bash
# libcurl and json-c (and the 25 libraries libcurl pulls in on Debian, about
# 5 ms at every process start) are in kafka-mtls-enrol.so, which the plugin
# loads from its own directory the first time a client enrols with a CA
# service: a client that does not enrol never loads them. Without the
# module, enrolment fails closed naming it. kcat against no broker
# (127.0.0.1:1), no CA service: nothing here reaches a network.
. "$(dirname "$0")/lib.sh"
: "${KMTLS_PLUGIN:?run through meson test}"
mkdir -m 700 "$WORK/ks"
KC=(timeout -k 5 30 kcat -b 127.0.0.1:1 -m 1 -L)
VOL=(-X "mtls.volume=$WORK/ks/client")   # after plugin.library.paths, which defines it
# loaded FILE...: the files the dynamic linker opened, one per line
loaded() { sed -n 's/^ *[0-9]*:[[:space:]]*file=\([^ ]*\) .*/\1/p' "$1" | sort -u; }

# a client without enrolment (it fails: nothing on the volume and no CA)
LD_DEBUG=files LD_DEBUG_OUTPUT=$WORK/ld-plain "${KC[@]}" -X "plugin.library.paths=$KMTLS_PLUGIN" "${VOL[@]}" \
  -X mtls.wait.ms=0 >"$WORK/plain.out" 2>&1
libs=$(cat "$WORK"/ld-plain.* 2>/dev/null | loaded /dev/stdin)
if grep -q 'libkafka-mtls\.so' <<<"$libs" && ! grep -Eq 'libcurl|libjson-c|kafka-mtls-enrol' <<<"$libs"; then
  ok "a client that does not enrol loads the plugin and neither libcurl, json-c nor the enrolment module"
else fail "what a client without enrolment loaded" "$(grep -E 'kafka-mtls|curl|json' <<<"$libs")"; fi

# a first enrolment: the token is read (the module's json-c), then the
# service is unreachable
printf '%s.%s.sig\n' "$(printf '{"alg":"ES256"}' | basenc --base64url | tr -d '=')" \
  "$(printf '{"sub":"client"}' | basenc --base64url | tr -d '=')" >"$WORK/token"
chmod 600 "$WORK/token"
ENROL=(-X mtls.enrol.url=https://127.0.0.1:1 -X "mtls.enrol.ca.location=$FX/ca/ca.crt"
       -X "mtls.enrol.token.file=$WORK/token" -X mtls.enrol.timeout.ms=1000 -X mtls.wait.ms=2000)
LD_DEBUG=files LD_DEBUG_OUTPUT=$WORK/ld-enrol "${KC[@]}" -X "plugin.library.paths=$KMTLS_PLUGIN" "${VOL[@]}" "${ENROL[@]}" \
  >"$WORK/enrol.out" 2>&1
libs=$(cat "$WORK"/ld-enrol.* 2>/dev/null | loaded /dev/stdin)
plugin_dir=$(dirname "$KMTLS_PLUGIN")
if grep -qx "$plugin_dir/kafka-mtls-enrol.so" <<<"$libs" && grep -q 'libcurl' <<<"$libs" &&
   grep -q 'with the CA service failed: step-ca https://127.0.0.1:1/1.0/sign is unreachable' "$WORK/enrol.out"; then
  ok "a client that enrols loads the enrolment module from the plugin's directory, then libcurl"
else fail "what an enrolling client loaded" "$(grep -E 'kafka-mtls|curl' <<<"$libs"; cat "$WORK/enrol.out")"; fi

# the plugin alone, its module missing: enrolment fails closed, naming it
mkdir "$WORK/lonely" && cp "$KMTLS_PLUGIN" "$WORK/lonely/"
expect_fail "without kafka-mtls-enrol.so beside the plugin, enrolment fails closed naming it" \
  "cannot load the enrolment module: $WORK/lonely/kafka-mtls-enrol.so: cannot open shared object file" \
  "${KC[@]}" -X "plugin.library.paths=$WORK/lonely/libkafka-mtls.so" "${VOL[@]}" "${ENROL[@]}"
if ! compgen -G "$WORK/ks/client/*" >/dev/null; then ok "nothing was written into the volume"
else fail "the volume: $(ls -A "$WORK/ks/client")"; fi
