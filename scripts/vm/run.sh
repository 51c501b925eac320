#!/usr/bin/env bash
# Boot the cgroup v2 + systemd test VM (scripts/vm/image.sh), run one command
# in it as root, power it off; exit with the command's exit status.
#
#   sudo scripts/vm/run.sh [OPTIONS] -- COMMAND [ARG...]
#
#   --share DIR        also share DIR (read-write, 9p), mounted at the same path
#                      in the guest; repeatable. The repo is always shared, so
#                      absolute paths like .build/release/skiff work in both.
#   --env NAME=VALUE   set NAME in the command's environment; repeatable
#   --timeout SECONDS  give up after this long (default $SKIFF_VM_TIMEOUT or 1200)
#   --mem MIB          guest memory (default $SKIFF_VM_MEM or 3072)
#
# The command runs under bash --login with a clean root environment (HOME,
# PATH, LANG=C.UTF-8 and the --env variables), in the current directory when
# that is inside a share, else in /root, with stdin from /dev/null. Its stdout
# and stderr appear on this script's stdout and stderr as they are written.
# It starts once the guest's boot has finished (systemctl is-system-running).
#
# Exit status: the command's; 124 if the timeout hit; 125 if the VM did not
# get to run the command or died before it finished (the console's last
# lines are printed). SKIFF_VM_ACCEL=kvm|tcg forces the accelerator (default:
# KVM if a probe guest boots with it, else TCG; the verdict is cached).
# SKIFF_VM_CONSOLE=FILE keeps the guest's serial console log in FILE.
# Nothing is left behind but the image cache: each boot writes to a throwaway
# overlay of the cached disk.
set -euo pipefail

