import XCTest
import Glibc
@testable import SkiffRuntime

/// A tiny interpreter for the few BPF instructions DeviceFilter emits, so the
/// program's decisions can be checked without the kernel.
private struct MiniBPF {
    enum Failure: Error { case badOpcode(UInt8, Int), outOfBounds(Int), tooLong }

    static func decode(_ w: UInt64) -> (op: UInt8, dst: Int, src: Int, off: Int, imm: Int32) {
        (UInt8(w & 0xff), Int((w >> 8) & 0xf), Int((w >> 12) & 0xf),
         Int(Int16(bitPattern: UInt16((w >> 16) & 0xffff))), Int32(bitPattern: UInt32(w >> 32)))
    }

    /// type: 1 block, 2 char; access: bits of m=1 r=2 w=4.
    static func run(_ prog: [UInt64], type: UInt32, access: UInt32, major: UInt32, minor: UInt32) throws -> UInt64 {
        let ctx: [UInt32] = [(access << 16) | type, major, minor]
        var r = [UInt64](repeating: 0, count: 11)
        r[1] = 0x1000  // fake ctx pointer
        var pc = 0
        var steps = 0
        while true {
            guard pc >= 0 && pc < prog.count else { throw Failure.outOfBounds(pc) }
            steps += 1
            if steps > 100_000 { throw Failure.tooLong }
            let i = decode(prog[pc])
            let immU64 = UInt64(bitPattern: Int64(i.imm))
            let immU32 = UInt32(bitPattern: i.imm)
            pc += 1
            switch i.op {
            case 0x61:  // ldxw
                let idx = (Int(r[i.src]) - 0x1000 + i.off) / 4
                r[i.dst] = UInt64(ctx[idx])
            case 0x54: r[i.dst] = UInt64(UInt32(truncatingIfNeeded: r[i.dst]) & immU32)
            case 0x74: r[i.dst] = UInt64(UInt32(truncatingIfNeeded: r[i.dst]) >> immU32)
            case 0xbc: r[i.dst] = UInt64(UInt32(truncatingIfNeeded: r[i.src]))
            case 0xb4: r[i.dst] = UInt64(immU32)
            case 0x15: if r[i.dst] == immU64 { pc += i.off }
            case 0x55: if r[i.dst] != immU64 { pc += i.off }
            case 0x56: if UInt32(truncatingIfNeeded: r[i.dst]) != immU32 { pc += i.off }
            case 0x95: return r[0]
            default: throw Failure.badOpcode(i.op, pc - 1)
            }
        }
    }

    /// Like the verifier: every jump lands inside, every instruction is reachable, ends in exit.
    static func checkShape(_ prog: [UInt64], file: StaticString = #filePath, line: UInt = #line) {
        var reached = [Bool](repeating: false, count: prog.count)
        var todo = [0]
        while let pc = todo.popLast() {
            guard pc >= 0 && pc < prog.count else {
                XCTFail("jump out of program to \(pc)", file: file, line: line); return
            }
            if reached[pc] { continue }
            reached[pc] = true
            let i = decode(prog[pc])
            switch i.op {
            case 0x95: break
            case 0x15, 0x55, 0x56: todo += [pc + 1, pc + 1 + i.off]
            default: todo.append(pc + 1)
            }
        }
        if let u = reached.firstIndex(of: false) { XCTFail("unreachable instruction \(u)", file: file, line: line) }
        XCTAssertEqual(prog.last.map { decode($0).op }, 0x95, "last instruction is not exit", file: file, line: line)
    }
}

private func devRule(_ allow: Bool, _ type: Character, _ major: Int64?, _ minor: Int64?, _ access: String) -> Spec.DeviceRule {
    Spec.DeviceRule(allow: allow, type: type, major: major, minor: minor, access: access)
}

private let accM: UInt32 = 1, accR: UInt32 = 2, accW: UInt32 = 4
private let devChr: UInt32 = 2, devBlk: UInt32 = 1

