import Glibc
import CSkiffInit

/// CVE-2019-5736. The init is a clone of `create`/`run`, so until its final exec its
/// /proc/self/exe is the host's skiff binary: a container whose program is a
/// `#!/proc/self/exe` script makes the kernel run that binary in the container, where
/// another container process can open /proc/<pid>/exe and, once it exits, reopen that
/// fd for writing and overwrite the host binary.
/// Defence: `create` and `run` re-exec themselves through a view of the binary that
/// cannot be opened for writing: a detached read-only bind mount of it (no copy, a few
/// syscalls), else a sealed memfd copy (rootless: open_tree needs CAP_SYS_ADMIN).
public enum ExeProtection {
    static let F_ADD_SEALS: Int32 = 1033
    static let F_GET_SEALS: Int32 = 1034
    // F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE
    static let allSeals: Int32 = 0x1 | 0x2 | 0x4 | 0x8
    static let OPEN_TREE_CLOEXEC: UInt32 = 0o2000000
    static let MOUNT_ATTR_RDONLY: UInt64 = 0x1
    static let MFD_CLOEXEC: UInt32 = 0x1
    static let MFD_ALLOW_SEALING: UInt32 = 0x2
    static let MFD_EXEC: UInt32 = 0x10
    static let PR_SET_NAME: Int32 = 15

    /// Returns when /proc/self/exe is already protected (we are the re-exec, or the binary
    /// sits on a read-only mount); otherwise re-execs this process and does not return.
    public static func ensure() throws {
        let exe = try sys("open", "/proc/self/exe") { open("/proc/self/exe", O_RDONLY | O_CLOEXEC) }
        defer { close(exe) }
        if isProtected(exe) {
            nameAfterArgv0()
            return
        }
        var failures: [String] = []
        do { try reexec(readOnlyView(of: exe)) } catch { failures.append("read-only bind: \(error)") }
        do { try reexec(sealedCopy(of: exe)) } catch { failures.append("sealed copy: \(error)") }
        throw RuntimeError("cannot make a write-protected view of the skiff binary (CVE-2019-5736): "
                           + failures.joined(separator: "; "))
    }

    /// Neither a container process sharing our pid namespace nor one in the init's can
    /// open our /proc/<pid> files (exe, fd, environ, mem) without CAP_SYS_PTRACE.
    public static func makeUndumpable() {
        _ = skiff_prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    }

    /// Read-only mount (a bind of the binary itself, or a ro filesystem), or a memfd
    /// that can never be written, grown or shrunk again.
    static func isProtected(_ fd: Int32) -> Bool {
        let flags = skiff_fd_mount_flags(fd)
        if flags >= 0 && UInt(flags) & UInt(ST_RDONLY) != 0 { return true }
        let seals = skiff_fcntl_int(fd, F_GET_SEALS, 0)
        return seals >= 0 && seals & allSeals == allSeals
    }

    /// A detached bind mount of just the binary, made read-only. Nobody can reach it by
    /// path; it goes away with the last process that runs from it.
    static func readOnlyView(of exe: Int32) throws -> Int32 {
        let tree = try sys("open_tree /proc/self/exe") {
            skiff_open_tree(exe, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH_)
        }
        if skiff_mount_setattr(tree, "", AT_EMPTY_PATH_, MOUNT_ATTR_RDONLY, 0, 0) != 0 {
            let e = errno
            close(tree)
            throw SysError(e, "mount_setattr ro on the bind of /proc/self/exe")
        }
        return tree
    }

    /// A memfd copy of the binary with every seal applied.
    static func sealedCopy(of exe: Int32) throws -> Int32 {
        var st = stat()
        try sys("fstat /proc/self/exe") { fstat(exe, &st) }
        // MFD_EXEC: kernels with vm.memfd_noexec would otherwise refuse to exec it; older
        // kernels do not know the flag.
        var mfd = skiff_memfd_create("skiff", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC)
        if mfd < 0 && errno == EINVAL { mfd = skiff_memfd_create("skiff", MFD_CLOEXEC | MFD_ALLOW_SEALING) }
        if mfd < 0 { throw SysError(errno, "memfd_create") }
        do {
            var left = Int(st.st_size)
            _ = lseek(exe, 0, SEEK_SET)
            while left > 0 {
                let n = skiff_sendfile(mfd, exe, left)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { throw SysError(n < 0 ? errno : EIO, "copy /proc/self/exe to a memfd") }
                left -= n
            }
            try sys("seal the memfd copy") { skiff_fcntl_int(mfd, F_ADD_SEALS, allSeals) }
            return mfd
        } catch {
            close(mfd)
            throw error
        }
    }

    /// Exec the same argv and environment from `fd`, checked first so that a view that is
    /// somehow not protected can never loop us through re-exec after re-exec.
    static func reexec(_ fd: Int32) throws {
        guard isProtected(fd) else {
            close(fd)
            throw RuntimeError("the view is still writable")
        }
        Trace.mark("protect binary")
        Trace.handOverToReexec()
        _ = skiff_execveat_fd(fd, ProcessArguments.argv, environ)
        let e = errno
        close(fd)
        throw SysError(e, "execveat the protected view of /proc/self/exe")
    }

    /// An exec by fd names the process after the fd number ("3"); give it the name a
    /// plain exec of argv[0] would have.
    static func nameAfterArgv0() {
        guard let argv = ProcessArguments.argv, let arg0 = argv[0] else { return }
        // The base name, as the C string it already is (the kernel truncates it to 15 bytes).
        let base = strrchr(arg0, Int32(UInt8(ascii: "/"))).map { $0 + 1 } ?? arg0
        _ = skiff_prctl(PR_SET_NAME, UInt(bitPattern: base), 0, 0, 0)
    }
}
