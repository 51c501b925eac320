// A small JSON value type. skiff avoids Foundation's JSONDecoder: linking Foundation
// into the static binary costs about a millisecond on every invocation.

public enum JSON: Equatable {
    case null
    case bool(Bool)
    /// Numbers keep their source text so that 64-bit integers survive exactly.
    case number(String)
    case string(String)
    case array([JSON])
    case object(JSONObject)

    public static func int<T: BinaryInteger>(_ v: T) -> JSON {
        .number(T.isSigned ? Text.decimal(Int64(v)) : Text.decimal(UInt64(v)))
    }
}

/// An object that keeps its keys in insertion order (for stable, readable output).
public struct JSONObject: Equatable {
    /// Members in order, with each key's UTF-8 length: compared first, since String's ==
    /// on two different short keys is a call into the stdlib's Unicode comparison and most
    /// keys differ in length. One array: a parse makes an object per JSON object.
    private struct Member: Equatable {
        var key: String
        var length: Int
        var value: JSON
    }
    private var members: [Member] = []
    /// Key to position, only for objects larger than `linearLimit`: a config's objects are
    /// small, and comparing a few short keys costs less than hashing one (seeded SipHash),
    /// on every parse of a config or a state file.
    private var index: [String: Int]?
    static let linearLimit = 16
    /// Room made by the first member: most objects have a few, and growing 1, 2, 4, 8 is
    /// an allocation each.
    static let initialCapacity = 8

    public init() {}
    public init(_ pairs: [(String, JSON)]) {
        for (k, v) in pairs { self[k] = v }
    }

    public var keys: [String] { members.map(\.key) }

    private func position(of key: String) -> Int? {
        if let index { return index[key] }
        let n = key.utf8.count
        for i in members.indices where members[i].length == n && members[i].key == key { return i }
        return nil
    }

    private func makeIndex() -> [String: Int] {
        Dictionary(uniqueKeysWithValues: zip(members.lazy.map(\.key), members.indices))
    }

    public subscript(key: String) -> JSON? {
        get { position(of: key).map { members[$0].value } }
        set {
            let at = position(of: key)
            if let newValue {
                if let at {
                    members[at].value = newValue
                } else {
                    if members.isEmpty { members.reserveCapacity(Self.initialCapacity) }
                    members.append(Member(key: key, length: key.utf8.count, value: newValue))
                    if index != nil {
                        index![key] = members.count - 1
                    } else if members.count > Self.linearLimit {
                        index = makeIndex()
                    }
                }
            } else if let at {
                members.remove(at: at)
                if index != nil { index = members.count > Self.linearLimit ? makeIndex() : nil }
            }
        }
    }

    public var pairs: [(String, JSON)] { members.map { ($0.key, $0.value) } }
    public var isEmpty: Bool { members.isEmpty }

    public static func == (a: JSONObject, b: JSONObject) -> Bool { a.members == b.members }
}

public struct JSONSyntaxError: Error, CustomStringConvertible {
    public let offset: Int
    public let line: Int
    public let column: Int
    public let reason: String
    public var description: String { "invalid JSON at line \(line), column \(column): \(reason)" }
}
