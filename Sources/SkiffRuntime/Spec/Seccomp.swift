// linux.seccomp (config-linux.md "Seccomp"), checked while parsing so that every
// error names its field. Unknown syscall names are not errors (runc skips them: a
// profile must work across kernels); unknown actions, operators, arches or flags are.

extension Spec {
    public struct Seccomp {
        public var defaultAction: SeccompAction
        public var architectures: [String]
        public var flags: [String]
        public var listenerPath: String?
        public var listenerMetadata: String?
        public var syscalls: [SeccompRule]

        public var usesNotify: Bool {
            defaultAction.kind == .notify || syscalls.contains { $0.action.kind == .notify }
        }
    }

    public struct SeccompAction: Equatable {
        public enum Kind: String, CaseIterable {
            case kill = "SCMP_ACT_KILL", killProcess = "SCMP_ACT_KILL_PROCESS", killThread = "SCMP_ACT_KILL_THREAD"
            case trap = "SCMP_ACT_TRAP", errno = "SCMP_ACT_ERRNO", trace = "SCMP_ACT_TRACE"
            case allow = "SCMP_ACT_ALLOW", log = "SCMP_ACT_LOG", notify = "SCMP_ACT_NOTIFY"
        }
        public var kind: Kind
        /// For errno and trace: errnoRet (or defaultErrnoRet), EPERM when unset.
        public var errnoRet: UInt32?
        public init(kind: Kind, errnoRet: UInt32? = nil) { self.kind = kind; self.errnoRet = errnoRet }

        /// The kernel's SECCOMP_RET_* value (what libseccomp's SCMP_ACT_* macros expand to).
        public var value: UInt32 {
            let data = (errnoRet ?? 1) & 0xffff  // EPERM
            switch kind {
            case .kill, .killThread: return 0x0000_0000
            case .killProcess: return 0x8000_0000
            case .trap: return 0x0003_0000
            case .errno: return 0x0005_0000 | data
            case .trace: return 0x7ff0_0000 | data
            case .log: return 0x7ffc_0000
            case .notify: return 0x7fc0_0000
            case .allow: return 0x7fff_0000
            }
        }
    }

    public struct SeccompArg: Equatable {
        public enum Op: String, CaseIterable {
            case ne = "SCMP_CMP_NE", lt = "SCMP_CMP_LT", le = "SCMP_CMP_LE", eq = "SCMP_CMP_EQ"
            case ge = "SCMP_CMP_GE", gt = "SCMP_CMP_GT", maskedEq = "SCMP_CMP_MASKED_EQ"
            /// libseccomp's enum scmp_compare.
            public var number: UInt32 {
                switch self {
                case .ne: 1
                case .lt: 2
                case .le: 3
                case .eq: 4
                case .ge: 5
                case .gt: 6
                case .maskedEq: 7
                }
            }
        }
        public var index: UInt32
        public var value: UInt64
        public var valueTwo: UInt64
        public var op: Op
    }

    public struct SeccompRule {
        public var names: [String]
        public var action: SeccompAction
        public var args: [SeccompArg]
    }

    /// SECCOMP_FILTER_FLAG_* that a config may ask for, with their values.
    public static let seccompFlags: [(String, UInt32)] = [
        ("SECCOMP_FILTER_FLAG_TSYNC", 1), ("SECCOMP_FILTER_FLAG_LOG", 2),
        ("SECCOMP_FILTER_FLAG_SPEC_ALLOW", 4), ("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", 32),
    ]

