// `linux.resources` (config-linux.md "Control groups") read into typed values, with
// the JSON path of every field, for the cgroup v2 planner (CgroupPlan.swift).
// `devices` is not read here: it is Spec.Resources.devices, compiled by DeviceFilter.
//
// Types are those of the runtime-spec Go structs (specs-go/config.go), so a value
// that runc could not even unmarshal (a negative `shares`, a string `limit`) is
// refused here too, naming the field.

public struct CgroupResources: Equatable {
    /// The JSON path of the resources object, used to name fields in errors
    /// ("linux.resources", or whatever the caller read them from).
    public var path: String

    public var memory: Memory?
    public var cpu: CPU?
    public var pids: Pids?
    public var blockIO: BlockIO?
    public var hugepageLimits: [HugepageLimit] = []
    public var network: Network?
    public var rdma: [RDMA] = []
    /// Key, value, in config order.
    public var unified: [(key: String, value: String)] = []

    public struct Memory: Equatable {
        public var limit: Int64?
        public var reservation: Int64?
        public var swap: Int64?
        public var kernel: Int64?
        public var kernelTCP: Int64?
        public var swappiness: UInt64?
        public var disableOOMKiller: Bool?
        public var useHierarchy: Bool?
        public var checkBeforeUpdate: Bool?
        public init() {}
    }

    public struct CPU: Equatable {
        public var shares: UInt64?
        public var quota: Int64?
        public var burst: UInt64?
        public var period: UInt64?
        public var realtimeRuntime: Int64?
        public var realtimePeriod: UInt64?
        public var cpus: String?
        public var mems: String?
        public var idle: Int64?
        public init() {}
    }

    public struct Pids: Equatable {
        public var limit: Int64?
        public init(limit: Int64?) { self.limit = limit }
    }

    public struct WeightDevice: Equatable {
        public var major: Int64
        public var minor: Int64
        public var weight: UInt16?
        public var leafWeight: UInt16?
    }

    public struct ThrottleDevice: Equatable {
        public var major: Int64
        public var minor: Int64
        public var rate: UInt64
    }

    public struct BlockIO: Equatable {
        public var weight: UInt16?
        public var leafWeight: UInt16?
        public var weightDevice: [WeightDevice] = []
        public var throttleReadBpsDevice: [ThrottleDevice] = []
        public var throttleWriteBpsDevice: [ThrottleDevice] = []
        public var throttleReadIOPSDevice: [ThrottleDevice] = []
        public var throttleWriteIOPSDevice: [ThrottleDevice] = []
        public init() {}
    }

    public struct HugepageLimit: Equatable {
        public var pageSize: String
        public var limit: UInt64
    }

    public struct Network: Equatable {
        public var classID: UInt32?
        public var priorities: [(name: String, priority: UInt32)] = []
        public init() {}
        public static func == (a: Network, b: Network) -> Bool {
            a.classID == b.classID && a.priorities.elementsEqual(b.priorities) { $0 == $1 }
        }
    }

    public struct RDMA: Equatable {
        public var device: String
        public var hcaHandles: UInt32?
        public var hcaObjects: UInt32?
    }

    public init(path: String = "linux.resources") { self.path = path }

    public static func == (a: CgroupResources, b: CgroupResources) -> Bool {
        a.path == b.path && a.memory == b.memory && a.cpu == b.cpu && a.pids == b.pids
            && a.blockIO == b.blockIO && a.hugepageLimits == b.hugepageLimits
            && a.network == b.network && a.rdma == b.rdma
            && a.unified.elementsEqual(b.unified) { $0 == $1 }
    }
}

extension CgroupResources {
    /// Reads `linux.resources` as kept raw by Spec.Resources.
    public init(raw: JSONObject, path: String = "linux.resources") throws {
        try self.init(JSONNode(.object(raw), path: path))
    }

