import Foundation
import XCTest

/// --root where the state cannot be written: a full tmpfs (ENOSPC) and a read-only mount.
/// create fails with the cause named, exit 1, and leaves no cgroup or process; another
/// container is untouched.
final class HostileRootTests: XCTestCase {
    static let root = "/run/skiff-it-hostile"
    /// Small enough to fill at once, big enough for the state dir's first entries.
    static let tmpfsSize = "64k"

    override func setUpWithError() throws { try IT.requireEnvironment() }

    func mountRoot(_ options: String, file: StaticString = #filePath, line: UInt = #line) {
        let r = IT.sh("mkdir -p \(Self.root) && mount -t tmpfs -o size=\(Self.tmpfsSize) skiff-hostile \(Self.root) && \(options)")
        XCTAssertEqual(r.status, 0, r.stderr, file: file, line: line)
    }

    override func tearDown() {
        IT.sh("umount -l \(Self.root) 2>/dev/null; rmdir \(Self.root) 2>/dev/null")
        super.tearDown()
    }

    func assertRefused(_ cause: String, file: StaticString = #filePath, line: UInt = #line) {
        let b = IT.bundle(args: ["sleep", "1000"])
        defer { try? FileManager.default.removeItem(atPath: b) }
        let other = IT.id("hostile-other")
        XCTAssertEqual(IT.skiffDetached(["create", "-b", b, other]).status, 0, "a container on the normal root", file: file, line: line)
        defer { IT.skiff(["delete", "--force", other]) }
        let id = IT.id("hostile")
        let r = IT.skiffDetached(["create", "-b", b, id], root: Self.root)
        XCTAssertEqual(r.status, 1, r.stderr, file: file, line: line)
        XCTAssertTrue(r.stderr.contains(cause), r.stderr, file: file, line: line)
        XCTAssertFalse(FileManager.default.fileExists(atPath: IT.lcCgroup(id)), "cgroup left", file: file, line: line)
        XCTAssertEqual(IT.processes(matching: id), [], file: file, line: line)
        XCTAssertEqual(IT.skiff(["delete", "--force", id], root: Self.root).status, 0, file: file, line: line)
        XCTAssertEqual(IT.state(other)?["status"] as? String, "created", "the other container", file: file, line: line)
    }

    func testFullRootFailsCleanly() {
        mountRoot("dd if=/dev/zero of=\(Self.root)/fill bs=4k 2>/dev/null; true")
        assertRefused("No space left on device")
    }

    func testReadOnlyRootFailsCleanly() {
        mountRoot("mount -o remount,ro \(Self.root)")
        assertRefused("Read-only file system")
    }
}
