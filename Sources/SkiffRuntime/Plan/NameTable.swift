/// A short table from names to values, written as a dictionary literal and looked up by a
/// scan. For the start path's fixed tables of a few dozen names (mount options): building
/// a Dictionary runs hashing and storage code of libswiftCore's big text section that
/// nothing else there runs, a 64 KB neighbourhood of peak RSS in every container init,
/// and a scan of twenty short strings costs less than hashing one.
public struct NameTable<Value>: ExpressibleByDictionaryLiteral {
    let entries: [(name: String, value: Value)]

    public init(dictionaryLiteral elements: (String, Value)...) {
        entries = elements.map { (name: $0.0, value: $0.1) }
    }

    public subscript(_ name: String) -> Value? {
        for e in entries where e.name == name { return e.value }
        return nil
    }

    /// The names in the order written.
    public var keys: [String] { entries.map(\.name) }
}
