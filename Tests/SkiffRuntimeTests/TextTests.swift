import XCTest
import Foundation
@testable import SkiffRuntime

/// Text's builders give what the standard library's generic ones give.
final class TextTests: XCTestCase {
    func testJoinIsJoined() {
        for parts in [[], [""], ["a"], ["a", "b"], ["", "x", ""], ["ro", "nosuid", "mode=755", "größe"], ["mode=755", "size=65536k"]] {
            XCTAssertEqual(Text.join(parts, ","), parts.joined(separator: ","))
            let slices = parts.map { Substring($0) }
            XCTAssertEqual(Text.join(slices, "/"), parts.joined(separator: "/"))
        }
    }

    func testNumbersAreTheirDecimalAndHexText() {
        let unsigned: [UInt64] = [0, 1, 9, 10, 255, 4096, 0x8000_0000, UInt64(UInt32.max), UInt64.max]
        for v in unsigned {
            XCTAssertEqual(Text.decimal(v), String(v))
            XCTAssertEqual(Text.hex(v), String(v, radix: 16))
        }
        for v: Int64 in [0, -1, 42, -4096, Int64.max, Int64.min] {
            XCTAssertEqual(Text.decimal(v), String(v))
        }
        XCTAssertEqual(JSON.int(Int32(-7)).serialized(), "-7")
        XCTAssertEqual(JSON.int(UInt64.max).serialized(), "18446744073709551615")
    }

    /// Byte splits give what the standard library's Character splits give on ASCII separators.
    func testDecimalAfterAPrefixIsTheInterpolation() {
        for fd: Int32 in [0, 7, 10, 99, 123_456, .max] {
            XCTAssertEqual(RootResolver.procPath(fd), "/proc/self/fd/" + String(fd))
        }
        XCTAssertEqual(Text.decimal(after: "", 42), "42")
        XCTAssertEqual(Text.decimal(after: "x", .max), "x" + String(UInt64.max))
    }

    func testCutLastAndDirname() {
        XCTAssertNil(Text.cut("abc", UInt8(ascii: "/"), last: true))
        for (s, before, after) in [("/dev/null", "/dev", "null"), ("/a", "", "a"), ("a/", "a", ""), ("/ü/ß", "/ü", "ß"), ("//x", "/", "x")] {
            let cut = Text.cut(s, UInt8(ascii: "/"), last: true)
            XCTAssertEqual(cut?.before, before, s)
            XCTAssertEqual(cut?.after, after, s)
        }
        for (path, dir) in [("/dev/null", "/dev"), ("/a", "/"), ("a", "."), ("a/b/c", "a/b"), ("/", "/")] {
            XCTAssertEqual(Files.dirname(of: path), dir, path)
        }
    }

    func testUpTo() {
        XCTAssertEqual(Text.upTo("A=1=2", UInt8(ascii: "=")), "A")
        XCTAssertEqual(Text.upTo("=x", UInt8(ascii: "=")), "")
        XCTAssertEqual(Text.upTo("NOEQUALS", UInt8(ascii: "=")), "NOEQUALS")
        XCTAssertEqual(Text.upTo("ÜBER_LANGER_NAME_MIT_UMLAUT=ä", UInt8(ascii: "=")), "ÜBER_LANGER_NAME_MIT_UMLAUT")
    }

    func testPathSteps() {
        func steps(_ p: String) -> [String] { Text.pathSteps(p).map { "\($0.component)@\($0.upTo)" } }
        XCTAssertEqual(steps("/dev/pts"), ["dev@/dev", "pts@/dev/pts"])
        XCTAssertEqual(steps("/a//b/"), ["a@/a", "b@/a//b"])
        XCTAssertEqual(steps("a/b"), ["a@/a", "b@/a/b"])
        XCTAssertEqual(steps("/"), [])
        XCTAssertEqual(steps("/sys/fs/cgroup/ünï"), ["sys@/sys", "fs@/sys/fs", "cgroup@/sys/fs/cgroup", "ünï@/sys/fs/cgroup/ünï"])
    }

