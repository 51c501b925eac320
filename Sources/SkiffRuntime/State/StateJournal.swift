import Glibc

/// What a create has made on the host, one JSON line per thing in <root>/<id>/journal,
/// each written before the thing exists: a create killed at any point (the OOM killer, a
/// shim's timeout) leaves a journal from which `delete --force`, or a later create of
/// the same ID, undoes what it made.
///
/// Appends to a file are not undone by a process's death, so no fsync: a reboot takes
/// the processes, cgroups, units and mounts the journal could name with it.
public enum StateJournal {
    public enum Entry: Equatable {
        /// A cgroup directory (cgroupfs), or the scope's cgroup (systemd).
        case cgroup(String)
        /// A transient systemd unit, and the manager that holds it.
        case unit(String, SystemdInstance)
        /// Mounts under the rootfs in the runtime's mount namespace (no mount namespace).
        case mounts(under: String)
        /// A process: the init (or the middle process of a joined pid namespace).
        case process(pid: Int32, identity: PidIdentity.Recorded)
        /// A file outside the state directory that may be half-written (a pid file's
        /// temporary).
        case file(String)

        var json: JSON {
            switch self {
            case .cgroup(let p): return .object(JSONObject([("cgroup", .string(p))]))
            case .unit(let u, let m):
                return .object(JSONObject([("unit", .string(u))] + (m == .system ? [] : [("manager", .string(m.rawValue))])))
            case .mounts(let r): return .object(JSONObject([("mounts", .string(r))]))
            case .file(let f): return .object(JSONObject([("file", .string(f))]))
            case .process(let pid, let id):
                return .object(JSONObject([("pid", .int(pid)), ("inode", .int(id.inode)), ("startTime", .int(id.startTime))]))
            }
        }

        init?(_ j: JSON) {
            guard case .object(let o) = j else { return nil }
            if case .string(let p)? = o["cgroup"] { self = .cgroup(p) }
            else if case .string(let u)? = o["unit"] {
                var manager = SystemdInstance.system
                if case .string(let m)? = o["manager"] { manager = SystemdInstance(rawValue: m) ?? .system }
                self = .unit(u, manager)
            }
            else if case .string(let r)? = o["mounts"] { self = .mounts(under: r) }
            else if case .string(let f)? = o["file"] { self = .file(f) }
            else if case .number(let n)? = o["pid"], let pid = Int32(n), pid > 0 {
                func number(_ key: String) -> UInt64 {
                    if case .number(let v)? = o[key] { return UInt64(v) ?? 0 }
                    return 0
                }
                self = .process(pid: pid, identity: PidIdentity.Recorded(inode: number("inode"), startTime: number("startTime")))
            } else { return nil }
        }
    }

    /// The journal of a create under way: opened at the first entry.
    public final class Writer {
        let path: String
        var fd: Int32 = -1

        public init(path: String) { self.path = path }

        public func append(_ e: Entry) throws {
            if fd < 0 {
                fd = try sys("create", path) { open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600) }
            }
            // One write per line: a death leaves whole lines, or a torn last one that
            // `read` skips.
            try Files.writeAll(fd, Array((e.json.serialized() + "\n").utf8), path)
        }

        /// For a cloned child, which must not keep the file open.
        public func closeFile() {
            if fd >= 0 { Glibc.close(fd) }
            fd = -1
        }

        deinit { closeFile() }
    }

    /// The entries of a journal; none when there is no journal. Lines that do not parse
    /// (a torn last line) are skipped.
    public static func read(_ path: String) -> [Entry] {
        guard let bytes = try? Files.read(path) else { return [] }
        return parse(bytes)
    }

    public static func parse(_ bytes: [UInt8]) -> [Entry] {
        bytes.split(separator: UInt8(ascii: "\n")).compactMap { line in
            (try? JSONParser.parse(Array(line))).flatMap(Entry.init)
        }
    }
}
