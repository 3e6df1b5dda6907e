#!/bin/bash
# Issuance on first use and renewal at client creation, through an
# unmodified kcat with the plugin, against the mTLS mock cluster
# (tests/peer/mtls-peer.sh); what depends on the wall clock moving is
# plugin_renews_at_faked_clock.sh. Env from meson: KMTLS_PLUGIN,
# KMTLS_PEER_DIR, KMTLS_TOOL, KMOCKD, and lib.sh's.
. "$(dirname "$0")/lib.sh"
: "${KMTLS_PLUGIN:?}" "${KMTLS_PEER_DIR:?}" "${KMTLS_TOOL:?}"

# a hard limit (a hang is a failure, not a stuck CI), sized with the
# metadata timeouts (-m) for a loaded 2-core machine
kc() { timeout -k 5 90 kcat "$@"; }
CA=(-X "mtls.ca.location=$FX/ca/ca.crt" -X "mtls.ca.key.location=$FX/ca/ca.key"
    -X "mtls.ca.key.password.file=$FX/ca/ca.pass")

# the peer: 3 brokers, stopped when this script ends, even by SIGKILL (lib.sh)
start_mtls_peer
PLUG=(-b "$B" -X "plugin.library.paths=$KMTLS_PLUGIN")
serial() { openssl x509 -in "$1" -noout -serial 2>/dev/null; }
accepted() { grep -aqE "Certificate accepted at depth=0: (.*, )?CN=$1\$" "$LOG"; }

# 1. an empty volume and a CA: the first client issues, and uses the result
V=$WORK/vol/app1; mkdir -p -m 700 "$V"
out=$(echo first | kc "${PLUG[@]}" -X "mtls.volume=$V" "${CA[@]}" -P -t issued 2>&1); rc=$?
if (( rc == 0 )) && [[ -s $V/app1_creds && -f $V/app1.keystore.jks && -f $V/app1.truststore.jks ]] && accepted app1; then
  ok "empty volume + CA: kcat produced, the peer verified the issued CN=app1"
else fail "empty volume + CA: issue on first use (rc=$rc)" "$out
$(ls -la "$V")"; fi
perms=$(stat -c '%a' "$V" "$V"/app1.keystore.jks "$V"/app1_creds | tr '\n' ' ')
[[ $perms == "700 600 600 " ]] && ok "volume 0700, files 0600" || fail "permissions: $perms"
s1=$(serial "$V/app1-ca-signed.crt")
out=$(kc "${PLUG[@]}" -X "mtls.volume=$V" "${CA[@]}" -C -t issued -o beginning -e -q 2>&1)
[[ $out == first && $(serial "$V/app1-ca-signed.crt") == "$s1" ]] &&
  ok "a second client reuses the fresh certificate (same serial) and consumes" ||
  fail "second client" "$out"

# 2. many clients starting at once on one empty volume: one issuance
V=$WORK/vol/crowd; mkdir -p -m 700 "$V"
pids=()
for i in $(seq 12); do
  kc "${PLUG[@]}" -X "mtls.volume=$V" "${CA[@]}" -X mtls.key.type=ec:P-256 -L -m 30 \
    >"$WORK/crowd.$i" 2>&1 & pids+=($!)
done
failed=0; for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
want=$(serial "$V/crowd-ca-signed.crt")
served=$(grep -ah "Certificate accepted at depth=0: CN=crowd" "$LOG" | wc -l)
issued=$(cat "$WORK"/crowd.* | grep -c "kafka-mtls: issued a certificate for CN=crowd")
(( failed == 0 && served >= 12 && issued == 1 )) && [[ -n $want ]] &&
  ok "12 clients at once on an empty volume: all connected, exactly one issued ($want)" ||
  fail "12 concurrent clients: $failed failed, $served verified, $issued issued" "$(cat "$WORK"/crowd.1)"

# 3. renewal at client creation: inside the window it is replaced, outside not
V=$WORK/vol/short; mkdir -p -m 700 "$V"
"$KMTLS_TOOL" issue "$V" --ca "$FX/ca/ca.crt" --ca-key "$FX/ca/ca.key" \
  --ca-key-password-file "$FX/ca/ca.pass" --days 2 --key-type ec:P-256 >/dev/null
pw=$(cat "$V/short_creds"); old=$(serial "$V/short-ca-signed.crt")
out=$(kc "${PLUG[@]}" -X "mtls.volume=$V" "${CA[@]}" -X mtls.renew.before=1d -L -m 30 2>&1)
[[ $(serial "$V/short-ca-signed.crt") == "$old" ]] && ok "outside the renew window (2 days left, window 1d): kept" ||
  fail "outside the window: replaced" "$out"
out=$(kc "${PLUG[@]}" -X "mtls.volume=$V" "${CA[@]}" -X mtls.renew.before=5d -L -m 30 2>&1); rc=$?
new=$(serial "$V/short-ca-signed.crt")
end=$(openssl x509 -in "$V/short-ca-signed.crt" -noout -enddate | cut -d= -f2)
days=$(( ($(date -d "$end" +%s) - $(date +%s)) / 86400 ))
if (( rc == 0 )) && [[ $new != "$old" && $(cat "$V/short_creds") == "$pw" ]] && (( days >= 89 )); then
  ok "inside the renew window (2 days left, window 5d): renewed to $days days, password kept"
else fail "renewal inside the window (rc=$rc, $old -> $new, $days days)" "$out"; fi

# 4. without a CA: inside the window a warning, expired a failure naming the date
V=$WORK/vol/nocav; mkdir -p -m 700 "$V"
"$KMTLS_TOOL" issue "$V" --ca "$FX/ca/ca.crt" --ca-key "$FX/ca/ca.key" \
  --ca-key-password-file "$FX/ca/ca.pass" --days 2 --key-type ec:P-256 >/dev/null
out=$(kc "${PLUG[@]}" -X "mtls.volume=$V" -X mtls.renew.before=5d -L -m 30 2>&1); rc=$?
(( rc == 0 )) && grep -q "expires on .* no CA is configured" <<<"$out" &&
  ok "inside the window without a CA: used, with a warning naming the expiry" ||
  fail "window without CA (rc=$rc)" "$out"

# 5. a volume the plugin cannot read is never overwritten, even with a CA
V=$WORK/vol/app1; echo wrong >"$WORK/wrong.pw"; s=$(serial "$V/app1-ca-signed.crt")
out=$(kc "${PLUG[@]}" -X "mtls.volume=$V" "${CA[@]}" -X "mtls.password.file=$WORK/wrong.pw" -L -m 5 2>&1); rc=$?
(( rc != 0 )) && grep -q "wrong password" <<<"$out" && [[ $(serial "$V/app1-ca-signed.crt") == "$s" ]] &&
  ok "unreadable volume with a CA: fails closed, nothing overwritten" ||
  fail "unreadable volume with a CA (rc=$rc)" "$out"

