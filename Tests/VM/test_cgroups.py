"""cgroup v2 resources with both drivers (cgroupfs and systemd), in the VM: each limit
lands in its file with runc's value and takes effect; pause/resume, update, ps and
events work; delete leaves no cgroup and no unit, even after 100 cycles."""

import json
import os
import subprocess
import tempfile
import time

import vmtest
from vmtest import describe, sh

MiB = 1024 * 1024


def resources_edit(resources, cgroups_path=None, devices=None, namespaces_drop=("cgroup",)):
    def edit(spec):
        spec["linux"]["resources"] = dict(resources)
        if devices is not None:
            spec["linux"]["resources"]["devices"] = devices
        if cgroups_path:
            spec["linux"]["cgroupsPath"] = cgroups_path
        spec["linux"]["namespaces"] = [n for n in spec["linux"]["namespaces"] if n["type"] not in namespaces_drop]
        spec["process"]["terminal"] = False
    return edit


class Background:
    """A command running while the test goes on (skiff events); output to a file."""

    def __init__(self, *args):
        self.out = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(list(args), stdin=subprocess.DEVNULL, stdout=self.out,
                                     stderr=subprocess.STDOUT)

    def finish(self, timeout):
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.out.seek(0)
        return self.out.read().decode(errors="replace").splitlines()


class Driver:
    """The cgroupfs driver: --root only; the cgroup is /skiff/<id> unless cgroupsPath says."""
    flags = []

    def cgroups_path(self, cid):
        return None

    def cgroup_of(self, cid):
        return f"/skiff/{cid}"

    def unit_of(self, cid):
        return None


class SystemdDriver(Driver):
    flags = ["--systemd-cgroup"]

    def cgroups_path(self, cid):
        return f"system.slice:skiff:{cid}"

    def cgroup_of(self, cid):
        return f"/system.slice/skiff-{cid}.scope"

    def unit_of(self, cid):
        return f"skiff-{cid}.scope"


