#!/bin/bash
# The bad-input matrix: hostile or broken volumes, password files
# and CA files, through an unmodified kcat with the plugin (against the
# mTLS mock cluster, tests/peer/mtls-peer.sh), through `openssl storeutl`
# with the provider, and through `kafka-mtls issue`. Each case: a message
# naming the file or property and the cause, a failed client creation (the
# peer sees no connection), no crash or hang, nothing written outside the
# volume (every volume, "outside" file, the clients' cwd and TMPDIR live in
# one sandbox that is compared before and after).
# Single cases with a test of their own are in each_bad_input_handled.sh.
# Env from meson: KMTLS_PLUGIN, KMTLS_PEER_DIR, KMOCKD, KMTLS_TOOL, lib.sh's.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hardening-lib.sh"

start_peer
fixtures_snapshot() { find "$FX" -printf '%p|%y|%s|%m|%T@\n' | sort; }
fixtures_snapshot >"$WORK/fx.snap"
P12=$VOL/client-p12
pw=$(<"$P12/client-p12_creds")
KS_TOO_BIG='more than the 4194304 allowed'

# ---- 0. the provider issue's cases, as a client sees them: not created
mkdir -p "$BOX/m"
mkvol "$BOX/m/trunc" "$P12"
head -c 2000 "$P12/client-p12.keystore.jks" >"$BOX/m/trunc/trunc.keystore.jks"
client_fails "truncated PKCS#12 keystore: client not created, the file named" \
  "${CREATE}mtls.volume: .*trunc.keystore.jks: truncated or malformed PKCS#12" "$BOX/m/trunc" \
  -X "mtls.volume=$BOX/m/trunc" -X mtls.wait.ms=0
mkvol "$BOX/m/mac" "$P12"
python3 - "$BOX/m/mac/mac.keystore.jks" <<'PY'
import sys; p = sys.argv[1]; b = bytearray(open(p, 'rb').read()); b[-200] ^= 1; open(p, 'wb').write(b)
PY
client_fails "modified PKCS#12 (MAC): client not created, the file named" \
  "${CREATE}.*mac.keystore.jks: .*(MAC|modified|integrity|malformed)" "$BOX/m/mac" -X "mtls.volume=$BOX/m/mac"
mkvol "$BOX/m/jksmod" "$VOL/client-jks"
python3 - "$BOX/m/jksmod/jksmod.keystore.jks" <<'PY'
import sys; p = sys.argv[1]; b = bytearray(open(p, 'rb').read()); b[-100] ^= 1; open(p, 'wb').write(b)
PY
client_fails "modified JKS (integrity trailer): client not created" \
  "${CREATE}.*jksmod.keystore.jks: .*integrity check failed" "$BOX/m/jksmod" -X "mtls.volume=$BOX/m/jksmod"
mkvol "$BOX/m/junk" "$P12"
head -c 3000 /dev/urandom | tr '\0-' 'ab' >"$BOX/m/junk/junk.keystore.jks"
client_fails "unsupported format: client not created" \
  "${CREATE}.*junk.keystore.jks: unsupported format" "$BOX/m/junk" -X "mtls.volume=$BOX/m/junk"
cp -r "$VOL/cm" "$BOX/m/mismatch"; cp "$VOL/spiffe/svid_key.pem" "$BOX/m/mismatch/tls.key"
client_fails "key does not match the certificate: client not created" \
  "${CREATE}.*tls.key: the private key does not match the certificate" "$BOX/m/mismatch" \
  -X "mtls.volume=$BOX/m/mismatch"
printf 'not-the-password\n' >"$BOX/m/wrong.pw"
client_fails "wrong password (ssl.keystore.password): client not created, password not echoed" \
  "${CREATE}.*client-p12.keystore.jks.*wrong password" "$BOX/m" \
  -X "ssl.keystore.location=$P12/client-p12.keystore.jks" -X ssl.keystore.password=not-the-password-4711
