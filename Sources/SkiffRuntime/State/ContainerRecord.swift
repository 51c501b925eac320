/// What skiff keeps about one container in <root>/<id>/state.json. The OCI status is
/// not stored: it is derived from the process, the exec fifo and the freezer, so it
/// can never go stale.
public struct ContainerRecord {
    public var id: String
    public var pid: Int32
    /// /proc/<pid>/stat start time, so a recycled pid is never taken for our init.
    public var pidStartTime: UInt64
    /// The init's pidfs inode (never reused), or 0 (older kernels, older records).
    public var pidInode: UInt64 = 0
    public var bundle: String
    public var rootfs: String
    public var created: String
    public var owner: String
    public var annotations: [(String, String)]
    public var cgroupPath: String?
    /// Kept from create: config.json edits after create must not change the container.
    public var poststart: [Spec.Hook]
    public var poststop: [Spec.Hook]
    /// The transient scope of the systemd driver, stopped on delete.
    public var systemdUnit: String?
    /// Which manager holds systemdUnit: the system's unless it says "user".
    public var systemdManager: SystemdInstance = .system
    /// linux.resources as last applied: the config's at create, then merged by each
    /// `update` (as runc keeps its merged config). nil in records written before
    /// skiff kept it, and for a config without resources.
    public var resources: JSONObject?
    /// The cgroup driver that made the container's cgroup: "cgroupfs" or "systemd".
    /// Records written before skiff kept it are cgroupfs.
    public var cgroupDriver: String
    /// No mount namespace of its own: its mounts are in ours, under rootfs, until delete.
    public var sharesMountNamespace = false

    public init(id: String, pid: Int32, pidStartTime: UInt64, bundle: String, rootfs: String, created: String,
                owner: String, annotations: [(String, String)], cgroupPath: String?, poststart: [Spec.Hook], poststop: [Spec.Hook],
                resources: JSONObject? = nil, cgroupDriver: String = "cgroupfs") {
        self.id = id; self.pid = pid; self.pidStartTime = pidStartTime; self.bundle = bundle; self.rootfs = rootfs
        self.created = created; self.owner = owner; self.annotations = annotations; self.cgroupPath = cgroupPath
        self.poststart = poststart
        self.poststop = poststop
        self.resources = resources
        self.cgroupDriver = cgroupDriver
    }

    public var json: JSON {
        var o = JSONObject()
        o["id"] = .string(id)
        o["pid"] = .int(pid)
        o["pidStartTime"] = .int(pidStartTime)
        if pidInode != 0 { o["pidInode"] = .int(pidInode) }
        o["bundle"] = .string(bundle)
        o["rootfs"] = .string(rootfs)
        o["created"] = .string(created)
        o["owner"] = .string(owner)
        o["annotations"] = .object(JSONObject(annotations.map { ($0.0, JSON.string($0.1)) }))
        if let cgroupPath { o["cgroupPath"] = .string(cgroupPath) }
        if !poststart.isEmpty { o["poststart"] = .array(poststart.map(\.json)) }
        if !poststop.isEmpty { o["poststop"] = .array(poststop.map(\.json)) }
        if let systemdUnit { o["systemdUnit"] = .string(systemdUnit) }
        if systemdManager != .system { o["systemdManager"] = .string(systemdManager.rawValue) }
        if let resources { o["resources"] = .object(resources) }
        o["cgroupDriver"] = .string(cgroupDriver)
        if sharesMountNamespace { o["sharesMountNamespace"] = .bool(true) }
        return .object(o)
    }

    /// From state.json's bytes, member by member (JSONMembers): the file is read for every
    /// command and, by `list`, for every container. Members it does not know are skipped;
    /// a member given twice counts as the last one given, as in a JSON object.
    public init(stateJSON bytes: [UInt8]) throws {
        var m = try JSONMembers(bytes, path: Self.file)
        var id: String?
        var pid: Int32?
        self.init(id: "", pid: 0, pidStartTime: 0, bundle: "", rootfs: "", created: "", owner: "",
                  annotations: [], cgroupPath: nil, poststart: [], poststop: [])
        while let key = try m.next() {
            switch key {
            case "id": id = try m.string()
            case "pid": pid = try m.integer()
            case "pidStartTime": pidStartTime = try m.integer() ?? 0
            case "pidInode": pidInode = try m.integer() ?? 0
            case "bundle": bundle = try m.string() ?? ""
            case "rootfs": rootfs = try m.string() ?? ""
            case "created": created = try m.string() ?? ""
            case "owner": owner = try m.string() ?? ""
            case "annotations": annotations = try m.stringMap() ?? []
            case "cgroupPath": cgroupPath = try m.string()
            case "poststart": poststart = try m.node().map(Spec.Hook.init) ?? []
            case "poststop": poststop = try m.node().map(Spec.Hook.init) ?? []
            case "systemdUnit": systemdUnit = try m.string()
            case "systemdManager": systemdManager = try m.string().flatMap(SystemdInstance.init(rawValue:)) ?? .system
            case "resources": resources = try m.node().object()
            case "cgroupDriver": cgroupDriver = try m.string() ?? "cgroupfs"
            case "sharesMountNamespace": sharesMountNamespace = try m.bool() ?? false
            default: try m.skip()
            }
        }
        guard let id else { throw ConfigError(Self.file + ".id", "is required") }
        guard let pid else { throw ConfigError(Self.file + ".pid", "is required") }
        self.id = id
        self.pid = pid
    }

    static let file = "state.json"
}

public enum ContainerStatus: String {
    case creating, created, running, paused, stopped
}
