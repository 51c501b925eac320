import Foundation
import XCTest

/// Regression tests for runc's runtime-binary and leaked-fd CVE classes, each with real
/// containers: CVE-2019-5736 (overwriting the runtime through /proc/<pid>/exe),
/// CVE-2016-9962 (a container reaching into the runtime's init before its exec) and
/// CVE-2024-21626 (a leaked host fd as the way out, through the fd table or process.cwd).
/// The CVE-2019-5736 tests run a private copy of skiff, so a defence that fails cannot
/// destroy the build; they assert the copy's bytes are unchanged.
final class CVEExeTests: XCTestCase {
    override func setUpWithError() throws { try IT.requireEnvironment() }

    // MARK: CVE-2019-5736

    /// The host holds /proc/<init>/exe of a created container; once every process running
    /// it is gone, reopening that fd for writing must fail.
    func testInitExeCannotBeReopenedForWriting() throws {
        let rt = CVERuntime()
        defer { rt.remove() }
        let c = rt.create(["sleep", "1000"])
        defer { c.cleanup(rt) }
        XCTAssertEqual(c.result.status, 0, c.result.stderr)
        let pid = try XCTUnwrap(IT.lcState(c.id)?["pid"] as? Int, "state of \(c.id)")

        let exe = Glibc.open("/proc/\(pid)/exe", O_RDONLY | O_CLOEXEC)
        XCTAssertGreaterThanOrEqual(exe, 0, "host root opens /proc/\(pid)/exe: \(String(cString: strerror(errno)))")
        defer { if exe >= 0 { close(exe) } }
        // The re-exec through an fd must not leave the process named "3".
        XCTAssertEqual((try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)), "skiff\n")

        let del = rt.skiff(["delete", "--force", c.id])
        XCTAssertEqual(del.status, 0, del.stderr)
        XCTAssertTrue(IT.lcWait { !IT.lcExists(pid) }, "init \(pid) is gone")

