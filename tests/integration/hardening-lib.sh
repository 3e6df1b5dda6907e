# shellcheck shell=bash disable=SC2034  # the variables are the sourcing scripts'
# Helpers shared by the hardening tests: bad_inputs_fail_closed.sh,
# each_bad_input_handled.sh, faults_leave_volume_whole.sh, volume_swap_reads_one_side.sh,
# secrets_stay_out_of_logs.sh, valgrind_finds_no_errors.sh. Sourced
# after lib.sh. Env from meson: KMTLS_PLUGIN, KMTLS_PEER_DIR, KMOCKD,
# KMTLS_TOOL, and lib.sh's.
: "${KMTLS_PLUGIN:?run through meson test}" "${KMTLS_PEER_DIR:?run through meson test}"
: "${KMTLS_TOOL:?run through meson test}"
# byte-wise matching: messages may carry non-UTF-8 bytes (a 0xff alias)
export LC_ALL=C
trap 'exit 130' INT
trap 'exit 143' TERM

PLUG=(-X "plugin.library.paths=$KMTLS_PLUGIN")
TOOL=$KMTLS_TOOL
T0=$(date +%s%N)
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
ASAN=0; [[ ${LD_PRELOAD:-} == *libasan* ]] && ASAN=1

# A private CA copy (the tests change its files' modes) and a sandbox: every
# volume, every "outside" file, the clients' cwd and TMPDIR live in $BOX, so
# "nothing written outside the volume" is checked by comparing snapshots.
mkdir -p "$WORK/ca" "$WORK/box/cwd" "$WORK/box/tmp"
cp "$FX/ca/ca.crt" "$FX/ca/ca.key" "$FX/ca/ca.pass" "$WORK/ca/"
chmod 600 "$WORK/ca/ca.key"
BOX=$WORK/box
CAF=$WORK/ca
CA_PW=$(<"$CAF/ca.pass")
CA=(-X "mtls.ca.location=$CAF/ca.crt" -X "mtls.ca.key.location=$CAF/ca.key"
    -X "mtls.ca.key.password.file=$CAF/ca.pass")
TOOL_CA=(--ca "$CAF/ca.crt" --ca-key "$CAF/ca.key" --ca-key-password-file "$CAF/ca.pass")

# kc ARGS...: kcat with a hard limit (a hang is a failure, not a stuck CI),
# run in the sandbox's cwd with the sandbox's TMPDIR.
kc() { (cd "$BOX/cwd" && TMPDIR=$BOX/tmp timeout -k 5 30 kcat "$@"); }
tool() { (cd "$BOX/cwd" && TMPDIR=$BOX/tmp timeout -k 5 30 "$TOOL" "$@"); }
su() { (cd "$BOX/cwd" && TMPDIR=$BOX/tmp timeout -k 5 30 openssl storeutl "${PROV[@]}" "$@"); }

# crashed RC OUT: a signal, a timeout (hang) or a sanitizer report
crashed() {
  (( $1 == 124 || $1 == 137 || $1 >= 128 )) && return 0
  grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:|Segmentation fault|core dumped' <<<"$2"
}

# ---- the mTLS peer: 3 brokers, stopped when the script ends, even by
# SIGKILL (lib.sh: start_mtls_peer; the watchdog also unmounts $WORK/mnt*)
start_peer() {
  start_mtls_peer
  echo "# peer at $B, started in $(ms_since "$T0") ms"
}

# snapshot: every path in the sandbox but the volume given (and what is in
# it), with type, size, mode, mtime and link target.
snapshot() {  # snapshot VOLUME
  local vol=${1%/}
  find "$BOX" -printf '%p|%y|%s|%m|%T@|%l\n' | awk -F'|' -v v="$vol" \
    '$1 != v && index($1, v "/") != 1' | sort
}
# outside_unchanged BEFORE_FILE VOLUME: "" or a diff of what changed outside VOLUME
outside_changes() { diff <(cat "$1") <(snapshot "$2") | grep '^[<>]' | head -10; }

CREATE='Failed to create (producer|consumer): .*kafka-mtls: '

