import Glibc
import SkiffRuntime

// skiff: a runc-compatible command line over SkiffRuntime.

let globalFlags = [
    Flag(names: ["root"], takesValue: true), Flag(names: ["log"], takesValue: true),
    Flag(names: ["log-format"], takesValue: true), Flag(names: ["debug"], takesValue: false),
    Flag(names: ["systemd-cgroup"], takesValue: false), Flag(names: ["cgroup-manager"], takesValue: true),
    Flag(names: ["rootless"], takesValue: true), Flag(names: ["criu"], takesValue: true),
    Flag(names: ["version", "v"], takesValue: false), Flag(names: ["help", "h"], takesValue: false),
]
let createFlags = [
    Flag(names: ["bundle", "b"], takesValue: true), Flag(names: ["pid-file"], takesValue: true),
    Flag(names: ["console-socket"], takesValue: true), Flag(names: ["no-pivot"], takesValue: false),
    Flag(names: ["no-new-keyring"], takesValue: false), Flag(names: ["preserve-fds"], takesValue: true),
]

let updateFlags = [
    Flag(names: ["resources", "r"], takesValue: true), Flag(names: ["l3-cache-schema"], takesValue: true),
    Flag(names: ["mem-bw-schema"], takesValue: true),
] + ResourceUpdate.flagNames.map { Flag(names: [$0], takesValue: true) }

let usage = """
skiff - a runc-compatible OCI container runtime

USAGE: skiff [global options] command [command options] [arguments...]

COMMANDS:
   create    create a container (create [-b bundle] [--pid-file F] [--console-socket S] [--no-pivot] [--no-new-keyring] [--preserve-fds N] ID)
   start     start a created container (start ID)
   run       create and start a container (create's options plus -d/--detach, --keep)
   state     print the state of a container as JSON (state ID)
   kill      send a signal to the container's init (kill [-a|--all] ID [SIGNAL], default SIGTERM)
   delete    delete a container (delete [-f|--force] ID)
   list      list containers (list [--format table|json] [-q])
   spec      write a default config.json (spec [-b bundle] [--rootless])
   pause     freeze every process of a container (pause ID)
   resume    thaw a paused container (resume ID)
   ps        list a container's processes (ps [--format table|json] ID [ps options, default -ef])
   update    update a container's resource limits (update [-r FILE|-] [--memory 64m] [--cpu-quota N] ... ID)
   events    print stats and OOM events as JSON lines (events [--stats] [--interval 5s] ID)
   features  print the features skiff supports, as JSON

GLOBAL OPTIONS:
   --root value            root directory for container state (default: "/run/skiff")
   --log value             file to write log lines to (default: stderr)
   --log-format value      'text' (default) or 'json'
   --debug                 enable debug logging
   --systemd-cgroup        use the systemd cgroup driver (cgroupsPath "slice:prefix:name")
   --cgroup-manager value  cgroupfs, systemd or disabled
   --version, -v           print the version
   --help, -h              show help

"""

/// Commands that deal with container processes: not dumpable, so a container process
/// sharing our pid namespace cannot open our /proc/<pid> files.
let containerCommands: Set<String> = ["create", "run", "start", "state", "kill", "delete", "list", "update", "events"]

func out(_ s: String) {
    let b = Array(s.utf8)
    _ = b.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
}

func exactlyOne(_ p: ParsedArgs, _ cmd: String) throws -> String {
    guard p.positional.count == 1 else {
        throw UsageError(description: "skiff: \"\(cmd)\" requires exactly 1 argument(s)")
    }
    return p.positional[0]
}