if grep -q 'not-the-password-4711' <<<"$(kc "${PLUG[@]}" -X "ssl.keystore.location=$P12/client-p12.keystore.jks" \
     -X ssl.keystore.password=not-the-password-4711 -b "$B" -L -m 1 2>&1)"; then
  fail "wrong password: the password given was echoed"
else ok "wrong password: the password given is not echoed"; fi

# ---- 1. the CA key readable by everyone, and that allowed: issuance still
# works (the warning it prints: each_bad_input_handled.sh ca_key_readable; refused
# without the allowance: tests/hostile/ ca_key_permissions)
chmod 644 "$CAF/ca.key"
V=$BOX/wr/wrca; mkdir -p -m 700 "$V"
client_works "CA key mode 0644, allowed: the plugin issues, the client connects as CN=wrca" wrca "$V" \
  -X "mtls.volume=$V" "${CA[@]}" -X mtls.key.type=ec:P-256 -X mtls.ca.key.insecure.ok=true
V=$BOX/wr/wrtool; mkdir -p -m 700 "$V"
out=$(tool issue "$V" "${TOOL_CA[@]}" --key-type ec:P-256 --allow-insecure-ca-key 2>&1); rc=$?
(( rc == 0 )) && grep -q '^issued: ' <<<"$out" && ok "CA key mode 0644, allowed: kafka-mtls issue issues" ||
  fail "CA key mode 0644, allowed: kafka-mtls issue (rc=$rc)" "$out"
chmod 600 "$CAF/ca.key"

# ---- 2. a volume others may write to: issuance refuses to write anything
for mode in 777 770 702; do
  V=$BOX/insecure/v$mode; mkdir -p "$V"; chmod "$mode" "$V"
  tool_fails "volume mode $mode: kafka-mtls issue refuses (writable by group or others), exit 1" \
    "volume $V: writable by group or others \\(mode $mode\\): refusing" "$V" issue "$V" "${TOOL_CA[@]}" \
    --key-type ec:P-256
  [[ -z $(files_in "$V") ]] && ok "volume mode $mode: nothing written into it (not even the lock file)" ||
    fail "volume mode $mode: files were written" "$(ls -la "$V")"
done
V=$BOX/insecure/v777
client_fails "volume mode 777 + CA: client not created, the volume and the cause named" \
  "${CREATE}mtls.volume: volume $V: writable by group or others \\(mode 777\\)" "$V" \
  -X "mtls.volume=$V" "${CA[@]}" -X mtls.wait.ms=0
[[ -z $(files_in "$V") ]] && ok "volume mode 777 + CA: the plugin wrote nothing into it" ||
  fail "volume mode 777 + CA: files were written" "$(ls -la "$V")"

# ---- 3. symlinks. Reading follows them (Kubernetes secret volumes are
# symlinks into ..data/); writing never goes through one.
K=$BOX/k8s/cm; mkdir -p "$K/..2024_01_01_00_00_00.000000001"
cp "$VOL/cm/tls.crt" "$VOL/cm/tls.key" "$VOL/cm/ca.crt" "$K/..2024_01_01_00_00_00.000000001/"
ln -s ..2024_01_01_00_00_00.000000001 "$K/..data"
for f in tls.crt tls.key ca.crt; do ln -s "..data/$f" "$K/$f"; done
chmod 700 "$K"
store_works "Kubernetes secret volume (cert-manager files as ..data symlinks): storeutl reads it" 3 "keystore:$K"
client_works "Kubernetes secret volume (symlinks): the client connects as CN=cm-client" cm-client "$K" \
  -X "mtls.volume=$K"
K=$BOX/k8s/client-p12; mkdir -p "$K/..2024_01_01_00_00_00.000000002"
cp "$P12"/client-p12.keystore.jks "$P12"/client-p12.truststore.jks "$P12"/client-p12_creds \
  "$K/..2024_01_01_00_00_00.000000002/"
ln -s ..2024_01_01_00_00_00.000000002 "$K/..data"
for f in client-p12.keystore.jks client-p12.truststore.jks client-p12_creds; do ln -s "..data/$f" "$K/$f"; done
client_works "Kubernetes secret volume (seed keystore, truststore, creds as symlinks): CN=client-p12" client-p12 \
  "$K" -X "mtls.volume=$K"
