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

# The configs traced are the default specs callers hand a runtime (capabilities, masked
# and read-only paths, /dev/pts, mqueue), not the demo's smaller config, whose start
# leaves out code every real container runs: runc's, as bench.sh times it (no cgroup
# namespace: the host's cgroup is bind-mounted), and skiff's (a cgroup namespace, as
# containerd and Docker on cgroup v2); both without linux.resources, as bench.sh runs them.
runc spec --bundle "$work"
mv "$work/config.json" "$work/runc.json"
(cd "$work" && "$work/skiff" spec)
mv "$work/config.json" "$work/skiff.json"
for kind in true sleep true-cgroupns; do
    mkdir -p "$work/$kind"
    case $kind in
        true) args='["/bin/true"]' spec=runc ;;
        sleep) args='["sleep", "100000"]' spec=runc ;;
        true-cgroupns) args='["/bin/true"]' spec=skiff ;;
    esac
    jq --arg rootfs "$work/bundle/rootfs" --argjson args "$args" \
        '.process.terminal = false | .process.args = $args | .root.path = $rootfs | del(.linux.resources)' \
        "$work/$spec.json" >"$work/$kind/config.json"
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
# The BPF filesystem systemd mounts on every node, as bench.sh: where skiff pins device programs.
[ "$(stat -f -c %T /sys/fs/bpf)" = bpf_fs ] || mount -t bpf bpf /sys/fs/bpf
work=$1 lo=$2 hi=$3
skiff=$work/skiff
trace() {
    name=$1; shift
    "$work/text-trace" "$work/traces/$name" "$lo" "$hi" -- "$skiff" "$@" >/dev/null 2>>"$work/trace.log"
}
root="--root $work/state"
trace run $root run -b "$work/true" lo-run
trace run-cgroupns $root run -b "$work/true-cgroupns" lo-run-cgroupns
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
traces=("$work"/traces/{run,run-cgroupns,start,state,list,exec,exec-process,kill,delete,delete-force})
python3 "$here/order.py" "$work/skiff" "$work/skiff.map" "$here/skiff-unnamed.ld" "${traces[@]}" >"$work/skiff.order"
# Linked with that order to see where libswiftCore's big section lands, then moved to the
# start that touches the fewest 64 KB windows (pad.py); the link after it checks where.
cp "$work/skiff.order" "$here/skiff.order"
"$repo/scripts/build.sh" -Xlinker "-Map=$work/linked.map" >/dev/null
python3 "$here/pad.py" "$work/skiff.map" "$work/linked.map" "$work/skiff.order" "${traces[@]}" >"$here/skiff.order"
"$repo/scripts/build.sh" -Xlinker "-Map=$work/padded.map" >/dev/null
grep -F 'libswiftCore.a(Swift.o):(.text)' "$work/padded.map" | awk '{ print "generate.sh: libswiftCore'"'"'s text at 0x" $1 }' >&2
echo "generate.sh: wrote $here/skiff.order ($(wc -l <"$here/skiff.order") functions)" >&2
