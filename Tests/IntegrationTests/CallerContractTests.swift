import Foundation
import XCTest

/// What containerd's shim, conmon/Podman, CRI-O and Docker call and parse, in runc's
/// shapes: --help per command, --version's first line, features, the words callers
/// match on, quiet runs of the configs callers generate, and configs without namespaces.
final class CallerContractTests: XCTestCase {
    override func setUpWithError() throws { try IT.requireEnvironment() }

    static let commands = ["create", "run", "start", "exec", "state", "kill", "delete", "list", "spec", "pause",
                           "resume", "ps", "update", "events", "features", "help"]

    func testEveryCommandHasHelp() {
        for c in Self.commands {
            for flag in ["--help", "-h"] {
                let r = IT.exec(IT.binary, [c, flag])
                XCTAssertEqual(r.status, 0, "\(c) \(flag): \(r.stderr)")
                XCTAssertTrue(r.stdout.hasPrefix("NAME:\n   skiff \(c) - "), "\(c): \(r.stdout)")
                XCTAssertTrue(r.stdout.contains("USAGE:\n   skiff \(c)"), r.stdout)
                XCTAssertTrue(r.stdout.contains("OPTIONS:"), r.stdout)
                XCTAssertEqual(r.stderr, "")
            }
            XCTAssertEqual(IT.exec(IT.binary, ["help", c]).stdout, IT.exec(IT.binary, [c, "--help"]).stdout)
        }
        let create = IT.exec(IT.binary, ["create", "--help"]).stdout
        for flag in ["--bundle value, -b value", "--pid-file value", "--console-socket value", "--no-pivot", "--no-new-keyring", "--preserve-fds value"] {
            XCTAssertTrue(create.contains(flag), "create --help lists \(flag)")
        }
        let top = IT.exec(IT.binary, ["--help"])
        XCTAssertEqual(top.status, 0)
        for c in Self.commands { XCTAssertTrue(top.stdout.contains("\n   \(c) "), "global help lists \(c)") }
        let unknown = IT.exec(IT.binary, ["no-such-command"])
        XCTAssertEqual(unknown.status, 1)
        XCTAssertTrue(unknown.stderr.contains("No help topic for 'no-such-command'"), unknown.stderr)
    }

    /// go-runc's Version() reads "<name> version <v>" from the first line and "spec: " after.
    func testVersionShape() {
        let lines = IT.exec(IT.binary, ["--version"]).stdout.split(separator: "\n")
        XCTAssertEqual(lines.first?.split(separator: " ").count, 3, "\(lines)")
        XCTAssertEqual(lines.first?.split(separator: " ").dropFirst().first, "version")
        XCTAssertTrue(lines.contains { $0.hasPrefix("spec: ") })
    }

