#!/usr/bin/env python3
"""Pod start latency through containerd's CRI, in the VM: skiff, runc and crun as
runtime handlers of one containerd, driven as the kubelet drives it, interleaved pod
by pod (skiff runc crun, then runc crun skiff, ...) so that the machine's drift hits
all three alike. Run by scripts/vm/bench.sh; a benchmark, not a test.

    start     RunPodSandbox + CreateContainer + StartContainer (the pod is running)
    teardown  StopPodSandbox + RemovePodSandbox

Prints the medians (ms) and the median of the per-round ratios skiff/runc and
skiff/crun, as a table. Under TCG only the ratios mean much.
"""

import argparse
import os
import shutil
import statistics
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clients  # noqa: E402
import vmtest  # noqa: E402

BUSYBOX = clients.BUSYBOX_IMAGE


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=30, help="pods per runtime (default 30)")
    opts = ap.parse_args()

    runtimes = {"skiff": vmtest.SKIFF}
    for name in ("runc", "crun"):
        path = shutil.which(name)
        if not path:
            sys.exit(f"bench_pods.py: {name} is not installed in this image")
        runtimes[name] = path
    d = clients.Containerd(handlers=runtimes)
    d.start()
    try:
        for name, cmd in clients.POD_IMAGES:
            d.import_image(name, cmd)
        cri = d.cri()
        names = list(runtimes)
        start = {n: [] for n in names}
        stop = {n: [] for n in names}

        def pod(handler, i):
            uid = f"{handler}-{i}-{os.getpid()}"
            config = cri.pod_config(f"bench-{handler}-{i}", uid)
            config.linux.cgroup_parent = "skiffbench.slice"
            t0 = time.perf_counter()
            sid = cri.call("RunPodSandbox", config=config, runtime_handler=handler).pod_sandbox_id
            cid = cri.call("CreateContainer", pod_sandbox_id=sid, sandbox_config=config,
                           config=cri.container_config("c", BUSYBOX, ["sleep", "3600"])).container_id
            cri.call("StartContainer", container_id=cid)
            t1 = time.perf_counter()
            cri.call("StopPodSandbox", pod_sandbox_id=sid)
            cri.call("RemovePodSandbox", pod_sandbox_id=sid)
            t2 = time.perf_counter()
            return (t1 - t0) * 1000, (t2 - t1) * 1000

        for h in names:  # warm-up: first shim start, image unpack, slices
            pod(h, "warm")
        for i in range(opts.n):
            order = names[i % len(names):] + names[:i % len(names)]
            for h in order:
                s, t = pod(h, i)
                start[h].append(s)
                stop[h].append(t)
            print(f"round {i + 1}/{opts.n}: " + " ".join(f"{h} {start[h][-1]:.0f}/{stop[h][-1]:.0f} ms" for h in names),
                  file=sys.stderr, flush=True)

        def ratio(series, other):
            return statistics.median(a / b for a, b in zip(series["skiff"], series[other]))

        print(f"\npod start latency through containerd's CRI, N={opts.n} pods per runtime, interleaved, medians (ms)")
        print(f"{'phase':<10} {'skiff':>9} {'runc':>9} {'crun':>9} {'skiff/runc':>11} {'skiff/crun':>11}")
        for label, series in (("start", start), ("teardown", stop)):
            print(f"{label:<10} " + " ".join(f"{statistics.median(series[h]):9.1f}" for h in names)
                  + f" {ratio(series, 'runc'):11.2f} {ratio(series, 'crun'):11.2f}")
        cri.close()
    finally:
        d.stop()


if __name__ == "__main__":
    main()
