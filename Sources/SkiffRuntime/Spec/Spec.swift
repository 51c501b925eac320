// The parts of config.json that skiff acts on (config.md, config-linux.md), read with
// the JSON path of every field so that validation errors can name it. Unknown fields
// are ignored, as the spec requires.

public struct Spec {
    public var ociVersion: String
    public var process: Process?
    public var root: Root?
    public var hostname: String?
    public var domainname: String?
    public var mounts: [Mount]
    public var hooks: Hooks
    public var annotations: [(String, String)]
    public var linux: Linux

    public struct Process {
        public var terminal: Bool
        public var consoleSize: (height: UInt16, width: UInt16)?
        public var user: User
        public var args: [String]
        public var env: [String]
        public var cwd: String
        public var capabilities: Capabilities?
        public var rlimits: [Rlimit]
        public var noNewPrivileges: Bool
        public var oomScoreAdj: Int?
        public var apparmorProfile: String?
        public var selinuxLabel: String?
    }

    public struct User {
        public var uid: UInt32
        public var gid: UInt32
        public var umask: UInt32?
        public var additionalGids: [UInt32]
    }

    public struct Capabilities {
        public var bounding: [String]
        public var effective: [String]
        public var inheritable: [String]
        public var permitted: [String]
        public var ambient: [String]
    }

    public struct Rlimit {
        public var type: String
        public var resource: Int32
        public var soft: UInt64
        public var hard: UInt64
    }

    public struct Root {
        public var path: String
        public var readonly: Bool
    }

    public struct IDMapping: Equatable {
        public var containerID: UInt32
        public var hostID: UInt32
        public var size: UInt32
    }

    public struct Mount {
        public var destination: String
        public var type: String?
        public var source: String?
        public var options: [String]
        public var uidMappings: [IDMapping]
        public var gidMappings: [IDMapping]
    }

    public struct Hook {
        public var path: String
        public var args: [String]
        public var env: [String]
        public var timeout: Int?
    }

    public struct Hooks {
        public var prestart: [Hook] = []
        public var createRuntime: [Hook] = []
        public var createContainer: [Hook] = []
        public var startContainer: [Hook] = []
        public var poststart: [Hook] = []
        public var poststop: [Hook] = []
    }

    public struct Namespace {
        public var type: NamespaceKind
        public var path: String?
    }

    public struct Device {
        public var type: String
        public var path: String
        public var major: Int64
        public var minor: Int64
        public var fileMode: UInt32?
        public var uid: UInt32?
        public var gid: UInt32?
    }

    public struct DeviceRule: Equatable {
        public var allow: Bool
        public var type: Character  // "a", "c" or "b"
        public var major: Int64?    // nil: any
        public var minor: Int64?
        public var access: String   // subset of "rwm"
        public init(allow: Bool, type: Character, major: Int64?, minor: Int64?, access: String) {
            self.allow = allow; self.type = type; self.major = major; self.minor = minor; self.access = access
        }
    }

    public struct Resources {
        public var devices: [DeviceRule]
        /// The other resource fields, kept as JSON for the cgroup drivers.
        public var raw: JSONObject
    }

    public struct TimeOffset {
        public var clock: String
        public var secs: Int64
        public var nanosecs: UInt32
    }

    public struct Linux {
        public var namespaces: [Namespace] = []
        public var uidMappings: [IDMapping] = []
        public var gidMappings: [IDMapping] = []
        public var timeOffsets: [TimeOffset] = []
        public var devices: [Device] = []
        public var cgroupsPath: String?
        public var resources: Resources?
        public var rootfsPropagation: String?
        public var maskedPaths: [String] = []
        public var readonlyPaths: [String] = []
        public var sysctl: [(String, String)] = []
        public var mountLabel: String?
        public var seccomp: Seccomp?
    }
}

extension Spec {
    public static func parse(_ bytes: [UInt8]) throws -> Spec {
        let json: JSON
        do { json = try JSONParser.parse(bytes) } catch let e as JSONSyntaxError {
            throw ConfigError("config.json", e.description)
        }
        return try Spec(JSONNode(json))
    }

