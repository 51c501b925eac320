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
                    "use --systemd-cgroup (the user's own systemd), or remove linux.resources")
    }

    /// The cgroup could be made but the init not moved in: a user may move a process only
    /// within a subtree it owns, and the caller sits outside it (a login session's scope).
    static func placementError(_ path: String, _ e: SysError) -> ConfigError {
        let own = (try? Files.readString("/proc/self/cgroup"))?.split(separator: "\n").first.map(String.init) ?? "?"
        return ConfigError("linux.cgroupsPath", "cannot put the container in \(path) (\(e)): a user may move processes " +
                           "only within a cgroup subtree it owns, and skiff runs in \(own): run skiff inside the " +
                           "delegated subtree (e.g. systemd-run --user --scope -p Delegate=yes), or use --systemd-cgroup")
    }
}
