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

    public static func int<T: BinaryInteger>(_ v: T) -> JSON { .number(String(v)) }
}

/// An object that keeps its keys in insertion order (for stable, readable output).
public struct JSONObject: Equatable {
    public private(set) var keys: [String] = []
    private var values: [JSON] = []
    /// Each key's UTF-8 length: compared first, since String's == on two different short
    /// keys is a call into the stdlib's Unicode comparison and most keys differ in length.
    private var lengths: [Int] = []
    /// Key to position, only for objects larger than `linearLimit`: a config's objects are
    /// small, and comparing a few short keys costs less than hashing one (seeded SipHash),
    /// on every parse of a config or a state file.
    private var index: [String: Int]?
    static let linearLimit = 16

    public init() {}
    public init(_ pairs: [(String, JSON)]) {
        for (k, v) in pairs { self[k] = v }
    }

    private func position(of key: String) -> Int? {
        if let index { return index[key] }
        let n = key.utf8.count
        for i in lengths.indices where lengths[i] == n && keys[i] == key { return i }
        return nil
    }

    public subscript(key: String) -> JSON? {
        get { position(of: key).map { values[$0] } }
        set {
            let at = position(of: key)
            if let newValue {
                if let at {
                    values[at] = newValue
                } else {
                    keys.append(key)
                    values.append(newValue)
                    lengths.append(key.utf8.count)
                    if index != nil {
                        index![key] = keys.count - 1
                    } else if keys.count > Self.linearLimit {
                        index = Dictionary(uniqueKeysWithValues: zip(keys, keys.indices))
                    }
                }
            } else if let at {
                keys.remove(at: at)
                values.remove(at: at)
                lengths.remove(at: at)
                if index != nil { index = keys.count > Self.linearLimit ? Dictionary(uniqueKeysWithValues: zip(keys, keys.indices)) : nil }
            }
        }
    }

    public var pairs: [(String, JSON)] { Array(zip(keys, values)) }
    public var isEmpty: Bool { keys.isEmpty }

    public static func == (a: JSONObject, b: JSONObject) -> Bool { a.keys == b.keys && a.values == b.values }
}

public struct JSONSyntaxError: Error, CustomStringConvertible {
    public let offset: Int
    public let line: Int
    public let column: Int
    public let reason: String
    public var description: String { "invalid JSON at line \(line), column \(column): \(reason)" }
}
