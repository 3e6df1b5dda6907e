#!/bin/bash
# tests/fuzz/build.sh OUTDIR — builds the libFuzzer targets into OUTDIR/bin.
#
# A standalone clang build, independent of meson's (gcc) build: the
# shared code (common_sources in common/meson.build), the provider's sources
# (provider_sources in provider/meson.build), the issuer sources the
# plugin's property checks call (issuer_sources and issuer_enrol_sources in
# issuer/meson.build, with enrol_none.c) and interceptor/settings.c are
# compiled with
# -fsanitize=fuzzer-no-link,address,undefined into one archive; each target
# links its harness against it and libcrypto. Objects are rebuilt when their
# source or any project header is newer.
#
# Exit status 77 (meson's "skipped") when clang cannot link a libFuzzer
# program (Debian: packages clang and libclang-rt-14-dev).
#
#   FUZZ_CC=clang-14  the compiler (default: clang)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=$(realpath -m "${1:?usage: build.sh OUTDIR}")
cc=${FUZZ_CC:-clang}

mkdir -p "$out/obj" "$out/bin"

skip() { echo "fuzz/build.sh: SKIP: $*" >&2; exit 77; }
command -v "$cc" >/dev/null || skip "$cc not found (apt-get install clang libclang-rt-14-dev)"
probe=$out/obj/probe
printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
  'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }' >"$probe.c"
"$cc" -fsanitize=fuzzer,address,undefined "$probe.c" -o "$probe" 2>"$probe.log" ||
  skip "$cc cannot link -fsanitize=fuzzer,address,undefined (libclang-rt-14-dev missing?): $(head -c 300 "$probe.log")"
pkg-config --exists 'libcrypto >= 3.0' || skip "libcrypto >= 3.0 (libssl-dev) not found"