final class DeviceFilterTests: XCTestCase {
    private func decide(_ rules: [Spec.DeviceRule], _ type: UInt32, _ major: UInt32, _ minor: UInt32,
                        _ access: UInt32, file: StaticString = #filePath, line: UInt = #line) -> Bool {
        let prog = DeviceFilter.program(for: rules)
        MiniBPF.checkShape(prog, file: file, line: line)
        do {
            let v = try MiniBPF.run(prog, type: type, access: access, major: major, minor: minor)
            XCTAssert(v == 0 || v == 1, "verdict \(v)", file: file, line: line)
            return v == 1
        } catch {
            XCTFail("interpreter: \(error)", file: file, line: line)
            return false
        }
    }

    func testInstructionEncoding() {
        // r0 = 1 (mov32 imm): opcode b4, dst 0, imm 1.
        XCTAssertEqual(DeviceFilter.insn(0xb4, dst: 0, imm: 1), 0x0000_0001_0000_00b4)
        // r2 = *(u32 *)(r1 + 4): opcode 61, dst 2, src 1, off 4.
        XCTAssertEqual(DeviceFilter.insn(0x61, dst: 2, src: 1, off: 4), 0x0000_0000_0004_1261)
        // negative offset and immediate.
        XCTAssertEqual(DeviceFilter.insn(0x55, dst: 3, off: -1, imm: -2), 0xffff_fffe_ffff_0355)
    }

    func testDefaultAllowedMatchesRunc() {
        let d = DeviceFilter.defaultAllowed
        XCTAssertEqual(d.count, 11)
        XCTAssertEqual(d[0], devRule(true, "c", nil, nil, "m"))
        XCTAssertEqual(d[1], devRule(true, "b", nil, nil, "m"))
        let rwm = d.dropFirst(2)
        XCTAssert(rwm.allSatisfy { $0.allow && $0.type == "c" && $0.access == "rwm" })
        let numbers = rwm.map { "\($0.major.map(String.init) ?? "*"):\($0.minor.map(String.init) ?? "*")" }
        XCTAssertEqual(numbers, ["1:3", "1:8", "1:7", "5:0", "1:5", "1:9", "136:*", "5:2", "10:200"])
    }

    func testRulesOrder() {
        let cfg = [devRule(true, "c", 10, 232, "rw"), devRule(false, "c", 1, 3, "w")]
        let all = DeviceFilter.rules(for: cfg)
        XCTAssertEqual(all.count, 1 + cfg.count + DeviceFilter.defaultAllowed.count)
        XCTAssertEqual(all[0], devRule(false, "a", nil, nil, "rwm"))
        XCTAssertEqual(Array(all[1...2]), cfg)
        XCTAssertEqual(Array(all[3...]), DeviceFilter.defaultAllowed)
        XCTAssertEqual(DeviceFilter.rules(for: []), [DeviceFilter.denyAll] + DeviceFilter.defaultAllowed)
    }

    func testDenyAllOnlyReturnsZero() {
        let prog = DeviceFilter.program(for: [DeviceFilter.denyAll])
        MiniBPF.checkShape(prog)
        // The access bits loaded (2), then "r0 = 0; exit" and nothing unreachable after it.
        XCTAssertEqual(prog.count, 4)
        XCTAssertEqual(prog[2], DeviceFilter.insn(0xb4, dst: 0, imm: 0))
        XCTAssertEqual(prog[3], DeviceFilter.insn(0x95))
        for (t, acc) in [(devChr, accR), (devChr, accR | accW), (devBlk, accM), (devChr, accM | accR | accW)] {
            XCTAssertFalse(decide([DeviceFilter.denyAll], t, 1, 3, acc))
        }
        // An empty list also denies.
        XCTAssertFalse(decide([], devChr, 1, 3, accR))
        XCTAssertEqual(DeviceFilter.program(for: []).count, 4)
    }

    func testInstructionCountSanity() {
        let rules = DeviceFilter.rules(for: [])
        let prog = DeviceFilter.program(for: rules)
        MiniBPF.checkShape(prog)
        // prologue 2 + per rule at most 12 (each loads what it compares) + trailing 2.
        XCTAssertGreaterThan(prog.count, 2 + rules.count * 3)
        XCTAssertLessThanOrEqual(prog.count, 2 + rules.count * 12 + 2)
        // Deny-all is last in reverse order and unconditional: no trailing default.
        XCTAssertEqual(prog[prog.count - 2], DeviceFilter.insn(0xb4, dst: 0, imm: 0))
        XCTAssertEqual(prog.last, DeviceFilter.insn(0x95))
    }

