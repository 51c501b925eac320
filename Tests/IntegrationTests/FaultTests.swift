import Foundation
import XCTest

/// Crash consistency (SKIFF_FAULT): skiff killed dead at the end of every phase of create,
/// start, exec, update, pause and delete, then `delete --force`, leaves no state dir,
/// cgroup, mount or process, and the same ID then makes a working container.
final class FaultTests: XCTestCase {
    static let root = "/run/skiff-it-fault"
    /// What a shell reports for a command killed by SIGKILL.
    static let killedStatus: Int32 = 128 + SIGKILL

    override func setUpWithError() throws { try IT.requireEnvironment() }

    /// Runs skiff with `env` set, stdio on files (a container init must not hold our pipes).
    func skiff(_ args: [String], env: [String: String] = [:]) -> IT.Result {
        let dir = IT.lcTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let vars = env.map { "\($0.key)=\(IT.lcQuote($0.value))" }.sorted().joined(separator: " ")
        let cmd = ([IT.binary, "--root", Self.root] + args).map(IT.lcQuote).joined(separator: " ")
        let r = IT.lcShell("\(vars.isEmpty ? "" : "export \(vars); ")\(cmd) </dev/null >\(dir)/out 2>\(dir)/err")
        return IT.Result(status: r.status, stdout: (try? String(contentsOfFile: dir + "/out", encoding: .utf8)) ?? "",
                         stderr: r.stderr + ((try? String(contentsOfFile: dir + "/err", encoding: .utf8)) ?? ""))
    }

    /// The phases one command goes through, as its trace names them.
    func phases(_ args: [String], scope: String) -> [String] {
        let file = IT.lcTempDir() + "/trace"
        defer { try? FileManager.default.removeItem(atPath: (file as NSString).deletingLastPathComponent) }
        let r = skiff(args, env: ["SKIFF_TRACE": "text", "SKIFF_TRACE_FILE": file])
        XCTAssertEqual(r.status, 0, "traced \(args): \(r.stderr)")
        let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
        var out: [String] = []
        for line in text.split(separator: "\n") {
            guard let r = line.range(of: " us  ") else { continue }
            let phase = String(line[r.upperBound...])
            if phase.hasPrefix(scope + "/") && !out.contains(phase) { out.append(phase) }
        }
        XCTAssertFalse(out.isEmpty, "no \(scope) phases traced: \(text)")
        return out
    }

    /// Nothing of container `id` is left, and the mount table is as it was.
    func assertNothingLeft(_ id: String, mounts: Int, _ context: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertFalse(FileManager.default.fileExists(atPath: Self.root + "/" + id), "\(context): state dir left", file: file, line: line)
        XCTAssertFalse(FileManager.default.fileExists(atPath: IT.lcCgroup(id)), "\(context): cgroup left", file: file, line: line)
        XCTAssertEqual(IT.footprint(root: Self.root).mountLines, mounts, "\(context): mounts left", file: file, line: line)
        XCTAssertEqual(IT.processes(matching: id), [], "\(context): processes left", file: file, line: line)
    }

    /// The ID works again: create, start, delete.
    func assertUsable(_ id: String, _ bundle: String, _ context: String, file: StaticString = #filePath, line: UInt = #line) {
        let c = skiff(["create", "-b", bundle, id])
        XCTAssertEqual(c.status, 0, "\(context): create again: \(c.stderr)", file: file, line: line)
        XCTAssertEqual(skiff(["start", id]).status, 0, "\(context): start again", file: file, line: line)
        XCTAssertEqual(skiff(["delete", "--force", id]).status, 0, "\(context): delete again", file: file, line: line)
    }

    func sleeper() -> String { IT.bundle(args: ["sleep", "1000"]) }

    func testCreateKilledInEveryPhaseIsUndoneByDeleteForce() throws {
        let b = sleeper()
        defer { try? FileManager.default.removeItem(atPath: b) }
        let id = IT.id("fault-create")
        let mounts = IT.footprint(root: Self.root).mountLines
        let all = phases(["create", "-b", b, id], scope: "create")
        XCTAssertEqual(skiff(["delete", "--force", id]).status, 0)
        XCTAssertTrue(all.contains("create/cgroup") && all.contains("create/clone") && all.contains("create/state save"), "\(all)")
        for phase in all {
            let r = skiff(["create", "-b", b, id], env: ["SKIFF_FAULT": phase])
            // The init's own phases: the init dies and create reports it (exit 1).
            let expected: Int32 = phase.hasPrefix("create/init/") ? 1 : Self.killedStatus
            XCTAssertEqual(r.status, expected, "\(phase): \(r.stderr)")
            let d = skiff(["delete", "--force", id])
            XCTAssertEqual(d.status, 0, "\(phase): delete --force: \(d.stderr)")
            assertNothingLeft(id, mounts: mounts, phase)
            assertUsable(id, b, phase)
        }
        assertNothingLeft(id, mounts: mounts, "end")
    }

