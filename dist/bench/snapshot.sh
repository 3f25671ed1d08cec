#!/usr/bin/env bash
# Origin write throughput under 0, 1 and 3 snapshots: jdm serve with the NBD frontend on a Unix
# socket, an origin over a file in /dev/shm, snapshots made with 'jdm snapshot' (persistent, COW
# files in /dev/shm too), and fio's nbd engine writing the origin. For each number of snapshots and
# each workload, a fresh set of snapshots, then two passes over the whole origin: the first writes
# (every chunk is copied into every snapshot first) and the rewrites (four passes, nothing left to
# copy). A benchmark, not a test: it asserts nothing.
#
# Usage: dist/bench/snapshot.sh                 (from the repository root, builds jdm when needed)
# Environment:
#   SIZE=128M           the origin's size; each COW file gets SIZE plus an eighth
#   CHUNK=8             the snapshots' chunk size in sectors (8: 4 KiB, LVM's default)
#   SNAPSHOTS="0 1 3"   the numbers of snapshots to measure
#   WORKLOADS           which of "write 1M 8,randwrite 4k 32" to run
#   JDM=path            the jdm launcher (default dist/target/jdm/bin/jdm, built when missing)
#   JAVA_HOME           a JDK 25 (default /usr/lib/jvm/temurin-25-jdk-amd64)
set -euo pipefail

SIZE=${SIZE:-128M}
CHUNK=${CHUNK:-8}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
JDM=${JDM:-$ROOT/dist/target/jdm/bin/jdm}
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}

for tool in fio python3; do
  command -v "$tool" >/dev/null || { echo "snapshot bench: $tool is not installed" >&2; exit 1; }
done
if [[ ! -x $JDM && $JDM == "$ROOT/dist/target/jdm/bin/jdm" ]]; then
  (cd "$ROOT" && mvn -B -q -DskipTests package >&2)
fi
[[ -x $JDM ]] || { echo "snapshot bench: $JDM is not a jdm launcher" >&2; exit 1; }

WORK=$(mktemp -d /tmp/snapshot-bench.XXXXXX)
SHM=$(mktemp -d /dev/shm/snapshot-bench.XXXXXX)
SOCK=$WORK/nbd.sock
PID=
cleanup() {
  if [[ -n $PID ]]; then
    kill "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
  fi
  rm -rf "$WORK" "$SHM"
}
trap cleanup EXIT

IMAGE=$SHM/origin.img
truncate -s "$SIZE" "$IMAGE"
BYTES=$(stat -c %s "$IMAGE")
SECTORS=$((BYTES / 512))
COW_BYTES=$((BYTES + BYTES / 8))

cat >"$WORK/jdm.conf" <<EOF
jdm.runtime-dir = "$WORK/run"
jdm.state-dir = "$WORK/state"
jdm.frontends.nbd.enabled = false
EOF
"$JDM" serve --config "$WORK/jdm.conf" --nbd "unix:$SOCK" >"$WORK/jdm.log" 2>&1 &
PID=$!
for _ in $(seq 150); do
  [[ -S $SOCK ]] && break
  sleep 0.2
done
[[ -S $SOCK ]] || { echo "jdm did not start:" >&2; cat "$WORK/jdm.log" >&2; exit 1; }
jdm() { "$JDM" --runtime-dir "$WORK/run" "$@"; }

# LOOPS passes of fio over the whole origin (every block once a pass) -> MiB/s.
pass() {
  local rw=$1 bs=$2 depth=$3 loops=$4 out=$WORK/fio.json
  fio --name=origin --ioengine=nbd --uri="nbd+unix:///base?socket=$SOCK" --rw="$rw" --bs="$bs" \
    --iodepth="$depth" --size="$BYTES" --loops="$loops" --randrepeat=0 --output-format=json \
    --output="$out" >/dev/null
  python3 - "$out" <<'EOF'
import json, sys
job = json.load(open(sys.argv[1]))["jobs"][0]
print(f'{job["write"]["bw_bytes"] / 1048576:.1f}')
EOF
}

# An origin with N fresh snapshots.
setup() {
  jdm create base --table "0 $SECTORS linear $IMAGE 0"
  for i in $(seq "$1"); do
    jdm snapshot "s$i" base --cow "$SHM/s$i.cow" --size "$COW_BYTES" --chunk "$CHUNK" >/dev/null
  done
}

teardown() {
  for i in $(seq "$1"); do
    jdm remove "s$i"
    rm -f "$SHM/s$i.cow"
  done
  jdm remove base
  if [[ $1 -gt 0 ]]; then
    jdm remove base-real
  fi
}

echo "jdm: $JDM serve, NBD over a Unix socket; origin $SIZE, snapshots P with $CHUNK-sector chunks, all files in /dev/shm"
echo "fio: $(fio --version), nbd engine; first writes: one pass over the whole origin, rewrites: four"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
printf '%-10s %-18s %13s %15s\n' snapshots workload "first MiB/s" "rewrite MiB/s"
IFS=, read -r -a LOADS <<<"${WORKLOADS:-write 1M 8,randwrite 4k 32}"
for n in ${SNAPSHOTS:-0 1 3}; do
  for w in "${LOADS[@]}"; do
    read -r rw bs depth <<<"$w"
    setup "$n"
    first=$(pass "$rw" "$bs" "$depth" 1)
    again=$(pass "$rw" "$bs" "$depth" 4)
    if [[ $n -gt 0 ]]; then
      case $(jdm status s1 | head -1) in
        *Invalid* | *Overflow*) echo "snapshot bench: s1 is not valid after the run" >&2; exit 1 ;;
      esac
    fi
    teardown "$n"
    printf '%-10s %-18s %13s %15s\n' "$n" "$rw $bs qd$depth" "$first" "$again"
  done
done
