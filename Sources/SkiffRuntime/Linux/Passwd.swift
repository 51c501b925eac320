import Glibc

/// Names of `exec --user name[:group]`, looked up in the container's own /etc/passwd and
/// /etc/group (read in its mount namespace, so its root is "/").
enum Passwd {
    struct Entry {
        var uid: UInt32
        var gid: UInt32
    }

    /// name:password:uid:gid:... lines; nil if no line names `name`.
    static func user(_ name: String, file: String = "/etc/passwd") -> Entry? {
        for f in fields(file) where f.count >= 4 && f[0] == name {
            if let uid = UInt32(f[2]), let gid = UInt32(f[3]) { return Entry(uid: uid, gid: gid) }
        }
        return nil
    }

    /// The home directory of `uid` (name:password:uid:gid:gecos:home:shell), if it has one.
    static func home(of uid: UInt32, file: String = "/etc/passwd") -> String? {
        for f in fields(file) where f.count >= 6 && UInt32(f[2]) == uid && !f[5].isEmpty { return String(f[5]) }
        return nil
    }

    /// The name of `uid` (the host's /etc/passwd for `list`'s OWNER), if it has one.
    static func name(of uid: UInt32, file: String = "/etc/passwd") -> String? {
        for f in fields(file) where f.count >= 3 && UInt32(f[2]) == uid && !f[0].isEmpty { return String(f[0]) }
        return nil
    }

    /// name:password:gid:members lines.
    static func group(_ name: String, file: String = "/etc/group") -> UInt32? {
        for f in fields(file) where f.count >= 3 && f[0] == name {
            if let gid = UInt32(f[2]) { return gid }
        }
        return nil
    }

    private static func fields(_ file: String) -> [[String]] {
        guard let text = try? Files.readString(file) else { return [] }
        return Text.split(text, separator: newline).map { Text.split($0, separator: colon, omittingEmpty: false) }
    }

    private static let newline = UInt8(ascii: "\n"), colon = UInt8(ascii: ":")

    /// Applies the names of an exec plan to its process: the user's uid, and its primary
    /// group unless a group was given.
    static func resolve(_ plan: inout ExecPlan) throws {
        if let name = plan.userName {
            guard let e = user(name) else {
                throw ConfigError("--user", "unknown user \"\(name)\": no entry in the container's /etc/passwd")
            }
            plan.process.user.uid = e.uid
            if plan.groupName == nil { plan.process.user.gid = e.gid }
        }
        if let name = plan.groupName {
            guard let gid = group(name) else {
                throw ConfigError("--user", "unknown group \"\(name)\": no entry in the container's /etc/group")
            }
            plan.process.user.gid = gid
        }
    }
}
