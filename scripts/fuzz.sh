#!/usr/bin/env bash
# libFuzzer over skiff's input readers (Tests/Fuzz: config.json, seccomp, mount options,
# resources, update documents, state records, D-Bus replies, the command line).
#   scripts/fuzz.sh TARGET|all SECONDS [libFuzzer flags...]
#   scripts/fuzz.sh --list
# Builds the targets with -sanitize=fuzzer,address into .build-fuzz, seeds each run
# with Tests/Fuzz/corpus/TARGET and keeps what it grows in .build-fuzz/corpus/TARGET
# (the repository's seeds are never written). A crash, a leak, a hang past
# FUZZ_TIMEOUT_S or a failed invariant stops the run: the input is saved under
# .build-fuzz/artifacts/TARGET/, the exit status is non-zero, and
#   .build/debug/skiff-fuzz TARGET FILE   (a plain build) replays it.
# Prints, per target: executions per second, corpus entries and coverage.
set -euo pipefail
# A Swift runtime failure (overflow, bounds, a nil unwrap) traps straight to libFuzzer,
# which saves the input; the backtracer would only confuse ASan.
export SWIFT_BACKTRACE=enable=no
# Leaks are reported, less those the suppressions explain (libseccomp's own).
export LSAN_OPTIONS=suppressions=$(cd "$(dirname "$0")/.." && pwd)/Tests/Sanitizers/lsan.supp

cd "$(dirname "$0")/.."
FUZZ_TIMEOUT_S=10     # one input taking longer is a hang
FUZZ_RSS_LIMIT_MB=2048
FUZZ_MAX_LEN=65536    # the largest seed (a Docker seccomp profile) is about 20 KB

if [[ ${1:-} == --list ]]; then
    swift build --product skiff-fuzz >&2
    exec .build/debug/skiff-fuzz --list
fi
if [[ $# -lt 2 ]]; then
    echo "usage: $0 TARGET|all SECONDS [libFuzzer flags...]   ($0 --list names the targets)" >&2
    exit 2
fi
target=$1 seconds=$2
shift 2

swift build --product skiff-fuzz --scratch-path .build-fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DSKIFF_LIBFUZZER -Xcc -fsanitize=fuzzer-no-link,address \
    2> >(grep -v "Cannot export local symbol" >&2) >&2
fuzzer=.build-fuzz/debug/skiff-fuzz

if [[ $target == all ]]; then
    targets=$(ls Tests/Fuzz/corpus)
else
    [[ -d Tests/Fuzz/corpus/$target ]] || { echo "fuzz.sh: no target \"$target\" (no Tests/Fuzz/corpus/$target)" >&2; exit 2; }
    targets=$target
fi

rc=0
summary=()
for t in $targets; do
    corpus=.build-fuzz/corpus/$t artifacts=.build-fuzz/artifacts/$t
    mkdir -p "$corpus" "$artifacts"
    log=.build-fuzz/$t.log
    echo "fuzz.sh: $t for $seconds s" >&2
    status=0
    SKIFF_FUZZ_TARGET=$t "$fuzzer" -max_total_time="$seconds" -timeout=$FUZZ_TIMEOUT_S \
        -rss_limit_mb=$FUZZ_RSS_LIMIT_MB -max_len=$FUZZ_MAX_LEN -print_final_stats=1 \
        -artifact_prefix="$artifacts/" "$@" "$corpus" "Tests/Fuzz/corpus/$t" >"$log" 2>&1 || status=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    entries=$(ls "$corpus" | wc -l)
    line="$t: ${runs:-?} runs, ${rate:-?} exec/s, corpus $entries entries, cov ${cov:-?}"
    if [[ $status -ne 0 ]]; then
        rc=1
        line+=" -- FAILED (status $status; $log, input in $artifacts/)"
        grep -E "ERROR|fuzz invariant|Fatal error|runtime failure|==[0-9]+==" "$log" | head -5 >&2 || true
    fi
    echo "$line"
    summary+=("$line")
done
[[ $target == all ]] && { echo "fuzz.sh: summary"; printf '  %s\n' "${summary[@]}"; }
exit "$rc"
