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
    public private(set) var storage: [String: JSON] = [:]

    public init() {}
    public init(_ pairs: [(String, JSON)]) {
        for (k, v) in pairs { self[k] = v }
    }

    public subscript(key: String) -> JSON? {
        get { storage[key] }
        set {
            if let newValue {
                if storage.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if storage.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    public var pairs: [(String, JSON)] { keys.map { ($0, storage[$0]!) } }
    public var isEmpty: Bool { keys.isEmpty }
}

public struct JSONSyntaxError: Error, CustomStringConvertible {
    public let offset: Int
    public let line: Int
    public let column: Int
    public let reason: String
    public var description: String { "invalid JSON at line \(line), column \(column): \(reason)" }
}
