import XCTest
@testable import SkiffRuntime

/// How exec's flags and --process make the process (runc's getProcess rules).
final class ExecPlanTests: XCTestCase {
    func base() throws -> Spec.Process {
        let json = try JSONParser.parse(Array(#"""
        {"args": ["sleep", "1000"], "cwd": "/", "env": ["PATH=/bin", "A=1"], "terminal": true,
         "user": {"uid": 5, "gid": 6, "additionalGids": [7]},
         "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"],
                          "inheritable": ["CAP_KILL"], "ambient": ["CAP_KILL"]},
         "noNewPrivileges": true, "apparmorProfile": "p1"}
        """#.utf8))
        return try Spec.Process(JSONNode(json, path: "process"))
    }

    func testFlagsOverTheContainersProcess() throws {
        var o = ExecOptions()
        o.args = ["sh", "-c", "x"]
        o.env = ["A=2", "B=3"]
        o.cwd = "/tmp"
        o.user = "10:11"
        o.additionalGids = ["12"]
        o.caps = ["sys_admin"]
        o.noNewPrivileges = false
        o.apparmorProfile = "p2"
        o.cgroup = ["cpu,memory:sub/dir"]
        let p = try ExecPlan.make(o, base: try base(), file: nil)
        XCTAssertEqual(p.process.args, ["sh", "-c", "x"])
        XCTAssertEqual(p.process.env, ["PATH=/bin", "A=1", "A=2", "B=3"], "appended; the last wins at exec")
        XCTAssertEqual(ProcessSetup.mergeEnv(p.process.env), ["PATH=/bin", "A=2", "B=3"])
        // By a scan and, past mergeScanLimit entries, by a Dictionary: the same merge.
        for n in [3, ProcessSetup.mergeScanLimit, ProcessSetup.mergeScanLimit + 1, 200] {
            let env = (0..<n).map { "V\($0 % 7)=\($0)" } + ["NOVALUE", "V1=last", "E="]
            var want: [String] = []
            for e in env {
                let name = e.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)[0]
                if let i = want.firstIndex(where: { $0.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)[0] == name }) {
                    want[i] = e
                } else {
                    want.append(e)
                }
            }
            XCTAssertEqual(ProcessSetup.mergeEnv(env), want, "\(n) entries")
        }
        XCTAssertEqual(p.process.cwd, "/tmp")
        XCTAssertEqual(p.process.user.uid, 10)
        XCTAssertEqual(p.process.user.gid, 11)
        XCTAssertEqual(p.process.user.additionalGids, [7, 12])
        XCTAssertFalse(p.process.terminal, "not the init's terminal unless -t")
        XCTAssertFalse(p.process.noNewPrivileges)
        XCTAssertEqual(p.process.apparmorProfile, "p2")
        XCTAssertEqual(p.process.capabilities?.bounding, ["CAP_KILL", "CAP_SYS_ADMIN"])
        XCTAssertEqual(p.process.capabilities?.effective, ["CAP_KILL", "CAP_SYS_ADMIN"])
        XCTAssertEqual(p.process.capabilities?.permitted, ["CAP_KILL", "CAP_SYS_ADMIN"])
        XCTAssertEqual(p.process.capabilities?.ambient, ["CAP_KILL", "CAP_SYS_ADMIN"], "ambient where inheritable is set")
        XCTAssertEqual(p.process.capabilities?.inheritable, ["CAP_KILL"])
        XCTAssertEqual(p.subCgroup, "/sub/dir")
        XCTAssertNil(p.userName)
    }

    func testNamesAreLeftForTheContainer() throws {
        var o = ExecOptions()
        o.args = ["id"]
        o.user = "web:staff"
        let p = try ExecPlan.make(o, base: try base(), file: nil)
        XCTAssertEqual(p.userName, "web")
        XCTAssertEqual(p.groupName, "staff")
        o.user = "0:staff"
        let q = try ExecPlan.make(o, base: try base(), file: nil)
        XCTAssertNil(q.userName)
        XCTAssertEqual(q.process.user.uid, 0)
        XCTAssertEqual(q.groupName, "staff")
    }

    func testProcessFileReplacesTheProcess() throws {
        var o = ExecOptions()
        o.processFile = "/p.json"
        o.tty = true
        let file = Array(#"{"args": ["top"], "cwd": "/w", "env": ["X=1"], "user": {"uid": 3, "gid": 4}}"#.utf8)
        let p = try ExecPlan.make(o, base: try base(), file: file)
        XCTAssertEqual(p.process.args, ["top"])
        XCTAssertEqual(p.process.env, ["X=1"])
        XCTAssertNil(p.process.capabilities, "nothing of the container's process")
        XCTAssertTrue(p.process.terminal, "-t applies over --process, as runc")
    }

    func testErrorsNameTheFlagOrField() throws {
        func message(_ edit: (inout ExecOptions) -> Void, file: String? = nil) -> String {
            var o = ExecOptions()
            o.args = ["true"]
            edit(&o)
            if file != nil { o.processFile = "/p.json" }
            do { _ = try ExecPlan.make(o, base: try base(), file: file.map { Array($0.utf8) }); return "no error" } catch {
                return "\(error)"
            }
        }
        XCTAssertEqual(message { $0.env = ["NOEQ"] }, "--env[0]: \"NOEQ\" is not of the form KEY=VALUE")
        XCTAssertEqual(message { $0.cwd = "rel" }, "--cwd: must be an absolute path, got \"rel\"")
        XCTAssertEqual(message { $0.caps = ["CAP_NOPE"] }, "--cap: unknown capability \"CAP_NOPE\"")
        XCTAssertEqual(message { $0.user = "1:" }, "--user: \"1:\" is not of the form uid[:gid]")
        XCTAssertEqual(message { $0.additionalGids = ["-3"] }, "--additional-gids: \"-3\" is not a group id (a non-negative number)")
        XCTAssertEqual(message { $0.cgroup = ["../up"] }, "--cgroup: \"../up\" must name a sub-cgroup of the container's")
        XCTAssertEqual(message { $0.args = [] }, "exec needs a command after the container ID (or --process FILE)")
        XCTAssertTrue(message({ _ in }, file: "[1").hasPrefix("--process /p.json: "), "a syntax error names the file")
        XCTAssertTrue(message({ _ in }, file: #"{"args": "x"}"#).hasPrefix("--process /p.json: process.args: expected array"))
        XCTAssertTrue(message({ _ in }, file: #"{"args": [], "cwd": "/"}"#).hasPrefix("--process /p.json: process.args: must contain"))
        XCTAssertTrue(message({ _ in }, file: #"{"args": ["x"], "cwd": "/", "user": {"uid": -1}}"#).hasPrefix("--process /p.json: process.user.uid:"))
    }
}
