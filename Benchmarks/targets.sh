#!/usr/bin/env bash
# Benchmarks/targets.sh: the issue-10 targets that compare.sh does not cover (docs/BENCHMARKS.md).
#
#   1. open   p99 latency at 50% of Redis's maximum throughput (open loop): GET and SET, closed
#             loop against Redis first (its maximum, 50 connections, pipeline 1), then an open
#             loop at half that rate against Redis and Sesame, latency from the intended send time.
#   2. threads  the session workload from two load-generator threads (100 connections) against
#             sesame-server --threads 1 and --threads 2 and Redis, nothing pinned (the 2-core box
#             is shared by server and clients): --threads 2 must not get less than --threads 1.
#             Run at Zipf 0.99 (default) and 1.2 (one hot user shard takes a large share).
#   3. expiry 1M keys expiring within one second: how long they linger, concurrent traffic
#             latency, and Sesame's longest event-loop iteration during the expiry.
#   4. noise  how long CPU 1 is taken from a thread that only reads the clock (sesame-bench
#             noise), idle and with redis-benchmark load on CPU 0: the floor under part 3's
#             longest iteration on this machine.
#
# Environment: PARTS ("open threads expiry noise") NOISE_SECONDS (10) ROUNDS (3) DURATION (8) EXPIRY_KEYS (1000000) EXPIRY_ROUNDS (2) BUILD_PATH (.build)
#   SKIP_BUILD=1  REDIS_PORT (7679) SESAME_PORT (7680) SESAME2_PORT (7681)
set -uo pipefail
cd "$(dirname "$0")/.."
PARTS=${PARTS:-"open threads expiry noise"}; ROUNDS=${ROUNDS:-3}; DURATION=${DURATION:-8}
REDIS_PORT=${REDIS_PORT:-7679}; SESAME_PORT=${SESAME_PORT:-7680}; SESAME2_PORT=${SESAME2_PORT:-7681}
BUILD_PATH=${BUILD_PATH:-.build}
[[ "${SKIP_BUILD:-0}" == 1 ]] || { swift build -c release --scratch-path "$BUILD_PATH" --product sesame-server >/dev/null \
  && swift build -c release --scratch-path "$BUILD_PATH" --product sesame-bench >/dev/null; } || exit 1
