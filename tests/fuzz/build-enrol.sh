#!/bin/bash
# tests/fuzz/build-enrol.sh OUTDIR - builds fuzz_enrol_response into
# OUTDIR/bin, with clang -fsanitize=fuzzer,address,undefined, from the
# enrolment client's response path only (enrol/src: fail.c message.c
# response.c checks.c; no libcurl, no network) against json-c and libcrypto.
# Standalone until tests/fuzz/build.sh builds it (what to add there: the
# same sources, include directories and libraries as below).
# Exit 77 when clang cannot link a libFuzzer program or json-c is missing.
#   FUZZ_CC=clang-14  the compiler (default: clang)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=$(realpath -m "${1:?usage: build-enrol.sh OUTDIR}")
cc=${FUZZ_CC:-clang}
skip() { echo "fuzz/build-enrol.sh: SKIP: $*" >&2; exit 77; }
command -v "$cc" >/dev/null || skip "$cc not found (apt-get install clang libclang-rt-14-dev)"
pkg-config --exists 'json-c >= 0.15' || skip "json-c >= 0.15 not found (apt-get install libjson-c-dev)"
pkg-config --exists 'libcrypto >= 3.0' || skip "libcrypto >= 3.0 not found (apt-get install libssl-dev)"
mkdir -p "$out/bin"
probe=$out/bin/.probe
printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
  'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }' >"$probe.c"
"$cc" -fsanitize=fuzzer,address,undefined "$probe.c" -o "$probe" 2>/dev/null ||
  skip "$cc cannot link -fsanitize=fuzzer,address,undefined (libclang-rt-14-dev missing?)"
rm -f "$probe" "$probe.c"
src=(fail.c message.c response.c checks.c)
# shellcheck disable=SC2046  # pkg-config prints several words
"$cc" -g -O1 -fno-omit-frame-pointer -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
  -I"$root/enrol/include" -I"$root/enrol/src" $(pkg-config --cflags json-c libcrypto) \
  "$here/fuzz_enrol_response.c" "${src[@]/#/$root/enrol/src/}" \
  $(pkg-config --libs json-c libcrypto) -o "$out/bin/fuzz_enrol_response"
echo "fuzz/build-enrol.sh: $out/bin/fuzz_enrol_response"
