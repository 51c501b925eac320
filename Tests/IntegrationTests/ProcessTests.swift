import Foundation
import XCTest

final class ProcessTests: XCTestCase {
    override func setUpWithError() throws { try IT.requireEnvironment() }

    func sh(_ script: String, _ edit: @escaping (inout [String: Any]) -> Void = { _ in }) -> IT.Result {
        IT.run(args: ["sh", "-c", script], edit)
    }

    /// The value of a "Name:\tvalue" line of /proc/<pid>/status text.
    func statusField(_ status: String, _ name: String) -> String? {
        for line in status.split(separator: "\n") where line.hasPrefix(name + ":") {
            return line.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces)
        }
        return nil
    }

    func testHostnameAndDomainname() {
        let r = sh("echo h=$(hostname); echo d=$(cat /proc/sys/kernel/domainname); echo u=$(uname -n)") { c in
            c["hostname"] = "ct-host"
            c["domainname"] = "ct.example"
        }
        XCTAssertEqual(r.status, 0, r.stderr)
        let kv = CT.keyValues(r.stdout)
        XCTAssertEqual(kv["h"], "ct-host")
        XCTAssertEqual(kv["u"], "ct-host")
        XCTAssertEqual(kv["d"], "ct.example")
        // The host's are untouched.
        XCTAssertNotEqual(ProcessInfo.processInfo.hostName, "ct-host")
    }

    func testUserAndGroups() {
        let r = sh("echo uid=$(id -u); echo gid=$(id -g); echo groups=$(id -G); grep -E '^(Uid|Gid|Groups):' /proc/self/status") { c in
            CT.process(&c) { $0["user"] = ["uid": 1000, "gid": 1001, "additionalGids": [2000, 3000]] }
        }
        XCTAssertEqual(r.status, 0, r.stderr)
        let kv = CT.keyValues(r.stdout)
        XCTAssertEqual(kv["uid"], "1000")
        XCTAssertEqual(kv["gid"], "1001")
        let groups = Set((kv["groups"] ?? "").split(separator: " ").map(String.init))
        XCTAssertTrue(groups.isSuperset(of: ["2000", "3000"]), "\(groups)")
        XCTAssertTrue(groups.isSubset(of: ["1001", "2000", "3000"]), "\(groups)")
        XCTAssertEqual(statusField(r.stdout, "Uid")?.split(separator: "\t").map(String.init), ["1000", "1000", "1000", "1000"])
        XCTAssertEqual(statusField(r.stdout, "Gid")?.split(separator: "\t").map(String.init), ["1001", "1001", "1001", "1001"])
        XCTAssertEqual(statusField(r.stdout, "Groups")?.split(separator: " ").map(String.init), ["2000", "3000"])
    }

    /// Root with no additionalGids: no supplementary groups are left over from the runtime.
    func testRootHasNoStrayGroups() {
        let r = sh("grep -E '^Groups:' /proc/self/status")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(statusField(r.stdout, "Groups"), "")
    }

    func testUmask() {
        let set = sh("umask; touch /tmp/f 2>/dev/null; mkdir /dev/shm/d; stat -c %a /dev/shm/d") { c in
            CT.process(&c) { p in
                var u = p["user"] as! [String: Any]
                u["umask"] = 0o027
                p["user"] = u
            }
        }
        XCTAssertEqual(set.status, 0, set.stderr)
        XCTAssertEqual(set.stdout, "0027\n750\n")
        let dflt = sh("umask")
        XCTAssertEqual(dflt.stdout, "0022\n", "runc's default umask")
    }

    func testRlimits() {
        let r = sh("echo soft=$(ulimit -n); echo hard=$(ulimit -Hn); grep -E 'Max (processes|open files|core)' /proc/self/limits") { c in
            CT.process(&c) { p in
                p["rlimits"] = [["type": "RLIMIT_NOFILE", "soft": 1234, "hard": 2345],
                                ["type": "RLIMIT_NPROC", "soft": 100, "hard": 200],
                                ["type": "RLIMIT_CORE", "soft": 0, "hard": 0]]
            }
        }
        XCTAssertEqual(r.status, 0, r.stderr)
        let kv = CT.keyValues(r.stdout)
        XCTAssertEqual(kv["soft"], "1234")
        XCTAssertEqual(kv["hard"], "2345")
        func limits(_ name: String) -> [String]? {
            r.stdout.split(separator: "\n").first { $0.hasPrefix(name) }.map {
                $0.dropFirst(name.count).split(separator: " ").map(String.init)
            }
        }
        XCTAssertEqual(limits("Max processes")?.prefix(2), ["100", "200"], r.stdout)
        XCTAssertEqual(limits("Max open files")?.prefix(2), ["1234", "2345"], r.stdout)
        XCTAssertEqual(limits("Max core file size")?.prefix(2), ["0", "0"], r.stdout)
    }

    func testOOMScoreAdj() {
        let r = sh("cat /proc/self/oom_score_adj") { c in CT.process(&c) { $0["oomScoreAdj"] = 123 } }
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "123\n")
    }

    func testSysctl() {
        let hostForward = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_forward", encoding: .utf8)) ?? "?"
        let hostShmmax = (try? String(contentsOfFile: "/proc/sys/kernel/shmmax", encoding: .utf8)) ?? "?"
        let r = sh("echo fwd=$(cat /proc/sys/net/ipv4/ip_forward); echo shmmax=$(cat /proc/sys/kernel/shmmax)") { c in
            CT.linux(&c) { $0["sysctl"] = ["net.ipv4.ip_forward": "1", "kernel.shmmax": "123456789"] }
        }
        XCTAssertEqual(r.status, 0, r.stderr)
        let kv = CT.keyValues(r.stdout)
        XCTAssertEqual(kv["fwd"], "1")
        XCTAssertEqual(kv["shmmax"], "123456789")
        XCTAssertEqual(try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_forward", encoding: .utf8), hostForward)
        XCTAssertEqual(try? String(contentsOfFile: "/proc/sys/kernel/shmmax", encoding: .utf8), hostShmmax)
    }

    /// A net.* sysctl without a network namespace is refused (it would change the host).
    func testSysctlNeedsNamespace() {
        let r = sh("true") { c in
            CT.linux(&c) { l in
                l["sysctl"] = ["net.ipv4.ip_forward": "1"]
                l["namespaces"] = CT.namespaces(["pid", "ipc", "uts", "mount"])
            }
        }
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("net.ipv4.ip_forward"), r.stderr)
    }

    func testEnvAndCwd() {
        let r = sh("env; echo cwd=$(pwd)") { c in
            CT.process(&c) { p in
                p["env"] = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "FOO=bar", "SPACED=a b  c", "EMPTY="]
                p["cwd"] = "/tmp"
            }
        }
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = Set(r.stdout.split(separator: "\n").map(String.init))
        // Without HOME, runc's rule: the user's home in the container's /etc/passwd (root: /root).
        for e in ["FOO=bar", "SPACED=a b  c", "EMPTY=", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "cwd=/tmp"] {
            XCTAssertTrue(lines.contains(e), "\(e) missing: \(r.stdout)")
        }
        // Nothing of the runtime's environment leaks in.
        XCTAssertFalse(lines.contains { $0.hasPrefix("SKIFF_") || $0.hasPrefix("XPC_") }, r.stdout)
        // An explicit HOME is kept.
        let h = sh("echo $HOME") { c in CT.process(&c) { $0["env"] = ["PATH=/bin", "HOME=/root"] } }
        XCTAssertEqual(h.stdout, "/root\n")
    }

    /// runc creates a missing cwd inside the rootfs (MkdirAllInRoot) before the pivot.
    func testMissingCwdIsCreated() {
        let rootfs = CT.rootfsCopy()
        defer { try? FileManager.default.removeItem(atPath: rootfs) }
        let r = sh("pwd") { c in
            CT.useRootfs(&c, rootfs)  // readonly root, as in the demo config
            CT.process(&c) { $0["cwd"] = "/work/dir" }
        }
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "/work/dir\n")
        XCTAssertTrue(FileManager.default.fileExists(atPath: rootfs + "/work/dir"))
    }

    /// args[0] is looked up in the PATH of process.env (not the runtime's).
    func testArgs0FoundThroughContainerPath() throws {
        let rootfs = CT.rootfsCopy()
        defer { try? FileManager.default.removeItem(atPath: rootfs) }
        try FileManager.default.createDirectory(atPath: rootfs + "/custom/bin", withIntermediateDirectories: true)
        let tool = rootfs + "/custom/bin/mytool"
        try "#!/bin/sh\necho from-custom \"$@\"\n".write(toFile: tool, atomically: true, encoding: .utf8)
        chmod(tool, 0o755)
        let ok = IT.run(args: ["mytool", "x", "y z"]) { c in
            CT.useRootfs(&c, rootfs)
            CT.process(&c) { $0["env"] = ["PATH=/custom/bin:/bin"] }
        }
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertEqual(ok.stdout, "from-custom x y z\n")
        // Without it in PATH, not found.
        let missing = IT.run(args: ["mytool"]) { c in
            CT.useRootfs(&c, rootfs)
            CT.process(&c) { $0["env"] = ["PATH=/bin:/usr/bin"] }
        }
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("mytool"), missing.stderr)
    }

    /// An executable that is not there: `create` fails (exit 1), naming it, and leaves nothing behind.
    func testExecutableNotFoundFailsCreate() {
        let b = IT.bundle(args: ["no-such-program-xyz", "arg"])
        defer { try? FileManager.default.removeItem(atPath: b) }
        let id = IT.id("ct-nf")
        let r = IT.sh("'\(IT.binary)' --root '\(IT.stateRoot)' create -b '\(b)' '\(id)' </dev/null >'\(b)/out' 2>'\(b)/err'; echo $?; cat '\(b)/err'")
        defer { IT.skiff(["delete", "-f", id]) }
        XCTAssertTrue(r.stdout.hasPrefix("1\n"), "create should exit 1: \(r.stdout)")
        XCTAssertTrue(r.stdout.contains("no-such-program-xyz"), r.stdout)
        XCTAssertNil(IT.state(id), "a failed create leaves no container")
        // The same with an absolute path.
        let b2 = IT.bundle(args: ["/bin/no-such-program-abs"])
        defer { try? FileManager.default.removeItem(atPath: b2) }
        let id2 = IT.id("ct-nf")
        let r2 = IT.sh("'\(IT.binary)' --root '\(IT.stateRoot)' create -b '\(b2)' '\(id2)' </dev/null >'\(b2)/out' 2>'\(b2)/err'; echo $?; cat '\(b2)/err'")
        defer { IT.skiff(["delete", "-f", id2]) }
        XCTAssertTrue(r2.stdout.hasPrefix("1\n"), "create should exit 1: \(r2.stdout)")
        XCTAssertTrue(r2.stdout.contains("/bin/no-such-program-abs"), r2.stdout)
    }

    static func caps(_ names: [String]) -> [String: Any] {
        ["bounding": names, "effective": names, "permitted": names, "inheritable": names, "ambient": names]
    }

    func testCapabilitiesAsRoot() {
        let r = sh("grep -E '^Cap' /proc/self/status") { c in
            CT.process(&c) { $0["capabilities"] = Self.caps(["CAP_KILL", "CAP_NET_BIND_SERVICE"]) }
        }
        XCTAssertEqual(r.status, 0, r.stderr)
        for f in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
            XCTAssertEqual(statusField(r.stdout, f), "0000000000000420", "\(f): \(r.stdout)")
        }
    }

    func testCapabilitiesAsNonRootWithAmbient() {
        let r = sh("id -u; grep -E '^Cap' /proc/self/status") { c in
            CT.process(&c) { p in
                p["user"] = ["uid": 1000, "gid": 1000]
                p["capabilities"] = Self.caps(["CAP_KILL", "CAP_NET_BIND_SERVICE"])
            }
        }
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("1000\n"), r.stdout)
        for f in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
            XCTAssertEqual(statusField(r.stdout, f), "0000000000000420", "\(f): \(r.stdout)")
        }
    }

    /// Different sets: bounding wider than effective; no ambient. What root ends up with
    /// after exec depends on noNewPrivileges (the kernel's rules, not the runtime's).
    func testCapabilitySetsDiffer() {
        for nnp in [true, false] {
            let r = sh("grep -E '^Cap' /proc/self/status") { c in
                CT.process(&c) {
                    $0["noNewPrivileges"] = nnp
                    $0["capabilities"] = ["bounding": ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_CHOWN"],
                                          "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"],
                                          "inheritable": [String](), "ambient": [String]()]
                }
            }
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertEqual(statusField(r.stdout, "CapBnd"), "0000000000000421", r.stdout)
            XCTAssertEqual(statusField(r.stdout, "CapInh"), "0000000000000000", r.stdout)
            XCTAssertEqual(statusField(r.stdout, "CapAmb"), "0000000000000000", r.stdout)
            // Root execing a file without file caps gets the bounding set as permitted, unless
            // no_new_privs limits it to what it had (CAP_KILL).
            let want = nnp ? "0000000000000020" : "0000000000000421"
            XCTAssertEqual(statusField(r.stdout, "CapPrm"), want, "nnp=\(nnp): \(r.stdout)")
            XCTAssertEqual(statusField(r.stdout, "CapEff"), want, "nnp=\(nnp): \(r.stdout)")
        }
    }

    /// Without process.capabilities, root keeps the runtime's full set.
    func testNoCapabilitiesMeansFullSet() {
        let host = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let r = sh("grep -E '^Cap' /proc/self/status")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(statusField(r.stdout, "CapBnd"), statusField(host, "CapBnd"), r.stdout)
        XCTAssertEqual(statusField(r.stdout, "CapEff"), statusField(host, "CapBnd"), r.stdout)
    }

    func testNoNewPrivileges() {
        let on = sh("grep NoNewPrivs /proc/self/status") { c in CT.process(&c) { $0["noNewPrivileges"] = true } }
        XCTAssertEqual(on.status, 0, on.stderr)
        XCTAssertEqual(statusField(on.stdout, "NoNewPrivs"), "1")
        let off = sh("grep NoNewPrivs /proc/self/status") { c in CT.process(&c) { $0["noNewPrivileges"] = false } }
        XCTAssertEqual(statusField(off.stdout, "NoNewPrivs"), "0")
    }

    /// While created, the init holds stdio, --preserve-fds and its own fds only: not the
    /// other fds the caller of `create` had open (a pipe the caller reads to EOF would hang).
    func testCreatedInitHoldsNoCallerFDs() {
        let b = IT.bundle(args: ["ls", "-l", "/proc/self/fd/"])
        defer { try? FileManager.default.removeItem(atPath: b) }
        let id = IT.id("ct-fd")
        defer { IT.skiff(["delete", "-f", id]) }
        let script = """
        exec 3>'\(b)/three' 7>'\(b)/seven'
        '\(IT.binary)' --root '\(IT.stateRoot)' create --preserve-fds 1 -b '\(b)' '\(id)' </dev/null >'\(b)/out' 2>'\(b)/err' || cat '\(b)/err'
        exec 3>&- 7>&-
        pid=$('\(IT.binary)' --root '\(IT.stateRoot)' state '\(id)' | grep '"pid"' | tr -dc 0-9)
        ls -l /proc/$pid/fd/ | sed 's/.* -> //'
        """
        let r = IT.sh(script)
        XCTAssertFalse(r.stdout.contains("/seven"), "the created init holds the caller's fd 7: \(r.stdout)")
        XCTAssertTrue(r.stdout.contains("/three"), "--preserve-fds 1 keeps fd 3: \(r.stdout)")
        // And the program gets fd 3 (but not 7) after start.
        let s = IT.skiff(["start", id])
        XCTAssertEqual(s.status, 0, s.stderr)
        for _ in 0..<100 where (IT.state(id)?["status"] as? String) != "stopped" { usleep(20000) }
        let out = (try? String(contentsOfFile: b + "/out", encoding: .utf8)) ?? ""
        XCTAssertTrue(out.contains(" 3 -> ") && out.contains("/three"), out)
        XCTAssertFalse(out.contains(" 7 -> "), out)
    }

    /// The program runs as pid 1 of its pid namespace and the exit status comes back.
    func testPid1AndExitStatus() {
        let r = sh("echo pid=$$; exit 7")
        XCTAssertEqual(r.status, 7)
        XCTAssertEqual(r.stdout, "pid=1\n")
    }
}

