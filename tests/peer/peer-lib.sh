# shellcheck shell=bash
# peer-lib.sh - helpers shared by the peers' and clients' scripts.
# Sourced, not run.  The sourcing script sets PEER_NAME (for messages) and
# runs with `set -euo pipefail`.
#
# Exit codes used by the peers: 0 ok, 1 failure, 2 usage, 3 a requested port
# is (or became) busy - the caller may pick new ports and retry, 77 the peer
# cannot be had on this machine (no toolchain, no registry): the caller
# skips, and only on 77.

peer_die() { echo "$PEER_NAME: $*" >&2; exit 1; }
# peer_unavailable MSG: 77, the one place a missing peer becomes a skip;
# with KMTLS_REQUIRE_PEERS=1 (tests/run.sh, CI) it is a failure instead, so
# that a machine that cannot build or fetch a peer fails rather than
# dropping the tests that need it.
peer_unavailable() {
  if [[ ${KMTLS_REQUIRE_PEERS:-0} == 1 ]]; then
    echo "$PEER_NAME: $* (KMTLS_REQUIRE_PEERS=1: a peer that cannot be had is a failure)" >&2
    exit 1
  fi
  echo "$PEER_NAME: $*" >&2
  exit 77
}
peer_usage() { echo "$PEER_NAME: $*" >&2; exit 2; }
peer_busy() { echo "$PEER_NAME: $*" >&2; exit 3; }

# peer_go MINOR: print the go command for a build that needs Go 1.MINOR or
# newer: $GO, else /usr/local/go/bin/go, else go on PATH. Dies naming the
# requirement (peer_unavailable: a skip, a failure under
# KMTLS_REQUIRE_PEERS=1) when there is none or it is older (Debian 12's golang-go is
# 1.19): the builds run with GOTOOLCHAIN=local and never download one.
peer_go() {
  local min=$1 g=${GO:-} v
  local how="install Go >= 1.$min as /usr/local/go or on PATH, or set GO=/path/to/go"
  if [[ -z $g ]]; then
    if [[ -x /usr/local/go/bin/go ]]; then g=/usr/local/go/bin/go
    else g=$(command -v go 2>/dev/null) || peer_unavailable "needs Go >= 1.$min and there is no go command ($how)"; fi
  fi
  command -v "$g" >/dev/null 2>&1 || peer_unavailable "needs Go >= 1.$min: GO=$g not found"
  v=$(GOTOOLCHAIN=local "$g" env GOVERSION 2>/dev/null) || peer_unavailable "needs Go >= 1.$min: $g does not run"
  [[ $v =~ ^go1\.([0-9]+) ]] && (( BASH_REMATCH[1] >= min )) ||
    peer_unavailable "needs Go >= 1.$min; $g is ${v:-of an unknown version} ($how)"
  echo "$g"
}

# peer_cache_dir: where build/download artefacts live - never the source
# tree.  $PEER_CACHE, else $XDG_CACHE_HOME/kafka-mtls, else
# $HOME/.cache/kafka-mtls, else ${TMPDIR:-/tmp}/kafka-mtls-cache.<uid>.
peer_cache_dir() {
  local d=${PEER_CACHE:-}
  if [[ -z $d ]]; then
    if [[ -n ${XDG_CACHE_HOME:-} ]]; then d=$XDG_CACHE_HOME/kafka-mtls
    elif [[ -n ${HOME:-} && -d $HOME && -w $HOME ]]; then d=$HOME/.cache/kafka-mtls
    else d=${TMPDIR:-/tmp}/kafka-mtls-cache.$(id -u)
    fi
  fi
  mkdir -p "$d" || peer_die "cannot create cache directory $d"
  (cd "$d" && pwd -P)
}

