"""The soak (scripts/soak.sh) under both cgroup drivers: create/start/exec/delete cycles
with random SIGKILLs to skiff and to the container, then the same count of state dirs,
cgroups, systemd units, mounts, processes, and fds and RSS of a long `events` run."""

import os
import subprocess

import vmtest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Fewer than the host's 1000: each cycle costs ~10x under TCG.
CYCLES = 150


class Soak(vmtest.TestCase):
    def soak(self, *flags):
        r = subprocess.run([os.path.join(REPO, "scripts", "soak.sh"), "--cycles", str(CYCLES),
                            "--root", "/run/skiff-vm-soak", *flags],
                           env={**os.environ, "SKIFF_BINARY": vmtest.SKIFF},
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=1800)
        print(r.stdout)
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertIn(f"{CYCLES} cycles in", r.stdout)
        return r.stdout

    def test_soak_cgroupfs(self):
        self.soak()

    def test_soak_systemd(self):
        self.assertIn(" units=", self.soak("--systemd"), "units are counted")
