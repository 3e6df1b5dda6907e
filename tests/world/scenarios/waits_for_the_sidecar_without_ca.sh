#!/bin/bash
# Without a CA the plugin is a reader, as a Java client is: a client that
# starts before the seed's sidecar has even made its directory waits
# (mtls.wait.ms) through the sidecar's rm -rf / mkdir -p / keytool steps,
# even a sidecar that dies midway and starts over, and connects once
# ALIAS_creds is written, as the principal of the sidecar's certificate.
. "$(dirname "$0")/../lib.sh"

ks=$WORK/keystore id=sidecar-$RANDOM topic=seed-sidecar-$RANDOM
new_topic "$topic"
mkdir -m 700 "$ks"
msgs "$id" 3 | kc "${PLUG[@]}" -X "mtls.volume=$ks/kafka-producer" -X mtls.wait.ms=90000 \
  -X "client.id=$id" -b "$WORLD_BOOTSTRAP" -P -t "$topic" >"$WORK/kcat.out" 2>&1 &
client=$!
"$WORLD_HERE/sidecar.sh" "$ks" kafka-producer "$FX/ca" partial ||
  { fail "the sidecar's first, partial run"; exit 1; }
if kill -0 "$client" 2>/dev/null && ! grep -qF "\"clientId\":\"$id\"" "$WORLD_PEER/request.log"; then
  ok "the client waits while the volume has a keystore and no kafka-producer_creds (no request sent)"
else fail "the client did not wait" "$(cat "$WORK/kcat.out")"; fi
"$WORLD_HERE/sidecar.sh" "$ks" kafka-producer "$FX/ca" || { fail "the sidecar's full run"; exit 1; }
wait "$client"; rc=$?
if (( rc == 0 )) && served "$id" "$(seed_principal kafka-producer)"; then
  ok "after rm -rf, mkdir -p and a full run of the sidecar, the waiting client produced as $(seed_principal kafka-producer)"
else fail "the waiting client (rc=$rc; principals: $(principals_of "$id"))" "$(cat "$WORK/kcat.out")"; fi
