import Glibc
import CSkiffInit

public enum Namespaces {
    /// The initial user namespace's inode (the kernel's PROC_USER_INIT_INO).
    static let initialUserNamespaceInode: UInt = 0xEFFF_FFFD

    /// Whether we run in a user namespace other than the host's (as rootless Podman runs its
    /// runtime: uid 0, but only over the ids its user was given). One stat, asked once.
    public static let inChildUserNamespace: Bool = {
        var st = stat()
        return stat("/proc/self/ns/user", &st) == 0 && UInt(st.st_ino) != initialUserNamespaceInode
    }()

    /// The host's id for our uid: itself in the host's user namespace, else what
    /// /proc/self/uid_map maps it to (the D-Bus peer credentials the user's bus sees).
    public static func hostUID() -> uid_t {
        let uid = getuid()
        guard inChildUserNamespace, let map = try? Files.readString("/proc/self/uid_map") else { return uid }
        for line in map.split(separator: "\n") {
            let f = line.split(separator: " ").compactMap { UInt32($0) }
            if f.count == 3, uid >= f[0], uid - f[0] < f[2] { return f[1] + (uid - f[0]) }
        }
        return uid
    }
    public static func join(_ kind: NamespaceKind, path: String) throws {
        let fd = try sys("open namespace", path) { open(path, O_RDONLY | O_CLOEXEC) }
        defer { close(fd) }
        if skiff_setns(fd, kind.cloneFlag) != 0 { throw SysError(errno, "setns \(kind.rawValue)", path) }
    }

    /// The namespaces in which `pid` is not where the caller is: what `exec` joins.
    /// (A kind the kernel lacks is skipped.)
    public static func differing(from pid: pid_t) -> [NamespaceKind] {
        NamespaceKind.allCases.filter { kind in
            var theirs = stat(), ours = stat()
            guard stat("/proc/\(pid)/ns/\(kind.procName)", &theirs) == 0,
                  stat("/proc/self/ns/\(kind.procName)", &ours) == 0 else { return false }
            return theirs.st_ino != ours.st_ino || theirs.st_dev != ours.st_dev
        }
    }

    /// setns(2) through a pidfd: every kind in `flags` at once, ordered by the kernel
    /// (the user namespace first, so it owns the rest). Before Linux 5.8 setns takes no
    /// pidfd (EINVAL): then each /proc/<pid>/ns file is joined, the user namespace first.
    public static func join(pidfd: Int32, pid: pid_t, flags: Int32, what: String) throws {
        if skiff_setns(pidfd, flags) == 0 { return }
        let e = errno
        guard e == EINVAL else { throw SysError(e, "setns 0x\(String(flags, radix: 16)) (\(what))") }
        let kinds = NamespaceKind.allCases.filter { flags & $0.cloneFlag != 0 }.sorted { a, _ in a == .user }
        // Opened before any is joined: after the mount namespace, /proc is the container's.
        var fds: [(NamespaceKind, Int32)] = []
        defer { for (_, fd) in fds { close(fd) } }
        for k in kinds {
            let path = "/proc/\(pid)/ns/\(k.procName)"
            fds.append((k, try sys("open namespace", path) { open(path, O_RDONLY | O_CLOEXEC) }))
        }
        for (k, fd) in fds where skiff_setns(fd, k.cloneFlag) != 0 {
            throw SysError(errno, "setns \(k.rawValue) (\(what))", "/proc/\(pid)/ns/\(k.procName)")
        }
    }

    public static func unshare(_ flags: Int32) throws {
        if skiff_unshare(flags) != 0 { throw SysError(errno, "unshare 0x\(String(flags, radix: 16))") }
    }

    /// Written by the parent: a child in a new user namespace cannot map itself. Root
    /// writes any mapping; an unprivileged user writes a mapping of its own id, and has
    /// newuidmap/newgidmap write the rest (IDMapTools).
    public static func writeIDMaps(pid: pid_t, uid: [Spec.IDMapping], gid: [Spec.IDMapping]) throws {
        func text(_ m: [Spec.IDMapping]) -> String { m.map { "\($0.containerID) \($0.hostID) \($0.size)\n" }.joined() }
        let unprivileged = geteuid() != 0
        if !uid.isEmpty {
            if unprivileged && !IDMapTools.isOwnIDOnly(uid, own: geteuid()) {
                try IDMapTools.map(.uid, pid: pid, uid)
            } else {
                try Files.writeExisting("/proc/\(pid)/uid_map", text(uid))
            }
        }
        if !gid.isEmpty {
            if unprivileged && !IDMapTools.isOwnIDOnly(gid, own: getegid()) {
                try IDMapTools.map(.gid, pid: pid, gid)
            } else {
                // An unprivileged writer may map its own gid only once setgroups is denied
                // (user_namespaces(7)); root keeps setgroups as it is.
                if unprivileged { try Files.writeExisting("/proc/\(pid)/setgroups", "deny") }
                try Files.writeExisting("/proc/\(pid)/gid_map", text(gid))
            }
        }
    }

    public static func writeTimeOffsets(_ offsets: [Spec.TimeOffset]) throws {
        let text = offsets.map { "\($0.clock) \($0.secs) \($0.nanosecs)\n" }.joined()
        try Files.writeExisting("/proc/self/timens_offsets", text)
    }
}
