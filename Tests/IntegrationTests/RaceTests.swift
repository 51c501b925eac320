import Foundation
import XCTest
import Glibc

/// Races and hostile environments: many concurrent creates, list and state while
/// containers are deleted, a state dir removed by hand, stale locks, a recorded pid
/// reused by another process, kill and delete on a zombie init. Each gives a clear error
/// or recovers, and never harms another container.
final class RaceTests: XCTestCase {
    static let root = "/run/skiff-it-race"
    static let concurrentCreates = 100
    static let listedWhileDeleting = 30
    /// Enough lists (a few ms each) to span all the deletes.
    static let listRounds = 200

    override func setUpWithError() throws { try IT.requireEnvironment() }

    func skiff(_ args: [String]) -> IT.Result { IT.skiffDetached(args, root: Self.root) }

    /// Runs `skiff ARGS` for each id at once; returns the exit statuses by id.
    func concurrently(_ ids: [String], _ args: (String) -> [String], dir: String) -> [String: String] {
        let lines = ids.map { id -> String in
            let cmd = ([IT.binary, "--root", Self.root] + args(id)).map(IT.lcQuote).joined(separator: " ")
            return "(\(cmd) </dev/null >/dev/null 2>\(dir)/err.\(id); echo $? >\(dir)/rc.\(id)) &"
        }
        IT.lcShell(lines.joined(separator: "\n") + "\nwait", timeout: 300)
        var out: [String: String] = [:]
        for id in ids {
            let rc = (try? String(contentsOfFile: "\(dir)/rc.\(id)", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
            out[id] = rc == "0" ? "0" : rc + ": " + ((try? String(contentsOfFile: "\(dir)/err.\(id)", encoding: .utf8)) ?? "")
        }
        return out
    }

    func testHundredConcurrentCreatesStartsAndDeletes() throws {
        let b = IT.bundle(args: ["sleep", "1000"])
        let dir = IT.lcTempDir()
        defer { try? FileManager.default.removeItem(atPath: b); try? FileManager.default.removeItem(atPath: dir) }
        let before = IT.footprint(root: Self.root)
        let ids = (0..<Self.concurrentCreates).map { IT.id("race\($0)-") }
        for (step, args) in [("create", { (id: String) in ["create", "-b", b, id] }), ("start", { ["start", $0] })] {
            let rcs = concurrently(ids, args, dir: dir)
            XCTAssertEqual(rcs.values.filter { $0 != "0" }, [], "every \(step) succeeds")
        }
        let listed = skiff(["list", "-q"]).stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(Set(listed).intersection(ids).count, ids.count, "all listed")
        for id in ids { XCTAssertEqual(IT.lcCgroupProcs(id).count, 1, "\(id): one init in its own cgroup") }
        let rcs = concurrently(ids, { ["delete", "--force", $0] }, dir: dir)
        XCTAssertEqual(rcs.values.filter { $0 != "0" }, [], "every delete succeeds")
        let after = IT.footprint(root: Self.root)
        XCTAssertEqual(after.stateDirs, before.stateDirs)
        XCTAssertEqual(after.cgroups, before.cgroups)
        XCTAssertEqual(after.mountLines, before.mountLines)
        for id in ids { XCTAssertEqual(IT.processes(matching: id), []) }
    }

    /// list and state running while every container is deleted at once: list always
    /// answers (a JSON array), state answers or says "does not exist"; nothing crashes.
    func testListAndStateWhileContainersAreDeleted() throws {
        let b = IT.bundle(args: ["sleep", "1000"])
        let dir = IT.lcTempDir()
        defer { try? FileManager.default.removeItem(atPath: b); try? FileManager.default.removeItem(atPath: dir) }
        let ids = (0..<Self.listedWhileDeleting).map { IT.id("racel\($0)-") }
        XCTAssertEqual(concurrently(ids, { ["run", "-d", "-b", b, $0] }, dir: dir).values.filter { $0 != "0" }, [])
        let sk = "\(IT.lcQuote(IT.binary)) --root \(Self.root)"
        let readers = """
        for i in $(seq \(Self.listRounds)); do \(sk) list -f json >\(dir)/list.$i 2>&1; echo $? >>\(dir)/list.rc; done &
        for i in $(seq 4); do for id in \(ids.joined(separator: " ")); do
          \(sk) state $id >\(dir)/state.$id.$i 2>&1; echo "$? $id.$i" >>\(dir)/state.rc; done; done &
        """
        let deleters = ids.map { "\(sk) delete --force \($0) </dev/null >/dev/null 2>>\(dir)/delete.err &" }.joined(separator: "\n")
        IT.lcShell(readers + "\n" + deleters + "\nwait", timeout: 300)
        let listRCs = ((try? String(contentsOfFile: dir + "/list.rc", encoding: .utf8)) ?? "").split(separator: "\n")
        XCTAssertEqual(listRCs.count, Self.listRounds)
        XCTAssertEqual(listRCs.filter { $0 != "0" }, [], "list always succeeds")
        for i in 1...Self.listRounds {
            let data = FileManager.default.contents(atPath: "\(dir)/list.\(i)") ?? Data()
            // runc's empty list in JSON is null.
            let parsed = try? JSONSerialization.jsonObject(with: data, options: .fragmentsAllowed)
            XCTAssertTrue(parsed is [Any] || parsed is NSNull, "list \(i): \(String(decoding: data, as: UTF8.self))")
        }
        let stateRCs = ((try? String(contentsOfFile: dir + "/state.rc", encoding: .utf8)) ?? "").split(separator: "\n")
        XCTAssertEqual(stateRCs.count, 4 * ids.count)
        for line in stateRCs {
            let parts = line.split(separator: " ")
            let out = (try? String(contentsOfFile: "\(dir)/state.\(parts[1])", encoding: .utf8)) ?? ""
            switch parts[0] {
            case "0": XCTAssertNotNil(try? JSONSerialization.jsonObject(with: Data(out.utf8)), "state \(parts[1]): \(out)")
            case "1": XCTAssertTrue(out.contains("does not exist"), "state \(parts[1]): \(out)")
            default: XCTFail("state \(parts[1]) exited \(parts[0]): \(out)")
            }
        }
        XCTAssertEqual((try? String(contentsOfFile: dir + "/delete.err", encoding: .utf8)) ?? "", "")
        for id in ids {
            XCTAssertFalse(FileManager.default.fileExists(atPath: Self.root + "/" + id))
            XCTAssertFalse(FileManager.default.fileExists(atPath: IT.lcCgroup(id)))
        }
    }

    /// The state dir removed by hand: the container is gone for skiff (runc's words), the
    /// ID cannot be reused while its cgroup still holds the orphaned init (create says so),
    /// and another container is untouched.
    func testStateDirRemovedByHand() throws {
        let b = IT.bundle(args: ["sleep", "1000"])
        defer { try? FileManager.default.removeItem(atPath: b) }
        let (gone, other) = (IT.id("racegone"), IT.id("raceother"))
        defer { _ = skiff(["delete", "--force", other]); IT.sh("echo 1 > \(IT.lcCgroup(gone))/cgroup.kill; sleep 0.2; rmdir \(IT.lcCgroup(gone))") }
        for id in [gone, other] {
            XCTAssertEqual(skiff(["run", "-d", "-b", b, id]).status, 0)
        }
        IT.sh("rm -rf \(Self.root)/\(gone)")
        for args in [["state", gone], ["kill", gone, "KILL"], ["start", gone], ["exec", gone, "true"], ["delete", gone]] {
            let r = skiff(args)
            XCTAssertEqual(r.status, 1, "\(args): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("does not exist"), "\(args): \(r.stderr)")
        }
        XCTAssertEqual(skiff(["delete", "--force", gone]).status, 0, "--force on what does not exist succeeds, as runc")
        let again = skiff(["create", "-b", b, gone])
        XCTAssertEqual(again.status, 1, again.stderr)
        XCTAssertTrue(again.stderr.contains(IT.lcCgroup(gone).replacingOccurrences(of: "/sys/fs/cgroup/unified", with: "")) ||
                      again.stderr.contains("cgroup"), again.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: Self.root + "/" + gone), "the refused create leaves no state dir")
        XCTAssertEqual(IT.lcCgroupProcs(gone).count, 1, "the refused create left the orphan alone")
        XCTAssertEqual(IT.skiffDetached(["state", other], root: Self.root).status, 0)
        XCTAssertEqual(IT.lcCgroupProcs(other).count, 1, "the other container runs on")
    }

    /// A lock whose holder died (flock is released with its last fd): the next command
    /// goes ahead, on the root and on a container's directory.
    func testStaleLocksDoNotBlock() throws {
        let b = IT.bundle(args: ["sleep", "1000"])
        defer { try? FileManager.default.removeItem(atPath: b) }
        let id = IT.id("racelock")
        defer { _ = skiff(["delete", "--force", id]) }
        XCTAssertEqual(skiff(["create", "-b", b, id]).status, 0)
        for dir in [Self.root, Self.root + "/" + id] {
            // -o: flock itself holds the lock (its command does not inherit it).
            let holder = IT.lcShell("flock -o \(dir) sleep 1000 </dev/null >/dev/null 2>&1 & p=$!; sleep 0.2; " +
                                    "pkill -9 -P $p; kill -9 $p; wait $p; echo held")
            XCTAssertTrue(holder.stdout.contains("held"), holder.stderr)
        }
        XCTAssertEqual(skiff(["start", id]).status, 0, "start after a dead holder of the container's lock")
        let other = IT.id("racelock2")
        XCTAssertEqual(skiff(["create", "-b", b, other]).status, 0, "create after a dead holder of the root's lock")
        XCTAssertEqual(skiff(["delete", "--force", other]).status, 0)
        XCTAssertEqual(skiff(["delete", "--force", id]).status, 0)
    }

    /// The init died and its pid now belongs to another process (forged into the record
    /// and the journal): skiff sees a stopped container, and neither kill nor delete
    /// signals the other process. By pidfs inode, and by /proc start time without one.
    func testRecordedPidReusedByAnotherProcess() throws {
        let b = IT.bundle(args: ["sleep", "1000"])
        defer { try? FileManager.default.removeItem(atPath: b) }
        for byStartTime in [false, true] {
            let id = IT.id("racereuse")
            defer { _ = skiff(["delete", "--force", id]) }
            XCTAssertEqual(skiff(["run", "-d", "-b", b, id]).status, 0)
            let statePath = "\(Self.root)/\(id)/state.json", journalPath = "\(Self.root)/\(id)/journal"
            var state = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: statePath))) as? [String: Any])
            let initPid = try XCTUnwrap(state["pid"] as? Int)
            kill(pid_t(initPid), SIGKILL)
            XCTAssertTrue(IT.lcWait { !IT.lcAlive(initPid) })
            // The pid's new owner: a process of the host, outside the container.
            let victim = IT.lcShell("sleep 1000 </dev/null >/dev/null 2>&1 & echo $!")
            let victimPid = try XCTUnwrap(Int(victim.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
            defer { kill(pid_t(victimPid), SIGKILL) }
            state["pid"] = victimPid
            if byStartTime { state["pidInode"] = 0 }
            try JSONSerialization.data(withJSONObject: state).write(to: URL(fileURLWithPath: statePath))
            let journal = try String(contentsOfFile: journalPath, encoding: .utf8)
                .replacingOccurrences(of: "\"pid\":\(initPid),", with: "\"pid\":\(victimPid),")
                .replacingOccurrences(of: byStartTime ? "\"inode\":" : "\u{0}", with: "\"inode\":0,\"was\":")
            try journal.write(toFile: journalPath, atomically: true, encoding: .utf8)
            XCTAssertTrue(journal.contains("\"pid\":\(victimPid)"), journal)

            let mode = byStartTime ? "start time" : "pidfs inode"
            XCTAssertEqual(IT.lcStatus(id, root: Self.root), "stopped", mode)
            let k = skiff(["kill", id, "KILL"])
            XCTAssertEqual(k.status, 1, "\(mode): \(k.stderr)")
            XCTAssertTrue(k.stderr.contains("container not running"), k.stderr)
            XCTAssertTrue(IT.lcAlive(victimPid), "\(mode): kill left the other process alone")
            XCTAssertEqual(skiff(["delete", id]).status, 0, mode)
            XCTAssertTrue(IT.lcAlive(victimPid), "\(mode): delete left the other process alone")
            XCTAssertFalse(FileManager.default.fileExists(atPath: IT.lcCgroup(id)), mode)
        }
    }

