#!/usr/bin/env bash
# The VM part of scripts/bench.sh, in the cgroup v2 + systemd VM, one boot:
#   6  the smallest memory.max (swap off) under which `run echo hi` works (Tests/VM/bench_memory.py)
#   8  pod start latency through containerd's CRI, skiff, runc and crun handlers
#      interleaved pod by pod (Tests/VM/bench_pods.py)
#   sudo scripts/vm/bench.sh [--pods N] [--only 6|8]
# Builds skiff and the image when out of date. Under TCG the absolute times are
# inflated: compare the ratios.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
    echo "vm/bench.sh: must be run as root (image build, VM with 9p shares): sudo $0" >&2
    exit 1
fi
pods=30
only=
while [[ $# -gt 0 ]]; do
    case $1 in
        --pods) pods=$2; shift ;;
        --only) only=$2; shift ;;
        *) echo "vm/bench.sh: unknown argument $1 (want --pods N, --only 6|8)" >&2; exit 2 ;;
    esac
    shift
done

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
"$repo/scripts/install-deps.sh"
"$here/install-deps.sh"
skiff=${SKIFF_BINARY:-$("$repo/scripts/build.sh")}
"$here/image.sh" >/dev/null
share=()
[[ $skiff == "$repo"/* ]] || share=(--share "$(dirname "$skiff")")
steps=()
[[ -z $only || $only == 6 ]] && steps+=("python3 $repo/Tests/VM/bench_memory.py")
[[ -z $only || $only == 8 ]] && steps+=("python3 $repo/Tests/VM/bench_pods.py -n $pods")
script=$(IFS=';'; echo "set -e; ${steps[*]}")
exec "$here/run.sh" "${share[@]}" --timeout "${SKIFF_VM_TIMEOUT:-3600}" --env SKIFF_BINARY="$skiff" \
    --env PYTHONUNBUFFERED=1 -- sh -c "$script"
