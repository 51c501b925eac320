import Foundation
import XCTest

/// The container lifecycle through the CLI: create/start/state/kill/delete/run/list/spec/
/// features, each refusal runc makes, exit statuses, the pid file, fds and leftovers.
final class LifecycleTests: XCTestCase {
    override func setUpWithError() throws { try IT.requireEnvironment() }

    // MARK: create → start → stopped → delete

    func testFullLifecycle() throws {
        let c = IT.lcCreate(["sleep", "1"])
        defer { c.cleanup() }
        XCTAssertEqual(c.result.status, 0, c.result.stderr)
        XCTAssertEqual(c.result.stdout, "", "a successful create prints nothing")

        let created = try XCTUnwrap(IT.lcState(c.id))
        XCTAssertEqual(created["status"] as? String, "created")
        let pid = try XCTUnwrap(created["pid"] as? Int)
        XCTAssertGreaterThan(pid, 0)
        XCTAssertTrue(IT.lcAlive(pid), "the init of a created container is alive")
        XCTAssertEqual(created["id"] as? String, c.id)
        XCTAssertEqual(created["bundle"] as? String, c.bundle)
        XCTAssertEqual(created["rootfs"] as? String, IT.rootfs)
        XCTAssertFalse((created["ociVersion"] as? String ?? "").isEmpty)
        let stamp = created["created"] as? String ?? ""
        XCTAssertNotNil(stamp.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$"#, options: .regularExpression),
                        "created is RFC 3339: \(stamp)")
        XCTAssertTrue(FileManager.default.fileExists(atPath: IT.lcCgroup(c.id)), "cgroup exists after create")

        let start = IT.skiff(["start", c.id])
        XCTAssertEqual(start.status, 0, start.stderr)
        XCTAssertEqual(start.stdout, "")
        let running = try XCTUnwrap(IT.lcState(c.id))
        XCTAssertEqual(running["status"] as? String, "running")
        XCTAssertEqual(running["pid"] as? Int, pid)

        XCTAssertTrue(IT.lcWait { IT.lcStatus(c.id) == "stopped" }, "sleep 1 exits and the container stops")
        let stopped = try XCTUnwrap(IT.lcState(c.id))
        XCTAssertEqual(stopped["pid"] as? Int, 0, "a stopped container reports pid 0")
        XCTAssertEqual(stopped["created"] as? String, stamp)

        let del = IT.skiff(["delete", c.id])
        XCTAssertEqual(del.status, 0, del.stderr)
        XCTAssertEqual(del.stdout + del.stderr, "")
        let gone = IT.skiff(["state", c.id])
        XCTAssertEqual(gone.status, 1)
        XCTAssertTrue(gone.stderr.contains("does not exist"), gone.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: IT.stateRoot + "/" + c.id))
        XCTAssertFalse(FileManager.default.fileExists(atPath: IT.lcCgroup(c.id)), "cgroup removed by delete")
    }

    // MARK: refusals

    func testStartRefusals() throws {
        let c = IT.lcCreate(["sleep", "1"])
        defer { c.cleanup() }
        XCTAssertEqual(c.result.status, 0, c.result.stderr)
        XCTAssertEqual(IT.skiff(["start", c.id]).status, 0)

        let again = IT.skiff(["start", c.id])
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.stderr.contains("cannot start an already running container"), again.stderr)
        XCTAssertEqual(again.stdout, "")

        XCTAssertTrue(IT.lcWait { IT.lcStatus(c.id) == "stopped" })
        let late = IT.skiff(["start", c.id])
        XCTAssertEqual(late.status, 1)
        XCTAssertTrue(late.stderr.contains("cannot start a container that has stopped"), late.stderr)

        let missing = IT.skiff(["start", IT.id("nosuch")])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains("does not exist"), missing.stderr)
    }

    func testDeleteRunningNeedsForce() throws {
        let marker = IT.id("lcmark")
        let c = IT.lcCreate(["sh", "-c", "while true; do sleep 1; done; echo \(marker)"])
        defer { c.cleanup() }
        XCTAssertEqual(c.result.status, 0, c.result.stderr)
        XCTAssertEqual(IT.skiff(["start", c.id]).status, 0)
        let pid = try XCTUnwrap(IT.lcState(c.id)?["pid"] as? Int)

        let del = IT.skiff(["delete", c.id])
        XCTAssertEqual(del.status, 1)
        XCTAssertTrue(del.stderr.contains("cannot delete container \(c.id) that is not stopped: running"), del.stderr)
        XCTAssertEqual(IT.lcStatus(c.id), "running", "a refused delete leaves the container alone")
        XCTAssertTrue(IT.lcAlive(pid))

        let force = IT.skiff(["delete", "--force", c.id])
        XCTAssertEqual(force.status, 0, force.stderr)
        XCTAssertEqual(force.stdout + force.stderr, "")
        XCTAssertTrue(IT.lcWait { !IT.lcExists(pid) }, "init \(pid) is gone (reaped, not a zombie)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: IT.stateRoot + "/" + c.id), "state dir removed")
        XCTAssertFalse(FileManager.default.fileExists(atPath: IT.lcCgroup(c.id)), "cgroup removed")
        XCTAssertEqual(IT.processes(matching: marker), [], "no stray container process")
        XCTAssertEqual(IT.skiff(["state", c.id]).status, 1)

        // runc: delete --force of an unknown ID succeeds silently; without --force it fails.
        let unknown = IT.id("nosuch")
        XCTAssertEqual(IT.skiff(["delete", "--force", unknown]).status, 0)
        let r = IT.skiff(["delete", unknown])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("does not exist"), r.stderr)
    }

    func testDeleteCreatedKillsItsProcess() throws {
        let marker = IT.id("lcmark")
        let c = IT.lcCreate(["sh", "-c", "sleep 1000; echo \(marker)"])
        defer { c.cleanup() }
        XCTAssertEqual(c.result.status, 0, c.result.stderr)
        let pid = try XCTUnwrap(IT.lcState(c.id)?["pid"] as? Int)
        XCTAssertTrue(IT.lcAlive(pid))
        let del = IT.skiff(["delete", c.id])
        XCTAssertEqual(del.status, 0, "a created container is deleted without --force: \(del.stderr)")
        XCTAssertTrue(IT.lcWait { !IT.lcExists(pid) }, "the created container's init \(pid) was killed and reaped")
        XCTAssertFalse(FileManager.default.fileExists(atPath: IT.stateRoot + "/" + c.id))
        XCTAssertFalse(FileManager.default.fileExists(atPath: IT.lcCgroup(c.id)))
        XCTAssertEqual(IT.processes(matching: marker), [])
    }

    // MARK: kill

    func testKillStoppedFails() throws {
        let c = IT.lcCreate(["true"])
        defer { c.cleanup() }
        XCTAssertEqual(c.result.status, 0, c.result.stderr)
        XCTAssertEqual(IT.skiff(["start", c.id]).status, 0)
        XCTAssertTrue(IT.lcWait { IT.lcStatus(c.id) == "stopped" })
        let k = IT.skiff(["kill", c.id, "KILL"])
        XCTAssertEqual(k.status, 1)
        XCTAssertTrue(k.stderr.contains("container not running"), k.stderr)
        let missing = IT.skiff(["kill", IT.id("nosuch")])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains("does not exist"), missing.stderr)
    }

    func testKillSignalSpellings() throws {
        for spelling in ["KILL", "SIGKILL", "9"] {
            let c = IT.lcCreate(["sleep", "1000"])
            defer { c.cleanup() }
            XCTAssertEqual(c.result.status, 0, c.result.stderr)
            XCTAssertEqual(IT.skiff(["start", c.id]).status, 0)
            XCTAssertEqual(IT.lcStatus(c.id), "running")
            let k = IT.skiff(["kill", c.id, spelling])
            XCTAssertEqual(k.status, 0, "kill \(spelling): \(k.stderr)")
            XCTAssertEqual(k.stdout + k.stderr, "")
            XCTAssertTrue(IT.lcWait { IT.lcStatus(c.id) == "stopped" }, "kill \(spelling) stops the container")
        }
    }

    func testKillDefaultIsTERM() throws {
        // Only a TERM trap makes the exit status 42: KILL would give 137, others no exit.
        let b = IT.bundle(args: ["sh", "-c", "trap 'exit 42' TERM; while true; do sleep 0.1; done"])
        defer { try? FileManager.default.removeItem(atPath: b) }
        let id = IT.id("lcterm")
        defer { IT.skiff(["delete", "--force", id]) }
        var result: IT.Result?
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            result = IT.skiff(["run", "-b", b, id], timeout: 30)
            done.signal()
        }
        XCTAssertTrue(IT.lcWait { IT.lcStatus(id) == "running" }, "the foreground run starts")
        usleep(200_000)  // let sh install its trap
        let k = IT.skiff(["kill", id])
        XCTAssertEqual(k.status, 0, k.stderr)
        XCTAssertEqual(done.wait(timeout: .now() + 20), .success, "the container exits on the default signal")
        XCTAssertEqual(result?.status, 42, "default kill signal is SIGTERM: \(result?.stderr ?? "")")
        XCTAssertEqual(IT.skiff(["state", id]).status, 1, "foreground run deletes its container")
    }

    func testKillAll() throws {
        let marker = IT.id("lcall")
        let c = IT.lcCreate(["sh", "-c", "sleep 1000 & sleep 1000 & wait; echo \(marker)"])
        defer { c.cleanup() }
        XCTAssertEqual(c.result.status, 0, c.result.stderr)
        XCTAssertEqual(IT.skiff(["start", c.id]).status, 0)
        let procs = IT.lcCgroup(c.id) + "/cgroup.procs"
        XCTAssertTrue(IT.lcWait { IT.lcCgroupProcs(c.id).count == 3 }, "sh and two sleeps: \(IT.lcCgroupProcs(c.id))")
        let k = IT.skiff(["kill", "--all", c.id, "KILL"])
        XCTAssertEqual(k.status, 0, k.stderr)
        XCTAssertTrue(IT.lcWait { IT.lcCgroupProcs(c.id).isEmpty }, "every process in \(procs) is killed")
        XCTAssertTrue(IT.lcWait { IT.lcStatus(c.id) == "stopped" })
        // runc: kill --all of a stopped container is not an error.
        XCTAssertEqual(IT.skiff(["kill", "-a", c.id, "KILL"]).status, 0)
        XCTAssertEqual(IT.skiff(["delete", c.id]).status, 0)
        XCTAssertEqual(IT.processes(matching: marker), [])
    }

    // MARK: run

    func testRunExitStatus() throws {
        let r = IT.run(args: ["sh", "-c", "echo out; exit 3"])
        XCTAssertEqual(r.status, 3, r.stderr)
        XCTAssertEqual(r.stdout, "out\n")
    }

    func testRunKilledBySignalIs128PlusN() throws {
        // Without a pid namespace sh is not a namespace init, so it can SIGKILL itself.
        let r = IT.run(args: ["sh", "-c", "kill -9 $$; sleep 5; exit 0"]) { c in
            var linux = c["linux"] as! [String: Any]
            linux["namespaces"] = (linux["namespaces"] as! [[String: Any]]).filter { $0["type"] as? String != "pid" }
            c["linux"] = linux
        }
        XCTAssertEqual(r.status, 137, r.stderr)
    }

    func testRunDetached() throws {
        let b = IT.bundle(args: ["sleep", "1000"])
        let id = IT.id("lcdet")
        defer {
            IT.skiff(["delete", "--force", id])
            try? FileManager.default.removeItem(atPath: b)
        }
        let started = Date()
        let r = IT.skiffDetached(["run", "-d", "-b", b, id])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout + r.stderr, "")
        XCTAssertLessThan(Date().timeIntervalSince(started), 10, "run -d returns without waiting")
        XCTAssertEqual(IT.lcStatus(id), "running")
        usleep(300_000)
        XCTAssertEqual(IT.lcStatus(id), "running", "the container keeps running after run -d returned")
    }

    // MARK: pid file

    func testPidFile() throws {
        let dir = IT.lcTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let pidFile = dir + "/init.pid"
        let c = IT.lcCreate(["sleep", "1000"], options: ["--pid-file", pidFile])
        defer { c.cleanup() }
        XCTAssertEqual(c.result.status, 0, c.result.stderr)
        let text = try String(contentsOfFile: pidFile, encoding: .utf8)
        let pid = try XCTUnwrap(Int(text.trimmingCharacters(in: .whitespacesAndNewlines)), "pid file: \(text)")
        XCTAssertEqual(IT.lcState(c.id)?["pid"] as? Int, pid)
        XCTAssertTrue(FileManager.default.fileExists(atPath: "/proc/\(pid)"))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["init.pid"], "no temp file left beside the pid file")

        // A relative --pid-file is relative to skiff's cwd.
        let c2 = IT.lcCreate(["sleep", "1000"], options: ["--pid-file", "rel.pid"], cwd: dir)
        defer { c2.cleanup() }
        XCTAssertEqual(c2.result.status, 0, c2.result.stderr)
        let pid2 = Int((try? String(contentsOfFile: dir + "/rel.pid", encoding: .utf8)) ?? "")
        XCTAssertEqual(pid2, IT.lcState(c2.id)?["pid"] as? Int)
    }

    // MARK: list

    func testList() throws {
        let root = IT.lcTempDir()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let empty = IT.skiff(["list"], root: root)
        XCTAssertEqual(empty.status, 0, empty.stderr)
        XCTAssertEqual(empty.stdout, "ID          PID         STATUS      BUNDLE      CREATED     OWNER\n")
        let emptyJSON = IT.skiff(["list", "--format", "json"], root: root)
        XCTAssertEqual(emptyJSON.status, 0)
        XCTAssertEqual(emptyJSON.stdout, "null\n", "runc prints null for no containers")
        XCTAssertEqual(IT.skiff(["list", "-q"], root: root).stdout, "")

        let c = IT.lcCreate(["sleep", "1000"], root: root)
        defer { c.cleanup() }
        XCTAssertEqual(c.result.status, 0, c.result.stderr)
        let pid = try XCTUnwrap(IT.lcState(c.id, root: root)?["pid"] as? Int)

        let table = IT.skiff(["list"], root: root)
        XCTAssertEqual(table.status, 0, table.stderr)
        let lines = table.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 2, table.stdout)
        XCTAssertTrue(lines.first?.hasPrefix("ID ") ?? false)
        let cols = lines.last?.split(separator: " ").map(String.init) ?? []
        XCTAssertEqual(cols.count, 6, table.stdout)
        if cols.count == 6 {
            XCTAssertEqual(cols[0], c.id)
            XCTAssertEqual(cols[1], String(pid))
            XCTAssertEqual(cols[2], "created")
            XCTAssertEqual(cols[3], c.bundle)
            XCTAssertEqual(cols[5], "root")
        }
        // Columns line up with the header (Go tabwriter).
        if let header = lines.first, let row = lines.last {
            XCTAssertEqual(header.range(of: "STATUS")?.lowerBound.utf16Offset(in: header),
                           row.range(of: "created")?.lowerBound.utf16Offset(in: row))
        }

        let json = IT.skiff(["list", "--format", "json"], root: root)
        XCTAssertEqual(json.status, 0, json.stderr)
        XCTAssertTrue(json.stdout.hasSuffix("\n"))
        let arr = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(arr.count, 1)
        XCTAssertEqual(arr.first?["id"] as? String, c.id)
        XCTAssertEqual(arr.first?["pid"] as? Int, pid)
        XCTAssertEqual(arr.first?["status"] as? String, "created")
        XCTAssertEqual(arr.first?["bundle"] as? String, c.bundle)

        XCTAssertEqual(IT.skiff(["list", "-q"], root: root).stdout, c.id + "\n")
        XCTAssertEqual(IT.skiff(["list", "--quiet"], root: root).stdout, c.id + "\n")
    }

    /// Enough containers that list reads them on several threads: each still has its own
    /// status, and the order is runc's (bytes: "A" < "Z" < "_" < "a").
    func testListOfManyContainers() throws {
        let root = IT.lcTempDir()
        let b = IT.bundle(args: ["sleep", "1000"])
        let count = 300
        let prefixes = ["a", "_", "Z", "A"]
        let ids = (0..<count).map { "\(prefixes[$0 % prefixes.count])-\(IT.id("many"))-\($0)" }
        func each(_ indices: [Int], _ args: String) -> IT.Result {
            let list = indices.map { IT.lcQuote(ids[$0]) }.joined(separator: " ")
            // The containers keep their stdio: files, not the pipes the test reads to EOF.
            let r = IT.lcShell("printf '%s\\n' \(list) | xargs -P 4 -I{} \(IT.lcQuote(IT.binary)) --root \(IT.lcQuote(root)) "
                               + "\(args) >/dev/null 2>\(IT.lcQuote(root + ".err"))", timeout: 300)
            return IT.Result(status: r.status, stdout: "", stderr: (try? String(contentsOfFile: root + ".err", encoding: .utf8)) ?? "")
        }
        defer {
            each(Array(0..<count), "delete --force {}")
            try? FileManager.default.removeItem(atPath: root)
            try? FileManager.default.removeItem(atPath: root + ".err")
            try? FileManager.default.removeItem(atPath: b)
        }
        let created = each(Array(0..<count), "create -b \(IT.lcQuote(b)) {}")
        XCTAssertEqual(created.status, 0, created.stderr)
        let started = each((0..<count).filter { $0 % 3 == 0 }, "start {}")
        XCTAssertEqual(started.status, 0, started.stderr)
        let killed = each((0..<count).filter { $0 % 5 == 0 }, "kill {} KILL")
        XCTAssertEqual(killed.status, 0, killed.stderr)
        let want = (0..<count).map { $0 % 5 == 0 ? "stopped" : $0 % 3 == 0 ? "running" : "created" }

        var got: [(id: String, status: String, pid: Int)] = []
        let settled = IT.lcWait(timeout: 30) {
            let r = IT.skiff(["list", "--format", "json"], root: root)
            let arr = (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [[String: Any]] ?? []
            got = arr.map { ($0["id"] as? String ?? "", $0["status"] as? String ?? "", $0["pid"] as? Int ?? -1) }
            return got.count == count && got.allSatisfy { g in ids.firstIndex(of: g.id).map { want[$0] == g.status } ?? false }
        }
        XCTAssertTrue(settled, "list: \(got.prefix(10))")
        XCTAssertEqual(got.map(\.id), ids.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) })
        for g in got where g.status == "stopped" { XCTAssertEqual(g.pid, 0, g.id) }
        for g in got where g.status != "stopped" { XCTAssertGreaterThan(g.pid, 0, g.id) }

        let table = IT.skiff(["list"], root: root)
        XCTAssertEqual(table.status, 0, table.stderr)
        let rows = table.stdout.split(separator: "\n").dropFirst().map { $0.split(separator: " ").map(String.init) }
        XCTAssertEqual(rows.map { $0.first ?? "" }, got.map(\.id))
        XCTAssertEqual(rows.map { $0.count > 2 ? $0[2] : "" }, got.map(\.status))
        XCTAssertEqual(IT.skiff(["list", "-q"], root: root).stdout, got.map { $0.id + "\n" }.joined())
    }

    // MARK: spec, features, version

    func testSpec() throws {
        let dir = IT.lcTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = IT.exec("/bin/sh", ["-c", "cd \(IT.lcQuote(dir)) && exec \(IT.lcQuote(IT.binary)) spec"])
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertEqual(first.stdout, "")
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/config.json"))

        let second = IT.exec("/bin/sh", ["-c", "cd \(IT.lcQuote(dir)) && exec \(IT.lcQuote(IT.binary)) spec"])
        XCTAssertEqual(second.status, 1)
        XCTAssertTrue(second.stderr.contains("exists"), second.stderr)

        var config = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/config.json"))) as? [String: Any])
        var root = config["root"] as! [String: Any]
        root["path"] = IT.rootfs
        config["root"] = root
        var process = config["process"] as! [String: Any]
        process["terminal"] = false
        process["args"] = ["true"]
        config["process"] = process
        IT.writeConfig(config, to: dir)

        let id = IT.id("lcspec")
        defer { IT.skiff(["delete", "--force", id]) }
        let created = IT.skiffDetached(["create", "-b", dir, id])
        XCTAssertEqual(created.status, 0, "skiff's own spec is accepted by create: \(created.stderr)")
        XCTAssertEqual(IT.lcStatus(id), "created")
        XCTAssertEqual(IT.skiff(["start", id]).status, 0)
        XCTAssertTrue(IT.lcWait { IT.lcStatus(id) == "stopped" })
        XCTAssertEqual(IT.skiff(["delete", id]).status, 0)

        let run = IT.skiff(["run", "-b", dir, IT.id("lcspec")])
        XCTAssertEqual(run.status, 0, run.stderr)

        // --rootless, written with -b.
        let rdir = IT.lcTempDir()
        defer { try? FileManager.default.removeItem(atPath: rdir) }
        let rl = IT.exec(IT.binary, ["spec", "--rootless", "-b", rdir])
        XCTAssertEqual(rl.status, 0, rl.stderr)
        let rc = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: rdir + "/config.json"))) as? [String: Any])
        let linux = try XCTUnwrap(rc["linux"] as? [String: Any])
        let types = (linux["namespaces"] as? [[String: Any]] ?? []).compactMap { $0["type"] as? String }
        XCTAssertTrue(types.contains("user"), "rootless spec has a user namespace: \(types)")
        XCTAssertFalse(types.contains("network"))
        XCTAssertNotNil(linux["uidMappings"])
        XCTAssertNotNil(linux["gidMappings"])
    }

    func testFeatures() throws {
        let r = IT.exec(IT.binary, ["features"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let f = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertFalse((f["ociVersionMax"] as? String ?? "").isEmpty)
        XCTAssertFalse((f["ociVersionMin"] as? String ?? "").isEmpty)
        let ns = (f["linux"] as? [String: Any])?["namespaces"] as? [String] ?? []
        for kind in ["pid", "network", "ipc", "uts", "mount", "user", "cgroup"] {
            XCTAssertTrue(ns.contains(kind), "features lists namespace \(kind): \(ns)")
        }
        XCTAssertEqual(f["hooks"] as? [String],
                       ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"])
    }

    func testVersion() throws {
        for flag in ["--version", "-v"] {
            let r = IT.exec(IT.binary, [flag])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stdout.hasPrefix("skiff version "), r.stdout)
            XCTAssertTrue(r.stdout.contains("\nspec: "), r.stdout)
        }
    }

    // MARK: concurrency, threads, fds, leftovers

    func testConcurrentCreateOfOneID() throws {
        let b = IT.bundle(args: ["sleep", "1000"])
        let id = IT.id("lcrace")
        let dir = IT.lcTempDir()
        defer {
            IT.skiff(["delete", "--force", id])
            try? FileManager.default.removeItem(atPath: b)
            try? FileManager.default.removeItem(atPath: dir)
        }
        let cmd = "\(IT.lcQuote(IT.binary)) --root \(IT.stateRoot) create -b \(IT.lcQuote(b)) \(id) </dev/null"
        let script = """
        cd \(IT.lcQuote(dir))
        (\(cmd) >o1 2>e1; echo $? >rc1) &
        (\(cmd) >o2 2>e2; echo $? >rc2) &
        wait
        """
        XCTAssertEqual(IT.lcShell(script).status, 0)
        let rcs = ["rc1", "rc2"].map { (try? String(contentsOfFile: dir + "/" + $0, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "?" }
        XCTAssertEqual(rcs.sorted(), ["0", "1"], "exactly one create wins")
        let loser = rcs[0] == "1" ? "e1" : "e2"
        let err = (try? String(contentsOfFile: dir + "/" + loser, encoding: .utf8)) ?? ""
        XCTAssertTrue(err.contains("exists"), err)
        XCTAssertEqual(IT.lcStatus(id), "created", "the winner's container is intact")
        XCTAssertEqual(IT.lcCgroupProcs(id).count, 1, "one init in the cgroup")
    }

    func testSingleThreadedAtClone() throws {
        let dir = IT.lcTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let log = dir + "/debug.log"
        let b = IT.bundle(args: ["true"])
        let id = IT.id("lcthr")
        defer {
            IT.skiff(["delete", "--force", id])
            try? FileManager.default.removeItem(atPath: b)
        }
        let r = IT.skiffDetached(["--debug", "--log", log, "create", "-b", b, id])
        XCTAssertEqual(r.status, 0, r.stderr)
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        XCTAssertTrue(text.contains("threads at clone: 1"), "debug log: \(text)")
    }

    func testOnlyStdioReachesTheProgram() throws {
        let r = IT.run(args: ["ls", "/proc/self/fd"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout.split(separator: "\n"), ["0", "1", "2", "3"], "fds 0-2 plus ls's own directory fd")

        let b = IT.bundle(args: ["sh", "-c", "ls /proc/self/fd; readlink /proc/self/fd/3; true"])
        defer { try? FileManager.default.removeItem(atPath: b) }
        let skiff = "\(IT.lcQuote(IT.binary)) --root \(IT.stateRoot)"
        let plain = IT.exec("/bin/sh", ["-c", "exec 3</etc/hostname; exec \(skiff) run -b \(IT.lcQuote(b)) \(IT.id("lcfd"))"])
        XCTAssertEqual(plain.status, 0, plain.stderr)
        XCTAssertEqual(plain.stdout.split(separator: "\n").prefix(4), ["0", "1", "2", "3"], "fd 3 is not passed without --preserve-fds: \(plain.stdout)")
        XCTAssertFalse(plain.stdout.contains("/etc/hostname"), plain.stdout)

        let kept = IT.exec("/bin/sh", ["-c", "exec 3</etc/hostname; exec \(skiff) run --preserve-fds 1 -b \(IT.lcQuote(b)) \(IT.id("lcfd"))"])
        XCTAssertEqual(kept.status, 0, kept.stderr)
        XCTAssertEqual(kept.stdout.split(separator: "\n"), ["0", "1", "2", "3", "4", "/etc/hostname"],
                       "with --preserve-fds 1 fd 3 (the host's /etc/hostname) is passed too")
    }

    func testNoStrayProcessAfterDelete() throws {
        let marker = IT.id("lcstray")
        let c = IT.lcCreate(["sh", "-c", "sleep 1000 & sleep 1000 & while true; do sleep 1; done; echo \(marker)"])
        defer { c.cleanup() }
        XCTAssertEqual(c.result.status, 0, c.result.stderr)
        XCTAssertEqual(IT.skiff(["start", c.id]).status, 0)
        XCTAssertTrue(IT.lcWait { IT.lcCgroupProcs(c.id).count >= 3 })
        let pids = IT.lcCgroupProcs(c.id)
        XCTAssertEqual(IT.processes(matching: marker).count, 1, "the marker finds the container's sh")
        XCTAssertEqual(IT.skiff(["delete", "-f", c.id]).status, 0)
        XCTAssertTrue(IT.lcWait { pids.allSatisfy { !IT.lcExists($0) } }, "all of \(pids) gone, none left a zombie")
        XCTAssertEqual(IT.processes(matching: marker), [])
        let zombies = IT.sh("ps -eo stat,args | awk '$1 ~ /^Z/' | grep -E 'sleep|sh' || true").stdout
        XCTAssertEqual(zombies, "", "no zombie sh/sleep")
    }
}

// MARK: helpers (lifecycle, hook and bad-input tests)

extension IT {
    struct Created {
        var id: String
        var bundle: String
        var root: String
        var result: Result

        /// delete --force, and remove the bundle.
        func cleanup() {
            IT.skiff(["delete", "--force", id], root: root)
            try? FileManager.default.removeItem(atPath: bundle)
        }
    }

    static func lcQuote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    /// skiff with stdio on files, not pipes: a container made by this command inherits
    /// its stdio and would otherwise hold our pipes open until it exits.
    @discardableResult
    static func skiffDetached(_ args: [String], root: String = stateRoot, cwd: String? = nil, timeout: TimeInterval = 60) -> Result {
        let dir = lcTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cmd = ([binary, "--root", root] + args).map(lcQuote).joined(separator: " ")
        let cd = cwd.map { "cd \(lcQuote($0)) && " } ?? ""
        let r = lcShell("\(cd)exec \(cmd) </dev/null >\(dir)/out 2>\(dir)/err", timeout: timeout)
        return Result(status: r.status,
                      stdout: (try? String(contentsOfFile: dir + "/out", encoding: .utf8)) ?? "",
                      stderr: r.stderr + ((try? String(contentsOfFile: dir + "/err", encoding: .utf8)) ?? ""))
    }

    /// bash running `script` with every inherited fd past stdio closed first. Foundation's
    /// Process hands its child a socket whose EOF is how it learns the child exited: a
    /// container init made by the script would inherit it and hold `exec` until it exits.
    @discardableResult
    static func lcShell(_ script: String, timeout: TimeInterval = 60) -> Result {
        let closeInherited = #"for f in /proc/$$/fd/*; do n=${f##*/}; if [ "$n" -gt 2 ]; then eval "exec $n>&-"; fi; done; "#
        return exec("/bin/bash", ["-c", closeInherited + script], timeout: timeout)
    }

    /// A bundle for `args` and `skiff create` of it (not started).
    static func lcCreate(_ args: [String], root: String = stateRoot, options: [String] = [], cwd: String? = nil,
                         _ edit: (inout [String: Any]) -> Void = { _ in }) -> Created {
        let b = bundle(args: args, edit)
        let id = IT.id("lc")
        let r = skiffDetached(["create"] + options + ["-b", b, id], root: root, cwd: cwd)
        return Created(id: id, bundle: b, root: root, result: r)
    }

    static func lcState(_ id: String, root: String = stateRoot) -> [String: Any]? {
        let r = skiff(["state", id], root: root)
        guard r.status == 0 else { return nil }
        return try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
    }

    static func lcStatus(_ id: String, root: String = stateRoot) -> String? {
        lcState(id, root: root)?["status"] as? String
    }

    /// Polls `cond` until it holds or `timeout` passes.
    static func lcWait(timeout: TimeInterval = 10, _ cond: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if cond() { return true }
            usleep(20_000)
        }
        return cond()
    }

    /// The container's cgroup directory (skiff's default /skiff/<id> under the cgroup2 mount).
    static func lcCgroup(_ id: String) -> String {
        for mp in ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"] where FileManager.default.fileExists(atPath: mp + "/cgroup.procs") {
            return mp + "/skiff/" + id
        }
        return "/sys/fs/cgroup/unified/skiff/" + id
    }

    static func lcCgroupProcs(_ id: String) -> [Int] {
        ((try? String(contentsOfFile: lcCgroup(id) + "/cgroup.procs", encoding: .utf8)) ?? "")
            .split(separator: "\n").compactMap { Int($0) }
    }

    /// /proc/<pid> exists at all (a zombie counts).
    static func lcExists(_ pid: Int) -> Bool { FileManager.default.fileExists(atPath: "/proc/\(pid)") }

    /// Alive and not a zombie.
    static func lcAlive(_ pid: Int) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.range(of: ")", options: .backwards) else { return false }
        let state = stat[close.upperBound...].trimmingCharacters(in: .whitespaces).first
        return state != "Z" && state != "X"
    }

    static func lcTempDir() -> String {
        let dir = NSTemporaryDirectory() + "skiff-it-tmp-\(getpid())-\(UUID().uuidString.prefix(8))"
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }
}
