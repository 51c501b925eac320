import Glibc

/// A failed system call: the errno, what skiff was doing, and to which path.
public struct SysError: Error, CustomStringConvertible {
    public let errno: Int32
    public let operation: String
    public let path: String?

    public init(_ errno: Int32, _ operation: String, _ path: String? = nil) {
        self.errno = errno
        self.operation = operation
        self.path = path
    }

    public var description: String {
        let msg = String(cString: strerror(errno))
        if let path { return "\(operation) \(path): \(msg)" }
        return "\(operation): \(msg)"
    }
}

/// A plain runtime error with a message for the user.
public struct RuntimeError: Error, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}

/// Checks a libc return value (-1 on failure), retrying on EINTR.
@discardableResult
@inline(__always)
func sys(_ op: @autoclosure () -> String, _ path: String? = nil, _ call: () -> Int32) throws -> Int32 {
    while true {
        let r = call()
        if r != -1 { return r }
        let e = errno
        if e == EINTR { continue }
        throw SysError(e, op(), path)
    }
}
