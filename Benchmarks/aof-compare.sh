#!/usr/bin/env bash
# Benchmarks/aof-compare.sh: the cost of append-only file persistence on the session workload,
# Sesame against Redis with the same settings (appendonly no / appendfsync everysec / always).
#
# For each mode, starts redis-server and sesame-server (release build) on loopback with their
# files in a fresh temporary directory, servers pinned to SERVER_CPU and sesame-bench to
# CLIENT_CPU, and runs sesame-bench's session workload against both (interleaved rounds).
# Prints one markdown section per mode; docs/PERSISTENCE.md quotes a run.
#
# Environment: SESSIONS (20000) DURATION (5) ROUNDS (1) CONNECTIONS (50)
#              SERVER_CPU (1) CLIENT_CPU (0) SKIP_BUILD=1 MODES ("off everysec always")
set -uo pipefail
cd "$(dirname "$0")/.."

SESSIONS=${SESSIONS:-20000}
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-1}
CONNECTIONS=${CONNECTIONS:-50}
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
MODES=${MODES:-"off everysec always"}

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  swift build -c release --product sesame-server >&2 || exit 1
  swift build -c release --product sesame-bench >&2 || exit 1
fi
SESAME=.build/release/sesame-server
BENCH=.build/release/sesame-bench

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_ping() { for _ in $(seq 200); do redis-cli -p "$1" ping 2>/dev/null | grep -q PONG && return 0; sleep 0.05; done; return 1; }

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; }
trap cleanup EXIT

echo "Session workload, $SESSIONS sessions, $CONNECTIONS connections, pipeline 1, ${DURATION} s x $ROUNDS round(s), $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $(redis-server --version | awk '{print $3}')"
for mode in $MODES; do
  WORK=$(mktemp -d /tmp/sesame-aof-bench.XXXXXX)
  mkdir -p "$WORK/redis" "$WORK/sesame"
  if [[ "$mode" == off ]]; then
    RARGS=(--appendonly no); SARGS=()
  else
    RARGS=(--appendonly yes --appendfsync "$mode" --aof-use-rdb-preamble no --dir "$WORK/redis")
    SARGS=(--appendonly yes --appendfsync "$mode" --dir "$WORK/sesame")
  fi
  RP=$(free_port); SP=$(free_port)
  taskset -c "$SERVER_CPU" redis-server --port "$RP" --bind 127.0.0.1 --save '' --daemonize no --logfile '' \
    --loglevel warning "${RARGS[@]}" >/dev/null 2>&1 &
  RPID=$!; PIDS+=("$RPID")
  taskset -c "$SERVER_CPU" "$SESAME" --port "$SP" --loglevel warning "${SARGS[@]}" >/dev/null 2>&1 &
  SPID=$!; PIDS+=("$SPID")
  wait_ping "$RP" && wait_ping "$SP" || { echo "servers did not start" >&2; exit 1; }
  echo
  echo "## appendonly: $mode"
  echo
  taskset -c "$CLIENT_CPU" "$BENCH" session --sessions "$SESSIONS" --duration "$DURATION" --rounds "$ROUNDS" \
    --connections "$CONNECTIONS" --threads 1 --pipeline 1 --format markdown --no-progress --quiet \
    --server "redis=127.0.0.1:$RP" --server-pid "redis=$RPID" \
    --server "sesame=127.0.0.1:$SP" --server-pid "sesame=$SPID" | sed 's/^## /### /'
  if [[ "$mode" != off ]]; then
    info=$(redis-cli -p "$SP" info persistence | tr -d '\r')
    rec=$(echo "$info" | awk -F: '/^aof_records:/ {print $2}'); fs=$(echo "$info" | awk -F: '/^aof_fsyncs:/ {print $2}')
    echo "- sesame: $rec records (write commands and transactions) in $fs fsyncs$( [[ "${fs:-0}" -gt 0 ]] && echo ": $(( rec / fs )) per fsync")"
  fi
  for f in "$WORK"/redis/appendonlydir/*.incr.aof "$WORK"/sesame/appendonly.aof; do
    [[ -f "$f" ]] && echo "- file after the run: $(basename "$(dirname "$f")")/$(basename "$f"): $(du -h "$f" | cut -f1)"
  done
  kill "$RPID" "$SPID" 2>/dev/null; wait "$RPID" "$SPID" 2>/dev/null
  rm -rf "$WORK"
done
