import Glibc
import SkiffRuntime

// The command table: every command's flags, help and handler.

let idUsage = "[command options] <container-id>"
let idDetails = "Where \"<container-id>\" is the name of the container instance."

let bundleFlag = Flag.value("bundle", "b", help: "path to the root of the bundle directory, defaults to the current directory")
let consoleSocketFlag = Flag.value("console-socket", help: "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal")
let pidFileFlag = Flag.value("pid-file", help: "specify the file to write the process id to")
let preserveFDsFlag = Flag.value("preserve-fds", help: "pass N additional file descriptors to the process (stdio + N in total) (default: 0)")

let createFlags = [
    bundleFlag, consoleSocketFlag, pidFileFlag,
    Flag.bool("no-pivot", help: "do not use pivot_root to jail the process inside the rootfs (MS_MOVE and chroot instead)"),
    Flag.bool("no-new-keyring", help: "do not create a new session keyring for the container"),
    preserveFDsFlag,
]

let execFlags = [
    consoleSocketFlag,
    Flag.value("cwd", help: "current working directory in the container"),
    Flag.list("env", "e", help: "set an environment variable (KEY=VALUE; repeatable)"),
    Flag.bool("tty", "t", help: "allocate a pseudo-TTY"),
    Flag.value("user", "u", help: "user and group: <uid>[:<gid>], numbers or names of the container's /etc/passwd and /etc/group"),
    Flag.list("additional-gids", "g", help: "additional gids (repeatable)"),
    Flag.value("process", "p", help: "path to the process.json"),
    Flag.bool("detach", "d", help: "detach from the container's process"),
    pidFileFlag,
    Flag.value("process-label", help: "set the SELinux label for the process"),
    Flag.value("apparmor", help: "set the AppArmor profile for the process"),
    Flag.bool("no-new-privs", help: "set the no new privileges value for the process"),
    Flag.list("cap", "c", help: "add a capability to the bounding, effective and permitted sets of the process (repeatable)"),
    preserveFDsFlag,
    Flag.list("cgroup", help: "run the process in an existing sub-cgroup of the container's: [<controller>:]<path>"),
    Flag.bool("ignore-paused", help: "allow exec in a paused container"),
]

let updateFlags = [
    Flag.value("resources", "r", help: "path to a file with the resources to update, as JSON (linux.resources), or - for standard input"),
    Flag.value("l3-cache-schema", help: "the L3 cache schema (Intel RDT; not supported)"),
    Flag.value("mem-bw-schema", help: "the memory bandwidth schema (Intel RDT; not supported)"),
] + ResourceUpdate.flagNames.map { Flag(names: [$0], takesValue: true, help: "set \($0) (runc's update flag of that name)") }

