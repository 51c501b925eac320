#!/usr/bin/env bash
# Regenerate scripts/link-order/skiff.order, the order in which scripts/build.sh has the
# linker lay out skiff's functions: the ones a container's start runs, in the order they
# first run, then the rest. Every skiff process faults its code in from the page cache,
# and the kernel maps a whole neighbourhood (64 KB or a large folio) per fault: code run
# together and packed together costs fewer faults and less RSS (README, "Benchmark").
#   sudo scripts/link-order/generate.sh
# Run it again after big changes to the start path; a stale order only costs speed
# (symbols it no longer names are skipped). It single-steps skiff under ptrace
# (text-trace.c), so it takes a few minutes. Like bench.sh it runs skiff in a private
# mount namespace with cgroup2 on /sys/fs/cgroup, the layout of a cgroup v2 node.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
    echo "generate.sh: must be run as root (it runs containers): sudo $0" >&2
    exit 1
fi
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=${SKIFF_LINK_ORDER_DIR:-/tmp/skiff-link-order}
rm -rf "$work"
mkdir -p "$work/traces"

cc=$(command -v clang || command -v cc)
"$cc" -O2 -o "$work/text-trace" "$here/text-trace.c"
# Linked afresh, so that the linker writes the map of where each input section went.
touch "$here/skiff.order"
skiff=$("$repo/scripts/build.sh" -Xlinker "-Map=$work/skiff.map")
cp "$skiff" "$work/skiff"
"$repo/scripts/make-bundle.sh" "$work/bundle" >/dev/null

# The text segment's bounds: skiff is non-PIE, so they hold in every process it makes.
read -r vaddr memsz < <(readelf -lW "$work/skiff" | awk '$1 == "LOAD" && $7 == "R" && $8 == "E" { print $3, $6 }')
lo=$((vaddr)) hi=$((vaddr + memsz))

for kind in true sleep; do
    mkdir -p "$work/$kind"
    case $kind in true) args='["/bin/true"]' ;; sleep) args='["sleep", "100000"]' ;; esac
    jq --arg rootfs "$work/bundle/rootfs" --argjson args "$args" \
        '.process.terminal = false | .process.args = $args | .root.path = $rootfs' \
        "$work/bundle/config.json" >"$work/$kind/config.json"
done
cat >"$work/process.json" <<'JSON'
{"args": ["/bin/true"], "cwd": "/", "env": ["PATH=/bin"], "user": {"uid": 0, "gid": 0}}
JSON

# The commands a container's life takes, traced one by one in that order. `create`
# is covered by `run` (its init outlives it, which a trace would wait for); `ps` runs
# ps(1), whose every instruction would be stepped too.
unshare -m sh -es "$work" "$lo" "$hi" <<'SH'
mount --make-rprivate /
umount -l /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup
work=$1 lo=$2 hi=$3
skiff=$work/skiff
trace() {
    name=$1; shift
    "$work/text-trace" "$work/traces/$name" "$lo" "$hi" -- "$skiff" "$@" >/dev/null 2>>"$work/trace.log"
}
root="--root $work/state"
trace run $root run -b "$work/true" lo-run
$skiff $root create -b "$work/sleep" lo-sleep
trace start $root start lo-sleep
trace state $root state lo-sleep
trace list $root list
trace exec $root exec lo-sleep /bin/true
trace exec-process $root exec --process "$work/process.json" lo-sleep
trace kill $root kill lo-sleep KILL
sleep 0.2
trace delete $root delete lo-sleep
$skiff $root create -b "$work/sleep" lo-force
$skiff $root start lo-force
trace delete-force $root delete --force lo-force
SH
cat "$work/trace.log" >&2
python3 "$here/order.py" "$work/skiff" "$work/skiff.map" \
    "$work"/traces/{run,start,state,list,exec,exec-process,kill,delete,delete-force} \
    >"$here/skiff.order"
echo "generate.sh: wrote $here/skiff.order ($(wc -l <"$here/skiff.order") functions)" >&2