mkdir -p "$BOX/outside"
cp -r "$VOL/cm" "$BOX/sl-key"; mv "$BOX/sl-key/tls.key" "$BOX/outside/tls.key"
ln -s "$BOX/outside/tls.key" "$BOX/sl-key/tls.key"
client_works "tls.key a symlink to a file outside the volume: read through it, CN=cm-client" cm-client \
  "$BOX/sl-key" -X "mtls.volume=$BOX/sl-key"
cp -r "$VOL/cm" "$BOX/sl-dangling"; ln -sf "$BOX/outside/no-such-key" "$BOX/sl-dangling/tls.key"
client_fails "tls.key a dangling symlink: client not created, tls.key named" \
  "${CREATE}mtls.volume: volume $BOX/sl-dangling .*tls.key" "$BOX/sl-dangling" -X "mtls.volume=$BOX/sl-dangling"
[[ ! -e $BOX/outside/no-such-key ]] && ok "tls.key dangling symlink: its target was not created" ||
  fail "tls.key dangling symlink: its target was created"

# kafka-mtls issue with symlinks planted where it writes: ALIAS.keystore.jks,
# ALIAS.truststore.jks and ALIAS-ca-signed.crt pointing at files outside
V=$BOX/plant/sl; mkdir -p -m 700 "$V"
for f in keystore truststore crt; do printf 'outside %s\n' "$f" >"$BOX/outside/$f"; done
ln -s "$BOX/outside/keystore" "$V/sl.keystore.jks"
ln -s "$BOX/outside/truststore" "$V/sl.truststore.jks"
ln -s "$BOX/outside/crt" "$V/sl-ca-signed.crt"
ln -s "$BOX/outside/never-created" "$V/sl.keystore.p12"
snapshot "$V" >"$WORK/snap"
out=$(tool issue "$V" "${TOOL_CA[@]}" --key-type ec:P-256 2>&1); rc=$?
ch=$(outside_changes "$WORK/snap" "$V")
if ! crashed "$rc" "$out" && [[ -z $ch ]] &&
   [[ $(cat "$BOX/outside/keystore" "$BOX/outside/truststore" "$BOX/outside/crt") == $'outside keystore\noutside truststore\noutside crt' ]] &&
   [[ ! -e $BOX/outside/never-created ]]; then
  ok "kafka-mtls issue with symlinks planted as sl.keystore.jks etc.: nothing written through them (rc=$rc)"
else fail "kafka-mtls issue wrote through a planted symlink (rc=$rc)" "$out
$ch"; fi
# refused (KAFKA_MTLS_R_INSECURE, as the README says) and nothing issued
if (( rc == 1 )) && grep -q "^kafka-mtls issue: .*$V/sl.keystore.jks: is a symlink; refusing" <<<"$out" &&
   [[ ! -e $V/sl_creds && -L $V/sl.keystore.jks ]]; then
  ok "... refused naming sl.keystore.jks (a symlink); nothing issued"
else fail "planted symlinks: not refused, or files written (rc=$rc)" "$out
$(ls -la "$V")"; fi
# ALIAS_creds and the lock file are opened, not replaced: O_NOFOLLOW
V=$BOX/plant/cr; mkdir -p -m 700 "$V"; printf 'outside-password\n' >"$BOX/outside/creds"
ln -s "$BOX/outside/creds" "$V/cr_creds"
tool_fails "cr_creds a symlink: kafka-mtls issue refuses (is a symlink), exit 1" \
  "password file $V/cr_creds: is a symlink" "$V" issue "$V" "${TOOL_CA[@]}" --key-type ec:P-256
[[ $(<"$BOX/outside/creds") == outside-password && ! -e $V/cr.keystore.jks ]] &&
  ok "cr_creds a symlink: its target unchanged, no keystore written" ||
  fail "cr_creds a symlink: written" "$(ls -la "$V")"
