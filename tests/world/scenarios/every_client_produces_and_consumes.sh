#!/bin/bash
# The clients people run, each unmodified, each configured only by a
# properties file whose first line loads the plugin: it produces 5 messages
# as kafka-producer and consumes them back in a group as kafka-consumer,
# through the genuine broker, which requires client certificates and
# enforces ACLs. kafka-producer's certificate comes from the intermediate
# CA (root -> intermediate -> client, the broker trusts only the root), so
# every client must send the intermediate. Each client is one row of the
# compatibility table.
#   kcat on Debian's librdkafka 2.0.2 and on librdkafka 2.12.0 built from
#   source (tests/clients/librdkafka-src.sh); confluent-kafka from PyPI (its
#   bundled librdkafka), alone and with Debian's librdkafka.so.1 loaded in
#   the same process; confluent-kafka-go (Go module proxy) built against
#   librdkafka 2.12.0 (-tags dynamic), and with its bundled static
#   librdkafka, plain and linked to export librdkafka's API.
. "$(dirname "$0")/../lib.sh"
CLIENTS=$KMTLS_SOURCE_ROOT/tests/clients
ks=$WORK/keystore
mkdir -m 700 "$ks"

props() {  # props ROLE ALIAS CA_DIR CA_FILE: a properties file, the plugin first
  cat <<EOF
plugin.library.paths=$KMTLS_PLUGIN
bootstrap.servers=$WORLD_BOOTSTRAP
mtls.volume=$ks/$2
mtls.ca.location=$3/$4
mtls.ca.key.location=$3/ca.key
mtls.ca.key.password.file=$3/ca.pass
mtls.subject=$SEED_SUBJECT_TEMPLATE
EOF
}
props producer kafka-producer "$FX/sub" chain.crt >"$WORK/producer.properties"
props consumer kafka-consumer "$FX/ca" ca.crt >"$WORK/consumer.properties"

# expect_values FILE PREFIX N: FILE holds PREFIX1..PREFIXN, each once
expect_values() {
  local i
  for (( i = 1; i <= $3; i++ )); do [[ $(grep -cxF -- "$2$i" "$1") == 1 ]] || return 1; done
}

# through NAME LIBRDKAFKA PRODUCE_CMD... -- CONSUME_CMD...: PRODUCE_CMD must
# print PREFIX1..5 (delivered) and CONSUME_CMD print them back; the broker
# must name the seed's principals for both client.ids. $T, $P, $G: topic,
# prefix and group of this client.
through() {
  local name=$1 rdk=$2 i produce=() consume=() rc1 rc2
  shift 2
  while [[ $1 != -- ]]; do produce+=("$1"); shift; done
  shift; consume=("$@")
  timeout -k 5 90 "${produce[@]}" >"$WORK/$T.produced" 2>&1; rc1=$?
  timeout -k 5 90 "${consume[@]}" >"$WORK/$T.consumed" 2>&1; rc2=$?
  if (( rc1 == 0 && rc2 == 0 )) && expect_values "$WORK/$T.consumed" "$P" 5 &&
     served "$T-p" "$(seed_principal kafka-producer)" && served "$T-c" "$(seed_principal kafka-consumer)"; then
    ok "$name (librdkafka $rdk): produced 5 as kafka-producer (chain via the intermediate), consumed them in a group as kafka-consumer"
    compat "$name" "$rdk" works "produce 5 + group consume 5; broker principals asserted; intermediate CA chain"
  else
    fail "$name (librdkafka $rdk): rc=$rc1/$rc2; principals $(principals_of "$T-p") / $(principals_of "$T-c")" \
      "$(cat "$WORK/$T.produced" "$WORK/$T.consumed")"
    compat "$name" "$rdk" FAILS "see the test log"
  fi
}
client() {  # client NAME: a topic, prefix and group of its own
  T=seed-$1-$RANDOM P="$1-" G=$T
  new_topic "$T"
}

# ---- kcat on Debian's librdkafka 2.0.2
kcat_rdk() { env "$@" kcat -V 2>&1 | sed -n 's/.*librdkafka \([0-9.]*\) .*/\1/p' | head -n 1; }
kcat_pair() {  # kcat_pair ENV...: produce with -P, consume with -G
  through "$NAME" "$(kcat_rdk "$@")" \
    env "$@" bash -c 'for i in 1 2 3 4 5; do echo "$0$i"; done | kcat -F "$1" -X "client.id=$2-p" -P -t "$2" &&
                      for i in 1 2 3 4 5; do echo "$0$i"; done' "$P" "$WORK/producer.properties" "$T" -- \
    env "$@" kcat -F "$WORK/consumer.properties" -X "client.id=$T-c" -X auto.offset.reset=earliest -G "$G" -e -q "$T"
}
NAME=kcat; client kcat; kcat_pair LD_LIBRARY_PATH=

# ---- kcat on librdkafka 2.12.0, built from source
if prefix=$("$CLIENTS/librdkafka-src.sh" build 2>"$WORK/rdk-build.log"); then
  NAME=kcat; client kcat212; kcat_pair "LD_LIBRARY_PATH=$prefix/lib"
else fail "building librdkafka 2.12.0 from node-rdkafka@3.6.1" "$(tail -n 20 "$WORK/rdk-build.log")"; fi

