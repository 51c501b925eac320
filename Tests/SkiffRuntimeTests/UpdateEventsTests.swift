import XCTest
import Glibc
@testable import SkiffRuntime

/// `update` value parsing and merge semantics (runc's update.go), `events` durations
/// (Go's time.ParseDuration) and stats read from a fake cgroup directory.
final class UpdateEventsTests: XCTestCase {
    // MARK: - value parsing

    func testRAMInBytesAsGoUnits() throws {
        let table: [(String, Int64)] = [
            ("0", 0), ("1", 1), ("64", 64), ("64b", 64), ("64B", 64), ("1k", 1024), ("1K", 1024),
            ("1kb", 1024), ("1KiB", 1024), ("1ki", 1024), ("64m", 64 << 20), ("64M", 64 << 20),
            ("64mb", 64 << 20), ("64MiB", 64 << 20), ("1g", 1 << 30), ("2 GB", 2 << 30), ("1t", 1 << 40),
            ("1p", 1 << 50), ("1.5k", 1536), ("0.5m", 512 << 10), ("1.0001k", 1024), ("100i", 100), ("64 ", 64),
        ]
        for (text, want) in table {
            XCTAssertEqual(try ResourceUpdate.ramInBytes(text), want, text)
        }
        for bad in ["", "m", "-1", "64x", " 64", "64kk", "64mbb", "1e3", "0x10", "64  m", ".5m", "8192p"] {
            XCTAssertThrowsError(try ResourceUpdate.ramInBytes(bad), bad)
        }
        XCTAssertEqual(err { try ResourceUpdate.ramInBytes("64x") }, "invalid size: '64x'")
        XCTAssertEqual(err { try ResourceUpdate.ramInBytes("1.2.3m") }, #"strconv.ParseFloat: parsing "1.2.3": invalid syntax"#)
    }

    func testFlagsBecomeAnUpdateDocument() throws {
        let u = try ResourceUpdate.fromFlags([
            "memory": "64m", "memory-swap": "-1", "memory-reservation": "1k", "cpu-quota": "-1",
            "cpu-period": "100000", "cpu-share": "512", "cpuset-cpus": "0-1", "blkio-weight": "500",
            "pids-limit": "0", "cpu-rt-runtime": "", "cpuset-mems": "",
        ])
        XCTAssertEqual(JSON.object(u.resources).serialized(),
                       #"{"memory":{"limit":67108864,"swap":-1,"reservation":1024},"#
                       + #""cpu":{"cpus":"0-1","period":100000,"shares":512,"quota":-1},"#
                       + #""blockIO":{"weight":500},"pids":{"limit":0}}"#)
        XCTAssertEqual(try ResourceUpdate.fromFlags([:]).resources, JSONObject())
        XCTAssertEqual(try ResourceUpdate.fromFlags(["blkio-weight": "0"]).resources, JSONObject(), "0 is not given")
    }

    func testBadFlagValuesNameTheFlag() {
        XCTAssertEqual(err { try ResourceUpdate.fromFlags(["memory": "64x"]) }, "invalid value for memory: invalid size: '64x'")
        XCTAssertEqual(err { try ResourceUpdate.fromFlags(["memory-swap": "-2"]) }, "invalid value for memory-swap: invalid size: '-2'")
        XCTAssertEqual(err { try ResourceUpdate.fromFlags(["cpu-period": "abc"]) },
                       #"invalid value for cpu-period: strconv.ParseUint: parsing "abc": invalid syntax"#)
        XCTAssertEqual(err { try ResourceUpdate.fromFlags(["cpu-share": "-5"]) },
                       #"invalid value for cpu-share: strconv.ParseUint: parsing "-5": invalid syntax"#)
        XCTAssertEqual(err { try ResourceUpdate.fromFlags(["cpu-period": "99999999999999999999"]) },
                       #"invalid value for cpu-period: strconv.ParseUint: parsing "99999999999999999999": value out of range"#)
        XCTAssertEqual(err { try ResourceUpdate.fromFlags(["cpu-quota": "1.5"]) },
                       #"invalid value for cpu-quota: strconv.ParseInt: parsing "1.5": invalid syntax"#)
        XCTAssertEqual(err { try ResourceUpdate.fromFlags(["blkio-weight": "5"]) }, "invalid value for blkio-weight: 5 is out of range (10-1000)")
        XCTAssertEqual(err { try ResourceUpdate.fromFlags(["pids-limit": "many"]) },
                       #"invalid value for pids-limit: strconv.ParseInt: parsing "many": invalid syntax"#)
    }

    func testResourcesDocumentErrorsNameTheField() {
        XCTAssertEqual(err { try ResourceUpdate.fromDocument(Array(#"{"memory":{"limit":"1g"}}"#.utf8)) },
                       "resources.memory.limit: expected integer, got string")
        XCTAssertEqual(err { try ResourceUpdate.fromDocument(Array(#"{"hugepageLimits":[{"pageSize":"3XB","limit":1}]}"#.utf8)) }.hasPrefix("resources.hugepageLimits[0].pageSize: invalid hugepage size"), true)
        XCTAssertEqual(err { try ResourceUpdate.fromDocument(Array(#"{"devices":[{"allow":true,"type":"x"}]}"#.utf8)) },
                       #"resources.devices[0].type: invalid device type "x" (want a, c or b)"#)
        XCTAssertEqual(err { try ResourceUpdate.fromDocument(Array("[1]".utf8)) }, "resources: expected a linux.resources object, got array")
        XCTAssertTrue(err { try ResourceUpdate.fromDocument(Array("{".utf8)) }.hasPrefix("resources: invalid JSON"))
    }

    // MARK: - merge (runc update.go)

    func merge(_ saved: String, _ update: String) throws -> String {
        guard case .object(let s) = try JSONParser.parse(saved) else { throw RuntimeError("saved") }
        let u = try ResourceUpdate.fromDocument(Array(update.utf8))
        return JSON.object(u.merge(into: s).resources).serialized()
    }

    func testMergeSetsOnlyNamedMemoryFields() throws {
        XCTAssertEqual(try merge(#"{"memory":{"limit":100,"reservation":50},"hugepageLimits":[{"pageSize":"2MB","limit":4}]}"#,
                                 #"{"memory":{"limit":200}}"#),
                       #"{"memory":{"limit":200,"reservation":50},"hugepageLimits":[{"pageSize":"2MB","limit":4}]}"#)
        // -1 without swap: swap 0 goes with it (runc's fix-up).
        XCTAssertEqual(try merge(#"{"memory":{"limit":100,"swap":200}}"#, #"{"memory":{"limit":-1}}"#),
                       #"{"memory":{"limit":-1,"swap":0}}"#)
        // checkBeforeUpdate is the update's, false when it says nothing.
        XCTAssertEqual(try merge(#"{"memory":{"limit":1,"checkBeforeUpdate":true}}"#, #"{"memory":{"reservation":2}}"#),
                       #"{"memory":{"limit":1,"reservation":2}}"#)
        XCTAssertEqual(try merge(#"{}"#, #"{"memory":{"limit":5,"checkBeforeUpdate":true}}"#),
                       #"{"memory":{"limit":5,"checkBeforeUpdate":true}}"#)
    }

    func testMergeCPUQuotaPeriodAndReplacedFields() throws {
        let saved = #"{"cpu":{"shares":512,"quota":50000,"period":100000,"cpus":"0","burst":10,"idle":0},"pids":{"limit":10},"unified":{"cgroup.max.depth":"3"}}"#
        // Only the period: the quota stays. cpus, burst, idle, pids and unified are replaced by
        // the update's (none): runc forgets them, and does not write them again.
        XCTAssertEqual(try merge(saved, #"{"cpu":{"period":200000}}"#), #"{"cpu":{"shares":512,"quota":50000,"period":200000}}"#)
        XCTAssertEqual(try merge(saved, #"{"cpu":{"quota":70000}}"#), #"{"cpu":{"shares":512,"quota":70000,"period":100000}}"#)
        XCTAssertEqual(try merge(saved, #"{"cpu":{"quota":1,"period":2}}"#), #"{"cpu":{"shares":512,"quota":1,"period":2}}"#)
        // Neither: both dropped.
        XCTAssertEqual(try merge(saved, #"{"cpu":{"shares":100}}"#), #"{"cpu":{"shares":100}}"#)
        // idle without shares: shares dropped so that cpu.weight is not written.
        XCTAssertEqual(try merge(saved, #"{"cpu":{"idle":1}}"#), #"{"cpu":{"idle":1}}"#)
        XCTAssertEqual(try merge(saved, #"{"cpu":{"cpus":"1","mems":"0"},"pids":{"limit":5},"unified":{"pids.max":"9"}}"#),
                       #"{"cpu":{"shares":512,"cpus":"1","mems":"0"},"pids":{"limit":5},"unified":{"pids.max":"9"}}"#)
    }

    func testMergeUpsertsDevicesByNumber() throws {
        let saved = #"{"blockIO":{"weight":100,"weightDevice":[{"major":8,"minor":0,"weight":10},{"major":8,"minor":16,"weight":20}],"throttleReadBpsDevice":[{"major":8,"minor":0,"rate":1}]}}"#
        let update = #"{"blockIO":{"weightDevice":[{"major":8,"minor":16,"leafWeight":30},{"major":9,"minor":0,"weight":40}],"throttleReadBpsDevice":[{"major":8,"minor":0,"rate":2}],"throttleWriteIOPSDevice":[{"major":8,"minor":0,"rate":3}]}}"#
        XCTAssertEqual(try merge(saved, update),
                       #"{"blockIO":{"weight":100,"weightDevice":[{"major":8,"minor":0,"weight":10},{"major":8,"minor":16,"weight":20,"leafWeight":30},{"major":9,"minor":0,"weight":40}],"#
                       + #""throttleReadBpsDevice":[{"major":8,"minor":0,"rate":2}],"throttleWriteIOPSDevice":[{"major":8,"minor":0,"rate":3}]}}"#)
    }

    func testMergeHugepagesRdmaAndDevices() throws {
        let saved = #"{"hugepageLimits":[{"pageSize":"2MB","limit":4},{"pageSize":"1GB","limit":0}],"rdma":{"mlx5_0":{"hcaHandles":1}},"devices":[{"allow":false,"access":"rwm"}]}"#
        let update = #"{"hugepageLimits":[{"pageSize":"2MB","limit":8}],"rdma":{"mlx5_1":{"hcaObjects":2}},"devices":[{"allow":true,"type":"c","major":1,"minor":3,"access":"rw"}]}"#
        XCTAssertEqual(try merge(saved, update),
                       #"{"hugepageLimits":[{"pageSize":"2MB","limit":8},{"pageSize":"1GB","limit":0}],"rdma":{"mlx5_0":{"hcaHandles":1},"mlx5_1":{"hcaObjects":2}},"#
                       + #""devices":[{"allow":true,"type":"c","major":1,"minor":3,"access":"rw"}]}"#)
        // Devices untouched when the update has none.
        XCTAssertEqual(try merge(saved, #"{}"#), #"{"hugepageLimits":[{"pageSize":"2MB","limit":4},{"pageSize":"1GB","limit":0}],"rdma":{"mlx5_0":{"hcaHandles":1}},"devices":[{"allow":false,"access":"rwm"}]}"#)
    }

    func testMergeWarnsAboutWhatUpdateIgnores() throws {
        let u = try ResourceUpdate.fromDocument(Array(#"{"memory":{"kernel":1,"swappiness":5},"network":{"classID":1}}"#.utf8))
        let m = u.merge(into: JSONObject())
        XCTAssertEqual(m.warnings, ["Kernel memory settings are ignored and will be removed",
                                    "resources.memory.swappiness: not changed by update (as runc)",
                                    "resources.network: not changed by update (as runc; cgroup v2 has no net_cls/net_prio)"])
        XCTAssertEqual(JSON.object(m.resources).serialized(), "{}")
    }

    func testMergedPlanRewritesSavedLimits() throws {
        // runc's Set writes the whole merged config: the saved hugetlb limit is written again.
        guard case .object(let s) = try JSONParser.parse(#"{"hugepageLimits":[{"pageSize":"2MB","limit":4194304}]}"#) else { return XCTFail() }
        let u = try ResourceUpdate.fromFlags(["memory": "64m", "memory-swap": "128m"])
        let plan = try CgroupResources.plan(raw: u.merge(into: s).resources)
        XCTAssertEqual(plan.writes.map(\.description), [
            #"memory.swap.max "67108864""#, #"memory.max "67108864""#,
            #"hugetlb.2MB.max "4194304""#, #"hugetlb.2MB.rsvd.max "4194304""#,
        ])
        XCTAssertEqual(plan.controllers, ["memory", "hugetlb"])
        XCTAssertNil(plan.memoryCheck, "flags never set checkBeforeUpdate")
    }

    func testNamesFindsUpdateFields() throws {
        let u = try ResourceUpdate.fromDocument(Array(#"{"memory":{"swappiness":1},"blockIO":{"weightDevice":[{"major":1,"minor":2,"leafWeight":3}]}}"#.utf8))
        XCTAssertTrue(u.names("linux.resources.memory.swappiness"))
        XCTAssertTrue(u.names("linux.resources.blockIO.weightDevice[0].leafWeight"))
        XCTAssertFalse(u.names("linux.resources.memory.kernel"))
        XCTAssertFalse(u.names("linux.resources.cpu.realtimePeriod"))
    }

    // MARK: - durations (Go's time.ParseDuration)

    func testGoDurations() throws {
        let table: [(String, Int64)] = [
            ("0", 0), ("5s", 5_000_000_000), ("100ms", 100_000_000), ("1.5s", 1_500_000_000), ("1h2m3s", 3_723_000_000_000),
            ("2us", 2_000), ("2µs", 2_000), ("2μs", 2_000), ("7ns", 7), (".5s", 500_000_000), ("1.s", 1_000_000_000),
            ("-1s", -1_000_000_000), ("+2m", 120_000_000_000), ("0s", 0), ("1m0.5s", 60_500_000_000),
            ("2562047h47m16.854775807s", Int64.max),
        ]
        for (text, want) in table { XCTAssertEqual(try GoDuration.parse(text), want, text) }
        XCTAssertEqual(err { try GoDuration.parse("5") }, #"time: missing unit in duration "5""#)
        XCTAssertEqual(err { try GoDuration.parse("5x") }, #"time: unknown unit "x" in duration "5x""#)
        XCTAssertEqual(err { try GoDuration.parse("") }, #"time: invalid duration """#)
        XCTAssertEqual(err { try GoDuration.parse("s") }, #"time: invalid duration "s""#)
        XCTAssertEqual(err { try GoDuration.parse(".s") }, #"time: invalid duration ".s""#)
        XCTAssertEqual(err { try GoDuration.parse("3000000h") }, #"time: invalid duration "3000000h""#)
        // Found by the fuzzer (cli target): a digit with a combining mark crashed the parser.
        XCTAssertEqual(err { try GoDuration.parse("1\u{301}s") }, "time: invalid duration \"1\u{301}s\"")
        XCTAssertEqual(err { try GoDuration.parse(".1000000000000000000\u{301}s") }, "time: unknown unit \"0\u{301}s\" in duration \".1000000000000000000\u{301}s\"")
    }

    // MARK: - stats from a fake cgroup directory

    var tmp = ""

    override func setUpWithError() throws {
        var template = Array("/tmp/skiff-stats-XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else { throw SysError(errno, "mkdtemp") }
        tmp = String(cString: p)
    }

    override func tearDown() { Files.removeTree(tmp) }

    func put(_ file: String, _ text: String) throws {
        try Files.writeAtomically(tmp + "/" + file, Array(text.utf8), mode: 0o644)
    }

    /// Zero numbers are omitted (omitempty), zero entries kept, as runc prints them.
    func testFullCgroupV2Stats() throws {
        try put("cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 10\nnr_throttled 2\nthrottled_usec 300\nnr_bursts 0\nburst_usec 0\n")
        try put("memory.stat", "anon 4096\nfile 8192\nkernel 100\npgfault 7\n")
        try put("memory.current", "12288\n")
        try put("memory.max", "100000\n")
        try put("memory.peak", "20000\n")
        try put("memory.swap.current", "100\n")
        try put("memory.swap.max", "1000\n")
        try put("pids.current", "3\n")
        try put("pids.max", "max\n")
        try put("io.stat", "8:0 rbytes=1024 wbytes=2048 rios=1 wios=2 dbytes=0 dios=0\n253:1 rbytes=0 wbytes=5 rios=0 wios=1\n")
        try put("hugetlb.2MB.current", "4194304\n")
        try put("hugetlb.2MB.events", "max 3\n")
        try put("hugetlb.1GB.current", "0\n")
        try put("hugetlb.1GB.events", "max 0\n")

        let st = try CgroupStats.read(dir: tmp, hugePageSizes: ["1GB", "2MB"])
        XCTAssertEqual(st.cpu, CgroupStats.CPU(total: 1_500_000, kernel: 500_000, user: 1_000_000, periods: 10,
                                               throttledPeriods: 2, throttledTime: 300_000))
        XCTAssertEqual(st.pids, CgroupStats.Pids(current: 3, limit: 0))
        XCTAssertEqual(st.memory.usage, CgroupStats.MemoryEntry(limit: 100000, usage: 12288, max: 20000, failcnt: 0))
        // swap as memory+swap (cgroup v1's memsw), as runc reports it; no peak.
        XCTAssertEqual(st.memory.swap, CgroupStats.MemoryEntry(limit: 101000, usage: 12388, max: 0, failcnt: 0))
        XCTAssertEqual(CgroupStats.event(type: "stats", id: "c1", data: st.json),
            #"{"type":"stats","id":"c1","data":{"cpu":{"usage":{"total":1500000,"kernel":500000,"user":1000000},"#
            + #""throttling":{"periods":10,"throttledPeriods":2,"throttledTime":300000}},"#
            + #""cpuset":{"cpu_exclusive":0,"mem_hardwall":0,"mem_exclusive":0,"memory_migrate":0,"memory_spread_page":0,"memory_spread_slab":0,"memory_pressure":0,"sched_load_balance":0,"sched_relax_domain_level":0},"#
            + #""memory":{"cache":8192,"usage":{"limit":100000,"usage":12288,"max":20000,"failcnt":0},"#
            + #""swap":{"limit":101000,"usage":12388,"failcnt":0},"kernel":{"limit":0,"failcnt":0},"kernelTCP":{"limit":0,"failcnt":0},"#
            + #""raw":{"anon":4096,"file":8192,"kernel":100,"pgfault":7}},"#
            + #""pids":{"current":3},"#
            + #""blkio":{"ioServiceBytesRecursive":[{"major":8,"op":"Read","value":1024},{"major":8,"op":"Write","value":2048},{"major":253,"minor":1,"op":"Read"},{"major":253,"minor":1,"op":"Write","value":5}],"#
            + #""ioServicedRecursive":[{"major":8,"op":"Read","value":1},{"major":8,"op":"Write","value":2},{"major":253,"minor":1,"op":"Read"},{"major":253,"minor":1,"op":"Write","value":1}]},"#
            + #""hugetlb":{"1GB":{"failcnt":0},"2MB":{"usage":4194304,"failcnt":3}},"intel_rdt":{},"network_interfaces":null}}"#)
    }

    func testHybridHostStatsOmitWhatIsMissing() throws {
        // This host's cgroup2: no memory, pids, io or cpu controller; cpu.stat is core.
        try put("cgroup.procs", "10\n11\n")
        try put("cpu.stat", "usage_usec 7\nuser_usec 5\nsystem_usec 2\n")
        try put("hugetlb.2MB.current", "0\n")
        try put("hugetlb.2MB.rsvd.current", "2097152\n")
        try put("hugetlb.2MB.events", "max 0\n")
        let st = try CgroupStats.read(dir: tmp, hugePageSizes: ["2MB"])
        XCTAssertEqual(st.pids, CgroupStats.Pids(current: 2, limit: 0), "counted from cgroup.procs")
        let data = st.json.serialized()
        XCTAssertTrue(data.contains(#""memory":{"usage":{"limit":0,"failcnt":0},"swap":{"limit":0,"failcnt":0},"#), data)
        XCTAssertTrue(data.contains(#""pids":{"current":2}"#), data)
        XCTAssertTrue(data.contains(#""blkio":{}"#), data)
        XCTAssertTrue(data.contains(#""hugetlb":{"2MB":{"usage":2097152,"failcnt":0}}"#), "reservations preferred: \(data)")
        XCTAssertTrue(data.contains(#""cpu":{"usage":{"total":7000,"kernel":2000,"user":5000},"throttling":{}}"#), data)
    }

    func testStatsErrorsAreCollectedNotFatalForMissingFiles() throws {
        try put("cpu.stat", "usage_usec nope\n")
        try put("pids.current", "1\n")
        try put("pids.max", "5\n")
        do {
            _ = try CgroupStats.read(dir: tmp, hugePageSizes: [])
            XCTFail("bad cpu.stat")
        } catch let f as CgroupStats.StatsFailure {
            XCTAssertTrue(f.description.hasPrefix("error while statting cgroup v2: ["), f.description)
            XCTAssertTrue(f.description.contains("cpu.stat"), f.description)
            XCTAssertEqual(f.stats.pids, CgroupStats.Pids(current: 1, limit: 5), "what could be read is kept")
        }
    }

    func testHugePageSizeNames() {
        XCTAssertEqual(CgroupStats.hugePageSizeName("hugepages-2048kB"), "2MB")
        XCTAssertEqual(CgroupStats.hugePageSizeName("hugepages-1048576kB"), "1GB")
        XCTAssertEqual(CgroupStats.hugePageSizeName("hugepages-64kB"), "64KB")
        XCTAssertEqual(CgroupStats.hugePageSizeName("hugepages-16777216kB"), "16GB")
        XCTAssertNil(CgroupStats.hugePageSizeName("hugepages-2048MB"))
        XCTAssertNil(CgroupStats.hugePageSizeName("other"))
    }

    func testOOMCountersFromMemoryEvents() throws {
        try put("memory.events", "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\noom_group_kill 0\n")
        XCTAssertTrue(CgroupEventWatch.readOOM(tmp)! == (1, 1))
    }

    /// Rewrites a file in place (IN_MODIFY on the watched inode, as cgroupfs notifies).
    func rewrite(_ file: String, _ text: String) throws {
        let fd = open(tmp + "/" + file, O_WRONLY | O_TRUNC | O_CLOEXEC)
        guard fd >= 0 else { throw SysError(errno, "open", file) }
        defer { close(fd) }
        try Files.writeAll(fd, Array(text.utf8))
    }

    /// The events loop's watch on a fake cgroup: one oom event per growth of the
    /// counters, stopped when cgroup.events says unpopulated.
    func testEventWatchReportsOOMAndStop() throws {
        try put("cgroup.events", "populated 1\nfrozen 0\n")
        try put("memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n")
        var w = try CgroupEventWatch(dir: tmp, pid: getpid(), pidStartTime: 0)
        defer { w.close() }
        var h = try w.wait(timeoutNanos: 10_000_000)
        XCTAssertEqual(h.ooms, 0)
        XCTAssertFalse(h.stopped)

        try rewrite("memory.events", "low 0\nhigh 0\nmax 3\noom 0\noom_kill 0\n")
        h = try w.wait(timeoutNanos: 1_000_000_000)
        XCTAssertEqual(h.ooms, 0, "max alone is no OOM")
        try rewrite("memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
        h = try w.wait(timeoutNanos: 1_000_000_000)
        XCTAssertEqual(h.ooms, 1)
        XCTAssertFalse(h.stopped)
        try rewrite("memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
        XCTAssertEqual(try w.wait(timeoutNanos: 1_000_000_000).ooms, 0, "unchanged counters")

        try rewrite("cgroup.events", "populated 0\nfrozen 0\n")
        h = try w.wait(timeoutNanos: 1_000_000_000)
        XCTAssertTrue(h.stopped)
    }

    func testEventWatchWithoutMemoryEventsStillStops() throws {
        try put("cgroup.events", "populated 1\nfrozen 0\n")
        var w = try CgroupEventWatch(dir: tmp, pid: getpid(), pidStartTime: 0)
        defer { w.close() }
        XCTAssertFalse(try w.wait(timeoutNanos: 10_000_000).stopped)
        try rewrite("cgroup.events", "populated 0\nfrozen 0\n")
        XCTAssertTrue(try w.wait(timeoutNanos: 1_000_000_000).stopped)
        XCTAssertThrowsError(try CgroupEventWatch(dir: tmp + "/nope", pid: getpid(), pidStartTime: 0), "no cgroup.events")
    }

    func testRecordKeepsResourcesAndDriverBackwardCompatibly() throws {
        let old = try ContainerRecord(stateJSON: Array(#"{"id":"a","pid":1}"#.utf8))
        XCTAssertNil(old.resources)
        XCTAssertEqual(old.cgroupDriver, "cgroupfs")
        var r = old
        r.resources = JSONObject([("pids", .object(JSONObject([("limit", .int(5))])))])
        let back = try ContainerRecord(stateJSON: Array(r.json.serialized().utf8))
        XCTAssertEqual(back.resources, r.resources)
        XCTAssertEqual(back.cgroupDriver, "cgroupfs")
    }

    func err(_ f: () throws -> Any) -> String {
        do { _ = try f(); return "" } catch { return "\(error)" }
    }
}
