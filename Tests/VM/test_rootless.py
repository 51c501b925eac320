"""Rootless: the runtime run by a normal user with a systemd user session, standalone and
under rootless Podman, each scenario with skiff and with runc (the logging wrapper).

The user (USER) is made here with Debian's useradd, which gives it a range in
/etc/subuid and /etc/subgid; `loginctl enable-linger` starts its systemd instance, whose
bus is at /run/user/UID/bus. Commands run as the user through runuser with that
session's XDG_RUNTIME_DIR and DBUS_SESSION_BUS_ADDRESS, as a login would set them.
Each runtime keeps its state in its default root for a user, $XDG_RUNTIME_DIR/<name>.
"""

import json
import os
import pwd
import re
import shutil
import stat
import tempfile

import clients
import engines
import test_podman
import vmtest
from vmtest import describe

USER = "skiff-vm-user"
IMAGE = clients.BUSYBOX_IMAGE
# The limits of the --systemd-cgroup scenario, and more forks than the pids limit allows.
MEMORY_LIMIT = 64 << 20
PIDS_LIMIT = 20
FORKS = 60
# Ids of the second range of the two-range mapping (from the user's /etc/subuid range).
SECOND_RANGE = 1000

UID = GID = 0
HOME = XDG = ""
SUBUID = SUBGID = (0, 0)
BASE = ROOTFS = None
RUNC_LOG = PODMAN_LOG = None


def subordinate(path):
    with open(path) as f:
        for line in f:
            name, start, count = line.strip().split(":")
            if name == USER:
                return int(start), int(count)
    raise AssertionError(f"no {path} range for {USER}: useradd should have made one")


def setUpModule():
    global UID, GID, HOME, XDG, SUBUID, SUBGID, BASE, ROOTFS, RUNC_LOG, PODMAN_LOG
    for tool in ("newuidmap", "newgidmap", "loginctl", "podman", "conmon"):
        engines.need(tool)
    if vmtest.sh("id", "-u", USER).returncode != 0:
        vmtest.sh("useradd", "--create-home", "--shell", "/bin/sh", USER, check=True)
    pw = pwd.getpwnam(USER)
    UID, GID, HOME = pw.pw_uid, pw.pw_gid, pw.pw_dir
    XDG = f"/run/user/{UID}"
    SUBUID, SUBGID = subordinate("/etc/subuid"), subordinate("/etc/subgid")
    vmtest.sh("loginctl", "enable-linger", USER, check=True)
    engines.wait_until(f"{USER}'s systemd and its bus",
                       lambda: os.path.exists(f"{XDG}/bus") and os.path.exists(f"{XDG}/systemd/private")
                       and as_user("systemctl", "--user", "is-system-running", "--wait").stdout.strip()
                       in ("running", "degraded"), timeout=90)
    os.makedirs(vmtest.WORK, exist_ok=True)
    BASE = tempfile.mkdtemp(prefix="rootless-", dir=vmtest.WORK)
    os.chmod(BASE, 0o755)
    # One read-only busybox rootfs, owned by root, for every bundle (runc's rootless spec
    # has root.readonly).
    vmtest.sh(os.path.join(vmtest.REPO, "scripts/make-bundle.sh"), os.path.join(BASE, "base"), check=True)
    ROOTFS = os.path.join(BASE, "base", "rootfs")
    RUNC_LOG, PODMAN_LOG = user_log("rootless"), user_log("rootless-podman")
    os.mkdir(os.path.join(BASE, "podman"))
    os.chown(os.path.join(BASE, "podman"), UID, GID)
    tarball = clients.rootfs_tarball(clients.busybox_rootfs(), os.path.join(BASE, "busybox.tar"))
    os.chmod(tarball, 0o644)
    r = podman(engines.REAL_RUNC, "import", tarball, IMAGE)
    if r.returncode != 0:
        tearDownModule()
        raise AssertionError("podman import as the user: " + describe(r))


