import Glibc
import CSkiffInit

/// mount(2) and friends with typed errors.
public enum Mounts {
    /// The per-mount flags a bind remount sets.
    static let changeableFlags = UInt(MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME |
                                      MS_RELATIME | MS_STRICTATIME)
    static let atimeFlags = UInt(MS_NOATIME | MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME)

    /// `flags` plus what the mount at `fd` has and a user namespace may not clear:
    /// nosuid, nodev, noexec, ro (statvfs's ST_ bits for these are the MS_ bits), and its
    /// atime mode unless `flags` names one.
    static func withLockedFlags(_ flags: UInt, of fd: Int32) -> UInt {
        var st = statvfs()
        guard fstatvfs(fd, &st) == 0 else { return flags }
        let have = UInt(st.f_flag)
        var out = flags | (have & UInt(MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY))
        if flags & atimeFlags == 0 {
            if have & UInt(ST_NOATIME) != 0 { out |= UInt(MS_NOATIME) }
            else if have & UInt(ST_RELATIME) != 0 { out |= UInt(MS_RELATIME) }
            else { out |= UInt(MS_STRICTATIME) }
            if have & UInt(ST_NODIRATIME) != 0 { out |= UInt(MS_NODIRATIME) }
        }
        return out
    }

    public static func mount(_ source: String?, _ target: String, _ type: String?, _ flags: UInt, _ data: String?,
                             shownAs: String? = nil) throws {
        if mountSyscall(source, target, type, flags, data) != 0 {
            throw mountError(errno, source, target, type, flags, data, shownAs: shownAs)
        }
    }

    /// The same, false when there is nothing at `source` or `target` (ENOENT): a
    /// readonlyPath this kernel lacks (runc's spec lists some), skipped on every run
    /// without making an error's text to drop.
    public static func mountIfPresent(_ source: String?, _ target: String, _ type: String?, _ flags: UInt,
                                      _ data: String?) throws -> Bool {
        if mountSyscall(source, target, type, flags, data) == 0 { return true }
        if errno == ENOENT { return false }
        throw mountError(errno, source, target, type, flags, data, shownAs: nil)
    }

