import XCTest
@testable import SkiffRuntime

final class JSONTests: XCTestCase {
    func testRoundTrip() throws {
        let text = #"{"a":[1,-2.5e3,true,false,null],"b":{"c":"x\"y\\z\n\u00e9\ud83d\ude00"},"big":18446744073709551615}"#
        let v = try JSONParser.parse(text)
        XCTAssertEqual(try JSONParser.parse(v.serialized()), v)
        guard case .object(let o) = v, case .number(let big)? = o["big"] else { return XCTFail() }
        XCTAssertEqual(UInt64(big), UInt64.max, "64-bit integers survive exactly")
        XCTAssertEqual(o.keys, ["a", "b", "big"], "key order kept")
    }

    func testSyntaxErrorsHavePositions() {
        for bad in ["", "{", "{\"a\":}", "[1,]", "{\"a\" 1}", "tru", "01", "\"\u{1}\"", "{} x"] {
            XCTAssertThrowsError(try JSONParser.parse(bad), bad) { e in
                XCTAssertTrue("\(e)".contains("line"), "\(e)")
            }
        }
        XCTAssertThrowsError(try JSONParser.parse("{\n  \"a\": ]\n}")) { e in
            XCTAssertEqual((e as? JSONSyntaxError)?.line, 2)
        }
    }

    func testUnicodeEscapesTakeEitherCaseOfHex() throws {
        XCTAssertEqual(try JSONParser.parse(#""\u00E9\u00e9\uD83D\uDE00""#), .string("éé😀"))
        for bad in [#""\u00g9""#, #""\u00""#] {
            XCTAssertThrowsError(try JSONParser.parse(bad), bad) { e in XCTAssertTrue("\(e)".contains("\\u escape"), "\(e)") }
        }
    }

    func testEscapingMatchesGo() {
        XCTAssertEqual(JSON.string("<a&b>\u{1}").serialized(), #""\u003ca\u0026b\u003e\u0001""#)
        XCTAssertEqual(JSON.string("tab\there \"q\" back\\ cr\r nl\n esc\u{1b} größe").serialized(),
                       #""tab\there \"q\" back\\ cr\r nl\n esc\u001b größe""#)
        XCTAssertEqual(JSON.string("plain größe ✓").serialized(), #""plain größe ✓""#)
        XCTAssertEqual(JSON.object(JSONObject([("k<", .string("")), ("\u{7f}", .null)])).serialized(), #"{"k\u003c":"","\#u{7f}":null}"#)
    }

    func testIndentedOutput() {
        let v = JSON.object(JSONObject([("a", .int(1)), ("b", .array([.bool(true)]))]))
        XCTAssertEqual(v.serialized(indent: "  "), "{\n  \"a\": 1,\n  \"b\": [\n    true\n  ]\n}")
        XCTAssertEqual(v.serialized(), #"{"a":1,"b":[true]}"#)
    }
}
