import Glibc

// linux.resources planned into cgroup v2 file writes, in the order and with the
// conversions of runc's fs2 driver (github.com/opencontainers/cgroups, fs2/*.go and
// utils.go, as vendored by runc): Manager.Set writes pids, memory, io, cpu,
// (devices: DeviceFilter), cpuset, hugetlb, rdma, (freezer), then unified.
// Pure: nothing here touches the filesystem; CgroupWriter carries the plan out.

/// One write to a file of the container's cgroup directory.
public struct CgroupWrite: Equatable, CustomStringConvertible {
    public enum Mode: Equatable {
        /// Any error fails.
        case required
        /// A missing file (ENOENT) is skipped: memory.swap.max "max"/"0" without
        /// swap accounting, hugetlb.<size>.rsvd.max before Linux 5.7 (as runc).
        case skipIfMissing
        /// cpu.max.burst: on EINVAL, written again after cpu.max (runc setCPU:
        /// a burst above the old quota is refused until the new quota is in).
        case retryAfterCPUMax
        /// blockIO.weight: written as is to io.bfq.weight when that file exists,
        /// else `ioWeight` (runc's ConvertBlkIOToIOWeightValue) to io.weight;
        /// nil when the weight has no io.weight equivalent (below 10).
        case blkioWeight(ioWeight: String?)
        /// blockIO.weightDevice: written to io.bfq.weight only if the kernel
        /// takes per-device BFQ weights (5.4+), else skipped (as runc).
        case bfqDeviceWeight
    }

    public var file: String
    public var value: String
    /// The controller the file belongs to; "" for the cgroup core's cgroup.* files.
    public var controller: String
    public var mode: Mode
    /// The config field the write comes from, for error messages.
    public var field: String

    public init(_ file: String, _ value: String, controller: String, mode: Mode = .required, field: String = "") {
        self.file = file
        self.value = value
        self.controller = controller
        self.mode = mode
        self.field = field
    }

    public var description: String { "\(file) \"\(value)\"" }
}

/// What CgroupWriter does for a container's linux.resources.
public struct CgroupPlan: Equatable {
    /// The writes, in order.
    public var writes: [CgroupWrite] = []
    /// Controllers the writes need enabled (ancestors' cgroup.subtree_control),
    /// in order of first use.
    public var controllers: [String] = []
    /// memory.checkBeforeUpdate: refuse limits at or below memory.current.
    public var memoryCheck: MemoryCheck?
    /// Fields that have no cgroup v2 meaning and are ignored, as runc's fs2
    /// driver ignores them (the caller may log these as warnings).
    public var ignored: [ConfigError] = []

    public struct MemoryCheck: Equatable {
        /// memory.limit (<= 0: not checked).
        public var limit: Int64
        /// memory.swap as configured: memory+swap, as runc compares it (<= 0: not checked).
        public var swap: Int64
        /// The JSON path of the memory object.
        public var path: String
    }

    public init() {}

    public var isEmpty: Bool { writes.isEmpty && memoryCheck == nil }

    mutating func add(_ w: CgroupWrite) {
        writes.append(w)
        if !w.controller.isEmpty && !controllers.contains(w.controller) { controllers.append(w.controller) }
    }
}

extension CgroupResources {
    /// Parses and plans `linux.resources` (Spec.Resources.raw).
    public static func plan(raw: JSONObject, path: String = "linux.resources") throws -> CgroupPlan {
        try CgroupResources(raw: raw, path: path).plan()
    }

    public func plan() throws -> CgroupPlan {
        var p = CgroupPlan()
        planPids(&p)
        try planMemory(&p)
        try planIO(&p)
        try planCPU(&p)
        planCpuset(&p)
        planHugetlb(&p)
        planRDMA(&p)
        planNetwork(&p)
        try planUnified(&p)
        return p
    }

    // MARK: pids (fs2/pids.go setPids)

    func planPids(_ p: inout CgroupPlan) {
        guard let limit = pids?.limit else { return }
        // > 0 as is; 0 becomes 1 (systemd cannot set TasksMax=0 and runc keeps its
        // two drivers alike); negative is "max".
        let v = limit > 0 ? String(limit) : limit == 0 ? "1" : "max"
        p.add(CgroupWrite("pids.max", v, controller: "pids", field: "\(path).pids.limit"))
    }

    // MARK: memory (fs2/memory.go setMemory)

