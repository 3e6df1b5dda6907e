#!/bin/bash
# Fault injection on small tmpfs mounts: a disk that fills up
# during issuance (kafka-mtls issue and the plugin), for every file the
# issuer writes, by bytes and by inodes: the issuance fails with a message
# naming the volume and the cause, and leaves no torn keystore (no
# ALIAS_creds, i.e. "not ready", or a complete volume). Then a read-only
# volume with a valid keystore: clients still work through the plugin and
# `openssl storeutl`. Needs mount (root); exits 77 (skipped) if not permitted.
# The renewal of a read-only volume inside its window is in
# each_bad_input_handled.sh (ro_renew_window).
# Env from meson: KMTLS_PLUGIN, KMTLS_PEER_DIR, KMOCKD, KMTLS_TOOL, lib.sh's.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hardening-lib.sh"

M=$WORK/mnt-fault; mkdir -p "$M"
mnt() { env -u LD_PRELOAD mount -t tmpfs -o "$1,mode=700" tmpfs "$M"; }
unmnt() { env -u LD_PRELOAD umount -l "$M"; }
if ! mnt size=64k 2>"$WORK/mount.err"; then
  echo "# skip: cannot mount a tmpfs here ($(cat "$WORK/mount.err")); these cases need root"
  trap - EXIT; rm -rf "$WORK"; echo "0 passed, 0 failed"; exit 77
fi
unmnt
CLEANUP+=("umount -l '$M'")
start_peer

# fill LEAVE_BYTES: a file that leaves that much free on the tmpfs
fill() {
  local avail; avail=$(df -B1 --output=avail "$M" | tail -n 1 | tr -d ' ')
  head -c $(( avail - $1 )) /dev/zero >"$M/filler" 2>/dev/null
}
temps() { local f n=0; for f in "$1"/.kafka-mtls-tmp.*; do [[ -e $f ]] && n=$((n + 1)); done; echo "$n"; }
# state VOLUME ALIAS: "complete" (storeutl yields 4 objects), "not-ready"
# (no ALIAS_creds) or what storeutl says otherwise
state() {
  local out; out=$(su "keystore:$1" 2>&1)
  if grep -q '^Total found: 4$' <<<"$out"; then echo complete
  elif [[ ! -e $1/${2}_creds ]] && grep -q 'volume not ready' <<<"$out"; then echo not-ready
  else echo "torn: $(grep -m1 -o 'kafka-mtls.so:.*' <<<"$out")"; fi
}

# ---- 1. disk full during a first issuance, at each file in turn
for how in "pages 0" "pages 1" "pages 2" "pages 3" "inodes 3" "inodes 4" "inodes 5" "inodes 6"; do
  set -- $how
  if [[ $1 == pages ]]; then mnt size=64k; lim="$2 free pages"; else mnt "size=1m,nr_inodes=$2"; lim="nr_inodes=$2"; fi
  V=$M/dv; mkdir -m 700 "$V"
  [[ $1 == pages ]] && fill $(( $2 * 4096 ))
  out=$(tool issue "$V" "${TOOL_CA[@]}" --key-type ec:P-256 2>&1); rc=$?
  st=$(state "$V" dv)
  if (( rc == 1 )) && grep -qE "^kafka-mtls issue: $V/[^ .][^ ]*: .*No space left on device" <<<"$out" &&
     [[ $st == not-ready ]] && (( $(temps "$V") == 0 )); then
    ok "disk full ($lim) during issue: exit 1 at $(grep -oE "$V/[^ :]+" <<<"$out" | sed 's|.*/||') naming $V (not a temp file), ENOSPC; not ready, no temp files"
  else fail "disk full ($lim) during issue (rc=$rc, volume $st, $(temps "$V") temp files)" "$out
$(ls -la "$V")"; fi
  rm -f "$M/filler"
  [[ $1 == inodes ]] && { unmnt; mnt size=64k; V=$M/dv; mkdir -m 700 "$V"; }
  out=$(tool issue "$V" "${TOOL_CA[@]}" --key-type ec:P-256 2>&1); rc=$?
  (( rc == 0 )) && [[ $(state "$V" dv) == complete ]] ||
    fail "disk full ($lim): issue with space again (rc=$rc)" "$out"
  unmnt
done
ok "after each disk-full failure, kafka-mtls issue with free space completes the volume"

# ---- 2. disk full during a renewal (--force) of a complete volume. A
# renewal replaces files (a temp file, then rename), so it fails only when
# the next file does not fit beside the old one: no free page or inode, or
# a bigger key. The volume stays complete and usable (or, when the password
# changes, not ready: the old ALIAS_creds is removed first), then heals.
printf 'another-store-password\n' >"$WORK/new.pw"
for how in "pages 0 ec:P-256" "inodes 7 ec:P-256" "pages 1 rsa:4096" "pages 0 rsa:4096 new-password"; do
  set -- $how
  if [[ $1 == pages ]]; then mnt size=64k; lim="$2 free pages"; else mnt "size=1m,nr_inodes=$2"; lim="nr_inodes=$2"; fi
  V=$M/dv; mkdir -m 700 "$V"
  tool issue "$V" "${TOOL_CA[@]}" --key-type ec:P-256 >/dev/null 2>&1
  [[ $1 == pages ]] && fill $(( $2 * 4096 ))
  extra=(); want=complete
  [[ ${4:-} == new-password ]] && { extra=(--password-file "$WORK/new.pw"); want="complete|not-ready"; }
  out=$(tool issue "$V" "${TOOL_CA[@]}" --key-type "$3" --force "${extra[@]}" 2>&1); rc=$?
  st=$(state "$V" dv)
  at=$(grep -oE "^kafka-mtls issue: $V/[^ :]+" <<<"$out" | sed 's|.*/||')
  if (( rc == 1 )) && grep -qE "^kafka-mtls issue: $V/[^ .][^ ]*: .*No space left on device" <<<"$out" &&
     [[ $st =~ ^($want)$ ]] && (( $(temps "$V") == 0 )); then
    ok "disk full ($lim) renewing to $3${4:+ with a $4}: exit 1 at $at naming $V; the volume is $st"
  else fail "disk full ($lim) renewing to $3 ${4:-} (rc=$rc, volume $st)" "$out
