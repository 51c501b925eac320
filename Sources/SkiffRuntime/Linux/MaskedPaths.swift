import Glibc

/// linux.maskedPaths, after pivot_root. A directory gets an empty read-only tmpfs, a
/// file the container's /dev/null. That /dev/null is the rootfs's when /dev is not
/// skiff's own: it may be a symlink or a regular file that bind-mounting would turn into
/// a writable alias of something else (CVE-2025-31133). So it is opened once, proven to
/// be the null device (char 1:3) on the fd, and that fd is what gets mounted.
enum MaskedPaths {
    static func apply(_ paths: [String]) throws {
        guard !paths.isEmpty else { return }
        let root = try RootResolver(rootPath: "/")
        defer { close(root.rootFD) }
        var null: Int32 = -1
        defer { if null >= 0 { close(null) } }
        for p in paths {
            guard let target = try root.openIfPresent(p) else { continue }  // nothing there to hide
            defer { close(target) }
            if try FDCheck.stat(target, p).st_mode & S_IFMT == S_IFDIR {
                try Mounts.tmpfs(onto: target, readonly: true, shownAs: p)
            } else {
                if null < 0 { null = try openNull(root, masking: p) }
                try Mounts.bind(from: null, onto: target, shownAs: p)
            }
        }
    }

    /// The container's /dev/null as an O_PATH fd, or an error if it is anything else.
    static func openNull(_ root: RootResolver, masking p: String) throws -> Int32 {
        let fd: Int32
        do {
            fd = try root.open("/dev/null")
        } catch let e as SysError {
            throw RuntimeError("maskedPaths: cannot mask \(p): the container's /dev/null: \(e)")
        }
        let st = try FDCheck.stat(fd, "/dev/null")
        if FDCheck.isCharDevice(st) && st.st_rdev == Devices.makedev(1, 3) { return fd }
        close(fd)
        var what = FDCheck.describe(st)
        var lst = stat()
        if fstatat(root.rootFD, "dev/null", &lst, AT_SYMLINK_NOFOLLOW) == 0 && lst.st_mode & S_IFMT == S_IFLNK {
            what = "a symlink to " + what
        }
        throw RuntimeError("maskedPaths: the container's /dev/null is \(what), not the null device (char 1:3): refusing to mask \(p) with it")
    }
}
