import Foundation
import XCTest

/// linux.seccomp in real containers: each action does what config-linux.md says, argument
/// comparisons match only their values, and SCMP_ACT_NOTIFY hands its fd to an agent.
final class SeccompTests: XCTestCase {
    override func setUpWithError() throws { try IT.requireEnvironment() }

    static func seccomp(_ c: inout [String: Any], _ s: [String: Any], nnp: Bool = false) {
        CT.linux(&c) { $0["seccomp"] = s }
        CT.process(&c) { $0["noNewPrivileges"] = nnp }
    }

    static func rule(_ names: [String], _ action: String, errno: Int? = nil, args: [[String: Any]]? = nil) -> [String: Any] {
        var r: [String: Any] = ["names": names, "action": action]
        if let errno { r["errnoRet"] = errno }
        if let args { r["args"] = args }
        return r
    }

    func run(_ script: String, nnp: Bool = false, _ s: [String: Any]) -> IT.Result {
        IT.run(args: ["sh", "-c", script]) { Self.seccomp(&$0, s, nnp: nnp) }
    }

    func testErrnoActionReturnsItsErrno() {
        for nnp in [false, true] {
            let r = run("mkdir /tmp/x; mkdir /tmp/y 2>&1; grep -E '^Seccomp:' /proc/self/status", nnp: nnp, [
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [Self.rule(["mkdir", "mkdirat"], "SCMP_ACT_ERRNO", errno: 18)],
            ])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stdout.contains("Invalid cross-device link"), "EXDEV (nnp \(nnp)): \(r.stdout)")
            XCTAssertTrue(r.stdout.contains("Seccomp:\t2"), "filter mode at exec: \(r.stdout)")
        }
        // errnoRet unset: EPERM.
        let r = run("mkdir /tmp/x 2>&1", ["defaultAction": "SCMP_ACT_ALLOW",
                                           "syscalls": [Self.rule(["mkdir", "mkdirat"], "SCMP_ACT_ERRNO")]])
        XCTAssertTrue(r.stdout.contains("Operation not permitted"), r.stdout)
    }

    /// Every x86_64 syscall name from the kernel headers, for allow-lists.
    static func allSyscalls() -> [String] {
        let text = (try? String(contentsOfFile: "/usr/include/x86_64-linux-gnu/asm/unistd_64.h", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            let f = line.split(separator: " ")
            return f.count == 3 && f[0] == "#define" && f[1].hasPrefix("__NR_") ? String(f[1].dropFirst(5)) : nil
        }
    }

    func testDefaultErrnoRetOnAnAllowList() {
        let allowed = Self.allSyscalls().filter { $0 != "mkdir" && $0 != "mkdirat" }
        XCTAssertGreaterThan(allowed.count, 300, "syscall names from the kernel headers")
        let r = run("mkdir /tmp/x 2>&1; echo ok", ["defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 18,
                                                     "syscalls": [Self.rule(allowed, "SCMP_ACT_ALLOW")]])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("Invalid cross-device link"), r.stdout)
        XCTAssertTrue(r.stdout.contains("ok"), r.stdout)
    }

    func testKillActionsKill() {
        for action in ["SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP"] {
            let r = IT.run(args: ["/bin/sync"]) {
                Self.seccomp(&$0, ["defaultAction": "SCMP_ACT_ALLOW", "syscalls": [Self.rule(["sync"], action)]])
            }
            XCTAssertEqual(r.status, 128 + SIGSYS, "\(action): killed by SIGSYS: \(r.stderr)")
        }
        // The same program without the rule exits 0.
        XCTAssertEqual(IT.run(args: ["/bin/sync"]).status, 0)
    }

    func testLogAndAllowPass() {
        var r = run("mkdir /dev/logged && echo made", ["defaultAction": "SCMP_ACT_ALLOW",
                                                        "syscalls": [Self.rule(["mkdir", "mkdirat"], "SCMP_ACT_LOG")]])
        XCTAssertEqual(r.stdout, "made\n", r.stderr)
        r = run("mkdir /dev/logged && echo made", ["defaultAction": "SCMP_ACT_LOG"])
        XCTAssertEqual(r.stdout, "made\n", r.stderr)
        r = run("mkdir /dev/allowed && echo made", ["defaultAction": "SCMP_ACT_ERRNO",
                                                     "syscalls": [Self.rule(Self.allSyscalls(), "SCMP_ACT_ALLOW")]])
        XCTAssertEqual(r.stdout, "made\n", r.stderr)
    }

    func testTraceWithoutTracerIsENOSYS() {
        let r = run("mkdir /tmp/x 2>&1", ["defaultAction": "SCMP_ACT_ALLOW",
                                           "syscalls": [Self.rule(["mkdir", "mkdirat"], "SCMP_ACT_TRACE", errno: 1)]])
        XCTAssertTrue(r.stdout.contains("Function not implemented"), r.stdout)
    }

    /// kill(1, sig) for a few signals (pid 1, the shell, ignores them all): which were refused.
    func blockedSignals(_ args: [[String: Any]]) -> [Int] {
        let script = "for s in 0 10 18 28; do kill -$s 1 2>/dev/null || echo $s; done"
        let r = run(script, ["defaultAction": "SCMP_ACT_ALLOW",
                             "syscalls": [Self.rule(["kill"], "SCMP_ACT_ERRNO", args: args)]])
        XCTAssertEqual(r.status, 0, r.stderr)
        return r.stdout.split(separator: "\n").compactMap { Int($0) }
    }

    func testArgumentComparisons() {
        func arg(_ op: String, _ v: UInt64, _ v2: UInt64? = nil) -> [String: Any] {
            var a: [String: Any] = ["index": 1, "value": v, "op": op]
            if let v2 { a["valueTwo"] = v2 }
            return a
        }
        XCTAssertEqual(blockedSignals([arg("SCMP_CMP_EQ", 10)]), [10])
        XCTAssertEqual(blockedSignals([arg("SCMP_CMP_NE", 10)]), [0, 18, 28])
        XCTAssertEqual(blockedSignals([arg("SCMP_CMP_GT", 10)]), [18, 28])
        XCTAssertEqual(blockedSignals([arg("SCMP_CMP_GE", 10)]), [10, 18, 28])
        XCTAssertEqual(blockedSignals([arg("SCMP_CMP_LT", 10)]), [0])
        XCTAssertEqual(blockedSignals([arg("SCMP_CMP_LE", 10)]), [0, 10])
        // (sig & 8) == 8: 10 and 28 have bit 3 set, 0 and 18 do not.
        XCTAssertEqual(blockedSignals([arg("SCMP_CMP_MASKED_EQ", 8, 8)]), [10, 28])
        // Two conditions on one argument are ORed (separate rules), as runc does.
        XCTAssertEqual(blockedSignals([arg("SCMP_CMP_EQ", 10), arg("SCMP_CMP_EQ", 18)]), [10, 18])
        // Conditions on different arguments are ANDed: pid 1 and signal 18.
        XCTAssertEqual(blockedSignals([["index": 0, "value": 1, "op": "SCMP_CMP_EQ"], arg("SCMP_CMP_EQ", 18)]), [18])
        XCTAssertEqual(blockedSignals([["index": 0, "value": 2, "op": "SCMP_CMP_EQ"], arg("SCMP_CMP_EQ", 18)]), [])
    }

    func testRuntimeSetupIsNotFiltered() {
        // sethostname and mount are refused to the program, yet skiff itself used both.
        let r = IT.run(args: ["sh", "-c", "hostname; hostname other 2>&1; mount -t tmpfs t /mnt 2>&1; echo done"]) {
            $0["hostname"] = "filtered"
            Self.seccomp(&$0, ["defaultAction": "SCMP_ACT_ALLOW",
                               "syscalls": [Self.rule(["sethostname", "mount", "pivot_root"], "SCMP_ACT_ERRNO")]])
        }
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.first, "filtered")
        XCTAssertTrue(lines.contains { $0.contains("sethostname: Operation not permitted") }, r.stdout)
        XCTAssertTrue(lines.contains { $0.contains("mount: permission denied") }, r.stdout)
    }

    func testFlagsArchesAndUnknownNames() {
        let r = run("grep -E '^Seccomp(_filters)?:' /proc/self/status; mkdir /tmp/x 2>&1; true", [
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                      "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
            "syscalls": [Self.rule(["no_such_syscall_anywhere", "mkdir", "mkdirat"], "SCMP_ACT_ERRNO", errno: 18)],
        ])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("Seccomp:\t2"), r.stdout)
        XCTAssertTrue(r.stdout.contains("Seccomp_filters:\t1"), r.stdout)
        XCTAssertTrue(r.stdout.contains("Invalid cross-device link"), "the unknown name is skipped, the rest applies: \(r.stdout)")
    }

    /// A seccomp agent (python3): takes the state and fd of each connection to listenerPath
    /// (argv[3] of them, default 1: the init's, then one per exec), records them (OUT, then
    /// OUT.2, ...), and answers every notification "success" without doing the syscall.
    static let agent = #"""
