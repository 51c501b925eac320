#!/usr/bin/env bash
# The unit tests (SkiffRuntimeTests: parsing, planning, the JSON, D-Bus and BPF code) under
# AddressSanitizer (Swift and C) and UndefinedBehaviorSanitizer (the C target: Swift has
# no UBSan, its overflow and bounds checks trap in every build). Built in .build-asan.
#   scripts/sanitize.sh [swift test args]
# Leaks are checked too, less XCTest's own (Tests/Sanitizers/lsan.supp).
set -euo pipefail

cd "$(dirname "$0")/.."
flags=(--scratch-path .build-asan --sanitize=address
       -Xcc -fsanitize=undefined -Xcc -fno-sanitize-recover=undefined)
# gold warns about every ASan assembly symbol it cannot export; they are harmless.
swift build --build-tests "${flags[@]}" 2> >(grep -v "Cannot export local symbol" >&2) >&2
export LSAN_OPTIONS=suppressions=$PWD/Tests/Sanitizers/lsan.supp
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
if [[ $# -eq 0 ]]; then set -- --filter SkiffRuntimeTests; fi
swift test --skip-build "${flags[@]}" "$@"
