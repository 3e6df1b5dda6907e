#!/bin/bash
# hostile.sh CASE: what an adversarial review reproduced on kafka-mtls, tried
# as an attacker with a second local user would; each CASE asserts the
# fixed behaviour (it failed on the code the review found). Run as root (a
# second user, kmtls-other, is made for the cases that need one; without
# root those cases exit 77).
# Env from meson: KMTLS_PLUGIN, KMTLS_TOOL, KMTLS_PEER_DIR, and lib.sh's.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/hardening-lib.sh"
CASE=${1:?usage: hostile.sh CASE}
OTHER=kmtls-other

skip() { trap - EXIT; rm -rf "$WORK"; echo "SKIP: $*"; echo "0 passed, 0 failed"; exit 77; }
need_other_user() {
  (( EUID == 0 )) || skip "needs root to act as a second user"
  id "$OTHER" >/dev/null 2>&1 || useradd -r -M -d /nonexistent -s /usr/sbin/nologin "$OTHER" 2>/dev/null ||
    id "$OTHER" >/dev/null 2>&1 || skip "cannot create the user $OTHER"
}
as_other() { setpriv --reuid="$OTHER" --regid="$OTHER" --clear-groups "$@"; }
# a world-writable sticky directory, like /tmp, that the other user can use
shared_dir() { mkdir -p "$1" && chmod 1777 "$1"; chmod 755 "$WORK" "$BOX"; }
# hold_lock VOLUME: another process holds VOLUME's lock exclusively (sets
# holder) until the script ends; returns once it does
hold_lock() {
  # the holder is the process that holds the lock (a subshell that becomes
  # sleep), so killing it lets go; its output is not the test's
  ( exec 9>>"$1/.kafka-mtls.lock"; flock -x 9; exec sleep 120 ) >/dev/null 2>&1 & holder=$!
  CLEANUP+=("kill $holder")
  for _ in $(seq 250); do flock -n -x "$1/.kafka-mtls.lock" true || return 0; sleep 0.02; done
  fail "the lock holder did not start"; exit 1
}

case $CASE in

# ---- 1. planted symlinks and volumes someone else owns
symlink_in_shared_dir)
  need_other_user
  shared_dir "$BOX/shared"
  mkdir -m 750 "$BOX/rootdir"          # root's: e.g. /etc/sudoers.d
  as_other ln -s "$BOX/rootdir" "$BOX/shared/client9"
  tool_fails "kafka-mtls issue into a symlink the other user planted in a 1777 directory: refused" \
    "client9: a symlink owned by $OTHER \\(uid [0-9]+\\), not by this user" "$BOX/rootdir" \
    issue "$BOX/shared/client9" "${TOOL_CA[@]}" --key-type ec:P-256
  [[ -z $(files_in "$BOX/rootdir") ]] && ok "nothing written into the symlink's target" ||
    fail "written into the target: $(files_in "$BOX/rootdir")"
  start_peer
  client_fails "a plugin client with a CA on the planted symlink: fails closed" \
    "client9: a symlink owned by $OTHER" "$BOX/rootdir" -X "mtls.volume=$BOX/shared/client9" "${CA[@]}"
  [[ -z $(files_in "$BOX/rootdir") ]] && ok "still nothing in the target" ||
    fail "written into the target: $(files_in "$BOX/rootdir")"
  ;;
symlink_above_volume)
  need_other_user
  shared_dir "$BOX/shared"
  mkdir -m 750 "$BOX/rootdir"
  as_other ln -s "$BOX/rootdir" "$BOX/shared/vols"   # planted above the volume, not at it
  tool_fails "kafka-mtls issue into VOLUME under a symlink the other user planted: refused, naming the link" \
    "vols: a symlink owned by $OTHER \\(uid [0-9]+\\), not by this user" "$BOX/rootdir" \
    issue "$BOX/shared/vols/c1" "${TOOL_CA[@]}" --key-type ec:P-256
  [[ -z $(files_in "$BOX/rootdir") ]] && ok "nothing made in the symlink's target" ||
    fail "made in the target: $(files_in "$BOX/rootdir")"
  mkvol "$BOX/rootdir/c1" "$VOL/client-p12"
  store_fails "openssl storeutl keystore: through the planted link: refused when reading too" \
    "vols: a symlink owned by $OTHER" "keystore:$BOX/shared/vols/c1"
  ln -s "$BOX/rootdir" "$BOX/shared/mine"   # root's own link in the same directory
  out=$(tool issue "$BOX/shared/mine/c2" "${TOOL_CA[@]}" --key-type ec:P-256 2>&1) &&
    [[ -f $BOX/rootdir/c2/c2_creds ]] && ok "a link owned by root in the same directory is followed" ||
    fail "root's own link was not followed" "$out"
  ;;
