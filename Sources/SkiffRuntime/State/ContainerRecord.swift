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

    public init(json: JSON) throws {
        let n = JSONNode(json, path: "state.json")
        id = try n["id"].requiredString()
        pid = try n["pid"].requiredInteger()
        pidStartTime = try n["pidStartTime"].integer() ?? 0
        pidInode = try n["pidInode"].integer() ?? 0
        bundle = try n["bundle"].string() ?? ""
        rootfs = try n["rootfs"].string() ?? ""
        created = try n["created"].string() ?? ""
        owner = try n["owner"].string() ?? ""
        annotations = try n["annotations"].stringMap() ?? []
        cgroupPath = try n["cgroupPath"].string()
        poststart = try n["poststart"].map(Spec.Hook.init) ?? []
        poststop = try n["poststop"].map(Spec.Hook.init) ?? []
        systemdUnit = try n["systemdUnit"].string()
        systemdManager = try n["systemdManager"].string().flatMap(SystemdInstance.init(rawValue:)) ?? .system
        resources = try n["resources"].object()
        cgroupDriver = try n["cgroupDriver"].string() ?? "cgroupfs"
        sharesMountNamespace = try n["sharesMountNamespace"].bool() ?? false
    }
}

public enum ContainerStatus: String {
    case creating, created, running, paused, stopped
}
