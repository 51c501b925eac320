import XCTest
import Glibc
@testable import SkiffRuntime

/// Capability masks and id-mapped mount plans, computed before anything runs.
final class SecurityPlanTests: XCTestCase {
    func spec(process: String = #"{"args":["sh"],"cwd":"/"}"#, namespaces: String = #"[{"type":"mount"}]"#,
              extraLinux: String = "", mounts: String = "[]") throws -> Spec {
        try Spec.parse(Array(#"{"process":\#(process),"root":{"path":"/tmp"},"mounts":\#(mounts),"linux":{"namespaces":\#(namespaces)\#(extraLinux)}}"#.utf8))
    }

    func validationError(_ s: Spec) -> String {
        do { try Validation.validate(s, bundle: "/"); return "" } catch { return "\(error)" }
    }

    // MARK: capabilities

    func testMasks() {
        let caps = Spec.Capabilities(bounding: ["CAP_CHOWN", "CAP_KILL", "CAP_SYS_ADMIN"], effective: ["CAP_KILL"],
                                     inheritable: ["CAP_NET_BIND_SERVICE"], permitted: ["CAP_KILL", "CAP_CHOWN"],
                                     ambient: ["CAP_NET_BIND_SERVICE", "CAP_KILL"])
        let c = CapabilitySetup(caps, lastCap: 40)
        XCTAssertEqual(c.bounding, 1 << 0 | 1 << 5 | 1 << 21)
        XCTAssertEqual(c.effective, 1 << 5)
        XCTAssertEqual(c.inheritable, 1 << 10)
        XCTAssertEqual(c.permitted, 1 << 0 | 1 << 5)
        XCTAssertEqual(c.ambient, [10, 5], "raised in config order")
        XCTAssertEqual(c.unavailable, [])
    }

    /// Known to skiff but not to an older kernel: left out of every set, named once.
    func testCapabilitiesAboveTheKernelsLastAreIgnored() throws {
        let names = ["CAP_KILL", "CAP_CHECKPOINT_RESTORE", "CAP_BPF", "CAP_PERFMON"]
        let caps = Spec.Capabilities(bounding: names, effective: names, inheritable: [], permitted: names, ambient: ["CAP_BPF"])
        let c = CapabilitySetup(caps, lastCap: 38)
        XCTAssertEqual(c.bounding, 1 << 5 | 1 << 38)
        XCTAssertEqual(c.permitted, 1 << 5 | 1 << 38)
        XCTAssertEqual(c.ambient, [])
        XCTAssertEqual(c.unavailable, ["CAP_BPF", "CAP_CHECKPOINT_RESTORE"])

        let s = try spec(process: #"{"args":["sh"],"cwd":"/","capabilities":{"bounding":["CAP_KILL","CAP_BPF"]}}"#)
        let plan = try LaunchPlan.make(id: "x", bundle: "/b", spec: s, lastCapability: 38)
        XCTAssertEqual(plan.unavailableCapabilities, ["CAP_BPF"])
        XCTAssertEqual(plan.capabilities?.bounding, 1 << 5)
        XCTAssertNil(try LaunchPlan.make(id: "x", bundle: "/b", spec: spec(), lastCapability: 38).capabilities,
                     "no process.capabilities: the sets are left alone")
    }

    func testCapabilityValidation() throws {
        XCTAssertEqual(validationError(try spec(process: #"{"args":["sh"],"cwd":"/","capabilities":{"permitted":["CAP_KILL","CAP_CHOWN","CAP_FOO"]}}"#)),
                       #"process.capabilities.permitted[2]: unknown capability "CAP_FOO""#)
        XCTAssertEqual(validationError(try spec(process: #"{"args":["sh"],"cwd":"/","capabilities":{"effective":["CAP_KILL"],"permitted":["CAP_CHOWN"]}}"#)),
                       #"process.capabilities.effective[0]: "CAP_KILL" is not in the permitted set"#)
        XCTAssertEqual(validationError(try spec(process: #"{"args":["sh"],"cwd":"/","capabilities":{"effective":["CAP_KILL"],"permitted":["CAP_KILL"],"ambient":["CAP_CHOWN"]}}"#)),
                       "", "an ambient cap the kernel will not raise is a warning, as in runc")
    }

    // MARK: id-mapped mounts

    func testIdmapOptions() {
        let i = MountOptions.parse(["rbind", "idmap", "ro"])
        XCTAssertTrue(i.idmap)
        XCTAssertFalse(i.idmapRecursive)
        XCTAssertEqual(i.data, [], "idmap is not passed to mount(2)")
        XCTAssertTrue(MountOptions.parse(["ridmap"]).idmapRecursive)
        XCTAssertFalse(MountOptions.parse(["bind"]).idmap)
    }

    func testIdmapPlans() throws {
        let mounts = #"""
        [{"destination":"/a","source":"/x","options":["bind"],"uidMappings":[{"containerID":0,"hostID":1000,"size":1}],"gidMappings":[{"containerID":0,"hostID":2000,"size":2}]},
         {"destination":"/b","source":"/x","options":["rbind","ridmap"]},
         {"destination":"/c","source":"/x","options":["bind"]}]
        """#
        let userns = #",{"type":"user"}]"#
        let maps = #","uidMappings":[{"containerID":0,"hostID":100000,"size":65536}],"gidMappings":[{"containerID":0,"hostID":200000,"size":65536}]"#
        let p = try LaunchPlan.make(id: "x", bundle: "/b", spec: spec(namespaces: #"[{"type":"mount"}"# + userns, extraLinux: maps, mounts: mounts))
        XCTAssertEqual(p.mounts[0].idmap, LaunchPlan.IDMap(uidMappings: [Spec.IDMapping(containerID: 0, hostID: 1000, size: 1)],
                                                          gidMappings: [Spec.IDMapping(containerID: 0, hostID: 2000, size: 2)],
                                                          userNSPath: nil, recursive: false))
        XCTAssertEqual(p.mounts[1].idmap, LaunchPlan.IDMap(uidMappings: [Spec.IDMapping(containerID: 0, hostID: 100000, size: 65536)],
                                                          gidMappings: [Spec.IDMapping(containerID: 0, hostID: 200000, size: 65536)],
                                                          userNSPath: nil, recursive: true),
                       "idmap without mappings takes the container's")
        XCTAssertNil(p.mounts[2].idmap)

        let joined = try LaunchPlan.make(id: "x", bundle: "/b", spec: spec(
            namespaces: #"[{"type":"mount"},{"type":"user","path":"/proc/1/ns/user"}]"#, mounts: mounts))
        XCTAssertEqual(joined.mounts[1].idmap?.userNSPath, "/proc/1/ns/user", "a joined user namespace is used as it is")
        XCTAssertEqual(joined.mounts[0].idmap?.userNSPath, nil, "own mappings win")
    }

    func testIdmapValidation() throws {
        func error(_ mount: String, userns: Bool = false) throws -> String {
            let ns = userns ? #"[{"type":"mount"},{"type":"user"}]"# : #"[{"type":"mount"}]"#
            let maps = userns ? #","uidMappings":[{"containerID":0,"hostID":1,"size":1}],"gidMappings":[{"containerID":0,"hostID":1,"size":1}]"# : ""
            return validationError(try spec(namespaces: ns, extraLinux: maps, mounts: "[" + mount + "]"))
        }
        let m = #""uidMappings":[{"containerID":0,"hostID":1000,"size":1}],"gidMappings":[{"containerID":0,"hostID":1000,"size":1}]"#
        XCTAssertEqual(try error(#"{"destination":"/m","type":"tmpfs","source":"tmpfs",\#(m)}"#),
                       "mounts[0].uidMappings: id-mapped mounts are only supported for bind mounts")
        XCTAssertEqual(try error(#"{"destination":"/m","type":"tmpfs","source":"tmpfs","options":["idmap"]}"#, userns: true),
                       "mounts[0].options: id-mapped mounts are only supported for bind mounts")
        XCTAssertEqual(try error(#"{"destination":"/m","source":"/tmp","options":["bind"],"uidMappings":[{"containerID":0,"hostID":1,"size":1}]}"#),
                       "mounts[0].gidMappings: must be given along with uidMappings")
        XCTAssertEqual(try error(#"{"destination":"/m","source":"/tmp","options":["bind","idmap"]}"#),
                       "mounts[0].options: idmap without uidMappings and gidMappings needs a user namespace to take them from")
        XCTAssertEqual(try error(#"{"destination":"/m","source":"/tmp","options":["bind","idmap"]}"#, userns: true), "")
        XCTAssertEqual(try error(#"{"destination":"/m","source":"/tmp","type":"bind",\#(m)}"#), "", "type bind without the option")
        XCTAssertEqual(try error(#"{"destination":"/m","source":"/tmp","options":["bind"],"uidMappings":[{"containerID":4294967295,"hostID":0,"size":2}],"gidMappings":[{"containerID":0,"hostID":0,"size":1}]}"#),
                       "mounts[0].uidMappings[0]: size must be at least 1 and the range within 32 bits")
    }

    /// The binary-searched probe agrees with the host's own /proc (not a container's).
    func testLastCapabilityProbe() throws {
        let text = try String(contentsOfFile: "/proc/sys/kernel/cap_last_cap", encoding: .utf8)
        XCTAssertEqual(CapabilitySetup.lastCapability(), Int(text.trimmingCharacters(in: .whitespacesAndNewlines)))
    }
}
