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
        if let p = spec.process { try validate(process: p) }
        if let l = spec.linux.mountLabel, !l.isEmpty, !seLinuxEnabled {
            throw ConfigError("linux.mountLabel", "SELinux is disabled or not supported on this host")
        }
    }

    static func validate(process: Spec.Process) throws {
        if let p = process.apparmorProfile, !p.isEmpty, !appArmorEnabled {
            throw ConfigError("process.apparmorProfile", "AppArmor is not enabled on this host (profile \"\(p)\")")
        }
        if let l = process.selinuxLabel, !l.isEmpty, !seLinuxEnabled {
            throw ConfigError("process.selinuxLabel", "SELinux is disabled or not supported on this host")
        }
    }

    /// Labels for the next exec; in the init, inside the container, after its /proc is mounted.
    static func applyOnExec(_ process: Spec.Process) throws {
        // Through ProcFS: a mount over /proc/self/attr must not swallow the label (CVE-2025-52881).
        if let p = process.apparmorProfile, !p.isEmpty {
            let modern = access("/proc/self/attr/apparmor/exec", F_OK) == 0
            let file = modern ? "attr/apparmor/exec" : "attr/exec"
            do {
                try ProcFS.writeSelf(file, "exec \(p)", what: "process.apparmorProfile")
            } catch let e as SysError where e.errno == ENOENT {
                // The kernel's answer for a profile that is not loaded.
                throw ConfigError("process.apparmorProfile", "AppArmor profile \"\(p)\" is not loaded (write /proc/self/\(file): \(String(cString: strerror(e.errno))))")
            }
        }
        if let l = process.selinuxLabel, !l.isEmpty {
            try ProcFS.writeSelf("attr/exec", l, what: "process.selinuxLabel")
        }
    }
}
