"""skiff exec on cgroup v2 + systemd, with both cgroup drivers, and the two conformance
gaps found in the VM: a config without namespaces runs (as runc), and an AppArmor
profile that is not loaded is named in the error."""

import os

import vmtest
from vmtest import describe, sh
from test_cgroups import Driver, SystemdDriver, resources_edit


class CgroupfsExec(vmtest.TestCase):
    driver = Driver()

    def setUp(self):
        self.skiff = vmtest.Runtime.skiff(self)

    def sk(self, *args, **kw):
        return self.skiff(*self.driver.flags, *args, **kw)

    def running(self, resources=None):
        cid = vmtest.unique_id("ex")
        bundle = vmtest.make_bundle(self, args=["sleep", "1000"], edit=resources_edit(
            resources or {"pids": {"limit": 32}}, self.driver.cgroups_path(cid)))
        self.skiff.ids.append(cid)
        r = self.sk("run", "-d", "-b", bundle, cid)
        self.assertEqual(r.returncode, 0, describe(r))
        return cid, self.driver.cgroup_of(cid), bundle

    def test_exec_joins_the_containers_cgroup(self):
        cid, cg, _ = self.running()
        init = self.skiff.state(cid)["pid"]
        r = self.sk("exec", cid, "sh", "-c", "cat /proc/self/cgroup; readlink /proc/self/ns/pid; echo $$")
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertIn(f"0::{cg}\n", r.stdout)
        self.assertIn(os.readlink(f"/proc/{init}/ns/pid"), r.stdout)
        # Detached: the pid file names a process in the same cgroup, counted by pids.current.
        pidfile = os.path.join(vmtest.WORK, f"{cid}.pid")
        r = self.sk("exec", "-d", "--pid-file", pidfile, cid, "sleep", "60")
        self.assertEqual(r.returncode, 0, describe(r))
        with open(pidfile) as f:
            pid = int(f.read())
        os.unlink(pidfile)
        self.assertEqual(vmtest.proc_cgroup(pid), cg)
        self.assertEqual(vmtest.read_cgroup(cg, "pids.current"), "2")
        self.assertEqual(self.sk("exec", cid, "true").returncode, 0)

    def test_exec_into_sub_cgroup(self):
        cid, cg, _ = self.running()
        os.mkdir(os.path.join(vmtest.cgroup_dir(cg), "sub"))
        r = self.sk("exec", "--cgroup", "sub", cid, "cat", "/proc/self/cgroup")
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertEqual(r.stdout, f"0::{cg}/sub\n")

    def test_exec_refused_at_pids_max_leaves_the_container(self):
        cid, cg, _ = self.running({"pids": {"limit": 1}})
        r = self.sk("exec", cid, "true")
        self.assertEqual(r.returncode, 1, describe(r))
        self.assertTrue(r.stderr.strip(), "the error says why")
        self.assertEqual(self.skiff.state(cid)["status"], "running")


class SystemdExec(CgroupfsExec):
    driver = SystemdDriver()


class Conformance(vmtest.TestCase):
    def setUp(self):
        self.skiff = vmtest.Runtime.skiff(self)

    def test_config_without_namespaces_runs_as_runc(self):
        """runc 1.1 mounts in the host's mount namespace under the rootfs and chroots;
        skiff does the same and, unlike runc, takes those mounts down on delete."""
        def edit(spec):
            spec["linux"]["namespaces"] = []
            spec["linux"].pop("maskedPaths", None)
            spec["linux"].pop("readonlyPaths", None)
            spec.pop("hostname", None)
            spec["process"]["terminal"] = False
        script = "readlink /proc/self/ns/mnt; readlink /proc/self/ns/pid; cat /etc/hostname"
        host = f"{os.readlink('/proc/self/ns/mnt')}\n{os.readlink('/proc/self/ns/pid')}\nskiff\n"
        for name, rt in (("skiff", self.skiff), ("runc", vmtest.Runtime.other(self, "runc"))):
            bundle = vmtest.make_bundle(self, args=["/bin/sh", "-c", script], edit=edit)
            r = rt.run_container(bundle)
            self.assertEqual(r.returncode, 0, describe(r))
            self.assertEqual(r.stdout, host, name)
            if name == "skiff":
                with open("/proc/self/mountinfo") as f:
                    left = [l for l in f if f" {bundle}/" in l]
                self.assertEqual(left, [], "delete took the container's mounts down")
            else:
                # runc leaves its mounts, and made the guest's / rslave (its prepareRoot):
                # undo both for the tests that follow.
                sh("umount", "-R", "-l", os.path.join(bundle, "rootfs"))
                sh("mount", "--make-rshared", "/")

    def test_missing_apparmor_profile_is_named(self):
        with open("/sys/module/apparmor/parameters/enabled") as f:
            self.assertEqual(f.read().strip(), "Y", "the VM's kernel runs AppArmor")

        def edit(spec):
            spec["process"]["apparmorProfile"] = "skiff-no-such-profile"
            spec["process"]["terminal"] = False
        bundle = vmtest.make_bundle(self, args=["true"], edit=edit)
        r = self.skiff.run_container(bundle)
        self.assertEqual(r.returncode, 1, describe(r))
        self.assertIn('AppArmor profile \\"skiff-no-such-profile\\" is not loaded', r.stderr)
        self.assertIn("process.apparmorProfile", r.stderr)
        self.assertEqual(sh(vmtest.SKIFF, "--root", self.skiff.root, "list", "-q").stdout, "", "nothing left")
