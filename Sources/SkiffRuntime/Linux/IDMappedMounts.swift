import Glibc
import CSkiffInit

/// Id-mapped bind mounts (mount_setattr MOUNT_ATTR_IDMAP), made by the parent.
///
/// Setting an idmap needs CAP_SYS_ADMIN in the user namespace that owns the source's
/// superblock (the host's), which a container in its own user namespace lacks. So the
/// parent, before the clone, makes each one as a detached clone of the source
/// (open_tree OPEN_TREE_CLONE) with the idmap set; the init inherits the fds and
/// attaches them with move_mount where the config puts them.
///
/// Mapping semantics (those of runc and crun, which write a mount's mappings to a user
/// namespace's uid_map/gid_map verbatim): through the mount, a file whose id on disk is
/// containerID+n is seen as host id hostID+n, and a file created by host id hostID+n is
/// stored as containerID+n. Ids outside the mapping show as the overflow id (65534) and
/// cannot create files. "Host id" is the id in the initial user namespace: a container
/// with its own user namespace then sees it through that namespace's mapping. E.g. a
/// container mapping 0 -> 100000 that should own an unshifted directory uses the same
/// mapping for the mount (what idmap without mappings does).
enum IDMappedMounts {
    static let AT_RECURSIVE = AT_RECURSIVE_, AT_EMPTY_PATH = AT_EMPTY_PATH_

    /// One fd per planned mount, -1 for those that are not id-mapped; empty (and no work)
    /// when none is. On failure nothing stays open.
    static func prepare(_ plan: LaunchPlan) throws -> [Int32] {
        guard plan.mounts.contains(where: { $0.idmap != nil }) else { return [] }
        var fds = [Int32](repeating: -1, count: plan.mounts.count)
        // One user namespace per distinct mapping, as runc caches them.
        var namespaces: [(LaunchPlan.IDMap, Int32)] = []
        defer { for (_, fd) in namespaces { close(fd) } }
        do {
            for (i, m) in plan.mounts.enumerated() {
                guard var key = m.idmap else { continue }
                key.recursive = false
                let userns: Int32
                if let known = namespaces.first(where: { $0.0 == key }) {
                    userns = known.1
                } else {
                    userns = try userNamespace(key)
                    namespaces.append((key, userns))
                }
                fds[i] = try detachedClone(m, userns: userns)
            }
        } catch {
            for fd in fds where fd >= 0 { close(fd) }
            throw error
        }
        return fds
    }

    /// A clone of the bind source, not attached anywhere, with the idmap set.
    static func detachedClone(_ m: LaunchPlan.PlannedMount, userns: Int32) throws -> Int32 {
        let recursiveBind = m.options.isRecursiveBind
        let tree = skiff_open_tree(AT_FDCWD, m.source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursiveBind ? AT_RECURSIVE : 0))
        if tree < 0 { throw SysError(errno, "open_tree(OPEN_TREE_CLONE)", m.source) }
        do {
            // The clone would stay a peer of a shared source: make it a slave, as a bind
            // made inside the container's rslave mount namespace is, so that mounts made
            // under it in the container never reach the host.
            if skiff_mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, 0, 0, UInt64(MS_SLAVE)) != 0 {
                throw SysError(errno, "mount_setattr(MS_SLAVE)", m.source)
            }
            let recursive = m.idmap?.recursive == true && recursiveBind
            if skiff_mount_setattr_idmap(tree, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), userns) != 0 {
                let e = SysError(errno, "mount_setattr(MOUNT_ATTR_IDMAP)", m.source)
                let hint = e.errno == EINVAL ? " (the source's file system may not support id-mapped mounts)" : ""
                throw RuntimeError("id-mapped mount on \(m.destination): \(e)\(hint)")
            }
        } catch {
            close(tree)
            throw error
        }
        return tree
    }

    /// Attaches a detached mount on `target` (an O_PATH fd inside the rootfs).
    static func attach(_ tree: Int32, on target: Int32, shownAs: String) throws {
        if skiff_move_mount(tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0 {
            throw SysError(errno, "move_mount of the id-mapped mount on", shownAs)
        }
    }

    /// A fd of a user namespace with the mapping: a joined one is opened as it is; for
    /// mappings, a helper child unshares one, we write its maps (as for a container),
    /// keep a fd of it, and the helper is killed: the fd keeps the namespace alive.
    static func userNamespace(_ map: LaunchPlan.IDMap) throws -> Int32 {
        if let path = map.userNSPath {
            return try sys("open user namespace", path) { open(path, O_RDONLY | O_CLOEXEC) }
        }
        let pid = skiff_clone(UInt64(UInt32(bitPattern: CLONE_NEWUSER)), -1, nil)
        if pid < 0 { throw SysError(errno, "clone a user namespace for an id-mapped mount") }
        if pid == 0 {
            // Nothing to do but exist until killed, or until the runtime dies.
            _ = skiff_prctl(PR_SET_PDEATHSIG, UInt(SIGKILL), 0, 0, 0)
            while true { pause() }
        }
        defer {
            Glibc.kill(pid, SIGKILL)
            var st: Int32 = 0
            while waitpid(pid, &st, 0) < 0 && errno == EINTR {}
        }
        // Nothing runs in it: deny setgroups as runc does for these namespaces.
        try Files.writeExisting("/proc/\(pid)/setgroups", "deny")
        try Namespaces.writeIDMaps(pid: pid, uid: map.uidMappings, gid: map.gidMappings)
        return try sys("open user namespace", "/proc/\(pid)/ns/user") { open("/proc/\(pid)/ns/user", O_RDONLY | O_CLOEXEC) }
    }
}
