import Glibc

/// The state directory under --root: one directory per container holding state.json
/// and the exec fifo, locked with flock so two commands on one ID never interleave.
public struct StateStore {
    public let root: String

    public init(root: String) { self.root = root }

    public func dir(_ id: String) -> String { "\(root)/\(id)" }
    public func fifoPath(_ id: String) -> String { "\(root)/\(id)/exec.fifo" }
    public func statePath(_ id: String) -> String { "\(root)/\(id)/state.json" }
    /// The bundle's config.json as `create` read it (what `exec` starts from).
    public func configPath(_ id: String) -> String { "\(root)/\(id)/config.json" }

    /// Creates the container's directory; fails if the ID is taken. Returns the held lock.
    public func create(_ id: String) throws -> Lock {
        if mkdir(root, 0o700) != 0 && errno != EEXIST {
            if errno == ENOENT { try Files.mkdirAll(root, mode: 0o700) } else { throw SysError(errno, "mkdir", root) }
        }
        if mkdir(dir(id), 0o711) != 0 {
            if errno == EEXIST { throw RuntimeError("container with id exists: \(id)") }
            throw SysError(errno, "mkdir", dir(id))
        }
        return try Lock(path: dir(id))
    }

    /// Locks an existing container's directory.
    public func lock(_ id: String) throws -> Lock {
        do { return try Lock(path: dir(id)) } catch let e as SysError where e.errno == ENOENT {
            throw RuntimeError("container \(id) does not exist")
        }
    }

    public func load(_ id: String) throws -> ContainerRecord {
        let bytes: [UInt8]
        do { bytes = try Files.read(statePath(id)) } catch let e as SysError where e.errno == ENOENT {
            throw RuntimeError("container \(id) does not exist")
        }
        return try ContainerRecord(json: try JSONParser.parse(bytes))
    }

    public func save(_ r: ContainerRecord) throws {
        try Files.writeAtomically(statePath(r.id), Array(r.json.serialized().utf8))
    }

    public func remove(_ id: String) {
        Files.removeTree(dir(id))
    }

    public func ids() -> [String] {
        Files.listDirectory(root).sorted()
    }

    public func exists(_ id: String) -> Bool { Files.exists(dir(id)) }

    public final class Lock {
        public let fd: Int32
        init(path: String) throws {
            fd = try sys("open", path) { open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
            if flock(fd, LOCK_EX) != 0 {
                let e = errno
                Glibc.close(fd)
                throw SysError(e, "lock", path)
            }
        }
        deinit { Glibc.close(fd) }
    }
}
