#!/bin/bash
# librdkafka-src.sh - librdkafka 2.12.0, built from the source tree that the
# npm package node-rdkafka@3.6.1 ships under deps/librdkafka, installed into
# the cache dir (never into the repo) with its own prefix:
#   PREFIX/lib/librdkafka.so.1 (and librdkafka++.so.1), PREFIX/include/librdkafka/,
#   PREFIX/lib/pkgconfig/rdkafka.pc (and rdkafka++.pc, rdkafka-static.pc)
# The soname is Debian's (librdkafka.so.1), so any program linked against
# Debian's librdkafka1 runs on this copy with LD_LIBRARY_PATH=PREFIX/lib.
#
#   librdkafka-src.sh [build]   build if needed (once: 170 s here with the 2 cores
#                               shared, ~45 s measured before on idle ones; plus
#                               ~3 s of npm pack), print PREFIX
#   librdkafka-src.sh prefix    print PREFIX if it is built, else fail (no build)
#   librdkafka-src.sh kcat      build if needed, then prove Debian's kcat runs on
#                               it: `LD_LIBRARY_PATH=PREFIX/lib kcat -V` must
#                               report librdkafka 2.12.0; prints kcat's -V output
#
# Environment:
#   LIBRDKAFKA_2_12_PREFIX  an existing install of librdkafka 2.12.0 to use
#               instead (checked, then printed; nothing is built)
#   PEER_CACHE / XDG_CACHE_HOME / HOME   the cache dir (see tests/peer/peer-lib.sh):
#               PREFIX = CACHE/librdkafka-2.12.0
#   JOBS        make -j (default 2: the machines have 2 cores)
#   CC, CXX     compilers (default: configure's choice, cc / c++)
#   KCAT        kcat binary for `kcat` (default: kcat on PATH; Debian: apt-get install kcat)
#
# The package is fetched with `npm pack` (the npm registry), checked against
# its pinned integrity (sha512, as `npm view node-rdkafka@3.6.1 dist.integrity`
# prints it), unpacked and built in CACHE/librdkafka-2.12.0.tmp.*, installed
# with DESTDIR and published by one rename, all under flock(CACHE/librdkafka-2.12.0.lock),
# so concurrent first runs build once. A stamp (PREFIX/.kafka-mtls-stamp)
# records the package integrity and the configure line; a different recipe
# rebuilds, the same one is a cache hit (no npm, no compiler: ~20 ms).
#
# Configure: ./configure --prefix=PREFIX --no-download --disable-curl
# (offline: mklove downloads nothing; no libcurl, so no OIDC token fetch).
# Features come from the system: OpenSSL 3 (ssl), zlib, zstd, lz4 (external),
# Cyrus SASL (GSSAPI), plugins (libdl); the build fails if one is missing, so
# the copy always has the same features as Debian's librdkafka1.
#
# Needs: bash, npm, tar, openssl (sha512), make, a C and C++ compiler, python3
# (librdkafka's Makefile uses it), pkg-config, and Debian's
#   build-essential pkg-config libssl-dev zlib1g-dev libzstd-dev liblz4-dev libsasl2-dev
# (apt-get install them); kcat (apt-get install kcat) for `kcat`.
# Exit codes: 0 ok, 1 failure (the message names what is missing), 2 usage.
set -euo pipefail
shopt -s inherit_errexit  # a failure inside $(...) fails the caller too
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
PEER_NAME=librdkafka-src
# shellcheck source=../peer/peer-lib.sh
. "$HERE/../peer/peer-lib.sh"

VERSION=2.12.0
VERSION_HEX=0x020c00ff          # RD_KAFKA_VERSION in src/rdkafka.h
PKG=node-rdkafka@3.6.1
PKG_TGZ=node-rdkafka-3.6.1.tgz
PKG_SHA512=sfpTbrT35429cs0RE8Yb9avGX9BiRRvpV7aweQsghKTjtrVZP3jBrKOPItWXAqHb8doyh3SkuGuUVBLgig1SRg==
SRC=package/deps/librdkafka
CONFIGURE_ARGS=(--no-download --disable-curl
                --enable-ssl --enable-zlib --enable-zstd --enable-lz4-ext --enable-gssapi)
