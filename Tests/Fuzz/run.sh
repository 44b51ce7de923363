#!/bin/sh
# Runs the parser + dispatch fuzzer for N seconds (default 60), building it first if needed.
# Usage: Tests/Fuzz/run.sh [seconds] [extra libFuzzer flags...]
# New interesting inputs go to .build-fuzz/corpus (the committed seeds stay as they are);
# a crash leaves its input as .build-fuzz/crash-* and makes this script fail.
set -eu
cd "$(dirname "$0")/../.."
seconds="${1:-60}"
[ $# -gt 0 ] && shift
# SANITIZE=fuzzer (no AddressSanitizer) runs several times more inputs per second.
bin=".build-fuzz/sesame-fuzz-$(echo "${SANITIZE:-fuzzer,address}" | tr ',' '-')"
if [ ! -x "$bin" ] || [ -n "$(find Sources/Sesame Tests/Fuzz/FuzzEntry.swift Tests/Fuzz/FuzzHTTP.swift -newer "$bin" -name '*.swift' | head -1)" ]; then
    Tests/Fuzz/build.sh "$bin"
fi
mkdir -p .build-fuzz/corpus
# Leak detection off: every input builds a server state that lives until the process ends
# only through Swift's global caches; ASan's other checks (overflow, use-after-free) stay on.
ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}" "$bin" \
    -max_total_time="$seconds" -detect_leaks=0 -timeout=30 -rss_limit_mb=4096 -max_len=2048 \
    -dict=Tests/Fuzz/resp.dict -artifact_prefix=.build-fuzz/ -print_final_stats=1 \
    "$@" .build-fuzz/corpus Tests/Fuzz/corpus
