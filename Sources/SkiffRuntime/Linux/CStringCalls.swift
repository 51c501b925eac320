import Glibc
import CSkiffInit

// The C calls skiff makes with a Swift String for a path or a name, taking it by
// withCString. Swift's implicit String-to-pointer conversion copies a string of 15 bytes
// or fewer (most of the start path's paths and names: "/dev", "exec.fifo",
// "cgroup.procs") into a new [CChar] on the heap first, through libswiftCore code that
// nothing else on the start path runs: two 64 KB windows of RSS in every skiff process
// and container init, and a malloc and a free per call. withCString hands such a string
// over from the stack. Same C calls, same bytes, same errno; chosen over Glibc's by the
// compiler wherever a String is passed, since no conversion is needed to call them.

@inline(__always) func open(_ path: String, _ flags: Int32) -> Int32 {
    path.withCString { Glibc.open($0, flags) }
}

@inline(__always) func open(_ path: String, _ flags: Int32, _ mode: mode_t) -> Int32 {
    path.withCString { Glibc.open($0, flags, mode) }
}

@inline(__always) func openat(_ dir: Int32, _ path: String, _ flags: Int32) -> Int32 {
    path.withCString { Glibc.openat(dir, $0, flags) }
}

@inline(__always) func openat(_ dir: Int32, _ path: String, _ flags: Int32, _ mode: mode_t) -> Int32 {
    path.withCString { Glibc.openat(dir, $0, flags, mode) }
}

// stat and lstat as glibc makes them (fstatat from the working directory): the name
// `Glibc.stat` is the struct's.
@inline(__always) func stat(_ path: String, _ buf: UnsafeMutablePointer<stat>) -> Int32 {
    path.withCString { Glibc.fstatat(AT_FDCWD, $0, buf, 0) }
}

@inline(__always) func lstat(_ path: String, _ buf: UnsafeMutablePointer<stat>) -> Int32 {
    path.withCString { Glibc.fstatat(AT_FDCWD, $0, buf, AT_SYMLINK_NOFOLLOW) }
}

@inline(__always) func fstatat(_ dir: Int32, _ path: String, _ buf: UnsafeMutablePointer<stat>, _ flags: Int32) -> Int32 {
    path.withCString { Glibc.fstatat(dir, $0, buf, flags) }
}

@inline(__always) func access(_ path: String, _ mode: Int32) -> Int32 {
    path.withCString { Glibc.access($0, mode) }
}

@inline(__always) func faccessat(_ dir: Int32, _ path: String, _ mode: Int32, _ flags: Int32) -> Int32 {
    path.withCString { Glibc.faccessat(dir, $0, mode, flags) }
}

@inline(__always) func mkdir(_ path: String, _ mode: mode_t) -> Int32 {
    path.withCString { Glibc.mkdir($0, mode) }
}

@inline(__always) func rmdir(_ path: String) -> Int32 {
    path.withCString { Glibc.rmdir($0) }
}

@inline(__always) func unlink(_ path: String) -> Int32 {
    path.withCString { Glibc.unlink($0) }
}

@inline(__always) func unlinkat(_ dir: Int32, _ path: String, _ flags: Int32) -> Int32 {
    path.withCString { Glibc.unlinkat(dir, $0, flags) }
}

@inline(__always) func symlinkat(_ target: String, _ dir: Int32, _ path: String) -> Int32 {
    target.withCString { t in path.withCString { Glibc.symlinkat(t, dir, $0) } }
}

@inline(__always) func chdir(_ path: String) -> Int32 {
    path.withCString { Glibc.chdir($0) }
}

@inline(__always) func mkdirat(_ dir: Int32, _ path: String, _ mode: mode_t) -> Int32 {
    path.withCString { Glibc.mkdirat(dir, $0, mode) }
}

@inline(__always) func mknodat(_ dir: Int32, _ path: String, _ mode: mode_t, _ dev: dev_t) -> Int32 {
    path.withCString { Glibc.mknodat(dir, $0, mode, dev) }
}

