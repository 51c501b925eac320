#!/usr/bin/env python3
"""skiff, crun and runc side by side: the timing loops behind scripts/bench.sh.

Every runtime gets the same bundle and config. Rounds are interleaved (skiff, crun,
runc, skiff, crun, runc, ...) so that the machine's load drifts over all of them alike;
a table gives the medians of wall and of CPU time and the median of the per-round
ratios skiff/crun and skiff/runc. CPU time is user+sys of the runtime's processes and
of everything they wait for: this process is a child subreaper, so a container init
that its runtime leaves behind is reaped (and counted) here.

Run it through scripts/bench.sh, which makes the bundle and the private mount
namespace with cgroup2 on /sys/fs/cgroup that crun needs on a hybrid host.
"""
import argparse
import ctypes
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import threading
import time

PR_SET_CHILD_SUBREAPER = 36
ALL_SCENARIOS = "1,2,3,4,5,7"
# The container a burst or an exec needs running; it is killed by delete --force.
LONG_SLEEP = ["sleep", "100000"]


class Runtime:
    def __init__(self, name, binary, bundle, root):
        self.name, self.binary, self.bundle, self.root = name, binary, bundle, root

    def argv(self, *args):
        return [self.binary, "--root", self.root] + list(args)


class Failed(Exception):
    pass


def spawn(argv, stdout=os.devnull):
    """Runs argv with stdio on /dev/null (a pipe would be held open by the container);
    returns (wall seconds, user+sys seconds, maxrss KiB) or raises Failed."""
    err = os.memfd_create("stderr")
    actions = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
               (os.POSIX_SPAWN_OPEN, 1, stdout, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
               (os.POSIX_SPAWN_DUP2, err, 2)]
    t = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=actions)
    _, status, ru = os.wait4(pid, 0)
    wall = time.perf_counter() - t
    if status != 0:
        os.lseek(err, 0, os.SEEK_SET)
        msg = os.read(err, 4096).decode(errors="replace").strip()
        os.close(err)
        raise Failed(f"{' '.join(argv)}: exit {os.waitstatus_to_exitcode(status)}: {msg}")
    os.close(err)
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss


def reap_orphans():
    """CPU seconds of the orphans (container inits) reparented to us, reaped now."""
    cpu = 0.0
    while True:
        try:
            pid, _, ru = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return cpu
        if pid == 0:
            return cpu
        cpu += ru.ru_utime + ru.ru_stime


def steps(rt, *calls):
    """Runs the calls in order; returns (wall, cpu) of all of them and their orphans."""
    wall = cpu = 0.0
    for args in calls:
        w, c, _ = spawn(rt.argv(*args))
        wall += w
        cpu += c
    return wall, cpu + reap_orphans()


def wait_orphans(timeout=10):
    """Waits until the reparented inits have exited and are reaped; returns their CPU."""
    cpu = 0.0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            pid, _, ru = os.wait4(-1, 0)
        except ChildProcessError:
            break
        cpu += ru.ru_utime + ru.ru_stime
    return cpu


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def percentile(xs, p):
    s = sorted(xs)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


def table(title, rows, note=""):
    print(f"\n## {title}")
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for j, r in enumerate(rows):
        print("  ".join(str(c).rjust(widths[i]) if i else str(c).ljust(widths[i]) for i, c in enumerate(r)))
        if j == 0:
            print("  ".join("-" * w for w in widths))
    if note:
        print(note)
    sys.stdout.flush()


GAP_S = 0.0  # set from --gap-ms in main()


