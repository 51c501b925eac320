import Foundation
import Glibc
import XCTest

/// The start-up trace (--trace, SKIFF_TRACE=text|json): every phase named, with its time.
final class TraceTests: XCTestCase {
    override func setUpWithError() throws { try IT.requireEnvironment() }

    func traced(_ env: String, flag: Bool = false, args: [String]) -> IT.Result {
        IT.exec("/usr/bin/env", ["SKIFF_TRACE=\(env)", IT.binary, "--root", IT.stateRoot] + (flag ? ["--trace"] : []) + args)
    }

    /// `--trace create` of a sleeping container, deleted with its bundle when the test ends.
    func tracedCreate(_ prefix: String) -> (id: String, result: IT.Result) {
        let b = IT.bundle(args: ["sleep", "100"])
        let id = IT.id(prefix)
        addTeardownBlock {
            IT.skiff(["delete", "--force", id])
            try? FileManager.default.removeItem(atPath: b)
        }
        return (id, IT.skiffDetached(["--trace", "create", "-b", b, id]))
    }

    /// JSON lines, one per phase, from the re-exec to delete; the init's phases included.
    func testRunTraceAsJSON() throws {
        let b = IT.bundle(args: ["true"])
        defer { try? FileManager.default.removeItem(atPath: b) }
        let r = traced("json", args: ["run", "-b", b, IT.id("trace")])
        XCTAssertEqual(r.status, 0, r.stderr)
        var phases: [String] = []
        for line in r.stderr.split(separator: "\n") {
            let o = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], String(line))
            XCTAssertEqual(o["trace"] as? String, "run")
            XCTAssertNotNil(o["us"] as? Int, String(line))
            phases.append(try XCTUnwrap(o["phase"] as? String))
        }
        for p in ["create/parse", "create/cgroup", "create/clone", "create/init/namespaces", "create/init/mount /proc",
                  "create/init/devices", "create/init/pivot_root", "create/init/masked paths",
                  "create/init/capabilities, user", "create/init set-up", "create/state save",
                  "start/wait for the exec", "run/the program ran", "delete/remove cgroup", "delete/remove state dir"] {
            XCTAssertTrue(phases.contains(p), "\(p) in \(phases)")
        }
        // The CVE-2019-5736 protection is its own phase, unless the binary is on a read-only mount.
        XCTAssertTrue(phases.contains("run/reexec") || phases.contains("run/check binary"), "\(phases)")
    }

    /// As root, create, run and exec re-exec from the read-only view of the binary before the
    /// Swift runtime starts (CSkiffEarly): the trace shows that as `reexec`, with no
    /// `protect binary` phase of a Swift first image, and the time handed over never reaches
    /// a container's process, even when "--trace" is only an argument of the process.
    func testEarlyReexecIsTracedAndLeavesNothingBehind() throws {
        var fs = statvfs()
        XCTAssertEqual(statvfs(IT.binary, &fs), 0)
        guard fs.f_flag & UInt(ST_RDONLY) == 0 else {
            return XCTFail("\(IT.binary) is on a read-only mount: skiff needs no re-exec there; test with a writable build")
        }
        let (id, c) = tracedCreate("early")
        XCTAssertEqual(c.status, 0, c.stderr)
        XCTAssertTrue(c.stderr.contains(" us  create/reexec\n"), c.stderr)
        XCTAssertFalse(c.stderr.contains("protect binary"), c.stderr)
        XCTAssertEqual(IT.skiff(["start", id]).status, 0)
        let e = IT.skiff(["exec", id, "sh", "-c", "env", "--trace"])
        XCTAssertEqual(e.status, 0, e.stderr)
        XCTAssertTrue(e.stdout.contains("PATH="), e.stdout)
        XCTAssertFalse(e.stdout.contains("SKIFF_"), e.stdout)
        let t = traced("text", args: ["exec", id, "true"])
        XCTAssertTrue(t.stderr.contains(" us  exec/reexec\n"), t.stderr)
    }

    /// --trace prints text: the microseconds, then the phase; exec has its own phases.
    func testTextTraceForCreateStartExecDelete() {
        let (id, c) = tracedCreate("trace")
        XCTAssertEqual(c.status, 0, c.stderr)
        for line in c.stderr.split(separator: "\n") {
            let f = line.dropFirst("skiff trace:".count).components(separatedBy: " us  ")
            XCTAssertTrue(line.hasPrefix("skiff trace: ") && f.count == 2 && Int(f[0].trimmingCharacters(in: .whitespaces)) != nil
                          && f[1].hasPrefix("create/"), String(line))
        }
        XCTAssertTrue(c.stderr.contains(" us  create/init/pivot_root"), c.stderr)
        let s = IT.exec(IT.binary, ["--root", IT.stateRoot, "--trace", "start", id])
        XCTAssertTrue(s.stderr.contains(" us  start/release the init"), s.stderr)
        let e = traced("text", args: ["exec", id, "true"])
        XCTAssertEqual(e.status, 0, e.stderr)
        for p in ["exec/load state and config", "exec/clone", "exec/process/namespaces", "exec/process set-up until exec", "exec/the program ran"] {
            XCTAssertTrue(e.stderr.contains(" us  \(p)\n"), "\(p) in \(e.stderr)")
        }
        let d = traced("text", args: ["delete", "--force", id])
        XCTAssertTrue(d.stderr.contains(" us  delete/kill\n"), d.stderr)
    }

    /// Off (unset, empty or 0), nothing is printed.
    func testOffByDefault() {
        let b = IT.bundle(args: ["true"])
        defer { try? FileManager.default.removeItem(atPath: b) }
        for v in ["", "0"] {
            let r = traced(v, args: ["run", "-b", b, IT.id("trace")])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertEqual(r.stderr, "")
        }
    }
}
