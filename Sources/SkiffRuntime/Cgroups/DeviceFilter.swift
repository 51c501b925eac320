import Glibc
import CSkiffInit

/// The cgroup v2 device allow-list: `linux.resources.devices` compiled into a
/// BPF_PROG_TYPE_CGROUP_DEVICE program and attached to the container's cgroup.
///
/// Semantics are those of writing the rules one after another into cgroup v1
/// `devices.allow` / `devices.deny`: a later rule overrides an earlier one.
/// This is decided per access bit: for each requested bit (m, r, w) the last
/// rule that matches the device and names that bit decides it, and the
/// request is allowed only if every requested bit is allowed. A bit no rule
/// decides is denied. For the usual single matching rule this is exactly
/// "the requested access must be a subset of an allow rule's access".
///
/// The program walks the rules from the last to the first, keeping the
/// still-undecided bits in a register:
///   - allow rule that matches: clear its bits; if nothing is left, return 1.
///   - deny rule that matches and names an undecided bit: return 0.
///   - end of the list: return 0.
public enum DeviceFilter {
    /// The devices runc (1.1) lets every container use, appended after the
    /// config's rules (so a config cannot take them away).
    public static let defaultAllowed: [Spec.DeviceRule] = [
        // mknod of any device node; using it still needs an r/w rule.
        Spec.DeviceRule(allow: true, type: "c", major: nil, minor: nil, access: "m"),
        Spec.DeviceRule(allow: true, type: "b", major: nil, minor: nil, access: "m"),
        Spec.DeviceRule(allow: true, type: "c", major: 1, minor: 3, access: "rwm"),    // /dev/null
        Spec.DeviceRule(allow: true, type: "c", major: 1, minor: 8, access: "rwm"),    // /dev/random
        Spec.DeviceRule(allow: true, type: "c", major: 1, minor: 7, access: "rwm"),    // /dev/full
        Spec.DeviceRule(allow: true, type: "c", major: 5, minor: 0, access: "rwm"),    // /dev/tty
        Spec.DeviceRule(allow: true, type: "c", major: 1, minor: 5, access: "rwm"),    // /dev/zero
        Spec.DeviceRule(allow: true, type: "c", major: 1, minor: 9, access: "rwm"),    // /dev/urandom
        Spec.DeviceRule(allow: true, type: "c", major: 136, minor: nil, access: "rwm"), // /dev/pts/*
        Spec.DeviceRule(allow: true, type: "c", major: 5, minor: 2, access: "rwm"),    // /dev/ptmx
        Spec.DeviceRule(allow: true, type: "c", major: 10, minor: 200, access: "rwm"), // /dev/net/tun
    ]

    /// The rule that starts every list: nothing is allowed unless a later rule says so.
    public static let denyAll = Spec.DeviceRule(allow: false, type: "a", major: nil, minor: nil, access: "rwm")

    /// The effective rule list: deny everything, then the config's rules in
    /// order, then `defaultAllowed`. Later rules override earlier ones.
    public static func rules(for configRules: [Spec.DeviceRule]) -> [Spec.DeviceRule] {
        [denyAll] + configRules + defaultAllowed
    }

    // MARK: - Program generation

    // struct bpf_cgroup_dev_ctx field values (linux/bpf.h).
    static let devBlock: Int32 = 1    // BPF_DEVCG_DEV_BLOCK
    static let devChar: Int32 = 2     // BPF_DEVCG_DEV_CHAR
    static let accMknod: Int32 = 1    // BPF_DEVCG_ACC_MKNOD
    static let accRead: Int32 = 2     // BPF_DEVCG_ACC_READ
    static let accWrite: Int32 = 4    // BPF_DEVCG_ACC_WRITE
    static let accAll: Int32 = 7
    // struct bpf_cgroup_dev_ctx: access_type at 0, major at 4, minor at 8.
    static let ctxMajor: Int16 = 4
    static let ctxMinor: Int16 = 8