    /// runc's numToStr: 0 is unset, -1 is "max".
    static func numToStr(_ v: Int64) -> String? {
        switch v {
        case 0: return nil
        case -1: return "max"
        default: return String(v)
        }
    }

    struct ConvertError: Error, Equatable {
        var field: String
        var message: String
    }

    /// runc's cgroups.ConvertMemorySwapToCgroupV2Value: OCI swap is memory+swap,
    /// memory.swap.max is swap alone. On error, the field (of memory) to blame.
    static func convertMemorySwap(_ memorySwap: Int64, _ memory: Int64) -> Result<Int64, ConvertError> {
        if memory == -1 && memorySwap == 0 { return .success(-1) }  // both unlimited
        if memorySwap == -1 || memorySwap == 0 { return .success(memorySwap) }
        if memory == -1 { return .success(memorySwap) }
        if memory == 0 { return .failure(ConvertError(field: "swap", message: "unable to set swap limit without memory limit")) }
        if memory < 0 { return .failure(ConvertError(field: "limit", message: "invalid memory value: \(memory)")) }
        if memorySwap < memory { return .failure(ConvertError(field: "swap", message: "memory+swap limit should be >= memory limit")) }
        return .success(memorySwap - memory)
    }

    func planMemory(_ p: inout CgroupPlan) throws {
        guard let m = memory else { return }
        let mp = "\(path).memory"
        // kernel, kernelTCP: runc's specconv warns "Kernel memory settings are ignored".
        if m.kernel != nil { p.ignored.append(ConfigError("\(mp).kernel", "kernel memory settings are ignored (no cgroup v2 equivalent)")) }
        if m.kernelTCP != nil { p.ignored.append(ConfigError("\(mp).kernelTCP", "kernel memory settings are ignored (no cgroup v2 equivalent)")) }
        // Carried into cgroups.Resources by specconv but never read by fs2.
        if m.swappiness != nil { p.ignored.append(ConfigError("\(mp).swappiness", "ignored on cgroup v2 (no memory.swappiness; as runc)")) }
        if m.disableOOMKiller != nil { p.ignored.append(ConfigError("\(mp).disableOOMKiller", "ignored on cgroup v2 (no memory.oom_control; as runc)")) }
        if m.useHierarchy != nil { p.ignored.append(ConfigError("\(mp).useHierarchy", "ignored: cgroup v2 accounting is always hierarchical")) }

        let limit = m.limit ?? 0, reservation = m.reservation ?? 0, swap = m.swap ?? 0
        // -1 is unlimited; anything else below 0 the kernel refuses (runc finds out
        // when writing). Said here, naming the field.
        for (name, v) in [("limit", limit), ("reservation", reservation), ("swap", swap)] where v < -1 {
            throw ConfigError("\(mp).\(name)", "invalid memory value: \(v) (want -1 for unlimited, or a number of bytes)")
        }
        guard limit != 0 || reservation != 0 || swap != 0 else { return }  // isMemorySet

        if m.checkBeforeUpdate == true && (limit > 0 || swap > 0) {
            p.memoryCheck = CgroupPlan.MemoryCheck(limit: limit, swap: swap, path: mp)
        }

        let v2swap: Int64
        switch Self.convertMemorySwap(swap, limit) {
        case .success(let v): v2swap = v
        case .failure(let e): throw ConfigError("\(mp).\(e.field)", e.message)
        }
        var swapStr = Self.numToStr(v2swap)
        if swapStr == nil && v2swap == 0 && swap > 0 { swapStr = "0" }  // swap == limit: no swap
        if let s = swapStr {
            // Without swap accounting there is no memory.swap.max; runc then
            // ignores "max" and "0" (nothing to limit) but not a real limit.
            p.add(CgroupWrite("memory.swap.max", s, controller: "memory",
                              mode: s == "max" || s == "0" ? .skipIfMissing : .required, field: "\(mp).swap"))
        }
        if let s = Self.numToStr(limit) {
            p.add(CgroupWrite("memory.max", s, controller: "memory", field: "\(mp).limit"))
        }
        if let s = Self.numToStr(reservation) {
            p.add(CgroupWrite("memory.low", s, controller: "memory", field: "\(mp).reservation"))
        }
    }

    // MARK: io (fs2/io.go setIo)

