#!/usr/bin/env bash
# skiff, crun and runc side by side on the paths a container takes.
#   sudo scripts/bench.sh [--rounds N] [--scenarios 1,2,3,4,5,7] [--quick] [--vm]
# Natively (the figures that count): all three runtimes in ONE private mount namespace
# with cgroup2 mounted on /sys/fs/cgroup (crun 1.8 refuses this host's hybrid layout)
# and their state on a tmpfs (as /run is on systemd hosts), the same busybox bundle and
# config (runc's default spec without linux.resources), rounds interleaved runtime by
# runtime; medians of wall and CPU time and of the per-round skiff/crun and skiff/runc
# ratios (scripts/bench.py).
#   1 run /bin/true            2 create + start + delete --force   3 exec /bin/true
#   4 a burst (500 containers, 50 in flight)   5 peak RSS   7 state and list at 10/100/1000
# --vm also runs, in the cgroup v2 + systemd VM, scenario 6 (the smallest memory.max
# under which `run echo hi` works) and 8 (pod start through containerd's CRI).
# --quick: fewer rounds and a smaller burst, for a look rather than a figure.
# --gap-ms MS: idle time before each timed step (default 50, as between sporadic starts
# on a node; 0 runs them back to back, where one runtime's deferred kernel work lands
# on the next one's time).
# skiff is $SKIFF_BINARY, else built by scripts/build.sh. SKIFF_BASELINE=BINARY adds an
# earlier build as "skiff-base", in the same interleaved rounds (a change's before/after).
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
    echo "bench.sh: must be run as root (containers need namespaces and mounts): sudo $0" >&2
    exit 1
fi
repo=$(cd "$(dirname "$0")/.." && pwd)
vm=0
vm_args=()
args=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --vm) vm=1 ;;
        --quick) vm_args=(--pods 10); args+=(--rounds 20 --burst 100 --in-flight 20 --burst-repeats 1 --state-levels 10,100 --state-rounds 10 --rss-rounds 3) ;;
        --rounds|--scenarios|--burst|--in-flight|--burst-repeats|--rss-rounds|--state-levels|--state-rounds|--gap-ms|--json) args+=("$1" "$2"); shift ;;
        -h|--help) awk 'NR > 1 && /^#/ { print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) echo "bench.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

"$repo/scripts/install-deps.sh"
skiff=${SKIFF_BINARY:-$("$repo/scripts/build.sh")}
work=${SKIFF_BENCH_DIR:-/tmp/skiff-bench}
"$repo/scripts/make-bundle.sh" "$work/bundle" >/dev/null
rootfs=$work/bundle/rootfs

# /maxrss: prints its own getrusage maxrss, which the kernel carries over from the image
# the exec replaced: the container init's peak before it execs (scenario 5).
cc=$(command -v clang || command -v cc)
cat >"$work/maxrss.c" <<'C'
#include <stdio.h>
#include <sys/resource.h>
int main(void) { struct rusage r; getrusage(RUSAGE_SELF, &r); printf("%ld\n", r.ru_maxrss); return 0; }
C
"$cc" -O2 -static -o "$rootfs/maxrss" "$work/maxrss.c"
# rss-run: runs a command and prints the largest RSS among it and the children it
# reaped (wait4's ru_maxrss). Started from this tiny program, not from python, so that
# the figure does not carry the python interpreter's RSS over the exec.
cat >"$work/rss-run.c" <<'C'
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
int main(int argc, char **argv) {
    pid_t pid = fork();
    if (pid == 0) { execv(argv[1], argv + 1); _exit(127); }
    int status; struct rusage r;
    if (wait4(pid, &status, 0, &r) < 0) return 126;
    fprintf(stderr, "maxrss %ld\n", r.ru_maxrss);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 125;
}
C
"$cc" -O2 -static -o "$work/rss-run" "$work/rss-run.c"

# One config for all three: runc's default spec, no terminal, no linux.resources (crun
# cannot apply them on this host), ociVersion 1.0.2 (crun 1.8 wants 1.0.x).
rm -f "$work/config.json"
runc spec --bundle "$work"
base='.process.terminal = false | del(.linux.resources) | .ociVersion = "1.0.2" | .root.path = $rootfs'
runtimes=()
names=(skiff crun runc)
[[ -n ${SKIFF_BASELINE:-} ]] && names=(skiff skiff-base crun runc)
# The skiff binaries are timed from fresh copies, as a package install leaves them: a
# file the linker has just written sits in the page cache in small pieces, and its every
# exec costs more (`state` 0.62 ms against 0.55 ms for a cp of the same file here), which
# would favour whichever binary was written last.
mkdir -p "$work/bin"
for rt in "${names[@]}"; do
    case $rt in
        skiff) cp "$skiff" "$work/bin/skiff.tmp"; mv "$work/bin/skiff.tmp" "$work/bin/skiff"; bin=$work/bin/skiff ;;
        skiff-base) cp "$SKIFF_BASELINE" "$work/bin/base.tmp"; mv "$work/bin/base.tmp" "$work/bin/skiff-base"; bin=$work/bin/skiff-base ;;
        *) bin=$(command -v "$rt") ;;
    esac
    for kind in true sleep maxrss; do
        case $kind in
            true) cmd='["/bin/true"]' ;;
            sleep) cmd='["sleep", "100000"]' ;;
            maxrss) cmd='["/maxrss"]' ;;
        esac
        mkdir -p "$work/$rt/$kind"
        jq --arg rootfs "$rootfs" --argjson cmd "$cmd" "$base | .process.args = \$cmd" "$work/config.json" \
            >"$work/$rt/$kind/config.json"
    done
    runtimes+=(--runtime "$rt=$bin")
done
rm -f "$work/config.json"

echo "bench.sh: $(nproc) cores, kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
# The BPF filesystem as systemd mounts it on every node (skiff pins its device programs
# there); this host's init does not. The runtimes' state (--root /run/skiff-bench/NAME)
# on a tmpfs, as /run is on every systemd host: this host's /run is a journal-less ext4,
# whose inode allocator passes over every inode freed in the last 5 minutes (ext4's
# recently_deleted()), so a state file's cost there grew with what the scenarios
# before it had deleted (a burst measured 1.99x crun's rate on it, 2.17x on tmpfs).
unshare -m sh -c 'mount --make-rprivate / && umount -l /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup &&
    { [ "$(stat -f -c %T /sys/fs/bpf)" = bpf_fs ] || mount -t bpf bpf /sys/fs/bpf; } &&
    mkdir -p /run/skiff-bench && mount -t tmpfs -o mode=0700 skiff-bench /run/skiff-bench && exec "$@"' sh \
    python3 "$repo/scripts/bench.py" --work "$work" "${runtimes[@]}" "${args[@]}"

if [[ $vm -eq 1 ]]; then
    "$repo/scripts/vm/bench.sh" "${vm_args[@]}"
fi
