import Glibc
import CSkiffInit

// `events`: runc's events.go. JSON lines on stdout: with --stats one stats event;
// otherwise a stats event every interval and an oom event whenever memory.events
// says the cgroup hit OOM, until the container stops.
//
// runc (cgroup v2) watches memory.events and cgroup.events with inotify and fails
// outright when memory.events is missing; skiff watches memory.events only where it
// exists (no memory controller: no OOM to report), so that stats still flow.

extension Container {
    /// --stats: the one stats event line (without the newline).
    public static func statsEvent(id: String, runtime: RuntimeOptions) throws -> String {
        let (store, r) = try load(id, runtime: runtime)
        if status(of: r, store: store) == .stopped { throw RuntimeError("container with id \(id) is not running") }
        let cg = try cgroup(of: r)
        return CgroupStats.event(type: "stats", id: id, data: try CgroupStats.read(dir: cg.path).json)
    }

    /// The events loop: calls `emit` with each line (without the newline) until the
    /// container stops. `intervalNanos` must be > 0.
    public static func events(id: String, intervalNanos: Int64, runtime: RuntimeOptions,
                              emit: (String) throws -> Void) throws {
        guard intervalNanos > 0 else { throw RuntimeError("duration interval must be greater than 0") }
        let (store, r) = try load(id, runtime: runtime)
        if status(of: r, store: store) == .stopped { throw RuntimeError("container with id \(id) is not running") }
        let cg = try cgroup(of: r)
        var watch = try CgroupEventWatch(dir: cg.path, pid: r.pid, pidStartTime: r.pidStartTime)
        defer { watch.close() }

        var next = monotonicNanos() + intervalNanos
        while true {
            let now = monotonicNanos()
            if now >= next {
                do {
                    try emit(CgroupStats.event(type: "stats", id: id, data: try CgroupStats.read(dir: cg.path).json))
                } catch let f as CgroupStats.StatsFailure {
                    runtime.log.error("\(f)")  // runc logs and goes on
                }
                next += intervalNanos
                if next <= now { next = now + intervalNanos }  // fell behind: do not burst
                continue
            }
            let happened = try watch.wait(timeoutNanos: next - now)
            for _ in 0..<happened.ooms { try emit(CgroupStats.event(type: "oom", id: id)) }
            if happened.stopped { return }
        }
    }

    static func monotonicNanos() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }
}

/// inotify on cgroup.events (populated 0: stopped) and memory.events (oom and
/// oom_kill counters), and a pidfd on the init (exited: stopped).
struct CgroupEventWatch {
    let dir: String
    var inotifyFD: Int32 = -1
    var pidFD: Int32 = -1
    var cgroupEventsWD: Int32 = -1
    var memoryEventsWD: Int32 = -1
    /// memory.events (oom, oom_kill) last seen.
    var oomCounters: (UInt64, UInt64) = (0, 0)

    init(dir: String, pid: Int32, pidStartTime: UInt64) throws {
        self.dir = dir
        inotifyFD = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
        if inotifyFD < 0 { throw SysError(errno, "inotify_init1") }
        cgroupEventsWD = inotify_add_watch(inotifyFD, dir + "/cgroup.events", UInt32(IN_MODIFY))
        if cgroupEventsWD < 0 {
            let e = errno
            close()
            throw SysError(e, "watch", dir + "/cgroup.events")
        }
        memoryEventsWD = inotify_add_watch(inotifyFD, dir + "/memory.events", UInt32(IN_MODIFY))
        if memoryEventsWD < 0 && errno != ENOENT {
            let e = errno
            close()
            throw SysError(e, "watch", dir + "/memory.events")
        }
        oomCounters = Self.readOOM(dir) ?? (0, 0)
        pidFD = skiff_pidfd_open(pid)
        if pidFD < 0 {
            pidFD = errno == ESRCH ? -2 : -1  // ESRCH: the init is already gone
        } else if !ProcStat.isAlive(pid, startTime: pidStartTime) {
            Glibc.close(pidFD)
            pidFD = -2  // the init is already gone
        }
    }

    mutating func close() {
        if inotifyFD >= 0 { Glibc.close(inotifyFD) }
        if pidFD >= 0 { Glibc.close(pidFD) }
        inotifyFD = -1
        pidFD = -1
    }

    struct Happened {
        var ooms = 0
        var stopped = false
    }

