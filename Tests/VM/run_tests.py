#!/usr/bin/env python3
"""Guest-side runner of the VM tests (Tests/VM/test_*.py), run by
scripts/vm/test.sh inside the cgroup v2 + systemd VM:

    python3 Tests/VM/run_tests.py [-k PATTERN]... [--outside-vm]

-k selects tests whose name contains PATTERN (unittest's -k). Every skipped
test says why, and the skips are listed again at the end. Exits 1 on any
failure or error, and also when no test ran.

These tests create containers and cgroups as root; they refuse to run
outside the harness VM unless --outside-vm is given.
"""

import argparse
import os
import sys
import time
import unittest

# The tests live on the 9p share of the host's repo: leave no __pycache__ there.
sys.dont_write_bytecode = True
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
import vmtest  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-k", dest="patterns", action="append", default=[],
                    help="run only tests whose name contains this")
    ap.add_argument("--outside-vm", action="store_true",
                    help="run even though this is not the harness VM")
    opts = ap.parse_args()

    if not vmtest.in_vm() and not opts.outside_vm:
        print("run_tests.py: this is not the harness VM; run scripts/vm/test.sh "
              "(or pass --outside-vm)", file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("run_tests.py: must run as root", file=sys.stderr)
        return 2

    loader = unittest.TestLoader()
    if opts.patterns:
        loader.testNamePatterns = [f"*{p}*" for p in opts.patterns]
    suite = loader.discover(here, pattern="test_*.py", top_level_dir=here)

    print(f"skiff: {vmtest.SKIFF}", file=sys.stderr)
    start = time.monotonic()
    result = unittest.TextTestRunner(stream=sys.stderr, verbosity=2).run(suite)
    took = time.monotonic() - start

    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    skipped = len(result.skipped)
    passed = result.testsRun - failed - skipped
    if result.skipped:
        print("\nSkipped (each could not run here, and says why):", file=sys.stderr)
        for test, reason in result.skipped:
            print(f"  {test.id()}: {reason}", file=sys.stderr)
    print(f"\nVM tests took {took:.1f} s", file=sys.stderr)
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    if result.testsRun == 0:
        print("run_tests.py: no test ran", file=sys.stderr)
        return 1
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
