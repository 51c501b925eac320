#!/usr/bin/env bash
# The VM tests: Tests/VM/test_*.py, run inside the cgroup v2 + systemd VM.
#   sudo scripts/vm/test.sh [-k PATTERN]...      (arguments go to Tests/VM/run_tests.py)
# Builds the static skiff (scripts/build.sh) and the VM image (image.sh) when
# they are out of date, boots the VM once (run.sh) and runs the guest-side
# runner there. Bundles are made inside the guest, on its own disk. Exit
# status: the runner's (1 if any test failed), or run.sh's 124/125 when the
# VM timed out or failed to boot.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
    echo "vm/test.sh: must be run as root (image build, VM with 9p shares): sudo $0" >&2
    exit 1
fi

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
t0=$SECONDS

"$repo/scripts/install-deps.sh"
"$here/install-deps.sh"
skiff=$("$repo/scripts/build.sh")
t1=$SECONDS
image=$("$here/image.sh")
t2=$SECONDS
echo "vm/test.sh: skiff $skiff, image $image" >&2

# The guest sees the repo at the same path; a binary built elsewhere needs
# its own share.
share=()
[[ $skiff == "$repo"/* ]] || share=(--share "$(dirname "$skiff")")

rc=0
# The client suites (containerd, CRI, Podman, Docker) take ~10 min under TCG, twice
# that on a busy host: the bound is 45 min.
"$here/run.sh" "${share[@]}" --timeout "${SKIFF_VM_TIMEOUT:-2700}" --env SKIFF_BINARY="$skiff" --env PYTHONUNBUFFERED=1 \
    -- python3 "$repo/Tests/VM/run_tests.py" "$@" || rc=$?
echo "vm/test.sh: exit status $rc; wall time $((SECONDS - t0)) s" \
    "(skiff build $((t1 - t0)) s, image $((t2 - t1)) s, VM $((SECONDS - t2)) s)" >&2
exit "$rc"
