/// Strings built without the standard library's generic entry points. The first call in a
/// process of Sequence.joined(separator:), String.append(contentsOf:) with a Substring or
/// String(_:) of an Int32 or a UInt64 looks up associated types and witness tables by
/// mangled name: tens of µs in every fresh skiff process and in every container init
/// (perf of `run`: 10% of skiff's samples were such lookups). These are the start path's.
public enum Text {
    /// `parts` with `separator` between them (joined(separator:)).
    public static func join(_ parts: [String], _ separator: String) -> String {
        var out = ""
        for (i, part) in parts.enumerated() {
            if i > 0 { out += separator }
            out += part
        }
        return out
    }

    /// The same for slices of a string (a path's components).
    public static func join<S: Collection>(_ parts: S, _ separator: String) -> String where S.Element == Substring {
        var out = ""
        var first = true
        for part in parts {
            if !first { out += separator }
            first = false
            out += String(part)
        }
        return out
    }

    /// The pieces of `s` between the bytes `isSeparator` picks, which must be ASCII
    /// (split(separator:) on the UTF-8 bytes): splitting by Character validates and rounds
    /// each piece's indices in code that nothing else on the start path runs (64 KB
    /// neighbourhoods of libswiftCore's text, faulted in by each process: peak RSS).
    public static func split(_ s: String, omittingEmpty: Bool = true, where isSeparator: (UInt8) -> Bool) -> [String] {
        var s = s
        return s.withUTF8 { bytes in
            var out: [String] = []
            var start = 0
            for i in 0...bytes.count where i == bytes.count || isSeparator(bytes[i]) {
                if i > start || !omittingEmpty {
                    out.append(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self))
                }
                start = i + 1
            }
            return out
        }
    }

    /// `s` without its leading `byte`s, cut at the first `separator` byte after them: a
    /// command-line flag "--name=value" is ("name", "value"), "-name" is ("name", nil).
    /// Both must be ASCII; cut on bytes as `split` is.
    public static func cutFlag(_ s: String, leading byte: UInt8, separator: UInt8) -> (String, String?) {
        var s = s
        return s.withUTF8 { bytes in
            var start = 0
            while start < bytes.count, bytes[start] == byte { start += 1 }
            func text(_ r: Range<Int>) -> String { String(decoding: UnsafeBufferPointer(rebasing: bytes[r]), as: UTF8.self) }
            guard let cut = bytes[start...].firstIndex(of: separator) else { return (text(start..<bytes.count), nil) }
            return (text(start..<cut), text((cut + 1)..<bytes.count))
        }
    }

    /// `s` without its leading `byte`s (an ASCII character): "//a/b" is "a/b" for "/".
    public static func dropLeading(_ s: String, _ byte: UInt8) -> String {
        var s = s
        return s.withUTF8 { bytes in
            var start = 0
            while start < bytes.count, bytes[start] == byte { start += 1 }
            return String(decoding: UnsafeBufferPointer(rebasing: bytes[start...]), as: UTF8.self)
        }
    }

    /// The same on one separator byte.
    public static func split(_ s: String, separator: UInt8, omittingEmpty: Bool = true) -> [String] {
        split(s, omittingEmpty: omittingEmpty) { $0 == separator }
    }

    /// Decimal digits of `v` (String(v)).
    public static func decimal(_ v: UInt64) -> String { digits(v, base: 10) }

    /// Lower-case hexadecimal digits of `v`, without "0x" (String(v, radix: 16)): mount
    /// flags in an error that the caller may expect and catch (a readonly path the kernel
    /// does not have).
    public static func hex(_ v: UInt64) -> String { digits(v, base: 16) }

    static func digits(_ v: UInt64, base: UInt64) -> String {
        if v == 0 { return "0" }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: maxDigits) { buffer in
            var i = maxDigits
            var rest = v
            while rest > 0 {
                i -= 1
                let d = UInt8(rest % base)
                buffer[i] = d < 10 ? zero + d : letterA + d - 10
                rest /= base
            }
            return String(decoding: UnsafeBufferPointer(rebasing: buffer[i...]), as: UTF8.self)
        }
    }

    public static func decimal(_ v: Int64) -> String {
        v < 0 ? "-" + decimal(v.magnitude) : decimal(UInt64(v))
    }

    /// UInt64.max has 20 digits.
    static let maxDigits = 20
    static let zero = UInt8(ascii: "0")
    static let letterA = UInt8(ascii: "a")
}

extension String {
    /// Whether the first byte is "/" (hasPrefix("/") compares Characters, through grapheme
    /// code that nothing else on the start path runs).
    public var startsWithSlash: Bool { utf8.first == UInt8(ascii: "/") }

    /// Whether `byte`, an ASCII character, occurs (contains(_: Character) decodes every
    /// Character on the way).
    public func containsByte(_ byte: UInt8) -> Bool { utf8.contains(byte) }
}
