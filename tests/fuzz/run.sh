#!/bin/bash
# tests/fuzz/run.sh [SECONDS_PER_TARGET] — builds the libFuzzer targets
# (build.sh), generates the seed corpora (make-corpus.sh, once), runs every
# target for SECONDS_PER_TARGET (default 5) and then replays the regression
# inputs (tests/fuzz/regressions/TARGET/*). Prints per target: executions,
# exec/s, crashes (crash/leak/timeout/oom artifacts) and failed regressions.
# Exits 1 on any crash, leak, timeout or failed regression, 77 when clang's
# libFuzzer (or keytool/openssl/python3 for the corpus) is unavailable.
#
# Environment:
#   KMFUZZ_OUT      work directory (default: build-fuzz/ at the top): bin/,
#                   seeds/ (generated), corpus/TARGET (grows), artifacts/TARGET,
#                   logs/TARGET.log
#   KMFUZZ_TARGETS  targets to run (default: all built), e.g. "fuzz_jks fuzz_pkcs12"
#   KMFUZZ_TIMEOUT  seconds for one input before it counts as a hang (default 25:
#                   a JCEKS key at the JDK's ceiling of 5,000,000 iterations takes
#                   ~7 s per decryption in this build)
#   KMFUZZ_MAX_LEN  largest input (default 16384)
#   KMFUZZ_REGEN=1  regenerate the seed corpora
#   KMFUZZ_REGRESSION_TIMEOUT  seconds per regression input (default 25: the
#                   PKCS#12 inputs at the KDF cap take ~8 s in this build)
#   KMFUZZ_STRICT=1 count the inputs listed in regressions/KNOWN-FAILING as
#                   failures too (to check a fix)
#
# regressions/KNOWN-FAILING lists the inputs of bugs that are not fixed yet
# (TARGET/FILE, then why). They are replayed and expected to fail, as the
# suite's should_fail tests are: one that passes fails the run with
# "UNEXPECTED PASS" until its line is removed. Its "stack TARGET SYMBOL"
# lines name the function of an open bug the fuzzer keeps finding: an
# artifact whose stack goes through it is reported, not counted as a
# failure (fuzzing of that target ends at it, as at any crash).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
secs=${1:-5}
out=$(realpath -m "${KMFUZZ_OUT:-$root/build-fuzz}")
timeout=${KMFUZZ_TIMEOUT:-25}
reg_timeout=${KMFUZZ_REGRESSION_TIMEOUT:-25}
max_len=${KMFUZZ_MAX_LEN:-16384}
[[ $secs =~ ^[0-9]+$ ]] || { echo "usage: run.sh [SECONDS_PER_TARGET]" >&2; exit 2; }

mkdir -p "$out"
"$here/build.sh" "$out" >"$out/build.log" 2>&1
rc=$?
if (( rc != 0 )); then
  cat "$out/build.log" >&2
  exit $rc  # 77: no libFuzzer
fi


seeds=$out/seeds
if [[ ${KMFUZZ_REGEN:-0} == 1 || ! -f $seeds/.stamp || $here/make-corpus.sh -nt $seeds/.stamp ||
      $here/make-enrol-corpus.sh -nt $seeds/.stamp ||
      $here/fuzz_common.h -nt $seeds/.stamp ]]; then
  for c in keytool openssl python3; do
    command -v $c >/dev/null || { echo "run.sh: SKIP: $c is needed for the seed corpus" >&2; exit 77; }
  done
  echo "== generating seed corpora (keytool, openssl)"
  "$here/make-corpus.sh" "$seeds" >"$out/make-corpus.log" 2>&1 ||
    { cat "$out/make-corpus.log" >&2; exit 1; }
  # fuzz_enrol_response's: step-ca's shapes and, when step-ca can be built,
  # its real answers (seeds/enrol_response)
  if grep -qx fuzz_enrol_response "$out/bin/targets"; then
    "$here/make-enrol-corpus.sh" "$seeds" >"$out/make-enrol-corpus.log" 2>&1 ||
      { cat "$out/make-enrol-corpus.log" >&2; exit 1; }
  fi
  touch "$seeds/.stamp"
fi

# Each fuzzer process makes its scratch volume under here; removed at the end
# even when a crash kept a process from cleaning up.
tmpbase=/dev/shm
[[ -w $tmpbase ]] || tmpbase=${TMPDIR:-/tmp}
KMFUZZ_TMPDIR=$(mktemp -d "$tmpbase/kmfuzz-run.XXXXXX")
export KMFUZZ_TMPDIR
trap 'rm -rf "$KMFUZZ_TMPDIR"' EXIT
# Leaks are failures; UBSan findings abort (built -fno-sanitize-recover).
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

