/// `exec`'s options, as runc's flags give them.
public struct ExecOptions {
    /// --process: a process.json that replaces the container's process whole.
    public var processFile: String?
    /// The command after the container ID (without --process).
    public var args: [String] = []
    public var detach = false
    public var pidFile: String?
    public var consoleSocket: String?
    /// -t/--tty: nil unless given.
    public var tty: Bool?
    public var cwd: String?
    public var env: [String] = []
    /// -u/--user: uid[:gid], each part a number or a name of the container's passwd/group.
    public var user: String?
    public var additionalGids: [String] = []
    public var caps: [String] = []
    public var noNewPrivileges: Bool?
    public var apparmorProfile: String?
    public var processLabel: String?
    public var preserveFDs: Int32 = 0
    public var ignorePaused = false
    /// --cgroup: a sub-cgroup of the container's ("path" or "controllers:path").
    public var cgroup: [String] = []
    /// Foreground with a terminal and no --console-socket: skiff receives the pty itself.
    public var consoleSocketFD: Int32?
    public init() {}
}

/// The process an `exec` runs, worked out before anything happens (pure, unit-tested).
public struct ExecPlan {
    public var process: Spec.Process
    /// A user or group given by name: resolved in the container's /etc/passwd and /etc/group.
    public var userName: String?
    public var groupName: String?
    /// The sub-cgroup (relative to the container's) to run in, or nil.
    public var subCgroup: String?

    /// `base` is the container's process (kept at create); `file` the --process document.
    public static func make(_ o: ExecOptions, base: Spec.Process?, file: [UInt8]?) throws -> ExecPlan {
        var p: Spec.Process
        if let file {
            let what = "--process \(o.processFile ?? "")"
            let json: JSON
            do { json = try JSONParser.parse(file) } catch let e as JSONSyntaxError {
                throw ConfigError(what, e.description)
            }
            do { p = try Spec.Process(JSONNode(json, path: "process")) } catch let e as ConfigError {
                throw ConfigError("\(what): \(e.path)", e.message)
            }
        } else {
            guard let base else { throw RuntimeError("the container's config has no process to exec from: use --process") }
            guard !o.args.isEmpty else { throw RuntimeError("exec needs a command after the container ID (or --process FILE)") }
            p = base
            p.args = o.args
            // runc: a process of its own, not the init's terminal unless asked.
            p.terminal = false
            p.consoleSize = nil
        }
        var plan = ExecPlan(process: p, userName: nil, groupName: nil, subCgroup: nil)
        try plan.apply(o)
        try Validation.validateProcess(plan.process, field: o.processFile == nil ? "process" : "--process \(o.processFile!): process")
        return plan
    }

    /// The flags, over the process (runc applies them over --process too).
    mutating func apply(_ o: ExecOptions) throws {
        for (i, e) in o.env.enumerated() where !e.contains("=") {
            throw ConfigError("--env[\(i)]", "\"\(e)\" is not of the form KEY=VALUE")
        }
        process.env += o.env
        if let t = o.tty { process.terminal = t }
        if let n = o.noNewPrivileges { process.noNewPrivileges = n }
        if let c = o.cwd, !c.isEmpty {
            guard c.startsWithSlash else { throw ConfigError("--cwd", "must be an absolute path, got \"\(c)\"") }
            process.cwd = c
        }
        if let a = o.apparmorProfile, !a.isEmpty { process.apparmorProfile = a }
        if let l = o.processLabel, !l.isEmpty { process.selinuxLabel = l }
        if !o.caps.isEmpty {
            var caps = process.capabilities ?? Spec.Capabilities(bounding: [], effective: [], inheritable: [], permitted: [], ambient: [])
            for c in o.caps {
                var name = c.uppercased()
                if !name.hasPrefix("CAP_") { name = "CAP_" + name }
                guard Capabilities.number(of: name) != nil else { throw ConfigError("--cap", "unknown capability \"\(c)\"") }
                for set in [\Spec.Capabilities.bounding, \.effective, \.permitted] where !caps[keyPath: set].contains(name) {
                    caps[keyPath: set].append(name)
                }
                // Ambient needs the cap inheritable too; as runc, only where the config has one.
                if !caps.inheritable.isEmpty && !caps.ambient.contains(name) { caps.ambient.append(name) }
            }
            process.capabilities = caps
        }
        if let u = o.user, !u.isEmpty {
            let parts = u.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard !parts[0].isEmpty, parts.count == 1 || !parts[1].isEmpty else {
                throw ConfigError("--user", "\"\(u)\" is not of the form uid[:gid]")
            }
            if let uid = UInt32(parts[0]) { process.user.uid = uid } else { userName = parts[0] }
            if parts.count == 2 {
                if let gid = UInt32(parts[1]) { process.user.gid = gid } else { groupName = parts[1] }
            }
        }
        for g in o.additionalGids {
            guard let gid = UInt32(g) else { throw ConfigError("--additional-gids", "\"\(g)\" is not a group id (a non-negative number)") }
            process.user.additionalGids.append(gid)
        }
        for c in o.cgroup {
            // runc's forms: "path" or "controller[,controller]:path"; cgroup v2 has one tree.
            let path = c.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).last.map(String.init) ?? ""
            let clean = Files.clean("/" + path)
            guard !path.isEmpty, !path.split(separator: "/").contains("..") else {
                throw ConfigError("--cgroup", "\"\(c)\" must name a sub-cgroup of the container's")
            }
            if let s = subCgroup, s != clean { throw ConfigError("--cgroup", "cgroup v2 has one hierarchy: give one path (\"\(s)\" and \"\(clean)\")") }
            subCgroup = clean == "/" ? nil : clean
        }
    }
}
