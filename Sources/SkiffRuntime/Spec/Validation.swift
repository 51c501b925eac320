import Glibc

/// Checks a parsed config before anything is touched on the host. Each error names the
/// JSON path of the field at fault. `bundle` is the absolute bundle directory.
public enum Validation {
    public static func validate(_ spec: Spec, bundle: String) throws {
        guard let process = spec.process else { throw ConfigError("process", "is required to create a container") }
        try validateProcess(process)

        guard let root = spec.root else { throw ConfigError("root", "is required") }
        guard !root.path.isEmpty else { throw ConfigError("root.path", "is required") }
        let rootfs = Files.absolute(root.path, relativeTo: bundle)
        guard Files.isDirectory(rootfs) else {
            throw ConfigError("root.path", "\(rootfs) is not a directory")
        }

        let linux = spec.linux
        // Arrays, not Sets, here and below: a handful of entries, and hashing runs code of
        // libswiftCore that the rest of the start path does not (peak RSS, scenario 5).
        var kinds: [NamespaceKind] = []
        for (i, ns) in linux.namespaces.enumerated() {
            guard !kinds.contains(ns.type) else {
                throw ConfigError("linux.namespaces[\(i)].type", "duplicate namespace \"\(ns.type.rawValue)\"")
            }
            kinds.append(ns.type)
            if let p = ns.path {
                guard p.startsWithSlash else { throw ConfigError("linux.namespaces[\(i)].path", "must be absolute") }
                guard Files.exists(p) else { throw ConfigError("linux.namespaces[\(i)].path", "\(p) does not exist") }
            }
        }
        if !kinds.contains(.mount) {
            // runc's rule: without a mount namespace the host's /proc and /sys would be masked.
            if !linux.maskedPaths.isEmpty {
                throw ConfigError("linux.maskedPaths", "needs a mount namespace in linux.namespaces (they would be masked on the host)")
            }
            if !linux.readonlyPaths.isEmpty {
                throw ConfigError("linux.readonlyPaths", "needs a mount namespace in linux.namespaces (they would be made read-only on the host)")
            }
        }
        if (!linux.uidMappings.isEmpty || !linux.gidMappings.isEmpty) && !kinds.contains(.user) {
            throw ConfigError("linux.uidMappings", "id mappings need a user namespace in linux.namespaces")
        }
        if kinds.contains(.user), linux.namespaces.first(where: { $0.type == .user })?.path == nil,
           linux.uidMappings.isEmpty || linux.gidMappings.isEmpty {
            throw ConfigError("linux.uidMappings", "a new user namespace needs uidMappings and gidMappings")
        }
        if !linux.timeOffsets.isEmpty {
            guard let t = linux.namespaces.first(where: { $0.type == .time }), t.path == nil else {
                throw ConfigError("linux.timeOffsets", "needs a new time namespace in linux.namespaces")
            }
            for o in linux.timeOffsets where o.clock != "monotonic" && o.clock != "boottime" {
                throw ConfigError("linux.timeOffsets.\(o.clock)", "unknown clock (want monotonic or boottime)")
            }
        }
        if spec.hostname.map({ !$0.isEmpty }) ?? false, !kinds.contains(.uts) {
            throw ConfigError("hostname", "setting a hostname needs a uts namespace")
        }
        if spec.domainname.map({ !$0.isEmpty }) ?? false, !kinds.contains(.uts) {
            throw ConfigError("domainname", "setting a domainname needs a uts namespace")
        }
        for (key, _) in linux.sysctl {
            try validateSysctl(key, namespaces: kinds)
        }
        if let p = linux.rootfsPropagation, MountOptions.propagationFlags[p] == nil {
            throw ConfigError("linux.rootfsPropagation", "unknown propagation \"\(p)\"")
        }
        for (i, m) in spec.mounts.enumerated() {
            guard !m.destination.isEmpty else { throw ConfigError("mounts[\(i)].destination", "is required") }
            let opts = MountOptions.parse(m.options)
            if !opts.isBind && (m.type ?? "").isEmpty {
                throw ConfigError("mounts[\(i)].type", "is required for a mount that is not a bind mount")
            }
            if opts.isBind || m.type == "bind" {
                let src = Files.absolute(m.source ?? "", relativeTo: bundle)
                guard let s = m.source, !s.isEmpty, Files.exists(src) else {
                    throw ConfigError("mounts[\(i)].source", "bind source \"\(m.source ?? "")\" does not exist")
                }
            }
            try validateIDMapped(m, index: i, options: opts, userNamespace: kinds.contains(.user))
            try validateProcMount(m, index: i, isBind: opts.isBind || m.type == "bind", bundle: bundle)
        }
        for (i, d) in linux.devices.enumerated() {
            guard ["c", "b", "u", "p"].contains(d.type) else {
                throw ConfigError("linux.devices[\(i)].type", "invalid device type \"\(d.type)\" (want c, b, u or p)")
            }
            guard d.path.hasPrefix("/dev/") else {
                throw ConfigError("linux.devices[\(i)].path", "\(d.path) is not under /dev")
            }
        }
        for (kind, hooks) in [("prestart", spec.hooks.prestart), ("createRuntime", spec.hooks.createRuntime),
                              ("createContainer", spec.hooks.createContainer), ("startContainer", spec.hooks.startContainer),
                              ("poststart", spec.hooks.poststart), ("poststop", spec.hooks.poststop)] {
            for (i, h) in hooks.enumerated() where !h.path.startsWithSlash {
                throw ConfigError("hooks.\(kind)[\(i)].path", "must be absolute, got \"\(h.path)\"")
            }
        }
    }

