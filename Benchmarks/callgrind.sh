#!/usr/bin/env bash
# Benchmarks/callgrind.sh: user-space instructions per request, Sesame vs Redis vs the floor
# server, under valgrind --tool=callgrind. Instruction counts do not depend on the machine's
# load, so this comparison is stable on a noisy 2-core box where CPU-time ratios are not. It
# leaves out the kernel (read/write/epoll), which dominates at pipeline 1 and is the same
# syscall pattern for all three (one read and one write per wake-up).
#
# For each server and test: start the server under callgrind, send N requests with
# redis-benchmark (10 connections, pipeline P), stop it (SIGTERM), and subtract the
# instructions of a run with no requests (startup, idle ticks, shutdown).
#
# Environment: N (20000) PIPELINES ("1 16") TESTS ("get set hset sadd") SKIP_BUILD=1 BUILD_PATH (.build)
set -uo pipefail
cd "$(dirname "$0")/.."
N=${N:-20000}; PIPELINES=${PIPELINES:-"1 16"}; TESTS=${TESTS:-"get set hset sadd"}
PORT=${PORT:-7395}
WORK=$(mktemp -d /tmp/sesame-callgrind.XXXXXX)
trap 'pkill -f "valgrind.*--port-marker-$PORT" 2>/dev/null; rm -rf "$WORK"' EXIT
BUILD_PATH=${BUILD_PATH:-.build}
[[ "${SKIP_BUILD:-0}" == 1 ]] || swift build -c release --scratch-path "$BUILD_PATH" --product sesame-server >/dev/null
FLOOR_SRC=${FLOOR_SRC:-$( [[ -f ../shared/bench/floor.c ]] && echo ../shared/bench/floor.c || echo /work/shared/bench/floor.c )}
[[ -f "$FLOOR_SRC" ]] && gcc -O2 -D_GNU_SOURCE -o "$WORK/floor" "$FLOOR_SRC"

server_cmd() {  # server_cmd <name>
  case $1 in
    sesame) echo "$BUILD_PATH/release/sesame-server --port $PORT --threads 1" ;;
    redis)  echo "redis-server --port $PORT --save '' --appendonly no --io-threads 1" ;;
    floor)  echo "$WORK/floor $PORT" ;;
  esac
}

measure() {  # measure <name> <test or none> <pipeline> -> prints Ir
  local out="$WORK/cg.$1.$2.$3"
  ( eval "exec valgrind --tool=callgrind --callgrind-out-file=$out $(server_cmd "$1")" >"$WORK/vg.log" 2>&1 ) &
  local pid=$!
  for _ in $(seq 200); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
  if [[ "$2" != none ]]; then
    redis-benchmark -p "$PORT" -t "$2" -n "$N" -P "$3" -c 10 -r 10000 -q >/dev/null 2>&1
  fi
  kill -TERM "$pid"; wait "$pid" 2>/dev/null
  callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",","",$1); print $1; exit}'
}

echo "| test | pipeline | sesame Ir/req | redis Ir/req | floor Ir/req | sesame / redis | sesame / floor |"
echo "|---|---:|---:|---:|---:|---:|---:|"
declare -A base
for s in sesame redis floor; do
  [[ $s == floor && ! -x "$WORK/floor" ]] && continue
  base[$s]=$(measure "$s" none 1)
done
for t in $TESTS; do
  for p in $PIPELINES; do
    declare -A per
    for s in sesame redis floor; do
      if [[ $s == floor && ! -x "$WORK/floor" ]]; then per[$s]=0; continue; fi
      # redis-benchmark sends its own CONFIG GET at start; that is in all three equally.
      ir=$(measure "$s" "$t" "$p")
      per[$s]=$(( (ir - base[$s]) / N ))
    done
    ratio() { [[ $2 -gt 0 ]] && echo "scale=2; $1 / $2" | bc | sed 's/^\./0./' || echo "-"; }
    echo "| $t | $p | ${per[sesame]} | ${per[redis]} | ${per[floor]} | $(ratio ${per[sesame]} ${per[redis]})x | $(ratio ${per[sesame]} ${per[floor]})x |"
  done
done
