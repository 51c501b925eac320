#!/usr/bin/env bash
# The README's first command: build skiff and run one busybox container with it.
#   sudo scripts/demo.sh
# SKIFF_DEMO_DIR (default /tmp/skiff-demo) holds the bundle; it is reused across runs.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
    echo "demo.sh: must be run as root (containers need namespaces and mounts): sudo $0" >&2
    exit 1
fi

here=$(cd "$(dirname "$0")" && pwd)
bundle=${SKIFF_DEMO_DIR:-/tmp/skiff-demo}/bundle

"$here/install-deps.sh"
skiff=$("$here/build.sh")
"$here/make-bundle.sh" "$bundle"

id=skiff-demo-$$
echo "== $skiff run $id (bundle $bundle) =="
# exec: the script's exit status is the container's.
exec "$skiff" --root /run/skiff-demo run -b "$bundle" "$id"