def interleaved(runtimes, rounds, warmup, step):
    """step(rt, i) -> (wall, cpu). Round by round, every runtime once per round, each
    step after the same idle gap: the kernel's deferred work of the previous step (a
    network namespace's teardown, an RCU grace period) is then done for every runtime
    alike, as between sporadic container starts on a node. Without the gap, one
    runtime's leftovers land on the next one's time: a cgroup2 mount made soon after
    another one skips the RCU grace period it otherwise waits for."""
    for i in range(warmup):
        for rt in runtimes:
            step(rt, f"w{i}")
    res = {rt.name: {"wall": [], "cpu": []} for rt in runtimes}
    for i in range(rounds):
        for rt in runtimes:
            if GAP_S:
                time.sleep(GAP_S)
                reap_orphans()
            w, c = step(rt, str(i))
            res[rt.name]["wall"].append(w * 1000)
            res[rt.name]["cpu"].append(c * 1000)
    return res


def ratio_rows(res, names):
    """The table: medians, and the median of per-round ratios against skiff."""
    rows = [("runtime", "wall ms", "cpu ms", "skiff/x wall", "skiff/x cpu")]
    for n in names:
        r = res[n]
        if n == "skiff" or "skiff" not in res:
            rw = rc = "-"
        else:
            s = res["skiff"]
            rw = f"{median([a / b for a, b in zip(s['wall'], r['wall'])]):.2f}"
            rc = f"{median([a / b for a, b in zip(s['cpu'], r['cpu']) if b > 0]):.2f}"
        rows.append((n, f"{median(r['wall']):.2f}", f"{median(r['cpu']):.2f}", rw, rc))
    return rows


def scenario_run(runtimes, args, uid):
    def step(rt, i):
        return steps(rt, ("run", "-b", rt.bundle, f"{uid}-run-{i}"))
    res = interleaved(runtimes, args.rounds, args.warmup, step)
    table(f"1. run /bin/true, {args.rounds} rounds", ratio_rows(res, [r.name for r in runtimes]))
    return res


def scenario_lifecycle(runtimes, args, uid):
    def step(rt, i):
        cid = f"{uid}-cycle-{i}"
        return steps(rt, ("create", "-b", rt.bundle, cid), ("start", cid), ("delete", "--force", cid))
    res = interleaved(runtimes, args.rounds, args.warmup, step)
    table(f"2. create + start + delete --force, {args.rounds} cycles", ratio_rows(res, [r.name for r in runtimes]))
    return res


def scenario_exec(runtimes, args, uid):
    # Each runtime its own container ID: two builds of one runtime share a cgroup path.
    def cid(rt):
        return f"{uid}-exec-{rt.name}"

    def step(rt, i):
        return steps(rt, ("exec", cid(rt), "/bin/true"))
    try:
        for rt in runtimes:
            spawn(rt.argv("run", "-d", "-b", rt.sleep_bundle, cid(rt)))
        res = interleaved(runtimes, args.rounds, args.warmup, step)
    finally:
        for rt in runtimes:
            try:
                spawn(rt.argv("delete", "--force", cid(rt)))
            except Failed:
                pass
        wait_orphans()
    table(f"3. exec /bin/true into a running container, {args.rounds} in a row",
          ratio_rows(res, [r.name for r in runtimes]))
    return res


