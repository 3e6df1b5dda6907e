#!/bin/bash
# tests/bench/enrol.sh [RUNS] - first-use enrolment with a CA service
# against local issuance and the seed's sidecar script, in one run: each
# figure the median of RUNS (default 9) runs, the sides taken in turns
# (local first in odd rounds, the service first in even ones), for EC P-256
# and RSA-2048. Every run is a whole `kafka-mtls issue` process on an empty
# volume, as a sidecar or a first client start is. The service is smallstep
# step-ca on loopback (tests/peer/step-ca-peer.sh), a fresh one-time token
# per run, minted before the clock starts. The target: enrolment <= local
# issuance + one loopback HTTPS round trip (a sign request made with curl in
# every round, its own TLS handshake included; curl's time_total, not its
# process start).
# A benchmark, never a test: it asserts nothing.
#   meson test -C build --benchmark --suite enrol    or    KMTLS_BUILD=build tests/bench/enrol.sh
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd); ROOT=$(cd "$HERE/../.." && pwd)
B=${KMTLS_BUILD:-$ROOT/build}; B=$(cd "$B" && pwd)
RUNS=${1:-9}
TOOL=$B/tool/kafka-mtls V=$ROOT/tests/fixtures/volume.sh STEP=$ROOT/tests/peer/step-ca-peer.sh
W=$(mktemp -d "${TMPDIR:-/tmp}/kmtls-bench-enrol.XXXXXX")
trap '"$STEP" stop "$W/step" >/dev/null 2>&1; rm -rf "$W"' EXIT
ns() { date +%s%N; }
median() { sort -n | awk '{ a[NR] = $1 } END { if (NR % 2) printf "%.1f\n", a[(NR + 1) / 2]; else printf "%.1f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
calc() { awk "BEGIN { printf \"%.1f\", $1 }"; }
ratio() { awk "BEGIN { printf \"%.2f\", $1 / $2 }"; }
signed() { awk "BEGIN { d = $1; printf \"%s%.1f\", (d >= 0 ? \"+\" : \"\"), d }"; }
row() { printf '| %-58s | %12s | %-48s |\n' "$1" "$2" "$3"; }

"$STEP" fetch >/dev/null 2>&1 || { echo "bench: step-ca cannot be built (tests/peer/step-ca-peer.sh fetch)"; exit 77; }
"$STEP" init "$W/pki" >/dev/null && "$V" ca "$W/ca" >/dev/null || exit 1
port=$("$STEP" pick-ports 1)
PEER_DIR=$W/step "$STEP" start "$W/pki" "$port" >"$W/step.out" || { cat "$W/step.out"; exit 1; }
URL=https://127.0.0.1:$port
CA=(--ca "$W/ca/ca.crt" --ca-key "$W/ca/ca.key" --ca-key-password-file "$W/ca/ca.pass")
SVC=(--enrol-url "$URL" --enrol-ca "$W/pki/root.crt")
mkdir -m 700 "$W/v"

# every token of the run, before any clock starts (the step CLI takes ~0.1 s
# each): per key type RUNS signs and RUNS curl round trips, then RUNS plugin
# enrolments
for i in $(seq $((RUNS * 5))); do
  ( umask 077; "$STEP" token "$W/step" "Callisto kafka-producer" >"$W/token.$i" ) || exit 1
done
# (a counter of the main shell: never taken in a $(...) subshell, whose
# count would be lost)
next_token=0

# one KIND KEYTYPE N: a first issuance into an empty volume; prints its wall ms
# (and keeps the command's own account in $W/KIND-KEYTYPE-N.out)
one() {
  local kind=$1 kt=$2 n=$3 d=$W/v/$1-${2//:/}-$3 t0 args
  if [[ $kind == local ]]; then args=("${CA[@]}")
  else next_token=$((next_token + 1)); args=("${SVC[@]}" --token-file "$W/token.$next_token"); fi
  t0=$(ns)
  "$TOOL" issue "$d" "${args[@]}" --key-type "$kt" >"$W/$kind-${kt//:/}-$n.out" 2>&1 || { cat "$W/$kind-${kt//:/}-$n.out" >&2; exit 1; }
  calc "($(ns) - $t0) / 1000000"; echo
}
field() {  # field KIND KEYTYPE SED_EXPR: the median of one part of the command's account
  for i in $(seq "$RUNS"); do sed -n "$3" "$W/$1-${2//:/}-$i.out"; done | median
}

# rest KIND KEYTYPE: per run, the wall time but the key generation (a random
# search for RSA, whose time varies widely from run to run); their median
rest() {
  local i
  for i in $(seq "$RUNS"); do
    echo "$(sed -n "${i}p" "$W/$1-$2.ms") $(sed -n 's/.* key generation \([0-9.]*\),.*/\1/p' "$W/$1-${2//:/}-$i.out")"
  done | awk '{ print $1 - $2 }' | median
}
label() { case $1 in ec:P-256) echo "EC P-256" ;; rsa:2048) echo "RSA-2048" ;; *) echo "$1" ;; esac; }

