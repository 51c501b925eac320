import Glibc

/// The start-up trace: every phase of create, start, run, exec and delete with its time in
/// microseconds, so anyone can see where start-up goes. Turned on by `--trace` or
/// SKIFF_TRACE=text|json; lines go to stderr, or appended to SKIFF_TRACE_FILE.
/// Off, a mark is one load and a branch. Phases are consecutive: each is the time since
/// the previous mark of the same process. A cloned child (the init, an exec'd process)
/// inherits the clock at the clone and sends its marks to the runtime over the sync
/// channel, which prints them under `<scope>/<child>/` (the child's stdio is the
/// container's).
///
/// The same names drive fault injection: SKIFF_FAULT=<phase as the trace prints it>
/// (`create/cgroup`, `create/init/mounts`) makes the process that reaches the end of
/// that phase kill itself with SIGKILL there, so tests can stop skiff dead between any
/// two steps. Read once at start-up, and only a string compare at a mark when set.
public enum Trace {
    public enum Format: String { case text, json }

    public static let formatVariable = "SKIFF_TRACE"
    public static let fileVariable = "SKIFF_TRACE_FILE"
    public static let faultVariable = "SKIFF_FAULT"
    /// Set across the CVE-2019-5736 re-exec: when the old image asked for it.
    static let reexecStartVariable = "SKIFF_TRACE_REEXEC_NS"
    static let nanosPerMicro: UInt64 = 1000
    static let textNumberWidth = 7
    /// How a fault in a pid namespace's init ends it (the status of a SIGKILL).
    static let faultExitStatus = 128 + SIGKILL

    public private(set) static var format: Format?
    /// The phase at whose end to die (SKIFF_FAULT), if any.
    static var fault: String?
    /// Tracing or a fault: whether marks do anything at all.
    static var active = false
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
        // Set by the image before a re-exec (here, or CSkiffEarly's, which may set it for
        // a "--trace" that was a container's argument): never passed on.
        let reexecStart = getenv(reexecStartVariable).flatMap { UInt64(String(cString: $0)) }
        if reexecStart != nil { unsetenv(reexecStartVariable) }
        if let f = getenv(faultVariable).map({ String(cString: $0) }), !f.isEmpty { fault = f }
        let requested = getenv(formatVariable).map { String(cString: $0) }
        let tracing = flag || (requested.map { !$0.isEmpty && $0 != "0" } ?? false)
        guard tracing || fault != nil else { return }
        active = true
        self.command = command
        scope = command
        guard tracing else {
            if reexecStart != nil { mark("reexec") }
            return
        }
        format = requested.flatMap(Format.init(rawValue:)) ?? .text
        last = now()
        if let path = getenv(fileVariable).map({ String(cString: $0) }), !path.isEmpty {
            let f = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
            if f >= 0 { fd = f }
        }
        if let t = reexecStart {
            last = t
            mark("reexec")
        }
    }

    public static var enabled: Bool { format != nil }

    /// Ends the current phase.
    @inline(__always)
    public static func mark(_ phase: @autoclosure () -> String) {
        if active { record(phase()) }
    }

    /// Starts a new scope (create inside run, say); its first phase starts now.
    public static func enter(_ newScope: String) {
        guard active else { return }
        scope = newScope
    }

    /// In a freshly cloned child: marks go over `ch` from now on.
    static func child(_ name: String, channel ch: Channel) {
        guard active else { return }
        childName = name
        if format != nil { channel = ch }
    }

    /// The child's channel is gone (after `ready`): later marks are not reported (a
    /// fault still fires).
    static func detachChild() {
        channel = nil
        format = nil
        active = fault != nil
    }

    /// Before the protective re-exec: the new image reports the time it took.
    static func handOverToReexec() {
        guard active else { return }
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
        if let f = fault, f == (childName.isEmpty ? scope + "/" + phase : scope + "/" + childName + "/" + phase) {
            kill(getpid(), SIGKILL)
            // Pid 1 of a pid namespace cannot be killed from inside it: exit as dead.
            _exit(faultExitStatus)
        }
        guard format != nil else { return }
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