# ---- confluent-kafka-python from PyPI (bundled librdkafka)
if py=$("$CLIENTS/python-venv.sh" build 2>"$WORK/venv.log"); then
  pyc=("$py" "$CLIENTS/python/kafka_mtls_py_client.py")
  rdk=$("${pyc[@]}" -version | sed -n 's/.* librdkafka \([0-9.]*\).*/\1/p')
  ver=$("${pyc[@]}" -version | sed -n 's/^confluent-kafka \([^ ]*\).*/\1/p')
  NAME="confluent-kafka-python $ver (PyPI wheel)"; client py
  through "$NAME" "$rdk (bundled)" \
    "${pyc[@]}" -X "client.id=$T-p" -produce 5 -topic "$T" -prefix "$P" "$WORK/producer.properties" -- \
    "${pyc[@]}" -X "client.id=$T-c" -consume 5 -topic "$T" -group "$G" "$WORK/consumer.properties"
  # a machine without Debian's librdkafka: in a mount namespace of its own
  # the file is made unloadable (/dev/null bound over it)
  deb=$(readlink -f "$(ldconfig -p | awk '/librdkafka\.so\.1 /{print $NF; exit}')" 2>/dev/null)
  if [[ -f $deb ]] && unshare -m true 2>/dev/null; then
    hide=(unshare -m bash -c 'mount --bind /dev/null "$0" && exec "$@"' "$deb")
    if ! "${hide[@]}" "${pyc[@]}" -preload-system-librdkafka -version >/dev/null 2>&1; then
      NAME="confluent-kafka-python $ver (PyPI wheel), Debian's librdkafka absent"; client py0
      through "$NAME" "$rdk (bundled)" \
        "${hide[@]}" "${pyc[@]}" -X "client.id=$T-p" -produce 5 -topic "$T" -prefix "$P" "$WORK/producer.properties" -- \
        "${hide[@]}" "${pyc[@]}" -X "client.id=$T-c" -consume 5 -topic "$T" -group "$G" "$WORK/consumer.properties"
    else fail "hiding $deb in a mount namespace did not make it unloadable"; fi
  elif [[ ! -f $deb ]]; then skip_case "$NAME with Debian's librdkafka absent: there is no Debian librdkafka.so.1 here to hide"
  else skip_case "$NAME with Debian's librdkafka absent: no mount namespace (unshare -m) to hide $deb in"; fi
  if "${pyc[@]}" -preload-system-librdkafka -version | grep -q '^loaded .*/librdkafka\.so\.1'; then
    NAME="confluent-kafka-python $ver (PyPI wheel) + Debian librdkafka.so.1 in the process"; client py2
    through "$NAME" "$rdk (bundled) beside 2.0.2" \
      "${pyc[@]}" -preload-system-librdkafka -X "client.id=$T-p" -produce 5 -topic "$T" -prefix "$P" \
        "$WORK/producer.properties" -- \
      "${pyc[@]}" -preload-system-librdkafka -X "client.id=$T-c" -consume 5 -topic "$T" -group "$G" \
        "$WORK/consumer.properties"
  else fail "Debian's librdkafka.so.1 could not be loaded beside the wheel's"; fi
else fail "the confluent-kafka venv" "$(tail -n 20 "$WORK/venv.log")"; fi

# ---- confluent-kafka-go from the Go module proxy
go_client() {  # go_client MODE LABEL
  local bin rdk
  if ! bin=$("$CLIENTS/go-build.sh" "$1" 2>"$WORK/go-$1.log"); then
    fail "building confluent-kafka-go ($1)" "$(tail -n 20 "$WORK/go-$1.log")"; return
  fi
  rdk=$("$bin" -version | sed -n 's/.*librdkafka \([0-9.]*\).*/\1/p' | head -n 1)
  NAME="confluent-kafka-go $2"; client "go-$1"
  if [[ $1 == bundled ]]; then
    # its bundled librdkafka keeps its API to itself: the plugin cannot call
    # it, and says so; client creation fails, nothing is sent
    timeout -k 5 60 "$bin" -X "client.id=$T-p" -produce 1 -topic "$T" "$WORK/producer.properties" \
      >"$WORK/go-bundled.out" 2>&1; rc=$?
    if (( rc == 3 )) && grep -q 'does not export rd_kafka_' "$WORK/go-bundled.out" &&
       ! grep -qF "\"clientId\":\"$T-p\"" "$WORLD_PEER/request.log"; then
      ok "$NAME: fails closed at client creation: $(grep -o 'kafka-mtls: the librdkafka.*' "$WORK/go-bundled.out" | head -c 160)"
      compat "$NAME" "$rdk (static, API not exported)" "no: fails closed" \
        "plugin cannot bind: build with -tags dynamic, or link with -Wl,--export-dynamic-symbol=rd_kafka_*"
    else fail "$NAME: expected a clean refusal (rc=$rc)" "$(cat "$WORK/go-bundled.out")"; fi
    return
  fi
  through "$NAME" "$rdk" \
    "$bin" -X "client.id=$T-p" -produce 5 -topic "$T" -prefix "$P" "$WORK/producer.properties" -- \
    "$bin" -X "client.id=$T-c" -consume 5 -topic "$T" -group "$G" "$WORK/consumer.properties"
}
go_client dynamic "(-tags dynamic)"
go_client bundled-export "(bundled static, linked with --export-dynamic-symbol=rd_kafka_*)"
go_client bundled "(bundled static, default build)"
