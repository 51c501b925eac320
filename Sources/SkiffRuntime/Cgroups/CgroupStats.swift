import Glibc

// `skiff events` statistics: read from a cgroup v2 directory as runc's fs2 driver reads
// them (github.com/opencontainers/cgroups fs2 stat*: pids, memory, io, cpu, hugetlb),
// printed in the shape of runc's types.Stats (runc/types/events.go, as runc 1.1 prints
// it: encoding/json with omitempty, which leaves structs in and drops zero numbers).
//
// A controller whose files are missing (not enabled, or a hybrid host's cgroup2 with
// only some controllers) leaves its numbers at zero, as runc ignores ENOENT; other
// errors are collected and reported, as runc's "error while statting cgroup v2".

public struct CgroupStats: Equatable {
    public struct CPU: Equatable {
        /// Nanoseconds (cpu.stat's *_usec × 1000).
        public var total: UInt64 = 0
        public var kernel: UInt64 = 0
        public var user: UInt64 = 0
        public var periods: UInt64 = 0
        public var throttledPeriods: UInt64 = 0
        /// Nanoseconds.
        public var throttledTime: UInt64 = 0
    }

    /// runc's MemoryData: limit, usage, max (peak), failcnt.
    public struct MemoryEntry: Equatable {
        public var limit: UInt64 = 0
        public var usage: UInt64 = 0
        public var max: UInt64 = 0
        public var failcnt: UInt64 = 0
    }

    public struct Memory: Equatable {
        /// memory.stat's "file".
        public var cache: UInt64 = 0
        public var usage = MemoryEntry()
        /// memory+swap, as cgroup v1 counted it (runc adds memory to swap).
        public var swap = MemoryEntry()
        /// memory.stat, key by key, in file order.
        public var raw: [(String, UInt64)] = []
        public static func == (a: Memory, b: Memory) -> Bool {
            a.cache == b.cache && a.usage == b.usage && a.swap == b.swap
                && a.raw.elementsEqual(b.raw) { $0 == $1 }
        }
    }

    public struct Pids: Equatable {
        public var current: UInt64 = 0
        /// 0 when unlimited.
        public var limit: UInt64 = 0
    }

    public struct BlkioEntry: Equatable {
        public var major: UInt64
        public var minor: UInt64
        public var op: String
        public var value: UInt64
    }

    public struct Hugetlb: Equatable {
        public var usage: UInt64 = 0
        /// Max usage: cgroup v2 has none, so 0 (omitted), as runc.
        public var max: UInt64 = 0
        /// hugetlb.<size>.events "max": allocations refused at the limit.
        public var failcnt: UInt64 = 0
    }

    public var cpu = CPU()
    public var memory = Memory()
    public var pids = Pids()
    /// io.stat rbytes/wbytes as "Read"/"Write".
    public var ioServiceBytes: [BlkioEntry] = []
    /// io.stat rios/wios as "Read"/"Write".
    public var ioServiced: [BlkioEntry] = []
    /// Page size ("2MB") → numbers, in page-size order of /sys/kernel/mm/hugepages.
    public var hugetlb: [(String, Hugetlb)] = []

    public init() {}

    public static func == (a: CgroupStats, b: CgroupStats) -> Bool {
        a.cpu == b.cpu && a.memory == b.memory && a.pids == b.pids && a.ioServiceBytes == b.ioServiceBytes
            && a.ioServiced == b.ioServiced && a.hugetlb.elementsEqual(b.hugetlb) { $0 == $1 }
    }
}

/// A stat file that could not be read or parsed (not a missing one).
public struct CgroupStatsError: Error, CustomStringConvertible {
    public var errors: [String]
    public var description: String { "error while statting cgroup v2: [\(errors.joined(separator: " "))]" }
}

extension CgroupStats {
    /// Reads the stats of the cgroup directory `dir`. `hugePageSizes` defaults to the
    /// host's (/sys/kernel/mm/hugepages). Missing files leave zeros; other failures
    /// throw CgroupStatsError carrying what was read.
    public static func read(dir: String, hugePageSizes: [String]? = nil) throws -> CgroupStats {
        var st = CgroupStats()
        var errors: [String] = []
        let reader = StatReader(dir: dir)
        func run(_ f: () throws -> Void) {
            do { try f() } catch let e as SysError where e.errno == ENOENT {
            } catch { errors.append("\(error)") }
        }
        run { try st.readPids(reader) }
        run { try st.readMemory(reader) }
        run { try st.readIO(reader) }
        run { try st.readCPU(reader) }
        run { try st.readHugetlb(reader, sizes: hugePageSizes ?? Self.hostHugePageSizes()) }
        if !errors.isEmpty { throw StatsFailure(stats: st, error: CgroupStatsError(errors: errors)) }
        return st
    }

