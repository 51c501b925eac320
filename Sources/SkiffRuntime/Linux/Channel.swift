import Glibc

/// The parent/child sync socket (SOCK_SEQPACKET: one message per read, EOF when the
/// other side is gone). Messages are one tag byte and an optional UTF-8 payload.
public struct Channel {
    public enum Tag: UInt8 {
        case go = 0x47          // parent → child: maps written, cgroup joined; go on
        case runHooks = 0x48    // child → parent: mounts done, run prestart/createRuntime hooks
        case hooksDone = 0x44   // parent → child
        case pid = 0x50         // child → parent: the pid of the real init (after a fork)
        case ready = 0x52       // child → parent: set up, waiting on the exec fifo
        case error = 0x45       // child → parent: what failed
        case seccompFD = 0x53   // child → parent: the number of its seccomp notify fd
        case seccompDone = 0x73 // parent → child: the agent has it
        case warning = 0x57     // child → parent: a line for the runtime's log; set-up goes on
        case debug = 0x64       // child → parent: a line for the log at debug level (--debug)
        case trace = 0x54       // child → parent: a start-up trace mark (handled in receive)
    }

    public let fd: Int32

    public static func pair() throws -> (Channel, Channel) {
        var fds: [Int32] = [-1, -1]
        try sys("socketpair") { socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) }
        return (Channel(fd: fds[0]), Channel(fd: fds[1]))
    }

    public func send(_ tag: Tag, _ payload: String = "") throws {
        var bytes = [tag.rawValue]
        bytes.append(contentsOf: payload.utf8)
        let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        if n < 0 { throw SysError(errno, "sync with the container process") }
    }

    /// nil at EOF.
    public func receive() throws -> (Tag, String)? {
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SysError(errno, "sync with the container process")
            }
            if n == 0 { return nil }
            guard let tag = Tag(rawValue: buf[0]) else { throw RuntimeError("bad sync message from the container process") }
            if tag == .trace {
                Trace.relay(String(decoding: buf[1..<n], as: UTF8.self))
                continue
            }
            return (tag, String(decoding: buf[1..<n], as: UTF8.self))
        }
    }

    public func expect(_ tag: Tag) throws {
        guard let (t, payload) = try receive() else { throw RuntimeError("the container process exited during set-up") }
        if t == .error { throw RuntimeError(payload) }
        guard t == tag else { throw RuntimeError("unexpected sync message from the container process") }
    }

    /// The seccomp fd handover, after the filter is loaded: plain write(2) and read(2),
    /// the fewest syscalls an SCMP_ACT_NOTIFY rule could stall (the parent uses pidfd_getfd).
    func handOverSeccompFD(_ fd: Int32) throws {
        let bytes = [Tag.seccompFD.rawValue] + Array(String(fd).utf8)
        if bytes.withUnsafeBytes({ write(self.fd, $0.baseAddress, $0.count) }) != bytes.count {
            throw SysError(errno, "hand the seccomp fd to the runtime")
        }
        var reply: UInt8 = 0
        while true {
            let n = read(self.fd, &reply, 1)
            if n == 1 && reply == Tag.seccompDone.rawValue { return }
            if n < 0 && errno == EINTR { continue }
            throw RuntimeError("the runtime did not take the seccomp fd")
        }
    }

    public func close() { _ = Glibc.close(fd) }
}