@inline(__always) func mkfifo(_ path: String, _ mode: mode_t) -> Int32 {
    path.withCString { Glibc.mkfifo($0, mode) }
}

@inline(__always) func fchmodat(_ dir: Int32, _ path: String, _ mode: mode_t, _ flags: Int32) -> Int32 {
    path.withCString { Glibc.fchmodat(dir, $0, mode, flags) }
}

@inline(__always) func fchownat(_ dir: Int32, _ path: String, _ uid: uid_t, _ gid: gid_t, _ flags: Int32) -> Int32 {
    path.withCString { Glibc.fchownat(dir, $0, uid, gid, flags) }
}

@inline(__always) func readlinkat(_ dir: Int32, _ path: String, _ buf: UnsafeMutablePointer<CChar>, _ size: Int) -> Int {
    path.withCString { Glibc.readlinkat(dir, $0, buf, size) }
}

@inline(__always) func rename(_ from: String, _ to: String) -> Int32 {
    from.withCString { f in to.withCString { Glibc.rename(f, $0) } }
}

@inline(__always) func realpath(_ path: String, _ resolved: UnsafeMutablePointer<CChar>?) -> UnsafeMutablePointer<CChar>? {
    path.withCString { Glibc.realpath($0, resolved) }
}

@inline(__always) func opendir(_ path: String) -> OpaquePointer? {
    path.withCString { Glibc.opendir($0) }
}

@inline(__always) func chroot(_ path: String) -> Int32 {
    path.withCString { Glibc.chroot($0) }
}

@inline(__always) func setenv(_ name: String, _ value: String, _ overwrite: Int32) -> Int32 {
    name.withCString { n in value.withCString { Glibc.setenv(n, $0, overwrite) } }
}

@inline(__always) func unsetenv(_ name: String) -> Int32 {
    name.withCString { Glibc.unsetenv($0) }
}

@inline(__always) func getenv(_ name: String) -> UnsafeMutablePointer<CChar>? {
    name.withCString { Glibc.getenv($0) }
}

@inline(__always) func umount2(_ path: String, _ flags: Int32) -> Int32 {
    path.withCString { Glibc.umount2($0, flags) }
}

/// mount(2), whose source, type and data may be absent (named apart from Mounts.mount,
/// which calls it).
@inline(__always) func mountSyscall(_ source: String?, _ target: String, _ type: String?, _ flags: UInt,
                                    _ data: String?) -> Int32 {
    withOptionalCString(source) { s in
        target.withCString { t in
            withOptionalCString(type) { ty in withOptionalCString(data) { Glibc.mount(s, t, ty, flags, $0) } }
        }
    }
}

@inline(__always) func skiff_open_tree(_ dir: Int32, _ path: String, _ flags: UInt32) -> Int32 {
    path.withCString { CSkiffInit.skiff_open_tree(dir, $0, flags) }
}

@inline(__always) func skiff_openat2(_ dir: Int32, _ path: String, _ flags: UInt64, _ mode: UInt64,
                                     _ resolve: UInt64) -> Int32 {
    path.withCString { CSkiffInit.skiff_openat2(dir, $0, flags, mode, resolve) }
}

@inline(__always) func skiff_fs_type(_ path: String) -> Int {
    path.withCString { CSkiffInit.skiff_fs_type($0) }
}

@inline(__always) func sethostname(_ name: String, _ length: Int) -> Int32 {
    name.withCString { Glibc.sethostname($0, length) }
}

@inline(__always) func setdomainname(_ name: String, _ length: Int) -> Int32 {
    name.withCString { Glibc.setdomainname($0, length) }
}

/// `body` with `s` as a C string, or with nil.
@inline(__always) func withOptionalCString<R>(_ s: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let s else { return body(nil) }
    return s.withCString { body($0) }
}
