import Glibc
import CSkiffInit

/// The container's init, running in the freshly cloned child (same binary, no re-exec).
/// It is single-threaded and never returns: it execs the user program or exits.
enum InitProcess {
    struct Context {
        var plan: LaunchPlan
        var channel: Channel
        var fifoFD: Int32
        var consoleSocket: Int32?
        var seccomp: SeccompFilter?
        /// The parent's detached id-mapped mounts, one per planned mount (-1: none), or empty.
        var idmappedMounts: [Int32] = []
        /// The runtime logs at debug level (--debug).
        var debug = false
    }

    static func run(_ ctx: Context) -> Never {
        do {
            try setUp(ctx)
        } catch {
            try? ctx.channel.send(.error, "\(error)")
            _exit(1)
        }
        _exit(1)
    }

    private static func setUp(_ ctx: Context) throws {
        let plan = ctx.plan
        let ch = ctx.channel
        // Keep only stdio, the preserved fds and our own: whatever else the caller of
        // `create` left open (pipes it waits on for EOF) must not stay open while we wait
        // for `start` (runc's init never gets them).
        ApplyProcess.closeFDs(preserveFDs: plan.preserveFDs,
                              keep: [ch.fd, ctx.fifoFD, ctx.consoleSocket ?? -1] + ctx.idmappedMounts)
        // Die with the runtime if it dies before we are handed over.
        try ch.expect(.go)
        try ApplyProcess.setOOMScoreAdj(of: plan.process)
        // Not dumpable until exec: the container cannot ptrace us or open our
        // /proc/<pid> files while we still hold host fds (CVE-2016-9962). A runtime run as
        // root is not dumpable already and so are we; an unprivileged one stays dumpable
        // until here so that it may write our uid_map and gid_map.
        _ = skiff_prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
        Trace.mark("close fds, wait for go")

        if plan.newUserNamespace {
            try sys("setresgid 0") { skiff_setresgid(0) }
            try sys("setresuid 0") { skiff_setresuid(0) }
        }
        for (kind, path) in plan.joins { try Namespaces.join(kind, path: path) }
        if plan.unshareFlags & ~Int32(0x80) != 0 {
            try Namespaces.unshare(plan.unshareFlags & ~Int32(0x80))
        }
        if plan.forkAfterJoin {
            // setns/unshare of a pid namespace only applies to children: fork the real init.
            let pid = fork()
            if pid < 0 { throw SysError(errno, "fork init") }
            if pid > 0 {
                try? ch.send(.pid, String(pid))
                _exit(0)
            }
            try ch.expect(.go)
        }
        if plan.newTimeNamespace {
            try Namespaces.unshare(0x80)
            if !plan.spec.linux.timeOffsets.isEmpty { try Namespaces.writeTimeOffsets(plan.spec.linux.timeOffsets) }
        }
        _ = setsid()
        if !plan.noNewKeyring { _ = skiff_join_session_keyring(nil) }
        Trace.mark("namespaces")

        if let h = plan.spec.hostname, !h.isEmpty {
            try sys("sethostname", h) { sethostname(h, h.utf8.count) }
        }
        if let d = plan.spec.domainname, !d.isEmpty {
            try sys("setdomainname", d) { setdomainname(d, d.utf8.count) }
        }

        // Without a mount namespace of its own the container shares the runtime's, as under
        // runc: its mounts are made there (under the rootfs; delete takes them down) and it
        // is chrooted, not pivoted. Nothing of the host's own mounts is changed.
        if plan.hasMountNamespace { try Rootfs.prepare(plan) }
        try Rootfs.mountAll(plan, detached: ctx.idmappedMounts)
        for fd in ctx.idmappedMounts where fd >= 0 { close(fd) }
        Trace.mark("cwd")
        // Mounts are done: the parent runs prestart and createRuntime hooks, and sends
        // back the state (with the host pid) for the createContainer hooks. Without any
        // hook that round trip is skipped.
        let hooks = plan.spec.hooks
        var hookState = JSON.null
        if !(hooks.prestart.isEmpty && hooks.createRuntime.isEmpty && hooks.createContainer.isEmpty && hooks.startContainer.isEmpty) {
            try ch.send(.runHooks)
            guard let (tag, stateJSON) = try ch.receive() else { throw RuntimeError("runtime went away") }
            if tag == .error { _exit(1) }
            hookState = try JSONParser.parse(stateJSON)
            try HookRunner.run(hooks.createContainer, kind: "createContainer", state: hookState)
            Trace.mark("hooks")
        }
        try Rootfs.enter(plan)
        Trace.mark("pivot_root")

        if plan.process.terminal {
            try ApplyProcess.setUpTerminal(plan.process, socket: ctx.consoleSocket, mountConsole: plan.hasMountNamespace)
            Trace.mark("terminal")
        }
        // Sysctls before finish: readonlyPaths makes /proc/sys read-only (runc's order).
        for (key, value) in plan.spec.linux.sysctl {
            try ProcFS.write("sys/" + key.replacingDots(), value, what: "sysctl \(key)")
        }
        Trace.mark("sysctls")
        if plan.hasMountNamespace { try Rootfs.finish(plan) }
        let apply = ApplyProcess(process: plan.process, capabilities: plan.capabilities, seccomp: ctx.seccomp,
                                 inUserNamespace: plan.newUserNamespace, preserveFDs: plan.preserveFDs,
                                 debug: ctx.debug)
        let ready = try apply.prepare(ch)

        // As pid 1 of a pid namespace we would ignore `kill` with no handler: die on the
        // usual termination signals while waiting (reset to default before exec).
        for s in [SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2] {
            signal(s) { sig in _exit(128 + sig) }
        }
        Trace.mark("signals")
        Trace.detachChild()
        try ch.send(.ready)
        ch.close()

        // Block until `start` opens the fifo for reading. The fifo is reached through our
        // O_PATH fd: its host path is not visible after pivot_root.
        let opened = open(RootResolver.procPath(ctx.fifoFD), O_WRONLY | O_CLOEXEC)
        if opened < 0 { reportAfterReady("open exec fifo", errno) }
        _ = write(opened, "0", 1)
        // Our end stays open until exec (close-on-exec, above the preserved fds): `start`
        // waits for its EOF so that poststart hooks follow the exec of the program.
        let fifo = skiff_fcntl_int(opened, F_DUPFD_CLOEXEC, 3 + plan.preserveFDs)
        close(opened)
        _ = fifo

        if !plan.spec.hooks.startContainer.isEmpty {
            do {
                // runtime.md: "created" until the program is executed.
                if case .object(var o) = hookState { o["status"] = .string("created"); hookState = .object(o) }
                try HookRunner.run(plan.spec.hooks.startContainer, kind: "startContainer", state: hookState)
            } catch {
                writeStderr("skiff: \(error)\n")
                _exit(1)
            }
        }
        let err = apply.execute(ready)
        reportAfterReady("exec \(ready.path)", err)
    }

    /// After `ready` nobody listens on the channel: say it on stderr and exit as a shell would.
    static func reportAfterReady(_ what: String, _ err: Int32) -> Never {
        writeStderr("skiff: \(what): \(String(cString: strerror(err)))\n")
        _exit(err == ENOENT ? 127 : 126)
    }
}

func writeStderr(_ s: String) {
    let b = Array(s.utf8)
    _ = b.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}

extension String {
    func replacingDots() -> String { String(map { $0 == "." ? "/" : $0 }) }
}
