import XCTest
@testable import SkiffRuntime

final class SpecTests: XCTestCase {
    func parse(_ s: String) throws -> Spec { try Spec.parse(Array(s.utf8)) }

    func errorText(_ s: String) -> String {
        do { _ = try parse(s); return "" } catch { return "\(error)" }
    }

    func testDefaultSpecParsesAndValidates() throws {
        let spec = try Spec.parse(Array(DefaultSpec.make(rootless: false).serialized().utf8))
        XCTAssertEqual(spec.process?.args, ["sh"])
        XCTAssertEqual(spec.linux.namespaces.map(\.type), [.pid, .network, .ipc, .uts, .mount, .cgroup])
        XCTAssertEqual(spec.linux.resources?.devices, [Spec.DeviceRule(allow: false, type: "a", major: nil, minor: nil, access: "rwm")])
        XCTAssertEqual(spec.process?.capabilities?.bounding.count, 3)
        let rootless = try Spec.parse(Array(DefaultSpec.make(rootless: true).serialized().utf8))
        XCTAssertTrue(rootless.linux.namespaces.contains { $0.type == .user })
        XCTAssertFalse(rootless.linux.namespaces.contains { $0.type == .network })
        XCTAssertEqual(rootless.linux.uidMappings.count, 1)
    }

    func testTypeErrorsNameTheJSONPath() {
        XCTAssertEqual(errorText(#"{"process":{"args":"sh"}}"#), "process.args: expected array, got string")
        XCTAssertEqual(errorText(#"{"process":{"args":["sh", 1]}}"#), "process.args[1]: expected string, got number")
        XCTAssertEqual(errorText(#"{"process":{"terminal":"yes"}}"#), "process.terminal: expected boolean, got string")
        XCTAssertEqual(errorText(#"{"linux":{"namespaces":[{"type":"pid"},{"type":"mount"},{"type":"foo"}]}}"#),
                       #"linux.namespaces[2].type: unknown namespace "foo""#)
        XCTAssertEqual(errorText(#"{"process":{"user":{"uid":-1}}}"#),
                       "process.user.uid: -1 is not a valid non-negative integer in range 0...4294967295")
        XCTAssertEqual(errorText(#"{"process":{"rlimits":[{"type":"RLIMIT_BOGUS","soft":1,"hard":1}]}}"#),
                       #"process.rlimits[0].type: unknown rlimit "RLIMIT_BOGUS""#)
        XCTAssertTrue(errorText("{").hasPrefix("config.json: invalid JSON at line 1"))
        XCTAssertEqual(errorText("[]"), "config.json: expected a JSON object")
        XCTAssertEqual(errorText(#"{"linux":{"resources":{"devices":[{"allow":true,"type":"x"}]}}}"#),
                       #"linux.resources.devices[0].type: invalid device type "x" (want a, c or b)"#)
    }

    func testUnknownFieldsAreIgnored() throws {
        let s = try parse(#"{"ociVersion":"1.3.0","future":{"x":1},"process":{"args":["a"],"cwd":"/","newThing":true}}"#)
        XCTAssertEqual(s.process?.args, ["a"])
    }

    func validationError(_ edit: (inout [String: Any]) -> Void) -> String {
        var c: [String: Any] = ["process": ["args": ["sh"], "cwd": "/"], "root": ["path": "/"],
                                "linux": ["namespaces": [["type": "mount"]]]]
        edit(&c)
        let text = jsonText(c)
        do {
            try Validation.validate(try parse(text), bundle: "/")
            return ""
        } catch { return "\(error)" }
    }

    func testValidationNamesTheField() {
        XCTAssertEqual(validationError { _ in }, "")
        XCTAssertEqual(validationError { $0["process"] = ["args": ["sh"], "cwd": "tmp"] },
                       #"process.cwd: must be an absolute path, got "tmp""#)
        XCTAssertEqual(validationError { $0["process"] = ["args": [String](), "cwd": "/"] },
                       "process.args: must contain at least one element")
        XCTAssertEqual(validationError { $0["root"] = nil }, "root: is required")
        XCTAssertEqual(validationError { $0["process"] = nil }, "process: is required to create a container")
        XCTAssertEqual(validationError { $0["hostname"] = "x" }, "hostname: setting a hostname needs a uts namespace")
        XCTAssertEqual(validationError { $0["linux"] = ["namespaces": [["type": "mount"], ["type": "mount"]]] },
                       #"linux.namespaces[1].type: duplicate namespace "mount""#)
        // Resources pass validation: create plans them (CgroupResources), naming bad fields there.
        XCTAssertEqual(validationError { $0["linux"] = ["namespaces": [["type": "mount"]], "resources": ["memory": ["limit": 1]]] }, "")
        XCTAssertEqual(validationError { $0["linux"] = ["namespaces": [["type": "mount"]], "sysctl": ["net.ipv4.ip_forward": "1"]] },
                       "linux.sysctl.net.ipv4.ip_forward: needs a network namespace")
        XCTAssertEqual(validationError { $0["linux"] = ["namespaces": [["type": "mount"]], "sysctl": ["vm.swappiness": "1"]] },
                       #"linux.sysctl.vm.swappiness: sysctl "vm.swappiness" is not in a namespace the container owns"#)
        XCTAssertEqual(validationError { $0["process"] = ["args": ["sh"], "cwd": "/", "capabilities": ["bounding": ["CAP_FOO"]]] },
                       #"process.capabilities.bounding[0]: unknown capability "CAP_FOO""#)
        XCTAssertEqual(validationError { $0["hooks"] = ["prestart": [["path": "rel"]]] },
                       #"hooks.prestart[0].path: must be absolute, got "rel""#)
        XCTAssertEqual(validationError { $0["mounts"] = [["destination": "/x", "type": "bind", "source": "/nonexistent-src", "options": ["bind"]]] },
                       #"mounts[0].source: bind source "/nonexistent-src" does not exist"#)
    }

    func testIDValidation() {
        for bad in ["", ".", "..", "a/b", "../x", "a b", String(repeating: "x", count: 1025)] {
            XCTAssertThrowsError(try Validation.validateID(bad), bad)
        }
        for good in ["a", "web-1", "x_y.z+1", String(repeating: "x", count: 1024)] {
            XCTAssertNoThrow(try Validation.validateID(good), good)
        }
    }
}

/// A tiny JSON writer for test fixtures (no Foundation needed in this target).
func jsonText(_ v: Any?) -> String {
    switch v {
    case nil: return "null"
    case let s as String: return JSON.string(s).serialized()
    case let b as Bool: return b ? "true" : "false"
    case let i as Int: return String(i)
    case let a as [Any]: return "[" + a.map { jsonText($0) }.joined(separator: ",") + "]"
    case let d as [String: Any]: return "{" + d.map { JSON.string($0.key).serialized() + ":" + jsonText($0.value) }.joined(separator: ",") + "}"
    default: return "null"
    }
}
