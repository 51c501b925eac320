import Glibc

/// The state of a container as runtime.md defines it, derived from the record.
public struct OCIState {
    public var record: ContainerRecord
    public var status: ContainerStatus

    public var json: JSON {
        var o = JSONObject()
        o["ociVersion"] = .string(ociVersion)
        o["id"] = .string(record.id)
        o["pid"] = .int(status == .stopped ? 0 : record.pid)
        o["status"] = .string(status.rawValue)
        o["bundle"] = .string(record.bundle)
        o["rootfs"] = .string(record.rootfs)
        o["created"] = .string(record.created)
        if !record.annotations.isEmpty {
            o["annotations"] = .object(JSONObject(record.annotations.map { ($0.0, JSON.string($0.1)) }))
        }
        o["owner"] = .string(record.owner)
        return .object(o)
    }

    /// The state handed to hooks.
    static func forHooks(id: String, pid: Int32, status: ContainerStatus, bundle: String,
                         annotations: [(String, String)]) -> JSON {
        var o = JSONObject()
        o["ociVersion"] = .string(ociVersion)
        o["id"] = .string(id)
        o["status"] = .string(status.rawValue)
        if pid > 0 { o["pid"] = .int(pid) }
        o["bundle"] = .string(bundle)
        if !annotations.isEmpty {
            o["annotations"] = .object(JSONObject(annotations.map { ($0.0, JSON.string($0.1)) }))
        }
        return .object(o)
    }
}

extension Container {
    /// Status from what the kernel says, not from a stored word.
    public static func status(of r: ContainerRecord, store: StateStore, rootFD: Int32 = AT_FDCWD) -> ContainerStatus {
        guard r.initIsAlive else { return .stopped }
        if store.hasFifo(r.id, rootFD: rootFD) { return .created }
        if let cg = r.cgroupPath, Cgroup(path: cg).isFrozen { return .paused }
        return .running
    }
}
