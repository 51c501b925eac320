/// Strings built without the standard library's generic entry points. The first call in a
/// process of Sequence.joined(separator:), String.append(contentsOf:) with a Substring or
/// String(_:) of an Int32 or a UInt64 looks up associated types and witness tables by
/// mangled name: tens of µs in every fresh skiff process and in every container init
/// (perf of `run`: 10% of skiff's samples were such lookups). These are the start path's.
public enum Text {
    /// `parts` with `separator` between them (joined(separator:)). Made as bytes, then
    /// one String: appending to a String past 15 bytes (mount data such as
    /// "mode=755,size=65536k") runs libswiftCore's _StringGuts.append, a 64 KB window of
    /// code the container's init touched for nothing else.
    public static func join(_ parts: [String], _ separator: String) -> String {
        if parts.count == 1 { return parts[0] }
        var total = separator.utf8.count * max(0, parts.count - 1)
        for part in parts { total += part.utf8.count }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(total)
        for (i, part) in parts.enumerated() {
            if i > 0 { appendUTF8(separator, to: &bytes) }
            appendUTF8(part, to: &bytes)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func appendUTF8(_ s: String, to bytes: inout [UInt8]) {
        var s = s
        s.withUTF8 { bytes.append(contentsOf: $0) }
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
        let rest = dropLeading(s, byte)
        guard let (name, value) = cut(rest, separator) else { return (rest, nil) }
        return (name, value)
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

    /// The value of one hexadecimal digit, either case; nil for any other byte.
    static func hexDigit(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

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

    /// `prefix` and the decimal digits of `v` ("/proc/self/fd/" and an fd) made in one
    /// buffer: an interpolation past 15 bytes (a String's inline size) grows the string
    /// through libswiftCore's _StringGuts.append, which the container's init, mounting
    /// through /proc/self/fd paths, ran for nothing else: a 64 KB window of its RSS.
    public static func decimal(after prefix: StaticString, _ v: UInt64) -> String {
        let n = prefix.utf8CodeUnitCount
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: n + maxDigits) { buffer in
            var i = n + maxDigits
            var rest = v
            repeat {
                i -= 1
                buffer[i] = zero + UInt8(rest % 10)
                rest /= 10
            } while rest > 0
            let start = i - n
            for k in 0..<n { buffer[start + k] = prefix.utf8Start[k] }
            return String(decoding: UnsafeBufferPointer(rebasing: buffer[start...]), as: UTF8.self)
        }
    }

    /// The components of a path and, for each, the path up to and including it, with
    /// a leading "/" ("/a//b": ("a", "/a"), ("b", "/a//b")). On bytes, each step made
    /// whole: appending to a String past 15 bytes runs libswiftCore's _StringGuts.append.
    public static func pathSteps(_ path: String) -> [(component: String, upTo: String)] {
        if !path.startsWithSlash { return pathSteps("/" + path) }
        var path = path
        return path.withUTF8 { b in
            var steps: [(component: String, upTo: String)] = []
            var i = 0
            while i < b.count {
                while i < b.count, b[i] == slash { i += 1 }
                let start = i
                while i < b.count, b[i] != slash { i += 1 }
                if i > start {
                    steps.append((String(decoding: UnsafeBufferPointer(rebasing: b[start..<i]), as: UTF8.self),
                                  String(decoding: UnsafeBufferPointer(rebasing: b[..<i]), as: UTF8.self)))
                }
            }
            return steps
        }
    }
    static let slash = UInt8(ascii: "/")

    /// `s` up to its first `byte`, all of it without one (an environment entry's name).
    /// On bytes: prefix(while:) decodes Characters, through grapheme code.
    public static func upTo(_ s: String, _ byte: UInt8) -> String { cut(s, byte)?.before ?? s }

    /// `s` cut at its first (or `last`) `byte`: what comes before it and what comes
    /// after it, nil without one. On bytes: String's firstIndex(of:), lastIndex(of:) and
    /// slicing decode Characters, through grapheme code nothing else in the init runs.
    public static func cut(_ s: String, _ byte: UInt8, last: Bool = false) -> (before: String, after: String)? {
        var s = s
        return s.withUTF8 { b in
            guard let i = last ? b.lastIndex(of: byte) : b.firstIndex(of: byte) else { return nil }
            return (String(decoding: UnsafeBufferPointer(rebasing: b[..<i]), as: UTF8.self),
                    String(decoding: UnsafeBufferPointer(rebasing: b[(i + 1)...]), as: UTF8.self))
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