    // Opcodes used (class | op | source).
    static let opLdxMemW: UInt8 = 0x61   // BPF_LDX | BPF_MEM | BPF_W
    static let opAnd32Imm: UInt8 = 0x54  // BPF_ALU | BPF_AND | BPF_K
    static let opRsh32Imm: UInt8 = 0x74  // BPF_ALU | BPF_RSH | BPF_K
    static let opMov32Reg: UInt8 = 0xbc  // BPF_ALU | BPF_MOV | BPF_X
    static let opMov32Imm: UInt8 = 0xb4  // BPF_ALU | BPF_MOV | BPF_K
    static let opJeqImm: UInt8 = 0x15    // BPF_JMP | BPF_JEQ | BPF_K
    static let opJneImm: UInt8 = 0x55    // BPF_JMP | BPF_JNE | BPF_K
    static let opJne32Imm: UInt8 = 0x56  // BPF_JMP32 | BPF_JNE | BPF_K
    static let opExit: UInt8 = 0x95      // BPF_JMP | BPF_EXIT

    /// Packs one `struct bpf_insn` as a little-endian UInt64.
    static func insn(_ op: UInt8, dst: UInt8 = 0, src: UInt8 = 0, off: Int16 = 0, imm: Int32 = 0) -> UInt64 {
        UInt64(op)
            | UInt64((dst & 0xf) | ((src & 0xf) << 4)) << 8
            | UInt64(UInt16(bitPattern: off)) << 16
            | UInt64(UInt32(bitPattern: imm)) << 32
    }

    static func accessBits(_ access: String) -> Int32 {
        var bits: Int32 = 0
        for ch in access {
            switch ch {
            case "m": bits |= accMknod
            case "r": bits |= accRead
            case "w": bits |= accWrite
            default: break
            }
        }
        return bits
    }

    /// Registers: r1 = ctx; r2 = device type; r3 = undecided access bits;
    /// r4 = major; r5 = minor; r6 scratch; r0 = verdict.
    /// Each rule loads the fields it compares from ctx itself, although they never
    /// change: what a register held when an earlier rule's comparison branched is then
    /// dead at the next rule, so the verifier sees the paths into a rule as one state and
    /// prunes them, instead of walking the rest of the list once per path (that walk
    /// was most of the 0.6 ms a load took).
    public static func program(for rules: [Spec.DeviceRule]) -> [UInt64] {
        var prog: [UInt64] = [
            insn(opLdxMemW, dst: 3, src: 1, off: 0),     // r3 = ctx->access_type
            insn(opRsh32Imm, dst: 3, imm: 16),            // r3 >>= 16 (access)
        ]
        // The verifier rejects unreachable instructions, so stop after a rule
        // that always returns, and only add the final "deny" if some rule can
        // fall through to it.
        var terminated = false
        for rule in rules.reversed() {
            // Each block is built with jumps to "the end of this block"
            // (marked with the placeholder offset), patched afterwards.
            var block: [(op: UInt8, dst: UInt8, src: UInt8, off: Int16, imm: Int32, toNext: Bool)] = []
            func add(_ op: UInt8, dst: UInt8 = 0, src: UInt8 = 0, off: Int16 = 0, imm: Int32 = 0, toNext: Bool = false) {
                block.append((op, dst, src, off, imm, toNext))
            }
            let bits = accessBits(rule.access)
            if bits == 0 { continue }  // names no access: changes nothing
            switch rule.type {
            case "a": break
            case "c", "b":
                add(opLdxMemW, dst: 2, src: 1)                 // r2 = ctx->access_type
                add(opAnd32Imm, dst: 2, imm: 0xffff)           // r2 &= 0xffff (type)
                add(opJneImm, dst: 2, imm: rule.type == "c" ? devChar : devBlock, toNext: true)
            default: continue  // unknown type: matches no device
            }
            if let major = rule.major, major >= 0 {
                guard major <= Int64(UInt32.max) else { continue }  // matches no device
                add(opLdxMemW, dst: 4, src: 1, off: ctxMajor)  // r4 = ctx->major
                add(opJne32Imm, dst: 4, imm: Int32(bitPattern: UInt32(major)), toNext: true)
            }
            if let minor = rule.minor, minor >= 0 {
                guard minor <= Int64(UInt32.max) else { continue }
                add(opLdxMemW, dst: 5, src: 1, off: ctxMinor)  // r5 = ctx->minor
                add(opJne32Imm, dst: 5, imm: Int32(bitPattern: UInt32(minor)), toNext: true)
            }
            if rule.allow {
                if bits != accAll {
                    add(opAnd32Imm, dst: 3, imm: ~bits)             // r3 &= ~bits
                    add(opJneImm, dst: 3, imm: 0, toNext: true)     // still undecided bits: go on
                }
                add(opMov32Imm, dst: 0, imm: 1)
            } else {
                if bits != accAll {
                    add(opMov32Reg, dst: 6, src: 3)                 // r6 = r3
                    add(opAnd32Imm, dst: 6, imm: bits)              // r6 &= bits
                    add(opJeqImm, dst: 6, imm: 0, toNext: true)     // no denied bit requested: go on
                }
                add(opMov32Imm, dst: 0, imm: 0)
            }
            add(opExit)
            for (i, ins) in block.enumerated() {
                // Jump target is the first instruction after the block: pc + 1 + off.
                let off = ins.toNext ? Int16(block.count - i - 1) : ins.off
                prog.append(insn(ins.op, dst: ins.dst, src: ins.src, off: off, imm: ins.imm))
            }
            if !block.contains(where: { $0.toNext }) {
                terminated = true
                break
            }
        }
        if !terminated {
            prog.append(insn(opMov32Imm, dst: 0, imm: 0))
            prog.append(insn(opExit))
        }
        return prog
    }