        // Nothing runs the binary any more: no ETXTBSY to hide behind.
        let refusal = CVE.tryOverwrite(fd: exe)
        XCTAssertNotNil(refusal, "reopening /proc/self/fd/\(exe) (the init's exe) for writing succeeded")
        if let refusal {
            XCTAssertTrue([EROFS, EACCES, EPERM].contains(refusal), "refused with \(String(cString: strerror(refusal)))")
        }
        XCTAssertTrue(rt.unchanged(), "the runtime binary was modified through the init's exe")
    }

    /// Where open_tree is refused (in a user namespace the mount namespace is not ours)
    /// skiff re-execs from a sealed memfd copy: written through /proc/<pid>/exe, it refuses.
    /// A config.json that is a fifo holds the re-executed `create` still while we look.
    func testSealedCopyWhenABindIsNotAllowed() throws {
        let rt = CVERuntime()
        defer { rt.remove() }
        let bundle = IT.lcTempDir()
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        XCTAssertEqual(mkfifo(bundle + "/config.json", 0o600), 0)
        let cmd = [rt.path, "--root", bundle + "/state", "create", "-b", bundle, IT.id("cvememfd")].map(IT.lcQuote).joined(separator: " ")
        let bg = IT.lcShell("unshare --user --map-root-user \(cmd) </dev/null >/dev/null 2>\(bundle)/err & echo $!")
        let pid = try XCTUnwrap(Int32(bg.stdout.trimmingCharacters(in: .whitespacesAndNewlines)), bg.stderr)
        // Lets it read an empty config and fail.
        func release() -> Bool {
            let w = Glibc.open(bundle + "/config.json", O_WRONLY | O_NONBLOCK | O_CLOEXEC)
            if w >= 0 { close(w) }
            return IT.lcWait(timeout: 5) { !IT.lcAlive(Int(pid)) }
        }
        defer { if !release() { kill(pid, SIGKILL) } }
        var link = ""
        XCTAssertTrue(IT.lcWait {
            link = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe")) ?? ""
            return link.hasPrefix("/memfd:skiff")
        }, "runs from a memfd: exe -> \(link); stderr: \(CVE.read(bundle + "/err"))")
        XCTAssertEqual((try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)), "skiff\n")
        let exe = Glibc.open("/proc/\(pid)/exe", O_RDONLY | O_CLOEXEC)
        XCTAssertGreaterThanOrEqual(exe, 0)
        defer { if exe >= 0 { close(exe) } }
        XCTAssertEqual(fcntl(exe, 1034 /* F_GET_SEALS */) & 0xf, 0xf, "sealed against seal, shrink, grow and write")
        // Once it exits nothing runs the copy (no ETXTBSY): only the seals stop a write.
        XCTAssertTrue(release(), "the blocked create exits once its config is read")
        let refusal = CVE.tryOverwrite(fd: exe)
        XCTAssertEqual(refusal, EPERM, "writing the memfd copy: \(refusal.map { String(cString: strerror($0)) } ?? "it worked")")
        XCTAssertTrue(rt.unchanged())
    }

    /// The attack itself: container V's program is `#!/proc/self/exe`, so the kernel runs
    /// the runtime binary in V. An attacker in V's pid namespace opens /proc/<V>/exe while
    /// it runs and, once it exits, reopens it for writing. The race is made deterministic
    /// with a gadget the attacker controls: the shebang passes `--log=<fifo>`, so the
    /// runtime binary blocks opening the fifo until the attacker holds its exe.
    func testContainerCannotOverwriteRuntimeThroughProcSelfExe() throws {
        let rt = CVERuntime()
        defer { rt.remove() }
        let rootfs = try CVE.attackRootfs()
        defer { try? FileManager.default.removeItem(atPath: rootfs) }
        let shared = rootfs + "/shared"

        let attacker = rt.create(["sh", "-c", "sh /shared/attack.sh >/shared/trace 2>&1"]) { c in
            CVE.sameRootAndCaps(&c, rootfs)
        }
        defer { attacker.cleanup(rt) }
        XCTAssertEqual(attacker.result.status, 0, attacker.result.stderr)
        XCTAssertEqual(rt.skiff(["start", attacker.id]).status, 0)
        let attackerPID = try XCTUnwrap(IT.lcState(attacker.id)?["pid"] as? Int)

        let victim = rt.create(["/evil"]) { c in
            CVE.sameRootAndCaps(&c, rootfs)
            CT.setNamespaces(&c, [["type": "pid", "path": "/proc/\(attackerPID)/ns/pid"], ["type": "mount"],
                                  ["type": "network"], ["type": "ipc"], ["type": "uts"]])
        }
        defer { victim.cleanup(rt) }
        XCTAssertEqual(victim.result.status, 0, victim.result.stderr)
        let victimPID = try XCTUnwrap(IT.lcState(victim.id)?["pid"] as? Int)
        let inner = try XCTUnwrap(CVE.innerPID(victimPID), "NSpid of \(victimPID)")
        try CVE.write(shared + "/target", "\(inner)\n", mode: 0o644)
        XCTAssertEqual(rt.skiff(["start", victim.id]).status, 0)

        assertAttackFailed(shared: shared, inner: inner, rt: rt, via: "create")
    }

    /// The verdict of an attack: it ran as planned (the runtime binary was V's program and
    /// the attacker held its exe), and the write through that exe was refused.
    private func assertAttackFailed(shared: String, inner: Int, rt: CVERuntime, via: String, line: UInt = #line) {
        let done = IT.lcWait(timeout: 60) { FileManager.default.fileExists(atPath: shared + "/result") }
        let trace = CVE.read(shared + "/trace"), result = CVE.read(shared + "/result")
        print("CVE-2019-5736 attacker (\(via)): \(result)")
        XCTAssertTrue(done, "the attacker finished; trace:\n\(trace)", line: line)
        // The precondition of the CVE held: the runtime binary ran inside the container ...
        XCTAssertTrue(CVE.read(shared + "/log-output").contains("No help topic for '/evil'"),
                      "the runtime binary ran as V's program: \(CVE.read(shared + "/log-output")) trace:\n\(trace)", line: line)
        // ... and the attacker held its exe open.
        XCTAssertTrue(trace.contains("opened /proc/\(inner)/exe"), trace, line: line)
        XCTAssertFalse(result.hasPrefix("WROTE"), "the attacker wrote to the runtime binary: \(result)", line: line)
        XCTAssertTrue(result.hasPrefix("REFUSED") || result.hasPrefix("WRITE-FAILED"), "result: \(result) trace:\n\(trace)", line: line)
        XCTAssertTrue(result.contains("Read-only file system") || result.contains("Operation not permitted")
                      || result.contains("Permission denied"), result, line: line)
        XCTAssertTrue(rt.unchanged(), "the runtime binary was modified from inside a container: \(result)", line: line)
    }

    /// The same attack through `exec` (runc's original CVE-2019-5736 exploit path): the
    /// exec'd program is `#!/proc/self/exe`, run in a container whose own init attacks it.
    func testExecCannotOverwriteRuntimeThroughProcSelfExe() throws {
        let rt = CVERuntime()
        defer { rt.remove() }
        let rootfs = try CVE.attackRootfs()
        defer { try? FileManager.default.removeItem(atPath: rootfs) }
        let shared = rootfs + "/shared"

        let attacker = rt.create(["sh", "-c", "sh /shared/attack.sh >/shared/trace 2>&1"]) { c in
            CVE.sameRootAndCaps(&c, rootfs)
        }
        defer { attacker.cleanup(rt) }
        XCTAssertEqual(attacker.result.status, 0, attacker.result.stderr)
        XCTAssertEqual(rt.skiff(["start", attacker.id]).status, 0)

        let pidFile = shared + "/exec.pid"
        let exec = rt.skiff(["exec", "-d", "--pid-file", pidFile, attacker.id, "/evil"])
        XCTAssertEqual(exec.status, 0, exec.stderr)
        let execPID = try XCTUnwrap(Int(CVE.read(pidFile)), "exec -d wrote its pid file")
        let inner = try XCTUnwrap(CVE.innerPID(execPID), "NSpid of \(execPID)")
        try CVE.write(shared + "/target", "\(inner)\n", mode: 0o644)

        assertAttackFailed(shared: shared, inner: inner, rt: rt, via: "exec")
    }

    // MARK: CVE-2016-9962

    /// B joins A's pid namespace and stays created, its init blocked before exec with the
    /// same uid and capabilities as A: only its non-dumpable state keeps A out. Every probe
    /// A makes on B's init fails (exe, environ, the fds, mem, root, cwd), while the same
    /// probes on A's own process succeed.
    func testCreatedInitIsOpaqueToItsPidNamespace() throws {
        let rootfs = CT.rootfsCopy()
        defer { try? FileManager.default.removeItem(atPath: rootfs) }
        let shared = rootfs + "/shared"
        try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: true)
        try CVE.write(shared + "/probe.sh", CVE.probeScript, mode: 0o644)

        let a = IT.lcCreate(["sh", "-c", "sh /shared/probe.sh >/shared/trace 2>&1; sleep 1000"]) { c in
            CVE.sameRootAndCaps(&c, rootfs)
        }
        defer { a.cleanup() }
        XCTAssertEqual(a.result.status, 0, a.result.stderr)
        XCTAssertEqual(IT.skiff(["start", a.id]).status, 0)
        let aPID = try XCTUnwrap(IT.lcState(a.id)?["pid"] as? Int)

        let b = IT.lcCreate(["sh", "-c", "echo b-ran-as-$$ >/shared/b-ran"]) { c in
            CVE.sameRootAndCaps(&c, rootfs)
            CT.setNamespaces(&c, [["type": "pid", "path": "/proc/\(aPID)/ns/pid"], ["type": "mount"],
                                  ["type": "network"], ["type": "ipc"], ["type": "uts"]])
        }
        defer { b.cleanup() }
        XCTAssertEqual(b.result.status, 0, b.result.stderr)
        let bPID = try XCTUnwrap(IT.lcState(b.id)?["pid"] as? Int)
        XCTAssertEqual(IT.lcStatus(b.id), "created")
        let inner = try XCTUnwrap(CVE.innerPID(bPID), "NSpid of \(bPID)")
        try CVE.write(shared + "/target", "\(inner)\n", mode: 0o644)

        XCTAssertTrue(IT.lcWait(timeout: 30) { FileManager.default.fileExists(atPath: shared + "/result") },
                      "probes finished: \(CVE.read(shared + "/trace"))")
        let lines = CVE.read(shared + "/result").split(separator: "\n").map(String.init)
        let target = lines.filter { $0.hasPrefix("target ") }, control = lines.filter { $0.hasPrefix("control ") }
        XCTAssertEqual(target.count, CVE.probes, "\(lines)")
        XCTAssertEqual(control.count, CVE.probes, "\(lines)")
        for l in target { XCTAssertTrue(l.hasSuffix(" denied"), "B's created init was reachable from A: \(l)") }
        // The probes work: on A's own process (same uid and capabilities) they all succeed.
        for l in control { XCTAssertTrue(l.hasSuffix(" ok"), "control probe failed, the test proves nothing: \(l)") }
        XCTAssertEqual(IT.lcStatus(b.id), "created", "probing did not disturb B")

        XCTAssertEqual(IT.skiff(["start", b.id]).status, 0)
        XCTAssertTrue(IT.lcWait { CVE.read(shared + "/b-ran") == "b-ran-as-\(inner)\n" },
                      "B's program ran normally after start: \(CVE.read(shared + "/b-ran"))")
    }

    // MARK: CVE-2024-21626

    /// Host directories open in the caller (fds 3, 5, 7) never reach the program; with
    /// --preserve-fds exactly the preserved ones do. No fd from 3 to 64 leads anywhere.
    func testNoLeakedFdReachesTheHost() throws {
        let b = IT.bundle(args: ["sh", "-c", CVE.fdWalk])
        defer { try? FileManager.default.removeItem(atPath: b) }
        let skiff = "\(IT.lcQuote(IT.binary)) --root \(IT.stateRoot)"

        let plain = IT.exec("/bin/sh", ["-c", "exec 3</ 5</etc 7</tmp; exec \(skiff) run -b \(IT.lcQuote(b)) \(IT.id("cvefd"))"])
        XCTAssertEqual(plain.status, 0, plain.stderr)
        XCTAssertEqual(CVE.fdLines(plain.stdout), ["0", "1", "2"], plain.stdout)
        XCTAssertEqual(CVE.walkLines(plain.stdout), ["walked 3..64"], "reached something: \(plain.stdout)")

        let kept = IT.exec("/bin/sh", ["-c", "exec 3</etc/hostname 4</etc/passwd 5</etc 6</; exec \(skiff) run --preserve-fds 2 -b \(IT.lcQuote(b)) \(IT.id("cvefd"))"])
        XCTAssertEqual(kept.status, 0, kept.stderr)
        XCTAssertEqual(CVE.fdLines(kept.stdout), ["0", "1", "2", "3", "4"], kept.stdout)
        XCTAssertEqual(CVE.walkLines(kept.stdout), ["walked 3..64"], "reached something: \(kept.stdout)")
    }

    /// process.cwd through the init's own fds: create fails cleanly, or the cwd is inside.
    func testCwdThroughProcSelfFdStaysInside() throws {
        for n in 3...8 {
            let cwd = "/proc/self/fd/\(n)"
            let edit: (inout [String: Any]) -> Void = { c in CT.process(&c) { $0["cwd"] = cwd } }
            let c = IT.lcCreate(["sh", "-c", CVE.cwdCheck], edit)
            defer { c.cleanup() }
            if c.result.status != 0 {
                CVE.assertCleanRefusal(c, cwd: cwd)
                continue
            }
            // Created: its program must find itself inside the container's root.
            IT.skiff(["delete", "--force", c.id])
            let r = IT.run(args: ["sh", "-c", CVE.cwdCheck], edit)
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertEqual(r.stdout, "inside\n", "cwd \(cwd): \(r.stdout) \(r.stderr)")
        }
    }

    /// A host directory passed on purpose (--preserve-fds) and named as process.cwd: the
    /// chdir works, but the cwd is outside the container's root, so create refuses.
    func testCwdOutsideTheRootIsRefused() throws {
        let host = IT.lcTempDir()
        defer { try? FileManager.default.removeItem(atPath: host) }
        try CVE.write(host + "/host-marker", "host\n", mode: 0o644)
        let cwd = "/proc/self/fd/3"
        let b = IT.bundle(args: ["sh", "-c", "ls; pwd"]) { c in CT.process(&c) { $0["cwd"] = cwd } }
        let id = IT.id("cvecwd")
        defer {
            IT.skiff(["delete", "--force", id])
            try? FileManager.default.removeItem(atPath: b)
        }
        let out = IT.lcTempDir()
        defer { try? FileManager.default.removeItem(atPath: out) }
        let cmd = [IT.binary, "--root", IT.stateRoot, "create", "--preserve-fds", "1", "-b", b, id].map(IT.lcQuote).joined(separator: " ")
        let r = IT.lcShell("exec 3<\(IT.lcQuote(host)); exec \(cmd) </dev/null >\(out)/out 2>\(out)/err")
        let c = IT.Created(id: id, bundle: b, root: IT.stateRoot,
                           result: IT.Result(status: r.status, stdout: CVE.read(out + "/out"), stderr: r.stderr + CVE.read(out + "/err")))
        CVE.assertCleanRefusal(c, cwd: cwd)
        XCTAssertTrue(c.result.stderr.contains("not inside the container"), c.result.stderr)
    }
}

