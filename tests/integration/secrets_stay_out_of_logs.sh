#!/bin/bash
# Secrets never reach logs. kcat with -X debug=all and -X dump, a
# librdkafka program that dumps its configuration (rd_kafka_conf_dump)
# before and after rd_kafka_new with debug=all, confluent-kafka-python,
# the provider's debug trace (KAFKA_MTLS_DEBUG=1) and kafka-mtls
# issue/inspect all run with the plugin on volumes against the mTLS mock
# cluster; then everything they printed and the peer's logs are searched
# for the store passwords, the CA key password, and each private key: the
# base64 of its DER, its PEM body lines, and its private numbers (raw
# bytes, hex, openssl's colon hex; 16-byte windows). A positive control
# proves the search finds each kind of needle.
# Env from meson: KMTLS_PLUGIN, KMTLS_PEER_DIR, KMOCKD, KMTLS_TOOL, lib.sh's.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hardening-lib.sh"

start_peer
O=$WORK/out; mkdir -p "$O"
P12=$VOL/client-p12 JKS=$VOL/client-jks
pw_p12=$(<"$P12/client-p12_creds") pw_jks=$(<"$JKS/client-jks_creds")
FIXED_PW=kmtls-fixed-$(openssl rand -hex 12); printf '%s\n' "$FIXED_PW" >"$WORK/fixed.pw"
WRONG_PW=kmtls-wrong-$(openssl rand -hex 12)
V3=$BOX/issued; mkdir -p -m 700 "$V3" "$BOX/issued2"
run() {  # run NAME CMD...: output to $O/NAME; the exit status kept in $O/NAME.rc
  local name=$1; shift
  (cd "$BOX/cwd" && TMPDIR=$BOX/tmp timeout -k 5 60 "$@") >"$O/$name" 2>&1
  echo $? >"$O/$name.rc"
}
rc_of() { cat "$O/$1.rc"; }
JAVA=(-X "ssl.keystore.location=$JKS/client-jks.keystore.jks" -X "ssl.keystore.password=$pw_jks"
      -X "ssl.key.password=$pw_jks" -X "ssl.truststore.location=$JKS/client-jks.truststore.jks"
      -X "ssl.truststore.password=$pw_jks" -X ssl.endpoint.identification.algorithm=)

# ---- 1. the clients, as chatty as they get
export KAFKA_MTLS_DEBUG=1
run kcat-L-p12 kcat "${PLUG[@]}" -X "mtls.volume=$P12" -X debug=all -b "$B" -L -m 10
run kcat-P-java kcat "${PLUG[@]}" "${JAVA[@]}" -X debug=all -b "$B" -P -t t-secrets -p 0 <<<"hello"
run kcat-C-java kcat "${PLUG[@]}" "${JAVA[@]}" -X debug=all -b "$B" -C -t t-secrets -o beginning -e
run kcat-dump-java kcat "${PLUG[@]}" "${JAVA[@]}" -X "mtls.ca.key.password=$CA_PW" -b "$B" -X dump
run kcat-issue kcat "${PLUG[@]}" -X "mtls.volume=$V3" -X "mtls.ca.location=$CAF/ca.crt" \
  -X "mtls.ca.key.location=$CAF/ca.key" -X "mtls.ca.key.password=$CA_PW" \
  -X "mtls.keystore.password.file=$WORK/fixed.pw" -X debug=all -b "$B" -L -m 10
run kcat-issue-file kcat "${PLUG[@]}" -X "mtls.volume=$BOX/issued2" "${CA[@]}" -X debug=all -b "$B" -L -m 10 \
  -X mtls.wait.ms=0
run kcat-wrong kcat "${PLUG[@]}" -X "ssl.keystore.location=$P12/client-p12.keystore.jks" \
  -X "ssl.keystore.password=$WRONG_PW" -X debug=all -b "$B" -L -m 5
run kcat-cm kcat "${PLUG[@]}" -X "mtls.volume=$VOL/cm" -X debug=all -b "$B" -L -m 10
run kcat-chain kcat "${PLUG[@]}" -X "mtls.volume=$VOL/client-chain" -X debug=all -b "$B" -L -m 10
{ echo "plugin.library.paths=$KMTLS_PLUGIN"; echo "bootstrap.servers=$B"; echo "security.protocol=SSL"
  echo "ssl.keystore.location=$P12/client-p12.keystore.jks"; echo "ssl.keystore.password=$pw_p12"
  echo "ssl.key.password=$pw_p12"; echo "debug=all"; } >"$WORK/client.properties"
