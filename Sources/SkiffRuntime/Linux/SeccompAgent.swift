import Glibc
import CSkiffInit

/// Hands a seccomp notify fd to the agent on linux.seccomp.listenerPath: one connection,
/// one container process state (config-linux.md), the fd in SCM_RIGHTS, then close.
enum SeccompAgent {
    /// Takes a copy of fd `number` of process `pid` (the init, which wrote the number
    /// to us: it may not use sendmsg, which the filter could route to this very agent).
    static func grab(pid: pid_t, number: Int32) throws -> Int32 {
        let pidfd = try sys("pidfd_open for the seccomp fd") { skiff_pidfd_open(pid) }
        defer { close(pidfd) }
        return try sys("pidfd_getfd for the seccomp fd") { skiff_pidfd_getfd(pidfd, number) }
    }

    /// The runtime's side of the handover: `payload` (the fd's number in `pid`) is taken
    /// with pidfd_getfd, sent to the filter's listenerPath with `state`, and acknowledged.
    static func relay(_ payload: String, from pid: pid_t, filter: SeccompFilter?, state: JSON, channel: Channel) throws {
        guard let number = Int32(payload), let path = filter?.listenerPath else {
            throw RuntimeError("bad seccomp fd message from the container process")
        }
        let fd = try grab(pid: pid, number: number)
        defer { close(fd) }
        try send(listenerPath: path, seccompFD: fd, pid: pid, metadata: filter?.metadata, state: state)
        try channel.send(.seccompDone)
    }

    static func send(listenerPath: String, seccompFD: Int32, pid: pid_t, metadata: String?, state: JSON) throws {
        var o = JSONObject()
        o["ociVersion"] = .string(ociVersion)
        o["fds"] = .array([.string("seccompFd")])
        o["pid"] = .int(pid)
        if let metadata { o["metadata"] = .string(metadata) }
        o["state"] = state
        let sock = try UnixSocket.connect(path: listenerPath, what: "linux.seccomp.listenerPath")
        defer { close(sock) }
        let bytes = Array(JSON.object(o).serialized().utf8)
        // A stream socket: the fds ride with the first bytes (the spec requires that).
        let rc = bytes.withUnsafeBytes { skiff_send_fd(sock, seccompFD, $0.baseAddress, $0.count) }
        if rc != 0 { throw SysError(errno, "send the seccomp fd to linux.seccomp.listenerPath", listenerPath) }
    }
}
