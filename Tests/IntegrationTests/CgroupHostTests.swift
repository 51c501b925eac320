import Foundation
import XCTest

/// What this hybrid host's cgroup2 can show (hugetlb only; the full set runs in the VM):
/// limits land in their files, cgroup.* keys of `unified` are written, pause/resume and ps.
final class CgroupHostTests: XCTestCase {
    override func setUpWithError() throws { try IT.requireEnvironment() }

    func read(_ path: String) -> String {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func testHugetlbAndUnifiedLand() throws {
        let hasHugetlb = read(IT.lcCgroup("x").replacingOccurrences(of: "/skiff/x", with: "") + "/cgroup.controllers").contains("hugetlb")
        XCTAssertTrue(hasHugetlb, "this host's cgroup2 offers hugetlb")
        let c = IT.lcCreate(["sleep", "1000"]) { c in
            CT.linux(&c) { l in
                l["resources"] = ["hugepageLimits": [["pageSize": "2MB", "limit": 8 * 2 * 1024 * 1024]],
                                  "unified": ["cgroup.max.descendants": "7"]]
            }
        }
        defer { c.cleanup() }
        XCTAssertEqual(c.result.status, 0, c.result.stderr)
        let cg = IT.lcCgroup(c.id)
        XCTAssertEqual(read(cg + "/hugetlb.2MB.max"), "\(8 * 2 * 1024 * 1024)")
        XCTAssertEqual(read(cg + "/cgroup.max.descendants"), "7")
    }

    func testUnifiedKeyCannotEscapeTheCgroup() {
        let r = IT.run(args: ["true"]) { c in
            CT.linux(&c) { $0["resources"] = ["unified": ["../cgroup.max.depth": "1"]] }
        }
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("linux.resources.unified"), r.stderr)
    }

    func testPauseResumeAndPs() throws {
        let c = IT.lcCreate(["sh", "-c", "sleep 1000 & sleep 1000 & wait"])
        defer { c.cleanup() }
        XCTAssertEqual(c.result.status, 0, c.result.stderr)
        XCTAssertEqual(IT.skiff(["start", c.id]).status, 0)
        XCTAssertTrue(IT.lcWait { IT.lcCgroupProcs(c.id).count == 3 }, "sh and two sleeps")
        let ps = IT.skiff(["ps", "--format", "json", c.id])
        let pids = (try? JSONSerialization.jsonObject(with: Data(ps.stdout.utf8)) as? [Int]) ?? []
        XCTAssertEqual(Set(pids), Set(IT.lcCgroupProcs(c.id)), ps.stdout)
        let table = IT.skiff(["ps", c.id]).stdout.split(separator: "\n")
        XCTAssertTrue(table.first?.contains("PID") ?? false, "ps -ef header")
        XCTAssertEqual(table.count, 4, "header and three processes: \(table)")

        XCTAssertEqual(IT.skiff(["pause", c.id]).status, 0)
        XCTAssertEqual(IT.lcStatus(c.id), "paused")
        XCTAssertTrue(read(IT.lcCgroup(c.id) + "/cgroup.events").contains("frozen 1"))
        XCTAssertTrue(IT.skiff(["resume", c.id]).status == 0)
        XCTAssertEqual(IT.lcStatus(c.id), "running")
        let again = IT.skiff(["resume", c.id])
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.stderr.contains("container not paused"), again.stderr)
    }
}
