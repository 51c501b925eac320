import Foundation
import XCTest

/// Bind mounts with uidMappings/gidMappings or idmap/ridmap (config.md), made with
/// mount_setattr(MOUNT_ATTR_IDMAP).
///
/// Direction (runc's and crun's, which write a mount's mappings as a user namespace's
/// uid_map): a file stored with id containerID+n is seen through the mount as host id
/// hostID+n; a file made by host id hostID+n is stored as containerID+n; other ids show
/// as 65534 and cannot make files (EOVERFLOW).
final class IDMappedMountTests: XCTestCase {
    var scratch: [String] = []
    var hostMounts: [String] = []

    override func setUpWithError() throws { try IT.requireEnvironment() }

    override func tearDown() {
        for m in hostMounts.reversed() { _ = IT.sh("umount -l '\(m)'") }
        for s in scratch.reversed() { try? FileManager.default.removeItem(atPath: s) }
        hostMounts = []
        scratch = []
        super.tearDown()
    }

    func hostDir(_ name: String) -> String {
        let d = NSTemporaryDirectory() + "skiff-idmap-\(name)-\(getpid())-\(UUID().uuidString.prefix(8))"
        try! FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        scratch.append(d)
        return d
    }

    /// A host directory, world-writable, owned by `owner`, holding f0 (0:0), f1000
    /// (1000:1000) and f5 (5:6). (The kernel refuses writes to an inode whose owner is
    /// outside the mount's mapping, whatever its mode.)
    func sourceDir(_ name: String, owner: uid_t = 0) -> String {
        let d = hostDir(name)
        chmod(d, 0o777)
        chown(d, owner, owner)
        for (file, uid, gid) in [("f0", 0, 0), ("f1000", 1000, 1000), ("f5", 5, 6)] {
            _ = FileManager.default.createFile(atPath: d + "/" + file, contents: Data("x\n".utf8))
            chown(d + "/" + file, uid_t(uid), gid_t(gid))
        }
        return d
    }

    /// A private rootfs copy with the given mount points made in it.
    func rootfs(_ mountPoints: [String]) -> String {
        let r = CT.rootfsCopy()
        scratch.append(r)
        for p in mountPoints { try! FileManager.default.createDirectory(atPath: r + p, withIntermediateDirectories: true) }
        return r
    }

    static func map(_ containerID: Int, _ hostID: Int, _ size: Int) -> [[String: Any]] {
        [["containerID": containerID, "hostID": hostID, "size": size]]
    }

    static func idmapped(_ source: String, at dest: String, _ m: [[String: Any]]?, options: [String] = ["bind"]) -> [String: Any] {
        var d: [String: Any] = ["destination": dest, "type": "bind", "source": source, "options": options]
        if let m {
            d["uidMappings"] = m
            d["gidMappings"] = m
        }
        return d
    }

    func owner(_ path: String) -> String {
        let a = (try? FileManager.default.attributesOfItem(atPath: path)) ?? [:]
        return "\((a[.ownerAccountID] as? NSNumber)?.intValue ?? -1):\((a[.groupOwnerAccountID] as? NSNumber)?.intValue ?? -1)"
    }

    static let listing = "for f in f0 f1000 f5; do echo $1$f=$(stat -c %u:%g $2/$f); done"

