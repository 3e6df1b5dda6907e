#!/bin/bash
# kcat.sh — an unmodified kcat with mutual TLS from a keystore volume. The
# kcat commands are the ordinary ones; the only addition is two properties:
#
#   -X plugin.library.paths=<libkafka-mtls.so>   load the kafka-mtls plugin (first!)
#   -X mtls.volume=VOLUME                        where the key, chain and CAs live
#
#   examples/kcat.sh VOLUME BOOTSTRAP [TOPIC [MESSAGE]]
#
# Lists the cluster (kcat -L), produces MESSAGE to partition 0 of TOPIC
# (kcat -P) and consumes the last message of that partition back (kcat -C),
# which must be MESSAGE. Exits 0 when all three worked.
#
# Environment:
#   KAFKA_MTLS_PLUGIN  the plugin to load; otherwise BUILD_DIR/interceptor
#                      (BUILD_DIR defaults to build/ of this checkout), else
#                      the installed one (ld.so cache or PREFIX/lib*)
#   KCAT               the kcat binary (default: kcat)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)

die() { echo "kcat.sh: $*" >&2; exit 1; }
(( $# >= 2 && $# <= 4 )) || { echo "usage: $0 VOLUME BOOTSTRAP [TOPIC [MESSAGE]]" >&2; exit 2; }
VOLUME=$1 BOOTSTRAP=$2 TOPIC=${3:-kafka-mtls-demo}
MESSAGE=${4:-"hello over mutual TLS from kcat, $(date '+%F %T')"}
KCAT=${KCAT:-kcat}
command -v "$KCAT" >/dev/null || die "$KCAT not found (apt-get install kcat)"
VOLUME=$(realpath -e -- "$VOLUME") || die "no volume at $1"

# find_plugin: the build tree first (an uninstalled checkout), then what
# `meson install` put into the dynamic linker's path or PREFIX/lib*.
find_plugin() {
  local f
  if [[ -n ${KAFKA_MTLS_PLUGIN:-} ]]; then
    [[ -f $KAFKA_MTLS_PLUGIN ]] || die "KAFKA_MTLS_PLUGIN=$KAFKA_MTLS_PLUGIN does not exist"
    echo "$KAFKA_MTLS_PLUGIN"; return
  fi
  f=${BUILD_DIR:-$ROOT/build}/interceptor/libkafka-mtls.so
  [[ -f $f ]] && { echo "$f"; return; }
  f=$(/sbin/ldconfig -p 2>/dev/null | awk '$1 == "libkafka-mtls.so" { print $NF; exit }')
  [[ -n $f ]] && { echo "$f"; return; }
  for f in /usr/local/lib/*-linux-gnu*/libkafka-mtls.so /usr/local/lib/libkafka-mtls.so \
           /usr/lib/*-linux-gnu*/libkafka-mtls.so /usr/lib/libkafka-mtls.so; do
    [[ -f $f ]] && { echo "$f"; return; }
  done
  die "libkafka-mtls.so not found: build it (meson setup build && meson compile -C build), install it, or set KAFKA_MTLS_PLUGIN"
}
PLUGIN=$(find_plugin)

MTLS=(-X "plugin.library.paths=$PLUGIN" -X "mtls.volume=$VOLUME")

# kc ARGS...: show the kcat command line (as a shell would take it; on fd 3,
# the script's stdout, also inside $(...)), then run it with a time limit.
exec 3>&1
kc() {
  local cmd=("$KCAT" -b "$BOOTSTRAP" "${MTLS[@]}" "$@")
  { printf '  $'; printf ' %q' "${cmd[@]}"; printf '\n'; } >&3
  timeout -k 5 60 "${cmd[@]}"
}

echo "--- kcat -L: the cluster's metadata, fetched over mutual TLS"
kc -L -t "$TOPIC" || die "kcat -L failed"

echo "--- kcat -P: produce one message to $TOPIC [0]"
printf '%s\n' "$MESSAGE" | kc -P -t "$TOPIC" -p 0 || die "kcat -P failed"
echo "  produced: $MESSAGE"

echo "--- kcat -C: consume the last message of $TOPIC [0]"
got=$(kc -C -t "$TOPIC" -p 0 -o -1 -c 1 -e -q) || die "kcat -C failed"
echo "  consumed: $got"
[[ $got == "$MESSAGE" ]] || die "consumed \"$got\", expected \"$MESSAGE\""
echo "--- the message made the round trip"