    /// The architectures of config-linux.md, as libseccomp's resolver spells them.
    public static let seccompArchitectures: [(String, String)] = [
        ("SCMP_ARCH_X86", "x86"), ("SCMP_ARCH_X86_64", "x86_64"), ("SCMP_ARCH_X32", "x32"),
        ("SCMP_ARCH_ARM", "arm"), ("SCMP_ARCH_AARCH64", "aarch64"), ("SCMP_ARCH_MIPS", "mips"),
        ("SCMP_ARCH_MIPS64", "mips64"), ("SCMP_ARCH_MIPS64N32", "mips64n32"), ("SCMP_ARCH_MIPSEL", "mipsel"),
        ("SCMP_ARCH_MIPSEL64", "mipsel64"), ("SCMP_ARCH_MIPSEL64N32", "mipsel64n32"), ("SCMP_ARCH_PPC", "ppc"),
        ("SCMP_ARCH_PPC64", "ppc64"), ("SCMP_ARCH_PPC64LE", "ppc64le"), ("SCMP_ARCH_S390", "s390"),
        ("SCMP_ARCH_S390X", "s390x"), ("SCMP_ARCH_PARISC", "parisc"), ("SCMP_ARCH_PARISC64", "parisc64"),
        ("SCMP_ARCH_RISCV64", "riscv64"), ("SCMP_ARCH_LOONGARCH64", "loongarch64"), ("SCMP_ARCH_M68K", "m68k"),
        ("SCMP_ARCH_SH", "sh"), ("SCMP_ARCH_SHEB", "sheb"),
    ]
}

extension Spec.Seccomp {
    init(_ n: JSONNode) throws {
        _ = try n.object()
        defaultAction = try Spec.SeccompAction(n["defaultAction"], errno: n["defaultErrnoRet"])
        if defaultAction.kind == .notify {
            // The runtime's own syscalls after loading would wait on an agent that has no fd yet (runc agrees).
            throw n["defaultAction"].fail("SCMP_ACT_NOTIFY cannot be used as the default action")
        }
        architectures = try n["architectures"].stringArray() ?? []
        for (i, a) in architectures.enumerated() where !Spec.seccompArchitectures.contains(where: { $0.0 == a }) {
            throw n["architectures"][i].fail("unknown seccomp architecture \"\(a)\"")
        }
        flags = try n["flags"].stringArray() ?? []
        for (i, f) in flags.enumerated() where !Spec.seccompFlags.contains(where: { $0.0 == f }) {
            throw n["flags"][i].fail("unknown seccomp flag \"\(f)\"")
        }
        listenerPath = try n["listenerPath"].string()
        listenerMetadata = try n["listenerMetadata"].string()
        if listenerMetadata != nil && listenerPath == nil {
            throw n["listenerMetadata"].fail("must not be set without listenerPath")
        }
        syscalls = try n["syscalls"].map { s in
            let names = try s["names"].stringArray() ?? []
            if names.isEmpty { throw s["names"].fail("must list at least one syscall") }
            let action = try Spec.SeccompAction(s["action"], errno: s["errnoRet"])
            if action.kind == .notify && names.contains("write") {
                // skiff's init hands the notify fd over with write(2) after loading the filter.
                throw s["action"].fail("SCMP_ACT_NOTIFY cannot be used for the write syscall")
            }
            let args = try s["args"].map { a -> Spec.SeccompArg in
                let opName = try a["op"].requiredString()
                guard let op = Spec.SeccompArg.Op(rawValue: opName) else {
                    throw a["op"].fail("unknown seccomp operator \"\(opName)\"")
                }
                let index: UInt32 = try a["index"].requiredInteger()
                if index > 5 { throw a["index"].fail("syscall argument index \(index) is out of range (0-5)") }
                return Spec.SeccompArg(index: index, value: try a["value"].requiredInteger(),
                                       valueTwo: try a["valueTwo"].integer() ?? 0, op: op)
            } ?? []
            return Spec.SeccompRule(names: names, action: action, args: args)
        } ?? []
        if usesNotify && listenerPath == nil {
            throw n["listenerPath"].fail("is required when SCMP_ACT_NOTIFY is used")
        }
    }
}

extension Spec.SeccompAction {
    init(_ n: JSONNode, errno: JSONNode) throws {
        let name = try n.requiredString()
        guard let k = Kind(rawValue: name) else { throw n.fail("unknown seccomp action \"\(name)\"") }
        kind = k
        errnoRet = try errno.integer()
        if errnoRet != nil && k != .errno && k != .trace {
            throw errno.fail("\(name) does not take an errno")
        }
    }
}