$(ls -la "$V")"; fi
  if [[ $st == complete ]] && [[ $how == "pages 0 ec:P-256" ]]; then
    client_works "... and a client still connects with it (CN=dv)" dv "$V" -X "mtls.volume=$V"
  fi
  rm -f "$M/filler"
  if [[ $1 == inodes ]]; then  # no way to free an inode but removing a file
    mkdir -p "$WORK/save"; cp -a "$V/." "$WORK/save/"; unmnt; mnt size=64k; mkdir -m 700 "$M/dv"
    cp -a "$WORK/save/." "$M/dv/"; rm -rf "$WORK/save"
  fi
  out=$(tool issue "$V" "${TOOL_CA[@]}" --key-type ec:P-256 "${extra[@]}" 2>&1); rc=$?
  out2=$("$TOOL" inspect "$V" 2>&1); rc2=$?
  (( rc == 0 && rc2 == 0 )) && ! grep -qi 'warning' <<<"$out2" ||
    fail "disk full ($lim) during a renewal: not healed by the next issue (rc=$rc, inspect rc=$rc2)" "$out
$out2"
  unmnt
done

# ---- 3. the plugin issuing on a full disk: client not created, then heals
mnt size=64k; V=$M/dv; mkdir -m 700 "$V"; fill 4096
client_fails "disk full + CA: client not created, the volume and ENOSPC named" \
  "${CREATE}issuing a certificate into mtls.volume=$V failed: $V/.*No space left on device" "$V" \
  -X "mtls.volume=$V" "${CA[@]}" -X mtls.key.type=ec:P-256 -X mtls.wait.ms=0
[[ $(state "$V" dv) == not-ready ]] && (( $(temps "$V") == 0 )) &&
  ok "disk full + CA: no dv_creds (not ready), no temp files" || fail "disk full + CA: volume $(state "$V" dv)" "$(ls -la "$V")"
rm -f "$M/filler"
client_works "disk full + CA, space freed: the next client issues and connects as CN=dv" dv "$V" \
  -X "mtls.volume=$V" "${CA[@]}" -X mtls.key.type=ec:P-256
unmnt

# ---- 4. a read-only volume holding a valid keystore
mnt size=1m; V=$M/ro; mkdir -m 700 "$V"
tool issue "$V" "${TOOL_CA[@]}" --key-type ec:P-256 >/dev/null 2>&1 && rm -f "$V/.kafka-mtls.lock"
cp -r "$VOL/cm" "$M/cm"
env -u LD_PRELOAD mount -o remount,ro "$M"
if touch "$V/x" 2>/dev/null; then fail "the tmpfs is not read-only"; fi
client_works "read-only volume: kcat -L through the plugin, CN=ro" ro "$V" -X "mtls.volume=$V"
client_works "read-only volume + CA configured (certificate fresh): kcat -L, CN=ro" ro "$V" \
  -X "mtls.volume=$V" "${CA[@]}"
client_works "read-only cert-manager volume: kcat -L, CN=cm-client" cm-client "$M/cm" -X "mtls.volume=$M/cm"
msg=ro-$RANDOM$RANDOM
mark
out=$(printf '%s\n' "$msg" | kc "${PLUG[@]}" -X "mtls.volume=$V" -b "$B" -P -t t-ro -p 0 2>&1); rc=$?
out2=$(kc "${PLUG[@]}" -X "mtls.volume=$V" -b "$B" -C -t t-ro -o beginning -e -q 2>&1); rc2=$?
(( rc == 0 && rc2 == 0 )) && grep -qxF -- "$msg" <<<"$out2" && accepted ro &&
  ok "read-only volume: kcat -P and -C through the plugin" || fail "read-only volume: -P/-C (rc=$rc/$rc2)" "$out
$out2"
store_works "read-only volume: openssl storeutl yields key, certificate, chain, CA" 4 "keystore:$V"
expect_output "read-only volume: openssl x509 reads the certificate through the provider" "CN ?= ?ro" \
  openssl x509 "${PROV[@]}" -in "keystore:$V" -noout -subject
out=$("$TOOL" inspect "$V" 2>&1); rc=$?
(( rc == 0 )) && ok "read-only volume: kafka-mtls inspect (exit 0)" || fail "read-only volume: inspect (rc=$rc)" "$out"
out=$(tool issue "$V" "${TOOL_CA[@]}" --key-type ec:P-256 2>&1); rc=$?
(( rc == 0 )) && grep -q "^fresh: $V " <<<"$out" && [[ ! -e $V/.kafka-mtls.lock ]] &&
  ok "read-only volume, certificate fresh: kafka-mtls issue says fresh (exit 0), needing no lock file" ||
  fail "read-only volume: issue when fresh (rc=$rc)" "$out"
tool_fails "read-only volume: kafka-mtls issue --force fails, naming the file and the cause" \
  "$V/\\.kafka-mtls\\.lock: Read-only file system" "$V" issue "$V" "${TOOL_CA[@]}" --force
unmnt
echo "# total $(ms_since "$T0") ms"
