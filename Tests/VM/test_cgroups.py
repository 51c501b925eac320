"""cgroup v2 resources with both drivers (cgroupfs and systemd), in the VM: each limit
lands in its file with runc's value and takes effect; pause/resume, update, ps and
events work; delete leaves no cgroup and no unit, even after 100 cycles."""

import errno
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


def device_program_ids(cgroup):
    """The ids of the device programs attached to CGROUP itself (bpftool)."""
    r = sh("bpftool", "-j", "cgroup", "list", f"/sys/fs/cgroup{cgroup}", check=True)
    return {p["id"] for p in json.loads(r.stdout or "[]") if p.get("attach_type") == "cgroup_device"}


def pinned_device_program_ids():
    """The ids of the programs skiff pinned in /sys/fs/bpf/skiff-devices."""
    pins = "/sys/fs/bpf/skiff-devices"
    return {json.loads(sh("bpftool", "-j", "prog", "show", "pinned", f"{pins}/{name}", check=True).stdout)["id"]
            for name in os.listdir(pins)}


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
            self.assertEqual(self.unit_properties(cid), {
                "MemoryMax": str(256 * MiB), "MemoryLow": str(64 * MiB), "MemorySwapMax": str(128 * MiB),
                "TasksMax": "64", "CPUWeight": "100", "CPUQuotaPerSecUSec": "500ms",
                "CPUQuotaPeriodUSec": "100ms", "AllowedCPUs": "0", "AllowedMemoryNodes": "0",
                "Delegate": "yes"})

    def unit_properties(self, cid):
        names = ["MemoryMax", "MemoryLow", "MemorySwapMax", "TasksMax", "CPUWeight",
                 "CPUQuotaPerSecUSec", "CPUQuotaPeriodUSec", "AllowedCPUs", "AllowedMemoryNodes", "Delegate"]
        show = sh("systemctl", "show", self.driver.unit_of(cid), *[a for n in names for a in ("-p", n)])
        return dict(line.split("=", 1) for line in show.stdout.splitlines() if "=" in line)

    def test_block_io_weight_and_throttles(self):
        dev = vmtest.root_disk()
        res = {"blockIO": {"weight": 500,
                           "throttleReadBpsDevice": [{"major": dev[0], "minor": dev[1], "rate": 1048576}],
                           "throttleWriteBpsDevice": [{"major": dev[0], "minor": dev[1], "rate": 2097152}],
                           "throttleReadIOPSDevice": [{"major": dev[0], "minor": dev[1], "rate": 100}],
                           "throttleWriteIOPSDevice": [{"major": dev[0], "minor": dev[1], "rate": 200}]}}
        allow = [{"allow": True, "type": "b", "major": dev[0], "minor": dev[1], "access": "r"}]
        cid, cg = self.created(["sleep", "1000"], res, devices=allow)
        self.assertEqual(self.sk("start", cid).returncode, 0)
        self.assertEqual(vmtest.read_cgroup(cg, "io.max"),
                         f"{dev[0]}:{dev[1]} rbps=1048576 wbps=2097152 riops=100 wiops=200")
        if os.path.exists(os.path.join(vmtest.cgroup_dir(cg), "io.bfq.weight")):
            self.assertIn("default 500", vmtest.read_cgroup(cg, "io.bfq.weight"))
        else:  # runc's ConvertBlkIOToIOWeightValue(500)
            self.assertIn("default 4950", vmtest.read_cgroup(cg, "io.weight"))
        if self.driver.unit_of(cid):  # as runc's systemd driver: IOWeight, converted
            show = sh("systemctl", "show", "-p", "IOWeight", self.driver.unit_of(cid))
            self.assertEqual(show.stdout.strip(), "IOWeight=4950")
        # The throttle takes effect: 6 MiB read from the disk (not yet cached) at 1 MiB/s.
        script = (f"mknod /dev/d b {dev[0]} {dev[1]} && read a _ </proc/uptime && "
                  "dd if=/dev/d of=/dev/null bs=64k count=96 skip=4000 && read b _ </proc/uptime && echo $a $b")
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3")
        _, r = self.run_limited(["sh", "-c", script], res, devices=allow)
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertIn("96+0 records in", r.stderr, describe(r))
        a, b = map(float, r.stdout.split())
        self.assertGreater(b - a, 4.5, describe(r))

    def test_memory_hog_is_oom_killed_and_events_reports_it(self):
        # The hog is a child of the init: the kernel kills the biggest process, and the
        # container (so its cgroup) outlives it. (systemd 252 also stops a scope after an
        # OOM kill, but the init ignores its SIGTERM, so the cgroup stays until delete.)
        hog = 'sleep 2; sh -c "x=a; while :; do x=\\$x\\$x; done"; echo hog-gone; sleep 1000'
        cid, cg = self.created(["sh", "-c", hog], {"memory": {"limit": 16 * MiB, "swap": 16 * MiB}})
        events = Background(self.skiff.binary, "--root", self.skiff.root, *self.driver.flags,
                            "events", "--interval", "1s", cid)
        r = self.sk("start", cid)
        self.assertEqual(r.returncode, 0, describe(r))

        def oom_kills():
            text = vmtest.read_cgroup(cg, "memory.events")
            return int(dict(l.split() for l in text.splitlines())["oom_kill"])

        deadline = time.time() + 90
        while time.time() < deadline and oom_kills() == 0:
            time.sleep(0.5)
        self.assertGreater(oom_kills(), 0)
        self.assertEqual(self.skiff.state(cid)["status"], "running")
        time.sleep(2)  # events' next look
        events.proc.terminate()
        lines = events.finish(timeout=30)
        types = [json.loads(l).get("type") for l in lines if l.startswith("{")]
        self.assertIn("oom", types, lines)
        # A scope systemd is already stopping (after the OOM kill) is deleted cleanly too.
        r = self.sk("delete", "--force", cid)
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertFalse(os.path.exists(vmtest.cgroup_dir(cg)))
        if self.driver.unit_of(cid):
            r = sh("systemctl", "is-active", self.driver.unit_of(cid))
            self.assertNotEqual(r.stdout.strip(), "active")

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

    def test_a_container_without_limits_is_accounted(self):
        # Every controller its ancestors have is enabled for it (runc's rule), so a
        # container with no linux.resources still has memory, cpu, io and pids files and
        # stats. Under a parent of its own, so no earlier container enabled them first.
        cid = vmtest.unique_id("acct")
        path = self.driver.cgroups_path(cid) or f"/skiff-{cid}/{cid}"
        bundle = vmtest.make_bundle(self, args=["sh", "-c", "sleep 1000 & sleep 1000 & wait"],
                                    edit=resources_edit({}, path))
        self.skiff.ids.append(cid)
        self.assertEqual(self.sk("create", "-b", bundle, cid).returncode, 0)
        self.assertEqual(self.sk("start", cid).returncode, 0)
        cg = self.driver.cgroup_of(cid) if self.driver.cgroups_path(cid) else path
        for f in ("memory.current", "pids.current", "cpu.stat", "io.stat"):
            self.assertTrue(os.path.exists(f"/sys/fs/cgroup{cg}/{f}"), f)
        deadline = time.time() + 30
        while time.time() < deadline and vmtest.read_cgroup(cg, "pids.current") != "3":
            time.sleep(0.2)
        ev = json.loads(self.sk("events", "--stats", cid).stdout.splitlines()[0])
        self.assertEqual(ev["data"]["pids"]["current"], 3, ev)
        self.assertGreater(ev["data"]["memory"]["usage"]["usage"], 0, ev)
        self.assertEqual(self.sk("delete", "--force", cid).returncode, 0)
        if not self.driver.cgroups_path(cid):
            os.rmdir(f"/sys/fs/cgroup/skiff-{cid}")

    def test_device_programs_are_shared_by_the_same_rules_only(self):
        # A device program is loaded once per set of rules and pinned under the SHA-256 of
        # its instructions (systemd mounts the BPF filesystem): containers with the same
        # rules attach the same program, others their own, and each keeps its rules.
        kmsg = [{"allow": True, "type": "c", "major": 1, "minor": 11, "access": "rwm"}]
        a, cga = self.created(["sleep", "1000"], {}, devices=kmsg)
        b, cgb = self.created(["sleep", "1000"], {})
        c, cgc = self.created(["sleep", "1000"], {}, devices=kmsg)
        ids = {cid: device_program_ids(cg) for cid, cg in ((a, cga), (b, cgb), (c, cgc))}
        for cid in (a, b, c):
            self.assertEqual(len(ids[cid]), 1, ids)
        self.assertEqual(ids[a], ids[c], ids)
        self.assertNotEqual(ids[a], ids[b], ids)
        pinned = pinned_device_program_ids()
        self.assertLessEqual(ids[a] | ids[b], pinned, (ids, pinned))
        script = "mknod /dev/k c 1 11; head -c 1 /dev/k >/dev/null && echo open-ok || echo open-denied"
        for cid, want in ((a, "open-ok"), (b, "open-denied"), (c, "open-ok")):
            self.assertEqual(self.sk("start", cid).returncode, 0)
            r = self.sk("exec", cid, "sh", "-c", script)
            self.assertIn(want, r.stdout, describe(r))
        # With every container gone the pins stay: the next one with those rules needs
        # no verifier.
        for cid in (a, b, c):
            self.assertEqual(self.sk("delete", "--force", cid).returncode, 0)
        d, cgd = self.created(["sleep", "1000"], {}, devices=kmsg)
        self.assertEqual(device_program_ids(cgd), ids[a])

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
        if self.driver.unit_of(cid):  # systemd keeps the new values as unit properties too
            props = self.unit_properties(cid)
            self.assertEqual((props["TasksMax"], props["MemoryMax"]), ("77", str(300 * MiB)), props)
        r = self.sk("events", "--stats", cid)
        self.assertEqual(r.returncode, 0, describe(r))
        ev = json.loads(r.stdout.splitlines()[0])
        self.assertEqual((ev["type"], ev["id"]), ("stats", cid))
        self.assertEqual(ev["data"]["pids"]["current"], 3, ev)
        self.assertGreater(ev["data"]["memory"]["usage"]["usage"], 0, ev)
        self.assertGreater(ev["data"]["cpu"]["usage"]["total"], 0, ev)

    def test_kill_all(self):
        cid, cg = self.created(["sh", "-c", "sleep 1000 & sleep 1000 & wait"], {"pids": {"limit": 50}})
        self.assertEqual(self.sk("start", cid).returncode, 0)
        deadline = time.time() + 30
        while time.time() < deadline and len(json.loads(self.sk("ps", "--format", "json", cid).stdout)) < 3:
            time.sleep(0.2)
        r = self.sk("kill", "--all", cid, "KILL")
        self.assertEqual(r.returncode, 0, describe(r))

        def procs():  # the systemd driver's scope (and its cgroup) goes once it is empty
            try:
                return vmtest.read_cgroup(cg, "cgroup.procs").split()
            except OSError as e:  # gone (ENOENT), or being removed as we read (ENODEV)
                if e.errno not in (errno.ENOENT, errno.ENODEV):
                    raise
                return []
        deadline = time.time() + 30
        while time.time() < deadline and procs():
            time.sleep(0.2)
        self.assertEqual(procs(), [])
        while time.time() < deadline and self.skiff.state(cid)["status"] != "stopped":
            time.sleep(0.2)
        self.assertEqual(self.skiff.state(cid)["status"], "stopped")

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


