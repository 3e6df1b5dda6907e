#!/bin/bash
# readme_table_is_this_runs.sh VERSION...: the README's "Compatibility" table
# is the one tests/world/compat-table.sh prints from this build's complete
# world runs (KMTLS_WORLD_OUT/compat-VERSION.tsv, one per broker; world.sh
# publishes one only when every scenario ran). meson runs this after the
# brokers' tests (priority, not parallel). A difference fails with the
# diff: paste the table it prints into README.md. Without a complete run of
# every VERSION there is nothing to compare: 77 (skipped).
set -uo pipefail
: "${KMTLS_WORLD_OUT:?run through meson test}" "${KMTLS_SOURCE_ROOT:?run through meson test}"
(( $# )) || { echo "usage: $0 KAFKA_VERSION..." >&2; exit 2; }
for v in "$@"; do
  [[ -f $KMTLS_WORLD_OUT/compat-$v.tsv ]] ||
    { echo "SKIP: no complete world run for Kafka $v in this build (meson test -C build --suite world)"; exit 77; }
done
readme=$KMTLS_SOURCE_ROOT/README.md
want=$("$KMTLS_SOURCE_ROOT/tests/world/compat-table.sh" "$KMTLS_WORLD_OUT") || exit 1
# the README's table: the first one after "## Compatibility"
have=$(awk '/^## / { in_section = ($0 == "## Compatibility") } in_section && /^\|/ { print; seen = 1; next }
            seen { exit }' "$readme")
if [[ $have == "$want" ]]; then
  echo "ok - README.md's Compatibility table is this run's ($(wc -l <<<"$want") lines, Kafka $*)"
  exit 0
fi
echo "FAIL - README.md's Compatibility table is not this run's (- README.md, + tests/world/compat-table.sh):"
diff -u --label README.md --label "compat-table.sh $KMTLS_WORLD_OUT" <(printf '%s\n' "$have") <(printf '%s\n' "$want")
exit 1
