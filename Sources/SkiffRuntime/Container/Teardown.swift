import Glibc
import CSkiffInit

/// Everything one container holds on the host, and the one way it is given back: a
/// failing create undoes what it made with it, and `delete` (or a create that finds an
/// abandoned directory) builds it from the state record and the journal. Every step
/// tolerates what is already gone, so a teardown killed half-way can simply run again.
struct Teardown {
    struct Process {
        var pid: Int32
        var identity: PidIdentity.Recorded
        /// Ours to reap (the create that cloned it).
        var isChild = false
    }

    var processes: [Process] = []
    var cgroups: [String] = []
    var units: [SystemdUnit] = []
    var mountRoots: [String] = []
    var files: [String] = []

    /// The journal entry is written before the thing it names is made.
    var journal: StateJournal.Writer?

    init(journal: StateJournal.Writer? = nil) { self.journal = journal }

    /// From what a (dead) create wrote and, when it got that far, the state record.
    init(entries: [StateJournal.Entry], record: ContainerRecord?) {
        for e in entries { add(e) }
        if let r = record {
            add(.process(pid: r.pid, identity: r.initIdentity))
            if let cg = r.cgroupPath { add(.cgroup(cg)) }
            if let u = r.systemdUnit { add(.unit(u, r.systemdManager)) }
            if r.sharesMountNamespace { add(.mounts(under: r.rootfs)) }
        }
    }

    /// Remembers `e` and journals it (before it exists). Remembered first: a journal
    /// that cannot be written (ENOSPC) fails the create, whose undo still sees it.
    mutating func record(_ e: StateJournal.Entry, child: Bool = false) throws {
        add(e, child: child)
        try journal?.append(e)
    }

    /// A process that is gone (reaped by us): never signal its pid again.
    mutating func forget(pid: Int32) { processes.removeAll { $0.pid == pid } }

    mutating func add(_ e: StateJournal.Entry, child: Bool = false) {
        switch e {
        case .cgroup(let p): if !cgroups.contains(p) { cgroups.append(p) }
        case .unit(let u, let m):
            let unit = SystemdUnit(slice: "", name: u, instance: m)
            if !units.contains(unit) { units.append(unit) }
        case .mounts(let r): if !mountRoots.contains(r) { mountRoots.append(r) }
        case .file(let f): if !files.contains(f) { files.append(f) }
        case .process(let pid, let id):
            if !processes.contains(where: { $0.pid == pid && $0.identity == id }) {
                processes.append(Process(pid: pid, identity: id, isChild: child))
            }
        }
    }

    /// Whether any process it names is still running.
    var anyAlive: Bool { processes.contains { $0.identity.isKnown && $0.identity.isAlive($0.pid) } }

    /// Kills every process (the cgroups' too) and waits for them to exit.
    func kill() {
        for cg in cgroups { Cgroup(path: cg).signalAll(SIGKILL) }
        for p in processes { Self.kill(p) }
        Trace.mark("kill")
    }

    /// Stops the units, removes the cgroups, the mounts and the half-written files.
    /// `keepGoing`: past a failing step to the next (a failing create's undo, whose own
    /// error is the one to report).
    func release(keepGoing: Bool = false) throws {
        func step(_ f: () throws -> Void) throws {
            do { try f() } catch where keepGoing {}
        }
        // Stopping a scope kills what is left in it and removes its cgroup.
        for u in units { try step { try SystemdManager.stop(u) } }
        if !units.isEmpty { Trace.mark("stop systemd scope") }
        for cg in cgroups { try step { try Cgroup(path: cg).destroy() } }
        Trace.mark("remove cgroup")
        for r in mountRoots { Mounts.unmountAll(under: r) }
        for f in files { unlink(f) }
    }

    /// For a failing create: everything, errors ignored, then the state directory.
    func undo(store: StateStore, id: String) {
        kill()
        try? release(keepGoing: true)
        store.remove(id)
    }

    /// Killed through a pidfd, so a recycled pid is never signalled; then waited for
    /// (bounded): we may not be its parent.
    static func kill(_ p: Process) {
        guard p.identity.isKnown || p.isChild else { return }
        let pidfd = skiff_pidfd_open(p.pid)
        if pidfd >= 0 {
            defer { close(pidfd) }
            guard p.isChild || p.identity.isAlive(p.pid) else { return }
            _ = skiff_pidfd_send_signal(pidfd, SIGKILL)
            var pfd = pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)
            _ = poll(&pfd, 1, exitWaitMillis)
        } else if p.isChild {
            Glibc.kill(p.pid, SIGKILL)
        }
        if p.isChild {
            var st: Int32 = 0
            while waitpid(p.pid, &st, 0) < 0 && errno == EINTR {}
        }
    }

    /// How long a killed process may take to exit before we go on without it.
    static let exitWaitMillis: Int32 = 10_000
}
