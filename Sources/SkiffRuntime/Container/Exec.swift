import Glibc
import CSkiffInit

extension Container {
    /// `exec`: a new process in a container's namespaces and cgroup, made from the
    /// container's process (kept at create) and the flags, or from --process.
    /// Foreground: returns the program's exit status (128+N when killed by signal N).
    /// Detached: returns 0 once the program is executing and the pid file is written.
    /// Everything is checked before the process exists, and a failure in the process
    /// before its exec leaves the container as it was.
    public static func exec(id: String, options o: ExecOptions, runtime: RuntimeOptions) throws -> Int32 {
        Trace.enter("exec")
        let (store, r) = try load(id, runtime: runtime)
        switch status(of: r, store: store) {
        case .stopped: throw RuntimeError("cannot exec in a stopped container")
        case .paused where !o.ignorePaused:
            throw RuntimeError("cannot exec in a paused container (use --ignore-paused to override)")
        default: break
        }
        var file: [UInt8]?
        if let path = o.processFile {
            do { file = try Files.read(path) } catch { throw ConfigError("--process", "\(error)") }
        }
        // The container's config as create saw it: its process and seccomp filter.
        let config: JSONNode
        do { config = JSONNode(try JSONParser.parse(try Files.read(store.configPath(id)))) } catch {
            throw RuntimeError("container \(id): cannot read its config (\(error)); was it created by an older skiff?")
        }
        Trace.mark("load state and config")
        let base = config["process"].isMissing ? nil : try Spec.Process(config["process"])
        let plan = try ExecPlan.make(o, base: base, file: file)
        try LSM.validate(process: plan.process)
        let caps = plan.process.capabilities.map { CapabilitySetup($0, lastCap: CapabilitySetup.lastCapability()) }
        if let missing = caps?.unavailable, !missing.isEmpty {
            runtime.log.warn("ignoring unknown or unavailable capabilities: [\(missing.joined(separator: " "))]")
        }
        let seccomp = config["linux"]["seccomp"].isMissing ? nil
            : try SeccompFilter.compile(try Spec.Seccomp(config["linux"]["seccomp"]))
        Trace.mark("plan, seccomp compile")

        var cgroupFD: Int32 = -1
        var cgroupPath: String?
        if let cg = r.cgroupPath {
            let path = cg + (plan.subCgroup ?? "")
            if plan.subCgroup != nil && !Files.isDirectory(path) {
                throw ConfigError("--cgroup", "\(path) does not exist")
            }
            cgroupPath = path
            cgroupFD = try Cgroup(path: path).openDirectory()
        } else if plan.subCgroup != nil {
            throw ConfigError("--cgroup", "the container has no cgroup")
        }
        defer { if cgroupFD >= 0 { close(cgroupFD) } }

        let pidfd = skiff_pidfd_open(r.pid)
        guard pidfd >= 0, r.initIsAlive else {
            if pidfd >= 0 { close(pidfd) }
            throw RuntimeError("cannot exec in a stopped container")
        }
        defer { close(pidfd) }
        let kinds = Namespaces.differing(from: r.pid)
        // A pid namespace applies to children only: we join it, so the process is our own
        // child (we wait for it) and pid 1's sibling in there. Unprivileged, we may join it
        // only from inside the user namespace that owns it: that one too.
        let parentJoins: [NamespaceKind] = !kinds.contains(.pid) ? []
            : RuntimeOptions.isUnprivileged && kinds.contains(.user) ? [.pid, .user] : [.pid]
        if !parentJoins.isEmpty {
            try Namespaces.join(pidfd: pidfd, pid: r.pid, flags: parentJoins.reduce(Int32(0)) { $0 | $1.cloneFlag },
                                what: "the container's pid namespace")
        }
        let joinFlags = kinds.filter { !parentJoins.contains($0) }.reduce(Int32(0)) { $0 | $1.cloneFlag }
        Trace.mark("cgroup, pidfd, pid namespace")

        // A terminal in the foreground without --console-socket: we take the pty ourselves.
        var consolePair: (mine: Int32, theirs: Int32)?
        var consoleSocket: Int32?
        if plan.process.terminal {
            if let path = o.consoleSocket {
                consoleSocket = try Console.connect(path: path)
            } else if let fd = o.consoleSocketFD {
                consoleSocket = dup(fd)
            } else if !o.detach {
                var fds: [Int32] = [-1, -1]
                try sys("socketpair for the terminal") {
                    socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds)
                }
                consolePair = (fds[0], fds[1])
                consoleSocket = fds[1]
            } else {
                throw ConfigError("--tty", "a detached exec with a terminal needs --console-socket")
            }
        }
        defer {
            if let s = consoleSocket { close(s) }
            if let p = consolePair { close(p.mine) }
        }

