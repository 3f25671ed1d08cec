#!/usr/bin/env bash
# jdm's crypt target against jdm's linear target on the same file, through NBD (fio's nbd engine
# over a Unix socket): 1 MiB sequential read and write, 4 KiB random read and write. Then the
# machine's AES-XTS figure: `cryptsetup benchmark` (the kernel's AES-NI code), or, where the kernel
# offers no AF_ALG crypto interface to user space, `openssl speed` of the same cipher (the same
# AES-NI instructions in user space). Prints MiB/s, IOPS, jdm's CPU, and crypt/linear and
# crypt/AES-XTS ratios. A benchmark, not a test: it asserts nothing.
#
# Usage: dist/bench/crypt.sh          (from anywhere, builds jdm first when needed)
# Environment:
#   RUNTIME=10 RAMP=3   seconds per run and of ramp before it
#   ROUNDS=2            runs of each workload on each device, averaged, alternating devices
#   SIZE=1G             the file's size (in /dev/shm)
#   KEYBITS=512         the XTS key: 256 (AES-128) or 512 (AES-256)
#   JDM=path            the jdm launcher (default dist/target/jdm/bin/jdm, built when missing)
#   JAVA_HOME           a JDK 25 (default /usr/lib/jvm/temurin-25-jdk-amd64)
#   JDM_JAVA_OPTS       extra JVM options for jdm
#   WORKLOADS           default "read 1M 8,write 1M 8,randread 4k 32,randwrite 4k 32" (rw bs depth)
set -euo pipefail

RUNTIME=${RUNTIME:-10}
RAMP=${RAMP:-3}
ROUNDS=${ROUNDS:-2}
SIZE=${SIZE:-1G}
KEYBITS=${KEYBITS:-512}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
JDM=${JDM:-$ROOT/dist/target/jdm/bin/jdm}
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}

for tool in fio python3 bc openssl; do
  command -v "$tool" >/dev/null || { echo "crypt: $tool is not installed" >&2; exit 1; }
done

WORK=$(mktemp -d /tmp/crypt-bench.XXXXXX)
FILE=/dev/shm/crypt-bench-$$.img
SOCK=$WORK/nbd.sock
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
KEY=$(head -c $((KEYBITS / 8)) /dev/urandom | od -An -tx1 | tr -d ' \n')

if [[ ! -x $JDM && $JDM == "$ROOT/dist/target/jdm/bin/jdm" ]]; then
  (cd "$ROOT" && mvn -B -q -DskipTests package >&2)
fi
[[ -x $JDM ]] || { echo "crypt: $JDM is not a jdm launcher" >&2; exit 1; }
# Both devices over the same file: linear shows what NBD and the file cost, crypt adds AES-XTS.
cat >"$WORK/jdm.conf" <<EOF
jdm.runtime-dir = "$WORK/run"
jdm.state-dir = "$WORK/state"
jdm.devices {
  linear { table = "0 $SECTORS linear $FILE 0" }
  crypt { table = "0 $SECTORS crypt aes-xts-plain64 $KEY 0 $FILE 0" }
}
EOF
JDM_JAVA_OPTS="${JDM_JAVA_OPTS:-}" "$JDM" serve --config "$WORK/jdm.conf" --nbd "unix:$SOCK" \
  >"$WORK/jdm.log" 2>&1 &
JDM_PID=$!
PIDS+=("$JDM_PID")
for _ in $(seq 100); do [[ -S $SOCK ]] && break; sleep 0.2; done
[[ -S $SOCK ]] || { echo "jdm did not start:" >&2; cat "$WORK/jdm.log" >&2; exit 1; }

cpu_seconds() {
  awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"
}

# run EXPORT RW BS DEPTH -> "MiB/s IOPS CPU%"
run() {
  local export=$1 rw=$2 bs=$3 depth=$4 before after out
  out=$WORK/fio-$export-$rw-$bs.json
  before=$(cpu_seconds "$JDM_PID")
  fio --name="$export" --ioengine=nbd --uri="nbd+unix:///$export?socket=$SOCK" --rw="$rw" \
    --bs="$bs" --iodepth="$depth" --size="$SIZE" --time_based --runtime="$RUNTIME" \
    --ramp_time="$RAMP" --norandommap --randrepeat=0 --output-format=json --output="$out" \
    >/dev/null
  after=$(cpu_seconds "$JDM_PID")
  python3 - "$out" "$before" "$after" "$((RUNTIME + RAMP))" <<'EOF'
import json, sys
job = json.load(open(sys.argv[1]))["jobs"][0]
io = job["read"] if job["read"]["io_bytes"] > 0 else job["write"]
cpu = (float(sys.argv[3]) - float(sys.argv[2])) / float(sys.argv[4]) * 100
print(f'{io["bw_bytes"] / 1048576:.1f} {io["iops"]:.0f} {cpu:.0f}')
EOF
}