run kcat-F kcat -F "$WORK/client.properties" -X ssl.endpoint.identification.algorithm= -L -m 10

for r in kcat-L-p12 kcat-P-java kcat-C-java kcat-issue kcat-issue-file kcat-cm kcat-chain kcat-F; do
  (( $(rc_of "$r") == 0 )) || fail "$r: kcat failed (rc=$(rc_of "$r"))" "$(grep -v '^%7' "$O/$r" | tail -5)"
done
(( $(rc_of kcat-wrong) != 0 )) && grep -q 'wrong password' "$O/kcat-wrong" ||
  fail "kcat-wrong: expected a wrong-password failure" "$(tail -3 "$O/kcat-wrong")"
grep -q '^ssl.endpoint.identification.algorithm = ' "$O/kcat-dump-java" ||
  fail "kcat -X dump printed no configuration" "$(head -5 "$O/kcat-dump-java")"
grep -q 'kafka-mtls: issued a certificate for CN=issued' "$O/kcat-issue" ||
  fail "kcat-issue: no issuance" "$(grep -v '^%7' "$O/kcat-issue" | tail -5)"

# a librdkafka program that dumps its configuration before and after
# rd_kafka_new (the client's copy holds the plugin's ssl.key.pem)
cat >"$WORK/confdump.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <librdkafka/rdkafka.h>
static void dump(const char *tag, const rd_kafka_conf_t *c) {
    size_t n;
    const char **d = rd_kafka_conf_dump((rd_kafka_conf_t *)c, &n);
    for (size_t i = 0; i + 1 < n; i += 2)
        printf("%s %s = %s\n", tag, d[i], d[i + 1]);
    rd_kafka_conf_dump_free(d, n);
}
int main(int argc, char **argv) {
    char err[2048];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    for (int i = 1; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (eq == NULL) return 2;
        *eq = '\0';
        if (rd_kafka_conf_set(conf, argv[i], eq + 1, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
            fprintf(stderr, "%s: %s\n", argv[i], err);
            return 1;
        }
    }
    dump("app", conf);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (rk == NULL) { fprintf(stderr, "Failed to create producer: %s\n", err); return 1; }
    dump("client", rd_kafka_conf(rk));
    const struct rd_kafka_metadata *md;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 1, NULL, &md, 10000);
    printf("metadata: %s\n", rd_kafka_err2str(e));
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
    return e == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : 3;
}
C
# shellcheck disable=SC2046
if env -u LD_PRELOAD ${CC:-cc} -o "$WORK/confdump" "$WORK/confdump.c" $(pkg-config --cflags --libs rdkafka) \
     >"$WORK/cc.out" 2>&1; then
  run dump-p12 "$WORK/confdump" "plugin.library.paths=$KMTLS_PLUGIN" "mtls.volume=$P12" debug=all \
    "bootstrap.servers=$B"
  run dump-java "$WORK/confdump" "plugin.library.paths=$KMTLS_PLUGIN" \
    "ssl.keystore.location=$JKS/client-jks.keystore.jks" "ssl.keystore.password=$pw_jks" \
    "ssl.key.password=$pw_jks" "ssl.truststore.location=$JKS/client-jks.truststore.jks" \
    "ssl.truststore.password=$pw_jks" ssl.endpoint.identification.algorithm= debug=all "bootstrap.servers=$B"
  run dump-issued "$WORK/confdump" "plugin.library.paths=$KMTLS_PLUGIN" "mtls.volume=$V3" \
    "mtls.ca.location=$CAF/ca.crt" "mtls.ca.key.location=$CAF/ca.key" "mtls.ca.key.password=$CA_PW" \
    debug=all "bootstrap.servers=$B"
  for r in dump-p12 dump-java dump-issued; do
    if (( $(rc_of "$r") == 0 )) && grep -q '^client ssl.key.pem = ' "$O/$r" &&
       grep -q '^client ssl.certificate.pem = -----BEGIN CERTIFICATE-----' "$O/$r"; then
      ok "$r: the program connected; its client configuration carries the plugin's ssl.key.pem ($(grep -m1 -o '^client ssl.key.pem = .*' "$O/$r" | cut -c22-))"
    else fail "$r: the conf-dump program (rc=$(rc_of "$r"))" "$(grep -v '^%7' "$O/$r" | tail -5)"; fi
  done
else
  fail "cannot build the rd_kafka_conf_dump program" "$(cat "$WORK/cc.out")"
