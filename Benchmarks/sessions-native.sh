#!/usr/bin/env bash
# Benchmarks/sessions-native.sh: the session workload as applications run it on Redis (plain
# HGETALL + EXPIRE, HSET + EXPIRE + SADD, ...) against the same mix through Sesame's SESSION.*
# commands (sesame-bench --sessions-native), for issue 8's target: >= 1.8x validations per
# second at equal server CPU.
#
# Servers are pinned to one CPU and sesame-bench to another (as compare.sh does); each round
# runs, in turn, redis (plain mix), sesame (native mix), sesame (plain mix, for reference) and
# redis (plain mix with --plain-validate checked), each after FLUSHALL and a fresh preload.
# Prints one line per run and the medians, with
#   validations/s            validate operations completed per second
#   validations/CPU-s        validate operations per second of server CPU time (utime+stime of
#                            all server threads over the measured run): the equal-CPU figure
#   CPU us/validate-op       the inverse, per validation (all of the run's server CPU charged to
#                            validations, so it includes the 20% of other operations)
# then, as a separate comparison, the redis-checked runs: the plain mix's validate done as an
# application must on Redis to get SESSION.VALIDATE TOUCH's semantics (HGETALL; absoluteExpiry
# checked in the client; then HSET lastActivity + EXPIRE, or DEL + SREM when past it: two round
# trips, counted as one validation), with the medians of every run and native / checked ratios;
# then a server-bound check of the validation path alone (redis-benchmark, see below).
#
# Environment: ROUNDS (3) SESSIONS (50000) DURATION (8) CONNECTIONS (50) PIPELINE (1)
#   REDIS_PORT (7479) SESAME_PORT (7480) SERVER_CPU (1) CLIENT_CPU (0) SKIP_BUILD=1
#   BUILD_PATH (.build: swift build's --scratch-path) MICRO_N (300000)
#   OUT (directory for the JSON reports; default a temporary one)
set -uo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}; SESSIONS=${SESSIONS:-50000}; DURATION=${DURATION:-8}
CONNECTIONS=${CONNECTIONS:-50}; PIPELINE=${PIPELINE:-1}
REDIS_PORT=${REDIS_PORT:-7479}; SESAME_PORT=${SESAME_PORT:-7480}
SERVER_CPU=${SERVER_CPU:-1}; CLIENT_CPU=${CLIENT_CPU:-0}
OUT=${OUT:-$(mktemp -d /tmp/sessions-native.XXXXXX)}
mkdir -p "$OUT"

BUILD_PATH=${BUILD_PATH:-.build}
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  swift build -c release --scratch-path "$BUILD_PATH" --product sesame-bench >/dev/null || exit 1
  swift build -c release --scratch-path "$BUILD_PATH" --product sesame-server >/dev/null || exit 1
fi
BENCH=$BUILD_PATH/release/sesame-bench
SESAME=$BUILD_PATH/release/sesame-server

taskset -c "$SERVER_CPU" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize no >"$OUT/redis.log" 2>&1 &
REDIS_PID=$!
taskset -c "$SERVER_CPU" "$SESAME" --port "$SESAME_PORT" --threads 1 >"$OUT/sesame.log" 2>&1 &
SESAME_PID=$!
trap 'kill $REDIS_PID $SESAME_PID 2>/dev/null; wait $REDIS_PID $SESAME_PID 2>/dev/null' EXIT
for port in "$REDIS_PORT" "$SESAME_PORT"; do
  for _ in $(seq 50); do redis-cli -p "$port" PING >/dev/null 2>&1 && break; sleep 0.1; done
done

run() {  # name port pid label [--sessions-native | --plain-validate checked]
  local name=$1 port=$2 pid=$3 label=$4; shift 4
  taskset -c "$CLIENT_CPU" "$BENCH" session --sessions "$SESSIONS" --duration "$DURATION" --rounds 1 \
    --connections "$CONNECTIONS" --threads 1 --pipeline "$PIPELINE" --flush --no-progress --quiet \
    --server "$name=127.0.0.1:$port" --server-pid "$name=$pid" --json "$OUT/$label.json" "$@" >/dev/null
}

for r in $(seq "$ROUNDS"); do
  run redis "$REDIS_PORT" "$REDIS_PID" "redis-plain-$r"
  run sesame "$SESAME_PORT" "$SESAME_PID" "sesame-native-$r" --sessions-native
  run sesame "$SESAME_PORT" "$SESAME_PID" "sesame-plain-$r"
  run redis "$REDIS_PORT" "$REDIS_PID" "redis-checked-$r" --plain-validate checked
done

