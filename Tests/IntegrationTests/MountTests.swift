import Foundation
import XCTest

final class MountTests: XCTestCase {
    /// A private copy of the busybox rootfs: these tests create mount points in it.
    static var rootfs = ""
    var scratch: [String] = []

    override class func setUp() {
        super.setUp()
        if getuid() == 0, FileManager.default.fileExists(atPath: IT.rootfs + "/bin/busybox") {
            rootfs = CT.rootfsCopy()
        }
    }

    override class func tearDown() {
        if !rootfs.isEmpty { try? FileManager.default.removeItem(atPath: rootfs) }
        super.tearDown()
    }

    override func setUpWithError() throws { try IT.requireEnvironment() }

    override func tearDown() {
        for s in scratch.reversed() {
            // Host-side submounts first.
            _ = IT.sh("umount -l '\(s)/sub' 2>/dev/null; umount -l '\(s)' 2>/dev/null; umount -l '\(s)' 2>/dev/null; true")
            try? FileManager.default.removeItem(atPath: s)
        }
        scratch = []
        super.tearDown()
    }

    /// A host scratch directory removed after the test.
    func hostDir(_ name: String = "d") -> String {
        let d = NSTemporaryDirectory() + "skiff-ct-\(name)-\(getpid())-\(UUID().uuidString.prefix(8))"
        try! FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        scratch.append(d)
        return d
    }

    /// Runs `script` in a container on the private rootfs copy, with extra mounts.
    func run(_ script: String, mounts: [[String: Any]] = [], rootfs: String? = nil, readonly: Bool? = nil,
             _ edit: @escaping (inout [String: Any]) -> Void = { _ in }) -> IT.Result {
        IT.run(args: ["sh", "-c", script]) { c in
            CT.useRootfs(&c, rootfs ?? Self.rootfs, readonly: readonly)
            CT.addMounts(&c, mounts)
            edit(&c)
        }
    }

    /// The /proc/mounts line(s) for a mount point, from a container's output.
    func mountLine(_ out: String, _ dest: String) -> String? {
        out.split(separator: "\n").last { $0.split(separator: " ").dropFirst().first.map(String.init) == dest }.map(String.init)
    }

    func opts(_ line: String?) -> Set<String> {
        guard let l = line else { return [] }
        let f = l.split(separator: " ")
        return f.count > 3 ? Set(f[3].split(separator: ",").map(String.init)) : []
    }

    // MARK: bind mounts