fi
if /usr/bin/python3 -c 'import confluent_kafka' 2>/dev/null; then
  run python /usr/bin/python3 - "$KMTLS_PLUGIN" "$P12" "$B" <<'PY'
import sys
from confluent_kafka import Producer
plugin, vol, b = sys.argv[1:]
p = Producer({'plugin.library.paths': plugin, 'mtls.volume': vol, 'bootstrap.servers': b, 'debug': 'all'})
md = p.list_topics(timeout=10)
print('brokers', len(md.brokers))
PY
  (( $(rc_of python) == 0 )) && grep -q '^brokers 3$' "$O/python" ||
    fail "confluent-kafka-python with the plugin (rc=$(rc_of python))" "$(grep -v '^%7' "$O/python" | tail -5)"
else
  fail "confluent-kafka-python is not installed for /usr/bin/python3 (tests/run.sh installs python3-confluent-kafka)"
fi

# ---- 2. the provider's trace and the command
run x509-trace openssl x509 "${PROV[@]}" -in "keystore:$P12" -noout -subject
run pkey-trace openssl pkey "${PROV[@]}" -in "keystore:$P12" -noout
run inspect-p12 "$TOOL" inspect "$P12"
run inspect-jks "$TOOL" inspect "$JKS/client-jks.keystore.jks" --password-file "$JKS/client-jks_creds"
run inspect-issued "$TOOL" inspect "$V3"
V4=$BOX/tool; mkdir -p -m 700 "$V4"
run issue-tool "$TOOL" issue "$V4" "${TOOL_CA[@]}" --password-file "$WORK/fixed.pw"
run issue-tool-force "$TOOL" issue "$V4" "${TOOL_CA[@]}" --force
unset KAFKA_MTLS_DEBUG
grep -q 'kafka-mtls' "$O/x509-trace" || fail "KAFKA_MTLS_DEBUG=1 traced nothing" "$(cat "$O/x509-trace")"
for r in inspect-p12 inspect-jks inspect-issued issue-tool issue-tool-force x509-trace pkey-trace; do
  (( $(rc_of "$r") == 0 )) || fail "$r (rc=$(rc_of "$r"))" "$(tail -5 "$O/$r")"
done

# ---- 3. the needles: passwords and private keys
printf '%s\n' "$pw_p12" "$pw_jks" "$FIXED_PW" "$WRONG_PW" "$CA_PW" "$(<"$BOX/issued2/issued2_creds")" \
  >"$WORK/passwords"
keys=()
key() {  # key NAME URI
  openssl pkey "${PROV[@]}" -in "$2" -out "$WORK/$1.key.pem" 2>"$WORK/$1.err" &&
    keys+=("$1=$WORK/$1.key.pem") || fail "cannot extract the private key of $1" "$(cat "$WORK/$1.err")"
}
key p12 "keystore:$P12"
key jks "keystore:$JKS/client-jks.keystore.jks?password-file=$JKS/client-jks_creds"
key cm "keystore:$VOL/cm"
key chain "keystore:$VOL/client-chain"
key issued "keystore:$V3"
key issued2 "keystore:$BOX/issued2"
key tool "keystore:$V4"
openssl pkey -in "$CAF/ca.key" -passin "file:$CAF/ca.pass" -out "$WORK/ca.key.pem" &&
  keys+=("ca=$WORK/ca.key.pem")

cat >"$WORK/needles.py" <<'PY'
# needles.py PASSWORDS NAME=KEY.pem... -- FILE...: which secrets occur in
# which files. KEY.pem: PKCS#8, unencrypted.
import base64, sys
def der(b, i):  # -> tag, content, next index
    tag, ln = b[i], b[i + 1]; i += 2
    if ln & 0x80:
        n = ln & 0x7f; ln = int.from_bytes(b[i:i + n], 'big'); i += n
    return tag, b[i:i + ln], i + ln
def seq(b):
    out, i = [], 0
    while i < len(b):
        t, c, i = der(b, i); out.append((t, c))
    return out
def private_numbers(pkcs8):
    _, body, _ = der(pkcs8, 0)
    items = seq(body)                  # version, algorithm, privateKey OCTET STRING
    inner = items[2][1]
    if inner[:1] == b'\x04':           # Ed25519: CurvePrivateKey OCTET STRING
        return [der(inner, 0)[1]]
    if inner[:1] != b'\x30':
        return [inner]
    fields = seq(der(inner, 0)[1])
    if len(fields) >= 9:               # RSAPrivateKey: d, p, q, dp, dq, qinv
        return [c.lstrip(b'\0') for t, c in fields[3:9]]
    return [fields[1][1]]              # ECPrivateKey: privateKey
