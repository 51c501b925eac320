import Foundation
import XCTest

/// Helpers shared by the container-feature tests (Namespace/Mount/Process/Device/Console).
enum CT {
    /// The test process's own namespace link, e.g. "net:[4026531833]".
    static func hostNS(_ kind: String) -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/\(kind)")) ?? "?"
    }

    /// Parses "key=value" lines.
    static func keyValues(_ s: String) -> [String: String] {
        var d: [String: String] = [:]
        for line in s.split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            d[String(line[..<eq])] = String(line[line.index(after: eq)...])
        }
        return d
    }

    static func process(_ c: inout [String: Any], _ edit: (inout [String: Any]) -> Void) {
        var p = c["process"] as! [String: Any]
        edit(&p)
        c["process"] = p
    }

    static func linux(_ c: inout [String: Any], _ edit: (inout [String: Any]) -> Void) {
        var l = c["linux"] as? [String: Any] ?? [:]
        edit(&l)
        c["linux"] = l
    }

    static func setNamespaces(_ c: inout [String: Any], _ ns: [[String: Any]]) {
        linux(&c) { $0["namespaces"] = ns }
    }

    static func namespaces(_ types: [String]) -> [[String: Any]] {
        types.map { ["type": $0] }
    }

    static func addMounts(_ c: inout [String: Any], _ extra: [[String: Any]]) {
        let m = c["mounts"] as? [[String: Any]] ?? []
        c["mounts"] = m + extra
    }

    /// A detached container, started with `run -d`; stdio goes to files so that no pipe
    /// stays open in the container (which would block IT.exec's reads).
    struct Detached {
        var id: String
        var bundle: String
        var pid: Int32
    }

    static func runDetached(args: [String], _ edit: (inout [String: Any]) -> Void = { _ in }) throws -> Detached {
        let b = IT.bundle(args: args, edit)
        let id = IT.id("ct-bg")
        let r = IT.sh("'\(IT.binary)' --root '\(IT.stateRoot)' run -d -b '\(b)' '\(id)' </dev/null >'\(b)/out' 2>'\(b)/err'; echo $?; cat '\(b)/err'")
        guard r.stdout.hasPrefix("0\n"), let st = IT.state(id), let pid = st["pid"] as? Int, pid > 0 else {
            IT.skiff(["delete", "-f", id])
            try? FileManager.default.removeItem(atPath: b)
            throw XCTSkip("could not start a detached container: \(r.stdout) \(r.stderr)")
        }
        return Detached(id: id, bundle: b, pid: Int32(pid))
    }

    static func remove(_ d: Detached) {
        IT.skiff(["kill", d.id, "KILL"])
        for _ in 0..<100 {
            if (IT.state(d.id)?["status"] as? String) != "running" { break }
            usleep(20000)
        }
        IT.skiff(["delete", "-f", d.id])
        try? FileManager.default.removeItem(atPath: d.bundle)
    }

    /// A copy of the busybox rootfs the test may modify (removed by the caller).
    static func rootfsCopy() -> String {
        let dir = NSTemporaryDirectory() + "skiff-ct-rootfs-\(getpid())-\(UUID().uuidString.prefix(8))"
        let r = IT.sh("mkdir -p '\(dir)' && cp -a '\(IT.rootfs)/.' '\(dir)/'")
        precondition(r.status == 0, r.stderr)
        return dir
    }

    static func useRootfs(_ c: inout [String: Any], _ path: String, readonly: Bool? = nil) {
        var root = c["root"] as? [String: Any] ?? [:]
        root["path"] = path
        if let readonly { root["readonly"] = readonly }
        c["root"] = root
    }
}

final class NamespaceTests: XCTestCase {
    override func setUpWithError() throws { try IT.requireEnvironment() }

    static let allKinds = ["pid", "net", "ipc", "uts", "mnt", "cgroup", "user", "time"]
    static let printNS = "for n in pid net ipc uts mnt cgroup user time; do echo $n=$(readlink /proc/self/ns/$n); done"

    private func nsInside(_ edit: @escaping (inout [String: Any]) -> Void = { _ in },
                          file: StaticString = #filePath, line: UInt = #line) -> [String: String] {
        let r = IT.run(args: ["sh", "-c", Self.printNS], edit)
        XCTAssertEqual(r.status, 0, r.stderr, file: file, line: line)
        return CT.keyValues(r.stdout)
    }

    /// The demo config's namespaces (pid, network, ipc, uts, mount, cgroup) are new; user
    /// and time (not requested) are the host's.
    func testDefaultNamespacesAreNewOthersShared() {
        let ns = nsInside()
        for k in ["pid", "net", "ipc", "uts", "mnt", "cgroup"] {
            XCTAssertNotNil(ns[k], k)
            XCTAssertNotEqual(ns[k], CT.hostNS(k), "\(k) should be a new namespace")
            XCTAssertTrue(ns[k]?.hasPrefix(k == "mnt" ? "mnt:[" : "\(k):[") ?? false, "\(k): \(ns[k] ?? "nil")")
        }
        for k in ["user", "time"] {
            XCTAssertEqual(ns[k], CT.hostNS(k), "\(k) not requested: must be the host's")
        }
    }

