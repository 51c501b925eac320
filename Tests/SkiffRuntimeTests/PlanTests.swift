import XCTest
import Glibc
@testable import SkiffRuntime

final class PlanTests: XCTestCase {
    func testMountOptions() {
        let o = MountOptions.parse(["nosuid", "ro", "rw", "noexec", "rprivate", "mode=755", "size=64k", "rro", "rnosuid"])
        XCTAssertEqual(o.flags, UInt(MS_NOSUID | MS_NOEXEC), "rw after ro clears it")
        XCTAssertEqual(o.clearFlags, UInt(MS_RDONLY))
        XCTAssertEqual(o.propagation, [UInt(MS_PRIVATE | MS_REC)])
        XCTAssertEqual(o.data, ["mode=755", "size=64k"])
        XCTAssertEqual(o.dataString, "mode=755,size=64k")
        XCTAssertEqual(o.recursiveSet, 0x1 | 0x2)
        XCTAssertTrue(MountOptions.parse(["rbind"]).isRecursiveBind)
        XCTAssertTrue(MountOptions.parse(["bind"]).isBind)
        XCTAssertFalse(MountOptions.parse(["bind"]).isRecursiveBind)
        let atime = MountOptions.parse(["rnoatime"])
        XCTAssertEqual(atime.recursiveClear, 0x70, "an atime mode clears the whole atime field")
        XCTAssertEqual(atime.recursiveSet, 0x10)
    }

    func spec(_ namespaces: String, mounts: String = "[]") throws -> Spec {
        try Spec.parse(Array(#"{"process":{"args":["sh"],"cwd":"/"},"root":{"path":"rootfs"},"mounts":\#(mounts),"linux":{"namespaces":\#(namespaces)}}"#.utf8))
    }

    func testNamespacePlan() throws {
        let p = try LaunchPlan.make(id: "x", bundle: "/b", spec: spec(#"[{"type":"pid"},{"type":"mount"},{"type":"cgroup"},{"type":"network","path":"/proc/1/ns/net"},{"type":"time"}]"#))
        XCTAssertEqual(p.cloneFlags, UInt64(CLONE_NEWPID | CLONE_NEWNS), "cgroup and time are unshared later; joined ones are not cloned")
        XCTAssertEqual(p.unshareFlags, CLONE_NEWCGROUP | CLONE_NEWTIME)
        XCTAssertEqual(p.joins.map(\.0), [.network])
        XCTAssertFalse(p.forkAfterJoin)
        XCTAssertTrue(p.newTimeNamespace)
        XCTAssertEqual(p.rootfs, "/b/rootfs")

        let joinPid = try LaunchPlan.make(id: "x", bundle: "/b", spec: spec(#"[{"type":"mount"},{"type":"pid","path":"/proc/1/ns/pid"}]"#))
        XCTAssertTrue(joinPid.forkAfterJoin, "a joined pid namespace applies to children only")

        let joinUser = try LaunchPlan.make(id: "x", bundle: "/b", spec: spec(#"[{"type":"mount"},{"type":"pid"},{"type":"user","path":"/proc/1/ns/user"}]"#))
        XCTAssertEqual(joinUser.cloneFlags, 0, "new namespaces are made after joining the user namespace that owns them")
        XCTAssertEqual(joinUser.joins.first?.0, .user)
        XCTAssertTrue(joinUser.forkAfterJoin)

        // runtime-spec: a kind not listed is the runtime's; without a mount namespace nothing is mounted.
        let noMount = try LaunchPlan.make(id: "x", bundle: "/b", spec: spec(#"[{"type":"pid"}]"#))
        XCTAssertFalse(noMount.hasMountNamespace)
        XCTAssertEqual(noMount.cloneFlags, UInt64(CLONE_NEWPID))
        XCTAssertTrue(try LaunchPlan.make(id: "x", bundle: "/b", spec: spec(#"[{"type":"mount"}]"#)).hasMountNamespace)
    }

    func testMountPlan() throws {
        let p = try LaunchPlan.make(id: "x", bundle: "/etc", spec: spec(#"[{"type":"mount"}]"#, mounts:
            #"[{"destination":"/a/../b//c/","type":"tmpfs","source":"tmpfs"},{"destination":"/h","source":"hostname","options":["rbind","ro"]},{"destination":"/sys/fs/cgroup","type":"cgroup","source":"cgroup"},{"destination":"/dev","type":"bind","source":"/dev","options":["bind"]}]"#))
        XCTAssertEqual(p.mounts.map(\.destination), ["/b/c", "/h", "/sys/fs/cgroup", "/dev"])
        XCTAssertEqual(p.mounts[1].source, "/etc/hostname", "bind sources are relative to the bundle")
        XCTAssertFalse(p.mounts[1].sourceIsDirectory)
        XCTAssertTrue(p.mounts[1].isBind)
        XCTAssertEqual(p.mounts[2].type, "cgroup2")
        XCTAssertFalse(p.setupDev, "a bind-mounted /dev is not populated")
    }

    func testSignals() throws {
        XCTAssertEqual(try Signals.parse("KILL"), SIGKILL)
        XCTAssertEqual(try Signals.parse("SIGKILL"), SIGKILL)
        XCTAssertEqual(try Signals.parse("sigterm"), SIGTERM)
        XCTAssertEqual(try Signals.parse("9"), 9)
        XCTAssertEqual(try Signals.parse("RTMIN+2"), 36)
        XCTAssertThrowsError(try Signals.parse("FOO")) { XCTAssertEqual("\($0)", #"unknown signal "FOO""#) }
        XCTAssertThrowsError(try Signals.parse("99"))
    }

    func testCgroupPath() {
        XCTAssertEqual(Cgroup.resolve(cgroupsPath: nil, id: "c1", mountPoint: "/sys/fs/cgroup"), "/sys/fs/cgroup/skiff/c1")
        XCTAssertEqual(Cgroup.resolve(cgroupsPath: "/a/b", id: "c1", mountPoint: "/m"), "/m/a/b")
        XCTAssertEqual(Cgroup.resolve(cgroupsPath: "rel/../../x", id: "c1", mountPoint: "/m"), "/m/x", "never escapes the hierarchy")
    }

    /// Files.clean's fast path (a clean path comes back as it is) agrees with its slow one.
    func testCleanPaths() {
        let cases: [(String, String)] = [
            ("/", "/"), ("/a", "/a"), ("/a/b", "/a/b"), ("/a/", "/a"), ("//a", "/a"), ("/a//b", "/a/b"),
            ("/a/./b", "/a/b"), ("/a/../b", "/b"), ("/..", "/"), ("/.", "/"), ("/...", "/..."), ("/a..", "/a.."),
            ("/.a", "/.a"), ("/../..", "/"), ("a/b", "/a/b"), ("", "/"), ("/a/b/..", "/a"), ("/proc", "/proc"),
            ("/dev/pts/", "/dev/pts"), ("/x/.", "/x"),
        ]
        for (path, want) in cases {
            XCTAssertEqual(Files.clean(path), want, path)
            XCTAssertEqual(Files.isClean(path), path == want, path)
        }
    }
}
