import Glibc
import CSkiffInit

/// Reads /proc/<pid>/stat: the process state letter and its start time.
public enum ProcStat {
    public struct Info {
        public var state: Character
        public var startTime: UInt64
    }

    /// Field 22 of the stat line, counted from the state (field 3).
    static let startTimeField = 22 - 3

    /// Parsed from the bytes, with no String in between: `list` reads one per container.
    public static func read(_ pid: Int32) -> Info? {
        guard pid > 0, let bytes = try? Files.read("/proc/\(pid)/stat") else { return nil }
        // The command name is in parentheses and may contain anything: fields start after the last ')'.
        guard let close = bytes.lastIndex(of: UInt8(ascii: ")")), close + 2 < bytes.count else { return nil }
        let state = bytes[close + 2]
        var field = 0
        var i = close + 2
        while i < bytes.count && field < startTimeField {
            if bytes[i] == UInt8(ascii: " ") { field += 1 }
            i += 1
        }
        var start: UInt64 = 0
        var digits = 0
        while i < bytes.count, bytes[i] >= UInt8(ascii: "0"), bytes[i] <= UInt8(ascii: "9") {
            start = start &* 10 &+ UInt64(bytes[i] - UInt8(ascii: "0"))
            digits += 1
            i += 1
        }
        guard field == startTimeField, digits > 0 else { return nil }
        return Info(state: Character(Unicode.Scalar(state)), startTime: start)
    }

    /// Alive and the same process we started (not a zombie, not a recycled pid).
    public static func isAlive(_ pid: Int32, startTime: UInt64) -> Bool {
        guard let info = read(pid) else { return false }
        if info.state == "Z" || info.state == "X" { return false }
        return startTime == 0 || info.startTime == startTime
    }
}

/// pidfs (Linux 6.9+) numbers each process's pidfd inode with an id the kernel never
/// reuses: recorded at create, it tells our init from a recycled pid with a pidfd_open
/// and an fstat, where /proc/<pid>/stat costs a text rendering of 52 fields (list
/// checks one per container).
public enum PidIdentity {
    static let pidfsMagic = 0x5049_4446

    /// The process's pidfs inode, or 0 where pidfds do not live on pidfs.
    public static func inode(of pid: Int32) -> UInt64 {
        let fd = skiff_pidfd_open(pid)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        var st = stat()
        guard skiff_fd_fs_type(fd) == pidfsMagic, fstat(fd, &st) == 0 else { return 0 }
        return UInt64(st.st_ino)
    }

    /// Alive (not exited, not reaped) and the process whose inode was recorded.
    public static func isAlive(_ pid: Int32, inode: UInt64) -> Bool {
        let fd = skiff_pidfd_open(pid)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, UInt64(st.st_ino) == inode else { return false }
        // A pidfd polls readable once the process has exited (a zombie included).
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&p, 1, 0) == 0
    }
}

extension PidIdentity {
    /// What tells a process from a later one with the same pid: its pidfs inode where
    /// pidfds live on pidfs, else its /proc start time.
    public struct Recorded: Equatable {
        public var inode: UInt64
        public var startTime: UInt64

        /// Of a live process (our child, so its pid cannot be reused meanwhile).
        public static func of(_ pid: Int32) -> Recorded {
            let inode = PidIdentity.inode(of: pid)
            return Recorded(inode: inode, startTime: inode != 0 ? 0 : ProcStat.read(pid)?.startTime ?? 0)
        }

        /// Enough to tell this process from another: a process known by nothing else is
        /// never signalled.
        public var isKnown: Bool { inode != 0 || startTime != 0 }

        /// Whether `pid` is alive and still this process.
        public func isAlive(_ pid: Int32) -> Bool {
            inode != 0 ? PidIdentity.isAlive(pid, inode: inode) : ProcStat.isAlive(pid, startTime: startTime)
        }
    }
}

extension ContainerRecord {
    public var initIdentity: PidIdentity.Recorded { PidIdentity.Recorded(inode: pidInode, startTime: pidStartTime) }

    /// The init is alive and still ours: by its pidfs inode where recorded, else by its
    /// /proc start time.
    public var initIsAlive: Bool { initIdentity.isAlive(pid) }
}

/// The processes of a pid namespace as the host sees them (`ps` of a container that has
/// no cgroup to list).
enum PidNamespace {
    static func inode(of pid: Int32) -> UInt64? {
        var st = stat()
        guard stat("/proc/\(pid)/ns/pid", &st) == 0 else { return nil }
        return UInt64(st.st_ino)
    }

    static func processes(in ns: UInt64) -> [Int32] {
        Files.listDirectory("/proc").compactMap(Int32.init).filter { inode(of: $0) == ns }.sorted()
    }
}
