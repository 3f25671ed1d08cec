#!/usr/bin/env bash
# Compares jdm's FUSE file with nbdfuse serving nbdkit's memory plugin, both with O_DIRECT fio
# (psync): 1 MiB sequential read and write, 4 KiB random read and write, each with 1 and 4 jobs;
# then losetup + mkfs.ext4 + mount + a 256 MiB write on each. jdm serves a linear device over a
# file in /dev/shm; fio on that file directly is the baseline for 1 MiB reads. Prints MiB/s, IOPS,
# the servers' CPU and the ratio jdm/nbdfuse. A benchmark, not a test: it asserts nothing.
#
# Usage: dist/bench/fuse-vs-nbdfuse.sh          (from anywhere, as root, builds jdm first when needed)
# Environment:
#   RUNTIME=10 RAMP=2   seconds per run and of ramp before it
#   WARMUP=10           seconds of mixed I/O on each mount before measuring (lets the JIT compile)
#   SIZE=1G             the device's size (the /dev/shm file and nbdkit's memory)
#   JDM=path            the jdm launcher (default dist/target/jdm/bin/jdm, built when missing)
#   JAVA_HOME           a JDK 25 (default /usr/lib/jvm/temurin-25-jdk-amd64)
#   JDM_JAVA_OPTS       extra JVM options for jdm
#   WORKLOADS           which of "read 1M,write 1M,randread 4k,randwrite 4k" to run
#   JOBS                the fio job counts to run each workload with (default "1 4")
#   MKFS=1              0 skips the loop + mkfs + 256 MiB write part
set -euo pipefail

RUNTIME=${RUNTIME:-10}
RAMP=${RAMP:-2}
WARMUP=${WARMUP:-10}
SIZE=${SIZE:-1G}
JOBS=${JOBS:-1 4}
MKFS=${MKFS:-1}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
JDM=${JDM:-$ROOT/dist/target/jdm/bin/jdm}
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}

for tool in fio nbdkit nbdfuse nbdcopy fusermount3 losetup mkfs.ext4 python3 bc; do
  command -v "$tool" >/dev/null || { echo "fuse-vs-nbdfuse: $tool is not installed" >&2; exit 1; }
done
[[ $(id -u) == 0 ]] || { echo "fuse-vs-nbdfuse: run as root (mount, losetup)" >&2; exit 1; }

WORK=$(mktemp -d /tmp/fuse-bench.XXXXXX)
FILE=/dev/shm/fuse-bench-$$.img
JDM_DIR=$WORK/jdm
KIT_DIR=$WORK/nbdfuse
KIT_SOCK=$WORK/nbdkit.sock
mkdir -p "$JDM_DIR" "$KIT_DIR" "$WORK/ext4"
PIDS=()
LOOP=""
cleanup() {
  mountpoint -q "$WORK/ext4" && umount "$WORK/ext4"
  [[ -n $LOOP ]] && losetup -d "$LOOP" 2>/dev/null
  mountpoint -q "$KIT_DIR" && fusermount3 -u "$KIT_DIR"
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  mountpoint -q "$JDM_DIR" && umount -l "$JDM_DIR"
  rm -rf "$WORK" "$FILE"
}
trap cleanup EXIT

echo "preparing $SIZE of random data in $FILE" >&2
head -c "$SIZE" /dev/urandom >"$FILE"
BYTES=$(stat -c %s "$FILE")
TABLE="0 $((BYTES / 512)) linear $FILE 0"

# From a fresh clone: builds the distribution first, so one command does it all.
if [[ ! -x $JDM && $JDM == "$ROOT/dist/target/jdm/bin/jdm" ]]; then
  (cd "$ROOT" && mvn -B -q -DskipTests package >&2)
fi
if [[ -x $JDM ]]; then
  # Its own runtime and state directories, and no NBD server: nothing shared with another jdm.
  cat >"$WORK/jdm.conf" <<EOF
jdm.state-dir = "$WORK/state"
jdm.devices { disk { table = "$TABLE" } }
jdm.frontends.nbd.enabled = false
EOF
  JDM_JAVA_OPTS="${JDM_JAVA_OPTS:-}" "$JDM" --runtime-dir "$WORK/run" serve \
    --config "$WORK/jdm.conf" --fuse "$JDM_DIR" >"$WORK/jdm.log" 2>&1 &
  JDM_HOW="$JDM serve --fuse"
else
  echo "fuse-vs-nbdfuse: $JDM is not a jdm launcher" >&2
  exit 1
fi
JDM_PID=$!
PIDS+=("$JDM_PID")

nbdkit --foreground --unix "$KIT_SOCK" memory "$BYTES" >"$WORK/nbdkit.log" 2>&1 &
KIT_PID=$!
PIDS+=("$KIT_PID")
for _ in $(seq 100); do [[ -S $KIT_SOCK ]] && break; sleep 0.2; done
[[ -S $KIT_SOCK ]] || { echo "nbdkit did not start:" >&2; cat "$WORK/nbdkit.log" >&2; exit 1; }
nbdcopy "$FILE" "nbd+unix:///?socket=$KIT_SOCK"
nbdfuse "$KIT_DIR/nbd" --unix "$KIT_SOCK" >"$WORK/nbdfuse.log" 2>&1 &
FUSE_PID=$!
PIDS+=("$FUSE_PID")

for _ in $(seq 150); do [[ -f $JDM_DIR/disk && -f $KIT_DIR/nbd ]] && break; sleep 0.2; done
[[ -f $JDM_DIR/disk ]] || { echo "jdm did not mount:" >&2; cat "$WORK/jdm.log" >&2; exit 1; }
[[ -f $KIT_DIR/nbd ]] || { echo "nbdfuse did not mount:" >&2; cat "$WORK/nbdfuse.log" >&2; exit 1; }

