import Foundation
import XCTest

/// process.capabilities: the five sets as the init leaves them (before exec, read from
/// the host), as the program has them after exec (the kernel's execve rules applied to
/// those sets), and their real effect.
final class CapabilityTests: XCTestCase {
    override func setUpWithError() throws { try IT.requireEnvironment() }

    static let number: [String: Int] = [
        "CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_FOWNER": 3, "CAP_KILL": 5, "CAP_SETGID": 6,
        "CAP_SETUID": 7, "CAP_NET_BIND_SERVICE": 10, "CAP_NET_RAW": 13, "CAP_SYS_CHROOT": 18,
        "CAP_AUDIT_WRITE": 29,
    ]

    /// The five sets as masks, named as /proc/<pid>/status names them.
    struct Sets: Equatable, CustomStringConvertible {
        var inh: UInt64 = 0, prm: UInt64 = 0, eff: UInt64 = 0, bnd: UInt64 = 0, amb: UInt64 = 0

        init(inh: UInt64, prm: UInt64, eff: UInt64, bnd: UInt64, amb: UInt64) {
            self.inh = inh; self.prm = prm; self.eff = eff; self.bnd = bnd; self.amb = amb
        }

        /// From the "CapXxx:\t<hex>" lines of a status file; nil if one is missing.
        init?(status: String) {
            var found: [String: UInt64] = [:]
            for line in status.split(separator: "\n") where line.hasPrefix("Cap") {
                let parts = line.split(separator: ":", maxSplits: 1)
                guard parts.count == 2, let v = UInt64(parts[1].trimmingCharacters(in: .whitespaces), radix: 16) else { continue }
                found[String(parts[0])] = v
            }
            guard let i = found["CapInh"], let p = found["CapPrm"], let e = found["CapEff"],
                  let b = found["CapBnd"], let a = found["CapAmb"] else { return nil }
            self.init(inh: i, prm: p, eff: e, bnd: b, amb: a)
        }

        var description: String {
            func h(_ v: UInt64) -> String { String(v, radix: 16) }
            return "inh=\(h(inh)) prm=\(h(prm)) eff=\(h(eff)) bnd=\(h(bnd)) amb=\(h(amb))"
        }
    }

    static func mask(_ names: [String]) -> UInt64 { names.reduce(0) { $0 | (1 << UInt64(number[$1]!)) } }

