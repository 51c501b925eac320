import Glibc
import CSkiffInit

public enum Container {}

extension Container {
    /// The result of `create`: the init is set up and blocked on the exec fifo.
    public struct Created {
        public var record: ContainerRecord
        /// Whether this process is the init's parent (true unless a pid namespace was joined).
        public var isParent: Bool
    }

    /// `create`: validate, then set up namespaces, cgroup, mounts and the init process.
    /// Nothing is touched before validation passes; on failure everything is undone.
    public static func create(id: String, options o: CreateOptions, runtime: RuntimeOptions) throws -> Created {
        Trace.enter("create")
        try Validation.validateID(id)
        guard Files.isDirectory(o.bundle) else { throw RuntimeError("bundle \(o.bundle) is not a directory") }
        let bundle = try Files.realPath(o.bundle)
        let configPath = bundle + "/config.json"
        let bytes: [UInt8]
        do { bytes = try Files.read(configPath) } catch let e as SysError where e.errno == ENOENT {
            throw RuntimeError("config.json not found in bundle \(bundle)")
        }
        let spec = try Spec.parse(bytes)
        Trace.mark("parse")
        try Validation.validate(spec, bundle: bundle)
        try LSM.validate(spec)
        if spec.process?.terminal == true && o.consoleSocket == nil && o.consoleSocketFD == nil {
            throw ConfigError("process.terminal", "a terminal needs --console-socket (or skiff run in the foreground)")
        }
        // Compiled here, before anything exists: a rule libseccomp rejects leaves nothing behind.
        Trace.mark("validate")
        let seccomp = try spec.linux.seccomp.map(SeccompFilter.compile)
        Trace.mark("seccomp compile")
        // Likewise the cgroup writes; fields cgroup v2 has no place for are ignored as runc does.
        let cgroupPlan = try spec.linux.resources.map { try CgroupResources.plan(raw: $0.raw) } ?? CgroupPlan()
        for w in cgroupPlan.ignored { runtime.log.warn("\(w)") }
        let systemdUnit = runtime.cgroupManager == .systemd
            ? try SystemdUnit(cgroupsPath: spec.linux.cgroupsPath, id: id, instance: runtime.systemdInstance)
            : nil
        // A user's scope is its own manager's: found before anything exists, or say how to get one.
        if systemdUnit?.instance == .user { _ = try SystemdInstance.userSockets() }
        if runtime.cgroupManager == .disabled && !cgroupPlan.isEmpty {
            throw ConfigError("linux.resources", "limits need a cgroup, and --cgroup-manager is disabled")
        }
        var plan = try LaunchPlan.make(id: id, bundle: bundle, spec: spec, noPivot: o.noPivot,
                                       noNewKeyring: o.noNewKeyring, preserveFDs: o.preserveFDs)
        plan.runtimeInUserNamespace = Namespaces.inChildUserNamespace
        // Found once: the bind below and the container's cgroup both need it.
        let cgroupMountPoint = Cgroup.mountPoint()
        if !plan.hasCgroupNamespace && plan.mounts.contains(where: { $0.type == "cgroup2" }),
           let host = Cgroup.bindableHostMount(cgroupMountPoint) {
            plan.bindCgroupMounts(to: host)
        }
        if !plan.unavailableCapabilities.isEmpty {
            // runc's words: a config written for a newer kernel runs without what this one lacks.
            runtime.log.warn("ignoring unknown or unavailable capabilities: [\(plan.unavailableCapabilities.joined(separator: " "))]")
        }
        Trace.mark("plan")

        let store = StateStore(root: runtime.root)
        let claim = try store.create(id)
        if claim.abandoned {
            // A create of this ID died on the way: undo what its journal names, start afresh.
            let left = Teardown(entries: StateJournal.read(store.journalPath(id)), record: nil)
            left.kill()
            try left.release()
            store.clear(id)
        }
        var teardown = Teardown(journal: StateJournal.Writer(path: store.journalPath(id)))
        do {
            // config.json as it was at create, for exec (the bundle's may change later; runc
            // keeps its config in its state too). Its own file: state.json, which every
            // state, start and list reads, stays small.
            try Files.writeNew(store.configPath(id), bytes)
            Trace.mark("state dir")
            let created = try launch(plan: plan, seccomp: seccomp, cgroupPlan: cgroupPlan, systemdUnit: systemdUnit, cgroupMountPoint: cgroupMountPoint,
                                     options: o, runtime: runtime, store: store, lockFD: claim.lock.fd, teardown: &teardown)
            withExtendedLifetime(claim) {}
            Trace.mark("pid file")
            return created
        } catch {
            teardown.undo(store: store, id: id)
            throw error
        }
    }

