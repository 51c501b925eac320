import Glibc

/// The global options every command shares (runc's global flags).
public struct RuntimeOptions {
    public var root: String = RuntimeOptions.defaultRoot()
    public var cgroupManager: CgroupManager = .cgroupfs
    public var debug = false
    public var log: Logger = Logger()
    /// Run by an unprivileged user (runc's --rootless): a cgroup that cannot be made is
    /// done without when the config sets no limits, and ids are mapped as that user can.
    public var rootless: Bool {
        get { rootlessFlag ?? RuntimeOptions.isRootless }
        set { rootlessFlag = newValue }
    }
    /// --rootless true|false; auto (nil) is asked only when needed (a stat for root).
    private var rootlessFlag: Bool?

    /// The manager the systemd driver uses (runc's rule): --rootless when given; else a
    /// user's own for a user other than root and the system's for root; for root in a user
    /// namespace of its own, the system's only when that manager is the namespace's own (a
    /// system container), else its user's (rootless Podman).
    public var systemdInstance: SystemdInstance {
        if let r = rootlessFlag { return r ? .user : .system }
        if RuntimeOptions.isUnprivileged { return .user }
        if !Namespaces.inChildUserNamespace || SystemdInstance.systemManagerIsOurs { return .system }
        return .user
    }
    public init() {}

    public static let systemRoot = "/run/skiff"
    /// The state's subdirectory of $XDG_RUNTIME_DIR for an unprivileged user.
    public static let userRootName = "skiff"

    public static var isUnprivileged: Bool { geteuid() != 0 }

    /// runc's rule for --rootless auto: true for a user other than root, and for root in a
    /// user namespace of its own (rootless Podman's runtime), whose cgroups are not its own.
    public static var isRootless: Bool { isUnprivileged || Namespaces.inChildUserNamespace }

    /// runc's rule: root keeps its state in /run/skiff, another user in
    /// $XDG_RUNTIME_DIR/skiff (where /run/skiff would not be writable), and so does root in
    /// a user namespace unless $USER says it is the real root (rootless Podman passes no --root).
    public static func defaultRoot() -> String {
        guard let xdg = getenv("XDG_RUNTIME_DIR").map({ String(cString: $0) }), !xdg.isEmpty else { return systemRoot }
        if isUnprivileged { return xdg + "/" + userRootName }
        guard Namespaces.inChildUserNamespace else { return systemRoot }
        let user = getenv("USER").map { String(cString: $0) }
        return user == "root" ? systemRoot : xdg + "/" + userRootName
    }
}

/// Who makes the container's cgroup (runc's --systemd-cgroup, crun's --cgroup-manager).
public enum CgroupManager: String {
    case cgroupfs, systemd, disabled
}

public struct CreateOptions {
    public var bundle: String = "."
    public var pidFile: String?
    public var consoleSocket: String?
    public var noPivot = false
    public var noNewKeyring = false
    public var preserveFDs: Int32 = 0
    /// `run` in the foreground with a terminal: skiff itself receives the pty master.
    public var consoleSocketFD: Int32?
    public init() {}
}

/// The OCI version skiff implements, reported in `state` and `features`.
public let ociVersion = "1.3.0"
public let skiffVersion = "0.1.0"

/// RFC 3339 with nanoseconds in UTC, as Go's time.RFC3339Nano prints it.
public func rfc3339Now(nanos: Bool = true) -> String {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    var t = ts.tv_sec
    var tmv = tm()
    gmtime_r(&t, &tmv)
    func pad(_ v: Int32, _ w: Int) -> String {
        let s = String(v)
        return String(repeating: "0", count: max(0, w - s.count)) + s
    }
    var s = "\(tmv.tm_year + 1900)-\(pad(tmv.tm_mon + 1, 2))-\(pad(tmv.tm_mday, 2))T\(pad(tmv.tm_hour, 2)):\(pad(tmv.tm_min, 2)):\(pad(tmv.tm_sec, 2))"
    if nanos {
        var frac = pad(Int32(ts.tv_nsec), 9)
        while frac.hasSuffix("0") { frac.removeLast() }
        if !frac.isEmpty { s += "." + frac }
    }
    return s + "Z"
}