/// A private copy of the skiff binary, used as the runtime by the CVE-2019-5736 tests.
private struct CVERuntime {
    let dir = IT.lcTempDir()
    var path: String { dir + "/skiff" }
    let original: Data

    init() {
        let src = try! Data(contentsOf: URL(fileURLWithPath: IT.binary))
        original = src
        _ = FileManager.default.createFile(atPath: dir + "/skiff", contents: src, attributes: [.posixPermissions: 0o755])
    }

    func unchanged() -> Bool { (try? Data(contentsOf: URL(fileURLWithPath: path))) == original }

    /// This binary with stdio on files (a created init would hold our pipes open).
    @discardableResult
    func skiff(_ args: [String]) -> IT.Result {
        let out = IT.lcTempDir()
        defer { try? FileManager.default.removeItem(atPath: out) }
        let cmd = ([path, "--root", IT.stateRoot] + args).map(IT.lcQuote).joined(separator: " ")
        let r = IT.lcShell("exec \(cmd) </dev/null >\(out)/out 2>\(out)/err")
        return IT.Result(status: r.status, stdout: CVE.read(out + "/out"), stderr: r.stderr + CVE.read(out + "/err"))
    }

    func create(_ args: [String], _ edit: (inout [String: Any]) -> Void = { _ in }) -> IT.Created {
        let b = IT.bundle(args: args, edit)
        let id = IT.id("cve")
        return IT.Created(id: id, bundle: b, root: IT.stateRoot, result: skiff(["create", "-b", b, id]))
    }

