#!/usr/bin/env bash
# Benchmarks/compare.sh: Sesame against Redis (and the floor server) on this machine.
#
# Builds release, starts redis-server and sesame-server (and the floor server from
# shared/bench/floor.c when present) on loopback, pins every server to one CPU and the load
# generators to another, then:
#   1. redis-benchmark -t ping_mbulk,set,get,hset,sadd at -P 1 and -P 16 (50 clients), one test
#      per invocation, servers interleaved, several rounds; the server's CPU time per request is
#      (utime+stime of all its threads from /proc/PID/task/*/stat, after minus before) / requests.
#   2. sesame-bench's session workload against the same servers with --server-pid.
# Writes docs/BENCHMARKS.md and docs/bench-session.svg (medians of the rounds, ratios vs Redis).
#
# Environment:
#   QUICK=1            about a minute: 1 round, fewer requests, short session run
#   ROUNDS=N           rounds (default 3; QUICK: 1)
#   OUT_DIR=dir        where BENCHMARKS.md and the SVG go (default docs)
#   REDIS_PORT=7379 SESAME_PORT=7380 FLOOR_PORT=7000   (must be free: nothing is killed)
#   SERVER_CPU=1 CLIENT_CPU=0                          (taskset CPU lists)
#   SESAME_ARGS=""     extra sesame-server flags (e.g. "--threads 1")
#   BUILD_PATH=.build  SwiftPM scratch path (binaries in $BUILD_PATH/release)
#   SKIP_BUILD=1       use the existing binaries
#   FLOOR_SRC=path     floor.c (default: shared/bench/floor.c beside the repository)
set -uo pipefail

cd "$(dirname "$0")/.."
REPO=$(pwd)

QUICK=${QUICK:-0}
if [[ "$QUICK" == 1 ]]; then
  ROUNDS=${ROUNDS:-1}; N_P1=${N_P1:-50000}; N_P16=${N_P16:-300000}
  SESSIONS=${SESSIONS:-10000}; SESSION_DURATION=${SESSION_DURATION:-3}
else
  ROUNDS=${ROUNDS:-3}; N_P1=${N_P1:-500000}; N_P16=${N_P16:-3000000}
  SESSIONS=${SESSIONS:-100000}; SESSION_DURATION=${SESSION_DURATION:-10}
fi
OUT_DIR=${OUT_DIR:-docs}
REDIS_PORT=${REDIS_PORT:-7379}
SESAME_PORT=${SESAME_PORT:-7380}
FLOOR_PORT=${FLOOR_PORT:-7000}
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
SESAME_ARGS=${SESAME_ARGS:-}
CLIENTS=50
KEYSPACE=100000
TESTS=(ping_mbulk set get hset sadd)
PIPELINES=(1 16)
if [[ -n "${FLOOR_SRC:-}" ]]; then :
elif [[ -f "$REPO/../shared/bench/floor.c" ]]; then FLOOR_SRC="$REPO/../shared/bench/floor.c"
elif [[ -f /work/shared/bench/floor.c ]]; then FLOOR_SRC=/work/shared/bench/floor.c
else FLOOR_SRC=""; fi

