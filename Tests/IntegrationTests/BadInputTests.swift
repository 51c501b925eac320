import Foundation
import XCTest

/// The bad-input battery: every refusal exits 1 with a message that names the problem,
/// and leaves nothing behind (state dir, cgroup, mount, fd, process).
final class BadInputTests: XCTestCase {
    /// A root of our own, so the state-dir part of the footprint is only ours.
    static let root = "/run/skiff-it-bad"

    override func setUpWithError() throws { try IT.requireEnvironment() }

    /// A bundle whose program carries `marker`, edited by `edit`.
    func badBundle(_ marker: String, _ edit: @escaping (inout [String: Any]) -> Void) -> String {
        IT.bundle(args: ["sh", "-c", "sleep 1000; echo \(marker)"], edit)
    }

    /// Runs `args` (a skiff command line after --root) and checks the refusal and the cleanup.
    func assertRefused(_ label: String, _ args: [String], mentions: [String], marker: String? = nil,
                       quietStdout: Bool = true, idIsFree: Bool = true, file: StaticString = #filePath, line: UInt = #line) {
        let before = IT.footprint(root: Self.root)
        let r = IT.skiffDetached(args, root: Self.root)
        XCTAssertEqual(r.status, 1, "\(label): exit status (stderr: \(r.stderr))", file: file, line: line)
        if quietStdout { XCTAssertEqual(r.stdout, "", "\(label): nothing on stdout", file: file, line: line) }
        for m in mentions {
            XCTAssertTrue(r.stderr.contains(m), "\(label): stderr names \(m): \(r.stderr)", file: file, line: line)
        }
        XCTAssertTrue(IT.lcWait(timeout: 5) { IT.footprint(root: Self.root) == before },
                      "\(label): footprint \(before) -> \(IT.footprint(root: Self.root))", file: file, line: line)
        if let marker {
            XCTAssertEqual(IT.processes(matching: marker), [], "\(label): no process left", file: file, line: line)
        }
        // A refused create leaves its ID free.
        if idIsFree, args.first == "create", let id = args.last, id.hasPrefix("bad-") {
            let st = IT.skiff(["state", id], root: Self.root)
            XCTAssertTrue(st.stderr.contains("does not exist"), "\(label): \(st.stderr)", file: file, line: line)
        }
    }

    func assertConfigRefused(_ label: String, mentions: [String], _ edit: @escaping (inout [String: Any]) -> Void,
                             file: StaticString = #filePath, line: UInt = #line) {
        let marker = IT.id("badmark")
        let b = badBundle(marker, edit)
        defer { try? FileManager.default.removeItem(atPath: b) }
        let id = IT.id("bad")
        defer { IT.skiff(["delete", "--force", id], root: Self.root) }
        assertRefused(label, ["create", "-b", b, id], mentions: mentions, marker: marker, file: file, line: line)
    }

    func editProcess(_ c: inout [String: Any], _ f: (inout [String: Any]) -> Void) {
        var p = c["process"] as! [String: Any]
        f(&p)
        c["process"] = p
    }

    func editLinux(_ c: inout [String: Any], _ f: (inout [String: Any]) -> Void) {
        var l = c["linux"] as? [String: Any] ?? [:]
        f(&l)
        c["linux"] = l
    }

    // MARK: config.json

    func testMalformedJSON() throws {
        let b = IT.bundle(args: ["true"])
        defer { try? FileManager.default.removeItem(atPath: b) }
        let full = try String(contentsOfFile: b + "/config.json", encoding: .utf8)
        for (label, text) in [("truncated", String(full.prefix(full.count / 2))), ("empty", ""), ("garbage", "xyz")] {
            try text.write(toFile: b + "/config.json", atomically: true, encoding: .utf8)
            assertRefused("malformed JSON (\(label))", ["create", "-b", b, IT.id("bad")], mentions: ["config.json", "JSON"])
        }
    }

    func testWrongTypes() throws {
        assertConfigRefused("args is a string", mentions: ["process.args"]) { c in
            self.editProcess(&c) { $0["args"] = "sh" }
        }
        assertConfigRefused("terminal is a string", mentions: ["process.terminal"]) { c in
            self.editProcess(&c) { $0["terminal"] = "yes" }
        }
    }

    func testMissingRoot() throws {
        assertConfigRefused("no root", mentions: ["root"]) { c in c["root"] = nil }
    }