    /// A create that died is undone by the next create of the same ID, no delete between.
    func testCreateAfterAKilledCreateReusesTheID() throws {
        let b = sleeper()
        defer { try? FileManager.default.removeItem(atPath: b) }
        let id = IT.id("fault-reuse")
        let mounts = IT.footprint(root: Self.root).mountLines
        let all = phases(["create", "-b", b, id], scope: "create")
        XCTAssertEqual(skiff(["delete", "--force", id]).status, 0)
        // Up to the state's save: after it, the ID is a container (and "exists").
        for phase in all.prefix(while: { $0 != "create/state save" }) where !phase.hasPrefix("create/init/") {
            XCTAssertEqual(skiff(["create", "-b", b, id], env: ["SKIFF_FAULT": phase]).status, Self.killedStatus, phase)
            let again = skiff(["create", "-b", b, id])
            XCTAssertEqual(again.status, 0, "\(phase): create after the killed one: \(again.stderr)")
            XCTAssertEqual(skiff(["start", id]).status, 0, phase)
            XCTAssertEqual(IT.lcCgroupProcs(id).count, 1, "\(phase): one process in the cgroup (the killed create's init is gone)")
            XCTAssertEqual(skiff(["delete", "--force", id]).status, 0, phase)
            assertNothingLeft(id, mounts: mounts, phase)
        }
        let made = skiff(["create", "-b", b, id])
        XCTAssertEqual(made.status, 0, made.stderr)
        let twice = skiff(["create", "-b", b, id])
        XCTAssertEqual(twice.status, 1)
        XCTAssertTrue(twice.stderr.contains("container with id exists"), twice.stderr)
        XCTAssertEqual(skiff(["delete", "--force", id]).status, 0)
    }

    /// Kills `command` at each of its phases on a fresh running container, then checks
    /// that delete --force cleans up and the ID works again.
    func killEveryPhase(of command: [String], after: [String] = [], scope: String, start: Bool = true,
                        file: StaticString = #filePath, line: UInt = #line) {
        let b = sleeper()
        defer { try? FileManager.default.removeItem(atPath: b) }
        let id = IT.id("fault-" + scope)
        let mounts = IT.footprint(root: Self.root).mountLines
        func make() {
            XCTAssertEqual(skiff(["create", "-b", b, id]).status, 0, "create", file: file, line: line)
            if start { XCTAssertEqual(skiff(["start", id]).status, 0, "start", file: file, line: line) }
        }
        make()
        let all = phases(command + [id] + after, scope: scope)
        XCTAssertEqual(skiff(["delete", "--force", id]).status, 0)
        for phase in all {
            make()
            let r = skiff(command + [id] + after, env: ["SKIFF_FAULT": phase])
            XCTAssertNotEqual(r.status, 0, "\(phase) did not stop \(command)", file: file, line: line)
            let d = skiff(["delete", "--force", id])
            XCTAssertEqual(d.status, 0, "\(phase): delete --force: \(d.stderr)", file: file, line: line)
            assertNothingLeft(id, mounts: mounts, phase, file: file, line: line)
            assertUsable(id, b, phase, file: file, line: line)
        }
    }

    func testStartKilledInEveryPhase() {
        killEveryPhase(of: ["start"], scope: "start", start: false)
    }

    func testExecKilledInEveryPhase() {
        killEveryPhase(of: ["exec", "-d"], after: ["sleep", "1000"], scope: "exec")
    }

    func testPauseKilledInEveryPhase() {
        killEveryPhase(of: ["pause"], scope: "pause")
    }

    func testUpdateKilledInEveryPhase() throws {
        let dir = IT.lcTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // What this host's cgroup2 offers (hugetlb only), and a device program to replace.
        try #"{"hugepageLimits":[{"pageSize":"2MB","limit":4194304}],"devices":[{"allow":true,"access":"rwm"}]}"#
            .write(toFile: dir + "/r.json", atomically: true, encoding: .utf8)
        killEveryPhase(of: ["update", "-r", dir + "/r.json"], scope: "update")
    }

    /// A delete killed half-way is finished by the next one.
    func testDeleteKilledInEveryPhaseIsFinishedByTheNext() {
        killEveryPhase(of: ["delete", "--force"], scope: "delete")
    }

    /// A running container whose state file was damaged: delete refuses without --force,
    /// and --force kills it and removes its cgroup (the journal names both).
    func testCorruptStateOfARunningContainerIsDeletedByForce() throws {
        let b = sleeper()
        defer { try? FileManager.default.removeItem(atPath: b) }
        let id = IT.id("fault-corrupt")
        let mounts = IT.footprint(root: Self.root).mountLines
        XCTAssertEqual(skiff(["create", "-b", b, id]).status, 0)
        XCTAssertEqual(skiff(["start", id]).status, 0)
        XCTAssertEqual(IT.lcCgroupProcs(id).count, 1)
        try "{\"id\": [".write(toFile: Self.root + "/" + id + "/state.json", atomically: true, encoding: .utf8)
        let refused = skiff(["delete", id])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains("not stopped"), refused.stderr)
        XCTAssertEqual(IT.lcCgroupProcs(id).count, 1, "the refused delete leaves it running")
        let d = skiff(["delete", "--force", id])
        XCTAssertEqual(d.status, 0, d.stderr)
        assertNothingLeft(id, mounts: mounts, "corrupt state")
        assertUsable(id, b, "corrupt state")
    }

    /// The issue's battery: SIGKILL to create at a random moment, 40 times.
    func testCreateKilledAtRandomMomentsLeavesNothing() throws {
        let b = sleeper()
        defer { try? FileManager.default.removeItem(atPath: b) }
        let id = IT.id("fault-random")
        let mounts = IT.footprint(root: Self.root).mountLines
        let cmd = ([IT.binary, "--root", Self.root, "create", "-b", b, id]).map(IT.lcQuote).joined(separator: " ")
        for i in 0..<40 {
            let delayMicros = Int.random(in: 0...8000)
            IT.lcShell("\(cmd) </dev/null >/dev/null 2>&1 & p=$!; " +
                       "sleep \(String(format: "%.4f", Double(delayMicros) / 1e6)); kill -9 $p; wait $p")
            let d = skiff(["delete", "--force", id])
            XCTAssertEqual(d.status, 0, "try \(i): \(d.stderr)")
            assertNothingLeft(id, mounts: mounts, "try \(i) (killed after \(delayMicros) us)")
        }
    }
}