# rtt_one: one sign request by curl (a CSR and a token made before the
# clock starts), its time_total in ms; taken in every round, beside the
# issuances, so that it sees the same load
rtt_one() {
  next_token=$((next_token + 1))
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null \
    -subj "/CN=Callisto kafka-producer" -out "$W/rtt.csr" 2>/dev/null
  python3 -c 'import json,sys; print(json.dumps({"csr": open(sys.argv[1]).read(), "ott": open(sys.argv[2]).read().strip()}))' \
    "$W/rtt.csr" "$W/token.$next_token" >"$W/rtt.json"
  curl -s --http1.1 --cacert "$W/pki/root.crt" -o /dev/null -w '%{time_total}\n' --data-binary "@$W/rtt.json" \
    -H 'Content-Type: application/json' "$URL/1.0/sign" | awk '{ printf "%.1f\n", $1 * 1000 }'
}
# plugin_one KIND N: first use through the plugin, as kcat's client creation
# on an empty volume (EC P-256), with a local CA or the CA service: the ms
# from the process start to the plugin's log line saying the certificate is
# written (librdkafka's timestamp, ms; kcat's metadata wait after it, on a
# port nothing listens on, is not counted)
PLUGIN=$B/interceptor/libkafka-mtls.so
plugin_one() {
  local kind=$1 n=$2 d=$W/v/plugin-$1-$2 t0 out at args
  if [[ $kind == local ]]; then
    args=(-X "mtls.ca.location=$W/ca/ca.crt" -X "mtls.ca.key.location=$W/ca/ca.key"
          -X "mtls.ca.key.password.file=$W/ca/ca.pass")
  else
    next_token=$((next_token + 1))
    args=(-X "mtls.enrol.url=$URL" -X "mtls.enrol.ca.location=$W/pki/root.crt" -X "mtls.enrol.token.file=$W/token.$next_token")
  fi
  t0=$(ns)
  out=$(timeout -k 5 30 kcat -X "plugin.library.paths=$PLUGIN" -X "mtls.volume=$d" -X mtls.key.type=ec:P-256 \
        "${args[@]}" -b 127.0.0.1:1 -m 1 -L 2>&1)
  at=$(grep -m1 -E 'kafka-mtls: (issued|enrolled) a certificate' <<<"$out" | cut -d'|' -f2)
  [[ -n $at ]] || { echo "$out" >&2; exit 1; }
  calc "${at/./} - $t0 / 1000000"; echo
}
health() {
  for i in $(seq "$RUNS"); do
    curl -s --http1.1 --cacert "$W/pki/root.crt" -o /dev/null -w '%{time_total}\n' "$URL/health" |
      awk '{ printf "%.1f\n", $1 * 1000 }'
  done | median
}

