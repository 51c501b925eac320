import Glibc
import CSkiffInit

/// Runs OCI hooks: the container state JSON on stdin, the hook's own args and env,
/// and its timeout (config.md "POSIX-platform Hooks").
public enum HookRunner {
    public static func run(_ hooks: [Spec.Hook], kind: String, state: JSON) throws {
        guard !hooks.isEmpty else { return }
        let input = Array(state.serialized().utf8)
        for (i, h) in hooks.enumerated() {
            do { try runOne(h, input: input) } catch {
                throw RuntimeError("\(kind) hook #\(i) (\(h.path)): \(error)")
            }
        }
    }

    /// Runs every hook even when some fail, returning the failures (poststop: runtime.md
    /// says a failure is a warning and the remaining hooks still run).
    public static func runAll(_ hooks: [Spec.Hook], kind: String, state: JSON) -> [Error] {
        let input = Array(state.serialized().utf8)
        var errors: [Error] = []
        for (i, h) in hooks.enumerated() {
            do { try runOne(h, input: input) } catch {
                errors.append(RuntimeError("\(kind) hook #\(i) (\(h.path)): \(error)"))
            }
        }
        return errors
    }

    static func runOne(_ h: Spec.Hook, input: [UInt8]) throws {
        var fds: [Int32] = [-1, -1]
        try sys("pipe") { skiff_pipe_cloexec(&fds) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fds[0], 0)
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        // Hooks must not inherit a blocked mask or ignored signals from the runtime.
        var empty = sigset_t()
        sigemptyset(&empty)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attr, &empty)
        posix_spawnattr_setsigdefault(&attr, &all)
        // Its own process group, so that a timeout kills what the hook started too.
        posix_spawnattr_setpgroup(&attr, 0)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        let argv = h.args.isEmpty ? [h.path] : h.args
        var cargs = argv.map { strdup($0) } + [nil]
        // No env in the config: the hook inherits ours, as with runc.
        var cenv = (h.env.isEmpty ? currentEnvironment() : h.env).map { strdup($0) } + [nil]
        defer {
            cargs.forEach { free($0) }
            cenv.forEach { free($0) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, h.path, &actions, &attr, &cargs, &cenv)
        close(fds[0])
        if rc != 0 {
            close(fds[1])
            throw SysError(rc, "exec", h.path)
        }
        // The hook may exit without reading its stdin: EPIPE is fine, but SIGPIPE would kill
        // us, so it is ignored for the write (we are single-threaded here; hooks get defaults).
        let previous = signal(SIGPIPE, SIG_IGN)
        _ = try? Files.writeAll(fds[1], input)
        signal(SIGPIPE, previous)
        close(fds[1])

        let status = try wait(pid: pid, timeout: h.timeout)
        if skiff_wifexited(status) != 0 {
            let code = skiff_wexitstatus(status)
            if code != 0 { throw RuntimeError("exit status \(code)") }
        } else if skiff_wifsignaled(status) != 0 {
            throw RuntimeError("killed by signal \(skiff_wtermsig(status))")
        }
    }

    /// Waits for a child, killing it after `timeout` seconds.
    static func wait(pid: pid_t, timeout: Int?) throws -> Int32 {
        var status: Int32 = 0
        if let timeout {
            let pidfd = skiff_pidfd_open(pid)
            if pidfd >= 0 {
                defer { close(pidfd) }
                var p = pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)
                var remaining = timeout * 1000
                while remaining > 0 {
                    let started = monotonicMillis()
                    let r = poll(&p, 1, Int32(min(remaining, Int(Int32.max))))
                    if r > 0 { break }
                    if r < 0 && errno != EINTR { break }
                    remaining -= max(1, monotonicMillis() - started)
                }
                if remaining <= 0 {
                    kill(-pid, SIGKILL)
                    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                    throw RuntimeError("timed out after \(timeout)s")
                }
            }
        }
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { throw SysError(errno, "wait for hook") }
        }
        return status
    }
}

func currentEnvironment() -> [String] {
    var out: [String] = []
    var p = environ
    while let s = p.pointee {
        out.append(String(cString: s))
        p += 1
    }
    return out
}

func monotonicMillis() -> Int {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec * 1000 + ts.tv_nsec / 1_000_000
}
