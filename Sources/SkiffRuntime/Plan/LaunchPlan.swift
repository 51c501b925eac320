import Glibc

/// Everything the container's init needs, computed in the parent before the clone so
/// that the child only carries it out (and so that it can be unit-tested).
public struct LaunchPlan {
    public struct PlannedMount: Equatable {
        public var destination: String   // clean, absolute, inside the container
        public var type: String          // filesystem type, "bind" for bind mounts
        public var source: String        // host path for binds, else the fs source
        public var options: MountOptions
        public var isBind: Bool
        public var sourceIsDirectory: Bool
        /// Set for an id-mapped bind mount (made detached by the parent, attached by the init).
        public var idmap: IDMap? = nil
    }

    /// The user namespace an id-mapped mount takes its mapping from: the mount's own
    /// mappings, or (idmap/ridmap without mappings) the container's user namespace.
    public struct IDMap: Equatable {
        public var uidMappings: [Spec.IDMapping]
        public var gidMappings: [Spec.IDMapping]
        /// A joined user namespace whose mapping is used as it is.
        public var userNSPath: String?
        /// ridmap: the submounts of an rbind are id-mapped too.
        public var recursive: Bool
    }

    public var id: String
    public var bundle: String
    public var rootfs: String
    public var spec: Spec
    public var process: Spec.Process
    /// CLONE_NEW* flags passed to clone3.
    public var cloneFlags: UInt64
    /// Namespaces to create after joining existing ones (or after cgroup placement).
    public var unshareFlags: Int32
    /// Existing namespaces to join, user first.
    public var joins: [(NamespaceKind, String)]
    /// Joining a pid or user namespace needs one more fork for the real init.
    public var forkAfterJoin: Bool
    public var newUserNamespace: Bool
    /// The runtime itself runs in a user namespace other than the host's (set by create,
    /// which asks before the clone: the init then knows it without asking from inside).
    public var runtimeInUserNamespace = false
    public var newTimeNamespace: Bool
    /// runtime-spec: a namespace type not listed is the runtime's. Without a mount
    /// namespace the process runs in the runtime's root, as under runc: nothing is mounted.
    public var hasMountNamespace: Bool
    public var mounts: [PlannedMount]
    /// Whether skiff populates /dev (not when /dev is bind-mounted from outside).
    public var setupDev: Bool
    public var noPivot: Bool
    /// Whether the init gets or joins a cgroup namespace of its own.
    public var hasCgroupNamespace: Bool {
        unshareFlags & CLONE_NEWCGROUP != 0 || joins.contains { $0.0 == .cgroup }
    }
    public var noNewKeyring: Bool
    public var preserveFDs: Int32
    /// process.capabilities as masks for this kernel (nil: left as they are).
    public var capabilities: CapabilitySetup?
    /// Capability names skiff knows but this kernel does not (runc ignores them with a warning).
    public var unavailableCapabilities: [String]

