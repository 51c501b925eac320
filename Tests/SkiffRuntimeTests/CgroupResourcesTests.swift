import XCTest
import Glibc
@testable import SkiffRuntime

/// linux.resources → cgroup v2 writes, checked against runc's fs2 driver behaviour.
final class CgroupResourcesTests: XCTestCase {
    /// Parses `{"linux":{"resources": <resources>}}` the way create does, then plans.
    func plan(_ resources: String) throws -> CgroupPlan {
        let spec = try Spec.parse(Array(#"{"linux":{"resources":\#(resources)}}"#.utf8))
        return try CgroupResources.plan(raw: spec.linux.resources!.raw)
    }

    /// The writes as "file value" lines.
    func writes(_ resources: String) throws -> [String] {
        try plan(resources).writes.map { "\($0.file) \($0.value)" }
    }

    func errorText(_ resources: String) -> String {
        do { _ = try plan(resources); return "" } catch { return "\(error)" }
    }

    func check(_ table: [(String, [String])], file: StaticString = #filePath, line: UInt = #line) {
        for (config, want) in table {
            do {
                let got = try writes(config)
                XCTAssertEqual(got, want, config, file: file, line: line)
            } catch {
                XCTFail("\(config): \(error)", file: file, line: line)
            }
        }
    }

    // MARK: - conversions

    func testCPUSharesToWeightIsRuncsQuadratic() {
        let table: [(UInt64, UInt64)] = [
            (0, 0), (1, 1), (2, 1), (3, 2), (10, 4), (100, 17), (512, 59), (1024, 100),
            (2048, 174), (4096, 303), (100000, 4340), (262143, 10000), (262144, 10000), (300000, 10000),
        ]
        for (shares, weight) in table {
            XCTAssertEqual(CgroupResources.convertCPUSharesToWeight(shares), weight, "shares \(shares)")
        }
        // Monotonic over the whole range, 1...10000.
        var last: UInt64 = 1
        for s in UInt64(2)...262144 {
            let w = CgroupResources.convertCPUSharesToWeight(s)
            XCTAssertGreaterThanOrEqual(w, last)
            last = w
        }
        XCTAssertEqual(last, 10000)
    }

    func testMemorySwapConversion() {
        func conv(_ swap: Int64, _ mem: Int64) -> String {
            switch CgroupResources.convertMemorySwap(swap, mem) {
            case .success(let v): return String(v)
            case .failure(let e): return "\(e.field): \(e.message)"
            }
        }
        // The cases of runc's TestConvertMemorySwapToCgroupV2Value.
        XCTAssertEqual(conv(0, 0), "0")
        XCTAssertEqual(conv(-1, 0), "-1")
        XCTAssertEqual(conv(300, -1), "300")
        XCTAssertEqual(conv(-1, -1), "-1")
        XCTAssertEqual(conv(-2, 0), "swap: unable to set swap limit without memory limit")
        XCTAssertEqual(conv(300, 0), "swap: unable to set swap limit without memory limit")
        XCTAssertEqual(conv(300, -300), "limit: invalid memory value: -300")
        XCTAssertEqual(conv(300, 200), "100")
        XCTAssertEqual(conv(300, 300), "0")
        XCTAssertEqual(conv(200, 300), "swap: memory+swap limit should be >= memory limit")
        XCTAssertEqual(conv(0, -1), "-1")
    }

    func testBlkioWeightConversion() {
        XCTAssertEqual(CgroupResources.convertBlkIOToIOWeight(0), 0)
        XCTAssertEqual(CgroupResources.convertBlkIOToIOWeight(10), 1)
        XCTAssertEqual(CgroupResources.convertBlkIOToIOWeight(100), 910)
        XCTAssertEqual(CgroupResources.convertBlkIOToIOWeight(500), 4950)
        XCTAssertEqual(CgroupResources.convertBlkIOToIOWeight(1000), 10000)
        XCTAssertNil(CgroupResources.convertBlkIOToIOWeight(9))
    }

    // MARK: - config → writes

    func testMemory() throws {
        check([
            (#"{"memory":{"limit":1048576}}"#, ["memory.max 1048576"]),
            (#"{"memory":{"limit":1000,"swap":3000}}"#, ["memory.swap.max 2000", "memory.max 1000"]),
            (#"{"memory":{"limit":1000,"swap":1000}}"#, ["memory.swap.max 0", "memory.max 1000"]),
            (#"{"memory":{"limit":1000,"swap":-1}}"#, ["memory.swap.max max", "memory.max 1000"]),
            (#"{"memory":{"limit":-1}}"#, ["memory.swap.max max", "memory.max max"]),
            (#"{"memory":{"limit":-1,"swap":500}}"#, ["memory.swap.max 500", "memory.max max"]),
            (#"{"memory":{"swap":-1}}"#, ["memory.swap.max max"]),
            (#"{"memory":{"limit":1000,"reservation":500}}"#, ["memory.max 1000", "memory.low 500"]),
            (#"{"memory":{"reservation":-1}}"#, ["memory.low max"]),
            (#"{"memory":{"limit":0,"swap":0,"reservation":0}}"#, []),
            (#"{"memory":{}}"#, []),
            (#"{"memory":null}"#, []),
        ])
        let p = try plan(#"{"memory":{"limit":1000,"swap":1000}}"#)
        XCTAssertEqual(p.writes.map(\.mode), [.skipIfMissing, .required])
        XCTAssertEqual(try plan(#"{"memory":{"limit":1000,"swap":3000}}"#).writes[0].mode, .required)
        XCTAssertEqual(p.controllers, ["memory"])
    }

    func testMemoryIgnoredFieldsOnV2() throws {
        let p = try plan(#"{"memory":{"limit":1000,"kernel":1,"kernelTCP":2,"swappiness":60,"disableOOMKiller":true,"useHierarchy":true}}"#)
        XCTAssertEqual(p.writes.map(\.file), ["memory.max"])
        XCTAssertEqual(p.ignored.map(\.path), ["linux.resources.memory.kernel", "linux.resources.memory.kernelTCP",
                                               "linux.resources.memory.swappiness", "linux.resources.memory.disableOOMKiller",
                                               "linux.resources.memory.useHierarchy"])
        // Only ignored fields: nothing to write, no controller needed.
        let q = try plan(#"{"memory":{"swappiness":0}}"#)
        XCTAssertTrue(q.isEmpty)
        XCTAssertEqual(q.controllers, [])
    }

    func testMemoryCheckBeforeUpdate() throws {
        XCTAssertEqual(try plan(#"{"memory":{"limit":1000,"swap":3000,"checkBeforeUpdate":true}}"#).memoryCheck,
                       CgroupPlan.MemoryCheck(limit: 1000, swap: 3000, path: "linux.resources.memory"))
        XCTAssertNil(try plan(#"{"memory":{"limit":1000}}"#).memoryCheck)
        XCTAssertNil(try plan(#"{"memory":{"limit":1000,"checkBeforeUpdate":false}}"#).memoryCheck)
        // Unlimited: nothing to check (runc: Memory <= 0 && MemorySwap <= 0).
        XCTAssertNil(try plan(#"{"memory":{"limit":-1,"checkBeforeUpdate":true}}"#).memoryCheck)
    }

    func testMemoryErrors() {
        XCTAssertEqual(errorText(#"{"memory":{"limit":1000,"swap":500}}"#),
                       "linux.resources.memory.swap: memory+swap limit should be >= memory limit")
        XCTAssertEqual(errorText(#"{"memory":{"swap":500}}"#),
                       "linux.resources.memory.swap: unable to set swap limit without memory limit")
        XCTAssertEqual(errorText(#"{"memory":{"limit":-2}}"#),
                       "linux.resources.memory.limit: invalid memory value: -2 (want -1 for unlimited, or a number of bytes)")
        XCTAssertEqual(errorText(#"{"memory":{"reservation":-5}}"#),
                       "linux.resources.memory.reservation: invalid memory value: -5 (want -1 for unlimited, or a number of bytes)")
        XCTAssertEqual(errorText(#"{"memory":{"limit":"1G"}}"#), "linux.resources.memory.limit: expected integer, got string")
        XCTAssertEqual(errorText(#"{"memory":{"swappiness":-1}}"#),
                       "linux.resources.memory.swappiness: -1 is not a valid non-negative integer in range 0...18446744073709551615")
        XCTAssertEqual(errorText(#"{"memory":[]}"#), "linux.resources.memory: expected object, got array")
    }

    func testCPU() throws {
        check([
            (#"{"cpu":{"shares":1024}}"#, ["cpu.weight 100"]),
            (#"{"cpu":{"shares":2}}"#, ["cpu.weight 1"]),
            (#"{"cpu":{"shares":262144}}"#, ["cpu.weight 10000"]),
            (#"{"cpu":{"shares":0}}"#, []),
            (#"{"cpu":{"quota":50000,"period":100000}}"#, ["cpu.max 50000 100000"]),
            (#"{"cpu":{"quota":50000}}"#, ["cpu.max 50000 100000"]),
            (#"{"cpu":{"period":200000}}"#, ["cpu.max max 200000"]),
            (#"{"cpu":{"quota":-1,"period":50000}}"#, ["cpu.max max 50000"]),
            (#"{"cpu":{"quota":-1}}"#, ["cpu.max max 100000"]),
            (#"{"cpu":{"quota":0,"period":0}}"#, []),
            (#"{"cpu":{"quota":50000,"burst":10000}}"#, ["cpu.max.burst 10000", "cpu.max 50000 100000"]),
            (#"{"cpu":{"burst":0}}"#, ["cpu.max.burst 0"]),
            (#"{"cpu":{"idle":1}}"#, ["cpu.idle 1"]),
            (#"{"cpu":{"idle":0,"shares":512}}"#, ["cpu.idle 0", "cpu.weight 59"]),
            (#"{"cpu":{"cpus":"0-3,7","mems":"0"}}"#, ["cpuset.cpus 0-3,7", "cpuset.mems 0"]),
            (#"{"cpu":{"cpus":"","mems":""}}"#, []),
            (#"{"cpu":{"realtimeRuntime":950000,"realtimePeriod":1000000}}"#, []),
        ])
        let p = try plan(#"{"cpu":{"quota":50000,"burst":10000,"cpus":"1"}}"#)
        XCTAssertEqual(p.writes.map(\.mode), [.retryAfterCPUMax, .required, .required])
        XCTAssertEqual(p.controllers, ["cpu", "cpuset"])
        XCTAssertEqual(try plan(#"{"cpu":{"burst":10}}"#).writes[0].mode, .required)
        XCTAssertEqual(try plan(#"{"cpu":{"realtimeRuntime":1,"realtimePeriod":2}}"#).ignored.map(\.path),
                       ["linux.resources.cpu.realtimeRuntime", "linux.resources.cpu.realtimePeriod"])
    }

    func testCPUErrors() {
        XCTAssertEqual(errorText(#"{"cpu":{"shares":-1}}"#),
                       "linux.resources.cpu.shares: -1 is not a valid non-negative integer in range 0...18446744073709551615")
        XCTAssertEqual(errorText(#"{"cpu":{"idle":2}}"#), "linux.resources.cpu.idle: 2 is not valid (want 0 or 1)")
        XCTAssertEqual(errorText(#"{"cpu":{"quota":1000,"burst":2000}}"#),
                       "linux.resources.cpu.burst: burst 2000 is larger than quota 1000")
        XCTAssertEqual(errorText(#"{"cpu":{"cpus":3}}"#), "linux.resources.cpu.cpus: expected string, got number")
    }

    func testPids() {
        check([
            (#"{"pids":{"limit":100}}"#, ["pids.max 100"]),
            (#"{"pids":{"limit":0}}"#, ["pids.max 1"]),    // runc: 0 → 1 (as systemd's TasksMax)
            (#"{"pids":{"limit":-1}}"#, ["pids.max max"]),
            (#"{"pids":{"limit":-5}}"#, ["pids.max max"]),
            (#"{"pids":{}}"#, []),
        ])
    }

    func testBlockIO() throws {
        let p = try plan(#"""
            {"blockIO":{"weight":500,"leafWeight":300,
              "weightDevice":[{"major":8,"minor":0,"weight":600,"leafWeight":300},{"major":8,"minor":16,"leafWeight":10}],
              "throttleReadBpsDevice":[{"major":8,"minor":0,"rate":600}],
              "throttleWriteBpsDevice":[{"major":8,"minor":0,"rate":700}],
              "throttleReadIOPSDevice":[{"major":8,"minor":16,"rate":80}],
              "throttleWriteIOPSDevice":[{"major":8,"minor":16,"rate":300},{"major":259,"minor":0,"rate":0}]}}
            """#)
        XCTAssertEqual(p.writes.map { "\($0.file) \($0.value)" }, [
            "io.bfq.weight 500",
            "io.bfq.weight 8:0 600",
            "io.max 8:0 rbps=600",
            "io.max 8:0 wbps=700",
            "io.max 8:16 riops=80",
            "io.max 8:16 wiops=300",
            "io.max 259:0 wiops=0",
        ])
        XCTAssertEqual(p.writes[0].mode, .blkioWeight(ioWeight: "4950"))
        XCTAssertEqual(p.writes[1].mode, .bfqDeviceWeight)
        XCTAssertEqual(p.controllers, ["io"])
        XCTAssertEqual(p.ignored.map(\.path), ["linux.resources.blockIO.leafWeight",
                                               "linux.resources.blockIO.weightDevice[0].leafWeight",
                                               "linux.resources.blockIO.weightDevice[1].leafWeight"])
        XCTAssertEqual(try plan(#"{"blockIO":{"weight":10}}"#).writes[0].mode, .blkioWeight(ioWeight: "1"))
        XCTAssertEqual(try plan(#"{"blockIO":{"weight":1000}}"#).writes[0].mode, .blkioWeight(ioWeight: "10000"))
        XCTAssertEqual(try plan(#"{"blockIO":{"weight":5}}"#).writes[0].mode, .blkioWeight(ioWeight: nil))
        check([(#"{"blockIO":{"weight":0}}"#, []), (#"{"blockIO":{}}"#, [])])
    }

    func testBlockIOErrors() {
        XCTAssertEqual(errorText(#"{"blockIO":{"weight":1001}}"#), "linux.resources.blockIO.weight: 1001 is out of range (1-1000)")
        XCTAssertEqual(errorText(#"{"blockIO":{"weight":70000}}"#),
                       "linux.resources.blockIO.weight: 70000 is not a valid non-negative integer in range 0...65535")
        XCTAssertEqual(errorText(#"{"blockIO":{"weightDevice":[{"major":8,"minor":0}]}}"#),
                       "linux.resources.blockIO.weightDevice[0]: at least one of weight or leafWeight is required")
        XCTAssertEqual(errorText(#"{"blockIO":{"weightDevice":[{"major":8,"minor":0,"weight":0}]}}"#),
                       "linux.resources.blockIO.weightDevice[0].weight: 0 is out of range (1-1000)")
        XCTAssertEqual(errorText(#"{"blockIO":{"throttleReadBpsDevice":[{"major":8,"minor":0}]}}"#),
                       "linux.resources.blockIO.throttleReadBpsDevice[0].rate: is required")
        XCTAssertEqual(errorText(#"{"blockIO":{"throttleWriteIOPSDevice":[{"major":-1,"minor":0,"rate":1}]}}"#),
                       "linux.resources.blockIO.throttleWriteIOPSDevice[0].major: -1 is not a valid device number")
        XCTAssertEqual(errorText(#"{"blockIO":{"throttleWriteIOPSDevice":[{"minor":0,"rate":1}]}}"#),
                       "linux.resources.blockIO.throttleWriteIOPSDevice[0].major: is required")
    }

    func testHugepages() throws {
        let p = try plan(#"{"hugepageLimits":[{"pageSize":"2MB","limit":209715200},{"pageSize":"64KB","limit":1000000},{"pageSize":"1GB","limit":0}]}"#)
        XCTAssertEqual(p.writes.map { "\($0.file) \($0.value)" }, [
            "hugetlb.2MB.max 209715200", "hugetlb.2MB.rsvd.max 209715200",
            "hugetlb.64KB.max 1000000", "hugetlb.64KB.rsvd.max 1000000",
            "hugetlb.1GB.max 0", "hugetlb.1GB.rsvd.max 0",
        ])
        XCTAssertEqual(p.writes.map(\.mode), [.required, .skipIfMissing, .required, .skipIfMissing, .required, .skipIfMissing])
        XCTAssertEqual(p.controllers, ["hugetlb"])
        for bad in ["2M", "2mb", "MB", "02MB", "2048KB", "1024MB", "2TB", "2MB/../x", "../../x", "", "-2MB", "99999999999GB"] {
            let text = errorText(#"{"hugepageLimits":[{"pageSize":"\#(bad)","limit":1}]}"#)
            XCTAssertTrue(text.hasPrefix("linux.resources.hugepageLimits[0].pageSize: invalid hugepage size"), "\(bad): \(text)")
        }
        XCTAssertEqual(errorText(#"{"hugepageLimits":[{"pageSize":"2MB"}]}"#), "linux.resources.hugepageLimits[0].limit: is required")
        XCTAssertEqual(errorText(#"{"hugepageLimits":[{"limit":1}]}"#), "linux.resources.hugepageLimits[0].pageSize: is required")
    }

    func testRDMA() throws {
        check([(#"{"rdma":{"mlx5_1":{"hcaHandles":3,"hcaObjects":10000},"mlx4_0":{"hcaObjects":1000},"rxe3":{"hcaHandles":7}}}"#,
                ["rdma.max mlx5_1 hca_handle=3 hca_object=10000", "rdma.max mlx4_0 hca_object=1000", "rdma.max rxe3 hca_handle=7"])])
        XCTAssertEqual(errorText(#"{"rdma":{"mlx4_0":{}}}"#),
                       "linux.resources.rdma.mlx4_0: at least one of hcaHandles or hcaObjects is required")
        XCTAssertEqual(errorText(#"{"rdma":{"mlx4_0 hca_handle=1":{"hcaObjects":1}}}"#),
                       #"linux.resources.rdma["mlx4_0 hca_handle=1"]: invalid device name (want a name without spaces, "=" or control characters)"#)
        XCTAssertEqual(errorText(#"{"rdma":{"x":{"hcaHandles":-1}}}"#),
                       "linux.resources.rdma.x.hcaHandles: -1 is not a valid non-negative integer in range 0...4294967295")
    }

    func testNetworkIsIgnoredOnV2() throws {
        let p = try plan(#"{"network":{"classID":1048577,"priorities":[{"name":"eth0","priority":500}]}}"#)
        XCTAssertTrue(p.isEmpty)
        XCTAssertEqual(p.ignored.map(\.path), ["linux.resources.network.classID", "linux.resources.network.priorities"])
        XCTAssertEqual(errorText(#"{"network":{"priorities":[{"priority":5}]}}"#),
                       "linux.resources.network.priorities[0].name: is required")
    }

    func testUnified() throws {
        let p = try plan(#"{"unified":{"io.max":"259:0 rbps=2097152 wiops=120\n253:0 rbps=2097152 wiops=120","hugetlb.1GB.max":"1073741824","cgroup.max.depth":"3","memory.oom.group":"1","misc.max":"res_a 1\n"}}"#)
        XCTAssertEqual(p.writes.map { "\($0.file) \($0.value)" }, [
            "io.max 259:0 rbps=2097152 wiops=120", "io.max 253:0 rbps=2097152 wiops=120",
            "hugetlb.1GB.max 1073741824", "cgroup.max.depth 3", "memory.oom.group 1", "misc.max res_a 1",
        ])
        XCTAssertEqual(p.writes.map(\.controller), ["io", "io", "hugetlb", "", "memory", "misc"])
        XCTAssertEqual(p.controllers, ["io", "hugetlb", "memory", "misc"])
    }

    func testUnifiedKeyRejection() {
        let table: [(String, String)] = [
            ("../memory.max", "unified resource must be a file name (no slashes)"),
            ("/sys/fs/cgroup/memory.max", "unified resource must be a file name (no slashes)"),
            ("sub/memory.max", "unified resource must be a file name (no slashes)"),
            (".", "unified resource must be a file name in the cgroup directory"),
            ("..", "unified resource must be a file name in the cgroup directory"),
            ("", "unified resource must be a file name, got an empty key"),
            ("memory", "unified resource must be in the form CONTROLLER.PARAMETER"),
            (".max", "unified resource must be in the form CONTROLLER.PARAMETER"),
            ("memory.", "unified resource must be in the form CONTROLLER.PARAMETER"),
            ("mem ory.max", "unified resource must be in the form CONTROLLER.PARAMETER"),
            ("memory.max\\u0000x", "unified resource must be a file name (no control characters)"),
        ]
        for (key, message) in table {
            let shown = key.replacingOccurrences(of: "\\u0000", with: "\u{0}")
            XCTAssertEqual(errorText(#"{"unified":{"\#(key)":"1"}}"#), #"linux.resources.unified["\#(shown)"]: "# + message, key)
        }
        XCTAssertEqual(errorText(#"{"unified":{"memory.max":1}}"#), #"linux.resources.unified["memory.max"]: expected string, got number"#)
        XCTAssertEqual(errorText(#"{"unified":[]}"#), "linux.resources.unified: expected object, got array")
    }

    func testOrderIsRuncs() throws {
        // Manager.Set: pids, memory, io, cpu, cpuset, hugetlb, rdma, unified.
        let p = try plan(#"""
            {"unified":{"pids.max":"7"},"rdma":{"d":{"hcaHandles":1}},"hugepageLimits":[{"pageSize":"2MB","limit":1}],
             "cpu":{"shares":1024,"cpus":"0"},"blockIO":{"weight":100},"memory":{"limit":4096},"pids":{"limit":5},
             "devices":[{"allow":false,"access":"rwm"}]}
            """#)
        XCTAssertEqual(p.writes.map(\.file), ["pids.max", "memory.max", "io.bfq.weight", "cpu.weight", "cpuset.cpus",
                                              "hugetlb.2MB.max", "hugetlb.2MB.rsvd.max", "rdma.max", "pids.max"])
        XCTAssertEqual(p.controllers, ["pids", "memory", "io", "cpu", "cpuset", "hugetlb", "rdma"])
        XCTAssertEqual(p.writes.last?.field, #"linux.resources.unified["pids.max"]"#)
    }

    func testEmpty() throws {
        XCTAssertTrue(try plan(#"{}"#).isEmpty)
        XCTAssertTrue(try plan(#"{"devices":[{"allow":true,"access":"rwm"}]}"#).isEmpty)
    }
}

extension String {
    fileprivate func replacingOccurrences(of a: String, with b: String) -> String {
        components(separatedBy: a).joined(separator: b)
    }
}

// MARK: - Writer, against a fake cgroup tree (plain files in a temp dir)

final class CgroupWriterTests: XCTestCase {
    var root = ""

    override func setUpWithError() throws {
        var template = Array("/tmp/skiff-cgtest-XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else { throw SysError(errno, "mkdtemp") }
        root = String(cString: p)
    }

    override func tearDown() {
        Files.removeTree(root)
    }

    func put(_ rel: String, _ text: String = "") throws {
        let path = root + "/" + rel
        try Files.mkdirAll(Files.dirname(of: path))
        let fd = try sys("create", path) { open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) }
        defer { close(fd) }
        try Files.writeAll(fd, Array(text.utf8), path)
    }

    func get(_ rel: String) -> String? { try? Files.readString(root + "/" + rel) }

    /// root (all controllers; cpu already enabled) / a / web.
    /// The fake kernel does not update a child's cgroup.controllers when the
    /// parent's subtree_control changes; tests list what "a" would show.
    func makeTree(rootControllers: String = "cpuset cpu io memory hugetlb pids rdma misc",
                  leafFiles: [String] = ["pids.max", "memory.max", "memory.swap.max", "memory.low", "cpu.weight", "cpu.max"]) throws {
        try put("cgroup.controllers", rootControllers + "\n")
        try put("cgroup.subtree_control", "cpu\n")
        try put("a/cgroup.controllers", "cpu\n")
        try put("a/cgroup.subtree_control", "")
        try put("a/web/cgroup.controllers", "")
        for f in leafFiles { try put("a/web/" + f) }
    }

    func plan(_ resources: String) throws -> CgroupPlan {
        try CgroupResources(JSONNode(try JSONParser.parse(Array(resources.utf8)), path: "linux.resources")).plan()
    }

    func apply(_ resources: String) throws {
        try CgroupWriter.apply(try plan(resources), mountPoint: root, cgroupPath: root + "/a/web")
    }

    func errorText(_ body: () throws -> Void) -> String {
        do { try body(); return "" } catch { return "\(error)" }
    }

    func testWritesAfterEnabling() throws {
        try makeTree()
        try put("a/cgroup.controllers", "cpu memory pids\n")
        try apply(#"{"pids":{"limit":100},"memory":{"limit":1048576,"reservation":4096},"cpu":{"shares":1024,"quota":50000}}"#)
        XCTAssertEqual(get("cgroup.subtree_control"), "+pids +memory")
        XCTAssertEqual(get("a/cgroup.subtree_control"), "+pids +memory +cpu")
        XCTAssertEqual(get("a/web/pids.max"), "100")
        XCTAssertEqual(get("a/web/memory.max"), "1048576")
        XCTAssertEqual(get("a/web/memory.low"), "4096")
        XCTAssertEqual(get("a/web/cpu.weight"), "100")
        XCTAssertEqual(get("a/web/cpu.max"), "50000 100000")
        // The leaf's own subtree_control is not touched.
        XCTAssertNil(get("a/web/cgroup.subtree_control"))
    }

    func testAlreadyEnabledIsNotWrittenAgain() throws {
        try makeTree()
        try put("cgroup.subtree_control", "cpu memory\n")
        try put("a/cgroup.controllers", "cpu memory\n")
        try put("a/cgroup.subtree_control", "memory\n")
        try apply(#"{"memory":{"limit":1000}}"#)
        XCTAssertEqual(get("cgroup.subtree_control"), "cpu memory\n")
        XCTAssertEqual(get("a/cgroup.subtree_control"), "memory\n")
        XCTAssertEqual(get("a/web/memory.max"), "1000")
    }

    func testMissingControllerIsNamed() throws {
        try makeTree(rootControllers: "cpu pids")
        let text = errorText { try apply(#"{"pids":{"limit":1},"memory":{"limit":1048576}}"#) }
        XCTAssertEqual(text, "cgroup controller \"memory\" is not available in \(root) (needed for memory.max, linux.resources.memory.limit); available: cpu pids")
        // Nothing was enabled or written.
        XCTAssertEqual(get("cgroup.subtree_control"), "cpu\n")
        XCTAssertEqual(get("a/web/pids.max"), "")
        // Same for an intermediate cgroup, and for a unified key's controller.
        try makeTree()
        let t2 = errorText { try apply(#"{"unified":{"misc.max":"res_a 1"}}"#) }
        XCTAssertEqual(t2, "cgroup controller \"misc\" is not available in \(root)/a (needed for misc.max, linux.resources.unified[\"misc.max\"]); available: cpu")
    }

    func testWriteErrorsNameFileAndValue() throws {
        try makeTree(leafFiles: [])
        try put("a/cgroup.controllers", "cpu hugetlb\n")
        XCTAssertEqual(errorText { try apply(#"{"hugepageLimits":[{"pageSize":"2MB","limit":4096}]}"#) },
                       "write hugetlb.2MB.max \"4096\": No such file or directory")
    }

    func testSymlinksAreRefused() throws {
        try makeTree()
        try put("a/cgroup.controllers", "cpu memory\n")
        try put("elsewhere", "")
        unlink(root + "/a/web/memory.max")
        XCTAssertEqual(symlink(root + "/elsewhere", root + "/a/web/memory.max"), 0)
        XCTAssertEqual(errorText { try apply(#"{"memory":{"limit":1048576}}"#) },
                       "write memory.max \"1048576\": Too many levels of symbolic links")
        XCTAssertEqual(get("elsewhere"), "")
        // A symlinked directory on the way down is refused too.
        XCTAssertEqual(symlink(root + "/a", root + "/link"), 0)
        let text = errorText { try CgroupWriter.apply(try plan(#"{"memory":{"limit":1}}"#), mountPoint: root, cgroupPath: root + "/link/web") }
        XCTAssertTrue(text.hasPrefix("open cgroup \(root)/link: "), text)
    }

    func testSkipIfMissing() throws {
        // No memory.swap.max (no swap accounting): "max" is skipped, as runc does.
        try makeTree(leafFiles: ["memory.max"])
        try put("a/cgroup.controllers", "cpu memory\n")
        try apply(#"{"memory":{"limit":-1}}"#)
        XCTAssertEqual(get("a/web/memory.max"), "max")
        // A real swap limit is not skipped.
        XCTAssertEqual(errorText { try apply(#"{"memory":{"limit":1000,"swap":3000}}"#) },
                       "write memory.swap.max \"2000\": No such file or directory")
        // hugetlb reservations before 5.7: only .max.
        try put("a/cgroup.controllers", "cpu memory hugetlb\n")
        try put("a/web/hugetlb.2MB.max")
        try apply(#"{"hugepageLimits":[{"pageSize":"2MB","limit":4096}]}"#)
        XCTAssertEqual(get("a/web/hugetlb.2MB.max"), "4096")
    }

    func testBlkioWeightChoosesTheFile() throws {
        try makeTree(leafFiles: ["io.weight", "io.max"])
        try put("a/cgroup.controllers", "cpu io\n")
        let config = #"{"blockIO":{"weight":500,"weightDevice":[{"major":8,"minor":0,"weight":300}],"throttleReadBpsDevice":[{"major":8,"minor":0,"rate":600}]}}"#
        // No BFQ: io.weight with runc's conversion; device weights skipped.
        try apply(config)
        XCTAssertEqual(get("a/web/io.weight"), "4950")
        XCTAssertEqual(get("a/web/io.max"), "8:0 rbps=600")
        XCTAssertNil(get("a/web/io.bfq.weight"))

        // BFQ with per-device weights (5.4+ format): the raw weight, then the devices.
        try put("a/web/io.weight")
        try put("a/web/io.bfq.weight", "default 100\n")
        try apply(#"{"blockIO":{"weight":500}}"#)
        XCTAssertEqual(get("a/web/io.bfq.weight"), "500ault 100\n")   // a plain file: overwritten in place
        XCTAssertEqual(get("a/web/io.weight"), "")
        try put("a/web/io.bfq.weight", "default 100\n")
        try apply(#"{"blockIO":{"weightDevice":[{"major":8,"minor":0,"weight":300}]}}"#)
        XCTAssertEqual(get("a/web/io.bfq.weight"), "8:0 300 100\n")   // idem

        // Old BFQ (a single number): the weight, but no device weights.
        try put("a/web/io.bfq.weight", "100\n")
        try apply(#"{"blockIO":{"weightDevice":[{"major":8,"minor":0,"weight":300}]}}"#)
        XCTAssertEqual(get("a/web/io.bfq.weight"), "100\n")

        // A weight below 10 has no io.weight equivalent.
        unlink(root + "/a/web/io.bfq.weight")
        XCTAssertEqual(errorText { try apply(#"{"blockIO":{"weight":5}}"#) },
                       "linux.resources.blockIO.weight: weight 5 has no io.weight equivalent (10-1000 without the BFQ scheduler's io.bfq.weight)")
    }

    func testMemoryCheckBeforeUpdate() throws {
        try makeTree()
        try put("a/cgroup.controllers", "cpu memory\n")
        try put("a/web/memory.current", "2000\n")
        XCTAssertEqual(errorText { try apply(#"{"memory":{"limit":1000,"checkBeforeUpdate":true}}"#) },
                       "linux.resources.memory.limit: rejecting memory limit 1000 <= usage 2000")
        XCTAssertEqual(get("a/web/memory.max"), "")
        XCTAssertEqual(errorText { try apply(#"{"memory":{"limit":1000,"swap":1500,"checkBeforeUpdate":true}}"#) },
                       "linux.resources.memory.swap: rejecting memory+swap limit 1500 <= usage 2000")
        try apply(#"{"memory":{"limit":4000,"checkBeforeUpdate":true}}"#)
        XCTAssertEqual(get("a/web/memory.max"), "4000")
        // Without the flag there is no check.
        try apply(#"{"memory":{"limit":100}}"#)
        XCTAssertEqual(get("a/web/memory.max"), "1000")  // "100" over "4000" in a plain file
        // No memory.current: best effort, no objection.
        unlink(root + "/a/web/memory.current")
        try apply(#"{"memory":{"limit":10,"checkBeforeUpdate":true}}"#)
    }

    func testUnifiedWritesLineByLine() throws {
        try makeTree(leafFiles: ["io.max", "cgroup.max.depth"])
        try put("a/cgroup.controllers", "cpu io\n")
        try apply(#"{"unified":{"cgroup.max.depth":"3","io.max":"8:0 rbps=1\n8:16 wbps=2"}}"#)
        XCTAssertEqual(get("a/web/cgroup.max.depth"), "3")
        XCTAssertEqual(get("a/web/io.max"), "8:16 wbps=2")   // the last of two writes
        XCTAssertEqual(get("cgroup.subtree_control"), "+io\n")   // "+io" over "cpu\n"
    }

    func testPathMustBeUnderTheMount() throws {
        try makeTree()
        XCTAssertEqual(errorText { try CgroupWriter.apply(try plan(#"{"pids":{"limit":1}}"#), mountPoint: root, cgroupPath: "/elsewhere/x") },
                       "cgroup /elsewhere/x is not under the cgroup2 mount \(root)")
        // An empty plan touches nothing, not even the path.
        try CgroupWriter.apply(try plan("{}"), mountPoint: root, cgroupPath: "/elsewhere/x")
    }

    // MARK: - In the kernel (the cgroup2 mount, whatever controllers it has)

    func testKernelHugetlbAndErrors() throws {
        guard getuid() == 0, let mp = Cgroup.mountPoint() else { throw XCTSkip("needs root and a cgroup2 mount") }
        guard let ctl = try? Files.readString(mp + "/cgroup.controllers"), CgroupWriter.words(ctl).contains("hugetlb"),
              Files.exists("/sys/kernel/mm/hugepages/hugepages-2048kB") else {
            throw XCTSkip("no hugetlb controller or 2MB pages")
        }
        let parent = Cgroup(path: mp + "/skiff-cgres-test-\(getpid())")
        let leaf = Cgroup(path: parent.path + "/web")
        try leaf.create()
        defer { try? leaf.destroy(); try? parent.destroy() }
        // The root is not written to when hugetlb is already enabled there.
        let rootBefore = try Files.readString(mp + "/cgroup.subtree_control")
        let needEnable = !CgroupWriter.words(rootBefore).contains("hugetlb")
        if needEnable { throw XCTSkip("hugetlb is not enabled at the root; not changing the host's root cgroup") }

        try CgroupWriter.apply(try plan(#"{"hugepageLimits":[{"pageSize":"2MB","limit":4194304}],"unified":{"cgroup.max.depth":"2"}}"#),
                               mountPoint: mp, cgroupPath: leaf.path)
        XCTAssertEqual(try Files.readString(parent.path + "/cgroup.subtree_control"), "hugetlb\n")
        XCTAssertEqual(try Files.readString(leaf.path + "/hugetlb.2MB.max"), "4194304\n")
        if Files.exists(leaf.path + "/hugetlb.2MB.rsvd.max") {
            XCTAssertEqual(try Files.readString(leaf.path + "/hugetlb.2MB.rsvd.max"), "4194304\n")
        }
        XCTAssertEqual(try Files.readString(leaf.path + "/cgroup.max.depth"), "2\n")
        XCTAssertEqual(try Files.readString(mp + "/cgroup.subtree_control"), rootBefore)

        // The kernel's refusal names the file and the value.
        XCTAssertEqual(errorText { try CgroupWriter.apply(try plan(#"{"unified":{"hugetlb.2MB.max":"lots"}}"#), mountPoint: mp, cgroupPath: leaf.path) },
                       "write hugetlb.2MB.max \"lots\": Invalid argument")
        // A controller the host does not have is named.
        if !CgroupWriter.words(ctl).contains("memory") {
            let text = errorText { try CgroupWriter.apply(try plan(#"{"memory":{"limit":1048576}}"#), mountPoint: mp, cgroupPath: leaf.path) }
            XCTAssertTrue(text.hasPrefix("cgroup controller \"memory\" is not available in \(mp) (needed for memory.max"), text)
        }
    }
}
