import Glibc
import CSkiffInit

/// Writes into the container's procfs that cannot be redirected (CVE-2025-52881). The
/// config (or a racing container sharing the rootfs) can put anything over /proc/sys or
/// a /proc/<pid> file: a tmpfs, a bind of a host file or of another procfs file. So
/// /proc must be the root of a procfs mount, every path beneath it is opened with openat2
/// refusing symlinks and mount crossings, and the opened file must be on procfs.
enum ProcFS {
    static let RESOLVE_NO_XDEV: UInt64 = 0x01
    static let RESOLVE_NO_MAGICLINKS: UInt64 = 0x02
    static let RESOLVE_NO_SYMLINKS: UInt64 = 0x04
    static let RESOLVE_BENEATH: UInt64 = 0x08
    static let PROC_ROOT_INO: UInt = 1

    /// Writes `text` to /proc/`rel`; `what` names the setting in errors ("sysctl x.y").
    static func write(_ rel: String, _ text: String, what: String) throws {
        let root = try openRoot(what)
        defer { close(root) }
        try write(root, rel, text, what: what)
    }

    /// Writes to a file of the calling process: /proc/<our pid as this procfs sees it>/`name`.
    static func writeSelf(_ name: String, _ text: String, what: String) throws {
        let root = try openRoot(what)
        defer { close(root) }
        // "self" is a symlink (refused below): read it for the pid this procfs knows us by.
        var buf = [CChar](repeating: 0, count: 32)
        let n = readlinkat(root, "self", &buf, buf.count - 1)
        guard n > 0 else { throw SysError(errno, "\(what): readlink", "/proc/self") }
        let pid = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        try write(root, pid + "/" + name, text, what: what)
    }

    /// The container's /proc as an O_PATH fd, checked to be a procfs mount's root.
    static func openRoot(_ what: String) throws -> Int32 {
        let fd = skiff_openat2(AT_FDCWD, "/proc", UInt64(O_PATH_ | O_DIRECTORY | O_CLOEXEC), 0,
                               RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)
        if fd < 0 { throw SysError(errno, "\(what): open", "/proc") }
        let st = try FDCheck.stat(fd, "/proc")
        guard FDCheck.fsType(fd) == FDCheck.PROC_SUPER_MAGIC, UInt(st.st_ino) == PROC_ROOT_INO else {
            close(fd)
            throw RuntimeError("\(what): /proc is not a procfs mount: refusing to write through it")
        }
        return fd
    }

    private static func write(_ root: Int32, _ rel: String, _ text: String, what: String) throws {
        let shown = "/proc/" + rel
        let fd = skiff_openat2(root, rel, UInt64(O_WRONLY | O_CLOEXEC | O_NOCTTY), 0,
                               RESOLVE_BENEATH | RESOLVE_NO_XDEV | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)
        if fd < 0 {
            switch errno {
            case EXDEV:
                throw RuntimeError("\(what): \(shown) is not procfs's own file (something is mounted over it or a parent): refusing to write")
            case ELOOP:
                throw RuntimeError("\(what): \(shown) goes through a symlink: refusing to write")
            case let e:
                throw SysError(e, "\(what): open", shown)
            }
        }
        defer { close(fd) }
        guard FDCheck.fsType(fd) == FDCheck.PROC_SUPER_MAGIC else {
            throw RuntimeError("\(what): \(shown) is not on procfs: refusing to write")
        }
        try Files.writeAll(fd, Array(text.utf8), shown)
    }
}