    init(_ n: JSONNode) throws {
        guard case .object? = n.value else { throw ConfigError("config.json", "expected a JSON object") }
        ociVersion = try n["ociVersion"].string() ?? ""
        process = n["process"].isMissing ? nil : try Process(n["process"])
        root = n["root"].isMissing ? nil : try Root(n["root"])
        hostname = try n["hostname"].string()
        domainname = try n["domainname"].string()
        mounts = try n["mounts"].map(Mount.init) ?? []
        hooks = try Hooks(n["hooks"])
        annotations = try n["annotations"].stringMap() ?? []
        linux = n["linux"].isMissing ? Linux() : try Linux(n["linux"])
    }
}

extension Spec.Process {
    init(_ n: JSONNode) throws {
        _ = try n.object()
        terminal = try n["terminal"].bool() ?? false
        if n["consoleSize"].isMissing {
            consoleSize = nil
        } else {
            consoleSize = (try n["consoleSize"]["height"].requiredInteger(), try n["consoleSize"]["width"].requiredInteger())
        }
        let u = n["user"]
        _ = try u.object()
        user = Spec.User(
            uid: try u["uid"].integer() ?? 0,
            gid: try u["gid"].integer() ?? 0,
            umask: try u["umask"].integer(),
            additionalGids: try u["additionalGids"].map { try $0.requiredInteger(UInt32.self) } ?? [])
        args = try n["args"].stringArray() ?? []
        env = try n["env"].stringArray() ?? []
        cwd = try n["cwd"].string() ?? ""
        capabilities = n["capabilities"].isMissing ? nil : try Spec.Capabilities(n["capabilities"])
        rlimits = try n["rlimits"].map(Spec.Rlimit.init) ?? []
        noNewPrivileges = try n["noNewPrivileges"].bool() ?? false
        oomScoreAdj = try n["oomScoreAdj"].integer()
        apparmorProfile = try n["apparmorProfile"].string()
        selinuxLabel = try n["selinuxLabel"].string()
    }
}

extension Spec.Capabilities {
    init(_ n: JSONNode) throws {
        _ = try n.object()
        bounding = try n["bounding"].stringArray() ?? []
        effective = try n["effective"].stringArray() ?? []
        inheritable = try n["inheritable"].stringArray() ?? []
        permitted = try n["permitted"].stringArray() ?? []
        ambient = try n["ambient"].stringArray() ?? []
    }
}

extension Spec.Rlimit {
    init(_ n: JSONNode) throws {
        type = try n["type"].requiredString()
        guard let r = Rlimits.resource(named: type) else {
            throw n["type"].fail("unknown rlimit \"\(type)\"")
        }
        resource = r
        soft = try n["soft"].requiredInteger()
        hard = try n["hard"].requiredInteger()
        if soft > hard { throw n["soft"].fail("soft limit \(soft) is above the hard limit \(hard)") }
    }
}

extension Spec.Root {
    init(_ n: JSONNode) throws {
        _ = try n.object()
        path = try n["path"].requiredString()
        readonly = try n["readonly"].bool() ?? false
    }
}

extension Spec.IDMapping {
    init(_ n: JSONNode) throws {
        containerID = try n["containerID"].requiredInteger()
        hostID = try n["hostID"].requiredInteger()
        size = try n["size"].requiredInteger()
    }
}

extension Spec.Mount {
    init(_ n: JSONNode) throws {
        _ = try n.object()
        destination = try n["destination"].requiredString()
        type = try n["type"].string()
        source = try n["source"].string()
        options = try n["options"].stringArray() ?? []
        uidMappings = try n["uidMappings"].map(Spec.IDMapping.init) ?? []
        gidMappings = try n["gidMappings"].map(Spec.IDMapping.init) ?? []
    }
}

extension Spec.Hook {
    init(_ n: JSONNode) throws {
        path = try n["path"].requiredString()
        args = try n["args"].stringArray() ?? []
        env = try n["env"].stringArray() ?? []
        timeout = try n["timeout"].integer()
        if let t = timeout, t <= 0 { throw n["timeout"].fail("must be greater than zero") }
    }