symlink_in_users_dir)
  # not a shared directory: one the other user owns, writable by no one
  # else; its owner chooses where the links in it lead
  need_other_user
  chmod 755 "$WORK" "$BOX"
  mkdir -m 755 "$BOX/home"; chown "$OTHER:$OTHER" "$BOX/home"
  mkdir -m 750 "$BOX/rootdir"          # root's: e.g. /etc/sudoers.d
  as_other ln -s "$BOX/rootdir" "$BOX/home/vol"
  tool_fails "kafka-mtls issue into a symlink in a 0755 directory the other user owns: refused, naming the link and its owner" \
    "home/vol: a symlink owned by $OTHER \\(uid [0-9]+\\), not by this user" "$BOX/rootdir" \
    issue "$BOX/home/vol" "${TOOL_CA[@]}" --key-type ec:P-256
  tool_fails "the same with --force: refused" "home/vol: a symlink owned by $OTHER" "$BOX/rootdir" \
    issue "$BOX/home/vol" "${TOOL_CA[@]}" --key-type ec:P-256 --force
  [[ -z $(files_in "$BOX/rootdir") ]] && ok "nothing written into the symlink's target" ||
    fail "written into the target: $(files_in "$BOX/rootdir")"
  start_peer
  client_fails "a plugin client with a CA on that symlink: fails closed, naming the link and its owner" \
    "home/vol: a symlink owned by $OTHER \\(uid [0-9]+\\)" "$BOX/rootdir" -X "mtls.volume=$BOX/home/vol" "${CA[@]}"
  [[ -z $(files_in "$BOX/rootdir") ]] && ok "still nothing in the target" ||
    fail "written into the target: $(files_in "$BOX/rootdir")"
  # root's own link in the other user's directory: the directory's owner
  # can rename any link there into place
  ln -s "$BOX/rootdir" "$BOX/home/mine"
  tool_fails "a link of root's in the other user's directory: refused, naming the directory's owner" \
    "home/mine: a symlink in a directory owned by $OTHER" "$BOX/rootdir" \
    issue "$BOX/home/mine" "${TOOL_CA[@]}" --key-type ec:P-256
  # a volume to be made inside the other user's directory
  tool_fails "a volume to be created in the other user's directory: refused" \
    "home/new: to be created in a directory owned by $OTHER" "$BOX/home" \
    issue "$BOX/home/new" "${TOOL_CA[@]}" --key-type ec:P-256
  [[ ! -e $BOX/home/new ]] && ok "not created" || fail "created: $(ls -ld "$BOX/home/new")"
  client_fails "a plugin client with a CA and a volume to be created there: refused" \
    "home/new: to be created in a directory owned by $OTHER" "$BOX/home" -X "mtls.volume=$BOX/home/new" "${CA[@]}"
  [[ ! -e $BOX/home/new ]] && ok "still not created" || fail "created: $(ls -ld "$BOX/home/new")"
  ;;
volume_owned_by_another_user)
  need_other_user
  mkvol "$BOX/theirs" "$VOL/client-p12"
  chown -R "$OTHER:$OTHER" "$BOX/theirs"
  start_peer
  client_fails "a 0700 volume owned by $OTHER: refused, naming the owner" \
    "theirs: owned by $OTHER \\(uid [0-9]+\\)" "$BOX/theirs" -X "mtls.volume=$BOX/theirs"
  tool_fails "kafka-mtls issue on it: refused, naming the owner" "owned by $OTHER" "$BOX/theirs" \
    issue "$BOX/theirs" "${TOOL_CA[@]}" --force
  tool_fails "kafka-mtls issue without --force: refused, and --force not offered (it would be refused too)" \
    "owned by $OTHER .*nothing was written \\(the directory itself is refused, with --force too\\)$" "$BOX/theirs" \
    issue "$BOX/theirs" "${TOOL_CA[@]}"
  store_fails "openssl storeutl keystore:DIR on it: refused" "owned by $OTHER" "keystore:$BOX/theirs"
  ;;

