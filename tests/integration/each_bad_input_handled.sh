#!/bin/bash
# each_bad_input_handled.sh CASE: one bad input each, registered as its own test in
# tests/meson.build under the name of the behaviour it checks:
#   ca_key_readable     the CA key is readable by group/others and that is
#                       allowed (--allow-insecure-ca-key,
#                       mtls.ca.key.insecure.ok=true): issuance warns (the
#                       command on stderr, the plugin in the client log) and
#                       goes ahead (without the allowance it is refused:
#                       tests/hostile/ ca_key_permissions)
#   symlink_planted     a symlink planted where issuance writes a file
#                       (ALIAS.keystore.jks): refused, KAFKA_MTLS_R_INSECURE,
#                       naming the file
#   fifo_password_file  a FIFO given as a password file fails at once ("not
#                       a regular file"), never blocks in open()
#   unusable_entry      a dangling symlink at tls.key and a FIFO at
#                       ALIAS_creds are named as such, not reported as
#                       "tls.crt without tls.key" / "does not exist yet"
#   non_utf8_alias      an alias that is not UTF-8 is refused, naming the
#                       cause: by the command, and by the plugin when
#                       mtls.alias is set
#   ro_renew_window     a read-only volume, a CA configured, a certificate
#                       inside its renew window but still valid: the client
#                       is created with that certificate and a warning that
#                       renewal failed (needs mount; 77 if not permitted)
# Env from meson: KMTLS_PLUGIN, KMTLS_PEER_DIR, KMOCKD, KMTLS_TOOL, lib.sh's.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hardening-lib.sh"
CASE=${1:?usage: each_bad_input_handled.sh CASE}
P12=$VOL/client-p12

case $CASE in
ca_key_readable)
  start_peer
  chmod 644 "$CAF/ca.key"
  want="ca.key.*(readable by (group|others|everyone)|group or others|world-readable|mode 0?6[0-7][0-7])"
  V=$BOX/t; mkdir -p -m 700 "$V"
  out=$(tool issue "$V" "${TOOL_CA[@]}" --key-type ec:P-256 --allow-insecure-ca-key 2>&1); rc=$?
  (( rc == 0 )) && grep -qiE "warning.*$want.*allowed by --allow-insecure-ca-key" <<<"$out" &&
    ok "CA key mode 0644, --allow-insecure-ca-key: kafka-mtls issue issues and warns, naming the file" ||
    fail "CA key mode 0644: kafka-mtls issue gives no warning (rc=$rc)" "$out"
  V=$BOX/p; mkdir -p -m 700 "$V"
  mark
  out=$(kc "${PLUG[@]}" -X "mtls.volume=$V" "${CA[@]}" -X mtls.key.type=ec:P-256 -X mtls.ca.key.insecure.ok=true \
        -b "$B" -L -m 10 2>&1); rc=$?
  (( rc == 0 )) && accepted p && grep -qiE "MTLS.*$want.*allowed by mtls.ca.key.insecure.ok=true" <<<"$out" &&
    ok "CA key mode 0644, mtls.ca.key.insecure.ok=true: the plugin issues and logs a warning naming the file" ||
    fail "CA key mode 0644: the plugin logs no warning (rc=$rc)" "$out"
  ;;
symlink_planted)
  V=$BOX/sl; mkdir -p -m 700 "$V" "$BOX/outside"; printf 'outside\n' >"$BOX/outside/keystore"
  ln -s "$BOX/outside/keystore" "$V/sl.keystore.jks"
  out=$(tool issue "$V" "${TOOL_CA[@]}" --key-type ec:P-256 2>&1); rc=$?
  (( rc == 1 )) && grep -qE "$V/sl.keystore.jks.*symlink" <<<"$out" && [[ -L $V/sl.keystore.jks ]] &&
    ok "sl.keystore.jks a planted symlink: kafka-mtls issue refuses (INSECURE), naming the file" ||
    fail "sl.keystore.jks a planted symlink: replaced silently instead of refused as README documents (rc=$rc)" \
      "$out
$(ls -la "$V")"
  ;;