# The quoted *.c names of a `NAME = files(...)` list in a meson.build.
meson_list() {  # meson_list FILE NAME
  awk -v name="$2" '
    $0 ~ "^" name "[ \t]*=[ \t]*files\\(" { on = 1 }
    on { s = $0; while (match(s, /\x27[^\x27]+\.c\x27/)) { print substr(s, RSTART + 1, RLENGTH - 2); s = substr(s, RSTART + RLENGTH) } }
    on && /\)/ { exit }' "$1"
}
sources=()
for layer in common:common_sources provider:provider_sources issuer:issuer_sources issuer:issuer_enrol_sources; do
  mapfile -t src < <(meson_list "$root/${layer%%:*}/meson.build" "${layer#*:}")
  (( ${#src[@]} > 3 )) ||
    { echo "fuzz/build.sh: cannot read ${layer#*:} from ${layer%%:*}/meson.build" >&2; exit 1; }
  for f in "${src[@]}"; do sources+=("${layer%%:*}/$f"); done
done
# The issuer's CA-service exchange as a build without libcurl has it: the
# plugin's settings (fuzz_settings) call the issuer's enrolment checks, and
# the enrolment client's own parser has a target of its own below.
sources+=("issuer/enrol_none.c")

# interceptor/settings.c needs librdkafka's header for its types only.
have_rdkafka=0
rdkafka_cflags=
if pkg-config --exists rdkafka; then
  rdkafka_cflags=$(pkg-config --cflags rdkafka)
  have_rdkafka=1
elif [[ -f /usr/include/librdkafka/rdkafka.h ]]; then
  have_rdkafka=1
fi
(( have_rdkafka )) && sources+=("interceptor/settings.c" "interceptor/app_material.c" "interceptor/rdkafka_conf.c")

crypto_cflags=$(pkg-config --cflags libcrypto)
crypto_libs=$(pkg-config --libs libcrypto)
san=(-fsanitize=address,undefined -fno-sanitize-recover=all)
# Each layer's public headers, and the private ones of the two parts the
# harnesses test from the inside (the provider's readers, the plugin's
# settings).
common=(-g -O1 -fno-omit-frame-pointer -std=c11 -D_GNU_SOURCE -fno-strict-aliasing
        -I"$root/include" -I"$root/common/include" -I"$root/provider/include" -I"$root/issuer/include"
        -I"$root/provider" -I"$root/interceptor" $crypto_cflags $rdkafka_cflags)

# Newest header or build input: anything newer forces a rebuild.
newest=$(find "$root/include" "$root/common" "$root/provider" "$root/issuer" "$root/interceptor" "$root/enrol" "$here" \
              -name '*.h' -printf '%T@\n' | sort -n | tail -1)
newest=${newest:-0}
newest=${newest%.*}
stale() {  # stale OUTPUT INPUT...
  local out=$1 in; shift
  [[ -f $out && ! $here/build.sh -nt $out ]] || return 0
  (( $(stat -c %Y "$out") >= newest )) || return 0
  for in in "$@"; do [[ ! $in -nt $out ]] || return 0; done
  return 1
}

objs=()
for s in "${sources[@]}"; do
  o="$out/obj/$(echo "$s" | tr / _).o"
  objs+=("$o")
  if stale "$o" "$root/$s"; then
    echo "  CC $s"
    "$cc" "${common[@]}" "${san[@]}" -fsanitize=fuzzer-no-link -w -c "$root/$s" -o "$o"
  fi
done
lib=$out/obj/libkmtls-fuzz.a
if stale "$lib" "${objs[@]}"; then
  rm -f "$lib"
  ar rcs "$lib" "${objs[@]}"
fi

targets=(fuzz_jks fuzz_pkcs12 fuzz_pem fuzz_volume fuzz_password fuzz_uri)
(( have_rdkafka )) && targets+=(fuzz_settings) ||
  echo "fuzz/build.sh: librdkafka headers not found: fuzz_settings not built" >&2

common_o=$out/obj/fuzz_common.o
if stale "$common_o" "$here/fuzz_common.c"; then
  echo "  CC tests/fuzz/fuzz_common.c"
  "$cc" "${common[@]}" "${san[@]}" -fsanitize=fuzzer-no-link -Wall -Wextra -Werror \
    -c "$here/fuzz_common.c" -o "$common_o"
fi
for t in "${targets[@]}"; do
  bin=$out/bin/$t
  if stale "$bin" "$here/$t.c" "$here/fuzz_common.h" "$common_o" "$lib"; then
    echo "  LD $t"
    "$cc" "${common[@]}" "${san[@]}" -fsanitize=fuzzer -Wall -Wextra -Werror \
      "$here/$t.c" "$common_o" "$lib" $crypto_libs -o "$bin"
  fi
done
# fuzz_enrol_response: the enrolment client's response reader (enrol/src:
# fail.c message.c response.c checks.c, and common/ from $lib; no libcurl,
# no network) against json-c, in a binary of its own: enrol/src stays out
# of the shared -I list.
if pkg-config --exists 'json-c >= 0.15'; then
  enrol_src=("$root"/enrol/src/{fail,message,response,checks}.c)
  bin=$out/bin/fuzz_enrol_response
  if stale "$bin" "$here/fuzz_enrol_response.c" "${enrol_src[@]}" "$lib"; then
    echo "  LD fuzz_enrol_response"
    # shellcheck disable=SC2046  # pkg-config prints several words
    "$cc" -g -O1 -fno-omit-frame-pointer -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror "${san[@]}" \
      -fsanitize=fuzzer -I"$root/enrol/include" -I"$root/enrol/src" -I"$root/include" -I"$root/common/include" \
      $(pkg-config --cflags json-c) $crypto_cflags \
      "$here/fuzz_enrol_response.c" "${enrol_src[@]}" "$lib" $(pkg-config --libs json-c) $crypto_libs -o "$bin"
  fi
  targets+=(fuzz_enrol_response)
else
  echo "fuzz/build.sh: json-c >= 0.15 not found: fuzz_enrol_response not built" >&2
fi
printf '%s\n' "${targets[@]}" >"$out/bin/targets"
echo "fuzz/build.sh: ${#targets[@]} targets in $out/bin"
