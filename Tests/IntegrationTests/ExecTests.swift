import Foundation
import XCTest

/// `skiff exec` into real containers: what the new process sees inside and what the host
/// sees of it, each flag, the terminal, the refusals and the exit statuses.
final class ExecTests: XCTestCase {
    override func setUpWithError() throws { try IT.requireEnvironment() }

    func container(_ edit: @escaping (inout [String: Any]) -> Void = { _ in }) throws -> CT.Detached {
        try CT.runDetached(args: ["sleep", "1000"], edit)
    }

    @discardableResult
    func exec(_ d: CT.Detached, _ flags: [String], _ cmd: [String], stdin: String? = nil) -> IT.Result {
        IT.skiff(["exec"] + flags + [d.id] + cmd, stdin: stdin)
    }

    @discardableResult
    func exec(_ d: CT.Detached, _ cmd: [String], stdin: String? = nil) -> IT.Result { exec(d, [], cmd, stdin: stdin) }

    /// A detached exec, its stdio on files in the bundle (a pipe would stay open in it).
    func execDetached(_ d: CT.Detached, _ flags: [String], _ cmd: [String]) -> (status: String, pid: Int32?) {
        let pidFile = d.bundle + "/exec-\(UUID().uuidString.prefix(6)).pid"
        let quoted = (flags + ["-d", "--pid-file", pidFile, d.id] + cmd).map { "'\($0)'" }.joined(separator: " ")
        let r = IT.sh("'\(IT.binary)' --root '\(IT.stateRoot)' exec \(quoted) </dev/null >'\(d.bundle)/exec-out' 2>'\(d.bundle)/exec-err'; echo $?; cat '\(d.bundle)/exec-err'")
        let pid = (try? String(contentsOfFile: pidFile, encoding: .utf8)).flatMap { Int32($0) }
        return (r.stdout, pid)
    }

    func status(_ d: CT.Detached) -> String? { IT.state(d.id)?["status"] as? String }

