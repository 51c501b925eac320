import Glibc
import CSkiffInit

/// The one code path that turns the calling process into a config's `process`: used by
/// the container's init (create) and by `exec`, so both apply limits, LSM labels,
/// seccomp, capabilities and the user in the same order (runc's).
struct ApplyProcess {
    var process: Spec.Process
    var capabilities: CapabilitySetup?
    var seccomp: SeccompFilter?
    /// In a user namespace setgroups(2) may be denied (/proc/self/setgroups).
    var inUserNamespace: Bool
    var preserveFDs: Int32
    /// The runtime logs at debug level: only then are debug lines worth making and sending.
    var debug: Bool

    /// What exec needs once the process is set up.
    struct Ready {
        var path: String
        var env: [String]
    }

    /// The step that must come while the process is still dumpable, before everything else:
    /// once it is not, its /proc files belong to the root of its memory's user namespace
    /// (the host's, for an init that has not exec'd yet), which the root of a user
    /// namespace made by a user other than root cannot open (runc writes it as early).
    static func setOOMScoreAdj(of process: Spec.Process) throws {
        if let adj = process.oomScoreAdj { try ProcessSetup.setOOMScoreAdj(adj) }
    }

    /// Everything up to the last step before exec. `channel` carries the seccomp notify fd
    /// to the runtime and the lines it logs at debug level.
    func prepare(_ channel: Channel) throws -> Ready {
        try ProcessSetup.setRlimits(process.rlimits)
        var env = ProcessSetup.mergeEnv(process.env)
        if !env.contains(where: { $0.utf8.starts(with: "HOME=".utf8) }) {
            // As runc: the user's home from the container's /etc/passwd, else "/". Joined
            // as bytes: String's + runs libswiftCore's _StringGuts.append (Text.join).
            env.append(Text.join(["HOME=", Passwd.home(of: process.user.uid) ?? "/"], ""))
        }
        // The label is written first, as root and before any seccomp filter, which could
        // refuse the openat2 calls that reach /proc safely.
        try LSM.applyOnExec(process)
        Trace.mark("rlimits, env, LSM")
        // Without noNewPrivileges, loading a filter needs CAP_SYS_ADMIN: load it before the
        // caps go (runc's order). With it, as late as the handover to the parent allows.
        if let filter = seccomp, !process.noNewPrivileges { try load(filter, channel); Trace.mark("seccomp") }
        try capabilities?.beforeUserChange()
        let setgroupsAllowed = !inUserNamespace || (try? Files.readString("/proc/self/setgroups"))?.hasPrefix("allow") ?? true
        try ProcessSetup.setUser(process.user, allowSetgroups: setgroupsAllowed)
        // runc logs an ambient capability it cannot raise at debug level: runc's own default
        // spec lists ambient caps without inheritable ones, and that must run quietly.
        let refused = try capabilities?.afterUserChange() ?? []
        if debug { for r in refused { try channel.send(.debug, r.message) } }
        Trace.mark("capabilities, user")
        if let mask = process.user.umask { umask(mode_t(mask)) } else { umask(0o022) }
        if chdir(process.cwd) != 0 { throw SysError(errno, "chdir to process.cwd", process.cwd) }
        try CwdCheck.verifyInsideRoot(process.cwd)
        let path = try ProcessSetup.lookPath(process.args[0], env: env)
        Trace.mark("cwd, path lookup")
        if process.noNewPrivileges { try ProcessSetup.setNoNewPrivileges() }
        if let filter = seccomp, process.noNewPrivileges { try load(filter, channel); Trace.mark("seccomp") }
        return Ready(path: path, env: env)
    }

    /// The exec itself: default signals, nothing of the runtime's open past the preserved
    /// fds. Returns the errno only if execve failed.
    func execute(_ ready: Ready) -> Int32 {
        ProcessSetup.resetSignals()
        skiff_cloexec_fds_from(3 + preserveFDs)
        for fd in 3..<(3 + preserveFDs) { _ = skiff_fcntl_int(fd, F_SETFD, 0) }
        return ProcessSetup.exec(ready.path, process.args, ready.env)
    }

    /// Loads the filter; a notify fd goes to the parent, which passes it to the agent.
    private func load(_ filter: SeccompFilter, _ ch: Channel) throws {
        guard let fd = try filter.load() else { return }
        try ch.handOverSeccompFD(fd)
        close(fd)
    }

    /// Closes every fd from 3 up except the preserved ones and `keep` (close_range over
    /// the gaps: no /proc walk on the start path).
    static func closeFDs(preserveFDs: Int32, keep: [Int32]) {
        var from = UInt32(3 + preserveFDs)
        for fd in keep.sorted() where fd >= 0 && UInt32(fd) >= from {
            if UInt32(fd) > from { skiff_close_range(from, UInt32(fd) - 1) }
            from = UInt32(fd) + 1
        }
        skiff_close_range(from, UInt32.max)
    }

    /// The terminal of `process.terminal`: a pty of the devpts the process sees, its
    /// master sent to the console socket, its slave made stdio and controlling tty.
    /// The init also mounts the slave on /dev/console; an exec'd process does not.
    static func setUpTerminal(_ process: Spec.Process, socket: Int32?, mountConsole: Bool) throws {
        guard let sock = socket else { throw RuntimeError("process.terminal needs --console-socket") }
        let (master, slave, path) = try Console.openPTY()
        if let size = process.consoleSize { try Console.setSize(slave, height: size.height, width: size.width) }
        if mountConsole { try Console.mountConsole(path) }
        try Console.send(master: master, over: sock, name: path)
        close(master)
        close(sock)
        try Console.becomeControllingTTY(slave)
        if slave > 2 { close(slave) }
    }
}
