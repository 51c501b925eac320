import Glibc

/// Reads /proc/<pid>/stat: the process state letter and its start time.
public enum ProcStat {
    public struct Info {
        public var state: Character
        public var startTime: UInt64
    }

    public static func read(_ pid: Int32) -> Info? {
        guard pid > 0, let bytes = try? Files.read("/proc/\(pid)/stat") else { return nil }
        // The command name is in parentheses and may contain anything: split after the last ')'.
        guard let close = bytes.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        let rest = String(decoding: bytes[(close + 2)...], as: UTF8.self).split(separator: " ")
        // rest[0] is field 3 (state); start time is field 22.
        guard rest.count > 19, let st = rest[0].first, let start = UInt64(rest[19]) else { return nil }
        return Info(state: st, startTime: start)
    }

    /// Alive and the same process we started (not a zombie, not a recycled pid).
    public static func isAlive(_ pid: Int32, startTime: UInt64) -> Bool {
        guard let info = read(pid) else { return false }
        if info.state == "Z" || info.state == "X" { return false }
        return startTime == 0 || info.startTime == startTime
    }
}
