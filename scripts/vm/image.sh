#!/usr/bin/env bash
# Build (or reuse) the Debian bookworm VM image that scripts/vm/run.sh boots,
# and print its directory on stdout:
#   DIR/disk.qcow2   ext4 root filesystem (the whole disk, no partition table)
#   DIR/vmlinuz      kernel and initrd, for qemu's direct kernel boot
#   DIR/initrd.img
#   DIR/cmdline      the kernel command line to boot it with
# The image is cached outside the repo in $SKIFF_VM_CACHE (default
# /var/cache/skiff-vm)/<key>, where <key> hashes this script and the guest
# files it bakes in (customize.sh, guest/): a second run with the same recipe
# prints the directory at once. run.sh boots it through a throwaway overlay,
# so the cached image is never written to.
#
# Packages come from this machine's apt sources (/etc/apt/sources.list and
# /etc/apt/sources.list.d/*.list|*.sources), handed to mmdebstrap as files;
# SKIFF_VM_APT_SOURCES=FILE uses that file instead. They are removed from the
# finished image, which has no network anyway.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
    echo "vm/image.sh: must be run as root (mmdebstrap, file ownership in the image): sudo $0" >&2
    exit 1
fi

here=$(cd "$(dirname "$0")" && pwd)
cache=${SKIFF_VM_CACHE:-/var/cache/skiff-vm}

# What the guest has. Tests use the runtimes and tools; systemd is PID 1.
packages=(
    systemd systemd-sysv dbus udev kmod   # init, its bus, devices, modules
    linux-image-amd64 initramfs-tools
    runc crun containerd podman docker.io # reference runtimes and engines
    busybox-static                        # test bundles' rootfs
    python3                               # the guest-side test runner (Tests/VM)
    python3-grpcio python3-protobuf protobuf-compiler  # the tests' CRI client (Tests/VM/cri)
    apparmor                              # dockerd's docker-default profile; AppArmor tests
    jq iproute2 procps util-linux libseccomp2 iptables strace
    bpftool                               # the device programs attached and pinned (test_cgroups.py)
    uidmap dbus-user-session libpam-systemd  # rootless: newuidmap, a user's bus and systemd (Tests/VM/test_rootless.py)
)

# The cache key: this script (which holds the package list), the customize
# hook and the guest files it bakes in.
key=$(cat "$0" "$here/customize.sh" "$here"/guest/* | sha256sum | cut -c1-16)
dir=$cache/$key

if [[ -f $dir/disk.qcow2 ]]; then
    touch "$dir/last-used"
    echo "$dir"
    exit 0
fi

"$here/install-deps.sh"
mkdir -p "$cache"
# One build per key at a time; a second caller waits and then finds it done.
exec {lock}>"$cache/.lock"
flock "$lock"
if [[ -f $dir/disk.qcow2 ]]; then
    touch "$dir/last-used"
    echo "$dir"
    exit 0
fi

sources=()
if [[ -n ${SKIFF_VM_APT_SOURCES:-} ]]; then
    sources=("$SKIFF_VM_APT_SOURCES")
else
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [[ -f $f ]] && grep -q '^[^#[:space:]]' "$f" && sources+=("$f")
    done
fi
[[ ${#sources[@]} -gt 0 ]] || { echo "vm/image.sh: no apt sources found on this machine" >&2; exit 1; }

# apt settings of this machine that fetching may depend on (a proxy; a mirror
# serving a frozen snapshot whose Release files are past Valid-Until).
aptopts=()
for opt in Acquire::http::Proxy Acquire::https::Proxy Acquire::Check-Valid-Until Acquire::Check-Date; do
    val=
    eval "$(apt-config shell val "$opt")"
    [[ -n $val ]] && aptopts+=(--aptopt="$opt \"$val\"")
done

tmp=$(mktemp -d "$cache/.build-$key.XXXXXX")
chmod 755 "$tmp"  # apt downloads as _apt, which must reach root/var/lib/apt
# --one-file-system: should mmdebstrap die with /proc or /dev still mounted in
# the tree, rm must not descend into them.
trap 'rm -rf --one-file-system "$tmp"' EXIT
root=$tmp/root
log=$tmp/mmdebstrap.log
start=$SECONDS
echo "vm/image.sh: building $dir (mmdebstrap, a few minutes; log in $log while it runs)" >&2

# Debian's kernel package insists on an initramfs generator; keep the initrd
# it makes small. The VM boots with its own (customize.sh), not this one.
essential_hook='mkdir -p "$1/etc/initramfs-tools/conf.d" &&
    echo MODULES=list >"$1/etc/initramfs-tools/conf.d/skiff-vm"'

include=$(IFS=,; echo "${packages[*]}")
if ! mmdebstrap --variant=minbase --include="$include" \
        "${aptopts[@]}" \
        --essential-hook="$essential_hook" \
        --customize-hook="\"$here/customize.sh\" \"\$1\"" \
        bookworm "$root" "${sources[@]}" >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "vm/image.sh: mmdebstrap failed (log above)" >&2
    exit 1
fi

mkdir -p "$tmp/out"
cp "$root"/boot/vmlinuz-* "$tmp/out/vmlinuz"
cp "$root/boot/skiff-initrd.img" "$tmp/out/initrd.img"
echo "root=/dev/vda rw rootfstype=ext4 console=ttyS0 systemd.unified_cgroup_hierarchy=1 panic=-1" >"$tmp/out/cmdline"

# ext4 straight from the directory (mkfs -d): no loop device or mount needed.
# 8 GiB is the guest's disk size; only used blocks end up in the qcow2.
truncate -s 8G "$tmp/disk.raw"
mkfs.ext4 -q -L skiff-vm -d "$root" "$tmp/disk.raw"
qemu-img convert -O qcow2 "$tmp/disk.raw" "$tmp/out/disk.qcow2"
cp "$log" "$tmp/out/build.log"
touch "$tmp/out/last-used"

rm -rf "$dir"
mv "$tmp/out" "$dir"
echo "vm/image.sh: built $dir in $((SECONDS - start)) s ($(du -sh "$dir" | cut -f1))" >&2

# Drop images of other recipes that nobody has booted for a week.
for old in "$cache"/*/; do
    old=${old%/}
    [[ $old != "$dir" && -n $(find "$old/last-used" -mtime +7 2>/dev/null) ]] && rm -rf --one-file-system "$old"
done
echo "$dir"
