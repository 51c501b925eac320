import Glibc

/// A blocking D-Bus client connection: systemd's private socket when we may use it
/// (root; no bus daemon hop), else the system bus. One call at a time; signals that
/// arrive while waiting are kept for `waitForSignal`.
final class DBusConnection {
    let fd: Int32
    let viaBus: Bool
    private var serial: UInt32 = 0
    private var pending: [UInt8] = []
    private var signals: [DBusMessage] = []
    /// The uid EXTERNAL authentication claims: the server compares it with the socket's
    /// peer credentials, which a user manager sees as the host's uid.
    private let authUID: uid_t

    struct CallError: Error, CustomStringConvertible {
        let name: String
        let message: String
        var description: String { "\(name): \(message)" }
    }

    static let privateSocket = "/run/systemd/private"
    static let systemBus = "/run/dbus/system_bus_socket"

    /// The system manager for root; for any other user, that user's own manager (runc's
    /// rootless rule: the system manager does not take units from a user).
    convenience init(_ instance: SystemdInstance) throws {
        switch instance {
        case .system:
            if getuid() == 0, let fd = try? UnixSocket.connect(path: Self.privateSocket, what: "systemd") {
                try self.init(fd: fd, viaBus: false)
            } else {
                try self.init(fd: try UnixSocket.connect(path: Self.systemBus, what: "the D-Bus system bus"), viaBus: true)
            }
        case .user:
            let sockets = try SystemdInstance.userSockets()
            // Root in a user namespace (rootless Podman's runtime) is its user to the bus.
            let uid = Namespaces.hostUID()
            if let fd = try? UnixSocket.connect(path: sockets.manager, what: "the user's systemd") {
                try self.init(fd: fd, viaBus: false, authUID: uid)
            } else {
                try self.init(fd: try UnixSocket.connect(path: sockets.bus, what: "the user's D-Bus session bus"),
                              viaBus: true, authUID: uid)
            }
        }
    }

    /// Takes over `fd`, connected to systemd or to a bus daemon. On a throw the fd is
    /// closed too: the object is fully initialized by then, so deinit runs.
    init(fd: Int32, viaBus: Bool, authUID: uid_t = getuid()) throws {
        self.fd = fd
        self.viaBus = viaBus
        self.authUID = authUID
        try authenticate()
        if viaBus { _ = try call(nil, "/org/freedesktop/DBus", "org.freedesktop.DBus", "Hello", destination: "org.freedesktop.DBus") }
    }

    deinit { close(fd) }

    /// SASL EXTERNAL: the server checks the uid we claim against the socket's credentials. BEGIN goes
    /// in the same write as AUTH, as sd-bus's own clients send it: systemd's server, if it
    /// reads BEGIN and our first message in one go, keeps that message buffered and does
    /// not look at it until more bytes arrive (seen here as a call that never returned).
    private func authenticate() throws {
        let uid = Array(String(authUID).utf8).map { String($0, radix: 16) }.joined()
        try send(Array("\0AUTH EXTERNAL \(uid)\r\nBEGIN\r\n".utf8))
        var line: [UInt8] = []
        while !(line.count >= 2 && line[line.count - 2] == 13 && line[line.count - 1] == 10) {
            try waitReadable(timeoutMS: 30_000)
            var b: UInt8 = 0
            let n = read(fd, &b, 1)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { throw SysError(n < 0 ? errno : ECONNRESET, "authenticate to systemd over D-Bus") }
            line.append(b)
        }
        guard line.starts(with: Array("OK ".utf8)) else {
            throw RuntimeError("systemd refused D-Bus authentication: \(String(decoding: line, as: UTF8.self))")
        }
    }

    /// Blocks until the socket is readable; a silent peer is an error after `timeoutMS`.
    private func waitReadable(timeoutMS: Int32) throws {
        while true {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&p, 1, timeoutMS)
            if ready > 0 { return }
            if ready == 0 { throw RuntimeError("timed out waiting for systemd over D-Bus") }
            if errno != EINTR { throw SysError(errno, "poll the systemd connection") }
        }
    }

    private func send(_ bytes: [UInt8]) throws {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + off, $0.count - off, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SysError(errno, "write to systemd over D-Bus")
            }
            off += n
        }
    }

    /// The next message; a silent systemd is an error after `timeoutMS`, never a hang.
    private func receive(timeoutMS: Int32 = 30_000) throws -> DBusMessage {
        while true {
            if let len = DBusMessage.length(of: pending[...]) {
                if len < 0 { throw RuntimeError("systemd sent a big-endian D-Bus message") }
                if pending.count >= len {
                    let m = try DBusMessage.decode(Array(pending[0..<len]))
                    pending.removeFirst(len)
                    return m
                }
            }
            try waitReadable(timeoutMS: timeoutMS)
            var buf = [UInt8](repeating: 0, count: 8192)
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { throw SysError(n < 0 ? errno : ECONNRESET, "read from systemd over D-Bus") }
            pending += buf[0..<n]
        }
    }

    /// Calls a method and returns its reply; a D-Bus error becomes CallError.
    @discardableResult
    func call(_ service: String?, _ path: String, _ interface: String, _ member: String,
              _ args: [DBusValue] = [], destination: String? = nil) throws -> DBusMessage {
        serial += 1
        let mine = serial
        let dest = destination ?? (viaBus ? service : nil)
        try send(DBusMessage.call(dest, path, interface, member, args, serial: mine).encoded())
        while true {
            let m = try receive()
            switch m.kind {
            case .signal:
                signals.append(m)
            case .methodReturn where m.replySerial == mine:
                return m
            case .error where m.replySerial == mine:
                var r = m.bodyReader
                let text = m.signature.hasPrefix("s") ? (try? r.string()) ?? "" : ""
                throw CallError(name: m.errorName ?? "error", message: text)
            default:
                continue
            }
        }
    }

    /// Waits for a signal that `matches`, looking first at those already received; other
    /// signals do not extend the wait past `timeoutMS`.
    func waitForSignal(timeoutMS: Int32, _ matches: (DBusMessage) -> Bool) throws -> DBusMessage {
        if let i = signals.firstIndex(where: matches) { return signals.remove(at: i) }
        let deadline = Self.nowMS() + Int(timeoutMS)
        while true {
            let left = deadline - Self.nowMS()
            if left <= 0 { throw RuntimeError("timed out waiting for systemd over D-Bus") }
            let m = try receive(timeoutMS: Int32(left))
            if m.kind == .signal && matches(m) { return m }
        }
    }

    private static func nowMS() -> Int {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return ts.tv_sec * 1000 + ts.tv_nsec / 1_000_000
    }
}