    /// The checks of a `process` object (config.json's, or an exec's --process file);
    /// `field` is the JSON path errors name.
    public static func validateProcess(_ process: Spec.Process, field: String = "process") throws {
        guard !process.args.isEmpty else { throw ConfigError("\(field).args", "must contain at least one element") }
        guard process.cwd.startsWithSlash else {
            throw ConfigError("\(field).cwd", "must be an absolute path, got \"\(process.cwd)\"")
        }
        for (i, e) in process.env.enumerated() where !e.containsByte(UInt8(ascii: "=")) {
            throw ConfigError("\(field).env[\(i)]", "\"\(e)\" is not of the form KEY=VALUE")
        }
        if let caps = process.capabilities {
            // Set by set, not over an array of (name, list) tuples: the tuple's metadata and
            // witnesses are runtime code nothing else on the start path runs.
            func check(_ set: String, _ names: [String]) throws {
                for (i, name) in names.enumerated() where Capabilities.number(of: name) == nil {
                    throw ConfigError("\(field).capabilities.\(set)[\(i)]", "unknown capability \"\(name)\"")
                }
            }
            try check("bounding", caps.bounding)
            try check("effective", caps.effective)
            try check("inheritable", caps.inheritable)
            try check("permitted", caps.permitted)
            try check("ambient", caps.ambient)
            // capset(2) refuses it; say which entry rather than fail with EPERM in the init.
            for (i, name) in caps.effective.enumerated() where !caps.permitted.contains(name) {
                throw ConfigError("\(field).capabilities.effective[\(i)]", "\"\(name)\" is not in the permitted set")
            }
        }
        if let adj = process.oomScoreAdj, adj < -1000 || adj > 1000 {
            throw ConfigError("\(field).oomScoreAdj", "\(adj) is outside -1000...1000")
        }
        if let umask = process.user.umask, umask > 0o777 {
            throw ConfigError("\(field).user.umask", "\(umask) is not a valid umask")
        }
        for (i, r) in process.rlimits.enumerated() where process.rlimits[..<i].contains(where: { $0.type == r.type }) {
            throw ConfigError("\(field).rlimits[\(i)].type", "duplicate rlimit \"\(r.type)\"")
        }
    }

