import Glibc
import SkiffRuntime

// The command line: the global flags and the dispatch. The commands are the table in
// Commands.swift. Parsing is pure (no file opened, nothing run) so that the fuzzer can
// drive it: `Globals.parse`, then `Command.parse`.

let globalFlags = [
    Flag.value("root", help: "root directory for container state (default: \"/run/skiff\", or \"$XDG_RUNTIME_DIR/skiff\" when not root)"),
    Flag.value("log", help: "file to write log lines to (default: stderr)"),
    Flag.value("log-format", help: "the log format: text (default) or json"),
    Flag.bool("debug", help: "enable debug logging"),
    Flag.bool("trace", help: "print the time of each start-up phase on stderr (also SKIFF_TRACE=text|json)"),
    Flag.bool("systemd-cgroup", help: "use the systemd cgroup driver (cgroupsPath \"slice:prefix:name\")"),
    Flag.value("cgroup-manager", help: "the cgroup driver: cgroupfs (default), systemd or disabled"),
    Flag.value("rootless", help: "run as an unprivileged user: true, false or auto (default: auto, true when not root or in a user namespace)"),
    Flag.value("criu", help: "ignored: skiff does not checkpoint (accepted for runc compatibility)"),
    Flag.bool("version", "v", help: "print the version"),
    Command.helpFlag,
]

func globalUsage() -> String {
    """
    NAME:
       skiff - a runc-compatible OCI container runtime

    USAGE:
       skiff [global options] command [command options] [arguments...]

    COMMANDS:

    """ + Command.table(commands.map { ($0.name, $0.summary) }) + """

    GLOBAL OPTIONS:

    """ + Command.table(globalFlags.map { ($0.shown, $0.help) })
}

/// The global flags, checked; nothing applied yet.
struct Globals {
    var flags: ParsedArgs
    /// What follows the global flags: the command's name and its arguments.
    var rest: ArraySlice<String>
    var logFormat: Logger.Format?
    var cgroupManager: CgroupManager?
    var rootless: Bool?

    static func parse(_ argv: ArraySlice<String>) throws -> Globals {
        let (g, rest) = try parseFlags(argv, globalFlags, stopAtPositional: true)
        var out = Globals(flags: g, rest: rest)
        if g.bool("version") { return out }
        if let f = g.string("log-format") {
            guard let fmt = Logger.Format(rawValue: f) else {
                throw UsageError(description: "invalid --log-format \"\(f)\" (want text or json)")
            }
            out.logFormat = fmt
        }
        if g.bool("systemd-cgroup") { out.cgroupManager = .systemd }
        if let m = g.string("cgroup-manager") {
            guard let manager = CgroupManager(rawValue: m) else {
                throw UsageError(description: "invalid --cgroup-manager \"\(m)\" (want cgroupfs, systemd or disabled)")
            }
            out.cgroupManager = manager
        }
        switch g.string("rootless") {
        case nil, "auto": out.rootless = nil
        case "true": out.rootless = true
        case "false": out.rootless = false
        case let v?: throw UsageError(description: "invalid --rootless \"\(v)\" (want true, false or auto)")
        }
        return out
    }

    /// The command named after the global flags; nil when none is (the global usage).
    func command() throws -> Command? {
        guard let name = rest.first else { return nil }
        guard let command = commands.first(where: { $0.name == name }) else {
            throw UsageError(description: "No help topic for '\(name)'")
        }
        return command
    }
}

public enum CLI {
    /// Runs this process's command line and returns the exit status.
    public static func main() -> Int32 { main(ProcessArguments.all()) }

    /// Runs the command line (argv[0] first) and returns the exit status.
    public static func main(_ arguments: [String]) -> Int32 {
        var runtime = RuntimeOptions()
        do {
            let g = try Globals.parse(arguments.dropFirst())
            if g.flags.bool("version") {
                out("skiff version \(skiffVersion)\nspec: \(ociVersion)\n")
                return 0
            }
            if let fmt = g.logFormat { runtime.log.format = fmt }
            runtime.log.debugEnabled = g.flags.bool("debug")
            runtime.debug = g.flags.bool("debug")
            // The log opens before the command's own flags are parsed: a caller's usage error
            // reaches its --log file.
            if let path = g.flags.string("log"), path != "/dev/stderr" {
                try runtime.log.open(path: path)
            }
            if let r = g.flags.string("root") { runtime.root = r }
            if let m = g.cgroupManager { runtime.cgroupManager = m }
            if let r = g.rootless { runtime.rootless = r }
            if g.flags.bool("help") {
                out(globalUsage())
                return 0
            }
            guard let command = try g.command() else {
                out(globalUsage())
                return 1
            }
            Trace.begin(command: command.name, flag: g.flags.bool("trace"))
            let p = try command.parse(g.rest.dropFirst())
            if p.bool("help") {
                out(command.help)
                return 0
            }
            // Unprivileged, dumpable: /proc/<init>/uid_map belongs to the user only while the
            // init (which inherits this) is dumpable; the init turns it off itself.
            if command.touchesContainers && !RuntimeOptions.isUnprivileged { ExeProtection.makeUndumpable() }
            // Only the commands that clone into a container run from a protected copy of this
            // binary; the others stay a single exec.
            if command.clonesIntoContainer {
                try ExeProtection.ensure()
                Trace.mark("check binary")
            }
            return try command.handler(p, &runtime)
        } catch {
            let msg = "\(error)"
            runtime.log.error(msg)
            // As runc: with --log the file gets the log line and stderr the bare message.
            if runtime.log.fd != 2 { writeStderrLine(msg) }
            return 1
        }
    }
}
