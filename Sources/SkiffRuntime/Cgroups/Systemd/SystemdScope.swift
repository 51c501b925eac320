/// The systemd cgroup driver's unit handling: a transient scope per container, made
/// with StartTransientUnit, Delegate=yes so that skiff may write the cgroup itself.
public struct SystemdUnit: Equatable {
    public var slice: String
    public var name: String
    /// The manager that holds it: every later call about the unit goes to the same one.
    public var instance: SystemdInstance = .system

    /// runc's form `slice:prefix:name`; an empty cgroupsPath is `<default>:skiff:<id>`, the
    /// default slice being system.slice, or user.slice in a user's own manager.
    public init(cgroupsPath: String?, id: String, instance: SystemdInstance = .system) throws {
        let defaultSlice = instance.defaultSlice
        guard let p = cgroupsPath, !p.isEmpty else {
            self.init(slice: defaultSlice, name: "skiff-\(id).scope", instance: instance)
            return
        }
        let parts = p.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3 else {
            throw ConfigError("linux.cgroupsPath", "\"\(p)\" is not slice:prefix:name, as the systemd driver expects")
        }
        let slice = parts[0].isEmpty ? defaultSlice : parts[0]
        guard slice.hasSuffix(".slice"), !slice.contains("/") else {
            throw ConfigError("linux.cgroupsPath", "\"\(parts[0])\" is not a slice name")
        }
        guard !parts[2].isEmpty, !parts[2].contains("/") else {
            throw ConfigError("linux.cgroupsPath", "\"\(p)\" has no unit name")
        }
        let name = parts[2].hasSuffix(".slice") ? parts[2] : (parts[1].isEmpty ? "" : parts[1] + "-") + parts[2] + ".scope"
        self.init(slice: slice, name: name, instance: instance)
    }

    public init(slice: String, name: String, instance: SystemdInstance = .system) {
        self.slice = slice
        self.name = name
        self.instance = instance
    }

    /// Where systemd puts the unit's cgroup, relative to its manager's own cgroup (the
    /// cgroup2 root for the system's): a slice named a-b-c.slice lives in
    /// /a.slice/a-b.slice/a-b-c.slice.
    public var cgroupPath: String {
        "/" + (Self.expand(slice) + [name]).joined(separator: "/")
    }

    static func expand(_ slice: String) -> [String] {
        if slice == "-.slice" { return [] }
        let base = slice.dropLast(".slice".count)
        var out: [String] = []
        var prefix = ""
        for part in base.split(separator: "-") {
            prefix += (prefix.isEmpty ? "" : "-") + part
            out.append(prefix + ".slice")
        }
        return out
    }
}

enum SystemdManager {
    static let service = "org.freedesktop.systemd1"
    static let path = "/org/freedesktop/systemd1"
    static let manager = "org.freedesktop.systemd1.Manager"

    /// Starts the scope holding `pid` and waits until systemd has moved it there. Returns the
    /// unit's cgroup relative to the cgroup2 root.
    static func startScope(_ unit: SystemdUnit, pid: Int32, description: String,
                           properties extra: [(String, DBusValue)]) throws -> String {
        let bus = try DBusConnection(unit.instance)
        // Asked before the unit exists: a failure after it started would leave it behind.
        let base = unit.instance == .system ? "" : try controlGroup(bus)
        try subscribe(bus)
        var props: [(String, DBusValue)] = [
            ("Description", .string(description)),
            ("PIDs", .uint32s([UInt32(pid)])),
            ("Delegate", .bool(true)),
            ("DefaultDependencies", .bool(false)),
            ("MemoryAccounting", .bool(true)),
            ("CPUAccounting", .bool(true)),
            ("IOAccounting", .bool(true)),
            ("TasksAccounting", .bool(true)),
        ]
        if unit.name.hasSuffix(".scope") { props.insert(("Slice", .string(unit.slice)), at: 1) }
        props += extra
        let reply: DBusMessage
        do {
            reply = try bus.call(service, path, manager, "StartTransientUnit",
                                 [.string(unit.name), .string("replace"), .properties(props), .auxUnits([])])
        } catch let e as DBusConnection.CallError {
            throw RuntimeError("systemd could not start \(unit.name): \(e)")
        }
        var r = reply.bodyReader
        let job = try r.string()
        try waitForJob(bus, job, what: "start \(unit.name)")
        return base + unit.cgroupPath
    }

