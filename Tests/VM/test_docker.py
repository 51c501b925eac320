"""Docker 20.10 (Debian's docker.io) with skiff under `runtimes` in daemon.json and
`docker run --runtime skiff`, each scenario with skiff and with runc (registered as
runtime `runc-logged`, the logging wrapper: the calls dockerd's containerd shim makes
are printed at the end of the module).

dockerd is the test's own: data-root, exec-root, pidfile and socket in temp dirs, no
bridge and no iptables (containers run with --network none), its own containerd; the
system docker service is left alone. The image is a busybox rootfs tarball made
with `docker import`.
"""

import json
import os
import shutil
import subprocess
import tempfile
import time

import clients
import engines
import vmtest
from vmtest import describe

IMAGE = clients.BUSYBOX_IMAGE
BASE = None
SOCK = None
DOCKERD = None
RUNC_LOG = None
RUNTIME_NAMES = {"skiff": "skiff", "runc": "runc-logged"}


def docker(*args, timeout=vmtest.TIMEOUT, tty=False):
    argv = ["docker", "-H", f"unix://{SOCK}", *args]
    return engines.run_tty(argv, timeout=timeout) if tty else vmtest.sh(*argv, timeout=timeout)


def setUpModule():
    global BASE, SOCK, DOCKERD, RUNC_LOG
    engines.need("dockerd")
    engines.need("docker")
    os.makedirs(vmtest.WORK, exist_ok=True)
    BASE = tempfile.mkdtemp(prefix="docker-", dir=vmtest.WORK)
    run = tempfile.mkdtemp(prefix="docker-", dir="/run")
    SOCK = os.path.join(run, "docker.sock")
    RUNC_LOG = engines.RuntimeLog("docker")
    config = {
        "runtimes": {"skiff": {"path": vmtest.SKIFF}, "runc-logged": {"path": RUNC_LOG.binary}},
        "data-root": os.path.join(BASE, "data"),
        "exec-root": os.path.join(run, "exec"),
        "pidfile": os.path.join(run, "docker.pid"),
        "hosts": [f"unix://{SOCK}"],
        "bridge": "none", "iptables": False, "ip6tables": False, "ip-masq": False, "ip-forward": False,
        "storage-driver": "overlay2",
    }
    with open(os.path.join(BASE, "daemon.json"), "w") as f:
        json.dump(config, f, indent=2)
    log = open(os.path.join(BASE, "dockerd.log"), "wb")
    DOCKERD = subprocess.Popen(["dockerd", "--config-file", os.path.join(BASE, "daemon.json")],
                               stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    DOCKERD.run_dir = run
    try:
        deadline = time.monotonic() + 120
        while docker("version").returncode != 0:
            if DOCKERD.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"dockerd did not come up (exit {DOCKERD.poll()}):\n{log_tail()}")
            time.sleep(0.5)
        tarball = clients.rootfs_tarball(clients.busybox_rootfs(), os.path.join(BASE, "busybox.tar"))
        r = docker("import", tarball, IMAGE)
        if r.returncode != 0:
            raise AssertionError("docker import: " + describe(r))
    except BaseException:
        _cleanup()
        raise


