// The few D-Bus wire-format pieces the systemd driver needs (little-endian, protocol
// version 1). skiff is a static executable and libsystemd ships no static library, so
// it speaks the protocol itself; this is all of it: a marshaller, a reader, a message.

/// A value in a method call's body.
public indirect enum DBusValue: Equatable {
    case byte(UInt8)
    case bool(Bool)
    case uint32(UInt32)
    case uint64(UInt64)
    case string(String)
    case objectPath(String)
    case bytes([UInt8])              // ay
    case uint32s([UInt32])           // au
    /// a(sv): named properties, each value in a variant.
    case properties([(String, DBusValue)])
    /// a(sa(sv)): the aux units of StartTransientUnit.
    case auxUnits([(String, [(String, DBusValue)])])

    public static func == (a: DBusValue, b: DBusValue) -> Bool { a.signature == b.signature && "\(a)" == "\(b)" }

    public var signature: String {
        switch self {
        case .byte: "y"
        case .bool: "b"
        case .uint32: "u"
        case .uint64: "t"
        case .string: "s"
        case .objectPath: "o"
        case .bytes: "ay"
        case .uint32s: "au"
        case .properties: "a(sv)"
        case .auxUnits: "a(sa(sv))"
        }
    }
}

/// Marshals values with D-Bus alignment. Offsets are relative to the start of the
/// buffer, which is 8-aligned in the message (header start or body start).
struct DBusWriter {
    var bytes: [UInt8] = []

    mutating func pad(_ n: Int) { while bytes.count % n != 0 { bytes.append(0) } }
    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u32(_ v: UInt32) {
        pad(4)
        for i in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(i)))) }
    }
    mutating func u64(_ v: UInt64) {
        pad(8)
        for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) }
    }
    mutating func string(_ s: String) {
        let b = Array(s.utf8)
        u32(UInt32(b.count))
        bytes += b
        bytes.append(0)
    }
    mutating func signature(_ s: String) {
        let b = Array(s.utf8)
        u8(UInt8(b.count))
        bytes += b
        bytes.append(0)
    }
    /// An array: length prefix, padding to the element alignment, elements.
    mutating func array(alignment: Int, _ body: (inout DBusWriter) -> Void) {
        u32(0)
        let lengthAt = bytes.count - 4
        pad(alignment)
        let start = bytes.count
        body(&self)
        let n = UInt32(bytes.count - start)
        for i in 0..<4 { bytes[lengthAt + i] = UInt8(truncatingIfNeeded: n >> (8 * UInt32(i))) }
    }

    mutating func value(_ v: DBusValue) {
        switch v {
        case .byte(let b): u8(b)
        case .bool(let b): u32(b ? 1 : 0)
        case .uint32(let u): u32(u)
        case .uint64(let u): u64(u)
        case .string(let s), .objectPath(let s): string(s)
        case .bytes(let b): array(alignment: 1) { $0.bytes += b }
        case .uint32s(let a): array(alignment: 4) { w in for u in a { w.u32(u) } }
        case .properties(let props): properties(props)
        case .auxUnits(let units):
            array(alignment: 8) { w in
                for (name, props) in units {
                    w.pad(8)
                    w.string(name)
                    w.properties(props)
                }
            }
        }
    }

    mutating func properties(_ props: [(String, DBusValue)]) {
        array(alignment: 8) { w in
            for (name, v) in props {
                w.pad(8)
                w.string(name)
                w.signature(v.signature)
                w.value(v)
            }
        }
    }
}

/// Reads basic values from a message body (or header) with D-Bus alignment.
struct DBusReader {
    let bytes: [UInt8]
    var offset: Int
    let base: Int  // where alignment is counted from

    init(_ bytes: [UInt8], from offset: Int = 0, base: Int = 0) {
        self.bytes = bytes
        self.offset = offset
        self.base = base
    }

    enum Failure: Error { case truncated, badSignature }

    mutating func align(_ n: Int) { while (offset - base) % n != 0 { offset += 1 } }
    mutating func u8() throws -> UInt8 {
        guard offset < bytes.count else { throw Failure.truncated }
        defer { offset += 1 }
        return bytes[offset]
    }
    mutating func u32() throws -> UInt32 {
        align(4)
        guard offset + 4 <= bytes.count else { throw Failure.truncated }
        var v: UInt32 = 0
        for i in 0..<4 { v |= UInt32(bytes[offset + i]) << (8 * UInt32(i)) }
        offset += 4
        return v
    }
    mutating func u64() throws -> UInt64 {
        align(8)
        guard offset + 8 <= bytes.count else { throw Failure.truncated }
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(bytes[offset + i]) << (8 * UInt64(i)) }
        offset += 8
        return v
    }
    mutating func string() throws -> String {
        let n = Int(try u32())
        guard offset + n + 1 <= bytes.count else { throw Failure.truncated }
        defer { offset += n + 1 }
        return String(decoding: bytes[offset..<offset + n], as: UTF8.self)
    }
    mutating func signature() throws -> String {
        let n = Int(try u8())
        guard offset + n + 1 <= bytes.count else { throw Failure.truncated }
        defer { offset += n + 1 }
        return String(decoding: bytes[offset..<offset + n], as: UTF8.self)
    }

    /// Skips one value of a single complete type (for header fields and variants we ignore).
    mutating func skip(_ sig: inout Substring) throws {
        guard let c = sig.first else { throw Failure.badSignature }
        sig = sig.dropFirst()
        switch c {
        case "y": _ = try u8()
        case "b", "u", "i", "h": _ = try u32()
        case "n", "q": align(2); offset += 2
        case "t", "x", "d": _ = try u64()
        case "s", "o": _ = try string()
        case "g": _ = try signature()
        case "v":
            var inner = Substring(try signature())
            try skip(&inner)
        case "a":
            let n = Int(try u32())
            align(Self.alignment(of: sig.first ?? "y"))
            offset += n
            var rest = sig
            try Self.dropType(&rest)
            sig = rest
        case "(", "{":
            align(8)
            while let f = sig.first, f != ")" && f != "}" { try skip(&sig) }
            sig = sig.dropFirst()
        default: throw Failure.badSignature
        }
        guard offset <= bytes.count else { throw Failure.truncated }
    }

    static func alignment(of c: Character) -> Int {
        switch c {
        case "y", "g", "v": 1
        case "n", "q": 2
        case "t", "x", "d", "(", "{": 8
        default: 4
        }
    }

    /// Removes one complete type from the front of a signature.
    static func dropType(_ sig: inout Substring) throws {
        guard let c = sig.first else { throw Failure.badSignature }
        sig = sig.dropFirst()
        if c == "a" { try dropType(&sig) } else if c == "(" || c == "{" {
            while let f = sig.first, f != ")" && f != "}" { try dropType(&sig) }
            sig = sig.dropFirst()
        }
    }
}

