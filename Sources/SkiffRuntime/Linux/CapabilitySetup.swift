import Glibc
import CSkiffInit

/// process.capabilities applied with raw prctl/capset, in runc's order: the bounding
/// set is dropped and KEEPCAPS set before the uid change, the other sets after it.
/// The masks are computed by the parent (LaunchPlan); the init only applies them.
public struct CapabilitySetup: Equatable {
    public let bounding: UInt64, effective: UInt64, permitted: UInt64, inheritable: UInt64
    /// Raised one by one, in config order.
    public let ambient: [Int]
    public let lastCap: Int
    /// Names skiff knows but the kernel does not (above cap_last_cap), sorted, once each.
    public let unavailable: [String]

    /// The kernel's last capability, probed with PR_CAPBSET_READ (EINVAL past it): the
    /// container's /proc/sys/kernel/cap_last_cap can be faked by a mount, and a small
    /// value there would leave the bounding set undropped above it.
    static func lastCapability() -> Int {
        // PR_CAPBSET_READ fails (EINVAL) exactly for numbers above the last: binary search,
        // 6 calls instead of one per capability.
        var lo = 0, hi = 63  // cap 0 always exists; the answer is in lo...hi
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if skiff_prctl(PR_CAPBSET_READ, UInt(mid), 0, 0, 0) >= 0 { lo = mid } else { hi = mid - 1 }
        }
        return lo
    }

    /// Unknown names were refused by Validation. Names the running kernel lacks are left
    /// out, as runc does ("ignoring unknown or unavailable capabilities"): a config written
    /// for a newer kernel still runs.
    public init(_ caps: Spec.Capabilities, lastCap: Int) {
        var skipped = Set<String>()
        func numbers(_ names: [String]) -> [Int] {
            names.compactMap { n in
                guard let c = Capabilities.number(of: n) else { return nil }
                if c > lastCap { skipped.insert(n); return nil }
                return c
            }
        }
        func mask(_ names: [String]) -> UInt64 { numbers(names).reduce(0) { $0 | (1 << UInt64($1)) } }
        bounding = mask(caps.bounding)
        effective = mask(caps.effective)
        permitted = mask(caps.permitted)
        inheritable = mask(caps.inheritable)
        ambient = numbers(caps.ambient)
        self.lastCap = lastCap
        unavailable = skipped.sorted()
    }

    public func beforeUserChange() throws {
        for c in 0...lastCap where bounding & (1 << UInt64(c)) == 0 {
            if skiff_prctl(PR_CAPBSET_DROP, UInt(c), 0, 0, 0) != 0 && errno != EINVAL {
                throw SysError(errno, "drop bounding capability \(Capabilities.names[c])")
            }
        }
        if skiff_prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0 { throw SysError(errno, "prctl(PR_SET_KEEPCAPS)") }
    }

    /// An ambient capability the kernel would not raise, and why.
    public struct AmbientRefusal: Equatable {
        public var capability: Int
        public var errno: Int32

        public var message: String {
            "can't raise ambient capability \(Capabilities.names[capability]): \(String(cString: strerror(errno)))"
        }
    }

    /// Returns each ambient capability the kernel would not raise: as numbers, so that a
    /// process that logs nothing formats nothing (runc's default spec causes them every run).
    public func afterUserChange() throws -> [AmbientRefusal] {
        _ = skiff_prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0)
        if skiff_capset(effective, permitted, inheritable) != 0 {
            // The kernel's rules (capset(2)): effective within permitted, permitted within
            // what we hold, inheritable within bounding (we hold no inheritable caps).
            throw SysError(errno, "capset (effective must be within permitted and inheritable within bounding)")
        }
        // Nothing the runtime itself carried in its ambient set reaches the container.
        if skiff_prctl(PR_CAP_AMBIENT, UInt(PR_CAP_AMBIENT_CLEAR_ALL), 0, 0, 0) != 0 && errno != EINVAL {
            throw SysError(errno, "clear ambient capabilities")
        }
        var refused: [AmbientRefusal] = []
        for c in ambient where skiff_prctl(PR_CAP_AMBIENT, UInt(PR_CAP_AMBIENT_RAISE), UInt(c), 0, 0) != 0 {
            // The kernel raises an ambient cap only if it is permitted and inheritable. runc
            // warns and goes on (its own default spec lists ambient caps without inheritable
            // ones), so a config that runs under runc runs here.
            refused.append(AmbientRefusal(capability: c, errno: errno))
        }
        return refused
    }
}
