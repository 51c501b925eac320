import Glibc
import CSkiffInit

/// The last steps of the container's init before exec: identity, limits, signals.
public enum ProcessSetup {
    public static func setRlimits(_ limits: [Spec.Rlimit]) throws {
        for l in limits {
            if skiff_prlimit(l.resource, l.soft, l.hard) != 0 {
                throw SysError(errno, "setrlimit \(l.type)")
            }
        }
    }

    /// Lowering it below the floor the process inherited (oom_score_adj_min, at most the
    /// current value) needs CAP_SYS_RESOURCE in the host's user namespace, which a rootless
    /// container never has: the kernel refuses the write with EACCES, and the error says so.
    public static func setOOMScoreAdj(_ v: Int) throws {
        do {
            try ProcFS.writeSelf("oom_score_adj", String(v), what: "oomScoreAdj")
        } catch let e as SysError where e.errno == EACCES && e.operation == "write" {
            let now = (try? Files.readString("/proc/self/oom_score_adj"))?.split(separator: "\n").first.map(String.init) ?? "?"
            throw ConfigError("process.oomScoreAdj", "\(v) is below what this user may set (going lower needs " +
                              "CAP_SYS_RESOURCE, which a rootless container does not have): raise it (the runtime's " +
                              "own, \(now), is allowed), or run as root")
        }
    }

    public static func setUser(_ u: Spec.User, allowSetgroups: Bool) throws {
        if allowSetgroups {
            var gids = u.additionalGids.map { gid_t($0) }
            if setgroups(gids.count, &gids) != 0 { throw SysError(errno, "setgroups") }
        }
        if skiff_setresgid(u.gid) != 0 { throw SysError(errno, "setgid \(u.gid)") }
        if skiff_setresuid(u.uid) != 0 { throw SysError(errno, "setuid \(u.uid)") }
    }

    public static func setNoNewPrivileges() throws {
        if skiff_prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 { throw SysError(errno, "prctl(PR_SET_NO_NEW_PRIVS)") }
    }

    /// Signals the runtime blocked or ignored must not leak into the container.
    public static func resetSignals() {
        var set = sigset_t()
        sigemptyset(&set)
        sigprocmask(SIG_SETMASK, &set, nil)
        for s in 1..<Int32(65) where s != SIGKILL && s != SIGSTOP {
            signal(s, SIG_DFL)
        }
    }

    /// Environments up to this many entries are merged by a scan.
    static let mergeScanLimit = 32

    /// One entry per name, the last value at the first entry's place (as runc's Go does):
    /// `exec -e PATH=...` overrides the container's PATH even for getenv, which takes the first.
    public static func mergeEnv(_ env: [String]) -> [String] {
        var out: [String] = []
        // Names compared by a scan up to a few dozen entries (a Dictionary's hashing is
        // code nothing else in the init runs: 64 KB of its RSS), by a Dictionary beyond.
        if env.count <= mergeScanLimit {
            var names: [String] = []
            for e in env {
                let name = Text.upTo(e, UInt8(ascii: "="))
                if let i = names.firstIndex(of: name) { out[i] = e } else { names.append(name); out.append(e) }
            }
            return out
        }
        var index: [String: Int] = [:]
        for e in env {
            let name = Text.upTo(e, UInt8(ascii: "="))
            if let i = index[name] { out[i] = e } else { index[name] = out.count; out.append(e) }
        }
        return out
    }

    /// PATH lookup with the container's PATH, as execvp would do with it.
    public static func lookPath(_ file: String, env: [String]) throws -> String {
        if file.contains("/") {
            guard access(file, X_OK) == 0 else { throw SysError(errno, "exec", file) }
            return file
        }
        let pathVar = env.last(where: { $0.hasPrefix("PATH=") }).map { String($0.dropFirst(5)) }
            ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        for dir in pathVar.split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = (dir.isEmpty ? "." : String(dir)) + "/" + file
            var st = stat()
            if stat(candidate, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, access(candidate, X_OK) == 0 {
                return candidate
            }
        }
        throw RuntimeError("exec: \"\(file)\": executable file not found in $PATH")
    }

    /// execve with C strings built here; returns only on failure.
    public static func exec(_ path: String, _ args: [String], _ env: [String]) -> Int32 {
        // By withCString, as CStringCalls.swift says why.
        var cargs = args.map { $0.withCString { strdup($0) } } + [nil]
        var cenv = env.map { $0.withCString { strdup($0) } } + [nil]
        _ = path.withCString { execve($0, &cargs, &cenv) }
        return errno
    }
}