        // Signals we forward are blocked before the process exists (it unblocks them).
        let signalFD = o.detach ? -1 : skiff_signalfd(forwarded + [SIGCHLD], Int32(forwarded.count + 1))
        defer { if signalFD >= 0 { close(signalFD) } }

        let (parentEnd, childEnd) = try Channel.pair()
        defer { parentEnd.close() }
        var placed: Int32 = 0
        var pid = skiff_clone(0, cgroupFD, &placed)
        if pid < 0 && cgroupFD >= 0 && runtime.rootless && (errno == EACCES || errno == EPERM) {
            // A user may move a process only within a subtree it owns (the common ancestor's
            // cgroup.procs): from outside its delegated scope the process stays where the
            // caller is, as runc's rootless exec does (Podman's conmon runs inside it). Its
            // limits then do not apply: said, since the user can act on it.
            runtime.log.warn("rootless: the process stays in this cgroup, outside the container's limits " +
                             "(cannot clone into \(cgroupPath ?? ""): \(SysError(errno, "clone3"))); run exec " +
                             "inside the user's delegated subtree to keep them")
            cgroupPath = nil
            pid = skiff_clone(0, -1, &placed)
        }
        if pid == 0 {
            parentEnd.close()
            Trace.child("process", channel: childEnd)
            ExecProcess.run(.init(plan: plan, capabilities: caps, seccomp: seccomp, channel: childEnd, pidfd: pidfd, initPID: r.pid,
                                  joinFlags: joinFlags, consoleSocket: consoleSocket, waitForGo: placed == 0,
                                  inUserNamespace: kinds.contains(.user), preserveFDs: o.preserveFDs,
                                  debug: runtime.debug))
        }
        let cloneErrno = errno
        Trace.mark("clone")
        childEnd.close()
        if pid < 0 { throw SysError(cloneErrno, "clone the exec process") }

        do {
            if placed == 0 {
                // clone3 could not place it (old kernel): move it by pid before it goes on.
                if let path = cgroupPath { try Cgroup(path: path).add(pid: pid) }
                try parentEnd.send(.go)
            }
            // Until EOF (its end is close-on-exec): errors, log lines, the seccomp fd,
            // and `ready` at the end of its set-up: EOF without it is a process that died.
            var setUp = false
            while let (tag, payload) = try parentEnd.receive() {
                switch tag {
                case .ready: setUp = true
                case .error: throw RuntimeError(payload)
                case .warning: runtime.log.warn(payload)
                case .debug: runtime.log.debug(payload)
                case .seccompFD:
                    try SeccompAgent.relay(payload, from: pid, filter: seccomp,
                                           state: OCIState.forHooks(id: id, pid: r.pid, status: .running,
                                                                    bundle: r.bundle, annotations: r.annotations),
                                           channel: parentEnd)
                default: throw RuntimeError("unexpected sync message from the exec process")
                }
            }
            if !setUp { throw RuntimeError("the exec process exited during set-up") }
            Trace.mark("process set-up until exec")
            if let pf = o.pidFile {
                try Files.writeAtomically(Files.absolute(pf, relativeTo: Files.cwd()), Array("\(pid)".utf8), mode: 0o644)
                Trace.mark("pid file")
            }
        } catch {
            Glibc.kill(pid, SIGKILL)
            var st: Int32 = 0
            while waitpid(pid, &st, 0) < 0 && errno == EINTR {}
            throw error
        }
        if o.detach { return 0 }
        var master: Int32 = -1
        if let pair = consolePair {
            _ = skiff_fcntl_int(pair.mine, F_SETFL, O_NONBLOCK)
            master = receiveFD(pair.mine)
        }
        defer { if master >= 0 { close(master) } }
        let status = Waiter(pid: pid, signalFD: signalFD, master: master).wait()
        Trace.mark("the program ran")
        return status
    }
}
