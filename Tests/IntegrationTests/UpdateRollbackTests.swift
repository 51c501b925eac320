import Foundation
import XCTest
import Glibc

/// An update killed at every phase (SKIFF_FAULT): the next locked command (here the next
/// update, one that changes nothing) sets the cgroup back to what the record says, the
/// device program included; an update killed once its record was saved is completed.
final class UpdateRollbackTests: XCTestCase {
    override func setUpWithError() throws { try IT.requireEnvironment() }

    static let mb2 = 2 * 1024 * 1024
    /// The hugetlb limits (in 2MB pages) before and after the update.
    static let oldPages = 2, newPages = 8
    /// Phases after which the record holds the update: killed there, it is completed.
    static let recordSaved: Set<String> = ["update/state save"]

    func read(_ path: String) -> String {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `skiff --root <tests' root> ARGS` with SKIFF_FAULT and SKIFF_TRACE_FILE as given.
    func skiff(_ args: [String], env: String = "") -> IT.Result {
        let cmd = ([IT.binary, "--root", IT.stateRoot] + args).map(IT.lcQuote).joined(separator: " ")
        return IT.lcShell("\(env) \(cmd) </dev/null")
    }

    func testKilledUpdateIsSetBackByTheNextUpdate() throws {
        let allow = DeviceProbe.allow7_0, denyAll = DeviceProbe.denyAll
        let probe = DeviceProbe(resources: ["devices": [denyAll, allow],
                                            "hugepageLimits": [["pageSize": "2MB", "limit": Self.oldPages * Self.mb2]]])
        defer { probe.cleanup() }
        let c = probe.container
        let dir = IT.lcTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }

        func json(_ o: [String: Any], _ name: String) throws -> String {
            try JSONSerialization.data(withJSONObject: o).write(to: URL(fileURLWithPath: dir + "/" + name))
            return dir + "/" + name
        }
        let newer = try json(["devices": [denyAll], "hugepageLimits": [["pageSize": "2MB", "limit": Self.newPages * Self.mb2]]], "new.json")
        let older = try json(["devices": [denyAll, allow], "hugepageLimits": [["pageSize": "2MB", "limit": Self.oldPages * Self.mb2]]], "old.json")
        let nothing = try json([:], "nothing.json")
        let cg = IT.lcCgroup(c.id)
        let pending = "\(IT.stateRoot)/\(c.id)/update.pending"
        func deviceAllowed() -> Bool? { probe.allowed() }
        XCTAssertEqual(deviceAllowed(), true, "allowed at create")

        // The phases, from a traced update that is then undone.
        let trace = dir + "/trace"
        XCTAssertEqual(skiff(["update", "-r", newer, c.id], env: "SKIFF_TRACE=text SKIFF_TRACE_FILE=\(trace)").status, 0)
        let phases = read(trace).split(separator: "\n").compactMap { line -> String? in
            guard let r = line.range(of: " us  ") else { return nil }
            return String(line[r.upperBound...])
        }.filter { $0.hasPrefix("update/") }
        XCTAssertTrue(phases.contains("update/pending marker") && phases.contains("update/cgroup files"), "\(phases)")
        XCTAssertEqual(skiff(["update", "-r", older, c.id]).status, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: pending), "a finished update leaves no marker")

        for phase in phases {
            let killed = skiff(["update", "-r", newer, c.id], env: "SKIFF_FAULT=\(IT.lcQuote(phase))")
            XCTAssertEqual(killed.status, 128 + SIGKILL, "\(phase): \(killed.stderr)")
            let next = skiff(["update", "-r", nothing, c.id])
            XCTAssertEqual(next.status, 0, "\(phase): the next update: \(next.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: pending), "\(phase): marker left")
            let completed = Self.recordSaved.contains(phase)
            let pages = completed ? Self.newPages : Self.oldPages
            XCTAssertEqual(read(cg + "/hugetlb.2MB.max"), "\(pages * Self.mb2)", "\(phase): hugetlb limit")
            XCTAssertEqual(deviceAllowed(), !completed, "\(phase): the device program")
            XCTAssertEqual(IT.lcStatus(c.id), "running", phase)
            // Back to the old resources for the next phase.
            XCTAssertEqual(skiff(["update", "-r", older, c.id]).status, 0, phase)
            XCTAssertEqual(deviceAllowed(), true, "\(phase): reset")
        }
    }

    /// start sets back an update killed on a created container.
    func testKilledUpdateOfACreatedContainerIsSetBackByStart() throws {
        let c = IT.lcCreate(["sleep", "1000"]) { c in
            CT.linux(&c) { $0["resources"] = ["hugepageLimits": [["pageSize": "2MB", "limit": Self.oldPages * Self.mb2]]] }
        }
        defer { c.cleanup() }
        XCTAssertEqual(c.result.status, 0, c.result.stderr)
        let dir = IT.lcTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try #"{"hugepageLimits":[{"pageSize":"2MB","limit":\#(Self.newPages * Self.mb2)}]}"#
            .write(toFile: dir + "/r.json", atomically: true, encoding: .utf8)
        let killed = skiff(["update", "-r", dir + "/r.json", c.id], env: "SKIFF_FAULT='update/cgroup files'")
        XCTAssertEqual(killed.status, 128 + SIGKILL, killed.stderr)
        XCTAssertEqual(read(IT.lcCgroup(c.id) + "/hugetlb.2MB.max"), "\(Self.newPages * Self.mb2)", "half-applied")
        XCTAssertEqual(skiff(["start", c.id]).status, 0)
        XCTAssertEqual(read(IT.lcCgroup(c.id) + "/hugetlb.2MB.max"), "\(Self.oldPages * Self.mb2)", "set back by start")
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(IT.stateRoot)/\(c.id)/update.pending"))
    }
}