def scenario_burst(runtimes, args, uid):
    """N containers created and started, K in flight; containers/s and per-container spread."""
    n, k = args.burst, args.in_flight
    rows = [("runtime", "containers/s", "p50 ms", "p99 ms", "delete all s", "skiff/x rate", "skiff/x p99")]
    out = {}
    for rep in range(args.burst_repeats):
        for rt in runtimes:
            lat, lock, nxt, failures = [], threading.Lock(), [0], []

            def worker():
                while True:
                    with lock:
                        i = nxt[0]
                        nxt[0] += 1
                    if i >= n or failures:
                        return
                    cid = f"{uid}-b{rep}-{i}"
                    t = time.perf_counter()
                    try:
                        spawn(rt.argv("create", "-b", rt.sleep_bundle, cid))
                        spawn(rt.argv("start", cid))
                    except Failed as e:
                        failures.append(str(e))
                        return
                    with lock:
                        lat.append((time.perf_counter() - t) * 1000)
            t0 = time.perf_counter()
            threads = [threading.Thread(target=worker) for _ in range(k)]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            elapsed = time.perf_counter() - t0
            t1 = time.perf_counter()
            ids = [f"{uid}-b{rep}-{i}" for i in range(n)]
            delete_all(rt, ids, k)
            deleted = time.perf_counter() - t1
            wait_orphans()
            if failures:
                raise Failed(f"burst with {rt.name}: {failures[0]}")
            o = out.setdefault(rt.name, {"rate": [], "p50": [], "p99": [], "delete": []})
            o["rate"].append(n / elapsed)
            o["p50"].append(percentile(lat, 50))
            o["p99"].append(percentile(lat, 99))
            o["delete"].append(deleted)
    for rt in runtimes:
        o = out[rt.name]
        if rt.name == "skiff":
            rr = rp = "-"
        else:
            s = out["skiff"]
            rr = f"{median([a / b for a, b in zip(s['rate'], o['rate'])]):.2f}"
            rp = f"{median([a / b for a, b in zip(s['p99'], o['p99'])]):.2f}"
        rows.append((rt.name, f"{median(o['rate']):.0f}", f"{median(o['p50']):.1f}", f"{median(o['p99']):.1f}",
                     f"{median(o['delete']):.2f}", rr, rp))
    table(f"4. burst: {n} containers created and started, {k} in flight ({args.burst_repeats} bursts each, "
          "interleaved)", rows, "   (per-container time: its create + start; then all deleted, "
          f"{k} in flight)")
    return out


