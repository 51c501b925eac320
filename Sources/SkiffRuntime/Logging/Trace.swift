import Glibc

/// The start-up trace: every phase of create, start, run, exec and delete with its time in
/// microseconds, so anyone can see where start-up goes. Turned on by `--trace` or
/// SKIFF_TRACE=text|json; lines go to stderr, or appended to SKIFF_TRACE_FILE.
/// Off, a mark is one load and a branch. Phases are consecutive: each is the time since
/// the previous mark of the same process. A cloned child (the init, an exec'd process)
/// inherits the clock at the clone and sends its marks to the runtime over the sync
/// channel, which prints them under `<scope>/<child>/` (the child's stdio is the
/// container's).
public enum Trace {
    public enum Format: String { case text, json }

    public static let formatVariable = "SKIFF_TRACE"
    public static let fileVariable = "SKIFF_TRACE_FILE"
    /// Set across the CVE-2019-5736 re-exec: when the old image asked for it.
    static let reexecStartVariable = "SKIFF_TRACE_REEXEC_NS"
    static let nanosPerMicro: UInt64 = 1000
    static let textNumberWidth = 7

    public private(set) static var format: Format?
    /// What the following marks belong to: create, start, delete, exec.
    static var scope = ""
    static var command = ""
    static var last: UInt64 = 0
    static var fd: Int32 = 2
    /// In a cloned child: marks go to the parent through this channel.
    static var channel: Channel?
    static var childName = ""

    /// At the start of main. `flag` is --trace; the environment may also ask.
    public static func begin(command: String, flag: Bool) {
        let requested = getenv(formatVariable).map { String(cString: $0) }
        guard flag || (requested.map { !$0.isEmpty && $0 != "0" } ?? false) else { return }
        format = requested.flatMap(Format.init(rawValue:)) ?? .text
        self.command = command
        scope = command
        last = now()
        if let path = getenv(fileVariable).map({ String(cString: $0) }), !path.isEmpty {
            let f = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
            if f >= 0 { fd = f }
        }
        if let t = getenv(reexecStartVariable).flatMap({ UInt64(String(cString: $0)) }) {
            unsetenv(reexecStartVariable)
            last = t
            mark("reexec")
        }
    }

    public static var enabled: Bool { format != nil }

    /// Ends the current phase.
    @inline(__always)
    public static func mark(_ phase: @autoclosure () -> String) {
        if format != nil { record(phase()) }
    }

    /// Starts a new scope (create inside run, say); its first phase starts now.
    public static func enter(_ newScope: String) {
        guard format != nil else { return }
        scope = newScope
    }

    /// In a freshly cloned child: marks go over `ch` from now on.
    static func child(_ name: String, channel ch: Channel) {
        guard format != nil else { return }
        childName = name
        channel = ch
    }

    /// The child's channel is gone (after `ready`): later marks are not reported.
    static func detachChild() { channel = nil; format = nil }

    /// Before the protective re-exec: the new image reports the time it took.
    static func handOverToReexec() {
        guard format != nil else { return }
        setenv(reexecStartVariable, String(now()), 1)
    }

    /// A mark the child sent: "phase\tmicroseconds".
    static func relay(_ payload: String) {
        guard format != nil else { return }
        let parts = payload.split(separator: "\t", maxSplits: 1)
        guard parts.count == 2, let us = UInt64(parts[1]) else { return }
        emit(scope + "/" + String(parts[0]), us)
    }

    private static func record(_ phase: String) {
        let t = now()
        let us = (t &- last) / nanosPerMicro
        last = t
        if let ch = channel {
            try? ch.send(.trace, childName + "/" + phase + "\t" + String(us))
            last = now()  // the send is not part of the next phase
            return
        }
        emit(scope + "/" + phase, us)
    }

    private static func emit(_ phase: String, _ us: UInt64) {
        var line: String
        switch format {
        case .json?:
            line = JSON.object(JSONObject([("trace", .string(command)), ("phase", .string(phase)),
                                           ("us", .int(us)), ("pid", .int(getpid()))])).serialized()
        default:
            // The number first, right-aligned: columns line up and `awk '{print $3}'` takes it.
            let n = String(us)
            line = "skiff trace: " + String(repeating: " ", count: max(0, textNumberWidth - n.count)) + n + " us  " + phase
        }
        line += "\n"
        let bytes = Array(line.utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }

    static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}