args = sys.argv[1:]; sep = args.index('--')
pwfile, keyspecs, files = args[0], args[1:sep], args[sep + 1:]
needles = []                           # (label, bytes)
for pw in open(pwfile, 'rb').read().split(b'\n'):
    if pw:
        needles.append(('password %s...' % pw[:6].decode(), pw))
for spec in keyspecs:
    name, path = spec.split('=', 1)
    pem = open(path, 'rb').read().split(b'-----')[2]
    d = base64.b64decode(b''.join(pem.split()))
    inner = seq(der(d, 0)[1])[2][1]    # the traditional form (PKCS#1, SEC1)
    secret = private_numbers(d)
    for form, blob in (('PKCS#8', d), ('traditional', inner)):
        b64 = base64.b64encode(blob)
        needles.append(('%s key: base64 %s DER' % (name, form), b64))
        # where the private numbers lie in blob: a PEM line that holds none
        # of their bytes is public (an RSA key's first lines are its modulus,
        # which the CA certificate in ssl.ca.pem carries too, and at the same
        # base64 alignment whenever the certificate's header length allows)
        spans = [(at, at + len(num)) for num in secret for at in (blob.find(num),) if at >= 0]
        for j in range(0, len(b64), 64):   # the PEM body lines: 48 bytes each
            line, lo, hi = b64[j:j + 64], j // 64 * 48, j // 64 * 48 + 48
            if len(line) >= 40 and any(a < hi and lo < b for a, b in spans):
                needles.append(('%s key: %s PEM line %d' % (name, form, j // 64 + 1), line))
    for k, num in enumerate(secret):
        for off in range(0, max(1, len(num) - 15), 8):
            w = num[off:off + 16]
            if len(w) < 16:
                continue
            lab = '%s key: private number %d @%d' % (name, k, off)
            needles += [(lab + ' raw', w), (lab + ' hex', w.hex().encode()),
                        (lab + ' HEX', w.hex().upper().encode()),
                        (lab + ' colon hex', ':'.join('%02x' % x for x in w[:12]).encode()),
                        (lab + ' base64', base64.b64encode(w)[:20])]
hits = 0
for f in files:
    data = open(f, 'rb').read()
    flat = data.replace(b'\n', b'').replace(b' ', b'')   # openssl wraps colon hex
    for lab, n in needles:
        if n in data or (b':' in n and n in flat):
            print('%s: %s' % (f, lab)); hits += 1
print('# %d needles, %d files, %d hits' % (len(needles), len(files), hits), file=sys.stderr)
sys.exit(1 if hits else 0)
PY
# the positive control: each kind of needle is found where it is
openssl pkey -in "$WORK/p12.key.pem" -traditional -out "$WORK/control.pem"
openssl pkey -in "$WORK/p12.key.pem" -noout -text >"$WORK/control.txt"
printf 'configuration: ssl.keystore.password = %s\n' "$pw_p12" >"$WORK/control.pw"
openssl pkey -in "$WORK/issued.key.pem" -outform DER -out "$WORK/control.der"
miss=""
for c in control.pem control.txt control.pw control.der; do
  python3 "$WORK/needles.py" "$WORK/passwords" "${keys[@]}" -- "$WORK/$c" >/dev/null 2>&1 && miss+=" $c"
done
[[ -z $miss ]] && ok "positive control: the search finds a PEM key, openssl's -text dump, a password, a DER key" ||
  fail "positive control: nothing found in$miss"

files=("$O"/* "$WORK"/peer/*.log "$WORK"/peer/*.out)
mapfile -t files < <(printf '%s\n' "${files[@]}" | grep -v '\.rc$')
out=$(python3 "$WORK/needles.py" "$WORK/passwords" "${keys[@]}" -- "${files[@]}" 2>&1); rc=$?
lines=$(cat "${files[@]}" | wc -l)
if (( rc == 0 )); then
  ok "no password and no private key bytes in $lines lines of output and peer logs ($(tail -n 1 <<<"$out" | sed 's/^# //'))"
else fail "secrets found in the output" "$(sed "s|$WORK/||" <<<"$out" | head -20)"; fi
grep -q 'ssl.key.pem = (REDACTED)\|ssl.key.pem = \[redacted\]' "$O"/dump-* 2>/dev/null &&
  ok "rd_kafka_conf_dump shows the plugin's ssl.key.pem redacted" || true
echo "# total $(ms_since "$T0") ms"