    /// What `read` throws: the error and what could be read.
    public struct StatsFailure: Error, CustomStringConvertible {
        public var stats: CgroupStats
        public var error: CgroupStatsError
        public var description: String { error.description }
    }

    // MARK: pids (fs2/pids.go statPids)

    mutating func readPids(_ r: StatReader) throws {
        do {
            let current = try r.uint("pids.current")
            let max = try r.uint("pids.max")
            pids = Pids(current: current, limit: max == UInt64.max ? 0 : max)
        } catch let e as SysError where e.errno == ENOENT {
            // No pids controller: count cgroup.procs (cgroup.threads for a threaded cgroup).
            let text: String
            do { text = try r.string("cgroup.procs") } catch let e as SysError where e.errno == EOPNOTSUPP {
                text = try r.string("cgroup.threads")
            }
            pids = Pids(current: UInt64(text.utf8.filter { $0 == UInt8(ascii: "\n") }.count), limit: 0)
        }
    }

    // MARK: memory (fs2/memory.go statMemory)

    mutating func readMemory(_ r: StatReader) throws {
        let text = try r.string("memory.stat")
        var raw: [(String, UInt64)] = []
        for line in text.split(separator: "\n") where !line.isEmpty {
            raw.append(try r.keyValue(line, file: "memory.stat"))
        }
        memory.raw = raw
        memory.cache = raw.first { $0.0 == "file" }?.1 ?? 0
        memory.usage = try Self.memoryData(r, "memory")
        var swap = try Self.memoryData(r, "memory.swap", optional: true)
        // cgroup v1 reported swap as memory+swap; runc keeps that.
        swap.usage &+= memory.usage.usage
        if swap.limit != UInt64.max { swap.limit &+= memory.usage.limit }
        swap.max = 0
        memory.swap = swap
    }

    /// <name>.current, .max and .peak (peak since 5.19, swap.peak since 6.5). Without
    /// swap accounting there is no memory.swap.current: zeros.
    static func memoryData(_ r: StatReader, _ name: String, optional: Bool = false) throws -> MemoryEntry {
        var m = MemoryEntry()
        do { m.usage = try r.uint(name + ".current") } catch let e as SysError where e.errno == ENOENT && optional {
            return MemoryEntry()
        }
        m.limit = try r.uint(name + ".max")
        do { m.max = try r.uint(name + ".peak") } catch let e as SysError where e.errno == ENOENT {}
        return m
    }

    // MARK: io (fs2/io.go statIo)

