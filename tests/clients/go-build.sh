#!/bin/bash
# go-build.sh - build tests/clients/go (kafka-mtls-go-client, an unmodified
# confluent-kafka-go v2.11.1 client) into the cache dir and print the binary.
#
#   go-build.sh [bundled]       the default build: confluent-kafka-go's own
#                               prebuilt static librdkafka 2.11.1
#                               (kafka/librdkafka_vendor/librdkafka_glibc_linux_amd64.a)
#                               linked into the binary.  Its rd_kafka_* functions
#                               are NOT in the binary's dynamic symbol table, so
#                               no plugin can call librdkafka (see README.md).
#   go-build.sh bundled-export  the same library and source, linked with
#                               -extldflags=-Wl,--export-dynamic-symbol=rd_kafka_*
#                               (what kafka-mtls asks of a program that links
#                               librdkafka statically): a link flag, no code change
#   go-build.sh dynamic         -tags dynamic, linked against librdkafka 2.12.0 from
#                               librdkafka-src.sh (built first if needed) through
#                               PKG_CONFIG_PATH=PREFIX/lib/pkgconfig, with a
#                               DT_RUNPATH of PREFIX/lib, so the binary runs on
#                               2.12.0 without any environment (LD_LIBRARY_PATH
#                               still overrides it, e.g. to try another copy)
#   go-build.sh go              print the go command it would use, or fail
#                               naming the requirement (tests/run.sh asks first)
#
# Each build is checked: `BIN -version` must report the expected librdkafka
# version and link kind (and, for dynamic, NEEDED librdkafka.so.1 + the
# RUNPATH; for bundled-export, rd_kafka_* in .dynsym).
#
# Environment:
#   GO          the go command (default /usr/local/go/bin/go, else go on PATH; >= 1.21,
#               checked: tests/peer/peer-lib.sh peer_go)
#   PEER_CACHE / XDG_CACHE_HOME / HOME   the cache dir (see tests/peer/peer-lib.sh):
#               binaries in CACHE/go-client/kafka-mtls-go-client-MODE-<key>, the key a
#               hash of the module's files (go.mod, go.sum, *.go but *_test.go), the mode and its
#               flags, the go and C compiler versions and (dynamic) the librdkafka
#               install's stamp; GOPATH=CACHE/go, GOMODCACHE=CACHE/go/pkg/mod,
#               GOCACHE=CACHE/go/cache (GOFLAGS=-modcacherw: rm -rf works)
#   CC          C compiler for cgo (default cc)
#   LIBRDKAFKA_2_12_PREFIX   passed on to librdkafka-src.sh (dynamic)
#
# The build runs with GOTOOLCHAIN=local (no toolchain download), -mod=readonly
# (go.mod/go.sum are never rewritten), -trimpath, under
# flock(CACHE/go-client.lock), writes BIN.tmp.* and publishes by rename.
# First runs (2 shared cores): bundled 50-125 s (the module download, then cgo
# compiles the kafka package), dynamic ~40 s plus librdkafka-src.sh,
# bundled-export ~3 s after bundled (same GOCACHE); a cache hit is one
# `go env GOVERSION` and a hash (~0.1 s).
#
# Needs: Go >= 1.21 (the Go module proxy on first use), a C compiler (cgo),
# pkg-config (dynamic), binutils (readelf) for the checks.
# Exit codes: 0 ok, 1 failure (the message names what is missing), 2 usage.
set -euo pipefail
shopt -s inherit_errexit  # a failure inside $(...) fails the caller too
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
PEER_NAME='go-build'
# shellcheck source=../peer/peer-lib.sh
. "$HERE/../peer/peer-lib.sh"

SRC=$HERE/go
BUNDLED_RDK=2.11.1
DYNAMIC_RDK=2.12.0
EXPORT_LDFLAGS='-extldflags=-Wl,--export-dynamic-symbol=rd_kafka_*'

usage() { peer_usage "usage: $0 [bundled | bundled-export | dynamic | go]"; }

mode=${1:-bundled}
(( $# <= 1 )) || usage
case $mode in
  bundled|bundled-export|dynamic|go) ;;
  -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
  *) usage ;;
esac

go=$(peer_go 21) || exit   # go.mod: go 1.21
[[ $mode == go ]] && { echo "$go"; exit 0; }
export GOTOOLCHAIN=local
gover=$("$go" env GOVERSION)
cc=${CC:-cc}
command -v "$cc" >/dev/null || peer_die "no C compiler '$cc' for cgo (Debian: apt-get install build-essential, or set CC)"
[[ -f $SRC/go.mod && -f $SRC/go.sum && -f $SRC/main.go ]] || peer_die "the Go module is missing in $SRC"