echo "kafka-mtls enrolment benchmark: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), median of $RUNS, load average $(cut -d' ' -f1-3 /proc/loadavg) at the start"
echo "step-ca $(sed -n 's/^STARTED_MS //p' "$W/step.out") ms to start; $(curl --version | head -n 1 | cut -d' ' -f1-2)"
echo
row "figure" "median" "compared with (same run)"
row "---" "---" "---"
for kt in ec:P-256 rsa:2048; do
  for i in $(seq "$RUNS"); do
    if (( i % 2 )); then
      one local "$kt" "$i" >>"$W/local-$kt.ms"; one service "$kt" "$i" >>"$W/service-$kt.ms"
    else
      one service "$kt" "$i" >>"$W/service-$kt.ms"; one local "$kt" "$i" >>"$W/local-$kt.ms"
    fi
    rtt_one >>"$W/rtt.ms"
  done
  loc=$(median <"$W/local-$kt.ms") svc=$(median <"$W/service-$kt.ms")
  loc_kg=$(field local "$kt" 's/.* key generation \([0-9.]*\),.*/\1/p')
  svc_kg=$(field service "$kt" 's/.* key generation \([0-9.]*\),.*/\1/p')
  svc_ms=$(field service "$kt" 's/.*; \([0-9.]*\) ms with the service).*/\1/p')
  loc_rest=$(rest local "$kt") svc_rest=$(rest service "$kt")
  row "first-use enrolment, $(label "$kt"), whole volume (kafka-mtls issue)" "$svc ms" "local issuance $loc ms ($(signed "$svc - $loc") ms, $(ratio "$svc" "$loc")x)"
  row "" "" "of which the exchange with step-ca $svc_ms ms; key generation $svc_kg ms (local: $loc_kg ms)"
  row "" "" "all but the key generation: $svc_rest ms against local $loc_rest ms ($(signed "$svc_rest - $loc_rest") ms)"
done
if [[ -f $PLUGIN ]] && command -v kcat >/dev/null; then
  for i in $(seq "$RUNS"); do
    if (( i % 2 )); then plugin_one local "$i" >>"$W/plugin-local.ms"; plugin_one service "$i" >>"$W/plugin-service.ms"
    else plugin_one service "$i" >>"$W/plugin-service.ms"; plugin_one local "$i" >>"$W/plugin-local.ms"; fi
  done
  ploc=$(median <"$W/plugin-local.ms") psvc=$(median <"$W/plugin-service.ms")
  row "first use through the plugin, EC P-256 (kcat: start to written)" "$psvc ms" "local CA through the plugin $ploc ms ($(signed "$psvc - $ploc") ms, $(ratio "$psvc" "$ploc")x)"
fi
sign_rtt=$(median <"$W/rtt.ms") health_rtt=$(health)
seed=$(for i in $(seq 5); do t0=$(ns); "$V" seed PKCS12 "$W/ca" "$W/seed$i/client$i" >/dev/null 2>&1 || exit 1
      calc "($(ns) - $t0) / 1000000"; echo; done | median)
for kt in ec:P-256 rsa:2048; do
  loc=$(median <"$W/local-$kt.ms") svc=$(median <"$W/service-$kt.ms")
  loc_rest=$(rest local "$kt") svc_rest=$(rest service "$kt")
  row "target: enrolment <= local + one HTTPS round trip, $(label "$kt")" "$svc ms" "$loc + $sign_rtt = $(calc "$loc + $sign_rtt") ms ($(ratio "$svc" "$(calc "$loc + $sign_rtt")")x)"
  # RSA key generation is a random search (its time varies widely from run
  # to run, on either side): the same target without it
  row "" "" "but the key generation: $svc_rest ms against $loc_rest + $sign_rtt = $(calc "$loc_rest + $sign_rtt") ms ($(ratio "$svc_rest" "$(calc "$loc_rest + $sign_rtt")")x)"
done
row "one loopback HTTPS round trip: a sign request (curl)" "$sign_rtt ms" "GET /health on a new connection $health_rtt ms"
row "the seed's keytool + openssl script (RSA-2048)" "$seed ms" "enrolment RSA-2048 $(median <"$W/service-rsa:2048.ms") ms ($(ratio "$seed" "$(median <"$W/service-rsa:2048.ms")")x faster)"
echo
echo "load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
