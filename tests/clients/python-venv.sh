#!/bin/bash
# python-venv.sh - a Python venv in the cache dir with confluent-kafka 2.16.1
# from PyPI: the manylinux wheel, which bundles its own librdkafka
# (confluent_kafka.libs/librdkafka-<hash>.so.1, soname librdkafka-<hash>.so.1,
# OpenSSL linked in statically) - the confluent-kafka-python that people run
# from pip, not Debian's python3-confluent-kafka on Debian's librdkafka1.
#
#   python-venv.sh [build]   create the venv if needed, print its python
#   python-venv.sh python    print the venv's python if it exists, else fail
#   python-venv.sh info      create if needed, then print
#                              python <path>
#                              confluent_kafka <version()>
#                              librdkafka <libversion()>
#                              libfile <the bundled librdkafka, absolute path>
#
# Environment:
#   PYTHON      the interpreter to build the venv from (default /usr/bin/python3,
#               Debian's 3.11, else python3 on PATH).  Debian's is the default
#               because a version manager's shim (pyenv) on PATH may point at
#               another version per directory or machine, costs ~0.2 s a call,
#               and is not there on a fresh Debian machine or in CI.
#   PEER_CACHE / XDG_CACHE_HOME / HOME   the cache dir (see tests/peer/peer-lib.sh);
#               VENV = CACHE/venv-confluent-kafka-2.16.1-cpXY-<key>, the key a
#               hash of the interpreter's real path and full version and the
#               pinned requirement, so another Python gets another venv
#
# The wheel is installed with pip --require-hashes --only-binary=:all:
# --no-deps (it has no dependencies on Python >= 3.11) from the hashes pinned
# below (manylinux_2_28_x86_64 for CPython 3.11 / 3.12 / 3.13; another Python
# or architecture fails with a message saying so).  The venv is built in
# CACHE/venv-*.tmp.*, checked by importing confluent_kafka, and published by
# one rename under flock(CACHE/venv-confluent-kafka.lock); the scripts that
# would name the build dir (bin/activate*, bin/pip*) are removed: use
# VENV/bin/python (and VENV/bin/python -m pip).  A second run is a cache hit
# (one interpreter start, -I -S, to compute the key: ~0.05-0.1 s). First run:
# ~10 s (a 5 MB wheel from PyPI).
#
# Needs: python3 >= 3.11 with venv and ensurepip (Debian: apt-get install
# python3-venv), the PyPI registry (first run only).
# Exit codes: 0 ok, 1 failure (the message names what is missing), 2 usage.
set -euo pipefail
shopt -s inherit_errexit  # a failure inside $(...) fails the caller too
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
PEER_NAME=python-venv
# shellcheck source=../peer/peer-lib.sh
. "$HERE/../peer/peer-lib.sh"

CK_VERSION=2.16.1
# sha256 of confluent_kafka-2.16.1-cpXY-cpXY-manylinux_2_28_x86_64.whl (PyPI)
declare -A CK_SHA256=(
  [cp311]=24f613cc81a856b6fbb2d7d11044a9aa770044eecc1f83ff84618688b056be06
  [cp312]=fdb2c4d53e84e10f4e567f4e74bba45d0ce90276b81259c3fc58df6960caabf5
  [cp313]=ea772c30cfa618fcdfbc25756e3f7b4c5a221b0bffda98031293f8ffb7169609
)

usage() { peer_usage "usage: $0 [build | python | info]"; }

pick_python() {
  local py=${PYTHON:-}
  if [[ -z $py ]]; then
    if [[ -x /usr/bin/python3 ]]; then py=/usr/bin/python3
    else py=$(command -v python3) || peer_die "no python3 (Debian: apt-get install python3 python3-venv, or set PYTHON)"
    fi
  fi
  command -v "$py" >/dev/null || peer_die "PYTHON=$py not found"
  echo "$py"
}

