"""Podman 4.3 + conmon with `podman --runtime <binary>`, each scenario with skiff and
with runc (the logging wrapper, named runc: the calls conmon and podman make are
printed at the end of the module), under --cgroup-manager systemd and cgroupfs.

Storage is private (--root, --runroot, --tmpdir in temp dirs), events go to a file,
containers have --network none; the image is a busybox rootfs tarball made with
`podman import`.
"""

import json
import os
import shutil
import tempfile

import clients
import engines
import vmtest
from vmtest import describe

IMAGE = clients.BUSYBOX_IMAGE
BASE = None
RUNC_LOG = None


def setUpModule():
    global BASE, RUNC_LOG
    engines.need("podman")
    engines.need("conmon")
    os.makedirs(vmtest.WORK, exist_ok=True)
    BASE = tempfile.mkdtemp(prefix="podman-", dir=vmtest.WORK)
    RUNC_LOG = engines.RuntimeLog("podman")
    try:
        tarball = clients.rootfs_tarball(clients.busybox_rootfs(), os.path.join(BASE, "busybox.tar"))
        r = podman_cmd(engines.REAL_RUNC, "cgroupfs", "import", tarball, IMAGE)
        if r.returncode != 0:
            raise AssertionError("podman import: " + describe(r))
    except BaseException:
        _cleanup()
        raise


def podman_cmd(binary, manager, *args, tty=False, timeout=vmtest.TIMEOUT):
    argv = ["podman", "--root", os.path.join(BASE, "root"), "--runroot", os.path.join(BASE, "runroot"),
            "--tmpdir", os.path.join(BASE, "tmp"), "--storage-driver", "overlay", "--events-backend", "file",
            "--runtime", binary, "--cgroup-manager", manager, *args]
    return engines.run_tty(argv, timeout=timeout) if tty else vmtest.sh(*argv, timeout=timeout)


def _cleanup():
    if not BASE:
        return
    # Tests remove their containers; what is left is removed through the runtime it
    # was made with (podman knows it by name).
    if podman_cmd(engines.REAL_RUNC, "cgroupfs", "ps", "-a", "-q").stdout.split():
        for binary in (engines.REAL_RUNC, vmtest.SKIFF):
            podman_cmd(binary, "systemd", "rm", "-a", "-f", "-t", "0")
    podman_cmd(engines.REAL_RUNC, "cgroupfs", "rmi", "-a", "-f")
    # podman system reset would also wipe the store; unmount what overlay left, then remove.
    vmtest.sh("sh", "-c", f"grep -o ' {BASE}[^ ]*' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l")
    shutil.rmtree(BASE, ignore_errors=True)
    if RUNC_LOG:
        RUNC_LOG.remove()


def tearDownModule():
    try:
        RUNC_LOG.report()
        left = podman_cmd(engines.REAL_RUNC, "cgroupfs", "ps", "-a", "-q").stdout.split()
        if left:
            raise AssertionError(f"podman containers left behind: {left}")
    finally:
        _cleanup()


