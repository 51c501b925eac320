import Foundation
import XCTest

/// Regression tests for runc's filesystem CVE classes. Each one builds the attack for
/// real (a doctored rootfs copy, a hostile config, a racing host process), runs skiff,
/// and then looks at the host: the files the attack aims at must be unchanged, and no
/// mount, state directory or cgroup of the container may be left.
final class CVEFsTests: XCTestCase {
    /// A private state root: other suites' containers on this host do not count here.
    static let stateRoot = "/run/skiff-it-cvefs"
    var scratch: [String] = []

    override func setUpWithError() throws { try IT.requireEnvironment() }

    override func tearDown() {
        for s in scratch.reversed() {
            _ = IT.sh("grep -F ' \(s)' /proc/self/mountinfo | cut -d' ' -f5 | sort -r | xargs -r -n1 umount -l; true")
            try? FileManager.default.removeItem(atPath: s)
        }
        scratch = []
        super.tearDown()
    }

    // MARK: helpers

    func tempDir(_ name: String) -> String {
        let d = NSTemporaryDirectory() + "skiff-cvefs-\(name)-\(getpid())-\(UUID().uuidString.prefix(8))"
        try! FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        scratch.append(d)
        return d
    }

    func rootfsCopy() -> String {
        let r = CT.rootfsCopy()
        scratch.append(r)
        return r
    }

    func sh(_ script: String, file: StaticString = #filePath, line: UInt = #line) {
        let r = IT.sh(script)
        XCTAssertEqual(r.status, 0, "\(script): \(r.stderr)", file: file, line: line)
    }

    func read(_ path: String) -> String? { try? String(contentsOfFile: path, encoding: .utf8) }

    /// The contents of `path` if it is a regular file itself (not a symlink, not a device
    /// that would never end), else nil.
    func readIfRegular(_ path: String) -> String? {
        var st = stat()
        guard lstat(path, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { return nil }
        return read(path)
    }

    /// `skiff run` on `rootfs` under our state root; afterwards nothing of it may remain.
    func run(_ rootfs: String, _ args: [String], readonly: Bool? = nil,
             file: StaticString = #filePath, line: UInt = #line,
             _ edit: @escaping (inout [String: Any]) -> Void = { _ in }) -> IT.Result {
        let b = IT.bundle(args: args) { c in
            CT.useRootfs(&c, rootfs, readonly: readonly)
            edit(&c)
        }
        defer { try? FileManager.default.removeItem(atPath: b) }
        let id = IT.id("cvefs")
        let r = IT.skiff(["run", "-b", b, id], root: Self.stateRoot)
        assertNoTrace(id, file: file, line: line)
        return r
    }

    /// No state directory, cgroup or process of container `id` is left.
    func assertNoTrace(_ id: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertFalse(FileManager.default.fileExists(atPath: Self.stateRoot + "/" + id), "state dir of \(id) left", file: file, line: line)
        for mp in ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"] {
            XCTAssertFalse(FileManager.default.fileExists(atPath: mp + "/skiff/" + id), "cgroup of \(id) left", file: file, line: line)
        }
        XCTAssertEqual(IT.processes(matching: id), [], file: file, line: line)
    }

    /// Host mountinfo lines whose mount point or root mentions one of `paths`.
    func hostMounts(_ paths: [String]) -> [String] {
        let info = read("/proc/self/mountinfo") ?? ""
        return info.split(separator: "\n").map(String.init).filter { l in
            let f = l.split(separator: " ")
            return f.count > 4 && paths.contains { f[3].hasPrefix($0) || f[4].hasPrefix($0) }
        }
    }

    /// The config's /dev tmpfs replaced by a bind of the rootfs's own dev directory: skiff
    /// then makes no device nodes, and whatever the image put in /dev is what it finds.
    static func devFromRootfs(_ c: inout [String: Any], _ rootfs: String) {
        c["mounts"] = (c["mounts"] as! [[String: Any]]).map { m -> [String: Any] in
            guard m["destination"] as? String == "/dev" else { return m }
            return ["destination": "/dev", "type": "bind", "source": rootfs + "/dev", "options": ["rbind"]]
        }
    }

    static func bind(_ source: String, _ dest: String, _ opts: [String] = ["bind"]) -> [String: Any] {
        ["destination": dest, "type": "bind", "source": source, "options": opts]
    }