cache=$(peer_cache_dir)
tags=() ldflags=() env=()
extra=""
case $mode in
  bundled-export) ldflags=(-ldflags="$EXPORT_LDFLAGS") ;;
  dynamic)
    command -v pkg-config >/dev/null || peer_die "need pkg-config for the dynamic build (Debian: apt-get install pkg-config)"
    prefix=$("$HERE/librdkafka-src.sh" build) || peer_die "librdkafka $DYNAMIC_RDK is not available (librdkafka-src.sh failed)"
    [[ $(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --modversion rdkafka) == "$DYNAMIC_RDK" ]] ||
      peer_die "$prefix/lib/pkgconfig/rdkafka.pc is not librdkafka $DYNAMIC_RDK"
    tags=(-tags dynamic)
    ldflags=(-ldflags="-extldflags=-Wl,--enable-new-dtags,-rpath,$prefix/lib")
    env=(PKG_CONFIG_PATH="$prefix/lib/pkgconfig")
    extra=$(cat "$prefix/.kafka-mtls-stamp" 2>/dev/null || echo "$prefix")
    ;;
esac

key=$({ cd "$SRC" && cat go.mod go.sum; for f in ./*.go; do [[ $f == *_test.go ]] || cat "$f"; done; echo "$mode ${tags[*]} ${ldflags[*]}"; echo "$gover"
        "$cc" --version 2>/dev/null | sed -n 1p; echo "$extra"; } | sha256sum | cut -c1-16)
out=$cache/go-client/kafka-mtls-go-client-$mode-$key

check() {  # check BIN: the build is what the mode promises
  local bin=$1 v
  v=$("$bin" -version) || peer_die "$bin -version failed"
  case $mode in
    bundled|bundled-export)
      [[ $v == *"librdkafka $BUNDLED_RDK "* && $v == *"link static glibc_linux_amd64"* ]] ||
        peer_die "$bin is not linked with the bundled librdkafka $BUNDLED_RDK: $v" ;;
    dynamic)
      [[ $v == *"librdkafka $DYNAMIC_RDK "* && $v == *"dynamically linked"* ]] ||
        peer_die "$bin does not run on librdkafka $DYNAMIC_RDK: $v" ;;
  esac
  command -v readelf >/dev/null || return 0
  case $mode in   # (readelf into a variable: grep -q on a pipe + pipefail = SIGPIPE)
    bundled-export)
      v=$(readelf --dyn-syms -W "$bin")
      grep -q ' rd_kafka_conf_interceptor_add_on_conf_set$' <<<"$v" ||
        peer_die "$bin does not export rd_kafka_* (.dynsym)" ;;
    dynamic)
      v=$(readelf -d "$bin")
      if ! grep -q 'NEEDED.*\[librdkafka\.so\.1\]' <<<"$v" || ! grep -qF "RUNPATH)" <<<"$v" ||
         ! grep -qF "[$prefix/lib]" <<<"$v"; then
        peer_die "$bin lacks NEEDED librdkafka.so.1 or RUNPATH $prefix/lib"
      fi ;;
  esac
}

if [[ ! -x $out ]]; then
  mkdir -p "$cache/go-client" "$cache/go" || peer_die "cannot create $cache/go-client"
  (
    flock -w 1800 9 || peer_die "timed out waiting for the lock on $cache/go-client.lock"
    [[ -x $out ]] && exit 0
    t0=$SECONDS
    echo "$PEER_NAME: building kafka-mtls-go-client ($mode) into $out (once)" >&2
    tmp=$out.tmp.$$
    # shellcheck disable=SC2064  # expand $tmp now
    trap "rm -f '$tmp'" EXIT
    (cd "$SRC" && env GOPATH="$cache/go" GOMODCACHE="$cache/go/pkg/mod" GOCACHE="$cache/go/cache" \
        GOFLAGS=-modcacherw GOWORK=off CGO_ENABLED=1 CC="$cc" "${env[@]}" \
        "$go" build -mod=readonly -trimpath "${tags[@]}" "${ldflags[@]}" -o "$tmp" .) >&2 ||
      peer_die "go build ($mode) failed (needs the Go module proxy on first use, a C compiler${tags[*]:+, pkg-config and librdkafka $DYNAMIC_RDK})"
    check "$tmp"
    mv -f "$tmp" "$out" || peer_die "cannot install $out"
    echo "$PEER_NAME: built in $((SECONDS - t0)) s" >&2
  ) 9>"$cache/go-client.lock" || exit
  [[ -x $out ]] || peer_die "building $out failed"
fi
echo "$out"
