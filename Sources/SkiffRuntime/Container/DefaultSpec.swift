import Glibc

/// `skiff spec`: a starting config.json that `create` accepts (runc's defaults, so tools
/// that edit runc's template edit ours the same way).
public enum DefaultSpec {
    static let template = #"""
    {"ociVersion":"1.3.0",
     "process":{"terminal":true,"user":{"uid":0,"gid":0},"args":["sh"],
       "env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","TERM=xterm"],"cwd":"/",
       "capabilities":{"bounding":["CAP_AUDIT_WRITE","CAP_KILL","CAP_NET_BIND_SERVICE"],
         "effective":["CAP_AUDIT_WRITE","CAP_KILL","CAP_NET_BIND_SERVICE"],
         "permitted":["CAP_AUDIT_WRITE","CAP_KILL","CAP_NET_BIND_SERVICE"]},
       "rlimits":[{"type":"RLIMIT_NOFILE","hard":1024,"soft":1024}],"noNewPrivileges":true},
     "root":{"path":"rootfs","readonly":true},
     "hostname":"skiff",
     "mounts":[
       {"destination":"/proc","type":"proc","source":"proc"},
       {"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["nosuid","strictatime","mode=755","size=65536k"]},
       {"destination":"/dev/pts","type":"devpts","source":"devpts","options":["nosuid","noexec","newinstance","ptmxmode=0666","mode=0620","gid=5"]},
       {"destination":"/dev/shm","type":"tmpfs","source":"shm","options":["nosuid","noexec","nodev","mode=1777","size=65536k"]},
       {"destination":"/dev/mqueue","type":"mqueue","source":"mqueue","options":["nosuid","noexec","nodev"]},
       {"destination":"/sys","type":"sysfs","source":"sysfs","options":["nosuid","noexec","nodev","ro"]},
       {"destination":"/sys/fs/cgroup","type":"cgroup","source":"cgroup","options":["nosuid","noexec","nodev","relatime","ro"]}],
     "linux":{"resources":{"devices":[{"allow":false,"access":"rwm"}]},
       "namespaces":[{"type":"pid"},{"type":"network"},{"type":"ipc"},{"type":"uts"},{"type":"mount"},{"type":"cgroup"}],
       "maskedPaths":["/proc/acpi","/proc/asound","/proc/kcore","/proc/keys","/proc/latency_stats","/proc/timer_list",
         "/proc/timer_stats","/proc/sched_debug","/sys/firmware","/proc/scsi"],
       "readonlyPaths":["/proc/bus","/proc/fs","/proc/irq","/proc/sys","/proc/sysrq-trigger"]}}
    """#

    public static func make(rootless: Bool) -> JSON {
        var spec = try! JSONParser.parse(template)
        guard rootless, case .object(var top) = spec, case .object(var linux)? = top["linux"],
              case .array(var mounts)? = top["mounts"], case .array(let nss)? = linux["namespaces"] else { return spec }
        // Rootless: a user namespace mapping the caller, no network namespace or cgroup
        // limits, and /sys bound from the host (sysfs cannot be mounted without a netns).
        let uid = getuid(), gid = getgid()
        linux["resources"] = nil
        linux["uidMappings"] = .array([.object(JSONObject([("containerID", .int(0)), ("hostID", .int(uid)), ("size", .int(1))]))])
        linux["gidMappings"] = .array([.object(JSONObject([("containerID", .int(0)), ("hostID", .int(gid)), ("size", .int(1))]))])
        linux["namespaces"] = .array(nss.filter { $0 != .object(JSONObject([("type", .string("network"))])) }
                                     + [.object(JSONObject([("type", .string("user"))]))])
        mounts = mounts.map { m in
            guard case .object(var o) = m, case .string(let d)? = o["destination"] else { return m }
            if d == "/sys" {
                return .object(JSONObject([("destination", .string("/sys")), ("type", .string("none")), ("source", .string("/sys")),
                                           ("options", .array(["rbind", "nosuid", "noexec", "nodev", "ro"].map(JSON.string)))]))
            }
            if d == "/dev/pts", case .array(let opts)? = o["options"] {
                o["options"] = .array(opts.filter { $0 != .string("gid=5") })
                return .object(o)
            }
            return m
        }
        top["mounts"] = .array(mounts)
        top["linux"] = .object(linux)
        spec = .object(top)
        return spec
    }
}
