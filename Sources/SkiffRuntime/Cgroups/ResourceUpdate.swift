// `skiff update`: the update read from flags or a linux.resources JSON document,
// merged into the container's saved linux.resources the way runc's update.go merges
// it into its saved config (runc 1.2+; github.com/opencontainers/runc update.go).
// Pure: nothing here touches the filesystem.
//
// runc's merge, field by field (U = the update, S = the saved resources):
//   memory.limit / reservation / swap      set when U names them
//   memory.limit == -1 without swap        swap becomes 0 (unlimited with it)
//   memory.checkBeforeUpdate               U's value, false when U omits it
//   memory.kernel / kernelTCP              ignored with a warning
//   cpu.shares, realtimePeriod/Runtime     set when U names them
//   cpu.idle without cpu.shares            shares dropped (cpu.weight not written)
//   cpu.period / cpu.quota                 both or neither: both taken from U (0 drops
//                                          them); just one: that one, the other kept
//   cpu.burst, cpu.idle, cpu.cpus,         taken from U as they are: omitted in U
//   cpu.mems, pids.limit, unified          means dropped from S, so not written again
//                                          (the kernel keeps its value)
//   blockIO.weight / leafWeight            set when U names them
//   blockIO.weightDevice, throttle*        upserted by major:minor (the last match)
// runc's update ignores everything else. skiff also takes:
//   hugepageLimits                         upserted by pageSize
//   rdma                                   upserted by device name
//   devices                                replaced as a whole (a new device program)
// and warns that network and the v1-only memory fields are ignored.

/// A `skiff update` request: the resources to merge and whether device rules came with it.
public struct ResourceUpdate {
    /// The update as a linux.resources object.
    public var resources: JSONObject
    /// Where errors about `resources` point ("resources" for --resources, or a flag).
    public var source: String

    public init(resources: JSONObject, source: String = "resources") {
        self.resources = resources
        self.source = source
    }

    /// Whether the update carries device rules (a new device program is attached).
    public var hasDevices: Bool { resources["devices"] != nil && resources["devices"] != .null }
}

extension ResourceUpdate {
    /// The update's command-line flags, as skiff's parser hands them over (name without
    /// dashes → value). Only the flags given are present.
    public static let flagNames = [
        "blkio-weight", "cpu-period", "cpu-quota", "cpu-burst", "cpu-share", "cpu-rt-period",
        "cpu-rt-runtime", "cpuset-cpus", "cpuset-mems", "cpu-idle", "memory", "memory-reservation",
        "memory-swap", "kernel-memory", "kernel-memory-tcp", "pids-limit",
    ]

    /// Builds the update from flags, with runc's parsing: sizes as docker's
    /// units.RAMInBytes (or "-1"), unsigned and signed decimal integers for the cpu
    /// values. An empty value means "not given" (as runc's `val != ""`).
    /// Errors name the flag: `invalid value for memory: invalid size: '64x'`.
    public static func fromFlags(_ flags: [String: String]) throws -> ResourceUpdate {
        var memory = JSONObject(), cpu = JSONObject(), blockIO = JSONObject(), pids = JSONObject()
        func given(_ name: String) -> String? {
            guard let v = flags[name], !v.isEmpty else { return nil }
            return v
        }

        if let v = given("blkio-weight") {
            // runc: an int flag, 0 is "not given"; uint16(val) would wrap, so refuse instead.
            guard let w = Int64(v) else { throw FlagValueError("blkio-weight", "strconv.ParseInt: parsing \"\(v)\": invalid syntax") }
            if w != 0 {
                guard w >= 10 && w <= 1000 else { throw FlagValueError("blkio-weight", "\(w) is out of range (10-1000)") }
                blockIO["weight"] = .int(w)
            }
        }
        if let v = given("cpuset-cpus") { cpu["cpus"] = .string(v) }
        if let v = given("cpuset-mems") { cpu["mems"] = .string(v) }
        if let v = given("cpu-idle") { cpu["idle"] = .int(try parseInt(v, flag: "cpu-idle")) }
        for (flag, key) in [("cpu-burst", "burst"), ("cpu-period", "period"), ("cpu-rt-period", "realtimePeriod"), ("cpu-share", "shares")] {
            if let v = given(flag) { cpu[key] = .int(try parseUint(v, flag: flag)) }
        }
        for (flag, key) in [("cpu-quota", "quota"), ("cpu-rt-runtime", "realtimeRuntime")] {
            if let v = given(flag) { cpu[key] = .int(try parseInt(v, flag: flag)) }
        }
        for (flag, key) in [("memory", "limit"), ("memory-swap", "swap"), ("kernel-memory", "kernel"),
                            ("kernel-memory-tcp", "kernelTCP"), ("memory-reservation", "reservation")] {
            if let v = given(flag) {
                do { memory[key] = .int(v == "-1" ? -1 : try ramInBytes(v)) } catch let e as SizeError {
                    throw FlagValueError(flag, e.description)
                }
            }
        }
        if let v = flags["pids-limit"] {  // runc: cmd.IsSet, so "0" counts
            guard let n = Int64(v) else { throw FlagValueError("pids-limit", "strconv.ParseInt: parsing \"\(v)\": invalid syntax") }
            pids["limit"] = .int(n)
        }

        var r = JSONObject()
        if !memory.isEmpty { r["memory"] = .object(memory) }
        if !cpu.isEmpty { r["cpu"] = .object(cpu) }
        if !blockIO.isEmpty { r["blockIO"] = .object(blockIO) }
        if !pids.isEmpty { r["pids"] = .object(pids) }
        return ResourceUpdate(resources: r, source: "update")
    }