    func testDefaultPolicy() {
        let rules = DeviceFilter.rules(for: [])
        XCTAssertTrue(decide(rules, devChr, 1, 3, accR | accW))       // /dev/null
        XCTAssertTrue(decide(rules, devChr, 1, 9, accR))           // /dev/urandom
        XCTAssertTrue(decide(rules, devChr, 136, 7, accR | accW))     // /dev/pts/7
        XCTAssertTrue(decide(rules, devChr, 5, 2, accR | accW))       // /dev/ptmx
        XCTAssertTrue(decide(rules, devChr, 10, 200, accR | accW))    // /dev/net/tun
        XCTAssertFalse(decide(rules, devChr, 5, 1, accR | accW))      // /dev/console: not in runc 1.1's list
        XCTAssertFalse(decide(rules, devChr, 10, 232, accR | accW))   // /dev/kvm
        XCTAssertFalse(decide(rules, devBlk, 8, 0, accR))          // /dev/sda
        XCTAssertTrue(decide(rules, devBlk, 8, 0, accM))           // mknod of anything
        XCTAssertTrue(decide(rules, devChr, 10, 232, accM))
        XCTAssertFalse(decide(rules, devBlk, 8, 0, accM | accR))
        XCTAssertFalse(decide(rules, 3, 1, 3, accR))            // unknown type
    }

    func testConfigRules() {
        let kvm = DeviceFilter.rules(for: [devRule(true, "c", 10, 232, "rw")])
        XCTAssertTrue(decide(kvm, devChr, 10, 232, accR | accW))
        XCTAssertTrue(decide(kvm, devChr, 10, 232, accR))
        XCTAssertTrue(decide(kvm, devChr, 10, 232, accM))           // via c *:* m
        XCTAssertFalse(decide(kvm, devBlk, 10, 232, accR))          // type matters
        XCTAssertFalse(decide(kvm, devChr, 10, 233, accR))

        // Privileged: allow everything.
        let priv = DeviceFilter.rules(for: [devRule(true, "a", nil, nil, "rwm")])
        XCTAssertTrue(decide(priv, devBlk, 8, 0, accR | accW))
        XCTAssertTrue(decide(priv, devChr, 10, 232, accR | accW | accM))

        // Later rules override earlier ones: allow all, then deny writes to one block device.
        let sda = [devRule(true, "a", nil, nil, "rwm"), devRule(false, "b", 8, 0, "w")]
        XCTAssertTrue(decide(sda, devBlk, 8, 0, accR))
        XCTAssertFalse(decide(sda, devBlk, 8, 0, accW))
        XCTAssertFalse(decide(sda, devBlk, 8, 0, accR | accW))
        XCTAssertTrue(decide(sda, devBlk, 8, 1, accR | accW))
        // ... and a still later allow wins again.
        XCTAssertTrue(decide(sda + [devRule(true, "b", 8, nil, "rw")], devBlk, 8, 0, accR | accW))

        // Defaults come after the config, so a config deny cannot remove them.
        let noNull = DeviceFilter.rules(for: [devRule(false, "c", 1, 3, "rwm")])
        XCTAssertTrue(decide(noNull, devChr, 1, 3, accR | accW))

        // Access is decided bit by bit, by the last rule naming each bit.
        let split = [DeviceFilter.denyAll, devRule(true, "c", 4, nil, "r"), devRule(true, "c", 4, 1, "w")]
        XCTAssertTrue(decide(split, devChr, 4, 1, accR | accW))
        XCTAssertFalse(decide(split, devChr, 4, 2, accR | accW))
        XCTAssertTrue(decide(split, devChr, 4, 2, accR))
        XCTAssertFalse(decide(split, devChr, 4, 1, accM))

        // A deny naming only bits that are not requested does not get in the way.
        let readOnly = [DeviceFilter.denyAll, devRule(true, "c", 1, 5, "rwm"), devRule(false, "c", 1, 5, "w")]
        XCTAssertTrue(decide(readOnly, devChr, 1, 5, accR))
        XCTAssertFalse(decide(readOnly, devChr, 1, 5, accR | accW))

        // Large device numbers compare as 32-bit values.
        let big = [DeviceFilter.denyAll, devRule(true, "c", 0x8000_0001, 0xffff_ffff, "r")]
        XCTAssertTrue(decide(big, devChr, 0x8000_0001, 0xffff_ffff, accR))
        XCTAssertFalse(decide(big, devChr, 1, 0xffff_ffff, accR))
        // Numbers that cannot be a device never match.
        XCTAssertFalse(decide([devRule(true, "c", 1 << 33, nil, "rwm")], devChr, 0, 0, accR))
    }