    public static func make(id: String, bundle: String, spec: Spec, noPivot: Bool = false,
                            noNewKeyring: Bool = false, preserveFDs: Int32 = 0,
                            lastCapability: Int? = nil) throws -> LaunchPlan {
        guard let process = spec.process, let root = spec.root else { throw RuntimeError("config has no process or root") }
        let rootfs = Files.absolute(root.path, relativeTo: bundle)
        var clone: UInt64 = 0
        var unshare: Int32 = 0
        var joins: [(NamespaceKind, String)] = []
        let joinsUser = spec.linux.namespaces.contains { $0.type == .user && $0.path != nil }
        for ns in spec.linux.namespaces {
            if let p = ns.path {
                joins.append((ns.type, p))
            } else if ns.type == .cgroup || ns.type == .time || joinsUser {
                // cgroup: unshared once the child sits in its cgroup, so that cgroup is its root.
                // time: unshared before exec, which moves the program into it (offsets first).
                // With a joined user namespace, new ones are made after joining it, so it owns them.
                unshare |= ns.type.cloneFlag
            } else {
                clone |= UInt64(UInt32(bitPattern: ns.type.cloneFlag))
            }
        }
        joins.sort { a, b in a.0 == .user && b.0 != .user }
        let forkAfterJoin = joins.contains { $0.0 == .pid || $0.0 == .user } || (joinsUser && unshare & CLONE_NEWPID != 0)

        var mounts: [PlannedMount] = []
        for m in spec.mounts {
            let opts = MountOptions.parse(m.options)
            let bind = opts.isBind || m.type == "bind"
            var type = m.type ?? "bind"
            if type == "cgroup" { type = "cgroup2" }  // skiff drives cgroup v2 only
            var source = m.source ?? type
            var isDir = true
            if bind {
                source = Files.absolute(source, relativeTo: bundle)
                var st = stat()
                isDir = stat(source, &st) != 0 || (st.st_mode & S_IFMT) == S_IFDIR
            }
            var planned = PlannedMount(destination: Files.clean(m.destination), type: bind ? "bind" : type,
                                       source: source, options: opts, isBind: bind, sourceIsDirectory: isDir)
            if opts.idmap || !m.uidMappings.isEmpty || !m.gidMappings.isEmpty {
                planned.idmap = idmap(for: m, options: opts, spec: spec)
            }
            mounts.append(planned)
        }
        let caps = process.capabilities.map {
            CapabilitySetup($0, lastCap: lastCapability ?? CapabilitySetup.lastCapability())
        }
        let devBound = mounts.contains { $0.destination == "/dev" && $0.isBind }
        return LaunchPlan(id: id, bundle: bundle, rootfs: rootfs, spec: spec, process: process,
                          cloneFlags: clone, unshareFlags: unshare, joins: joins, forkAfterJoin: forkAfterJoin,
                          newUserNamespace: clone & UInt64(CLONE_NEWUSER) != 0 || (!joinsUser && unshare & CLONE_NEWUSER != 0),
                          newTimeNamespace: unshare & 0x80 != 0, hasMountNamespace: spec.linux.namespaces.contains { $0.type == .mount },
                          mounts: mounts, setupDev: !devBound, noPivot: noPivot, noNewKeyring: noNewKeyring,
                          preserveFDs: preserveFDs, capabilities: caps, unavailableCapabilities: caps?.unavailable ?? [])
    }

    /// The container's cgroup2 mounts as binds of the host's cgroup2 mount `host`, for a
    /// container that stays in the host's cgroup namespace. A new cgroup2 mount made there
    /// applies its options to the whole hierarchy (the kernel's apply_cgroup_root_flags:
    /// nsdelegate, memory_recursiveprot... are reset for the host) and, on recent kernels,
    /// waits for an RCU grace period in cgroup_favor_dynmods: 6 to 10 ms of a start on the
    /// 2-core test machine (crun and runc pay it). A bind of the host's mount shows the
    /// same tree (the same superblock, from the same root: Cgroup.bindableHostMount) with
    /// neither cost, made read-only (or whatever the config asks) by the bind remount.
    public mutating func bindCgroupMounts(to host: String) {
        for i in mounts.indices where mounts[i].type == "cgroup2" {
            mounts[i].type = "bind"
            mounts[i].source = host
            mounts[i].isBind = true
            mounts[i].sourceIsDirectory = true
            // A new mount is never recursive; neither is its stand-in.
            mounts[i].options.flags &= ~UInt(MS_REC)
        }
    }

    /// The mount's own mappings win; without them the container's user namespace gives
    /// them (config.md allows it, runc does it): its path if joined, else its mappings.
    static func idmap(for m: Spec.Mount, options: MountOptions, spec: Spec) -> IDMap {
        var map = IDMap(uidMappings: m.uidMappings, gidMappings: m.gidMappings, userNSPath: nil,
                        recursive: options.idmapRecursive)
        if m.uidMappings.isEmpty && m.gidMappings.isEmpty,
           let user = spec.linux.namespaces.first(where: { $0.type == .user }) {
            if let path = user.path {
                map.userNSPath = path
            } else {
                map.uidMappings = spec.linux.uidMappings
                map.gidMappings = spec.linux.gidMappings
            }
        }
        return map
    }
}
