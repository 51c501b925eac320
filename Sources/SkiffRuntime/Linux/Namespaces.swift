import Glibc
import CSkiffInit

public enum Namespaces {
    public static func join(_ kind: NamespaceKind, path: String) throws {
        let fd = try sys("open namespace", path) { open(path, O_RDONLY | O_CLOEXEC) }
        defer { close(fd) }
        if skiff_setns(fd, kind.cloneFlag) != 0 { throw SysError(errno, "setns \(kind.rawValue)", path) }
    }

    public static func unshare(_ flags: Int32) throws {
        if skiff_unshare(flags) != 0 { throw SysError(errno, "unshare 0x\(String(flags, radix: 16))") }
    }

    /// Written by the parent: a child in a new user namespace cannot map itself.
    public static func writeIDMaps(pid: pid_t, uid: [Spec.IDMapping], gid: [Spec.IDMapping]) throws {
        func text(_ m: [Spec.IDMapping]) -> String { m.map { "\($0.containerID) \($0.hostID) \($0.size)\n" }.joined() }
        if !uid.isEmpty { try Files.writeExisting("/proc/\(pid)/uid_map", text(uid)) }
        if !gid.isEmpty { try Files.writeExisting("/proc/\(pid)/gid_map", text(gid)) }
    }

    public static func writeTimeOffsets(_ offsets: [Spec.TimeOffset]) throws {
        let text = offsets.map { "\($0.clock) \($0.secs) \($0.nanosecs)\n" }.joined()
        try Files.writeExisting("/proc/self/timens_offsets", text)
    }
}
