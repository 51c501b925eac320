import Glibc
@testable import SkiffCLI
@testable import SkiffRuntime

// One fuzz target per input skiff reads from outside: each takes the raw bytes, drives the
// same code a real caller reaches, and checks what must hold whatever the input. A thrown
// error is an answer (bad input gets an error); a crash, a hang or a failed check is a bug.

struct FuzzTarget {
    let name: String
    let summary: String
    let run: ([UInt8]) -> Void
}

let fuzzTargets: [FuzzTarget] = [
    FuzzTarget(name: "json", summary: "the JSON parser; what it accepts serializes and parses back the same", run: fuzzJSON),
    FuzzTarget(name: "spec", summary: "config.json: Spec.parse, validation, the launch plan", run: fuzzSpec),
    FuzzTarget(name: "seccomp", summary: "linux.seccomp read and compiled by libseccomp (not loaded)", run: fuzzSeccomp),
    FuzzTarget(name: "mount-options", summary: "mount options (comma- or NUL-separated)", run: fuzzMountOptions),
    FuzzTarget(name: "cgroup-plan", summary: "linux.resources planned as files, systemd properties and the device program", run: fuzzCgroupPlan),
    FuzzTarget(name: "update", summary: "update --resources merged into saved resources, then planned", run: fuzzUpdate),
    FuzzTarget(name: "state", summary: "state.json and the create journal", run: fuzzState),
    FuzzTarget(name: "dbus", summary: "D-Bus messages as systemd's replies reach the reader", run: fuzzDBus),
    FuzzTarget(name: "cli", summary: "the command line (NUL-separated arguments), parsed as main does", run: fuzzCLI),
]

/// A failed invariant: stop with a message the fuzzer records with the input.
func check(_ ok: Bool, _ what: @autoclosure () -> String) {
    if !ok { fatalError("fuzz invariant: \(what())") }
}

/// A bundle whose rootfs exists, so that validation reaches past root.path.
let fuzzBundle: String = {
    let dir = "/tmp/skiff-fuzz-bundle"
    _ = dir.withCString { mkdir($0, 0o755) }
    _ = (dir + "/rootfs").withCString { mkdir($0, 0o755) }
    return dir
}()

func fuzzJSON(_ data: [UInt8]) {
    guard let v = try? JSONParser.parse(data) else { return }
    let text = v.serialized()
    guard let again = try? JSONParser.parse(text) else { return check(false, "serialized JSON does not parse: \(text)") }
    check(again == v, "JSON round trip changed the value: \(text)")
    check(again.serialized() == text, "JSON serialization is not stable: \(text)")
}

func fuzzSpec(_ data: [UInt8]) {
    guard let spec = try? Spec.parse(data) else { return }
    do {
        try Validation.validate(spec, bundle: fuzzBundle)
        _ = try LaunchPlan.make(id: "fuzz", bundle: fuzzBundle, spec: spec)
        if let r = spec.linux.resources { _ = try CgroupResources.plan(raw: r.raw) }
    } catch {}
}

func fuzzSeccomp(_ data: [UInt8]) {
    guard let json = try? JSONParser.parse(data),
          let s = try? Spec.Seccomp(JSONNode(json, path: "linux.seccomp")) else { return }
    _ = try? SeccompFilter.compile(s)
}

