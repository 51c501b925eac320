/// Unit properties for the systemd driver, read off the cgroupfs plan so that both drivers
/// share one set of conversions. systemd then keeps them across daemon-reload; skiff still
/// writes every file itself afterwards (the scope is delegated), as runc's driver does.
enum SystemdProperties {
    static let infinity = UInt64.max

    static func from(_ plan: CgroupPlan) -> [(String, DBusValue)] {
        var props: [(String, DBusValue)] = []
        func limit(_ v: String) -> UInt64? { v == "max" ? infinity : UInt64(v) }
        for w in plan.writes {
            switch w.file {
            case "memory.max": if let v = limit(w.value) { props.append(("MemoryMax", .uint64(v))) }
            case "memory.low": if let v = limit(w.value) { props.append(("MemoryLow", .uint64(v))) }
            case "memory.swap.max": if let v = limit(w.value) { props.append(("MemorySwapMax", .uint64(v))) }
            case "pids.max": if let v = limit(w.value) { props.append(("TasksMax", .uint64(v))) }
            case "cpu.weight": if let v = UInt64(w.value) { props.append(("CPUWeight", .uint64(v))) }
            case "cpu.max": props += cpuMax(w.value)
            case "cpuset.cpus": if let m = bitmask(w.value) { props.append(("AllowedCPUs", .bytes(m))) }
            case "cpuset.mems": if let m = bitmask(w.value) { props.append(("AllowedMemoryNodes", .bytes(m))) }
            case "io.bfq.weight":
                if case .blkioWeight(let io?) = w.mode, let v = UInt64(io) { props.append(("IOWeight", .uint64(v))) }
            default: break
            }
        }
        return props
    }

    /// "quota period" → CPUQuotaPerSecUSec, rounded up to systemd's 10 ms steps (as runc).
    static func cpuMax(_ value: String) -> [(String, DBusValue)] {
        let f = value.split(separator: " ")
        guard f.count == 2, let period = UInt64(f[1]), period > 0 else { return [] }
        var out: [(String, DBusValue)] = [("CPUQuotaPeriodUSec", .uint64(period))]
        if let quota = UInt64(f[0]) {
            out.append(("CPUQuotaPerSecUSec", .uint64(quotaPerSecond(quota, period: period))))
        } else {
            out.append(("CPUQuotaPerSecUSec", .uint64(infinity)))
        }
        return out
    }

    static let microsPerSecond: UInt64 = 1_000_000
    /// systemd's CPUQuotaPerSecUSec granularity.
    static let quotaStep: UInt64 = 10_000

    /// quota/period as µs per second, rounded up to quotaStep; a quota past what 64 bits
    /// hold (more CPUs than any machine has) is no limit.
    static func quotaPerSecond(_ quota: UInt64, period: UInt64) -> UInt64 {
        let product = quota.multipliedFullWidth(by: microsPerSecond)
        guard product.high < period else { return infinity }
        let perSec = period.dividingFullWidth(product).quotient
        let steps = perSec / quotaStep + (perSec % quotaStep == 0 ? 0 : 1)
        let (rounded, overflow) = steps.multipliedReportingOverflow(by: quotaStep)
        return overflow ? infinity : rounded
    }

    /// A cpuset list ("0-3,8") as systemd's byte mask: bit n of byte n/8.
    static func bitmask(_ list: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        for part in list.split(separator: ",") {
            let r = part.split(separator: "-", omittingEmptySubsequences: false)
            guard r.count <= 2, let lo = Int(r[0].trimmingSpaces()), let hi = Int((r.count > 1 ? r[1] : r[0]).trimmingSpaces()),
                  lo <= hi, hi < 8192 else { return nil }
            for n in lo...hi {
                while bytes.count <= n / 8 { bytes.append(0) }
                bytes[n / 8] |= 1 << UInt8(n % 8)
            }
        }
        return bytes.isEmpty ? nil : bytes
    }
}