    /// The manager's own cgroup, under which its units live: a user's is
    /// /user.slice/user-UID.slice/user@UID.service (runc reads the same property).
    private static func controlGroup(_ bus: DBusConnection) throws -> String {
        let reply = try bus.call(service, path, "org.freedesktop.DBus.Properties", "Get",
                                 [.string(manager), .string("ControlGroup")])
        var r = reply.bodyReader
        guard try r.signature() == "s" else { throw RuntimeError("systemd's ControlGroup is not a string") }
        let cg = try r.string()
        return cg == "/" ? "" : cg
    }

    static let noSuchUnit = "org.freedesktop.systemd1.NoSuchUnit"

    /// Stops the unit (and so kills what is left in it); a unit that is gone is fine. Then
    /// resets it: a scope whose start failed (its process died before systemd moved it,
    /// as when create is killed) stays loaded as "failed" after the stop, and systemd
    /// never collects a failed unit by itself (runc's driver resets it too).
    static func stop(_ unit: SystemdUnit) throws {
        let bus = try DBusConnection(unit.instance)
        try subscribe(bus)
        do {
            let reply = try bus.call(service, path, manager, "StopUnit", [.string(unit.name), .string("replace")])
            var r = reply.bodyReader
            try waitForJob(bus, try r.string(), what: "stop \(unit.name)")
        } catch let e as DBusConnection.CallError where e.name == noSuchUnit {
            return
        }
        do {
            try bus.call(service, path, manager, "ResetFailedUnit", [.string(unit.name)])
        } catch let e as DBusConnection.CallError where e.name == noSuchUnit {
            // Stopped and collected already: the usual case for a scope that ran.
        } catch let e as DBusConnection.CallError {
            throw RuntimeError("systemd could not reset \(unit.name): \(e)")
        }
    }

    /// Changes unit properties at run time (`update`).
    static func setProperties(_ unit: SystemdUnit, _ props: [(String, DBusValue)]) throws {
        if props.isEmpty { return }
        let bus = try DBusConnection(unit.instance)
        do {
            try bus.call(service, path, manager, "SetUnitProperties", [.string(unit.name), .bool(true), .properties(props)])
        } catch let e as DBusConnection.CallError {
            throw RuntimeError("systemd could not update \(unit.name): \(e)")
        }
    }

    private static func subscribe(_ bus: DBusConnection) throws {
        if bus.viaBus {
            try bus.call(nil, "/org/freedesktop/DBus", "org.freedesktop.DBus", "AddMatch",
                         [.string("type='signal',sender='\(service)',interface='\(manager)',member='JobRemoved'")],
                         destination: "org.freedesktop.DBus")
        }
        do {
            try bus.call(service, path, manager, "Subscribe")
        } catch let e as DBusConnection.CallError where e.name.hasSuffix("AlreadySubscribed") {}
    }

    /// JobRemoved(u id, o job, s unit, s result) for our job; "done" is success.
    private static func waitForJob(_ bus: DBusConnection, _ job: String, what: String) throws {
        var result = ""
        _ = try bus.waitForSignal(timeoutMS: 30_000) { m in
            guard m.member == "JobRemoved", m.signature == "uoss" else { return false }
            var r = m.bodyReader
            guard (try? r.u32()) != nil, let j = try? r.string(), j == job,
                  (try? r.string()) != nil, let res = try? r.string() else { return false }
            result = res
            return true
        }
        if result != "done" { throw RuntimeError("systemd could not \(what): job \(result)") }
    }
}
