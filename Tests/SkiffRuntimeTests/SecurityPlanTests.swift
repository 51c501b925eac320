import XCTest
import Glibc
@testable import SkiffRuntime

/// Capability masks, computed before anything runs.
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
}