import socket, sys, json, struct, fcntl, select
path, out = sys.argv[1], sys.argv[2]
want = int(sys.argv[3]) if len(sys.argv) > 3 else 1
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(4)
open(out + ".ready", "w").close()
listeners, accepted, fd_number = [], 0, {}
RECV, SEND = 0xC0502100, 0xC0182101
while True:
    ready, _, _ = select.select(listeners + ([srv] if accepted < want else []), [], [], 30)
    if not ready:
        break
    for r in ready:
        if r is srv:
            conn, _ = srv.accept()
            data, fds, _, _ = socket.recv_fds(conn, 65536, 4)
            while True:
                more = conn.recv(65536)
                if not more:
                    break
                data += more
            conn.close()
            state = json.loads(data)
            state["_fdCount"] = len(fds)
            listeners.append(fds[0])
            accepted += 1
            fd_number[fds[0]] = accepted
            json.dump(state, open(out if accepted == 1 else "%s.%d" % (out, accepted), "w"))
            continue
        buf = bytearray(80)
        try:
            fcntl.ioctl(r, RECV, buf)
        except OSError:
            listeners.remove(r)
            continue
        nid, pid, _, nr = struct.unpack_from("=QIIi", buf, 0)
        fcntl.ioctl(r, SEND, bytearray(struct.pack("=QqiI", nid, 0, 0, 0)))
        with open(out + ".log", "a") as f:
            f.write("%d %d\n" % (fd_number[r], nr))
    if not listeners and accepted >= want:
        break