def user_log(client):
    log = engines.RuntimeLog(client)
    open(log.log, "a").close()
    os.chmod(log.log, 0o666)
    return log


def tearDownModule():
    try:
        for log in (RUNC_LOG, PODMAN_LOG):
            if log:
                log.report()
        left = podman(engines.REAL_RUNC, "ps", "-a", "-q").stdout.split() if BASE else []
        if left:
            for binary in (engines.REAL_RUNC, vmtest.SKIFF):
                podman(binary, "rm", "-a", "-f", "-t", "0")
            raise AssertionError(f"rootless podman containers left behind: {left}")
    finally:
        # The user's manager goes, and with it podman's pause process and every scope.
        vmtest.sh("loginctl", "disable-linger", USER)
        vmtest.sh("pkill", "-KILL", "-u", USER)
        engines.wait_until(f"{USER}'s processes to end",
                           lambda: vmtest.sh("pgrep", "-u", USER).returncode == 1, timeout=60)
        if BASE:
            shutil.rmtree(BASE, ignore_errors=True)
        for log in (RUNC_LOG, PODMAN_LOG):
            if log:
                log.remove()


def user_env():
    return ["env", f"HOME={HOME}", f"USER={USER}", f"XDG_RUNTIME_DIR={XDG}",
            f"DBUS_SESSION_BUS_ADDRESS=unix:path={XDG}/bus", clients.PATH_ENV]


def as_user(*args, tty=False, timeout=vmtest.TIMEOUT):
    argv = ["runuser", "-u", USER, "--", *user_env(), *args]
    return engines.run_tty(argv, timeout=timeout) if tty else vmtest.sh(*argv, timeout=timeout, cwd=HOME)


def podman(binary, *args, tty=False, timeout=vmtest.TIMEOUT):
    """Rootless podman, storage under BASE (native overlay: Debian 12's kernel mounts
    overlay in a user namespace), its runroot in the user's runtime dir (podman wants one
    of at most 50 characters), systemd as the cgroup manager through the user's bus."""
    store = os.path.join(BASE, "podman")
    return as_user("podman", "--root", f"{store}/root", "--runroot", f"{XDG}/skiff-tests-podman", "--tmpdir", f"{store}/tmp",
                   "--storage-driver", "overlay", "--events-backend", "file", "--runtime", binary,
                   "--cgroup-manager", "systemd", *args, tty=tty, timeout=timeout)