    var json: JSON {
        var o = JSONObject()
        o["path"] = .string(path)
        if !args.isEmpty { o["args"] = .array(args.map(JSON.string)) }
        if !env.isEmpty { o["env"] = .array(env.map(JSON.string)) }
        if let timeout { o["timeout"] = .int(timeout) }
        return .object(o)
    }
}

extension Spec.Hooks {
    init(_ n: JSONNode) throws {
        _ = try n.object()
        prestart = try n["prestart"].map(Spec.Hook.init) ?? []
        createRuntime = try n["createRuntime"].map(Spec.Hook.init) ?? []
        createContainer = try n["createContainer"].map(Spec.Hook.init) ?? []
        startContainer = try n["startContainer"].map(Spec.Hook.init) ?? []
        poststart = try n["poststart"].map(Spec.Hook.init) ?? []
        poststop = try n["poststop"].map(Spec.Hook.init) ?? []
    }
}

extension Spec.Linux {
    init(_ n: JSONNode) throws {
        _ = try n.object()
        namespaces = try n["namespaces"].map { ns in
            let t = try ns["type"].requiredString()
            guard let kind = NamespaceKind(rawValue: t) else {
                throw ns["type"].fail("unknown namespace \"\(t)\"")
            }
            return Spec.Namespace(type: kind, path: try ns["path"].string())
        } ?? []
        uidMappings = try n["uidMappings"].map(Spec.IDMapping.init) ?? []
        gidMappings = try n["gidMappings"].map(Spec.IDMapping.init) ?? []
        if let o = try n["timeOffsets"].object() {
            timeOffsets = try o.keys.map { clock in
                let c = n["timeOffsets"][clock]
                return Spec.TimeOffset(clock: clock, secs: try c["secs"].integer() ?? 0, nanosecs: try c["nanosecs"].integer() ?? 0)
            }
        }
        devices = try n["devices"].map { d in
            Spec.Device(
                type: try d["type"].requiredString(),
                path: try d["path"].requiredString(),
                major: try d["major"].integer() ?? 0,
                minor: try d["minor"].integer() ?? 0,
                fileMode: try d["fileMode"].integer(),
                uid: try d["uid"].integer(),
                gid: try d["gid"].integer())
        } ?? []
        cgroupsPath = try n["cgroupsPath"].string()
        if let raw = try n["resources"].object() {
            let rules = try Spec.DeviceRule.parseList(n["resources"]["devices"])
            resources = Spec.Resources(devices: rules, raw: raw)
        }
        rootfsPropagation = try n["rootfsPropagation"].string()
        maskedPaths = try n["maskedPaths"].stringArray() ?? []
        readonlyPaths = try n["readonlyPaths"].stringArray() ?? []
        sysctl = try n["sysctl"].stringMap() ?? []
        mountLabel = try n["mountLabel"].string()
        seccomp = n["seccomp"].isMissing ? nil : try Spec.Seccomp(n["seccomp"])
    }
}

extension Spec.DeviceRule {
    /// linux.resources.devices (or an update's devices): the rules in order.
    public static func parseList(_ node: JSONNode) throws -> [Spec.DeviceRule] {
        try node.map { r -> Spec.DeviceRule in
            let type = try r["type"].string() ?? "a"
            guard type.count == 1, let t = type.first, "acb".contains(t) else {
                throw r["type"].fail("invalid device type \"\(type)\" (want a, c or b)")
            }
            let access = try r["access"].string() ?? "rwm"
            guard access.allSatisfy({ "rwm".contains($0) }) else {
                throw r["access"].fail("invalid device access \"\(access)\" (want letters of rwm)")
            }
            let major: Int64? = try r["major"].integer()
            let minor: Int64? = try r["minor"].integer()
            return Spec.DeviceRule(allow: try r["allow"].bool() ?? false, type: t,
                                   major: major.flatMap { $0 < 0 ? nil : $0 },
                                   minor: minor.flatMap { $0 < 0 ? nil : $0 },
                                   access: access.isEmpty ? "rwm" : access)
        } ?? []
    }
}
