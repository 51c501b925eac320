import SkiffRuntime

/// runc-style flags: `--name value`, `--name=value`, Go's single-dash `-name`, short `-b`,
/// booleans with optional `=true|false`. Flags may come before or after positionals.
struct Flag {
    let names: [String]   // without dashes; first is canonical
    let takesValue: Bool
    var canonical: String { names[0] }
}

struct ParsedArgs {
    var values: [String: String] = [:]
    var positional: [String] = []

    func bool(_ name: String) -> Bool { values[name] == "true" }
    func string(_ name: String) -> String? { values[name] }
}

struct UsageError: Error, CustomStringConvertible {
    let description: String
}

func parseFlags(_ args: ArraySlice<String>, _ flags: [Flag], stopAtPositional: Bool = false) throws -> (ParsedArgs, ArraySlice<String>) {
    var out = ParsedArgs()
    var i = args.startIndex
    while i < args.endIndex {
        let a = args[i]
        if a == "--" {
            out.positional.append(contentsOf: args[(i + 1)...])
            return (out, [])
        }
        guard a.hasPrefix("-"), a.count > 1 else {
            if stopAtPositional { return (out, args[i...]) }
            out.positional.append(a)
            i += 1
            continue
        }
        var name = String(a.drop(while: { $0 == "-" }))
        var inline: String?
        if let eq = name.firstIndex(of: "=") {
            inline = String(name[name.index(after: eq)...])
            name = String(name[..<eq])
        }
        guard let f = flags.first(where: { $0.names.contains(name) }) else {
            throw UsageError(description: "flag provided but not defined: -\(name)")
        }
        if f.takesValue {
            if let inline {
                out.values[f.canonical] = inline
            } else {
                i += 1
                guard i < args.endIndex else { throw UsageError(description: "flag needs an argument: -\(name)") }
                out.values[f.canonical] = args[i]
            }
        } else {
            let v = inline ?? "true"
            guard v == "true" || v == "false" else {
                throw UsageError(description: "invalid boolean value \"\(v)\" for -\(name)")
            }
            out.values[f.canonical] = v
        }
        i += 1
    }
    return (out, [])
}
