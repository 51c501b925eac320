import Glibc
import CSeccomp
import CSkiffInit

/// linux.seccomp compiled by libseccomp into a BPF program. skiff compiles it in the
/// runtime (before anything is created, so errors leave nothing behind) and the init
/// loads it with seccomp(2) itself: that gives every SECCOMP_FILTER_FLAG_*, including
/// WAIT_KILLABLE_RECV, which libseccomp 2.5 cannot set.
public struct SeccompFilter {
    /// struct sock_filter[] as the kernel wants it.
    public let program: [UInt8]
    public let flags: UInt32
    public let listenerPath: String?
    public let metadata: String?

    static let flagNewListener: UInt32 = 1 << 3
    static let flagTsyncESRCH: UInt32 = 1 << 4
    static let flagWaitKillableRecv: UInt32 = 1 << 5

    public var instructionCount: Int { program.count / 8 }

    public static func compile(_ s: Spec.Seccomp) throws -> SeccompFilter {
        guard let ctx = seccomp_init(s.defaultAction.value) else {
            throw ConfigError("linux.seccomp.defaultAction", "libseccomp cannot make a filter with \(s.defaultAction.kind.rawValue)")
        }
        defer { seccomp_release(ctx) }
        for (i, name) in s.architectures.enumerated() {
            let lib = Spec.seccompArchitectures.first { $0.0 == name }!.1
            let token = seccomp_arch_resolve_name(lib)
            if token == 0 { throw ConfigError("linux.seccomp.architectures[\(i)]", "libseccomp does not know \(name)") }
            let rc = seccomp_arch_add(ctx, token)
            if rc != 0 && rc != -EEXIST {
                throw ConfigError("linux.seccomp.architectures[\(i)]", "cannot add \(name): \(String(cString: strerror(-rc)))")
            }
        }
        for (i, rule) in s.syscalls.enumerated() {
            // libseccomp refuses a rule that repeats the default action; it changes nothing anyway.
            if rule.action.value == s.defaultAction.value { continue }
            for name in rule.names {
                let nr = seccomp_syscall_resolve_name(name)
                // Unknown to this libseccomp: skipped, as runc does, so one profile serves many kernels.
                if nr == __NR_SCMP_ERROR { continue }
                try add(ctx, rule, nr, "linux.seccomp.syscalls[\(i)]", name)
            }
        }
        var flags: UInt32 = 0
        for f in s.flags { flags |= Spec.seccompFlags.first { $0.0 == f }!.1 }
        if !s.usesNotify {
            // It only changes how a notifying task waits; the kernel refuses it without a listener.
            flags &= ~flagWaitKillableRecv
        } else {
            flags |= flagNewListener
            // TSYNC and NEW_LISTENER are exclusive unless TSYNC_ESRCH says how to report failure.
            if flags & 1 != 0 { flags |= flagTsyncESRCH }
        }
        return SeccompFilter(program: try export(ctx), flags: flags,
                             listenerPath: s.usesNotify ? s.listenerPath : nil, metadata: s.listenerMetadata)
    }

    /// One rule per syscall; libseccomp ANDs the conditions of a rule, and refuses two
    /// on the same argument, so those become separate rules (OR), as runc does.
    private static func add(_ ctx: scmp_filter_ctx, _ rule: Spec.SeccompRule, _ nr: Int32, _ path: String, _ name: String) throws {
        let conds = rule.args.map { a in
            scmp_arg_cmp(arg: a.index, op: scmp_compare(a.op.number), datum_a: a.value, datum_b: a.valueTwo)
        }
        let indices = Set(rule.args.map(\.index))
        let groups = indices.count == rule.args.count ? [conds] : conds.map { [$0] }
        for g in groups {
            let rc = g.withUnsafeBufferPointer {
                seccomp_rule_add_array(ctx, rule.action.value, nr, UInt32($0.count), $0.baseAddress)
            }
            if rc != 0 {
                throw ConfigError(path, "libseccomp rejected the rule for \(name): \(String(cString: strerror(-rc)))")
            }
        }
    }

    private static func export(_ ctx: scmp_filter_ctx) throws -> [UInt8] {
        let fd = try sys("memfd_create") { skiff_memfd_create("skiff-seccomp", 1 /* MFD_CLOEXEC */) }
        defer { close(fd) }
        let rc = seccomp_export_bpf(ctx, fd)
        if rc != 0 { throw SysError(-rc, "export the seccomp filter") }
        let size = Int(lseek(fd, 0, SEEK_END))
        var out = [UInt8](repeating: 0, count: size)
        let n = out.withUnsafeMutableBytes { pread(fd, $0.baseAddress, size, 0) }
        if n != size { throw SysError(errno, "read the exported seccomp filter") }
        return out
    }

    /// Loads the filter on the calling thread: the notify listener fd, or nil.
    func load() throws -> Int32? {
        let fd = program.withUnsafeBytes { skiff_seccomp_load(flags, $0.baseAddress, UInt16(instructionCount)) }
        if fd < 0 { throw SysError(errno, "load the seccomp filter (linux.seccomp)") }
        return flags & SeccompFilter.flagNewListener != 0 ? fd : nil
    }
}
