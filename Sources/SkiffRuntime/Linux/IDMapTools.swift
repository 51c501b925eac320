import Glibc
import CSkiffInit

/// An unprivileged user maps only its own id into a user namespace (uid_map written
/// directly); more (a range from /etc/subuid and /etc/subgid) goes through the setuid
/// newuidmap/newgidmap of Debian's uidmap package, as runc and crun do.
enum IDMapTools {
    enum Kind: String {
        case uid, gid
        var tool: String { self == .uid ? "newuidmap" : "newgidmap" }
        var field: String { self == .uid ? "linux.uidMappings" : "linux.gidMappings" }
        var file: String { self == .uid ? "/etc/subuid" : "/etc/subgid" }
    }

    /// Whether `m` maps only `own` (one id): a write the kernel allows without privilege.
    static func isOwnIDOnly(_ m: [Spec.IDMapping], own: UInt32) -> Bool {
        m.count == 1 && m[0].hostID == own && m[0].size == 1
    }

    /// Runs newuidmap/newgidmap PID containerID hostID size... and names the fix if it fails.
    static func map(_ kind: Kind, pid: pid_t, _ m: [Spec.IDMapping]) throws {
        guard let tool = find(kind.tool) else {
            throw ConfigError(kind.field, "mapping more than the user's own id needs \(kind.tool), which is not " +
                              "installed (Debian: apt-get install uidmap)")
        }
        let args = [tool, String(pid)] + m.flatMap { [String($0.containerID), String($0.hostID), String($0.size)] }
        let (status, stderr) = try run(args)
        guard status == 0 else {
            let user = Passwd.name(of: geteuid()) ?? String(geteuid())
            throw ConfigError(kind.field, "\(kind.tool) refused the mapping (\(stderr.isEmpty ? "exit status \(status)" : stderr)): " +
                              "\(kind.file) must give \(user) the host ids it maps, e.g. \"\(user):100000:65536\" (see subuid(5))")
        }
    }

    static func find(_ name: String) -> String? {
        let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/sbin:/usr/bin:/sbin:/bin"
        for dir in path.split(separator: ":") where access("\(dir)/\(name)", X_OK) == 0 { return "\(dir)/\(name)" }
        return nil
    }

    /// The tool's exit status (or 128+signal) and its stderr, trimmed.
    private static func run(_ argv: [String]) throws -> (Int32, String) {
        var fds: [Int32] = [-1, -1]
        try sys("pipe") { skiff_pipe_cloexec(&fds) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fds[1], 2)
        var cargs = argv.map { strdup($0) } + [nil]
        defer { cargs.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, nil, &cargs, environ)
        close(fds[1])
        defer { close(fds[0]) }
        if rc != 0 { throw SysError(rc, "exec", argv[0]) }
        let err = (try? Files.readAll(fds[0], argv[0])) ?? []
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { throw SysError(errno, "wait for \(argv[0])") }
        }
        let code = skiff_wifexited(status) != 0 ? skiff_wexitstatus(status) : 128 + skiff_wtermsig(status)
        let text = String(decoding: err, as: UTF8.self).split(separator: "\n").joined(separator: "; ")
        return (code, text)
    }
}
