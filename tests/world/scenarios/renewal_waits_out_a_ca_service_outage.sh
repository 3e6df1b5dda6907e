#!/bin/bash
# The CA service goes down while a client runs, just before its certificate
# is due for renewal: the plugin's renewer logs the failure naming the
# service, the client goes on producing with the certificate it has (the
# same serial on the wire), and once the service is back the renewer's next
# try renews the volume by rekey. The renewer tries again after a failure
# every KAFKA_MTLS_RENEW_RETRY_SECONDS (60 by default; 2 here). The client
# is tests/world/live_client.c: an idempotent producer and a group consumer
# (kafka-consumer, a volume of its own), every message accounted for.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../step_ca.sh"
: "${KMTLS_LIVE_CLIENT:?run through meson test}"
start_step_ca
ks=$WORK/keystore vol=$WORK/keystore/kafka-producer cvol=$WORK/keystore/kafka-consumer topic=seed-outage-$RANDOM
mkdir -m 700 "$ks" "$WORK/tokens"
new_topic "$topic" 3
tok=$WORK/tokens/producer.token
step_token "$tok" "Callisto kafka-producer"
# a 10-minute certificate (11 with step-ca's backdating)
out=$("$KMTLS_TOOL" issue "$vol" --enrol-url "$STEP_URL" --enrol-ca "$STEP_ROOT" --token-file "$tok" \
      --key-type ec:P-256 --not-after 10m 2>&1) || { fail "kafka-mtls issue (enrolment)" "$out"; exit 1; }
serial1=$(serial_of "$vol")
step_token "$tok" "Callisto kafka-consumer"
out=$("$KMTLS_TOOL" issue "$cvol" --enrol-url "$STEP_URL" --enrol-ca "$STEP_ROOT" --token-file "$tok" \
      --key-type ec:P-256 2>&1) || { fail "kafka-mtls issue (the consumer's enrolment)" "$out"; exit 1; }
cserial=$(serial_of "$cvol")
port=${STEP_URL##*:}
hex() { tr a-f A-F <<<"${1//:/}" | sed 's/^0*//'; }

# ---- the running client; the producer's renew window opens 25 s after its enrolment
LIVE=()
declare -F broker_saw >/dev/null && LIVE=("mtls.rotation=live")
props() {  # props FILE VOLUME CLIENT_ID [KEY=VALUE...]
  local f=$1 v=$2 cid=$3; shift 3
  { echo "plugin.library.paths=$KMTLS_PLUGIN"; echo "bootstrap.servers=$WORLD_BOOTSTRAP"
    echo "mtls.volume=$v"; echo "client.id=$cid"; printf '%s\n' "$@"; } >"$f"
}
props "$WORK/p.properties" "$vol" "$topic-p" "${LIVE[@]}" "mtls.enrol.url=$STEP_URL" "mtls.enrol.ca.location=$STEP_ROOT" \
  mtls.key.type=ec:P-256 mtls.renew.before=575s
props "$WORK/c.properties" "$cvol" "$topic-c" "${LIVE[@]}"
OUT=$WORK/client.out CTL=$WORK/ctl
mkdir -p "$CTL"
KAFKA_MTLS_RENEW_RETRY_SECONDS=2 "$KMTLS_LIVE_CLIENT" "$WORK/p.properties" "$WORK/c.properties" "$topic" "$topic" \
  "$CTL" 20 >"$OUT" 2>&1 &
PID=$!
CLEANUP+=("kill $PID")
client_line "the group assigned" '^consumer\|.*REBALANCE\| assigned' 60 || exit 1
client_count_reaches delivered 1 30

# ---- the service goes down before the window opens
env -u LD_PRELOAD "$STEP_PEER" stop "$STEP_DIR" >/dev/null 2>&1
if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then ok "step-ca stopped (nothing listens on $port)"
else fail "step-ca still listens on $port"; exit 1; fi
seen=$(serials_seen | wc -l)
if client_line "the renewer's failure" "^producer\|.*with the CA service failed: step-ca $STEP_URL/1.0/rekey is unreachable" 40 &&
   [[ $(serial_of "$vol") == "$serial1" ]]; then
  ok "the renewer's try failed naming the service ($(grep -a -m1 -o "step-ca $STEP_URL/1.0/rekey is unreachable[^;]*" "$OUT")); the volume is as it was"
fi
d=$(client_count delivered)
client_count_reaches delivered $(( d + 40 )) 20
others=$(serials_seen | tail -n "+$((seen + 1))" | grep -vxF -e "$(hex "$serial1")" -e "$(hex "$cserial")")
if (( $(client_count delivered) >= d + 40 )) && [[ -z $others ]] && kill -0 "$PID" 2>/dev/null; then
  ok "during the outage the producer goes on: $d -> $(client_count delivered) delivered, no client certificate but serial $serial1 (and the consumer's) on the wire"
else fail "producing during the outage (delivered $d -> $(client_count delivered), other serials: ${others:-none})" \
  "$(grep -a 'MTLS\|ERROR\|FAIL' "$OUT" | tail -n 5)"; fi

# ---- the service is back (same port, same PKI): the next try renews
out=$(env -u LD_PRELOAD PEER_DIR="$STEP_DIR" "$STEP_PEER" start "$WORLD_STEP_PKI" "$port" 2>&1) ||
  { fail "restarting step-ca on $port" "$out"; exit 1; }
serial2=$serial1
for (( i = 0; i < 400; i++ )); do   # the renewer tries every 2 s: at most 20 s
  serial2=$(serial_of "$vol")
  [[ -n $serial2 && $serial2 != "$serial1" ]] && break
  sleep 0.05
done
if [[ -n $serial2 && $serial2 != "$serial1" ]] && grep -q 'path=/1.0/rekey .*status=201' "$STEP_LOG" &&
   [[ $(subject_of "$vol") == "$SEED_DN_PREFIX kafka-producer" ]]; then
  ok "step-ca back: the renewer renewed the volume by rekey (serial $serial1 -> $serial2), same identity"
else fail "renewal after the outage (serial $serial1 -> $serial2)" "$(grep -a 'MTLS' "$OUT" | tail -n 5)
$(tail -n 3 "$STEP_LOG")"; fi
if (( ${#LIVE[@]} )) && [[ $serial2 != "$serial1" ]]; then
  if broker_saw "$serial2"; then ok "live rotation: the running producer then presented serial $serial2"
  else fail "live rotation: the broker never saw serial $serial2" "$(serials_seen | tail -n 3)"; fi
fi

# ---- every message delivered and consumed once, across the outage
touch "$CTL/stop"
for (( i = 0; i < 1200; i++ )); do kill -0 "$PID" 2>/dev/null || break; sleep 0.05; done
wait "$PID"; rc=$?
result=$(grep -a '^RESULT ' "$OUT")
if (( rc == 0 )); then ok "the client across the outage: ${result#RESULT }"
else fail "the client: rc=$rc ${result:-no result}" "$(grep -a 'ERROR\|FAIL\|failed' "$OUT" | tail -n 10)"; fi
