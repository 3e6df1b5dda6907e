#!/bin/bash
# Fault injection: the volume is replaced while clients start.
# Two complete volumes (CN=ident-a and CN=ident-b, different store
# passwords) take turns at one path while 10 kcat clients with the plugin
# start at once, and `openssl storeutl` reads it in a loop:
#   exchange  renameat2(RENAME_EXCHANGE): the path always holds a volume
#   rename    rename out, rename in: the path is missing for a moment
#   symlink   Kubernetes' atomic writer: files are links into ..data, and
#             ..data is re-pointed by renaming a new link over it
# Every client either connects with one of the two identities or fails
# with a message naming the volume and the cause; none crashes or hangs.
#
# volume_swap_reads_one_side.sh strict (test volume_swap_reads_one_volume):
# with the atomic swaps (exchange, symlink) a reader sees one consistent
# volume, so every client connects and every storeutl read yields its 4
# objects. The provider holds the volume directory open for a read
# (provider/pinning.c): opened by path one after another, the files of a
# read spanning a swap would pair one volume's store with the other's
# password ("wrong password (PKCS#12 MAC verification failed)").
# Env from meson: KMTLS_PLUGIN, KMTLS_PEER_DIR, KMOCKD, KMTLS_TOOL, lib.sh's.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hardening-lib.sh"

NC=${SWAP_CLIENTS:-10}
STRICT=0 MODES=(exchange rename symlink)
[[ ${1:-} == strict ]] && { STRICT=1; MODES=(exchange symlink); }
start_peer
S=$BOX/swap; mkdir -p "$S/a" "$S/b"
for x in a b; do
  mkdir -m 700 "$S/$x/vol"
  tool issue "$S/$x/vol" "${TOOL_CA[@]}" --key-type ec:P-256 --subject "CN=ident-$x" >/dev/null ||
    { fail "issuing volume $x"; exit 1; }
  rm -f "$S/$x/vol/.kafka-mtls.lock"
done
[[ $(<"$S/a/vol/vol_creds") != "$(<"$S/b/vol/vol_creds")" ]] || { fail "the two volumes share a password"; exit 1; }
# the k8s layout: live-k8s/vol/{..a,..b} hold the files, ..data -> one of them
K=$S/live-k8s/vol; mkdir -p -m 700 "$K"
cp -r "$S/a/vol" "$K/..a"; cp -r "$S/b/vol" "$K/..b"; rm -f "$K"/..[ab]/.kafka-mtls.lock
ln -s ..a "$K/..data"
for f in vol.keystore.jks vol.truststore.jks vol-ca-signed.crt vol_creds; do ln -s "..data/$f" "$K/$f"; done

# the swapped paths: live/vol (what clients use) and spare/vol, fresh
# copies of a/vol and b/vol for each mode (hold/: rename's parking place)
fresh() { rm -rf "$S/live" "$S/spare" "$S/hold"; mkdir -p "$S/live" "$S/spare" "$S/hold"
          cp -a "$S/a/vol" "$S/live/vol"; cp -a "$S/b/vol" "$S/spare/vol"; }
# swapper MODE SECONDS: swaps until killed or SECONDS pass; counts swaps
swapper() {
  exec python3 - "$1" "$2" "$S" "$K" >"$WORK/swaps.$1" 2>&1 <<'PY'
import ctypes, os, signal, sys, time
mode, secs, S, K = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4]
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD, RENAME_EXCHANGE = -100, 2
live, spare, hold = S + '/live/vol', S + '/spare/vol', S + '/hold/vol'
n, cur, end = 0, 'a', time.monotonic() + secs
print('ready', flush=True)
try:
    while time.monotonic() < end:
        if mode == 'exchange':
            if libc.renameat2(AT_FDCWD, live.encode(), AT_FDCWD, spare.encode(), RENAME_EXCHANGE) != 0:
                raise OSError(ctypes.get_errno(), 'renameat2')
        elif mode == 'rename':
            os.rename(live, hold); os.rename(spare, live); os.rename(hold, spare)
        else:
            cur = 'b' if cur == 'a' else 'a'
            os.symlink('..' + cur, K + '/..data.tmp')
            os.rename(K + '/..data.tmp', K + '/..data')
        n += 1
        time.sleep(0.0005)
finally:
    print(n)
PY
}