    func testMissingProcessAndEmptyArgs() throws {
        assertConfigRefused("no process", mentions: ["process"]) { c in c["process"] = nil }
        assertConfigRefused("empty args", mentions: ["process.args"]) { c in self.editProcess(&c) { $0["args"] = [String]() } }
    }

    func testRelativeCwd() throws {
        assertConfigRefused("relative cwd", mentions: ["process.cwd"]) { c in self.editProcess(&c) { $0["cwd"] = "tmp" } }
    }

    func testUnknownNamespaceType() throws {
        assertConfigRefused("unknown namespace", mentions: ["linux.namespaces[0].type", "bogus"]) { c in
            self.editLinux(&c) { l in
                var ns = l["namespaces"] as! [[String: Any]]
                ns[0] = ["type": "bogus"]
                l["namespaces"] = ns
            }
        }
        assertConfigRefused("duplicate namespace", mentions: ["linux.namespaces[1].type"]) { c in
            self.editLinux(&c) { l in
                var ns = l["namespaces"] as! [[String: Any]]
                ns[1] = ns[0]
                l["namespaces"] = ns
            }
        }
    }

    /// This host's cgroup2 offers hugetlb only: a memory limit names the missing controller,
    /// and the half-made container (state dir, cgroup) is undone.
    func testUnavailableControllerLimit() throws {
        let hasMemory = (try? String(contentsOfFile: "/sys/fs/cgroup/unified/cgroup.controllers", encoding: .utf8))?.contains("memory") ?? false
        if hasMemory { print("testUnavailableControllerLimit: this host's cgroup2 has memory; the refusal is not reachable here") ; return }
        assertConfigRefused("memory limit", mentions: ["linux.resources.memory.limit", "memory", "is not available"]) { c in
            self.editLinux(&c) { l in
                var res = l["resources"] as? [String: Any] ?? [:]
                res["memory"] = ["limit": 64 * 1024 * 1024]
                l["resources"] = res
            }
        }
    }

    func testMissingRootfsDirectory() throws {
        assertConfigRefused("rootfs missing", mentions: ["root.path"]) { c in
            c["root"] = ["path": "/nonexistent-skiff-rootfs"]
        }
    }

    /// Failures found only inside the container's init, after the cgroup and process exist.
    func testLateFailuresInInit() throws {
        assertConfigRefused("executable missing", mentions: ["/nonexistent-skiff-exe"]) { c in
            self.editProcess(&c) { $0["args"] = ["/nonexistent-skiff-exe"] }
        }
        assertConfigRefused("executable not in PATH", mentions: ["no-such-program"]) { c in
            self.editProcess(&c) { $0["args"] = ["no-such-program"] }
        }
        assertConfigRefused("unknown file system type", mentions: ["nosuchfs-skiff"]) { c in
            var mounts = c["mounts"] as! [[String: Any]]
            mounts.append(["destination": "/tmp", "type": "nosuchfs-skiff", "source": "none"])
            c["mounts"] = mounts
        }
    }

    // MARK: IDs and bundles

    func testBadIDs() throws {
        let b = IT.bundle(args: ["true"])
        defer { try? FileManager.default.removeItem(atPath: b) }
        let long = String(repeating: "a", count: 1025)
        for (label, id) in [("slash", "a/b"), ("dotdot", ".."), ("dotdot slash", "../x"), ("space", "a b"),
                            ("over 1024 characters", long)] {
            assertRefused("id \(label)", ["create", "-b", b, id], mentions: ["invalid container id"])
        }
        assertRefused("empty id", ["create", "-b", b, ""], mentions: ["container id cannot be empty"])
        // Longer than a file name may be: refused by the file system, still nothing left.
        assertRefused("id of 300 characters", ["create", "-b", b, String(repeating: "b", count: 300)], mentions: ["too long"])
        assertRefused("state of a/b", ["state", "a/b"], mentions: ["invalid container id"])
        assertRefused("delete of ..", ["delete", ".."], mentions: ["invalid container id"])
    }

    func testMissingBundle() throws {
        let missing = NSTemporaryDirectory() + "skiff-no-such-bundle-\(getpid())"
        assertRefused("missing bundle dir", ["create", "-b", missing, IT.id("bad")], mentions: [missing])
        let empty = IT.lcTempDir()
        defer { try? FileManager.default.removeItem(atPath: empty) }
        assertRefused("bundle without config.json", ["create", "-b", empty, IT.id("bad")], mentions: ["config.json"])
    }