    static func mountError(_ err: Int32, _ source: String?, _ target: String, _ type: String?, _ flags: UInt,
                           _ data: String?, shownAs: String?) -> SysError {
        let what = "mount \(type ?? "") \(source ?? "none") (flags 0x\(Text.hex(UInt64(flags)))\(data.map { ", data \"\($0)\"" } ?? "")) on"
        return SysError(err, what, shownAs ?? target)
    }

    public static func setattr(fd: Int32, recursive: Bool, set: UInt64, clear: UInt64, shownAs: String) throws {
        let flags = AT_EMPTY_PATH_ | (recursive ? AT_RECURSIVE_ : 0)
        if skiff_mount_setattr(fd, "", flags, set, clear, 0) != 0 {
            throw SysError(errno, "mount_setattr", shownAs)
        }
    }

    public static func unmount(_ target: String, _ flags: Int32) throws {
        if umount2(target, flags) != 0 { throw SysError(errno, "umount", target) }
    }

    /// Detaches every mount at or below `dir` in our mount namespace, deepest first: what
    /// a container without a mount namespace of its own mounted under its rootfs.
    public static func unmountAll(under dir: String) {
        guard !dir.isEmpty, dir != "/", let info = try? Files.readString("/proc/self/mountinfo") else { return }
        var points: [String] = []
        for line in info.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count > 4 else { continue }
            let mp = unescapeMountinfo(fields[4])
            if mp == dir || mp.hasPrefix(dir + "/") { points.append(mp) }
        }
        // mountinfo lists parents before children: the reverse order unmounts children first.
        for mp in points.reversed() { _ = umount2(mp, Int32(MNT_DETACH)) }
    }

    /// mountinfo writes space, tab, newline and backslash as octal escapes (\040 ...).
    static func unescapeMountinfo(_ s: Substring) -> String {
        var out: [UInt8] = []
        var bytes = Array(s.utf8)[...]
        while let b = bytes.first {
            bytes = bytes.dropFirst()
            if b == UInt8(ascii: "\\"), bytes.count >= 3, let v = UInt8(String(decoding: bytes.prefix(3), as: UTF8.self), radix: 8) {
                out.append(v)
                bytes = bytes.dropFirst(3)
            } else {
                out.append(b)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static let FSCONFIG_SET_FLAG: UInt32 = 0
    static let FSCONFIG_SET_STRING: UInt32 = 1
    static let FSCONFIG_CMD_CREATE: UInt32 = 6
    static let MOUNT_ATTR_RDONLY: UInt32 = 1
    static let FSOPEN_CLOEXEC: UInt32 = 1
    static let FSMOUNT_CLOEXEC: UInt32 = 1
    static let MOUNT_ATTR_NOSUID: UInt32 = 2
    static let MOUNT_ATTR_NODEV: UInt32 = 4
    static let MOUNT_ATTR_NOEXEC: UInt32 = 8
    static let MOUNT_ATTR_NOATIME: UInt32 = 0x10
    static let MOUNT_ATTR_STRICTATIME: UInt32 = 0x20
    static let MOUNT_ATTR_NODIRATIME: UInt32 = 0x80

    /// mount(2)'s per-mount flags as fsmount's attributes (relatime is the default, 0).
    static func attributes(of flags: UInt) -> UInt32 {
        let pairs: [(Int, UInt32)] = [(Int(MS_RDONLY), MOUNT_ATTR_RDONLY), (Int(MS_NOSUID), MOUNT_ATTR_NOSUID),
                                      (Int(MS_NODEV), MOUNT_ATTR_NODEV), (Int(MS_NOEXEC), MOUNT_ATTR_NOEXEC),
                                      (Int(MS_NOATIME), MOUNT_ATTR_NOATIME), (Int(MS_STRICTATIME), MOUNT_ATTR_STRICTATIME),
                                      (Int(MS_NODIRATIME), MOUNT_ATTR_NODIRATIME)]
        return pairs.reduce(0) { flags & UInt($1.0) != 0 ? $0 | $1.1 : $0 }
    }

    /// Bind-mounts the file `source` (any fd) onto `target` (an O_PATH fd) without a
    /// single path lookup: open_tree clones the mount of exactly what the fd holds, and
    /// move_mount attaches it on exactly what the target fd holds. A path (even
    /// /proc/self/fd/N, looked up in the container's own /proc after pivot_root) may not
    /// lead to what was checked.
    static func bind(from source: Int32, onto target: Int32, shownAs: String) throws {
        let tree = skiff_open_tree(source, "", OPEN_TREE_CLONE | UInt32(O_CLOEXEC) | AT_EMPTY_PATH_)
        if tree < 0 { throw SysError(errno, "open_tree (bind source for)", shownAs) }
        defer { close(tree) }
        try attach(tree, onto: target, shownAs: shownAs)
    }

    /// A fresh tmpfs made with fsopen/fsmount and attached on the fd `target`.
    static func tmpfs(onto target: Int32, readonly: Bool, shownAs: String) throws {
        let fs = try sys("fsopen tmpfs for", shownAs) { skiff_fsopen("tmpfs", FSOPEN_CLOEXEC) }
        defer { close(fs) }
        try sys("fsconfig tmpfs for", shownAs) { skiff_fsconfig(fs, FSCONFIG_SET_STRING, "source", "tmpfs", 0) }
        if readonly {  // the superblock too, as mount(2) with MS_RDONLY would make it
            try sys("fsconfig tmpfs for", shownAs) { skiff_fsconfig(fs, FSCONFIG_SET_FLAG, "ro", nil, 0) }
        }
        try sys("fsconfig tmpfs for", shownAs) { skiff_fsconfig(fs, FSCONFIG_CMD_CREATE, nil, nil, 0) }
        let tree = try sys("fsmount tmpfs for", shownAs) {
            skiff_fsmount(fs, FSMOUNT_CLOEXEC, readonly ? MOUNT_ATTR_RDONLY : 0)
        }
        defer { close(tree) }
        try attach(tree, onto: target, shownAs: shownAs)
    }

    /// A cgroup2 mount of the caller's cgroup namespace made with fsopen/fsmount and attached
    /// on the fd `target`. mount(2) refuses one (EBUSY) on the root of a mount of the same
    /// superblock, which is what a rootless config's /sys rbind leaves at /sys/fs/cgroup and
    /// a user namespace may not unmount (it is locked); attaching a made mount there is allowed.
    static func cgroup2(_ source: String, onto target: Int32, flags: UInt, shownAs: String) throws {
        let fs = try sys("fsopen cgroup2 for", shownAs) { skiff_fsopen("cgroup2", FSOPEN_CLOEXEC) }
        defer { close(fs) }
        try sys("fsconfig cgroup2 for", shownAs) { skiff_fsconfig(fs, FSCONFIG_SET_STRING, "source", source, 0) }
        try sys("fsconfig cgroup2 for", shownAs) { skiff_fsconfig(fs, FSCONFIG_CMD_CREATE, nil, nil, 0) }
        let tree = try sys("fsmount cgroup2 for", shownAs) { skiff_fsmount(fs, FSMOUNT_CLOEXEC, attributes(of: flags)) }
        defer { close(tree) }
        try attach(tree, onto: target, shownAs: shownAs)
    }

    private static func attach(_ tree: Int32, onto target: Int32, shownAs: String) throws {
        if skiff_move_mount(tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0 {
            throw SysError(errno, "move_mount on", shownAs)
        }
    }
}

/// Resolves paths inside a root directory without ever leaving it, creating what is
/// missing (CVE-2019-19921, CVE-2021-30465): every lookup is an openat2 with
/// RESOLVE_IN_ROOT against a fd of the root, so a symlink swapped in can only point
/// back inside, and the mount is made on the fd we resolved, not on a path.
public struct RootResolver {
    public let rootFD: Int32
    public let rootPath: String

    static let RESOLVE_NO_MAGICLINKS: UInt64 = 0x02
    static let RESOLVE_IN_ROOT: UInt64 = 0x10

    public init(rootPath: String) throws {
        self.rootPath = rootPath
        rootFD = try sys("open rootfs", rootPath) { rootPath.withCString { Glibc.open($0, O_PATH_ | O_DIRECTORY | O_CLOEXEC) } }
    }

    /// Opens `path` (absolute inside the root) as an O_PATH fd.
    public func open(_ path: String, directory: Bool = false) throws -> Int32 {
        let fd = openOrFail(path, directory: directory)
        if fd < 0 { throw SysError(errno, "open in rootfs", rootPath + path) }
        return fd
    }

    /// The same, nil when nothing is there (ENOENT, ENOTDIR): a maskedPath this kernel
    /// lacks, skipped on every run without making an error's text to drop.
    public func openIfPresent(_ path: String) throws -> Int32? {
        let fd = openOrFail(path)
        if fd >= 0 { return fd }
        if errno == ENOENT || errno == ENOTDIR { return nil }
        throw SysError(errno, "open in rootfs", rootPath + path)
    }

    /// The same, -1 and errno when it cannot be opened: a missing mount point is the
    /// usual case for openOrCreate, not an error to make (its text) and drop.
    func openOrFail(_ path: String, directory: Bool = false) -> Int32 {
        let rel = Text.dropLeading(path, UInt8(ascii: "/"))
        let flags = UInt64(O_PATH_ | O_CLOEXEC | (directory ? O_DIRECTORY : 0))
        return skiff_openat2(rootFD, rel.isEmpty ? "." : rel, flags, 0,
                             RootResolver.RESOLVE_IN_ROOT | RootResolver.RESOLVE_NO_MAGICLINKS)
    }

    /// Opens `path`, creating missing directories (and the last component as a file when
    /// `file` is true). Returns an O_PATH fd.
    public func openOrCreate(_ path: String, file: Bool, mode: mode_t = 0o755, depth: Int = 0) throws -> Int32 {
        let existing = openOrFail(path)
        if existing >= 0 { return existing }
        let steps = Text.pathSteps(path)
        var parent = try open("/", directory: true)
        defer { close(parent) }
        for (i, (part, sofar)) in steps.enumerated() {
            let last = i == steps.count - 1
            let opened = openOrFail(sofar)
            if opened >= 0 {
                if last { return opened }
                close(parent)
                parent = opened
                continue
            }
            if last && file {
                let fd = openat(parent, part, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0o644)
                if fd < 0 && errno != EEXIST { throw SysError(errno, "create file in rootfs", rootPath + sofar) }
                if fd >= 0 { close(fd) }
            } else if mkdirat(parent, part, mode) != 0 && errno != EEXIST {
                throw SysError(errno, "mkdir in rootfs", rootPath + sofar)
            }
            // A dangling symlink: create its target, read inside the root (as runc's MkdirAllInRoot).
            var link = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let n = readlinkat(parent, part, &link, link.count - 1)
            if n > 0, let e = openError(sofar) {
                // ELOOP is a magic link (/proc/self/fd/N, refused by RESOLVE_NO_MAGICLINKS) or a
                // loop: its text names something outside the root (a host path, "socket:[..]"),
                // never a path to recreate inside it.
                if e != ENOENT { throw SysError(e, "open in rootfs", rootPath + sofar) }
                guard depth < 40 else { throw SysError(ELOOP, "open in rootfs", rootPath + sofar) }
                let target = String(decoding: link[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
                let base = target.startsWithSlash || i == 0 ? "" : steps[i - 1].upTo
                let rest = Text.join(steps[(i + 1)...].map { $0.component }, "/")
                return try openOrCreate(base + "/" + target + (rest.isEmpty ? "" : "/" + rest), file: file, mode: mode, depth: depth + 1)
            }
            let fd = try open(sofar)
            if last { return fd }
            close(parent)
            parent = fd
        }
        return try open(path)
    }

    /// Why `path` cannot be opened, or nil if it can.
    func openError(_ path: String) -> Int32? {
        let fd = openOrFail(path)
        if fd < 0 { return errno }
        close(fd)
        return nil
    }

    public static func procPath(_ fd: Int32) -> String { Text.decimal(after: "/proc/self/fd/", UInt64(fd)) }
}
