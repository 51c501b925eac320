"""Smoke tests of the VM harness itself: the guest really is cgroup v2
(unified) with systemd as PID 1, and skiff and runc run a busybox bundle
there, in a cgroup under /sys/fs/cgroup."""

import os

import vmtest
from vmtest import describe, sh

CGROUP_READER = ["sh", "-c", "cat /proc/self/cgroup"]


class GuestSystem(vmtest.TestCase):
    def test_cgroup2_unified(self):
        self.assertEqual(vmtest.mount_fstype("/sys/fs/cgroup"), "cgroup2")
        with open("/proc/self/mountinfo") as f:
            v1 = [l for l in f if l.split(" - ", 1)[1].startswith("cgroup ")]
        self.assertEqual(v1, [], "cgroup v1 hierarchies are mounted")
        with open("/proc/self/cgroup") as f:
            lines = f.read().split()
        self.assertEqual(len(lines), 1, lines)
        self.assertTrue(lines[0].startswith("0::/"), lines)
        with open("/proc/cmdline") as f:
            self.assertIn("systemd.unified_cgroup_hierarchy=1", f.read().split())

    def test_controllers(self):
        have = set(vmtest.read_cgroup("/", "cgroup.controllers").split())
        want = {"cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"}
        self.assertLessEqual(want, have)

    def test_systemd_is_pid1_and_running(self):
        with open("/proc/1/comm") as f:
            self.assertEqual(f.read().strip(), "systemd")
        r = sh("systemctl", "is-system-running")
        failed = sh("systemctl", "--failed", "--no-legend").stdout
        self.assertEqual(r.stdout.strip(), "running", f"failed units:\n{failed}")


class Skiff(vmtest.TestCase):
    def setUp(self):
        self.skiff = vmtest.Runtime.skiff(self)

    def test_version(self):
        r = self.skiff("--version")
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertIn("skiff version", r.stdout)

    def test_run_prints_its_cgroup(self):
        bundle = vmtest.make_bundle(self, args=CGROUP_READER, edit=vmtest.drop_namespace("cgroup"))
        cid = vmtest.unique_id("skiff")
        r = self.skiff.run_container(bundle, cid)
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertEqual(r.stdout.strip(), f"0::/skiff/{cid}", describe(r))

    def test_run_in_cgroup_namespace(self):
        bundle = vmtest.make_bundle(self, args=CGROUP_READER)
        r = self.skiff.run_container(bundle)
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertEqual(r.stdout.strip(), "0::/", describe(r))

    def test_container_cgroup_is_under_sys_fs_cgroup(self):
        bundle = vmtest.make_bundle(self, args=["sleep", "600"])
        cid = self.skiff.create(bundle)
        pid = self.skiff.state(cid)["pid"]
        path = vmtest.proc_cgroup(pid)
        self.assertEqual(path, f"/skiff/{cid}")
        d = vmtest.cgroup_dir(path)
        self.assertTrue(os.path.isdir(d), d)
        self.assertIn(str(pid), vmtest.read_cgroup(path, "cgroup.procs").split())
        r = self.skiff("delete", "--force", cid)
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertFalse(os.path.exists(d), f"{d} left behind after delete")


class Runc(vmtest.TestCase):
    def test_runc_run(self):
        runc = vmtest.Runtime.other(self, "runc")
        bundle = vmtest.make_bundle(self, args=CGROUP_READER, edit=vmtest.drop_namespace("cgroup"))
        cid = vmtest.unique_id("runc")
        r = runc.run_container(bundle, cid)
        self.assertEqual(r.returncode, 0, describe(r))
        line = r.stdout.strip()
        self.assertTrue(line.startswith("0::/") and line.endswith(cid), describe(r))