# peer_pick_ports N: print N distinct TCP ports that are free on 127.0.0.1
# right now, one per line.  Ports are drawn at random from OUTSIDE the
# kernel's ephemeral range (ip_local_port_range), so outgoing connections
# (clients, ZooKeeper sessions, ...) can never be handed one of them between
# picking and binding; bind(port 0) is the fallback when no such range is
# left.  The check is a real bind() (python3), else `ss -a` (any TCP state).
peer_pick_ports() {
  local n=${1:-}
  if ! [[ $n =~ ^[1-9][0-9]*$ ]] || (( n > 100 )); then
    peer_usage "pick-ports: N must be 1..100"
  fi
  local py
  # the system python3 first: version-manager shims cost ~0.2 s a call
  py=$(command -v /usr/bin/python3 python3 2>/dev/null | head -n1) || true
  if [[ -n $py ]]; then
    "$py" - "$n" <<'PY'
import random, socket, sys
n = int(sys.argv[1])
try:
    with open('/proc/sys/net/ipv4/ip_local_port_range') as f:
        lo, hi = map(int, f.read().split())
except OSError:
    lo, hi = 32768, 60999
cands = [p for p in range(10000, 65536) if p < lo or p > hi]
random.shuffle(cands)
held, ports = [], []
def try_bind(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(('127.0.0.1', port))   # no SO_REUSEADDR: TIME_WAIT counts as busy
        s.listen(1)
    except OSError:
        s.close()
        return None
    held.append(s)
    return s.getsockname()[1]
for p in cands:
    if len(ports) == n:
        break
    if try_bind(p):
        ports.append(p)
while len(ports) < n:                 # fallback: the kernel's choice
    ports.append(try_bind(0))
for s in held:
    s.close()
print('\n'.join(map(str, ports)))
PY
  else
    local lo p picked=() tries=0
    read -r lo _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || lo=32768
    (( lo > 10000 )) || peer_die "pick-ports: no port range below the ephemeral range and no python3"
    while (( ${#picked[@]} < n )); do
      (( ++tries < 10000 )) || peer_die "pick-ports: no free port found"
      p=$(( 10000 + (RANDOM * 32768 + RANDOM) % (lo - 10000) ))
      [[ " ${picked[*]} " == *" $p "* ]] && continue
      [[ -z $(ss -Htan "sport = :$p" 2>/dev/null) ]] && picked+=("$p")
    done
    printf '%s\n' "${picked[@]}"
  fi
}

peer_check_port() {  # peer_check_port PORT: valid and currently not listening
  local p=$1
  if ! [[ $p =~ ^[0-9]+$ ]] || (( p < 1 || p > 65535 )); then peer_usage "bad port '$p'"; fi
  [[ -z $(ss -Hltn "sport = :$p" 2>/dev/null) ]] || peer_busy "port $p is already in use"
}

# peer_alive PID: exists and is not a zombie.
peer_alive() {
  local st
  # (not $(<file): under set -e a failing $(<file) ends the whole script)
  read -r st 2>/dev/null <"/proc/$1/stat" || return 1
  st=${st##*) }; st=${st%% *}
  [[ -n $st && $st != Z && $st != X ]]
}

# peer_owned PID DIR: PID is alive and was started for run dir DIR (its
# command line names a file in DIR) - guards every signal against PID reuse.
peer_owned() {
  local cmd
  peer_alive "$1" || return 1
  cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline") || return 1
  [[ "$cmd " == *"$2/"* ]]
}

# peer_listening PORT PID [ADDRESS]: PID has a listening socket on PORT (on
# ADDRESS, e.g. ::1, when given).
peer_listening() {
  local line
  while read -r line; do
    [[ $line == *"pid=$2,"* ]] || continue
    [[ -z ${3:-} || $line == *" $3:$1 "* || $line == *" [$3]:$1 "* ]] && return 0
  done < <(ss -Hltnp "sport = :$1" 2>/dev/null)
  return 1
}

# peer_spawn DIR NAME OUTFILE CMD...: start CMD in its own session, with
# cwd DIR, stdin /dev/null, stdout+stderr to DIR/OUTFILE and no other
# inherited file descriptors (so no caller pipe is held open).  Prints the
# PID (also in DIR/NAME.pid), which comes from the process itself, so it is
# right however setsid behaves.
peer_spawn() {
  local dir=$1 name=$2 out=$3 i; shift 3
  rm -f "$dir/$name.pid"
  # shellcheck disable=SC2016  # expanded by the inner bash
  setsid bash -c '
    for fd in /proc/$$/fd/*; do
      fd=${fd##*/}
      if (( fd > 2 )) && [[ -e /proc/$$/fd/$fd ]]; then exec {fd}>&-; fi
    done
    cd "$1" && echo $$ >"$1/$2.pid.tmp" && mv -f "$1/$2.pid.tmp" "$1/$2.pid" &&
    shift 2 && exec "$@"' _ "$dir" "$name" "$@" \
    >"$dir/$out" 2>&1 </dev/null &
  for (( i = 0; i < 500; i++ )); do
    [[ -s $dir/$name.pid ]] && { cat "$dir/$name.pid"; return 0; }
    sleep 0.01
  done
  peer_die "could not start $name (see $dir/$out)"
}

# peer_write_pids DIR PID...: DIR/pids lists the processes in stop order.
peer_write_pids() {
  local d=$1; shift
  printf '%s\n' "$@" >"$d/pids.tmp" && mv -f "$d/pids.tmp" "$d/pids"
}

# peer_stop_dir DIR GRACE_SECONDS: stop DIR/pids one by one (TERM, then
# KILL after GRACE_SECONDS), then forget them.  Only signals processes that
# still belong to DIR.  Returns 0 when none is left.
peer_stop_dir() {
  local d=$1 grace=${2:-5} pid i
  if [[ ! -f $d/pids ]]; then
    echo "$PEER_NAME: no peer in $d" >&2
    return 0
  fi
  while read -r pid; do
    [[ $pid =~ ^[0-9]+$ ]] || continue
    peer_owned "$pid" "$d" || continue
    kill -TERM "$pid" 2>/dev/null || true
    for (( i = 0; i < grace * 50; i++ )); do
      peer_alive "$pid" || break
      sleep 0.02
    done
    if peer_owned "$pid" "$d"; then
      echo "$PEER_NAME: pid $pid ignored SIGTERM for ${grace}s, killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
      for (( i = 0; i < 100; i++ )); do peer_alive "$pid" || break; sleep 0.05; done
    fi
  done <"$d/pids"
  while read -r pid; do
    [[ $pid =~ ^[0-9]+$ ]] || continue
    peer_owned "$pid" "$d" && { echo "$PEER_NAME: pid $pid survived SIGKILL" >&2; return 1; }
  done <"$d/pids"
  rm -f "$d/pids"
  echo "stopped $d"
}

# peer_dir_for DEFAULT_PREFIX ARG: a stop argument is a run dir or a PORT.
peer_dir_for() {
  local d=$2
  [[ $d =~ ^[0-9]+$ ]] && d=${TMPDIR:-/tmp}/$1.$d
  (cd "$d" 2>/dev/null && pwd -P) || echo "$d"
}
