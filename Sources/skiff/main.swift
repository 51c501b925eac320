import Glibc
import SkiffRuntime

// skiff: a runc-compatible command line over SkiffRuntime. The commands are the table
// in Commands.swift; this file holds the global flags and the dispatch.

let globalFlags = [
    Flag.value("root", help: "root directory for container state (default: \"/run/skiff\")"),
    Flag.value("log", help: "file to write log lines to (default: stderr)"),
    Flag.value("log-format", help: "the log format: text (default) or json"),
    Flag.bool("debug", help: "enable debug logging"),
    Flag.bool("trace", help: "print the time of each start-up phase on stderr (also SKIFF_TRACE=text|json)"),
    Flag.bool("systemd-cgroup", help: "use the systemd cgroup driver (cgroupsPath \"slice:prefix:name\")"),
    Flag.value("cgroup-manager", help: "the cgroup driver: cgroupfs (default), systemd or disabled"),
    Flag.value("rootless", help: "ignored (accepted for runc compatibility)"),
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

func main() -> Int32 {
    var runtime = RuntimeOptions()
    let argv = CommandLine.arguments.dropFirst()
    do {
        let (g, rest) = try parseFlags(argv, globalFlags, stopAtPositional: true)
        if g.bool("version") {
            out("skiff version \(skiffVersion)\nspec: \(ociVersion)\n")
            return 0
        }
        if let f = g.string("log-format") {
            guard let fmt = Logger.Format(rawValue: f) else {
                throw UsageError(description: "invalid --log-format \"\(f)\" (want text or json)")
            }
            runtime.log.format = fmt
        }
        runtime.log.debugEnabled = g.bool("debug")
        runtime.debug = g.bool("debug")
        if let path = g.string("log"), path != "/dev/stderr" {
            try runtime.log.open(path: path)
        }
        if let r = g.string("root") { runtime.root = r }
        if g.bool("systemd-cgroup") { runtime.cgroupManager = .systemd }
        if let m = g.string("cgroup-manager") {
            guard let manager = CgroupManager(rawValue: m) else {
                throw UsageError(description: "invalid --cgroup-manager \"\(m)\" (want cgroupfs, systemd or disabled)")
            }
            runtime.cgroupManager = manager
        }
        guard let name = rest.first, !g.bool("help") else {
            out(globalUsage())
            return g.bool("help") ? 0 : 1
        }
        guard let command = commands.first(where: { $0.name == name }) else {
            throw UsageError(description: "No help topic for '\(name)'")
        }
        Trace.begin(command: name, flag: g.bool("trace"))
        let p = try command.parse(rest.dropFirst())
        if p.bool("help") {
            out(command.help)
            return 0
        }
        if command.touchesContainers { ExeProtection.makeUndumpable() }
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

exit(main())
