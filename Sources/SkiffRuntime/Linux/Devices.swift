import Glibc

/// Device nodes in the container's /dev.
public enum Devices {
    /// config-linux.md's default devices: always provided, whatever the config says.
    public static let defaults: [Spec.Device] = [
        .init(type: "c", path: "/dev/null", major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0),
        .init(type: "c", path: "/dev/zero", major: 1, minor: 5, fileMode: 0o666, uid: 0, gid: 0),
        .init(type: "c", path: "/dev/full", major: 1, minor: 7, fileMode: 0o666, uid: 0, gid: 0),
        .init(type: "c", path: "/dev/random", major: 1, minor: 8, fileMode: 0o666, uid: 0, gid: 0),
        .init(type: "c", path: "/dev/urandom", major: 1, minor: 9, fileMode: 0o666, uid: 0, gid: 0),
        .init(type: "c", path: "/dev/tty", major: 5, minor: 0, fileMode: 0o666, uid: 0, gid: 0),
    ]

    public static let symlinks: [(String, String)] = [
        ("/proc/self/fd", "/dev/fd"), ("/proc/self/fd/0", "/dev/stdin"),
        ("/proc/self/fd/1", "/dev/stdout"), ("/proc/self/fd/2", "/dev/stderr"),
        ("pts/ptmx", "/dev/ptmx"), ("/proc/kcore", "/dev/core"),
    ]

    static func makedev(_ major: Int64, _ minor: Int64) -> dev_t {
        let ma = UInt64(major), mi = UInt64(minor)
        return dev_t((ma & 0xfffff000) << 32 | (ma & 0xfff) << 8 | (mi & 0xffffff00) << 12 | (mi & 0xff))
    }

    /// Creates one device node under the rootfs. In a user namespace mknod is not
    /// allowed, so the host's node is bind-mounted instead (as runc does).
    public static func create(_ d: Spec.Device, in root: RootResolver, bindFromHost: Bool) throws {
        let parent = Files.dirname(of: d.path)
        let dirFD = try root.openOrCreate(parent, file: false)
        defer { close(dirFD) }
        let name = Text.cut(d.path, UInt8(ascii: "/"), last: true)?.after ?? d.path
        if bindFromHost {
            let fd = try root.openOrCreate(d.path, file: true)
            defer { close(fd) }
            try Mounts.mount(d.path, RootResolver.procPath(fd), nil, UInt(MS_BIND), nil, shownAs: d.path)
            return
        }
        let kind: mode_t
        switch d.type {
        case "b": kind = S_IFBLK
        case "p": kind = S_IFIFO
        default: kind = S_IFCHR
        }
        let mode = mode_t(d.fileMode ?? 0o666) & 0o7777
        unlinkat(dirFD, name, 0)  // a placeholder from the image must not block the node
        // mknodat with an O_PATH dir fd: the node is made exactly where we resolved.
        if mknodat(dirFD, name, kind | mode, makedev(d.major, d.minor)) != 0 {
            throw SysError(errno, "mknod", d.path)
        }
        // fchmodat does not take the umask into account, mknod does.
        if fchmodat(dirFD, name, mode, 0) != 0 { throw SysError(errno, "chmod", d.path) }
        if fchownat(dirFD, name, d.uid ?? 0, d.gid ?? 0, AT_SYMLINK_NOFOLLOW) != 0 {
            throw SysError(errno, "chown", d.path)
        }
    }

    public static func createSymlinks(in root: RootResolver) throws {
        let dev = try root.openOrCreate("/dev", file: false)
        defer { close(dev) }
        for (target, link) in symlinks {
            let name = Text.cut(link, UInt8(ascii: "/"), last: true)?.after ?? link
            if symlinkat(target, dev, name) != 0 && errno != EEXIST {
                throw SysError(errno, "symlink", link)
            }
        }
    }
}
