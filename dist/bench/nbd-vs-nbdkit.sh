#!/usr/bin/env bash
# Compares jdm's NBD server with nbdkit's file plugin over the same 1 GiB file in /dev/shm, with
# fio's nbd engine over Unix sockets. Runs each workload on jdm then on nbdkit, alternating, and
# prints MiB/s, IOPS, server CPU and the ratio jdm/nbdkit. A benchmark, not a test: it asserts
# nothing.
#
# Usage: dist/bench/nbd-vs-nbdkit.sh            (from the repository root, builds jdm first when needed)
# Environment:
#   RUNTIME=10 RAMP=2   seconds per run and of ramp before it
#   ROUNDS=1            how many times to alternate the pair of runs per workload
#   SIZE=1G             the backing file's size
#   JDM=path            the jdm launcher (default dist/target/jdm/bin/jdm, built when missing)
#   JAVA_HOME           a JDK 25 (default /usr/lib/jvm/temurin-25-jdk-amd64)
#   JDM_JAVA_OPTS       extra JVM options for jdm
#   WORKLOADS           which of "read 1M 8,write 1M 8,randread 4k 32,randwrite 4k 32" to run
set -euo pipefail

RUNTIME=${RUNTIME:-10}
RAMP=${RAMP:-2}
ROUNDS=${ROUNDS:-1}
SIZE=${SIZE:-1G}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
JDM=${JDM:-$ROOT/dist/target/jdm/bin/jdm}
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}

for tool in fio nbdkit python3; do
  command -v "$tool" >/dev/null || { echo "nbd-vs-nbdkit: $tool is not installed" >&2; exit 1; }
done

WORK=$(mktemp -d /tmp/nbd-bench.XXXXXX)
FILE=/dev/shm/nbd-bench-$$.img
JDM_SOCK=$WORK/jdm.sock
KIT_SOCK=$WORK/nbdkit.sock
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK" "$FILE"
}
trap cleanup EXIT

echo "preparing $SIZE of random data in $FILE" >&2
head -c "$SIZE" /dev/urandom >"$FILE"
SECTORS=$(($(stat -c %s "$FILE") / 512))
TABLE="0 $SECTORS linear $FILE 0"

# jdm: the distribution's launcher when built, else the test-scope standalone server.
# From a fresh clone: builds the distribution first, so one command does it all.
if [[ ! -x $JDM && $JDM == "$ROOT/dist/target/jdm/bin/jdm" ]]; then
  (cd "$ROOT" && mvn -B -q -DskipTests package >&2)
fi
if [[ -x $JDM ]]; then
  cat >"$WORK/jdm.conf" <<EOF
jdm.runtime-dir = "$WORK/run"
jdm.state-dir = "$WORK/state"
jdm.devices { disk { table = "$TABLE" } }
EOF
  JDM_JAVA_OPTS="${JDM_JAVA_OPTS:-}" "$JDM" serve --config "$WORK/jdm.conf" --nbd "unix:$JDM_SOCK" \
    >"$WORK/jdm.log" 2>&1 &
  JDM_HOW="$JDM serve"
else
  echo "nbd-vs-nbdkit: $JDM is not a jdm launcher" >&2
  exit 1
fi
JDM_PID=$!
PIDS+=("$JDM_PID")
nbdkit --foreground --unix "$KIT_SOCK" file "$FILE" >"$WORK/nbdkit.log" 2>&1 &
KIT_PID=$!
PIDS+=("$KIT_PID")

for _ in $(seq 100); do
  [[ -S $JDM_SOCK && -S $KIT_SOCK ]] && break
  sleep 0.2
done
[[ -S $JDM_SOCK ]] || { echo "jdm did not start:" >&2; cat "$WORK/jdm.log" >&2; exit 1; }
[[ -S $KIT_SOCK ]] || { echo "nbdkit did not start:" >&2; cat "$WORK/nbdkit.log" >&2; exit 1; }

# CPU seconds (user + system) a process and its threads have used so far.
cpu_seconds() {
  awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"
}

# run SERVER-PID SOCKET NAME RW BS DEPTH -> "MiB/s IOPS CPU%"
run() {
  local pid=$1 sock=$2 rw=$4 bs=$5 depth=$6 before after out
  out=$WORK/fio-$3-$rw-$bs.json
  before=$(cpu_seconds "$pid")
  fio --name="$3" --ioengine=nbd --uri="nbd+unix:///disk?socket=$sock" --rw="$rw" --bs="$bs" \
    --iodepth="$depth" --size="$SIZE" --time_based --runtime="$RUNTIME" --ramp_time="$RAMP" \
    --norandommap --randrepeat=0 --output-format=json --output="$out" >/dev/null
  after=$(cpu_seconds "$pid")
  python3 - "$out" "$before" "$after" "$((RUNTIME + RAMP))" <<'EOF'
import json, sys
job = json.load(open(sys.argv[1]))["jobs"][0]
io = job["read"] if job["read"]["io_bytes"] > 0 else job["write"]
cpu = (float(sys.argv[3]) - float(sys.argv[2])) / float(sys.argv[4]) * 100
print(f'{io["bw_bytes"] / 1048576:.1f} {io["iops"]:.0f} {cpu:.0f}')
EOF
}

echo "jdm: $JDM_HOW"
echo "nbdkit: $(nbdkit --version), file plugin, default threads"
echo "fio: $(fio --version); ${RUNTIME}s runs after ${RAMP}s ramp; $ROUNDS round(s); file $SIZE in /dev/shm"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
printf '%-18s %9s %8s %5s %6s   %9s %8s %5s %6s   %6s\n' workload "jdm MiB/s" IOPS CPU us/IO \
  "kit MiB/s" IOPS CPU us/IO ratio
IFS=, read -r -a LOADS <<<"${WORKLOADS:-read 1M 8,write 1M 8,randread 4k 32,randwrite 4k 32}"
for w in "${LOADS[@]}"; do
  read -r rw bs depth <<<"$w"
  jb=0 ji=0 jc=0 kb=0 ki=0 kc=0
  for _ in $(seq "$ROUNDS"); do
    read -r b i c < <(run "$JDM_PID" "$JDM_SOCK" jdm "$rw" "$bs" "$depth")
    jb=$(echo "$jb + $b" | bc); ji=$(echo "$ji + $i" | bc); jc=$(echo "$jc + $c" | bc)
    read -r b i c < <(run "$KIT_PID" "$KIT_SOCK" nbdkit "$rw" "$bs" "$depth")
    kb=$(echo "$kb + $b" | bc); ki=$(echo "$ki + $i" | bc); kc=$(echo "$kc + $c" | bc)
  done
  # CPU per I/O: percent of a core over the run, divided by I/Os per second.
  printf '%-18s %9.1f %8.0f %4.0f%% %6.1f   %9.1f %8.0f %4.0f%% %6.1f   %6.2f\n' \
    "$rw $bs qd$depth" \
    "$(echo "$jb / $ROUNDS" | bc -l)" "$(echo "$ji / $ROUNDS" | bc -l)" \
    "$(echo "$jc / $ROUNDS" | bc -l)" "$(echo "$jc * 10000 / $ji" | bc -l)" \
    "$(echo "$kb / $ROUNDS" | bc -l)" "$(echo "$ki / $ROUNDS" | bc -l)" \
    "$(echo "$kc / $ROUNDS" | bc -l)" "$(echo "$kc * 10000 / $ki" | bc -l)" \
    "$(echo "$ji / $ki" | bc -l)"
done