/// create's --no-pivot and --no-new-keyring (runc's flags).
final class CreateFlagTests: XCTestCase {
    override func setUpWithError() throws { try IT.requireEnvironment() }

    func runWith(_ flags: [String], _ args: [String]) -> IT.Result {
        let b = IT.bundle(args: args)
        defer { try? FileManager.default.removeItem(atPath: b) }
        return IT.skiff(["run"] + flags + ["-b", b, IT.id("flag")])
    }

    func testNoPivotUsesMoveAndChroot() {
        // With pivot_root the old root is gone: / is the only mount whose root is the rootfs.
        let pivot = runWith([], ["sh", "-c", "cat /proc/self/mountinfo | head -1; ls /"])
        XCTAssertEqual(pivot.status, 0, pivot.stderr)
        let moved = runWith(["--no-pivot"], ["sh", "-c", "ls / && cat /proc/1/root/bin/busybox >/dev/null && echo chrooted"])
        XCTAssertEqual(moved.status, 0, moved.stderr)
        XCTAssertTrue(moved.stdout.contains("chrooted"), moved.stdout)
        XCTAssertTrue(moved.stdout.contains("bin"), "the rootfs is / inside: \(moved.stdout)")
        // The host root stays hidden either way.
        let hidden = runWith(["--no-pivot"], ["sh", "-c", "test -e /work && echo host-visible || echo hidden"])
        XCTAssertEqual(hidden.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "hidden")
    }

    func testNoNewKeyringIsAccepted() {
        // Only the flag is checked: the test config masks /proc/keys and busybox has no keyctl.
        let kept = runWith(["--no-new-keyring"], ["true"])
        XCTAssertEqual(kept.status, 0, "--no-new-keyring is accepted: \(kept.stderr)")
    }
}
