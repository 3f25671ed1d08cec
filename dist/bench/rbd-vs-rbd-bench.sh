#!/usr/bin/env bash
# Compares a jdm linear device over a Ceph RBD image with `rbd bench` on the same image: fio's nbd
# engine through jdm's NBD server (jdm -> librbd) against librbd driven by rbd bench itself, and by
# fio's own rbd engine (the same fio, no jdm and no NBD hop in between), 4 KiB random and 1 MiB
# sequential, reads and writes, 16 in flight. Starts its own single-node cluster
# (monitor, memstore OSD, manager on 127.0.0.1) unless CEPH_CONF names one. A benchmark, not a
# test: it asserts nothing.
#
# Usage: dist/bench/rbd-vs-rbd-bench.sh        (from the repository root, builds jdm when needed)
# Environment:
#   SIZE=1G          the image's size; sequential runs move all of it, random runs a quarter
#   DEPTH=16         requests in flight (fio's iodepth, rbd bench's --io-threads)
#   ROUNDS=1         how many times to alternate the pair of runs per workload
#   RBD_CACHE=false  librbd's cache for both sides (jdm turns it off unless a path asks for it;
#                    rbd bench would otherwise acknowledge writes before the OSD has them)
#   CEPH_CONF=path   an existing cluster's ceph.conf (then POOL=rbd is used, and not deleted)
#   JDM=path         the jdm launcher (default dist/target/jdm/bin/jdm, built when missing)
#   JAVA_HOME        a JDK 25 (default /usr/lib/jvm/temurin-25-jdk-amd64)
#   WORKLOADS        which of "randwrite 4k,randread 4k,write 1M,read 1M" to run
set -euo pipefail

SIZE=${SIZE:-1G}
DEPTH=${DEPTH:-16}
RBD_CACHE=${RBD_CACHE:-false}
ROUNDS=${ROUNDS:-1}
POOL=${POOL:-rbd}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
JDM=${JDM:-$ROOT/dist/target/jdm/bin/jdm}
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}

for tool in fio rbd ceph python3; do
  command -v "$tool" >/dev/null || { echo "rbd-vs-rbd-bench: $tool is not installed" >&2; exit 1; }
done

WORK=$(mktemp -d /tmp/rbd-bench.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

bytes() { numfmt --from=iec "$1"; }
IMAGE_BYTES=$(bytes "$SIZE")

# ------------------------------------------------------------------ the cluster
if [[ -z ${CEPH_CONF:-} ]]; then
  for tool in ceph-mon ceph-osd ceph-mgr monmaptool; do
    command -v "$tool" >/dev/null || { echo "rbd-vs-rbd-bench: $tool is not installed" >&2; exit 1; }
  done
  CEPH_CONF=$WORK/ceph.conf
  mkdir -p "$WORK"/{mon,osd,mgr,run,log}
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  FSID=$(cat /proc/sys/kernel/random/uuid)
  sed -e "s|@FSID@|$FSID|; s|@PORT@|$PORT|; s|@DIR@|$WORK|g" \
    -e "s|@STORE_BYTES@|$((IMAGE_BYTES * 2 + (512 << 20)))|" \
    "$ROOT/core/testkit/src/main/resources/dev/jdm/testkit/ceph-single-node.conf" >"$CEPH_CONF"
  echo "starting a single-node Ceph cluster in $WORK" >&2
  monmaptool --create --fsid "$FSID" --addv a "[v2:127.0.0.1:$PORT]" "$WORK/monmap" >/dev/null
  ceph-mon -c "$CEPH_CONF" --mkfs -i a --monmap "$WORK/monmap"
  ceph-mon -f -c "$CEPH_CONF" -i a >"$WORK/log/mon.out" 2>&1 &
  PIDS+=($!)
  UUID=$(cat /proc/sys/kernel/random/uuid)
  OSD=$(ceph -c "$CEPH_CONF" --connect-timeout 30 osd new "$UUID")
  ceph-osd -c "$CEPH_CONF" -i "$OSD" --mkfs --osd-uuid "$UUID" >/dev/null 2>&1
  ceph-osd -f -c "$CEPH_CONF" -i "$OSD" >"$WORK/log/osd.out" 2>&1 &
  PIDS+=($!)
  ceph-mgr -f -c "$CEPH_CONF" -i x >"$WORK/log/mgr.out" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 300); do
    ceph -c "$CEPH_CONF" osd stat 2>/dev/null | grep -q '1 up' && break
    sleep 0.2
  done
  ceph -c "$CEPH_CONF" osd pool create "$POOL" 8 >/dev/null 2>&1
  rbd -c "$CEPH_CONF" pool init "$POOL"
  for _ in $(seq 300); do
    ceph -c "$CEPH_CONF" pg stat | grep -Eq '([0-9]+) pgs: \1 active\+clean' && break
    sleep 0.2
  done
  CLUSTER="single-node, memstore OSD, in $WORK"
