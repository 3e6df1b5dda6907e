#!/bin/bash
# compat-table.sh [DIR]: the README's compatibility table (Markdown) from
# the rows the world tests wrote (DIR/compat-*.tsv; default build/tests/world):
# client x librdkafka x broker, the result, and how each cell was tested.
set -euo pipefail
dir=${1:-build/tests/world}
shopt -s nullglob
files=("$dir"/compat-*.tsv)
(( ${#files[@]} )) || { echo "compat-table.sh: no $dir/compat-*.tsv (run: meson test -C build --suite world)" >&2; exit 1; }
echo "| client | librdkafka | broker | result | how tested |"
echo "|---|---|---|---|---|"
sort -t $'\t' -k1,1 -k3,3 "${files[@]}" | awk -F '\t' '{ printf "| %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5 }'