    func testErrorDescription() {
        let e = DeviceFilterError(errno: EPERM, operation: "loading the device cgroup BPF program",
                                  verifierLog: "0: R1 invalid")
        XCTAssertEqual(e.description,
                       "loading the device cgroup BPF program: EPERM (Operation not permitted) (verifier log: 0: R1 invalid)")
    }

    // MARK: - In the kernel

    private static let unified = "/sys/fs/cgroup/unified"

    private func requireCgroup2() throws {
        if getuid() != 0 {
            print("DeviceFilterTests: skipping kernel test: not root")
            throw XCTSkip("not root")
        }
        var st = stat()
        if stat(Self.unified + "/cgroup.procs", &st) != 0 {
            print("DeviceFilterTests: skipping kernel test: \(Self.unified) is not a cgroup2 mount")
            throw XCTSkip("\(Self.unified) missing")
        }
        if stat("/dev/kvm", &st) != 0 || (st.st_mode & S_IFMT) != S_IFCHR {
            print("DeviceFilterTests: skipping kernel test: /dev/kvm (char 10:232) is missing")
            throw XCTSkip("/dev/kvm missing")
        }
    }

    /// Runs `script` with /bin/sh inside the cgroup `dir` (the shell moves
    /// itself in first); returns its exit status and combined output.
    private func runInCgroup(_ dir: String, _ script: String) throws -> (Int32, String) {
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        var fa = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&fa)
        defer { posix_spawn_file_actions_destroy(&fa) }
        posix_spawn_file_actions_adddup2(&fa, fds[1], 1)
        posix_spawn_file_actions_adddup2(&fa, fds[1], 2)
        posix_spawn_file_actions_addclose(&fa, fds[0])
        posix_spawn_file_actions_addclose(&fa, fds[1])
        let full = "echo $$ > \(dir)/cgroup.procs || exit 10; \(script)"
        let args = ["/bin/sh", "-c", full]
        var argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, "/bin/sh", &fa, nil, &argv, environ)
        close(fds[1])
        defer { close(fds[0]) }
        guard rc == 0 else { throw SysError(rc, "posix_spawn /bin/sh") }
        let out = String(decoding: try Files.readAll(fds[0]), as: UTF8.self)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return (code, out)
    }

    private func withCgroup(_ rules: [Spec.DeviceRule], _ body: (String) throws -> Void) throws {
        let dir = "\(Self.unified)/skiff-devtest-\(getpid())"
        rmdir(dir)
        guard mkdir(dir, 0o755) == 0 else { throw SysError(errno, "mkdir", dir) }
        defer {
            // The children have exited and been reaped; an exiting task can
            // linger for a moment, so retry EBUSY briefly.
            var tries = 0
            while rmdir(dir) != 0 && errno == EBUSY && tries < 200 { tries += 1; usleep(10_000) }
            var st = stat()
            XCTAssertNotEqual(stat(dir, &st), 0, "could not remove \(dir)")
        }
        let fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw SysError(errno, "open", dir) }
        defer { close(fd) }
        try DeviceFilter.attach(rules: rules, cgroupFD: fd)
        try body(dir)
    }

    private let probe = """
        if true 3<>/dev/null; then echo null-ok; else echo null-denied; fi; \
        if true 4<>/dev/kvm; then echo kvm-ok; else echo kvm-denied; fi
        """

    func testKernelDenyAllBlocksKvm() throws {
        try requireCgroup2()
        try withCgroup(DeviceFilter.rules(for: [DeviceFilter.denyAll])) { dir in
            let (code, out) = try runInCgroup(dir, probe)
            XCTAssertEqual(code, 0, out)
            XCTAssert(out.contains("null-ok"), out)
            XCTAssert(out.contains("kvm-denied"), out)
            XCTAssert(out.contains("/dev/kvm: Operation not permitted"), out)  // EPERM
        }
    }

    func testKernelAllowKvm() throws {
        try requireCgroup2()
        try withCgroup(DeviceFilter.rules(for: [DeviceFilter.denyAll, devRule(true, "c", 10, 232, "rw")])) { dir in
            let (code, out) = try runInCgroup(dir, probe)
            XCTAssertEqual(code, 0, out)
            XCTAssert(out.contains("null-ok"), out)
            XCTAssert(out.contains("kvm-ok"), out)
        }
    }

    func testKernelReadOnlyKvm() throws {
        try requireCgroup2()
        try withCgroup(DeviceFilter.rules(for: [devRule(true, "c", 10, 232, "r")])) { dir in
            let (code, out) = try runInCgroup(dir, """
                if true 4</dev/kvm; then echo kvm-r-ok; else echo kvm-r-denied; fi; \
                if true 4<>/dev/kvm; then echo kvm-rw-ok; else echo kvm-rw-denied; fi
                """)
            XCTAssertEqual(code, 0, out)
            XCTAssert(out.contains("kvm-r-ok"), out)
            XCTAssert(out.contains("kvm-rw-denied"), out)
        }
    }

    func testKernelVerifierAcceptsPrograms() throws {
        try requireCgroup2()
        let sets: [[Spec.DeviceRule]] = [
            [], [DeviceFilter.denyAll], DeviceFilter.rules(for: []),
            DeviceFilter.rules(for: [devRule(true, "a", nil, nil, "rwm")]),
            DeviceFilter.rules(for: [devRule(true, "a", nil, nil, "rw"), devRule(false, "b", 8, nil, "w"),
                                     devRule(true, "c", 0x8000_0001, 0xffff_ffff, "m")]),
        ]
        for rules in sets {
            let fd = try DeviceFilter.load(DeviceFilter.program(for: rules))
            XCTAssertGreaterThanOrEqual(fd, 0)
            close(fd)
        }
    }

    func testKernelRejectionIncludesVerifierLog() throws {
        try requireCgroup2()
        // "exit" without setting r0: the verifier must refuse it and say why.
        XCTAssertThrowsError(try DeviceFilter.load([DeviceFilter.insn(0x95)])) { error in
            let text = "\(error)"
            XCTAssert(text.hasPrefix("loading the device cgroup BPF program: EACCES"), text)
            XCTAssert(text.contains("verifier log:") && text.contains("R0"), text)
        }
    }

    func testAttachBadFDReportsError() throws {
        try requireCgroup2()
        XCTAssertThrowsError(try DeviceFilter.attach(rules: DeviceFilter.rules(for: []), cgroupFD: -1)) { error in
            let e = error as? DeviceFilterError
            XCTAssertEqual(e?.errno, EBADF, "\(error)")
            XCTAssert("\(error)".hasPrefix("attaching the device cgroup BPF program: EBADF"), "\(error)")
        }
    }
}

