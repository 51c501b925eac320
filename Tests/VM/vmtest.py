"""Helpers for the tests that run inside the cgroup v2 + systemd VM.

scripts/vm/test.sh boots the VM (scripts/vm/run.sh) and runs run_tests.py
there. The repo is shared at the same path as on the host, so the skiff the
host built is at the same absolute path; SKIFF_BINARY names it.

    bundle = vmtest.make_bundle(self, args=["sh", "-c", "cat /proc/self/cgroup"])
    skiff = vmtest.Runtime.skiff(self)
    r = skiff.run_container(bundle)        # skiff --root ROOT run -b BUNDLE ID
    vmtest.read_cgroup(path, "memory.max")

Bundles are made in the guest (scripts/make-bundle.sh from the guest's
busybox-static) on its own ext4 disk, not on the 9p share: rootfs behaviour
then is that of a local filesystem. Everything a test makes (bundles, state
roots, containers) is removed by the test case's cleanups.
"""

import itertools
import json
import os
import shutil
import subprocess
import tempfile
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CGROUP_ROOT = "/sys/fs/cgroup"
SKIFF = os.environ.get("SKIFF_BINARY") or os.path.join(REPO, ".build/release/skiff")


def _local_copy(path):
    """The binary copied to the guest's own disk: exec'ing 14 MB over 9p under TCG costs
    seconds per command (create re-execs itself too), a local copy milliseconds."""
    if not os.access(path, os.X_OK) or not os.path.exists("/etc/hostname"):
        return path
    with open("/etc/hostname") as f:
        if f.read().strip() != "skiff-vm":
            return path
    dst = "/usr/local/bin/skiff-under-test"
    shutil.copy2(path, dst)
    return dst


SKIFF = _local_copy(SKIFF)
# Work space on the guest's disk (not 9p, not tmpfs).
WORK = os.environ.get("SKIFF_VM_WORK", "/var/tmp/skiff-vm-tests")
TIMEOUT = 120  # per command; TCG emulation is slow

_ids = itertools.count()


def unique_id(prefix="t"):
    return f"{prefix}-{os.getpid()}-{next(_ids)}"


def in_vm():
    """True inside the harness VM (its image sets this hostname)."""
    try:
        with open("/etc/hostname") as f:
            return f.read().strip() == "skiff-vm"
    except OSError:
        return False