    func testDuplicateID() throws {
        let b = IT.bundle(args: ["sleep", "1000"])
        let id = IT.id("bad")
        defer {
            IT.skiff(["delete", "--force", id], root: Self.root)
            try? FileManager.default.removeItem(atPath: b)
        }
        let first = IT.skiffDetached(["create", "-b", b, id], root: Self.root)
        XCTAssertEqual(first.status, 0, first.stderr)
        let pid = IT.lcState(id, root: Self.root)?["pid"] as? Int
        assertRefused("duplicate id", ["create", "-b", b, id], mentions: ["exists", id], idIsFree: false)
        XCTAssertEqual(IT.lcStatus(id, root: Self.root), "created", "the first container is untouched")
        XCTAssertEqual(IT.lcState(id, root: Self.root)?["pid"] as? Int, pid)
        XCTAssertEqual(IT.lcCgroupProcs(id).count, 1)
        // The same through run.
        assertRefused("duplicate id (run)", ["run", "-b", b, id], mentions: ["exists"], idIsFree: false)
        XCTAssertEqual(IT.lcStatus(id, root: Self.root), "created")
    }

    // MARK: CLI

    func testUnknownSignal() throws {
        let b = IT.bundle(args: ["sleep", "1000"])
        let id = IT.id("bad")
        defer {
            IT.skiff(["delete", "--force", id], root: Self.root)
            try? FileManager.default.removeItem(atPath: b)
        }
        XCTAssertEqual(IT.skiffDetached(["create", "-b", b, id], root: Self.root).status, 0)
        XCTAssertEqual(IT.skiff(["start", id], root: Self.root).status, 0)
        for sig in ["FOO", "SIGFOO", "99", "0x9", ""] {
            assertRefused("kill \(sig.isEmpty ? "(empty)" : sig)", ["kill", id, sig], mentions: ["signal"])
        }
        XCTAssertEqual(IT.lcStatus(id, root: Self.root), "running", "a refused kill sends nothing")
    }

    func testUnknownFlags() throws {
        assertRefused("unknown create flag", ["create", "--bogus", IT.id("bad")], mentions: ["flag provided but not defined: -bogus"], quietStdout: false)
        assertRefused("unknown global flag", ["--bogus", "list"], mentions: ["flag provided but not defined: -bogus"], quietStdout: false)
        assertRefused("flag without value", ["create", "--bundle"], mentions: ["bundle"], quietStdout: false)
        assertRefused("wrong arg count", ["state"], mentions: ["state"], quietStdout: false)
        assertRefused("bad log format", ["--log-format", "xml", "list"], mentions: ["xml"], quietStdout: false)
        assertRefused("bad --rootless", ["--rootless", "maybe", "list"], mentions: ["--rootless", "maybe", "true, false or auto"],
                      quietStdout: false)
        assertRefused("bad --cgroup-manager", ["--cgroup-manager", "lxc", "list"], mentions: ["lxc"], quietStdout: false)
    }

    // MARK: --log

    func testJSONLogOfFailingCreate() throws {
        let dir = IT.lcTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let log = dir + "/skiff.log"
        try "{\"level\":\"info\",\"msg\":\"earlier\",\"time\":\"2020-01-01T00:00:00Z\"}\n".write(toFile: log, atomically: true, encoding: .utf8)
        let missing = dir + "/no-bundle"
        assertRefused("failing create with --log json", ["--log", log, "--log-format", "json", "create", "-b", missing, IT.id("bad")],
                      mentions: [missing])
        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 2, "the log is appended to: \(lines)")
        XCTAssertTrue(lines.first?.contains("earlier") ?? false)
        let last = try XCTUnwrap(lines.last)
        let o = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any], String(last))
        XCTAssertEqual(o["level"] as? String, "error")
        XCTAssertTrue((o["msg"] as? String ?? "").contains(missing), "\(o)")
        let time = o["time"] as? String ?? ""
        XCTAssertNotNil(time.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$"#, options: .regularExpression), time)
        XCTAssertEqual(Set(o.keys), ["level", "msg", "time"])
    }
}