    /// Different on purpose: permitted holds CAP_AUDIT_WRITE, which bounding lacks (capset
    /// allows it), effective is a strict subset of permitted, inheritable of bounding.
    static let bounding = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_KILL", "CAP_SETGID", "CAP_SETUID",
                           "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SYS_CHROOT"]
    static let permitted = ["CAP_CHOWN", "CAP_FOWNER", "CAP_KILL", "CAP_SETUID", "CAP_NET_BIND_SERVICE",
                            "CAP_NET_RAW", "CAP_SYS_CHROOT", "CAP_AUDIT_WRITE"]
    static let effective = ["CAP_CHOWN", "CAP_KILL", "CAP_AUDIT_WRITE"]
    static let inheritable = ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_FOWNER"]
    static let ambient = ["CAP_NET_BIND_SERVICE", "CAP_NET_RAW"]

    static func config(ambient: [String]) -> [String: Any] {
        ["bounding": bounding, "effective": effective, "inheritable": inheritable, "permitted": permitted, "ambient": ambient]
    }

    static func configured(ambient: [String]) -> Sets {
        Sets(inh: mask(inheritable), prm: mask(permitted), eff: mask(effective), bnd: mask(bounding), amb: mask(ambient))
    }

    /// capabilities(7), execve of a file without file capabilities and not set-id, with the
    /// default securebits (no SECBIT_NOROOT):
    ///   ambient' = ambient; inheritable' = inheritable; bounding' = bounding
    ///   uid 0: the file's sets count as full and its effective bit as set, so
    ///          permitted' = (bounding | inheritable) | ambient' and effective' = permitted';
    ///          under no_new_privs the kernel does not let permitted grow: it is first
    ///          intersected with the old permitted (fs/exec, cap_bprm_creds_from_file).
    ///   other: permitted' = ambient', effective' = ambient'.
    static func afterExec(_ s: Sets, uid: Int, noNewPrivileges: Bool) -> Sets {
        var p: UInt64
        if uid == 0 {
            p = s.bnd | s.inh
            if noNewPrivileges { p &= s.prm }
            p |= s.amb
        } else {
            p = s.amb
        }
        return Sets(inh: s.inh, prm: p, eff: p, bnd: s.bnd, amb: s.amb)
    }

    func edit(uid: Int, caps: [String: Any], noNewPrivileges: Bool) -> (inout [String: Any]) -> Void {
        { c in
            CT.process(&c) { p in
                p["user"] = ["uid": uid, "gid": uid]
                p["capabilities"] = caps
                p["noNewPrivileges"] = noNewPrivileges
            }
        }
    }

    /// The created init (blocked on the exec fifo, after capset and the ambient raises)
    /// holds exactly the configured sets; the program after exec what the kernel derives.
    func testFiveSetsRootAndNonRootWithAndWithoutAmbient() throws {
        for uid in [0, 1000] {
            for amb in [[String](), Self.ambient] {
                let want = Self.configured(ambient: amb)
                let label = "uid \(uid), ambient \(amb)"

                let c = IT.lcCreate(["sh", "-c", "true"], edit(uid: uid, caps: Self.config(ambient: amb), noNewPrivileges: true))
                defer { c.cleanup() }
                XCTAssertEqual(c.result.status, 0, "\(label): \(c.result.stderr)")
                let pid = try XCTUnwrap(IT.lcState(c.id)?["pid"] as? Int, label)
                let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
                XCTAssertEqual(Sets(status: status), want, "\(label): before exec")
                XCTAssertTrue(status.contains("\nUid:\t\(uid)\t\(uid)\t\(uid)\t\(uid)\n"), "\(label): \(status)")

                for nnp in [true, false] {
                    let r = IT.run(args: ["sh", "-c", "grep -E '^Cap' /proc/self/status"],
                                   edit(uid: uid, caps: Self.config(ambient: amb), noNewPrivileges: nnp))
                    XCTAssertEqual(r.status, 0, "\(label): \(r.stderr)")
                    XCTAssertEqual(r.stderr, "", "\(label): no warning for raisable ambient caps")
                    let after = Self.afterExec(want, uid: uid, noNewPrivileges: nnp)
                    XCTAssertEqual(Sets(status: r.stdout), after, "\(label), nnp \(nnp): after exec; \(r.stdout)")
                }
            }
        }
        // The rules are not vacuous here: these differ.
        let w = Self.configured(ambient: Self.ambient)
        XCTAssertNotEqual(Self.afterExec(w, uid: 0, noNewPrivileges: true), Self.afterExec(w, uid: 0, noNewPrivileges: false))
        XCTAssertNotEqual(Self.afterExec(w, uid: 1000, noNewPrivileges: true).prm, w.prm)
    }

    /// runc raises ambient caps one by one and only logs (at debug level: runc's own default
    /// spec has such caps) one the kernel refuses (not in both permitted and inheritable);
    /// the others are raised.
    func testAmbientCapabilityNotInheritableIsSkippedQuietly() {
        let b = IT.bundle(args: ["sh", "-c", "grep -E '^Cap' /proc/self/status"],
                          edit(uid: 1000, caps: Self.config(ambient: ["CAP_SYS_CHROOT", "CAP_NET_RAW"]), noNewPrivileges: true))
        defer { try? FileManager.default.removeItem(atPath: b) }
        let r = IT.skiff(["run", "-b", b, IT.id("amb")])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stderr, "", "nothing a user must act on")
        XCTAssertEqual(Sets(status: r.stdout)?.amb, Self.mask(["CAP_NET_RAW"]), r.stdout)
        let d = IT.skiff(["--debug", "run", "-b", b, IT.id("amb")])
        XCTAssertTrue(d.stderr.contains("level=debug"), d.stderr)
        XCTAssertTrue(d.stderr.contains("can't raise ambient capability CAP_SYS_CHROOT"), d.stderr)
        XCTAssertFalse(d.stderr.contains("CAP_NET_RAW"), d.stderr)
    }

    /// A capability the config does not grant is really missing: chown to another owner
    /// needs CAP_CHOWN in the effective set after exec (for a non-root user: ambient).
    func testChownNeedsGrantedCapability() {
        let script = "touch /dev/shm/f && chown 2000:2000 /dev/shm/f && stat -c owner=%u:%g /dev/shm/f"
        func run(uid: Int, _ sets: [String: [String]]) -> IT.Result {
            IT.run(args: ["sh", "-c", script], edit(uid: uid, caps: sets, noNewPrivileges: true))
        }
        func all(_ names: [String]) -> [String: [String]] {
            ["bounding": names, "effective": names, "inheritable": names, "permitted": names, "ambient": names]
        }
        let with = ["CAP_CHOWN", "CAP_KILL"], without = ["CAP_KILL", "CAP_FOWNER", "CAP_DAC_OVERRIDE"]
        for uid in [0, 1000] {
            let ok = run(uid: uid, all(with))
            XCTAssertEqual(ok.status, 0, "uid \(uid) with CAP_CHOWN: \(ok.stderr)")
            XCTAssertEqual(ok.stdout, "owner=2000:2000\n", "uid \(uid)")
            let denied = run(uid: uid, all(without))
            XCTAssertNotEqual(denied.status, 0, "uid \(uid) without CAP_CHOWN: \(denied.stdout)")
            XCTAssertTrue(denied.stderr.contains("Operation not permitted"), "uid \(uid): \(denied.stderr)")
        }
        // Non-root with CAP_CHOWN effective in the init but not ambient: exec drops it.
        var noAmbient = all(with)
        noAmbient["ambient"] = []
        noAmbient["inheritable"] = []
        let dropped = run(uid: 1000, noAmbient)
        XCTAssertNotEqual(dropped.status, 0, dropped.stdout)
        XCTAssertTrue(dropped.stderr.contains("Operation not permitted"), dropped.stderr)
        // Root keeps it through exec without ambient (its permitted comes from bounding).
        let rootNoAmbient = run(uid: 0, noAmbient)
        XCTAssertEqual(rootNoAmbient.status, 0, rootNoAmbient.stderr)
    }

    /// Refused configs exit 1, name the entry, and leave no container, process or cgroup.
    func assertRefused(_ label: String, mentions: String, _ edit: @escaping (inout [String: Any]) -> Void,
                       file: StaticString = #filePath, line: UInt = #line) {
        let marker = IT.id("capmark")
        let c = IT.lcCreate(["sh", "-c", "sleep 1000; echo \(marker)"], edit)
        defer { c.cleanup() }
        XCTAssertEqual(c.result.status, 1, "\(label): \(c.result.stderr)", file: file, line: line)
        // The log line quotes the message as logrus does (\" for ").
        let stderr = c.result.stderr.replacingOccurrences(of: "\\\"", with: "\"")
        XCTAssertTrue(stderr.contains(mentions), "\(label): \(c.result.stderr)", file: file, line: line)
        XCTAssertNil(IT.lcState(c.id), "\(label): no container", file: file, line: line)
        XCTAssertFalse(FileManager.default.fileExists(atPath: IT.lcCgroup(c.id)), "\(label): no cgroup", file: file, line: line)
        XCTAssertEqual(IT.processes(matching: marker), [], "\(label): no process", file: file, line: line)
    }

    func testUnknownCapabilityIsRefused() {
        for set in ["bounding", "effective", "inheritable", "permitted", "ambient"] {
            assertRefused("unknown in \(set)", mentions: "process.capabilities.\(set)[2]: unknown capability \"CAP_FOO\"") { c in
                CT.process(&c) { p in
                    var caps = Self.config(ambient: Self.ambient)
                    caps[set] = ["CAP_KILL", "CAP_CHOWN", "CAP_FOO"]
                    p["capabilities"] = caps
                }
            }
        }
        assertRefused("lower case", mentions: "process.capabilities.bounding[0]: unknown capability \"cap_kill\"") { c in
            CT.process(&c) { $0["capabilities"] = ["bounding": ["cap_kill"]] }
        }
    }

    func testEffectiveOutsidePermittedIsRefused() {
        assertRefused("effective not permitted", mentions: "process.capabilities.effective[1]: \"CAP_SYS_ADMIN\" is not in the permitted set") { c in
            CT.process(&c) { $0["capabilities"] = ["bounding": ["CAP_KILL"], "permitted": ["CAP_KILL"],
                                                   "effective": ["CAP_KILL", "CAP_SYS_ADMIN"]] }
        }
    }
}
