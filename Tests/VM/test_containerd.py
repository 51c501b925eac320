"""containerd 1.6 and ctr with skiff as the runc shim's binary (`ctr run --runc-binary`),
each scenario once with skiff and once with runc (the reference, through the logging
wrapper: the calls the shim makes are printed at the end of the module).

The daemon is the test's own (clients.Containerd: root, state dir, socket and config
in temp dirs; the system containerd service is left alone), started once for the
module; the image is a busybox rootfs packed by the test as an OCI image archive and
imported with `ctr images import`.
"""

import json
import os
import subprocess
import tempfile
import time

import clients
import engines
import vmtest
from vmtest import describe, unique_id

IMAGE = clients.BUSYBOX_IMAGE
NS = "skiff-ctr"
D = None
RUNC_LOG = None
# Seconds the OOM workload sleeps before allocating, so the shim is watching memory.events.
OOM_WATCH_DELAY_S = 3


def setUpModule():
    global D, RUNC_LOG
    engines.need("containerd")
    engines.need("ctr")
    RUNC_LOG = engines.RuntimeLog("containerd-ctr")
    D = clients.Containerd(handlers={"runc": engines.REAL_RUNC})
    try:
        D.start()
        D.import_image(IMAGE, ["sh"], namespace=NS)
    except BaseException:
        D.stop()
        RUNC_LOG.remove()
        raise


def tearDownModule():
    try:
        RUNC_LOG.report()
        left = D.ctr("containers", "ls", "-q", namespace=NS).stdout.split()
        for cid in left:
            D.ctr("task", "delete", "-f", cid, namespace=NS)
            D.ctr("containers", "delete", cid, namespace=NS)
        D.ctr("images", "rm", IMAGE, namespace=NS)
        D.ctr("namespaces", "rm", NS, namespace=NS)
        if left:
            raise AssertionError(f"containers left behind in {NS}: {left}")
    finally:
        D.stop()
        RUNC_LOG.remove()