    mutating func readIO(_ r: StatReader) throws {
        let text = try r.string("io.stat")
        var bytes: [BlkioEntry] = [], serviced: [BlkioEntry] = []
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count >= 2 else { continue }
            let dev = fields[0].split(separator: ":", omittingEmptySubsequences: false)
            guard dev.count == 2 else { continue }
            guard let major = UInt64(dev[0]), let minor = UInt64(dev[1]) else {
                throw RuntimeError("io.stat: bad device \"\(fields[0])\"")
            }
            for item in fields.dropFirst() {
                let kv = item.split(separator: "=", omittingEmptySubsequences: false)
                guard kv.count == 2 else { continue }
                let (op, isBytes): (String, Bool)
                switch kv[0] {
                case "rbytes": (op, isBytes) = ("Read", true)
                case "wbytes": (op, isBytes) = ("Write", true)
                case "rios": (op, isBytes) = ("Read", false)
                case "wios": (op, isBytes) = ("Write", false)
                default: continue  // no cgroup v1 equivalent (dbytes, dios, ...)
                }
                guard let v = UInt64(kv[1]) else { throw RuntimeError("io.stat: bad value \"\(item)\"") }
                let e = BlkioEntry(major: major, minor: minor, op: op, value: v)
                if isBytes { bytes.append(e) } else { serviced.append(e) }
            }
        }
        ioServiceBytes = bytes
        ioServiced = serviced
    }

    // MARK: cpu (fs2/cpu.go statCpu; cpu.stat exists without the cpu controller)

    mutating func readCPU(_ r: StatReader) throws {
        let text = try r.string("cpu.stat")
        for line in text.split(separator: "\n") where !line.isEmpty {
            let (k, v) = try r.keyValue(line, file: "cpu.stat")
            switch k {
            case "usage_usec": cpu.total = v &* 1000
            case "user_usec": cpu.user = v &* 1000
            case "system_usec": cpu.kernel = v &* 1000
            case "nr_periods": cpu.periods = v
            case "nr_throttled": cpu.throttledPeriods = v
            case "throttled_usec": cpu.throttledTime = v &* 1000
            default: break
            }
        }
    }

    // MARK: hugetlb (fs2/hugetlb.go statHugeTlb)

    mutating func readHugetlb(_ r: StatReader, sizes: [String]) throws {
        for size in sizes {
            let prefix = "hugetlb." + size
            var h = Hugetlb()
            // Reservations (5.7+) when the kernel counts them, as current runc.
            do { h.usage = try r.uint(prefix + ".rsvd.current") } catch let e as SysError where e.errno == ENOENT {
                h.usage = try r.uint(prefix + ".current")
            }
            h.failcnt = try r.valueByKey(prefix + ".events", "max")
            hugetlb.append((size, h))
        }
    }

    /// runc's HugePageSizes: /sys/kernel/mm/hugepages/hugepages-<n>kB as "2MB", "1GB",
    /// in directory-name order.
    public static func hostHugePageSizes(_ dir: String = "/sys/kernel/mm/hugepages") -> [String] {
        Files.listDirectory(dir).sorted().compactMap(hugePageSizeName)
    }

    /// "hugepages-2048kB" → "2MB" (go-units CustomSize("%g%s", bytes, 1024, B KB MB GB TB PB)).
    public static func hugePageSizeName(_ file: String) -> String? {
        guard file.hasPrefix("hugepages-"), file.hasSuffix("kB"),
              let kb = UInt64(file.dropFirst("hugepages-".count).dropLast(2)) else { return nil }
        var size = Double(kb) * 1024
        let units = ["B", "KB", "MB", "GB", "TB", "PB"]
        var i = 0
        while size >= 1024 && i < units.count - 1 {
            size /= 1024
            i += 1
        }
        let text = size == size.rounded() ? String(UInt64(size)) : String(size)
        return text + units[i]
    }
}

/// Reads the files of one cgroup directory, numbers as runc's fscommon parses them.
struct StatReader {
    let dir: String

    func string(_ file: String) throws -> String {
        try Files.readString(dir + "/" + file)
    }

    /// GetCgroupParamUint: "max" is UInt64.max; a negative number is 0.
    func uint(_ file: String) throws -> UInt64 {
        try parse(CgroupWriter.trimmed(try string(file)), file: file)
    }

    /// GetValueByKey: the value of the line "key value"; 0 when there is no such line.
    func valueByKey(_ file: String, _ key: String) throws -> UInt64 {
        for line in try string(file).split(separator: "\n") {
            let f = line.split(separator: " ")
            if f.count == 2 && f[0] == key { return try parse(f[1], file: file) }
        }
        return 0
    }

    /// ParseKeyValue: "key value".
    func keyValue(_ line: Substring, file: String) throws -> (String, UInt64) {
        let f = line.split(separator: " ")
        guard f.count == 2 else { throw RuntimeError("\(dir)/\(file): line \"\(line)\" is not \"key value\"") }
        return (String(f[0]), try parse(f[1], file: file))
    }

    func parse(_ s: Substring, file: String) throws -> UInt64 {
        if s == "max" { return UInt64.max }
        if let v = UInt64(s) { return v }
        if s.hasPrefix("-"), s.count > 1, s.dropFirst().utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) { return 0 }
        throw RuntimeError("\(dir)/\(file): bad value \"\(s)\"")
    }
}

// MARK: - runc's JSON

