import Glibc

/// CVE-2024-21626: a process.cwd such as /proc/self/fd/N reaches through an fd the init
/// still holds; if that fd were a host directory, the program would start outside the
/// container's root. The kernel reports such a cwd as "(unreachable)/..." (glibc's
/// getcwd then fails with ENOENT): refuse it. One syscall on the start path.
enum CwdCheck {
    static func verifyInsideRoot(_ cwd: String) throws {
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let ok = buf.withUnsafeMutableBufferPointer { getcwd($0.baseAddress, $0.count) != nil }
        if !ok {
            throw RuntimeError("process.cwd \(cwd) is not inside the container: getcwd: \(String(cString: strerror(errno)))")
        }
        if buf[0] != CChar(UInt8(ascii: "/")) {
            throw RuntimeError("process.cwd \(cwd) is not inside the container (\(String(cString: buf)))")
        }
    }
}
