import SkiffRuntime

/// runc-style flags: `--name value`, `--name=value`, Go's single-dash `-name`, short `-b`,
/// booleans with optional `=true|false`. Flags may come before or after positionals
/// unless the command stops at its first positional (exec, ps: what follows is theirs).
struct Flag {
    let names: [String]   // without dashes; first is canonical
    let takesValue: Bool
    let help: String
    /// May be given more than once (-e, --cap): every value is kept, in order.
    var repeatable = false

    static func bool(_ names: String..., help: String) -> Flag { Flag(names: names, takesValue: false, help: help) }
    static func value(_ names: String..., help: String) -> Flag { Flag(names: names, takesValue: true, help: help) }
    static func list(_ names: String..., help: String) -> Flag {
        Flag(names: names, takesValue: true, help: help, repeatable: true)
    }

    var canonical: String { names[0] }

    /// `--bundle value, -b value` as urfave/cli (runc's) prints it.
    var shown: String {
        names.map { ($0.count == 1 ? "-" : "--") + $0 + (takesValue ? " value" : "") }.joined(separator: ", ")
    }
}

struct ParsedArgs {
    /// Flags by canonical name in the order given, looked up by a scan (the last one given
    /// counts): a command line has a handful, and a Dictionary runs hashing code of
    /// libswiftCore that nothing else on the start path does (64 KB of RSS per process).
    private(set) var given: [(name: String, value: String)] = []
    var positional: [String] = []

    func value(_ name: String) -> String? { given.last(where: { $0.name == name })?.value }
    func bool(_ name: String) -> Bool { value(name) == "true" }
    /// nil when the flag was not given (so a default applies), else its value.
    func optionalBool(_ name: String) -> Bool? { value(name).map { $0 == "true" } }
    func string(_ name: String) -> String? { value(name) }
    /// Every value a repeatable flag was given, in order.
    func list(_ name: String) -> [String] { given.filter { $0.name == name }.map(\.value) }
    /// The flags as a map, the last value of each (update's resource flags).
    var values: [String: String] { Dictionary(given.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 }) }

    mutating func set(_ name: String, _ value: String) { given.append((name, value)) }
}

struct UsageError: Error, CustomStringConvertible {
    let description: String
}

private let dash = UInt8(ascii: "-")
private let equals = UInt8(ascii: "=")

func parseFlags(_ args: ArraySlice<String>, _ flags: [Flag], stopAtPositional: Bool = false) throws -> (ParsedArgs, ArraySlice<String>) {
    var out = ParsedArgs()
    var i = args.startIndex
    while i < args.endIndex {
        let a = args[i]
        if a == "--" {
            if stopAtPositional { return (out, args[(i + 1)...]) }
            out.positional.append(contentsOf: args[(i + 1)...])
            return (out, [])
        }
        guard a.utf8.first == dash, a.utf8.count > 1 else {
            if stopAtPositional { return (out, args[i...]) }
            out.positional.append(a)
            i += 1
            continue
        }
        // Cut on the UTF-8 bytes (Text.cutFlag): slicing by Character rounds indices to
        // grapheme boundaries in code no other start-up step runs (64 KB of peak RSS).
        let (name, inline) = Text.cutFlag(a, leading: dash, separator: equals)
        guard let f = flags.first(where: { $0.names.contains(name) }) else {
            throw UsageError(description: "flag provided but not defined: -\(name)")
        }
        if f.takesValue {
            let value: String
            if let inline {
                value = inline
            } else {
                i += 1
                guard i < args.endIndex else { throw UsageError(description: "flag needs an argument: -\(name)") }
                value = args[i]
            }
            out.set(f.canonical, value)
        } else {
            let v = inline ?? "true"
            guard v == "true" || v == "false" else {
                throw UsageError(description: "invalid boolean value \"\(v)\" for -\(name)")
            }
            out.set(f.canonical, v)
        }
        i += 1
    }
    return (out, [])
}