    /// No user namespace: the container's root is host root. {containerID 1000, hostID 0}
    /// shows the file stored as 1000 as owned by 0, and root's new files are stored as
    /// 1000. The reverse mapping {0, 1000} shows the file stored as 0 as owned by 1000.
    func testMappingWithoutUserNamespace() {
        let src = sourceDir("plain", owner: 1000)
        let root = rootfs(["/a", "/b"])
        let script = """
        show() { for f in f0 f1000 f5; do echo $1$f=$(stat -c %u:%g $2/$f); done; }
        show a /a; show b /b
        echo mountinfo=$(grep -c ' /a .*idmapped' /proc/self/mountinfo)
        touch /a/new-by-root && echo a-new=$(stat -c %u:%g /a/new-by-root)
        touch /b/new-by-root-b 2>&1 || echo b-create=refused
        """
        let r = IT.run(args: ["sh", "-c", script]) { c in
            CT.useRootfs(&c, root)
            CT.addMounts(&c, [Self.idmapped(src, at: "/a", Self.map(1000, 0, 1)),
                              Self.idmapped(src, at: "/b", Self.map(0, 1000, 1), options: ["bind", "idmap"])])
        }
        XCTAssertEqual(r.status, 0, r.stderr)
        let kv = CT.keyValues(r.stdout)
        XCTAssertEqual(kv["af1000"], "0:0", r.stdout)
        XCTAssertEqual(kv["af0"], "65534:65534", "not in the mapping: \(r.stdout)")
        XCTAssertEqual(kv["af5"], "65534:65534", r.stdout)
        XCTAssertEqual(kv["bf0"], "1000:1000", r.stdout)
        XCTAssertEqual(kv["bf1000"], "65534:65534", r.stdout)
        XCTAssertEqual(kv["mountinfo"], "1", r.stdout)
        XCTAssertEqual(kv["a-new"], "0:0", r.stdout + r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: src + "/new-by-root-b"))
        XCTAssertEqual(owner(src + "/new-by-root"), "1000:1000", "stored through the mapping")
        XCTAssertEqual(kv["b-create"], "refused", "root (0) is not a host id of /b's mapping: \(r.stdout)")
        XCTAssertTrue(r.stdout.contains("Value too large"), r.stdout)
        // The source itself is untouched.
        XCTAssertEqual(owner(src + "/f0"), "0:0")
        XCTAssertEqual(owner(src + "/f1000"), "1000:1000")
    }

    /// A single file, read-only: the per-mount flags apply on top of the idmap.
    func testFileMountReadOnly() throws {
        let dir = hostDir("file")
        let file = dir + "/conf"
        try "conf\n".write(toFile: file, atomically: true, encoding: .utf8)
        chown(file, 1000, 1000)
        let root = rootfs([])
        let r = IT.run(args: ["sh", "-c", "echo owner=$(stat -c %u:%g /etc/conf); cat /etc/conf; echo x >> /etc/conf || echo write=refused"]) { c in
            CT.useRootfs(&c, root)
            CT.addMounts(&c, [Self.idmapped(file, at: "/etc/conf", Self.map(1000, 0, 1), options: ["bind", "ro", "nosuid"])])
        }
        XCTAssertEqual(r.status, 0, r.stderr)
        let kv = CT.keyValues(r.stdout)
        XCTAssertEqual(kv["owner"], "0:0", r.stdout)
        XCTAssertTrue(r.stdout.contains("conf\n"), r.stdout)
        XCTAssertEqual(kv["write"], "refused", r.stdout)
        XCTAssertEqual(try String(contentsOfFile: file, encoding: .utf8), "conf\n")
    }

    /// In a user namespace 0 -> 100000: the mount's mapping {0, 100000, 65536} makes an
    /// unshifted host directory the container's own (ids stored n show as n inside); so
    /// does idmap without mappings, which takes the container's. Files it makes are
    /// stored unshifted.
    func testUserNamespaceContainer() {
        let src = sourceDir("userns")
        let root = rootfs(["/explicit", "/implicit", "/plain"])
        let script = """
        show() { for f in f0 f1000 f5; do echo $1$f=$(stat -c %u:%g $2/$f); done; }
        show e /explicit; show i /implicit; show p /plain
        touch /explicit/by-root && mkdir /implicit/dir && chown 5:7 /implicit/dir && echo made=yes
        touch /plain/by-root-plain 2>/dev/null || echo plain-create=refused
        """
        let r = IT.run(args: ["sh", "-c", script]) { c in
            NamespaceTests.userNSEdit(&c)
            CT.useRootfs(&c, root)
            CT.addMounts(&c, [Self.idmapped(src, at: "/explicit", Self.map(0, 100000, 65536)),
                              Self.idmapped(src, at: "/implicit", nil, options: ["rbind", "idmap"]),
                              ["destination": "/plain", "type": "bind", "source": src, "options": ["bind"]]])
        }
        XCTAssertEqual(r.status, 0, r.stderr)
        let kv = CT.keyValues(r.stdout)
        for m in ["e", "i"] {
            XCTAssertEqual(kv[m + "f0"], "0:0", r.stdout)
            XCTAssertEqual(kv[m + "f1000"], "1000:1000", r.stdout)
            XCTAssertEqual(kv[m + "f5"], "5:6", r.stdout)
        }
        // Without the idmap the host's ids are outside the container's mapping.
        XCTAssertEqual(kv["pf0"], "65534:65534", r.stdout)
        XCTAssertEqual(kv["pf1000"], "65534:65534", r.stdout)
        XCTAssertEqual(kv["made"], "yes", r.stdout)
        XCTAssertEqual(owner(src + "/by-root"), "0:0")
        XCTAssertEqual(owner(src + "/dir"), "5:7")
        // Through a plain bind the container's root makes files as host 100000.
        XCTAssertNil(kv["plain-create"], r.stdout)
        XCTAssertEqual(owner(src + "/by-root-plain"), "100000:100000")
    }

    /// rbind carries the source's submounts; ridmap id-maps them too, idmap only the top.
    func testRecursiveIdmap() {
        let src = sourceDir("rec")
        let sub = sourceDir("rec-sub")
        try! FileManager.default.createDirectory(atPath: src + "/sub", withIntermediateDirectories: true)
        let m = IT.sh("mount --bind '\(sub)' '\(src)/sub'")
        XCTAssertEqual(m.status, 0, m.stderr)
        hostMounts.append(src + "/sub")
        let root = rootfs(["/top", "/all"])
        let script = "echo top=$(stat -c %u:%g /top/f1000) topsub=$(stat -c %u:%g /top/sub/f1000); echo all=$(stat -c %u:%g /all/f1000) allsub=$(stat -c %u:%g /all/sub/f1000)"
        let r = IT.run(args: ["sh", "-c", script]) { c in
            CT.useRootfs(&c, root)
            CT.addMounts(&c, [Self.idmapped(src, at: "/top", Self.map(1000, 0, 1), options: ["rbind", "idmap"]),
                              Self.idmapped(src, at: "/all", Self.map(1000, 0, 1), options: ["rbind", "ridmap"])])
        }
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "top=0:0 topsub=1000:1000\nall=0:0 allsub=0:0\n")
    }

    /// The init holds the detached mounts only until they are attached: a created init
    /// with id-mapped mounts holds the same fds as one with plain binds.
    func testCreatedInitHoldsNoMountFDs() throws {
        let src = sourceDir("fds")
        let root = rootfs(["/a", "/b"])
        func heldFDs(_ mapping: [[String: Any]]?) throws -> [String] {
            let c = IT.lcCreate(["true"]) { c in
                CT.useRootfs(&c, root)
                CT.addMounts(&c, [Self.idmapped(src, at: "/a", mapping), Self.idmapped(src, at: "/b", mapping)])
            }
            defer { c.cleanup() }
            XCTAssertEqual(c.result.status, 0, c.result.stderr)
            let pid = try XCTUnwrap(IT.lcState(c.id)?["pid"] as? Int)
            return try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").sorted().map {
                $0 + " -> " + ((try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\($0)")) ?? "?")
                    .replacingOccurrences(of: c.id, with: "ID")
            }
        }
        let plain = try heldFDs(nil)
        let mapped = try heldFDs(Self.map(1000, 0, 1))
        XCTAssertEqual(mapped.count, plain.count, "plain: \(plain)\nid-mapped: \(mapped)")
        XCTAssertFalse(mapped.contains { $0.contains("skiff-idmap-fds") }, "\(mapped)")
    }

    /// A source whose file system cannot be id-mapped (sysfs): create fails in the parent,
    /// before the clone, saying so; no container or cgroup is left.
    func testUnsupportedFileSystemFailsCreate() {
        let c = IT.lcCreate(["true"]) { c in
            CT.addMounts(&c, [Self.idmapped("/sys/kernel", at: "/tmp/sysk", Self.map(0, 1000, 1))])
        }
        defer { c.cleanup() }
        XCTAssertEqual(c.result.status, 1, c.result.stderr)
        XCTAssertTrue(c.result.stderr.contains("id-mapped mount on /tmp/sysk: mount_setattr(MOUNT_ATTR_IDMAP) /sys/kernel: Invalid argument"),
                      c.result.stderr)
        XCTAssertNil(IT.lcState(c.id))
        XCTAssertFalse(FileManager.default.fileExists(atPath: IT.lcCgroup(c.id)))
    }

    /// Combinations config.md or the kernel rule out fail validation, naming the field.
    func testRefusedCombinations() {
        let src = sourceDir("bad")
        func refused(_ label: String, mentions: String, _ mount: [String: Any], userns: Bool = false) {
            let c = IT.lcCreate(["true"]) { c in
                if userns { NamespaceTests.userNSEdit(&c) }
                CT.addMounts(&c, [mount])
            }
            defer { c.cleanup() }
            let index = (IT.baseConfig()["mounts"] as? [Any] ?? []).count
            XCTAssertEqual(c.result.status, 1, "\(label): \(c.result.stderr)")
            XCTAssertTrue(c.result.stderr.contains("mounts[\(index)]." + mentions), "\(label): \(c.result.stderr)")
            XCTAssertNil(IT.lcState(c.id), label)
        }
        refused("tmpfs with mappings", mentions: "uidMappings: id-mapped mounts are only supported for bind mounts",
                ["destination": "/mnt", "type": "tmpfs", "source": "tmpfs", "uidMappings": Self.map(0, 1000, 1), "gidMappings": Self.map(0, 1000, 1)])
        refused("tmpfs with idmap", mentions: "options: id-mapped mounts are only supported for bind mounts",
                ["destination": "/mnt", "type": "tmpfs", "source": "tmpfs", "options": ["idmap"]], userns: true)
        refused("uid without gid", mentions: "gidMappings: must be given along with uidMappings",
                ["destination": "/mnt", "type": "bind", "source": src, "options": ["bind"], "uidMappings": Self.map(0, 1000, 1)])
        refused("gid without uid", mentions: "uidMappings: must be given along with gidMappings",
                ["destination": "/mnt", "type": "bind", "source": src, "options": ["bind"], "gidMappings": Self.map(0, 1000, 1)])
        refused("idmap without mappings or user namespace", mentions: "options: idmap without uidMappings and gidMappings needs a user namespace",
                ["destination": "/mnt", "type": "bind", "source": src, "options": ["bind", "idmap"]])
        refused("size 0", mentions: "uidMappings[0]: size must be at least 1",
                Self.idmapped(src, at: "/mnt", Self.map(0, 1000, 0)))
    }
}