let commands: [Command] = [
    Command(name: "create", summary: "create a container", usage: idUsage,
            details: idDetails + " The container waits for \"skiff start\" with its process set up.",
            flags: createFlags, clonesIntoContainer: true) { p, rt in
        _ = try Container.create(id: p.positional[0], options: try createOptions(p), runtime: rt)
        return 0
    },
    Command(name: "run", summary: "create and run a container", usage: idUsage,
            details: idDetails + " In the foreground skiff waits for the process and returns its exit status.",
            flags: createFlags + [Flag.bool("detach", "d", help: "detach from the container's process"),
                                  Flag.bool("keep", help: "do not delete the container after it exits")],
            clonesIntoContainer: true) { p, rt in
        if p.bool("detach") && p.bool("keep") { throw UsageError(description: "--detach and --keep cannot both be used") }
        return try Container.run(id: p.positional[0], options: try createOptions(p), detach: p.bool("detach"),
                                 keep: p.bool("keep"), runtime: rt)
    },
    Command(name: "start", summary: "start the process of a created container", usage: idUsage, details: idDetails) { p, rt in
        try Container.start(id: p.positional[0], runtime: rt)
        return 0
    },
    Command(name: "exec", summary: "execute a new process inside the container",
            usage: "[command options] <container-id> <command> [args...]\n   skiff exec [command options] -p process.json <container-id>",
            details: idDetails + " \"<command>\" and what follows it are the program and its arguments,\nunless --process gives the whole process.",
            flags: execFlags, arguments: 1...Int.max, stopAtPositional: true, clonesIntoContainer: true) { p, rt in
        try Container.exec(id: p.positional[0], options: try execOptions(p), runtime: rt)
    },
    Command(name: "state", summary: "output the state of a container", usage: idUsage, details: idDetails) { p, rt in
        out(try Container.state(id: p.positional[0], runtime: rt).json.serialized(indent: "  "))
        return 0
    },
    Command(name: "kill", summary: "send a signal to the container's init (default SIGTERM)",
            usage: "[command options] <container-id> [signal]",
            details: idDetails + " \"[signal]\" is a name (KILL, SIGKILL) or a number.",
            flags: [Flag.bool("all", "a", help: "send the signal to all processes in the container")],
            arguments: 1...2) { p, rt in
        let sig = try Signals.parse(p.positional.count == 2 ? p.positional[1] : "SIGTERM")
        try Container.kill(id: p.positional[0], signal: sig, all: p.bool("all"), runtime: rt)
        return 0
    },
    Command(name: "delete", summary: "delete a container and what it holds", usage: idUsage, details: idDetails,
            flags: [Flag.bool("force", "f", help: "kill the container first if it is running or paused")]) { p, rt in
        try Container.delete(id: p.positional[0], force: p.bool("force"), runtime: rt)
        return 0
    },
    Command(name: "list", summary: "list the containers", usage: "[command options]",
            flags: [Flag.value("format", "f", help: "table or json (default: table)"),
                    Flag.bool("quiet", "q", help: "display only container IDs")],
            arguments: 0...0) { p, rt in
        try printList(Container.list(runtime: rt), format: p.string("format") ?? "table", quiet: p.bool("quiet"))
        Trace.mark("print")
        return 0
    },
    Command(name: "spec", summary: "write a new default config.json", usage: "[command options]",
            flags: [bundleFlag, Flag.bool("rootless", help: "a spec for a container run by an unprivileged user")],
            arguments: 0...0, touchesContainers: false) { p, _ in
        let path = (p.string("bundle") ?? ".") + "/config.json"
        if access(path, F_OK) == 0 { throw RuntimeError("File \(path) exists. Remove it first") }
        try Files.writeAtomically(path, Array(DefaultSpec.make(rootless: p.bool("rootless")).serialized(indent: "\t").utf8), mode: 0o644)
        return 0
    },
    Command(name: "pause", summary: "freeze every process of a container", usage: idUsage, details: idDetails) { p, rt in
        try Container.pause(id: p.positional[0], runtime: rt)
        return 0
    },
    Command(name: "resume", summary: "thaw a paused container", usage: idUsage, details: idDetails) { p, rt in
        try Container.resume(id: p.positional[0], runtime: rt)
        return 0
    },
    Command(name: "ps", summary: "list the processes of a container",
            usage: "[command options] <container-id> [ps options]",
            details: idDetails + " \"[ps options]\" go to ps(1) (default: -ef).",
            flags: [Flag.value("format", "f", help: "table or json (default: table)")],
            arguments: 1...Int.max, stopAtPositional: true) { p, rt in
        let pids = try Container.pids(id: p.positional[0], runtime: rt)
        switch p.string("format") ?? "table" {
        case "json": out(JSON.array(pids.map { .int($0) }).serialized() + "\n")
        case "table": try printPS(pids, psArgs: Array(p.positional.dropFirst()))
        case let f: throw UsageError(description: "invalid format option \"\(f)\" (want table or json)")
        }
        return 0
    },
    Command(name: "update", summary: "update the resource limits of a container", usage: idUsage,
            details: idDetails + " With --resources every other resource flag is ignored, as runc.",
            flags: updateFlags) { p, rt in
        let update: ResourceUpdate
        if let path = p.string("resources"), !path.isEmpty {
            let bytes = path == "-" ? try Files.readAll(0, "standard input") : try Files.read(path)
            update = try ResourceUpdate.fromDocument(bytes)
        } else {
            update = try ResourceUpdate.fromFlags(p.values.filter { ResourceUpdate.flagNames.contains($0.key) })
        }
        try Container.update(id: p.positional[0], update: update, l3CacheSchema: p.string("l3-cache-schema"),
                             memBwSchema: p.string("mem-bw-schema"), runtime: rt)
        return 0
    },
    Command(name: "events", summary: "print stats and OOM events of a container as JSON lines", usage: idUsage,
            details: idDetails,
            flags: [Flag.value("interval", help: "the interval between stats (default: 5s)"),
                    Flag.bool("stats", help: "print the stats once and exit")]) { p, rt in
        try events(p, rt)
    },
    Command(name: "features", summary: "print the features skiff supports, as JSON", usage: "",
            arguments: 0...0, touchesContainers: false) { _, _ in
        out(Features.json().serialized(indent: "    ") + "\n")
        return 0
    },
    Command(name: "help", summary: "show the commands, or one command's help", usage: "[command]",
            arguments: 0...1, touchesContainers: false) { p, _ in
        if let name = p.positional.first {
            guard let c = commands.first(where: { $0.name == name }) else {
                throw UsageError(description: "No help topic for '\(name)'")
            }
            out(c.help)
        } else {
            out(globalUsage())
        }
        return 0
    },
]