# ---- 2. a volume the plugin cannot read is never overwritten
stores_present_creds_missing)
  mkvol "$BOX/sc" "$VOL/client-p12"
  mv "$BOX/sc/sc_creds" "$WORK/sc_creds.later"   # another writer, not finished
  before=$(md5sum "$BOX/sc"/*.jks)
  start_peer
  client_fails "stores present, sc_creds missing, CA configured: waits mtls.wait.ms, then fails naming the writer" \
    "another writer is still writing it" "$BOX/sc" -X "mtls.volume=$BOX/sc" "${CA[@]}" -X mtls.wait.ms=500
  [[ $(md5sum "$BOX/sc"/*.jks) == "$before" ]] && ok "the other writer's stores are untouched" ||
    fail "the stores were replaced"
  # the other writer finishes while a client waits for it: that client
  # goes on with the writer's volume, nothing issued over it
  mark
  (cd "$BOX/cwd" && exec timeout -k 5 60 kcat "${PLUG[@]}" -X "mtls.volume=$BOX/sc" "${CA[@]}" -X mtls.wait.ms=30000 \
     -b "$B" -L -m 10) >"$WORK/waiting.out" 2>&1 & pid=$!
  # ready: kcat (timeout's child) watches the volume (an inotify descriptor) for the writer
  # (the children from /proc: pgrep hangs under the ASan preload)
  watching() {
    local k; for k in $(cat /proc/"$pid"/task/*/children 2>/dev/null); do
      ls -l "/proc/$k/fd" 2>/dev/null | grep -q inotify && return 0
    done; return 1
  }
  for _ in $(seq 1500); do watching && break; sleep 0.02; done
  watching || fail "the client never waited for the writer" "$(cat "$WORK/waiting.out")"
  mv "$WORK/sc_creds.later" "$BOX/sc/sc_creds"
  wait "$pid"; rc=$?
  if (( rc == 0 )) && grep -q ' 3 brokers:' "$WORK/waiting.out" && accepted client-p12 &&
     [[ $(md5sum "$BOX/sc"/*.jks) == "$before" ]]; then
    ok "the other writer finishes during the wait: the waiting client connects with its volume, untouched"
  else fail "the writer finished during the wait (rc=$rc)" "$(cat "$WORK/waiting.out")"; fi
  client_works "the other writer finished: a new client works too" client-p12 "$BOX/sc" -X "mtls.volume=$BOX/sc" "${CA[@]}"
  ;;
wrong_password_not_reissued)
  mkvol "$BOX/wp" "$VOL/client-jks"
  echo "not-the-password" >"$BOX/wp/wp_creds"
  before=$(md5sum "$BOX/wp/wp.keystore.jks")
  tool_fails "kafka-mtls issue (no --force) on a JKS volume whose _creds is wrong: refused" \
    "cannot read it: .*wrong password.*--force replaces it" "$BOX/wp" issue "$BOX/wp" "${TOOL_CA[@]}"
  [[ $(md5sum "$BOX/wp/wp.keystore.jks") == "$before" ]] && ok "its keystore is untouched" ||
    fail "the keystore was replaced"
  start_peer
  client_fails "a plugin client with a CA on it: fails closed, no issuance" "wrong password" "$BOX/wp" \
    -X "mtls.volume=$BOX/wp" "${CA[@]}"
  [[ $(md5sum "$BOX/wp/wp.keystore.jks") == "$before" ]] && ok "still untouched" || fail "the keystore was replaced"
  ;;
renewer_leaves_replaced_volume)
  # A running client with a CA (at a clock faked to 20 s before its
  # certificate's renew window) whose volume is replaced by one under
  # another password: its background renewer must notice, say so once and
  # leave it alone; once the volume reads again it renews it as usual.
  [[ ${LD_PRELOAD:-} == *libasan* ]] && skip "libfaketime deadlocks under the ASan runtime (runs in the regular build)"
  FAKELIB=$(ls /usr/lib/*/faketime/libfaketime.so.1 2>/dev/null | head -n 1)
  [[ -n $FAKELIB ]] || { fail "libfaketime is not installed (tests/run.sh installs faketime)"; exit 1; }
  mkdir -m 700 "$BOX/ov"
  out=$(tool issue "$BOX/ov" "${TOOL_CA[@]}" --key-type ec:P-256 2>&1) || { fail "issue" "$out"; exit 1; }
  cp -a "$BOX/ov" "$WORK/ov.orig"
  crt=$BOX/ov/ov-ca-signed.crt
  nb=$(date -d "$(openssl x509 -in "$crt" -noout -startdate | cut -d= -f2)" +%s)
  na=$(date -d "$(openssl x509 -in "$crt" -noout -enddate | cut -d= -f2)" +%s)
  window=$(( na - (na - nb) / 3 ))                       # default: the last third
  start_peer
  mark
  (cd "$BOX/cwd" && LD_PRELOAD="${LD_PRELOAD:+$LD_PRELOAD:}$FAKELIB" FAKETIME_DONT_FAKE_MONOTONIC=1 \
     FAKETIME="@$(date -u -d "@$((window - 20))" '+%Y-%m-%d %H:%M:%S')" \
     exec timeout -k 5 150 kcat "${PLUG[@]}" -X "mtls.volume=$BOX/ov" "${CA[@]}" -b "$B" -C -t renewer-topic -o end) \
    >"$WORK/client.log" 2>&1 &
  client=$!; CLEANUP+=("kill $client")
  for _ in $(seq 300); do accepted ov && break; kill -0 "$client" 2>/dev/null || break; sleep 0.1; done
  accepted ov || { fail "the client did not connect" "$(cat "$WORK/client.log")"; exit 1; }
  # replaced: another writer's stores, a password that does not open them
  mkvol "$BOX/ov2" "$VOL/client-p12"
  for f in keystore.jks truststore.jks; do cp "$BOX/ov2/ov2.$f" "$BOX/ov/ov.$f"; done
  echo wrong-now >"$BOX/ov/ov_creds"
  replaced=$(md5sum "$BOX/ov/ov.keystore.jks")
  for _ in $(seq 600); do
    grep -qE 'cannot read it, so it is never replaced|(issued|renewed) a certificate' "$WORK/client.log" && break
    sleep 0.1
  done
  if grep -q 'cannot read it, so it is never replaced.*wrong password' "$WORK/client.log" &&
     ! grep -qE '(issued|renewed) a certificate' "$WORK/client.log" &&
     [[ $(md5sum "$BOX/ov/ov.keystore.jks") == "$replaced" ]]; then
    ok "the renewer noticed the replaced volume, said it cannot read it, and wrote nothing"
  else fail "the renewer and a volume it cannot read" "$(cat "$WORK/client.log")"; fi
  n=$(grep -c 'cannot read it, so it is never replaced' "$WORK/client.log")
  (( n == 1 )) && ok "said once" || fail "said $n times" "$(cat "$WORK/client.log")"
  # the volume reads again: renewed once its window opens
  cp -a "$WORK/ov.orig/." "$BOX/ov/"
  for _ in $(seq 600); do grep -q 'renewed a certificate for CN=ov' "$WORK/client.log" && break; sleep 0.1; done
  grep -q 'renewed a certificate for CN=ov' "$WORK/client.log" &&
    ok "the volume restored: the renewer noticed and renewed it in its window" ||
    fail "no renewal once the volume read again" "$(cat "$WORK/client.log")"
  kill "$client" 2>/dev/null; wait "$client" 2>/dev/null
  ;;

# ---- 3. names cannot be injected
san_injection)
  mkdir -m 700 "$BOX/inj"
  tool_fails "--san with '\\,' smuggling email: and otherName: refused" "is not a host name" "$BOX/inj" \
    issue "$BOX/inj" "${TOOL_CA[@]}" --key-type ec:P-256 \
    --san 'DNS:a\,email:admin@corp.example\,otherName:1.3.6.1.4.1.311.20.2.3;UTF8:Administrator@corp.example'
  start_peer
  client_fails "mtls.alias with ',email:' expanded into mtls.san=DNS:\${alias}: refused" "is not a host name" "$BOX/inj" \
    -X "mtls.volume=$BOX/inj" -X 'mtls.alias=a,email:admin@corp.example' -X 'mtls.san=DNS:${alias}' "${CA[@]}"
  ;;
subject_injection)
  vol="$BOX/app,O=Admins,CN=superuser"
  out=$(tool issue "$vol" "${TOOL_CA[@]}" --key-type ec:P-256 2>&1); rc=$?
  subj=$(openssl x509 "${PROV[@]}" -in "keystore:$vol" -noout -subject -nameopt RFC2253 2>&1)
  if (( rc == 0 )) && [[ $subj == 'subject=CN=app\,O=Admins\,CN=superuser' ]]; then
    ok "a volume named 'app,O=Admins,CN=superuser' gets one CN with that value: $subj"
  else fail "subject (rc=$rc): $subj" "$out"; fi
  ;;

