import Glibc

/// The cgroup driver's part of `update` beyond the cgroup files.
///
/// cgroupfs: nothing; the files are the whole story. systemd: as runc's systemd driver,
/// the unit's properties (MemoryMax=, CPUWeight=, TasksMax=, ...) are set from the merged
/// resources first, so that systemd does not put its own idea of the limits back on the
/// next daemon-reload; then the files are written as cgroupfs does.
enum CgroupDriverUpdate {
    static func apply(_ r: ContainerRecord, _ merged: JSONObject) throws {
        switch r.cgroupDriver {
        case "cgroupfs":
            return
        case "systemd":
            guard let unit = r.systemdUnit else {
                throw RuntimeError("container \(r.id) uses the systemd cgroup driver but has no unit recorded")
            }
            let plan = try CgroupResources.plan(raw: merged)
            try SystemdManager.setProperties(SystemdUnit(slice: "", name: unit, instance: r.systemdManager), SystemdProperties.from(plan))
        default:
            throw RuntimeError("container \(r.id) has an unknown cgroup driver \"\(r.cgroupDriver)\"")
        }
    }
}

extension Container {
    /// `update`: merges `update` into the container's saved linux.resources (as runc
    /// merges into its config), writes the merged resources to the cgroup, replaces the
    /// device program if the update has device rules, and saves the merge.
    ///
    /// If a write fails, the saved resources are written back (as runc's Set does) and
    /// the saved record is left as it was.
    public static func update(id: String, update: ResourceUpdate, l3CacheSchema: String? = nil,
                              memBwSchema: String? = nil, runtime: RuntimeOptions) throws {
        Trace.enter("update")
        try Validation.validateID(id)
        let store = StateStore(root: runtime.root)
        let lock = try store.lock(id)
        defer { withExtendedLifetime(lock) {} }
        let r = try store.load(id)
        try setBackKilledUpdate(r, store: store, runtime: runtime)
        if status(of: r, store: store) == .stopped { throw RuntimeError("container not running") }

        try update.validate()
        let devices = update.hasDevices
            ? try Spec.DeviceRule.parseList(JSONNode(.object(update.resources), path: update.source)["devices"])
            : nil
        try checkIntelRDT(l3CacheSchema: l3CacheSchema, memBwSchema: memBwSchema)

        let saved = r.resources ?? JSONObject()
        let merged = update.merge(into: saved)
        for w in merged.warnings { runtime.log.warn(w) }
        let plan = try CgroupResources.plan(raw: merged.resources)
        for w in plan.ignored where update.names(w.path) { runtime.log.warn("\(w)") }

        guard let cgroupPath = r.cgroupPath, let mountPoint = Cgroup.mountPoint() else {
            throw RuntimeError("container \(id) has no cgroup to update")
        }
        Trace.mark("lock, load state, plan")
        // From here until the record is saved the cgroup may hold some new values and the
        // record the old ones: the marker makes the next locked command set the record's back.
        try PendingUpdate(devices: devices != nil).write(store.updatePath(id))
        Trace.mark("pending marker")
        do {
            try write(merged.resources, plan: plan, devices: devices, of: r, cgroupPath: cgroupPath, mountPoint: mountPoint)
        } catch {
            // runc: "Set configs back" (the device program, if it was replaced, stays new
            // until the next update with devices).
            do {
                try write(saved, plan: try CgroupResources.plan(raw: saved), devices: nil, of: r,
                          cgroupPath: cgroupPath, mountPoint: mountPoint)
            } catch let e {
                runtime.log.warn("could not set the previous resources back: \(e)")
            }
            throw error
        }
        var nr = r
        nr.resources = merged.resources
        try store.save(nr)
        Trace.mark("state save")
        unlink(store.updatePath(id))
    }