else
  CLUSTER="$CEPH_CONF"
fi
# fio's rbd engine takes no Ceph options: it reads them from this copy of the configuration.
CLIENT_CONF=$WORK/client.conf
{ cat "$CEPH_CONF"; printf '\n[client]\nrbd cache = %s\n' "$RBD_CACHE"; } >"$CLIENT_CONF"
IMAGE=jdm-bench-$$
rbd -c "$CEPH_CONF" create "$POOL/$IMAGE" --size "$SIZE"
trap 'rbd -c "$CEPH_CONF" rm "$POOL/$IMAGE" >/dev/null 2>&1 || true; cleanup' EXIT
echo "filling $POOL/$IMAGE ($SIZE) so that reads find data" >&2
rbd -c "$CEPH_CONF" bench --io-type write --io-size 4M --io-pattern seq --io-total "$SIZE" \
  "$POOL/$IMAGE" >/dev/null

# ------------------------------------------------------------------ jdm
if [[ ! -x $JDM && $JDM == "$ROOT/dist/target/jdm/bin/jdm" ]]; then
  (cd "$ROOT" && mvn -B -q -DskipTests package >&2)
fi
[[ -x $JDM ]] || { echo "rbd-vs-rbd-bench: $JDM is not a jdm launcher" >&2; exit 1; }
SOCK=$WORK/jdm.sock
cat >"$WORK/jdm.conf" <<EOF
jdm.runtime-dir = "$WORK/jdm-run"
jdm.state-dir = "$WORK/jdm-state"
jdm.devices { disk { table = "0 $((IMAGE_BYTES / 512)) linear rbd:$POOL/$IMAGE:conf=$CEPH_CONF:rbd_cache=$RBD_CACHE 0" } }
EOF
"$JDM" serve --config "$WORK/jdm.conf" --nbd "unix:$SOCK" >"$WORK/jdm.log" 2>&1 &
JDM_PID=$!
PIDS+=("$JDM_PID")
for _ in $(seq 150); do
  [[ -S $SOCK ]] && break
  sleep 0.2
done
[[ -S $SOCK ]] || { echo "jdm did not start:" >&2; cat "$WORK/jdm.log" >&2; exit 1; }

# run-rbd TYPE PATTERN BS TOTAL -> "MiB/s IOPS"
run_rbd() {
  rbd -c "$CEPH_CONF" --rbd_cache="$RBD_CACHE" bench --io-type "$1" --io-pattern "$2" \
    --io-size "$3" --io-threads "$DEPTH" --io-total "$4" "$POOL/$IMAGE" >"$WORK/rbd-bench.out" 2>&1
  python3 - "$WORK/rbd-bench.out" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
m = re.search(r"elapsed: *([\d.]+) +ops: *(\d+) +ops/sec: *([\d.]+) +bytes/sec: *([\d.]+) *(\w*)",
              text)
if not m:
    sys.exit("rbd bench said: " + text)
mult = {"": 1, "B": 1, "KiB": 1024, "MiB": 1 << 20, "GiB": 1 << 30}
rate = float(m.group(4)) * mult.get(m.group(5), 1)
print(f"{rate / 1048576:.1f} {float(m.group(3)):.0f}")
EOF
}

# fio-json FILE -> "MiB/s IOPS"
fio_rate() {
  python3 - "$1" <<'EOF'
import json, sys
job = json.load(open(sys.argv[1]))["jobs"][0]
io = job["read"] if job["read"]["io_bytes"] > 0 else job["write"]
print(f'{io["bw_bytes"] / 1048576:.1f} {io["iops"]:.0f}')
EOF
}

