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
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "<", ">", "&":
                // Escaped as Go's encoding/json does, so our output matches runc's byte for byte.
                out += "\\u00" + String(u.value, radix: 16)
            default:
                if u.value < 0x20 {
                    let h = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        out += "\""
    }
}
