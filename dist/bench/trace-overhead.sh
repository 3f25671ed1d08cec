#!/usr/bin/env bash
# What tracing costs: fio's nbd engine does 4 KiB random writes through jdm's NBD frontend (Unix
# socket) to a linear device over a file in /dev/shm, in runs that alternate tracing off and on
# (off-on, then on-off, ...). Prints each run's IOPS and jdm's CPU time per request, then the
# medians and the overhead of tracing. A benchmark, not a test: it asserts nothing.
#
# Usage: dist/bench/trace-overhead.sh               (from the repository root, after
#                                                    `mvn -pl dist -am package -DskipTests`)
#        dist/bench/trace-overhead.sh --in-process  (no frontend: threads submit to the device in
#                                                    one JVM; see TraceOverheadBench)
# Environment:
#   RUNTIME=10 RAMP=2   seconds per run and of ramp before it
#   ROUNDS=6            runs of each kind (tracing off, tracing on)
#   SIZE=1G             the device's size
#   DEPTH=32 JOBS=2     fio's iodepth and numjobs (one NBD connection per job)
#   TRACE_DIR=dir       where the trace file goes (default: a temp dir under /tmp, on disk)
#   JDM=path            the jdm launcher (default dist/target/jdm/bin/jdm)
#   JAVA_HOME           a JDK 25 (default /usr/lib/jvm/temurin-25-jdk-amd64)
#   THREADS=2           --in-process: submitting threads
set -euo pipefail

RUNTIME=${RUNTIME:-10}
RAMP=${RAMP:-2}
ROUNDS=${ROUNDS:-6}
SIZE=${SIZE:-1G}
DEPTH=${DEPTH:-32}
JOBS=${JOBS:-2}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
JDM=${JDM:-$ROOT/dist/target/jdm/bin/jdm}
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}

WORK=$(mktemp -d /tmp/trace-bench.XXXXXX)
FILE=/dev/shm/trace-bench-$$.img
TRACE=${TRACE_DIR:-$WORK}/trace-bench-$$.csv
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK" "$FILE" "$TRACE"
}
trap cleanup EXIT

machine="$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'),"
machine="$machine load $(cut -d' ' -f1-3 /proc/loadavg)"

if [[ ${1:-} == --in-process ]]; then
  CP_FILE=$ROOT/dist/target/bench-cp.txt
  (cd "$ROOT" && mvn -B -q -o -pl dist -am -DskipTests package dependency:build-classpath \
    -Dmdep.outputFile="$CP_FILE" -Dmdep.includeScope=test >&2)
  CP=$ROOT/dist/target/test-classes:$ROOT/dist/target/classes:$(cat "$CP_FILE")
  echo "machine: $machine"
  "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -Dlogback.configurationFile=/dev/null \
    -cp "$CP" dev.jdm.daemon.TraceOverheadBench "$FILE" "$TRACE" "${THREADS:-2}" "$RUNTIME" \
    "$ROUNDS"
  exit 0
fi

for tool in fio python3; do
  command -v "$tool" >/dev/null || { echo "trace-overhead: $tool is not installed" >&2; exit 1; }
done
# From a fresh clone: builds the distribution first, so one command does it all.
if [[ ! -x $JDM && $JDM == "$ROOT/dist/target/jdm/bin/jdm" ]]; then
  (cd "$ROOT" && mvn -B -q -DskipTests package >&2)
fi
[[ -x $JDM ]] || { echo "trace-overhead: $JDM missing: mvn -pl dist -am package -DskipTests" >&2
  exit 1; }

fallocate -l "$SIZE" "$FILE"
SECTORS=$(($(stat -c %s "$FILE") / 512))
SOCK=$WORK/nbd.sock
cat >"$WORK/jdm.conf" <<EOF
jdm {
  runtime-dir = "$WORK/run"
  state-dir = "$WORK/state"
  devices.bench.table = "0 $SECTORS linear $FILE 0"
  frontends.nbd { enabled = true, listen = ["unix:$SOCK"] }
}
EOF
"$JDM" serve --config "$WORK/jdm.conf" >"$WORK/jdm.log" 2>&1 &
JDM_PID=$!
PIDS+=("$JDM_PID")
for _ in $(seq 600); do
  grep -q "jdm ready" "$WORK/jdm.log" && break
  kill -0 "$JDM_PID" 2>/dev/null || break
  sleep 0.2
