import Foundation
import XCTest
import Glibc
import SkiffRuntime

/// `skiff update` and `skiff events` on this hybrid host, whose cgroup2 has only the
/// hugetlb controller (memory, cpu, pids and io are tested in the VM): limits that can
/// land do, the ones that cannot fail naming the controller and change nothing, stats
/// are real numbers where the files exist and runc's zeros where they do not.
final class UpdateEventsTests: XCTestCase {
    override func setUpWithError() throws { try IT.requireEnvironment() }

    static let mb2 = 2 * 1024 * 1024

    /// stderr with the log line's \" unescaped.
    func msg(_ r: IT.Result) -> String { r.stderr.replacingOccurrences(of: #"\""#, with: "\"") }

    func read(_ path: String) -> String {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A started `sleep` container with a 2MB hugetlb limit of `pages` pages.
    func started(pages: Int = 2, _ edit: @escaping (inout [String: Any]) -> Void = { _ in }) -> IT.Created {
        let c = IT.lcCreate(["sleep", "1000"]) { c in
            CT.linux(&c) { $0["resources"] = ["hugepageLimits": [["pageSize": "2MB", "limit": pages * Self.mb2]]] }
            edit(&c)
        }
        XCTAssertEqual(c.result.status, 0, c.result.stderr)
        XCTAssertEqual(IT.skiff(["start", c.id]).status, 0)
        XCTAssertEqual(IT.lcStatus(c.id), "running")
        return c
    }

    /// The saved linux.resources in state.json.
    func savedResources(_ id: String) -> [String: Any]? {
        guard let d = FileManager.default.contents(atPath: "\(IT.stateRoot)/\(id)/state.json"),
              let o = try? JSONSerialization.jsonObject(with: d) as? [String: Any] else { return nil }
        return o["resources"] as? [String: Any]
    }

    // MARK: - update

    func testHugetlbUpdateLandsOnRunningContainer() throws {
        let c = started()
        defer { c.cleanup() }
        let cg = IT.lcCgroup(c.id)
        XCTAssertEqual(read(cg + "/hugetlb.2MB.max"), "\(2 * Self.mb2)")

        let r = IT.skiff(["update", "--resources", "-", c.id], stdin: #"{"hugepageLimits":[{"pageSize":"2MB","limit":\#(8 * Self.mb2)}]}"#)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(read(cg + "/hugetlb.2MB.max"), "\(8 * Self.mb2)")
        XCTAssertEqual(IT.lcStatus(c.id), "running")
        let limits = savedResources(c.id)?["hugepageLimits"] as? [[String: Any]]
        XCTAssertEqual(limits?.count, 1, "upserted by pageSize")
        XCTAssertEqual(limits?.first?["limit"] as? Int, 8 * Self.mb2, "the merge is saved")

        // From a file, with -r; a second update keeps the first's hugetlb limit.
        let dir = IT.lcTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try #"{"hugepageLimits":[{"pageSize":"2MB","limit":\#(4 * Self.mb2)}]}"#.write(toFile: dir + "/r.json", atomically: true, encoding: .utf8)
        XCTAssertEqual(IT.skiff(["update", "-r", dir + "/r.json", c.id]).status, 0)
        XCTAssertEqual(read(cg + "/hugetlb.2MB.max"), "\(4 * Self.mb2)")
        let again = IT.skiff(["update", "--resources", "-", c.id], stdin: #"{"unified":{"cgroup.max.descendants":"5"}}"#)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(read(cg + "/cgroup.max.descendants"), "5")
        XCTAssertEqual(read(cg + "/hugetlb.2MB.max"), "\(4 * Self.mb2)")
    }

    func testMemoryUpdateFailsNamingControllerAndChangesNothing() throws {
        let c = started()
        defer { c.cleanup() }
        let cg = IT.lcCgroup(c.id)
        let before = savedResources(c.id)
        XCTAssertFalse(FileManager.default.fileExists(atPath: cg + "/memory.max"), "this host's cgroup2 has no memory controller")

        for args in [["--memory", "64m"], ["--pids-limit", "10"], ["--cpu-quota", "50000", "--cpu-period", "100000"]] {
            let r = IT.skiff(["update"] + args + [c.id])
            XCTAssertEqual(r.status, 1, "\(args)")
            let controller = args[0] == "--memory" ? "memory" : args[0] == "--pids-limit" ? "pids" : "cpu"
            XCTAssertTrue(msg(r).contains(#"cgroup controller "\#(controller)" is not available"#), "\(args): \(r.stderr)")
        }
        // One update mixing a limit that could land with one that cannot: neither lands.
        let mixed = IT.skiff(["update", "-r", "-", c.id],
                             stdin: #"{"memory":{"limit":67108864},"hugepageLimits":[{"pageSize":"2MB","limit":\#(6 * Self.mb2)}]}"#)
        XCTAssertEqual(mixed.status, 1)
        XCTAssertTrue(msg(mixed).contains("linux.resources.memory.limit"), mixed.stderr)

        XCTAssertEqual(IT.lcStatus(c.id), "running")
        XCTAssertEqual(read(cg + "/hugetlb.2MB.max"), "\(2 * Self.mb2)", "old limit intact")
        XCTAssertEqual(savedResources(c.id)?.keys.sorted(), before?.keys.sorted(), "saved resources unchanged")
        XCTAssertEqual((savedResources(c.id)?["hugepageLimits"] as? [[String: Any]])?.first?["limit"] as? Int, 2 * Self.mb2)
    }

    func testUpdateStoppedContainerIsRefused() throws {
        let c = IT.lcCreate(["true"])
        defer { c.cleanup() }
        XCTAssertEqual(IT.skiff(["start", c.id]).status, 0)
        XCTAssertTrue(IT.lcWait { IT.lcStatus(c.id) == "stopped" })
        let r = IT.skiff(["update", "--memory", "1m", c.id])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(msg(r).contains("container not running"), r.stderr)
        let e = IT.skiff(["events", "--stats", c.id])
        XCTAssertEqual(e.status, 1)
        XCTAssertTrue(msg(e).contains("container with id \(c.id) is not running"), e.stderr)
        XCTAssertEqual(e.stdout, "")
    }

    func testUpdateOnCreatedContainerAndBadValues() throws {
        let c = IT.lcCreate(["sleep", "1000"])
        defer { c.cleanup() }
        XCTAssertEqual(c.result.status, 0, c.result.stderr)
        XCTAssertEqual(IT.lcStatus(c.id), "created")
        let ok = IT.skiff(["update", "-r", "-", c.id], stdin: #"{"hugepageLimits":[{"pageSize":"2MB","limit":\#(Self.mb2)}]}"#)
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertEqual(read(IT.lcCgroup(c.id) + "/hugetlb.2MB.max"), "\(Self.mb2)")

        let cases: [([String], String?, String)] = [
            (["--memory", "64x"], nil, "invalid value for memory: invalid size: '64x'"),
            (["--cpu-period", "abc"], nil, #"invalid value for cpu-period: strconv.ParseUint: parsing "abc": invalid syntax"#),
            (["--blkio-weight", "5"], nil, "invalid value for blkio-weight: 5 is out of range (10-1000)"),
            (["-r", "-"], #"{"memory":{"limit":"64m"}}"#, "resources.memory.limit: expected integer, got string"),
            (["-r", "-"], #"{"hugepageLimits":[{"pageSize":"3MB/x","limit":1}]}"#, "resources.hugepageLimits[0].pageSize: invalid hugepage size"),
            (["-r", "-"], "{", "resources: invalid JSON"),
            (["-r", "-"], #"{"devices":[{"allow":true,"access":"rwx"}]}"#, "resources.devices[0].access"),
        ]
        for (args, stdin, want) in cases {
            let r = IT.skiff(["update"] + args + [c.id], stdin: stdin)
            XCTAssertEqual(r.status, 1, "\(args)")
            XCTAssertTrue(msg(r).contains(want), "\(args) \(stdin ?? ""): \(r.stderr)")
        }
        if !FileManager.default.fileExists(atPath: "/sys/fs/resctrl/info/L3") {
            let rdt = IT.skiff(["update", "--l3-cache-schema", "L3:0=f", c.id])
            XCTAssertEqual(rdt.status, 1)
            XCTAssertTrue(msg(rdt).contains("Intel RDT/CAT: l3 cache schema is not enabled"), rdt.stderr)
        }
        let missing = IT.skiff(["update", "--memory", "1m", "no-such-container"])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(msg(missing).contains("does not exist"), missing.stderr)
        XCTAssertEqual(IT.lcStatus(c.id), "created")
        XCTAssertEqual(read(IT.lcCgroup(c.id) + "/hugetlb.2MB.max"), "\(Self.mb2)", "failed updates changed nothing")
    }

    /// Device rules in an update replace the device program (with BPF_F_ALLOW_MULTI a
    /// second program would AND with the first, so allowing again would not work).
    func testDeviceUpdateReplacesTheProgram() throws {
        let allow = DeviceProbe.allow7_0
        let probe = DeviceProbe(resources: ["devices": [DeviceProbe.denyAll, allow]])
        defer { probe.cleanup() }
        let c = probe.container
        func state() -> String { probe.state }
        func settles(_ want: Bool) -> Bool { probe.allowed() == want }
        XCTAssertTrue(settles(true), "allowed at create: \(state())")
        let programs = { () -> [DeviceFilter.AttachedProgram] in
            let fd = open(IT.lcCgroup(c.id), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            defer { close(fd) }
            return (try? DeviceFilter.attachedPrograms(cgroupFD: fd)) ?? []
        }
        let first = programs()
        XCTAssertEqual(first.map(\.name), ["skiff_devices"])

        let deny = IT.skiff(["update", "-r", "-", c.id], stdin: #"{"devices":[{"allow":false,"access":"rwm"}]}"#)
        XCTAssertEqual(deny.status, 0, deny.stderr)
        XCTAssertTrue(settles(false), "denied after the update: \(state())")
        let second = programs()
        XCTAssertEqual(second.map(\.name), ["skiff_devices"], "one program, not two")
        XCTAssertNotEqual(second.first?.id, first.first?.id)

        let data = try JSONSerialization.data(withJSONObject: ["devices": [["allow": false, "access": "rwm"], allow]])
        let again = IT.skiff(["update", "-r", "-", c.id], stdin: String(decoding: data, as: UTF8.self))
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(settles(true), "allowed again, so the old program is gone: \(state())")
        XCTAssertEqual(programs().count, 1)
        // Updates without devices leave the program alone (as runc's SkipDevices).
        let third = programs()
        XCTAssertEqual(IT.skiff(["update", "-r", "-", c.id], stdin: "{}").status, 0)
        XCTAssertEqual(programs(), third)
    }

    // MARK: - events

    func testEventsStatsPrintsOneLineWithHostNumbers() throws {
        let c = started()
        defer { c.cleanup() }
        let cg = IT.lcCgroup(c.id)
        let r = IT.skiff(["events", "--stats", c.id])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, r.stdout)
        let ev = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(ev["type"] as? String, "stats")
        XCTAssertEqual(ev["id"] as? String, c.id)
        let data = try XCTUnwrap(ev["data"] as? [String: Any])
        XCTAssertEqual(Set(data.keys), ["cpu", "cpuset", "memory", "pids", "blkio", "hugetlb", "intel_rdt", "network_interfaces"])

        // hugetlb: every host page size, numbers from the files.
        let huge = try XCTUnwrap(data["hugetlb"] as? [String: [String: Any]])
        XCTAssertNotNil(huge["2MB"], "\(huge)")
        let events = read(cg + "/hugetlb.2MB.events")
        let failcnt = Int(events.split(separator: "\n").first { $0.hasPrefix("max ") }?.split(separator: " ").last ?? "") ?? -1
        XCTAssertEqual(huge["2MB"]?["failcnt"] as? Int, failcnt)
        let usageFile = FileManager.default.fileExists(atPath: cg + "/hugetlb.2MB.rsvd.current") ? "/hugetlb.2MB.rsvd.current" : "/hugetlb.2MB.current"
        XCTAssertEqual(huge["2MB"]?["usage"] as? Int ?? 0, Int(read(cg + usageFile)), "usage, omitted when 0")

        // cpu.stat is a core file: real numbers, ns from µs.
        let usage = try XCTUnwrap((data["cpu"] as? [String: Any])?["usage"] as? [String: Any])
        XCTAssertNotNil(usage["kernel"] as? Int)
        XCTAssertNotNil(usage["user"] as? Int)
        if let total = usage["total"] as? Int { XCTAssertEqual(total % 1000, 0) }

        // No pids controller here: counted from cgroup.procs, no limit.
        let pids = try XCTUnwrap(data["pids"] as? [String: Any])
        XCTAssertEqual(pids["current"] as? Int, 1, "sleep")
        XCTAssertNil(pids["limit"])
        // No memory controller: runc's zero entries, no raw.
        let memory = try XCTUnwrap(data["memory"] as? [String: Any])
        XCTAssertNil(memory["raw"])
        XCTAssertEqual((memory["usage"] as? [String: Any])?["limit"] as? Int, 0)
        XCTAssertNil((memory["usage"] as? [String: Any])?["usage"])
        XCTAssertEqual((data["blkio"] as? [String: Any])?.count, 0)
        XCTAssertTrue(data["network_interfaces"] is NSNull)
    }

    func testEventsIntervalPrintsUntilTheContainerStops() throws {
        let c = started()
        defer { c.cleanup() }
        let dir = IT.lcTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let outPath = dir + "/out"
        FileManager.default.createFile(atPath: outPath, contents: nil)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: IT.binary)
        p.arguments = ["--root", IT.stateRoot, "events", "--interval", "200ms", c.id]
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        p.standardError = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        try p.run()
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }

        usleep(1_000_000)
        let lines = read(outPath).split(separator: "\n")
        XCTAssertGreaterThanOrEqual(lines.count, 2, "every 200ms for a second: \(lines.count)")
        XCTAssertLessThanOrEqual(lines.count, 6)
        for line in lines {
            let ev = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            XCTAssertEqual(ev?["type"] as? String, "stats", String(line))
            XCTAssertEqual(ev?["id"] as? String, c.id)
        }
        XCTAssertTrue(p.isRunning, "still watching a running container")

        XCTAssertEqual(IT.skiff(["kill", c.id, "KILL"]).status, 0)
        let start = Date()
        XCTAssertTrue(IT.lcWait(timeout: 5) { !p.isRunning }, "events exits when the container stops")
        XCTAssertLessThan(Date().timeIntervalSince(start), 2)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)

        let bad = IT.skiff(["events", "--interval", "5", c.id])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(msg(bad).contains(#"invalid value "5" for flag -interval: time: missing unit in duration "5""#), bad.stderr)
        let zero = IT.skiff(["events", "--interval", "0s", c.id])
        XCTAssertEqual(zero.status, 1)
        XCTAssertTrue(msg(zero).contains("duration interval must be greater than 0"), zero.stderr)
    }
}
