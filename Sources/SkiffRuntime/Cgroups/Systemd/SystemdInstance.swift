import Glibc

/// Which systemd manager holds a container's scope: the system's for root, the user's own
/// (`systemd --user`, reached in `$XDG_RUNTIME_DIR`) for anyone else, as runc does.
public enum SystemdInstance: String, Equatable {
    case system
    case user

    /// For root in a user namespace of its own: whether the system manager is that
    /// namespace's (a system container's systemd: its private socket belongs to our root)
    /// rather than the host's (rootless Podman: the socket's owner is not mapped here).
    /// runc asks the user manager for its OwnerUID instead; this is one stat.
    public static var systemManagerIsOurs: Bool {
        var st = stat()
        return stat(DBusConnection.privateSocket, &st) == 0 && st.st_uid == 0
    }

    /// runc's default parent slice for each: a user's units go in its manager's user.slice.
    public var defaultSlice: String { self == .system ? "system.slice" : "user.slice" }

    /// The user manager's private socket (no bus daemon hop, as root's /run/systemd/private)
    /// and the session bus that fronts it (`DBUS_SESSION_BUS_ADDRESS`, else runtime-dir/bus).
    /// Both missing means there is no user manager: the error says how to get one.
    static func userSockets() throws -> (manager: String, bus: String) {
        guard let dir = getenv("XDG_RUNTIME_DIR").map({ String(cString: $0) }), !dir.isEmpty else {
            throw ConfigError("--systemd-cgroup", "the systemd driver for a user needs that user's systemd, " +
                              "and XDG_RUNTIME_DIR is not set: run skiff in a login session of the user " +
                              "(or `loginctl enable-linger USER` and XDG_RUNTIME_DIR=/run/user/UID), " +
                              "or drop --systemd-cgroup")
        }
        let manager = dir + "/systemd/private"
        var bus = dir + "/bus"
        if let address = getenv("DBUS_SESSION_BUS_ADDRESS").map({ String(cString: $0) }), let path = unixPath(address) { bus = path }
        guard Files.exists(manager) || Files.exists(bus) else {
            throw ConfigError("--systemd-cgroup", "the systemd driver for a user needs that user's systemd, and " +
                              "neither \(manager) nor \(bus) exists: start it with `loginctl enable-linger " +
                              "\(Passwd.name(of: Namespaces.hostUID()) ?? String(Namespaces.hostUID()))` " +
                              "(and install dbus-user-session), " +
                              "or drop --systemd-cgroup")
        }
        return (manager, bus)
    }

    /// The path of a `unix:path=...` D-Bus address (its first such entry), unescaped: the
    /// D-Bus spec escapes a value's bytes outside [-0-9A-Za-z_/.\*] as %XX (a space, a
    /// comma or a ';' in a directory name). nil for a malformed escape.
    static func unixPath(_ address: String) -> String? {
        for entry in address.split(separator: ";") where entry.hasPrefix("unix:") {
            for kv in entry.dropFirst("unix:".count).split(separator: ",") where kv.hasPrefix("path=") {
                return unescape(kv.dropFirst("path=".count))
            }
        }
        return nil
    }

    private static func unescape(_ value: Substring) -> String? {
        var bytes: [UInt8] = []
        var rest = value.utf8[...]
        while let b = rest.popFirst() {
            guard b == UInt8(ascii: "%") else { bytes.append(b); continue }
            guard rest.count >= 2, let hi = Text.hexDigit(rest.removeFirst()), let lo = Text.hexDigit(rest.removeFirst()) else { return nil }
            bytes.append(hi << 4 | lo)
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