    /// Only a mount namespace: everything else is the host's.
    func testOnlyMountNamespace() {
        let ns = nsInside { c in
            CT.setNamespaces(&c, CT.namespaces(["mount"]))
            c["hostname"] = nil  // needs a uts namespace
            // Without a netns, sysfs cannot be mounted fresh by everyone; keep it simple.
            c["mounts"] = (c["mounts"] as! [[String: Any]]).filter { ($0["destination"] as! String) != "/sys/fs/cgroup" }
        }
        XCTAssertNotEqual(ns["mnt"], CT.hostNS("mnt"))
        for k in ["pid", "net", "ipc", "uts", "cgroup", "user", "time"] {
            XCTAssertEqual(ns[k], CT.hostNS(k), "\(k) not requested: must be the host's")
        }
    }

    /// Each namespace kind requested alone (plus the mandatory mount namespace) is new.
    func testEachKindAlone() {
        let kinds: [(config: String, link: String)] = [("pid", "pid"), ("network", "net"), ("ipc", "ipc"),
                                                       ("uts", "uts"), ("cgroup", "cgroup"), ("time", "time")]
        for (config, link) in kinds {
            let ns = nsInside { c in
                CT.setNamespaces(&c, CT.namespaces(["mount", config]))
                c["mounts"] = (c["mounts"] as! [[String: Any]]).filter { ($0["destination"] as! String) != "/sys/fs/cgroup" }
                if config != "uts" { c["hostname"] = nil }
            }
            XCTAssertNotNil(ns[link], config)
            XCTAssertNotEqual(ns[link], CT.hostNS(link), "\(config) requested: must be new")
            for other in Self.allKinds where other != link && other != "mnt" {
                XCTAssertEqual(ns[other], CT.hostNS(other), "only \(config) requested, \(other) must be the host's")
            }
        }
    }

    static func userNSEdit(_ c: inout [String: Any]) {
        CT.linux(&c) { l in
            l["namespaces"] = CT.namespaces(["pid", "network", "ipc", "uts", "mount", "cgroup", "user"])
            l["uidMappings"] = [["containerID": 0, "hostID": 100000, "size": 65536]]
            l["gidMappings"] = [["containerID": 0, "hostID": 100000, "size": 65536]]
        }
    }

    func testUserNamespace() {
        let r = IT.run(args: ["sh", "-c", Self.printNS + "; echo uidmap=$(cat /proc/self/uid_map | tr -s ' ' ' '); echo gidmap=$(cat /proc/self/gid_map | tr -s ' ' ' '); echo id=$(id -u):$(id -g); echo owner=$(stat -c %u:%g /bin/busybox); echo ok=$(busybox true && echo yes)"],
                       Self.userNSEdit)
        XCTAssertEqual(r.status, 0, r.stderr)
        let ns = CT.keyValues(r.stdout)
        XCTAssertNotEqual(ns["user"], CT.hostNS("user"), r.stdout)
        XCTAssertNotNil(ns["user"])
        XCTAssertEqual(ns["uidmap"]?.split(separator: " ").joined(separator: " "), "0 100000 65536", r.stdout)
        XCTAssertEqual(ns["gidmap"]?.split(separator: " ").joined(separator: " "), "0 100000 65536", r.stdout)
        XCTAssertEqual(ns["id"], "0:0", r.stdout)
        // Host root is not mapped: the rootfs files show as the overflow ids.
        XCTAssertEqual(ns["owner"], "65534:65534", r.stdout)
        XCTAssertEqual(ns["ok"], "yes", r.stdout)
        for k in ["pid", "net", "ipc", "uts", "mnt", "cgroup"] {
            XCTAssertNotEqual(ns[k], CT.hostNS(k), k)
        }
        XCTAssertEqual(ns["time"], CT.hostNS("time"))
    }

    func testUserNamespaceHostUID() throws {
        let d = try CT.runDetached(args: ["sleep", "30"], Self.userNSEdit)
        defer { CT.remove(d) }
        let status = (try? String(contentsOfFile: "/proc/\(d.pid)/status", encoding: .utf8)) ?? ""
        let uidLine = status.split(separator: "\n").first { $0.hasPrefix("Uid:") }.map(String.init) ?? ""
        XCTAssertEqual(uidLine.split(whereSeparator: { $0 == "\t" || $0 == " " }).dropFirst().first, "100000", uidLine)
    }