    /// config.md: uidMappings and gidMappings come together; idmap/ridmap without them take
    /// the container's user namespace, and without one are an error. As runc, only bind
    /// mounts can be id-mapped (mount_setattr on a clone of the source).
    static func validateIDMapped(_ m: Spec.Mount, index i: Int, options opts: MountOptions, userNamespace: Bool) throws {
        let hasMappings = !m.uidMappings.isEmpty || !m.gidMappings.isEmpty
        guard hasMappings || opts.idmap else { return }
        let field = m.uidMappings.isEmpty && m.gidMappings.isEmpty ? "mounts[\(i)].options"
            : "mounts[\(i)].\(m.uidMappings.isEmpty ? "gidMappings" : "uidMappings")"
        guard opts.isBind || m.type == "bind" else {
            throw ConfigError(field, "id-mapped mounts are only supported for bind mounts")
        }
        if hasMappings {
            if m.uidMappings.isEmpty { throw ConfigError("mounts[\(i)].uidMappings", "must be given along with gidMappings") }
            if m.gidMappings.isEmpty { throw ConfigError("mounts[\(i)].gidMappings", "must be given along with uidMappings") }
        } else if !userNamespace {
            throw ConfigError(field, "idmap without uidMappings and gidMappings needs a user namespace to take them from")
        }
        for (kind, maps) in [("uidMappings", m.uidMappings), ("gidMappings", m.gidMappings)] {
            for (j, map) in maps.enumerated() where map.size == 0 || UInt64(map.containerID) + UInt64(map.size) > 1 << 32
                || UInt64(map.hostID) + UInt64(map.size) > 1 << 32 {
                throw ConfigError("mounts[\(i)].\(kind)[\(j)]", "size must be at least 1 and the range within 32 bits")
            }
        }
    }

    /// runc's rule: only namespaced sysctls, and only with the namespace they belong to.
    static func validateSysctl(_ key: String, namespaces: [NamespaceKind]) throws {
        let path = "linux.sysctl.\(key)"
        let ipc: Set<String> = ["kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
                                "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"]
        if ipc.contains(key) || key.hasPrefix("fs.mqueue.") {
            guard namespaces.contains(.ipc) else { throw ConfigError(path, "needs an ipc namespace") }
            return
        }
        if key.hasPrefix("net.") {
            guard namespaces.contains(.network) else { throw ConfigError(path, "needs a network namespace") }
            return
        }
        if key == "kernel.hostname" || key == "kernel.domainname" {
            guard namespaces.contains(.uts) else { throw ConfigError(path, "needs a uts namespace") }
            return
        }
        throw ConfigError(path, "sysctl \"\(key)\" is not in a namespace the container owns")
    }

    /// Container IDs: runc's rule, plus a length bound.
    /// CVE-2023-28642: a volume mounted over /proc hands the runtime fake files where it
    /// writes the LSM label and finds its fds. /proc itself must be procfs: a proc mount, or
    /// a bind of a procfs (runc's rule). Mounts inside /proc are left to the writes' own
    /// checks (every write to /proc verifies it reaches procfs's own file, CVE-2025-52881).
    static func validateProcMount(_ m: Spec.Mount, index i: Int, isBind: Bool, bundle: String) throws {
        let dest = Files.clean(m.destination.startsWithSlash ? m.destination : "/" + m.destination)
        guard dest == "/proc" else { return }
        if m.type == "proc" && !isBind { return }
        if isBind, let s = m.source {
            let fd = open(Files.absolute(s, relativeTo: bundle), O_PATH_ | O_CLOEXEC)
            let isProc = fd >= 0 && FDCheck.fsType(fd) == FDCheck.PROC_SUPER_MAGIC
            if fd >= 0 { close(fd) }
            if isProc { return }
        }
        let what = isBind ? "a bind of \"\(m.source ?? "")\"" : "type \"\(m.type ?? "")\""
        throw ConfigError("mounts[\(i)].destination", "/proc must be a proc mount or a bind of a procfs, not \(what)")
    }

    public static func validateID(_ id: String) throws {
        guard !id.isEmpty else { throw RuntimeError("container id cannot be empty") }
        guard id.utf8.count <= 1024 else { throw RuntimeError("invalid container id: longer than 1024 characters") }
        guard id != "." && id != ".." else { throw RuntimeError("invalid container id: \(id)") }
        for c in id.utf8 {
            let ok = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
                || c == UInt8(ascii: "_") || c == UInt8(ascii: "-") || c == UInt8(ascii: ".") || c == UInt8(ascii: "+")
            guard ok else { throw RuntimeError("invalid container id format: \(id)") }
        }
    }
}
