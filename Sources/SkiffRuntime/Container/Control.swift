import Glibc

/// `pause`, `resume` and `ps`: the commands that act on a running container's cgroup.
extension Container {
    static func cgroup(of r: ContainerRecord) throws -> Cgroup {
        guard let path = r.cgroupPath else { throw RuntimeError("container \(r.id) has no cgroup") }
        return Cgroup(path: path)
    }

    /// Freezes every process of the container (cgroup.freeze) and waits until they are.
    public static func pause(id: String, runtime: RuntimeOptions) throws {
        Trace.enter("pause")
        let (store, r) = try load(id, runtime: runtime)
        switch status(of: r, store: store) {
        case .running, .created: break
        case .paused: return
        default: throw RuntimeError("container not running")
        }
        try cgroup(of: r).freeze(true)
    }

    public static func resume(id: String, runtime: RuntimeOptions) throws {
        Trace.enter("resume")
        let (store, r) = try load(id, runtime: runtime)
        guard status(of: r, store: store) == .paused else { throw RuntimeError("container not paused") }
        try cgroup(of: r).freeze(false)
    }

    /// The pids in the container's cgroup (what runc's `ps --format json` prints). A
    /// container without a cgroup (rootless, no limits) that has its own pid namespace:
    /// the processes in that namespace.
    public static func pids(id: String, runtime: RuntimeOptions) throws -> [Int32] {
        let (store, r) = try load(id, runtime: runtime)
        if status(of: r, store: store) == .stopped { throw RuntimeError("container not running") }
        if r.cgroupPath == nil, let ns = PidNamespace.inode(of: r.pid), ns != PidNamespace.inode(of: getpid()) {
            return PidNamespace.processes(in: ns)
        }
        return try cgroup(of: r).pids()
    }
}

extension Cgroup {
    /// Writes cgroup.freeze and waits for cgroup.events to agree (freezing is asynchronous).
    public func freeze(_ on: Bool) throws {
        try Files.writeExisting(path + "/cgroup.freeze", on ? "1" : "0")
        Trace.mark("cgroup.freeze")
        let want = on ? "frozen 1" : "frozen 0"
        for _ in 0..<5000 {
            if (try? Files.readString(path + "/cgroup.events"))?.contains(want) ?? true {
                Trace.mark(on ? "frozen" : "thawed")
                return
            }
            usleep(1000)
        }
        throw RuntimeError("cgroup \(path) did not become \(on ? "frozen" : "thawed")")
    }
}