# ---- 4. the plaintext key does not outlive its clients
key_gone_after_clients)
  command -v gcore >/dev/null || skip "needs gcore (gdb)"
  # a core of a process under ASan is mostly its shadow memory, and the
  # sanitizer's allocator keeps freed blocks: what is in memory is judged in
  # the regular build
  [[ ${LD_PRELOAD:-} == *libasan* ]] && skip "a core dump under ASan says nothing of our memory (runs in the regular build)"
  mkvol "$BOX/k1" "$VOL/client-p12"
  openssl pkcs12 -in "$BOX/k1/k1.keystore.jks" -passin "file:$BOX/k1/k1_creds" -nocerts -nodes 2>/dev/null |
    sed -n '/BEGIN/,/END/p' >"$WORK/k1.pem"
  key=$(sed -n 2p "$WORK/k1.pem")   # the first base64 line of the PKCS#8 key
  [[ -n $key ]] || { fail "cannot read the fixture's key"; exit 1; }
  # 32 bytes of the key's DER from a secret field (RSA: the private
  # exponent, EC: the private scalar), as they are in its PKCS#8 form: a
  # decoded key holds them as a BIGNUM's little-endian words, so a match is
  # a copy of the encoded key, its PEM decoded or its PKCS#12 bag decrypted
  openssl pkey -in "$WORK/k1.pem" -outform DER -out "$WORK/k1.der" 2>/dev/null
  openssl pkcs8 -topk8 -nocrypt -in "$WORK/k1.pem" -outform DER -out "$WORK/k1.p8" 2>/dev/null
  # RSAPrivateKey: version, n, e, d (the 5th line); ECPrivateKey: version, the scalar (the 3rd)
  if openssl asn1parse -inform DER -in "$WORK/k1.p8" | grep -q ':rsaEncryption'; then field=5; else field=3; fi
  read -r off hl len < <(openssl asn1parse -inform DER -in "$WORK/k1.der" | sed -n "${field}p" |
    sed -E 's/^ *([0-9]+):d=[0-9]+ +hl=([0-9]+) +l= *([0-9]+).*/\1 \2 \3/')
  (( len >= 32 )) || { fail "the key's secret field is shorter than 32 bytes"; exit 1; }
  der=$(dd if="$WORK/k1.der" bs=1 skip=$((off + hl + (len - 32) / 2)) count=32 2>/dev/null | xxd -p | tr -d '\n')
  [[ ${#der} == 64 ]] && grep -q "$der" <(xxd -p "$WORK/k1.p8" | tr -d '\n') ||
    { fail "32 bytes of the key's secret field, as its PKCS#8 DER holds them (${#der} hex digits)"; exit 1; }
  start_peer
  for rotation in restart live; do
    out=$(KMTLS_VOL=$BOX/k1 KMTLS_B=$B KMTLS_CORE=$WORK/core-$rotation KMTLS_ROTATION=$rotation \
          timeout -k 5 120 /usr/bin/python3 - <<'PY2' 2>&1
import gc, os, subprocess
from confluent_kafka import Producer
conf = {"plugin.library.paths": os.environ["KMTLS_PLUGIN"], "mtls.volume": os.environ["KMTLS_VOL"],
        "mtls.rotation": os.environ["KMTLS_ROTATION"], "bootstrap.servers": os.environ["KMTLS_B"]}
def core(name):
    subprocess.run(["gcore", "-o", os.environ["KMTLS_CORE"] + "-" + name, str(os.getpid())], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
for i in range(3):
    p = Producer(conf)
    p.list_topics(timeout=10)
    if i == 2:
        core("live")   # a client alive: its PEM key is in pages left out of core dumps
    del p
    gc.collect()
core("after")
print("cored")
PY2
); rc=$?
    for when in live after; do
      core=$(ls "$WORK"/core-"$rotation-$when".* 2>/dev/null | head -n 1)
      if (( rc == 0 )) && [[ -n $core ]]; then
        n=$(grep -caF -- "$key" "$core"); p=$(grep -caF -- 'BEGIN PRIVATE KEY' "$core")
        d=$(python3 -c 'import sys; print(open(sys.argv[1], "rb").read().count(bytes.fromhex(sys.argv[2])))' "$core" "$der")
        if [[ $when == live ]]; then
          (( n == 0 && p == 0 && d == 0 )) &&
            ok "mtls.rotation=$rotation, a client alive: its key (PEM, base64 or DER) is not in a core dump" ||
            fail "mtls.rotation=$rotation: a core dump while a client lives holds the key: $n base64 hits, $p PEM headers, $d DER hits"
        else
          (( n == 0 && p == 0 && d == 0 )) &&
            ok "mtls.rotation=$rotation, 3 clients made and destroyed: the key (PEM, base64 or DER) is not in the process's core" ||
            fail "mtls.rotation=$rotation: the key is still in memory after its clients: $n base64 hits, $p PEM headers, $d DER hits"
        fi
      else fail "the client program, mtls.rotation=$rotation (rc=$rc)" "$out"; fi
      rm -f "$core"
    done
  done
  ;;

# ---- 5. lock waits are bounded (and the command's ends at a signal)
lock_wait_bounded)
  mkdir -m 700 "$BOX/lk"
  : >"$BOX/lk/.kafka-mtls.lock"; chmod 600 "$BOX/lk/.kafka-mtls.lock"
  hold_lock "$BOX/lk"   # held for 120 s, far beyond every bound below
  start_peer
  t=$(date +%s%N)
  client_fails "the volume lock held elsewhere, mtls.wait.ms=1000: fails closed, naming the lock and the bound" \
    "\.kafka-mtls\.lock: held by another process for mtls\.wait\.ms=1000" "$BOX/lk" \
    -X "mtls.volume=$BOX/lk" "${CA[@]}" -X mtls.wait.ms=1000
  ms=$(ms_since "$t")
  # bounded: the wait ends within its bound (plus a margin for a loaded
  # machine and kcat's own start), long before the holder lets go
  (( ms < 1000 + 10000 )) && kill -0 "$holder" 2>/dev/null &&
    ok "the client gave up within mtls.wait.ms + 10 s ($ms ms), the lock still held" ||
    fail "the client's wait was not bounded by mtls.wait.ms=1000: $ms ms"
  t=$(date +%s%N)
  tool_fails "kafka-mtls issue --wait 1: gives up, naming the lock and the bound" \
    "\.kafka-mtls\.lock: held by another process for --wait 1" "$BOX/lk" issue "$BOX/lk" "${TOOL_CA[@]}" --wait 1
  ms=$(ms_since "$t")
  (( ms < 1000 + 10000 )) && kill -0 "$holder" 2>/dev/null &&
    ok "the command gave up within --wait + 10 s ($ms ms), the lock still held" ||
    fail "the command's wait was not bounded by --wait 1: $ms ms"
  [[ $(files_in "$BOX/lk") == ".kafka-mtls.lock " ]] && ok "nothing was written" || fail "written: $(files_in "$BOX/lk")"
  ;;
lock_wait_interrupted)
  mkdir -m 700 "$BOX/li"
  : >"$BOX/li/.kafka-mtls.lock"; chmod 600 "$BOX/li/.kafka-mtls.lock"
  hold_lock "$BOX/li"
  for sig in TERM INT; do
    (cd "$BOX/cwd" && exec "$TOOL" issue "$BOX/li" "${TOOL_CA[@]}" --key-type ec:P-256 --wait 600) \
      >"$WORK/issue.out" 2>&1 & pid=$!
    # ready when it holds the lock file open (waiting for the lock)
    for _ in $(seq 500); do
      ls -l "/proc/$pid/fd" 2>/dev/null | grep -q 'kafka-mtls\.lock' && break; sleep 0.02
    done
    ls -l "/proc/$pid/fd" 2>/dev/null | grep -q 'kafka-mtls\.lock' || { fail "SIG$sig: kafka-mtls issue never waited for the lock" "$(cat "$WORK/issue.out")"; continue; }
    kill -"$sig" "$pid"; wait "$pid"; rc=$?
    if (( rc == 128 + $(kill -l "$sig") )) && kill -0 "$holder" 2>/dev/null &&
       [[ $(files_in "$BOX/li") == ".kafka-mtls.lock " ]]; then
      ok "kafka-mtls issue --wait 600 waiting for the lock: SIG$sig ends it at once, nothing written"
    else fail "SIG$sig during the lock wait (rc=$rc, files: $(files_in "$BOX/li"))" "$(cat "$WORK/issue.out")"; fi
  done
  ;;

# ---- 6. fail closed cannot be defeated
fail_closed_every_carrier)
  # The review's set-up: the application sets every property the plugin
  # could fail closed through - ssl.keystore.location, ssl.providers,
  # ssl.certificate.location, ssl.key.location, ssl.ca.location - before
  # plugin.library.paths, the plugin's own after it, on a volume that fails
  # (its password file does not open its stores). The client must not
  # start with the application's certificate.
  mkvol "$BOX/fc" "$VOL/client-p12"
  echo not-the-password >"$BOX/fc/fc_creds"
  app=(-X "ssl.keystore.location=$VOL/client-p12/client-p12.keystore.jks"
       -X "ssl.keystore.password=$(<"$VOL/client-p12/client-p12_creds")"
       -X ssl.providers=default
       -X "ssl.certificate.location=$VOL/cm/tls.crt" -X "ssl.key.location=$VOL/cm/tls.key"
       -X "ssl.ca.location=$VOL/cm/ca.crt")
  start_peer
  mark
  out=$(kc "${app[@]}" "${PLUG[@]}" -X "mtls.volume=$BOX/fc" -b "$B" -L -m 5 2>&1); rc=$?
  if (( rc != 0 )) && ! crashed "$rc" "$out" && (( $(connections) == 0 )) && ! logged 'Certificate accepted'; then
    ok "every carrier set before the plugin, a failing volume: no client, no connection, no certificate accepted"
  else fail "every carrier before the plugin (rc=$rc, $(connections) connections)" "$out
$(since | grep -a 'Certificate accepted')"; fi
  grep -q 'ssl.keystore.location was set before plugin.library.paths' <<<"$out" &&
    ok "the refusal names the first of them" || fail "the refusal does not say why" "$out"
  # the same properties after the plugin: each refused when it is set
  mark
  out=$(kc "${PLUG[@]}" -X "mtls.volume=$BOX/fc" "${app[@]:4}" -b "$B" -L -m 5 2>&1); rc=$?
  if (( rc != 0 )) && grep -qE 'kafka-mtls: .*(supplies|configuration conflict)' <<<"$out" && (( $(connections) == 0 )) &&
     ! logged 'Certificate accepted'; then
    ok "the application's ssl.certificate/key/ca.location and ssl.providers after the plugin: refused, no connection"
  else fail "every carrier set after the plugin (rc=$rc, $(connections) connections)" "$out"; fi
  ;;

# ---- 7. the cache follows a file rewritten in place with its mtime restored
cache_in_place_rewrite)
  mkdir -m 700 "$BOX/cm"
  cp "$VOL/cm/"* "$BOX/cm/"
  mkdir -m 700 "$WORK/cm2"
  "$KMTLS_SOURCE_ROOT/tests/fixtures/volume.sh" certmanager "$FX/ca" "$WORK/cm2" cm-second >/dev/null
  start_peer
  mark
  out=$(KMTLS_VOL=$BOX/cm KMTLS_B=$B KMTLS_NEW=$WORK/cm2 timeout -k 5 60 /usr/bin/python3 - <<'PY' 2>&1
import os, subprocess
from confluent_kafka import Producer
vol, new = os.environ["KMTLS_VOL"], os.environ["KMTLS_NEW"]
conf = {"plugin.library.paths": os.environ["KMTLS_PLUGIN"], "mtls.volume": vol,
        "bootstrap.servers": os.environ["KMTLS_B"]}
Producer(conf).list_topics(timeout=10)
for f in ("tls.crt", "tls.key"):
    st = os.stat(f"{vol}/{f}")
    data = open(f"{new}/{f}", "rb").read().ljust(st.st_size, b"\n")[:max(st.st_size, 1)]
    if len(open(f"{new}/{f}", "rb").read()) > st.st_size:
        raise SystemExit(f"{f}: the replacement is longer than the original")
    with open(f"{vol}/{f}", "r+b") as out:   # in place, as dd conv=notrunc: same inode, no truncation
        out.write(data)
    os.utime(f"{vol}/{f}", ns=(st.st_atime_ns, st.st_mtime_ns))
Producer(conf).list_topics(timeout=10)
print("two clients")
PY
); rc=$?
  if (( rc == 0 )) && accepted cm-second; then
    ok "tls.crt/tls.key rewritten in place, same size, old mtime restored: the second client sends the new identity"
  else fail "second client after an in-place rewrite (rc=$rc)" "$out