@engines.per_runtime
class Ctr(vmtest.TestCase):

    def rt(self, name):
        return engines.runtime(name, RUNC_LOG)

    def ctr_argv(self, *args):
        return ["ctr", "--address", D.socket, "--namespace", NS, *args]

    def ctr(self, *args, **kw):
        return D.ctr(*args, namespace=NS, **kw)

    def ok(self, r):
        self.assertEqual(r.returncode, 0, describe(r))
        return r

    def new_id(self):
        cid = unique_id("t")
        self.addCleanup(self.remove, cid)
        return cid

    def remove(self, cid):
        """Kills and deletes the task (if any) and the container (if any); fails if
        either is still there after."""
        if self.task(cid):
            self.ctr("task", "kill", "-s", "SIGKILL", cid)
            try:
                engines.wait_until(f"task {cid} to stop", lambda: (self.task(cid) or ("", "STOPPED"))[1] == "STOPPED",
                                   timeout=30)
            except AssertionError:
                pass
            self.ctr("task", "delete", "-f", cid)
        if cid in self.ctr("containers", "ls", "-q").stdout.split():
            self.ctr("containers", "delete", cid)
        problems = []
        if self.task(cid):
            problems.append(f"task {cid} is still there: {self.task(cid)}")
        if cid in self.ctr("containers", "ls", "-q").stdout.split():
            problems.append(f"container {cid} is still there")
        if problems:
            raise AssertionError("cleanup: " + "; ".join(problems))

    def task(self, cid):
        """(pid, status) of task CID from `ctr task ls`, or None."""
        r = self.ok(self.ctr("task", "ls"))
        for line in r.stdout.splitlines()[1:]:
            f = line.split()
            if len(f) >= 3 and f[0] == cid:
                return int(f[1]), f[2]
        return None

    def status(self, cid):
        t = self.task(cid)
        return t[1] if t else None

    def start(self, rt, *cmd, extra=(), cid=None):
        cid = cid or unique_id("t")
        self.addCleanup(self.remove, cid)
        self.ok(self.ctr("run", "-d", "--runc-binary", rt.binary, *extra, IMAGE, cid, *(cmd or ("sleep", "1000"))))
        engines.wait_until(f"task {cid} running", lambda: self.status(cid) == "RUNNING", timeout=30)
        return cid

    def exec_(self, cid, *cmd, tty=False):
        argv = self.ctr_argv("task", "exec", "--exec-id", unique_id("exec"), *(["--tty"] if tty else []), cid, *cmd)
        return engines.run_tty(argv) if tty else vmtest.sh(*argv)

    # --- scenarios -----------------------------------------------------------

    def scenario_run_rm(self, rt):
        """ctr run --rm prints the container's output and leaves nothing behind."""
        cid = self.new_id()
        r = self.ok(self.ctr("run", "--rm", "--runc-binary", rt.binary, IMAGE, cid,
                             "sh", "-c", "echo hello from pid $$; echo to-stderr >&2"))
        self.assertEqual(r.stdout, "hello from pid 1\n", describe(r))
        self.assertIn("to-stderr\n", r.stderr, describe(r))
        self.assertIsNone(self.task(cid))
        self.assertNotIn(cid, self.ctr("containers", "ls", "-q").stdout.split())

    def scenario_exec_kill_delete(self, rt):
        """run -d, task exec (plain and --tty), task kill, task delete."""
        cid = self.start(rt)
        r = self.exec_(cid, "sh", "-c", "echo exec-out; echo exec-err >&2; id -u; exit 7")
        self.assertEqual((r.returncode, r.stdout, r.stderr), (7, "exec-out\n0\n", "exec-err\n"), describe(r))
        r = self.exec_(cid, "sh", "-c", "tty; test -t 0 && echo stdin-is-a-tty", tty=True)
        self.assertEqual(r.returncode, 0, describe(r))
        # (ctr may add an error of its own: resizing the terminal of an exec that is done.)
        self.assertRegex(r.stdout, r"^/dev/pts/[0-9]+\nstdin-is-a-tty\n", describe(r))
        self.ok(self.ctr("task", "kill", "-s", "SIGKILL", cid))
        engines.wait_until("the task to stop after SIGKILL", lambda: self.status(cid) == "STOPPED", timeout=30)
        r = self.ok(self.ctr("task", "delete", cid))
        self.assertIn("137", r.stdout + r.stderr, describe(r))  # ctr prints the exit status it got
        self.assertIsNone(self.task(cid))

    def scenario_pause_resume(self, rt):
        """task pause freezes the cgroup, task resume thaws it."""
        cid = self.start(rt)
        pid, _ = self.task(cid)
        cg = engines.host_cgroup(pid)
        self.ok(self.ctr("task", "pause", cid))
        self.assertEqual(self.status(cid), "PAUSED")
        with open(os.path.join(cg, "cgroup.freeze")) as f:
            self.assertEqual(f.read().strip(), "1")
        self.ok(self.ctr("task", "resume", cid))
        self.assertEqual(self.status(cid), "RUNNING")
        with open(os.path.join(cg, "cgroup.freeze")) as f:
            self.assertEqual(f.read().strip(), "0")
        r = self.exec_(cid, "echo", "alive")
        self.assertEqual(r.stdout, "alive\n", describe(r))

    def scenario_ps(self, rt):
        """task ps lists the container's processes (the shim asks the runtime's `ps`)."""
        cid = self.start(rt, "sh", "-c", "sleep 1000 & exec sleep 1001")
        pid, _ = self.task(cid)
        engines.wait_until("two processes in the container",
                           lambda: len(open(os.path.join(engines.host_cgroup(pid), "cgroup.procs")).read().split()) == 2,
                           timeout=30)
        r = self.ok(self.ctr("task", "ps", cid))
        pids = {int(line.split()[0]) for line in r.stdout.splitlines()[1:] if line.split()}
        with open(os.path.join(engines.host_cgroup(pid), "cgroup.procs")) as f:
            want = {int(p) for p in f.read().split()}
        self.assertEqual(pids, want, describe(r))

    def scenario_run_tty(self, rt):
        """ctr run --tty: the process has a terminal."""
        cid = self.new_id()
        r = engines.run_tty(self.ctr_argv("run", "--rm", "--tty", "--runc-binary", rt.binary, IMAGE, cid,
                                          "sh", "-c", "tty; test -t 0 && echo stdin-is-a-tty"))
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertRegex(r.stdout, r"^/dev/pts/[0-9]+\nstdin-is-a-tty\n$", describe(r))

    def scenario_memory_limit_oom(self, rt):
        """--memory-limit sets memory.max; the OOM kill reaches containerd as a /tasks/oom event."""
        cid = self.new_id()
        events = tempfile.TemporaryFile(dir=vmtest.WORK)
        ev = subprocess.Popen(self.ctr_argv("events"), stdin=subprocess.DEVNULL, stdout=events,
                              stderr=subprocess.STDOUT)
        try:
            time.sleep(1)
            # A 128 MiB buffer in a 3 GiB guest: only the 32 MiB limit gets it killed.
            # The shim watches memory.events only after `start` returns, and an OOM kill
            # before that is never reported (containerd 1.6, with any runtime), so the
            # allocation waits a few seconds (TCG is slow).
            r = self.ctr("run", "--rm", "--memory-limit", str(32 << 20), "--runc-binary", rt.binary, IMAGE, cid,
                         "sh", "-c", f"sleep {OOM_WATCH_DELAY_S} && exec dd if=/dev/zero of=/dev/null bs=128M count=1")
            self.assertEqual(r.returncode, 137, describe(r))

            def oom_event():
                events.seek(0)
                text = events.read().decode(errors="replace")
                return [line for line in text.splitlines() if "/tasks/oom" in line and cid in line]
            try:
                engines.wait_until("a /tasks/oom event for the container", oom_event, timeout=30)
            except AssertionError as e:
                events.seek(0)
                raise AssertionError(f"{e}; ctr events printed:\n{events.read().decode(errors='replace')}")
        finally:
            ev.terminate()
            ev.wait(timeout=30)
            events.close()

    def scenario_systemd_cgroup(self, rt):
        """--runc-systemd-cgroup: the container is in a transient scope, gone after delete."""
        cid = unique_id("t")  # ctr wants the cgroupsPath too: slice:prefix:name
        cid = self.start(rt, extra=("--runc-systemd-cgroup", "--cgroup", f"system.slice:skiff-ctr:{cid}"), cid=cid)
        pid, _ = self.task(cid)
        path = vmtest.proc_cgroup(pid)
        unit = os.path.basename(path)
        self.assertEqual(path, f"/system.slice/skiff-ctr-{cid}.scope")
        r = vmtest.sh("systemctl", "show", "-p", "ActiveState", "-p", "Slice", unit)
        self.assertIn("ActiveState=active", r.stdout, describe(r))
        self.ok(self.ctr("task", "kill", "-s", "SIGKILL", cid))
        engines.wait_until("the task to stop", lambda: self.status(cid) == "STOPPED", timeout=30)
        self.ok(self.ctr("task", "delete", cid))
        engines.wait_until(f"{unit} to be gone", lambda: vmtest.sh("systemctl", "is-active", unit).stdout.strip()
                           in ("inactive", "failed", "unknown"), timeout=30)
        self.assertFalse(os.path.exists(vmtest.cgroup_dir(path)), f"{path} is still there")

    def scenario_exec_missing_binary(self, rt):
        """A failed exec (no such binary) is reported to the caller; the task keeps running."""
        cid = self.start(rt)
        r = self.exec_(cid, "/no/such/binary", "arg")
        self.assertNotEqual(r.returncode, 0, describe(r))
        self.assertIn("/no/such/binary", r.stdout + r.stderr, describe(r))
        self.assertEqual(self.status(cid), "RUNNING")
        r = self.exec_(cid, "echo", "still-here")
        self.assertEqual((r.returncode, r.stdout), (0, "still-here\n"), describe(r))