# The machine's AES-XTS throughput in MiB/s: the kernel's through cryptsetup, else OpenSSL's.
xts_figure() {
  local out
  if out=$(cryptsetup benchmark -c aes-xts-plain64 -s "$KEYBITS" 2>/dev/null) \
      && grep -q MiB/s <<<"$out"; then
    # "    aes-xts   512b   3120.5 MiB/s   3150.2 MiB/s": the lower of encryption and decryption.
    awk '/MiB\/s/ { e = $3; d = $5; print (e < d ? e : d), "cryptsetup benchmark (kernel)" }' \
      <<<"$out"
    return
  fi
  local cipher=aes-$((KEYBITS / 2))-xts
  out=$(openssl speed -seconds 3 -bytes 1048576 -evp "$cipher" 2>/dev/null | tail -1)
  awk -v c="$cipher" '{ v = $2; sub(/k$/, "", v); printf "%.1f openssl speed -evp %s (no AF_ALG here for cryptsetup benchmark)\n", v * 1000 / 1048576, c }' <<<"$out"
}

# Warm-up: lets the JIT compile both paths before anything is measured.
for export in linear crypt; do
  for load in "randwrite 4k 16" "read 1M 8" "write 1M 8"; do
    read -r rw bs depth <<<"$load"
    fio --name=warmup --ioengine=nbd --uri="nbd+unix:///$export?socket=$SOCK" --rw="$rw" \
      --bs="$bs" --iodepth="$depth" --size="$SIZE" --time_based --runtime=3 --norandommap \
      --output=/dev/null
  done
done

read -r XTS XTS_HOW < <(xts_figure)
echo "jdm: $JDM serve --nbd unix, crypt aes-xts-plain64 ($KEYBITS-bit key) vs linear, same file"
echo "fio: $(fio --version), nbd engine; ${RUNTIME}s runs after ${RAMP}s ramp; $ROUNDS round(s); file $SIZE in /dev/shm"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "AES-XTS: $XTS MiB/s, $XTS_HOW"
echo
printf '%-18s %10s %8s %5s   %10s %8s %5s   %8s %8s\n' workload "crypt MiB/s" IOPS CPU \
  "linear" IOPS CPU "/linear" "/AES-XTS"
IFS=, read -r -a LOADS <<<"${WORKLOADS:-read 1M 8,write 1M 8,randread 4k 32,randwrite 4k 32}"
for w in "${LOADS[@]}"; do
  read -r rw bs depth <<<"$w"
  cb=0 ci=0 cc=0 lb=0 li=0 lc=0
  for _ in $(seq "$ROUNDS"); do
    read -r b i c < <(run crypt "$rw" "$bs" "$depth")
    cb=$(echo "$cb + $b" | bc); ci=$(echo "$ci + $i" | bc); cc=$(echo "$cc + $c" | bc)
    read -r b i c < <(run linear "$rw" "$bs" "$depth")
    lb=$(echo "$lb + $b" | bc); li=$(echo "$li + $i" | bc); lc=$(echo "$lc + $c" | bc)
  done
  printf '%-18s %10.1f %8.0f %4.0f%%   %10.1f %8.0f %4.0f%%   %8.2f %8.2f\n' \
    "$rw $bs qd$depth" \
    "$(echo "$cb / $ROUNDS" | bc -l)" "$(echo "$ci / $ROUNDS" | bc -l)" \
    "$(echo "$cc / $ROUNDS" | bc -l)" \
    "$(echo "$lb / $ROUNDS" | bc -l)" "$(echo "$li / $ROUNDS" | bc -l)" \
    "$(echo "$lc / $ROUNDS" | bc -l)" \
    "$(echo "$cb / $lb" | bc -l)" "$(echo "$cb / $ROUNDS / $XTS" | bc -l)"
done
