import Glibc

/// What an unprivileged user cannot do, and the errors that say what to do instead.
enum Rootless {
    /// list's OWNER: empty for root (shown as "root"), else the user's name or number.
    static var owner: String {
        let uid = geteuid()
        return uid == 0 ? "" : Passwd.name(of: uid) ?? String(uid)
    }

    static func isPermissionError(_ e: Int32) -> Bool { e == EACCES || e == EPERM || e == EROFS }

    static func cgroupError(_ path: String, _ e: SysError) -> ConfigError {
        ConfigError("linux.resources", "limits need a cgroup, and this user cannot make \(path) (\(e)): " +
                    "delegate a cgroup subtree to the user and put linux.cgroupsPath under it, " +
                    "or remove linux.resources")
    }

    /// The system manager does not take units from a user, and skiff does not speak to the
    /// user's own manager yet.
    static func systemdError() -> ConfigError {
        ConfigError("--systemd-cgroup", "the systemd cgroup driver is not supported for a user other than root yet " +
                    "(it needs the user's own systemd manager): drop --systemd-cgroup (without linux.resources the " +
                    "container runs without a cgroup), or run skiff as root")
    }
}
