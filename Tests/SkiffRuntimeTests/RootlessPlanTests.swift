import XCTest
import Glibc
@testable import SkiffRuntime

final class RootlessPlanTests: XCTestCase {
    /// Only a mapping of the user's own single id is written directly; anything more goes
    /// through newuidmap/newgidmap.
    func testOwnIDOnly() {
        let own = Spec.IDMapping(containerID: 0, hostID: 1000, size: 1)
        XCTAssertTrue(IDMapTools.isOwnIDOnly([own], own: 1000))
        XCTAssertFalse(IDMapTools.isOwnIDOnly([own], own: 1001), "another id")
        XCTAssertFalse(IDMapTools.isOwnIDOnly([Spec.IDMapping(containerID: 0, hostID: 1000, size: 2)], own: 1000), "a range")
        XCTAssertFalse(IDMapTools.isOwnIDOnly([own, Spec.IDMapping(containerID: 1, hostID: 100000, size: 65536)], own: 1000))
        XCTAssertFalse(IDMapTools.isOwnIDOnly([], own: 1000))
    }

    func testMapToolsNamesTheirFields() {
        XCTAssertEqual(IDMapTools.Kind.uid.tool, "newuidmap")
        XCTAssertEqual(IDMapTools.Kind.gid.field, "linux.gidMappings")
        XCTAssertEqual(IDMapTools.Kind.gid.file, "/etc/subgid")
    }

    /// The update marker: what it says survives a round trip; an unreadable one counts as
    /// a device change (the safe side: the device program is written again).
    func testPendingUpdateMarker() throws {
        var template = Array("/tmp/skiff-pending-XXXXXX".utf8CString)
        let dir = String(cString: mkdtemp(&template))
        defer { _ = Files.removeTree(dir) }
        let path = dir + "/update.pending"
        XCTAssertNil(PendingUpdate.read(path))
        try PendingUpdate(devices: false).write(path)
        XCTAssertEqual(PendingUpdate.read(path)?.devices, false)
        try PendingUpdate(devices: true).write(path)
        XCTAssertEqual(PendingUpdate.read(path)?.devices, true)
        try Files.writeAtomically(path, Array("{\"devi".utf8))
        XCTAssertEqual(PendingUpdate.read(path)?.devices, true, "torn marker")
    }
}
