import Foundation
import XCTest

/// Acceptance 4: many `skiff run`s in a row leak nothing (state dirs, cgroups, mounts, fds).
final class LeakTests: XCTestCase {
    static let root = "/run/skiff-it-leak"

    override func setUpWithError() throws { try IT.requireEnvironment() }

    func testTwoHundredRunsLeakNothing() throws {
        let b = IT.bundle(args: ["/bin/true"])
        defer { try? FileManager.default.removeItem(atPath: b) }
        let prefix = IT.id("leak")

        // Warm-up: one-time creations (the state root, the parent cgroup) are not leaks.
        let warm = IT.skiff(["run", "-b", b, prefix + "-warm"], root: Self.root)
        XCTAssertEqual(warm.status, 0, warm.stderr)
        let before = IT.footprint(root: Self.root)

        var failures = 0
        let started = Date()
        for i in 0..<200 {
            let r = IT.skiff(["run", "-b", b, "\(prefix)-\(i)"], root: Self.root)
            if r.status != 0 || !r.stderr.isEmpty {
                failures += 1
                if failures <= 5 { XCTFail("run #\(i): status \(r.status), stderr: \(r.stderr)") }
            }
        }
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertEqual(failures, 0, "every run exits 0")

        let after = IT.footprint(root: Self.root)
        XCTAssertEqual(after, before, "footprint after 200 runs")
        XCTAssertEqual(after.stateDirs, [], "every foreground run deletes its container")
        XCTAssertEqual(IT.skiff(["list", "-q"], root: Self.root).stdout, "")
        let leftovers = ((try? FileManager.default.contentsOfDirectory(atPath: (IT.lcCgroup("x") as NSString).deletingLastPathComponent)) ?? [])
            .filter { $0.hasPrefix(prefix) }
        XCTAssertEqual(leftovers, [], "no container cgroup left")
        XCTAssertEqual(IT.processes(matching: prefix), [])
        print("LeakTests: 200 runs in \(String(format: "%.2f", elapsed))s (\(String(format: "%.1f", elapsed * 5))ms each)")
    }
}