func createOptions(_ p: ParsedArgs) throws -> CreateOptions {
    var o = CreateOptions()
    o.bundle = p.string("bundle") ?? "."
    o.pidFile = p.string("pid-file")
    o.consoleSocket = p.string("console-socket")
    o.noPivot = p.bool("no-pivot")
    o.noNewKeyring = p.bool("no-new-keyring")
    if let n = p.string("preserve-fds") {
        guard let v = Int32(n), v >= 0 else { throw UsageError(description: "invalid value \"\(n)\" for --preserve-fds") }
        o.preserveFDs = v
    }
    return o
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
        guard let cmd = rest.first, !g.bool("help") else {
            out(usage)
            return g.bool("help") ? 0 : 1
        }
        if containerCommands.contains(cmd) { ExeProtection.makeUndumpable() }
        // Only create and run clone the init from this binary (CVE-2019-5736); the
        // other commands stay a single exec.
        if cmd == "create" || cmd == "run" { try ExeProtection.ensure() }
        let args = rest.dropFirst()
        switch cmd {
        case "create":
            let (p, _) = try parseFlags(args, createFlags)
            let id = try exactlyOne(p, cmd)
            _ = try Container.create(id: id, options: try createOptions(p), runtime: runtime)
        case "run":
            let (p, _) = try parseFlags(args, createFlags + [Flag(names: ["detach", "d"], takesValue: false),
                                                             Flag(names: ["keep"], takesValue: false)])
            let id = try exactlyOne(p, cmd)
            if p.bool("detach") && p.bool("keep") {
                throw UsageError(description: "--detach and --keep cannot both be used")
            }
            return try Container.run(id: id, options: try createOptions(p), detach: p.bool("detach"),
                                     keep: p.bool("keep"), runtime: runtime)
        case "start":
            let (p, _) = try parseFlags(args, [])
            try Container.start(id: try exactlyOne(p, cmd), runtime: runtime)
        case "state":
            let (p, _) = try parseFlags(args, [])
            let st = try Container.state(id: try exactlyOne(p, cmd), runtime: runtime)
            out(st.json.serialized(indent: "  "))
        case "kill":
            let (p, _) = try parseFlags(args, [Flag(names: ["all", "a"], takesValue: false)])
            guard (1...2).contains(p.positional.count) else {
                throw UsageError(description: "skiff: \"kill\" requires 1 or 2 argument(s)")
            }
            let sig = try Signals.parse(p.positional.count == 2 ? p.positional[1] : "SIGTERM")
            try Container.kill(id: p.positional[0], signal: sig, all: p.bool("all"), runtime: runtime)
        case "delete":
            let (p, _) = try parseFlags(args, [Flag(names: ["force", "f"], takesValue: false)])
            try Container.delete(id: try exactlyOne(p, cmd), force: p.bool("force"), runtime: runtime)
        case "list":
            let (p, _) = try parseFlags(args, [Flag(names: ["format", "f"], takesValue: true),
                                               Flag(names: ["quiet", "q"], takesValue: false)])
            try printList(Container.list(runtime: runtime), format: p.string("format") ?? "table", quiet: p.bool("quiet"))
        case "spec":
            let (p, _) = try parseFlags(args, [Flag(names: ["bundle", "b"], takesValue: true),
                                               Flag(names: ["rootless"], takesValue: false)])
            let dir = p.string("bundle") ?? "."
            let path = dir + "/config.json"
            if access(path, F_OK) == 0 { throw RuntimeError("File \(path) exists. Remove it first") }
            try Files.writeAtomically(path, Array((DefaultSpec.make(rootless: p.bool("rootless")).serialized(indent: "\t")).utf8), mode: 0o644)
        case "pause", "resume":
            let (p, _) = try parseFlags(args, [])
            let id = try exactlyOne(p, cmd)
            if cmd == "pause" { try Container.pause(id: id, runtime: runtime) } else { try Container.resume(id: id, runtime: runtime) }
        case "ps":
            // ps's own options follow the ID (runc passes them to ps(1); default -ef).
            let (p, rest) = try parseFlags(args, [Flag(names: ["format", "f"], takesValue: true)], stopAtPositional: true)
            guard let id = rest.first else { throw UsageError(description: "skiff: \"ps\" requires a minimum of 1 argument(s)") }
            let pids = try Container.pids(id: id, runtime: runtime)
            switch p.string("format") ?? "table" {
            case "json": out(JSON.array(pids.map { .int($0) }).serialized() + "\n")
            case "table": try printPS(pids, psArgs: Array(rest.dropFirst()))
            case let f: throw UsageError(description: "invalid format option \"\(f)\" (want table or json)")
            }
        case "update":
            let (p, _) = try parseFlags(args, updateFlags)
            let id = try exactlyOne(p, cmd)
            let update: ResourceUpdate
            if let path = p.string("resources"), !path.isEmpty {
                // runc: with --resources every other resource flag is ignored.
                let bytes = path == "-" ? try Files.readAll(0, "standard input") : try Files.read(path)
                update = try ResourceUpdate.fromDocument(bytes)
            } else {
                update = try ResourceUpdate.fromFlags(p.values.filter { ResourceUpdate.flagNames.contains($0.key) })
            }
            try Container.update(id: id, update: update, l3CacheSchema: p.string("l3-cache-schema"),
                                 memBwSchema: p.string("mem-bw-schema"), runtime: runtime)
        case "events":
            let (p, _) = try parseFlags(args, [Flag(names: ["interval"], takesValue: true),
                                               Flag(names: ["stats"], takesValue: false)])
            let id = try exactlyOne(p, cmd)
            var interval: Int64 = 5_000_000_000
            if let text = p.string("interval") {
                do { interval = try GoDuration.parse(text) } catch let e as GoDuration.ParseError {
                    throw UsageError(description: "invalid value \"\(text)\" for flag -interval: \(e)")
                }
            }
            if interval <= 0 { throw RuntimeError("duration interval must be greater than 0") }
            if p.bool("stats") {
                out(try Container.statsEvent(id: id, runtime: runtime) + "\n")
            } else {
                try Container.events(id: id, intervalNanos: interval, runtime: runtime) { out($0 + "\n") }
            }
        case "features":
            out(Features.json().serialized(indent: "    ") + "\n")
        case "help":
            out(usage)
        default:
            throw UsageError(description: "No help topic for '\(cmd)'")
        }
        return 0
    } catch {
        let msg = "\(error)"
        runtime.log.error(msg)
        // As runc: with --log the file gets the log line and stderr the bare message.
        if runtime.log.fd != 2 { writeStderrLine(msg) }
        return 1
    }
}

