# shellcheck shell=bash
# The CA service of the seed's world (sourced by the scenarios that enrol,
# after lib.sh): smallstep step-ca (tests/peer/step-ca-peer.sh) on the PKI
# world.sh made (WORLD_STEP_PKI: root.crt = the fixtures' root, which the
# broker trusts and whose certificate it has; int.crt, int.key: the
# service's own intermediate under it).
# Clients get only STEP_ROOT (the root certificate) and a one-time token.
#
#   start_step_ca [ENV...]  start one for this scenario (ENV: PEER_* of
#                           step-ca-peer.sh, e.g. PEER_CERT_MIN=1m); sets
#                           STEP_URL, STEP_ROOT, STEP_DIR, STEP_LOG; stopped
#                           by the scenario's EXIT trap. Exits 77 when the
#                           world has no CA service (step-ca could not be
#                           built) or the build no enrolment (KMTLS_ENROL=0)
#   step_token FILE SUBJECT_CN [SAN...]  a one-time token into FILE (0600)
#   step_log_count ERE      lines of step-ca's log (one per request) since
#                           step_mark that match ERE
#   enrol_props             the mtls.enrol.* lines of a client's properties
STEP_PEER=${WORLD_STEP_PEER:-$KMTLS_PEER_DIR/step-ca-peer.sh}
ENROL=()

start_step_ca() {
  local out rc=1 port
  [[ ${KMTLS_ENROL:-1} == 1 ]] || { skip_case "this build has no enrolment (-Denrol, libcurl, json-c)"; exit 77; }
  [[ -n ${WORLD_STEP_PKI:-} && -r $WORLD_STEP_PKI/int.key ]] ||
    { skip_case "no CA service in this world (step-ca could not be built: see world.sh's output)"; exit 77; }
  STEP_DIR=$WORK/step-ca
  CLEANUP+=("env -u LD_PRELOAD '$STEP_PEER' stop '$STEP_DIR'")
  for _ in 1 2 3; do
    port=$(env -u LD_PRELOAD "$STEP_PEER" pick-ports 1)
    out=$(env -u LD_PRELOAD "$@" PEER_DIR="$STEP_DIR" "$STEP_PEER" start "$WORLD_STEP_PKI" "$port" 2>&1) && rc=0 || rc=$?
    (( rc == 3 )) || break   # a port taken meanwhile: pick another
  done
  if (( rc != 0 )); then fail "step-ca start (rc=$rc)" "$out"; exit 1; fi
  STEP_URL=$(sed -n 's/^URL //p' <<<"$out")
  STEP_ROOT=$(sed -n 's/^ROOT //p' <<<"$out")
  STEP_LOG=$STEP_DIR/step-ca.log
  ENROL=(-X "mtls.enrol.url=$STEP_URL" -X "mtls.enrol.ca.location=$STEP_ROOT")
  step_mark
}

step_token() {
  local f=$1 out
  shift
  ( umask 077; : >"$f" )
  out=$(env -u LD_PRELOAD "$STEP_PEER" token "$STEP_DIR" "$@" 2>&1) || { fail "step-ca-peer.sh token $*" "$out"; exit 1; }
  printf '%s\n' "$out" >"$f"
}

step_mark() { STEP_MARK=$(wc -l <"$STEP_LOG"); }
step_log_count() { tail -n "+$((STEP_MARK + 1))" "$STEP_LOG" | grep -cE -- "$1"; }

# enrol_props TOKEN_FILE: properties-file lines for the CA service
enrol_props() {
  printf '%s\n' "mtls.enrol.url=$STEP_URL" "mtls.enrol.ca.location=$STEP_ROOT" "mtls.enrol.token.file=$1"
}

# no_ca_key_on_client VOLUME FILE...: the client holds no CA key: FILEs (its
# configuration, its token) hold no private key and name no CA key; the
# volume holds the seed's files only, its keystore exactly one key, the
# leaf's, and its truststore none.
no_ca_key_on_client() {
  local vol=$1 alias f keys leaf_pub key_pub files
  alias=$(basename "$vol")
  shift
  for f in "$@"; do
    if grep -qE 'PRIVATE KEY|mtls\.ca\.key|int\.key|root\.key' "$f"; then echo "$f names or holds a key"; return 1; fi
  done
  files=$(cd "$vol" && ls -A | sort | paste -sd' ')
  [[ $files == ".kafka-mtls.lock $alias-ca-signed.crt $alias.keystore.jks $alias.truststore.jks ${alias}_creds" ]] ||
    { echo "volume files: $files"; return 1; }
  keys=$(openssl storeutl "${PROV[@]}" -noout -keys "keystore:$vol?part=keystore" 2>/dev/null | grep -c '^[0-9]*: Pkey')
  [[ $keys == 1 ]] || { echo "keystore keys: $keys"; return 1; }
  keys=$(openssl storeutl "${PROV[@]}" -noout -keys "keystore:$vol?part=truststore" 2>/dev/null | grep -c '^[0-9]*: Pkey')
  [[ $keys == 0 ]] || { echo "truststore keys: $keys"; return 1; }
  leaf_pub=$(openssl x509 "${PROV[@]}" -in "keystore:$vol" -noout -pubkey 2>/dev/null)
  key_pub=$(openssl pkey "${PROV[@]}" -in "keystore:$vol" -pubout 2>/dev/null)
  [[ -n $leaf_pub && $leaf_pub == "$key_pub" ]] || { echo "the keystore's key is not its leaf's"; return 1; }
}