func fuzzMountOptions(_ data: [UInt8]) {
    let options = data.split(whereSeparator: { $0 == 0 || $0 == UInt8(ascii: ",") })
        .map { String(decoding: $0, as: UTF8.self) }
    _ = MountOptions.parse(options)
    // The same options on a bind and on a tmpfs, through validation and the launch plan.
    let mounts: [JSON] = [("bind", "/"), ("tmpfs", "tmpfs")].map { type, source in
        .object(JSONObject([("destination", .string("/mnt")), ("type", .string(type)), ("source", .string(source)),
                            ("options", .array(options.map(JSON.string)))]))
    }
    let config = JSON.object(JSONObject([
        ("ociVersion", .string("1.0.2")),
        ("process", .object(JSONObject([("args", .array([.string("/bin/true")])), ("cwd", .string("/"))]))),
        ("root", .object(JSONObject([("path", .string("rootfs"))]))),
        ("mounts", .array(mounts)),
        ("linux", .object(JSONObject([("namespaces", .array([.object(JSONObject([("type", .string("mount"))])),
                                                            .object(JSONObject([("type", .string("user"))]))])),
                                      ("uidMappings", .array([.object(JSONObject([("containerID", .int(0)), ("hostID", .int(100000)), ("size", .int(65536))]))])),
                                      ("gidMappings", .array([.object(JSONObject([("containerID", .int(0)), ("hostID", .int(100000)), ("size", .int(65536))]))]))]))),
    ]))
    fuzzSpec(Array(config.serialized().utf8))
}

func fuzzCgroupPlan(_ data: [UInt8]) {
    guard case .object(let raw)? = try? JSONParser.parse(data),
          let plan = try? CgroupResources.plan(raw: raw) else { return }
    _ = SystemdProperties.from(plan)
    if let rules = try? Spec.DeviceRule.parseList(JSONNode(.object(raw), path: "linux.resources")["devices"]) {
        let program = DeviceFilter.program(for: DeviceFilter.rules(for: rules))
        check(!program.isEmpty, "empty device program")
    }
}

func fuzzUpdate(_ data: [UInt8]) {
    // The first line is the saved resources, the rest the update (either may be invalid).
    let parts = data.split(separator: UInt8(ascii: "\n"), maxSplits: 1, omittingEmptySubsequences: false)
    guard parts.count == 2, case .object(let saved)? = try? JSONParser.parse(Array(parts[0])),
          let update = try? ResourceUpdate.fromDocument(Array(parts[1])) else { return }
    let merged = update.merge(into: saved)
    _ = try? CgroupResources.plan(raw: merged.resources)
}

func fuzzState(_ data: [UInt8]) {
    if let record = try? ContainerRecord(stateJSON: data) {
        check((try? JSONParser.parse(data)) != nil, "a state record read from what is not JSON")
        let again = try? ContainerRecord(stateJSON: Array(record.json.serialized().utf8))
        check(again?.json == record.json, "state record round trip changed it")
    }
    for entry in StateJournal.parse(data) {
        check(StateJournal.Entry(entry.json) == entry, "journal entry round trip changed it: \(entry)")
    }
}

func fuzzDBus(_ data: [UInt8]) {
    // As DBusConnection.receive: messages one after another in the stream.
    var pending = data[...]
    while let len = DBusMessage.length(of: pending), len > 0, pending.count >= len {
        guard let m = try? DBusMessage.decode(Array(pending.prefix(len))) else { return }
        pending = pending.dropFirst(len)
        var r = m.bodyReader
        var sig = Substring(m.signature)
        while !sig.isEmpty { guard (try? r.skip(&sig)) != nil else { break } }
        var s = m.bodyReader
        _ = try? s.string()
    }
}

func fuzzCLI(_ data: [UInt8]) {
    let argv = ["skiff"] + data.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
    guard let g = try? Globals.parse(argv.dropFirst()), let command = try? g.command(),
          let p = try? command.parse(g.rest.dropFirst()) else { return }
    _ = command.help
    // What each handler reads off its flags before it touches anything.
    switch command.name {
    case "create", "run": _ = try? createOptions(p)
    case "exec": _ = try? execOptions(p)
    case "kill": _ = try? Signals.parse(p.positional.count == 2 ? p.positional[1] : "SIGTERM")
    case "update": _ = try? ResourceUpdate.fromFlags(p.values.filter { ResourceUpdate.flagNames.contains($0.key) })
    case "events": _ = try? GoDuration.parse(p.string("interval") ?? "5s")
    default: break
    }
    for id in p.positional.prefix(1) { _ = try? Validation.validateID(id) }
}