/// The name a loaded device program is pinned under (DeviceProgramCache): SHA-256 of its
/// instructions, so that no config can have its program taken for another's.
final class DeviceProgramCacheTests: XCTestCase {
    func testSHA256KnownVectors() {
        // FIPS 180-4's examples, the empty message, and one of more than one block.
        XCTAssertEqual(SHA256.hex(Array("abc".utf8)),
                       "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hex([]),
                       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(SHA256.hex([UInt8](repeating: 0x61, count: 1000)),
                       "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }

    func testProgramsAreNamedByAllTheirInstructions() {
        let defaults = DeviceFilter.program(for: DeviceFilter.rules(for: []))
        let more = DeviceFilter.program(for: DeviceFilter.rules(for: [
            Spec.DeviceRule(allow: true, type: "c", major: 10, minor: 232, access: "rwm"),
        ]))
        let path = DeviceProgramCache.path(for: defaults)
        XCTAssertTrue(path.hasPrefix(DeviceProgramCache.directory + "/"), path)
        XCTAssertEqual(path.count, DeviceProgramCache.directory.count + 1 + 64, path)
        XCTAssertEqual(path, DeviceProgramCache.path(for: defaults))
        XCTAssertNotEqual(path, DeviceProgramCache.path(for: more))
        // One bit anywhere changes the name.
        var flipped = defaults
        flipped[flipped.count / 2] ^= 1 << 40
        XCTAssertNotEqual(path, DeviceProgramCache.path(for: flipped))
    }
}