    // MARK: CVE-2025-31133: maskedPaths with a fake /dev/null

    /// The image's /dev/null is a regular file, a symlink to a file the container can
    /// write (a host-bound volume, its own /etc/hostname), or another char device.
    /// Bind-mounting that over a masked file would turn the masked path into a writable
    /// alias of it; skiff must refuse to create the container instead.
    func testMaskedPathsRefuseFakeDevNull() throws {
        let host = tempDir("vol")
        let secret = host + "/secret"
        let fakes: [(name: String, make: String, detail: String)] = [
            ("regular file", "echo image-null > dev/null", "a regular file"),
            ("symlink to a host-bound file", "ln -s /hostdata/secret dev/null", "a symlink to a regular file"),
            ("relative symlink to a host-bound file", "ln -s ../../../../hostdata/secret dev/null", "a symlink to a regular file"),
            ("symlink to /etc/hostname", "ln -s /etc/hostname dev/null", "a symlink to a regular file"),
            ("char device 1:5", "mknod dev/null c 1 5", "char device 1:5"),
        ]
        for fake in fakes {
            try "host-secret\n".write(toFile: secret, atomically: false, encoding: .utf8)
            let r = rootfsCopy()
            sh("cd '\(r)' && rm -f dev/null && \(fake.make) && echo image-masked > masked-file")
            let nullBefore = readIfRegular(r + "/dev/null")
            let res = run(r, ["sh", "-c", "echo pwned > /masked-file; echo pwned > /proc/keys; cat /masked-file"], readonly: false) { c in
                Self.devFromRootfs(&c, r)
                CT.addMounts(&c, [Self.bind(host, "/hostdata")])
                CT.linux(&c) { $0["maskedPaths"] = ($0["maskedPaths"] as? [String] ?? []) + ["/masked-file"] }
            }
            XCTAssertNotEqual(res.status, 0, "\(fake.name): create must fail; out: \(res.stdout)")
            XCTAssertTrue(res.stderr.contains("/dev/null is \(fake.detail), not the null device"), "\(fake.name): \(res.stderr)")
            XCTAssertFalse(res.stdout.contains("pwned"), fake.name)
            XCTAssertEqual(read(secret), "host-secret\n", "\(fake.name): the host file was written")
            XCTAssertEqual(read(r + "/etc/hostname"), "skiff\n", fake.name)
            XCTAssertEqual(readIfRegular(r + "/dev/null"), nullBefore, fake.name)
            XCTAssertEqual(read(r + "/masked-file"), "image-masked\n", fake.name)
            XCTAssertEqual(hostMounts([r, host]), [], fake.name)
        }
    }

    /// Control for the test above: the same set-up with a real null device works, so the
    /// failures there come from the check, not from the /dev bind.
    func testMaskedPathsWithRealDevNullFromRootfs() throws {
        let r = rootfsCopy()
        sh("cd '\(r)' && rm -f dev/null && mknod -m 666 dev/null c 1 3 && echo image-masked > masked-file")
        let res = run(r, ["sh", "-c", "echo x > /masked-file && echo size=$(wc -c < /masked-file) type=$(stat -c %t,%T /masked-file)"], readonly: false) { c in
            Self.devFromRootfs(&c, r)
            CT.linux(&c) { $0["maskedPaths"] = ($0["maskedPaths"] as? [String] ?? []) + ["/masked-file"] }
        }
        XCTAssertEqual(res.status, 0, res.stderr)
        XCTAssertEqual(CT.keyValues(res.stdout.replacingOccurrences(of: " ", with: "\n")), ["size": "0", "type": "1,3"], res.stdout)
        XCTAssertEqual(read(r + "/masked-file"), "image-masked\n")
        XCTAssertEqual(hostMounts([r]), [])
    }

    // MARK: CVE-2025-52565: the /dev/console bind

    struct ConsoleRun {
        var create: IT.Result
        var receiver: String
    }

