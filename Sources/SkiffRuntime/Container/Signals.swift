import Glibc

/// Signal names as runc's kill takes them: KILL, SIGKILL or 9.
public enum Signals {
    static let table: [(String, Int32)] = [
        ("HUP", SIGHUP), ("INT", SIGINT), ("QUIT", SIGQUIT), ("ILL", SIGILL), ("TRAP", SIGTRAP),
        ("ABRT", SIGABRT), ("IOT", SIGIOT), ("BUS", SIGBUS), ("FPE", SIGFPE), ("KILL", SIGKILL),
        ("USR1", SIGUSR1), ("SEGV", SIGSEGV), ("USR2", SIGUSR2), ("PIPE", SIGPIPE), ("ALRM", SIGALRM),
        ("TERM", SIGTERM), ("STKFLT", SIGSTKFLT), ("CHLD", SIGCHLD), ("CONT", SIGCONT), ("STOP", SIGSTOP),
        ("TSTP", SIGTSTP), ("TTIN", SIGTTIN), ("TTOU", SIGTTOU), ("URG", SIGURG), ("XCPU", SIGXCPU),
        ("XFSZ", SIGXFSZ), ("VTALRM", SIGVTALRM), ("PROF", SIGPROF), ("WINCH", SIGWINCH), ("IO", SIGIO),
        ("POLL", SIGPOLL), ("PWR", SIGPWR), ("SYS", SIGSYS),
    ]

    public static func parse(_ s: String) throws -> Int32 {
        if let n = Int32(s) {
            guard n > 0 && n < 65 else { throw RuntimeError("unknown signal \"\(s)\"") }
            return n
        }
        var name = s.uppercased()
        if name.hasPrefix("SIG") { name = String(name.dropFirst(3)) }
        if let v = table.first(where: { $0.0 == name })?.1 { return v }
        if name.hasPrefix("RTMIN") || name.hasPrefix("RTMAX") {
            let base = name.hasPrefix("RTMIN") ? Int32(34) : Int32(64)
            let rest = name.dropFirst(5)
            if rest.isEmpty { return base }
            if let off = Int32(rest), (name.hasPrefix("RTMIN") ? off >= 0 : off <= 0) { return base + off }
        }
        throw RuntimeError("unknown signal \"\(s)\"")
    }
}