/// One D-Bus message: what skiff sends (method calls) and what it reads back.
public struct DBusMessage {
    public enum Kind: UInt8 { case methodCall = 1, methodReturn = 2, error = 3, signal = 4 }

    public var kind: Kind
    public var serial: UInt32
    public var path: String?
    public var interface: String?
    public var member: String?
    public var destination: String?
    public var errorName: String?
    public var replySerial: UInt32?
    public var signature: String = ""
    public var body: [UInt8] = []

    public static func call(_ destination: String?, _ path: String, _ interface: String, _ member: String,
                            _ args: [DBusValue] = [], serial: UInt32) -> DBusMessage {
        var w = DBusWriter()
        for a in args { w.value(a) }
        return DBusMessage(kind: .methodCall, serial: serial, path: path, interface: interface, member: member,
                           destination: destination, signature: args.map(\.signature).joined(), body: w.bytes)
    }

    public func encoded() -> [UInt8] {
        var w = DBusWriter()
        w.u8(UInt8(ascii: "l"))
        w.u8(kind.rawValue)
        w.u8(0)  // flags
        w.u8(1)  // protocol version
        w.u32(UInt32(body.count))
        w.u32(serial)
        w.array(alignment: 8) { f in
            func field(_ code: UInt8, _ sig: String, _ write: (inout DBusWriter) -> Void) {
                f.pad(8)
                f.u8(code)
                f.signature(sig)
                write(&f)
            }
            if let path { field(1, "o") { $0.string(path) } }
            if let interface { field(2, "s") { $0.string(interface) } }
            if let member { field(3, "s") { $0.string(member) } }
            if let errorName { field(4, "s") { $0.string(errorName) } }
            if let replySerial { field(5, "u") { $0.u32(replySerial) } }
            if let destination { field(6, "s") { $0.string(destination) } }
            if !signature.isEmpty { field(8, "g") { $0.signature(signature) } }
        }
        w.pad(8)
        return w.bytes + body
    }

    /// The total length of the message at the start of `bytes`, once its fixed header is in.
    static func length(of bytes: ArraySlice<UInt8>) -> Int? {
        guard bytes.count >= 16 else { return nil }
        let b = Array(bytes.prefix(16))
        guard b[0] == UInt8(ascii: "l") else { return -1 }  // skiff reads little-endian peers only
        func u32(_ at: Int) -> Int { Int(b[at]) | Int(b[at + 1]) << 8 | Int(b[at + 2]) << 16 | Int(b[at + 3]) << 24 }
        let fields = u32(12)
        let header = (16 + fields + 7) & ~7
        return header + u32(4)
    }

    static func decode(_ bytes: [UInt8]) throws -> DBusMessage {
        var r = DBusReader(bytes)
        r.offset = 1
        guard let kind = Kind(rawValue: try r.u8()) else { throw DBusReader.Failure.badSignature }
        r.offset = 4
        let bodyLength = Int(try r.u32())
        let serial = try r.u32()
        let fieldsLength = Int(try r.u32())
        var m = DBusMessage(kind: kind, serial: serial)
        let end = r.offset + fieldsLength
        while r.offset < end {
            r.align(8)
            let code = try r.u8()
            let sig = try r.signature()
            switch (code, sig) {
            case (1, "o"): m.path = try r.string()
            case (2, "s"): m.interface = try r.string()
            case (3, "s"): m.member = try r.string()
            case (4, "s"): m.errorName = try r.string()
            case (5, "u"): m.replySerial = try r.u32()
            case (6, "s"): m.destination = try r.string()
            case (8, "g"): m.signature = try r.signature()
            default:
                var s = Substring(sig)
                try r.skip(&s)
            }
        }
        r.offset = end
        r.align(8)
        guard r.offset + bodyLength <= bytes.count else { throw DBusReader.Failure.truncated }
        m.body = Array(bytes[r.offset..<r.offset + bodyLength])
        return m
    }

    /// A reader over the body (alignment counts from the body's start, which is 8-aligned).
    var bodyReader: DBusReader { DBusReader(body) }
}
