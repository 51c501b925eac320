import Glibc
import CSkiffInit

/// Loading a device program costs the verifier and the JIT (about 180 µs here, a
/// twentieth of a whole `run`), and most containers get the same program: the default
/// devices, or their caller's usual list. Where the host has a BPF filesystem at
/// /sys/fs/bpf (systemd mounts one), the program loaded for a set of instructions is
/// pinned there under their SHA-256, and the next container with the same rules attaches
/// that one. Without it every container loads its own, as before.
///
/// The name is a collision-resistant hash because the rules come from configs: a config
/// must not be able to get its program pinned under another config's name. Only root
/// can pin in the directory (0700, checked); at most `maxPinned` programs are kept, so
/// configs with ever-new rules cannot pin without bound (past it, they load their own).
enum DeviceProgramCache {
    static let bpffs = "/sys/fs/bpf"
    static let directory = bpffs + "/skiff-devices"
    static let directoryMode: mode_t = 0o700
    static let bpffsMagic: Int = 0xcafe_4a11  // BPF_FS_MAGIC
    static let maxPinned = 64
    static let cmdObjPin: Int32 = 6  // BPF_OBJ_PIN
    static let cmdObjGet: Int32 = 7  // BPF_OBJ_GET

    static func path(for insns: [UInt64]) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(insns.count * 8)
        for word in insns {
            for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: word >> (8 * UInt64(i)))) }
        }
        return directory + "/" + SHA256.hex(bytes)
    }

    /// An fd of the pinned program for `insns`, or nil when there is none to trust.
    static func open(_ insns: [UInt64]) -> Int32? {
        guard directoryIsOurs() else { return nil }
        let fd = objectCall(cmdObjGet, path: path(for: insns), fd: 0)
        guard fd >= 0 else { return nil }
        if let info = try? DeviceFilter.info(programFD: Int32(fd)),
           info.type == DeviceFilter.progTypeCgroupDevice, info.name == DeviceFilter.programName {
            return Int32(fd)
        }
        close(Int32(fd))
        return nil
    }

    /// Pins the program just loaded for `insns`. Best effort: without the pin the next
    /// container loads its own.
    static func remember(_ insns: [UInt64], programFD: Int32) {
        guard skiff_fs_type(bpffs) == bpffsMagic else { return }
        if mkdir(directory, directoryMode) != 0 && errno != EEXIST { return }
        guard directoryIsOurs(), Files.listDirectory(directory).count < maxPinned else { return }
        _ = objectCall(cmdObjPin, path: path(for: insns), fd: programFD)  // EEXIST: pinned meanwhile
    }

    /// A real directory (not a link), root's, that nobody else can write to.
    static func directoryIsOurs() -> Bool {
        var st = stat()
        guard lstat(directory, &st) == 0 else { return false }
        return st.st_mode & S_IFMT == S_IFDIR && st.st_uid == 0 && st.st_mode & 0o022 == 0
    }

    /// BPF_OBJ_PIN or BPF_OBJ_GET: pathname (offset 0), bpf_fd (8).
    static func objectCall(_ cmd: Int32, path: String, fd: Int32) -> Int {
        path.withCString { p in
            var attr = [UInt8](repeating: 0, count: DeviceFilter.attrSize)
            DeviceFilter.put64(&attr, 0, UInt64(UInt(bitPattern: p)))
            DeviceFilter.put32(&attr, 8, UInt32(bitPattern: fd))
            return DeviceFilter.bpf(cmd, &attr).0
        }
    }
}