    /// An update killed between its marker and its record (SIGKILL, a shim's timeout) left
    /// the cgroup, the unit and maybe the device program half-changed. The record is the
    /// truth: everything it says is written again, as a failed update's write-back does.
    /// Once the record was saved this completes the update instead, to the same effect.
    /// Called with the container's lock held, by update and start.
    static func setBackKilledUpdate(_ r: ContainerRecord, store: StateStore, runtime: RuntimeOptions) throws {
        let path = store.updatePath(r.id)
        guard let pending = PendingUpdate.read(path) else { return }
        if let cgroupPath = r.cgroupPath, Files.exists(cgroupPath), let mountPoint = Cgroup.mountPoint() {
            let saved = r.resources ?? JSONObject()
            do {
                let devices = pending.devices
                    ? try Spec.DeviceRule.parseList(JSONNode(.object(saved), path: "linux.resources")["devices"]) : nil
                try write(saved, plan: try CgroupResources.plan(raw: saved), devices: devices, of: r,
                          cgroupPath: cgroupPath, mountPoint: mountPoint)
            } catch {
                throw RuntimeError("an earlier update of container \(r.id) was killed half-way, and setting its resources back failed: \(error)")
            }
            runtime.log.debug("an earlier update of container \(r.id) was killed half-way: its resources were set back")
        }
        unlink(path)
        Trace.mark("set back a killed update")
    }

    /// Puts `resources` (planned as `plan`) on the container's cgroup the way its driver
    /// keeps them: the unit's properties, the files, and the device program when `devices`
    /// is given. The one path of an update, its write-back, and a killed update's set-back.
    static func write(_ resources: JSONObject, plan: CgroupPlan, devices: [Spec.DeviceRule]?, of r: ContainerRecord,
                      cgroupPath: String, mountPoint: String) throws {
        try CgroupDriverUpdate.apply(r, resources)
        Trace.mark("unit properties")
        try CgroupWriter.apply(plan, mountPoint: mountPoint, cgroupPath: cgroupPath)
        Trace.mark("cgroup files")
        if let devices {
            let fd = try Cgroup(path: cgroupPath).openDirectory()
            defer { close(fd) }
            try DeviceFilter.replace(rules: DeviceFilter.rules(for: devices), cgroupFD: fd)
            Trace.mark("device filter")
        }
    }

    /// --l3-cache-schema / --mem-bw-schema: skiff has no Intel RDT support, so a
    /// container never has an intelRdt configuration to update; runc's messages.
    static func checkIntelRDT(l3CacheSchema: String?, memBwSchema: String?) throws {
        let l3 = l3CacheSchema.map { !$0.isEmpty } ?? false
        let mb = memBwSchema.map { !$0.isEmpty } ?? false
        if l3 && !Files.exists("/sys/fs/resctrl/info/L3") {
            throw RuntimeError("Intel RDT/CAT: l3 cache schema is not enabled")
        }
        if mb && !Files.exists("/sys/fs/resctrl/info/MB") {
            throw RuntimeError("Intel RDT/MBA: memory bandwidth schema is not enabled")
        }
        if l3 || mb {
            throw RuntimeError("updating a non-existent Intel RDT configuration is not supported")
        }
    }
}

extension ResourceUpdate {
    /// Whether a field path of the merged plan ("linux.resources.memory.swappiness")
    /// is one the update itself sets (for warnings about ignored fields).
    func names(_ path: String) -> Bool {
        let prefix = "linux.resources."
        guard path.hasPrefix(prefix) else { return false }
        var cur: JSON = .object(resources)
        for key in path.dropFirst(prefix.count).split(separator: ".") {
            // "weightDevice[0]": the key, then the index.
            let parts = key.split(separator: "[")
            guard let name = parts.first, case .object(let o) = cur, let next = o[String(name)] else { return false }
            cur = next
            for index in parts.dropFirst() {
                guard let i = Int(index.dropLast()), case .array(let a) = cur, a.indices.contains(i) else { return false }
                cur = a[i]
            }
        }
        return true
    }
}

/// `update.pending`: an update is under way. What it may have changed beyond the files
/// and the unit, which are always written whole: the device program.
struct PendingUpdate {
    var devices: Bool

    func write(_ path: String) throws {
        try Files.writeAtomically(path, Array(JSON.object(JSONObject([("devices", .bool(devices))])).serialized().utf8))
    }

    /// nil when there is no marker; an unreadable one counts as a device change too.
    static func read(_ path: String) -> PendingUpdate? {
        guard Files.exists(path) else { return nil }
        guard let bytes = try? Files.read(path), case .object(let o)? = try? JSONParser.parse(bytes),
              case .bool(let devices)? = o["devices"] else { return PendingUpdate(devices: true) }
        return PendingUpdate(devices: devices)
    }
}
