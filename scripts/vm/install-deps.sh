#!/usr/bin/env bash
# Install the Debian packages the VM test harness (scripts/vm/) needs on the host:
# mmdebstrap builds the guest image, qemu boots it. Same rules as
# scripts/install-deps.sh: dpkg is asked first, apt only when something is missing.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
    echo "vm/install-deps.sh: must be run as root (try: sudo $0)" >&2
    exit 1
fi

packages=(
    mmdebstrap       # builds the guest's root filesystem
    qemu-system-x86  # boots it (9p shares included)
    qemu-utils       # qemu-img: the cached qcow2 base image
    e2fsprogs        # mkfs.ext4 -d: the disk image from a directory, no loop device
    zstd             # mmdebstrap and initramfs-tools use it when present
)

declare -A installed=()
while read -r name status; do
    if [[ $status == "install ok installed" ]]; then installed[$name]=1; fi
done < <(dpkg-query -W -f='${Package} ${Status}\n' "${packages[@]}" 2>/dev/null || true)

missing=()
for p in "${packages[@]}"; do
    [[ -n ${installed[$p]:-} ]] || missing+=("$p")
done

if [[ ${#missing[@]} -eq 0 ]]; then
    exit 0
fi

echo "vm/install-deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