    // MARK: - Loading and attaching

    static let cmdProgLoad: Int32 = 5          // BPF_PROG_LOAD
    static let cmdProgAttach: Int32 = 8        // BPF_PROG_ATTACH
    static let progTypeCgroupDevice: UInt32 = 15  // BPF_PROG_TYPE_CGROUP_DEVICE
    static let attachCgroupDevice: UInt32 = 6     // BPF_CGROUP_DEVICE
    static let flagAllowMulti: UInt32 = 2         // BPF_F_ALLOW_MULTI
    /// Bytes of `union bpf_attr` handed to the kernel; all past the fields set are zero.
    static let attrSize = 128

    /// Compiles `rules`, loads the program (or reuses the one loaded for the same rules,
    /// DeviceProgramCache) and attaches it to the cgroup v2 directory `cgroupFD`
    /// (BPF_F_ALLOW_MULTI). The program fd is closed afterwards; the attachment keeps the
    /// program alive. A cgroup that already has that very program (a container joining
    /// another's cgroup with the same rules) keeps it: the kernel refuses the same program
    /// twice (EINVAL), and it would only AND the rules with themselves. Checked only then:
    /// the start path pays no query.
    public static func attach(rules: [Spec.DeviceRule], cgroupFD: Int32) throws {
        let progFD = try loadOrReuse(program(for: rules))
        defer { close(progFD) }
        do {
            try attach(programFD: progFD, cgroupFD: cgroupFD)
        } catch let e as DeviceFilterError where e.errno == EINVAL {
            guard try attachedIDs(cgroupFD: cgroupFD).contains(try info(programFD: progFD).id) else { throw e }
        }
    }

    static let cmdProgDetach: Int32 = 9        // BPF_PROG_DETACH
    static let cmdProgGetFDByID: Int32 = 13    // BPF_PROG_GET_FD_BY_ID
    static let cmdObjGetInfoByFD: Int32 = 15   // BPF_OBJ_GET_INFO_BY_FD
    static let cmdProgQuery: Int32 = 16        // BPF_PROG_QUERY
    /// The name skiff loads its device programs under (bpf_prog_info.name).
    static let programName = "skiff_devices"

    /// `update` with device rules: attaches a program for `rules`, then detaches the
    /// device programs skiff attached before (named skiff_devices). With
    /// BPF_F_ALLOW_MULTI every attached program must allow an access, so attaching
    /// alone would AND the old rules with the new; the new one goes in first so the
    /// cgroup is never without a filter. Programs attached by others are left alone.
    public static func replace(rules: [Spec.DeviceRule], cgroupFD: Int32) throws {
        let old = try attachedPrograms(cgroupFD: cgroupFD).filter { $0.name == programName }
        let progFD = try loadOrReuse(program(for: rules))
        defer { close(progFD) }
        let newID = try info(programFD: progFD).id
        if !old.contains(where: { $0.id == newID }) { try attach(programFD: progFD, cgroupFD: cgroupFD) }
        for p in old where p.id != newID {
            let fd = try programFD(id: p.id)
            defer { close(fd) }
            var attr = [UInt8](repeating: 0, count: attrSize)
            put32(&attr, 0, UInt32(bitPattern: cgroupFD))  // target_fd
            put32(&attr, 4, UInt32(bitPattern: fd))        // attach_bpf_fd
            put32(&attr, 8, attachCgroupDevice)            // attach_type
            let (r, e) = bpf(cmdProgDetach, &attr)
            if r < 0 && e != ENOENT {  // ENOENT: detached meanwhile
                throw DeviceFilterError(errno: e, operation: "detaching the old device cgroup BPF program (id \(p.id))")
            }
        }
    }

