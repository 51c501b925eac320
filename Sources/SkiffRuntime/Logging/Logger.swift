import Glibc

/// runc-compatible log lines: logrus text (`time="…" level=error msg="…"`) or JSON
/// (`{"level":"error","msg":"…","time":"…"}`, what containerd reads from --log).
public struct Logger {
    public enum Format: String { case text, json }
    public enum Level: String { case debug, info, warning, error }

    public var format: Format = .text
    public var fd: Int32 = 2
    public var debugEnabled = false

    public init() {}

    /// Opens --log for appending (created if missing).
    public mutating func open(path: String) throws {
        fd = try sys("open --log", path) { path.withCString { Glibc.open($0, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644) } }
    }

    public func log(_ level: Level, _ msg: String) {
        if level == .debug && !debugEnabled { return }
        let time = rfc3339Now(nanos: false)
        var line: String
        switch format {
        case .json:
            line = JSON.object(JSONObject([("level", .string(level.rawValue)), ("msg", .string(msg)),
                                           ("time", .string(time))])).serialized()
        case .text:
            var q = ""
            JSON.escape(msg, into: &q)
            line = "time=\"\(time)\" level=\(level.rawValue) msg=\(q)"
        }
        line += "\n"
        let bytes = Array(line.utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }

    public func error(_ msg: String) { log(.error, msg) }
    public func warn(_ msg: String) { log(.warning, msg) }
    public func debug(_ msg: @autoclosure () -> String) { if debugEnabled { log(.debug, msg()) } }
}