for mode in "${MODES[@]}"; do
  vol=$S/live/vol; [[ $mode == symlink ]] && vol=$K
  fresh
  swapper "$mode" 150 {WATCHDOG}>&- & sw=$!   # killed as soon as the clients are done
  CLEANUP+=("kill $sw")
  for _ in $(seq 200); do grep -q ready "$WORK/swaps.$mode" 2>/dev/null && break; sleep 0.01; done
  mark
  pids=()
  for i in $(seq $NC); do
    kc "${PLUG[@]}" -X "mtls.volume=$vol" -X mtls.wait.ms=3000 -b "$B" -L -m 10 >"$WORK/c.$mode.$i" 2>&1 &
    pids+=($!)
  done
  # meanwhile openssl storeutl reads the swapping volume
  sgood=0 sbad=0 sclear=0 smsgs=""
  for i in $(seq 20); do
    out=$(su "keystore:$vol" 2>&1); rc=$?
    if grep -q '^Total found: 4$' <<<"$out"; then sgood=$((sgood + 1))
    else
      sbad=$((sbad + 1))
      if ! crashed "$rc" "$out" && grep -qE "kafka-mtls.so:[a-z0-9_]+:.*$vol" <<<"$out"; then
        sclear=$((sclear + 1)); smsgs+=$(grep -m1 -oE 'kafka-mtls.so:[a-z0-9_]+:[^:]*:[^:]*:.{0,160}' <<<"$out" | sed 's/^[^:]*:[^:]*:[^:]*://')$'\n'
      else printf '%s\n' "$out" >"$WORK/s.$mode.$i"; fi
    fi
  done
  good=0 clear=0 bad=0 msgs=""
  for i in $(seq $NC); do
    wait "${pids[$((i - 1))]}"; rc=$?
    out=$(<"$WORK/c.$mode.$i")
    if (( rc == 0 )) && grep -q ' 3 brokers:' <<<"$out"; then good=$((good + 1))
    elif ! crashed "$rc" "$out" && grep -qE "${CREATE}mtls.volume: .*$vol|ERROR: mtls.volume: $vol: " <<<"$out"; then
      clear=$((clear + 1)); msgs+=$(grep -m1 -oE "(${CREATE}|ERROR: )mtls.volume: .{0,160}" <<<"$out")$'\n'
    else bad=$((bad + 1)); cp "$WORK/c.$mode.$i" "$WORK/bad.$mode.$i"; fi
  done
  alive=0; kill -0 "$sw" 2>/dev/null && alive=1
  kill "$sw" 2>/dev/null; wait "$sw" 2>/dev/null
  swaps=$(tail -n 1 "$WORK/swaps.$mode")
  if (( !alive )) || ! [[ $swaps =~ ^[1-9][0-9]*$ ]]; then
    fail "$mode: the swapper stopped early" "$(cat "$WORK/swaps.$mode")"; continue
  fi
  cns=$(since | grep -aoE 'Certificate accepted at depth=0: .*' | sed 's/.*CN=//' | sort | uniq -c | tr -s ' ' | tr '\n' ',')
  others=$(since | grep -aE 'Certificate accepted at depth=0' | grep -avcE 'CN=ident-[ab]$')
  nacc=$(since | grep -ac 'Certificate accepted at depth=0')
  want=$NC; (( STRICT )) || want=1
  if (( bad == 0 && good + clear == NC && good >= want && others == 0 && nacc >= good )) && ! logged 'Rejected'; then
    ok "$mode ($swaps swaps): $NC clients: $good connected as ident-a/ident-b (peer: $cns), $clear failed with a message naming the volume"
  else
    fail "$mode ($swaps swaps): $good connected, $clear failed clearly, $bad crashed/hung/unclear; peer: $cns" \
      "$(cat "$WORK"/bad.$mode.* 2>/dev/null | head -20)"
  fi
  [[ -z $msgs ]] || sed '/^$/d; s|'"$WORK"'|$WORK|g' <<<"$msgs" | sort | uniq -c | sed 's/^/#   /' | head -5
  want=20; (( STRICT )) || want=1
  (( sgood + sclear == 20 && sgood >= want )) &&
    ok "$mode: openssl storeutl x20 while swapping: $sgood read 4 objects, $sclear failed naming the volume" ||
    fail "$mode: openssl storeutl while swapping: $sgood good, $sclear clear, $((20 - sgood - sclear)) unclear" \
      "$(cat "$WORK"/s.$mode.* 2>/dev/null | head -20)"
  [[ -z $smsgs ]] || sed '/^$/d; s|'"$WORK"'|$WORK|g' <<<"$smsgs" | sort | uniq -c | sed 's/^/#   /' | head -5
done
echo "# total $(ms_since "$T0") ms"