    func testSplitIsSplit() {
        for s in ["", "/", "a", "/sys/fs/cgroup//skiff/x/", "root:x:0:0::/root:/bin/sh", "a::b:", "größe:ü:", "cpu io\nmemory\tpids\n"] {
            for sep in [UInt8(ascii: "/"), UInt8(ascii: ":")] {
                let c = Character(Unicode.Scalar(sep))
                XCTAssertEqual(Text.split(s, separator: sep), s.split(separator: c).map(String.init), s)
                XCTAssertEqual(Text.split(s, separator: sep, omittingEmpty: false),
                               s.split(separator: c, omittingEmptySubsequences: false).map(String.init), s)
            }
            XCTAssertEqual(Text.split(s) { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\t") },
                           s.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }).map(String.init), s)
        }
    }

    /// Leading bytes dropped; absolute paths and env entries told on bytes.
    func testDropLeadingAndByteChecks() {
        let slash = UInt8(ascii: "/")
        for (s, want) in [("", ""), ("/", ""), ("///a//b/", "a//b/"), ("a/", "a/"), ("/größe", "größe")] {
            XCTAssertEqual(Text.dropLeading(s, slash), want, s)
            XCTAssertEqual(Text.dropLeading(s, slash), String(s.drop(while: { $0 == "/" })), s)
        }
        XCTAssertTrue("/x".startsWithSlash)
        XCTAssertFalse("x/".startsWithSlash)
        XCTAssertFalse("".startsWithSlash)
        XCTAssertTrue("A=1".containsByte(UInt8(ascii: "=")))
        XCTAssertFalse("A".containsByte(UInt8(ascii: "=")))
    }

    /// Flags cut into name and value.
    func testCutFlag() {
        let dash = UInt8(ascii: "-"), eq = UInt8(ascii: "=")
        for (arg, name, value) in [("--root=/run/x", "root", "/run/x" as String?), ("-d", "d", nil), ("--log", "log", nil),
                                   ("--a=b=c", "a", "b=c"), ("--e=", "e", ""), ("---größe=ü", "größe", "ü"), ("--", "", nil)] {
            let (n, v) = Text.cutFlag(arg, leading: dash, separator: eq)
            XCTAssertEqual(n, name, arg)
            XCTAssertEqual(v, value, arg)
        }
    }

    /// The module's integer interpolations (Interpolation.swift) print what String(v) does.
    func testIntegerInterpolationsAreTheirDecimalText() {
        for v: Int in [0, -1, 7, Int.max, Int.min] { XCTAssertEqual("<\(v)>", "<" + String(v) + ">") }
        for v: Int32 in [0, -1, 1, Int32.max, Int32.min] { XCTAssertEqual("/proc/\(v)/stat", "/proc/" + String(v) + "/stat") }
        for v: Int64 in [0, -4096, Int64.max, Int64.min] { XCTAssertEqual("\(v)", String(v)) }
        for v: UInt in [0, 1, UInt.max] { XCTAssertEqual("\(v)", String(v)) }
        for v: UInt32 in [0, 65534, UInt32.max] { XCTAssertEqual("\(v)", String(v)) }
        for v: UInt64 in [0, 10, UInt64.max] { XCTAssertEqual("\(v)", String(v)) }
    }

    /// The command line read from the C library's argv is the one CommandLine has.
    func testProcessArgumentsAreCommandLine() {
        XCTAssertEqual(ProcessArguments.all(), CommandLine.arguments)
    }

    /// Mount option tables: found by name, nil otherwise, names in the order written.
    func testNameTableLooksUpByName() {
        let t: NameTable<UInt> = ["ro": 1, "nosuid": 2, "größe": 3]
        XCTAssertEqual(t["ro"], 1)
        XCTAssertEqual(t["größe"], 3)
        XCTAssertNil(t["r"])
        XCTAssertNil(t["ro "])
        XCTAssertEqual(t.keys, ["ro", "nosuid", "größe"])
        XCTAssertEqual(MountOptions.parse(["rbind", "ro", "rw", "rprivate", "mode=755"]),
                       { var m = MountOptions(); m.flags = UInt(MS_BIND | MS_REC); m.clearFlags = UInt(MS_RDONLY)
                         m.propagation = [UInt(MS_PRIVATE | MS_REC)]; m.data = ["mode=755"]; return m }())
    }
}

/// `created` and log times: the calendar computed without gmtime_r gives gmtime_r's date.
final class UTCTests: XCTestCase {
    func testTheCalendarIsGmtimes() {
        var samples: [Int64] = [0, 59, 86_399, 86_400, 951_782_400 /* 2000-02-29 */, 951_868_800, 1_709_164_800,
                                4_102_444_800 /* 2100-01-01 */, 253_402_300_799 /* 9999-12-31 */, -1, -86_401]
        var x: Int64 = 12_345
        for _ in 0..<2000 {  // spread over 1970-2200
            x = (x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407) & Int64.max
            samples.append(x % 7_258_118_400)
        }
        for t in samples {
            var tt = time_t(t)
            var tmv = tm()
            gmtime_r(&tt, &tmv)
            let want = String(format: "%04d-%02d-%02dT%02d:%02d:%02d", Int(tmv.tm_year) + 1900, Int(tmv.tm_mon) + 1,
                              Int(tmv.tm_mday), Int(tmv.tm_hour), Int(tmv.tm_min), Int(tmv.tm_sec))
            XCTAssertEqual(UTC.rfc3339(seconds: t, nanoseconds: 0, nanos: false), want + "Z", "\(t)")
        }
    }

    func testNanosecondsAsGoPrintsThem() {
        XCTAssertEqual(UTC.rfc3339(seconds: 0, nanoseconds: 0, nanos: true), "1970-01-01T00:00:00Z")
        XCTAssertEqual(UTC.rfc3339(seconds: 0, nanoseconds: 5, nanos: true), "1970-01-01T00:00:00.000000005Z")
        XCTAssertEqual(UTC.rfc3339(seconds: 0, nanoseconds: 120_000_000, nanos: true), "1970-01-01T00:00:00.12Z")
        XCTAssertEqual(UTC.rfc3339(seconds: 1_796_647_375, nanoseconds: 548_243_000, nanos: false), "2026-12-07T12:42:55Z")
    }
}
