"""What the client tests (test_containerd, test_cri, test_podman, test_docker) share
beyond clients.py: the two runtimes each scenario runs with, a logging runc that
records how each client calls its runtime, commands under a pseudo-terminal, and
bounded polling.

    @engines.per_runtime
    class Ctr(vmtest.TestCase):
        def scenario_run_rm(self, rt): ...      # -> test_run_rm_skiff, test_run_rm_runc

rt.binary is skiff (vmtest.SKIFF) or the logging wrapper around /usr/sbin/runc;
rt.name is "skiff" or "runc".
"""

import collections
import fcntl
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import termios
import time

import vmtest

Rt = collections.namedtuple("Rt", "name binary")
REAL_RUNC = shutil.which("runc") or "/usr/sbin/runc"


# With $SKIFF_VM_AUDIT_DIR: copies of the bundle's config.json (create, run), the
# --process file (exec) and the --resources document (update, standard input included).
AUDIT_COPY = r"""prev=; stdin_resources=
for a; do
  case "$prev" in
    --bundle|-b) cp "$a/config.json" "@DIR@/@CLIENT@-config-$$.json" ;;
    --process|-p) cp "$a" "@DIR@/@CLIENT@-process-$$.json" ;;
    --resources|-r) if [ "$a" = - ]; then stdin_resources=1; else cp "$a" "@DIR@/@CLIENT@-resources-$$.json"; fi ;;
  esac
  case "$a" in
    --bundle=*) cp "${a#--bundle=}/config.json" "@DIR@/@CLIENT@-config-$$.json" ;;
    --resources=*) cp "${a#--resources=}" "@DIR@/@CLIENT@-resources-$$.json" ;;
  esac
  prev=$a
done
if [ -n "$stdin_resources" ]; then
  cat >"@DIR@/@CLIENT@-resources-$$.json"
  exec <"@DIR@/@CLIENT@-resources-$$.json"
fi
"""


class RuntimeLog:
    """A logging wrapper named `runc` in a directory of its own (clients that go by the
    binary's name, as podman does, see "runc"): every call appends one line, the
    caller's command name and then the arguments joined by spaces, to the log, and
    then execs the real runc with the same arguments."""

    def __init__(self, client):
        os.makedirs(vmtest.WORK, exist_ok=True)
        self.client = client
        self.dir = tempfile.mkdtemp(prefix=f"runc-log-{client}-", dir=vmtest.WORK)
        os.chmod(self.dir, 0o755)
        self.binary = os.path.join(self.dir, "runc")
        self.log = os.path.join(self.dir, "calls.log")
        audit = os.environ.get("SKIFF_VM_AUDIT_DIR")
        with open(self.binary, "w") as f:
            # dash and builtins only: no fork before the exec (TCG makes each one dear).
            f.write("#!/bin/sh\n"
                    "read -r comm </proc/$PPID/comm\n"
                    f"printf '%s: %s\\n' \"$comm\" \"$*\" >>{self.log}\n")
            if audit and os.path.isdir(audit):
                # The documents the client hands the runtime (the fuzz corpus's seeds).
                f.write(AUDIT_COPY.replace("@DIR@", audit).replace("@CLIENT@", client))
            f.write(f"exec {REAL_RUNC} \"$@\"\n")
        os.chmod(self.binary, 0o755)

    def lines(self):
        try:
            with open(self.log) as f:
                return [line.rstrip("\n") for line in f]
        except OSError:
            return []

    def report(self):
        """Prints the calls, deduplicated (container ids, pids and temp names shown as
        <...>), to stderr; and copies the raw log to $SKIFF_VM_AUDIT_DIR if set."""
        raw = self.lines()
        seen = []
        for line in raw:
            n = normalize(line)
            if n not in seen:
                seen.append(n)
        print(f"\n---- {self.client}: runtime calls ({len(raw)} calls, {len(seen)} distinct) ----",
              file=sys.stderr)
        for n in seen:
            print("  " + n, file=sys.stderr)
        out = os.environ.get("SKIFF_VM_AUDIT_DIR")
        if out and os.path.isdir(out):
            with open(os.path.join(out, f"{self.client}-calls.log"), "w") as f:
                f.write("\n".join(raw) + "\n")
            with open(os.path.join(out, f"{self.client}-calls-dedup.log"), "w") as f:
                f.write("\n".join(seen) + "\n")

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


