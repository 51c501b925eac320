// Typed reads from a JSON value that remember where they are, so every config error
// names its JSON path: `linux.namespaces[2].type: unknown namespace "foo"`.

public struct ConfigError: Error, CustomStringConvertible, Equatable {
    public let path: String
    public let message: String
    public init(_ path: String, _ message: String) {
        self.path = path
        self.message = message
    }
    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}

public struct JSONNode {
    public let value: JSON?
    /// Where the value sits, kept as links to its parents and rendered only for an error
    /// message: building "linux.resources.memory" on every lookup was most of reading a
    /// state file (list reads one per container) and a good part of parsing a config. A
    /// node holds its own name inline; a link is made only to descend further.
    private let parent: Location?
    private let key: String?
    /// An array element's position; `noIndex` otherwise.
    private let index: Int
    /// A root given a path: its own link, made once for all its members.
    private let rootLocation: Location?
    static let noIndex = -1

    final class Location {
        let parent: Location?
        let key: String?
        let index: Int
        init(parent: Location?, key: String?, index: Int = JSONNode.noIndex) {
            self.parent = parent
            self.key = key
            self.index = index
        }
    }

    public init(_ value: JSON?, path: String = "") {
        self.value = value
        parent = nil
        key = nil
        index = Self.noIndex
        rootLocation = path.isEmpty ? nil : Location(parent: nil, key: path)
    }

    private init(_ value: JSON?, parent: Location?, key: String?, index: Int = JSONNode.noIndex) {
        self.value = value
        self.parent = parent
        self.key = key
        self.index = index
        rootLocation = nil
    }

    /// The link its members point to: made here unless it is a root (nil when unnamed).
    private var location: Location? {
        if let rootLocation { return rootLocation }
        if key == nil && index == Self.noIndex { return parent }
        return Location(parent: parent, key: key, index: index)
    }

    /// The dotted path of the value ("linux.resources.memory", "mounts[2].options").
    public var path: String {
        var chain: [Location] = []
        var l = location
        while let here = l {
            chain.append(here)
            l = here.parent
        }
        var s = ""
        for part in chain.reversed() {
            if let k = part.key { s += s.isEmpty ? k : "." + k } else if part.index != Self.noIndex { s += "[\(part.index)]" }
        }
        return s
    }

    public var isMissing: Bool {
        if case .none = value { return true }
        if case .some(.null) = value { return true }
        return false
    }

    public subscript(key: String) -> JSONNode {
        if case .object(let o)? = value { return JSONNode(o[key], parent: location, key: key) }
        return JSONNode(nil, parent: location, key: key)
    }

    public subscript(index: Int) -> JSONNode {
        if case .array(let a)? = value, a.indices.contains(index) { return JSONNode(a[index], parent: location, key: nil, index: index) }
        return JSONNode(nil, parent: location, key: nil, index: index)
    }

    public func fail(_ message: String) -> ConfigError { ConfigError(path, message) }

    private var kind: String {
        switch value {
        case .none, .null?: return "null"
        case .bool?: return "boolean"
        case .number?: return "number"
        case .string?: return "string"
        case .array?: return "array"
        case .object?: return "object"
        }
    }

    private func mismatch(_ want: String) -> ConfigError { fail("expected \(want), got \(kind)") }

    public func object() throws -> JSONObject? {
        if isMissing { return nil }
        guard case .object(let o)? = value else { throw mismatch("object") }
        return o
    }

    public func string() throws -> String? {
        if isMissing { return nil }
        guard case .string(let s)? = value else { throw mismatch("string") }
        return s
    }

    public func requiredString() throws -> String {
        guard let s = try string() else { throw fail("is required") }
        return s
    }

    public func bool() throws -> Bool? {
        if isMissing { return nil }
        guard case .bool(let b)? = value else { throw mismatch("boolean") }
        return b
    }

    public func integer<T: FixedWidthInteger>(_: T.Type = T.self) throws -> T? {
        if isMissing { return nil }
        guard case .number(let n)? = value else { throw mismatch("integer") }
        if let v = T(n) { return v }
        // Accept integral values written with an exponent or fraction, as Go does not; be strict.
        throw fail("\(n) is not a valid \(T.isSigned ? "" : "non-negative ")integer in range \(T.min)...\(T.max)")
    }

    public func requiredInteger<T: FixedWidthInteger>(_: T.Type = T.self) throws -> T {
        guard let v: T = try integer() else { throw fail("is required") }
        return v
    }

    public func double() throws -> Double? {
        if isMissing { return nil }
        guard case .number(let n)? = value, let d = Double(n) else { throw mismatch("number") }
        return d
    }

    public func array() throws -> [JSONNode]? {
        if isMissing { return nil }
        guard case .array(let a)? = value else { throw mismatch("array") }
        let here = location
        return a.enumerated().map { JSONNode($0.element, parent: here, key: nil, index: $0.offset) }
    }

    public func stringArray() throws -> [String]? {
        guard let a = try array() else { return nil }
        return try a.map { try $0.requiredString() }
    }

    public func stringMap() throws -> [(String, String)]? {
        guard let o = try object() else { return nil }
        let here = location
        return try o.pairs.map { (k, v) in
            let member = JSONNode(v, parent: here, key: k)
            guard let s = try member.string() else { throw ConfigError(member.path, "expected string, got null") }
            return (k, s)
        }
    }

    public func map<T>(_ f: (JSONNode) throws -> T) throws -> [T]? {
        try array()?.map(f)
    }
}
