#!/usr/bin/env bash
# Benchmarks/soak.sh: long-running checks of sesame-server (not in CI; docs/BENCHMARKS.md).
#
#   1. Idle connections: the session workload (sesame-bench session) for PHASE_SECONDS, then
#      IDLE idle connections are opened and held (Benchmarks/soak_idle.py) and the same workload
#      runs again; ops/s and server CPU per op with and without them, and how many idle
#      connections were still served at the end.
#   2. Soak: SOAK_MINUTES of the session workload at full speed (idle connections still held),
#      sampling VmRSS, used_memory and DBSIZE every SAMPLE_SECONDS: memory must follow the data
#      (the device-slot table bounds the session count), not grow with time.
#
# The server runs with --tcp-keepalive 0: the idle connections are meant to stay for the whole
# run, and on some VMs the kernel's keepalive probes go unanswered and drop them after ~10 min.
#
# Environment: PORT (7390) IDLE (10000) PHASE_SECONDS (30) SOAK_MINUTES (30) SAMPLE_SECONDS (60)
#   SESSIONS (100000) SERVER_CPU (1) CLIENT_CPU (0) SKIP_BUILD=1 OUT (soak-results.md) BUILD_PATH (.build)
set -uo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-7390}; IDLE=${IDLE:-10000}; PHASE_SECONDS=${PHASE_SECONDS:-30}
SOAK_MINUTES=${SOAK_MINUTES:-30}; SAMPLE_SECONDS=${SAMPLE_SECONDS:-60}; SESSIONS=${SESSIONS:-100000}
SERVER_CPU=${SERVER_CPU:-1}; CLIENT_CPU=${CLIENT_CPU:-0}; OUT=${OUT:-soak-results.md}

[[ "${SKIP_BUILD:-0}" == 1 ]] || { swift build -c release --scratch-path "${BUILD_PATH:-.build}" --product sesame-server >/dev/null && swift build -c release --scratch-path "${BUILD_PATH:-.build}" --product sesame-bench >/dev/null; }
BIN=${BUILD_PATH:-.build}/release
ulimit -n $((IDLE + 1024)) 2>/dev/null || { echo "cannot raise the open-files limit to $((IDLE + 1024))"; exit 1; }

taskset -c "$SERVER_CPU" "$BIN/sesame-server" --port "$PORT" --maxclients $((IDLE + 500)) --tcp-keepalive 0 --loglevel warning >/tmp/soak-server.log 2>&1 &
SERVER=$!
IDLE_PID=""
cleanup() {
  [[ -n "$IDLE_PID" ]] && kill "$IDLE_PID" 2>/dev/null
  [[ -n "${BENCH_PID:-}" ]] && kill "$BENCH_PID" 2>/dev/null
  kill "$SERVER" 2>/dev/null; wait "$SERVER" 2>/dev/null
  rm -f /tmp/soak-idle.fifo
}
trap cleanup EXIT
for _ in $(seq 100); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.05; done

bench() {  # bench <seconds> <label>
  taskset -c "$CLIENT_CPU" "$BIN/sesame-bench" session --server "sesame=127.0.0.1:$PORT" --server-pid "sesame=$SERVER" \
    --sessions "$SESSIONS" --duration "$1" --rounds 1 --format plain --no-progress --quiet 2>&1 | sed "s/^/[$2] /"
}
info() { redis-cli -p "$PORT" info "$1" | tr -d '\r' | grep "^$2:" | cut -d: -f2; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$SERVER/status"; }

{
echo "# Soak run $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores, sesame-server pid $SERVER (CPU $SERVER_CPU), load on CPU $CLIENT_CPU"
echo
echo "## Phase 1: session workload without and with $IDLE idle connections (${PHASE_SECONDS} s each)"
bench "$PHASE_SECONDS" "no idle connections"
redis-cli -p "$PORT" flushall >/dev/null
mkfifo /tmp/soak-idle.fifo
python3 Benchmarks/soak_idle.py 127.0.0.1 "$PORT" "$IDLE" </tmp/soak-idle.fifo >/tmp/soak-idle.out 2>&1 &
IDLE_PID=$!
exec 7>/tmp/soak-idle.fifo
for _ in $(seq 600); do grep -q "^idle:" /tmp/soak-idle.out && break; sleep 0.2; done
cat /tmp/soak-idle.out
echo "connected_clients: $(info clients connected_clients)"
bench "$PHASE_SECONDS" "$IDLE idle connections"
echo
echo "## Phase 2: ${SOAK_MINUTES} min of the session workload ($IDLE idle connections still held)"
redis-cli -p "$PORT" flushall >/dev/null
taskset -c "$CLIENT_CPU" "$BIN/sesame-bench" session --server "sesame=127.0.0.1:$PORT" --server-pid "sesame=$SERVER" \
  --sessions "$SESSIONS" --duration $((SOAK_MINUTES * 60)) --warmup 0 --rounds 1 --format plain --no-progress --quiet >/tmp/soak-bench.out 2>&1 &
BENCH_PID=$!
echo
echo "| minute | keys | used_memory MB | VmRSS MB | RSS - used_memory MB | RSS per key B |"
echo "|---:|---:|---:|---:|---:|---:|"
start=$(date +%s)
while kill -0 "$BENCH_PID" 2>/dev/null; do
  sleep "$SAMPLE_SECONDS"
  keys=$(redis-cli -p "$PORT" dbsize | tr -d '\r'); used=$(info memory used_memory); rss=$(( $(rss_kb) * 1024 ))
  printf "| %.1f | %d | %.1f | %.1f | %.1f | %d |\n" "$(echo "($(date +%s) - $start) / 60" | bc -l)" "$keys" \
    "$(echo "$used / 1048576" | bc -l)" "$(echo "$rss / 1048576" | bc -l)" "$(echo "($rss - $used) / 1048576" | bc -l)" $(( rss / (keys > 0 ? keys : 1) ))
done
wait "$BENCH_PID"; BENCH_PID=""
sed 's/^/[soak] /' /tmp/soak-bench.out
exec 7>&-
wait "$IDLE_PID" 2>/dev/null; IDLE_PID=""
cat /tmp/soak-idle.out | tail -1
echo "server still answering: $(redis-cli -p "$PORT" ping)"
} | tee "$OUT"