    /// Writes the limits and attaches the device filter (both drivers); returns the open
    /// cgroup directory (clone3 places the init with it under cgroupfs).
    /// `enableAvailable`: every controller the ancestors have, enabled for the container as
    /// runc does (cgroupfs; systemd enables a delegated scope's itself).
    static func configure(_ cg: Cgroup, _ cgroupPlan: CgroupPlan, devices: [Spec.DeviceRule]?, mountPoint: String,
                          enableAvailable: Bool = false) throws -> Int32 {
        try CgroupWriter.apply(cgroupPlan, mountPoint: mountPoint, cgroupPath: cg.path, enableAvailable: enableAvailable)
        let fd = try cg.openDirectory()
        Trace.mark("cgroup")
        // Neither a user nor root in a user namespace of its own can load a device program
        // or make device nodes (they are bind mounts of the host's): as runc, no filter.
        if RuntimeOptions.isRootless { return fd }
        do {
            try DeviceFilter.attach(rules: DeviceFilter.rules(for: devices ?? []), cgroupFD: fd)
            Trace.mark("device filter")
        } catch {
            close(fd)
            throw error
        }
        return fd
    }

    static func launch(plan: LaunchPlan, seccomp: SeccompFilter?, cgroupPlan: CgroupPlan, systemdUnit: SystemdUnit?, cgroupMountPoint: String?,
                       options o: CreateOptions, runtime: RuntimeOptions, store: StateStore,
                       lockFD: Int32, teardown: inout Teardown) throws -> Created {
        let id = plan.id
        let fifoPath = store.fifoPath(id)
        let oldMask = umask(0)
        let rc = mkfifo(fifoPath, 0o622)
        umask(oldMask)
        if rc != 0 { throw SysError(errno, "mkfifo", fifoPath) }
        let fifoFD = try sys("open", fifoPath) { open(fifoPath, O_PATH_ | O_CLOEXEC) }
        defer { close(fifoFD) }
        Trace.mark("exec fifo")

        // The cgroup exists, with its device filter, before the init does.
        var cgroup: Cgroup?
        var cgroupFD: Int32 = -1
        let mountPoint = runtime.cgroupManager == .disabled ? nil : cgroupMountPoint
        if let mp = mountPoint, systemdUnit == nil {
            let cg = Cgroup(path: Cgroup.resolve(cgroupsPath: plan.spec.linux.cgroupsPath, id: id, mountPoint: mp))
            // Checked before it is journalled: undoing must never touch another's cgroup.
            if Files.isDirectory(cg.path) && cg.isPopulated {
                throw RuntimeError("cgroup \(cg.path) is already in use by other processes")
            }
            try teardown.record(.cgroup(cg.path))
            do {
                _ = try cg.create()
                cgroup = cg
                cgroupFD = try configure(cg, cgroupPlan, devices: plan.spec.linux.resources?.devices, mountPoint: mp,
                                         enableAvailable: !RuntimeOptions.isRootless)
            } catch let e as SysError where runtime.rootless && Rootless.isPermissionError(e.errno) {
                // runc's rootless rule: without limits a cgroup the user may not make is done without.
                guard cgroupPlan.isEmpty else { throw Rootless.cgroupError(cg.path, e) }
                teardown.cgroups.removeAll { $0 == cg.path }
                runtime.log.debug("rootless: no cgroup (\(e)); the config sets no limits")
            }
        } else if mountPoint == nil && (!cgroupPlan.isEmpty || systemdUnit != nil) {
            throw ConfigError("linux.resources", "this host has no cgroup2 hierarchy to apply limits in")
        }
        defer { if cgroupFD >= 0 { close(cgroupFD) } }

        var consoleSocket: Int32?
        if plan.process.terminal {
            if let fd = o.consoleSocketFD {
                consoleSocket = dup(fd)
            } else if let path = o.consoleSocket {
                consoleSocket = try Console.connect(path: path)
            }
        }
        defer { if let s = consoleSocket { close(s) } }

        let (parentEnd, childEnd) = try Channel.pair()
        defer { parentEnd.close() }

        // Id-mapped mounts need the host's user namespace: made here, attached by the init.
        var idmapped = try IDMappedMounts.prepare(plan)
        defer { for fd in idmapped where fd >= 0 { close(fd) } }
        Trace.mark("console, channel, id-mapped mounts")

        if runtime.debug {
            runtime.log.debug("threads at clone: \(threadCount())")
        }
        if !plan.hasMountNamespace { try teardown.record(.mounts(under: plan.rootfs)) }
        var placed: Int32 = 0
        let pid = skiff_clone(plan.cloneFlags, cgroupFD, &placed)
        if pid < 0 {
            let e = errno
            childEnd.close()
            if runtime.rootless && cgroupFD >= 0 && Rootless.isPermissionError(e), let cg = cgroup {
                throw Rootless.placementError(cg.path, SysError(e, "clone3 into it"))
            }
            throw SysError(e, "clone the container process (flags 0x\(String(plan.cloneFlags, radix: 16)))")
        }
        if pid == 0 {
            // The flock lives on the open file: our copy must go or `start` would wait for us.
            close(lockFD)
            teardown.journal?.closeFile()
            parentEnd.close()
            Trace.child("init", channel: childEnd)
            InitProcess.run(.init(plan: plan, channel: childEnd, fifoFD: fifoFD, consoleSocket: consoleSocket,
                                    seccomp: seccomp, idmappedMounts: idmapped, debug: runtime.debug))
        }
        Trace.mark("clone")
        childEnd.close()
        for fd in idmapped where fd >= 0 { close(fd) }
        idmapped = []
        var initIdentity = PidIdentity.Recorded.of(pid)
        try teardown.record(.process(pid: pid, identity: initIdentity), child: true)
        var initPID = pid

        if placed == 0, let cg = cgroup { try cg.add(pid: pid) }
        if let unit = systemdUnit, let mp = mountPoint {
            // systemd makes the cgroup and moves the (still waiting) init into it; then the
            // delegated scope gets the same files and device filter as the cgroupfs driver.
            try teardown.record(.unit(unit.name, unit.instance))
            let unitCgroup: String
            do {
                unitCgroup = try SystemdManager.startScope(unit, pid: pid, description: "skiff container \(id)",
                                                           properties: SystemdProperties.from(cgroupPlan))
            } catch {
                // Not started by us (it may be another container's): not ours to stop.
                teardown.units.removeAll { $0 == unit }
                throw error
            }
            let cg = Cgroup(path: mp + unitCgroup)
            cgroup = cg
            try teardown.record(.cgroup(cg.path))
            close(try configure(cg, cgroupPlan, devices: plan.spec.linux.resources?.devices, mountPoint: mp))
            Trace.mark("systemd scope")
        }
        if plan.newUserNamespace {
            try Namespaces.writeIDMaps(pid: pid, uid: plan.spec.linux.uidMappings, gid: plan.spec.linux.gidMappings)
            Trace.mark("id maps")
        }
        try parentEnd.send(.go)

        let hookState = { (status: ContainerStatus) in
            OCIState.forHooks(id: id, pid: initPID, status: status, bundle: plan.bundle, annotations: plan.spec.annotations)
        }
        loop: while true {
            guard let (tag, payload) = try parentEnd.receive() else {
                throw RuntimeError("the container process exited during set-up")
            }
            switch tag {
            case .error:
                throw RuntimeError(payload)
            case .warning:
                runtime.log.warn(payload)
            case .debug:
                runtime.log.debug(payload)
            case .pid:
                // The real init was forked by the child (a joined pid namespace); reap the middle one.
                guard let p = Int32(payload) else { throw RuntimeError("bad pid from the container process") }
                var st: Int32 = 0
                while waitpid(pid, &st, 0) < 0 && errno == EINTR {}
                teardown.forget(pid: pid)
                initPID = p
                initIdentity = PidIdentity.Recorded.of(p)
                try teardown.record(.process(pid: p, identity: initIdentity))
                try parentEnd.send(.go)
            case .runHooks:
                do {
                    try HookRunner.run(plan.spec.hooks.prestart, kind: "prestart", state: hookState(.creating))
                    try HookRunner.run(plan.spec.hooks.createRuntime, kind: "createRuntime", state: hookState(.creating))
                } catch {
                    try? parentEnd.send(.error)
                    throw error
                }
                Trace.mark("init until mounted, then prestart/createRuntime hooks")
                try parentEnd.send(.hooksDone, hookState(.creating).serialized())
            case .seccompFD:
                try SeccompAgent.relay(payload, from: initPID, filter: seccomp, state: hookState(.creating), channel: parentEnd)
            case .ready:
                Trace.mark("init set-up")
                break loop
            default:
                throw RuntimeError("unexpected sync message from the container process")
            }
        }

        var record = ContainerRecord(
            id: id, pid: initPID, pidStartTime: ProcStat.read(initPID)?.startTime ?? 0, bundle: plan.bundle,
            rootfs: plan.rootfs, created: rfc3339Now(), owner: Rootless.owner, annotations: plan.spec.annotations,
            cgroupPath: cgroup?.path, poststart: plan.spec.hooks.poststart, poststop: plan.spec.hooks.poststop,
            resources: plan.spec.linux.resources?.raw, cgroupDriver: systemdUnit == nil ? "cgroupfs" : "systemd")
        record.systemdUnit = systemdUnit?.name
        record.systemdManager = systemdUnit?.instance ?? .system
        record.pidInode = initIdentity.inode
        record.sharesMountNamespace = !plan.hasMountNamespace
        try store.save(record)
        Trace.mark("state save")
        if let pf = o.pidFile {
            let path = Files.absolute(pf, relativeTo: Files.cwd())
            try teardown.record(.file(Files.temporaryPath(for: path)))
            try Files.writeAtomically(path, Array("\(initPID)".utf8), mode: 0o644)
        }
        return Created(record: record, isParent: initPID == pid)
    }

    static func threadCount() -> Int {
        guard let s = try? Files.readString("/proc/self/status") else { return -1 }
        for line in s.split(separator: "\n") where line.hasPrefix("Threads:") {
            return Int(line.dropFirst(8).trimmingSpaces()) ?? -1
        }
        return -1
    }
}

extension Substring {
    func trimmingSpaces() -> Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return s
    }
}