usage() { sed -n '4,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit "${1:-2}"; }
die() { echo "vm/run.sh: $*" >&2; exit 125; }

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${SKIFF_VM_CACHE:-/var/cache/skiff-vm}
timeout_s=${SKIFF_VM_TIMEOUT:-1200}
mem=${SKIFF_VM_MEM:-3072}
shares=("$repo")
envs=()

while [[ $# -gt 0 ]]; do
    case $1 in
        --share)   [[ $# -ge 2 && -d $2 ]] || die "--share wants an existing directory"
                   shares+=("$(realpath "$2")"); shift 2 ;;
        --env)     [[ $# -ge 2 && $2 =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || die "--env wants NAME=VALUE"
                   envs+=("$2"); shift 2 ;;
        --timeout) [[ $# -ge 2 && $2 =~ ^[1-9][0-9]*$ ]] || die "--timeout wants seconds"
                   timeout_s=$2; shift 2 ;;
        --mem)     [[ $# -ge 2 && $2 =~ ^[1-9][0-9]*$ ]] || die "--mem wants MiB"
                   mem=$2; shift 2 ;;
        -h|--help) usage 0 ;;
        --)        shift; break ;;
        *)         usage ;;
    esac
done
[[ $# -gt 0 ]] || usage

if [[ $(id -u) -ne 0 ]]; then
    echo "vm/run.sh: must be run as root (9p passthrough keeps file ownership): sudo $0" >&2
    exit 1
fi

for s in "${shares[@]}"; do
    [[ $s != *[$'\t\n']* ]] || die "share paths must not contain tabs or newlines: $s"
done

"$here/install-deps.sh"
image=$("$here/image.sh")

run=$(mktemp -d /tmp/skiff-vm.XXXXXX)
qpid= tails=()
cleanup() {
    [[ -n $qpid ]] && kill "$qpid" 2>/dev/null
    for t in "${tails[@]}"; do kill "$t" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$run"
}
trap cleanup EXIT
trap 'echo "vm/run.sh: interrupted (SIGINT); VM stopped" >&2; exit 130' INT
trap 'echo "vm/run.sh: terminated (SIGTERM); VM stopped" >&2; exit 143' TERM

# --- accelerator -----------------------------------------------------------
# /dev/kvm can be present while a guest never gets going under it (nested
# virtualisation here hangs without one line of output). The probe boots
# the image's kernel with no root disk: it panics and qemu exits, in about
# a second under working KVM. No panic within the limit: TCG. The verdict
# is cached per host kernel and qemu version.
accel=${SKIFF_VM_ACCEL:-}
if [[ -z $accel ]]; then
    if [[ ! -w /dev/kvm ]]; then
        accel=tcg
    else
        probe_key=$( { uname -r; qemu-system-x86_64 --version | head -n1; } | sha256sum | cut -c1-16)
        verdict=$cache/accel-$probe_key
        if [[ -f $verdict ]]; then
            accel=$(cat "$verdict")
        else
            t0=$SECONDS
            timeout -k 5 15 qemu-system-x86_64 -accel kvm -cpu host -m 256 -nodefaults \
                -no-user-config -display none -monitor none -no-reboot \
                -serial "file:$run/probe.log" -kernel "$image/vmlinuz" \
                -append "console=ttyS0 panic=-1 root=/dev/nonexistent" >/dev/null 2>&1 || true
            if grep -q 'Kernel panic' "$run/probe.log" 2>/dev/null; then accel=kvm; else accel=tcg; fi
            echo "$accel" >"$verdict"
            echo "vm/run.sh: KVM probe took $((SECONDS - t0)) s: using $accel (cached in $verdict)" >&2
        fi
    fi
fi
case $accel in
    kvm) accel_args=(-accel kvm -cpu host) ;;
    tcg) accel_args=(-accel tcg,thread=multi -cpu max) ;;
    *)   die "SKIFF_VM_ACCEL must be kvm or tcg, not '$accel'" ;;
esac

# --- the io share: command in, output and status out -------------------------
io=$run/io
mkdir "$io"
touch "$io/stdout" "$io/stderr"
# multidevs=remap: a share spanning several filesystems keeps inodes unique.
share_args=(-virtfs "local,path=$io,mount_tag=skiffio,security_model=passthrough,id=skiffio")
: >"$io/shares"
for i in "${!shares[@]}"; do
    share_args+=(-virtfs "local,path=${shares[i]},mount_tag=s$i,security_model=passthrough,multidevs=remap,id=s$i")
    printf 's%d\t%s\n' "$i" "${shares[i]}" >>"$io/shares"
done

cwd=/root
for s in "${shares[@]}"; do
    if [[ $PWD == "$s" || $PWD == "$s"/* ]]; then cwd=$PWD; fi
done
{
    printf 'cd %q || exit 125\n' "$cwd"
    for e in "${envs[@]}"; do
        printf 'export %s=%q\n' "${e%%=*}" "${e#*=}"
    done
    printf 'exec'
    printf ' %q' "$@"
    printf '\n'
} >"$io/command"

# --- boot ------------------------------------------------------------------
console=${SKIFF_VM_CONSOLE:-$run/console.log}
start=$(date +%s.%N)
# snapshot=on: writes go to a temporary overlay qemu makes (and unlinks) in
# TMPDIR; the cached image stays pristine.
TMPDIR=$run timeout -k 10 "$timeout_s" qemu-system-x86_64 \
    -name skiff-vm "${accel_args[@]}" -smp 2 -m "$mem" \
    -nodefaults -no-user-config -display none -monitor none -no-reboot \
    -serial "file:$console" \
    -kernel "$image/vmlinuz" -initrd "$image/initrd.img" -append "$(cat "$image/cmdline")" \
    -drive "file=$image/disk.qcow2,format=qcow2,if=virtio,snapshot=on,cache=unsafe" \
    -device virtio-rng-pci -nic none \
    "${share_args[@]}" </dev/null >"$run/qemu.log" 2>&1 &
qpid=$!

# The command's output, as the guest writes it; both tails end after qemu.
tail -n +1 -F --pid="$qpid" "$io/stdout" 2>/dev/null &
tails+=($!)
tail -n +1 -F --pid="$qpid" "$io/stderr" >&2 2>/dev/null &
tails+=($!)

rc=0
wait "$qpid" || rc=$?
qpid=
wait "${tails[@]}" 2>/dev/null || true
tails=()
end=$(date +%s.%N)

timing() {
    local booted=- ran=-
    if [[ -f $io/booted ]]; then
        booted=$(awk -v a="$(stat -c %.3Y "$io/booted")" -v s="$start" 'BEGIN { printf "%.1f", a - s }')
        ran=$(awk -v e="$end" -v a="$(stat -c %.3Y "$io/booted")" 'BEGIN { printf "%.1f", e - a }')
    fi
    echo "vm/run.sh: $accel: booted in ${booted} s, command + power-off ${ran} s, total $(awk -v e="$end" -v s="$start" 'BEGIN { printf "%.1f", e - s }') s" >&2
}

console_tail() {
    echo "---- last lines of the guest console ($console) ----" >&2
    tail -n 40 "$console" 2>/dev/null | sed -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\r//g' >&2
    if [[ -s $run/qemu.log ]]; then
        echo "---- qemu ----" >&2
        tail -n 20 "$run/qemu.log" >&2
    fi
    echo "----" >&2
}

if [[ $rc -eq 124 || $rc -eq 137 ]]; then
    console_tail
    timing
    echo "vm/run.sh: timed out after $timeout_s s (--timeout / SKIFF_VM_TIMEOUT)" >&2
    exit 124
fi
status=$(cat "$io/status" 2>/dev/null || true)
if [[ ! $status =~ ^[0-9]+$ ]]; then
    console_tail
    timing
    if [[ $rc -ne 0 ]]; then
        echo "vm/run.sh: qemu failed (exit status $rc) before the command finished" >&2
    else
        echo "vm/run.sh: the VM stopped before the command finished (boot failure or crash? console above)" >&2
    fi
    exit 125
fi
timing
exit "$status"
