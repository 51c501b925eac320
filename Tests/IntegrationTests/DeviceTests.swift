import Foundation
import XCTest

final class DeviceTests: XCTestCase {
    override func setUpWithError() throws { try IT.requireEnvironment() }

    static let kvm: [String: Any] = ["type": "c", "path": "/dev/kvm", "major": 10, "minor": 232,
                                     "fileMode": 0o640, "uid": 1000, "gid": 1001]

    func sh(_ script: String, _ edit: @escaping (inout [String: Any]) -> Void = { _ in }) -> IT.Result {
        IT.run(args: ["sh", "-c", script], edit)
    }

    /// `stat` lines keyed by path: "name|type|major(hex)|minor(hex)|mode|uid|gid".
    func stats(_ out: String) -> [String: [String]] {
        var d: [String: [String]] = [:]
        for line in out.split(separator: "\n") where line.contains("|") {
            let f = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            d[f[0]] = Array(f.dropFirst())
        }
        return d
    }

    static let statFormat = "stat -c '%n|%F|%t|%T|%a|%u|%g'"

    func testDefaultDevices() {
        let devs = ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"]
        let script = """
        \(Self.statFormat) \(devs.joined(separator: " "))
        echo x > /dev/null && echo null=ok
        echo zero=$(head -c 4 /dev/zero | wc -c)
        echo urandom=$(head -c 4 /dev/urandom | wc -c)
        echo random=$(head -c 4 /dev/random | wc -c)
        echo x 2>/dev/null > /dev/full && echo full=wrote || echo full=ENOSPC
        """
        let r = sh(script)
        XCTAssertEqual(r.status, 0, r.stderr)
        let s = stats(r.stdout)
        let expect: [(String, String, String)] = [("/dev/null", "1", "3"), ("/dev/zero", "1", "5"), ("/dev/full", "1", "7"),
                                                  ("/dev/random", "1", "8"), ("/dev/urandom", "1", "9"), ("/dev/tty", "5", "0")]
        for (path, major, minor) in expect {
            XCTAssertEqual(s[path], ["character special file", major, minor, "666", "0", "0"], "\(path): \(r.stdout)")
        }
        let kv = CT.keyValues(r.stdout)
        XCTAssertEqual(kv["null"], "ok")
        XCTAssertEqual(kv["zero"], "4")
        XCTAssertEqual(kv["urandom"], "4")
        XCTAssertEqual(kv["random"], "4")
        XCTAssertEqual(kv["full"], "ENOSPC")
    }

    func testDevSymlinksAndDirectories() {
        let script = """
        for l in fd stdin stdout stderr ptmx core; do echo $l=$(readlink /dev/$l); done
        echo fd-works=$(ls /dev/fd/ | grep -c '^[0-9]')
        echo pts=$(stat -c %F /dev/pts/ptmx)
        echo shm=$(stat -c %F /dev/shm)
        echo mqueue=$(stat -c %F /dev/mqueue)
        echo ls=$(ls /dev | tr '\\n' ' ')
        """
        let r = sh(script)
        XCTAssertEqual(r.status, 0, r.stderr)
        let kv = CT.keyValues(r.stdout)
        XCTAssertEqual(kv["fd"], "/proc/self/fd")
        XCTAssertEqual(kv["stdin"], "/proc/self/fd/0")
        XCTAssertEqual(kv["stdout"], "/proc/self/fd/1")
        XCTAssertEqual(kv["stderr"], "/proc/self/fd/2")
        XCTAssertEqual(kv["ptmx"], "pts/ptmx")
        XCTAssertEqual(kv["core"], "/proc/kcore")
        XCTAssertNotEqual(kv["fd-works"], "0")
        XCTAssertEqual(kv["pts"], "character special file")
        XCTAssertEqual(kv["shm"], "directory")
        XCTAssertEqual(kv["mqueue"], "directory")
        // Nothing of the host's /dev (no disks, no kvm) unless asked for.
        let names = Set((kv["ls"] ?? "").split(separator: " ").map(String.init))
        XCTAssertFalse(names.contains("kvm"), "\(names)")
        XCTAssertFalse(names.contains { $0.hasPrefix("vd") || $0.hasPrefix("sd") || $0 == "mem" }, "\(names)")
    }

