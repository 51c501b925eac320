import Foundation
import XCTest

/// A container in a new user namespace mapping 0 -> 100000 (65536 ids): root inside,
/// nobody special outside.
final class UserNamespaceTests: XCTestCase {
    var scratch: [String] = []

    override func setUpWithError() throws { try IT.requireEnvironment() }

    override func tearDown() {
        for s in scratch.reversed() { try? FileManager.default.removeItem(atPath: s) }
        scratch = []
        super.tearDown()
    }

    func hostDir(_ name: String) -> String {
        let d = NSTemporaryDirectory() + "skiff-userns-\(name)-\(getpid())-\(UUID().uuidString.prefix(8))"
        try! FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        scratch.append(d)
        return d
    }

    static func field(_ status: String, _ name: String) -> [String] {
        status.split(separator: "\n").first { $0.hasPrefix(name + ":") }
            .map { $0.dropFirst(name.count + 1).split(whereSeparator: { $0 == "\t" || $0 == " " }).map(String.init) } ?? []
    }

    func testRootInsideWithFullCapabilitiesInItsNamespace() throws {
        let script = """
        echo id=$(id -u):$(id -g)
        echo uidmap=$(cat /proc/self/uid_map)
        echo gidmap=$(cat /proc/self/gid_map)
        echo proc1=$(stat -c %u:%g /proc/1)
        echo procself=$(stat -L -c %u:%g /proc/self)
        grep -E '^Cap' /proc/self/status
        hostname inside-ns && echo hostname=$(hostname)
        mkdir /dev/shm/m && mount -t tmpfs none /dev/shm/m && echo mounted=yes
        echo hostroot=$(stat -c %u:%g /bin/busybox)
        """
        let r = IT.run(args: ["sh", "-c", script], NamespaceTests.userNSEdit)
        XCTAssertEqual(r.status, 0, r.stderr)
        let kv = CT.keyValues(r.stdout)
        XCTAssertEqual(kv["id"], "0:0", r.stdout)
        XCTAssertEqual(kv["uidmap"]?.split(separator: " "), ["0", "100000", "65536"], r.stdout)
        XCTAssertEqual(kv["gidmap"]?.split(separator: " "), ["0", "100000", "65536"], r.stdout)
        // The container mounted /proc: it belongs to its root.
        XCTAssertEqual(kv["proc1"], "0:0", r.stdout)
        XCTAssertEqual(kv["procself"], "0:0", r.stdout)
        // Without process.capabilities its root keeps every capability, in its namespace.
        let last = Int(try String(contentsOfFile: "/proc/sys/kernel/cap_last_cap", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines))!
        let full = String((UInt64(1) << UInt64(last + 1)) - 1, radix: 16)
        for f in ["CapPrm", "CapEff", "CapBnd"] {
            XCTAssertEqual(Self.field(r.stdout, f).first.map { String(UInt64($0, radix: 16)!, radix: 16) }, full, "\(f): \(r.stdout)")
        }
        // ...and uses them on what its namespace owns.
        XCTAssertEqual(kv["hostname"], "inside-ns", r.stdout)
        XCTAssertEqual(kv["mounted"], "yes", r.stdout)
        // The host's root is not mapped: its files show as the overflow ids.
        XCTAssertEqual(kv["hostroot"], "65534:65534", r.stdout)
    }

    /// From the host the init runs as 100000 (not root), in a user namespace of its own.
    func testHostSeesShiftedIDs() throws {
        let d = try CT.runDetached(args: ["sleep", "30"], NamespaceTests.userNSEdit)
        defer { CT.remove(d) }
        let status = try String(contentsOfFile: "/proc/\(d.pid)/status", encoding: .utf8)
        XCTAssertEqual(Self.field(status, "Uid"), ["100000", "100000", "100000", "100000"], status)
        XCTAssertEqual(Self.field(status, "Gid"), ["100000", "100000", "100000", "100000"], status)
        let map = try String(contentsOfFile: "/proc/\(d.pid)/uid_map", encoding: .utf8)
        XCTAssertEqual(map.split(whereSeparator: { $0 == " " || $0 == "\n" }), ["0", "100000", "65536"])
        XCTAssertNotEqual(try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(d.pid)/ns/user"), CT.hostNS("user"))
    }

    /// Files the container makes in a writable host directory land with host id
    /// 100000 + n for its id n.
    func testFilesInBoundHostDirectoryLandShifted() throws {
        let rootfs = CT.rootfsCopy()
        scratch.append(rootfs)
        try FileManager.default.createDirectory(atPath: rootfs + "/data", withIntermediateDirectories: true)
        let data = hostDir("data")
        chmod(data, 0o777)
        func run(_ script: String, uid: Int) -> IT.Result {
            IT.run(args: ["sh", "-c", script]) { c in
                NamespaceTests.userNSEdit(&c)
                CT.useRootfs(&c, rootfs)
                CT.addMounts(&c, [["destination": "/data", "type": "bind", "source": data, "options": ["rbind", "rw"]]])
                CT.process(&c) { $0["user"] = ["uid": uid, "gid": uid] }
            }
        }
        let asRoot = run("touch /data/by-root && mkdir /data/dir && chown 5:7 /data/dir && stat -c %u:%g /data/dir", uid: 0)
        XCTAssertEqual(asRoot.status, 0, asRoot.stderr)
        XCTAssertEqual(asRoot.stdout, "5:7\n")
        let asUser = run("touch /data/by-1000 && stat -c %u:%g /data/by-1000", uid: 1000)
        XCTAssertEqual(asUser.status, 0, asUser.stderr)
        XCTAssertEqual(asUser.stdout, "1000:1000\n")

        func owner(_ p: String) -> String {
            let a = (try? FileManager.default.attributesOfItem(atPath: data + "/" + p)) ?? [:]
            return "\((a[.ownerAccountID] as? NSNumber)?.intValue ?? -1):\((a[.groupOwnerAccountID] as? NSNumber)?.intValue ?? -1)"
        }
        XCTAssertEqual(owner("by-root"), "100000:100000")
        XCTAssertEqual(owner("dir"), "100005:100007")
        XCTAssertEqual(owner("by-1000"), "101000:101000")
    }
}
