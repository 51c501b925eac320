import Glibc
import CSkiffInit

extension Container {
    /// `run`: create + start; in the foreground, forward signals, wait, delete, and
    /// return the container's exit status (128+N when killed by signal N).
    public static func run(id: String, options: CreateOptions, detach: Bool, keep: Bool,
                           runtime: RuntimeOptions) throws -> Int32 {
        var o = options
        // Orphans of a joined pid namespace's fork come back to us, so we can wait for the init.
        if !detach { _ = skiff_prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) }
        var consolePair: (Int32, Int32)?
        if !detach && o.consoleSocket == nil {
            var fds: [Int32] = [-1, -1]
            if socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0 {
                consolePair = (fds[0], fds[1])
                o.consoleSocketFD = fds[1]
            }
        }
        let created = try create(id: id, options: o, runtime: runtime)
        var master: Int32 = -1
        if let (mine, theirs) = consolePair {
            close(theirs)
            // Only a config with a terminal sent a master; never block waiting for one.
            _ = skiff_fcntl_int(mine, F_SETFL, O_NONBLOCK)
            master = receiveFD(mine)
            close(mine)
        }
        if detach {
            try start(id: id, runtime: runtime)
            return 0
        }
        // Block the signals we forward before the program can run, then start it.
        let sigs = forwarded + [SIGCHLD]
        let sigfd = skiff_signalfd(sigs, Int32(sigs.count))
        do { try start(id: id, runtime: runtime) } catch {
            try? delete(id: id, force: true, runtime: runtime)
            throw error
        }
        let status = Waiter(pid: created.record.pid, signalFD: sigfd, master: master).wait()
        Trace.enter("run")
        Trace.mark("the program ran")
        if !keep { try delete(id: id, force: true, runtime: runtime) }
        return status
    }

    static let forwarded: [Int32] = [SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH, SIGALRM, SIGPIPE]
}

/// Receives the pty master if the child sent one (it has by the time create returns).
func receiveFD(_ sock: Int32) -> Int32 {
    var buf = [UInt8](repeating: 0, count: 256)
    var got: Int32 = -1
    let n = buf.withUnsafeMutableBytes { skiff_recv_fd(sock, $0.baseAddress, $0.count, &got) }
    return n > 0 ? got : -1
}

/// The foreground loop of `run`: signals in, the pty both ways, until the init exits.
struct Waiter {
    let pid: Int32
    let signalFD: Int32
    let master: Int32

    func wait() -> Int32 {
        let pidfd = skiff_pidfd_open(pid)
        var saved = termios()
        let stdinIsTTY = master >= 0 && isatty(0) == 1
        if stdinIsTTY {
            tcgetattr(0, &saved)
            var raw = saved
            cfmakeraw(&raw)
            tcsetattr(0, TCSANOW, &raw)
            copyWindowSize()
        }
        defer { if stdinIsTTY { tcsetattr(0, TCSANOW, &saved) } }
        var stdinOpen = master >= 0
        var buf = [UInt8](repeating: 0, count: 32768)
        while true {
            var fds = [pollfd(fd: signalFD, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: master, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: stdinOpen ? 0 : -1, events: Int16(POLLIN), revents: 0)]
            let n = poll(&fds, 4, -1)
            if n < 0 { if errno == EINTR { continue } else { break } }
            if fds[0].revents != 0 {
                while true {
                    let sig = skiff_signalfd_read(signalFD)
                    if sig < 0 { break }
                    if sig == SIGCHLD { continue }
                    if sig == SIGWINCH { copyWindowSize(); continue }
                    kill(pid, sig)
                }
            }
            if master >= 0 && fds[2].revents != 0 {
                let k = read(master, &buf, buf.count)
                if k > 0 { _ = buf.withUnsafeBytes { write(1, $0.baseAddress, k) } }
            }
            if stdinOpen && fds[3].revents != 0 {
                let k = read(0, &buf, buf.count)
                if k > 0 { _ = buf.withUnsafeBytes { write(master, $0.baseAddress, k) } } else { stdinOpen = false }
            }
            if fds[1].revents != 0 || pidfd < 0 { break }
        }
        // Drain what the program wrote last.
        if master >= 0 {
            _ = skiff_fcntl_int(master, F_SETFL, O_NONBLOCK)
            while true {
                let k = read(master, &buf, buf.count)
                if k <= 0 { break }
                _ = buf.withUnsafeBytes { write(1, $0.baseAddress, k) }
            }
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return 255 }
        }
        if pidfd >= 0 { close(pidfd) }
        // Reap anything else that was reparented to us.
        while waitpid(-1, nil, WNOHANG) > 0 {}
        if skiff_wifexited(status) != 0 { return skiff_wexitstatus(status) }
        if skiff_wifsignaled(status) != 0 { return 128 + skiff_wtermsig(status) }
        return 255
    }

    func copyWindowSize() {
        var ws = winsize()
        if skiff_ioctl_ptr(0, UInt(TIOCGWINSZ), &ws) == 0 { _ = skiff_ioctl_ptr(master, UInt(TIOCSWINSZ), &ws) }
    }
}
