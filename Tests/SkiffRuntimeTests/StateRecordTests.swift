import XCTest
@testable import SkiffRuntime

/// state.json read member by member (ContainerRecord(stateJSON:), JSONMembers).
final class StateRecordTests: XCTestCase {
    func record(_ text: String) throws -> ContainerRecord { try ContainerRecord(stateJSON: Array(text.utf8)) }

    func err(_ text: String) -> String {
        do { _ = try record(text); return "" } catch { return "\(error)" }
    }

    func testEveryMemberRoundTrips() throws {
        var r = ContainerRecord(id: "c1", pid: 4242, pidStartTime: 123456789, bundle: "/b ü", rootfs: "/b/rootfs",
                                created: "2026-12-07T15:41:39.102492888Z", owner: "",
                                annotations: [("k", "v"), ("x\"y", "<&>")], cgroupPath: "/sys/fs/cgroup/skiff/c1",
                                poststart: [Spec.Hook(path: "/bin/true", args: ["true", "a"], env: ["A=1"], timeout: 5)],
                                poststop: [Spec.Hook(path: "/bin/false", args: [], env: [], timeout: nil)],
                                resources: JSONObject([("pids", .object(JSONObject([("limit", .int(5))])))]),
                                cgroupDriver: "systemd")
        r.pidInode = UInt64.max
        r.systemdUnit = "skiff-c1.scope"
        r.systemdManager = .user
        r.sharesMountNamespace = true
        for indent in [nil, "\t"] {
            let back = try record(r.json.serialized(indent: indent))
            XCTAssertEqual(back.json, r.json)
        }
    }

    func testDefaultsUnknownMembersAndDuplicates() throws {
        let r = try record(#" { "future": {"a": [1, {"b": null}]}, "id" : "a", "pid": 1, "pid": 7, "x": -2.5e3 } "#)
        XCTAssertEqual(r.id, "a")
        XCTAssertEqual(r.pid, 7, "the last of a member given twice")
        XCTAssertEqual(r.pidStartTime, 0)
        XCTAssertNil(r.cgroupPath)
        XCTAssertEqual(r.cgroupDriver, "cgroupfs")
        XCTAssertEqual(try record(#"{"id":"a","pid":1,"cgroupPath":null,"pidInode":null}"#).pidInode, 0)
    }

    func testAnnotationsEmptyWithSpacesNullAndGiven() throws {
        let base = #"{"id":"a","pid":1,"annotations":"#
        XCTAssertTrue(try record(base + "{}}").annotations.isEmpty)
        XCTAssertTrue(try record(base + " { \n\t } }").annotations.isEmpty)
        XCTAssertTrue(try record(base + "null}").annotations.isEmpty)
        let given = try record(base + #"{ "k": "v", "e": "" }, "owner": "u"}"#)
        XCTAssertEqual(given.annotations.map { "\($0.0)=\($0.1)" }, ["k=v", "e="])
        XCTAssertEqual(given.owner, "u", "the members after it still read")
    }

    func testBadStateNamesTheMember() {
        XCTAssertEqual(err(#"{"pid":1}"#), "state.json.id: is required")
        XCTAssertEqual(err(#"{"id":"a"}"#), "state.json.pid: is required")
        XCTAssertEqual(err(#"{"id":"a","pid":"1"}"#), "state.json.pid: expected integer, got string")
        XCTAssertEqual(err(#"{"id":1,"pid":1}"#), "state.json.id: expected string, got number")
        XCTAssertEqual(err(#"{"id":"a","pid":4294967296}"#), "state.json.pid: 4294967296 is not a valid integer in range -2147483648...2147483647")
        XCTAssertEqual(err(#"{"id":"a","pid":1.5}"#), "state.json.pid: 1.5 is not a valid integer in range -2147483648...2147483647")
        XCTAssertEqual(err(#"{"id":"a","pid":1,"pidInode":-1}"#), "state.json.pidInode: -1 is not a valid non-negative integer in range 0...18446744073709551615")
        XCTAssertEqual(err(#"{"id":"a","pid":1,"annotations":{"k":1}}"#), "state.json.annotations.k: expected string, got number")
        XCTAssertEqual(err(#"{"id":"a","pid":1,"annotations":[]}"#), "state.json.annotations: expected object, got array")
        XCTAssertEqual(err(#"[]"#), "state.json: expected object")
        for bad in ["", "{", #"{"id":"a","pid":1"#, #"{"id":"a","pid":1,}"#, #"{"id":"a" "pid":1}"#, #"{"id":"a","pid":1} x"#,
                    #"{"id":"a","pid":01}"#, #"{"id":"a","pid":-}"#, #"{,"id":"a"}"#, #"{"id":"a","pid":1,"x":tru}"#] {
            XCTAssertTrue(err(bad).hasPrefix("invalid JSON at line 1"), "\(bad): \(err(bad))")
        }
    }
}