    func link(_ pid: Int32, _ kind: String) -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/\(kind)")) ?? "?"
    }

    /// The process joins every namespace of the container and its cgroup.
    func testJoinsNamespacesAndCgroup() throws {
        let d = try container { $0["hostname"] = "exec-host" }
        defer { CT.remove(d) }
        let r = exec(d, ["sh", "-c", NamespaceTests.printNS + "; echo host=$(hostname); echo self=$$; echo ps1=$(cat /proc/1/comm)"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let kv = CT.keyValues(r.stdout)
        for kind in ["pid", "net", "ipc", "uts", "mnt", "cgroup", "user", "time"] {
            XCTAssertEqual(kv[kind], link(d.pid, kind), "\(kind): \(r.stdout)")
        }
        XCTAssertEqual(kv["host"], "exec-host")
        XCTAssertNotEqual(kv["self"], "1", "a new process, not the init")
        XCTAssertEqual(kv["ps1"], "sleep", "pid 1 in its pid namespace is the container's init")

        // From the host: in the init's cgroup.
        let (out, pid) = execDetached(d, [], ["sleep", "30"])
        XCTAssertTrue(out.hasPrefix("0\n"), out)
        guard let pid else { return XCTFail("no pid file") }
        let cg = { (p: Int32) in (try? String(contentsOfFile: "/proc/\(p)/cgroup", encoding: .utf8)) ?? "" }
        XCTAssertEqual(cg(pid), cg(d.pid))
        XCTAssertEqual(link(pid, "mnt"), link(d.pid, "mnt"))
    }

    func testExitStatus() throws {
        let d = try container()
        defer { CT.remove(d) }
        XCTAssertEqual(exec(d, ["sh", "-c", "exit 7"]).status, 7)
        XCTAssertEqual(exec(d, ["true"]).status, 0)
        XCTAssertEqual(exec(d, ["sh", "-c", "kill -9 $$"]).status, 137, "128 + SIGKILL")
        XCTAssertEqual(exec(d, ["sh", "-c", "kill -TERM $$"]).status, 143, "128 + SIGTERM")
    }

    func testStdioAndArgs() throws {
        let d = try container()
        defer { CT.remove(d) }
        let r = exec(d, ["sh", "-c", "read x; echo got=$x; echo err >&2; echo args=$0,$1", "a b", "c"], stdin: "hello\n")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("got=hello\n"), r.stdout)
        XCTAssertTrue(r.stdout.contains("args=a b,c\n"), r.stdout)
        XCTAssertTrue(r.stderr.contains("err"), r.stderr)
    }

    func testEnvCwdUserGroups() throws {
        let d = try container { c in CT.process(&c) { $0["env"] = ["PATH=/bin", "KEEP=1", "FOO=old"] } }
        defer { CT.remove(d) }
        let r = exec(d, ["-e", "FOO=bar", "-e", "PATH=/bin:/sbin", "--cwd", "/tmp", "-u", "1000:1001", "-g", "2000", "-g", "3000"],
                     ["sh", "-c", "echo foo=$FOO; echo keep=$KEEP; echo path=$PATH; echo n=$(env | grep -c ^FOO=); echo pwd=$(pwd); echo id=$(id -u):$(id -g); echo groups=$(id -G)"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let kv = CT.keyValues(r.stdout)
        XCTAssertEqual(kv["foo"], "bar", "the flag's value wins")
        XCTAssertEqual(kv["n"], "1", "one FOO in the environment")
        XCTAssertEqual(kv["keep"], "1", "the container's environment is kept")
        XCTAssertEqual(kv["path"], "/bin:/sbin")
        XCTAssertEqual(kv["pwd"], "/tmp")
        XCTAssertEqual(kv["id"], "1000:1001")
        XCTAssertEqual(Set((kv["groups"] ?? "").split(separator: " ").map(String.init)), ["1001", "2000", "3000"], r.stdout)
    }

    /// Names come from the container's own /etc/passwd and /etc/group.
    func testUserByName() throws {
        let rootfs = CT.rootfsCopy()
        defer { try? FileManager.default.removeItem(atPath: rootfs) }
        try "root:x:0:0:root:/root:/bin/sh\nwebuser:x:4242:4343::/home/web:/bin/sh\n".write(toFile: rootfs + "/etc/passwd", atomically: true, encoding: .utf8)
        try "root:x:0:\nwebgroup:x:5555:\nweb:x:4343:\n".write(toFile: rootfs + "/etc/group", atomically: true, encoding: .utf8)
        let d = try container { CT.useRootfs(&$0, rootfs) }
        defer { CT.remove(d) }
        var r = exec(d, ["-u", "webuser"], ["sh", "-c", "echo $(id -u):$(id -g) $HOME"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "4242:4343 /home/web\n", "HOME from the container's passwd, as runc")
        r = exec(d, ["-u", "webuser:webgroup"], ["sh", "-c", "echo $(id -u):$(id -g)"])
        XCTAssertEqual(r.stdout, "4242:5555\n", r.stderr)
        r = exec(d, ["-u", "0:webgroup"], ["sh", "-c", "echo $(id -u):$(id -g)"])
        XCTAssertEqual(r.stdout, "0:5555\n", r.stderr)

        r = exec(d, ["-u", "nosuchuser"], ["true"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("--user") && r.stderr.contains("unknown user \\\"nosuchuser\\\""), r.stderr)
        r = exec(d, ["-u", "0:nosuchgroup"], ["true"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("unknown group"), r.stderr)
        XCTAssertEqual(status(d), "running", "a refused exec leaves the container as it was")
    }

    func testCapabilitiesAndNoNewPrivileges() throws {
        let d = try container { c in
            CT.process(&c) { p in
                let caps = ["CAP_CHOWN", "CAP_KILL"]
                p["capabilities"] = ["bounding": caps, "effective": caps, "permitted": caps]
                p["noNewPrivileges"] = false
            }
        }
        defer { CT.remove(d) }
        func caps(_ r: IT.Result, _ field: String) -> UInt64? {
            r.stdout.split(separator: "\n").first { $0.hasPrefix(field + ":") }
                .flatMap { UInt64($0.split(separator: "\t").last ?? "", radix: 16) }
        }
        let chown: UInt64 = 1 << 0, kill: UInt64 = 1 << 5, sysAdmin: UInt64 = 1 << 21, netAdmin: UInt64 = 1 << 12
        var r = exec(d, ["grep", "-E", "^(Cap|NoNewPrivs)", "/proc/self/status"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(caps(r, "CapEff"), chown | kill, r.stdout)
        XCTAssertEqual(caps(r, "CapBnd"), chown | kill, r.stdout)
        XCTAssertTrue(r.stdout.contains("NoNewPrivs:\t0"), r.stdout)

        r = exec(d, ["--cap", "CAP_SYS_ADMIN", "-c", "net_admin", "--no-new-privs"], ["grep", "-E", "^(Cap|NoNewPrivs)", "/proc/self/status"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(caps(r, "CapEff"), chown | kill | sysAdmin | netAdmin, r.stdout)
        XCTAssertEqual(caps(r, "CapPrm"), chown | kill | sysAdmin | netAdmin, r.stdout)
        XCTAssertEqual(caps(r, "CapBnd"), chown | kill | sysAdmin | netAdmin, r.stdout)
        XCTAssertTrue(r.stdout.contains("NoNewPrivs:\t1"), r.stdout)

        r = exec(d, ["--cap", "CAP_NOPE"], ["true"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("--cap: unknown capability"), r.stderr)
    }

    /// The container's seccomp filter applies to the exec'd process too.
    func testSeccompOfTheContainer() throws {
        let d = try container { c in
            SeccompTests.seccomp(&c, ["defaultAction": "SCMP_ACT_ALLOW",
                                      "syscalls": [["names": ["mkdirat", "mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1]]])
        }
        defer { CT.remove(d) }
        let r = exec(d, ["sh", "-c", "grep ^Seccomp: /proc/self/status; mkdir /tmp/x && echo made || echo refused"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("Seccomp:\t2"), r.stdout)
        XCTAssertTrue(r.stdout.contains("refused"), r.stdout)
    }

    func testRlimitsOfTheContainer() throws {
        let d = try container { c in CT.process(&c) { $0["rlimits"] = [["type": "RLIMIT_NOFILE", "soft": 123, "hard": 456]] } }
        defer { CT.remove(d) }
        let r = exec(d, ["sh", "-c", "ulimit -n; ulimit -Hn"])
        XCTAssertEqual(r.stdout, "123\n456\n", r.stderr)
    }

    func testDetachedWithPidFile() throws {
        let d = try container()
        defer { CT.remove(d) }
        let (out, pid) = execDetached(d, [], ["sh", "-c", "echo started; sleep 30"])
        XCTAssertTrue(out.hasPrefix("0\n"), out)
        guard let pid else { return XCTFail("the pid file exists when exec -d returns") }
        XCTAssertEqual(kill(pid, 0), 0, "the process runs")
        XCTAssertEqual(link(pid, "pid"), link(d.pid, "pid"))
        let ps = IT.skiff(["ps", "--format", "json", d.id])
        XCTAssertTrue(ps.stdout.contains(String(pid)), ps.stdout)
        usleep(200_000)
        XCTAssertEqual(try String(contentsOfFile: d.bundle + "/exec-out", encoding: .utf8), "started\n")
    }

    /// A missing binary fails the exec (exit 1, the name in the message) and nothing else.
    func testMissingBinaryLeavesContainerRunning() throws {
        let d = try container()
        defer { CT.remove(d) }
        let before = IT.skiff(["ps", "--format", "json", d.id]).stdout
        var r = exec(d, ["no-such-program"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("no-such-program"), r.stderr)
        r = exec(d, ["/bin/no-such-program"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("/bin/no-such-program"), r.stderr)
        let (out, _) = execDetached(d, [], ["no-such-program"])
        XCTAssertFalse(out.hasPrefix("0\n"), out)
        XCTAssertEqual(status(d), "running")
        XCTAssertEqual(kill(d.pid, 0), 0)
        XCTAssertEqual(IT.skiff(["ps", "--format", "json", d.id]).stdout, before, "no process left behind")
        XCTAssertEqual(exec(d, ["true"]).status, 0, "the container still takes execs")
    }

    func testRefusals() throws {
        // Stopped.
        let b = IT.bundle(args: ["true"])
        let s = CT.Detached(id: IT.id("exec-stopped"), bundle: b, pid: 0)
        defer { CT.remove(s) }
        IT.sh("'\(IT.binary)' --root '\(IT.stateRoot)' run -d -b '\(b)' '\(s.id)' </dev/null >/dev/null 2>&1")
        for _ in 0..<100 where status(s) != "stopped" { usleep(20000) }
        XCTAssertEqual(status(s), "stopped")
        var r = exec(s, ["true"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("cannot exec in a stopped container"), r.stderr)
        // Missing.
        r = IT.skiff(["exec", "no-such-container", "true"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("does not exist"), r.stderr)
        // No command.
        let d = try container()
        defer { CT.remove(d) }
        r = exec(d, [])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("needs a command"), r.stderr)
        // Unknown flag and bad values, each naming the flag.
        for (flags, word) in [(["--bogus"], "-bogus"), (["--cwd", "rel"], "--cwd"), (["-e", "NOEQUALS"], "--env"),
                              (["-g", "x"], "--additional-gids"), (["-u", ":1"], "--user"),
                              (["--preserve-fds", "-1"], "--preserve-fds"), (["--apparmor", "some-profile"], "apparmor"),
                              (["--process-label", "system_u:system_r:container_t:s0"], "selinuxLabel")] {
            r = exec(d, flags, ["true"])
            XCTAssertEqual(r.status, 1, "\(flags)")
            XCTAssertTrue(r.stderr.contains(word), "\(flags): \(r.stderr)")
        }
        // A terminal needs someone to hand the pty to when detached.
        let (out, _) = execDetached(d, ["-t"], ["true"])
        XCTAssertFalse(out.hasPrefix("0\n"), out)
        XCTAssertTrue(out.contains("console-socket"), out)
        XCTAssertEqual(status(d), "running")
    }

    func testPausedContainer() throws {
        let d = try container()
        defer { IT.skiff(["resume", d.id]); CT.remove(d) }
        XCTAssertEqual(IT.skiff(["pause", d.id]).status, 0)
        let r = exec(d, ["true"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("paused") && r.stderr.contains("--ignore-paused"), r.stderr)
        // --ignore-paused: it is made, frozen with the rest until resume, then runs.
        let waiter = Process()
        waiter.executableURL = URL(fileURLWithPath: "/bin/sh")
        waiter.arguments = ["-c", "'\(IT.binary)' --root '\(IT.stateRoot)' exec --ignore-paused '\(d.id)' echo thawed >'\(d.bundle)/paused-out' 2>&1 </dev/null; echo $? >>'\(d.bundle)/paused-out'"]
        try waiter.run()
        usleep(300_000)
        XCTAssertEqual(IT.skiff(["resume", d.id]).status, 0)
        let deadline = Date().addingTimeInterval(20)
        while waiter.isRunning && Date() < deadline { usleep(20000) }
        XCTAssertFalse(waiter.isRunning)
        if waiter.isRunning { waiter.terminate() }
        XCTAssertEqual(try String(contentsOfFile: d.bundle + "/paused-out", encoding: .utf8), "thawed\n0\n")
    }

    func testProcessFile() throws {
        let d = try container()
        defer { CT.remove(d) }
        let file = d.bundle + "/process.json"
        let process: [String: Any] = ["args": ["sh", "-c", "echo $(id -u):$(id -g) $(pwd) $GREETING"], "cwd": "/dev",
                                      "env": ["PATH=/bin", "GREETING=hi"], "user": ["uid": 7, "gid": 8]]
        try JSONSerialization.data(withJSONObject: process).write(to: URL(fileURLWithPath: file))
        var r = IT.skiff(["exec", "--process", file, d.id])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "7:8 /dev hi\n")

        // Bad documents: exit 1, the flag and the field named, nothing left behind.
        let before = IT.footprint()
        let bad: [(String, String)] = [
            ("{not json", "--process"),
            (#"{"args": "sh", "cwd": "/"}"#, "process.args"),
            (#"{"args": [], "cwd": "/"}"#, "process.args"),
            (#"{"args": ["true"], "cwd": "relative"}"#, "process.cwd"),
            (#"{"args": ["true"], "cwd": "/", "user": {"uid": -1}}"#, "process.user.uid"),
            (#"{"args": ["true"], "cwd": "/", "capabilities": {"bounding": ["CAP_NOPE"]}}"#, "process.capabilities.bounding[0]"),
        ]
        for (text, field) in bad {
            try text.write(toFile: file, atomically: true, encoding: .utf8)
            r = IT.skiff(["exec", "-p", file, d.id])
            XCTAssertEqual(r.status, 1, text)
            XCTAssertTrue(r.stderr.contains("--process") && r.stderr.contains(field), "\(text): \(r.stderr)")
        }
        r = IT.skiff(["exec", "-p", d.bundle + "/missing.json", d.id])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("--process") && r.stderr.contains("missing.json"), r.stderr)
        XCTAssertEqual(IT.footprint(), before)
        XCTAssertEqual(status(d), "running")
    }

    /// -t with --console-socket: the receiver gets the master of a pty of the container's devpts.
    func testTerminalThroughConsoleSocket() throws {
        let d = try container()
        defer { CT.remove(d) }
        let (p, out, sock) = try ConsoleTests.startReceiver(in: d.bundle, input: "typed\n")
        defer { if p.isRunning { p.terminate() } }
        let (status, pid) = execDetached(d, ["-t", "--console-socket", sock], ["sh", "-c", "tty; [ -t 0 ] && echo isatty; read x; echo read=$x"])
        XCTAssertTrue(status.hasPrefix("0\n"), status)
        XCTAssertNotNil(pid)
        let deadline = Date().addingTimeInterval(30)
        while p.isRunning && Date() < deadline { usleep(20000) }
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertTrue(text.contains("fds=1\n"), text)
        XCTAssertTrue(text.contains("isatty=True"), text)
        XCTAssertTrue(text.contains("OUTPUT:"), text)
        XCTAssertTrue(text.contains("/dev/pts/"), text)
        XCTAssertTrue(text.contains("isatty\n"), text)
        XCTAssertTrue(text.contains("read=typed"), text)
    }

    /// -t in the foreground without a socket: skiff holds the master and copies it out.
    func testForegroundTerminal() throws {
        let d = try container()
        defer { CT.remove(d) }
        let r = exec(d, ["-t"], ["sh", "-c", "tty; [ -t 1 ] && echo isatty; exit 3"])
        XCTAssertEqual(r.status, 3, r.stderr)
        let lines = r.stdout.replacingOccurrences(of: "\r", with: "").split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.first?.hasPrefix("/dev/pts/") ?? false, r.stdout)
        XCTAssertTrue(lines.contains("isatty"), r.stdout)
    }

    /// Signals sent to a foreground exec reach the program.
    func testForegroundForwardsSignals() throws {
        let d = try container()
        defer { CT.remove(d) }
        let r = IT.sh("'\(IT.binary)' --root '\(IT.stateRoot)' exec '\(d.id)' sleep 30 </dev/null >/dev/null 2>&1 & p=$!; sleep 0.5; kill -TERM $p; wait $p; echo status=$?")
        XCTAssertEqual(CT.keyValues(r.stdout)["status"], "143", r.stdout)
    }

    func testPreserveFDs() throws {
        let d = try container()
        defer { CT.remove(d) }
        let file = d.bundle + "/fd3"
        let r = IT.sh("exec 3>'\(file)'; '\(IT.binary)' --root '\(IT.stateRoot)' exec --preserve-fds 1 '\(d.id)' sh -c 'echo through-fd3 >&3; ls /proc/self/fd | wc -l' </dev/null")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try String(contentsOfFile: file, encoding: .utf8), "through-fd3\n")
        // stdio, fd 3 and ls's own directory fd: nothing of skiff's.
        XCTAssertEqual(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "5", r.stdout)
        let without = IT.sh("exec 3>'\(file)'; '\(IT.binary)' --root '\(IT.stateRoot)' exec '\(d.id)' ls /proc/self/fd </dev/null")
        XCTAssertEqual(without.stdout.split(separator: "\n").sorted(), ["0", "1", "2", "3"], "fd 3 is ls's own: \(without.stdout)")
    }

    /// --cgroup: an existing sub-cgroup of the container's; a missing one is refused.
    func testSubCgroup() throws {
        let d = try container()
        defer { CT.remove(d) }
        let line = (try? String(contentsOfFile: "/proc/\(d.pid)/cgroup", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("0::") }.map { String($0.dropFirst(3)) } ?? ""
        let mount = FileManager.default.fileExists(atPath: "/sys/fs/cgroup/cgroup.controllers") ? "/sys/fs/cgroup" : "/sys/fs/cgroup/unified"
        let sub = mount + line + "/probe"
        XCTAssertEqual(mkdir(sub, 0o755), 0, sub)
        defer { rmdir(sub) }
        let (out, pid) = execDetached(d, ["--cgroup", "probe"], ["sleep", "30"])
        XCTAssertTrue(out.hasPrefix("0\n"), out)
        let procs = (try? String(contentsOfFile: sub + "/cgroup.procs", encoding: .utf8)) ?? ""
        XCTAssertEqual(procs.split(separator: "\n").map(String.init), pid.map { [String($0)] } ?? [], procs)
        if let pid { kill(pid, SIGKILL) }
        for _ in 0..<100 where !((try? String(contentsOfFile: sub + "/cgroup.procs", encoding: .utf8)) ?? "").isEmpty { usleep(20000) }

        let r = exec(d, ["--cgroup", "missing"], ["true"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("--cgroup") && r.stderr.contains("does not exist"), r.stderr)
        let up = exec(d, ["--cgroup", "../escape"], ["true"])
        XCTAssertEqual(up.status, 1)
        XCTAssertTrue(up.stderr.contains("--cgroup"), up.stderr)
    }

    /// In a user namespace: the process is root inside, the mapped id outside.
    func testJoinsUserNamespace() throws {
        let d = try container(NamespaceTests.userNSEdit)
        defer { CT.remove(d) }
        let r = exec(d, ["sh", "-c", "echo id=$(id -u); echo map=$(cat /proc/self/uid_map); echo user=$(readlink /proc/self/ns/user)"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let kv = CT.keyValues(r.stdout)
        XCTAssertEqual(kv["id"], "0")
        XCTAssertEqual(kv["map"]?.split(separator: " "), ["0", "100000", "65536"], r.stdout)
        XCTAssertEqual(kv["user"], link(d.pid, "user"))
        let (out, pid) = execDetached(d, ["-u", "1000"], ["sleep", "30"])
        XCTAssertTrue(out.hasPrefix("0\n"), out)
        let status = pid.flatMap { try? String(contentsOfFile: "/proc/\($0)/status", encoding: .utf8) } ?? ""
        XCTAssertEqual(UserNamespaceTests.field(status, "Uid").first, "101000", status)
    }

    func testJoinsTimeNamespace() throws {
        let year = 86400 * 365
        let d = try container { c in
            CT.linux(&c) { l in
                l["namespaces"] = (l["namespaces"] as! [[String: Any]]) + [["type": "time"]]
                l["timeOffsets"] = ["monotonic": ["secs": year], "boottime": ["secs": year]]
            }
        }
        defer { CT.remove(d) }
        let hostUptime = (try? String(contentsOfFile: "/proc/uptime", encoding: .utf8)).flatMap { Double($0.split(separator: " ")[0]) } ?? -1
        let r = exec(d, ["sh", "-c", "echo time=$(readlink /proc/self/ns/time); echo uptime=$(cut -d' ' -f1 /proc/uptime)"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let kv = CT.keyValues(r.stdout)
        XCTAssertEqual(kv["time"], link(d.pid, "time"))
        XCTAssertNotEqual(kv["time"], CT.hostNS("time"))
        XCTAssertEqual((Double(kv["uptime"] ?? "") ?? -1) - hostUptime, Double(year), accuracy: 30, r.stdout)
    }

    /// --log-format json: the error is one JSON line naming what failed (containerd shows it).
    func testErrorInJSONLog() throws {
        let d = try container()
        defer { CT.remove(d) }
        let log = d.bundle + "/log.json"
        let r = IT.skiff(["--log", log, "--log-format", "json", "exec", d.id, "no-such-program"])
        XCTAssertEqual(r.status, 1)
        let lines = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n")
        let last = lines.last.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        XCTAssertEqual(last?["level"] as? String, "error")
        XCTAssertTrue((last?["msg"] as? String ?? "").contains("no-such-program"), "\(lines)")
    }
}