    /// Reads a `--resources` document (a linux.resources object). Errors name the field
    /// under `resources`.
    public static func fromDocument(_ bytes: [UInt8], source: String = "resources") throws -> ResourceUpdate {
        let json: JSON
        do { json = try JSONParser.parse(bytes) } catch let e as JSONSyntaxError {
            throw ConfigError(source, "\(e)")
        }
        guard case .object(let o) = json else {
            throw ConfigError(source, "expected a linux.resources object, got \(CgroupResources.kind(json))")
        }
        let u = ResourceUpdate(resources: o, source: source)
        try u.validate()
        return u
    }

    /// Type-checks the update as linux.resources (the same reader as create), and
    /// its device rules.
    public func validate() throws {
        _ = try CgroupResources(raw: resources, path: source)
        _ = try Spec.DeviceRule.parseList(JSONNode(.object(resources), path: source)["devices"])
    }
}

// MARK: - Merging

extension ResourceUpdate {
    /// The merged resources and the warnings to log.
    public struct Merged {
        public var resources: JSONObject
        public var warnings: [String]
    }

    /// Merges the update into `saved` (the container's linux.resources) as runc does;
    /// see the table at the top of this file.
    public func merge(into saved: JSONObject) -> Merged {
        var s = saved
        var warnings: [String] = []
        let u = resources

        // memory
        let um = u["memory"]?.objectValue ?? JSONObject()
        var sm = s["memory"]?.objectValue ?? JSONObject()
        for key in ["limit", "reservation", "swap"] {
            if let v = um[key], v != .null { sm[key] = v }
        }
        if um["limit"] == .int(-1) && (um["swap"] == nil || um["swap"] == .null) {
            sm["swap"] = .int(0)  // runc: avoid "unable to set swap limit without memory limit"
        }
        if case .bool(true)? = um["checkBeforeUpdate"] { sm["checkBeforeUpdate"] = .bool(true) } else { sm["checkBeforeUpdate"] = nil }
        if um["kernel"] != nil || um["kernelTCP"] != nil {
            warnings.append("Kernel memory settings are ignored and will be removed")
        }
        for key in ["swappiness", "disableOOMKiller", "useHierarchy"] where um[key] != nil {
            warnings.append("\(source).memory.\(key): not changed by update (as runc)")
        }
        s["memory"] = sm.isEmpty ? nil : .object(sm)

        // cpu
        let uc = u["cpu"]?.objectValue ?? JSONObject()
        var sc = s["cpu"]?.objectValue ?? JSONObject()
        for key in ["shares", "realtimePeriod", "realtimeRuntime"] {
            if let v = uc[key], v != .null { sc[key] = v }
        }
        if uc["idle"] != nil && uc["idle"] != .null && (uc["shares"] == nil || uc["shares"] == .null) {
            sc["shares"] = nil  // runc sets shares 0 so that cpu.weight is not written with cpu.idle
        }
        let p = uc["period"]?.numberText.flatMap { UInt64($0) } ?? 0
        let q = uc["quota"]?.numberText.flatMap { Int64($0) } ?? 0
        if (p == 0) == (q == 0) {
            sc["period"] = p == 0 ? nil : .int(p)
            sc["quota"] = q == 0 ? nil : .int(q)
        } else if p != 0 {
            sc["period"] = .int(p)
        } else {
            sc["quota"] = .int(q)
        }
        for key in ["burst", "idle"] { sc[key] = uc[key] == .null ? nil : uc[key] }
        for key in ["cpus", "mems"] {
            if case .string(let v)? = uc[key], !v.isEmpty { sc[key] = .string(v) } else { sc[key] = nil }
        }
        s["cpu"] = sc.isEmpty ? nil : .object(sc)

        // blockIO
        if let ub = u["blockIO"]?.objectValue {
            var sb = s["blockIO"]?.objectValue ?? JSONObject()
            for key in ["weight", "leafWeight"] {
                if let v = ub[key], v != .null { sb[key] = v }
            }
            if let devs = ub["weightDevice"]?.arrayValue {
                var list = sb["weightDevice"]?.arrayValue ?? []
                for d in devs { Self.upsertWeightDevice(&list, d) }
                sb["weightDevice"] = .array(list)
            }
            for key in ["throttleReadBpsDevice", "throttleWriteBpsDevice", "throttleReadIOPSDevice", "throttleWriteIOPSDevice"] {
                guard let devs = ub[key]?.arrayValue else { continue }
                var list = sb[key]?.arrayValue ?? []
                for d in devs { Self.upsertThrottleDevice(&list, d) }
                sb[key] = .array(list)
            }
            s["blockIO"] = sb.isEmpty ? nil : .object(sb)
        }

        // pids and unified: taken as they are.
        if case .object(let up)? = u["pids"], let limit = up["limit"], limit != .null {
            s["pids"] = .object(JSONObject([("limit", limit)]))
        } else {
            s["pids"] = nil
        }
        if case .object(let uu)? = u["unified"], !uu.isEmpty { s["unified"] = .object(uu) } else { s["unified"] = nil }

        // skiff: hugepageLimits and rdma upserted, devices replaced.
        if let hs = u["hugepageLimits"]?.arrayValue {
            var list = s["hugepageLimits"]?.arrayValue ?? []
            for h in hs {
                let size = h.objectValue?["pageSize"]
                if let i = list.lastIndex(where: { $0.objectValue?["pageSize"] == size }) { list[i] = h } else { list.append(h) }
            }
            s["hugepageLimits"] = .array(list)
        }
        if case .object(let ur)? = u["rdma"] {
            var sr = s["rdma"]?.objectValue ?? JSONObject()
            for (dev, v) in ur.pairs { sr[dev] = v }
            s["rdma"] = .object(sr)
        }
        if hasDevices { s["devices"] = u["devices"] }
        if let n = u["network"], n != .null {
            warnings.append("\(source).network: not changed by update (as runc; cgroup v2 has no net_cls/net_prio)")
        }
        return Merged(resources: s, warnings: warnings)
    }

