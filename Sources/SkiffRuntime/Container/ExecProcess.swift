import Glibc
import CSkiffInit

/// The child of `exec`: already in the container's cgroup (clone3) and, as our child, in
/// its pid namespace; it joins the other namespaces, becomes the process and execs it.
/// Single-threaded; never returns.
enum ExecProcess {
    struct Context {
        var plan: ExecPlan
        var capabilities: CapabilitySetup?
        var seccomp: SeccompFilter?
        var channel: Channel
        /// The container init's pidfd: setns through it joins its namespaces at once.
        var pidfd: Int32
        var initPID: pid_t
        var joinFlags: Int32
        var consoleSocket: Int32?
        /// clone3 could not place us in the cgroup: the parent does it, then says go.
        var waitForGo: Bool
        var inUserNamespace: Bool
        var preserveFDs: Int32
        /// The runtime logs at debug level (--debug).
        var debug = false
    }

    static func run(_ ctx: Context) -> Never {
        do {
            try setUp(ctx)
        } catch {
            try? ctx.channel.send(.error, "\(error)")
        }
        _exit(1)
    }

    private static func setUp(_ ctx: Context) throws {
        let ch = ctx.channel
        try ApplyProcess.setOOMScoreAdj(of: ctx.plan.process)
        // Not dumpable until exec: the container must not ptrace us or open our /proc
        // files while we hold host fds (CVE-2016-9962).
        _ = skiff_prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
        ApplyProcess.closeFDs(preserveFDs: ctx.preserveFDs, keep: [ch.fd, ctx.pidfd, ctx.consoleSocket ?? -1])
        if ctx.waitForGo { try ch.expect(.go) }
        Trace.mark("close fds")
        if ctx.joinFlags != 0 {
            try Namespaces.join(pidfd: ctx.pidfd, pid: ctx.initPID, flags: ctx.joinFlags, what: "the container's namespaces")
        }
        Trace.mark("namespaces")
        close(ctx.pidfd)
        // Our own session, and (as runc) a session keyring of our own rather than the caller's.
        _ = setsid()
        _ = skiff_join_session_keyring(nil)

        var plan = ctx.plan
        try Passwd.resolve(&plan)
        Trace.mark("user lookup")
        if plan.process.terminal {
            try ApplyProcess.setUpTerminal(plan.process, socket: ctx.consoleSocket, mountConsole: false)
        }
        let apply = ApplyProcess(process: plan.process, capabilities: ctx.capabilities, seccomp: ctx.seccomp,
                                 inUserNamespace: ctx.inUserNamespace, preserveFDs: ctx.preserveFDs,
                                 debug: ctx.debug)
        let ready = try apply.prepare(ch)
        // Set up: from here only the exec itself can fail (reported as an error).
        try ch.send(.ready)
        let err = apply.execute(ready)
        throw SysError(err, "exec", ready.path)
    }
}