# CPU seconds (user + system) the given processes and their threads have used so far.
cpu_seconds() {
  local hz total=0 p
  hz=$(getconf CLK_TCK)
  for p in "$@"; do
    total=$(echo "$total + $(awk -v hz="$hz" '{ print ($14 + $15) / hz }' "/proc/$p/stat")" | bc -l)
  done
  echo "$total"
}

# run FILE NAME RW BS JOBS PIDS... -> "MiB/s IOPS CPU%"
run() {
  local file=$1 name=$2 rw=$3 bs=$4 jobs=$5 before after out
  shift 5
  out=$WORK/fio-$name-$rw-$bs-$jobs.json
  before=$(cpu_seconds "$@")
  fio --name="$name" --filename="$file" --rw="$rw" --bs="$bs" --numjobs="$jobs" --direct=1 \
    --ioengine=psync --size="$BYTES" --time_based --runtime="$RUNTIME" --ramp_time="$RAMP" \
    --norandommap --randrepeat=0 --group_reporting --output-format=json --output="$out" \
    >/dev/null
  after=$(cpu_seconds "$@")
  python3 - "$out" "$before" "$after" "$((RUNTIME + RAMP))" <<'EOF'
import json, sys
job = json.load(open(sys.argv[1]))["jobs"][0]
io = job["read"] if job["read"]["io_bytes"] > 0 else job["write"]
cpu = (float(sys.argv[3]) - float(sys.argv[2])) / float(sys.argv[4]) * 100
print(f'{io["bw_bytes"] / 1048576:.1f} {io["iops"]:.0f} {cpu:.0f}')
EOF
}

# Warm both mounts up with small and large I/O, so that jdm runs compiled code when measured.
for target in "$JDM_DIR/disk" "$KIT_DIR/nbd"; do
  for load in "randrw 4k 4" "read 1M 1"; do
    read -r rw bs jobs <<<"$load"
    fio --name=warmup --filename="$target" --rw="$rw" --bs="$bs" --numjobs="$jobs" --direct=1 \
      --ioengine=psync --size="$BYTES" --time_based --runtime="$((WARMUP / 2 + 1))" \
      --norandommap --randrepeat=0 --output=/dev/null
  done
done

echo "jdm: $JDM_HOW, linear over $FILE"
echo "nbdfuse: $(nbdfuse --version | head -1) over $(nbdkit --version) memory plugin"
echo "fio: $(fio --version), psync, O_DIRECT; ${RUNTIME}s runs after ${RAMP}s ramp; $SIZE;" \
  "${WARMUP}s warm-up each"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -r)"
echo
printf '%-20s %10s %9s %8s   %10s %9s %8s   %6s\n' workload "jdm MiB/s" "jdm IOPS" "jdm CPU" \
  "nbdfuse" "IOPS" "CPU" ratio
IFS=, read -r -a LOADS <<<"${WORKLOADS:-read 1M,write 1M,randread 4k,randwrite 4k}"
for w in "${LOADS[@]}"; do
  read -r rw bs <<<"$w"
  for jobs in $JOBS; do
    read -r jb ji jc < <(run "$JDM_DIR/disk" jdm "$rw" "$bs" "$jobs" "$JDM_PID")
    read -r kb ki kc < <(run "$KIT_DIR/nbd" nbdfuse "$rw" "$bs" "$jobs" "$FUSE_PID" "$KIT_PID")
    printf '%-20s %10.1f %9.0f %7.0f%%   %10.1f %9.0f %7.0f%%   %6.2f\n' \
      "$rw $bs x$jobs" "$jb" "$ji" "$jc" "$kb" "$ki" "$kc" "$(echo "$ji / $ki" | bc -l)"
    if [[ $rw == read && $bs == 1M ]]; then
      read -r tb ti _ < <(run "$FILE" tmpfs "$rw" "$bs" "$jobs" "$$")
      printf '%-20s %10.1f %9.0f %8s   jdm / tmpfs file %.2f\n' "  tmpfs file x$jobs" "$tb" "$ti" \
        "" "$(echo "$jb / $tb" | bc -l)"
    fi
  done
done

# loop device (buffered, then with --direct-io=on) + mkfs.ext4 + mount + 256 MiB written with
# fsync, on each FUSE file. -> "mkfs-seconds MiB/s"
ext4() {
  local file=$1 dio=$2 t0 t1 t2
  LOOP=$(losetup -f --show --direct-io="$dio" "$file")
  t0=$(date +%s.%N)
  mkfs.ext4 -q -F "$LOOP"
  t1=$(date +%s.%N)
  mount "$LOOP" "$WORK/ext4"
  dd if=/dev/zero of="$WORK/ext4/data" bs=1M count=256 conv=fsync status=none
  umount "$WORK/ext4"
  t2=$(date +%s.%N)
  losetup -d "$LOOP"
  LOOP=""
  echo "$(echo "$t1 - $t0" | bc -l) $(echo "256 / ($t2 - $t1)" | bc -l)"
}
if [[ $MKFS == 1 ]]; then
  echo
  printf '%-26s %10s %14s\n' "loop + ext4" "mkfs s" "256 MiB MiB/s"
  for dio in off on; do
    for side in "jdm $JDM_DIR/disk" "nbdfuse $KIT_DIR/nbd"; do
      read -r name file <<<"$side"
      read -r secs rate < <(ext4 "$file" "$dio")
      printf '%-26s %10.2f %14.1f\n' "$name, loop dio $dio" "$secs" "$rate"
    done
  done
fi