V=$BOX/plant/lk; mkdir -p -m 700 "$V"; printf 'outside lock\n' >"$BOX/outside/lock"
ln -s "$BOX/outside/lock" "$V/.kafka-mtls.lock"
tool_fails "the lock file a symlink: kafka-mtls issue refuses (is a symlink), exit 1" \
  "lock file $V/.kafka-mtls.lock: is a symlink" "$V" issue "$V" "${TOOL_CA[@]}" --key-type ec:P-256
[[ $(<"$BOX/outside/lock") == 'outside lock' && $(files_in "$V") == '.kafka-mtls.lock ' ]] &&
  ok "the lock file a symlink: its target unchanged, nothing written" ||
  fail "the lock file a symlink: written" "$(ls -la "$V")"
# the plugin (a CA configured) on a volume whose keystore is a dangling link
V=$BOX/plant/pl; mkdir -p -m 700 "$V"; ln -s "$BOX/outside/pl-target" "$V/pl.keystore.jks"
client_fails "plugin + CA, pl.keystore.jks a dangling symlink: fails closed, never issues over it" \
  "${CREATE}mtls.volume: volume $V: no keystore for alias 'pl'|${CREATE}mtls.volume: .*pl.keystore.jks" "$V" \
  -X "mtls.volume=$V" "${CA[@]}" -X mtls.wait.ms=0
[[ ! -e $BOX/outside/pl-target && -L $V/pl.keystore.jks ]] && ok "... its target was not created" ||
  fail "plugin + CA: the dangling keystore link was written through or replaced" "$(ls -la "$V")"

# ---- 4. huge files: bounded reads, "more than the ... allowed"
mkvol "$BOX/huge/big" "$P12"
head -c 10M /dev/urandom >"$BOX/huge/big/big.keystore.jks"
store_fails "10 MB keystore in a volume: storeutl refuses, the size named" \
  "big.keystore.jks: 10485760 bytes, $KS_TOO_BIG" "keystore:$BOX/huge/big"
client_fails "10 MB keystore in a volume: client not created, the file and the limit named" \
  "${CREATE}mtls.volume: keystore $BOX/huge/big/big.keystore.jks: 10485760 bytes, $KS_TOO_BIG" "$BOX/huge/big" \
  -X "mtls.volume=$BOX/huge/big"
truncate -s 1G "$BOX/huge/sparse.p12"
t=$(date +%s%N)
client_fails "1 GiB (sparse) ssl.keystore.location: client not created, the limit named" \
  "${CREATE}.*sparse.p12: 1073741824 bytes, $KS_TOO_BIG" "$BOX/huge" \
  -X "ssl.keystore.location=$BOX/huge/sparse.p12" -X "ssl.keystore.password=$pw"
ms=$(ms_since "$t")
(( ms < 5000 )) && ok "1 GiB keystore refused in $ms ms: not read" || fail "1 GiB keystore: took $ms ms"
mkvol "$BOX/huge/bigcreds" "$P12"; head -c 10M /dev/urandom >"$BOX/huge/bigcreds/bigcreds_creds"
client_fails "10 MB ALIAS_creds: client not created, 'more than the 4096 allowed'" \
  "${CREATE}.*password file $BOX/huge/bigcreds/bigcreds_creds: 10485760 bytes, more than the 4096 allowed" \
  "$BOX/huge/bigcreds" -X "mtls.volume=$BOX/huge/bigcreds"
head -c 10M /dev/urandom >"$BOX/huge/big.pw"
client_fails "10 MB mtls.password.file: client not created" \
  "${CREATE}.*password file $BOX/huge/big.pw: 10485760 bytes, more than the 4096 allowed|mtls.password.file: .*big.pw.*(4096|large)" \
  "$BOX/huge" -X "mtls.volume=$P12" -X "mtls.password.file=$BOX/huge/big.pw"
cp -r "$VOL/cm" "$BOX/huge/cm"; { cat "$VOL/cm/tls.crt"; head -c 6M /dev/zero | tr '\0' 'A'; } >"$BOX/huge/cm/tls.crt"
client_fails "6 MB tls.crt: client not created, the file and the limit named" \
  "${CREATE}.*tls.crt: 6[0-9]+ bytes, $KS_TOO_BIG" "$BOX/huge/cm" -X "mtls.volume=$BOX/huge/cm"
