#!/usr/bin/env python3
"""Scenario 6 of scripts/bench.sh, in the VM: the smallest memory.max (swap off) under
which `run echo hi` succeeds, for skiff, crun and runc. The config is runc's default
spec with linux.resources.memory.limit = swap = L (memory.swap.max 0), busybox rootfs;
L is found by bisection to MEMORY_STEP_KIB and the threshold is checked again.
A benchmark, not a test; run by scripts/vm/bench.sh.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmtest  # noqa: E402

MEMORY_STEP_KIB = 32
LOW_KIB, HIGH_KIB = 64, 64 * 1024
CONFIRMATIONS = 3


def bundle(work, limit_kib):
    d = os.path.join(work, f"b{limit_kib}")
    if os.path.isdir(d):
        return d
    os.makedirs(d)
    with open(os.path.join(work, "config.json")) as f:
        spec = json.load(f)
    spec["root"]["path"] = os.path.join(work, "rootfs")
    spec["process"]["terminal"] = False
    spec["process"]["args"] = ["echo", "hi"]
    spec["ociVersion"] = "1.0.2"
    spec["linux"].setdefault("resources", {})["memory"] = {"limit": limit_kib * 1024, "swap": limit_kib * 1024}
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(spec, f)
    return d


def works(binary, root, work, limit_kib, n=[0]):
    n[0] += 1
    cid = f"mem-{os.getpid()}-{n[0]}"
    r = subprocess.run([binary, "--root", root, "run", "-b", bundle(work, limit_kib), cid],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=vmtest.TIMEOUT)
    subprocess.run([binary, "--root", root, "delete", "--force", cid], capture_output=True, timeout=vmtest.TIMEOUT)
    return r.returncode == 0 and r.stdout == "hi\n"


def smallest(binary, root, work):
    lo, hi = LOW_KIB, HIGH_KIB  # lo fails (assumed), hi works (checked)
    if not works(binary, root, work, hi):
        return None
    while hi - lo > MEMORY_STEP_KIB:
        mid = (lo + hi) // 2 // MEMORY_STEP_KIB * MEMORY_STEP_KIB
        if mid <= lo:
            break
        if works(binary, root, work, mid):
            hi = mid
        else:
            lo = mid
    # A threshold run that fails once (a page more here or there) is not the threshold.
    while not all(works(binary, root, work, hi) for _ in range(CONFIRMATIONS)):
        hi += MEMORY_STEP_KIB
    return hi


def main():
    work = tempfile.mkdtemp(prefix="bench-memory-", dir="/var/tmp")
    try:
        subprocess.run([os.path.join(vmtest.REPO, "scripts/make-bundle.sh"), work], check=True, capture_output=True)
        os.remove(os.path.join(work, "config.json"))
        subprocess.run(["runc", "spec", "--bundle", work], check=True)
        rows = []
        for name in ("skiff", "crun", "runc"):
            binary = vmtest.SKIFF if name == "skiff" else shutil.which(name)
            root = os.path.join(work, "root-" + name)
            kib = smallest(binary, root, work)
            rows.append((name, "does not run under 64 MiB" if kib is None else f"{kib} KiB"))
        print("\n## 6. smallest memory.max (swap off) under which `run echo hi` succeeds")
        for name, v in rows:
            print(f"{name:6} {v}")
        print(f"(bisection to {MEMORY_STEP_KIB} KiB, the result confirmed {CONFIRMATIONS} times; cgroup v2, systemd host)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