    /// runc's cgroups.ConvertBlkIOToIOWeightValue: [10, 1000] to [1, 10000] linearly.
    /// nil below 10, where runc's unsigned arithmetic wraps around to a value the
    /// kernel refuses.
    static func convertBlkIOToIOWeight(_ w: UInt16) -> UInt64? {
        if w == 0 { return 0 }
        if w < 10 { return nil }
        return 1 + (UInt64(w) - 10) * 9999 / 990
    }

    func planIO(_ p: inout CgroupPlan) throws {
        guard let b = blockIO else { return }
        let bp = "\(path).blockIO"
        if b.leafWeight != nil { p.ignored.append(ConfigError("\(bp).leafWeight", "ignored on cgroup v2 (no leaf weights; as runc)")) }

        // BFQ takes weights 1...1000 (block/bfq-iosched.h); io.weight's 1...10000
        // is reached by conversion. Above 1000 neither file would take it.
        if let w = b.weight, w != 0 {
            guard w <= 1000 else { throw ConfigError("\(bp).weight", "\(w) is out of range (1-1000)") }
            let io = Self.convertBlkIOToIOWeight(w).map { String($0) }
            p.add(CgroupWrite("io.bfq.weight", String(w), controller: "io", mode: .blkioWeight(ioWeight: io), field: "\(bp).weight"))
        }
        for (i, d) in b.weightDevice.enumerated() {
            let fp = "\(bp).weightDevice[\(i)]"
            guard let w = d.weight else {
                // runc writes "major:minor 0" (its zero value), which BFQ refuses
                // with ERANGE; a leafWeight alone has no v2 meaning, so it is skipped.
                p.ignored.append(ConfigError("\(fp).leafWeight", "ignored on cgroup v2 (no leaf weights)"))
                continue
            }
            guard w >= 1 && w <= 1000 else { throw ConfigError("\(fp).weight", "\(w) is out of range (1-1000)") }
            if d.leafWeight != nil { p.ignored.append(ConfigError("\(fp).leafWeight", "ignored on cgroup v2 (no leaf weights)")) }
            p.add(CgroupWrite("io.bfq.weight", "\(d.major):\(d.minor) \(w)", controller: "io", mode: .bfqDeviceWeight, field: "\(fp).weight"))
        }
        let throttles = [(b.throttleReadBpsDevice, "rbps", "throttleReadBpsDevice"),
                         (b.throttleWriteBpsDevice, "wbps", "throttleWriteBpsDevice"),
                         (b.throttleReadIOPSDevice, "riops", "throttleReadIOPSDevice"),
                         (b.throttleWriteIOPSDevice, "wiops", "throttleWriteIOPSDevice")]
        for (list, key, name) in throttles {
            for (i, d) in list.enumerated() {
                p.add(CgroupWrite("io.max", "\(d.major):\(d.minor) \(key)=\(d.rate)", controller: "io", field: "\(bp).\(name)[\(i)]"))
            }
        }
    }

    // MARK: cpu (fs2/cpu.go setCPU; shares converted as runc's specconv does)

    /// runc's cgroups.ConvertCPUSharesToCgroupV2Value (opencontainers/cgroups
    /// fd95216, June 2025, in runc since 1.4): a quadratic in log2(shares)
    /// through (2, 1), (1024, 100) and (262144, 10000), so the v1 default 1024
    /// maps to the v2 default 100 (the old linear 1 + (shares-2)*9999/262142 gave
    /// 39). glibc's log2/pow may differ from Go's math package in the last bit,
    /// but over 3...262143 only 1024 lands within 1e-11 of an integer, and there
    /// both are exact, so the ceil is the same for every input.
    public static func convertCPUSharesToWeight(_ shares: UInt64) -> UInt64 {
        if shares == 0 { return 0 }
        if shares <= 2 { return 1 }
        if shares >= 262144 { return 10000 }
        let l = log2(Double(shares))
        let exponent = (l * l + 125 * l) / 612.0 - 7.0 / 34.0
        return UInt64(ceil(pow(10, exponent)))
    }

