import Glibc

/// The state directory under --root: one directory per container holding state.json
/// and the exec fifo, locked with flock so two commands on one ID never interleave.
///
/// The directory's lock is taken by `create` in the same step that makes it (under a
/// short lock on the root itself), and held until create returns or dies: a directory
/// whose lock is free and that has no state.json was left by a create that died, and
/// its journal (StateJournal) says what that create had made.
public struct StateStore {
    public let root: String

    public init(root: String) { self.root = root }

    public func dir(_ id: String) -> String { "\(root)/\(id)" }
    public func fifoPath(_ id: String) -> String { "\(root)/\(id)/exec.fifo" }
    public func statePath(_ id: String) -> String { "\(root)/\(id)/state.json" }
    /// The bundle's config.json as `create` read it (what `exec` starts from).
    public func configPath(_ id: String) -> String { "\(root)/\(id)/config.json" }
    /// What create made on the host, written before each thing exists.
    public func journalPath(_ id: String) -> String { "\(root)/\(id)/journal" }
    /// An update under way: the values to put back if it dies half-way.
    public func updatePath(_ id: String) -> String { "\(root)/\(id)/update.pending" }

    /// A claimed ID: the held lock, and whether the directory was left by a create that
    /// died (its journal must be undone before the ID is used again).
    public struct Claim {
        public let lock: Lock
        public let abandoned: Bool
    }

    /// Creates the container's directory and locks it; fails if the ID is taken by a
    /// container or by a create under way.
    public func create(_ id: String) throws -> Claim {
        if mkdir(root, 0o700) != 0 && errno != EEXIST {
            if errno == ENOENT { try Files.mkdirAll(root, mode: 0o700) } else { throw SysError(errno, "mkdir", root) }
        }
        // Held only from mkdir to flock: no directory is ever seen unlocked by its creator.
        let rootLock = try Lock(path: root)
        defer { withExtendedLifetime(rootLock) {} }
        if mkdir(dir(id), 0o711) == 0 { return Claim(lock: try Lock(path: dir(id)), abandoned: false) }
        guard errno == EEXIST else { throw SysError(errno, "mkdir", dir(id)) }
        if let held = try? Lock(path: dir(id), wait: false), !Files.exists(statePath(id)) {
            return Claim(lock: held, abandoned: true)
        }
        throw RuntimeError("container with id exists: \(id)")
    }

    /// Locks an existing container's directory. A directory removed while we waited (a
    /// concurrent delete) is not the container any more: the lock must be on the
    /// directory the path names now.
    public func lock(_ id: String) throws -> Lock {
        let lock: Lock
        do { lock = try Lock(path: dir(id)) } catch let e as SysError where e.errno == ENOENT {
            throw RuntimeError("container \(id) does not exist")
        }
        var held = stat(), now = stat()
        guard fstat(lock.fd, &held) == 0, stat(dir(id), &now) == 0, held.st_ino == now.st_ino else {
            throw RuntimeError("container \(id) does not exist")
        }
        return lock
    }

    /// Empties a directory we hold the lock of (an abandoned create's), keeping the
    /// directory itself: the lock lives on its inode.
    public func clear(_ id: String) {
        for name in Files.listDirectory(dir(id)) {
            let path = dir(id) + "/" + name
            if Files.isDirectory(path) { Files.removeTree(path) } else { unlink(path) }
        }
    }

    /// `rootFD`, an open fd of the root (`openRoot`), for reading many: paths relative to it
    /// do not walk the root's own path again for every container (list).
    public func load(_ id: String, rootFD: Int32 = AT_FDCWD) throws -> ContainerRecord {
        let bytes: [UInt8]
        do {
            bytes = try Files.read(at: rootFD, path(id, "state.json", relativeTo: rootFD), regularFile: true)
        } catch let e as SysError where e.errno == ENOENT {
            throw RuntimeError("container \(id) does not exist")
        }
        return try ContainerRecord(stateJSON: bytes)
    }

    /// An fd of the root for `rootFD` (AT_FDCWD, the default, when it cannot be opened).
    public func openRoot() -> Int32 {
        let fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        return fd >= 0 ? fd : AT_FDCWD
    }

    /// A container's file as a path for `rootFD`: relative to an open root, else absolute.
    private func path(_ id: String, _ name: String, relativeTo rootFD: Int32) -> String {
        rootFD == AT_FDCWD ? "\(root)/\(id)/\(name)" : "\(id)/\(name)"
    }

    /// Whether the exec fifo is there: the container was created and not started yet.
    public func hasFifo(_ id: String, rootFD: Int32 = AT_FDCWD) -> Bool {
        faccessat(rootFD, path(id, "exec.fifo", relativeTo: rootFD), F_OK, 0) == 0
    }

    public func save(_ r: ContainerRecord) throws {
        try Files.writeAtomically(statePath(r.id), Array(r.json.serialized().utf8))
    }

    public func remove(_ id: String) {
        Files.removeTree(dir(id))
    }

    /// Sorted by their bytes, as runc's (Go's ReadDir) are.
    public func ids() -> [String] { Files.sortedDirectory(root) }

    public func exists(_ id: String) -> Bool { Files.exists(dir(id)) }

    public final class Lock {
        public let fd: Int32
        /// `wait: false` fails with EWOULDBLOCK when another process holds it.
        init(path: String, wait: Bool = true) throws {
            fd = try sys("open", path) { open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
            if flock(fd, wait ? LOCK_EX : LOCK_EX | LOCK_NB) != 0 {
                let e = errno
                Glibc.close(fd)
                throw SysError(e, "lock", path)
            }
        }
        deinit { Glibc.close(fd) }
    }
}
