#!/bin/bash
# kcat (librdkafka) with the kafka-mtls plugin against a 3-broker Kafka mock
# cluster behind stunnel, which requires and verifies client certificates
# (tests/peer/mtls-peer.sh). What is asserted is what a user sees: kcat's
# output and exit status, and the peer's TLS log naming the certificate it
# accepted ("Certificate accepted at depth=0: ...CN=<volume's client>").
# Env from meson: KMTLS_PLUGIN, KMTLS_PEER_DIR, KMOCKD, and lib.sh's.
. "$(dirname "$0")/lib.sh"
: "${KMTLS_PLUGIN:?run through meson test}" "${KMTLS_PEER_DIR:?run through meson test}"
trap 'exit 130' INT
trap 'exit 143' TERM

PLUG=(-X "plugin.library.paths=$KMTLS_PLUGIN")
T0=$(date +%s%N)

ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
# child_of PID: a child process of PID (pure bash: pgrep hangs under an
# LD_PRELOADed ASan runtime)
child_of() {
  local f pid comm state ppid
  for f in /proc/[0-9]*/stat; do
    read -r pid comm state ppid _ <"$f" 2>/dev/null || continue
    [[ $ppid == "$1" ]] && { echo "$pid"; return; }
  done
}
# kc ARGS...: kcat with a hard limit (a hang is a failure, not a stuck CI),
# sized with the metadata timeouts (-m 30) for a loaded 2-core machine.
kc() { timeout -k 5 90 kcat "$@"; }

# ---- the peer: 3 brokers, stopped when this script ends, even by SIGKILL
# (lib.sh: start_mtls_peer)
start_mtls_peer
echo "# peer at $B, started in $(ms_since "$T0") ms"

lists_brokers() { grep -q ' 3 brokers:' <<<"$1" && for p in "${PORTS[@]}"; do
                    grep -q "broker [0-9]* at 127.0.0.1:$p\$" <<<"$1" || return 1; done; }

# ---- 1. every kind of volume: metadata, produce, consume
# volume NAME TOPIC DIR CN: kcat -L, -P and -C -e through the plugin with DIR.
volume() {
  local name=$1 topic=$2 dir=$3 cn=$4 out rc msg="$2-$RANDOM$RANDOM"
  local via=("${PLUG[@]}" -X "mtls.volume=$dir" -b "$B")
  mark
  out=$(kc "${via[@]}" -L -m 30 2>&1); rc=$?
  if (( rc == 0 )) && lists_brokers "$out" && accepted "$cn"; then
    ok "$name: kcat -L lists the 3 brokers; the peer verified CN=$cn"
  else fail "$name: kcat -L (rc=$rc)" "$out
$(since | grep -E 'Certificate|Rejected|SSL_accept')"; fi
  mark
  out=$(printf '%s\n' "$msg" | kc "${via[@]}" -P -t "$topic" -p 0 2>&1); rc=$?
  if (( rc == 0 )) && accepted "$cn"; then ok "$name: kcat -P produced, as CN=$cn"
  else fail "$name: kcat -P (rc=$rc)" "$out"; fi
  mark
  out=$(kc "${via[@]}" -C -t "$topic" -o beginning -e -q 2>&1); rc=$?
  if (( rc == 0 )) && grep -qxF -- "$msg" <<<"$out" && accepted "$cn"; then
    ok "$name: kcat -C -e consumed the message back, as CN=$cn"
  else fail "$name: kcat -C (rc=$rc, want '$msg')" "$out"; fi
}
# ---- 2. fail closed: the client is not created and never connects
# refused_early NAME PATTERN KCAT_ARGS...: kcat fails with PATTERN and the
# peer saw no connection at all.
refused_early() {
  local name=$1 pat=$2 out rc; shift 2
  mark
  out=$(kc "$@" -b "$B" -L -m 5 2>&1); rc=$?
  if (( rc != 0 && rc != 124 )) && grep -qE -- "$pat" <<<"$out" && (( $(connections) == 0 )); then
    ok "$name"
  else fail "$name (rc=$rc, want /$pat/ and no connection; $(connections) connection(s))" "$out"; fi
}

# The failure matrix runs first, while nothing else has touched the peer:
# no straggling connection of an earlier case can land in its window.
CREATE='Failed to create (producer|consumer): .*kafka-mtls: '
refused_early "missing volume and parent: rejected at conf_set" \
  "mtls.volume: $WORK/no-such-dir/vol: No such file or directory \\(nor does its parent directory\\)" \
  "${PLUG[@]}" -X "mtls.volume=$WORK/no-such-dir/vol"
