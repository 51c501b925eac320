import Glibc
import CSkiffInit

/// The container's filesystem: mounts in config order under the rootfs, /dev, then
/// pivot_root, masked and read-only paths. Runs in the child, in its mount namespace.
enum Rootfs {
    /// Stops mount events leaking to the host and makes the rootfs a mount point.
    static func prepare(_ plan: LaunchPlan) throws {
        // rslave: host mounts still reach us, ours never reach the host, and pivot_root
        // (which refuses a shared parent) works. rootfsPropagation is applied to the new
        // root after the pivot, where it cannot leak the set-up mounts to the host.
        try Mounts.mount(nil, "/", nil, UInt(MS_SLAVE | MS_REC), nil)
        try Mounts.mount(plan.rootfs, plan.rootfs, "bind", UInt(MS_BIND | MS_REC), nil)
        Trace.mark("rootfs bind")
    }

    /// `detached`: the parent's id-mapped mounts, one fd per planned mount (-1: none), or empty.
    static func mountAll(_ plan: LaunchPlan, detached: [Int32] = []) throws {
        let root = try RootResolver(rootPath: plan.rootfs)
        defer { close(root.rootFD) }
        for (i, m) in plan.mounts.enumerated() {
            try mountOne(m, root: root, plan: plan, detached: i < detached.count ? detached[i] : -1)
            Trace.mark("mount \(m.destination)")
        }
        if plan.setupDev {
            for d in Devices.defaults + plan.spec.linux.devices {
                try Devices.create(d, in: root, bindFromHost: inUserNamespace(plan))
            }
            try Devices.createSymlinks(in: root)
        } else {
            for d in plan.spec.linux.devices { try Devices.create(d, in: root, bindFromHost: inUserNamespace(plan)) }
        }
        Trace.mark("devices")
        // A missing cwd is created inside the rootfs while it is still writable, as runc does.
        if plan.process.cwd.startsWithSlash {
            do { close(try root.openOrCreate(plan.process.cwd, file: false)) } catch let e as SysError where e.errno == ELOOP {
                // A magic link such as /proc/self/fd/N: nothing to create. The chdir after
                // pivot_root and the check that the cwd is inside the root decide.
            } catch {
                throw RuntimeError("process.cwd \(plan.process.cwd): \(error)")
            }
        }
    }

    /// Whether the mounts are made in a user namespace other than the host's: the config's
    /// own (new or joined), or the one the runtime runs in (rootless Podman's). There mknod
    /// is refused and the host's mounts' flags are locked.
    static func inUserNamespace(_ plan: LaunchPlan) -> Bool {
        plan.newUserNamespace || plan.joins.contains { $0.0 == .user } || plan.runtimeInUserNamespace
    }

    static func mountOne(_ m: LaunchPlan.PlannedMount, root: RootResolver, plan: LaunchPlan, detached: Int32 = -1) throws {
        let shown = m.destination
        let fd = try root.openOrCreate(m.destination, file: m.isBind && !m.sourceIsDirectory)
        defer { close(fd) }
        let target = RootResolver.procPath(fd)
        let o = m.options
        if m.isBind {
            if detached >= 0 {
                // Id-mapped: the parent made it; it only has to be put in place.
                try IDMappedMounts.attach(detached, on: fd, shownAs: shown)
            } else {
                try Mounts.mount(m.source, target, nil, UInt(MS_BIND) | (o.flags & UInt(MS_REC)), nil, shownAs: shown)
            }
            if o.flags & Mounts.changeableFlags != 0 {
                try remountBind(m, root: root, flags: o.flags, plan: plan)
            }
        } else {
            var flags = o.flags
            var data = o.dataString
            if m.type == "cgroup2" { data = "" }
            // SELinux labels the filesystems the runtime creates for the container (runc's set).
            if let label = plan.spec.linux.mountLabel, !label.isEmpty, ["tmpfs", "mqueue", "devpts"].contains(m.type) {
                data += (data.isEmpty ? "" : ",") + "context=\"\(label)\""
            }
            if m.type == "mqueue" || m.type == "sysfs" || m.type == "cgroup2" {
                flags &= ~UInt(MS_REC)
            }
            do {
                try Mounts.mount(m.source, target, m.type, flags, data.isEmpty ? nil : data, shownAs: shown)
            } catch let e as SysError where m.type == "cgroup2" && e.errno == EBUSY && inUserNamespace(plan) {
                try Mounts.cgroup2(m.source.isEmpty ? "cgroup" : m.source, onto: fd, flags: flags, shownAs: shown)
            } catch let e as SysError where (m.type == "sysfs" || m.type == "mqueue") && (e.errno == EPERM || e.errno == EBUSY) && inUserNamespace(plan) {
                // Without its own network namespace a user namespace may not mount sysfs: bind the
                // host's, with the flags asked for (ro...).
                try Mounts.mount("/" + (m.type == "sysfs" ? "sys" : "dev/mqueue"), target, nil, UInt(MS_BIND | MS_REC), nil, shownAs: shown)
                if flags & Mounts.changeableFlags != 0 { try remountBind(m, root: root, flags: flags, plan: plan) }
            }
        }
        if !o.propagation.isEmpty || o.recursiveSet != 0 || o.recursiveClear != 0 {
            let top = try root.open(m.destination)
            defer { close(top) }
            for p in o.propagation {
                try Mounts.mount(nil, RootResolver.procPath(top), nil, p, nil, shownAs: shown)
            }
            if o.recursiveSet != 0 || o.recursiveClear != 0 {
                try Mounts.setattr(fd: top, recursive: true, set: o.recursiveSet, clear: o.recursiveClear, shownAs: shown)
            }
        }
    }

