#!/bin/bash
# tests/prepare.sh — fetches and builds, into the cache directory, every
# outside program the test suites run: Apache Kafka 3.3.2 and 4.4.0 (Maven
# Central), librdkafka 2.12.0 (from npm's node-rdkafka@3.6.1), the PyPI
# confluent-kafka venv, the confluent-kafka-go clients (Go module proxy) and
# step-ca (Go module proxy). Each script works under its own lock, so the
# tests that need one of these wait for it; tests/run.sh starts this in the
# background while it builds and runs the fast suites. Exit 0 when all are
# ready; otherwise 1, after trying every one (the log says which failed).
#
#   tests/prepare.sh --check   only what must be there before anything is
#                              fetched: a Go toolchain new enough for the Go
#                              clients (>= 1.21) and step-ca (>= 1.25);
#                              Debian 12's golang-go is 1.19. tests/run.sh
#                              asks this first, to fail before building.
set -uo pipefail
cd "$(dirname "$0")/.."
rc=0
# each Go build names its own minimum (tests/peer/peer-lib.sh peer_go)
for s in tests/clients/go-build.sh tests/peer/step-ca-peer.sh; do
  "$s" go >/dev/null || rc=1
done
(( rc == 0 )) || { echo "prepare: no Go toolchain new enough (see above); nothing fetched" >&2; exit 1; }
[[ ${1:-} != --check ]] || exit 0
step() {  # step NAME CMD...
  local t0=$SECONDS
  if "${@:2}" >/dev/null; then echo "prepare: $1 ready ($((SECONDS - t0)) s)"
  else echo "prepare: $1 FAILED ($((SECONDS - t0)) s)"; rc=1; fi
}
# The JVM downloads and the Go builds use different resources; two at a time.
( step "Apache Kafka 3.3.2" tests/peer/kafka-peer.sh fetch 3.3.2
  step "Apache Kafka 4.4.0" tests/peer/kafka-peer.sh fetch 4.4.0
  step "confluent-kafka (PyPI)" tests/clients/python-venv.sh build
  step "librdkafka 2.12.0" tests/clients/librdkafka-src.sh build
  exit $rc ) & a=$!
( step "step-ca" tests/peer/step-ca-peer.sh fetch
  step "confluent-kafka-go (bundled)" tests/clients/go-build.sh bundled
  step "confluent-kafka-go (bundled, exported)" tests/clients/go-build.sh bundled-export
  step "confluent-kafka-go (dynamic)" tests/clients/go-build.sh dynamic
  exit $rc ) & b=$!
wait "$a" || rc=1
wait "$b" || rc=1
exit $rc