func createOptions(_ p: ParsedArgs) throws -> CreateOptions {
    var o = CreateOptions()
    o.bundle = p.string("bundle") ?? "."
    o.pidFile = p.string("pid-file")
    o.consoleSocket = p.string("console-socket")
    o.noPivot = p.bool("no-pivot")
    o.noNewKeyring = p.bool("no-new-keyring")
    o.preserveFDs = try preserveFDs(p)
    return o
}

func preserveFDs(_ p: ParsedArgs) throws -> Int32 {
    guard let n = p.string("preserve-fds") else { return 0 }
    guard let v = Int32(n), v >= 0 else { throw UsageError(description: "invalid value \"\(n)\" for --preserve-fds") }
    return v
}

func execOptions(_ p: ParsedArgs) throws -> ExecOptions {
    var o = ExecOptions()
    o.processFile = p.string("process")
    o.args = Array(p.positional.dropFirst())
    if o.processFile != nil && !o.args.isEmpty {
        throw UsageError(description: "exec: give either --process or a command, not both")
    }
    o.detach = p.bool("detach")
    o.pidFile = p.string("pid-file")
    o.consoleSocket = p.string("console-socket")
    o.tty = p.optionalBool("tty")
    o.cwd = p.string("cwd")
    o.env = p.list("env")
    o.user = p.string("user")
    o.additionalGids = p.list("additional-gids")
    o.caps = p.list("cap")
    o.noNewPrivileges = p.optionalBool("no-new-privs")
    o.apparmorProfile = p.string("apparmor")
    o.processLabel = p.string("process-label")
    o.preserveFDs = try preserveFDs(p)
    o.ignorePaused = p.bool("ignore-paused")
    o.cgroup = p.list("cgroup")
    return o
}

func events(_ p: ParsedArgs, _ rt: RuntimeOptions) throws -> Int32 {
    let id = p.positional[0]
    var interval: Int64 = 5_000_000_000
    if let text = p.string("interval") {
        do { interval = try GoDuration.parse(text) } catch let e as GoDuration.ParseError {
            throw UsageError(description: "invalid value \"\(text)\" for flag -interval: \(e)")
        }
    }
    if interval <= 0 { throw RuntimeError("duration interval must be greater than 0") }
    if p.bool("stats") {
        out(try Container.statsEvent(id: id, runtime: rt) + "\n")
    } else {
        try Container.events(id: id, intervalNanos: interval, runtime: rt) { out($0 + "\n") }
    }
    return 0
}
