// Serialises JSON compactly (state files, log lines) or indented (spec, features).

extension JSON {
    /// `indent` nil: compact. Otherwise one `indent` per level (runc uses "\t" for spec, "  " for state).
    public func serialized(indent: String? = nil) -> String {
        var out = ""
        out.reserveCapacity(256)
        write(into: &out, unit: indent ?? "", pretty: indent != nil, indent: 0)
        return out
    }

    private func write(into out: inout String, unit: String, pretty: Bool, indent: Int) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let n): out += n
        case .string(let s): JSON.escape(s, into: &out)
        case .array(let a):
            if a.isEmpty { out += "[]"; return }
            out += "["
            for (k, v) in a.enumerated() {
                if k > 0 { out += "," }
                if pretty { out += "\n" + String(repeating: unit, count: indent + 1) }
                v.write(into: &out, unit: unit, pretty: pretty, indent: indent + 1)
            }
            if pretty { out += "\n" + String(repeating: unit, count: indent) }
            out += "]"
        case .object(let o):
            if o.isEmpty { out += "{}"; return }
            out += "{"
            for (k, (key, v)) in o.pairs.enumerated() {
                if k > 0 { out += "," }
                if pretty { out += "\n" + String(repeating: unit, count: indent + 1) }
                JSON.escape(key, into: &out)
                out += pretty ? ": " : ":"
                v.write(into: &out, unit: unit, pretty: pretty, indent: indent + 1)
            }
            if pretty { out += "\n" + String(repeating: unit, count: indent) }
            out += "}"
        }
    }

    static func escape(_ s: String, into out: inout String) {
        out += "\""
        // Byte by byte: every character escaped is ASCII, and the bytes of a longer UTF-8
        // sequence are all 0x80 or more, so they pass through as they are. Most strings need
        // nothing escaped and are appended whole (appending scalar by scalar runs code of
        // libswiftCore that nothing else on the start path does).
        guard s.utf8.contains(where: needsEscape) else {
            out += s
            out += "\""
            return
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(s.utf8.count + escapeSlack)
        for b in s.utf8 {
            switch b {
            case quote, backslash: bytes.append(backslash); bytes.append(b)
            case newline: bytes.append(backslash); bytes.append(UInt8(ascii: "n"))
            case carriageReturn: bytes.append(backslash); bytes.append(UInt8(ascii: "r"))
            case tab: bytes.append(backslash); bytes.append(UInt8(ascii: "t"))
            default:
                guard needsEscape(b) else { bytes.append(b); continue }
                // Control characters, and < > & as Go's encoding/json escapes them, so our
                // output matches runc's byte for byte: \u00 and two lower-case hex digits.
                for c in "\\u00".utf8 { bytes.append(c) }
                bytes.append(hexDigits[Int(b >> 4)])
                bytes.append(hexDigits[Int(b & 0xF)])
            }
        }
        out += String(decoding: bytes, as: UTF8.self)
        out += "\""
    }

    private static func needsEscape(_ b: UInt8) -> Bool {
        b < firstPrintable || b == quote || b == backslash || b == less || b == greater || b == ampersand
    }

    private static let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")
    private static let newline = UInt8(ascii: "\n"), carriageReturn = UInt8(ascii: "\r"), tab = UInt8(ascii: "\t")
    private static let less = UInt8(ascii: "<"), greater = UInt8(ascii: ">"), ampersand = UInt8(ascii: "&")
    /// Below this, a control character.
    private static let firstPrintable: UInt8 = 0x20
    private static let hexDigits = Array("0123456789abcdef".utf8)
    /// Room for a few escapes before the byte buffer grows.
    private static let escapeSlack = 16
}
