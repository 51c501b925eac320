import Glibc
import CSkiffInit

/// What an open fd really is. Checks are made on the object about to be mounted or
/// written, after it was opened: a path swapped afterwards cannot change the answer.
enum FDCheck {
    static let PROC_SUPER_MAGIC = 0x9fa0
    static let DEVPTS_SUPER_MAGIC = 0x1cd1

    static func stat(_ fd: Int32, _ shown: String) throws -> Glibc.stat {
        var st = Glibc.stat()
        if fstat(fd, &st) != 0 { throw SysError(errno, "fstat", shown) }
        return st
    }

    /// statfs f_type of the filesystem the fd is on, or -1.
    static func fsType(_ fd: Int32) -> Int { skiff_fd_fs_type(fd) }

    static func major(_ d: dev_t) -> UInt64 { (UInt64(d) >> 8) & 0xfff | (UInt64(d) >> 32) & ~0xfff }
    static func minor(_ d: dev_t) -> UInt64 { UInt64(d) & 0xff | (UInt64(d) >> 12) & ~0xff }

    static func isCharDevice(_ st: Glibc.stat) -> Bool { st.st_mode & S_IFMT == S_IFCHR }

    /// "a regular file", "char device 1:5", ... for error messages.
    static func describe(_ st: Glibc.stat) -> String {
        switch st.st_mode & S_IFMT {
        case S_IFREG: return "a regular file"
        case S_IFDIR: return "a directory"
        case S_IFLNK: return "a symlink"
        case S_IFCHR: return "char device \(major(st.st_rdev)):\(minor(st.st_rdev))"
        case S_IFBLK: return "block device \(major(st.st_rdev)):\(minor(st.st_rdev))"
        case S_IFIFO: return "a fifo"
        case S_IFSOCK: return "a socket"
        default: return "an unknown file type"
        }
    }
}
