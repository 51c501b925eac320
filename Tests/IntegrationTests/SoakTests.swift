import Foundation
import XCTest

/// The soak (scripts/soak.sh): 1000 create/start/exec/delete cycles with random SIGKILLs to
/// skiff and to the container, and a long `events --interval` run; state dirs, cgroups,
/// mounts, processes and the events process's fds and RSS are the same after as before.
final class SoakTests: XCTestCase {
    static let cycles = 1000
    /// A bound well past the ~60 s the soak takes here.
    static let timeout: TimeInterval = 900

    override func setUpWithError() throws { try IT.requireEnvironment() }

    func testSoakLeavesNothingBehind() {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        let r = IT.lcShell("SKIFF_BINARY=\(IT.lcQuote(IT.binary)) \(IT.lcQuote(repo + "/scripts/soak.sh")) --cycles \(Self.cycles) --root /run/skiff-it-soak 2>&1",
                           timeout: Self.timeout)
        print(r.stdout)
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("\(Self.cycles) cycles in"), r.stdout)
    }
}
