#!/usr/bin/env bash
# Build the release skiff binary and print its path on stdout.
# skiff is linked as a fully static executable: no dynamic loader or Swift
# runtime .so lookups on every container start.
# Build output goes to stderr so callers can do: skiff=$(scripts/build.sh)
# Extra arguments are passed through to `swift build`.
set -euo pipefail

cd "$(dirname "$0")/.."

# Concrete type metadata through direct accessors, not by demangling its mangled name at
# first use: the demangling was half of every command's Swift start-up (perf).
swift build -c release -Xswiftc -static-executable \
    -Xswiftc -Xfrontend -Xswiftc -disable-concrete-type-metadata-mangled-name-accessors \
    --product skiff "$@" >&2
echo "$(swift build -c release --show-bin-path)/skiff"