refused_early "volume not made yet, no CA: waits mtls.wait.ms, then names it" \
  "mtls.volume: still not ready after mtls.wait.ms=300: $WORK/not-made-yet does not exist yet" \
  "${PLUG[@]}" -X "mtls.volume=$WORK/not-made-yet" -X mtls.wait.ms=300
refused_early "relative volume path: rejected at conf_set" \
  'mtls.volume: "vol/client-p12" is not an absolute path' "${PLUG[@]}" -X mtls.volume=vol/client-p12
refused_early "invalid mtls.wait.ms: rejected at conf_set" \
  'mtls.wait.ms: "soon" is not a number of milliseconds' \
  "${PLUG[@]}" -X "mtls.volume=$VOL/client-p12" -X mtls.wait.ms=soon
refused_early "mtls.* before plugin.library.paths: unknown property" \
  'No such configuration property: "mtls.volume"' -X "mtls.volume=$VOL/client-p12" "${PLUG[@]}"
refused_early "kcat without the plugin does not know mtls.volume" \
  'No such configuration property: "mtls.volume"' -X "mtls.volume=$VOL/client-p12"
refused_early "no key source: client not created" "${CREATE}no key source configured" "${PLUG[@]}"
printf 'not-the-password\n' >"$WORK/wrong.pw"
refused_early "wrong password: client not created" "${CREATE}mtls.volume: .*wrong password" \
  "${PLUG[@]}" -X "mtls.volume=$VOL/client-p12" -X "mtls.password.file=$WORK/wrong.pw"
refused_early "app's ssl.ca.location conflicts with the volume's truststore" \
  "${CREATE}configuration conflict: ssl.ca.location is set by the application" \
  "${PLUG[@]}" -X "mtls.volume=$VOL/client-jks" -X "ssl.ca.location=$FX/ca/ca.crt"
refused_early "app's ssl.key.location before the plugin: the plugin refuses to load" \
  "kafka-mtls: ssl.key.location was set before plugin.library.paths" \
  -X "ssl.key.location=$VOL/cm/tls.key" "${PLUG[@]}" -X "mtls.volume=$VOL/cm"
refused_early "app's ssl.key.location after the plugin: refused at conf_set" \
  "kafka-mtls: ssl.key.location: the plugin supplies the client key and certificate" \
  "${PLUG[@]}" -X "ssl.key.location=$VOL/cm/tls.key" -X "mtls.volume=$VOL/cm"
refused_early "a failing client asked for plaintext: still not created" \
  "${CREATE}.*wrong password" -X security.protocol=plaintext \
  "${PLUG[@]}" -X "mtls.volume=$VOL/client-p12" -X "mtls.password.file=$WORK/wrong.pw"
# Java client properties in the wrong order: librdkafka took
# ssl.keystore.location itself before the plugin was there. The plugin
# refuses to load, so the client is not created.
refused_early "ssl.keystore.location before plugin.library.paths: client not created" \
  "kafka-mtls: ssl.keystore.location was set before plugin.library.paths" \
  -X "ssl.keystore.location=$VOL/client-p12/client-p12.keystore.jks" \
  -X "ssl.keystore.password=$(<"$VOL/client-p12/client-p12_creds")" "${PLUG[@]}"

