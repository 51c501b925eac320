import Glibc
import CSkiffInit

/// The container's directory in the cgroup2 hierarchy (cgroupfs driver). On a hybrid
/// host cgroup2 is found wherever it is mounted (here /sys/fs/cgroup/unified).
public struct Cgroup {
    /// Absolute directory, e.g. /sys/fs/cgroup/unified/skiff/web.
    public let path: String

    public init(path: String) { self.path = path }

    static let CGROUP2_SUPER_MAGIC: Int = 0x63677270

    /// The cgroup2 mount point, or nil when the host has none.
    public static func mountPoint() -> String? {
        for candidate in ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"] {
            if skiff_fs_type(candidate) == CGROUP2_SUPER_MAGIC { return candidate }
        }
        guard let info = try? Files.readString("/proc/self/mountinfo") else { return nil }
        for line in info.split(separator: "\n") {
            let halves = line.components(separatedBy: " - ")
            guard halves.count == 2, halves[1].hasPrefix("cgroup2 ") else { continue }
            let fields = halves[0].split(separator: " ")
            if fields.count > 4 { return String(fields[4]) }
        }
        return nil
    }

    /// /proc/self/ns/cgroup's inode in the initial cgroup namespace (PROC_CGROUP_INIT_INO).
    static let initialNamespaceInode: UInt = 0xEFFF_FFFB
    /// kernfs numbers a hierarchy's root directory 1.
    static let hierarchyRootInode: UInt = 1

    /// The cgroup2 mount a container in our cgroup namespace can bind instead of mounting
    /// cgroup2 anew (LaunchPlan.bindCgroupMounts): only when we are in the initial cgroup
    /// namespace and the mount shows the hierarchy from its root, which is what a new
    /// mount there would show.
    public static func bindableHostMount(_ mountPoint: String?) -> String? {
        guard let mp = mountPoint else { return nil }
        var ns = stat()
        guard stat("/proc/self/ns/cgroup", &ns) == 0, UInt(ns.st_ino) == initialNamespaceInode else { return nil }
        var st = stat()
        guard stat(mp, &st) == 0, UInt(st.st_ino) == hierarchyRootInode else { return nil }
        return mp
    }

    /// Where a container's cgroup goes: linux.cgroupsPath (absolute or relative, both
    /// taken from the hierarchy's root, as runc's cgroupfs driver does) or /skiff/<id>.
    public static func resolve(cgroupsPath: String?, id: String, mountPoint: String) -> String {
        let rel = Files.clean(cgroupsPath.flatMap { $0.isEmpty ? nil : $0 } ?? "/skiff/\(id)")
        return mountPoint + rel
    }

    /// Creates the directory (and missing ancestors). Returns false if it already existed.
    @discardableResult
    public func create() throws -> Bool {
        if mkdir(path, 0o755) == 0 { return true }
        if errno == EEXIST { return false }
        guard errno == ENOENT else { throw SysError(errno, "create cgroup", path) }
        try Files.mkdirAll(Files.dirname(of: path))
        if mkdir(path, 0o755) == 0 { return true }
        if errno == EEXIST { return false }
        throw SysError(errno, "create cgroup", path)
    }

    public func openDirectory() throws -> Int32 {
        try sys("open cgroup", path) { open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
    }

    public func add(pid: Int32) throws {
        try Files.writeExisting(path + "/cgroup.procs", String(pid))
    }

    public func pids() -> [Int32] {
        guard let text = try? Files.readString(path + "/cgroup.procs") else { return [] }
        return text.split(separator: "\n").compactMap { Int32($0) }
    }

    public var isPopulated: Bool {
        guard let text = try? Files.readString(path + "/cgroup.events") else { return !pids().isEmpty }
        return text.contains("populated 1")
    }

    public var isFrozen: Bool {
        guard let text = try? Files.readString(path + "/cgroup.freeze") else { return false }
        return text.hasPrefix("1")
    }

    /// Sends a signal to every process in the cgroup (cgroup.kill for SIGKILL).
    public func signalAll(_ sig: Int32) {
        if sig == SIGKILL, (try? Files.writeExisting(path + "/cgroup.kill", "1")) != nil { return }
        let frozen = isFrozen
        for pid in pids() { kill(pid, sig) }
        // A frozen process cannot act on the signal; thaw so that it is delivered (as runc).
        if frozen && sig == SIGKILL { try? Files.writeExisting(path + "/cgroup.freeze", "0") }
    }

    /// Kills what is left and removes the directory, and the sub-cgroups in it (made by
    /// the container, or for `exec --cgroup`) first. Missing is fine.
    public func destroy() throws {
        if rmdir(path) == 0 || errno == ENOENT { return }
        guard errno == EBUSY else { throw SysError(errno, "remove cgroup", path) }
        for name in Files.listDirectory(path) where Files.isDirectory(path + "/" + name) {
            try Cgroup(path: path + "/" + name).destroy()
        }
        signalAll(SIGKILL)
        for attempt in 0..<2000 {
            if rmdir(path) == 0 || errno == ENOENT { return }
            if errno != EBUSY { throw SysError(errno, "remove cgroup", path) }
            if attempt % 100 == 99 { signalAll(SIGKILL) }
            usleep(1000)
        }
        throw SysError(EBUSY, "remove cgroup (processes did not exit)", path)
    }
}

extension StringProtocol {
    func components(separatedBy sep: String) -> [String] {
        var out: [String] = []
        var rest = Substring(self)
        while let r = rest.range(of: sep) {
            out.append(String(rest[..<r.lowerBound]))
            rest = rest[r.upperBound...]
        }
        out.append(String(rest))
        return out
    }
}

extension Substring {
    func range(of needle: String) -> Range<Index>? {
        let n = Array(needle.utf8)
        guard !n.isEmpty else { return nil }
        var i = startIndex
        while i < endIndex {
            if self[i...].utf8.starts(with: n) {
                return i..<self.utf8.index(i, offsetBy: n.count)
            }
            i = index(after: i)
        }
        return nil
    }
}
