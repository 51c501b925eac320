import Glibc

/// Carries out a CgroupPlan: enables the plan's controllers from the cgroup2 mount
/// root down to the container cgroup's parent, then writes the files in the
/// container's cgroup directory.
///
/// Every file is opened with openat on a directory fd and O_NOFOLLOW, so neither a
/// path component nor a file can be a symlink. Errors name the file and value:
/// `write memory.max "1048576": Device or resource busy`.
public enum CgroupWriter {
    /// enableControllers, then write, for the cgroup at `cgroupPath` (an absolute
    /// directory under `mountPoint`, e.g. Cgroup.path). The directory must exist.
    /// `enableAvailable`: also every other controller the ancestors have (see enable).
    public static func apply(_ plan: CgroupPlan, mountPoint: String, cgroupPath: String,
                             enableAvailable: Bool = false) throws {
        if plan.isEmpty && !enableAvailable { return }
        let fd = try enableControllers(plan.controllers, mountPoint: mountPoint, cgroupPath: cgroupPath, plan: plan,
                                       enableAvailable: enableAvailable)
        defer { close(fd) }
        if !plan.isEmpty { try write(plan, dirfd: fd) }
    }

    /// Makes `controllers` available in the cgroup at `cgroupPath`: for every
    /// ancestor from the mount root down to its parent, each controller must be
    /// listed in the ancestor's cgroup.controllers and is added to its
    /// cgroup.subtree_control unless already there. Returns an fd of the cgroup
    /// directory (the caller closes it).
    ///
    /// runc's fs2 CreateCgroupPath enables every available controller and ignores
    /// failures (the write of a limit then fails). skiff says which controller the
    /// limits need is missing; with `enableAvailable` it enables the others too, as
    /// runc, ignoring failures: a container without limits still has its memory, cpu,
    /// io and pids accounted (memory.current, `events --stats`, a kubelet's metrics).
    @discardableResult
    public static func enableControllers(_ controllers: [String], mountPoint: String, cgroupPath: String,
                                         plan: CgroupPlan? = nil, enableAvailable: Bool = false) throws -> Int32 {
        // On bytes: comparing Characters runs grapheme code nothing else on the start path does.
        let root = mountPoint.utf8.count > 1 && mountPoint.utf8.last == slash
            ? String(decoding: mountPoint.utf8.dropLast(), as: UTF8.self) : mountPoint
        let prefix = root == "/" ? "/" : root + "/"
        guard cgroupPath == root || cgroupPath.utf8.starts(with: prefix.utf8) else {
            throw RuntimeError("cgroup \(cgroupPath) is not under the cgroup2 mount \(mountPoint)")
        }
        // The components below the mount, split on bytes (Text.split): the prefix's own
        // components are skipped.
        let components = cgroupPath == root ? []
            : Array(Text.split(cgroupPath, separator: slash).dropFirst(Text.split(prefix, separator: slash).count))
        if components.contains(where: { $0 == "." || $0 == ".." }) {
            throw RuntimeError("cgroup path \(cgroupPath) must not contain . or ..")
        }

        var fd = try sys("open cgroup", root) { open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        var dir = root
        do {
            for name in components {
                if !controllers.isEmpty || enableAvailable {
                    try enable(controllers, in: fd, dir: dir, plan: plan, enableAvailable: enableAvailable)
                }
                let child = dir == "/" ? "/" + name : dir + "/" + name
                let next = try sys("open cgroup", child) {
                    openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                }
                close(fd)
                fd = next
                dir = child
            }
        } catch {
            close(fd)
            throw error
        }
        return fd
    }

    /// One ancestor: check cgroup.controllers, then add the missing ones to
    /// cgroup.subtree_control in one write ("+cpu +memory"); if that fails, one at
    /// a time, so the error names the controller the kernel refused.
    static func enable(_ controllers: [String], in fd: Int32, dir: String, plan: CgroupPlan?,
                       enableAvailable: Bool = false) throws {
        let available = words(try read(fd, "cgroup.controllers", dir: dir))
        for c in controllers where !available.contains(c) {
            var why = ""
            if let w = plan?.writes.first(where: { $0.controller == c }) {
                why = " (needed for \(w.file)" + (w.field.isEmpty ? ")" : ", \(w.field))")
            }
            let list = available.isEmpty ? "none" : available.joined(separator: " ")
            throw RuntimeError("cgroup controller \"\(c)\" is not available in \(dir)\(why); available: \(list)")
        }
        let enabled = words(try read(fd, "cgroup.subtree_control", dir: dir))
        let missing = controllers.filter { !enabled.contains($0) }
        if !missing.isEmpty {
            let path = dir == "/" ? "/cgroup.subtree_control" : dir + "/cgroup.subtree_control"
            do {
                try writeFile(fd, "cgroup.subtree_control", Text.join(missing.map { "+" + $0 }, " "))
            } catch let e as SysError {
                if missing.count == 1 {
                    throw SysError(e.errno, "enable cgroup controller \"\(missing[0])\" in", path)
                }
                for c in missing {
                    do { try writeFile(fd, "cgroup.subtree_control", "+" + c) } catch let e as SysError {
                        throw SysError(e.errno, "enable cgroup controller \"\(c)\" in", path)
                    }
                }
            }
        }
        guard enableAvailable else { return }
        // The rest as runc: all at once, else one by one, and what the kernel refuses
        // (cpu while a realtime task sits in the root, say) stays off.
        let extra = available.filter { !enabled.contains($0) && !missing.contains($0) }
        if extra.isEmpty { return }
        if (try? writeFile(fd, "cgroup.subtree_control", Text.join(extra.map { "+" + $0 }, " "))) == nil {
            for c in extra { try? writeFile(fd, "cgroup.subtree_control", "+" + c) }
        }
    }

    /// Writes the plan's files in the cgroup directory `dirfd`, in order.
    public static func write(_ plan: CgroupPlan, dirfd: Int32) throws {
        if let check = plan.memoryCheck { try checkMemoryUsage(check, dirfd: dirfd) }

        var bfq: BFQ?          // probed on the first blockIO weight
        var burst: CgroupWrite?  // cpu.max.burst to retry after cpu.max
        for w in plan.writes {
            switch w.mode {
            case .required:
                try writeOrThrow(dirfd, w.file, w.value)
            case .skipIfMissing:
                do { try writeFile(dirfd, w.file, w.value) } catch let e as SysError where e.errno == ENOENT {
                    continue
                } catch let e as SysError {
                    throw writeError(e, w.file, w.value)
                }
            case .retryAfterCPUMax:
                do { try writeFile(dirfd, w.file, w.value) } catch let e as SysError where e.errno == EINVAL {
                    burst = w
                } catch let e as SysError {
                    throw writeError(e, w.file, w.value)
                }
            case .blkioWeight(let ioWeight):
                if bfq == nil { bfq = probeBFQ(dirfd) }
                if bfq!.exists {
                    try writeOrThrow(dirfd, w.file, w.value)
                } else if let v = ioWeight {
                    try writeOrThrow(dirfd, "io.weight", v)
                } else {
                    throw RuntimeError("\(w.field.isEmpty ? "blockIO.weight" : w.field): weight \(w.value) has no io.weight equivalent (10-1000 without the BFQ scheduler's io.bfq.weight)")
                }
            case .bfqDeviceWeight:
                if bfq == nil { bfq = probeBFQ(dirfd) }
                if bfq!.perDevice { try writeOrThrow(dirfd, w.file, w.value) }
            }
            if w.file == "cpu.max", let b = burst {
                try writeOrThrow(dirfd, b.file, b.value)
                burst = nil
            }
        }
        if let b = burst {  // no cpu.max came: the first error stands
            try writeOrThrow(dirfd, b.file, b.value)
        }
    }

    // MARK: - Helpers

    struct BFQ {
        var exists: Bool
        var perDevice: Bool
    }

    /// runc's bfqDeviceWeightSupported: io.bfq.weight holding a single number is
    /// the pre-5.4 format without per-device weights ("default 100\n8:0 200" after).
    /// Read before anything is written; the format does not depend on the values.
    static func probeBFQ(_ dirfd: Int32) -> BFQ {
        let fd = openat(dirfd, "io.bfq.weight", O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        if fd < 0 { return BFQ(exists: errno != ENOENT, perDevice: false) }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 32)
        let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        let text = n > 0 ? String(decoding: buf[0..<n], as: UTF8.self) : ""
        return BFQ(exists: true, perDevice: Int64(trimmed(text)) == nil)
    }

    /// memory.checkBeforeUpdate (runc fs2 CheckMemoryUsage): best effort; an
    /// unreadable memory.current (no memory controller yet) is no objection.
    static func checkMemoryUsage(_ c: CgroupPlan.MemoryCheck, dirfd: Int32) throws {
        guard c.limit > 0 || c.swap > 0,
              let text = try? read(dirfd, "memory.current", dir: ""),
              let usage = UInt64(trimmed(text)) else { return }
        if c.swap > 0 && UInt64(c.swap) <= usage {
            throw ConfigError("\(c.path).swap", "rejecting memory+swap limit \(c.swap) <= usage \(usage)")
        }
        if c.limit > 0 && UInt64(c.limit) <= usage {
            throw ConfigError("\(c.path).limit", "rejecting memory limit \(c.limit) <= usage \(usage)")
        }
    }

    static func writeOrThrow(_ dirfd: Int32, _ file: String, _ value: String) throws {
        do { try writeFile(dirfd, file, value) } catch let e as SysError {
            throw writeError(e, file, value)
        }
    }

    static func writeError(_ e: SysError, _ file: String, _ value: String) -> SysError {
        SysError(e.errno, "write \(file) \"\(value)\"")
    }

    /// One write(2) of the whole value to an existing file of `dirfd` (cgroup files
    /// take a value per write; no O_CREAT, no O_TRUNC).
    static func writeFile(_ dirfd: Int32, _ file: String, _ value: String) throws {
        let fd = try sys("open", file) { openat(dirfd, file, O_WRONLY | O_NOFOLLOW | O_CLOEXEC) }
        defer { close(fd) }
        let bytes = Array(value.utf8)
        let n = bytes.withUnsafeBytes { b -> Int in
            while true {
                let r = Glibc.write(fd, b.baseAddress, b.count)
                if r < 0 && errno == EINTR { continue }
                return r
            }
        }
        if n < 0 { throw SysError(errno, "write", file) }
        if n != bytes.count { throw SysError(EIO, "write (short)", file) }
    }

    static func read(_ dirfd: Int32, _ file: String, dir: String) throws -> String {
        let path = dir.isEmpty ? file : (dir == "/" ? "/" + file : dir + "/" + file)
        let fd = try sys("open", path) { openat(dirfd, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) }
        defer { close(fd) }
        return String(decoding: try Files.readAll(fd, path), as: UTF8.self)
    }

    static func words(_ s: String) -> [String] {
        Text.split(s) { $0 == space || $0 == newline || $0 == tab }
    }

    private static let slash = UInt8(ascii: "/")
    private static let space = UInt8(ascii: " "), newline = UInt8(ascii: "\n"), tab = UInt8(ascii: "\t")

    static func trimmed(_ s: String) -> Substring {
        var t = Substring(s)
        while let c = t.first, c == " " || c == "\n" || c == "\t" { t = t.dropFirst() }
        while let c = t.last, c == " " || c == "\n" || c == "\t" { t = t.dropLast() }
        return t
    }
}