# pkg-config names configure must find: the features are required, not "try"
NEED_PC=(libssl libcrypto zlib libzstd liblz4 libsasl2)
NEED_DEB="libssl-dev zlib1g-dev libzstd-dev liblz4-dev libsasl2-dev"

usage() { peer_usage "usage: $0 [build | prefix | kcat]"; }

stamp_text() {  # what a finished install was built from
  printf '%s\n' "package $PKG sha512-$PKG_SHA512" "version $VERSION" \
    "configure --prefix=$1 ${CONFIGURE_ARGS[*]}"
}

# installed_ok PREFIX: a complete install of this recipe
installed_ok() {
  local p=$1
  [[ -f $p/lib/librdkafka.so.1 && -f $p/lib/pkgconfig/rdkafka.pc &&
     -f $p/include/librdkafka/rdkafka.h && -f $p/.kafka-mtls-stamp ]] || return 1
  [[ $(<"$p/.kafka-mtls-stamp") == "$(stamp_text "$p")" ]]
}

check_prereqs() {
  local t missing=() pc_missing=()
  for t in npm tar openssl make pkg-config python3 "${CC:-cc}" "${CXX:-c++}"; do
    command -v "$t" >/dev/null || missing+=("$t")
  done
  (( ${#missing[@]} == 0 )) ||
    peer_die "missing tools: ${missing[*]} (Debian: apt-get install npm build-essential pkg-config python3)"
  for t in "${NEED_PC[@]}"; do
    pkg-config --exists "$t" || pc_missing+=("$t")
  done
  (( ${#pc_missing[@]} == 0 )) ||
    peer_die "missing development files for: ${pc_missing[*]} (Debian: apt-get install $NEED_DEB)"
}

build() {  # build CACHE PREFIX  (called under the lock)
  local cache=$1 prefix=$2 tmp src jobs=${JOBS:-2} t0=$SECONDS
  [[ $jobs =~ ^[1-9][0-9]*$ ]] || peer_usage "JOBS must be a positive number"
  check_prereqs
  tmp=$(mktemp -d "$cache/librdkafka-$VERSION.tmp.XXXXXX")
  # shellcheck disable=SC2064  # expand $tmp now
  trap "rm -rf '$tmp'" EXIT
  echo "$PEER_NAME: building librdkafka $VERSION from $PKG into $prefix (once)" >&2
  (cd "$tmp" && npm pack --silent --loglevel=error "$PKG" >/dev/null) ||
    peer_die "npm pack $PKG failed (needs the npm registry)"
  [[ $(openssl dgst -sha512 -binary "$tmp/$PKG_TGZ" | base64 -w0) == "$PKG_SHA512" ]] ||
    peer_die "$PKG_TGZ does not match its pinned sha512 ($PKG_SHA512)"
  tar -xzf "$tmp/$PKG_TGZ" -C "$tmp" --no-same-owner "$SRC" ||
    peer_die "cannot unpack $SRC from $PKG_TGZ"
  src=$tmp/$SRC
  grep -q "^#define RD_KAFKA_VERSION *$VERSION_HEX" "$src/src/rdkafka.h" ||
    peer_die "$PKG does not ship librdkafka $VERSION ($src/src/rdkafka.h)"
  (cd "$src" && ./configure --prefix="$prefix" "${CONFIGURE_ARGS[@]}" \
      ${CC:+--cc="$CC"} ${CXX:+--cxx="$CXX"}) >"$tmp/configure.log" 2>&1 ||
    { tail -n 30 "$tmp/configure.log" >&2; peer_die "configure failed (log above; needs $NEED_DEB)"; }
  # the features we asked for must really be on (mklove downgrades some silently)
  local def
  for def in WITH_SSL WITH_ZLIB WITH_ZSTD WITH_LZ4_EXT WITH_SASL_CYRUS WITH_PLUGINS; do
    grep -q "^#define $def 1" "$src/config.h" ||
      peer_die "configure did not enable $def (see $src/config.h; needs $NEED_DEB)"
  done
  make -C "$src" -j"$jobs" libs >"$tmp/make.log" 2>&1 ||
    { tail -n 30 "$tmp/make.log" >&2; peer_die "make libs failed (log above)"; }
  make -C "$src" install-subdirs DESTDIR="$tmp/dest" >"$tmp/install.log" 2>&1 ||
    { tail -n 30 "$tmp/install.log" >&2; peer_die "make install failed (log above)"; }
  stamp_text "$prefix" >"$tmp/dest$prefix/.kafka-mtls-stamp"
  [[ -f $tmp/dest$prefix/lib/librdkafka.so.1 && -f $tmp/dest$prefix/lib/pkgconfig/rdkafka.pc &&
     -f $tmp/dest$prefix/include/librdkafka/rdkafka.h ]] ||
    peer_die "make install did not produce lib/librdkafka.so.1 and lib/pkgconfig/rdkafka.pc"
  # publish: the old (other recipe) copy is moved aside first, then one rename
  if [[ -e $prefix ]]; then
    mv -T "$prefix" "$tmp/old" || peer_die "cannot move the old $prefix aside"
  fi
  mv -T "$tmp/dest$prefix" "$prefix" || peer_die "cannot install into $prefix"
  echo "$PEER_NAME: built in $((SECONDS - t0)) s" >&2
}

get_prefix() {  # get_prefix BUILD(0/1): print PREFIX
  if [[ -n ${LIBRDKAFKA_2_12_PREFIX:-} ]]; then
    local p=$LIBRDKAFKA_2_12_PREFIX
    [[ -f $p/lib/librdkafka.so.1 && -f $p/lib/pkgconfig/rdkafka.pc ]] ||
      peer_die "LIBRDKAFKA_2_12_PREFIX=$p has no lib/librdkafka.so.1 and lib/pkgconfig/rdkafka.pc"
    [[ $(PKG_CONFIG_PATH=$p/lib/pkgconfig pkg-config --modversion rdkafka 2>/dev/null) == "$VERSION" ]] ||
      peer_die "LIBRDKAFKA_2_12_PREFIX=$p is not librdkafka $VERSION (rdkafka.pc)"
    echo "$p"
    return
  fi
  local cache prefix
  cache=$(peer_cache_dir)
  prefix=$cache/librdkafka-$VERSION
  if ! installed_ok "$prefix"; then
    (( $1 )) || peer_die "librdkafka $VERSION is not built in $prefix (run: $0 build)"
    (
      flock -w 1800 9 || peer_die "timed out waiting for the lock on $cache/librdkafka-$VERSION.lock"
      installed_ok "$prefix" && exit 0
      build "$cache" "$prefix"
    ) 9>"$cache/librdkafka-$VERSION.lock" || exit
    installed_ok "$prefix" || peer_die "building librdkafka $VERSION failed"
  fi
  echo "$prefix"
}

cmd=${1:-build}
(( $# <= 1 )) || usage
case $cmd in
  build) get_prefix 1 ;;
  prefix) get_prefix 0 ;;
  kcat)
    prefix=$(get_prefix 1)
    kcat=${KCAT:-kcat}
    command -v "$kcat" >/dev/null || peer_die "kcat not found (Debian: apt-get install kcat, or set KCAT)"
    out=$(LD_LIBRARY_PATH=$prefix/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} "$kcat" -V 2>&1) ||
      { echo "$out" >&2; peer_die "$kcat -V failed with LD_LIBRARY_PATH=$prefix/lib"; }
    echo "$out"
    grep -q "librdkafka $VERSION " <<<"$out" ||
      peer_die "$kcat -V does not report librdkafka $VERSION with LD_LIBRARY_PATH=$prefix/lib" ;;
  -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" ;;
  *) usage ;;
esac