    public init(_ n: JSONNode) throws {
        self.init(path: n.path)
        _ = try n.object()

        let m = n["memory"]
        if try m.object() != nil {
            var mem = Memory()
            mem.limit = try m["limit"].integer()
            mem.reservation = try m["reservation"].integer()
            mem.swap = try m["swap"].integer()
            mem.kernel = try m["kernel"].integer()
            mem.kernelTCP = try m["kernelTCP"].integer()
            mem.swappiness = try m["swappiness"].integer()
            mem.disableOOMKiller = try m["disableOOMKiller"].bool()
            mem.useHierarchy = try m["useHierarchy"].bool()
            mem.checkBeforeUpdate = try m["checkBeforeUpdate"].bool()
            memory = mem
        }

        let c = n["cpu"]
        if try c.object() != nil {
            var cpu = CPU()
            cpu.shares = try c["shares"].integer()
            cpu.quota = try c["quota"].integer()
            cpu.burst = try c["burst"].integer()
            cpu.period = try c["period"].integer()
            cpu.realtimeRuntime = try c["realtimeRuntime"].integer()
            cpu.realtimePeriod = try c["realtimePeriod"].integer()
            cpu.cpus = try c["cpus"].string()
            cpu.mems = try c["mems"].string()
            cpu.idle = try c["idle"].integer()
            self.cpu = cpu
        }

        let p = n["pids"]
        if try p.object() != nil {
            pids = Pids(limit: try p["limit"].integer())
        }

        let b = n["blockIO"]
        if try b.object() != nil {
            var io = BlockIO()
            io.weight = try b["weight"].integer()
            io.leafWeight = try b["leafWeight"].integer()
            io.weightDevice = try b["weightDevice"].map { d in
                let wd = WeightDevice(
                    major: try Self.deviceNumber(d["major"]),
                    minor: try Self.deviceNumber(d["minor"]),
                    weight: try d["weight"].integer(),
                    leafWeight: try d["leafWeight"].integer())
                if wd.weight == nil && wd.leafWeight == nil {
                    throw d.fail("at least one of weight or leafWeight is required")
                }
                return wd
            } ?? []
            func throttle(_ key: String) throws -> [ThrottleDevice] {
                try b[key].map { d in
                    ThrottleDevice(major: try Self.deviceNumber(d["major"]),
                                   minor: try Self.deviceNumber(d["minor"]),
                                   rate: try d["rate"].requiredInteger())
                } ?? []
            }
            io.throttleReadBpsDevice = try throttle("throttleReadBpsDevice")
            io.throttleWriteBpsDevice = try throttle("throttleWriteBpsDevice")
            io.throttleReadIOPSDevice = try throttle("throttleReadIOPSDevice")
            io.throttleWriteIOPSDevice = try throttle("throttleWriteIOPSDevice")
            blockIO = io
        }

        hugepageLimits = try n["hugepageLimits"].map { h in
            let size = try h["pageSize"].requiredString()
            try Self.checkPageSize(size, h["pageSize"])
            return HugepageLimit(pageSize: size, limit: try h["limit"].requiredInteger())
        } ?? []

        let net = n["network"]
        if try net.object() != nil {
            var nw = Network()
            nw.classID = try net["classID"].integer()
            nw.priorities = try net["priorities"].map { p in
                (name: try p["name"].requiredString(), priority: try p["priority"].requiredInteger(UInt32.self))
            } ?? []
            network = nw
        }

        if let o = try n["rdma"].object() {
            rdma = try o.keys.map { dev in
                let e = n["rdma"][dev]
                _ = try e.object()
                guard Self.isPlainToken(dev) else {
                    throw ConfigError("\(n.path).rdma[\"\(dev)\"]", "invalid device name (want a name without spaces, \"=\" or control characters)")
                }
                let r = RDMA(device: dev, hcaHandles: try e["hcaHandles"].integer(), hcaObjects: try e["hcaObjects"].integer())
                if r.hcaHandles == nil && r.hcaObjects == nil {
                    throw e.fail("at least one of hcaHandles or hcaObjects is required")
                }
                return r
            }
        }

        if let o = try n["unified"].object() {
            unified = try o.pairs.map { (key, value) in
                let keyPath = "\(n.path).unified[\"\(key)\"]"
                guard case .string(let v) = value else {
                    throw ConfigError(keyPath, "expected string, got \(Self.kind(value))")
                }
                _ = try Self.unifiedController(key, path: keyPath)
                return (key: key, value: v)
            }
        }
    }

