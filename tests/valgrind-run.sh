#!/bin/bash
# valgrind-run.sh VALGRIND SUPPRESSIONS PROGRAM ARGS... — the valgrind test
# setup's wrapper (tests/meson.build). A compiled test program runs under
# valgrind: any memory error or definite leak fails it (exit 9). A shell
# test runs as it is, told the same valgrind command in KMTLS_VALGRIND, so
# that it runs the programs it drives under valgrind.
set -euo pipefail
valgrind=$1 supp=$2; shift 2
vg=("$valgrind" --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite
    --suppressions="$supp" --num-callers=40)
if [[ $(head -c 4 "$1" | od -An -c | tr -d ' ') == 177ELF ]]; then
  exec "${vg[@]}" -q "$@"
fi
KMTLS_VALGRIND="${vg[*]}" exec "$@"