    /// Waits up to `timeoutNanos` for something to happen.
    mutating func wait(timeoutNanos: Int64) throws -> Happened {
        var h = Happened()
        if pidFD == -2 || (pidFD == -1 && !isPopulated) {
            h.stopped = true
            h.ooms = checkOOM()
            return h
        }
        var fds = [pollfd(fd: inotifyFD, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: pidFD, events: Int16(POLLIN), revents: 0)]
        let ms = Int32(clamping: (timeoutNanos + 999_999) / 1_000_000)  // rounded up: never wake early
        let n = poll(&fds, pidFD >= 0 ? 2 : 1, ms)
        if n < 0 {
            if errno == EINTR { return h }
            throw SysError(errno, "wait for container events")
        }
        if n == 0 { return h }
        if fds[0].revents != 0 {
            var removed = false
            var buf = [UInt8](repeating: 0, count: 4096)
            while true {
                let got = buf.withUnsafeMutableBytes { Glibc.read(inotifyFD, $0.baseAddress, $0.count) }
                if got <= 0 { break }
                var off = 0
                // struct inotify_event: wd, mask, cookie, len, name[len]
                while off + 16 <= got {
                    let mask = UInt32(buf[off + 4]) | UInt32(buf[off + 5]) << 8 | UInt32(buf[off + 6]) << 16 | UInt32(buf[off + 7]) << 24
                    let len = Int(buf[off + 12]) | Int(buf[off + 13]) << 8 | Int(buf[off + 14]) << 16 | Int(buf[off + 15]) << 24
                    if mask & UInt32(IN_IGNORED) != 0 { removed = true }  // the cgroup is gone
                    off += 16 + len
                }
            }
            h.ooms = checkOOM()
            if removed || !isPopulated { h.stopped = true }
        }
        if pidFD >= 0 && fds[1].revents != 0 {
            h.stopped = true
            h.ooms += checkOOM()  // an init killed by the OOM killer: say so before stopping
        }
        return h
    }

    var isPopulated: Bool {
        guard let text = try? Files.readString(dir + "/cgroup.events") else { return false }
        return !text.contains("populated 0")
    }

    /// One oom event for each look that finds the oom or oom_kill counter grown.
    mutating func checkOOM() -> Int {
        guard memoryEventsWD >= 0, let now = Self.readOOM(dir) else { return 0 }
        defer { oomCounters = now }
        return now.0 > oomCounters.0 || now.1 > oomCounters.1 ? 1 : 0
    }

    static func readOOM(_ dir: String) -> (UInt64, UInt64)? {
        guard let text = try? Files.readString(dir + "/memory.events") else { return nil }
        var oom: UInt64 = 0, kill: UInt64 = 0
        for line in text.split(separator: "\n") {
            let f = line.split(separator: " ")
            guard f.count == 2, let v = UInt64(f[1]) else { continue }
            if f[0] == "oom" { oom = v } else if f[0] == "oom_kill" { kill = v }
        }
        return (oom, kill)
    }
}

/// Go's time.ParseDuration: "300ms", "1.5h", "2h45m", units ns, us (µs, μs), ms, s, m, h.
public enum GoDuration {
    public struct ParseError: Error, CustomStringConvertible, Equatable {
        public let description: String
    }

    /// Nanoseconds.
    public static func parse(_ text: String) throws -> Int64 {
        let orig = text
        let invalid = ParseError(description: "time: invalid duration \"\(orig)\"")
        var s = Substring(text)
        var neg = false
        if let c = s.first, c == "-" || c == "+" {
            neg = c == "-"
            s = s.dropFirst()
        }
        if s == "0" { return 0 }
        if s.isEmpty { throw invalid }
        let units: [String: UInt64] = [
            "ns": 1, "us": 1_000, "\u{00B5}s": 1_000, "\u{03BC}s": 1_000, "ms": 1_000_000,
            "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000,
        ]
        // ASCII digits only: "0\u{301}" sorts between "0" and "9" but is no digit.
        func isDigit(_ c: Character) -> Bool { c.asciiValue.map { $0 >= 48 && $0 <= 57 } ?? false }
        var total: UInt64 = 0
        while !s.isEmpty {
            guard let c = s.first, c == "." || isDigit(c) else { throw invalid }
            // integer part
            var v: UInt64 = 0
            let intDigits = s.prefix(while: isDigit)
            for d in intDigits {
                let (m, o1) = v.multipliedReportingOverflow(by: 10)
                let (a, o2) = m.addingReportingOverflow(UInt64(d.asciiValue! - 48))
                if o1 || o2 || a > 1 << 63 { throw invalid }
                v = a
            }
            s = s.dropFirst(intDigits.count)
            // fraction
            var frac: UInt64 = 0, scale: Double = 1
            var fracDigits = 0
            if s.first == "." {
                s = s.dropFirst()
                let digits = s.prefix(while: isDigit)
                fracDigits = digits.count
                var overflow = false
                for d in digits where !overflow {
                    if frac > (1 << 63) / 10 { overflow = true; continue }  // later digits are insignificant
                    frac = frac * 10 + UInt64(d.asciiValue! - 48)
                    scale *= 10
                }
                s = s.dropFirst(digits.count)
            }
            if intDigits.isEmpty && fracDigits == 0 { throw invalid }  // "." alone
            let unitText = s.prefix { $0 != "." && !isDigit($0) }
            if unitText.isEmpty { throw ParseError(description: "time: missing unit in duration \"\(orig)\"") }
            guard let unit = units[String(unitText)] else {
                throw ParseError(description: "time: unknown unit \"\(unitText)\" in duration \"\(orig)\"")
            }
            s = s.dropFirst(unitText.count)
            let (iv, o) = v.multipliedReportingOverflow(by: unit)
            if o || iv > 1 << 63 { throw invalid }
            var part = iv
            if frac > 0 {
                part += UInt64(Double(frac) * (Double(unit) / scale))
                if part > 1 << 63 { throw invalid }
            }
            let (t, o3) = total.addingReportingOverflow(part)
            if o3 || t > 1 << 63 { throw invalid }
            total = t
        }
        if neg { return total == 1 << 63 ? Int64.min : -Int64(total) }
        if total > UInt64(Int64.max) { throw invalid }
        return Int64(total)
    }
}
