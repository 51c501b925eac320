#!/usr/bin/env bash
# Install the Debian packages skiff's build, tests, demo and benchmark need.
# Idempotent: dpkg is asked first, so a second run is fast and works offline;
# apt-get (and its network access) is only touched when something is missing.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
    echo "install-deps.sh: must be run as root (try: sudo $0)" >&2
    exit 1
fi

packages=(
    busybox-static   # the demo/test bundle's rootfs
    libseccomp-dev   # seccomp filters (libseccomp.a, linked statically)
    # No libcap-dev or libsystemd-dev: capabilities are set with capset/prctl
    # directly, and the systemd driver speaks D-Bus itself, because Debian has no
    # static libsystemd and a dynamic one would cost every command its loading.
    runc crun        # reference runtimes for tests and benchmarks
    jq hyperfine strace
    iproute2 util-linux procps
    python3          # bench.sh timing loop
    uidmap           # newuidmap/newgidmap: rootless tests mapping subordinate id ranges
)

# One dpkg-query call for all packages (like dpkg -s, but one fork, not 13).
# Only "install ok installed" counts: a removed package whose config files are
# left behind is known to dpkg but must still be installed.
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

echo "install-deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