def status_ids(pid, key):
    """The ids of /proc/PID/status's KEY line (Uid or Gid), as the host sees them."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return [int(x) for x in line.split()[1:]]
    return []


class Standalone:
    """The runtime's own command line, as the user, with the runtime's rootless spec."""

    def rt(self, name):
        return engines.runtime(name, RUNC_LOG)

    def runtime(self, rt, *args, **kw):
        return as_user(rt.binary, *args, **kw)

    def ok(self, r):
        self.assertEqual(r.returncode, 0, describe(r))
        return r

    def bundle(self, rt, args, edit=None):
        """`<runtime> spec --rootless` run by the user in a bundle directory of its own."""
        d = tempfile.mkdtemp(prefix="bundle-", dir=BASE)
        os.chown(d, UID, GID)
        self.addCleanup(shutil.rmtree, d, ignore_errors=True)
        self.ok(as_user("sh", "-c", f"cd {d} && exec {rt.binary} spec --rootless"))
        path = os.path.join(d, "config.json")
        with open(path) as f:
            spec = json.load(f)
        spec["process"]["args"] = list(args)
        spec["process"]["terminal"] = False
        spec["root"] = {"path": ROOTFS, "readonly": True}
        if edit:
            edit(spec)
        with open(path, "w") as f:
            json.dump(spec, f, indent=2)
        return d

    def create(self, rt, bundle, *flags):
        cid = vmtest.unique_id("rl")
        self.addCleanup(self.runtime, rt, *flags, "delete", "--force", cid)
        self.ok(self.runtime(rt, *flags, "create", "--bundle", bundle, cid))
        return cid

    def pid(self, rt, cid):
        return json.loads(self.ok(self.runtime(rt, "state", cid)).stdout)["pid"]

    # --- scenarios -----------------------------------------------------------

    def scenario_spec_run_maps_the_user_to_root(self, rt):
        """spec --rootless, run: id is 0 inside, the user's on the host; the state is in
        $XDG_RUNTIME_DIR/<runtime>; no cgroup is needed without limits."""
        b = self.bundle(rt, ["sh", "-c", "id; cat /proc/self/uid_map /proc/self/gid_map"])
        r = self.ok(self.runtime(rt, "run", "--bundle", b, vmtest.unique_id("rl")))
        self.assertEqual(r.stdout.split(), ["uid=0(root)", "gid=0(root)", "groups=0(root)",
                                            "0", str(UID), "1", "0", str(GID), "1"], describe(r))
        cid = self.create(rt, self.bundle(rt, ["sleep", "1000"]))
        pid = self.pid(rt, cid)
        self.assertEqual(status_ids(pid, "Uid"), [UID] * 4)
        self.assertEqual(status_ids(pid, "Gid"), [GID] * 4)
        self.assertTrue(os.path.isdir(f"{XDG}/{rt.name}/{cid}"), f"state not in {XDG}/{rt.name}")

    def scenario_two_ranges_through_newuidmap(self, rt):
        """A second id range from /etc/subuid and /etc/subgid (newuidmap, newgidmap): the
        maps say so, and files made inside land with the mapped host ids."""
        data = tempfile.mkdtemp(prefix="data-", dir=BASE)
        os.chown(data, UID, GID)

        def edit(spec):
            # The rootless spec's capabilities lack CAP_CHOWN, which giving a file away needs.
            for kind in ("bounding", "effective", "permitted"):
                spec["process"]["capabilities"][kind].append("CAP_CHOWN")
            spec["linux"]["uidMappings"] = [{"containerID": 0, "hostID": UID, "size": 1},
                                            {"containerID": 1, "hostID": SUBUID[0], "size": SECOND_RANGE}]
            spec["linux"]["gidMappings"] = [{"containerID": 0, "hostID": GID, "size": 1},
                                            {"containerID": 1, "hostID": SUBGID[0], "size": SECOND_RANGE}]
            # On a directory the read-only rootfs has: the user could not make one there.
            spec["mounts"].append({"destination": "/home", "type": "bind", "source": data,
                                   "options": ["rbind", "rw"]})
        b = self.bundle(rt, ["sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; touch /home/root /home/five; "
                                         "chown 5:7 /home/five; echo ok"], edit)
        r = self.ok(self.runtime(rt, "run", "--bundle", b, vmtest.unique_id("rl")))
        self.assertEqual(r.stdout.split(), ["0", str(UID), "1", "1", str(SUBUID[0]), str(SECOND_RANGE),
                                            "0", str(GID), "1", "1", str(SUBGID[0]), str(SECOND_RANGE), "ok"],
                         describe(r))
        st = os.stat(os.path.join(data, "root"))
        self.assertEqual((st.st_uid, st.st_gid), (UID, GID))
        st = os.stat(os.path.join(data, "five"))
        self.assertEqual((st.st_uid, st.st_gid), (SUBUID[0] + 4, SUBGID[0] + 6))

    def scenario_lifecycle_under_the_user_systemd(self, rt):
        """create, start, exec, list, ps, kill, delete with --systemd-cgroup: the scope is the
        user's manager's, in its delegated subtree, and nothing is left."""
        cid = self.create(rt, self.bundle(rt, ["sleep", "1000"]), "--systemd-cgroup")
        pid = self.pid(rt, cid)
        self.assertEqual(json.loads(self.runtime(rt, "state", cid).stdout)["status"], "created")
        self.ok(self.runtime(rt, "--systemd-cgroup", "start", cid))
        cg = vmtest.proc_cgroup(pid)
        self.assertRegex(cg, rf"^/user\.slice/user-{UID}\.slice/user@{UID}\.service/user\.slice/"
                             rf"{rt.name}-{cid}\.scope$")
        self.assertEqual(os.stat(vmtest.cgroup_dir(cg)).st_uid, UID, "the scope is delegated to the user")
        r = self.ok(self.runtime(rt, "exec", cid, "id", "-u"))
        self.assertEqual(r.stdout, "0\n", describe(r))
        if rt.name == "skiff":
            # Run from the harness's system cgroup, outside the user's subtree: the process
            # cannot join the scope, and skiff says its limits do not apply (runc is silent).
            self.assertIn("outside the container's limits", r.stderr, describe(r))
        r = self.ok(self.runtime(rt, "list"))
        row = [line.split() for line in r.stdout.splitlines() if line.startswith(cid + " ")]
        self.assertEqual(len(row), 1, describe(r))
        self.assertEqual((row[0][1], row[0][2], row[0][-1]), (str(pid), "running", USER), describe(r))
        r = self.ok(self.runtime(rt, "ps", "--format", "json", cid))
        self.assertEqual(json.loads(r.stdout), [pid], describe(r))
        self.ok(self.runtime(rt, "kill", cid, "KILL"))
        engines.wait_until("the container to stop",
                           lambda: json.loads(self.runtime(rt, "state", cid).stdout or "{}").get("status") == "stopped")
        self.ok(self.runtime(rt, "--systemd-cgroup", "delete", cid))
        self.assertFalse(os.path.exists(f"{XDG}/{rt.name}/{cid}"), "state dir left")
        self.assertFalse(os.path.exists(vmtest.cgroup_dir(cg)), "cgroup left")
        r = as_user("systemctl", "--user", "list-units", "--all", "--no-legend", f"{rt.name}-{cid}.scope")
        self.assertEqual(r.stdout.strip(), "", describe(r))

    def scenario_systemd_limits_are_enforced(self, rt):
        """--systemd-cgroup with memory and pids limits: MemoryMax and TasksMax on the user's
        scope, the cgroup's files, and a fork loop stops at the pids limit."""
        def edit(spec):
            spec["linux"]["resources"] = {"memory": {"limit": MEMORY_LIMIT}, "pids": {"limit": PIDS_LIMIT}}
        # In a subshell: busybox sh exits when a fork fails, and the init must stay.
        loop = f"(i=0; while [ $i -lt {FORKS} ]; do sleep 1000 & i=$((i+1)); done) 2>/dev/null; exec sleep 1000"
        cid = self.create(rt, self.bundle(rt, ["sh", "-c", loop], edit), "--systemd-cgroup")
        pid = self.pid(rt, cid)
        unit = f"{rt.name}-{cid}.scope"
        r = self.ok(as_user("systemctl", "--user", "show", "-p", "MemoryMax", "-p", "TasksMax", unit))
        self.assertEqual(sorted(r.stdout.split()), [f"MemoryMax={MEMORY_LIMIT}", f"TasksMax={PIDS_LIMIT}"],
                         describe(r))
        cg = vmtest.proc_cgroup(pid)
        self.assertEqual(vmtest.read_cgroup(cg, "memory.max"), str(MEMORY_LIMIT))
        self.assertEqual(vmtest.read_cgroup(cg, "pids.max"), str(PIDS_LIMIT))
        self.ok(self.runtime(rt, "--systemd-cgroup", "start", cid))

        def refused():
            events = dict(line.split() for line in vmtest.read_cgroup(cg, "pids.events").splitlines())
            return int(events.get("max", 0)) > 0
        engines.wait_until(f"a fork refused at the limit of {PIDS_LIMIT} tasks", refused)
        self.assertLessEqual(int(vmtest.read_cgroup(cg, "pids.current")), PIDS_LIMIT)
        self.assertEqual(json.loads(self.runtime(rt, "state", cid).stdout)["status"], "running")

    def scenario_cgroupfs_in_a_delegated_subtree(self, rt):
        """cgroupfs driver, limits, linux.cgroupsPath in a subtree systemd delegated to the
        user (a `systemd-run --user --scope -p Delegate=yes` that runs the runtime from a
        leaf of its own): the container's cgroup is made there with the limit."""
        b = self.bundle(rt, ["sh", "-c", "p=$(cut -d: -f3 /proc/self/cgroup); cat /sys/fs/cgroup${p%/}/pids.max"],
                        lambda spec: spec["linux"].update(resources={"pids": {"limit": PIDS_LIMIT}},
                                                          cgroupsPath="@CGROUP@/container"))
        unit = f"skiff-test-deleg-{vmtest.unique_id('d')}.scope"
        script = ("set -e; cg=$(cut -d: -f3 /proc/self/cgroup); mkdir /sys/fs/cgroup$cg/runtime; "
                  "echo $$ > /sys/fs/cgroup$cg/runtime/cgroup.procs; "
                  "echo +pids > /sys/fs/cgroup$cg/cgroup.subtree_control; "
                  f"sed -i \"s|@CGROUP@|$cg|\" {b}/config.json; "
                  f"exec {rt.binary} run --bundle {b} {vmtest.unique_id('rl')}")
        r = self.ok(as_user("systemd-run", "--user", "--scope", "--quiet", "-p", "Delegate=yes", "--unit", unit,
                            "sh", "-c", script))
        self.assertEqual(r.stdout, f"{PIDS_LIMIT}\n", describe(r))

    def test_cgroupfs_placement_outside_the_subtree_is_refused(self):
        """skiff from outside the user's subtree (here the harness's system cgroup): the
        cgroup is made, the init cannot be moved in; the error names the ways out and
        nothing is left."""
        rt = self.rt("skiff")
        cg = f"/user.slice/user-{UID}.slice/user@{UID}.service/skiff-test-{vmtest.unique_id('p')}"
        b = self.bundle(rt, ["true"], lambda spec: spec["linux"].update(resources={"pids": {"limit": PIDS_LIMIT}},
                                                                        cgroupsPath=cg))
        cid = vmtest.unique_id("rl")
        r = self.runtime(rt, "create", "--bundle", b, cid)
        self.assertEqual(r.returncode, 1, describe(r))
        for words in ("linux.cgroupsPath", "only within a cgroup subtree it owns", "systemd-run --user --scope",
                      "--systemd-cgroup"):
            self.assertIn(words, r.stderr, describe(r))
        self.assertFalse(os.path.exists(vmtest.CGROUP_ROOT + cg), "cgroup left")
        self.assertFalse(os.path.exists(f"{XDG}/skiff/{cid}"), "state dir left")


@engines.per_runtime
class RootlessStandalone(Standalone, vmtest.TestCase):
    pass


class RootlessPodmanScenarios(test_podman.Podman):
    """test_podman's scenarios (run --rm with --memory and --pids-limit, run -t, run -d +
    exec + stop + rm, pause/top/update) by rootless podman, cgroup manager systemd."""
    manager = "systemd"

    def rt(self, name):
        return engines.runtime(name, PODMAN_LOG)

    def podman(self, rt, *args, **kw):
        return podman(rt.binary, *args, **kw)

    def check_cgroup_manager(self, rt, cid):
        path = super().check_cgroup_manager(rt, cid)
        self.assertTrue(path.startswith(f"/user.slice/user-{UID}.slice/user@{UID}.service/"), path)
        return path


@engines.per_runtime
class RootlessPodman(RootlessPodmanScenarios, vmtest.TestCase):
    pass
