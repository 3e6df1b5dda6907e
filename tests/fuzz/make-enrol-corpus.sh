#!/bin/bash
# tests/fuzz/make-enrol-corpus.sh OUTDIR - seed corpus for fuzz_enrol_response
# in OUTDIR/enrol_response/, made now (nothing is committed):
#   - openssl-made chains in step-ca's response shape {"crt","ca","certChain",
#     "tlsOptions"}: EC and RSA leaves (subject CN, O, C in that DER order,
#     EKU clientAuth), a chain of three, no "ca", the root included;
#   - answers of a real step-ca (tests/peer/step-ca-peer.sh) when it can be
#     built: 201 to sign (EC, RSA, with SANs) and rekey, and the error
#     bodies of 400, 401 and 403;
#   - step-ca-shaped error bodies and a few malformed ones.
# Needs openssl, python3 (curl and step-ca for the real answers: optional).
# The keys made here are deleted at the end; only bodies are kept.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$(realpath -m "${1:?usage: make-enrol-corpus.sh OUTDIR}")/enrol_response
mkdir -p "$out"
w=$(mktemp -d "${TMPDIR:-/tmp}/enrol-corpus.XXXXXX")
step_dir=
cleanup() {
  [[ -n $step_dir ]] && "$here/../peer/step-ca-peer.sh" stop "$step_dir" >/dev/null 2>&1
  rm -rf "$w"
}
trap cleanup EXIT
cd "$w"

ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
ec root.key; ec int.key; ec int2.key; ec leaf.key
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.key 2>/dev/null
openssl req -x509 -new -key root.key -out root.crt -days 2 -subj "/O=fuzz/CN=fuzz root" \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
ca_ext() { printf '%s\n' 'basicConstraints=critical,CA:TRUE' 'keyUsage=critical,keyCertSign,cRLSign' \
  'subjectKeyIdentifier=hash' 'authorityKeyIdentifier=keyid:always'; }
leaf_ext() { printf '%s\n' 'basicConstraints=CA:FALSE' 'keyUsage=critical,digitalSignature' \
  'extendedKeyUsage=clientAuth' 'subjectKeyIdentifier=hash' 'authorityKeyIdentifier=keyid:always' "$@"; }
sign() {  # sign KEY SUBJ ISSUER_CRT ISSUER_KEY EXTFILE OUT
  openssl req -new -key "$1" -subj "$2" -out "$6.csr" 2>/dev/null
  openssl x509 -req -in "$6.csr" -CA "$3" -CAkey "$4" -set_serial "0x$(openssl rand -hex 16)" \
    -days 1 -extfile "$5" -out "$6" 2>/dev/null
}
ca_ext >ca.ext; leaf_ext >leaf.ext; leaf_ext 'subjectAltName=DNS:producer.callisto.example' >san.ext
sign int.key "/O=fuzz/CN=fuzz intermediate" root.crt root.key ca.ext int.crt
sign int2.key "/O=fuzz/CN=fuzz intermediate 2" int.crt int.key ca.ext int2.crt
# -subj order is the DER order: CN first, as step-ca's template makes it.
sign leaf.key "/CN=Callisto kafka-producer/O=UK Home Office/C=GB" int.crt int.key leaf.ext leaf.crt
sign rsa.key "/CN=Callisto kafka-producer/O=UK Home Office/C=GB" int.crt int.key leaf.ext rsa.crt
sign leaf.key "/CN=Callisto kafka-producer/O=UK Home Office/C=GB" int.crt int.key san.ext san.crt
sign leaf.key "/CN=Callisto kafka-producer/O=UK Home Office/C=GB" int2.crt int2.key leaf.ext deep.crt

python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
pem = lambda f: open(f).read()
tls = {"cipherSuites": ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"], "minVersion": 1.2,
       "maxVersion": 1.3, "renegotiation": False}
def resp(name, crt, chain, ca=True):
    d = {"crt": pem(crt)}
    if ca and len(chain) > 1:
        d["ca"] = pem(chain[1])
    d["certChain"] = [pem(c) for c in chain]
    d["tlsOptions"] = tls
    open(f"{out}/{name}", "w").write(json.dumps(d) + "\n")
