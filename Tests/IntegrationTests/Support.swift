import Foundation
import XCTest

/// Drives the release skiff binary (SKIFF_BINARY) against bundles built from the busybox
/// bundle that scripts/test.sh assembles (SKIFF_TEST_BUNDLE). Integration tests need root:
/// without it they fail, loudly, rather than skip.
enum IT {
    static let env = ProcessInfo.processInfo.environment
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let binary = env["SKIFF_BINARY"] ?? repo + "/.build/release/skiff"
    static let baseBundle = env["SKIFF_TEST_BUNDLE"] ?? "/tmp/skiff-test/bundle"
    static let rootfs = baseBundle + "/rootfs"
    static let stateRoot = "/run/skiff-it"
    static var counter = 0

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func requireEnvironment(file: StaticString = #filePath, line: UInt = #line) throws {
        guard getuid() == 0 else {
            XCTFail("integration tests must run as root (scripts/test.sh)", file: file, line: line)
            throw XCTSkip("not root")
        }
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            XCTFail("no skiff binary at \(binary): run scripts/test.sh", file: file, line: line)
            throw XCTSkip("no binary")
        }
        guard FileManager.default.fileExists(atPath: rootfs + "/bin/busybox") else {
            XCTFail("no test bundle at \(baseBundle): run scripts/test.sh", file: file, line: line)
            throw XCTSkip("no bundle")
        }
    }

    /// A unique container ID.
    static func id(_ prefix: String = "it") -> String {
        counter += 1
        return "\(prefix)-\(getpid())-\(counter)"
    }

    /// Runs a command; stdin from /dev/null unless given.
    @discardableResult
    static func exec(_ path: String, _ args: [String], stdin: String? = nil, timeout: TimeInterval = 60) -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        let inPipe = Pipe()
        p.standardInput = stdin == nil ? FileHandle.nullDevice : inPipe
        do { try p.run() } catch { return Result(status: -1, stdout: "", stderr: "\(error)") }
        if let stdin {
            inPipe.fileHandleForWriting.write(stdin.data(using: .utf8)!)
            try? inPipe.fileHandleForWriting.close()
        }
        // Read both pipes fully before waiting, so a chatty child never blocks.
        var outData = Data(), errData = Data()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async { outData = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        group.enter()
        DispatchQueue.global().async { errData = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { usleep(2000) }
        if p.isRunning { p.terminate(); kill(p.processIdentifier, SIGKILL) }
        group.wait()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }

    /// skiff with --root set to the test state root.
    @discardableResult
    static func skiff(_ args: [String], root: String = stateRoot, stdin: String? = nil, timeout: TimeInterval = 60) -> Result {
        exec(binary, ["--root", root] + args, stdin: stdin, timeout: timeout)
    }

    static func sh(_ script: String) -> Result { exec("/bin/sh", ["-c", script]) }

    /// The base test config as a mutable JSON dictionary.
    static func baseConfig() -> [String: Any] {
        let data = try! Data(contentsOf: URL(fileURLWithPath: baseBundle + "/config.json"))
        return try! JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    /// Makes a bundle directory whose config points at the shared busybox rootfs.
    /// `args` replaces process.args; `edit` may change anything else.
    static func bundle(args: [String]? = nil, _ edit: (inout [String: Any]) -> Void = { _ in }) -> String {
        let dir = NSTemporaryDirectory() + "skiff-it-\(getpid())-\(counter)-\(UUID().uuidString.prefix(8))"
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var c = baseConfig()
        var root = c["root"] as? [String: Any] ?? [:]
        root["path"] = rootfs
        c["root"] = root
        if let args {
            var p = c["process"] as! [String: Any]
            p["args"] = args
            c["process"] = p
        }
        edit(&c)
        writeConfig(c, to: dir)
        return dir
    }

    static func writeConfig(_ c: [String: Any], to dir: String) {
        let data = try! JSONSerialization.data(withJSONObject: c, options: [.prettyPrinted])
        try! data.write(to: URL(fileURLWithPath: dir + "/config.json"))
    }

    /// Runs a container in the foreground and returns its output and exit status.
    static func run(args: [String], _ edit: (inout [String: Any]) -> Void = { _ in }) -> Result {
        let b = bundle(args: args, edit)
        defer { try? FileManager.default.removeItem(atPath: b) }
        return skiff(["run", "-b", b, id("run")])
    }

    /// Parses `skiff state` output.
    static func state(_ id: String) -> [String: Any]? {
        let r = skiff(["state", id])
        guard r.status == 0, let d = r.stdout.data(using: .utf8) else { return nil }
        return try? JSONSerialization.jsonObject(with: d) as? [String: Any]
    }

    /// What a leak check compares: state dirs, skiff cgroups, mount lines, our open fds.
    struct Footprint: Equatable {
        var stateDirs: [String]
        var cgroups: Int
        var mountLines: Int
        var fds: Int

        /// fds is shown but not compared: skiff runs in its own process, so it cannot leak
        /// into ours, and Foundation closes finished Process pipes lazily (31 -> 30 flakes).
        static func == (a: Footprint, b: Footprint) -> Bool {
            a.stateDirs == b.stateDirs && a.cgroups == b.cgroups && a.mountLines == b.mountLines
        }
    }

    static func footprint(root: String = stateRoot) -> Footprint {
        let dirs = (try? FileManager.default.contentsOfDirectory(atPath: root))?.sorted() ?? []
        let cg = sh("find /sys/fs/cgroup/unified -mindepth 1 -type d 2>/dev/null | wc -l").stdout
        let mounts = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8))?.split(separator: "\n").count ?? -1
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd"))?.count ?? -1
        return Footprint(stateDirs: dirs, cgroups: Int(cg.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1,
                         mountLines: mounts, fds: fds)
    }

    /// Processes whose command line mentions `marker`.
    static func processes(matching marker: String) -> [String] {
        sh("ps -eo pid,args | grep -F -- '\(marker)' | grep -v grep || true").stdout
            .split(separator: "\n").map(String.init)
    }
}