known=$here/regressions/KNOWN-FAILING
# known_stack TARGET BIN ARTIFACT: prints the symbol of a "stack TARGET SYMBOL"
# line of KNOWN-FAILING that the artifact's stack (replayed with full
# unwinding, libcrypto has no frame pointers) goes through; 1 if none.
known_stack() {
  local t=$1 bin=$2 a=$3 sym trace
  [[ ${KMFUZZ_STRICT:-0} != 1 && -f $known ]] || return 1
  trace=$(ASAN_OPTIONS="$ASAN_OPTIONS:fast_unwind_on_malloc=0" "$bin" -timeout="$reg_timeout" \
            -rss_limit_mb=2048 "$a" 2>&1)
  for sym in $(awk -v t="$t" '$1 == "stack" && $2 == t { print $3 }' "$known"); do
    if grep -q " in $sym " <<<"$trace"; then echo "$sym"; return 0; fi
  done
  return 1
}

read -r -a targets <<<"${KMFUZZ_TARGETS:-$(tr '\n' ' ' <"$out/bin/targets")}"
mkdir -p "$out/logs"
failed=0
rows=()
for t in "${targets[@]}"; do
  bin=$out/bin/$t
  [[ -x $bin ]] || { echo "run.sh: no target $t" >&2; failed=1; continue; }
  corpus=$out/corpus/$t
  art=$out/artifacts/$t
  log=$out/logs/$t.log
  rm -rf "$art"
  mkdir -p "$corpus" "$art"
  args=(-max_total_time="$secs" -max_len="$max_len" -timeout="$timeout" -rss_limit_mb=2048
        -print_final_stats=1 -artifact_prefix="$art/")
  [[ -f $here/dict/$t.dict ]] && args+=(-dict="$here/dict/$t.dict")
  echo "== $t (${secs}s)"
  "$bin" "${args[@]}" "$corpus" "$seeds/${t#fuzz_}" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  mapfile -t arts < <(find "$art" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \))
  crashes=${#arts[@]} known_hits=0
  for a in "${arts[@]}"; do
    if sym=$(known_stack "$t" "$bin" "$a"); then
      known_hits=$((known_hits + 1))
      echo "    known bug hit (regressions/KNOWN-FAILING: stack $t $sym): $a"
    fi
  done
  result=ok
  if (( crashes > 0 && known_hits == crashes )); then
    result="ok (known bug)"
  elif (( rc != 0 || crashes > 0 )); then
    result=FAILED
    failed=1
    (( crashes > 0 )) || crashes="rc=$rc"
    grep -E -m3 'ERROR: |INVARIANT BROKEN|runtime error|SUMMARY' "$log" | sed 's/^/    /'
    echo "    log: $log; artifacts: $art"
  fi

  # Regression inputs: each replayed on its own, so every failing one is named.
  nreg=0 regok=0 nknown=0
  for r in "$here/regressions/$t"/*; do
    [[ -f $r ]] || continue
    nreg=$((nreg + 1))
    is_known=0
    [[ ${KMFUZZ_STRICT:-0} != 1 ]] && grep -q "^$t/$(basename "$r")\b" "$known" 2>/dev/null &&
      is_known=1
    if "$bin" -timeout="$reg_timeout" -rss_limit_mb=2048 "$r" >"$log.regression" 2>&1; then
      regok=$((regok + 1))
      if (( is_known )); then
        failed=1
        result=FAILED
        echo "    UNEXPECTED PASS: $t/$(basename "$r") is fixed: remove it from tests/fuzz/regressions/KNOWN-FAILING"
      fi
    elif (( is_known )); then
      nknown=$((nknown + 1))
      echo "    known failure (open bug, regressions/KNOWN-FAILING): $t/$(basename "$r")"
    else
      failed=1
      result=FAILED
      echo "    regression FAILED: $r"
      grep -E -m3 'ERROR: |INVARIANT BROKEN|runtime error|SUMMARY' "$log.regression" | sed 's/^/      /'
    fi
  done
  rm -f "$log.regression"
  regs="$regok/$nreg"
  (( nknown )) && regs+=" ($nknown known)"
  rows+=("$(printf '%-15s %12s %9s %8s %-15s  %s' "$t" "${execs:-?}" "${rate:-?}" "$crashes" \
             "$regs" "$result")")
done

echo
printf '%-15s %12s %9s %8s %-15s  %s\n' target executions exec/s crashes "regressions ok" result
printf '%s\n' "${rows[@]}"
exit $failed
