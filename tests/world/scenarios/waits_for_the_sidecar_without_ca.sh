#!/bin/bash
# Without a CA the plugin is a reader, as a Java client is: a client that
# starts before the seed's sidecar has even made its directory waits
# (mtls.wait.ms) through the sidecar's rm -rf / mkdir -p / keytool steps,
# even a sidecar that dies midway and starts over, and connects once
# ALIAS_creds is written, as the principal of the sidecar's certificate.
# The sidecar runs only once the client is seen waiting: blocked in client
# creation on an inotify watch of the keystore directory, alive, and with
# no request served.
. "$(dirname "$0")/../lib.sh"

ks=$WORK/keystore id=sidecar-$RANDOM topic=seed-sidecar-$RANDOM
new_topic "$topic"
mkdir -m 700 "$ks"
[[ ! -e $ks/kafka-producer ]] || { fail "$ks/kafka-producer exists before the client starts"; exit 1; }
msgs "$id" 3 >"$WORK/msgs"
timeout -k 5 150 kcat "${PLUG[@]}" -X "mtls.volume=$ks/kafka-producer" -X mtls.wait.ms=120000 \
  -X "client.id=$id" -b "$WORLD_BOOTSTRAP" -P -t "$topic" <"$WORK/msgs" >"$WORK/kcat.out" 2>&1 &
client=$!
CLEANUP+=("kill $client")
# the kcat under timeout(1), once it runs
kcat_pid() {
  local c
  for c in $(cat "/proc/$client/task/$client/children" 2>/dev/null); do
    [[ $(cat "/proc/$c/comm" 2>/dev/null) == kcat ]] && { echo "$c"; return 0; }
  done
  return 1
}
# watching PID: PID holds an inotify instance (the plugin's wait for the
# volume; librdkafka and kcat make none)
watching() { local f; for f in /proc/"$1"/fd/*; do [[ $(readlink "$f" 2>/dev/null) == anon_inode:inotify ]] && return 0; done; return 1; }
# still_waiting SECONDS: the client stays alive and unserved for SECONDS
still_waiting() {
  local i
  for (( i = 0; i < $1 * 10; i++ )); do
    kill -0 "$client" 2>/dev/null || return 1
    ! grep -qF "\"clientId\":\"$id\"" "$WORLD_PEER/request.log" || return 1
    sleep 0.1
  done
}
pid=''
for (( i = 0; i < 600; i++ )); do   # 60 s: a JVM or two may be starting beside us
  pid=$(kcat_pid) && watching "$pid" && break
  kill -0 "$client" 2>/dev/null || break
  pid=''; sleep 0.1
done
if [[ -n $pid ]] && still_waiting 2 && [[ ! -e $ks/kafka-producer ]]; then
  ok "with kafka-producer/ absent the client waits in client creation (an inotify watch, alive 2 s on, no request served)"
else fail "the client did not wait for the absent kafka-producer/ (kcat ${pid:-not found} under $client)" \
  "$(cat "$WORK/kcat.out"; ls -l "/proc/$client/fd" "/proc/${pid:-$client}/fd" 2>&1; cat "/proc/$client/task/$client/children" 2>&1)"; exit 1; fi

"$WORLD_HERE/sidecar.sh" "$ks" kafka-producer "$FX/ca" partial ||
  { fail "the sidecar's first, partial run"; exit 1; }
if still_waiting 2; then
  ok "the client waits while the volume has a keystore and no kafka-producer_creds (alive 2 s on, no request served)"
else fail "the client did not wait" "$(cat "$WORK/kcat.out")"; fi
"$WORLD_HERE/sidecar.sh" "$ks" kafka-producer "$FX/ca" || { fail "the sidecar's full run"; exit 1; }
wait "$client"; rc=$?
if (( rc == 0 )) && served "$id" "$(seed_principal kafka-producer)"; then
  ok "after rm -rf, mkdir -p and a full run of the sidecar, the waiting client produced as $(seed_principal kafka-producer)"
else fail "the waiting client (rc=$rc; principals: $(principals_of "$id"))" "$(cat "$WORK/kcat.out")"; fi
