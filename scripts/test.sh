#!/usr/bin/env bash
# The README's second command (and CI's, via .ci/run): all unit and integration tests.
#   sudo scripts/test.sh [swift test args, e.g. --filter IntegrationTests]
# The integration tests drive the release binary against a real bundle; they
# find both through SKIFF_BINARY and SKIFF_TEST_BUNDLE.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
    echo "test.sh: must be run as root (integration tests create real containers): sudo $0" >&2
    exit 1
fi

here=$(cd "$(dirname "$0")" && pwd)
bundle=${SKIFF_TEST_DIR:-/tmp/skiff-test}/bundle

"$here/install-deps.sh"
SKIFF_BINARY=$("$here/build.sh")
"$here/make-bundle.sh" "$bundle"
export SKIFF_BINARY
export SKIFF_TEST_BUNDLE=$bundle

cd "$here/.."
swift test "$@"