func writeStderrLine(_ s: String) {
    let b = Array((s + "\n").utf8)
    _ = b.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}

func printList(_ states: [OCIState], format: String, quiet: Bool) throws {
    if quiet {
        out(states.map { $0.record.id + "\n" }.joined())
        return
    }
    switch format {
    case "json":
        // runc prints Go's nil slice as null.
        out((states.isEmpty ? "null" : JSON.array(states.map(\.json)).serialized()) + "\n")
    case "table":
        let rows = [["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]] + states.map { s in
            [s.record.id, String(s.status == .stopped ? 0 : s.record.pid), s.status.rawValue, s.record.bundle,
             s.record.created, s.record.owner.isEmpty ? "root" : s.record.owner]
        }
        // Go's tabwriter as runc uses it: min width 12, padding 3, last column unpadded.
        var widths = [Int](repeating: 12, count: 6)
        for r in rows { for (i, c) in r.enumerated() where i < 5 { widths[i] = max(widths[i], c.count + 3) } }
        for r in rows {
            var line = ""
            for (i, c) in r.enumerated() {
                line += i < 5 ? c + String(repeating: " ", count: widths[i] - c.count) : c
            }
            out(line + "\n")
        }
    default:
        throw UsageError(description: "invalid format option \"\(format)\" (want table or json)")
    }
}

/// runc's table: ps(1)'s header, then its lines whose PID column is one of the container's.
func printPS(_ pids: [Int32], psArgs: [String]) throws {
    let args = psArgs.isEmpty ? ["-ef"] : psArgs
    var fds: [Int32] = [-1, -1]
    guard pipe(&fds) == 0 else { throw RuntimeError("pipe: \(String(cString: strerror(errno)))") }
    let child = fork()
    if child == 0 {
        dup2(fds[1], 1)
        close(fds[0]); close(fds[1])
        let argv = (["ps"] + args).map { strdup($0) } + [nil]
        execvp("ps", argv)
        _exit(127)
    }
    close(fds[1])
    var data: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = read(fds[0], &buf, buf.count)
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { break }
        data += buf[0..<n]
    }
    close(fds[0])
    var st: Int32 = 0
    while waitpid(child, &st, 0) < 0 && errno == EINTR {}
    let lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
    guard let header = lines.first, let pidColumn = header.split(separator: " ").firstIndex(of: "PID") else {
        throw RuntimeError("ps \(args.joined(separator: " ")): output has no PID column")
    }
    let wanted = Set(pids)
    var text = header + "\n"
    for line in lines.dropFirst() {
        let fields = line.split(separator: " ")
        if fields.count > pidColumn, let pid = Int32(fields[pidColumn]), wanted.contains(pid) { text += line + "\n" }
    }
    out(String(text))
}

exit(main())