class CgroupfsPaths(vmtest.TestCase):
    """cgroupsPath under the cgroupfs driver: absolute and relative (both from the
    hierarchy's root, as runc), nested with the needed controllers enabled above."""

    def setUp(self):
        self.skiff = vmtest.Runtime.skiff(self)

    def check(self, cgroups_path, want):
        cid = vmtest.unique_id("path")
        bundle = vmtest.make_bundle(self, args=["sh", "-c", "cat /proc/self/cgroup"], edit=resources_edit(
            {"memory": {"limit": 64 * MiB}, "pids": {"limit": 30}}, cgroups_path.format(id=cid)))
        r = self.skiff.run_container(bundle, cid)
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertEqual(r.stdout.strip(), "0::" + want.format(id=cid))
        r = self.skiff("create", "-b", bundle, cid)
        self.assertEqual(r.returncode, 0, describe(r))
        path = want.format(id=cid)
        self.assertEqual(vmtest.read_cgroup(path, "memory.max"), str(64 * MiB))
        self.assertEqual(vmtest.read_cgroup(path, "pids.max"), "30")
        parent = os.path.dirname(path)
        while parent != "/":
            enabled = vmtest.read_cgroup(parent, "cgroup.subtree_control").split()
            self.assertTrue({"memory", "pids"} <= set(enabled), (parent, enabled))
            parent = os.path.dirname(parent)
        self.assertEqual(self.skiff("delete", "--force", cid).returncode, 0)
        self.assertFalse(os.path.exists(vmtest.cgroup_dir(path)))

    def test_absolute_nested(self):
        self.check("/skiff-vm-abs/a/b/{id}", "/skiff-vm-abs/a/b/{id}")

    def test_relative(self):
        self.check("skiff-vm-rel/{id}", "/skiff-vm-rel/{id}")

    def test_a_cgroup_taken_again_with_the_same_rules_keeps_its_device_program(self):
        # A stopped container's cgroup, still there with its device program, taken by a new
        # container with the same rules (cgroupsPath): the kernel refuses to attach the
        # same (pinned) program twice, and skiff keeps the one attached instead of failing.
        path = "/skiff-vm-again/" + vmtest.unique_id("cg")
        kmsg = [{"allow": True, "type": "c", "major": 1, "minor": 11, "access": "rwm"}]
        bundle = vmtest.make_bundle(self, args=["sleep", "1000"], edit=resources_edit({}, path, kmsg))
        first = self.skiff.create(bundle)
        ids = device_program_ids(path)
        self.assertEqual(len(ids), 1, ids)
        self.assertEqual(self.skiff("kill", first, "KILL").returncode, 0)
        deadline = time.monotonic() + vmtest.TIMEOUT
        while self.skiff.state(first)["status"] != "stopped" and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(self.skiff.state(first)["status"], "stopped")
        second = self.skiff.create(bundle)
        self.assertEqual(device_program_ids(path), ids)
        self.assertEqual(self.skiff("start", second).returncode, 0)
        r = self.skiff("exec", second, "sh", "-c", "mknod /dev/k c 1 11; head -c 1 /dev/k >/dev/null && echo open-ok")
        self.assertIn("open-ok", r.stdout, describe(r))
        r = self.skiff("exec", second, "sh", "-c", "mknod /dev/m c 1 1; head -c 1 /dev/m >/dev/null || echo open-denied")
        self.assertIn("open-denied", r.stdout, describe(r))
        # The running one first: the stopped one's delete removes the cgroup they share.
        for cid in (second, first):
            self.assertEqual(self.skiff("delete", "--force", cid).returncode, 0)
        self.assertFalse(os.path.exists(vmtest.cgroup_dir(path)))


class SystemdResources(CgroupfsResources):
    driver = SystemdDriver()

    def test_nested_slice_and_crun_flag(self):
        # a-b.slice lives in a.slice; crun's --cgroup-manager systemd means --systemd-cgroup.
        cid = vmtest.unique_id("sl")
        bundle = vmtest.make_bundle(self, args=["sh", "-c", "cat /proc/self/cgroup"], edit=resources_edit(
            {"pids": {"limit": 33}}, f"skiffvm-nested.slice:pfx:{cid}"))
        self.skiff.ids.append(cid)
        r = self.skiff("--cgroup-manager", "systemd", "run", "-b", bundle, cid)
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertEqual(r.stdout.strip(), f"0::/skiffvm.slice/skiffvm-nested.slice/pfx-{cid}.scope")
        r = sh("systemctl", "is-active", f"pfx-{cid}.scope")
        self.assertNotEqual(r.stdout.strip(), "active")