class CgroupfsResources(vmtest.TestCase):
    driver = Driver()

    def setUp(self):
        self.skiff = vmtest.Runtime.skiff(self)

    def sk(self, *args, **kw):
        return self.skiff(*self.driver.flags, *args, **kw)

    def created(self, args, resources, devices=None):
        """A created container with RESOURCES; returns (id, cgroup path)."""
        cid = vmtest.unique_id("cg")
        bundle = vmtest.make_bundle(self, args=args, edit=resources_edit(
            resources, self.driver.cgroups_path(cid), devices))
        self.skiff.ids.append(cid)
        r = self.sk("create", "-b", bundle, cid)
        self.assertEqual(r.returncode, 0, describe(r))
        return cid, self.driver.cgroup_of(cid)

    def run_limited(self, args, resources, devices=None, timeout=vmtest.TIMEOUT):
        cid = vmtest.unique_id("cg")
        bundle = vmtest.make_bundle(self, args=args, edit=resources_edit(
            resources, self.driver.cgroups_path(cid), devices))
        self.skiff.ids.append(cid)
        return cid, self.sk("run", "-b", bundle, cid, timeout=timeout)

    def test_every_resource_lands_in_its_file(self):
        res = {
            "memory": {"limit": 256 * MiB, "reservation": 64 * MiB, "swap": 384 * MiB},
            "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "burst": 10000, "cpus": "0", "mems": "0"},
            "pids": {"limit": 64},
            "hugepageLimits": [{"pageSize": "2MB", "limit": 4 * 2 * MiB}],
            "unified": {"memory.high": str(200 * MiB)},
        }
        cid, cg = self.created(["sleep", "1000"], res)
        want = {
            "memory.max": str(256 * MiB), "memory.low": str(64 * MiB), "memory.swap.max": str(128 * MiB),
            "memory.high": str(200 * MiB), "cpu.weight": "100", "cpu.max": "50000 100000",
            "cpu.max.burst": "10000", "cpuset.cpus": "0", "cpuset.mems": "0", "pids.max": "64",
            "hugetlb.2MB.max": str(8 * MiB),
        }
        got = {f: vmtest.read_cgroup(cg, f) for f in want}
        self.assertEqual(got, want)
        if self.driver.unit_of(cid):
            show = sh("systemctl", "show", self.driver.unit_of(cid), "-p", "MemoryMax", "-p", "TasksMax",
                      "-p", "CPUQuotaPerSecUSec", "-p", "Delegate", "-p", "AllowedCPUs")
            props = dict(line.split("=", 1) for line in show.stdout.split() if "=" in line)
            self.assertEqual(props.get("MemoryMax"), str(256 * MiB), show.stdout)
            self.assertEqual(props.get("TasksMax"), "64", show.stdout)
            self.assertEqual(props.get("CPUQuotaPerSecUSec"), "500ms", show.stdout)
            self.assertEqual(props.get("Delegate"), "yes", show.stdout)

    def test_memory_hog_is_oom_killed_and_events_reports_it(self):
        cid, cg = self.created(["sh", "-c", "sleep 2; x=a; while :; do x=$x$x; done"],
                               {"memory": {"limit": 16 * MiB, "swap": 16 * MiB}})
        events = Background(self.skiff.binary, "--root", self.skiff.root, *self.driver.flags,
                            "events", "--interval", "1s", cid)
        r = self.sk("start", cid)
        self.assertEqual(r.returncode, 0, describe(r))

        def oom_kills():
            # None once the cgroup is gone: systemd before 253 stops a scope one of whose
            # processes the kernel OOM-killed, and so removes its cgroup.
            try:
                text = vmtest.read_cgroup(cg, "memory.events")
            except FileNotFoundError:
                return None
            return int(dict(l.split() for l in text.splitlines())["oom_kill"])

        deadline = time.time() + 90
        kills = oom_kills()
        while time.time() < deadline and kills == 0:
            time.sleep(0.5)
            kills = oom_kills()
        if kills is None:
            self.assertIsNotNone(self.driver.unit_of(cid), "the cgroupfs driver's cgroup vanished")
            log = sh("journalctl", "-b", "-u", self.driver.unit_of(cid), "--no-pager").stdout
            self.assertIn("OOM killer", log)
        else:
            self.assertGreater(kills, 0)
        lines = events.finish(timeout=30)
        types = [json.loads(l).get("type") for l in lines if l.startswith("{")]
        self.assertIn("oom", types, lines)

    def test_fork_loop_stops_at_pids_max(self):
        # busybox sh exits 2 on its first failed fork; its sleeps stay, reparented to the
        # init, which counts the processes with builtins only (it cannot fork either).
        script = ('sh -c "while :; do sleep 30 & done" 2>/dev/null; echo inner=$?; '
                  'set -- /proc/[0-9]*; echo $#')
        cid, r = self.run_limited(["sh", "-c", script], {"pids": {"limit": 10}})
        self.assertEqual(r.returncode, 0, describe(r))
        out = r.stdout.split()
        self.assertEqual(out[0], "inner=2", describe(r))
        # At the failed fork: the init, the inner shell and 8 sleeps, pids.max's 10.
        self.assertEqual(int(out[1]), 9, describe(r))

    def test_device_allow_list(self):
        # /dev/kmsg (c 1:11) is not in the default allow-list; mknod ('m') is allowed for all.
        script = "mknod /dev/k c 1 11; head -c 1 /dev/k >/dev/null && echo open-ok || echo open-denied"
        _, r = self.run_limited(["sh", "-c", script], {})
        self.assertIn("open-denied", r.stdout, describe(r))
        self.assertIn("Operation not permitted", r.stderr, describe(r))
        _, r = self.run_limited(["sh", "-c", script], {},
                                devices=[{"allow": True, "type": "c", "major": 1, "minor": 11, "access": "rwm"}])
        self.assertIn("open-ok", r.stdout, describe(r))

    def test_cpu_max_throttles(self):
        cid, cg = self.created(["sh", "-c", "while :; do :; done"], {"cpu": {"quota": 10000, "period": 100000}})
        self.assertEqual(self.sk("start", cid).returncode, 0)
        time.sleep(3)
        stat = dict(l.split() for l in vmtest.read_cgroup(cg, "cpu.stat").splitlines())
        self.assertGreater(int(stat["nr_throttled"]), 0, stat)

    def test_pause_resume_update_ps_events(self):
        cid, cg = self.created(["sh", "-c", "sleep 1000 & sleep 1000 & wait"], {"pids": {"limit": 50}})
        self.assertEqual(self.sk("start", cid).returncode, 0)
        time.sleep(1)
        pids = json.loads(self.sk("ps", "--format", "json", cid).stdout)
        self.assertEqual(len(pids), 3, pids)
        self.assertEqual(sorted(pids), sorted(int(p) for p in vmtest.read_cgroup(cg, "cgroup.procs").split()))
        self.assertEqual(self.sk("pause", cid).returncode, 0)
        self.assertEqual(self.skiff.state(cid)["status"], "paused")
        self.assertIn("frozen 1", vmtest.read_cgroup(cg, "cgroup.events"))
        for p in pids:
            with open(f"/proc/{p}/cgroup") as f:
                self.assertIn(cg, f.read())
        self.assertEqual(self.sk("resume", cid).returncode, 0)
        self.assertEqual(self.skiff.state(cid)["status"], "running")
        r = self.sk("update", "--pids-limit", "77", "--memory", "300m", cid)
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertEqual(vmtest.read_cgroup(cg, "pids.max"), "77")
        self.assertEqual(vmtest.read_cgroup(cg, "memory.max"), str(300 * MiB))
        r = self.sk("events", "--stats", cid)
        self.assertEqual(r.returncode, 0, describe(r))
        ev = json.loads(r.stdout.splitlines()[0])
        self.assertEqual((ev["type"], ev["id"]), ("stats", cid))
        self.assertEqual(ev["data"]["pids"]["current"], 3, ev)
        self.assertGreater(ev["data"]["memory"]["usage"]["usage"], 0, ev)
        self.assertGreater(ev["data"]["cpu"]["usage"]["total"], 0, ev)

    def test_delete_leaves_nothing_after_100_cycles(self):
        bundle_ids = []
        # No cgroupsPath: the cgroupfs default is /skiff/<id>, systemd's system.slice:skiff:<id>.
        bundle = vmtest.make_bundle(self, args=["true"], edit=resources_edit({"pids": {"limit": 20}}))
        for i in range(100):
            cid = vmtest.unique_id("cyc")
            r = self.sk("create", "-b", bundle, cid)
            self.assertEqual(r.returncode, 0, describe(r))
            r = self.sk("delete", "--force", cid)
            self.assertEqual(r.returncode, 0, describe(r))
            bundle_ids.append(cid)
        for cid in bundle_ids:
            self.assertFalse(os.path.exists(vmtest.cgroup_dir(self.driver.cgroup_of(cid))), cid)
            if self.driver.unit_of(cid):
                r = sh("systemctl", "is-active", self.driver.unit_of(cid))
                self.assertNotEqual(r.stdout.strip(), "active", cid)
        units = sh("systemctl", "list-units", "--all", "--no-legend", "skiff-*.scope").stdout.strip()
        self.assertEqual(units, "", "no skiff unit is left")


class SystemdResources(CgroupfsResources):
    driver = SystemdDriver()
