import XCTest

final class SmokeTests: XCTestCase {
    override func setUpWithError() throws { try IT.requireEnvironment() }

    func testDemoBundleRuns() throws {
        let r = IT.run(args: ["sh", "-c", "echo hello; hostname"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("hello\n"), r.stdout)
    }
}
