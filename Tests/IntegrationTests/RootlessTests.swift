import Foundation
import XCTest
import Glibc

/// skiff run by an unprivileged user (a user the suite makes), as far as this host allows:
/// `spec --rootless`, the state under $XDG_RUNTIME_DIR/skiff, the user mapped to root in a
/// user namespace (its own id written directly, ranges through newuidmap from /etc/subuid),
/// the mounts of the rootless spec, the lifecycle, files landing with the mapped host ids,
/// the binary protected by a sealed memfd copy (open_tree is refused), no cgroup when
/// the config sets no limits, and the errors that name cause and fix, leaving nothing.
final class RootlessTests: XCTestCase {
    static let user = "skiff-rootless"
    /// A copy of skiff the user may run (the build tree may not be reachable for it).
    static let binDir = "/tmp/skiff-rootless-bin"
    static var uid: UInt32 = 0, gid: UInt32 = 0
    static var subuid: (start: UInt32, count: UInt32) = (0, 0)
    static var subgid: (start: UInt32, count: UInt32) = (0, 0)
    static var xdg = ""

    override class func setUp() {
        super.setUp()
        // useradd gives a new user a range in /etc/subuid and /etc/subgid (Debian 12).
        IT.sh("id -u \(user) >/dev/null 2>&1 || useradd --create-home --shell /bin/sh \(user)")
        uid = UInt32(IT.sh("id -u \(user)").stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        gid = UInt32(IT.sh("id -g \(user)").stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        subuid = range(in: "/etc/subuid")
        subgid = range(in: "/etc/subgid")
        xdg = "/tmp/skiff-rootless-xdg-\(uid)"
        IT.sh("mkdir -p \(xdg) \(binDir) && chown \(user): \(xdg) && chmod 700 \(xdg) && " +
              "install -m 755 \(IT.lcQuote(IT.binary)) \(binDir)/skiff")
    }

    static func range(in file: String) -> (UInt32, UInt32) {
        let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n") {
            let f = line.split(separator: ":")
            if f.count == 3, f[0] == user, let s = UInt32(f[1]), let n = UInt32(f[2]) { return (s, n) }
        }
        return (0, 0)
    }

    override func setUpWithError() throws {
        try IT.requireEnvironment()
        guard Self.uid != 0 else { return XCTFail("could not make the test user \(Self.user)") }
        guard Self.subuid.count > 0, Self.subgid.count > 0 else {
            return XCTFail("no /etc/subuid and /etc/subgid range for \(Self.user)")
        }
    }

    /// `skiff ARGS` as the user, in `cwd`, with $XDG_RUNTIME_DIR set; stdio on files.
    func skiff(_ args: [String], cwd: String = "/", env: String = "") -> IT.Result {
        let cmd = (["\(Self.binDir)/skiff"] + args).map(IT.lcQuote).joined(separator: " ")
        return IT.skiffAs(Self.user, "cd \(IT.lcQuote(cwd)) && XDG_RUNTIME_DIR=\(Self.xdg) \(env) \(cmd)")
    }

    /// A bundle owned by the user: `skiff spec --rootless`, run as the user, then edited.
    func bundle(_ args: [String], _ edit: (inout [String: Any]) -> Void = { _ in }) throws -> String {
        let dir = IT.lcTempDir()
        IT.sh("chown \(Self.user): \(dir)")
        let s = skiff(["spec", "--rootless"], cwd: dir)
        XCTAssertEqual(s.status, 0, s.stderr)
        XCTAssertEqual(s.stderr, "", "spec --rootless is quiet")
        let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/config.json"))
        var c = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        var p = c["process"] as? [String: Any] ?? [:]
        p["args"] = args
        p["terminal"] = false
        c["process"] = p
        c["root"] = ["path": IT.baseBundle + "/rootfs", "readonly": true]
        edit(&c)
        try JSONSerialization.data(withJSONObject: c).write(to: URL(fileURLWithPath: dir + "/config.json"))
        IT.sh("chown \(Self.user): \(dir)/config.json")
        return dir
    }

    func linux(_ c: inout [String: Any], _ edit: (inout [String: Any]) -> Void) {
        var l = c["linux"] as? [String: Any] ?? [:]
        edit(&l)
        c["linux"] = l
    }

    func words(_ s: String) -> [String] { s.split(whereSeparator: { " \t\n\0".contains($0) }).map(String.init) }

    func testSpecRootlessRunMapsTheUserToRoot() throws {
        let b = try bundle(["sh", "-c", "id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map; grep -c . /proc/mounts"])
        defer { try? FileManager.default.removeItem(atPath: b) }
        let r = skiff(["run", "rl-run-\(getpid())"], cwd: b)
        XCTAssertEqual(r.status, 0, r.stderr)
        let w = words(r.stdout)
        XCTAssertEqual(Array(w.prefix(8)), ["0", "0", "0", "\(Self.uid)", "1", "0", "\(Self.gid)", "1"], r.stdout)
        XCTAssertTrue(FileManager.default.fileExists(atPath: Self.xdg + "/skiff"), "the state lives under $XDG_RUNTIME_DIR/skiff")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: Self.xdg + "/skiff"), [], "run leaves no state")
    }

    func testLifecycleAsTheUser() throws {
        let b = try bundle(["sleep", "1000"])
        defer { try? FileManager.default.removeItem(atPath: b) }
        let id = "rl-life-\(getpid())"
        defer { _ = skiff(["delete", "--force", id]) }
        XCTAssertEqual(skiff(["create", "-b", b, id]).status, 0)
        XCTAssertEqual(skiff(["start", id]).status, 0)
        let state = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(skiff(["state", id]).stdout.utf8)) as? [String: Any])
        XCTAssertEqual(state["status"] as? String, "running")
        let pid = try XCTUnwrap(state["pid"] as? Int)
        // On the host the container's root is the user.
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let uidLine = status.split(separator: "\n").first { $0.hasPrefix("Uid:") }.map(String.init) ?? ""
        XCTAssertEqual(words(uidLine), ["Uid:"] + Array(repeating: "\(Self.uid)", count: 4), uidLine)
        // No cgroup (no limits): ps lists the processes of the container's pid namespace.
        let ps = skiff(["ps", "--format", "json", id])
        XCTAssertEqual(ps.status, 0, ps.stderr)
        XCTAssertEqual(try JSONSerialization.jsonObject(with: Data(ps.stdout.utf8)) as? [Int], [pid], ps.stdout)
        let list = skiff(["list"]).stdout
        XCTAssertTrue(list.contains(id) && list.contains(Self.user), "OWNER is the user: \(list)")
        let e = skiff(["exec", id, "sh", "-c", "id -u; cat /proc/1/cmdline"])
        XCTAssertEqual(e.status, 0, e.stderr)
        XCTAssertEqual(words(e.stdout), ["0", "sleep", "1000"], e.stdout)
        XCTAssertEqual(skiff(["kill", id, "KILL"]).status, 0)
        XCTAssertTrue(IT.lcWait { (try? JSONSerialization.jsonObject(with: Data(self.skiff(["state", id]).stdout.utf8)) as? [String: Any])?["status"] as? String == "stopped" })
        XCTAssertEqual(skiff(["delete", id]).status, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(Self.xdg)/skiff/\(id)"))
        XCTAssertFalse(IT.lcExists(pid) && IT.lcAlive(pid))
    }

    /// Two ranges (the user's own id, then its /etc/subuid range) through newuidmap and
    /// newgidmap; files made inside land on the host with the mapped ids.
    func testRangesThroughNewuidmapAndFileOwnership() throws {
        let data = IT.lcTempDir()
        defer { try? FileManager.default.removeItem(atPath: data) }
        IT.sh("chown \(Self.user): \(data)")
        let b = try bundle(["sh", "-c", "cat /proc/self/uid_map; touch /home/by-root; touch /home/by-one; chown 1:1 /home/by-one"]) { c in
            self.linux(&c) { l in
                l["uidMappings"] = [["containerID": 0, "hostID": Self.uid, "size": 1],
                                    ["containerID": 1, "hostID": Self.subuid.start, "size": Self.subuid.count]]
                l["gidMappings"] = [["containerID": 0, "hostID": Self.gid, "size": 1],
                                    ["containerID": 1, "hostID": Self.subgid.start, "size": Self.subgid.count]]
            }
            var mounts = c["mounts"] as? [[String: Any]] ?? []
            // The rootless spec's root has no CAP_CHOWN: chown needs it.
            var p = c["process"] as? [String: Any] ?? [:]
            var caps = p["capabilities"] as? [String: [String]] ?? [:]
            for set in ["bounding", "effective", "permitted"] { caps[set, default: []].append("CAP_CHOWN") }
            p["capabilities"] = caps
            c["process"] = p
            // /home exists in the shared rootfs, which the user cannot write to make a mount point.
            mounts.append(["destination": "/home", "type": "bind", "source": data, "options": ["rbind", "rw"]])
            c["mounts"] = mounts
        }
        defer { try? FileManager.default.removeItem(atPath: b) }
        let r = skiff(["run", "rl-map-\(getpid())"], cwd: b)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(words(r.stdout), ["0", "\(Self.uid)", "1", "1", "\(Self.subuid.start)", "\(Self.subuid.count)"], r.stdout)
        var st = stat()
        XCTAssertEqual(stat(data + "/by-root", &st), 0)
        XCTAssertEqual(st.st_uid, Self.uid, "root inside is the user outside")
        XCTAssertEqual(stat(data + "/by-one", &st), 0)
        XCTAssertEqual(st.st_uid, Self.subuid.start, "uid 1 inside is the first subordinate id")
        XCTAssertEqual(st.st_gid, Self.subgid.start)
    }

    /// A bind of a nosuid,nodev,noexec,noatime mount remounted "ro" keeps those flags (in a
    /// user namespace they are locked: a remount without them is refused), and a sysfs
    /// the user namespace may not mount is the host's, bound with the flags asked for.
    func testLockedFlagsAreKeptAndSysfsIsBoundReadOnly() throws {
        let locked = IT.lcTempDir()
        XCTAssertEqual(IT.sh("mount -t tmpfs -o nosuid,nodev,noexec,noatime skiff-locked \(locked)").status, 0)
        defer { IT.sh("umount -l \(locked)"); try? FileManager.default.removeItem(atPath: locked) }
        let b = try bundle(["sh", "-c", "grep -E ' /home | /sys ' /proc/mounts"]) { c in
            // In place of the rootless spec's bind of /sys (before its /sys/fs/cgroup).
            var mounts = (c["mounts"] as? [[String: Any]] ?? []).map { m -> [String: Any] in
                m["destination"] as? String == "/sys" ? ["destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["ro"]] : m
            }
            mounts.append(["destination": "/home", "type": "bind", "source": locked, "options": ["rbind", "ro"]])
            c["mounts"] = mounts
        }
        defer { try? FileManager.default.removeItem(atPath: b) }
        let r = skiff(["run", "rl-lock-\(getpid())"], cwd: b)
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n")
        let home = lines.first { $0.contains(" /home ") }.map { String($0.split(separator: " ")[3]) } ?? ""
        XCTAssertEqual(Set(home.split(separator: ",")), ["ro", "nosuid", "nodev", "noexec", "noatime"], r.stdout)
        let sys = lines.first { $0.contains(" /sys ") }.map { String($0.split(separator: " ")[3]) } ?? ""
        XCTAssertTrue(sys.split(separator: ",").contains("ro"), "sysfs read-only: \(r.stdout)")
    }

    /// open_tree is refused to the user: the init runs from a sealed memfd copy.
    func testBinaryProtectedByASealedMemfd() throws {
        let b = try bundle(["sleep", "1000"])
        defer { try? FileManager.default.removeItem(atPath: b) }
        let id = "rl-exe-\(getpid())"
        defer { _ = skiff(["delete", "--force", id]) }
        let trace = Self.xdg + "/trace-\(getpid())"
        defer { unlink(trace) }
        XCTAssertEqual(skiff(["create", "-b", b, id], env: "SKIFF_TRACE=text SKIFF_TRACE_FILE=\(trace)").status, 0)
        let phases = (try? String(contentsOfFile: trace, encoding: .utf8)) ?? ""
        XCTAssertTrue(phases.contains("create/protect binary"), phases)
        let state = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(skiff(["state", id]).stdout.utf8)) as? [String: Any])
        let pid = try XCTUnwrap(state["pid"] as? Int)
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe")) ?? ""
        XCTAssertTrue(exe.hasPrefix("/memfd:"), "the init's binary: \(exe)")
        let fd = open("/proc/\(pid)/exe", O_WRONLY)
        XCTAssertEqual(fd, -1, "the copy cannot be written")
        if fd >= 0 { close(fd) }
    }

    // MARK: errors: exit 1, the cause and the fix named, nothing left

    func assertRefused(_ r: IT.Result, _ id: String, mentions: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(r.status, 1, r.stderr, file: file, line: line)
        for m in mentions { XCTAssertTrue(r.stderr.contains(m), "\(m) in: \(r.stderr)", file: file, line: line) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(Self.xdg)/skiff/\(id)"), "state dir left", file: file, line: line)
        XCTAssertEqual(IT.processes(matching: id), [], file: file, line: line)
        XCTAssertEqual(IT.sh("find /sys/fs/cgroup -name '\(id)*' 2>/dev/null").stdout, "", "cgroup left", file: file, line: line)
    }

    func testLimitsWithoutAWritableCgroupAreRefused() throws {
        let b = try bundle(["true"]) { c in self.linux(&c) { $0["resources"] = ["pids": ["limit": 10]] } }
        defer { try? FileManager.default.removeItem(atPath: b) }
        let id = "rl-res-\(getpid())"
        assertRefused(skiff(["create", "-b", b, id]), id, mentions: ["linux.resources", "delegate", "linux.cgroupsPath", "remove linux.resources"])
    }

    /// This host has no systemd: the user's manager is missing, and the error says how to
    /// get one (the VM's test_rootless.py runs the driver against a real one).
    func testSystemdDriverWithoutAUserManagerNamesTheWayOut() throws {
        let b = try bundle(["true"])
        defer { try? FileManager.default.removeItem(atPath: b) }
        let id = "rl-sd-\(getpid())"
        assertRefused(skiff(["--systemd-cgroup", "create", "-b", b, id]), id,
                      mentions: ["--systemd-cgroup", "\(Self.xdg)/bus", "loginctl enable-linger \(Self.user)",
                                 "dbus-user-session", "drop --systemd-cgroup"])
        // Without XDG_RUNTIME_DIR there is no telling where it would be; --root is given.
        assertRefused(skiff(["--root", "\(Self.xdg)/skiff", "--systemd-cgroup", "create", "-b", b, id],
                            env: "env -u XDG_RUNTIME_DIR"), id,
                      mentions: ["--systemd-cgroup", "XDG_RUNTIME_DIR is not set", "loginctl enable-linger", "drop --systemd-cgroup"])
    }

    /// Lowering oom_score_adj needs CAP_SYS_RESOURCE on the host; the error gives the floor.
    func testOOMScoreAdjBelowTheUsersFloorIsRefused() throws {
        let b = try bundle(["true"]) { c in
            var p = c["process"] as? [String: Any] ?? [:]
            p["oomScoreAdj"] = -1000
            c["process"] = p
        }
        defer { try? FileManager.default.removeItem(atPath: b) }
        let id = "rl-oom-\(getpid())"
        assertRefused(skiff(["create", "-b", b, id]), id,
                      mentions: ["process.oomScoreAdj", "-1000 is below", "CAP_SYS_RESOURCE", "or run as root"])
        // Raising it is the user's to do.
        let up = try bundle(["cat", "/proc/self/oom_score_adj"]) { c in
            var p = c["process"] as? [String: Any] ?? [:]
            p["oomScoreAdj"] = 500
            c["process"] = p
        }
        defer { try? FileManager.default.removeItem(atPath: up) }
        let r = skiff(["run", "-b", up, id])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "500\n")
    }

    func testFeaturesAsTheUser() throws {
        let r = skiff(["features"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("\"ociVersionMax\""), r.stdout)
    }

    func testARangeOutsideSubuidIsRefused() throws {
        let b = try bundle(["true"]) { c in
            self.linux(&c) { l in
                l["uidMappings"] = [["containerID": 0, "hostID": Self.uid, "size": 1],
                                    ["containerID": 1, "hostID": Self.subuid.start + Self.subuid.count, "size": 10]]
            }
        }
        defer { try? FileManager.default.removeItem(atPath: b) }
        let id = "rl-sub-\(getpid())"
        assertRefused(skiff(["create", "-b", b, id]), id, mentions: ["linux.uidMappings", "newuidmap", "/etc/subuid", Self.user])
    }

    func testRangesWithoutNewuidmapAreRefused() throws {
        let b = try bundle(["true"]) { c in
            self.linux(&c) { l in
                l["uidMappings"] = [["containerID": 0, "hostID": Self.uid, "size": 1],
                                    ["containerID": 1, "hostID": Self.subuid.start, "size": 10]]
            }
        }
        defer { try? FileManager.default.removeItem(atPath: b) }
        let id = "rl-nomap-\(getpid())"
        // A PATH without the uidmap package's tools.
        assertRefused(skiff(["create", "-b", b, id], env: "PATH=/nonexistent"), id,
                      mentions: ["linux.uidMappings", "newuidmap", "apt-get install uidmap"])
    }
}

extension IT {
    /// `script` run by `user` through runuser, stdio on files (a container's init must
    /// not hold our pipes).
    static func skiffAs(_ user: String, _ script: String) -> Result {
        let dir = lcTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        chmod(dir, 0o777)
        let r = lcShell("runuser -u \(user) -- sh -c \(lcQuote(script + " </dev/null >\(dir)/out 2>\(dir)/err"))")
        return Result(status: r.status,
                      stdout: (try? String(contentsOfFile: dir + "/out", encoding: .utf8)) ?? "",
                      stderr: r.stderr + ((try? String(contentsOfFile: dir + "/err", encoding: .utf8)) ?? ""))
    }
}
