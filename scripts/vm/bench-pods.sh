#!/usr/bin/env bash
# Pod start latency through containerd's CRI with skiff, runc and crun as runtime
# handlers, interleaved, in the cgroup v2 + systemd VM (Tests/VM/bench_pods.py).
#   sudo scripts/vm/bench-pods.sh [-n PODS]     (default 30 pods per runtime)
# Builds skiff and the image when out of date, boots the VM once, prints the table.
# Under TCG the absolute times are inflated: compare the ratios.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
    echo "vm/bench-pods.sh: must be run as root (image build, VM with 9p shares): sudo $0" >&2
    exit 1
fi

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
"$repo/scripts/install-deps.sh"
"$here/install-deps.sh"
skiff=$("$repo/scripts/build.sh")
"$here/image.sh" >/dev/null
share=()
[[ $skiff == "$repo"/* ]] || share=(--share "$(dirname "$skiff")")
exec "$here/run.sh" "${share[@]}" --timeout "${SKIFF_VM_TIMEOUT:-3600}" --env SKIFF_BINARY="$skiff" \
    --env PYTHONUNBUFFERED=1 -- python3 "$repo/Tests/VM/bench_pods.py" "$@"