_NORMALIZE = [
    (re.compile(r"[0-9a-f]{64}"), "<id>"),
    (re.compile(r"/var/tmp/skiff-vm-tests/[A-Za-z0-9_.-]+"), "<work>"),
    (re.compile(r"(?<![0-9A-Za-z])t-[0-9]+-[0-9]+(?![0-9])"), "<name>"),
    (re.compile(r"(?<=[/.:-])[0-9]+(?=\.pid|\.json|\.sock)"), "<n>"),
    (re.compile(r"(?<=exec-)[0-9a-z]+"), "<n>"),
    (re.compile(r"/tmp/[A-Za-z0-9_.-]*[0-9]{3,}[A-Za-z0-9_.-]*"), "/tmp/<tmp>"),
    (re.compile(r"(?<=/)[0-9a-f]{16,}(?=[/.-])"), "<hex>"),
    (re.compile(r"(?<=[-_])[0-9]{4,}(?![0-9])"), "<n>"),
]


def normalize(line):
    for rx, rep in _NORMALIZE:
        line = rx.sub(rep, line)
    return line


def per_runtime(cls):
    """Class decorator: each scenario_NAME(self, rt) becomes test_NAME_skiff and
    test_NAME_runc. cls.runc_log (a RuntimeLog, set by the module's setUp) gives the
    runc variant its logging binary."""
    for attr in dir(cls):
        if not attr.startswith("scenario_"):
            continue
        fn = getattr(cls, attr)
        if fn is None:
            continue
        for name in ("skiff", "runc"):
            def test(self, fn=fn, name=name):
                t0 = time.monotonic()
                try:
                    fn(self, self.rt(name))
                finally:
                    print(f"[{time.monotonic() - t0:.1f} s] ", end="", file=sys.stderr, flush=True)
            test.__name__ = f"test_{attr[len('scenario_'):]}_{name}"
            test.__doc__ = fn.__doc__
            setattr(cls, test.__name__, test)
    return cls


def runtime(name, runc_log):
    if name == "skiff":
        if not os.access(vmtest.SKIFF, os.X_OK):
            raise AssertionError(f"skiff binary {vmtest.SKIFF} not found (set SKIFF_BINARY)")
        return Rt("skiff", vmtest.SKIFF)
    if not os.access(REAL_RUNC, os.X_OK):
        raise AssertionError(f"runc ({REAL_RUNC}) is not in this VM image (scripts/vm/image.sh)")
    return Rt("runc", runc_log.binary if runc_log else REAL_RUNC)


def need(binary):
    """The path of BINARY, or an AssertionError naming the image recipe."""
    path = shutil.which(binary)
    if not path:
        raise AssertionError(f"{binary} is not installed in this VM image (scripts/vm/image.sh)")
    return path


def wait_until(what, predicate, timeout=60, interval=0.3):
    """Polls PREDICATE (returning a true value when done) for at most TIMEOUT s."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def run_tty(args, timeout=vmtest.TIMEOUT, env=None):
    """Runs ARGS with a new pseudo-terminal as its controlling terminal and stdio
    (what `docker exec -it` and `ctr run --tty` want); returns a CompletedProcess
    whose stdout is everything written to the terminal (without \\r)."""
    master, slave = os.openpty()

    def ctty():
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    try:
        p = subprocess.Popen(list(args), stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
                             preexec_fn=ctty, env=env, close_fds=True)
    finally:
        os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    try:
        while True:
            if time.monotonic() > deadline:
                p.kill()
                p.wait()
                raise AssertionError(f"{' '.join(args)}: no end after {timeout} s; output so far: {out!r}")
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: every slave end is closed
                    data = b""
                if not data:
                    break
                out += data
            elif p.poll() is not None:
                break
        rc = p.wait(timeout=max(1, deadline - time.monotonic()))
    finally:
        os.close(master)
    # \r\n, or \r\r\n through two terminals (the container's and ours), as \n.
    text = out.decode(errors="replace").replace("\r", "")
    return subprocess.CompletedProcess(list(args), rc, text, "")


def host_cgroup(pid):
    """The cgroup directory (under /sys/fs/cgroup) of host PID."""
    return vmtest.cgroup_dir(vmtest.proc_cgroup(pid))