extension CgroupStats {
    /// The `data` of a stats event, in runc's types.Stats shape: every top-level key
    /// (cpu, cpuset, memory, pids, blkio, hugetlb, intel_rdt, network_interfaces),
    /// numbers with `omitempty` dropped when zero. Object keys of Go maps (raw,
    /// hugetlb) are sorted, as encoding/json sorts them.
    public var json: JSON {
        func put(_ o: inout JSONObject, _ key: String, _ v: UInt64, omitEmpty: Bool) {
            if v != 0 || !omitEmpty { o[key] = .int(v) }
        }
        var usage = JSONObject()
        put(&usage, "total", cpu.total, omitEmpty: true)
        put(&usage, "kernel", cpu.kernel, omitEmpty: false)
        put(&usage, "user", cpu.user, omitEmpty: false)
        var throttling = JSONObject()
        put(&throttling, "periods", cpu.periods, omitEmpty: true)
        put(&throttling, "throttledPeriods", cpu.throttledPeriods, omitEmpty: true)
        put(&throttling, "throttledTime", cpu.throttledTime, omitEmpty: true)
        let cpuJSON = JSONObject([("usage", .object(usage)), ("throttling", .object(throttling))])

        // cgroup v2 has no v1 cpuset statistics: runc prints the zero struct.
        var cpuset = JSONObject()
        for key in ["cpu_exclusive", "mem_hardwall", "mem_exclusive", "memory_migrate", "memory_spread_page",
                    "memory_spread_slab", "memory_pressure", "sched_load_balance", "sched_relax_domain_level"] {
            cpuset[key] = .int(0)
        }

        func entry(_ m: MemoryEntry) -> JSON {
            var o = JSONObject()
            o["limit"] = .int(m.limit)
            put(&o, "usage", m.usage, omitEmpty: true)
            put(&o, "max", m.max, omitEmpty: true)
            o["failcnt"] = .int(m.failcnt)
            return .object(o)
        }
        var mem = JSONObject()
        put(&mem, "cache", memory.cache, omitEmpty: true)
        mem["usage"] = entry(memory.usage)
        mem["swap"] = entry(memory.swap)
        mem["kernel"] = entry(MemoryEntry())
        mem["kernelTCP"] = entry(MemoryEntry())
        if !memory.raw.isEmpty {
            var seen = Set<String>()
            var pairs: [(String, JSON)] = []
            for (k, v) in memory.raw.reversed() where seen.insert(k).inserted { pairs.append((k, .int(v))) }
            mem["raw"] = .object(JSONObject(pairs.sorted { $0.0 < $1.0 }))
        }

        var pidsJSON = JSONObject()
        put(&pidsJSON, "current", pids.current, omitEmpty: true)
        put(&pidsJSON, "limit", pids.limit, omitEmpty: true)

        func blkio(_ list: [BlkioEntry]) -> JSON {
            .array(list.map { e in
                var o = JSONObject()
                put(&o, "major", e.major, omitEmpty: true)
                put(&o, "minor", e.minor, omitEmpty: true)
                if !e.op.isEmpty { o["op"] = .string(e.op) }
                put(&o, "value", e.value, omitEmpty: true)
                return .object(o)
            })
        }
        var blk = JSONObject()
        if !ioServiceBytes.isEmpty { blk["ioServiceBytesRecursive"] = blkio(ioServiceBytes) }
        if !ioServiced.isEmpty { blk["ioServicedRecursive"] = blkio(ioServiced) }

        var huge: [(String, JSON)] = []
        for (size, h) in hugetlb where !huge.contains(where: { $0.0 == size }) {
            var o = JSONObject()
            put(&o, "usage", h.usage, omitEmpty: true)
            put(&o, "max", h.max, omitEmpty: true)
            o["failcnt"] = .int(h.failcnt)
            huge.append((size, .object(o)))
        }

        var d = JSONObject()
        d["cpu"] = .object(cpuJSON)
        d["cpuset"] = .object(cpuset)
        d["memory"] = .object(mem)
        d["pids"] = .object(pidsJSON)
        d["blkio"] = .object(blk)
        d["hugetlb"] = .object(JSONObject(huge.sorted { $0.0 < $1.0 }))
        d["intel_rdt"] = .object(JSONObject())
        d["network_interfaces"] = .null
        return .object(d)
    }

    /// One line of `events`: {"type":"stats","id":ID,"data":{...}}.
    public static func event(type: String, id: String, data: JSON? = nil) -> String {
        var o = JSONObject()
        o["type"] = .string(type)
        o["id"] = .string(id)
        if let data { o["data"] = data }
        return JSON.object(o).serialized()
    }
}