def log_tail(n=30):
    try:
        with open(os.path.join(BASE, "dockerd.log"), errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


def _cleanup():
    try:
        if DOCKERD and DOCKERD.poll() is None:
            ids = docker("ps", "-a", "-q").stdout.split()
            if ids:
                docker("rm", "-f", *ids)
            docker("rmi", "-f", IMAGE)
            DOCKERD.terminate()
            try:
                DOCKERD.wait(timeout=60)
            except subprocess.TimeoutExpired:
                DOCKERD.kill()
                DOCKERD.wait()
    finally:
        for d in (BASE, getattr(DOCKERD, "run_dir", None)):
            if d:
                vmtest.sh("sh", "-c", f"grep -o ' {d}[^ ]*' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l")
                shutil.rmtree(d, ignore_errors=True)
        if RUNC_LOG:
            RUNC_LOG.remove()


def tearDownModule():
    try:
        RUNC_LOG.report()
        left = docker("ps", "-a", "-q").stdout.split()
        if left:
            raise AssertionError(f"docker containers left behind: {left}")
    finally:
        _cleanup()


@engines.per_runtime
class Docker(vmtest.TestCase):

    def rt(self, name):
        return engines.runtime(name, RUNC_LOG)

    def ok(self, r):
        self.assertEqual(r.returncode, 0, describe(r) + "\ndockerd log:\n" + log_tail(10))
        return r

    def run_args(self, rt):
        return ["--runtime", RUNTIME_NAMES[rt.name], "--network", "none"]

    def start(self, rt, *extra):
        r = self.ok(docker("run", "-d", *self.run_args(rt), *extra, IMAGE, "sleep", "1000"))
        cid = r.stdout.strip().splitlines()[-1]
        self.addCleanup(docker, "rm", "-f", cid)
        return cid

    def inspect(self, cid, fmt):
        return self.ok(docker("inspect", "--format", fmt, cid)).stdout.strip()

    # --- scenarios -----------------------------------------------------------

    def scenario_run_rm_apparmor(self, rt):
        """docker run --rm prints the container's output; the process runs under the
        docker-default AppArmor profile dockerd asks for."""
        r = self.ok(docker("run", "--rm", *self.run_args(rt), IMAGE, "sh", "-c",
                           "echo hello $$; echo err >&2; cat /proc/self/attr/current"))
        self.assertEqual(r.stdout, "hello 1\ndocker-default (enforce)\n", describe(r))
        self.assertIn("err\n", r.stderr, describe(r))

    def scenario_exec_stop_rm(self, rt):
        """run -d, exec (plain and -it under a terminal), stop, rm."""
        cid = self.start(rt)
        self.assertEqual(self.inspect(cid, "{{.HostConfig.Runtime}}"), RUNTIME_NAMES[rt.name])
        r = docker("exec", cid, "sh", "-c", "echo out; echo err >&2; exit 4")
        self.assertEqual((r.returncode, r.stdout, r.stderr), (4, "out\n", "err\n"), describe(r))
        r = docker("exec", "-it", cid, "sh", "-c", "tty; test -t 0 && echo stdin-is-a-tty", tty=True)
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertRegex(r.stdout, r"^/dev/pts/[0-9]+\nstdin-is-a-tty\n$", describe(r))
        r = docker("exec", cid, "/no/such/binary")
        self.assertNotEqual(r.returncode, 0, describe(r))
        self.assertIn("/no/such/binary", r.stdout + r.stderr, describe(r))
        self.ok(docker("stop", "-t", "1", cid))
        self.assertEqual(self.inspect(cid, "{{.State.Status}}"), "exited")
        self.ok(docker("rm", cid))
        self.assertNotIn(cid, docker("ps", "-a", "-q", "--no-trunc").stdout.split())

    def scenario_pause_update(self, rt):
        """pause / unpause, update --memory."""
        cid = self.start(rt)
        self.ok(docker("pause", cid))
        self.assertEqual(self.inspect(cid, "{{.State.Status}}"), "paused")
        pid = int(self.inspect(cid, "{{.State.Pid}}"))
        with open(os.path.join(engines.host_cgroup(pid), "cgroup.freeze")) as f:
            self.assertEqual(f.read().strip(), "1")
        self.ok(docker("unpause", cid))
        self.assertEqual(self.inspect(cid, "{{.State.Status}}"), "running")
        self.ok(docker("update", "--memory", "64m", "--memory-swap", "128m", cid))
        with open(os.path.join(engines.host_cgroup(pid), "memory.max")) as f:
            self.assertEqual(f.read().strip(), str(64 << 20))
        r = self.ok(docker("exec", cid, "cat", "/sys/fs/cgroup/memory.max"))
        self.assertEqual(r.stdout.strip(), str(64 << 20), describe(r))
