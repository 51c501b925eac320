#!/usr/bin/env bash
# Side-by-side start-path benchmark of skiff, runc and crun (those installed).
#   sudo scripts/bench.sh [-n N]      N timed containers per row (default 50)
# Rows:
#   run        RUNTIME --root /run/bench-RUNTIME run -b BUNDLE ID
#   lifecycle  create -b BUNDLE ID; start ID; delete --force ID  (summed)
# The container runs /bin/true; every runtime gets the same config except for
# the crun adjustments below. skiff is taken from $SKIFF_BINARY, else
# .build/release/skiff (run scripts/build.sh first).
set -euo pipefail

n=50
while getopts n: opt; do
    case $opt in
        n) n=$OPTARG ;;
        *) echo "usage: $0 [-n N]" >&2; exit 2 ;;
    esac
done
[[ $n =~ ^[1-9][0-9]*$ ]] || { echo "bench.sh: -n wants a positive integer" >&2; exit 2; }

if [[ $(id -u) -ne 0 ]]; then
    echo "bench.sh: must be run as root (containers need namespaces and mounts): sudo $0" >&2
    exit 1
fi

repo=$(cd "$(dirname "$0")/.." && pwd)
work=${SKIFF_BENCH_DIR:-/tmp/skiff-bench}
"$repo/scripts/make-bundle.sh" "$work/bundle"
rootfs=$work/bundle/rootfs

# The timing loop: one python process per runtime, so interpreter start-up is
# paid once and only the runtime's own commands sit inside perf_counter.
timer=$(mktemp /tmp/skiff-bench-timer.XXXXXX.py)
trap 'rm -f "$timer"' EXIT
cat >"$timer" <<'PY'
import math, statistics, subprocess, sys, tempfile, time

n, root, bundle, prefix = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
rt = sys.argv[5:] + ["--root", root]
# Container stdio must not be a pipe: after `create` the container holds it
# open until it exits, and waiting for EOF would deadlock. stderr goes to a
# file so a failure can still be reported.
err = tempfile.TemporaryFile()

def call(*args):
    err.seek(0); err.truncate()
    r = subprocess.run(rt + list(args), stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=err)
    if r.returncode != 0:
        err.seek(0)
        sys.exit(f"{' '.join(rt + list(args))} failed ({r.returncode}): "
                 + err.read().decode(errors="replace").strip())

def run(cid):
    call("run", "-b", bundle, cid)

def lifecycle(cid):
    call("create", "-b", bundle, cid)
    call("start", cid)
    call("delete", "--force", cid)  # --force: /bin/true may not have exited yet

for name, step in (("run", run), ("lifecycle", lifecycle)):
    for i in range(3):  # warm-up: page cache, first cgroup creation
        step(f"{prefix}-{name}-warm{i}")
    ms = []
    for i in range(n):
        t = time.perf_counter()
        step(f"{prefix}-{name}-{i}")
        ms.append((time.perf_counter() - t) * 1000)
    ms.sort()
    print(name, f"{statistics.median(ms):.2f}", f"{ms[math.ceil(0.9 * n) - 1]:.2f}")
PY

declare -A median=() p90=()
ran=() skipped=()

for rt in skiff runc crun; do
    case $rt in
        skiff) bin=${SKIFF_BINARY:-$repo/.build/release/skiff}
               [[ -x $bin ]] || { skipped+=("skiff: $bin not built (run scripts/build.sh or set SKIFF_BINARY)"); continue; } ;;
        *)     bin=$(command -v "$rt") || { skipped+=("$rt: not installed"); continue; } ;;
    esac

    # Each runtime gets its own bundle directory holding only config.json;
    # root.path points at the shared rootfs (runc rejects a symlinked rootfs).
    bundle=$work/$rt
    mkdir -p "$bundle"
    filter='.process.args = ["/bin/true"] | .root.path = $rootfs'
    prefix=()
    if [[ $rt == crun ]]; then
        # crun 1.8.1 refuses this host's hybrid cgroup v1/v2 layout. It works
        # in a private mount namespace with cgroup2 mounted on /sys/fs/cgroup,
        # but only without linux.resources; it also rejects ociVersion other
        # than 1.0.x. The whole crun loop runs inside ONE `unshare -m` shell,
        # so the mount setup is paid once, not per container.
        filter+=' | del(.linux.resources) | .ociVersion = "1.0.2"'
        prefix=(unshare -m sh -c 'umount -l /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup && exec "$@"' sh)
    fi
    jq --arg rootfs "$rootfs" "$filter" "$work/bundle/config.json" >"$bundle/config.json"

    echo "bench.sh: $rt ($bin), $n containers per row..." >&2
    if ! out=$("${prefix[@]}" python3 "$timer" "$n" "/run/bench-$rt" "$bundle" "bench-$$" "$bin"); then
        skipped+=("$rt: failed (see error above)")
        continue
    fi
    while read -r mode med p; do
        median[$rt.$mode]=$med
        p90[$rt.$mode]=$p
    done <<<"$out"
    ran+=("$rt")
done

echo
printf '%-10s %-6s %10s %10s %9s\n' row runtime median_ms p90_ms vs_skiff
for mode in run lifecycle; do
    for rt in "${ran[@]}"; do
        ratio=-
        if [[ -n ${median[skiff.$mode]:-} ]]; then
            ratio=$(awk -v a="${median[$rt.$mode]}" -v b="${median[skiff.$mode]}" 'BEGIN { printf "%.2fx", a / b }')
        fi
        printf '%-10s %-6s %10s %10s %9s\n' "$mode" "$rt" "${median[$rt.$mode]}" "${p90[$rt.$mode]}" "$ratio"
    done
done
echo "(N=$n per row after 3 warm-ups; vs_skiff = median / skiff median; crun runs without linux.resources on cgroup2)"
for s in "${skipped[@]}"; do
    echo "skipped $s"
done