    func testBindDirectoryAndFile() throws {
        let d = hostDir()
        try "in-dir\n".write(toFile: d + "/hello", atomically: true, encoding: .utf8)
        let f = hostDir("f") + "/single"
        try "single-file\n".write(toFile: f, atomically: true, encoding: .utf8)
        let r = run("cat /mnt/bound/hello; cat /etc/single; echo type=$(stat -c %F /etc/single)", mounts: [
            ["destination": "/mnt/bound", "type": "bind", "source": d, "options": ["bind"]],
            ["destination": "/etc/single", "type": "bind", "source": f, "options": ["bind", "ro"]],
        ])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "in-dir\nsingle-file\ntype=regular file\n", r.stderr)
    }

    /// rbind brings the source's submounts along; bind does not. rro makes the submount
    /// read-only too; plain ro only the top mount.
    func testRbindAndRecursiveReadonly() throws {
        let d = hostDir("rbind")
        try FileManager.default.createDirectory(atPath: d + "/sub", withIntermediateDirectories: true)
        let m = IT.sh("mount -t tmpfs -o size=1m skiff-ct-sub '\(d)/sub' && echo inner > '\(d)/sub/inner'")
        XCTAssertEqual(m.status, 0, m.stderr)
        let script = """
        echo rbind=$(cat /mnt/rb/sub/inner 2>&1)
        echo bind=$(ls -A /mnt/b/sub | wc -l)
        touch /mnt/rro/top 2>/dev/null && echo rro-top=rw || echo rro-top=ro
        touch /mnt/rro/sub/x 2>/dev/null && echo rro-sub=rw || echo rro-sub=ro
        touch /mnt/ro/top 2>/dev/null && echo ro-top=rw || echo ro-top=ro
        touch /mnt/ro/sub/x 2>/dev/null && echo ro-sub=rw || echo ro-sub=ro
        """
        let r = run(script, mounts: [
            ["destination": "/mnt/rb", "type": "bind", "source": d, "options": ["rbind"]],
            ["destination": "/mnt/b", "type": "bind", "source": d, "options": ["bind"]],
            ["destination": "/mnt/rro", "type": "bind", "source": d, "options": ["rbind", "rro"]],
            ["destination": "/mnt/ro", "type": "bind", "source": d, "options": ["rbind", "ro"]],
        ])
        XCTAssertEqual(r.status, 0, r.stderr)
        let kv = CT.keyValues(r.stdout)
        XCTAssertEqual(kv["rbind"], "inner", r.stdout)
        XCTAssertEqual(kv["bind"], "0", "a plain bind does not carry submounts: \(r.stdout)")
        XCTAssertEqual(kv["rro-top"], "ro", r.stdout)
        XCTAssertEqual(kv["rro-sub"], "ro", "rro is recursive: \(r.stdout)")
        XCTAssertEqual(kv["ro-top"], "ro", r.stdout)
        XCTAssertEqual(kv["ro-sub"], "rw", "ro only applies to the top mount: \(r.stdout)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: d + "/top"))
    }

    // MARK: filesystem types

    func testTmpfsSizeAndMode() {
        let r = run("cat /proc/mounts; echo mode=$(stat -c %a /mnt/t)", mounts: [
            ["destination": "/mnt/t", "type": "tmpfs", "source": "tmpfs", "options": ["size=2m", "mode=1770", "nosuid"]],
        ])
        XCTAssertEqual(r.status, 0, r.stderr)
        let line = mountLine(r.stdout, "/mnt/t")
        XCTAssertNotNil(line, r.stdout)
        XCTAssertTrue(line?.hasPrefix("tmpfs /mnt/t tmpfs ") ?? false, line ?? "")
        let o = opts(line)
        XCTAssertTrue(o.contains("size=2048k"), "\(o)")
        XCTAssertTrue(o.contains("mode=1770"), "\(o)")
        XCTAssertTrue(o.contains("nosuid"), "\(o)")
        XCTAssertEqual(CT.keyValues(r.stdout)["mode"], "1770")
    }

    /// The demo config's special filesystems: proc, sysfs, devpts, mqueue, tmpfs /dev and
    /// /dev/shm, and the "cgroup" mount, which is cgroup2.
    func testSpecialFilesystems() {
        let r = run("cat /proc/mounts; echo cgfs=$(stat -f -c %t /sys/fs/cgroup); echo procfs=$(stat -f -c %T /proc); echo ctrl=$(cat /sys/fs/cgroup/cgroup.controllers >/dev/null && echo yes)")
        XCTAssertEqual(r.status, 0, r.stderr)
        let expect = [("/proc", "proc"), ("/sys", "sysfs"), ("/dev", "tmpfs"), ("/dev/pts", "devpts"),
                      ("/dev/shm", "tmpfs"), ("/dev/mqueue", "mqueue"), ("/sys/fs/cgroup", "cgroup2")]
        for (dest, type) in expect {
            let line = mountLine(r.stdout, dest)
            XCTAssertEqual(line?.split(separator: " ")[2].description, type, "\(dest): \(line ?? "missing")")
        }
        let kv = CT.keyValues(r.stdout)
        XCTAssertEqual(kv["cgfs"], "63677270", "CGROUP2_SUPER_MAGIC")
        XCTAssertEqual(kv["procfs"], "proc")
        XCTAssertEqual(kv["ctrl"], "yes")
        // Options the config gave.
        XCTAssertTrue(opts(mountLine(r.stdout, "/sys")).isSuperset(of: ["ro", "nosuid", "nodev", "noexec"]))
        XCTAssertTrue(opts(mountLine(r.stdout, "/sys/fs/cgroup")).isSuperset(of: ["ro", "nosuid", "nodev", "noexec"]))
        XCTAssertTrue(opts(mountLine(r.stdout, "/dev/pts")).isSuperset(of: ["nosuid", "noexec", "mode=620", "ptmxmode=666", "gid=5"]),
                      "\(opts(mountLine(r.stdout, "/dev/pts")))")
        XCTAssertTrue(opts(mountLine(r.stdout, "/dev/shm")).isSuperset(of: ["nosuid", "noexec", "nodev", "size=65536k"]))
    }

    /// In the host's cgroup namespace the cgroup2 mount is a bind of the host's (a new
    /// mount there would reset the hierarchy's options and wait for an RCU grace period):
    /// the whole hierarchy from its root, the container's own cgroup in it, read-only.
    /// With a cgroup namespace it is a new mount whose root is the container's cgroup.
    func testCgroupMountShowsTheHierarchy() throws {
        let script = "cat /proc/self/cgroup; echo ino=$(stat -c %i /sys/fs/cgroup); grep ' /sys/fs/cgroup ' /proc/self/mountinfo; " +
            "cg=$(sed -n 's/^0:://p' /proc/self/cgroup); test -d /sys/fs/cgroup$cg && echo own=visible; " +
            "touch /sys/fs/cgroup/cgroup.x 2>/dev/null || echo write=refused"
        let host = run(script) { c in
            var l = c["linux"] as! [String: Any]
            l["namespaces"] = CT.namespaces(["pid", "network", "ipc", "uts", "mount"])
            c["linux"] = l
        }
        XCTAssertEqual(host.status, 0, host.stderr)
        XCTAssertEqual(CT.keyValues(host.stdout)["ino"], "1", "the hierarchy's root: \(host.stdout)")
        XCTAssertTrue(host.stdout.contains("0::/skiff/"), host.stdout)
        XCTAssertEqual(CT.keyValues(host.stdout)["own"], "visible", host.stdout)
        XCTAssertEqual(CT.keyValues(host.stdout)["write"], "refused", host.stdout)
        let line = try XCTUnwrap(host.stdout.split(separator: "\n").first { $0.contains(" /sys/fs/cgroup ") })
        XCTAssertTrue(line.contains(" - cgroup2 "), String(line))
        XCTAssertEqual(line.split(separator: " ")[3], "/", "mounted from the hierarchy's root: \(line)")

        let own = run(script) { c in
            var l = c["linux"] as! [String: Any]
            l["namespaces"] = CT.namespaces(["pid", "network", "ipc", "uts", "mount", "cgroup"])
            c["linux"] = l
        }
        XCTAssertEqual(own.status, 0, own.stderr)
        XCTAssertTrue(own.stdout.split(separator: "\n").contains("0::/"), "its own cgroup is its root: \(own.stdout)")
        XCTAssertEqual(CT.keyValues(own.stdout)["write"], "refused", own.stdout)
    }

    /// Extra instances of proc/sysfs/mqueue/devpts at other places.
    func testExtraSpecialMounts() {
        let r = run("cat /proc/mounts; echo self=$(readlink /mnt/p/self)", mounts: [
            ["destination": "/mnt/p", "type": "proc", "source": "proc"],
            ["destination": "/mnt/s", "type": "sysfs", "source": "sysfs", "options": ["ro"]],
            ["destination": "/mnt/mq", "type": "mqueue", "source": "mqueue"],
            ["destination": "/mnt/cg", "type": "cgroup", "source": "cgroup"],
        ])
        XCTAssertEqual(r.status, 0, r.stderr)
        for (dest, type) in [("/mnt/p", "proc"), ("/mnt/s", "sysfs"), ("/mnt/mq", "mqueue"), ("/mnt/cg", "cgroup2")] {
            XCTAssertEqual(mountLine(r.stdout, dest)?.split(separator: " ")[2].description, type, dest)
        }
        XCTAssertFalse(CT.keyValues(r.stdout)["self"]?.isEmpty ?? true)
    }

    // MARK: option classes

    func testReadonlyMounts() throws {
        let d = hostDir()
        let r = run("""
        touch /mnt/tro/x 2>/dev/null && echo tmpfs-ro=writable || echo tmpfs-ro=refused
        touch /mnt/bro/x 2>/dev/null && echo bind-ro=writable || echo bind-ro=refused
        touch /mnt/brw/x 2>/dev/null && echo bind-rw=writable || echo bind-rw=refused
        """, mounts: [
            ["destination": "/mnt/tro", "type": "tmpfs", "source": "tmpfs", "options": ["ro"]],
            ["destination": "/mnt/bro", "type": "bind", "source": d, "options": ["bind", "ro"]],
            ["destination": "/mnt/brw", "type": "bind", "source": d, "options": ["bind", "rw"]],
        ])
        XCTAssertEqual(r.status, 0, r.stderr)
        let kv = CT.keyValues(r.stdout)
        XCTAssertEqual(kv["tmpfs-ro"], "refused")
        XCTAssertEqual(kv["bind-ro"], "refused")
        XCTAssertEqual(kv["bind-rw"], "writable")
        XCTAssertTrue(FileManager.default.fileExists(atPath: d + "/x"), "a rw bind writes through to the host")
    }

    func testNosuidNodevNoexec() throws {
        let d = hostDir()
        let script = """
        cat /proc/mounts
        cp /bin/busybox /mnt/nx/busybox; cp /bin/busybox /mnt/ex/busybox
        /mnt/nx/busybox true 2>/dev/null && echo nx=ran || echo nx=refused
        /mnt/nx/busybox true 2>&1 | grep -q 'Permission denied' && echo nx-err=EACCES
        /mnt/ex/busybox true && echo ex=ran || echo ex=refused
        cp /bin/busybox /mnt/bnx/busybox 2>/dev/null; /mnt/bnx/busybox true 2>/dev/null && echo bnx=ran || echo bnx=refused
        mknod /mnt/ex/null c 1 3 && (echo x > /mnt/ex/null) 2>/dev/null && echo ex-dev=ok || echo ex-dev=refused
        mknod /mnt/nx/null c 1 3 && (echo x > /mnt/nx/null) 2>/dev/null && echo nx-dev=ok || echo nx-dev=refused
        """
        let r = run(script, mounts: [
            ["destination": "/mnt/nx", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "noexec"]],
            ["destination": "/mnt/ex", "type": "tmpfs", "source": "tmpfs", "options": ["exec", "dev", "suid"]],
            ["destination": "/mnt/bnx", "type": "bind", "source": d, "options": ["bind", "noexec", "nosuid", "nodev"]],
        ])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(opts(mountLine(r.stdout, "/mnt/nx")).isSuperset(of: ["nosuid", "nodev", "noexec"]), r.stdout)
        XCTAssertTrue(opts(mountLine(r.stdout, "/mnt/bnx")).isSuperset(of: ["nosuid", "nodev", "noexec"]), r.stdout)
        let ex = opts(mountLine(r.stdout, "/mnt/ex"))
        XCTAssertTrue(ex.isDisjoint(with: ["nosuid", "nodev", "noexec"]), "\(ex)")
        let kv = CT.keyValues(r.stdout)
        XCTAssertEqual(kv["nx"], "refused", r.stdout)
        XCTAssertEqual(kv["nx-err"], "EACCES", r.stdout)
        XCTAssertEqual(kv["ex"], "ran", r.stdout + r.stderr)
        XCTAssertEqual(kv["bnx"], "refused", r.stdout)
        XCTAssertEqual(kv["ex-dev"], "ok", r.stdout + r.stderr)
        XCTAssertEqual(kv["nx-dev"], "refused", r.stdout)
    }

    /// The optional fields (shared:N, master:N) of a mount point in mountinfo text.
    func optionalFields(_ mountinfo: String, _ dest: String) -> [String]? {
        for line in mountinfo.split(separator: "\n").reversed() {
            let f = line.split(separator: " ").map(String.init)
            guard f.count > 6, f[4] == dest, let sep = f.firstIndex(of: "-") else { continue }
            return Array(f[6..<sep])
        }
        return nil
    }

    /// A host directory made a shared mount point (so that slaves of it have a master).
    func sharedHostMount(_ d: String) {
        let r = IT.sh("mount --bind '\(d)' '\(d)' && mount --make-shared '\(d)'")
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    /// Propagation options show in mountinfo's optional fields. The bind source is a shared
    /// mount on the host, so that the container's copies of it can be its slaves.
    func testPropagation() throws {
        let d = hostDir()
        sharedHostMount(d)
        let r = run("cat /proc/self/mountinfo", mounts: [
            ["destination": "/mnt/priv", "type": "bind", "source": d, "options": ["rbind", "rprivate"]],
            ["destination": "/mnt/slave", "type": "bind", "source": d, "options": ["rbind", "rslave"]],
            ["destination": "/mnt/shared", "type": "bind", "source": d, "options": ["rbind", "rprivate", "rshared"]],
            ["destination": "/mnt/tshared", "type": "tmpfs", "source": "tmpfs", "options": ["shared"]],
            ["destination": "/mnt/tpriv", "type": "tmpfs", "source": "tmpfs"],
        ])
        XCTAssertEqual(r.status, 0, r.stderr)
        let priv = optionalFields(r.stdout, "/mnt/priv"), slave = optionalFields(r.stdout, "/mnt/slave")
        let shared = optionalFields(r.stdout, "/mnt/shared"), tshared = optionalFields(r.stdout, "/mnt/tshared")
        XCTAssertEqual(priv, [], r.stdout)
        XCTAssertTrue(slave?.contains { $0.hasPrefix("master:") } ?? false, "\(slave ?? ["missing"])")
        XCTAssertFalse(slave?.contains { $0.hasPrefix("shared:") } ?? true, "\(slave ?? ["missing"])")
        XCTAssertTrue(shared?.contains { $0.hasPrefix("shared:") } ?? false, "\(shared ?? ["missing"])")
        XCTAssertFalse(shared?.contains { $0.hasPrefix("master:") } ?? true, "\(shared ?? ["missing"])")
        XCTAssertTrue(tshared?.contains { $0.hasPrefix("shared:") } ?? false, "\(tshared ?? ["missing"])")
        // A mount with no propagation option is the container's own: never shared with the host.
        XCTAssertFalse(optionalFields(r.stdout, "/mnt/tpriv")?.contains { $0.hasPrefix("shared:") } ?? true, r.stdout)
    }

    /// rslave in practice: a mount made on the host under the source after the container
    /// started shows inside; with rprivate it does not.
    func testSlaveReceivesHostMounts() throws {
        let d = hostDir("rslave")
        try FileManager.default.createDirectory(atPath: d + "/sub", withIntermediateDirectories: true)
        sharedHostMount(d)
        let a = try CT.runDetached(args: ["sleep", "30"]) { c in
            CT.useRootfs(&c, Self.rootfs)
            CT.addMounts(&c, [
                ["destination": "/mnt/slave", "type": "bind", "source": d, "options": ["rbind", "rslave"]],
                ["destination": "/mnt/priv", "type": "bind", "source": d, "options": ["rbind", "rprivate"]],
            ])
        }
        defer { CT.remove(a) }
        let m = IT.sh("mount -t tmpfs skiff-ct-late '\(d)/sub' && echo late > '\(d)/sub/late'")
        XCTAssertEqual(m.status, 0, m.stderr)
        let inside = (try? String(contentsOfFile: "/proc/\(a.pid)/mountinfo", encoding: .utf8)) ?? ""
        XCTAssertNotNil(optionalFields(inside, "/mnt/slave/sub"), "host mount propagated to the rslave mount: \(inside)")
        XCTAssertNil(optionalFields(inside, "/mnt/priv/sub"), "host mount must not reach the rprivate mount")
        // Nothing of the container's leaks back to the host.
        let host = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        XCTAssertFalse(host.contains("/mnt/slave"), host)
    }

    /// rootfsPropagation is applied to the container's root (here a shared mount on the host).
    func testRootfsPropagation() throws {
        let rootfs = CT.rootfsCopy()
        scratch.append(rootfs)
        sharedHostMount(rootfs)
        for (prop, want) in [("private", ""), ("shared", "shared:"), ("slave", "master:"), ("rslave", "master:"), (nil, "master:")] as [(String?, String)] {
            let r = run("cat /proc/self/mountinfo", rootfs: rootfs) { c in
                if let prop { CT.linux(&c) { $0["rootfsPropagation"] = prop } }
            }
            XCTAssertEqual(r.status, 0, "\(prop ?? "default"): \(r.stderr)")
            let fields = optionalFields(r.stdout, "/") ?? ["missing"]
            if want.isEmpty {
                XCTAssertEqual(fields, [], "\(prop ?? "default"): \(r.stdout)")
            } else {
                XCTAssertTrue(fields.contains { $0.hasPrefix(want) }, "\(prop ?? "default"): \(fields)")
            }
        }
        let host = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        let lines = host.split(separator: "\n").filter { $0.split(separator: " ").count > 4 && $0.split(separator: " ")[4].hasPrefix(rootfs) }
        XCTAssertEqual(lines.count, 1, "only our own shared bind is on the host: \(lines)")
    }

    // MARK: destinations

    func testMissingDestinationDirectoriesCreated() {
        let rootfs = CT.rootfsCopy()
        defer { try? FileManager.default.removeItem(atPath: rootfs) }
        let r = run("stat -f -c %T /a/b/c; echo hi > /a/b/c/f && cat /a/b/c/f", mounts: [
            ["destination": "/a/b/c", "type": "tmpfs", "source": "tmpfs"],
        ], rootfs: rootfs)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "tmpfs\nhi\n")
        XCTAssertTrue(FileManager.default.fileExists(atPath: rootfs + "/a/b/c"), "created in the rootfs")
    }

    /// A destination through a symlink resolves inside the rootfs, never on the host.
    func testSymlinkDestinationStaysInRootfs() throws {
        let target = hostDir("host-target")
        let rootfs = CT.rootfsCopy()
        defer { try? FileManager.default.removeItem(atPath: rootfs) }
        try FileManager.default.createSymbolicLink(atPath: rootfs + "/evil", withDestinationPath: target)
        try FileManager.default.createSymbolicLink(atPath: rootfs + "/evil2", withDestinationPath: "../../../../../.." + target)
        let script = """
        echo evil=$(stat -f -c %T /evil/x)
        echo evil2=$(stat -f -c %T /evil2/y)
        echo marker > /evil/x/marker
        grep -c ' \(target)/x ' /proc/mounts
        """
        let r = run(script, mounts: [
            ["destination": "/evil/x", "type": "tmpfs", "source": "tmpfs"],
            ["destination": "/evil2/y", "type": "tmpfs", "source": "tmpfs"],
        ], rootfs: rootfs)
        // Nothing on the host side, whatever the runtime did.
        let hostEntries = (try? FileManager.default.contentsOfDirectory(atPath: target)) ?? ["?"]
        XCTAssertEqual(hostEntries, [], "the runtime created something in the host directory")
        let hostMounts = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        XCTAssertFalse(hostMounts.contains(target), "a mount landed on the host")
        // And the mounts are in the rootfs, at the symlink's target read inside it.
        XCTAssertEqual(r.status, 0, r.stderr)
        let kv = CT.keyValues(r.stdout)
        XCTAssertEqual(kv["evil"], "tmpfs", r.stdout)
        XCTAssertEqual(kv["evil2"], "tmpfs", r.stdout)
        XCTAssertTrue(r.stdout.hasSuffix("1\n"), "the mount shows at the in-rootfs path: \(r.stdout)")
        XCTAssertTrue(FileManager.default.fileExists(atPath: rootfs + target + "/x"), "mount point created inside the rootfs")
        XCTAssertTrue(FileManager.default.fileExists(atPath: rootfs + target + "/y"), "mount point created inside the rootfs")
    }

    // MARK: root, masked and read-only paths

    func testReadonlyRoot() {
        let rootfs = CT.rootfsCopy()
        defer { try? FileManager.default.removeItem(atPath: rootfs) }
        let ro = run("touch /x 2>&1 && echo wrote || echo refused; grep ' / ' /proc/mounts", rootfs: rootfs, readonly: true)
        XCTAssertEqual(ro.status, 0, ro.stderr)
        XCTAssertTrue(ro.stdout.contains("refused"), ro.stdout)
        XCTAssertTrue(ro.stdout.contains("Read-only file system"), ro.stdout)
        XCTAssertTrue(opts(mountLine(ro.stdout, "/")).contains("ro"), ro.stdout)
        XCTAssertFalse(FileManager.default.fileExists(atPath: rootfs + "/x"))

        let rw = run("touch /x && echo wrote; grep ' / ' /proc/mounts", rootfs: rootfs, readonly: false)
        XCTAssertEqual(rw.status, 0, rw.stderr)
        XCTAssertTrue(rw.stdout.hasPrefix("wrote\n"), rw.stdout)
        XCTAssertTrue(opts(mountLine(rw.stdout, "/")).contains("rw"), rw.stdout)
        XCTAssertTrue(FileManager.default.fileExists(atPath: rootfs + "/x"))
    }

    func testMaskedPaths() throws {
        let rootfs = CT.rootfsCopy()
        defer { try? FileManager.default.removeItem(atPath: rootfs) }
        try FileManager.default.createDirectory(atPath: rootfs + "/secret", withIntermediateDirectories: true)
        try "s3cret\n".write(toFile: rootfs + "/secret/key", atomically: true, encoding: .utf8)
        try "s3cret\n".write(toFile: rootfs + "/secretfile", atomically: true, encoding: .utf8)
        let script = """
        echo kcore=$(cat /proc/kcore 2>/dev/null | wc -c)
        echo timer_list=$(cat /proc/timer_list | wc -c)
        echo keys=$(cat /proc/keys | wc -c)
        echo keys-type=$(stat -c %t,%T /proc/keys)
        echo firmware=$(ls -A /sys/firmware | wc -l)
        echo secret=$(ls -A /secret | wc -l)
        echo secretfile=$(wc -c < /secretfile)
        touch /secret/x 2>/dev/null && echo secretdir=writable || echo secretdir=refused
        echo missing=ok
        """
        let r = run(script, rootfs: rootfs) { c in
            CT.linux(&c) { l in
                l["maskedPaths"] = (l["maskedPaths"] as? [String] ?? []) + ["/secret", "/secretfile", "/does/not/exist"]
            }
        }
        XCTAssertEqual(r.status, 0, r.stderr)
        let kv = CT.keyValues(r.stdout)
        // /proc/kcore only exists with CONFIG_PROC_KCORE; /proc/timer_list and /proc/keys are common.
        XCTAssertEqual(kv["kcore"], "0", r.stdout)
        if FileManager.default.fileExists(atPath: "/proc/timer_list") { XCTAssertEqual(kv["timer_list"], "0", r.stdout) }
        if FileManager.default.fileExists(atPath: "/proc/keys") {
            XCTAssertEqual(kv["keys"], "0", r.stdout)
            XCTAssertEqual(kv["keys-type"], "1,3", "masked by /dev/null: \(r.stdout)")
        }
        XCTAssertEqual(kv["firmware"], "0", r.stdout)
        XCTAssertEqual(kv["secret"], "0", r.stdout)
        XCTAssertEqual(kv["secretfile"], "0", r.stdout)
        XCTAssertEqual(kv["secretdir"], "refused", r.stdout)
        XCTAssertEqual(kv["missing"], "ok")
        // The host copy is untouched.
        XCTAssertEqual(try String(contentsOfFile: rootfs + "/secret/key", encoding: .utf8), "s3cret\n")
    }

    func testReadonlyPaths() {
        let script = "echo changed > /proc/sys/kernel/hostname 2>/dev/null && echo write=ok || echo write=refused; echo host=$(hostname)"
        let r = run(script)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(CT.keyValues(r.stdout)["write"], "refused", r.stdout)
        XCTAssertEqual(CT.keyValues(r.stdout)["host"], "skiff-demo", r.stdout)
        // Control: without readonlyPaths the (namespaced) write goes through.
        let w = run(script) { c in CT.linux(&c) { $0["readonlyPaths"] = [String]() } }
        XCTAssertEqual(w.status, 0, w.stderr)
        XCTAssertEqual(CT.keyValues(w.stdout)["write"], "ok", w.stdout)
        XCTAssertEqual(CT.keyValues(w.stdout)["host"], "changed", w.stdout)
        // A read-only path that is a single (namespaced) file, plus one that is missing.
        let f = run(script + "; echo domain=$(cat /proc/sys/kernel/domainname)") { c in
            CT.linux(&c) { $0["readonlyPaths"] = ["/proc/sys/kernel/hostname", "/no/such/path"] }
        }
        XCTAssertEqual(f.status, 0, f.stderr)
        XCTAssertEqual(CT.keyValues(f.stdout)["write"], "refused", f.stdout)
    }
}