# venv_dir PY: the venv path for this interpreter (prints "TAG DIR")
venv_dir() {
  local py=$1 info tag key cache
  info=$("$py" -I -S -c 'import os, sys
print("cp%d%d" % sys.version_info[:2], os.path.realpath(sys.executable), sys.version.replace("\n", " "))') ||
    peer_die "$py does not run"
  tag=${info%% *}
  [[ -n ${CK_SHA256[$tag]:-} && $(uname -m) == x86_64 ]] ||
    peer_die "no pinned confluent-kafka $CK_VERSION wheel for $tag on $(uname -m) (pinned: ${!CK_SHA256[*]} x86_64; set PYTHON to one of them)"
  key=$(printf '%s\n' "$info" "confluent-kafka==$CK_VERSION ${CK_SHA256[$tag]}" | sha256sum | cut -c1-12)
  cache=$(peer_cache_dir)
  echo "$tag $cache/venv-confluent-kafka-$CK_VERSION-$tag-$key"
}

venv_ok() { [[ -x $1/bin/python && -f $1/.kafka-mtls-ok ]]; }

build() {  # build PY TAG VENV  (under the lock)
  local py=$1 tag=$2 venv=$3 tmp t0=$SECONDS
  "$py" -c 'import venv, ensurepip' 2>/dev/null ||
    peer_die "$py has no venv/ensurepip module (Debian: apt-get install python3-venv)"
  tmp=$(mktemp -d "${venv%/*}/venv-confluent-kafka.tmp.XXXXXX")
  # shellcheck disable=SC2064  # expand $tmp now
  trap "rm -rf '$tmp'" EXIT
  echo "$PEER_NAME: creating $venv with confluent-kafka $CK_VERSION from PyPI (once)" >&2
  "$py" -m venv "$tmp/venv" >"$tmp/venv.log" 2>&1 ||
    { cat "$tmp/venv.log" >&2; peer_die "$py -m venv failed (Debian: apt-get install python3-venv)"; }
  printf 'confluent-kafka==%s --hash=sha256:%s\n' "$CK_VERSION" "${CK_SHA256[$tag]}" >"$tmp/requirements.txt"
  PIP_DISABLE_PIP_VERSION_CHECK=1 "$tmp/venv/bin/python" -m pip install --quiet --no-cache-dir \
      --no-deps --only-binary=:all: --require-hashes -r "$tmp/requirements.txt" >"$tmp/pip.log" 2>&1 ||
    { cat "$tmp/pip.log" >&2; peer_die "pip install confluent-kafka==$CK_VERSION failed (needs PyPI; log above)"; }
  "$tmp/venv/bin/python" -c "import confluent_kafka, sys
v = confluent_kafka.version()   # a str in 2.16, a (str, int) tuple before
sys.exit((v[0] if isinstance(v, tuple) else v) != '$CK_VERSION')" ||
    peer_die "the venv's confluent_kafka does not import as version $CK_VERSION"
  # no file may name the build dir: drop the scripts that would, fix pyvenv.cfg
  rm -f "$tmp"/venv/bin/activate* "$tmp"/venv/bin/pip* "$tmp"/venv/bin/Activate.ps1
  sed -i "s|$tmp/venv|$venv|g" "$tmp/venv/pyvenv.cfg"
  ! grep -rlsI --exclude='*.pyc' "$tmp" "$tmp/venv/bin" "$tmp/venv/pyvenv.cfg" >&2 ||
    peer_die "files above still name the build dir $tmp"
  printf 'confluent-kafka==%s sha256:%s\n' "$CK_VERSION" "${CK_SHA256[$tag]}" >"$tmp/venv/.kafka-mtls-ok"
  rm -rf "$venv"
  mv -T "$tmp/venv" "$venv" || peer_die "cannot install into $venv"
  echo "$PEER_NAME: created in $((SECONDS - t0)) s" >&2
}

get_venv() {  # get_venv BUILD(0/1): print VENV
  local py tag venv cache
  py=$(pick_python)
  read -r tag venv < <(venv_dir "$py") || exit 1
  [[ -n $venv ]] || exit 1
  if ! venv_ok "$venv"; then
    (( $1 )) || peer_die "no venv yet at $venv (run: $0 build)"
    cache=${venv%/*}
    (
      flock -w 600 9 || peer_die "timed out waiting for the lock on $cache/venv-confluent-kafka.lock"
      venv_ok "$venv" && exit 0
      build "$py" "$tag" "$venv"
    ) 9>"$cache/venv-confluent-kafka.lock" || exit
    venv_ok "$venv" || peer_die "creating $venv failed"
  fi
  echo "$venv"
}

cmd=${1:-build}
(( $# <= 1 )) || usage
case $cmd in
  build) v=$(get_venv 1); echo "$v/bin/python" ;;
  python) v=$(get_venv 0); echo "$v/bin/python" ;;
  info)
    v=$(get_venv 1)
    "$v/bin/python" - <<'PY' || peer_die "$v/bin/python cannot import confluent_kafka"
import glob, os, sys, confluent_kafka
print("python", sys.executable)
v = confluent_kafka.version()   # a str in 2.16, a (str, int) tuple before
print("confluent_kafka", v[0] if isinstance(v, tuple) else v)
print("librdkafka", confluent_kafka.libversion()[0])
libs = os.path.join(os.path.dirname(confluent_kafka.__file__), os.pardir, "confluent_kafka.libs")
for f in sorted(glob.glob(os.path.join(libs, "librdkafka*.so*"))):
    print("libfile", os.path.realpath(f))
PY
    ;;
  -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" ;;
  *) usage ;;
esac