    /// linux.devices: nodes appear with their type, numbers, mode and owner; without an
    /// allow rule the device cgroup refuses to open them, while /dev/null still works.
    func testLinuxDevicesWithoutAllowRule() {
        let script = """
        \(Self.statFormat) /dev/kvm /dev/sub/dir/myloop /dev/myfifo
        head -c1 /dev/kvm 2>&1; echo kvm-rc=$?
        echo x > /dev/null && echo null=ok
        """
        let r = sh(script) { c in
            CT.linux(&c) { l in
                l["devices"] = [Self.kvm,
                                ["type": "b", "path": "/dev/sub/dir/myloop", "major": 7, "minor": 0, "fileMode": 0o600],
                                ["type": "p", "path": "/dev/myfifo", "major": 0, "minor": 0, "fileMode": 0o620, "uid": 5, "gid": 6]]
            }
        }
        XCTAssertEqual(r.status, 0, r.stderr)
        let s = stats(r.stdout)
        XCTAssertEqual(s["/dev/kvm"], ["character special file", "a", "e8", "640", "1000", "1001"], r.stdout)
        XCTAssertEqual(s["/dev/sub/dir/myloop"], ["block special file", "7", "0", "600", "0", "0"], r.stdout)
        XCTAssertEqual(s["/dev/myfifo"], ["fifo", "0", "0", "620", "5", "6"], r.stdout)
        XCTAssertTrue(r.stdout.contains("Operation not permitted"), r.stdout)
        XCTAssertNotEqual(CT.keyValues(r.stdout)["kvm-rc"], "0", r.stdout)
        XCTAssertEqual(CT.keyValues(r.stdout)["null"], "ok")
    }

    func testLinuxDeviceWithAllowRule() {
        let script = """
        exec 3</dev/kvm && echo read-open=ok
        exec 4<>/dev/kvm && echo rw-open=ok
        """
        let full = sh(script) { c in
            CT.linux(&c) { l in
                l["devices"] = [Self.kvm]
                var res = l["resources"] as? [String: Any] ?? [:]
                res["devices"] = (res["devices"] as? [[String: Any]] ?? []) +
                    [["allow": true, "type": "c", "major": 10, "minor": 232, "access": "rwm"]]
                l["resources"] = res
            }
        }
        XCTAssertEqual(full.status, 0, full.stderr)
        XCTAssertEqual(full.stdout, "read-open=ok\nrw-open=ok\n", full.stderr)

        // Access "r" only: reading opens, read-write does not.
        let readOnly = sh(script + "\necho done") { c in
            CT.linux(&c) { l in
                l["devices"] = [Self.kvm]
                var res = l["resources"] as? [String: Any] ?? [:]
                res["devices"] = (res["devices"] as? [[String: Any]] ?? []) +
                    [["allow": true, "type": "c", "major": 10, "minor": 232, "access": "r"]]
                l["resources"] = res
            }
        }
        XCTAssertTrue(readOnly.stdout.hasPrefix("read-open=ok\n"), readOnly.stdout + readOnly.stderr)
        XCTAssertFalse(readOnly.stdout.contains("rw-open=ok"), readOnly.stdout)
        XCTAssertTrue(readOnly.stderr.contains("Operation not permitted") || readOnly.stdout.contains("Operation not permitted"),
                      readOnly.stderr)
    }

    /// A node made inside the container (root has CAP_MKNOD and the default "m" rule) cannot
    /// be opened unless the device cgroup allows it.
    func testMknodInsideContainer() {
        let script = """
        mknod /tmp/sda b 8 0 && echo mknod=ok
        head -c1 /tmp/sda 2>&1; echo sda-rc=$?
        mknod /tmp/kvm c 10 232 && (head -c1 /tmp/kvm 2>&1; echo kvm-rc=$?)
        mknod /tmp/null c 1 3 && echo x > /tmp/null && echo null=ok
        mknod /tmp/mem c 1 1 && (head -c1 /tmp/mem 2>&1; echo mem-rc=$?)
        """
        let r = sh(script) { c in
            CT.addMounts(&c, [["destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=1777"]]])
        }
        XCTAssertEqual(r.status, 0, r.stderr)
        let kv = CT.keyValues(r.stdout)
        XCTAssertEqual(kv["mknod"], "ok", r.stdout + r.stderr)
        XCTAssertNotEqual(kv["sda-rc"], "0", r.stdout)
        XCTAssertNotEqual(kv["kvm-rc"], "0", r.stdout)
        XCTAssertNotEqual(kv["mem-rc"], "0", r.stdout)
        XCTAssertEqual(r.stdout.components(separatedBy: "Operation not permitted").count - 1, 3, r.stdout)
        XCTAssertEqual(kv["null"], "ok", r.stdout)
    }

    /// In a user namespace nodes cannot be made: the host's are bind-mounted instead.
    func testDevicesInUserNamespace() {
        let r = sh("\(Self.statFormat) /dev/null /dev/zero; echo x > /dev/null && echo null=ok") { c in
            NamespaceTests.userNSEdit(&c)
        }
        XCTAssertEqual(r.status, 0, r.stderr)
        let s = stats(r.stdout)
        XCTAssertEqual(s["/dev/null"]?.prefix(3), ["character special file", "1", "3"], r.stdout)
        XCTAssertEqual(s["/dev/zero"]?.prefix(3), ["character special file", "1", "5"], r.stdout)
        XCTAssertEqual(CT.keyValues(r.stdout)["null"], "ok")
    }
}
