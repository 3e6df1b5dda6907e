#!/bin/bash
# tests/fuzz/campaign.sh TARGET:SECONDS[:RUNS] ... — long fuzzing campaigns,
# one target after another, on one core: each target runs in libFuzzer's
# fork mode with a single worker (-fork=1), so that a crash, leak or timeout
# is recorded and the campaign goes on. A target stops after SECONDS or
# after RUNS executions (default 10000000), whichever comes first.
#
#   tests/fuzz/campaign.sh fuzz_jks:1020 fuzz_pkcs12:1020 fuzz_uri:120
#
# Uses run.sh's work directory (KMFUZZ_OUT, default build-fuzz/): run
# tests/fuzz/run.sh once first (it builds and makes the seeds); the fuzzers
# are taken from KMFUZZ_BIN (default: its bin/; fork mode re-executes the
# binary, so point KMFUZZ_BIN at a copy if you rebuild meanwhile). Writes
# campaign/TARGET.log and campaign/TARGET/ (artifacts) there, and prints a
# summary: executions, exec/s, crashes / leaks / timeouts / ooms.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=$(realpath -m "${KMFUZZ_OUT:-$root/build-fuzz}")
timeout=${KMFUZZ_TIMEOUT:-30}
[[ -d $out/bin && -d $out/seeds ]] || { echo "campaign.sh: run tests/fuzz/run.sh first" >&2; exit 2; }
(( $# )) || { echo "usage: campaign.sh TARGET:SECONDS[:RUNS] ..." >&2; exit 2; }

tmpbase=/dev/shm
[[ -w $tmpbase ]] || tmpbase=${TMPDIR:-/tmp}
KMFUZZ_TMPDIR=$(mktemp -d "$tmpbase/kmfuzz-campaign.XXXXXX")
export KMFUZZ_TMPDIR
trap 'rm -rf "$KMFUZZ_TMPDIR"' EXIT
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
mkdir -p "$out/campaign"

summary=()
for spec in "$@"; do
  IFS=: read -r t secs runs <<<"$spec"
  runs=${runs:-10000000}
  bin=${KMFUZZ_BIN:-$out/bin}/$t
  [[ -x $bin ]] || { echo "campaign.sh: no target $t" >&2; continue; }
  art=$out/campaign/$t
  log=$out/campaign/$t.log
  mkdir -p "$art" "$out/corpus/$t"
  args=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1
        -max_total_time="$secs" -runs="$runs" -max_len="${KMFUZZ_MAX_LEN:-16384}"
        -timeout="$timeout" -rss_limit_mb=2048 -artifact_prefix="$art/")
  [[ -f $here/dict/$t.dict ]] && args+=(-dict="$here/dict/$t.dict")
  echo "== $t: up to ${secs}s / $runs executions ($(date +%T))"
  start=$(date +%s)
  "$bin" "${args[@]}" "$out/corpus/$t" "$out/seeds/${t#fuzz_}" >"$log" 2>&1
  rc=$?
  wall=$(( $(date +%s) - start ))
  # fork mode: "#EXECS: cov: .. ft: .. corp: .. exec/s N oom/timeout/crash: a/b/c time: Ts job: J"
  # (exec/s there is the last job's rate; the campaign's is executions / time)
  last=$(grep -E '^#[0-9]+: cov:' "$log" | tail -1)
  execs=$(sed -E 's/^#([0-9]+):.*/\1/' <<<"$last")
  fuzz_time=$(sed -nE 's/.* time: ([0-9]+)s.*/\1/p' <<<"$last")
  rate=
  [[ -n $execs && -n $fuzz_time ]] && (( fuzz_time > 0 )) && rate=$(( execs / fuzz_time ))
  otc=$(sed -nE 's/.*oom\/timeout\/crash: ([0-9]+\/[0-9]+\/[0-9]+).*/\1/p' <<<"$last")
  leaks=$(find "$art" -name 'leak-*' | wc -l)
  line=$(printf '%-15s %12s %8s %7ss  oom/timeout/crash %-9s leaks %s  rc %s' "$t" "${execs:-?}" \
         "${rate:-?}" "$wall" "${otc:-?}" "$leaks" "$rc")
  echo "$line"
  summary+=("$line")
done
echo
printf '%-15s %12s %8s %8s\n' target executions exec/s wall
printf '%s\n' "${summary[@]}"