resp("ec", "leaf.crt", ["leaf.crt", "int.crt"])
resp("rsa", "rsa.crt", ["rsa.crt", "int.crt"])
resp("san", "san.crt", ["san.crt", "int.crt"])
resp("deep", "deep.crt", ["deep.crt", "int2.crt", "int.crt"])
resp("with-root", "leaf.crt", ["leaf.crt", "int.crt", "root.crt"])
resp("no-ca", "leaf.crt", ["leaf.crt", "int.crt"], ca=False)
resp("leaf-only", "leaf.crt", ["leaf.crt"])
resp("reversed", "int.crt", ["int.crt", "leaf.crt"])
errors = {
  "err-401": (401, "The request lacked necessary authorization to be completed. Please see the certificate authority logs for more info."),
  "err-403": (403, "The request was forbidden by the certificate authority: certificate request does not contain the valid common name - got Callisto kafka-consumer, want [Callisto kafka-producer Callisto kafka-producer]."),
  "err-400": (400, "The request could not be completed: missing csr."),
  "err-echo": (403, "token eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJDYWxsaXN0byJ9.c2lnbmF0dXJl is not for this CA."),
}
for name, (status, message) in errors.items():
    open(f"{out}/{name}", "w").write(json.dumps({"status": status, "message": message}) + "\n")
for name, text in {"empty": "", "html": "<html><body>502 Bad Gateway</body></html>",
                   "array": "[]", "nested": "[" * 40 + "]" * 40,
                   "unicode": '{"message": "\\u00e9\\u0000x\\ud83d\\ude00"}'}.items():
    open(f"{out}/{name}", "w").write(text)
PY

# Real step-ca answers, when step-ca can be built (it is cached after once).
peer=$here/../peer/step-ca-peer.sh
if command -v curl >/dev/null && "$peer" fetch >/dev/null 2>&1; then
  "$peer" init pki >/dev/null
  port=$("$peer" pick-ports 1)
  if o=$(PEER_DIR=$w/step "$peer" start pki "$port" 2>/dev/null); then
    step_dir=$(sed -n 's/^DIR //p' <<<"$o")
    url="https://127.0.0.1:$port"
    c=(curl -sS --max-time 10 --cacert pki/root.crt -H 'Content-Type: application/json')
    body() { python3 -c 'import json,sys; d={"csr": open(sys.argv[1]).read()}
if len(sys.argv) > 2: d["ott"] = sys.argv[2]
print(json.dumps(d))' "$@"; }
    openssl req -new -key leaf.key -subj "/CN=Callisto kafka-producer" -out p.csr 2>/dev/null
    openssl req -new -key rsa.key -subj "/CN=Callisto kafka-producer" -out r.csr 2>/dev/null
    openssl req -new -key int2.key -subj "/CN=Callisto kafka-consumer" -out o.csr 2>/dev/null
    tok() { "$peer" token "$step_dir" "Callisto kafka-producer" "$@"; }
    t=$(tok); body p.csr "$t" >s.json
    "${c[@]}" --data @s.json "$url/1.0/sign" >"$out/step-sign-ec"
    "${c[@]}" --data @s.json "$url/1.0/sign" >"$out/step-err-401"
    body r.csr "$(tok)" | "${c[@]}" --data @- "$url/1.0/sign" >"$out/step-sign-rsa"
    body p.csr "$(tok producer.callisto.example)" | "${c[@]}" --data @- "$url/1.0/sign" >"$out/step-sign-san"
    body o.csr "$(tok)" | "${c[@]}" --data @- "$url/1.0/sign" >"$out/step-err-403"
    echo '{}' | "${c[@]}" --data @- "$url/1.0/sign" >"$out/step-err-400"
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); open("cur.crt","w").write(r["crt"])' "$out/step-sign-ec"
    body o.csr | "${c[@]}" --cert cur.crt --key leaf.key --data @- "$url/1.0/rekey" >"$out/step-rekey"
  fi
fi
echo "make-enrol-corpus.sh: $(find "$out" -type f | wc -l) seeds in $out"
