#!/usr/bin/env bash
# mmdebstrap's customize hook for scripts/vm/image.sh: runs on the host once
# every package is installed in ROOT, the guest's root filesystem.
#   - The initrd (ROOT/boot/skiff-initrd.img): busybox, guest/init and the
#     modules the virtio disk and ext4 need, in the order modprobe resolves
#     them. Uncompressed: it is small, and nothing has to unpack it.
#   - No fstab: the initrd mounts / read-write, nothing else is mounted.
#   - The harness unit (guest/vm-harness*), enabled. Its name does not start
#     with "skiff": tests look for leftover skiff-* units.
#   - Nothing starts at boot that tests do not need: boot time is test time.
#     Engines start on demand (systemctl start docker).
#   - The host's apt sources and options are not left in the image.
set -euxo pipefail

root=$1
here=$(cd "$(dirname "$0")" && pwd)

kver=$(ls "$root/lib/modules")
ird=$root/tmp/skiff-initrd
mkdir -p "$ird/bin" "$ird/proc" "$ird/dev"
cp "$root/bin/busybox" "$ird/bin/busybox"
install -m 0755 "$here/guest/init" "$ird/init"
chroot "$root" modprobe -S "$kver" --show-depends -a virtio_pci virtio_blk ext4 crc32c_generic |
    awk '$1 == "insmod" && !seen[$2]++ { print $2 }' >"$ird/modules"
grep -q /ext4.ko "$ird/modules"
while read -r ko; do
    mkdir -p "$ird${ko%/*}"
    cp "$root$ko" "$ird$ko"
done <"$ird/modules"
chroot "$root" sh -c 'cd /tmp/skiff-initrd && find . | cpio --quiet -o -H newc' >"$root/boot/skiff-initrd.img"
rm -rf "$ird"

echo skiff-vm >"$root/etc/hostname"
printf '%s\n' '127.0.0.1 localhost' '127.0.1.1 skiff-vm' '::1 localhost ip6-localhost ip6-loopback' >"$root/etc/hosts"
echo '# / is mounted read-write by the initrd (scripts/vm/guest/init)' >"$root/etc/fstab"
chroot "$root" systemd-machine-id-setup

install -m 0644 "$here/guest/vm-harness.service" "$root/etc/systemd/system/"
install -m 0755 "$here/guest/vm-harness" "$root/usr/local/sbin/"
chroot "$root" systemctl enable vm-harness.service
chroot "$root" systemctl disable docker.service docker.socket containerd.service \
    podman.service podman-restart.service podman-auto-update.service podman-auto-update.timer \
    e2scrub_reap.service systemd-pstore.service
chroot "$root" systemctl mask apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer \
    e2scrub_all.timer fstrim.timer

rm -f "$root"/etc/apt/sources.list "$root"/etc/apt/sources.list.d/* "$root/etc/apt/apt.conf.d/99mmdebstrap"
