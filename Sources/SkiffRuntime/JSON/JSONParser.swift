// A strict RFC 8259 parser over bytes.

public enum JSONParser {
    public static func parse(_ bytes: [UInt8]) throws -> JSON {
        var p = Parser(bytes: bytes)
        p.skipSpace()
        let v = try p.value(depth: 0)
        p.skipSpace()
        if p.i != bytes.count { throw p.error("unexpected data after the top-level value") }
        return v
    }

    public static func parse(_ text: String) throws -> JSON { try parse(Array(text.utf8)) }
}

private struct Parser {
    let bytes: [UInt8]
    var i = 0

    func error(_ reason: String) -> JSONSyntaxError {
        var line = 1, col = 1
        for b in bytes[0..<min(i, bytes.count)] {
            if b == 0x0A { line += 1; col = 1 } else { col += 1 }
        }
        return JSONSyntaxError(offset: i, line: line, column: col, reason: reason)
    }

    static func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }

    static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 }

    mutating func skipSpace() {
        while i < bytes.count, Self.isSpace(bytes[i]) { i += 1 }
    }

    mutating func literal(_ word: StaticString, _ v: JSON) throws -> JSON {
        let n = word.utf8CodeUnitCount
        guard i + n <= bytes.count else { throw error("unexpected end of input") }
        for k in 0..<n where bytes[i + k] != word.utf8Start[k] { throw error("invalid literal") }
        i += n
        return v
    }

    mutating func value(depth: Int) throws -> JSON {
        guard depth < 512 else { throw error("nesting too deep") }
        guard i < bytes.count else { throw error("unexpected end of input") }
        switch bytes[i] {
        case UInt8(ascii: "{"): return try object(depth: depth)
        case UInt8(ascii: "["): return try array(depth: depth)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "n"): return try literal("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw error("unexpected character '\(Unicode.Scalar(bytes[i]))'")
        }
    }

    mutating func object(depth: Int) throws -> JSON {
        i += 1
        var obj = JSONObject()
        skipSpace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .object(obj) }
        while true {
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw error("expected a string key") }
            let key = try string()
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw error("expected ':' after key") }
            i += 1
            skipSpace()
            obj[key] = try value(depth: depth + 1)
            skipSpace()
            guard i < bytes.count else { throw error("unexpected end of input in object") }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(obj) }
            throw error("expected ',' or '}' in object")
        }
    }

    mutating func array(depth: Int) throws -> JSON {
        i += 1
        var out: [JSON] = []
        skipSpace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .array(out) }
        while true {
            skipSpace()
            out.append(try value(depth: depth + 1))
            skipSpace()
            guard i < bytes.count else { throw error("unexpected end of input in array") }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(out) }
            throw error("expected ',' or ']' in array")
        }
    }

    mutating func number() throws -> JSON {
        let start = i
        try skipNumber()
        return .number(bytes.withUnsafeBufferPointer { String(decoding: UnsafeBufferPointer(rebasing: $0[start..<i]), as: UTF8.self) })
    }

    /// Past a number, checked against JSON's grammar, without making its text.
    mutating func skipNumber() throws {
        if bytes[i] == UInt8(ascii: "-") { i += 1 }
        func digits(_ p: inout Parser) -> Int {
            let s = p.i
            while p.i < p.bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(p.bytes[p.i]) { p.i += 1 }
            return p.i - s
        }
        guard i < bytes.count else { throw error("invalid number") }
        if bytes[i] == UInt8(ascii: "0") { i += 1 } else if digits(&self) == 0 { throw error("invalid number") }
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            i += 1
            if digits(&self) == 0 { throw error("invalid number") }
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            if digits(&self) == 0 { throw error("invalid number") }
        }
    }

    mutating func hex4() throws -> UInt32 {
        guard i + 4 <= bytes.count else { throw error("truncated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            guard let d = Text.hexDigit(bytes[i]) else { throw error("invalid \\u escape") }
            v = v << 4 | UInt32(d)
            i += 1
        }
        return v
    }

    mutating func string() throws -> String {
        i += 1
        var out: [UInt8] = []
        let start = i
        // Fast path: no escapes. Scanned through a buffer pointer: the array's own checked
        // subscript was most of the time a state file's strings took.
        i = bytes.withUnsafeBufferPointer { b in
            var k = start
            while k < b.count, b[k] != UInt8(ascii: "\""), b[k] != UInt8(ascii: "\\"), b[k] >= 0x20 { k += 1 }
            return k
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "\"") {
            defer { i += 1 }
            // From a buffer, not an ArraySlice: the slice goes through the generic,
            // element-by-element decoder (it was a fifth of parsing a state file).
            let end = i
            return bytes.withUnsafeBufferPointer { String(decoding: UnsafeBufferPointer(rebasing: $0[start..<end]), as: UTF8.self) }
        }
        out.append(contentsOf: bytes[start..<i])
        while true {
            guard i < bytes.count else { throw error("unterminated string") }
            let c = bytes[i]
            if c == UInt8(ascii: "\"") { i += 1; break }
            if c < 0x20 { throw error("control character in string") }
            if c != UInt8(ascii: "\\") { out.append(c); i += 1; continue }
            i += 1
            guard i < bytes.count else { throw error("unterminated escape") }
            let e = bytes[i]
            i += 1
            switch e {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if (0xD800..<0xDC00).contains(scalar), i + 1 < bytes.count,
                   bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") {
                    i += 2
                    let low = try hex4()
                    guard (0xDC00..<0xE000).contains(low) else { throw error("invalid surrogate pair") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                }
                let u = Unicode.Scalar(scalar) ?? "\u{FFFD}"
                out.append(contentsOf: Array(String(Character(u)).utf8))
            default: throw error("invalid escape")
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// The members of one top-level JSON object, read in order: each value as the caller asks
/// for it (a string, an integer, or a JSON tree), the rest skipped. A state file becomes
/// its record without a tree of JSON values and typed lookups in between: `list` reads
/// one per container. As strict as `JSONParser.parse`; a type error names the member.
public struct JSONMembers {
    private var p: Parser
    private let path: String
    private var first = true
    /// The member being read.
    public private(set) var key = ""

    public init(_ bytes: [UInt8], path: String) throws {
        p = Parser(bytes: bytes)
        self.path = path
        p.skipSpace()
        guard p.i < bytes.count else { throw p.error("unexpected end of input") }
        guard bytes[p.i] == UInt8(ascii: "{") else { throw ConfigError(path, "expected object") }
        p.i += 1
    }

    /// The next member's key, nil after the last one.
    public mutating func next() throws -> String? {
        p.skipSpace()
        guard p.i < p.bytes.count else { throw p.error("unexpected end of input in object") }
        if p.bytes[p.i] == UInt8(ascii: "}") {
            p.i += 1
            p.skipSpace()
            if p.i != p.bytes.count { throw p.error("unexpected data after the top-level value") }
            return nil
        }
        if !first {
            guard p.bytes[p.i] == UInt8(ascii: ",") else { throw p.error("expected ',' or '}' in object") }
            p.i += 1
            p.skipSpace()
        }
        first = false
        guard p.i < p.bytes.count, p.bytes[p.i] == UInt8(ascii: "\"") else { throw p.error("expected a string key") }
        key = try p.string()
        p.skipSpace()
        guard p.i < p.bytes.count, p.bytes[p.i] == UInt8(ascii: ":") else { throw p.error("expected ':' after key") }
        p.i += 1
        p.skipSpace()
        return key
    }

    /// The value as a tree, for what is more than a string or a number.
    public mutating func node() throws -> JSONNode {
        JSONNode(try p.value(depth: 1), path: path + "." + key)
    }

    public mutating func skip() throws { _ = try p.value(depth: 1) }

    /// A string, nil for null.
    public mutating func string() throws -> String? {
        guard p.i < p.bytes.count, p.bytes[p.i] == UInt8(ascii: "\"") else { return try node().string() }
        return try p.string()
    }

    /// An integer in T's range, nil for null; digits straight from the bytes, without the
    /// number's text as a String in between.
    public mutating func integer<T: FixedWidthInteger>(_: T.Type = T.self) throws -> T? {
        let start = p.i
        guard p.i < p.bytes.count, p.bytes[p.i] == UInt8(ascii: "-") || Parser.isDigit(p.bytes[p.i]) else {
            return try node().integer()
        }
        try p.skipNumber()
        var k = start
        let negative = p.bytes[k] == UInt8(ascii: "-")
        if negative { k += 1 }
        var v: T = 0
        var valid = true
        while k < p.i, valid {
            guard Parser.isDigit(p.bytes[k]) else { valid = false; break }
            let digit = T(p.bytes[k] - UInt8(ascii: "0"))
            let (times, o1) = v.multipliedReportingOverflow(by: 10)
            let (next, o2) = negative ? times.subtractingReportingOverflow(digit) : times.addingReportingOverflow(digit)
            valid = !o1 && !o2
            v = next
            k += 1
        }
        // Not an integer of T (a fraction, an exponent, out of range): JSONNode's error.
        if !valid { return try JSONNode(.number(String(decoding: p.bytes[start..<p.i], as: UTF8.self)), path: path + "." + key).integer() }
        return v
    }

    public mutating func bool() throws -> Bool? { try node().bool() }

    /// An object of strings as pairs, nil for null. `{}` (state.json's annotations, most
    /// often) without a tree or the member's path made for it.
    public mutating func stringMap() throws -> [(String, String)]? {
        var k = p.i
        if k < p.bytes.count, p.bytes[k] == UInt8(ascii: "{") {
            k += 1
            while k < p.bytes.count, Parser.isSpace(p.bytes[k]) { k += 1 }
            if k < p.bytes.count, p.bytes[k] == UInt8(ascii: "}") { p.i = k + 1; return [] }
        }
        return try node().stringMap()
    }
}
