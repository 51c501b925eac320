import Glibc
import CSkiffInit

/// The container's terminal: a pty from the container's own devpts, the slave as
/// stdio and /dev/console, the master handed to whoever listens on --console-socket.
public enum Console {
    static let TIOCSPTLCK: UInt = 0x40045431
    static let TIOCGPTN: UInt = 0x80045430
    static let TIOCSCTTY: UInt = 0x540E
    static let TIOCSWINSZ: UInt = 0x5414
    static let TIOCGPTPEER: UInt = 0x5441

    /// Opens a new pty pair under the (already pivoted) root; returns (master, slave, slavePath).
    /// The slave comes from the master itself (TIOCGPTPEER), not from a /dev/pts path the
    /// rootfs may have replaced; both ends are checked to be what they claim.
    public static func openPTY() throws -> (Int32, Int32, String) {
        let master = try sys("open", "/dev/ptmx") { open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC) }
        var ok = false
        defer { if !ok { close(master) } }
        let mst = try FDCheck.stat(master, "/dev/ptmx")
        guard FDCheck.isCharDevice(mst), FDCheck.major(mst.st_rdev) == 5, FDCheck.minor(mst.st_rdev) == 2 else {
            throw RuntimeError("/dev/ptmx in the container is \(FDCheck.describe(mst)), not the pty multiplexer (char 5:2)")
        }
        var unlock: Int32 = 0
        if skiff_ioctl_ptr(master, TIOCSPTLCK, &unlock) != 0 { throw SysError(errno, "unlock pty", "/dev/ptmx") }
        var n: UInt32 = 0
        if skiff_ioctl_ptr(master, TIOCGPTN, &n) != 0 { throw SysError(errno, "get pty number", "/dev/ptmx") }
        let path = "/dev/pts/\(n)"
        var slave = skiff_ioctl_int(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC)
        if slave < 0 && (errno == EINVAL || errno == ENOTTY) {  // before Linux 4.13
            slave = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC)
        }
        if slave < 0 { throw SysError(errno, "open pty slave", path) }
        do {
            let st = try checkSlave(slave, path)
            // mountConsole gets the path: it must name this very pty, not the same number
            // in another devpts instance.
            let byPath = try openSlavePath(path)
            defer { close(byPath) }
            let pst = try checkSlave(byPath, path)
            guard pst.st_dev == st.st_dev, pst.st_rdev == st.st_rdev else {
                throw RuntimeError("console: \(path) is not the pty of /dev/ptmx (/dev/pts is another devpts instance)")
            }
        } catch {
            close(slave)
            throw error
        }
        ok = true
        return (master, slave, path)
    }

    /// An O_PATH fd of the slave by path, following no symlink.
    static func openSlavePath(_ path: String) throws -> Int32 {
        let fd = skiff_openat2(AT_FDCWD, path, UInt64(O_PATH_ | O_CLOEXEC), 0,
                               ProcFS.RESOLVE_NO_SYMLINKS | ProcFS.RESOLVE_NO_MAGICLINKS)
        if fd < 0 { throw SysError(errno, "console: open", path) }
        return fd
    }

    /// A pty slave: char device with a major of 136-143 (UNIX98_PTY_SLAVE_MAJOR..+7) on devpts.
    @discardableResult
    static func checkSlave(_ fd: Int32, _ path: String) throws -> stat {
        let st = try FDCheck.stat(fd, path)
        guard FDCheck.isCharDevice(st), (136...143).contains(FDCheck.major(st.st_rdev)),
              FDCheck.fsType(fd) == FDCheck.DEVPTS_SUPER_MAGIC else {
            throw RuntimeError("console: \(path) is \(FDCheck.describe(st)), not a pty slave on devpts")
        }
        return st
    }

    public static func setSize(_ fd: Int32, height: UInt16, width: UInt16) throws {
        var ws = winsize(ws_row: height, ws_col: width, ws_xpixel: 0, ws_ypixel: 0)
        if skiff_ioctl_ptr(fd, TIOCSWINSZ, &ws) != 0 { throw SysError(errno, "set console size") }
    }

    /// Makes the slave the controlling terminal and stdio of the calling process.
    public static func becomeControllingTTY(_ slave: Int32) throws {
        if skiff_ioctl_int(slave, TIOCSCTTY, 0) != 0 { throw SysError(errno, "set controlling terminal") }
        for fd in Int32(0)...2 where dup2(slave, fd) < 0 { throw SysError(errno, "dup2 console") }
    }

    /// Bind-mounts the pty slave on /dev/console (a file is created if missing), fd to fd
    /// (CVE-2025-52565): the source is reopened without following any symlink and checked
    /// to be that pty, the target is resolved inside the root and must be a plain file or
    /// char device: never a symlink that would carry the pty (or, by path, another file)
    /// somewhere else before maskedPaths and readonlyPaths are applied.
    public static func mountConsole(_ slavePath: String) throws {
        let source = try openSlavePath(slavePath)
        defer { close(source) }
        let st = try checkSlave(source, slavePath)
        let number = slavePath.split(separator: "/").last.flatMap { UInt64($0) }
        guard let number, (FDCheck.major(st.st_rdev) - 136) << 8 | FDCheck.minor(st.st_rdev) == number else {
            throw RuntimeError("console: \(slavePath) is not the pty skiff opened")
        }

        let root = try RootResolver(rootPath: "/")
        defer { close(root.rootFD) }
        let dev = try root.open("/dev", directory: true)
        defer { close(dev) }
        let created = openat(dev, "console", O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0o600)
        if created >= 0 { close(created) }
        let target = try sys("console: open", "/dev/console") {
            openat(dev, "console", O_PATH_ | O_NOFOLLOW | O_CLOEXEC)
        }
        defer { close(target) }
        let tst = try FDCheck.stat(target, "/dev/console")
        guard tst.st_mode & S_IFMT == S_IFREG || FDCheck.isCharDevice(tst) else {
            throw RuntimeError("console: /dev/console in the container is \(FDCheck.describe(tst)): refusing to mount the pty on it")
        }
        try Mounts.bind(from: source, onto: target, shownAs: "/dev/console")
    }

    public static func send(master: Int32, over socket: Int32, name: String) throws {
        let bytes = Array(name.utf8)
        if skiff_send_fd(socket, master, bytes, bytes.count) != 0 { throw SysError(errno, "send console to --console-socket") }
    }

    /// Connects to a unix socket path (the --console-socket).
    public static func connect(path: String) throws -> Int32 {
        try UnixSocket.connect(path: path, what: "--console-socket")
    }
}
