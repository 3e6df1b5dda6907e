#!/bin/bash
# `kafka-mtls issue` under concurrency and crashes:
#  - 64 processes on one empty volume, released at once: all succeed, exactly
#    one issues (one distinct serial among all of them, and it is the one in
#    the keystore);
#  - kill -9 at a random point of an issuance, 200 rounds (first issuances,
#    --force renewals, renewals to another password): afterwards the volume is either not
#    ready (no ALIAS_creds) or complete and readable with ALIAS_creds (never
#    torn, never a keystore without its password), and the next issue
#    completes.
. "$(dirname "$0")/lib.sh"
: "${KMTLS_TOOL:?run through meson test}"

tool() { ASAN_OPTIONS=${KMTLS_TOOL_ASAN_OPTIONS:-${ASAN_OPTIONS:-}} "$KMTLS_TOOL" "$@"; }
CA=(--ca "$FX/ca/ca.crt" --ca-key "$FX/ca/ca.key" --ca-key-password-file "$FX/ca/ca.pass" --key-type ec:P-256)
field() { sed -n "s/^ *$1 *//p" <<<"$2" | head -1; }
now_us() { echo $(( $(date +%s%N) / 1000 )); }

# ------------------------------------------------ 64 processes, one volume
N=64
V=$WORK/race/r
mkfifo "$WORK/ready"
exec 9<>"$WORK/ready"                 # children report "started" here
exec 8>"$WORK/go.lock"; flock -x 8    # ... and wait here until all have
for i in $(seq "$N"); do
  (
    echo "$i" >&9
    exec 9>&-
    flock -s "$WORK/go.lock" env ASAN_OPTIONS="${KMTLS_TOOL_ASAN_OPTIONS:-${ASAN_OPTIONS:-}}" \
      "$KMTLS_TOOL" issue "$V" "${CA[@]}" >"$WORK/out.$i" 2>&1
    echo $? >"$WORK/rc.$i"
  ) 8>&- &
done
for _ in $(seq "$N"); do read -r -u 9 _; done
flock -u 8                            # go
wait
exec 8>&- 9>&-

failed=0 issued=0 fresh=0
for i in $(seq "$N"); do
  [[ $(cat "$WORK/rc.$i") == 0 ]] || { failed=$((failed + 1)); fail "race: process $i failed" "$(cat "$WORK/out.$i")"; }
  grep -q '^issued:' "$WORK/out.$i" && issued=$((issued + 1))
  grep -q '^fresh:' "$WORK/out.$i" && fresh=$((fresh + 1))
done
serials=$(for i in $(seq "$N"); do field serial "$(cat "$WORK/out.$i")"; done | sort -u)
(( failed == 0 )) && ok "race: all $N processes succeeded"
if (( issued == 1 && fresh == N - 1 )); then ok "race: exactly one issued, $fresh found it fresh"
else fail "race: issued=$issued fresh=$fresh (want 1 and $((N - 1)))"; fi
in_store=$(field serial "$(tool inspect "$V")")
if [[ $(wc -l <<<"$serials") == 1 && -n $serials && $serials == "$in_store" ]]; then
  ok "race: one distinct serial among all $N, and it is the keystore's ($in_store)"
else fail "race: serials" "seen: $serials / keystore: $in_store"; fi
left=$(ls -A "$V")
if [[ $left == $'.kafka-mtls.lock\nr-ca-signed.crt\nr.keystore.jks\nr.truststore.jks\nr_creds' ]]; then
  ok "race: the volume holds the seed layout and nothing else"
else fail "race: volume content" "$left"; fi

# ------------------------------------------------ kill -9 at random points
K=$WORK/kill/k
ROUNDS=${KMTLS_KILL_ROUNDS:-200}
# Writing the files takes well under a millisecond on tmpfs, too short for
# random kills to hit. Every fsync is slowed down by 3 ms (an LD_PRELOAD
# shim built here), so that a good share of kills lands between the renames.
SLOW=
if cc -shared -fPIC -O2 -o "$WORK/slow_fsync.so" -x c - -ldl 2>"$WORK/cc.log" <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <time.h>
int fsync(int fd)
{
    static int (*real)(int);
    struct timespec ts = { 0, 3000000 };

    if (real == NULL)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    nanosleep(&ts, NULL);
    return real(fd);
}
EOF
then SLOW=$WORK/slow_fsync.so
else echo "# no C compiler: kills at unslowed speed ($(head -1 "$WORK/cc.log"))"; fi
preload=${LD_PRELOAD:+$LD_PRELOAD:}$SLOW
# How long one issuance takes here (renewal: read, issue, read back): the
# kill delay is drawn from 0 .. 1.2 x that, so most kills land inside it.
tool issue "$K" "${CA[@]}" >/dev/null 2>&1
t0=$(now_us); LD_PRELOAD=$preload tool issue "$K" "${CA[@]}" --force >/dev/null 2>&1; t1=$(now_us)
span=$(( (t1 - t0) * 12 / 10 + 1 ))
echo "# one issuance takes $(( (t1 - t0) / 1000 )) ms here; kill delays 0..$(( span / 1000 )) ms"

