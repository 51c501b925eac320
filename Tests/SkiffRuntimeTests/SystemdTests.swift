import XCTest
@testable import SkiffRuntime

final class SystemdTests: XCTestCase {
    /// Found by the fuzzer (cgroup-plan target): both crashed skiff under --systemd-cgroup.
    func testPropertiesOfExtremeCPULimits() {
        let props = { (file: String, value: String) in
            var plan = CgroupPlan()
            plan.writes = [CgroupWrite(file, value, controller: "cpu")]
            return SystemdProperties.from(plan).map { "\($0.0)=\($0.1)" }
        }
        // A quota whose µs per second do not fit 64 bits: no limit, not an overflow trap.
        XCTAssertEqual(props("cpu.max", "18446744073709551 1"),
                       ["CPUQuotaPeriodUSec=\(DBusValue.uint64(1))", "CPUQuotaPerSecUSec=\(DBusValue.uint64(UInt64.max))"])
        XCTAssertEqual(SystemdProperties.quotaPerSecond(50000, period: 100000), 500_000)
        XCTAssertEqual(SystemdProperties.quotaPerSecond(12345, period: 100000), 130_000, "rounded up to 10 ms")
        XCTAssertEqual(SystemdProperties.quotaPerSecond(UInt64.max - 1, period: 1_000_000), UInt64.max, "rounding past 64 bits")
        // A cpuset range without its ends is no mask (it was an index out of range).
        for bad in ["-", "1-", "-3", "1-2-3", ","] { XCTAssertNil(SystemdProperties.bitmask(bad), bad) }
        XCTAssertEqual(SystemdProperties.bitmask("0-3,8"), [0x0f, 0x01])
    }

    func testUnitNamesAndCgroupPaths() throws {
        let u = try SystemdUnit(cgroupsPath: "machine.slice:libpod:abc", id: "x")
        XCTAssertEqual(u, SystemdUnit(slice: "machine.slice", name: "libpod-abc.scope"))
        XCTAssertEqual(u.cgroupPath, "/machine.slice/libpod-abc.scope")
        XCTAssertEqual(try SystemdUnit(cgroupsPath: nil, id: "c1").cgroupPath, "/system.slice/skiff-c1.scope")
        XCTAssertEqual(try SystemdUnit(cgroupsPath: ":skiff:c2", id: "x").name, "skiff-c2.scope")
        XCTAssertEqual(try SystemdUnit(cgroupsPath: "a-b-c.slice::n", id: "x").cgroupPath, "/a.slice/a-b.slice/a-b-c.slice/n.scope")
        XCTAssertEqual(try SystemdUnit(cgroupsPath: "-.slice:p:n", id: "x").cgroupPath, "/p-n.scope")
        XCTAssertThrowsError(try SystemdUnit(cgroupsPath: "/abs/path", id: "x")) { e in
            XCTAssertEqual((e as? ConfigError)?.path, "linux.cgroupsPath")
        }
        XCTAssertThrowsError(try SystemdUnit(cgroupsPath: "notaslice:p:n", id: "x"))
    }

    /// A user's manager: runc's default parent user.slice, and the session bus's address.
    func testUserManagerDefaultsAndBusAddress() throws {
        XCTAssertEqual(try SystemdUnit(cgroupsPath: nil, id: "c1", instance: .user).cgroupPath, "/user.slice/skiff-c1.scope")
        XCTAssertEqual(try SystemdUnit(cgroupsPath: ":libpod:c2", id: "x", instance: .user).slice, "user.slice")
        XCTAssertEqual(try SystemdUnit(cgroupsPath: "app.slice:p:n", id: "x", instance: .user).cgroupPath, "/app.slice/p-n.scope")
        XCTAssertEqual(try SystemdUnit(cgroupsPath: nil, id: "c1", instance: .user).instance, .user)
        XCTAssertEqual(SystemdInstance.unixPath("unix:path=/run/user/1000/bus"), "/run/user/1000/bus")
        XCTAssertEqual(SystemdInstance.unixPath("tcp:host=x;unix:guid=1,path=/b"), "/b")
        XCTAssertNil(SystemdInstance.unixPath("unix:abstract=/tmp/dbus-x"))
        // Escaped as the D-Bus spec says (a space, a comma, a ';'), either case of hex digit.
        XCTAssertEqual(SystemdInstance.unixPath("unix:path=/run/user/1000/my%20dir%2cx%3b/bus"), "/run/user/1000/my dir,x;/bus")
        XCTAssertEqual(SystemdInstance.unixPath("unix:path=/a%2Cb"), "/a,b")
        XCTAssertNil(SystemdInstance.unixPath("unix:path=/a%2"), "a cut escape")
        XCTAssertNil(SystemdInstance.unixPath("unix:path=/a%zz"), "not hex")
    }

