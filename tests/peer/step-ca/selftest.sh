#!/bin/bash
# step-ca/selftest.sh - proves, with curl + openssl only (python3 for JSON),
# every API fact that tests/peer/README.md states for step-ca-peer.sh:
# enrolment (token + CSR), least privilege (refused CSRs, single-use tokens),
# the subject's DER order, short lifetimes, renewal and rekey by mutual TLS,
# and what an expired or foreign client certificate gets.
#   tests/peer/step-ca/selftest.sh        last line: "<N> passed, <M> failed"
# Environment: SELFTEST_KEEP=1 keeps the work dir (always kept on failure);
# PEER_CACHE etc. as for step-ca-peer.sh.  Takes ~15 s once step-ca is built
# (4 s of it waiting for a 2-second certificate to expire).
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
PEER=$HERE/../step-ca-peer.sh
CN='Callisto kafka-producer'
WANT_RFC2253="C=GB,O=UK Home Office,CN=$CN"
WANT_ONELINE="CN = $CN, O = UK Home Office, C = GB"
for t in openssl curl python3; do
  command -v "$t" >/dev/null || { echo "selftest: needs $t" >&2; exit 1; }
done

W=$(mktemp -d "${TMPDIR:-/tmp}/step-ca-selftest.XXXXXX")
pass=0 fail=0 DIR=
cleanup() {
  [[ -n $DIR ]] && "$PEER" stop "$DIR" >/dev/null 2>&1
  if (( fail == 0 )) && [[ ${SELFTEST_KEEP:-0} != 1 ]]; then rm -rf "$W"; else echo "work dir kept: $W" >&2; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
ok() { echo "ok   - $1"; pass=$((pass + 1)); }
no() { echo "FAIL - $1${2:+: $2}"; fail=$((fail + 1)); }
check() { local n=$1; shift; if "$@"; then ok "$n"; else no "$n"; fi; }

cd "$W" || exit 1
"$PEER" init "$W/pki" >/dev/null || { no "init"; echo "$pass passed, $fail failed"; exit 1; }
ok "init makes root.crt/root.key/int.crt/int.key"
PORT=$("$PEER" pick-ports 1)
export PEER_DIR=$W/run
OUT=$("$PEER" start "$W/pki" "$PORT") || { no "start" "exit $?"; echo "$pass passed, $fail failed"; exit 1; }
DIR=$(sed -n 's/^DIR //p' <<<"$OUT") URL=$(sed -n 's/^URL //p' <<<"$OUT") ROOT=$(sed -n 's/^ROOT //p' <<<"$OUT")
PID=$(sed -n 's/^PIDS //p' <<<"$OUT")
ok "start ($(sed -n 's/^STARTED_MS //p' <<<"$OUT") ms)"
INT=$W/pki/int.crt
C=(curl -sS --max-time 10 --cacert "$ROOT")

# --- 1. the service itself -------------------------------------------------
check "GET /health verified with ROOT is {\"status\":\"ok\"}" \
  test "$("${C[@]}" "$URL/health")" = '{"status":"ok"}'
check "listens on 127.0.0.1:$PORT only" \
  test "$(ss -Hltnp | grep -c "pid=$PID,")" = 1 -a -n "$(ss -Hltnp "src 127.0.0.1:$PORT" | grep "pid=$PID,")"
openssl s_client -connect "127.0.0.1:$PORT" -CAfile "$ROOT" -verify_return_error -showcerts </dev/null \
  >srv.txt 2>&1
check "server certificate verifies with ROOT" grep -q 'Verify return code: 0 (ok)' srv.txt
openssl x509 -in srv.txt -noout -ext subjectAltName -issuer >srv.info 2>/dev/null
check "server certificate: SAN IP:127.0.0.1, issued by the intermediate" \
  test "$(grep -c 'IP Address:127.0.0.1' srv.info)" = 1 -a \
       "$(sed -n 's/^issuer=//p' srv.info)" = "$(openssl x509 -in "$INT" -noout -subject | sed 's/^subject=//')"

# --- helpers ----------------------------------------------------------------
mkcsr() {  # mkcsr NAME SUBJ [ADDEXT] [KEYSPEC...]
  local n=$1 s=$2 e=${3:-}; shift 3 2>/dev/null || shift $#
  local k=(-newkey ec -pkeyopt ec_paramgen_curve:P-256); (( $# )) && k=("$@")
  openssl req -new "${k[@]}" -nodes -keyout "$n.key" -out "$n.csr" -subj "$s" \
    ${e:+-addext "$e"} 2>/dev/null
}
# post PATH BODY_JSON_FILE OUT [CURL_ARGS...]: prints the HTTP status
post() {
  local path=$1 body=$2 out=$3; shift 3
  "${C[@]}" "$@" -o "$out" -w '%{http_code}' -H 'Content-Type: application/json' \
    ${body:+--data @"$body"} -X POST "$URL$path"
}
signreq() {  # signreq CSR TOKEN [NOTAFTER] > body.json
  python3 -c 'import json,sys
d={"csr": open(sys.argv[1]).read(), "ott": sys.argv[2]}
if len(sys.argv) > 3: d["notAfter"] = sys.argv[3]
print(json.dumps(d))' "$@"
}
# split RESPONSE PREFIX: PREFIX.crt (crt), PREFIX.chain (certChain, joined),
# PREFIX.ca (ca); checks the shape {crt, ca, certChain:[crt, ca]}
split() {
  python3 - "$@" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); p = sys.argv[2]
assert {"crt", "ca", "certChain"} <= set(r), r.keys()
assert r["certChain"][0] == r["crt"] and r["certChain"][1] == r["ca"] and len(r["certChain"]) == 2
open(p + ".crt", "w").write(r["crt"]); open(p + ".ca", "w").write(r["ca"])
open(p + ".chain", "w").write("".join(r["certChain"]))
PY
}
subj() { openssl x509 -in "$1" -noout -subject -nameopt "$2" | sed 's/^subject=//'; }
rawsubj() {  # the subject's DER, hex: tbsCertificate field 6 (5 without a version)
  python3 - "$1" <<'PY'
import base64, sys
b = base64.b64decode("".join(l for l in open(sys.argv[1]).read().split("-----")[2].split()))
def tlv(i):
    l = b[i + 1]; j = i + 2
    if l & 0x80: n = l & 0x7f; l = int.from_bytes(b[j:j + n], "big"); j += n
    return j, l
j, _ = tlv(0); j, _ = tlv(j); f = []
while len(f) < 6:
    s, l = tlv(j); f.append(b[j:s + l]); j = s + l
print((f[5] if f[0][0] == 0xa0 else f[4]).hex())
PY
}
status_is() { [[ $1 == "$2" ]] || { echo "     got HTTP $1, want $2: $(head -c 300 "${3:-/dev/null}" 2>/dev/null)"; return 1; }; }
body_has() { grep -qF -- "$2" "$1" || { echo "     body: $(head -c 300 "$1")"; return 1; }; }

# --- 2. enrolment: token + CSR -> certificate for exactly the token's identity
mkcsr e "/CN=$CN"
T=$("$PEER" token "$DIR" "$CN")
signreq e.csr "$T" >e.json
s=$(post /1.0/sign e.json e.out)
check "POST /1.0/sign {csr, ott} -> 201" status_is "$s" 201 e.out
check "response {crt, ca, certChain:[crt, ca]}" split e.out e
check "ca is the intermediate" cmp -s <(openssl x509 -in e.ca -outform DER) <(openssl x509 -in "$INT" -outform DER)
# shellcheck disable=SC2016
check "leaf verifies: ROOT + certChain" bash -c 'openssl verify -CAfile "$1" -untrusted "$2" "$3" >/dev/null' _ "$ROOT" e.chain e.crt
check "subject (RFC 2253) is $WANT_RFC2253" test "$(subj e.crt RFC2253)" = "$WANT_RFC2253"
check "subject DER order is CN, O, C" test "$(subj e.crt oneline)" = "$WANT_ONELINE"
if command -v keytool >/dev/null; then
  keytool -genkeypair -alias a -keyalg EC -groupname secp256r1 -dname "C=GB, O=UK Home Office, CN=$CN" \
    -keystore kt.p12 -storetype PKCS12 -storepass changeit -validity 1 >/dev/null 2>&1 &&
    keytool -exportcert -rfc -alias a -keystore kt.p12 -storepass changeit >kt.crt 2>/dev/null
  check "subject DER is byte-identical to keytool -dname \"C=GB, O=UK Home Office, CN=...\"" \
    test "$(rawsubj e.crt)" = "$(rawsubj kt.crt)"
fi
ext=$(openssl x509 -in e.crt -noout -ext keyUsage,extendedKeyUsage,subjectAltName 2>/dev/null)
check "EC key: keyUsage digitalSignature only, EKU clientAuth only, no SANs" \
  test "$(tr -d ' \n' <<<"$ext")" = "X509v3KeyUsage:criticalDigitalSignatureX509v3ExtendedKeyUsage:TLSWebClientAuthentication"
check "default lifetime 24h (+1m backdate)" \
  test $(( $(date -d "$(openssl x509 -in e.crt -noout -enddate | cut -d= -f2)" +%s) - $(date -d "$(openssl x509 -in e.crt -noout -startdate | cut -d= -f2)" +%s) )) = 86460

s=$(post /1.0/sign e.json replay.out)
check "the same token again -> 401 (single use)" status_is "$s" 401 replay.out
grep -q 'token already used' "$DIR/step-ca.log"; check "log says: token already used" test $? = 0

mkcsr o "/CN=Callisto kafka-admin"; signreq o.csr "$("$PEER" token "$DIR" "$CN")" >o.json
s=$(post /1.0/sign o.json o.out)
check "CSR for another CN -> 403" status_is "$s" 403 o.out
check "  body names the CN" body_has o.out 'certificate request does not contain the valid common name - got Callisto kafka-admin'
mkcsr n "/O=UK Home Office"; signreq n.csr "$("$PEER" token "$DIR" "$CN")" >n.json
s=$(post /1.0/sign n.json n.out)
check "CSR without CN -> 400 (template)" status_is "$s" 400 n.out
check "  body" body_has n.out "the CSR's common name \\\"\\\" is not the token's subject"
mkcsr d "/CN=$CN" "subjectAltName=DNS:evil.example"; signreq d.csr "$("$PEER" token "$DIR" "$CN")" >d.json
s=$(post /1.0/sign d.json d.out)
check "CSR with a DNS SAN the token lacks -> 403" status_is "$s" 403 d.out
mkcsr i "/CN=$CN" "subjectAltName=IP:10.1.2.3"; signreq i.csr "$("$PEER" token "$DIR" "$CN")" >i.json
s=$(post /1.0/sign i.json i.out)
check "CSR with an IP SAN the token lacks -> 403" status_is "$s" 403 i.out
check "  body" body_has i.out 'certificate request does not contain the valid IP addresses - got [10.1.2.3], want []'
T=$("$PEER" token "$DIR" "$CN"); signreq d.csr "$T" >d2.json; post /1.0/sign d2.json /dev/null >/dev/null
signreq e.csr "$T" >d3.json; s=$(post /1.0/sign d3.json d3.out)
check "a token spent on a refused CSR is used up -> 401" status_is "$s" 401 d3.out

mkcsr s "/CN=$CN" "subjectAltName=DNS:producer.callisto.example"
signreq s.csr "$("$PEER" token "$DIR" "$CN" producer.callisto.example spiffe://callisto/kafka-producer)" >s.json
s=$(post /1.0/sign s.json s.out)
check "token with SANs: CSR with a subset -> 201" status_is "$s" 201 s.out
split s.out s
check "  certificate has exactly the token's SANs" test "$(openssl x509 -in s.crt -noout -ext subjectAltName | tail -n1 | tr -d ' ')" = \
  "DNS:producer.callisto.example,URI:spiffe://callisto/kafka-producer"
mkcsr sa "/CN=producer.callisto.example"
signreq sa.csr "$("$PEER" token "$DIR" "$CN" producer.callisto.example)" >sa.json
s=$(post /1.0/sign sa.json sa.out)
check "token with SANs: CSR whose CN is a SAN, not the subject -> 400" status_is "$s" 400 sa.out

mkcsr r "/CN=$CN" "" -newkey rsa:2048
signreq r.csr "$("$PEER" token "$DIR" "$CN")" >r.json
s=$(post /1.0/sign r.json r.out); split r.out r
check "RSA key -> 201, keyUsage digitalSignature + keyEncipherment" \
  test "$s" = 201 -a -n "$(openssl x509 -in r.crt -noout -ext keyUsage | grep 'Digital Signature, Key Encipherment')"

# --- 3. short lifetimes ------------------------------------------------------
signreq e.csr "$("$PEER" token "$DIR" "$CN")" 2m >m.json
s=$(post /1.0/sign m.json m.out); split m.out m
nb=$(date -d "$(openssl x509 -in m.crt -noout -startdate | cut -d= -f2)" +%s)
na=$(date -d "$(openssl x509 -in m.crt -noout -enddate | cut -d= -f2)" +%s)
check "notAfter \"2m\" -> 201, notAfter = now + 2m (notBefore backdated 1m)" \
  test "$s" = 201 -a $((na - nb)) = 180 -a $((na - $(date +%s))) -le 121 -a $((na - $(date +%s))) -ge 100
signreq e.csr "$("$PEER" token "$DIR" "$CN")" 2161h >x.json
s=$(post /1.0/sign x.json x.out)
check "notAfter above maxTLSCertDuration -> 403" status_is "$s" 403 x.out
check "  body" body_has x.out 'is more than the authorized maximum certificate duration'

# --- 4. renewal and rekey by mutual TLS ------------------------------------
s=$(post /1.0/renew "" rn.out --cert s.chain --key s.key)
check "POST /1.0/renew, mTLS with the current cert, no body -> 201" status_is "$s" 201 rn.out
split rn.out rn
check "  same subject DER, SANs, public key; new serial" test \
  "$(rawsubj rn.crt) $(openssl x509 -in rn.crt -noout -ext subjectAltName | tail -n1) $(openssl x509 -in rn.crt -noout -pubkey | sha256sum)" = \
  "$(rawsubj s.crt) $(openssl x509 -in s.crt -noout -ext subjectAltName | tail -n1) $(openssl x509 -in s.crt -noout -pubkey | sha256sum)" -a \
  "$(openssl x509 -in rn.crt -noout -serial)" != "$(openssl x509 -in s.crt -noout -serial)"
s=$(post /1.0/renew "" rl.out --cert e.crt --key e.key)
check "renew with the leaf alone (no intermediate sent) -> 201" status_is "$s" 201 rl.out
mkcsr nk "/CN=ignored by rekey"
python3 -c 'import json,sys; print(json.dumps({"csr": open(sys.argv[1]).read()}))' nk.csr >rk.json
s=$(post /1.0/rekey rk.json rk.out --cert rn.chain --key s.key)
check "POST /1.0/rekey {csr}, mTLS with the current cert -> 201" status_is "$s" 201 rk.out
split rk.out rk
check "  new public key = the CSR's; subject DER and SANs kept" test \
  "$(openssl x509 -in rk.crt -noout -pubkey | sha256sum) $(rawsubj rk.crt) $(openssl x509 -in rk.crt -noout -ext subjectAltName | tail -n1)" = \
  "$(openssl pkey -in nk.key -pubout | sha256sum) $(rawsubj s.crt) $(openssl x509 -in s.crt -noout -ext subjectAltName | tail -n1)"
s=$(post /1.0/renew "" nc.out)
check "renew without a client certificate -> 400 missing client certificate" \
  test "$s" = 400 -a "$(cat nc.out)" = '{"status":400,"message":"The request could not be completed: missing client certificate."}'
s=$(post /1.0/rekey rk.json nc2.out)
check "rekey without a client certificate -> 400" status_is "$s" 400 nc2.out
echo '{}' >empty.json; s=$(post /1.0/rekey empty.json mc.out --cert rk.crt --key nk.key)
check "rekey without csr -> 400 missing csr" body_has mc.out '"message":"The request could not be completed: missing csr."'
openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout f.key -out f.crt -days 1 \
  -subj "/CN=$CN" -addext extendedKeyUsage=clientAuth 2>/dev/null
tls_alert() {  # tls_alert CERT KEY: the alert the server sends (TLS 1.2 and 1.3)
  printf 'POST /1.0/renew HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n' |
    openssl s_client -quiet -connect "127.0.0.1:$PORT" -CAfile "$ROOT" -cert "$1" -key "$2" 2>&1 |
    grep -o 'alert [a-z ]*' | head -n1
}
check "foreign client certificate -> TLS alert unknown ca (48)" test "$(tls_alert f.crt f.key)" = "alert unknown ca"
signreq e.csr "$("$PEER" token "$DIR" "$CN")" 2s >x2.json
s=$(post /1.0/sign x2.json x2.out); split x2.out x2
sleep $(( $(date -d "$(openssl x509 -in x2.crt -noout -enddate | cut -d= -f2)" +%s) - $(date +%s) + 2 ))
check "expired client certificate -> TLS alert certificate expired (45)" \
  test "$(tls_alert x2.crt e.key)" = "alert certificate expired"

# --- 5. the peer's own process handling ------------------------------------
# shellcheck disable=SC2016  # expanded by the inner bash
check "start on a busy port -> exit 3" bash -c '"$1" start "$2" "$3" >/dev/null 2>&1; test $? = 3' _ "$PEER" "$W/pki" "$PORT"
"$PEER" stop "$DIR" >/dev/null; DIR=
# shellcheck disable=SC2016  # expanded by the inner bash
check "stop: step-ca gone (or a zombie), port free" bash -c '! kill -0 "$1" 2>/dev/null || grep -q "^State:.*Z" /proc/$1/status; test -z "$(ss -Hltn "sport = :$2")"' _ "$PID" "$PORT"

echo "$pass passed, $fail failed"
(( fail == 0 ))
