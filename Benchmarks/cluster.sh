#!/usr/bin/env bash
# Benchmarks/cluster.sh: the session workload on a real 3-primary Redis Cluster, and a Sesame
# dataset migrated into it. Not run by CI (the CI test ClusterHarnessTests runs a short version).
#
#   1. starts 3 redis-server --cluster-enabled yes on loopback (ports BASE_PORT..BASE_PORT+2,
#      bus ports +10000), joins them with redis-cli --cluster create --cluster-replicas 0;
#   2. sesame-bench session --cluster: slot map from CLUSTER SLOTS, each operation routed to its
#      slot's primary, MOVED/ASK followed; throughput per node and the CROSSSLOT count;
#   3. migration: a standalone sesame-server loaded with sessions (sesame-bench load), copied by
#      sesame-bench migrate into the cluster; key counts and a sample compared;
#   4. writes the results to $OUT (default /tmp/sesame-cluster/results.md) for docs/SCALING.md.
#
# Environment:
#   BASE_PORT=21001  SESAME_PORT=21010     (must be free, and the bus ports BASE_PORT+10000..+2 too;
#                                           the defaults keep them below the ephemeral range)
#   SESSIONS=100000  DURATION=10  ROUNDS=3  CONNECTIONS=50  THREADS=1  PIPELINE=1
#   MIGRATE_SESSIONS=20000
#   BUILD_PATH=.build  CONFIG=release  SKIP_BUILD=1 (use the existing binaries)
#   WORK=/tmp/sesame-cluster  OUT=$WORK/results.md
set -uo pipefail

cd "$(dirname "$0")/.."
BASE_PORT=${BASE_PORT:-21001}
SESAME_PORT=${SESAME_PORT:-21010}
SESSIONS=${SESSIONS:-100000}
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-50}
THREADS=${THREADS:-1}
PIPELINE=${PIPELINE:-1}
MIGRATE_SESSIONS=${MIGRATE_SESSIONS:-20000}
BUILD_PATH=${BUILD_PATH:-.build}
CONFIG=${CONFIG:-release}
WORK=${WORK:-/tmp/sesame-cluster}
OUT=${OUT:-$WORK/results.md}
BIN="$BUILD_PATH/$CONFIG"

for tool in redis-server redis-cli; do
  command -v "$tool" >/dev/null || { echo "$tool is not on PATH (apt-get install redis-server redis-tools)"; exit 1; }
done
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  swift build -c "$CONFIG" --scratch-path "$BUILD_PATH" --product sesame-bench || exit 1
  swift build -c "$CONFIG" --scratch-path "$BUILD_PATH" --product sesame-server || exit 1
fi

rm -rf "$WORK"; mkdir -p "$WORK"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
}
trap cleanup EXIT

PORTS=($BASE_PORT $((BASE_PORT + 1)) $((BASE_PORT + 2)))
for port in "${PORTS[@]}"; do
  mkdir -p "$WORK/$port"
  redis-server --port "$port" --bind 127.0.0.1 --cluster-enabled yes \
    --cluster-config-file "$WORK/$port/nodes.conf" --dir "$WORK/$port" \
    --save '' --appendonly no --daemonize no --logfile "$WORK/$port/redis.log" &
  PIDS+=($!)
done
for port in "${PORTS[@]}"; do
  for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
  redis-cli -p "$port" ping >/dev/null 2>&1 || { echo "redis-server on $port did not start:"; tail -3 "$WORK/$port/redis.log"; exit 1; }
done
START=$(date +%s.%N)
redis-cli --cluster create "${PORTS[@]/#/127.0.0.1:}" --cluster-replicas 0 --cluster-yes > "$WORK/create.log" 2>&1 \
  || { cat "$WORK/create.log"; exit 1; }
for port in "${PORTS[@]}"; do
  for _ in $(seq 600); do
    redis-cli -p "$port" cluster info | grep -q 'cluster_state:ok' && break; sleep 0.1
  done
done
READY=$(python3 -c "print(f'{$(date +%s.%N) - $START:.1f}')")
echo "cluster of 3 primaries ready in ${READY} s after redis-cli --cluster create"
redis-cli -p "$BASE_PORT" cluster slots > "$WORK/slots.txt"

