#!/bin/bash
# tests/bench/live.sh [RUNS] — mtls.rotation=live (the plugin's TLS under
# librdkafka) against librdkafka's own TLS with the same key and chain, the
# five figures of the README's live-rotation table, printed as its rows: each figure the median of
# RUNS runs (default 7; start-up 3 x RUNS, KMTLS_BENCH_STARTUP_RUNS), the two
# sides taken in turns (ABBA: the order flips every run), all in this one
# run. A benchmark, never a test: it asserts nothing. run.sh calls it for
# the README's Performance table.
#   KMTLS_BUILD=build tests/bench/live.sh    or    meson test -C build --benchmark live_rotation
#   KMTLS_BENCH_ONLY="latency startup" tests/bench/live.sh 5   some figures only (throughput latency
#                                                               startup memory rotation)
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd); ROOT=$(cd "$HERE/../.." && pwd)
B=${KMTLS_BUILD:-$ROOT/build}; B=$(cd "$B" && pwd)
RUNS=${1:-7}
PLUGIN=$B/interceptor/libkafka-mtls.so BIN=$B/tests/bench
MESSAGES=${KMTLS_BENCH_MESSAGES:-1000000} TPUT_RUNS=${KMTLS_BENCH_TPUT_RUNS:-11}
# a start-up lasts 8 ms and its median over 7 runs moves by 5 %: more of them
STARTUP_RUNS=${KMTLS_BENCH_STARTUP_RUNS:-$(( RUNS * 3 ))}
LAT_MSGS=${KMTLS_BENCH_LATENCY_MESSAGES:-2000} ROT_ROUNDS=${KMTLS_BENCH_ROTATIONS:-11}
export KMOCKD=$B/tests/kmockd
V=$ROOT/tests/fixtures/volume.sh PEER=$ROOT/tests/peer/mtls-peer.sh
W=$(mktemp -d "${TMPDIR:-/tmp}/kmtls-bench-live.XXXXXX")
trap '"$PEER" stop "$W/peer" >/dev/null 2>&1; rm -rf "$W"' EXIT
median() { sort -n | awk '{ a[NR] = $1 } END { if (NR % 2) printf "%.1f\n", a[(NR + 1) / 2]; else printf "%.1f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
calc() { awk "BEGIN { printf \"%.1f\", $1 }"; }
ratio() { awk "BEGIN { if ($2 == 0) printf \"-\"; else printf \"%.2f\", $1 / $2 }"; }
signed() { awk "BEGIN { d = $1; printf \"%s%.1f\", (d >= 0 ? \"+\" : \"\"), d }"; }
row() { printf '| %-58s | %12s | %-48s |\n' "$1" "$2" "$3"; }
die() { echo "bench live: $*" >&2; exit 1; }

# ---- the peer (3 mock brokers behind stunnel, TLS 1.3) and the key material:
# one cert-manager volume; librdkafka's own TLS reads the same key, the leaf
# alone (the plugin leaves out a self-signed root: both send leaf only) and
# the same CA
"$V" ca "$W/ca" >/dev/null && "$V" server "$W/ca" "$W/server" || die "certificates"
"$V" certmanager "$W/ca" "$W/vol" live-a && openssl x509 -in "$W/vol/tls.crt" -out "$W/leaf.crt" || die "volume"
mapfile -t P < <("$PEER" pick-ports 3)
PEER_TOPICS="bench:3" PEER_DIR=$W/peer "$PEER" start "$W/ca/ca.crt" "$W/server/server.crt" "$W/server/server.key" \
  "${P[@]}" >"$W/peer.out" || { cat "$W/peer.out"; die "peer"; }
BOOT=$(sed -n 's/^BOOTSTRAP //p' "$W/peer.out")
COMMON=(bootstrap.servers="$BOOT" log_level=3)
OWN=("${COMMON[@]}" security.protocol=ssl ssl.key.location="$W/vol/tls.key" ssl.certificate.location="$W/leaf.crt"
     ssl.ca.location="$W/vol/ca.crt")
LIVE=("${COMMON[@]}" plugin.library.paths="$PLUGIN" mtls.volume="$W/vol" mtls.rotation=live)

# inturns N CMD_OWN -- CMD_LIVE: N runs of each, the order flipping every run;
# each command prints one number; leaves them in OWN_V and LIVE_V
inturns() {
  local n=$1 a=() b=() i; shift
  while [[ $1 != -- ]]; do a+=("$1"); shift; done; shift; b=("$@")
  OWN_V=() LIVE_V=()
  for (( i = 1; i <= n; i++ )); do
    if (( i % 2 )); then OWN_V+=("$("${a[@]}")"); LIVE_V+=("$("${b[@]}")")
    else LIVE_V+=("$("${b[@]}")"); OWN_V+=("$("${a[@]}")"); fi
  done
  [[ ${#OWN_V[@]} == "$n" && ! " ${OWN_V[*]} ${LIVE_V[*]} " =~ \ \  ]] || die "a run failed"
}
med() { printf '%s\n' "$@" | median; }
ONLY=" ${KMTLS_BENCH_ONLY:-throughput latency startup memory rotation} "
want() { [[ $ONLY == *" $1 "* ]]; }
t_own=0 t_live=0 p50_own=0 p99_own=0 p50_live=0 p99_live=0 s_own=0 s_live=0 m_own=0 m_live=0 rot=- hs=0

# 1. throughput, 1 M x 100 B
tput() { "$BIN/produce" "$MESSAGES" 100 bench "$@" | sed -n 's/.*: \([0-9]*\) msgs\/s$/\1/p'; }
if want throughput; then
  inturns "$TPUT_RUNS" tput "${OWN[@]}" -- tput "${LIVE[@]}"
  t_own=$(med "${OWN_V[@]}") t_live=$(med "${LIVE_V[@]}")
fi
# 2. synchronous produce latency, linger.ms=0: p50 and p99 of each run
lat() { "$BIN/latency" "$LAT_MSGS" bench "$@" | sed -n 's/.* p50 \([0-9.]*\) us, p99 \([0-9.]*\) us$/\1 \2/p'; }
if want latency; then
  inturns "$RUNS" lat "${OWN[@]}" -- lat "${LIVE[@]}"
  p50_own=$(printf '%s\n' "${OWN_V[@]}" | cut -d' ' -f1 | median) p99_own=$(printf '%s\n' "${OWN_V[@]}" | cut -d' ' -f2 | median)
  p50_live=$(printf '%s\n' "${LIVE_V[@]}" | cut -d' ' -f1 | median) p99_live=$(printf '%s\n' "${LIVE_V[@]}" | cut -d' ' -f2 | median)
fi
# 3. start-up: rd_kafka_new + first metadata
start() { "$BIN/startup" -n 1 "$@" | sed -n 's/^client 1: .*first metadata \([0-9.]*\) ms/\1/p'; }
if want startup; then
  inturns "$STARTUP_RUNS" start "${OWN[@]}" -- start "${LIVE[@]}"
  s_own=$(med "${OWN_V[@]}") s_live=$(med "${LIVE_V[@]}")
fi
# 4. heap per broker connection (3 brokers)
mem() { "$BIN/memory" bench "$@" | sed -n 's/.*: \([0-9.]*\) KB per connection.*/\1/p'; }
if want memory; then
  inturns "$RUNS" mem "${OWN[@]}" -- mem "${LIVE[@]}"
  m_own=$(med "${OWN_V[@]}") m_live=$(med "${LIVE_V[@]}")
fi
# 5. new files on the volume -> the new certificate on the wire: a secret
# volume whose ..data is re-pointed, the broker's accept of the new subject
if want rotation; then
  mkdir -p "$W/kube"
  for id in a b; do
    "$V" certmanager "$W/ca" "$W/kube/..id-$id" "live-rot-$id" >/dev/null || die "rotation identities"
  done
  ln -s ..id-a "$W/kube/..data" && for f in tls.crt tls.key ca.crt; do ln -s "..data/$f" "$W/kube/$f"; done
  "$BIN/rotation" "$ROT_ROUNDS" "$W/peer/stunnel.log" "$W/kube" "$W/kube/..id-a" live-rot-a "$W/kube/..id-b" live-rot-b \
    bench bootstrap.servers="$BOOT" log_level=7 plugin.library.paths="$PLUGIN" mtls.volume="$W/kube" mtls.rotation=live \
    >"$W/rotation.out" || die "rotation: $(tail -n 3 "$W/rotation.out")"
  rot=$(sed -n 's/^rotation: round [0-9]*: \([0-9.]*\) ms$/\1/p' "$W/rotation.out" | median)
  hs=$(sed -n 's/^handshake: \([0-9.]*\) ms$/\1/p' "$W/rotation.out" | median)
fi
poll_ms=1000

row "figure (mtls.rotation=live)" "median" "compared with (same run)"
row "---" "---" "---"
row "produce, $MESSAGES x 100 B, mtls.rotation=live" "$(calc "$t_live / 1000") k msgs/s" \
    "librdkafka's own TLS, same key $(calc "$t_own / 1000") k msgs/s ($(ratio "$t_live" "$t_own")x)"
row "sync produce latency p50 / p99 (linger.ms=0), live" "$p50_live / $p99_live us" \
    "own TLS $p50_own / $p99_own us (p50 $(signed "$p50_live - $p50_own") us, p99 $(signed "$p99_live - $p99_own") us)"
row "rd_kafka_new + first metadata, live (PEM volume)" "$s_live ms" "hand-configured PEM, own TLS $s_own ms ($(ratio "$s_live" "$s_own")x)"
row "heap per broker connection (3 brokers, idle), live" "$m_live KB" "own TLS $m_own KB ($(ratio "$m_live" "$m_own")x)"
row "new files on the volume -> new certificate on the wire" "$rot ms" \
    "bound: poll interval $poll_ms ms + one handshake $hs ms = $(calc "$poll_ms + $hs") ms (inotify: events, settled 50 ms)"
echo
echo "Live rotation: mtls.rotation=live against librdkafka's own TLS with the same key and leaf, $TPUT_RUNS (throughput) /"
echo "$STARTUP_RUNS (start-up) / $RUNS runs each in turns (ABBA), through stunnel (TLS 1.3) to librdkafka's mock cluster, 3 brokers; latency over"
echo "$LAT_MSGS messages a run; rotation over $ROT_ROUNDS ..data swaps of an idle client."