printf 'first-Passw0rd\n' >"$WORK/pw.0"; printf 'second-Passw0rd\n' >"$WORK/pw.1"
torn=0 killed=0 mid_write=0 not_ready=0 complete_after_kill=0 finished=0 reissue_failed=0
for r in $(seq "$ROUNDS"); do
  # first issuances, renewals keeping the password, renewals changing it
  case $(( r % 4 )) in
    1|3) rm -rf "$K"; args=() ;;
    2) args=(--force) ;;
    0) args=(--force --password-file "$WORK/pw.$(( r % 8 / 4 ))") ;;
  esac
  # a simple command, so that $! is the issuing process itself (not a subshell)
  LD_PRELOAD=$preload ASAN_OPTIONS=${KMTLS_TOOL_ASAN_OPTIONS:-${ASAN_OPTIONS:-}} \
    "$KMTLS_TOOL" issue "$K" "${CA[@]}" "${args[@]}" >/dev/null 2>&1 &
  pid=$!
  delay=$(( (RANDOM * 32768 + RANDOM) % span ))
  ( sleep "$(printf '%d.%06d' $((delay / 1000000)) $((delay % 1000000)))"; kill -9 "$pid" 2>/dev/null ) &
  killer=$!
  { wait "$pid"; rc=$?; } 2>/dev/null    # no "Killed" job notices
  wait "$killer"
  if (( rc == 137 )); then killed=$((killed + 1)); elif (( rc == 0 )); then finished=$((finished + 1)); fi

  # the state the kill left
  if (( rc == 137 )) && { ls -A "$K" 2>/dev/null | grep -q '^\.kafka-mtls-tmp\.' ||
                          { [[ -e $K/k.keystore.jks ]] && [[ ! -e $K/k_creds ]]; }; }; then
    mid_write=$((mid_write + 1))
  fi
  out=$(tool inspect "$K" 2>&1); irc=$?
  creds=$K/k_creds
  if [[ ! -e $K ]]; then
    not_ready=$((not_ready + 1))         # killed before it created the volume
  elif (( irc == 0 )); then
    [[ -s $creds ]] || { torn=$((torn + 1)); fail "round $r: ready without ALIAS_creds" "$out"; }
    (( rc == 137 )) && complete_after_kill=$((complete_after_kill + 1))
  elif (( irc == 3 )); then
    not_ready=$((not_ready + 1))
    if [[ -s $creds ]]; then torn=$((torn + 1)); fail "round $r: ALIAS_creds present but not ready" "$out"; fi
  else
    torn=$((torn + 1)); fail "round $r (issue rc=$rc): torn volume (inspect rc=$irc)" "$out"
  fi
  # the next issue completes whatever was interrupted
  out=$(tool issue "$K" "${CA[@]}" 2>&1) || { reissue_failed=$((reissue_failed + 1)); fail "round $r: next issue failed" "$out"; }
done
echo "# $ROUNDS rounds: $killed killed ($mid_write while writing files; $not_ready left not ready," \
     "$complete_after_kill complete), $finished finished first"
(( torn == 0 )) && ok "kill -9 x $ROUNDS: never a torn or password-less volume"
(( reissue_failed == 0 )) && ok "kill -9 x $ROUNDS: the next issue always completed"
if (( killed > 0 && not_ready > 0 && mid_write > 0 )); then
  ok "kill -9: interruptions did happen ($killed killed, $mid_write while writing, $not_ready not ready)"
else fail "kill -9: too few rounds interrupted mid-way (killed=$killed mid_write=$mid_write not_ready=$not_ready)"; fi
out=$(tool inspect "$K" 2>&1); rc=$?
if (( rc == 0 )) && ! grep -q "warning" <<<"$out" && ! ls -A "$K" | grep -q '^\.kafka-mtls-tmp\.'; then
  ok "after the last round: complete, consistent, no temporary files"
else fail "final state (rc=$rc)" "$out
$(ls -A "$K")"; fi