    /// An init that died but was not reaped (its parent, a subreaper, has not waited):
    /// state says stopped, kill refuses, delete removes the container and its cgroup.
    func testKillAndDeleteOnAZombieInit() throws {
        let b = IT.bundle(args: ["sleep", "1000"])
        let dir = IT.lcTempDir()
        defer { try? FileManager.default.removeItem(atPath: b); try? FileManager.default.removeItem(atPath: dir) }
        let id = IT.id("racezombie")
        defer { _ = skiff(["delete", "--force", id]) }
        // A subreaper that becomes the init's parent and does not wait for it in time.
        let script = """
        import ctypes, json, os, subprocess, sys, time
        PR_SET_CHILD_SUBREAPER = 36
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        sk = [sys.argv[1], "--root", sys.argv[2]]
        out = open(sys.argv[5] + "/out", "w+")
        def run(*a):
            out.seek(0); out.truncate()
            rc = subprocess.call(sk + list(a), stdin=subprocess.DEVNULL, stdout=out, stderr=out)
            out.seek(0)
            return [rc, out.read()]
        r = {"create": run("run", "-d", "-b", sys.argv[3], sys.argv[4])}
        pid = json.loads(run("state", sys.argv[4])[1])["pid"]
        r["parent is us"] = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1] == str(os.getpid())
        os.kill(pid, 9)
        for _ in range(500):
            if open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z": break
            time.sleep(0.01)
        r["zombie"] = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z"
        r["status"] = json.loads(run("state", sys.argv[4])[1])["status"]
        r["kill"] = run("kill", sys.argv[4], "KILL")
        r["delete"] = run("delete", sys.argv[4])
        r["still a zombie"] = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z"
        os.waitpid(pid, 0)
        print(json.dumps(r))
        """
        try script.write(toFile: dir + "/zombie.py", atomically: true, encoding: .utf8)
        let r = IT.lcShell(["python3", dir + "/zombie.py", IT.binary, Self.root, b, id, dir].map(IT.lcQuote).joined(separator: " "))
        XCTAssertEqual(r.status, 0, r.stderr)
        let o = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout + r.stderr)
        XCTAssertEqual((o["create"] as? [Any])?.first as? Int, 0, "\(o)")
        XCTAssertEqual(o["parent is us"] as? Bool, true, "\(o)")
        XCTAssertEqual(o["zombie"] as? Bool, true, "\(o)")
        XCTAssertEqual(o["status"] as? String, "stopped", "\(o)")
        XCTAssertEqual((o["kill"] as? [Any])?.first as? Int, 1, "\(o)")
        XCTAssertTrue(((o["kill"] as? [Any])?.last as? String ?? "").contains("container not running"), "\(o)")
        XCTAssertEqual((o["delete"] as? [Any])?.first as? Int, 0, "\(o)")
        XCTAssertEqual(o["still a zombie"] as? Bool, true, "delete did not need the zombie reaped: \(o)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: Self.root + "/" + id))
        XCTAssertFalse(FileManager.default.fileExists(atPath: IT.lcCgroup(id)))
    }
}