    /// runc's upsertWeightDevice: the last entry for major:minor gets the weights the
    /// update names; a new device is appended.
    static func upsertWeightDevice(_ list: inout [JSON], _ d: JSON) {
        guard let o = d.objectValue else { return }
        if let i = list.lastIndex(where: { Self.sameDevice($0, d) }), var cur = list[i].objectValue {
            for key in ["weight", "leafWeight"] {
                if let v = o[key], v != .null { cur[key] = v }
            }
            list[i] = .object(cur)
        } else {
            list.append(d)
        }
    }

    /// runc's upsertThrottleDevice: the last entry for major:minor gets the new rate.
    static func upsertThrottleDevice(_ list: inout [JSON], _ d: JSON) {
        if let i = list.lastIndex(where: { Self.sameDevice($0, d) }) { list[i] = d } else { list.append(d) }
    }

    static func sameDevice(_ a: JSON, _ b: JSON) -> Bool {
        guard let x = a.objectValue, let y = b.objectValue else { return false }
        return x["major"]?.numberText.flatMap { Int64($0) } == y["major"]?.numberText.flatMap { Int64($0) }
            && x["minor"]?.numberText.flatMap { Int64($0) } == y["minor"]?.numberText.flatMap { Int64($0) }
    }
}

// MARK: - Value parsing