"""#

    /// The agent listening on DIR/agent.sock for CONNECTIONS listeners, recording to
    /// DIR/state.json; waited for (10 s).
    static func startAgent(in dir: String, connections: Int) throws -> (Process, String, String) {
        try agent.write(toFile: dir + "/agent.py", atomically: true, encoding: .utf8)
        let sock = dir + "/agent.sock", out = dir + "/state.json"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        p.arguments = [dir + "/agent.py", sock, out, String(connections)]
        try p.run()
        XCTAssertTrue(IT.lcWait(timeout: 10) { FileManager.default.fileExists(atPath: out + ".ready") }, "agent up")
        return (p, sock, out)
    }

    func testNotifyHandsTheFdToAnAgentThatAnswers() throws {
        for nnp in [false, true] {
            let dir = IT.lcTempDir()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let (agent, sock, out) = try Self.startAgent(in: dir, connections: 1)
            defer { if agent.isRunning { agent.terminate() }; agent.waitUntilExit() }

            let r = run("mkdir /dev/agentdir && echo mkdir-ok; ls -d /dev/agentdir 2>/dev/null || echo absent", nnp: nnp, [
                "defaultAction": "SCMP_ACT_ALLOW",
                "listenerPath": sock,
                "listenerMetadata": "skiff-test-metadata",
                // Only meaningful with a listener; TSYNC then needs TSYNC_ESRCH, which skiff adds.
                "flags": nnp ? ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", "SECCOMP_FILTER_FLAG_TSYNC"] : [String](),
                "syscalls": [Self.rule(["mkdir", "mkdirat"], "SCMP_ACT_NOTIFY")],
            ])
            XCTAssertEqual(r.status, 0, "nnp \(nnp): \(r.stderr)")
            // The agent said yes, so mkdir "succeeded", but nothing was made.
            XCTAssertEqual(r.stdout, "mkdir-ok\nabsent\n", "nnp \(nnp)")
            let data = try Data(contentsOf: URL(fileURLWithPath: out))
            let state = try JSONSerialization.jsonObject(with: data) as! [String: Any]
            XCTAssertEqual(state["fds"] as? [String], ["seccompFd"])
            XCTAssertEqual(state["_fdCount"] as? Int, 1)
            XCTAssertEqual(state["metadata"] as? String, "skiff-test-metadata")
            let inner = state["state"] as? [String: Any]
            XCTAssertEqual(inner?["status"] as? String, "creating")
            XCTAssertNotNil(inner?["id"] as? String)
            XCTAssertEqual(inner?["pid"] as? Int, state["pid"] as? Int)
            let log = (try? String(contentsOfFile: out + ".log", encoding: .utf8)) ?? ""
            XCTAssertTrue(log.split(separator: "\n").contains("1 83"), "the agent saw mkdir (83): \(log)")
        }
    }

    /// An exec'd process gets the container's filter too, and its own listener fd goes to
    /// the agent with the container's state ("running").
    func testNotifyOfAnExecReachesTheAgent() throws {
        let dir = IT.lcTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (agent, sock, out) = try Self.startAgent(in: dir, connections: 2)
        defer { if agent.isRunning { agent.terminate() }; agent.waitUntilExit() }
        let d = try CT.runDetached(args: ["sleep", "1000"]) {
            Self.seccomp(&$0, ["defaultAction": "SCMP_ACT_ALLOW", "listenerPath": sock,
                               "syscalls": [Self.rule(["mkdir", "mkdirat"], "SCMP_ACT_NOTIFY")]])
        }
        defer { CT.remove(d) }
        let r = IT.skiff(["exec", d.id, "sh", "-c", "mkdir /dev/execdir && echo mkdir-ok; ls -d /dev/execdir 2>/dev/null || echo absent"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "mkdir-ok\nabsent\n", "the agent answered the exec's mkdir")
        let state = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + ".2"))) as! [String: Any]
        XCTAssertEqual(state["fds"] as? [String], ["seccompFd"])
        let inner = state["state"] as? [String: Any]
        XCTAssertEqual(inner?["status"] as? String, "running")
        XCTAssertEqual(inner?["id"] as? String, d.id)
        XCTAssertEqual(inner?["pid"] as? Int, Int(d.pid), "the container's state names its init")
        XCTAssertNotEqual(state["pid"] as? Int, Int(d.pid), "the fd is the exec'd process's")
        let log = (try? String(contentsOfFile: out + ".log", encoding: .utf8)) ?? ""
        XCTAssertTrue(log.split(separator: "\n").contains("2 83"), "mkdir (83) came through the exec's fd: \(log)")
    }

    func testNotifyWithoutAnAgentFailsCreateCleanly() {
        let before = IT.footprint()
        let r = run("echo never", ["defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/nonexistent/agent.sock",
                                   "syscalls": [Self.rule(["mkdir"], "SCMP_ACT_NOTIFY")]])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("listenerPath"), r.stderr)
        XCTAssertEqual(r.stdout, "")
        XCTAssertTrue(IT.lcWait(timeout: 5) { IT.footprint() == before }, "\(before) -> \(IT.footprint())")
    }
}
