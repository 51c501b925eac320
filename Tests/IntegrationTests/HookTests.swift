import Foundation
import XCTest

/// OCI hooks (config.md "POSIX-platform Hooks", runtime.md "Lifecycle"). skiff follows the
/// spec where runc 1.1.5 differs: poststart runs in `start`, after the program started.
final class HookTests: XCTestCase {
    override func setUpWithError() throws { try IT.requireEnvironment() }

    static let allKinds = ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]

    /// A host dir with hook.sh, bind-mounted at /tmp in the container: host-side hooks use
    /// `<dir>/hook.sh` and log to `<dir>/hooks.log`; startContainer (after pivot_root) uses
    /// `/tmp/hook.sh` and `/tmp/hooks.log`, the same files.
    struct HookDir {
        let dir = IT.lcTempDir()
        var log: String { dir + "/hooks.log" }
        var lines: [String] {
            ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }

        init() {
            // Logs "<kind> <status> <id> <HOOKENV> <arg3> <hostname> <SKIFF_BINARY or unset>".
            let script = """
            #!/bin/sh
            kind=$1
            log=$2
            in=$(cat)
            st=${in#*\\"status\\":\\"}
            st=${st%%\\"*}
            id=${in#*\\"id\\":\\"}
            id=${id%%\\"*}
            h=$(cat /proc/sys/kernel/hostname)
            echo "$kind $st $id ${HOOKENV:-noenv} ${3:-noarg} $h ${SKIFF_BINARY:-unset}" >> "$log"

            """
            FileManager.default.createFile(atPath: dir + "/hook.sh", contents: Data(script.utf8),
                                           attributes: [.posixPermissions: 0o755])
        }

        /// A hook entry logging to the shared log.
        func hook(_ kind: String, timeout: Int? = nil) -> [String: Any] {
            let inContainer = kind == "startContainer"
            let base = inContainer ? "/tmp" : dir
            var h: [String: Any] = [
                "path": base + "/hook.sh",
                "args": ["hook.sh", kind, base + "/hooks.log", "arg-\(kind)"],
                "env": ["HOOKENV=env-\(kind)", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
            ]
            if let timeout { h["timeout"] = timeout }
            return h
        }

        /// Config edit: every kind logs, plus `extra` hooks appended per kind.
        func install(_ kinds: [String], extra: [String: [[String: Any]]] = [:]) -> (inout [String: Any]) -> Void {
            return { c in
                var hooks: [String: Any] = [:]
                for k in kinds { hooks[k] = [self.hook(k)] }
                for (k, more) in extra { hooks[k] = (hooks[k] as? [[String: Any]] ?? []) + more }
                c["hooks"] = hooks
                var mounts = c["mounts"] as? [[String: Any]] ?? []
                mounts.append(["destination": "/tmp", "type": "bind", "source": self.dir, "options": ["rbind", "rw"]])
                c["mounts"] = mounts
            }
        }

        func remove() { try? FileManager.default.removeItem(atPath: dir) }
    }

    func testAllHooksRunOnceInOrder() throws {
        let h = HookDir()
        defer { h.remove() }
        let c = IT.lcCreate(["true"], h.install(Self.allKinds))
        defer { c.cleanup() }
        XCTAssertEqual(c.result.status, 0, c.result.stderr)
        XCTAssertEqual(h.lines.map { String($0.split(separator: " ")[0]) }, ["prestart", "createRuntime", "createContainer"],
                       "create runs exactly the create-time hooks: \(h.lines)")

        let start = IT.skiff(["start", c.id])
        XCTAssertEqual(start.status, 0, start.stderr)
        XCTAssertTrue(IT.lcWait { IT.lcStatus(c.id) == "stopped" })
        let del = IT.skiff(["delete", c.id])
        XCTAssertEqual(del.status, 0, del.stderr)

        let lines = h.lines
        XCTAssertEqual(lines.map { String($0.split(separator: " ")[0]) }, Self.allKinds,
                       "each hook once, in runtime.md's order: \(lines)")
        let host = ((try? String(contentsOfFile: "/proc/sys/kernel/hostname", encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let expectedStatus = ["prestart": "creating", "createRuntime": "creating", "createContainer": "creating",
                              "startContainer": "created", "poststart": "running", "poststop": "stopped"]
        for line in lines {
            let f = line.split(separator: " ").map(String.init)
            guard f.count == 7 else { XCTFail("bad log line: \(line)"); continue }
            let kind = f[0]
            XCTAssertEqual(f[1], expectedStatus[kind], "status on stdin for \(kind)")
            XCTAssertEqual(f[2], c.id, "id on stdin for \(kind)")
            XCTAssertEqual(f[3], "env-\(kind)", "hook env reaches \(kind)")
            XCTAssertEqual(f[4], "arg-\(kind)", "hook args reach \(kind)")
            let inContainer = kind == "createContainer" || kind == "startContainer"
            XCTAssertEqual(f[5], inContainer ? "skiff-demo" : host, "\(kind) runs in the \(inContainer ? "container's" : "runtime's") uts namespace")
            XCTAssertEqual(f[6], "unset", "\(kind) gets only hook.env, not skiff's environment")
        }
    }

    func testPoststartWaitsForStartContainer() throws {
        // config.md: poststart runs after the user program is executed, startContainer before
        // it; a slow startContainer hook must still come first.
        let h = HookDir()
        defer { h.remove() }
        let slow: [String: Any] = ["path": "/bin/sh", "args": ["sh", "-c", "sleep 0.5"]]
        let c = IT.lcCreate(["true"]) { c in
            h.install(["startContainer", "poststart"])(&c)
            var hooks = c["hooks"] as! [String: Any]
            hooks["startContainer"] = [slow] + (hooks["startContainer"] as! [[String: Any]])
            c["hooks"] = hooks
        }
        defer { c.cleanup() }
        XCTAssertEqual(c.result.status, 0, c.result.stderr)
        let start = IT.skiff(["start", c.id])
        XCTAssertEqual(start.status, 0, start.stderr)
        XCTAssertEqual(h.lines.map { String($0.split(separator: " ")[0]) }, ["startContainer", "poststart"],
                       "both hooks ran before start returned, startContainer first")
    }

    func testStateOnStdinIsCompleteJSON() throws {
        // A hook that saves its whole stdin: valid JSON with ociVersion, id, status, pid, bundle.
        let dir = IT.lcTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let c = IT.lcCreate(["true"]) { c in
            c["hooks"] = ["createRuntime": [["path": "/bin/sh", "args": ["sh", "-c", "cat > \(dir)/state.json"]]]]
        }
        defer { c.cleanup() }
        XCTAssertEqual(c.result.status, 0, c.result.stderr)
        let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/state.json"))
        let st = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        XCTAssertEqual(st["id"] as? String, c.id)
        XCTAssertEqual(st["status"] as? String, "creating")
        XCTAssertEqual(st["bundle"] as? String, c.bundle)
        XCTAssertFalse((st["ociVersion"] as? String ?? "").isEmpty)
        XCTAssertEqual(st["pid"] as? Int, IT.lcState(c.id)?["pid"] as? Int, "createRuntime sees the init's host pid")
    }

    func testFailingCreateHooksLeaveNothing() throws {
        for kind in ["prestart", "createRuntime", "createContainer"] {
            let marker = IT.id("hkfail")
            let before = IT.footprint()
            let c = IT.lcCreate(["sh", "-c", "sleep 1000; echo \(marker)"]) { c in
                c["hooks"] = [kind: [["path": "/bin/sh", "args": ["sh", "-c", "echo hook-out; echo hook-err >&2; exit 5"]]]]
            }
            defer { c.cleanup() }
            XCTAssertEqual(c.result.status, 1, "a failing \(kind) hook fails create")
            XCTAssertTrue(c.result.stderr.contains(kind), "the error names the hook kind: \(c.result.stderr)")
            XCTAssertTrue(c.result.stderr.contains("5"), "the error gives the exit status: \(c.result.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: IT.stateRoot + "/" + c.id), "\(kind): no state dir")
            XCTAssertFalse(FileManager.default.fileExists(atPath: IT.lcCgroup(c.id)), "\(kind): no cgroup")
            XCTAssertEqual(IT.processes(matching: marker), [], "\(kind): no container process")
            XCTAssertTrue(IT.lcWait { IT.footprint() == before }, "\(kind): footprint \(before) -> \(IT.footprint())")
            let st = IT.skiff(["state", c.id])
            XCTAssertTrue(st.stderr.contains("does not exist"), st.stderr)
        }
    }

    func testHookTimeoutFailsCreate() throws {
        let marker = IT.id("hkto")
        // A duration no other test uses, so the ps check below sees only this hook.
        let hookSleep = "30.\(getpid() % 1000 + 1000)"
        let before = IT.footprint()
        let started = Date()
        let c = IT.lcCreate(["sh", "-c", "sleep 1000; echo \(marker)"]) { c in
            c["hooks"] = ["prestart": [["path": "/bin/sh", "args": ["sh", "-c", "sleep \(hookSleep); true"], "timeout": 1]]]
        }
        defer { c.cleanup() }
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertEqual(c.result.status, 1, "a hook past its timeout fails create")
        XCTAssertTrue(c.result.stderr.contains("prestart"), c.result.stderr)
        XCTAssertTrue(c.result.stderr.lowercased().contains("time"), "the error says it timed out: \(c.result.stderr)")
        XCTAssertLessThan(elapsed, 10, "the hook is killed at its timeout, not waited for")
        XCTAssertFalse(FileManager.default.fileExists(atPath: IT.stateRoot + "/" + c.id))
        XCTAssertEqual(IT.processes(matching: marker), [])
        XCTAssertEqual(IT.sh("ps -eo args | grep -x 'sleep \(hookSleep)' || true").stdout, "", "the timed-out hook and what it started were killed (its process group)")
        XCTAssertTrue(IT.lcWait { IT.footprint() == before }, "footprint \(before) -> \(IT.footprint())")
    }

    func testFailingPoststopStillDeletes() throws {
        let h = HookDir()
        defer { h.remove() }
        let failing: [String: Any] = ["path": "/bin/sh", "args": ["sh", "-c", "exit 7"]]
        // The failing hook comes first: the remaining poststop hooks still run (runtime.md step 13).
        let c = IT.lcCreate(["true"]) { c in
            h.install([])(&c)
            c["hooks"] = ["poststop": [failing, h.hook("poststop")]]
        }
        defer { c.cleanup() }
        XCTAssertEqual(c.result.status, 0, c.result.stderr)
        XCTAssertEqual(IT.skiff(["start", c.id]).status, 0)
        XCTAssertTrue(IT.lcWait { IT.lcStatus(c.id) == "stopped" })
        let del = IT.skiff(["delete", c.id])
        XCTAssertEqual(del.status, 0, "a failing poststop hook is only a warning: \(del.stderr)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: IT.stateRoot + "/" + c.id))
        XCTAssertFalse(FileManager.default.fileExists(atPath: IT.lcCgroup(c.id)))
        XCTAssertEqual(h.lines.map { String($0.split(separator: " ")[0]) }, ["poststop"],
                       "the poststop hook after the failing one still runs")
    }

    func testPoststopRunsOnForceDeleteOfRunning() throws {
        let h = HookDir()
        defer { h.remove() }
        let c = IT.lcCreate(["sleep", "1000"], h.install(["poststop"]))
        defer { c.cleanup() }
        XCTAssertEqual(c.result.status, 0, c.result.stderr)
        XCTAssertEqual(IT.skiff(["start", c.id]).status, 0)
        XCTAssertEqual(h.lines, [], "poststop does not run before delete")
        XCTAssertEqual(IT.skiff(["kill", c.id, "KILL"]).status, 0)
        XCTAssertTrue(IT.lcWait { IT.lcStatus(c.id) == "stopped" })
        XCTAssertEqual(h.lines, [], "kill does not run poststop")
        XCTAssertEqual(IT.skiff(["delete", "--force", c.id]).status, 0)
        XCTAssertEqual(h.lines.map { String($0.split(separator: " ")[0]) }, ["poststop"])
    }

    func testFailingPoststartFailsStartAndStopsTheContainer() throws {
        let failing: [String: Any] = ["path": "/bin/sh", "args": ["sh", "-c", "exit 9"]]
        let c = IT.lcCreate(["sleep", "1000"]) { c in c["hooks"] = ["poststart": [failing]] }
        defer { c.cleanup() }
        XCTAssertEqual(c.result.status, 0, c.result.stderr)
        let start = IT.skiff(["start", c.id])
        XCTAssertEqual(start.status, 1, "runtime.md step 9: a failing poststart hook is an error")
        XCTAssertTrue(start.stderr.contains("poststart hook #0"), start.stderr)
        XCTAssertTrue(IT.lcWait { IT.lcStatus(c.id) == "stopped" }, "and the container is stopped")
        XCTAssertEqual(IT.skiff(["delete", c.id]).status, 0)
    }

    func testConfigEditsAfterCreateDoNotChangeHooks() throws {
        let h = HookDir()
        defer { h.remove() }
        let c = IT.lcCreate(["true"], h.install(["poststart"]))
        defer { c.cleanup() }
        XCTAssertEqual(c.result.status, 0, c.result.stderr)
        // runtime.md: updates to config.json after create must not affect the container.
        var cfg = IT.baseConfig()
        cfg["hooks"] = ["poststart": [["path": "/bin/false"]]]
        IT.writeConfig(cfg, to: c.bundle)
        XCTAssertEqual(IT.skiff(["start", c.id]).status, 0)
        XCTAssertEqual(h.lines.map { String($0.split(separator: " ")[0]) }, ["poststart"])
    }
}