SEEDS=()
for port in "${PORTS[@]}"; do SEEDS+=(--server "127.0.0.1:$port"); done
"$BIN/sesame-bench" session --cluster "${SEEDS[@]}" --sessions "$SESSIONS" --duration "$DURATION" \
  --rounds "$ROUNDS" --connections "$CONNECTIONS" --threads "$THREADS" --pipeline "$PIPELINE" \
  --no-progress --json "$WORK/session.json" > "$WORK/session.md" 2> "$WORK/session.log" \
  || { cat "$WORK/session.log"; exit 1; }
cat "$WORK/session.log"

# Migration: a standalone Sesame holding sessions, copied into the (flushed) cluster.
for port in "${PORTS[@]}"; do redis-cli -p "$port" flushall >/dev/null; done
"$BIN/sesame-server" --port "$SESAME_PORT" --loglevel warning > "$WORK/sesame.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do redis-cli -p "$SESAME_PORT" ping >/dev/null 2>&1 && break; sleep 0.05; done
"$BIN/sesame-bench" load --server "127.0.0.1:$SESAME_PORT" --sessions "$MIGRATE_SESSIONS" --no-progress \
  > "$WORK/load.md" 2> "$WORK/load.log" || { cat "$WORK/load.log"; exit 1; }
SOURCE_KEYS=$(redis-cli -p "$SESAME_PORT" dbsize)
"$BIN/sesame-bench" migrate --from "127.0.0.1:$SESAME_PORT" --server "127.0.0.1:$BASE_PORT" --no-progress \
  > "$WORK/migrate.md" 2> "$WORK/migrate.log" || { cat "$WORK/migrate.log"; exit 1; }
CLUSTER_KEYS=0
PER_NODE=""
for port in "${PORTS[@]}"; do
  n=$(redis-cli -p "$port" dbsize)
  CLUSTER_KEYS=$((CLUSTER_KEYS + n))
  PER_NODE="$PER_NODE 127.0.0.1:$port=$n"
done
# A sample: one session hash, its TTL and its user's index, on both sides.
SAMPLE=$(redis-cli -p "$SESAME_PORT" --scan --pattern 'sess:*' | head -1)
USER_TAG=$(echo "$SAMPLE" | sed -E 's/^sess:\{([0-9]+)\}.*/\1/')
SRC_HASH=$(redis-cli -p "$SESAME_PORT" hgetall "$SAMPLE" | sort | tr '\n' ' ')
DST_HASH=$(redis-cli -c -p "$BASE_PORT" hgetall "$SAMPLE" | sort | tr '\n' ' ')
SRC_SET=$(redis-cli -p "$SESAME_PORT" smembers "user_sessions:{$USER_TAG}" | sort | tr '\n' ' ')
DST_SET=$(redis-cli -c -p "$BASE_PORT" smembers "user_sessions:{$USER_TAG}" | sort | tr '\n' ' ')
DST_TTL=$(redis-cli -c -p "$BASE_PORT" ttl "$SAMPLE")
SAME_SAMPLE=no
[[ -n "$SRC_HASH" && "$SRC_HASH" == "$DST_HASH" && "$SRC_SET" == "$DST_SET" && "$DST_TTL" -gt 0 ]] && SAME_SAMPLE=yes

{
  echo "Run: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(redis-server --version | cut -d' ' -f1-3)"
  echo
  echo "Cluster of 3 primaries ready ${READY} s after \`redis-cli --cluster create\`."
  echo
  echo '```'
  echo "sesame-bench session --cluster ${SEEDS[*]} --sessions $SESSIONS --duration $DURATION --rounds $ROUNDS --connections $CONNECTIONS --threads $THREADS --pipeline $PIPELINE"
  echo '```'
  echo
  cat "$WORK/session.md"
  echo
  echo "### Migration"
  echo
  echo '```'
  echo "sesame-bench load --server 127.0.0.1:$SESAME_PORT --sessions $MIGRATE_SESSIONS"
  echo "sesame-bench migrate --from 127.0.0.1:$SESAME_PORT --server 127.0.0.1:$BASE_PORT"
  echo '```'
  echo
  grep -h '^- migrate' "$WORK/migrate.md"
  echo "- keys: Sesame DBSIZE $SOURCE_KEYS, cluster DBSIZE sum $CLUSTER_KEYS ($PER_NODE )"
  echo "- sample \`$SAMPLE\` and \`user_sessions:{$USER_TAG}\` identical on both sides, TTL kept ($DST_TTL s): $SAME_SAMPLE"
} > "$OUT"
cat "$OUT"
[[ "$SOURCE_KEYS" == "$CLUSTER_KEYS" && "$SAME_SAMPLE" == yes ]] || { echo "migration check FAILED"; exit 1; }