fifo_password_file)
  mkdir -p "$BOX/f"; mkfifo "$BOX/f/pw"
  V=$BOX/v; mkdir -p -m 700 "$V"
  run() {  # run NAME CMD...: fails within 3 s naming the file as not a regular file
    local name=$1 out rc t; shift
    t=$(date +%s%N)
    out=$(cd "$BOX/cwd" && timeout -k 2 3 "$@" 2>&1 </dev/null); rc=$?
    if (( rc != 124 && rc != 137 )) && grep -qE "$BOX/f/pw: not a regular file" <<<"$out"; then
      ok "$name: refused in $(ms_since "$t") ms (not a regular file)"
    else fail "$name: rc=$rc after $(ms_since "$t") ms (124: blocked in open() until killed)" "$out"; fi
  }
  run "keystore:...?password-file=<FIFO> (openssl storeutl)" \
    openssl storeutl "${PROV[@]}" "keystore:$P12/client-p12.keystore.jks?password-file=$BOX/f/pw"
  run "kafka-mtls issue --ca-key-password-file <FIFO>" "$TOOL" issue "$V" "${TOOL_CA[@]:0:4}" \
    --ca-key-password-file "$BOX/f/pw"
  run "kafka-mtls inspect --password-file <FIFO>" "$TOOL" inspect "$P12" --password-file "$BOX/f/pw"
  ;;
unusable_entry)
  cp -r "$VOL/cm" "$BOX/dl"; ln -sf "$BOX/no-such-key" "$BOX/dl/tls.key"
  out=$(su "keystore:$BOX/dl" 2>&1)
  grep -qE "tls\.key[: ].*(dangling|not a regular file|No such file or directory)" <<<"$out" &&
    ! grep -q 'tls.crt without tls.key' <<<"$out" &&
    ok "tls.key a dangling symlink: named as such" ||
    fail "tls.key a dangling symlink: reported as missing ('tls.crt without tls.key')" "$out"
  mkvol "$BOX/ff" "$P12"; rm "$BOX/ff/ff_creds"; mkfifo "$BOX/ff/ff_creds"
  out=$(su "keystore:$BOX/ff" 2>&1)
  grep -qE "ff_creds[: ].*(not a regular file|FIFO)" <<<"$out" && ! grep -q 'does not exist yet' <<<"$out" &&
    ok "ff_creds a FIFO: named as not a regular file" ||
    fail "ff_creds a FIFO: reported as 'does not exist yet' (a permanent problem shown as a transient one)" "$out"
  ;;
non_utf8_alias)
  want="alias[: ].*(UTF-8|utf-8|not valid)"
  V=$BOX/u; mkdir -p -m 700 "$V"
  out=$(tool issue "$V" --alias $'\xff' "${TOOL_CA[@]}" --key-type ec:P-256 2>&1); rc=$?
  (( rc == 2 || rc == 1 )) && grep -qE "$want" <<<"$out" &&
    ok "kafka-mtls issue --alias <0xff>: refused, naming the alias as not UTF-8" ||
    fail "kafka-mtls issue --alias <0xff>: unclear message (rc=$rc)" "$out"
  out=$(kc "${PLUG[@]}" -X "mtls.volume=$V" -X $'mtls.alias=\xff' -X mtls.subject=CN=fixed "${CA[@]}" \
        -X mtls.key.type=ec:P-256 -b 127.0.0.1:9 -L -m 1 2>&1); rc=$?
  (( rc != 0 )) && grep -qE "mtls\.alias: $want" <<<"$out" && ! grep -q 'Failed to create' <<<"$out" &&
    ok "mtls.alias=<0xff> + CA: refused when it is set, naming the alias as not UTF-8" ||
    fail "mtls.alias=<0xff> + CA: unclear message (rc=$rc)" "$out"
  ;;
ro_renew_window)
  mkdir -p "$WORK/mnt-ro"
  if ! env -u LD_PRELOAD mount -t tmpfs -o size=1m,mode=700 tmpfs "$WORK/mnt-ro" 2>"$WORK/mount.err"; then
    echo "# skip: cannot mount a tmpfs ($(cat "$WORK/mount.err")): this case needs root"
    trap - EXIT; rm -rf "$WORK"; echo "0 passed, 0 failed"; exit 77
  fi
  CLEANUP+=("umount -l '$WORK/mnt-ro'")
  start_peer
  V=$WORK/mnt-ro/rw; mkdir -m 700 "$V"
  tool issue "$V" "${TOOL_CA[@]}" --key-type ec:P-256 --days 2 >/dev/null && rm -f "$V/.kafka-mtls.lock"
  env -u LD_PRELOAD mount -o remount,ro "$WORK/mnt-ro"
  mark
  out=$(kc "${PLUG[@]}" -X "mtls.volume=$V" "${CA[@]}" -X mtls.renew.before=5d -b "$B" -L -m 10 2>&1); rc=$?
  (( rc == 0 )) && accepted rw && grep -qiE "MTLS.*(renew|read-only)" <<<"$out" &&
    ok "read-only volume, certificate inside the window (2 days left) + CA: connected with it, warned" ||
    fail "read-only volume, certificate still valid for 2 days + CA: client not created (rc=$rc)" "$out"
  ;;
*) echo "unknown case $CASE"; exit 2 ;;
esac
