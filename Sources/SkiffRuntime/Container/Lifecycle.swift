import Glibc
import CSkiffInit

extension Container {
    public static func load(_ id: String, runtime: RuntimeOptions) throws -> (StateStore, ContainerRecord) {
        try Validation.validateID(id)
        let store = StateStore(root: runtime.root)
        return (store, try store.load(id))
    }

    public static func state(id: String, runtime: RuntimeOptions) throws -> OCIState {
        let (store, r) = try load(id, runtime: runtime)
        return OCIState(record: r, status: status(of: r, store: store))
    }

    /// `start`: release the init blocked on the exec fifo, then run poststart hooks.
    public static func start(id: String, runtime: RuntimeOptions) throws {
        Trace.enter("start")
        try Validation.validateID(id)
        let store = StateStore(root: runtime.root)
        let lock = try store.lock(id)
        defer { withExtendedLifetime(lock) {} }
        let r = try store.load(id)
        try setBackKilledUpdate(r, store: store, runtime: runtime)
        switch status(of: r, store: store) {
        case .created: break
        case .stopped: throw RuntimeError("cannot start a container that has stopped")
        case .paused: throw RuntimeError("cannot start a container in the paused state")
        default: throw RuntimeError("cannot start an already running container")
        }
        Trace.mark("lock, load state")
        let fifoPath = store.fifoPath(id)
        // O_NONBLOCK: opening never waits, and a dead init cannot hang us.
        let fifo = try sys("open exec fifo", fifoPath) { open(fifoPath, O_RDONLY | O_NONBLOCK | O_CLOEXEC) }
        defer { close(fifo) }
        let pidfd = skiff_pidfd_open(r.pid)
        defer { if pidfd >= 0 { close(pidfd) } }
        var fds = [pollfd(fd: fifo, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)]
        while true {
            let n = poll(&fds, pidfd >= 0 ? 2 : 1, 1000)
            if n < 0 && errno != EINTR { throw SysError(errno, "wait for the container process") }
            var byte: UInt8 = 0
            let got = read(fifo, &byte, 1)
            if got == 1 { break }
            if fds[1].revents != 0 || !r.initIsAlive {
                unlink(fifoPath)
                throw RuntimeError("container process exited before start")
            }
            fds[0].revents = 0
        }
        unlink(fifoPath)
        Trace.mark("release the init")
        // The init keeps its end open (close-on-exec) through the startContainer hooks until
        // it execs the program: EOF means the program was executed (or the init died), and
        // only then may poststart hooks run (config.md).
        while true {
            var byte: UInt8 = 0
            let got = read(fifo, &byte, 1)
            if got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR) { break }
            var p = pollfd(fd: fifo, events: Int16(POLLIN), revents: 0)
            _ = poll(&p, 1, -1)
        }
        Trace.mark("wait for the exec")
        let state = OCIState.forHooks(id: id, pid: r.pid, status: .running, bundle: r.bundle, annotations: r.annotations)
        if !r.poststart.isEmpty {
            do {
                try HookRunner.run(r.poststart, kind: "poststart", state: state)
            } catch {
                // runtime.md step 9: a failing poststart hook is an error and stops the container.
                Teardown(entries: [], record: r).kill()
                throw error
            }
            Trace.mark("poststart hooks")
        }
    }

    /// `kill [--all] ID SIGNAL`.
    public static func kill(id: String, signal: Int32, all: Bool, runtime: RuntimeOptions) throws {
        let (store, r) = try load(id, runtime: runtime)
        let st = status(of: r, store: store)
        if st == .stopped {
            // runc: with --all a stopped container's leftovers are still signalled.
            if all, let cg = r.cgroupPath { Cgroup(path: cg).signalAll(signal); return }
            throw RuntimeError("container not running")
        }
        if all, let cg = r.cgroupPath {
            Cgroup(path: cg).signalAll(signal)
            return
        }
        try signalInit(r, signal)
    }

    /// Signals the init through a pidfd, after checking it is still our process.
    static func signalInit(_ r: ContainerRecord, _ sig: Int32) throws {
        let pidfd = skiff_pidfd_open(r.pid)
        if pidfd < 0 {
            if errno == ESRCH { throw RuntimeError("container not running") }
            throw SysError(errno, "pidfd_open \(r.pid)")
        }
        defer { close(pidfd) }
        guard r.initIsAlive else { throw RuntimeError("container not running") }
        if skiff_pidfd_send_signal(pidfd, sig) != 0 && errno != ESRCH {
            throw SysError(errno, "signal container init")
        }
    }

    /// `delete [--force] ID`: whatever the container was left as (a create or delete
    /// killed half-way, a corrupt state file), what its record and journal name is undone.
    public static func delete(id: String, force: Bool, runtime: RuntimeOptions) throws {
        Trace.enter("delete")
        try Validation.validateID(id)
        let store = StateStore(root: runtime.root)
        guard store.exists(id) else {
            if force { return }
            throw RuntimeError("container \(id) does not exist")
        }
        let lock: StateStore.Lock
        do { lock = try store.lock(id) } catch where force && !store.exists(id) { return }
        defer { withExtendedLifetime(lock) {} }
        let record = try? store.load(id)
        let teardown = Teardown(entries: StateJournal.read(store.journalPath(id)), record: record)
        Trace.mark("lock, load state")
        let st: ContainerStatus
        if let r = record {
            st = status(of: r, store: store)
        } else if Files.exists(store.statePath(id)) {
            // Unreadable: a running container whose file was damaged is still running.
            st = teardown.anyAlive ? .running : .stopped
        } else {
            // A create that died before saving its state: never started.
            st = teardown.anyAlive ? .created : .stopped
        }
        switch st {
        case .stopped, .created:
            break
        case .running, .paused, .creating:
            if !force { throw RuntimeError("cannot delete container \(id) that is not stopped: \(st.rawValue)") }
        }
        if st != .stopped { teardown.kill() }
        try teardown.release()
        store.remove(id)
        Trace.mark("remove state dir")
        if let r = record, !r.poststop.isEmpty {
            let state = OCIState.forHooks(id: id, pid: 0, status: .stopped, bundle: r.bundle, annotations: r.annotations)
            // runtime.md: a failing poststop hook is a warning; the others still run.
            for error in HookRunner.runAll(r.poststop, kind: "poststop", state: state) { runtime.log.warn("\(error)") }
        }
    }

    public static func list(runtime: RuntimeOptions) -> [OCIState] {
        let store = StateStore(root: runtime.root)
        let rootFD = store.openRoot()
        defer { if rootFD != AT_FDCWD { close(rootFD) } }
        let ids = store.ids()
        Trace.mark("read root")
        // Each container is a state file and a process to check, independent of the others.
        let states = Parallel.map(ids.count) { i -> OCIState? in
            guard let r = try? store.load(ids[i], rootFD: rootFD) else { return nil }
            return OCIState(record: r, status: status(of: r, store: store, rootFD: rootFD))
        }.compactMap { $0 }
        Trace.mark("read states")
        return states
    }
}