def sh(*args, check=False, timeout=TIMEOUT, **kw):
    """Runs a command, capturing text output; never raises on exit status
    unless check=True (then the error carries stdout and stderr).
    Output goes through files, not pipes: after `create` (or `run -d`) the
    container holds its stdio open, and waiting for a pipe's EOF would hang."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.run(list(args), stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                           timeout=timeout, **kw)
        out.seek(0)
        err.seek(0)
        r = subprocess.CompletedProcess(p.args, p.returncode,
                                        out.read().decode(errors="replace"),
                                        err.read().decode(errors="replace"))
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {r.returncode}\n"
                             f"stdout: {r.stdout}\nstderr: {r.stderr}")
    return r


def describe(r):
    """A CompletedProcess as text for an assertion message."""
    return (f"{' '.join(r.args)} -> exit {r.returncode}\n"
            f"stdout: {r.stdout.strip()}\nstderr: {r.stderr.strip()}")


def make_bundle(test, args=None, edit=None, config=None):
    """A fresh bundle directory (removed when `test` ends): busybox rootfs
    and config.json from CONFIG (default specs/demo/config.json), with
    process.args replaced by ARGS and then EDIT(config_dict) applied."""
    os.makedirs(WORK, exist_ok=True)
    d = tempfile.mkdtemp(prefix="bundle-", dir=WORK)
    test.addCleanup(shutil.rmtree, d, ignore_errors=True)
    cmd = [os.path.join(REPO, "scripts/make-bundle.sh"), d]
    if config:
        cmd.append(config)
    sh(*cmd, check=True)
    path = os.path.join(d, "config.json")
    with open(path) as f:
        spec = json.load(f)
    if args is not None:
        spec["process"]["args"] = list(args)
    if edit:
        edit(spec)
    with open(path, "w") as f:
        json.dump(spec, f, indent=2)
    return d


def drop_namespace(kind):
    """An edit for make_bundle: removes the KIND namespace (e.g. "cgroup",
    so /proc/self/cgroup shows the container's real cgroup path)."""
    def edit(spec):
        ns = spec["linux"]["namespaces"]
        spec["linux"]["namespaces"] = [n for n in ns if n["type"] != kind]
    return edit


class Runtime:
    """An OCI runtime CLI (skiff, runc, crun) with a private --root that
    lives as long as the test; containers left behind are force-deleted."""

    def __init__(self, test, name, binary):
        self.name = name
        self.binary = binary
        os.makedirs(WORK, exist_ok=True)
        self.root = tempfile.mkdtemp(prefix=f"root-{name}-", dir=WORK)
        self.ids = []
        test.addCleanup(self._cleanup)

    @classmethod
    def skiff(cls, test):
        if not os.access(SKIFF, os.X_OK):
            test.skipTest(f"skiff binary {SKIFF} not found (scripts/vm/test.sh builds it; "
                          "or set SKIFF_BINARY)")
        return cls(test, "skiff", SKIFF)

    @classmethod
    def other(cls, test, name):
        path = shutil.which(name)
        if not path:
            test.skipTest(f"{name} is not installed in this VM image (scripts/vm/image.sh)")
        return cls(test, name, path)

    def __call__(self, *args, timeout=TIMEOUT, **kw):
        return sh(self.binary, "--root", self.root, *args, timeout=timeout, **kw)

    def run_container(self, bundle, cid=None, timeout=TIMEOUT):
        cid = cid or unique_id(self.name)
        self.ids.append(cid)
        return self("run", "-b", bundle, cid, timeout=timeout)

    def create(self, bundle, cid=None):
        cid = cid or unique_id(self.name)
        self.ids.append(cid)
        r = self("create", "-b", bundle, cid)
        if r.returncode != 0:
            raise AssertionError(describe(r))
        return cid

    def state(self, cid):
        r = self("state", cid)
        if r.returncode != 0:
            raise AssertionError(describe(r))
        return json.loads(r.stdout)

    def _cleanup(self):
        # delete --force must succeed on whatever is left (an error here fails the test).
        failed = [describe(r) for r in (sh(self.binary, "--root", self.root, "delete", "--force", cid)
                                        for cid in self.ids) if r.returncode != 0]
        shutil.rmtree(self.root, ignore_errors=True)
        if failed:
            raise AssertionError("cleanup: " + "\n".join(failed))


def proc_cgroup(pid="self"):
    """The cgroup2 path of a process ("/skiff/x"), from /proc/PID/cgroup."""
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            if line.startswith("0::"):
                return line[3:].strip()
    raise AssertionError(f"/proc/{pid}/cgroup has no cgroup2 (0::) line")


def root_disk():
    """(major, minor) of the whole disk the guest's / is on."""
    dev = os.stat("/").st_dev
    part = f"/sys/dev/block/{os.major(dev)}:{os.minor(dev)}"
    disk = os.path.dirname(os.path.realpath(part)) if os.path.exists(part + "/partition") else part
    with open(os.path.join(disk, "dev")) as f:
        major, minor = f.read().strip().split(":")
    return int(major), int(minor)


def cgroup_dir(path):
    """The directory of cgroup PATH ("/skiff/x") under the cgroup2 mount."""
    return os.path.join(CGROUP_ROOT, path.lstrip("/"))


def read_cgroup(path, name):
    """The stripped text of cgroup file NAME of cgroup PATH."""
    with open(os.path.join(cgroup_dir(path), name)) as f:
        return f.read().strip()


def mount_fstype(target):
    """The filesystem type mounted at TARGET, from /proc/self/mountinfo."""
    fstype = None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, right = line.split(" - ", 1)
            if left.split()[4] == target:
                fstype = right.split()[0]  # the last (topmost) mount wins
    return fstype


class TestCase(unittest.TestCase):
    """Base for VM tests: longer diffs, and a check that this is the VM."""
    maxDiff = None
