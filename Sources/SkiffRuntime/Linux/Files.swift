import Glibc
import CSkiffInit

/// Small file helpers; all paths are plain host paths unless a dirfd is given.
public enum Files {
    /// `regularFile`: a short read is the end (true of a regular file, not of procfs or a
    /// pipe), which saves the read that would return 0 (list reads a file per container).
    public static func read(_ path: String, regularFile: Bool = false) throws -> [UInt8] {
        try read(at: AT_FDCWD, path, regularFile: regularFile)
    }

    /// The same, for `path` relative to the directory fd `dir` (one path walk fewer per file
    /// when many are read from one directory).
    public static func read(at dir: Int32, _ path: String, regularFile: Bool = false) throws -> [UInt8] {
        let fd = try sys("open", path) { openat(dir, path, O_RDONLY | O_CLOEXEC) }
        defer { close(fd) }
        return try readAll(fd, path, regularFile: regularFile)
    }

    static let readChunk = 16384

    /// Reads straight into the result's uninitialized storage: no zeroed buffer to copy from.
    public static func readAll(_ fd: Int32, _ path: String = "", regularFile: Bool = false) throws -> [UInt8] {
        var out: [UInt8] = []
        var capacity = readChunk
        while true {
            var failure: Int32 = 0
            var end = false
            let chunk = [UInt8](unsafeUninitializedCapacity: capacity) { buf, count in
                count = 0
                while count < buf.count {
                    let want = buf.count - count
                    let n = Glibc.read(fd, buf.baseAddress! + count, want)
                    if n < 0 {
                        if errno == EINTR { continue }
                        failure = errno
                        return
                    }
                    count += n
                    if n == 0 || (regularFile && n < want) {
                        end = true
                        return
                    }
                }
            }
            if failure != 0 { throw SysError(failure, "read", path) }
            if out.isEmpty { out = chunk } else { out += chunk }
            if end { return out }
            capacity *= 2
        }
    }

    public static func readString(_ path: String) throws -> String {
        String(decoding: try read(path), as: UTF8.self)
    }

    /// Writes to an existing file (procfs, cgroupfs, sysfs) without creating or truncating it.
    public static func writeExisting(_ path: String, _ text: String) throws {
        let fd = try sys("open", path) { open(path, O_WRONLY | O_CLOEXEC) }
        defer { close(fd) }
        try writeAll(fd, Array(text.utf8), path)
    }

    public static func writeAll(_ fd: Int32, _ bytes: [UInt8], _ path: String = "") throws {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + off, $0.count - off) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SysError(errno, "write", path)
            }
            off += n
        }
    }

    /// Writes a file that must not exist yet.
    public static func writeNew(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o600) throws {
        let fd = try sys("create", path) { open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode) }
        defer { close(fd) }
        try writeAll(fd, bytes, path)
    }

    /// The temporary that writeAtomically renames over `path`.
    public static func temporaryPath(for path: String) -> String { path + ".tmp\(getpid())" }

    /// Writes a file atomically: a temporary file in the same directory, then rename.
    public static func writeAtomically(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o600) throws {
        let tmp = temporaryPath(for: path)
        let fd = try sys("create", tmp) { open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode) }
        do {
            try writeAll(fd, bytes, tmp)
            close(fd)
            try sys("rename", path) { rename(tmp, path) }
        } catch {
            close(fd)
            unlink(tmp)
            throw error
        }
    }

    public static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    public static func mkdirAll(_ path: String, mode: mode_t = 0o755) throws {
        if mkdir(path, mode) == 0 || errno == EEXIST { return }
        guard errno == ENOENT else { throw SysError(errno, "mkdir", path) }
        let parent = dirname(of: path)
        if parent != path { try mkdirAll(parent, mode: mode) }
        if mkdir(path, mode) != 0 && errno != EEXIST { throw SysError(errno, "mkdir", path) }
    }

    /// Removes a directory tree (state dirs only: small, flat, ours).
    public static func removeTree(_ path: String) {
        if let dir = opendir(path) {
            while let ent = readdir(dir) {
                let name = withUnsafeBytes(of: ent.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
                if name == "." || name == ".." { continue }
                let child = path + "/" + name
                if ent.pointee.d_type == UInt8(DT_DIR) { removeTree(child) } else { unlink(child) }
            }
            closedir(dir)
        }
        rmdir(path)
    }

    public static func listDirectory(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var out: [String] = []
        while let ent = readdir(dir) {
            let name = withUnsafeBytes(of: ent.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if name != "." && name != ".." { out.append(name) }
        }
        return out
    }

    /// The names in a directory sorted by their bytes, as Go's ReadDir sorts them (runc's
    /// list order). Read into one buffer and sorted as C strings: a thousand Strings
    /// compared through withCString took list half a millisecond.
    public static func sortedDirectory(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        var names: [CChar] = []
        var starts: [Int] = []
        while let ent = readdir(dir) {
            withUnsafeBytes(of: ent.pointee.d_name) { raw in
                let name = raw.bindMemory(to: CChar.self)
                let length = strlen(name.baseAddress!)
                let dots = name[0] == dot && (length == 1 || (length == 2 && name[1] == dot))
                if dots { return }
                starts.append(names.count)
                names.append(contentsOf: name[0..<length])
                names.append(0)
            }
        }
        closedir(dir)
        return names.withUnsafeBufferPointer { buffer in
            var pointers = starts.map { buffer.baseAddress! + $0 }
            pointers.sort { strcmp($0, $1) < 0 }
            return pointers.map { String(cString: $0) }
        }
    }
    private static let dot = CChar(UInt8(ascii: "."))

    public static func realPath(_ path: String) throws -> String {
        guard let p = realpath(path, nil) else { throw SysError(errno, "resolve", path) }
        defer { free(p) }
        return String(cString: p)
    }

    public static func dirname(of path: String) -> String {
        guard let (before, _) = Text.cut(path, UInt8(ascii: "/"), last: true) else { return "." }
        return before.isEmpty ? "/" : before
    }

    public static func cwd() -> String {
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buf, buf.count) != nil else { return "/" }
        return String(cString: buf)
    }

    /// Joins a path to a base unless it is absolute.
    public static func absolute(_ path: String, relativeTo base: String) -> String {
        if path.startsWithSlash { return path }
        return base.hasSuffix("/") ? base + path : base + "/" + path
    }

    /// Collapses ".", ".." and duplicate slashes lexically (no symlinks followed).
    public static func clean(_ path: String) -> String {
        if isClean(path) { return path }
        var parts: [Substring] = []
        for c in path.split(separator: "/", omittingEmptySubsequences: true) {
            if c == "." { continue }
            if c == ".." { if !parts.isEmpty { parts.removeLast() }; continue }
            parts.append(c)
        }
        return "/" + Text.join(parts, "/")
    }

    /// Already what clean would return: absolute, no empty, "." or ".." component, no
    /// trailing slash. Most paths a config names are, and splitting and joining them
    /// again was most of validating one (every mount's destination, several times).
    static func isClean(_ path: String) -> Bool {
        let slash = UInt8(ascii: "/"), dot = UInt8(ascii: ".")
        var bytes = path.utf8.makeIterator()
        guard bytes.next() == slash else { return false }
        if path.utf8.count == 1 { return true }
        var length = 0, dots = 0
        while true {
            let b = bytes.next()
            if b == nil || b == slash {
                // The component just ended: empty, "." and ".." are not clean.
                if length == 0 || (dots == length && length <= 2) { return false }
                if b == nil { return true }
                length = 0
                dots = 0
            } else {
                length += 1
                if b == dot { dots += 1 }
            }
        }
    }
}