    /// CRI-O reads features with stderr merged into stdout: it must be JSON alone; dockerd,
    /// containerd 2.x and CRI-O look at cgroup.systemd.
    func testFeaturesMergedWithStderr() throws {
        let r = IT.sh("'\(IT.binary)' features 2>&1")
        XCTAssertEqual(r.status, 0)
        let f = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout)
        let cgroup = (f["linux"] as? [String: Any])?["cgroup"] as? [String: Any]
        XCTAssertEqual(cgroup?["systemd"] as? Bool, true)
        XCTAssertEqual(cgroup?["v2"] as? Bool, true)
    }

    /// containerd's kill logic matches "does not exist" and "container not running".
    func testWordsCallersMatch() throws {
        for args in [["delete", "no-such-ct"], ["kill", "no-such-ct", "9"], ["state", "no-such-ct"], ["exec", "no-such-ct", "true"]] {
            let r = IT.skiff(args)
            XCTAssertEqual(r.status, 1, "\(args)")
            XCTAssertTrue(r.stderr.contains("does not exist"), "\(args): \(r.stderr)")
        }
        XCTAssertEqual(IT.skiff(["delete", "--force", "no-such-ct"]).status, 0, "delete --force of nothing succeeds")

        let b = IT.bundle(args: ["true"])
        defer { try? FileManager.default.removeItem(atPath: b) }
        let id = IT.id("words")
        defer { IT.skiff(["delete", "-f", id]) }
        IT.sh("'\(IT.binary)' --root '\(IT.stateRoot)' run -d -b '\(b)' '\(id)' </dev/null >/dev/null 2>&1")
        for _ in 0..<100 where (IT.state(id)?["status"] as? String) != "stopped" { usleep(20000) }
        let k = IT.skiff(["kill", id, "KILL"])
        XCTAssertEqual(k.status, 1)
        XCTAssertTrue(k.stderr.contains("container not running"), k.stderr)
        XCTAssertEqual(IT.skiff(["kill", "--all", id, "9"]).status, 0, "kill --all on a stopped container's leftovers")
    }

    /// The shim's and conmon's call shapes on a live container: kill with a number and a
    /// name, kill -a, ps --format json, update --resources - (stdin) and FILE, state's created.
    func testCallShapes() throws {
        let d = try CT.runDetached(args: ["sleep", "1000"])
        defer { CT.remove(d) }
        let st = try XCTUnwrap(IT.state(d.id))
        XCTAssertFalse((st["created"] as? String ?? "").isEmpty, "\(st)")
        let ps = IT.skiff(["ps", "--format", "json", d.id])
        XCTAssertEqual(ps.status, 0, ps.stderr)
        XCTAssertEqual(try JSONSerialization.jsonObject(with: Data(ps.stdout.utf8)) as? [Int], [Int(d.pid)])
        // No limits can be applied on this host's cgroup2 (hybrid: hugetlb only), but an empty
        // update is taken from stdin and from a file alike.
        XCTAssertEqual(IT.skiff(["update", "--resources", "-", d.id], stdin: "{}").status, 0)
        try "{}".write(toFile: d.bundle + "/res.json", atomically: true, encoding: .utf8)
        XCTAssertEqual(IT.skiff(["update", "--resources", d.bundle + "/res.json", d.id]).status, 0)
        XCTAssertEqual(IT.skiff(["kill", d.id, "CONT"]).status, 0, "a name without SIG (CRI-O)")
        XCTAssertEqual(IT.skiff(["kill", "-a", d.id, "18"]).status, 0)
        XCTAssertEqual(IT.skiff(["kill", d.id, "9"]).status, 0)
        for _ in 0..<100 where (IT.state(d.id)?["status"] as? String) != "stopped" { usleep(20000) }
        XCTAssertEqual(IT.state(d.id)?["status"] as? String, "stopped")
    }

    /// containerd 1.6's shim may pass --criu; the global flags come in its order.
    func testShimGlobalFlags() throws {
        let b = IT.bundle(args: ["true"])
        defer { try? FileManager.default.removeItem(atPath: b) }
        let id = IT.id("shim")
        let log = b + "/log.json"
        let r = IT.exec(IT.binary, ["--root", IT.stateRoot, "--log", log, "--log-format", "json", "--criu", "/usr/sbin/criu",
                                    "run", "--bundle", b, "--pid-file", b + "/pid", "--no-new-keyring", id])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stderr, "")
        IT.skiff(["delete", "-f", id])
    }

    /// runc's own default spec (`runc spec`, whose ambient caps are not inheritable) runs
    /// without a word on stderr, as under runc 1.1 and crun.
    func testRuncDefaultSpecRunsQuietly() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/runc") else {
            return XCTFail("needs Debian's runc (scripts/install-deps.sh installs it)")
        }
        let dir = IT.lcTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        XCTAssertEqual(IT.exec("/usr/sbin/runc", ["spec", "--bundle", dir]).status, 0)
        var c = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/config.json"))) as? [String: Any])
        XCTAssertNotNil(((c["process"] as? [String: Any])?["capabilities"] as? [String: Any])?["ambient"], "runc's spec lists ambient caps")
        CT.useRootfs(&c, IT.rootfs)
        CT.process(&c) { p in
            p["terminal"] = false
            p["args"] = ["sh", "-c", "echo ran"]
        }
        IT.writeConfig(c, to: dir)
        let r = IT.skiff(["run", "-b", dir, IT.id("runcspec")])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "ran\n")
        XCTAssertEqual(r.stderr, "", "nothing on stderr")
        // --debug still tells what happened.
        let dbg = IT.skiff(["--debug", "run", "-b", dir, IT.id("runcspec")])
        XCTAssertTrue(dbg.stderr.contains("can't raise ambient capability"), dbg.stderr)
    }

    /// runtime-spec: a namespace type not listed is the runtime's. With none listed the
    /// process shares every namespace with the host; as under runc its mounts are made in
    /// the host's mount namespace, under the rootfs, and it is chrooted there. Unlike runc,
    /// delete takes those mounts down.
    func testConfigWithoutNamespaces() throws {
        let rootfs = CT.rootfsCopy()
        defer { try? FileManager.default.removeItem(atPath: rootfs) }
        let script = "for n in pid net ipc uts mnt cgroup user; do echo $n=$(readlink /proc/self/ns/$n); done; echo name=$(cat /etc/hostname)"
        let r = IT.run(args: ["/bin/sh", "-c", script]) { c in
            CT.useRootfs(&c, rootfs)
            CT.linux(&c) { l in
                l["namespaces"] = [] as [Any]
                l["maskedPaths"] = [] as [Any]
                l["readonlyPaths"] = [] as [Any]
            }
            c.removeValue(forKey: "hostname")
        }
        XCTAssertEqual(r.status, 0, r.stderr)
        let kv = CT.keyValues(r.stdout)
        for kind in ["pid", "net", "ipc", "uts", "mnt", "cgroup", "user"] {
            XCTAssertEqual(kv[kind], CT.hostNS(kind), "\(kind): \(r.stdout)")
        }
        XCTAssertEqual(kv["name"], "skiff", "chrooted into the rootfs")
        XCTAssertEqual(r.stderr, "")
        let mounts = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        XCTAssertFalse(mounts.contains(" \(rootfs)/"), "delete unmounted what the container mounted: \(mounts)")
        // What cannot be done without a mount namespace is refused, naming the field.
        let masked = IT.run(args: ["true"]) { c in
            CT.linux(&c) { $0["namespaces"] = [] as [Any] }
            c.removeValue(forKey: "hostname")
        }
        XCTAssertEqual(masked.status, 1)
        XCTAssertTrue(masked.stderr.contains("linux.maskedPaths") || masked.stderr.contains("linux.readonlyPaths"), masked.stderr)
    }
}