    /// BEGIN goes with AUTH in one write, before the server's OK (as sd-bus sends it):
    /// systemd left a first call that arrived after OK together with BEGIN unread.
    func testAuthPipelinesBegin() throws {
        var sv: [Int32] = [0, 0]
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0, &sv), 0)
        let server = sv[1]
        defer { close(server) }
        let served = Thread { [server] in
            var buf = [UInt8](repeating: 0, count: 256)
            let n = read(server, &buf, buf.count)
            let uid = Array(String(getuid()).utf8).map { String($0, radix: 16) }.joined()
            if n > 0, Array(buf[0..<n]) == Array("\0AUTH EXTERNAL \(uid)\r\nBEGIN\r\n".utf8) {
                _ = write(server, "OK 0123456789abcdef0123456789abcdef\r\n", 37)
            } else {
                _ = write(server, "REJECTED EXTERNAL\r\n", 19)
            }
        }
        served.start()
        _ = try DBusConnection(fd: sv[0], viaBus: false)  // throws on REJECTED
        XCTAssertEqual(fcntl(sv[0], F_GETFD), -1, "the connection's deinit closed its fd")
    }

    /// A refused authentication throws and closes the fd once (deinit), not twice.
    func testRefusedAuthClosesTheFD() throws {
        var sv: [Int32] = [0, 0]
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0, &sv), 0)
        defer { close(sv[1]) }
        XCTAssertEqual(write(sv[1], "REJECTED EXTERNAL\r\n", 19), 19)
        XCTAssertThrowsError(try DBusConnection(fd: sv[0], viaBus: false))
        XCTAssertEqual(fcntl(sv[0], F_GETFD), -1)
    }

    /// The Hello call as the D-Bus specification's examples spell it, byte for byte.
    func testHelloEncoding() {
        let m = DBusMessage.call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "Hello", serial: 1)
        let bytes = m.encoded()
        XCTAssertEqual(Array(bytes[0..<16]), [0x6c, 1, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0x6d, 0, 0, 0])
        XCTAssertEqual(bytes.count, 128)  // 16 + 109 bytes of fields, padded to 8
        XCTAssertEqual(DBusMessage.length(of: bytes[...]), 128)
        let back = try? DBusMessage.decode(bytes)
        XCTAssertEqual(back?.member, "Hello")
        XCTAssertEqual(back?.destination, "org.freedesktop.DBus")
        XCTAssertEqual(back?.path, "/org/freedesktop/DBus")
    }

    func testStartTransientUnitBodyRoundTrip() throws {
        let props: [(String, DBusValue)] = [("PIDs", .uint32s([42])), ("Delegate", .bool(true)),
                                           ("MemoryMax", .uint64(1 << 30)), ("AllowedCPUs", .bytes([0b101]))]
        let m = DBusMessage.call(nil, "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager", "StartTransientUnit",
                                 [.string("x.scope"), .string("replace"), .properties(props), .auxUnits([])], serial: 7)
        XCTAssertEqual(m.signature, "ssa(sv)a(sa(sv))")
        let back = try DBusMessage.decode(m.encoded())
        XCTAssertEqual(back.signature, "ssa(sv)a(sa(sv))")
        var r = back.bodyReader
        XCTAssertEqual(try r.string(), "x.scope")
        XCTAssertEqual(try r.string(), "replace")
        let arrayLength = try r.u32()
        r.align(8)
        let start = r.offset
        var names: [String] = []
        while r.offset < start + Int(arrayLength) {
            r.align(8)
            names.append(try r.string())
            var sig = Substring(try r.signature())
            try r.skip(&sig)
        }
        XCTAssertEqual(names, ["PIDs", "Delegate", "MemoryMax", "AllowedCPUs"])
        XCTAssertEqual(try r.u32(), 0)  // empty aux array
    }
}
