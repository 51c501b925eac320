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
    public let path: String

    public init(_ value: JSON?, path: String = "") {
        self.value = value
        self.path = path
    }

    public var isMissing: Bool {
        if case .none = value { return true }
        if case .some(.null) = value { return true }
        return false
    }

    public subscript(key: String) -> JSONNode {
        let p = path.isEmpty ? key : "\(path).\(key)"
        if case .object(let o)? = value { return JSONNode(o[key], path: p) }
        return JSONNode(nil, path: p)
    }

    public subscript(index: Int) -> JSONNode {
        let p = "\(path)[\(index)]"
        if case .array(let a)? = value, a.indices.contains(index) { return JSONNode(a[index], path: p) }
        return JSONNode(nil, path: p)
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
        return a.enumerated().map { JSONNode($0.element, path: "\(path)[\($0.offset)]") }
    }

    public func stringArray() throws -> [String]? {
        guard let a = try array() else { return nil }
        return try a.map { try $0.requiredString() }
    }

    public func stringMap() throws -> [(String, String)]? {
        guard let o = try object() else { return nil }
        return try o.pairs.map { (k, v) in
            guard let s = try JSONNode(v, path: "\(path).\(k)").string() else {
                throw ConfigError("\(path).\(k)", "expected string, got null")
            }
            return (k, s)
        }
    }

    public func map<T>(_ f: (JSONNode) throws -> T) throws -> [T]? {
        try array()?.map(f)
    }
}