    /// create --console-socket (and start, if create worked) with a receiver for the master.
    func consoleRun(_ rootfs: String, args: [String], _ edit: @escaping (inout [String: Any]) -> Void) throws -> ConsoleRun {
        let b = IT.bundle(args: args) { c in
            CT.useRootfs(&c, rootfs, readonly: false)
            CT.process(&c) { $0["terminal"] = true }
            edit(&c)
        }
        defer { try? FileManager.default.removeItem(atPath: b) }
        let (p, out, sock) = try ConsoleTests.startReceiver(in: b, input: "")
        defer { if p.isRunning { p.terminate() } }

        let id = IT.id("cvefs-tty")
        let create = IT.skiff(["create", "--console-socket", sock, "-b", b, id], root: Self.stateRoot)
        if create.status == 0 {
            let start = IT.skiff(["start", id], root: Self.stateRoot)
            XCTAssertEqual(start.status, 0, start.stderr)
        }
        let deadline = Date().addingTimeInterval(30)
        while p.isRunning && Date() < deadline { usleep(20000) }
        if p.isRunning { p.terminate() }
        p.waitUntilExit()
        for _ in 0..<100 where (IT.state(id)?["status"] as? String) == "running" { usleep(20000) }
        IT.skiff(["delete", "-f", id], root: Self.stateRoot)
        assertNoTrace(id)
        return ConsoleRun(create: create, receiver: String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
    }

    /// The image's /dev/console is a symlink to a file on a host volume: the pty must not
    /// be mounted wherever it points. Without the symlink the same config works and the
    /// console is the pty.
    func testConsoleTargetSymlinkRefused() throws {
        let host = tempDir("vol")
        try "host-secret\n".write(toFile: host + "/secret", atomically: false, encoding: .utf8)
        let r = rootfsCopy()
        sh("cd '\(r)/dev' && rm -f null && mknod -m 666 null c 1 3 && ln -sf pts/ptmx ptmx && ln -s /hostdata/secret console")
        let edit: (inout [String: Any]) -> Void = { c in
            Self.devFromRootfs(&c, r)
            CT.addMounts(&c, [Self.bind(host, "/hostdata")])
        }
        let bad = try consoleRun(r, args: ["sh", "-c", "echo pwned > /dev/console; cat /hostdata/secret"], edit)
        XCTAssertNotEqual(bad.create.status, 0, "create must fail: \(bad.receiver)")
        XCTAssertTrue(bad.create.stderr.contains("/dev/console in the container is a symlink"), bad.create.stderr)
        XCTAssertEqual(read(host + "/secret"), "host-secret\n")
        XCTAssertEqual(hostMounts([r, host]), [])

        sh("rm '\(r)/dev/console'")
        let good = try consoleRun(r, args: ["sh", "-c", "echo console=$(stat -c %t /dev/console)"], edit)
        XCTAssertEqual(good.create.status, 0, good.create.stderr)
        XCTAssertTrue(good.receiver.contains("console=88"), "pty slave major 136: \(good.receiver)")
        XCTAssertEqual(hostMounts([r, host]), [])
    }

    /// The pty comes from a devpts mounted elsewhere while the image's /dev/pts holds
    /// symlinks to a host file (or plain files) under every pty number: the path of the
    /// slave must not lead skiff to use, or mount on /dev/console, anything but the pty.
    func testConsoleSourceMustBeThePty() throws {
        let host = tempDir("vol")
        try "host-secret\n".write(toFile: host + "/secret", atomically: false, encoding: .utf8)
        for (kind, make) in [("symlinks", "ln -s /hostdata/secret \"$n\""), ("regular files", "echo fake > \"$n\"")] {
            let r = rootfsCopy()
            sh("""
            cd '\(r)/dev' && rm -f null && mknod -m 666 null c 1 3 && ln -sf pts-real/ptmx ptmx && mkdir -p pts pts-real
            cd pts && n=0; while [ $n -lt 1024 ]; do \(make); n=$((n+1)); done
            """)
            let res = try consoleRun(r, args: ["sh", "-c", "echo pwned > /dev/console; echo pwned > /dev/tty"]) { c in
                Self.devFromRootfs(&c, r)
                CT.addMounts(&c, [Self.bind(host, "/hostdata")])
                c["mounts"] = (c["mounts"] as! [[String: Any]]).map { m -> [String: Any] in
                    var m = m
                    if m["destination"] as? String == "/dev/pts" { m["destination"] = "/dev/pts-real" }
                    return m
                }
            }
            XCTAssertNotEqual(res.create.status, 0, "\(kind): create must fail: \(res.receiver)")
            XCTAssertTrue(res.create.stderr.contains("console: ") && res.create.stderr.contains("/dev/pts/"), "\(kind): \(res.create.stderr)")
            XCTAssertEqual(read(host + "/secret"), "host-secret\n", kind)
            XCTAssertEqual(hostMounts([r, host]), [], kind)
        }
    }

    // MARK: CVE-2023-27561 / CVE-2023-28642: /proc that is not procfs

    /// A rootfs whose /proc is a symlink to a host path (absolute, and climbing out): the
    /// proc mount lands inside the rootfs, the host path is never mounted over or made.
    func testProcSymlinkInRootfsStaysInside() throws {
        let target = tempDir("proctarget")
        for link in [target, "../../../../../../../.." + target] {
            let r = rootfsCopy()
            sh("rm -rf \(r)/proc && ln -s \(link) \(r)/proc")
            let res = run(r, ["sh", "-c", "head -1 /proc/self/status"])
            XCTAssertEqual(res.status, 0, "\(link): \(res.stderr)")
            XCTAssertEqual(res.stdout, "Name:\thead\n", link)
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: target), [], "\(link): the host target got files")
            XCTAssertEqual(hostMounts([target]), [], "\(link): the host target was mounted over")
        }
    }

    /// A volume over /proc (where the runtime writes the LSM label and finds its fds): a
    /// host directory with a fake attr/exec, or a tmpfs, is refused naming the mount; a
    /// bind of the host's procfs is a procfs and runs.
    func testVolumeOverProcIsRefused() throws {
        let fake = tempDir("fakeproc")
        try FileManager.default.createDirectory(atPath: fake + "/self/attr", withIntermediateDirectories: true)
        try "orig\n".write(toFile: fake + "/self/attr/exec", atomically: false, encoding: .utf8)
        for mount in [Self.bind(fake, "/proc", ["rbind"]), ["destination": "/proc/", "type": "tmpfs", "source": "tmpfs"]] {
            let res = run(IT.rootfs, ["true"]) { CT.addMounts(&$0, [mount]) }
            XCTAssertEqual(res.status, 1, "\(mount)")
            XCTAssertTrue(res.stderr.contains("].destination: /proc must be a proc mount or a bind of a procfs"), res.stderr)
        }
        XCTAssertEqual(read(fake + "/self/attr/exec"), "orig\n")
        XCTAssertEqual(hostMounts([fake]), [])
        let ok = run(IT.rootfs, ["sh", "-c", "test -d /proc/1 && echo procfs"]) { CT.addMounts(&$0, [Self.bind("/proc", "/proc", ["rbind"])]) }
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertEqual(ok.stdout, "procfs\n")
    }

    // MARK: CVE-2023-25809: /sys/fs/cgroup writable in a user namespace

    /// A user namespace without a cgroup namespace: the config's ro cgroup mount stays
    /// read-only (runc made it a writable bind), so root in the container cannot touch
    /// the host's cgroups.
    func testCgroupMountReadOnlyInUserNamespace() throws {
        let probe = "mkdir /sys/fs/cgroup/skiff-cve-25809 2>&1; echo > /sys/fs/cgroup/cgroup.procs 2>&1; grep ' /sys/fs/cgroup ' /proc/self/mountinfo | cut -d' ' -f6"
        let res = run(IT.rootfs, ["sh", "-c", probe]) { c in
            NamespaceTests.userNSEdit(&c)
            CT.linux(&c) { $0["namespaces"] = CT.namespaces(["pid", "network", "ipc", "uts", "mount", "user"]) }
        }
        XCTAssertEqual(res.status, 0, res.stderr)
        XCTAssertTrue(res.stdout.contains("Read-only file system"), res.stdout)
        XCTAssertTrue(res.stdout.split(separator: "\n").last?.hasPrefix("ro") ?? false, "mount options: \(res.stdout)")
        for mp in ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"] {
            XCTAssertFalse(FileManager.default.fileExists(atPath: mp + "/skiff-cve-25809"))
        }
    }

    // MARK: CVE-2025-52881: procfs writes redirected

    /// A sysctl whose /proc/sys file is not procfs's own: a host directory bound over
    /// /proc/sys (where the write would land on the host), a host file bound over the very
    /// file, a tmpfs over /proc/sys. create fails naming the sysctl and its path.
    func testSysctlWriteNotRedirected() throws {
        let host = tempDir("sys")
        let hostFile = host + "/net/ipv4/ip_forward"
        let single = host + "/single"
        try FileManager.default.createDirectory(atPath: host + "/net/ipv4", withIntermediateDirectories: true)
        let cases: [(String, [String: Any])] = [
            ("host directory over /proc/sys", Self.bind(host, "/proc/sys", ["rbind"])),
            ("host file over the sysctl file", Self.bind(single, "/proc/sys/net/ipv4/ip_forward")),
            ("tmpfs over /proc/sys", ["destination": "/proc/sys", "type": "tmpfs", "source": "tmpfs"]),
            ("tmpfs over /proc/sys/net", ["destination": "/proc/sys/net", "type": "tmpfs", "source": "tmpfs"]),
        ]
        for (name, mount) in cases {
            try "orig\n".write(toFile: hostFile, atomically: false, encoding: .utf8)
            try "orig\n".write(toFile: single, atomically: false, encoding: .utf8)
            let res = run(IT.rootfs, ["cat", "/proc/sys/net/ipv4/ip_forward"]) { c in
                CT.addMounts(&c, [mount])
                CT.linux(&c) { $0["sysctl"] = ["net.ipv4.ip_forward": "1"] }
            }
            XCTAssertNotEqual(res.status, 0, "\(name): create must fail; out: \(res.stdout)")
            XCTAssertTrue(res.stderr.contains("sysctl net.ipv4.ip_forward: /proc/sys/net/ipv4/ip_forward"), "\(name): \(res.stderr)")
            XCTAssertEqual(read(hostFile), "orig\n", "\(name): the write landed on the host")
            XCTAssertEqual(read(single), "orig\n", "\(name): the write landed on the host")
            XCTAssertEqual(hostMounts([host]), [], name)
        }
        // Control: without the mount the (network-namespaced) sysctl is set.
        let ok = run(IT.rootfs, ["cat", "/proc/sys/net/ipv4/ip_forward"]) { c in
            CT.linux(&c) { $0["sysctl"] = ["net.ipv4.ip_forward": "1"] }
        }
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertEqual(ok.stdout, "1\n")
    }

    /// exec's process.oomScoreAdj is written before the process joins the container's
    /// namespaces, through the host's /proc: a tmpfs the container put over its own /proc,
    /// with a fake self/oom_score_adj, neither receives the value nor stops the exec.
    func testExecOOMScoreAdjNotRedirected() throws {
        let b = IT.bundle(args: ["sleep", "100"]) { c in CT.useRootfs(&c, IT.rootfs, readonly: nil) }
        defer { try? FileManager.default.removeItem(atPath: b) }
        let id = IT.id("cvefs")
        defer { IT.skiff(["delete", "-f", id], root: Self.stateRoot); assertNoTrace(id) }
        // Detached, stdio on /dev/null: the container must not hold our pipes.
        let skiff = "\(IT.lcQuote(IT.binary)) --root \(IT.lcQuote(Self.stateRoot))"
        sh("\(skiff) run -d -b \(IT.lcQuote(b)) \(id) </dev/null >/dev/null 2>&1")
        let state = IT.skiff(["state", id], root: Self.stateRoot)
        let pid = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(state.stdout.utf8)) as? [String: Any])?["pid"] as? Int)
        sh("nsenter -t \(pid) -m sh -c 'mount -t tmpfs fake /proc && mkdir /proc/self && echo orig > /proc/self/oom_score_adj'")
        let dir = tempDir("oomexec")
        let process = #"{"args":["sleep","50"],"cwd":"/","user":{"uid":0,"gid":0},"env":["PATH=/bin"],"oomScoreAdj":700}"#
        try process.write(toFile: dir + "/process.json", atomically: false, encoding: .utf8)
        let r = IT.sh("\(skiff) exec -d --pid-file \(dir)/pid -p \(dir)/process.json \(id) </dev/null >/dev/null 2>\(dir)/err")
        XCTAssertEqual(r.status, 0, read(dir + "/err") ?? "")
        let execPID = (read(dir + "/pid") ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(read("/proc/\(execPID)/oom_score_adj"), "700\n", "the value reached the process")
        XCTAssertEqual(IT.sh("nsenter -t \(pid) -m cat /proc/self/oom_score_adj").stdout, "orig\n", "the fake file was written")
    }

    /// process.oomScoreAdj goes to /proc/<pid>/oom_score_adj: a host file bound over it
    /// must not receive the value. The init writes it before any of the config's mounts
    /// exist (and the write checks it reached procfs), so the bind cannot catch it.
    func testOOMScoreAdjNotRedirected() throws {
        let host = tempDir("oom")
        let f = host + "/oom"
        try "orig\n".write(toFile: f, atomically: false, encoding: .utf8)
        // The bind covers pid 1's file; a child (cat, forked) reads its own, inherited value.
        let res = run(IT.rootfs, ["sh", "-c", "cat /proc/self/oom_score_adj; true"]) { c in
            CT.addMounts(&c, [Self.bind(f, "/proc/self/oom_score_adj")])
            CT.process(&c) { $0["oomScoreAdj"] = 500 }
        }
        XCTAssertEqual(res.status, 0, res.stderr)
        XCTAssertEqual(res.stdout, "500\n", "the value reached the process")
        XCTAssertEqual(read(f), "orig\n", "the write landed on the host")
        XCTAssertEqual(hostMounts([host]), [])

        let ok = run(IT.rootfs, ["cat", "/proc/self/oom_score_adj"]) { c in CT.process(&c) { $0["oomScoreAdj"] = 500 } }
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertEqual(ok.stdout, "500\n")
    }

    /// The read side of the same class: a host directory over /proc/sys claims the kernel
    /// knows only capabilities 0 and 1. The bounding set must still be exactly the config's
    /// (skiff once dropped only up to cap_last_cap, leaving the rest for root to exec into).
    func testFakeCapLastCapIgnored() throws {
        let host = tempDir("sys")
        try FileManager.default.createDirectory(atPath: host + "/kernel", withIntermediateDirectories: true)
        try "1\n".write(toFile: host + "/kernel/cap_last_cap", atomically: false, encoding: .utf8)
        let res = run(IT.rootfs, ["cat", "/proc/self/status"]) { c in
            CT.addMounts(&c, [Self.bind(host, "/proc/sys", ["rbind"])])
            CT.process(&c) { p in
                p["capabilities"] = ["bounding": Self.someCaps, "effective": Self.someCaps, "permitted": Self.someCaps,
                                     "inheritable": [String](), "ambient": [String]()]
            }
        }
        XCTAssertEqual(res.status, 0, res.stderr)
        let caps = capSets(res.stdout)
        XCTAssertEqual(caps["CapBnd"], Self.someCapsMask, "\(caps)")
        XCTAssertEqual(caps["CapPrm"], Self.someCapsMask, "\(caps)")
        XCTAssertEqual(caps["CapEff"], Self.someCapsMask, "\(caps)")
    }

    // MARK: CVE-2019-19921 / CVE-2021-30465: symlinks on mount destinations

    /// Mount lines of a container's /proc/self/mountinfo: (root in its fs, mount point, fs type).
    func mountTable(_ text: String) -> [(root: String, point: String, type: String)] {
        text.split(separator: "\n").compactMap { l in
            let f = l.split(separator: " ").map(String.init)
            guard let sep = f.firstIndex(of: "-"), f.count > sep + 1, f.count > 4 else { return nil }
            return (f[3], f[4], f[sep + 1])
        }
    }

    /// A host process swaps a rootfs directory with a symlink to a host directory
    /// (renameat2 RENAME_EXCHANGE, as fast as it can) while containers are created with a
    /// tmpfs and a bind mounted below that path. Every run either fails cleanly or has
    /// both mounts inside its root; the host directory never gets a file or a mount.
    func testMountDestinationSymlinkRace() throws {
        let r = rootfsCopy()
        let host = tempDir("target")
        let src = tempDir("src")
        try "inside\n".write(toFile: src + "/marker", atomically: false, encoding: .utf8)
        sh("mkdir -p '\(r)/mnt/race' && ln -s '\(host)' '\(r)/mnt/race.alt'")

        let swapper = """
        import ctypes, os, sys, time
        libc = ctypes.CDLL(None, use_errno=True)
        a, b, stop = sys.argv[1].encode(), sys.argv[2].encode(), sys.argv[3]
        n, deadline = 0, time.time() + 600
        while not os.path.exists(stop) and time.time() < deadline:
            if libc.renameat2(-100, a, -100, b, 2) != 0:  # AT_FDCWD, RENAME_EXCHANGE
                sys.exit("renameat2: " + os.strerror(ctypes.get_errno()))
            n += 1
        print(n)
        """
        let script = host + "-swap.py", stop = host + "-stop"
        scratch.append(script)
        scratch.append(stop)
        try swapper.write(toFile: script, atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: ConsoleTests.python)
        p.arguments = [script, r + "/mnt/race", r + "/mnt/race.alt", stop]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        defer { if p.isRunning { p.terminate() } }

        // Where a mount below the racing path may legitimately end up: under either name
        // of the directory, or under the symlink's target taken inside the root.
        let inside = ["/mnt/race", "/mnt/race.alt", host]
        var succeeded = 0, viaSymlink = 0, failed: [String] = []
        for _ in 0..<40 {
            let res = run(r, ["cat", "/proc/self/mountinfo"]) { c in
                CT.addMounts(&c, [
                    ["destination": "/mnt/race/inner/deep", "type": "tmpfs", "source": "tmpfs"],
                    Self.bind(src, "/mnt/race/b"),
                ])
            }
            if res.status != 0 {
                XCTAssertTrue(res.stderr.contains("skiff"), "a failed run says why: \(res.stderr)")
                failed.append(res.stderr.trimmingCharacters(in: .whitespacesAndNewlines))
                continue
            }
            succeeded += 1
            let table = mountTable(res.stdout)
            let bind = table.first { $0.root == src }
            let tmpfs = table.first { $0.type == "tmpfs" && $0.point.hasSuffix("/inner/deep") }
            XCTAssertTrue(bind.map { m in inside.contains { m.point == $0 + "/b" } } ?? false, "bind not inside: \(res.stdout)")
            XCTAssertTrue(tmpfs.map { m in inside.contains { m.point == $0 + "/inner/deep" } } ?? false, "tmpfs not inside: \(res.stdout)")
            if bind?.point.hasPrefix(host) ?? false { viaSymlink += 1 }
        }
        FileManager.default.createFile(atPath: stop, contents: nil)
        p.waitUntilExit()
        let swaps = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(p.terminationStatus, 0, "swapper: \(swaps)")
        print("CVEFsTests race: \(succeeded) runs ok (\(viaSymlink) through the symlink), \(failed.count) failed, swaps: \(swaps.trimmingCharacters(in: .whitespacesAndNewlines))")
        XCTAssertGreaterThan(succeeded, 0, "no run got through: \(failed.prefix(3))")

        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: host), [], "files appeared in the host directory")
        XCTAssertEqual(hostMounts([host, r, src]), [])
        XCTAssertEqual(read(src + "/marker"), "inside\n")
    }

    /// A destination that is an absolute symlink to "/../../<host dir>" (or a relative one
    /// climbing out) is taken inside the root: the mount and the directories made for it
    /// appear under the rootfs, never in the host directory.
    func testSymlinkDestinationStaysInside() throws {
        let r = rootfsCopy()
        let host = tempDir("target")
        let src = tempDir("src")
        try "inside\n".write(toFile: src + "/marker", atomically: false, encoding: .utf8)
        sh("mkdir -p '\(r)/mnt' && ln -s '/../..\(host)' '\(r)/mnt/abs' && ln -s '../../../../../../../..\(host)' '\(r)/mnt/rel'")
        let res = run(r, ["sh", "-c", "cat /mnt/abs/b/marker; cat /proc/self/mountinfo"], readonly: false) { c in
            CT.addMounts(&c, [
                Self.bind(src, "/mnt/abs/b"),
                ["destination": "/mnt/rel/t/deep", "type": "tmpfs", "source": "tmpfs"],
            ])
        }
        XCTAssertEqual(res.status, 0, res.stderr)
        XCTAssertTrue(res.stdout.hasPrefix("inside\n"), res.stdout)
        let table = mountTable(res.stdout)
        XCTAssertEqual(table.first { $0.root == src }?.point, host + "/b", res.stdout)
        XCTAssertTrue(table.contains { $0.type == "tmpfs" && $0.point == host + "/t/deep" }, res.stdout)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: host), [], "the host directory was used")
        XCTAssertTrue(FileManager.default.fileExists(atPath: r + host + "/t/deep"), "made inside the rootfs")
        XCTAssertEqual(hostMounts([host, r, src]), [])
    }

    // MARK: CVE-2022-29162: inheritable capabilities

    /// security.capability, VFS_CAP_REVISION_2 with the effective bit: no permitted bits,
    /// every inheritable bit. Exec'ing such a file grants pI & fI: whatever the process
    /// was left in its inheritable set.
    func setFileCaps(_ path: String) {
        let py = "import os, struct, sys; os.setxattr(sys.argv[1], 'security.capability', struct.pack('<5I', 0x02000001, 0, 0xffffffff, 0, 0xffffffff))"
        let r = IT.exec(ConsoleTests.python, ["-c", py, path])
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    func capSets(_ status: String) -> [String: UInt64] {
        var d: [String: UInt64] = [:]
        for line in status.split(separator: "\n") where line.hasPrefix("Cap") {
            let f = line.split(whereSeparator: { $0 == ":" || $0 == "\t" || $0 == " " })
            if f.count == 2 { d[String(f[0])] = UInt64(f[1], radix: 16) }
        }
        return d
    }

    static let someCaps = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SETUID", "CAP_SETGID", "CAP_DAC_OVERRIDE"]
    static let someCapsMask: UInt64 = 1 << 0 | 1 << 5 | 1 << 10 | 1 << 7 | 1 << 6 | 1 << 1

    /// A non-root process whose config gives no inheritable caps runs a file with every
    /// inheritable file-cap bit: it ends up with no capabilities at all, with or without
    /// noNewPrivileges. The control with CAP_NET_BIND_SERVICE inheritable shows that the
    /// file caps are honoured (pI & fI is granted), so the zeros are not vacuous.
    func testInheritableCapsNotGranted() throws {
        let r = rootfsCopy()
        // Named busybox (in its own directory) so that argv[1] picks the applet.
        sh("mkdir '\(r)/caps' && cp '\(r)/bin/busybox' '\(r)/caps/busybox'")
        setFileCaps(r + "/caps/busybox")
        func runCaps(inheritable: [String], nnp: Bool) -> [String: UInt64] {
            let res = run(r, ["/caps/busybox", "cat", "/proc/self/status"]) { c in
                CT.process(&c) { p in
                    p["user"] = ["uid": 1000, "gid": 1000]
                    p["noNewPrivileges"] = nnp
                    p["capabilities"] = ["bounding": Self.someCaps, "effective": Self.someCaps, "permitted": Self.someCaps,
                                         "inheritable": inheritable, "ambient": [String]()]
                }
            }
            XCTAssertEqual(res.status, 0, res.stderr)
            return capSets(res.stdout)
        }
        for nnp in [false, true] {
            let caps = runCaps(inheritable: [], nnp: nnp)
            XCTAssertEqual(caps["CapInh"], 0, "nnp=\(nnp): \(caps)")
            XCTAssertEqual(caps["CapPrm"], 0, "nnp=\(nnp): \(caps)")
            XCTAssertEqual(caps["CapEff"], 0, "nnp=\(nnp): \(caps)")
            XCTAssertEqual(caps["CapAmb"], 0, "nnp=\(nnp): \(caps)")
            XCTAssertEqual(caps["CapBnd"], Self.someCapsMask, "nnp=\(nnp): \(caps)")

            let control = runCaps(inheritable: ["CAP_NET_BIND_SERVICE"], nnp: nnp)
            XCTAssertEqual(control["CapInh"], 1 << 10, "nnp=\(nnp): \(control)")
            XCTAssertEqual(control["CapPrm"], 1 << 10, "file caps honoured, nnp=\(nnp): \(control)")
            XCTAssertEqual(control["CapEff"], 1 << 10, "nnp=\(nnp): \(control)")
        }
    }

    /// A root process's inheritable set is exactly the config's.
    func testRootInheritableIsConfigs() {
        let res = run(IT.rootfs, ["cat", "/proc/self/status"]) { c in
            CT.process(&c) { p in
                p["capabilities"] = ["bounding": Self.someCaps, "effective": Self.someCaps, "permitted": Self.someCaps,
                                     "inheritable": ["CAP_CHOWN", "CAP_KILL"], "ambient": [String]()]
            }
        }
        XCTAssertEqual(res.status, 0, res.stderr)
        let caps = capSets(res.stdout)
        XCTAssertEqual(caps["CapInh"], 1 << 0 | 1 << 5, "\(caps)")
        XCTAssertEqual(caps["CapBnd"], Self.someCapsMask, "\(caps)")
    }
}
