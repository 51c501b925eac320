import SkiffRuntime

/// One row of the command table: parsing, `--help` and usage errors all come from it.
struct Command {
    let name: String
    let summary: String
    /// What follows `skiff NAME` in the usage line.
    let usage: String
    /// Text after the usage line (what the arguments mean), or empty.
    var details: String = ""
    var flags: [Flag] = []
    /// Exactly how many positionals, or a range; checked before the handler runs.
    var arguments: ClosedRange<Int> = 1...1
    /// Everything from the first positional on belongs to the command (exec's program).
    var stopAtPositional = false
    /// Commands that touch container processes: not dumpable, so a container process
    /// sharing our pid namespace cannot open our /proc/<pid> files.
    var touchesContainers = true
    /// Commands that clone into the container from this binary re-exec through a
    /// protected copy first (CVE-2019-5736).
    var clonesIntoContainer = false
    let handler: (ParsedArgs, inout RuntimeOptions) throws -> Int32

    static let helpFlag = Flag.bool("help", "h", help: "show help")

    var allFlags: [Flag] { flags + [Command.helpFlag] }

    /// Parses this command's arguments; usage errors name the command, as runc's do.
    func parse(_ args: ArraySlice<String>) throws -> ParsedArgs {
        var (p, rest) = try parseFlags(args, allFlags, stopAtPositional: stopAtPositional)
        p.positional += rest
        if p.bool("help") { return p }
        if !arguments.contains(p.positional.count) {
            throw UsageError(description: "skiff: \"\(name)\" requires \(Command.countWords(arguments))")
        }
        return p
    }

    static func countWords(_ r: ClosedRange<Int>) -> String {
        if r.lowerBound == r.upperBound { return "exactly \(r.lowerBound) argument(s)" }
        if r.upperBound == Int.max { return "a minimum of \(r.lowerBound) argument(s)" }
        return "\(r.lowerBound) to \(r.upperBound) argument(s)"
    }

    /// `skiff NAME --help`, in runc's (urfave/cli's) layout.
    var help: String {
        var s = "NAME:\n   skiff \(name) - \(summary)\n\nUSAGE:\n   skiff \(name) \(usage)\n"
        if !details.isEmpty { s += "\n" + details + "\n" }
        s += "\nOPTIONS:\n" + Command.table(allFlags.map { ($0.shown, $0.help) })
        return s
    }

    /// Two columns, the first padded to its widest entry plus two spaces.
    static func table(_ rows: [(String, String)]) -> String {
        let width = rows.map(\.0.count).max() ?? 0
        return rows.map { "   " + $0.0 + String(repeating: " ", count: width - $0.0.count + 2) + $0.1 + "\n" }.joined()
    }
}
