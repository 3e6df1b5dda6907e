#!/bin/bash
# valgrind on the integration paths: kcat with the plugin (-L, -P, -C; a
# PKCS#12, a JKS through Java properties, a chain volume, issuance on first
# use, and a client that fails to be created), `openssl storeutl` /
# `openssl pkey` through the provider on every layout (and failing loads),
# and kafka-mtls issue / inspect, each under the valgrind test setup's
# command (KMTLS_VALGRIND: --error-exitcode=9 --leak-check=full
# --errors-for-leak-kinds=definite --suppressions=tests/valgrind.supp).
# No memory errors and no definite leaks; a stack through libkafka-mtls.so,
# kafka-mtls.so or the kafka-mtls command in any report is ours and fails.
# tests/valgrind.supp holds only librdkafka/kcat/OpenSSL-internal leaks.
# Runs in `meson test --setup valgrind`; skipped (77) in any other setup.
# Env from meson: KMTLS_PLUGIN, KMTLS_PEER_DIR, KMOCKD, KMTLS_TOOL, lib.sh's.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hardening-lib.sh"

skip() { echo "# skip: $*"; trap - EXIT; rm -rf "$WORK"; echo "0 passed, 0 failed"; exit 77; }
[[ -n ${KMTLS_VALGRIND:-} ]] || skip "valgrind runs in the valgrind test setup: meson test --setup valgrind"
read -r -a VG <<<"$KMTLS_VALGRIND"
start_peer
P12=$VOL/client-p12 JKS=$VOL/client-jks
pw_jks=$(<"$JKS/client-jks_creds")
# a frame of ours: in our objects, or in one of our source files (debug info)
srcs=$(cd "$KMTLS_SOURCE_ROOT" && ls provider/*.c interceptor/*.c tool/*.c | sed 's|.*/||; s|\.c$||' | paste -sd'|')
OURS="libkafka-mtls\\.so|kafka-mtls\\.so|/kafka-mtls\\)|\\(($srcs)\\.c:[0-9]+\\)"

# Only for the clients that fail to be created: librdkafka 2.0.2's
# rd_kafka_new() failure path frees the interceptor lists it shares with the
# application's configuration (librdkafka issue #4142, fixed by PR #5240)
# without calling on_conf_destroy, so the plugin's per-configuration
# settings (interceptor/plugin.c conf_init) can never be freed once kcat
# exits without rd_kafka_conf_destroy. Not in tests/valgrind.supp: there it
# would hide a real leak of the same block on the success path.
cat >"$WORK/failed-creation.supp" <<'SUPP'
{
   librdkafka-4142-rd_kafka_new-failure-drops-the-plugin-settings
   Memcheck:Leak
   match-leak-kinds: definite
   fun:malloc
   fun:CRYPTO_zalloc
   fun:km_settings_new
   fun:conf_init
}
SUPP

# [VIN=TEXT] vg NAME WANT_RC CHECK_RE CMD...: CMD under valgrind, TEXT (or
# nothing) on its stdin, in the background (collect with vg_wait), exits
# WANT_RC, prints CHECK_RE, and valgrind reports 0 errors with no stack of
# ours.
declare -A VPID VWANT VCHECK VT0
vg() {
  local name=$1 input=${VIN-}; VWANT[$1]=$2 VCHECK[$1]=$3 VT0[$1]=$(date +%s%N); shift 3
  (cd "$BOX/cwd" && TMPDIR=$BOX/tmp timeout -k 5 300 "${VG[@]}" --log-file="$WORK/$name.vg" "$@" \
     < <(printf '%s' "$input")) >"$WORK/$name.out" 2>&1 {WATCHDOG}>&- &
  VPID[$name]=$!
}
vg_wait() {
  local name rc ours
  for name in "$@"; do
    wait "${VPID[$name]}"; rc=$?
    ours=$(grep -E '^==[0-9]+== +(at|by) 0x' "$WORK/$name.vg" | grep -E "$OURS" | head -5)
    if (( rc == ${VWANT[$name]} )) && { [[ -z ${VCHECK[$name]} ]] || grep -qE -- "${VCHECK[$name]}" "$WORK/$name.out"; } &&
       grep -q 'ERROR SUMMARY: 0 errors' "$WORK/$name.vg" && [[ -z $ours ]]; then
      ok "valgrind: $name ($(ms_since "${VT0[$name]}") ms): exit ${VWANT[$name]}, 0 errors, no definite leak ($(grep -oE 'suppressed: [0-9,]+ bytes' "$WORK/$name.vg" | head -1 || echo 'nothing') suppressed)"
    else
      fail "valgrind: $name (rc=$rc, want ${VWANT[$name]} and /${VCHECK[$name]}/)" "$(grep -v '^%7' "$WORK/$name.out" | tail -5)
$(grep -E '^==[0-9]+== ' "$WORK/$name.vg" | grep -vE '== (Memcheck|Copyright|Using Valgrind|Command|Parent PID|$)' | head -60)"
    fi
  done
}

# ---- kcat through the plugin (2 at a time: valgrind is slow)
msg=vg-$RANDOM$RANDOM
# metadata timeouts (-m, seconds) sized for valgrind on a loaded 2-core machine
vg kcat-L-p12 0 ' 3 brokers:' kcat "${PLUG[@]}" -X "mtls.volume=$P12" -b "$B" -L -m 90
VIN="$msg"$'\n' vg kcat-P-java 0 '' kcat "${PLUG[@]}" \
  -X "ssl.keystore.location=$JKS/client-jks.keystore.jks" -X "ssl.keystore.password=$pw_jks" \
  -X "ssl.key.password=$pw_jks" -X "ssl.truststore.location=$JKS/client-jks.truststore.jks" \
  -X "ssl.truststore.password=$pw_jks" -X ssl.endpoint.identification.algorithm= -b "$B" -P -t t-vg -p 0
vg_wait kcat-L-p12 kcat-P-java
vg kcat-C-chain 0 "^$msg\$" kcat "${PLUG[@]}" -X "mtls.volume=$VOL/client-chain" -b "$B" \
  -X socket.timeout.ms=120000 -m 90 -C -t t-vg -o beginning -e -q
V=$BOX/issued; mkdir -p -m 700 "$V"
vg kcat-L-issue 0 'kafka-mtls: issued a certificate for CN=issued' kcat "${PLUG[@]}" -X "mtls.volume=$V" \
  "${CA[@]}" -X mtls.key.type=ec:P-256 -b "$B" -L -m 90
vg_wait kcat-C-chain kcat-L-issue
printf 'wrong\n' >"$WORK/wrong.pw"
VG+=(--suppressions="$WORK/failed-creation.supp")
vg kcat-fails 1 'Failed to create producer: .*wrong password' kcat "${PLUG[@]}" -X "mtls.volume=$P12" \
  -X "mtls.password.file=$WORK/wrong.pw" -b "$B" -L -m 5
V2=$BOX/issued2; mkdir -p -m 777 "$V2"
vg kcat-fails-issue 1 'Failed to create producer: .*writable by group or others' kcat "${PLUG[@]}" \
  -X "mtls.volume=$V2" "${CA[@]}" -b "$B" -L -m 5

vg_wait kcat-fails kcat-fails-issue
unset 'VG[-1]'

# ---- the provider through openssl, every layout, and failing loads
vg storeutl-p12 0 '^Total found: 4$' openssl storeutl "${PROV[@]}" "keystore:$P12"
vg storeutl-jks 0 '^Total found: 4$' openssl storeutl "${PROV[@]}" "keystore:$JKS"
vg_wait storeutl-p12 storeutl-jks
vg storeutl-jceks 0 '^Total found: 4$' openssl storeutl "${PROV[@]}" "keystore:$VOL/client-jceks"
vg storeutl-cm 0 '^Total found: 3$' openssl storeutl "${PROV[@]}" "keystore:$VOL/cm"
vg_wait storeutl-jceks storeutl-cm
vg storeutl-chain-trust 0 '^Total found: [0-9]+$' openssl storeutl "${PROV[@]}" \
  "keystore:$VOL/client-chain?part=truststore"
vg storeutl-wrong 0 'wrong password' openssl storeutl "${PROV[@]}" "keystore:$P12?password-file=$WORK/wrong.pw"
vg_wait storeutl-chain-trust storeutl-wrong
mkdir -p "$BOX/trunc"; head -c 2000 "$P12/client-p12.keystore.jks" >"$BOX/trunc/t.p12"
vg storeutl-truncated 0 'truncated or malformed' openssl storeutl "${PROV[@]}" \
  "keystore:$BOX/trunc/t.p12?password-file=$P12/client-p12_creds"
vg pkey-jks 0 '' openssl pkey "${PROV[@]}" -in "keystore:$JKS/client-jks.keystore.jks?password-file=$JKS/client-jks_creds" -noout
vg_wait storeutl-truncated pkey-jks

# ---- the command
V3=$BOX/tool; mkdir -p -m 700 "$V3"
vg tool-issue 0 '^issued: ' "$TOOL" issue "$V3" "${TOOL_CA[@]}" --key-type ec:P-256
vg tool-inspect 0 'volume' "$TOOL" inspect "$P12"
vg_wait tool-issue tool-inspect
vg tool-renew 0 '^renewed: ' "$TOOL" issue "$V3" "${TOOL_CA[@]}" --force --key-type ed25519
vg tool-insecure 1 'writable by group or others' "$TOOL" issue "$V2" "${TOOL_CA[@]}"
vg_wait tool-renew tool-insecure
echo "# total $(ms_since "$T0") ms"