    /// A major or minor number: REQUIRED int64; the kernel takes 0...2^32-1.
    static func deviceNumber(_ n: JSONNode) throws -> Int64 {
        let v: Int64 = try n.requiredInteger()
        guard v >= 0 && v <= Int64(UInt32.max) else {
            throw n.fail("\(v) is not a valid device number")
        }
        return v
    }

    /// `<size><unit>B` as the kernel names hugetlb files (mm/hugetlb_cgroup.c,
    /// mem_fmt): decimal without leading zeros, KB below 1024KB, MB below 1024MB,
    /// else GB. runc writes `hugetlb.<pageSize>.max` unchecked (a wrong size fails
    /// there with ENOENT); checking first names the field instead, and keeps a
    /// pageSize with "/" from being taken as a path.
    static func checkPageSize(_ s: String, _ n: JSONNode) throws {
        let u = Array(s.utf8)
        let want = "invalid hugepage size \"\(s)\" (want <size>KB, MB or GB as the kernel names it, e.g. 2MB, 1GB)"
        guard u.count >= 3, u[u.count - 1] == UInt8(ascii: "B") else { throw n.fail(want) }
        let digits = u[0..<(u.count - 2)]
        guard !digits.isEmpty, digits.allSatisfy({ $0 >= 48 && $0 <= 57 }), digits.first != 48,
              digits.count <= 10, let size = Int(String(decoding: digits, as: UTF8.self))
        else { throw n.fail(want) }
        switch u[u.count - 2] {
        case UInt8(ascii: "K"):
            if size >= 1024 { throw n.fail("invalid hugepage size \"\(s)\": the kernel names it in MB or GB") }
        case UInt8(ascii: "M"):
            if size >= 1024 { throw n.fail("invalid hugepage size \"\(s)\": the kernel names it in GB") }
        case UInt8(ascii: "G"):
            break
        default:
            throw n.fail(want)
        }
    }

    /// Something safe to write as one word of a cgroup file line.
    static func isPlainToken(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy { $0 > 0x20 && $0 != 0x7f && $0 != UInt8(ascii: "=") }
    }

    /// The controller a `unified` key belongs to ("" for the cgroup core's
    /// `cgroup.*` files), or a ConfigError naming the key. A key is a plain file
    /// name of the cgroup directory: no "/", not "." or "..", in the form
    /// CONTROLLER.PARAMETER (runc's fs2 setUnified refuses "/" and, like its
    /// systemd driver, a key without a "." after the controller name).
    static func unifiedController(_ key: String, path: String) throws -> String {
        if key.isEmpty { throw ConfigError(path, "unified resource must be a file name, got an empty key") }
        if key == "." || key == ".." { throw ConfigError(path, "unified resource must be a file name in the cgroup directory") }
        let u = key.utf8
        if u.contains(UInt8(ascii: "/")) {
            throw ConfigError(path, "unified resource must be a file name (no slashes)")
        }
        if u.contains(where: { $0 < 0x20 || $0 == 0x7f }) {
            throw ConfigError(path, "unified resource must be a file name (no control characters)")
        }
        guard let dot = u.firstIndex(of: UInt8(ascii: ".")), dot != u.startIndex,
              u.index(after: dot) != u.endIndex
        else { throw ConfigError(path, "unified resource must be in the form CONTROLLER.PARAMETER") }
        let controller = String(decoding: u[u.startIndex..<dot], as: UTF8.self)
        let isName = controller.utf8.allSatisfy {
            ($0 >= 97 && $0 <= 122) || ($0 >= 65 && $0 <= 90) || ($0 >= 48 && $0 <= 57) || $0 == 95
        }
        guard isName else { throw ConfigError(path, "unified resource must be in the form CONTROLLER.PARAMETER") }
        return controller == "cgroup" ? "" : controller
    }

    static func kind(_ v: JSON) -> String {
        switch v {
        case .null: return "null"
        case .bool: return "boolean"
        case .number: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }
}