WORK=$(mktemp -d /tmp/sesame-compare.XXXXXX)
RAW="$WORK/redis-benchmark.csv"
log() { printf '[compare] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

for tool in redis-server redis-cli redis-benchmark taskset awk; do
  command -v "$tool" >/dev/null || die "$tool not found (apt-get install -y redis-server util-linux)"
done

# ---------------------------------------------------------------- build
BUILD_PATH=${BUILD_PATH:-.build}
SESAME_BIN="$REPO/$BUILD_PATH/release/sesame-server"
BENCH_BIN="$REPO/$BUILD_PATH/release/sesame-bench"
SESAME_BUILD_OK=1
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  log "building release (swift build -c release --product sesame-bench, then --product sesame-server)"
  swift build -c release --scratch-path "$BUILD_PATH" --product sesame-bench >"$WORK/build-bench.log" 2>&1 \
    || { tail -20 "$WORK/build-bench.log" >&2; die "sesame-bench failed to build"; }
  if ! swift build -c release --scratch-path "$BUILD_PATH" --product sesame-server >"$WORK/build-server.log" 2>&1; then
    tail -20 "$WORK/build-server.log" >&2
    log "sesame-server failed to build: continuing with Redis only"
    SESAME_BUILD_OK=0
  fi
fi
[[ -x "$BENCH_BIN" ]] || die "$BENCH_BIN missing"

# ---------------------------------------------------------------- servers
NAMES=(); PORTS=(); PIDS=()
cleanup() {
  for pid in "${PIDS[@]:-}"; do
    [[ -n "$pid" ]] && kill "$pid" 2>/dev/null
  done
  sleep 0.3
  for pid in "${PIDS[@]:-}"; do
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_ping() {  # port pid -> 0 when PING answers within 10 s
  for _ in $(seq 1 100); do
    kill -0 "$2" 2>/dev/null || return 1
    [[ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" == PONG ]] && return 0
    sleep 0.1
  done
  return 1
}

start_server() {  # name port logfile command...
  local name=$1 port=$2 logfile=$3; shift 3
  if port_busy "$port"; then
    log "port $port is already in use: not starting $name (stop whatever listens there, or set the port variable)"
    return 1
  fi
  taskset -c "$SERVER_CPU" "$@" >"$logfile" 2>&1 &
  local pid=$!
  if [[ "$name" == floor ]]; then
    sleep 0.3; kill -0 "$pid" 2>/dev/null || { log "floor server failed to start: $(tail -3 "$logfile")"; return 1; }
  elif ! wait_ping "$port" "$pid"; then
    log "$name failed to start on port $port; last log lines:"; tail -5 "$logfile" >&2
    kill "$pid" 2>/dev/null
    return 1
  fi
  NAMES+=("$name"); PORTS+=("$port"); PIDS+=("$pid")
  log "$name: pid $pid, port $port, CPU $SERVER_CPU"
}

start_server redis "$REDIS_PORT" "$WORK/redis.log" \
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
  || die "redis-server is required"
if [[ "$SESAME_BUILD_OK" == 1 && -x "$SESAME_BIN" ]]; then
  # shellcheck disable=SC2086
  start_server sesame "$SESAME_PORT" "$WORK/sesame.log" "$SESAME_BIN" --port "$SESAME_PORT" $SESAME_ARGS \
    || log "continuing without Sesame"
else
  log "no sesame-server binary: continuing without Sesame"
fi
if [[ -n "$FLOOR_SRC" ]]; then
  if gcc -O2 -D_GNU_SOURCE -o "$WORK/floor" "$FLOOR_SRC" 2>"$WORK/floor-build.log"; then
    start_server floor "$FLOOR_PORT" "$WORK/floor.log" "$WORK/floor" "$FLOOR_PORT" || log "continuing without the floor server"
  else
    log "floor.c did not compile: $(head -3 "$WORK/floor-build.log")"
  fi
fi

# ---------------------------------------------------------------- helpers
CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() {  # utime+stime of all threads of PID, in clock ticks
  cat /proc/"$1"/task/*/stat 2>/dev/null | sed 's/.*) //' | awk '{t += $12 + $13} END {print t + 0}'
}
median() { sort -g | awk '{a[NR] = $1} END {if (NR == 0) print ""; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
index_of() { local i; for i in "${!NAMES[@]}"; do [[ "${NAMES[$i]}" == "$1" ]] && { echo "$i"; return; }; done; echo -1; }
fmt() { [[ -z "$1" ]] && { echo "n/a"; return; }; awk -v v="$1" -v d="$2" 'BEGIN {printf "%.*f", d, v}'; }
ratio() { [[ -z "$1" || -z "$2" ]] && { echo ""; return; }; awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2fx", a / b}'; }

# ---------------------------------------------------------------- 1. redis-benchmark
echo "round,pipeline,test,server,rps,cpu_us_per_req,p50_ms,p99_ms" >"$RAW"
total=$(( ROUNDS * ${#PIPELINES[@]} * ${#TESTS[@]} * ${#NAMES[@]} )); run=0
for round in $(seq 1 "$ROUNDS"); do
  for P in "${PIPELINES[@]}"; do
    if [[ "$P" == 1 ]]; then N=$N_P1; else N=$N_P16; fi
    for t in "${TESTS[@]}"; do
      for i in "${!NAMES[@]}"; do
        run=$((run + 1))
        name=${NAMES[$i]}; port=${PORTS[$i]}; pid=${PIDS[$i]}
        before=$(cpu_ticks "$pid")
        line=$(taskset -c "$CLIENT_CPU" redis-benchmark -h 127.0.0.1 -p "$port" -c "$CLIENTS" -n "$N" -P "$P" -r "$KEYSPACE" \
                 -t "$t" --csv 2>/dev/null | tail -n 1)
        after=$(cpu_ticks "$pid")
        rps=$(echo "$line" | awk -F'","' '{print $2}')
        p50=$(echo "$line" | awk -F'","' '{print $5}')
        p99=$(echo "$line" | awk -F'","' '{print $7}')
        cpu=$(awk -v a="$after" -v b="$before" -v hz="$CLK_TCK" -v n="$N" 'BEGIN {printf "%.4f", (a - b) * 1e6 / hz / n}')
        [[ -z "$rps" ]] && cpu=""  # the run failed (server gone?): no CPU figure either
        echo "$round,$P,$t,$name,$rps,$cpu,$p50,$p99" >>"$RAW"
        log "[$run/$total] round $round P=$P $t $name: ${rps:-failed} req/s, server CPU ${cpu} us/req"
      done
    done
  done
done

stat_of() {  # pipeline test server column -> median over rounds
  awk -F, -v p="$1" -v t="$2" -v s="$3" -v c="$4" 'NR > 1 && $2 == p && $3 == t && $4 == s && $c != "" {print $c}' "$RAW" | median
}

bench_tables() {
  local has_sesame has_floor
  [[ $(index_of sesame) -ge 0 ]] && has_sesame=1 || has_sesame=0
  [[ $(index_of floor) -ge 0 ]] && has_floor=1 || has_floor=0
  local head1="| test | pipeline | Redis req/s" sep1="|---|---:|---:"
  [[ $has_sesame == 1 ]] && { head1+=" | Sesame req/s | Sesame/Redis"; sep1+="|---:|---:"; }
  [[ $has_floor == 1 ]] && { head1+=" | floor req/s | floor/Redis"; sep1+="|---:|---:"; }
  echo "#### Throughput (requests per second; higher is better; client-bound at pipeline 1)"
  echo
  echo "$head1 |"; echo "$sep1|"
  for P in "${PIPELINES[@]}"; do for t in "${TESTS[@]}"; do
    local r s f
    r=$(stat_of "$P" "$t" redis 5)
    local row="| ${t^^} | $P | $(fmt "$r" 0)"
    if [[ $has_sesame == 1 ]]; then s=$(stat_of "$P" "$t" sesame 5); row+=" | $(fmt "$s" 0) | $(ratio "$s" "$r")"; fi
    if [[ $has_floor == 1 ]]; then f=$(stat_of "$P" "$t" floor 5); row+=" | $(fmt "$f" 0) | $(ratio "$f" "$r")"; fi
    echo "$row |"
  done; done
  echo
  local head2="| test | pipeline | Redis us/req" sep2="|---|---:|---:"
  [[ $has_sesame == 1 ]] && { head2+=" | Sesame us/req | Sesame/Redis"; sep2+="|---:|---:"; }
  [[ $has_floor == 1 ]] && { head2+=" | floor us/req | floor/Redis"; sep2+="|---:|---:"; }
  echo "#### Server CPU time per request (microseconds; lower is better: the key metric)"
  echo
  echo "$head2 |"; echo "$sep2|"
  for P in "${PIPELINES[@]}"; do for t in "${TESTS[@]}"; do
    local r s f
    r=$(stat_of "$P" "$t" redis 6)
    local row="| ${t^^} | $P | $(fmt "$r" 2)"
    if [[ $has_sesame == 1 ]]; then s=$(stat_of "$P" "$t" sesame 6); row+=" | $(fmt "$s" 2) | $(ratio "$s" "$r")"; fi
    if [[ $has_floor == 1 ]]; then f=$(stat_of "$P" "$t" floor 6); row+=" | $(fmt "$f" 2) | $(ratio "$f" "$r")"; fi
    echo "$row |"
  done; done
  echo
  echo "#### Latency reported by redis-benchmark (p50 / p99, milliseconds)"
  echo
  local head3="| test | pipeline" sep3="|---|---:"
  for name in "${NAMES[@]}"; do head3+=" | $name p50 | $name p99"; sep3+="|---:|---:"; done
  echo "$head3 |"; echo "$sep3|"
  for P in "${PIPELINES[@]}"; do for t in "${TESTS[@]}"; do
    local row="| ${t^^} | $P"
    for name in "${NAMES[@]}"; do row+=" | $(fmt "$(stat_of "$P" "$t" "$name" 7)" 3) | $(fmt "$(stat_of "$P" "$t" "$name" 8)" 3)"; done
    echo "$row |"
  done; done
}

# ---------------------------------------------------------------- 2. session workload
mkdir -p "$OUT_DIR"
SVG="$OUT_DIR/bench-session.svg"
SESSION_ARGS=(session --sessions "$SESSIONS" --duration "$SESSION_DURATION" --rounds "$ROUNDS" --connections "$CLIENTS" --threads 1
              --pipeline 1 --format markdown --no-progress --svg "$SVG" --json "$WORK/session.json")
for name in redis sesame; do
  i=$(index_of "$name"); [[ "$i" -ge 0 ]] || continue
  SESSION_ARGS+=(--server "$name=127.0.0.1:${PORTS[$i]}" --server-pid "$name=${PIDS[$i]}")
done
log "session workload: sesame-bench ${SESSION_ARGS[*]}"
SESSION_OUT=$(taskset -c "$CLIENT_CPU" "$BENCH_BIN" "${SESSION_ARGS[@]}" 2>"$WORK/session.err") \
  || log "sesame-bench session failed: $(tail -3 "$WORK/session.err")"

# ---------------------------------------------------------------- report
REDIS_VERSION=$(redis-server --version | head -1)
CPU_MODEL=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
COMMIT=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo "none")
DIRTY=$(git -C "$REPO" status --porcelain 2>/dev/null | grep -q . && echo " (with uncommitted changes)" || true)
MEASURED="${NAMES[*]}"
{
  echo "# Benchmarks"
  echo
  echo "Generated by \`Benchmarks/compare.sh\`$( [[ "$QUICK" == 1 ]] && echo " in QUICK mode (1 round, short runs: indicative only)") on $(date -u '+%Y-%m-%d %H:%M UTC')."
  echo "Medians of $ROUNDS round(s); servers interleaved within each round. Ratios are against Redis."
  echo
  echo "## Machine"
  echo
  echo "- CPUs (nproc): $(nproc); kernel (uname -r): $(uname -r); CPU: ${CPU_MODEL:-unknown}"
  echo "- $REDIS_VERSION"
  echo "- $(swift --version 2>/dev/null | head -1)"
  echo "- Sesame commit: $COMMIT$DIRTY"
  echo "- Servers measured: $MEASURED$( [[ $(index_of sesame) -lt 0 ]] && echo " (sesame-server was not available: see the script's log)")"
  echo
  echo "## Method"
  echo
  echo "- Every server runs pinned to CPU $SERVER_CPU (\`taskset -c $SERVER_CPU\`); redis-benchmark and sesame-bench run pinned to CPU $CLIENT_CPU."
  echo "- Server CPU time per request = (utime + stime of all the server's threads, from \`/proc/PID/task/*/stat\`, after minus before) / requests."
  echo "  At pipeline 1 the client and the kernel dominate and throughput mostly measures the client; CPU per request is the comparison that matters."
  echo "- The floor server (\`shared/bench/floor.c\`) answers +OK to everything without parsing: the syscall-bound minimum for the same read/write pattern."
  echo
  echo "Commands (N = $N_P1 at -P 1, $N_P16 at -P 16; PORT per server):"
  echo
  echo '```'
  echo "redis-server --port $REDIS_PORT --bind 127.0.0.1 --save '' --appendonly no --daemonize no"
  echo ".build/release/sesame-server --port $SESAME_PORT $SESAME_ARGS"
  echo "gcc -O2 -D_GNU_SOURCE -o floor floor.c && ./floor $FLOOR_PORT"
  echo "taskset -c $CLIENT_CPU redis-benchmark -h 127.0.0.1 -p PORT -c $CLIENTS -n N -P {1,16} -r $KEYSPACE -t {${TESTS[*]}} --csv"
  echo "taskset -c $CLIENT_CPU .build/release/sesame-bench ${SESSION_ARGS[*]}" | sed "s| --json $WORK/session.json||"
  echo '```'
  echo
  echo "## redis-benchmark (50 clients)"
  echo
  echo "PING_MBULK is the multibulk PING that real clients send."
  echo
  bench_tables
  echo
  echo "## Session workload (sesame-bench)"
  echo
  echo "$SESSIONS preloaded sessions (hash of 7 fields with a real browser user agent + EXPIRE 1800 + a per-user set), then 80% validate"
  echo "(HGETALL + EXPIRE), 8% login (HSET + EXPIRE + SADD), 8% update (HSET), 3% logout (DEL + SREM), 1% list (SMEMBERS), Zipf(0.99) users;"
  echo "$CLIENTS connections, pipeline 1, one client thread, ${SESSION_DURATION} s per run. Latency is per logical operation."
  echo
  if [[ -n "${SESSION_OUT:-}" ]]; then
    echo "$SESSION_OUT" | sed 's/^## /### /'
  else
    echo "(the session run failed; see the script's output)"
  fi
  echo
  echo "![Session workload: throughput, server CPU per operation and latency percentiles]($(basename "$SVG"))"
} >"$OUT_DIR/BENCHMARKS.md"
log "wrote $OUT_DIR/BENCHMARKS.md and $SVG"