    /// Bind mounts ignore per-mount flags until remounted; remount through a fresh fd
    /// because the old one points at the mount point underneath. In a user namespace the
    /// source's nosuid, nodev, noexec, ro and atime flags are locked (a remount without them
    /// is refused): they are kept, as runc does.
    static func remountBind(_ m: LaunchPlan.PlannedMount, root: RootResolver, flags: UInt, plan: LaunchPlan) throws {
        let top = try root.open(m.destination)
        defer { close(top) }
        var wanted = flags & Mounts.changeableFlags
        if inUserNamespace(plan) { wanted = Mounts.withLockedFlags(wanted, of: top) }
        try Mounts.mount(nil, RootResolver.procPath(top), nil, UInt(MS_BIND | MS_REMOUNT) | wanted, nil, shownAs: m.destination)
    }

    /// pivot_root into the rootfs (or MS_MOVE + chroot with --no-pivot).
    static func enter(_ plan: LaunchPlan) throws {
        if chdir(plan.rootfs) != 0 { throw SysError(errno, "chdir", plan.rootfs) }
        if !plan.hasMountNamespace {
            // The runtime's mount namespace: pivot_root would move the host's root.
            if chroot(".") != 0 { throw SysError(errno, "chroot", plan.rootfs) }
        } else if plan.noPivot {
            try Mounts.mount(plan.rootfs, "/", nil, UInt(MS_MOVE), nil)
            if chroot(".") != 0 { throw SysError(errno, "chroot", plan.rootfs) }
        } else {
            // pivot_root(".", ".") stacks the old root on top of the new one; detaching it
            // leaves the new root alone without needing a directory for the old one.
            // mount(2) does not follow the old root stacked on "." (umount2 does): make the old
            // root our cwd, so that the rslave below hits it, not the container's own mounts
            // (which would lose their "shared" propagation), as runc does.
            let oldRoot = try sys("open", "/") { open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC) }
            defer { close(oldRoot) }
            if skiff_pivot_root(".", ".") != 0 { throw SysError(errno, "pivot_root", plan.rootfs) }
            if fchdir(oldRoot) != 0 { throw SysError(errno, "fchdir", "old root") }
            try Mounts.mount(nil, ".", nil, UInt(MS_SLAVE | MS_REC), nil)
            try Mounts.unmount(".", Int32(MNT_DETACH))
        }
        if chdir("/") != 0 { throw SysError(errno, "chdir", "/") }
    }

    /// After pivot: masked and read-only paths, the read-only root, and the root's propagation.
    static func finish(_ plan: LaunchPlan) throws {
        let linux = plan.spec.linux
        for p in linux.readonlyPaths where try Mounts.mountIfPresent(p, p, nil, UInt(MS_BIND | MS_REC), nil) {
            try Mounts.mount(nil, p, nil, UInt(MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC), nil)
        }
        Trace.mark("readonly paths")
        try MaskedPaths.apply(linux.maskedPaths)
        Trace.mark("masked paths")
        if plan.spec.root?.readonly == true {
            // Keep the flags the bind already has (nodev etc.): remount with them plus ro.
            var fs = statvfs()
            statvfs("/", &fs)
            var flags = UInt(MS_BIND | MS_REMOUNT | MS_RDONLY)
            if fs.f_flag & UInt(ST_NOSUID) != 0 { flags |= UInt(MS_NOSUID) }
            if fs.f_flag & UInt(ST_NODEV) != 0 { flags |= UInt(MS_NODEV) }
            if fs.f_flag & UInt(ST_NOEXEC) != 0 { flags |= UInt(MS_NOEXEC) }
            try Mounts.mount(nil, "/", nil, flags, nil)
        }
        if let p = linux.rootfsPropagation, let f = MountOptions.propagationFlags[p] {
            try Mounts.mount(nil, "/", nil, f, nil)
        }
        Trace.mark("readonly root, propagation")
    }
}
