import XCTest
@testable import SkiffRuntime

/// Text's builders give what the standard library's generic ones give.
final class TextTests: XCTestCase {
    func testJoinIsJoined() {
        for parts in [[], [""], ["a"], ["a", "b"], ["", "x", ""], ["ro", "nosuid", "mode=755", "größe"]] {
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
}
