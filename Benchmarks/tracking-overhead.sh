#!/usr/bin/env bash
# Benchmarks/tracking-overhead.sh: what CLIENT TRACKING costs the server.
#
# One sesame-server (release, --threads 1, pinned to SERVER_CPU), redis-benchmark pinned to
# CLIENT_CPU, SET and GET at pipeline 16 over KEYSPACE random keys, in three setups:
#   off      nobody tracks (the write path's gate is one relaxed atomic load)
#   default  one RESP3 connection has tracking on and has read every key first, so SETs
#            invalidate remembered keys (each key once until read again) and GETs by the
#            benchmark's own (non-tracking) clients pay the gate
#   bcast    one RESP3 connection tracks in BCAST mode with PREFIX key: so every SET sends an
#            invalidation push (the heaviest case: one message per write)
# The tracking connection is a small Python reader that discards what it receives.
# Reports server CPU microseconds per request ((utime+stime of all threads) / requests) and
# requests per second; medians of ROUNDS.
#
# Environment: ROUNDS=3 N=1000000 KEYSPACE=100000 PORT=(a free one) SERVER_CPU=1 CLIENT_CPU=0
#              SKIP_BUILD=1 (use .build/release/sesame-server as is)
set -uo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}; N=${N:-1000000}; KEYSPACE=${KEYSPACE:-100000}
PORT=${PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
SERVER_CPU=${SERVER_CPU:-1}; CLIENT_CPU=${CLIENT_CPU:-0}
[[ "${SKIP_BUILD:-0}" == 1 ]] || swift build -c release --product sesame-server >&2 || exit 1

taskset -c "$SERVER_CPU" .build/release/sesame-server --port "$PORT" --threads 1 --loglevel warning >/dev/null 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; [[ -n "${READER:-}" ]] && kill $READER 2>/dev/null' EXIT
for _ in $(seq 50); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
kill -0 "$SERVER" 2>/dev/null || { echo "sesame-server did not start on port $PORT" >&2; exit 1; }

cpu_ticks() { awk '{ s += $14 + $15 } END { print s }' /proc/"$SERVER"/task/*/stat; }
HZ=$(getconf CLK_TCK)

start_reader() {  # $1: default | bcast
  python3 - "$PORT" "$1" "$KEYSPACE" <<'PY' &
import socket, sys
port, mode, keyspace = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
s = socket.create_connection(("127.0.0.1", port))
def cmd(*a):
    out = b"*%d\r\n" % len(a)
    for x in a:
        x = x.encode() if isinstance(x, str) else x
        out += b"$%d\r\n%s\r\n" % (len(x), x)
    return out
s.sendall(cmd("HELLO", "3"))
if mode == "bcast":
    s.sendall(cmd("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "key:"))
else:
    s.sendall(cmd("CLIENT", "TRACKING", "on"))
    batch = b"".join(cmd("GET", "key:%012d" % i) for i in range(keyspace))
    s.sendall(batch)
print("ready", flush=True)
while s.recv(1 << 20):
    pass
PY
  READER=$!
  sleep 3
}

run() {  # $1: setup name; prints "setup test us/req req/s"
  local test
  for test in set get; do
    local before after rps
    before=$(cpu_ticks)
    rps=$(taskset -c "$CLIENT_CPU" redis-benchmark -p "$PORT" -c 50 -n "$N" -P 16 -r "$KEYSPACE" -t "$test" --csv 2>/dev/null \
          | awk -F, 'NR==2 { gsub(/"/, "", $2); print $2 }')
    after=$(cpu_ticks)
    awk -v s="$1" -v t="$test" -v d=$((after - before)) -v hz="$HZ" -v n="$N" -v r="$rps" \
        'BEGIN { printf "%s %s %.3f %s\n", s, t, d / hz * 1e6 / n, r }'
  done
}

RESULTS=$(mktemp)
for round in $(seq "$ROUNDS"); do
  for setup in off default bcast; do
    READER=""
    [[ "$setup" != off ]] && start_reader "$setup" >/dev/null
    run "$setup" >>"$RESULTS"
    [[ -n "$READER" ]] && { kill "$READER" 2>/dev/null; wait "$READER" 2>/dev/null; }
    redis-cli -p "$PORT" flushall >/dev/null
  done
  echo "round $round done" >&2
done

echo "| setup | test | server us/req (median) | req/s (median) |"
echo "|---|---|---:|---:|"
for setup in off default bcast; do
  for test in set get; do
    awk -v s="$setup" -v t="$test" '$1 == s && $2 == t { print $3, $4 }' "$RESULTS" | sort -n | awk -v s="$setup" -v t="$test" '
      { us[NR] = $1; r[NR] = $2 } END { m = int((NR + 1) / 2); printf "| %s | %s | %.3f | %s |\n", s, t, us[m], r[m] }'
  done
done
rm -f "$RESULTS"