class Podman:
    manager = None

    def rt(self, name):
        return engines.runtime(name, RUNC_LOG)

    def podman(self, rt, *args, **kw):
        return podman_cmd(rt.binary, self.manager, *args, **kw)

    def ok(self, r):
        self.assertEqual(r.returncode, 0, describe(r))
        return r

    def start(self, rt, *run_args):
        r = self.ok(self.podman(rt, "run", "-d", "--network", "none", *run_args, IMAGE, "sleep", "1000"))
        cid = r.stdout.strip().splitlines()[-1]
        self.addCleanup(self.podman, rt, "rm", "-f", "-t", "0", cid)
        return cid

    def inspect(self, rt, cid, fmt):
        return self.ok(self.podman(rt, "inspect", "--format", fmt, cid)).stdout.strip()

    def check_cgroup_manager(self, rt, cid):
        pid = int(self.inspect(rt, cid, "{{.State.Pid}}"))
        path = vmtest.proc_cgroup(pid)
        if self.manager == "systemd":
            self.assertRegex(path, rf"/libpod-{cid}\.scope(/container)?$")
        else:
            self.assertRegex(path, rf"^/libpod_parent/libpod-{cid}(/container)?$")
        return path

    # --- scenarios -----------------------------------------------------------

    def scenario_run_rm_limits(self, rt):
        """run --rm with --memory and --pids-limit: output, the cgroup's limits, nothing left."""
        r = self.ok(self.podman(rt, "run", "--rm", "--network", "none", "--memory", "64m", "--pids-limit", "50",
                                IMAGE, "sh", "-c",
                                "echo hello $$; cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max"))
        self.assertEqual(r.stdout, f"hello 1\n{64 << 20}\n50\n", describe(r))
        self.assertEqual(self.podman(rt, "ps", "-a", "-q").stdout.strip(), "")

    def scenario_run_tty(self, rt):
        """run -t: the process has a terminal."""
        r = self.podman(rt, "run", "--rm", "-t", "--network", "none", IMAGE, "sh", "-c",
                        "tty; test -t 0 && echo stdin-is-a-tty", tty=True)
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertRegex(r.stdout, r"^/dev/pts/[0-9]+\nstdin-is-a-tty\n$", describe(r))

    def scenario_exec_stop_rm(self, rt):
        """run -d, exec (plain, -t, -u, -e, -w), stop, rm."""
        cid = self.start(rt)
        self.check_cgroup_manager(rt, cid)
        r = self.podman(rt, "exec", cid, "sh", "-c", "echo out; echo err >&2; exit 5")
        self.assertEqual((r.returncode, r.stdout, r.stderr), (5, "out\n", "err\n"), describe(r))
        r = self.podman(rt, "exec", "-t", cid, "tty", tty=True)
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertRegex(r.stdout, r"^/dev/pts/[0-9]+\n$", describe(r))
        r = self.ok(self.podman(rt, "exec", "-u", "1000:1000", "-e", "SKIFF_A=b c", "-w", "/tmp", cid,
                                "sh", "-c", 'id -u; id -g; echo "$SKIFF_A"; pwd'))
        self.assertEqual(r.stdout, "1000\n1000\nb c\n/tmp\n", describe(r))
        self.ok(self.podman(rt, "stop", "-t", "1", cid))
        self.assertEqual(self.inspect(rt, cid, "{{.State.Status}}"), "exited")
        self.ok(self.podman(rt, "rm", cid))
        self.assertNotIn(cid, self.podman(rt, "ps", "-a", "-q", "--no-trunc").stdout.split())

    def scenario_pause_top_update(self, rt):
        """pause / unpause, top, update --memory (podman 4.3's update has no --pids-limit)."""
        cid = self.start(rt, "--memory", "64m", "--pids-limit", "40")
        self.ok(self.podman(rt, "pause", cid))
        self.assertEqual(self.inspect(rt, cid, "{{.State.Status}}"), "paused")
        self.ok(self.podman(rt, "unpause", cid))
        self.assertEqual(self.inspect(rt, cid, "{{.State.Status}}"), "running")
        r = self.ok(self.podman(rt, "top", cid, "pid", "args"))
        self.assertIn("sleep 1000", r.stdout, describe(r))
        self.ok(self.podman(rt, "update", "--memory", "128m", "--cpu-quota", "50000", "--cpu-period", "100000", cid))
        r = self.ok(self.podman(rt, "exec", cid, "cat", "/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/cpu.max",
                                "/sys/fs/cgroup/pids.max"))
        self.assertEqual(r.stdout, f"{128 << 20}\n50000 100000\n40\n", describe(r))


@engines.per_runtime
class PodmanSystemd(Podman, vmtest.TestCase):
    manager = "systemd"


@engines.per_runtime
class PodmanCgroupfs(Podman, vmtest.TestCase):
    """The scenarios whose runtime calls differ by cgroup driver (create, exec, pause,
    update); a terminal is the same under both, so run_tty runs under systemd only."""
    manager = "cgroupfs"
    scenario_run_tty = None