# The validation path alone: redis-benchmark (50 clients) on one session with a 7-field
# seed-layout hash: SESSION.VALIDATE TOUCH on Sesame against HGETALL plus EXPIRE on Redis,
# server CPU per request from /proc as compare.sh measures it. At -P 16 the server is busy and
# command work dominates; at -P 1 each command is its own round trip, which is what an
# application that checks absoluteExpiry before re-arming the TTL does on Redis (HGETALL, check,
# then EXPIRE: two round trips per validation).
MICRO_N=${MICRO_N:-300000}
cpu_ticks() { local t=0; for f in /proc/$1/task/*/stat; do t=$((t + $(awk '{print $14+$15}' "$f"))); done; echo $t; }
micro() {  # pid port command...
  local pid=$1 port=$2; shift 2
  local a; a=$(cpu_ticks "$pid")
  taskset -c "$CLIENT_CPU" redis-benchmark -p "$port" -n "$MICRO_N" -P "$MICRO_P" -c 50 -q "$@" >/dev/null 2>&1
  local b; b=$(cpu_ticks "$pid")
  echo $(( (b - a) * 10000 * 1000 / MICRO_N ))  # nanoseconds of server CPU per request (10 ms ticks)
}
UA="Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
TOKEN=$(redis-cli -p "$SESAME_PORT" SESSION.CREATE 42 ipAddress 203.0.113.7 userAgent "$UA")
KEY="sess:{42}:${TOKEN#NDI.}"
redis-cli -p "$REDIS_PORT" HSET "$KEY" sessionId "${TOKEN#NDI.}" userId 42 createdAt 1763900000000 lastActivity 1763900000000 \
  absoluteExpiry 1764504800000 ipAddress 203.0.113.7 userAgent "$UA" >/dev/null
: > "$OUT/micro.txt"
for MICRO_P in 16 1; do
  echo "micro (ns of server CPU per request; redis-benchmark -P $MICRO_P -c 50 -n $MICRO_N):" >> "$OUT/micro.txt"
  for r in $(seq "$ROUNDS"); do
    v=$(micro "$SESAME_PID" "$SESAME_PORT" SESSION.VALIDATE "$TOKEN" TOUCH)
    h=$(micro "$REDIS_PID" "$REDIS_PORT" HGETALL "$KEY")
    e=$(micro "$REDIS_PID" "$REDIS_PORT" EXPIRE "$KEY" 1800)
    echo "round $r: sesame SESSION.VALIDATE TOUCH $v; redis HGETALL $h + EXPIRE $e = $((h + e)); ratio $(python3 -c "print(f'{($h+$e)/$v:.2f}x')")" >> "$OUT/micro.txt"
  done
done

python3 - "$OUT" "$ROUNDS" <<'EOF'
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
def load(label):
    run = json.load(open(f"{out}/{label}.json"))["runs"][0]
    v = next(o for o in run["operations"] if o["name"] == "validate")
    cpu = run["serverCPUSeconds"]
    return {"vps": v["opsPerSec"], "vpcpu": v["ops"] / cpu if cpu else float("nan"),
            "us": cpu * 1e6 / v["ops"], "ops": run["opsPerSec"], "empty": v["empty"] / max(1, v["ops"]),
            "errors": run["errors"]}
kinds = ["redis-plain", "sesame-native", "sesame-plain"]
data = {k: [load(f"{k}-{r}") for r in range(1, rounds + 1)] for k in kinds}
print("| round | run | validations/s | validations per server CPU-s | server CPU us per validation | all ops/s | empty validations | errors |")
print("|---:|---|---:|---:|---:|---:|---:|---:|")
for r in range(rounds):
    for k in kinds:
        d = data[k][r]
        print(f"| {r+1} | {k} | {d['vps']:,.0f} | {d['vpcpu']:,.0f} | {d['us']:.1f} | {d['ops']:,.0f} | {d['empty']*100:.1f}% | {d['errors']} |")
print()
ratios = [data["sesame-native"][r]["vpcpu"] / data["redis-plain"][r]["vpcpu"] for r in range(rounds)]
tput = [data["sesame-native"][r]["vps"] / data["redis-plain"][r]["vps"] for r in range(rounds)]
plain = [data["sesame-plain"][r]["vpcpu"] / data["redis-plain"][r]["vpcpu"] for r in range(rounds)]
print(f"median validations per server CPU-second, sesame native / redis plain: {statistics.median(ratios):.2f}x (rounds: {', '.join(f'{x:.2f}' for x in ratios)})")
print(f"median validations per second, sesame native / redis plain: {statistics.median(tput):.2f}x (rounds: {', '.join(f'{x:.2f}' for x in tput)})")
print(f"median validations per server CPU-second, sesame plain / redis plain: {statistics.median(plain):.2f}x")

# Separate comparison: redis doing what SESSION.VALIDATE TOUCH does (--plain-validate checked).
checked = [load(f"redis-checked-{r}") for r in range(1, rounds + 1)]
print()
print("Separate comparison: redis-checked = redis, plain mix with --plain-validate checked (HGETALL; absoluteExpiry")
print("checked in the client; then HSET lastActivity + EXPIRE, or DEL + SREM past it: SESSION.VALIDATE TOUCH's")
print("semantics in two round trips, each validation counted once)")
print()
print("| round | run | validations/s | validations per server CPU-s | server CPU us per validation | all ops/s | empty validations | errors |")
print("|---:|---|---:|---:|---:|---:|---:|---:|")
for r in range(rounds):
    d = checked[r]
    print(f"| {r+1} | redis-checked | {d['vps']:,.0f} | {d['vpcpu']:,.0f} | {d['us']:.1f} | {d['ops']:,.0f} | {d['empty']*100:.1f}% | {d['errors']} |")
print()
print("| median of rounds | validations/s | validations per server CPU-s | server CPU us per validation | all ops/s |")
print("|---|---:|---:|---:|---:|")
for k, runs in list(data.items()) + [("redis-checked", checked)]:
    med = lambda f: statistics.median(d[f] for d in runs)
    print(f"| {k} | {med('vps'):,.0f} | {med('vpcpu'):,.0f} | {med('us'):.1f} | {med('ops'):,.0f} |")
print()
vs_checked = [data["sesame-native"][r]["vpcpu"] / checked[r]["vpcpu"] for r in range(rounds)]
tput_checked = [data["sesame-native"][r]["vps"] / checked[r]["vps"] for r in range(rounds)]
print(f"median validations per server CPU-second, sesame native / redis checked: {statistics.median(vs_checked):.2f}x (rounds: {', '.join(f'{x:.2f}' for x in vs_checked)})")
print(f"median validations per second, sesame native / redis checked: {statistics.median(tput_checked):.2f}x (rounds: {', '.join(f'{x:.2f}' for x in tput_checked)})")
EOF
cat "$OUT/micro.txt"
echo "JSON reports: $OUT"