# client_fails NAME PATTERN VOLUME ARGS...: kcat through the plugin is not
# created (or is refused at conf_set) with PATTERN; nothing crashed or hung,
# the peer saw no connection, nothing outside VOLUME changed in the sandbox.
client_fails() {
  local name=$1 pat=$2 vol=$3 out rc ch; shift 3
  snapshot "$vol" >"$WORK/snap"
  mark
  out=$(kc "${PLUG[@]}" "$@" -b "$B" -L -m 5 2>&1); rc=$?
  ch=$(outside_changes "$WORK/snap" "$vol")
  if (( rc != 0 )) && ! crashed "$rc" "$out" && grep -qaE -- "$pat" <<<"$out" &&
     (( $(connections) == 0 )) && [[ -z $ch ]]; then
    ok "$name"
  else
    fail "$name (rc=$rc, want /$pat/, no connection ($(connections)), nothing written outside the volume)" \
      "$out${ch:+
changed outside $vol:
$ch}"
  fi
}
# client_works NAME CN VOLUME ARGS...: kcat -L through the plugin connects,
# the peer verified CN, nothing outside VOLUME changed in the sandbox.
client_works() {
  local name=$1 cn=$2 vol=$3 out rc ch; shift 3
  snapshot "$vol" >"$WORK/snap"
  mark
  out=$(kc "${PLUG[@]}" "$@" -b "$B" -L -m 10 2>&1); rc=$?
  ch=$(outside_changes "$WORK/snap" "$vol")
  if (( rc == 0 )) && grep -q ' 3 brokers:' <<<"$out" && accepted "$cn" && [[ -z $ch ]]; then
    ok "$name"
  else
    fail "$name (rc=$rc, want the peer to verify CN=$cn)" "$out
$(since | grep -aE 'Certificate|Rejected')${ch:+
changed outside $vol:
$ch}"
  fi
}
# store_fails NAME PATTERN URI [storeutl args]: openssl storeutl through the
# provider prints PATTERN, yields nothing, does not crash.
store_fails() {
  local name=$1 pat=$2 out rc; shift 2
  out=$(su "$@" 2>&1); rc=$?
  # storeutl (3.0) exits 0 even after a failed load: judge by what it printed
  if ! crashed "$rc" "$out" && grep -qaE -- "$pat" <<<"$out" && ! grep -q -- "-----BEGIN" <<<"$out"; then
    ok "$name"
  else fail "$name (rc=$rc, want /$pat/ and nothing yielded)" "$out"; fi
}
store_works() {  # store_works NAME COUNT URI [args]
  local name=$1 n=$2 out rc; shift 2
  out=$(su "$@" 2>&1); rc=$?
  if (( rc == 0 )) && grep -q "^Total found: $n\$" <<<"$out"; then ok "$name"
  else fail "$name (rc=$rc, want Total found: $n)" "$out"; fi
}
# tool_fails NAME PATTERN VOLUME ARGS...: kafka-mtls exits 1 (or 2) with
# PATTERN on stderr, did not crash, changed nothing outside VOLUME.
tool_fails() {
  local name=$1 pat=$2 vol=$3 out rc ch; shift 3
  snapshot "$vol" >"$WORK/snap"
  out=$(tool "$@" 2>&1); rc=$?
  ch=$(outside_changes "$WORK/snap" "$vol")
  if (( rc == 1 || rc == 2 )) && ! crashed "$rc" "$out" && grep -qaE -- "$pat" <<<"$out" && [[ -z $ch ]]; then
    ok "$name"
  else fail "$name (rc=$rc, want exit 1 with /$pat/, nothing written outside the volume)" "$out${ch:+
changed outside $vol:
$ch}"; fi
}
# files_in DIR: the names in DIR (dot files too), one line, sorted
files_in() { (cd "$1" 2>/dev/null && ls -A | sort | tr '\n' ' '); }

# mkvol DIR FROM: a copy of fixture volume FROM renamed to DIR's alias
# (ALIAS.keystore.jks, ALIAS.truststore.jks, ALIAS_creds), mode 0700.
mkvol() {
  local dir=$1 from=$2 a=${1##*/} b=${2##*/}
  mkdir -p -m 700 "$dir"
  cp "$from/$b.keystore.jks" "$dir/$a.keystore.jks"
  cp "$from/$b.truststore.jks" "$dir/$a.truststore.jks"
  cp "$from/${b}_creds" "$dir/${a}_creds"
}
