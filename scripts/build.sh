#!/usr/bin/env bash
# Build the release skiff binary and print its path on stdout.
# skiff is linked as a fully static executable: no dynamic loader or Swift
# runtime .so lookups on every container start.
# Build output goes to stderr so callers can do: skiff=$(scripts/build.sh)
# Extra arguments are passed through to `swift build`.
set -euo pipefail

cd "$(dirname "$0")/.."

swift build -c release -Xswiftc -static-executable --product skiff "$@" >&2
echo "$(swift build -c release --show-bin-path)/skiff"