# A volume the certificate service has not finished: no ALIAS_creds yet.
mkdir -p "$WORK/nr/client-p12" "$WORK/late/client-p12"
cp "$VOL"/client-p12/*.jks "$WORK/nr/client-p12/"
cp "$VOL"/client-p12/*.jks "$WORK/late/client-p12/"
mark
t=$(date +%s%N)
out=$(kc "${PLUG[@]}" -X "mtls.volume=$WORK/nr/client-p12" -X mtls.wait.ms=300 -b "$B" -L -m 5 2>&1); rc=$?
ms=$(ms_since "$t")
if (( rc != 0 && rc != 124 && ms >= 300 && ms < 15000 && $(connections) == 0 )) &&
   grep -qE -- "${CREATE}mtls.volume: still not ready after mtls.wait.ms=300: .*client-p12_creds does not exist yet" <<<"$out"; then
  ok "not-ready volume: waited $ms ms (>= mtls.wait.ms=300), then failed without connecting"
else fail "not-ready volume (rc=$rc, $ms ms, $(connections) connection(s))" "$out"; fi

# ... that becomes ready while the client waits: the writer copies the
# creds in once the plugin watches the volume (its inotify descriptor is
# open in kcat), so the client really was waiting.
mark
t=$(date +%s%N)
timeout -k 5 90 kcat "${PLUG[@]}" -X "mtls.volume=$WORK/late/client-p12" -X mtls.wait.ms=20000 \
  -b "$B" -L -m 30 >"$WORK/late.out" 2>&1 &
tpid=$!
watching=0
for _ in $(seq 1000); do
  kpid=$(child_of "$tpid")
  if [[ -n $kpid ]] && ls -l "/proc/$kpid/fd" 2>/dev/null | grep -q 'anon_inode:inotify'; then watching=1; break; fi
  kill -0 "$tpid" 2>/dev/null || break
  sleep 0.01
done
cp "$VOL/client-p12/client-p12_creds" "$WORK/late/client-p12/"
wrote=$(ms_since "$t")
wait "$tpid"; rc=$?
ms=$(ms_since "$t")
if (( rc == 0 && watching && ms < 20000 )) && lists_brokers "$(<"$WORK/late.out")" && accepted client-p12; then
  ok "volume completed while the client waited: creds written at $wrote ms, connected as CN=client-p12 at $ms ms"
else fail "volume completed while waiting (rc=$rc, watching=$watching, $ms ms)" "$(cat "$WORK/late.out")"; fi

# ---- 1. (the volumes)
volume "seed PKCS#12" t-p12 "$VOL/client-p12" client-p12
volume "seed JKS" t-jks "$VOL/client-jks" client-jks
volume "seed JCEKS" t-jceks "$VOL/client-jceks" client-jceks
volume "cert-manager PEM" t-cm "$VOL/cm" cm-client
volume "2-level chain" t-chain "$VOL/client-chain" client-chain
volume "spiffe-helper PEM" t-spiffe "$VOL/spiffe" spiffe-client
# stunnel's verifyChain needs the intermediate, which only the client sends
mark
out=$(kc "${PLUG[@]}" -X "mtls.volume=$VOL/client-chain" -b "$B" -L -m 30 2>&1)
if logged 'Certificate accepted at depth=1: CN=kafka-mtls intermediate CA' && accepted client-chain; then
  ok "2-level chain: the client sent its intermediate (peer accepted depth=1: the intermediate CA)"
else fail "2-level chain: intermediate" "$out
$(since | grep -E 'Certificate|Rejected')"; fi

# ---- 3. consumer group (librdkafka 2.0.2's mock: ~3 s first join), once
mark
msg=group-$RANDOM$RANDOM
printf '%s\n' "$msg" | kc "${PLUG[@]}" -X "mtls.volume=$VOL/client-jks" -b "$B" -P -t t-group -p 1 >/dev/null 2>&1
out=$(kc "${PLUG[@]}" -X "mtls.volume=$VOL/client-p12" -b "$B" -X auto.offset.reset=earliest \
      -G kmtls-group t-group -e -c 1 -q 2>&1); rc=$?
if (( rc == 0 )) && grep -qxF -- "$msg" <<<"$out" && accepted client-p12; then
  ok "kcat -G (consumer group) joined and consumed, as CN=client-p12"
else fail "kcat -G (rc=$rc, want '$msg')" "$out"; fi

# ---- 4. the Java client's properties file, through kcat -F
pw=$(<"$VOL/client-p12/client-p12_creds")
{
  echo "plugin.library.paths=$KMTLS_PLUGIN"
  echo "# a Java consumer's configuration, as it is"
  echo "bootstrap.servers=$B"
  echo "group.id=kmtls-java"
  java_ssl_properties
} >"$WORK/consumer.properties"
mark
out=$(kc -F "$WORK/consumer.properties" -C -t t-p12 -o beginning -e -q 2>&1); rc=$?
if (( rc == 0 )) && grep -q '^t-p12-' <<<"$out" && accepted client-p12; then
  ok "Java consumer.properties via kcat -F: consumed, as CN=client-p12"
else fail "Java consumer.properties via kcat -F (rc=$rc)" "$out"; fi

# ---- 5. KAFKA_MTLS_VOLUME, property order, plaintext upgraded
mark
out=$(KAFKA_MTLS_VOLUME=$VOL/client-jceks kc "${PLUG[@]}" -b "$B" -L -m 30 2>&1); rc=$?
if (( rc == 0 )) && lists_brokers "$out" && accepted client-jceks; then
  ok "KAFKA_MTLS_VOLUME with only plugin.library.paths: CN=client-jceks"
else fail "KAFKA_MTLS_VOLUME (rc=$rc)" "$out"; fi
mark
out=$(KAFKA_MTLS_VOLUME=$VOL/cm kc "${PLUG[@]}" -X "mtls.volume=$VOL/client-jceks" -b "$B" -L -m 30 2>&1); rc=$?
if (( rc == 0 )) && accepted client-jceks && ! accepted cm-client; then
  ok "mtls.volume wins over KAFKA_MTLS_VOLUME"
else fail "mtls.volume over KAFKA_MTLS_VOLUME (rc=$rc)" "$out"; fi

J=$VOL/client-jks
# same_result LABEL KCAT_ARGS...: success, and the peer verified CN=client-jks
same_result() {
  local label=$1 out rc; shift
  mark
  out=$(kc "$@" -L -m 30 2>&1); rc=$?
  if (( rc == 0 )) && lists_brokers "$out" && accepted client-jks; then ok "property order: $label"
  else fail "property order: $label (rc=$rc)" "$out"; fi
}
same_result "plugin, mtls.*, security.protocol, -X bootstrap.servers" "${PLUG[@]}" \
  -X "mtls.volume=$J" -X mtls.wait.ms=500 -X security.protocol=ssl -X "bootstrap.servers=$B"
same_result "-X bootstrap.servers, security.protocol, plugin, mtls.*" -X "bootstrap.servers=$B" \
  -X security.protocol=ssl "${PLUG[@]}" -X mtls.wait.ms=500 -X "mtls.volume=$J"
same_result "plugin, then mtls.* between other properties, -b" "${PLUG[@]}" -X security.protocol=ssl \
  -X mtls.alias=client-jks -X client.id=kmtls -X "mtls.volume=$J" -X linger.ms=1 -b "$B"
for o in before after; do
  if [[ $o == before ]]; then args=(-X security.protocol=plaintext "${PLUG[@]}" -X "mtls.volume=$J")
  else args=("${PLUG[@]}" -X "mtls.volume=$J" -X security.protocol=plaintext); fi
  mark
  out=$(kc "${args[@]}" -b "$B" -L -m 30 2>&1); rc=$?
  if (( rc == 0 )) && grep -q "from broker [0-9]*: ssl://" <<<"$out" && accepted client-jks; then
    ok "security.protocol=plaintext ($o the plugin) upgraded: ssl://, peer verified CN=client-jks"
  else fail "security.protocol=plaintext ($o the plugin) (rc=$rc)" "$out"; fi
done

# ---- 6. refused by the peer (each waits out -m 2: run together)
# kcat 1.7.1 may segfault on exit after a refused connection: a non-zero
# status (not a timeout) plus the error text is a refusal.
refused() {  # refused OUT PATTERN ARGS...
  local out=$1 pat=$2 rc; shift 2
  kc "$@" -b "$B" -L -m 2 >"$out" 2>&1; rc=$?
  echo "rc=$rc" >>"$out"
  (( rc != 0 && rc != 124 && rc != 137 )) && grep -qE -- "$pat" "$out"
}
mark
refused "$WORK/r.noplugin" 'certificate required|alert|handshake' \
  -X security.protocol=ssl -X "ssl.ca.location=$FX/ca/ca.crt" & r1=$!
refused "$WORK/r.foreign" 'certificate verify failed' \
  "${PLUG[@]}" -X "mtls.volume=$VOL/foreign" & r2=$!
refused "$WORK/r.foreign2" 'unknown ca|alert|handshake' \
  "${PLUG[@]}" -X "mtls.volume=$VOL/foreign" \
  -X "ssl.truststore.location=$VOL/client-p12/client-p12.truststore.jks" -X "ssl.truststore.password=$pw" & r3=$!
wait "$r1"; rc1=$?; wait "$r2"; rc2=$?; wait "$r3"; rc3=$?
if (( rc1 == 0 )) && logged 'peer did not return a certificate'; then
  ok "kcat without the plugin: refused by the peer (no client certificate)"
else fail "kcat without the plugin refused" "$(cat "$WORK/r.noplugin")"; fi
if (( rc2 == 0 )) && ! accepted foreign; then
  ok "foreign-CA volume: refused, its truststore does not trust the broker (certificate verify failed)"
else fail "foreign-CA volume" "$(cat "$WORK/r.foreign")"; fi
if (( rc3 == 0 )) && logged 'Rejected by CERT at depth=[01]: (.*, )?CN=foreign( CA, O=kafka-mtls tests)?$' && ! accepted foreign; then
  ok "foreign-CA volume trusting the broker: refused by the peer (Rejected by CERT)"
else fail "foreign-CA volume refused by the peer" "$(cat "$WORK/r.foreign2")
$(since | grep -E 'Certificate|Rejected')"; fi

echo "# total $(ms_since "$T0") ms"