    /// A program attached to a cgroup: its id and name.
    public struct AttachedProgram: Equatable {
        public var id: UInt32
        public var name: String
    }

    /// The device programs attached directly to the cgroup `cgroupFD`, in attach order.
    public static func attachedPrograms(cgroupFD: Int32) throws -> [AttachedProgram] {
        try attachedIDs(cgroupFD: cgroupFD).map { id in
            let fd = try programFD(id: id)
            defer { close(fd) }
            return AttachedProgram(id: id, name: try info(programFD: fd).name)
        }
    }

    /// The ids of the device programs attached directly to `cgroupFD` (BPF_PROG_QUERY).
    static func attachedIDs(cgroupFD: Int32) throws -> [UInt32] {
        var ids = [UInt32](repeating: 0, count: 64)
        var attr = [UInt8](repeating: 0, count: attrSize)
        let (r, e): (Int, Int32) = ids.withUnsafeMutableBufferPointer { ip in
            put32(&attr, 0, UInt32(bitPattern: cgroupFD))                   // target_fd
            put32(&attr, 4, attachCgroupDevice)                             // attach_type
            put64(&attr, 16, UInt64(UInt(bitPattern: ip.baseAddress)))      // prog_ids
            put32(&attr, 24, UInt32(ip.count))                              // prog_cnt
            return bpf(cmdProgQuery, &attr)
        }
        if r < 0 { throw DeviceFilterError(errno: e, operation: "querying the cgroup's device BPF programs") }
        return Array(ids.prefix(min(Int(get32(attr, 24)), ids.count)))
    }

    static func attach(programFD: Int32, cgroupFD: Int32) throws {
        var attr = [UInt8](repeating: 0, count: attrSize)
        put32(&attr, 0, UInt32(bitPattern: cgroupFD))   // target_fd
        put32(&attr, 4, UInt32(bitPattern: programFD))  // attach_bpf_fd
        put32(&attr, 8, attachCgroupDevice)             // attach_type
        put32(&attr, 12, flagAllowMulti)                // attach_flags
        let (r, e) = bpf(cmdProgAttach, &attr)
        if r < 0 {
            throw DeviceFilterError(errno: e, operation: "attaching the device cgroup BPF program")
        }
    }

    static func programFD(id: UInt32) throws -> Int32 {
        var attr = [UInt8](repeating: 0, count: attrSize)
        put32(&attr, 0, id)  // prog_id
        let (r, e) = bpf(cmdProgGetFDByID, &attr)
        if r < 0 { throw DeviceFilterError(errno: e, operation: "opening device cgroup BPF program \(id)") }
        return Int32(r)
    }

    /// bpf_prog_info's type (offset 0), id (4) and name (64, 16 bytes).
    static func info(programFD: Int32) throws -> (type: UInt32, id: UInt32, name: String) {
        var buf = [UInt8](repeating: 0, count: 256)
        var attr = [UInt8](repeating: 0, count: attrSize)
        let (r, e): (Int, Int32) = buf.withUnsafeMutableBufferPointer { bp in
            put32(&attr, 0, UInt32(bitPattern: programFD))                  // bpf_fd
            put32(&attr, 4, UInt32(bp.count))                               // info_len
            put64(&attr, 8, UInt64(UInt(bitPattern: bp.baseAddress)))       // info
            return bpf(cmdObjGetInfoByFD, &attr)
        }
        if r < 0 { throw DeviceFilterError(errno: e, operation: "reading device cgroup BPF program info") }
        let name = buf[64..<80].prefix { $0 != 0 }
        return (get32(buf, 0), get32(buf, 4), String(decoding: name, as: UTF8.self))
    }