done
grep -q "jdm ready" "$WORK/jdm.log" || { echo "jdm did not start:" >&2; cat "$WORK/jdm.log" >&2
  exit 1; }
# The JVM the launcher started (the launcher execs it, so this is the same pid).
JAVA_PID=$JDM_PID
ctl() { "$JDM" --runtime-dir "$WORK/run" "$@"; }

# CPU seconds (user + system) a process and its threads have used so far.
cpu_seconds() {
  awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"
}

# run -> "IOPS CPU-us-per-request"
run() {
  local out=$WORK/fio.json before after
  before=$(cpu_seconds "$JAVA_PID")
  fio --name=randwrite --ioengine=nbd --uri="nbd+unix:///bench?socket=$SOCK" --rw=randwrite \
    --bs=4k --iodepth="$DEPTH" --numjobs="$JOBS" --group_reporting --size="$SIZE" \
    --time_based --runtime="$RUNTIME" --ramp_time="$RAMP" --norandommap --randrepeat=0 \
    --output-format=json --output="$out" >/dev/null
  after=$(cpu_seconds "$JAVA_PID")
  python3 - "$out" "$before" "$after" "$((RUNTIME + RAMP))" <<'EOF'
import json, sys
w = json.load(open(sys.argv[1]))["jobs"][0]["write"]
cpu = float(sys.argv[3]) - float(sys.argv[2])
# CPU is measured over ramp + run; fio's IOPS over the run: scale to the same span.
print(f'{w["iops"]:.0f} {cpu / (w["iops"] * float(sys.argv[4])) * 1e6:.2f}')
EOF
}

echo "jdm: $JDM serve, NBD on a Unix socket, device: linear over $SIZE in /dev/shm"
echo "fio: $(fio --version), randwrite 4k, iodepth $DEPTH, $JOBS job(s); ${RUNTIME}s runs after ${RAMP}s ramp"
echo "trace file: $TRACE"
echo "machine: $machine"
echo
# Warm up both paths (JIT, page cache of the file) before measuring anything.
run >/dev/null
ctl trace start bench --output "$TRACE" >/dev/null
run >/dev/null
ctl trace stop bench >/dev/null 2>&1
rm -f "$TRACE"

printf '%-6s %-5s %10s %14s %s\n' round trace IOPS "CPU us/req" "trace stop"
OFF=()
ON=()
for round in $(seq "$ROUNDS"); do
  order="off on"
  ((round % 2 == 0)) && order="on off"
  for mode in $order; do
    stopped=""
    if [[ $mode == on ]]; then
      ctl trace start bench --output "$TRACE" >/dev/null
    fi
    read -r iops cpu < <(run)
    if [[ $mode == on ]]; then
      stopped=$(ctl trace stop bench 2>&1 | tr '\n' ' ')
      stopped=${stopped#"$TRACE": }
      rm -f "$TRACE"
      ON+=("$iops $cpu")
    else
      OFF+=("$iops $cpu")
    fi
    printf '%-6s %-5s %10s %14s %s\n' "$round" "$mode" "$iops" "$cpu" "$stopped"
  done
done

python3 - "${OFF[@]}" -- "${ON[@]}" <<'EOF'
import statistics, sys
args = sys.argv[1:]
cut = args.index("--")
off = [tuple(map(float, a.split())) for a in args[:cut]]
on = [tuple(map(float, a.split())) for a in args[cut + 1:]]
med = lambda xs, i: statistics.median(x[i] for x in xs)
io_off, io_on = med(off, 0), med(on, 0)
cpu_off, cpu_on = med(off, 1), med(on, 1)
print()
print(f"median IOPS        off {io_off:9.0f}   on {io_on:9.0f}   overhead {(io_off - io_on) / io_off * 100:5.1f} %")
print(f"median CPU us/req  off {cpu_off:9.2f}   on {cpu_on:9.2f}   overhead {(cpu_on - cpu_off) / cpu_off * 100:5.1f} %")
EOF
