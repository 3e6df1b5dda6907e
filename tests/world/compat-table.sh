#!/bin/bash
# compat-table.sh [DIR]: the README's compatibility table (Markdown) from
# the rows the world tests wrote (DIR/compat-*.tsv, default
# build/tests/world): one row per client and librdkafka, one column per
# Apache Kafka version, and how each cell was tested.
set -euo pipefail
dir=${1:-build/tests/world}
shopt -s nullglob
files=("$dir"/compat-*.tsv)
(( ${#files[@]} )) || { echo "compat-table.sh: no $dir/compat-*.tsv (run: meson test -C build --suite world)" >&2; exit 1; }
cat "${files[@]}" | awk -F '\t' '
  { key = $1 "\t" $2
    if (!(key in seen)) { seen[key] = 1; order[n++] = key }
    if (!($3 in vseen)) { vseen[$3] = 1; versions[nv++] = $3 }
    cell[key, $3] = $4; how[key] = $5 }
  END {
    # versions in numeric order
    for (i = 0; i < nv; i++) for (j = i + 1; j < nv; j++)
      if (versions[j] < versions[i]) { t = versions[i]; versions[i] = versions[j]; versions[j] = t }
    printf "| client | librdkafka |"; for (i = 0; i < nv; i++) printf " Kafka %s (KRaft) |", versions[i]
    printf " how tested |\n|---|---|"; for (i = 0; i < nv; i++) printf "---|"; printf "---|\n"
    for (k = 0; k < n; k++) {
      split(order[k], f, "\t"); printf "| %s | %s |", f[1], f[2]
      for (i = 0; i < nv; i++) printf " %s |", ((order[k], versions[i]) in cell) ? cell[order[k], versions[i]] : "not run"
      printf " %s |\n", how[order[k]]
    }
  }'
