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
    return UTC.rfc3339(seconds: Int64(ts.tv_sec), nanoseconds: Int64(ts.tv_nsec), nanos: nanos)
}

/// The UTC calendar computed here, not by gmtime_r: glibc reads and parses /etc/localtime
/// the first time a process converts a time, UTC or not (tzset), and every `create` writes
/// its `created` time.
enum UTC {
    static let secondsPerDay: Int64 = 86_400
    static let nanosecondDigits = 9

    static func rfc3339(seconds: Int64, nanoseconds: Int64, nanos: Bool) -> String {
        let days = seconds >= 0 ? seconds / secondsPerDay : (seconds - secondsPerDay + 1) / secondsPerDay
        let inDay = seconds - days * secondsPerDay
        let (year, month, day) = civil(daysSinceEpoch: days)
        var s = pad(year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2) + "T" + pad(inDay / 3600, 2) + ":"
            + pad(inDay / 60 % 60, 2) + ":" + pad(inDay % 60, 2)
        if nanos {
            var fraction = pad(nanoseconds, nanosecondDigits)
            while fraction.hasSuffix("0") { fraction.removeLast() }
            if !fraction.isEmpty { s += "." + fraction }
        }
        return s + "Z"
    }

    /// The proleptic Gregorian date of a day counted from 1970-01-01, by 400-year eras
    /// of 146097 days (each starting on March 1st, so the leap day ends a year).
    static func civil(daysSinceEpoch: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let daysPerEra: Int64 = 146_097
        let z = daysSinceEpoch + 719_468  // days from 0000-03-01 to 1970-01-01
        let era = (z >= 0 ? z : z - daysPerEra + 1) / daysPerEra
        let dayOfEra = z - era * daysPerEra
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthFromMarch = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthFromMarch + 2) / 5 + 1
        let month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    static func pad(_ v: Int64, _ width: Int) -> String {
        let digits = Text.decimal(v)
        return String(repeating: "0", count: max(0, width - digits.utf8.count)) + digits
    }
}