# run-fio-rbd RW BS TOTAL -> "MiB/s IOPS"
run_fio_rbd() {
  local out=$WORK/fio-rbd-$1-$2.json
  CEPH_CONF=$CLIENT_CONF fio --name=rbd --ioengine=rbd --pool="$POOL" --rbdname="$IMAGE" \
    --clientname=admin --rw="$1" --bs="$2" --iodepth="$DEPTH" --size="$SIZE" --io_size="$3" \
    --norandommap --randrepeat=0 --output-format=json --output="$out" >/dev/null
  fio_rate "$out"
}

# run-jdm RW BS TOTAL -> "MiB/s IOPS CPU%"
run_jdm() {
  local out=$WORK/fio-$1-$2.json before after start end
  before=$(awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$JDM_PID/stat")
  start=$(date +%s.%N)
  fio --name=jdm --ioengine=nbd --uri="nbd+unix:///disk?socket=$SOCK" --rw="$1" --bs="$2" \
    --iodepth="$DEPTH" --size="$SIZE" --io_size="$3" --norandommap --randrepeat=0 \
    --output-format=json --output="$out" >/dev/null
  end=$(date +%s.%N)
  after=$(awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$JDM_PID/stat")
  echo "$(fio_rate "$out") $(echo "($after - $before) * 100 / ($end - $start)" | bc -l)"
}

echo "cluster: $CLUSTER; $(ceph --version | cut -d' ' -f1-3)"
echo "image: $POOL/$IMAGE, $SIZE; $DEPTH in flight; rbd_cache=$RBD_CACHE; $ROUNDS round(s)"
echo "jdm: $JDM serve, linear over the image, fio $(fio --version) nbd engine over a Unix socket"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
printf '%-16s %10s %8s   %9s %8s   %9s %8s %5s   %8s %8s\n' workload "rbd MiB/s" IOPS \
  "fio-rbd" IOPS "jdm MiB/s" IOPS CPU "jdm/rbd" "jdm/fio"
IFS=, read -r -a LOADS <<<"${WORKLOADS:-randwrite 4k,randread 4k,write 1M,read 1M}"
for w in "${LOADS[@]}"; do
  read -r rw bs <<<"$w"
  case $rw in
    randwrite) type=write pattern=rand total=$((IMAGE_BYTES / 4)) ;;
    randread) type=read pattern=rand total=$((IMAGE_BYTES / 4)) ;;
    write) type=write pattern=seq total=$IMAGE_BYTES ;;
    read) type=read pattern=seq total=$IMAGE_BYTES ;;
  esac
  rb=0 ri=0 fb=0 fi=0 jb=0 ji=0 jc=0
  for _ in $(seq "$ROUNDS"); do
    read -r b i < <(run_rbd "$type" "$pattern" "${bs^^}" "$total")
    rb=$(echo "$rb + $b" | bc); ri=$(echo "$ri + $i" | bc)
    read -r b i < <(run_fio_rbd "$rw" "$bs" "$total")
    fb=$(echo "$fb + $b" | bc); fi=$(echo "$fi + $i" | bc)
    read -r b i c < <(run_jdm "$rw" "$bs" "$total")
    jb=$(echo "$jb + $b" | bc); ji=$(echo "$ji + $i" | bc); jc=$(echo "$jc + $c" | bc)
  done
  printf '%-16s %10.1f %8.0f   %9.1f %8.0f   %9.1f %8.0f %4.0f%%   %8.2f %8.2f\n' "$rw $bs" \
    "$(echo "$rb / $ROUNDS" | bc -l)" "$(echo "$ri / $ROUNDS" | bc -l)" \
    "$(echo "$fb / $ROUNDS" | bc -l)" "$(echo "$fi / $ROUNDS" | bc -l)" \
    "$(echo "$jb / $ROUNDS" | bc -l)" "$(echo "$ji / $ROUNDS" | bc -l)" \
    "$(echo "$jc / $ROUNDS" | bc -l)" "$(echo "$ji / $ri" | bc -l)" "$(echo "$ji / $fi" | bc -l)"
done
