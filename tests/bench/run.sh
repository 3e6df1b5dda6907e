#!/bin/bash
# tests/bench/run.sh [RUNS] — issuance, start-up, throughput and handshake
# benchmarks, printed as a table: each figure the median of RUNS (default 7)
# runs, each ratio taken in this same run. A benchmark, never a test: it
# asserts nothing.
#   meson test -C build --benchmark    or    KMTLS_BUILD=build tests/bench/run.sh
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd); ROOT=$(cd "$HERE/../.." && pwd)
B=${KMTLS_BUILD:-$ROOT/build}; B=$(cd "$B" && pwd)
RUNS=${1:-7}
PLUGIN=$B/interceptor/libkafka-mtls.so TOOL=$B/tool/kafka-mtls STARTUP=$B/tests/bench/startup
PRODUCE=$B/tests/bench/produce HANDSHAKES=$B/tests/bench/handshakes
MESSAGES=${KMTLS_BENCH_MESSAGES:-1000000} HANDSHAKE_SECONDS=${KMTLS_BENCH_HANDSHAKE_SECONDS:-2}
# a 1 M-message run lasts half a second here and varies by +-5 %: more of them
TPUT_RUNS=${KMTLS_BENCH_TPUT_RUNS:-11}
export KMOCKD=$B/tests/kmockd
V=$ROOT/tests/fixtures/volume.sh PEER=$ROOT/tests/peer/mtls-peer.sh
W=$(mktemp -d "${TMPDIR:-/tmp}/kmtls-bench.XXXXXX")
SERVER_PID=
trap '"$PEER" stop "$W/peer" >/dev/null 2>&1; [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null; rm -rf "$W"' EXIT
ns() { date +%s%N; }
median() { sort -n | awk '{ a[NR] = $1 } END { if (NR % 2) printf "%.1f\n", a[(NR + 1) / 2]; else printf "%.1f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
# wall MS of a command, RUNS times, after SETUP (not timed); prints the median
wall() {
  local setup=$1; shift
  for i in $(seq "$RUNS"); do
    eval "$setup"
    local t0; t0=$(ns); "$@" >/dev/null 2>&1 || { echo "bench: $* failed" >&2; exit 1; }
    calc "($(ns) - $t0) / 1000000"
  done | median
}
calc() { awk "BEGIN { printf \"%.1f\", $1 }"; }
ratio() { awk "BEGIN { printf \"%.2f\", $1 / $2 }"; }
signed() { awk "BEGIN { d = $1; printf \"%s%.1f\", (d >= 0 ? \"+\" : \"\"), d }"; }
row() { printf '| %-58s | %12s | %-48s |\n' "$1" "$2" "$3"; }

"$V" ca "$W/ca" >/dev/null; "$V" server "$W/ca" "$W/server"
CA=(--ca "$W/ca/ca.crt" --ca-key "$W/ca/ca.key" --ca-key-password-file "$W/ca/ca.pass")

echo "kafka-mtls benchmarks: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), median of $RUNS"
echo
row "figure" "median" "compared with (same run)"
row "---" "---" "---"

# --- issuance ("elapsed T ms (check and lock C, issue I of which key
# generation K, read back R)": the command's own account of its time)
issue_runs() {  # issue_runs KEYTYPE PREFIX: RUNS first issuances; prints the wall times
  for i in $(seq "$RUNS"); do
    local d=$W/$2$i t0; mkdir -m 700 "$d"; t0=$(ns)
    "$TOOL" issue "$d" "${CA[@]}" --key-type "$1" >"$W/$2$i.out" || exit 1
    calc "($(ns) - $t0) / 1000000" | tee "$W/$2$i.wall"; echo
  done
}
account() {  # account PREFIX FIELD: the median of one field of the command's account
  for i in $(seq "$RUNS"); do
    sed -n "s/.*elapsed .*$2 \([0-9.]*\).*/\1/p" "$W/$1$i.out"
  done | median
}
rsa=$(issue_runs rsa:2048 rsa | median)
rsa_keygen=$(account rsa "key generation")
rsa_rest=$(for i in $(seq "$RUNS"); do   # per run: the wall time but the key generation
             echo "$(<"$W/rsa$i.wall") $(sed -n 's/.* key generation \([0-9.]*\),.*/\1/p' "$W/rsa$i.out")"
           done | awk '{ print $1 - $2 }' | median)
ec=$(issue_runs ec:P-256 ec | median)
ec_write=$(account ec "issue") ec_back=$(account ec "read back")
keygen=$(wall : openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out /dev/null)
seed=$(for i in $(seq 5); do t0=$(ns); "$V" seed PKCS12 "$W/ca" "$W/seed$i/client$i" >/dev/null 2>&1 || exit 1
      calc "($(ns) - $t0) / 1000000"; done | median)
row "first-use issuance, RSA-2048, whole volume (kafka-mtls issue)" "$rsa ms" "seed keytool+openssl script $seed ms ($(ratio "$seed" "$rsa")x faster)"
row "" "" "of which key generation $rsa_keygen ms; all but the keygen $rsa_rest ms (process, CA, certificate, stores, read back $(account rsa "read back") ms)"
row "" "" "bare RSA-2048 keygen (openssl genpkey, a process) $keygen ms ($(signed "$rsa - $keygen") ms)"
row "first-use issuance, EC P-256" "$ec ms" "seed script $seed ms ($(ratio "$seed" "$ec")x faster)"
row "" "" "of which: writing the volume $ec_write ms, reading it back $ec_back ms, the rest process start"

# 32 processes on one empty volume; the floor: one issuance plus 31
# processes that find the volume fresh (start, read, check), on $(nproc) cores
serials=
crowd=$(for r in $(seq "$RUNS"); do
          mkdir -m 700 "$W/crowd$r"; t0=$(ns)
          for i in $(seq 32); do "$TOOL" issue "$W/crowd$r" "${CA[@]}" >"$W/crowd$r.$i" 2>&1 & done; wait
          calc "($(ns) - $t0) / 1000000"
        done | median)
serials=$(for r in $(seq "$RUNS"); do cat "$W/crowd$r".* | grep -io 'serial *[0-9A-F:]*' | sort -u | wc -l; done |
          sort -u | tr '\n' ' ')
fresh=$(wall : "$TOOL" issue "$W/crowd1" "${CA[@]}")
crowd_floor=$(calc "$rsa + 31 * $fresh / $(nproc)")
row "32 processes, one empty volume (wall)" "$crowd ms" "one process alone $rsa ms ($(ratio "$crowd" "$rsa")x); distinct serials per run: $serials"
row "" "" "floor: $rsa ms + 31 x $fresh ms (a process finding it fresh) / $(nproc) cores = $crowd_floor ms ($(ratio "$crowd" "$crowd_floor")x)"

# --- client start-up against the mTLS peer
mapfile -t P < <("$PEER" pick-ports 3)
PEER_DIR=$W/peer "$PEER" start "$W/ca/ca.crt" "$W/server/server.crt" "$W/server/server.key" "${P[@]}" >"$W/peer.out" ||
  { cat "$W/peer.out"; exit 1; }
BOOT=$(sed -n 's/^BOOTSTRAP //p' "$W/peer.out")
"$V" certmanager "$W/ca" "$W/pem" pem-client
"$V" seed PKCS12 "$W/ca" "$W/p12/client" >/dev/null
pw=$(cat "$W/p12/client/client_creds")
# the keystore converted by hand (as one would for librdkafka): its key, its
# certificate and the CA, as PEM files; a comparison with the PKCS#12 volume
# must use the same key (keytool's is RSA-2048, cert-manager's EC) and send
# the same chain (the plugin leaves out a self-signed root: here, the CA)
PROVIDER_OPTS=(-provider-path "$B/provider" -provider kafka-mtls -provider default)
openssl pkey "${PROVIDER_OPTS[@]}" -in "keystore:$W/p12/client" -out "$W/hs.key" 2>/dev/null &&
openssl x509 "${PROVIDER_OPTS[@]}" -in "keystore:$W/p12/client" -out "$W/hs.crt" 2>/dev/null ||
  { echo "bench: cannot export the keystore" >&2; exit 1; }
COMMON=(bootstrap.servers="$BOOT" log_level=3)
HAND=("${COMMON[@]}" security.protocol=ssl ssl.key.location="$W/pem/tls.key"
      ssl.certificate.location="$W/pem/tls.crt" ssl.ca.location="$W/pem/ca.crt")
HAND_P12=("${COMMON[@]}" security.protocol=ssl ssl.key.location="$W/hs.key"
          ssl.certificate.location="$W/hs.crt" ssl.ca.location="$W/ca/ca.crt")
PLUG=("${COMMON[@]}" plugin.library.paths="$PLUGIN")
# startup_ms CLIENT_INDEX ARGS...: the median "first metadata" of client N
startup_ms() {
  local nth=$1; shift
  for i in $(seq "$RUNS"); do
    "$STARTUP" -n "$nth" "$@" | sed -n "s/^client $nth: .*first metadata \([0-9.]*\) ms/\1/p"
  done | median
}
hand=$(startup_ms 1 "${HAND[@]}")
handp12=$(startup_ms 1 "${HAND_P12[@]}")
pem=$(startup_ms 1 "${PLUG[@]}" mtls.volume="$W/pem")
p12=$(startup_ms 1 "${PLUG[@]}" mtls.volume="$W/p12/client")
floor=$(for i in $(seq "$RUNS"); do "$STARTUP" --pkcs12-floor "$pw" "$W/p12/client/client.keystore.jks" \
        "$W/p12/client/client.truststore.jks" | sed -n 's/^pkcs12 floor: \([0-9.]*\) ms/\1/p'; done | median)
pemfloor=$(for i in $(seq "$RUNS"); do "$STARTUP" --pem-floor "$W/pem/tls.key" "$W/pem/tls.crt" "$W/pem/ca.crt" |
           sed -n 's/^pem floor: \([0-9.]*\) ms/\1/p'; done | median)
hand2=$(startup_ms 2 "${HAND_P12[@]}")
p12b=$(startup_ms 2 "${PLUG[@]}" mtls.volume="$W/p12/client")
row "rd_kafka_new + first metadata, plugin, PEM volume" "$pem ms" "hand-configured PEM $hand ms ($(ratio "$pem" "$hand")x)"
row "" "" "hand PEM + decode floor $pemfloor ms = $(calc "$hand + $pemfloor") ms ($(ratio "$pem" "$(calc "$hand + $pemfloor")")x)"
row "same, keytool PKCS#12 volume (RSA-2048)" "$p12 ms" "its PEM by hand $handp12 ms + PBKDF2 floor $floor ms = $(calc "$handp12 + $floor") ms ($(ratio "$p12" "$(calc "$handp12 + $floor")")x)"
row "second client in the same process, unchanged volume" "$p12b ms" "its PEM by hand, second client $hand2 ms ($(ratio "$p12b" "$hand2")x)"

# --- steady state: produce throughput through the peer
# (in turns, hand first in odd runs and the plugin first in even ones: the
# mock cluster keeps every message, and a later run may find it slower)
msgs_per_s() { "$PRODUCE" "$MESSAGES" 100 bench "$@" | sed -n 's/.*: \([0-9]*\) msgs\/s$/\1/p'; }
tput_hand=() tput_plug=()
for i in $(seq "$TPUT_RUNS"); do
  if (( i % 2 )); then
    tput_hand+=("$(msgs_per_s "${HAND_P12[@]}")"); tput_plug+=("$(msgs_per_s "${PLUG[@]}" mtls.volume="$W/p12/client")")
  else
    tput_plug+=("$(msgs_per_s "${PLUG[@]}" mtls.volume="$W/p12/client")"); tput_hand+=("$(msgs_per_s "${HAND_P12[@]}")")
  fi
done
th=$(printf '%s\n' "${tput_hand[@]}" | median) tp=$(printf '%s\n' "${tput_plug[@]}" | median)
[[ $th != 0.0 && $tp != 0.0 && ${#tput_hand[@]} == "$TPUT_RUNS" ]] || { echo "bench: produce failed" >&2; exit 1; }
row "produce, $MESSAGES x 100-byte messages, plugin (PKCS#12 volume)" "$(calc "$tp / 1000") k msgs/s" \
    "its PEM by hand $(calc "$th / 1000") k msgs/s ($(ratio "$tp" "$th")x)"

# --- TLS handshakes/s against s_server requiring a client certificate: the
# client's key from a keystore: URI (through the provider) or from PEM files
port=$("$PEER" pick-ports 1)
openssl s_server -accept "127.0.0.1:$port" -cert "$W/server/server.crt" -key "$W/server/server.key" \
  -CAfile "$W/ca/ca.crt" -Verify 1 -www -quiet </dev/null >"$W/s_server.log" 2>&1 &
SERVER_PID=$!
for i in $(seq 200); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$W/s_server.log"; exit 1; }
  sleep 0.05
done
hs=$(OPENSSL_MODULES=$B/provider "$HANDSHAKES" "$port" "$HANDSHAKE_SECONDS" "$RUNS" "$W/ca/ca.crt" "$W/hs.crt" \
     "$W/hs.key" "keystore:$W/p12/client") || { echo "bench: handshakes failed" >&2; exit 1; }
hp=$(sed -n 's/.* pem \([0-9.]*\)\/s .*/\1/p' <<<"$hs" | median)
hu=$(sed -n 's/.* uri \([0-9.]*\)\/s$/\1/p' <<<"$hs" | median)
row "TLS 1.2 handshakes/s with client auth, key from keystore: URI" "$hu /s" "key from PEM files $hp /s ($(ratio "$hu" "$hp")x)"

echo
echo "PBKDF2 floor: PKCS12_parse of the keystore and the truststore in one process (MAC, safes, key)."
echo "Decode floor: decoding the PEM key and certificates once more in one process (the plugin reads"
echo "them through OSSL_STORE before librdkafka decodes what it is handed)."
echo "Throughput: median msgs/s of $TPUT_RUNS runs in turns (ABBA), through stunnel to librdkafka's mock cluster."
echo "Handshakes: $RUNS rounds in turns (ABBA) of ${HANDSHAKE_SECONDS} s each against openssl s_server -Verify 1."

# --- mtls.rotation=live against librdkafka's own TLS
echo
KMTLS_BUILD=$B "$HERE/live.sh" "$RUNS" || { echo "bench: live.sh failed" >&2; exit 1; }