    func remove() { try? FileManager.default.removeItem(atPath: dir) }
}

private extension IT.Created {
    func cleanup(_ rt: CVERuntime) {
        rt.skiff(["delete", "--force", id])
        try? FileManager.default.removeItem(atPath: bundle)
    }
}

private enum CVE {
    static func read(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

    /// A writable rootfs copy with the attack's parts: /evil (`#!/proc/self/exe` with the
    /// --log fifo gadget) and /shared (the fifo and the attacker's script).
    static func attackRootfs() throws -> String {
        let rootfs = CT.rootfsCopy()
        let shared = rootfs + "/shared"
        try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: true)
        guard mkfifo(shared + "/fifo", 0o666) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        try write(rootfs + "/evil", "#!/proc/self/exe --log=/shared/fifo\n", mode: 0o755)
        try write(shared + "/attack.sh", attackScript, mode: 0o644)
        return rootfs
    }

    static func write(_ path: String, _ text: String, mode: Int) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
    }

    /// The pid in the innermost pid namespace (the last NSpid field).
    static func innerPID(_ pid: Int) -> Int? {
        let status = read("/proc/\(pid)/status")
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("NSpid:") }) else { return nil }
        return line.split(whereSeparator: { $0 == "\t" || $0 == " " }).last.flatMap { Int($0) }
    }

    /// The rootfs copy, writable, and runc's default capabilities: no CAP_SYS_PTRACE, and the
    /// same set in every container of a test so that only the runtime's defences decide.
    static func sameRootAndCaps(_ c: inout [String: Any], _ rootfs: String) {
        CT.useRootfs(&c, rootfs, readonly: false)
        let caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
        CT.process(&c) { p in
            p["capabilities"] = ["bounding": caps, "effective": caps, "permitted": caps]
        }
    }

    /// Reopens `fd` through /proc/self/fd for writing and writes to it: nil if that worked
    /// (the file is now damaged), else the errno that stopped it.
    static func tryOverwrite(fd: Int32) -> Int32? {
        let w = Glibc.open("/proc/self/fd/\(fd)", O_WRONLY | O_CLOEXEC)
        if w < 0 { return errno }
        defer { close(w) }
        let n = Glibc.write(w, "PWNED", 5)
        return n < 0 ? errno : nil
    }

    /// Run by the attacker container: wait for the target's pid, hold its exe while it runs
    /// the runtime binary, let it exit, then try to write through the held fd.
    static let attackScript = #"""
    while [ ! -s /shared/target ]; do sleep 0.05; done
    P=$(cat /shared/target)
    echo "target $P"
    until tr '\0' ' ' </proc/$P/cmdline 2>/dev/null | grep -q 'log=/shared/fifo'; do sleep 0.05; done
    echo "cmdline: $(tr '\0' ' ' </proc/$P/cmdline)"
    exec 3</proc/$P/exe
    echo "opened /proc/$P/exe as fd 3"
    cat /shared/fifo >/shared/log-output
    while readlink /proc/$P/exe >/dev/null 2>&1; do sleep 0.05; done
    echo "target exited"
    n=0
    while :; do
        if ( exec 4<>/proc/self/fd/3 ) 2>/shared/write-err; then
            if ( exec 4<>/proc/self/fd/3; printf PWNED >&4 ) 2>/shared/write-err; then echo WROTE
            else echo "WRITE-FAILED $(cat /shared/write-err)"; fi
            break
        fi
        grep -q busy /shared/write-err || { echo "REFUSED $(cat /shared/write-err)"; break; }
        n=$((n + 1)); [ $n -lt 200 ] || { echo "STILL-BUSY"; break; }
        sleep 0.05
    done >/shared/result.tmp
    echo "result: $(cat /shared/result.tmp)"
    mv /shared/result.tmp /shared/result
    """#

    static let probes = 8

    /// Run by container A: the same probes on B's created init ("target") and on a child
    /// of its own ("control").
    static let probeScript = #"""
    while [ ! -s /shared/target ]; do sleep 0.05; done
    P=$(cat /shared/target)
    sleep 1000 &
    C=$!
    probe() {
        if readlink /proc/$1/exe >/dev/null 2>&1; then echo "$2 exe-link ok"; else echo "$2 exe-link denied"; fi
        if cat /proc/$1/exe >/dev/null 2>&1; then echo "$2 exe-open ok"; else echo "$2 exe-open denied"; fi
        if cat /proc/$1/environ >/dev/null 2>&1; then echo "$2 environ ok"; else echo "$2 environ denied"; fi
        if ls /proc/$1/root/ >/dev/null 2>&1; then echo "$2 root-list ok"; else echo "$2 root-list denied"; fi
        if readlink /proc/$1/cwd >/dev/null 2>&1; then echo "$2 cwd-link ok"; else echo "$2 cwd-link denied"; fi
        if ( exec 5</proc/$1/mem ) 2>/dev/null; then echo "$2 mem-open ok"; else echo "$2 mem-open denied"; fi
        # Listing the fd numbers is not guarded (a root-owned 0500 directory, and A is root);
        # following any entry is. Last: opening B's exec fifo would let it run unstarted.
        fds="0 1 2 $(ls /proc/$1/fd 2>/dev/null | tr '\n' ' ')"
        echo "info $2 fds: $fds"
        r=denied; for n in $fds; do readlink /proc/$1/fd/$n >/dev/null 2>&1 && r=ok; done; echo "$2 fd-link $r"
        r=denied; for n in $fds; do ( : </proc/$1/fd/$n ) 2>/dev/null && r=ok; done; echo "$2 fd-open $r"
    }
    { probe $P target; probe $C control; } >/shared/result.tmp
    kill $C
    cat /shared/result.tmp
    mv /shared/result.tmp /shared/result
    """#

    /// The shell's own fd table, listed by a child (no glob: its directory fd would show;
    /// no pipe: the shell may still hold one end), then every fd number tried as a way out.
    static let fdWalk = #"""
    echo "fds:"
    ls /proc/$$/fd
    echo ":fds"
    for fd in $(seq 3 64); do
        if cd /proc/self/fd/$fd 2>/dev/null; then echo "reached by cd $fd: $(pwd -P)"; cd /; fi
        if ls /proc/self/fd/$fd/.. >/dev/null 2>&1; then echo "reached by ls $fd/..: $(ls /proc/self/fd/$fd/.. | head -n 3 | tr '\n' ' ')"; fi
    done
    echo "walked 3..64"
    """#

    static func fdLines(_ out: String) -> [String] {
        let lines = out.split(separator: "\n").map(String.init)
        guard let a = lines.firstIndex(of: "fds:"), let b = lines.firstIndex(of: ":fds"), a < b else { return ["?"] }
        return lines[(a + 1)..<b].sorted { (Int($0) ?? -1) < (Int($1) ?? -1) }
    }

    static func walkLines(_ out: String) -> [String] {
        let lines = out.split(separator: "\n").map(String.init)
        guard let b = lines.firstIndex(of: ":fds") else { return lines }
        return Array(lines[(b + 1)...])
    }

    /// Prints "inside" if getcwd gives a path in the container that names this very directory.
    static let cwdCheck = #"""
    d=$(pwd -P) || exit 3
    case "$d" in /*) ;; *) echo "outside: $d"; exit 0 ;; esac
    [ "$(stat -c %d:%i .)" = "$(stat -c %d:%i "$d")" ] && echo inside || echo "outside: $d"
    """#

    static func assertCleanRefusal(_ c: IT.Created, cwd: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(c.result.status, 1, "create with cwd \(cwd): \(c.result.stderr)", file: file, line: line)
        XCTAssertTrue(c.result.stderr.contains("process.cwd") && c.result.stderr.contains(cwd),
                      "the error names process.cwd \(cwd): \(c.result.stderr)", file: file, line: line)
        XCTAssertFalse(FileManager.default.fileExists(atPath: IT.stateRoot + "/" + c.id),
                       "no state dir left for \(c.id)", file: file, line: line)
        XCTAssertFalse(FileManager.default.fileExists(atPath: IT.lcCgroup(c.id)), "no cgroup left", file: file, line: line)
        XCTAssertNil(IT.lcState(c.id), "state of \(c.id) after a failed create", file: file, line: line)
    }
}