    static func get32(_ buf: [UInt8], _ at: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(buf[at + $1]) << (8 * UInt32($1)) }
    }

    /// The program for `insns` already loaded for an earlier container, else loaded now.
    static func loadOrReuse(_ insns: [UInt64]) throws -> Int32 {
        if let fd = DeviceProgramCache.open(insns) { return fd }
        let fd = try load(insns)
        DeviceProgramCache.remember(insns, programFD: fd)
        return fd
    }

    /// BPF_PROG_LOAD; returns the program fd. Loads without a verifier log
    /// first (cheaper); on failure loads again with one for the error.
    static func load(_ insns: [UInt64]) throws -> Int32 {
        let first = loadOnce(insns, logLevel: 0)
        if first.fd >= 0 { return first.fd }
        var log = ""
        if first.errno != EPERM && first.errno != ENOSYS {
            let second = loadOnce(insns, logLevel: 1)
            if second.fd >= 0 { return second.fd }  // passed on retry: take it
            log = second.log
        }
        throw DeviceFilterError(errno: first.errno, operation: "loading the device cgroup BPF program",
                                verifierLog: log)
    }

    static func loadOnce(_ insns: [UInt64], logLevel: UInt32) -> (fd: Int32, errno: Int32, log: String) {
        // Instructions are little-endian host words; this runtime is Linux on LE CPUs.
        let license: [CChar] = Array("Apache-2.0".utf8CString)
        let name: [UInt8] = Array(programName.utf8)
        var logBuf = [CChar](repeating: 0, count: logLevel > 0 ? 1 << 18 : 0)
        var attr = [UInt8](repeating: 0, count: attrSize)
        let (r, e): (Int, Int32) = insns.withUnsafeBufferPointer { ip in
            license.withUnsafeBufferPointer { lp in
                logBuf.withUnsafeMutableBufferPointer { bp in
                    put32(&attr, 0, progTypeCgroupDevice)                    // prog_type
                    put32(&attr, 4, UInt32(ip.count))                        // insn_cnt
                    put64(&attr, 8, UInt64(UInt(bitPattern: ip.baseAddress))) // insns
                    put64(&attr, 16, UInt64(UInt(bitPattern: lp.baseAddress))) // license
                    if logLevel > 0 {
                        put32(&attr, 24, logLevel)                           // log_level
                        put32(&attr, 28, UInt32(bp.count))                   // log_size
                        put64(&attr, 32, UInt64(UInt(bitPattern: bp.baseAddress))) // log_buf
                    }
                    for (i, c) in name.enumerated() { attr[48 + i] = c }     // prog_name[16]
                    put32(&attr, 68, attachCgroupDevice)                     // expected_attach_type
                    return bpf(cmdProgLoad, &attr)
                }
            }
        }
        if r >= 0 { return (Int32(r), 0, "") }
        var log = logBuf.isEmpty ? "" : logBuf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        while log.last == "\n" { log.removeLast() }
        return (-1, e, log)
    }

    static func put32(_ buf: inout [UInt8], _ at: Int, _ v: UInt32) {
        for i in 0..<4 { buf[at + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(i))) }
    }

    static func put64(_ buf: inout [UInt8], _ at: Int, _ v: UInt64) {
        for i in 0..<8 { buf[at + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) }
    }

    /// The raw bpf(2) call, retried on EINTR/EAGAIN (the verifier may return EAGAIN).
    static func bpf(_ cmd: Int32, _ attr: inout [UInt8]) -> (Int, Int32) {
        var tries = 0
        while true {
            let r = attr.withUnsafeMutableBytes { skiff_bpf(cmd, $0.baseAddress, UInt32($0.count)) }
            if r >= 0 { return (r, 0) }
            let e = errno
            tries += 1
            if (e == EINTR || e == EAGAIN) && tries < 5 { continue }
            return (r, e)
        }
    }
}

/// A failed bpf(2) step of the device filter, with the verifier's log when there is one.
public struct DeviceFilterError: Error, CustomStringConvertible {
    public let errno: Int32
    public let operation: String
    public let verifierLog: String

    public init(errno: Int32, operation: String, verifierLog: String = "") {
        self.errno = errno
        self.operation = operation
        self.verifierLog = verifierLog
    }

    public var description: String {
        let names: [Int32: String] = [
            EPERM: "EPERM", EACCES: "EACCES", EINVAL: "EINVAL", ENOSPC: "ENOSPC", E2BIG: "E2BIG",
            EBADF: "EBADF", ENOMEM: "ENOMEM", EOPNOTSUPP: "EOPNOTSUPP", ENOSYS: "ENOSYS",
            EFAULT: "EFAULT", EEXIST: "EEXIST", ENOTDIR: "ENOTDIR",
        ]
        let name = names[errno] ?? "errno \(errno)"
        var s = "\(operation): \(name) (\(String(cString: strerror(errno))))"
        if !verifierLog.isEmpty { s += " (verifier log: \(verifierLog))" }
        return s
    }
}