$(since | grep -a 'Certificate accepted')"; fi
  ;;

# ---- 8. a volume from another CA is not used silently
other_ca_warns)
  "$KMTLS_SOURCE_ROOT/tests/fixtures/volume.sh" ca "$WORK/caB" "CA B" >/dev/null 2>&1
  mkdir -m 700 "$BOX/mixed"
  out=$(tool issue "$BOX/mixed" --ca "$WORK/caB/ca.crt" --ca-key "$WORK/caB/ca.key" \
        --ca-key-password-file "$WORK/caB/ca.pass" --key-type ec:P-256 2>&1) || { fail "issue by CA B" "$out"; exit 1; }
  start_peer
  out=$(kc "${PLUG[@]}" -X "mtls.volume=$BOX/mixed" "${CA[@]}" -b "$B" -L -m 5 2>&1)
  if grep -q "issued by .*CN=CA B.*not by the configured CA .*CN=kafka-mtls test CA" <<<"$out"; then
    ok "a CA-A client on a CA-B volume: a warning names both CAs"
  else fail "no warning naming both CAs" "$out"; fi
  ;;

# ---- 9. hostile volumes cost little CPU
cpu_caps)
  python3 "$KMTLS_SOURCE_ROOT/tests/hostile/make-hostile-stores.py" "$BOX/h" >/dev/null ||
    { fail "making the hostile stores"; exit 1; }
  for v in many-entries p12-iterations jceks-iterations; do
    pass=pass:changeit; [[ -f $BOX/h/$v.password ]] && pass=file:$BOX/h/$v.password
    out=$(/usr/bin/time -f '%U %S' timeout -k 5 30 openssl storeutl "${PROV[@]}" -passin "$pass" \
          "keystore:$BOX/h/$v" 2>&1); rc=$?
    cpu=$(tail -n 1 <<<"$out" | awk '{printf "%.2f", $1 + $2}')
    # refused by the cap, which is checked before any of the work: a
    # bound, not a timing (the careless reader spends 2 to 5 s here)
    if grep -qE 'entries or more, more than the 1024 a store may hold .*KAFKA_MTLS_MAX_ENTRIES|asks for 2000000 key derivation iterations, more than the 100000 allowed .*KAFKA_MTLS_MAX_KDF_ITERATIONS|iteration count is 0 or above the JCEKS cap .*KAFKA_MTLS_MAX_JCEKS_ITERATIONS' <<<"$out"; then
      ok "$v: refused before the work, naming the cap and how to raise it"
    else fail "$v (rc=$rc, ${cpu} s CPU)" "$out"; fi
    awk -v c="$cpu" 'BEGIN { exit !(c < 1.0) }' && ok "$v: the refusal cost ${cpu} s of CPU (user + sys, < 1 s)" ||
      fail "$v: the refusal cost ${cpu} s of CPU (user + sys), not < 1 s"
  done
  # stores at the caps, as real tools write them, are read. storeutl runs
  # with -noout from here on: the words looked for (cap, error, entries)
  # also occur in base64 by chance, and a PEM key printed in the output
  # once held "cap" (a clean-clone CI run failed at-cap-jceks on it)
  jpw=$(<"$VOL/client-jceks/client-jceks_creds")
  timeout -k 5 120 keytool -J-Djdk.jceks.iterationCount=250000 -importkeystore -noprompt \
    -srckeystore "$VOL/client-jceks/client-jceks.keystore.jks" -srcstoretype JCEKS -srcstorepass "$jpw" \
    -destkeystore "$BOX/h/at-cap-jceks" -deststoretype JCEKS -deststorepass "$jpw" >/dev/null 2>&1 ||
    { fail "keytool: a JCEKS keystore at 250000 iterations"; exit 1; }
  for v in at-cap-entries:pass:changeit at-cap-p12:pass:changeit "at-cap-jceks:pass:$jpw"; do
    out=$(timeout -k 5 60 openssl storeutl -noout "${PROV[@]}" -passin "${v#*:}" "keystore:$BOX/h/${v%%:*}" 2>&1)
    grep -q '^Total found: [1-9]' <<<"$out" && ! grep -qiE 'cap|allowed|error' <<<"$out" &&
      ok "${v%%:*}: a store at the caps (1024 entries; 100000 PKCS#12 iterations; 250000 JCEKS) is read" ||
      fail "${v%%:*}: a store at the caps" "$out"
  done
  # each cap is raisable: the environment variable the message names
  out=$(KAFKA_MTLS_MAX_ENTRIES=20000 timeout -k 5 60 openssl storeutl -noout "${PROV[@]}" -passin pass:changeit \
        "keystore:$BOX/h/many-entries" 2>&1)
  grep -q '^Total found: ' <<<"$out" && ! grep -q 'entries' <<<"$out" &&
    ok "KAFKA_MTLS_MAX_ENTRIES=20000: the same store is read" || fail "the entries cap raised" "$out"
  printf '%s\n' 'openssl_conf = openssl_init' '[openssl_init]' 'providers = provider_sect' \
    '[provider_sect]' 'default = default_sect' 'kafka-mtls = kafka_mtls_sect' '[default_sect]' 'activate = 1' \
    '[kafka_mtls_sect]' "module = $KMTLS_MODULE" 'activate = 1' 'max-entries = 20000' >"$WORK/caps.cnf"
  out=$(OPENSSL_CONF=$WORK/caps.cnf timeout -k 5 60 openssl storeutl -noout -passin pass:changeit \
        "keystore:$BOX/h/many-entries" 2>&1)
  grep -q '^Total found: ' <<<"$out" && ! grep -q 'entries' <<<"$out" &&
    ok "the provider's max-entries = 20000 (OPENSSL_CONF): the same store is read" ||
    fail "the entries cap raised by the provider's configuration" "$out"
  out=$(KAFKA_MTLS_MAX_JCEKS_ITERATIONS=5000000 timeout -k 5 60 openssl storeutl -noout "${PROV[@]}" \
        -passin "file:$BOX/h/jceks-iterations.password" "keystore:$BOX/h/jceks-iterations" 2>&1)
  grep -q '^Total found: ' <<<"$out" && ! grep -q 'JCEKS cap' <<<"$out" &&
    ok "KAFKA_MTLS_MAX_JCEKS_ITERATIONS=5000000: the same key is decrypted" || fail "the JCEKS cap raised" "$out"
  ;;

