/// Integers in string interpolations ("/proc/\(pid)/stat", "/proc/self/fd/\(fd)") written
/// by `Text.decimal`, not through CustomStringConvertible: the standard library's way
/// (Int32.description, _description(radix:), _BinaryIntegerToASCII) lies in two 64 KB
/// neighbourhoods of libswiftCore's one big text section that nothing else on the start
/// path touches, and the kernel maps code a neighbourhood per fault: every skiff process
/// and every container init paid 128 KB of peak RSS for a pid or an fd in a path. A
/// concrete overload is chosen over the generic one wherever this module is imported;
/// inlined, so that the digits are appended as any interpolated String is.
extension DefaultStringInterpolation {
    @inlinable @inline(__always) public mutating func appendInterpolation(_ v: Int) { appendInterpolation(Text.decimal(Int64(v))) }
    @inlinable @inline(__always) public mutating func appendInterpolation(_ v: Int32) { appendInterpolation(Text.decimal(Int64(v))) }
    @inlinable @inline(__always) public mutating func appendInterpolation(_ v: Int64) { appendInterpolation(Text.decimal(v)) }
    @inlinable @inline(__always) public mutating func appendInterpolation(_ v: UInt) { appendInterpolation(Text.decimal(UInt64(v))) }
    @inlinable @inline(__always) public mutating func appendInterpolation(_ v: UInt32) { appendInterpolation(Text.decimal(UInt64(v))) }
    @inlinable @inline(__always) public mutating func appendInterpolation(_ v: UInt64) { appendInterpolation(Text.decimal(v)) }
}
