import Glibc
import CSkiffInit

/// The container's terminal: a pty from the container's own devpts, the slave as
/// stdio and /dev/console, the master handed to whoever listens on --console-socket.
public enum Console {
    static let TIOCSPTLCK: UInt = 0x40045431
    static let TIOCGPTN: UInt = 0x80045430
    static let TIOCSCTTY: UInt = 0x540E
    static let TIOCSWINSZ: UInt = 0x5414

    /// Opens a new pty pair under the (already pivoted) root; returns (master, slave, slavePath).
    public static func openPTY() throws -> (Int32, Int32, String) {
        let master = try sys("open", "/dev/ptmx") { open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC) }
        var unlock: Int32 = 0
        if skiff_ioctl_ptr(master, TIOCSPTLCK, &unlock) != 0 { throw SysError(errno, "unlock pty", "/dev/ptmx") }
        var n: UInt32 = 0
        if skiff_ioctl_ptr(master, TIOCGPTN, &n) != 0 { throw SysError(errno, "get pty number", "/dev/ptmx") }
        let path = "/dev/pts/\(n)"
        let slave = try sys("open", path) { open(path, O_RDWR | O_NOCTTY | O_CLOEXEC) }
        return (master, slave, path)
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

    /// Bind-mounts the pty slave on /dev/console (the file is created if missing).
    public static func mountConsole(_ slavePath: String) throws {
        let fd = open("/dev/console", O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0o600)
        if fd >= 0 { close(fd) }
        try Mounts.mount(slavePath, "/dev/console", nil, UInt(MS_BIND), nil)
    }

    public static func send(master: Int32, over socket: Int32, name: String) throws {
        let bytes = Array(name.utf8)
        if skiff_send_fd(socket, master, bytes, bytes.count) != 0 { throw SysError(errno, "send console to --console-socket") }
    }

    /// Connects to a unix socket path (the --console-socket).
    public static func connect(path: String) throws -> Int32 {
        let fd = try sys("socket") { socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
            close(fd)
            throw RuntimeError("--console-socket path is too long: \(path)")
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { p in
            for (i, b) in bytes.enumerated() { p[i] = b }
        }
        let r = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        if r != 0 {
            let e = errno
            close(fd)
            throw SysError(e, "connect to --console-socket", path)
        }
        return fd
    }
}