# ---- 10. inspect escapes what it prints from a certificate
inspect_escapes)
  mkdir -m 700 "$BOX/esc"
  out=$(tool issue "$BOX/esc" "${TOOL_CA[@]}" --key-type ec:P-256 \
        --san "URI:x://$(printf 'a\033]0;owned\007\033[2J')" 2>&1); rc=$?
  if (( rc == 2 )) && grep -q 'is not a URI' <<<"$out" && ! grep -q $'\033' <<<"$out" && ! grep -q $'\007' <<<"$out" &&
     [[ -z $(files_in "$BOX/esc") ]]; then
    ok "kafka-mtls issue --san with ESC and BEL: refused (exit 2), quoted escaped, nothing written"
  else fail "--san with control characters (rc=$rc, files: $(files_in "$BOX/esc"))" "$(cat -v <<<"$out")"; fi
  # the SAN builder refuses control characters; a certificate from elsewhere may carry them
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$BOX/esc/tls.key" \
    -out "$BOX/esc/tls.crt" -days 2 -subj "/CN=$(printf 'evil\033[2J')" \
    -addext "subjectAltName=DNS:$(printf 'x\033]0;owned\007')" 2>/dev/null
  cp "$BOX/esc/tls.crt" "$BOX/esc/ca.crt"; chmod 600 "$BOX/esc"/*
  out=$(tool inspect "$BOX/esc" 2>&1)
  if ! grep -q $'\033' <<<"$out" && ! grep -q $'\007' <<<"$out" && grep -qE '\\(x1[bB]|033|e)' <<<"$out"; then
    ok "inspect prints ESC and BEL from a certificate escaped"
  else fail "inspect printed control characters raw" "$(cat -v <<<"$out")"; fi
  ;;

# ---- 11. the CA key's permissions are enforced
ca_key_permissions)
  mkdir -m 700 "$BOX/perm"
  chmod 644 "$CAF/ca.key"
  tool_fails "a 0644 CA key: refused before issuing, naming the option that allows it" \
    "ca.key is readable by group or others .*--allow-insecure-ca-key" "$BOX/perm" \
    issue "$BOX/perm" "${TOOL_CA[@]}" --key-type ec:P-256
  [[ $(files_in "$BOX/perm") == "" || $(files_in "$BOX/perm") == ".kafka-mtls.lock " ]] &&
    ok "nothing issued (at most the lock file taken)" || fail "issued: $(files_in "$BOX/perm")"
  start_peer
  client_fails "the plugin with a 0644 CA key: fails closed naming mtls.ca.key.insecure.ok" \
    "ca.key is readable by group or others .*mtls.ca.key.insecure.ok" "$BOX/perm" -X "mtls.volume=$BOX/perm" "${CA[@]}"
  chmod 600 "$CAF/ca.key"; chmod 644 "$CAF/ca.pass"
  tool_fails "a 0644 CA key password file: refused too" "ca.pass is readable by group or others" "$BOX/perm" \
    issue "$BOX/perm" "${TOOL_CA[@]}" --key-type ec:P-256
  client_fails "the plugin with a 0644 ca.pass: fails closed naming the property and mtls.ca.key.insecure.ok" \
    "mtls.ca.key.password.file: CA key password file .*ca.pass is readable by group or others .*mtls.ca.key.insecure.ok" \
    "$BOX/perm" -X "mtls.volume=$BOX/perm" "${CA[@]}"
  [[ $(files_in "$BOX/perm") == "" || $(files_in "$BOX/perm") == ".kafka-mtls.lock " ]] &&
    ok "still nothing issued" || fail "issued: $(files_in "$BOX/perm")"
  chmod 600 "$CAF/ca.pass"
  # a healthy volume, nothing to issue: a readable key is refused when the
  # client is made (and on every run of the command), not at the renewal
  # months later
  mkvol "$BOX/healthy" "$VOL/client-p12"
  mkdir -m 700 "$BOX/fresh"
  out=$(tool issue "$BOX/fresh" "${TOOL_CA[@]}" --key-type ec:P-256 2>&1) || { fail "issue" "$out"; exit 1; }
  chmod 644 "$CAF/ca.key"
  client_fails "a healthy volume, a 0644 CA key: the client is refused at creation" \
    "mtls.ca.key.location: CA key .*ca.key is readable by group or others .*mtls.ca.key.insecure.ok" \
    "$BOX/healthy" -X "mtls.volume=$BOX/healthy" "${CA[@]}"
  tool_fails "kafka-mtls issue on a fresh volume (nothing to issue), a 0644 CA key: refused" \
    "--ca-key: CA key .*ca.key is readable by group or others" "$BOX/fresh" issue "$BOX/fresh" "${TOOL_CA[@]}"
  chmod 600 "$CAF/ca.key"
  # owned by another user: its owner reads it whatever its mode says, and
  # no option allows that
  need_other_user
  for f in ca.key ca.pass; do
    chown "$OTHER" "$CAF/$f"
    tool_fails "$f owned by $OTHER (mode 0600): kafka-mtls issue refuses it, naming the owner" \
      "$f: owned by $OTHER \\(uid [0-9]+\\)" "$BOX/perm" issue "$BOX/perm" "${TOOL_CA[@]}" --allow-insecure-ca-key
    client_fails "$f owned by $OTHER: the plugin refuses it at creation, even with mtls.ca.key.insecure.ok=true" \
      "$f: owned by $OTHER \\(uid [0-9]+\\)" "$BOX/healthy" -X "mtls.volume=$BOX/healthy" "${CA[@]}" \
      -X mtls.ca.key.insecure.ok=true
    chown root "$CAF/$f"
  done
  [[ $(files_in "$BOX/perm") == "" || $(files_in "$BOX/perm") == ".kafka-mtls.lock " ]] &&
    ok "nothing issued with any of them" || fail "issued: $(files_in "$BOX/perm")"
  ;;

# ---- surprises a user would report
ca_without_key)
  mkdir -m 700 "$BOX/half"
  start_peer
  client_fails "mtls.ca.location without mtls.ca.key.location: says what is missing" \
    "mtls.ca.location is set but mtls.ca.key.location is not" "$BOX/half" \
    -X "mtls.volume=$BOX/half" -X "mtls.ca.location=$CAF/ca.crt"
  client_fails "mtls.subject without a CA: says it needs one" \
    "mtls.subject .*only .* with mtls.ca.location and mtls.ca.key.location" "$BOX/half" \
    -X "mtls.volume=$BOX/half" -X 'mtls.subject=CN=x'
  ;;
keystore_location_with_ca)
  mkdir -m 700 "$BOX/jv"
  start_peer
  client_works "ssl.keystore.location=DIR/ALIAS.keystore.jks plus a CA: issues into DIR" jv "$BOX/jv" \
    -X "ssl.keystore.location=$BOX/jv/jv.keystore.jks" -X ssl.keystore.password=confluent \
    -X "ssl.truststore.location=$BOX/jv/jv.truststore.jks" -X ssl.truststore.password=confluent "${CA[@]}"
  [[ $(<"$BOX/jv/jv_creds") == confluent ]] && ok "with the password the properties name" ||
    fail "password in jv_creds: $(cat "$BOX/jv/jv_creds")"
  [[ -f $BOX/jv/jv.keystore.jks && ! -d $BOX/jv/jv.keystore.jks ]] && ok "the keystore is a file, not a directory" ||
    fail "jv.keystore.jks: $(ls -ld "$BOX/jv/jv.keystore.jks")"
  mkdir -m 700 "$BOX/jw"
  client_fails "ssl.keystore.location=DIR/client.p12 plus a CA: refused, saying the name it needs" \
    "ssl.keystore.location=$BOX/jw/client.p12: to issue into it, the plugin needs the seed's name ALIAS.keystore.jks" \
    "$BOX/jw" -X "ssl.keystore.location=$BOX/jw/client.p12" -X ssl.keystore.password=confluent "${CA[@]}"
  client_fails "ssl.truststore.password other than ssl.keystore.password plus a CA: refused, saying why" \
    "ssl.truststore.password differs from ssl.keystore.password: the issuer writes both stores under one password" \
    "$BOX/jw" -X "ssl.keystore.location=$BOX/jw/jw.keystore.jks" -X ssl.keystore.password=confluent \
    -X ssl.truststore.password=other "${CA[@]}"
  [[ -z $(files_in "$BOX/jw") ]] && ok "nothing written by the refusals" || fail "written: $(files_in "$BOX/jw")"
  ;;
renew_window_covers_lifetime)
  mkdir -m 700 "$BOX/rw"
  start_peer
  client_fails "mtls.validity.days=1 with mtls.renew.before=1d: refused (every start would renew)" \
    "mtls.renew.before=1d with mtls.validity.days=1: a renew window of 86400s is not shorter than the lifetime of 86400s" "$BOX/rw" \
    -X "mtls.volume=$BOX/rw" "${CA[@]}" -X mtls.validity.days=1 -X mtls.renew.before=1d
  tool_fails "kafka-mtls issue --days 1 --renew-before 1d: refused" \
    "--renew-before 1d: a renew window of 86400s is not shorter than the lifetime of 86400s" "$BOX/rw" \
    issue "$BOX/rw" "${TOOL_CA[@]}" --days 1 --renew-before 1d
  ;;
key_password_before_plugin)
  start_peer
  out=$(kc -X ssl.key.password=s3cr3t-Passw0rd "${PLUG[@]}" -X "mtls.volume=$VOL/client-p12" -X dump 2>&1)
  if grep -q 'ssl.key.password was set before plugin.library.paths' <<<"$out"; then
    ok "ssl.key.password before the plugin: a warning says librdkafka holds it in clear"
  else fail "no warning for ssl.key.password set before the plugin" "$out"; fi
  ;;
inspect_fifo_and_symlink)
  mkvol "$BOX/ff" "$VOL/client-p12"
  rm "$BOX/ff/ff.truststore.jks"; mkfifo -m 600 "$BOX/ff/ff.truststore.jks"
  mv "$BOX/ff/ff.keystore.jks" "$BOX/ff/real.p12"; ln -s real.p12 "$BOX/ff/ff.keystore.jks"
  out=$(tool inspect "$BOX/ff" 2>&1)
  grep -q 'ff.truststore.jks .*not a regular file (a FIFO)' <<<"$out" &&
    grep -q '^truststore  CANNOT BE READ: .*ff.truststore.jks is not a regular file (a FIFO)' <<<"$out" &&
    ! grep -q 'no ff.truststore.jks' <<<"$out" && ok "inspect names the FIFO, in the file list and as the truststore" ||
    fail "inspect on a FIFO" "$out"
  grep -q 'ff.keystore.jks -> real.p12' <<<"$out" && ok "inspect shows the symlink's target" ||
    fail "inspect on a symlink" "$out"
  ;;
*) echo "hostile.sh: unknown case $CASE" >&2; exit 2 ;;
esac
