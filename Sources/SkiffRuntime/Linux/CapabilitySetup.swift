import Glibc
import CSkiffInit

/// process.capabilities applied with raw prctl/capset, in runc's order: the bounding
/// set is dropped and KEEPCAPS set before the uid change, the other sets after it.
public struct CapabilitySetup {
    let bounding: UInt64, effective: UInt64, permitted: UInt64, inheritable: UInt64
    let ambient: [Int]
    let lastCap: Int

    /// The kernel's last capability, probed with PR_CAPBSET_READ (EINVAL past it): the
    /// container's /proc/sys/kernel/cap_last_cap can be faked by a mount, and a small
    /// value there would leave the bounding set undropped above it.
    static func lastCapability() -> Int {
        var last = 0
        while last < 63 && skiff_prctl(PR_CAPBSET_READ, UInt(last + 1), 0, 0, 0) >= 0 { last += 1 }
        return last
    }

    /// Names the running kernel does not know are ignored, as runc does.
    public init(_ caps: Spec.Capabilities) {
        let last = CapabilitySetup.lastCapability()
        func mask(_ names: [String]) -> UInt64 {
            names.reduce(0) { m, n in
                guard let c = Capabilities.number(of: n), c <= last else { return m }
                return m | (1 << UInt64(c))
            }
        }
        bounding = mask(caps.bounding)
        effective = mask(caps.effective)
        permitted = mask(caps.permitted)
        inheritable = mask(caps.inheritable)
        ambient = caps.ambient.compactMap { Capabilities.number(of: $0) }.filter { $0 <= last }
        lastCap = last
    }

    public func beforeUserChange() throws {
        for c in 0...lastCap where bounding & (1 << UInt64(c)) == 0 {
            if skiff_prctl(PR_CAPBSET_DROP, UInt(c), 0, 0, 0) != 0 && errno != EINVAL {
                throw SysError(errno, "drop bounding capability \(Capabilities.names[c])")
            }
        }
        if skiff_prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0 { throw SysError(errno, "prctl(PR_SET_KEEPCAPS)") }
    }

    public func afterUserChange() throws {
        _ = skiff_prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0)
        if skiff_capset(effective, permitted, inheritable) != 0 { throw SysError(errno, "capset") }
        for c in ambient {
            // The kernel raises an ambient cap only if it is permitted and inheritable;
            // runc's own default spec lists ambient caps without inheritable ones, and runc
            // tolerates that, so we skip such a cap rather than fail (EPERM).
            if skiff_prctl(PR_CAP_AMBIENT, UInt(PR_CAP_AMBIENT_RAISE), UInt(c), 0, 0) != 0 && errno != EPERM {
                throw SysError(errno, "raise ambient capability \(Capabilities.names[c])")
            }
        }
    }
}