    func planCPU(_ p: inout CgroupPlan) throws {
        guard let c = cpu else { return }
        let cp = "\(path).cpu"
        if c.realtimeRuntime != nil { p.ignored.append(ConfigError("\(cp).realtimeRuntime", "ignored on cgroup v2 (no cpu.rt_runtime_us; as runc)")) }
        if c.realtimePeriod != nil { p.ignored.append(ConfigError("\(cp).realtimePeriod", "ignored on cgroup v2 (no cpu.rt_period_us; as runc)")) }

        let weight = Self.convertCPUSharesToWeight(c.shares ?? 0)
        let quota = c.quota ?? 0, period = c.period ?? 0
        if let idle = c.idle, idle != 0 && idle != 1 {
            throw ConfigError("\(cp).idle", "\(idle) is not valid (want 0 or 1)")
        }
        // config-linux.md: a positive quota MUST be no smaller than burst (runtimes
        // MAY refuse); the kernel refuses it too, after runc's retry.
        if let burst = c.burst, quota > 0, burst > UInt64(quota) {
            throw ConfigError("\(cp).burst", "burst \(burst) is larger than quota \(quota)")
        }
        if let idle = c.idle {
            p.add(CgroupWrite("cpu.idle", String(idle), controller: "cpu", field: "\(cp).idle"))
        }
        if weight != 0 {
            p.add(CgroupWrite("cpu.weight", String(weight), controller: "cpu", field: "\(cp).shares"))
        }
        if let burst = c.burst {
            p.add(CgroupWrite("cpu.max.burst", String(burst), controller: "cpu",
                              mode: quota != 0 ? .retryAfterCPUMax : .required, field: "\(cp).burst"))
        }
        if quota != 0 || period != 0 {
            // Any negative quota is "max"; a missing period is the kernel default.
            let q = quota > 0 ? String(quota) : "max"
            p.add(CgroupWrite("cpu.max", "\(q) \(period == 0 ? 100000 : period)", controller: "cpu",
                              field: quota != 0 ? "\(cp).quota" : "\(cp).period"))
        }
    }

    // MARK: cpuset (fs2/cpuset.go)

    func planCpuset(_ p: inout CgroupPlan) {
        guard let c = cpu else { return }
        if let cpus = c.cpus, !cpus.isEmpty {
            p.add(CgroupWrite("cpuset.cpus", cpus, controller: "cpuset", field: "\(path).cpu.cpus"))
        }
        if let mems = c.mems, !mems.isEmpty {
            p.add(CgroupWrite("cpuset.mems", mems, controller: "cpuset", field: "\(path).cpu.mems"))
        }
    }

    // MARK: hugetlb (fs2/hugetlb.go)

    func planHugetlb(_ p: inout CgroupPlan) {
        for (i, h) in hugepageLimits.enumerated() {
            let f = "\(path).hugepageLimits[\(i)]"
            let prefix = "hugetlb." + h.pageSize
            p.add(CgroupWrite(prefix + ".max", String(h.limit), controller: "hugetlb", field: f))
            // Reservation accounting (5.7+) gets the same limit when present.
            p.add(CgroupWrite(prefix + ".rsvd.max", String(h.limit), controller: "hugetlb", mode: .skipIfMissing, field: f))
        }
    }

    // MARK: rdma (fscommon/rdma.go RdmaSet)

    func planRDMA(_ p: inout CgroupPlan) {
        for r in rdma {
            var v = r.device
            if let h = r.hcaHandles { v += " hca_handle=\(h)" }
            if let o = r.hcaObjects { v += " hca_object=\(o)" }
            p.add(CgroupWrite("rdma.max", v, controller: "rdma", field: "\(path).rdma[\"\(r.device)\"]"))
        }
    }

    // MARK: network: net_cls/net_prio are cgroup v1 only; fs2 never reads them.

    func planNetwork(_ p: inout CgroupPlan) {
        guard let n = network else { return }
        if n.classID != nil { p.ignored.append(ConfigError("\(path).network.classID", "ignored on cgroup v2 (no net_cls; as runc)")) }
        if !n.priorities.isEmpty { p.ignored.append(ConfigError("\(path).network.priorities", "ignored on cgroup v2 (no net_prio; as runc)")) }
    }

    // MARK: unified (fs2/fs2.go setUnified), written last so it overrides.

    func planUnified(_ p: inout CgroupPlan) throws {
        for (key, value) in unified {
            let f = "\(path).unified[\"\(key)\"]"
            let controller = try Self.unifiedController(key, path: f)
            // runc's WriteFileByLine: a value with newlines is written a line at a
            // time (io.max takes one device per write). Empty lines are not written.
            var wrote = false
            for line in value.split(separator: "\n", omittingEmptySubsequences: true) {
                p.add(CgroupWrite(key, String(line), controller: controller, field: f))
                wrote = true
            }
            if !wrote { p.add(CgroupWrite(key, value, controller: controller, field: f)) }
        }
    }
}