/// A bad flag value, in runc's words: `invalid value for cpu-period: ...`.
public struct FlagValueError: Error, CustomStringConvertible, Equatable {
    public let flag: String
    public let reason: String
    public init(_ flag: String, _ reason: String) {
        self.flag = flag
        self.reason = reason
    }
    public var description: String { "invalid value for \(flag): \(reason)" }
}

public struct SizeError: Error, CustomStringConvertible, Equatable {
    public let description: String
}

extension ResourceUpdate {
    /// docker/go-units RAMInBytes as runc 1.1 vendors it: `^(\d+(\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$`,
    /// binary multipliers (k = 1024), the product truncated to an integer.
    public static func ramInBytes(_ s: String) throws -> Int64 {
        let bad = SizeError(description: "invalid size: '\(s)'")
        let u = Array(s.utf8)
        var i = 0
        func isDigit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }
        // (\d+(\.\d+)*)
        let numStart = i
        guard i < u.count, isDigit(u[i]) else { throw bad }
        while i < u.count, isDigit(u[i]) { i += 1 }
        while i + 1 < u.count, u[i] == UInt8(ascii: "."), isDigit(u[i + 1]) {
            i += 1
            while i < u.count, isDigit(u[i]) { i += 1 }
        }
        let num = String(decoding: u[numStart..<i], as: UTF8.self)
        if i < u.count, u[i] == UInt8(ascii: " ") { i += 1 }
        var multiplier: Double = 1
        if i < u.count, let power = [UInt8(ascii: "k"): 1, UInt8(ascii: "m"): 2, UInt8(ascii: "g"): 3,
                                     UInt8(ascii: "t"): 4, UInt8(ascii: "p"): 5][u[i] | 0x20] {
            multiplier = Double(Int64(1) << (10 * power))
            i += 1
        }
        if i < u.count, u[i] | 0x20 == UInt8(ascii: "i") { i += 1 }
        if i < u.count, u[i] | 0x20 == UInt8(ascii: "b") { i += 1 }
        guard i == u.count else { throw bad }
        // Go's ParseFloat refuses "1.2.3" (the regex lets it through).
        guard num.utf8.filter({ $0 == UInt8(ascii: ".") }).count <= 1, let value = Double(num) else {
            throw SizeError(description: "strconv.ParseFloat: parsing \"\(num)\": invalid syntax")
        }
        let bytes = value * multiplier
        guard bytes < 9.223372036854775807e18 else {
            throw SizeError(description: "size '\(s)' is out of range (at most 2^63-1 bytes)")
        }
        return Int64(bytes)
    }

    /// strconv.ParseUint(v, 10, 64), with Go's error text.
    static func parseUint(_ v: String, flag: String) throws -> UInt64 {
        if let n = UInt64(v), !v.hasPrefix("+") { return n }
        let digits = !v.isEmpty && v.utf8.allSatisfy { $0 >= 48 && $0 <= 57 }
        throw FlagValueError(flag, "strconv.ParseUint: parsing \"\(v)\": \(digits ? "value out of range" : "invalid syntax")")
    }

    /// strconv.ParseInt(v, 10, 64), with Go's error text.
    static func parseInt(_ v: String, flag: String) throws -> Int64 {
        if let n = Int64(v) { return n }
        let body = v.hasPrefix("-") || v.hasPrefix("+") ? v.dropFirst() : Substring(v)
        let digits = !body.isEmpty && body.utf8.allSatisfy { $0 >= 48 && $0 <= 57 }
        throw FlagValueError(flag, "strconv.ParseInt: parsing \"\(v)\": \(digits ? "value out of range" : "invalid syntax")")
    }
}

extension JSON {
    var objectValue: JSONObject? {
        if case .object(let o) = self { return o }
        return nil
    }

    var arrayValue: [JSON]? {
        if case .array(let a) = self { return a }
        return nil
    }

    var numberText: String? {
        if case .number(let n) = self { return n }
        return nil
    }
}
