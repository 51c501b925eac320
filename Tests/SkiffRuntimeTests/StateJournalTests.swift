import XCTest
@testable import SkiffRuntime

final class StateJournalTests: XCTestCase {
    func testEntriesRoundTripAndATornLastLineIsSkipped() {
        let entries: [StateJournal.Entry] = [
            .cgroup("/sys/fs/cgroup/skiff/a b"), .unit("skiff-x.scope", .system), .unit("skiff-y.scope", .user), .mounts(under: "/b/rootfs"),
            .process(pid: 42, identity: PidIdentity.Recorded(inode: 7, startTime: 0)), .file("/run/x.pid.tmp9"),
        ]
        var bytes: [UInt8] = []
        for e in entries { bytes += Array((e.json.serialized() + "\n").utf8) }
        XCTAssertEqual(StateJournal.parse(bytes), entries)
        // A create killed in the middle of a write: the whole lines stand.
        XCTAssertEqual(StateJournal.parse(bytes + Array(#"{"cgroup":"/sys/fs/cg"#.utf8)), entries)
        XCTAssertEqual(StateJournal.parse(Array("garbage\n{\"pid\":0}\n{}\n".utf8)), [])
    }

    func testAProcessWithoutIdentityIsNeverTakenForAlive() {
        XCTAssertFalse(PidIdentity.Recorded(inode: 0, startTime: 0).isKnown)
        XCTAssertTrue(PidIdentity.Recorded.of(getpid()).isKnown)
        XCTAssertTrue(PidIdentity.Recorded.of(getpid()).isAlive(getpid()))
    }
}