BIN=$BUILD_PATH/release
WORK=$(mktemp -d /tmp/sesame-targets.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
for p in $REDIS_PORT $SESAME_PORT $SESAME2_PORT; do
  redis-cli -p "$p" ping >/dev/null 2>&1 && { echo "port $p is in use"; exit 1; }
done

start() {  # start <cpu list or -> <port> <command...>; prints the pid
  local cpu=$1 port=$2; shift 2
  if [[ "$cpu" == - ]]; then "$@" >"$WORK/server.$port.log" 2>&1 & else taskset -c "$cpu" "$@" >"$WORK/server.$port.log" 2>&1 & fi
  local pid=$!
  for _ in $(seq 200); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
  echo "$pid"
}
stop() {  # stop <port> <pid>...: SIGTERM, then wait until the port no longer answers
  local port=$1; shift
  kill "$@" 2>/dev/null
  for _ in $(seq 200); do redis-cli -p "$port" ping >/dev/null 2>&1 || return 0; sleep 0.05; done
}

echo "# targets.sh $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD), $(nproc) cores"

if [[ " $PARTS " == *" open "* ]]; then
  RP=$(start 1 "$REDIS_PORT" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK"); PIDS+=("$RP")
  SP=$(start 1 "$SESAME_PORT" "$BIN/sesame-server" --port "$SESAME_PORT" --threads 1 --loglevel warning); PIDS+=("$SP")
  for op in get set; do
    echo; echo "## Open loop, $op: closed-loop maximum of Redis, then both servers at half of it"
    taskset -c 0 "$BIN/sesame-bench" ops --ops "$op" --server "redis=127.0.0.1:$REDIS_PORT" --server-pid "redis=$RP" \
      --connections 50 --duration "$DURATION" --rounds "$ROUNDS" --format plain --no-progress --quiet | tee "$WORK/max.txt"
    max=$(awk '$2=="redis" {gsub(",","",$3); print int($3); exit}' "$WORK/max.txt")
    rate=$(( max / 2 ))
    echo "Redis closed-loop maximum: $max ops/s; open loop at $rate ops/s"
    taskset -c 0 "$BIN/sesame-bench" ops --ops "$op" --server "redis=127.0.0.1:$REDIS_PORT" --server-pid "redis=$RP" \
      --server "sesame=127.0.0.1:$SESAME_PORT" --server-pid "sesame=$SP" --connections 50 --rate "$rate" \
      --duration "$DURATION" --rounds "$ROUNDS" --format plain --no-progress --quiet
  done
  stop "$REDIS_PORT" "$RP"; stop "$SESAME_PORT" "$SP"
fi

if [[ " $PARTS " == *" threads "* ]]; then
  RP=$(start - "$REDIS_PORT" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK"); PIDS+=("$RP")
  S1=$(start - "$SESAME_PORT" "$BIN/sesame-server" --port "$SESAME_PORT" --threads 1 --loglevel warning); PIDS+=("$S1")
  S2=$(start - "$SESAME2_PORT" "$BIN/sesame-server" --port "$SESAME2_PORT" --threads 2 --loglevel warning); PIDS+=("$S2")
  for zipf in 0.99 1.2; do
    echo; echo "## Session workload, two client threads, 100 connections, Zipf $zipf (nothing pinned)"
    "$BIN/sesame-bench" session --server "sesame-t1=127.0.0.1:$SESAME_PORT" --server-pid "sesame-t1=$S1" \
      --server "sesame-t2=127.0.0.1:$SESAME2_PORT" --server-pid "sesame-t2=$S2" \
      --server "redis=127.0.0.1:$REDIS_PORT" --server-pid "redis=$RP" \
      --threads 2 --connections 100 --zipf "$zipf" --sessions 100000 --duration "$DURATION" --rounds "$ROUNDS" \
      --format plain --no-progress --quiet
  done
  stop "$REDIS_PORT" "$RP"; stop "$SESAME_PORT" "$S1"; stop "$SESAME2_PORT" "$S2"
fi

if [[ " $PARTS " == *" expiry "* ]]; then
  echo; echo "## ${EXPIRY_KEYS:-1000000} keys expiring within one second (servers on CPU 1, client on CPU 0)"
  RP=$(start 1 "$REDIS_PORT" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK"); PIDS+=("$RP")
  SP=$(start 1 "$SESAME_PORT" "$BIN/sesame-server" --port "$SESAME_PORT" --threads 1 --loglevel warning); PIDS+=("$SP")
  taskset -c 0 "$BIN/sesame-bench" expiry --keys "${EXPIRY_KEYS:-1000000}" --server "redis=127.0.0.1:$REDIS_PORT" --server-pid "redis=$RP" \
    --server "sesame=127.0.0.1:$SESAME_PORT" --server-pid "sesame=$SP" --rounds "${EXPIRY_ROUNDS:-2}" --expiry-timeout 20 \
    --format plain --no-progress --quiet
  stop "$REDIS_PORT" "$RP"; stop "$SESAME_PORT" "$SP"
fi

if [[ " $PARTS " == *" noise "* ]]; then
  # The floor under the expiry part's "longest loop iteration": a thread that does nothing but
  # read the clock, on the servers' CPU, first with the machine idle, then while redis-benchmark
  # drives a redis-server on the other CPU (the network traffic of the expiry part).
  NOISE_SECONDS=${NOISE_SECONDS:-10}
  echo; echo "## CPU noise on CPU 1: a thread that only reads the clock (sesame-bench noise, ${NOISE_SECONDS} s)"
  echo -n "idle machine:              "; taskset -c 1 "$BIN/sesame-bench" noise --duration "$NOISE_SECONDS"
  RP=$(start 0 "$REDIS_PORT" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK"); PIDS+=("$RP")
  taskset -c 0 redis-benchmark -p "$REDIS_PORT" -t get,set -n 100000000 -c 50 -q >/dev/null 2>&1 & BP=$!; PIDS+=("$BP")
  sleep 0.5
  echo -n "load on CPU 0 (redis):     "; taskset -c 1 "$BIN/sesame-bench" noise --duration "$NOISE_SECONDS"
  kill "$BP" 2>/dev/null; wait "$BP" 2>/dev/null
  stop "$REDIS_PORT" "$RP"
fi