V=$BOX/huge/issue; mkdir -p -m 700 "$V"
{ cat "$CAF/ca.key"; head -c 10M /dev/zero | tr '\0' '#'; } >"$BOX/huge/ca.key"; chmod 600 "$BOX/huge/ca.key"
tool_fails "10 MB CA key: kafka-mtls issue refuses, the file and the limit named" \
  "CA key $BOX/huge/ca.key: [0-9]+ bytes, more than the 262144 allowed" "$V" issue "$V" \
  --ca "$CAF/ca.crt" --ca-key "$BOX/huge/ca.key" --ca-key-password-file "$CAF/ca.pass"
client_fails "10 MB CA key (plugin): client not created, the file and the limit named" \
  "${CREATE}.*CA key $BOX/huge/ca.key: [0-9]+ bytes, more than the 262144 allowed" "$V" \
  -X "mtls.volume=$V" -X "mtls.ca.location=$CAF/ca.crt" -X "mtls.ca.key.location=$BOX/huge/ca.key" \
  -X "mtls.ca.key.password.file=$CAF/ca.pass"
tool_fails "10 MB --ca-key-password-file: kafka-mtls issue refuses" \
  "big.pw.*(more than|too large)" "$V" issue "$V" --ca "$CAF/ca.crt" --ca-key "$CAF/ca.key" \
  --ca-key-password-file "$BOX/huge/big.pw"
[[ -z $(files_in "$V" | sed 's/\.kafka-mtls\.lock //') ]] && ok "huge CA files: nothing issued into the volume" ||
  fail "huge CA files: written" "$(ls -la "$V")"

# ---- 5. zero-length files
Z=$BOX/zero
mkvol "$Z/zks" "$P12"; : >"$Z/zks/zks.keystore.jks"
client_fails "empty keystore: client not created (empty file)" \
  "${CREATE}mtls.volume: .*zks.keystore.jks: empty file" "$Z/zks" -X "mtls.volume=$Z/zks"
store_fails "empty keystore: storeutl (empty file)" "zks.keystore.jks: empty file" "keystore:$Z/zks"
mkvol "$Z/zts" "$P12"; : >"$Z/zts/zts.truststore.jks"
client_fails "empty truststore: client not created (empty file)" \
  "${CREATE}mtls.volume: .*zts.truststore.jks: empty file" "$Z/zts" -X "mtls.volume=$Z/zts"
mkvol "$Z/zcr" "$P12"; : >"$Z/zcr/zcr_creds"
client_fails "empty ALIAS_creds, mtls.wait.ms=0: client not created (not ready: still empty)" \
  "${CREATE}mtls.volume: .*not ready.*zcr_creds is still empty" "$Z/zcr" -X "mtls.volume=$Z/zcr" -X mtls.wait.ms=0
store_fails "empty ALIAS_creds: storeutl (volume not ready, still empty)" \
  "volume not ready.*zcr_creds is still empty" "keystore:$Z/zcr"
: >"$Z/empty.pw"
client_fails "empty mtls.password.file: refused (password file empty)" \
  "password file $Z/empty.pw: empty|mtls.password.file: .*empty.pw.*empty" "$Z" \
  -X "mtls.volume=$P12" -X "mtls.password.file=$Z/empty.pw"
printf '\r\n' >"$Z/crlf-only.pw"
store_fails "password file holding only CRLF: storeutl (empty)" "password file $Z/crlf-only.pw: empty" \
  "keystore:$P12?password-file=$Z/crlf-only.pw"
