#!/usr/bin/env bash
# The README's second command (and CI's, via .ci/run): every test.
#   sudo scripts/test.sh [swift test args, e.g. --filter IntegrationTests]
# 1. On this host: unit and integration tests (swift test). The integration tests
#    drive the release binary against a real bundle; they find both through
#    SKIFF_BINARY and SKIFF_TEST_BUNDLE.
# 2. The unit tests again under ASan and UBSan (scripts/sanitize.sh), and every fuzz
#    target for SKIFF_FUZZ_SECONDS (default 20) each from its seed corpus
#    (scripts/fuzz.sh all).
# 3. In the cgroup v2 + systemd VM (scripts/vm/test.sh): the tests this host's
#    hybrid cgroups cannot run (Tests/VM).
# Parts 2 and 3 are skipped, saying so, when swift test arguments narrow the run;
# SKIFF_VM_TESTS=0 skips the VM part.
# Exit status: 0 only if every part passed.
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
host=0
swift test "$@" || host=$?

sanitizers=0 fuzz=0
if [[ $# -gt 0 ]]; then
    echo "test.sh: sanitizer and fuzz runs skipped: swift test arguments given ($*)" >&2
else
    "$here/sanitize.sh" || sanitizers=$?
    "$here/fuzz.sh" all "${SKIFF_FUZZ_SECONDS:-20}" || fuzz=$?
fi

vm=0
if [[ $# -gt 0 ]]; then
    echo "test.sh: VM tests skipped: swift test arguments given ($*); run scripts/vm/test.sh for them" >&2
elif [[ ${SKIFF_VM_TESTS:-1} == 0 ]]; then
    echo "test.sh: VM tests skipped: SKIFF_VM_TESTS=0" >&2
else
    "$here/vm/test.sh" || vm=$?
fi

echo "test.sh: host tests exit $host, sanitizers exit $sanitizers, fuzzing exit $fuzz, VM tests exit $vm" >&2
[[ $host -eq 0 && $sanitizers -eq 0 && $fuzz -eq 0 && $vm -eq 0 ]]
