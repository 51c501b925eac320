import Glibc
import CSkiffInit

/// AppArmor and SELinux, as runc applies them: the label is written to the init's
/// /proc/thread-self/attr "exec" file and takes effect at the program's exec. On a host
/// without the LSM, a config that asks for it is refused before anything is created
/// (runc fails too, from deeper inside: "write /proc/self/attr/exec: invalid argument").
enum LSM {
    static var appArmorEnabled: Bool {
        access("/sys/kernel/security/apparmor", F_OK) == 0
            && (try? Files.readString("/sys/module/apparmor/parameters/enabled"))?.hasPrefix("Y") == true
    }

    static var seLinuxEnabled: Bool {
        // selinuxfs is mounted (and so the policy loaded) only when SELinux is active.
        skiff_fs_type("/sys/fs/selinux") == 0xf97c_ff8c  // SELINUX_MAGIC
    }

    static func validate(_ spec: Spec) throws {
        if let p = spec.process?.apparmorProfile, !p.isEmpty, !appArmorEnabled {
            throw ConfigError("process.apparmorProfile", "AppArmor is not enabled on this host (profile \"\(p)\")")
        }
        if let l = spec.process?.selinuxLabel, !l.isEmpty, !seLinuxEnabled {
            throw ConfigError("process.selinuxLabel", "SELinux is disabled or not supported on this host")
        }
        if let l = spec.linux.mountLabel, !l.isEmpty, !seLinuxEnabled {
            throw ConfigError("linux.mountLabel", "SELinux is disabled or not supported on this host")
        }
    }

    /// Labels for the next exec; in the init, inside the container, after its /proc is mounted.
    static func applyOnExec(_ process: Spec.Process) throws {
        if let p = process.apparmorProfile, !p.isEmpty {
            let modern = "/proc/thread-self/attr/apparmor/exec"
            try ProcWrite.write(access(modern, F_OK) == 0 ? modern : "/proc/thread-self/attr/exec", "exec \(p)")
        }
        if let l = process.selinuxLabel, !l.isEmpty {
            try ProcWrite.write("/proc/thread-self/attr/exec", l)
        }
    }
}

/// Stand-in until writes to procfs are verified to land on procfs.
enum ProcWrite {
    static func write(_ path: String, _ value: String) throws { try Files.writeExisting(path, value) }
}