def delete_all(rt, ids, k):
    lock, nxt = threading.Lock(), [0]

    def worker():
        while True:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= len(ids):
                return
            try:
                spawn(rt.argv("delete", "--force", ids[i]))
            except Failed:
                pass
    threads = [threading.Thread(target=worker) for _ in range(k)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()


def scenario_rss(runtimes, args, uid):
    """Peak RSS of the runtime's processes during run (the largest of them, as wait4
    reports it to the small rss-run program), and of the init before it execs: the
    container's program is /maxrss, which prints its getrusage maxrss, which the kernel
    carries over from the image it replaced."""
    res = {rt.name: {"tree": [], "init": []} for rt in runtimes}
    rss_run = f"{args.work}/rss-run"
    for i in range(args.rss_rounds):
        for rt in runtimes:
            r = subprocess.run([rss_run] + rt.argv("run", "-b", rt.rss_bundle, f"{uid}-rss-{i}"),
                               stdin=subprocess.DEVNULL, capture_output=True, text=True)
            if r.returncode != 0:
                raise Failed(f"{rt.name} run for RSS: exit {r.returncode}: {r.stderr.strip()}")
            init = int(r.stdout.split()[0])
            tree = int(r.stderr.split("maxrss ")[-1].split()[0])
            res[rt.name]["tree"].append(tree)
            res[rt.name]["init"].append(init)
    rows = [("runtime", "run, largest process KiB", "init before exec KiB")]
    for rt in runtimes:
        rows.append((rt.name, f"{median(res[rt.name]['tree']):.0f}", f"{median(res[rt.name]['init']):.0f}"))
    table(f"5. peak RSS during run ({args.rss_rounds} runs, medians)", rows)
    return res


def scenario_state_list(runtimes, args, uid):
    levels = [int(x) for x in args.state_levels.split(",")]
    made = {rt.name: [] for rt in runtimes}
    res = {}
    try:
        for level in levels:
            for rt in runtimes:
                ids = made[rt.name]
                # Named per runtime: two skiff builds (SKIFF_BASELINE) share the cgroup path /skiff/<id>.
                new = [f"{uid}-{rt.name}-s{len(ids) + j}" for j in range(level - len(ids))]
                ids.extend(new)  # before they exist: a failure half-way still deletes them
                burst_create(rt, new, args.in_flight)

            def state(rt, i):
                return steps(rt, ("state", made[rt.name][0]))

            def lst(rt, i):
                return steps(rt, ("list",))
            res[level] = (interleaved(runtimes, args.state_rounds, 3, state),
                          interleaved(runtimes, args.state_rounds, 3, lst))
    finally:
        for rt in runtimes:
            delete_all(rt, made[rt.name], args.in_flight)
        wait_orphans()
    rows = [("runtime", "containers", "state ms", "list ms", "skiff/x state", "skiff/x list")]
    for level in levels:
        st, ls = res[level]
        for rt in runtimes:
            if rt.name == "skiff":
                a = b = "-"
            else:
                a = f"{median([x / y for x, y in zip(st['skiff']['wall'], st[rt.name]['wall'])]):.2f}"
                b = f"{median([x / y for x, y in zip(ls['skiff']['wall'], ls[rt.name]['wall'])]):.2f}"
            rows.append((rt.name, level, f"{median(st[rt.name]['wall']):.2f}", f"{median(ls[rt.name]['wall']):.2f}", a, b))
    table(f"7. state and list with existing (created) containers, {args.state_rounds} rounds each (wall)", rows)
    return res


def burst_create(rt, ids, k):
    lock, nxt, failures = threading.Lock(), [0], []

    def worker():
        while True:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= len(ids) or failures:
                return
            try:
                spawn(rt.argv("create", "-b", rt.sleep_bundle, ids[i]))
            except Failed as e:
                failures.append(str(e))
    threads = [threading.Thread(target=worker) for _ in range(k)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if failures:
        raise Failed(failures[0])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work", required=True, help="directory with one bundle per runtime (made by bench.sh)")
    p.add_argument("--runtime", action="append", required=True, metavar="NAME=BINARY")
    p.add_argument("--scenarios", default=ALL_SCENARIOS)
    p.add_argument("--rounds", type=int, default=100)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--burst", type=int, default=500)
    p.add_argument("--in-flight", type=int, default=50)
    p.add_argument("--burst-repeats", type=int, default=2)
    p.add_argument("--rss-rounds", type=int, default=10)
    p.add_argument("--state-levels", default="10,100,1000")
    p.add_argument("--state-rounds", type=int, default=30)
    p.add_argument("--gap-ms", type=float, default=50,
                   help="idle time before each timed step of scenarios 1-3 and 7 (0: back to back)")
    p.add_argument("--json", help="also write every sample here")
    args = p.parse_args()
    global GAP_S
    GAP_S = args.gap_ms / 1000

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit("bench.py: cannot become a child subreaper")
    runtimes = []
    for spec in args.runtime:
        name, binary = spec.split("=", 1)
        rt = Runtime(name, binary, f"{args.work}/{name}/true", f"/run/skiff-bench/{name}")
        rt.sleep_bundle = f"{args.work}/{name}/sleep"
        rt.rss_bundle = f"{args.work}/{name}/maxrss"
        runtimes.append(rt)
    uid = f"b{os.getpid()}"
    wanted = {int(s) for s in args.scenarios.split(",")}
    scenarios = {1: scenario_run, 2: scenario_lifecycle, 3: scenario_exec, 4: scenario_burst,
                 5: scenario_rss, 7: scenario_state_list}
    results = {}
    print("runtimes: " + ", ".join(f"{rt.name} ({rt.binary})" for rt in runtimes)
          + f"; {args.gap_ms:g} ms idle before each timed step")
    for n in sorted(wanted):
        if n not in scenarios:
            sys.exit(f"bench.py: scenario {n} runs in the VM (scripts/bench.sh --vm), not here")
        try:
            results[n] = scenarios[n](runtimes, args, uid)
        except Failed as e:
            sys.exit(f"bench.py: scenario {n} failed: {e}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({str(k): v for k, v in results.items()}, f, default=str)


if __name__ == "__main__":
    main()