for f in tls.crt tls.key ca.crt; do
  d=$Z/cm-${f%.*}-${f#*.}; cp -r "$VOL/cm" "$d"; : >"$d/$f"
  client_fails "empty $f (cert-manager volume): client not created, $f named" \
    "${CREATE}mtls.volume: .*$d/$f: (empty|no certificate)" "$d" -X "mtls.volume=$d"
done
V=$Z/issue; mkdir -p -m 700 "$V"; : >"$Z/ca.key"; chmod 600 "$Z/ca.key"; : >"$Z/ca.crt"
tool_fails "empty CA key: kafka-mtls issue refuses, the file named" "CA key $Z/ca.key: .*(empty|no PEM private key)" \
  "$V" issue "$V" --ca "$CAF/ca.crt" --ca-key "$Z/ca.key"
tool_fails "empty CA certificate: kafka-mtls issue refuses, the file named" \
  "CA certificate $Z/ca.crt: .*(empty|no PEM certificate)" "$V" issue "$V" --ca "$Z/ca.crt" --ca-key "$CAF/ca.key"
chmod 600 "$Z/empty.pw"   # a CA key password file anyone else can read is refused first
tool_fails "empty --ca-key-password-file: kafka-mtls issue refuses" "empty.pw.*empty" "$V" \
  issue "$V" "${TOOL_CA[@]:0:4}" --ca-key-password-file "$Z/empty.pw"
client_fails "empty mtls.ca.key.password.file: client not created" "empty.pw.*empty" "$V" \
  -X "mtls.volume=$V" -X "mtls.ca.location=$CAF/ca.crt" -X "mtls.ca.key.location=$CAF/ca.key" \
  -X "mtls.ca.key.password.file=$Z/empty.pw"
[[ -z $(files_in "$V" | sed 's/\.kafka-mtls\.lock //') ]] && ok "empty CA files: nothing issued into the volume" ||
  fail "empty CA files: written" "$(ls -la "$V")"
# stores beside an empty ALIAS_creds: another writer is still writing it (or
# was killed): never overwritten without a person saying so (--force)
V=$Z/zissue; mkvol "$V" "$P12"; : >"$V/zissue_creds"
tool_fails "empty ALIAS_creds beside stores: kafka-mtls issue refuses (another writer), naming --force" \
  "another writer is still writing it .*zissue_creds is still empty.*--force replaces it" "$V" \
  issue "$V" "${TOOL_CA[@]}" --key-type ec:P-256
out=$(tool issue "$V" "${TOOL_CA[@]}" --key-type ec:P-256 --force 2>&1); rc=$?
(( rc == 0 )) && [[ -s $V/zissue_creds ]] && grep -q '^issued: ' <<<"$out" &&
  store_works "empty ALIAS_creds: kafka-mtls issue --force re-issues a complete volume" 4 "keystore:$V" ||
  fail "empty ALIAS_creds: kafka-mtls issue --force (rc=$rc)" "$out"

# ---- 6. password files with CRLF line ends: the CR is not part of the password
C=$BOX/crlf; mkdir -p "$C"
printf '%s\r\n' "$pw" >"$C/store.pw"
mkvol "$C/p12" "$P12"; rm "$C/p12/p12_creds"
client_works "mtls.password.file ending in CRLF: the client connects as CN=client-p12" client-p12 "$C/p12" \
  -X "mtls.volume=$C/p12" -X "mtls.password.file=$C/store.pw"
mkvol "$C/crv" "$P12"; printf '%s\r\n' "$pw" >"$C/crv/crv_creds"
client_works "ALIAS_creds ending in CRLF: the client connects as CN=client-p12" client-p12 "$C/crv" \
  -X "mtls.volume=$C/crv"
store_works "?password-file= ending in CRLF: storeutl reads the keystore" 4 \
  "keystore:$P12/client-p12.keystore.jks?password-file=$C/store.pw"
printf '%s\r\n' "$CA_PW" >"$C/ca.pass"; chmod 600 "$C/ca.pass"
V=$C/issued; mkdir -p -m 700 "$V"
client_works "mtls.ca.key.password.file ending in CRLF: the plugin issues, CN=issued" issued "$V" \
  -X "mtls.volume=$V" -X "mtls.ca.location=$CAF/ca.crt" -X "mtls.ca.key.location=$CAF/ca.key" \
  -X "mtls.ca.key.password.file=$C/ca.pass" -X mtls.key.type=ec:P-256
printf 'fixed-store-password\r\n' >"$C/fixed.pw"
V=$C/tool; mkdir -p -m 700 "$V"
out=$(tool issue "$V" --ca "$CAF/ca.crt" --ca-key "$CAF/ca.key" --ca-key-password-file "$C/ca.pass" \
      --password-file "$C/fixed.pw" --key-type ec:P-256 2>&1); rc=$?
hex() { od -An -tx1 | tr -d ' \n'; }
if (( rc == 0 )) && [[ $(hex <"$V/tool_creds") == $(printf 'fixed-store-password\n' | hex) ]] &&
   keytool -list -keystore "$V/tool.keystore.jks" -storepass fixed-store-password >/dev/null 2>&1; then
  ok "kafka-mtls issue --password-file/--ca-key-password-file with CRLF: creds hold the password without CR; keytool opens the keystore"
else fail "kafka-mtls issue with CRLF password files (rc=$rc)" "$out
$(od -c "$V/tool_creds" | head -3)"; fi

# ---- 7. non-UTF-8 aliases (byte 0xff): the one alias rule refuses them
# wherever an alias is given, naming the cause
store_fails "?alias=%FF on a volume: a bad keystore URI, the cause named" \
  "keystore:$P12\\?alias=%FF: alias: not valid UTF-8" "keystore:$P12?alias=%FF"
store_fails "?alias=%FF on a keystore file: a bad keystore URI, the cause named" \
  "client-p12.keystore.jks\\?alias=%FF&password-file=$C/store.pw: alias: not valid UTF-8" \
  "keystore:$P12/client-p12.keystore.jks?alias=%FF&password-file=$C/store.pw"
client_fails "mtls.alias=<0xff>: refused when it is set, the cause named" \
  "mtls.alias: alias: not valid UTF-8" "$P12" \
  -X "mtls.volume=$P12" -X $'mtls.alias=\xff' -X mtls.wait.ms=0
V=$BOX/utf/u1; mkdir -p -m 700 "$V"
client_fails "mtls.alias=<0xff> + CA on an empty volume: refused when it is set" \
  "mtls.alias: alias: not valid UTF-8" "$V" \
  -X "mtls.volume=$V" -X $'mtls.alias=\xff' "${CA[@]}" -X mtls.key.type=ec:P-256
client_fails "mtls.alias=<0xff>, mtls.subject=CN=fixed + CA: refused when it is set" \
  "mtls.alias: alias: not valid UTF-8" "$V" \
  -X "mtls.volume=$V" -X $'mtls.alias=\xff' -X mtls.subject=CN=fixed "${CA[@]}" -X mtls.key.type=ec:P-256
tool_fails "kafka-mtls issue --alias <0xff>: refused" "." "$V" issue "$V" --alias $'\xff' "${TOOL_CA[@]}" \
  --key-type ec:P-256
tool_fails "kafka-mtls issue --alias <0xff> --subject CN=fixed: refused" "." "$V" issue "$V" --alias $'\xff' \
  --subject CN=fixed "${TOOL_CA[@]}" --key-type ec:P-256
[[ $(files_in "$V") == '.kafka-mtls.lock ' || -z $(files_in "$V") ]] &&
  ok "non-UTF-8 alias: nothing but the lock file written into the volume" ||
  fail "non-UTF-8 alias: files written" "$(ls -la "$V" | cat -v)"

# ---- nothing anywhere else: the fixtures are untouched, the clients' cwd
# and TMPDIR are empty
[[ -z $(files_in "$BOX/cwd") && -z $(files_in "$BOX/tmp") ]] &&
  ok "no client wrote into its cwd or TMPDIR" || fail "files in cwd/TMPDIR" "$(ls -la "$BOX/cwd" "$BOX/tmp")"
ch=$(diff "$WORK/fx.snap" <(fixtures_snapshot) | head -5)
[[ -z $ch ]] && ok "the fixture volumes read by the clients are unchanged" || fail "fixtures changed" "$ch"
echo "# total $(ms_since "$T0") ms"
