#!/bin/sh
# Builds the libFuzzer target (Tests/Fuzz/README.md). Usage: Tests/Fuzz/build.sh [output]
# SANITIZE=fuzzer builds without AddressSanitizer (several times faster, Swift checks only).
set -eu
cd "$(dirname "$0")/../.."
out="${1:-.build-fuzz/sesame-fuzz}"
swiftc="${SWIFTC:-$(command -v swiftc || echo /opt/swift/usr/bin/swiftc)}"
mkdir -p "$(dirname "$out")" .build-fuzz/csystem
# Compile a snapshot, so edits made while the (slow, whole-module) build runs cannot break it.
rm -rf .build-fuzz/src && mkdir -p .build-fuzz/src
cp -R Sources/Sesame Tests/Fuzz/FuzzEntry.swift Tests/Fuzz/FuzzHTTP.swift .build-fuzz/src/
# CSystem is a header-only C module; SwiftPM writes its module map, so write one here too.
cat > .build-fuzz/csystem/module.modulemap <<MAP
module CSystem {
    header "$PWD/Sources/CSystem/include/CSystem.h"
    export *
}
MAP
"$swiftc" -sanitize="${SANITIZE:-fuzzer,address}" -parse-as-library -O -g \
    -swift-version 6 -module-name Sesame \
    -I .build-fuzz/csystem \
    $(find .build-fuzz/src -name '*.swift' | sort) \
    -o "$out"
echo "built $out"