    func testTimeNamespaceOffsets() {
        let year = 86400 * 365
        let hostUptime = (try? String(contentsOfFile: "/proc/uptime", encoding: .utf8)).flatMap { Double($0.split(separator: " ")[0]) } ?? -1
        let r = IT.run(args: ["sh", "-c", "echo time=$(readlink /proc/self/ns/time); cat /proc/self/timens_offsets; echo uptime=$(cut -d' ' -f1 /proc/uptime)"]) { c in
            CT.linux(&c) { l in
                l["namespaces"] = (l["namespaces"] as! [[String: Any]]) + [["type": "time"]]
                l["timeOffsets"] = ["monotonic": ["secs": year], "boottime": ["secs": year]]
            }
        }
        XCTAssertEqual(r.status, 0, r.stderr)
        let kv = CT.keyValues(r.stdout)
        XCTAssertNotEqual(kv["time"], CT.hostNS("time"))
        XCTAssertTrue(r.stdout.contains(#"monotonic"#), r.stdout)
        let offsets = r.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
        XCTAssertTrue(offsets.contains(["monotonic", String(year), "0"]), r.stdout)
        XCTAssertTrue(offsets.contains(["boottime", String(year), "0"]), r.stdout)
        // /proc/uptime follows CLOCK_BOOTTIME, shifted by the boottime offset.
        let inside = Double(kv["uptime"] ?? "") ?? -1
        XCTAssertEqual(inside - hostUptime, Double(year), accuracy: 30, r.stdout)
    }

    /// Only a monotonic offset (the brief's example): it shows in timens_offsets; uptime is unchanged.
    func testTimeNamespaceMonotonicOnly() {
        let year = 86400 * 365
        let r = IT.run(args: ["sh", "-c", "cat /proc/self/timens_offsets"]) { c in
            CT.linux(&c) { l in
                l["namespaces"] = (l["namespaces"] as! [[String: Any]]) + [["type": "time"]]
                l["timeOffsets"] = ["monotonic": ["secs": year, "nanosecs": 5]]
            }
        }
        XCTAssertEqual(r.status, 0, r.stderr)
        let offsets = r.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
        XCTAssertTrue(offsets.contains(["monotonic", String(year), "5"]), r.stdout)
        XCTAssertTrue(offsets.contains(["boottime", "0", "0"]), r.stdout)
    }

    func testJoinNetIpcUtsByPath() throws {
        let a = try CT.runDetached(args: ["sleep", "60"])
        defer { CT.remove(a) }
        func link(_ k: String) -> String {
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(a.pid)/ns/\(k)")) ?? "?"
        }
        let r = IT.run(args: ["sh", "-c", Self.printNS + "; echo hostname=$(hostname)"]) { c in
            CT.setNamespaces(&c, [["type": "pid"], ["type": "mount"], ["type": "cgroup"],
                                  ["type": "network", "path": "/proc/\(a.pid)/ns/net"],
                                  ["type": "ipc", "path": "/proc/\(a.pid)/ns/ipc"],
                                  ["type": "uts", "path": "/proc/\(a.pid)/ns/uts"]])
            c["hostname"] = nil  // a joined uts namespace keeps A's hostname
        }
        XCTAssertEqual(r.status, 0, r.stderr)
        let ns = CT.keyValues(r.stdout)
        for k in ["net", "ipc", "uts"] {
            XCTAssertEqual(ns[k], link(k), "\(k) joined by path")
            XCTAssertNotEqual(ns[k], CT.hostNS(k))
        }
        XCTAssertNotEqual(ns["pid"], link("pid"), "pid not joined")
        XCTAssertNotEqual(ns["mnt"], link("mnt"), "mnt not joined")
        XCTAssertEqual(ns["hostname"], "skiff-demo", "A's hostname is seen in its uts namespace")
    }

    func testJoinPidNamespaceByPath() throws {
        let a = try CT.runDetached(args: ["sleep", "61"])
        defer { CT.remove(a) }
        let r = IT.run(args: ["sh", "-c", "echo pid=$(readlink /proc/self/ns/pid); ps -o pid,args"]) { c in
            CT.setNamespaces(&c, [["type": "pid", "path": "/proc/\(a.pid)/ns/pid"], ["type": "mount"],
                                  ["type": "network"], ["type": "ipc"], ["type": "uts"], ["type": "cgroup"]])
        }
        XCTAssertEqual(r.status, 0, r.stderr)
        let apid = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(a.pid)/ns/pid")) ?? "?"
        XCTAssertEqual(CT.keyValues(r.stdout)["pid"], apid, r.stdout)
        // A's init is pid 1 of that namespace; B sees it.
        XCTAssertTrue(r.stdout.split(separator: "\n").contains { l in
            let f = l.split(separator: " ", omittingEmptySubsequences: true)
            return f.first == "1" && l.contains("sleep 61")
        }, r.stdout)
    }
}
