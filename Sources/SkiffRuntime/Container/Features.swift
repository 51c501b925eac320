/// `skiff features` (features.md): what this build really does.
public enum Features {
    public static func json() -> JSON {
        let strings = { (a: [String]) in JSON.array(a.map(JSON.string)) }
        var linux = JSONObject()
        linux["namespaces"] = strings(NamespaceKind.allCases.map(\.rawValue))
        linux["capabilities"] = strings(Capabilities.names)
        // What this build does wherever it runs (features.md): the systemd driver (a transient
        // scope over D-Bus) and rdma.max are built in; rootless (the user's systemd) is not.
        linux["cgroup"] = .object(JSONObject([("v1", .bool(false)), ("v2", .bool(true)), ("systemd", .bool(true)),
                                              ("systemdUser", .bool(false)), ("rdma", .bool(true))]))
        linux["seccomp"] = .object(JSONObject([
            ("enabled", .bool(true)),
            ("actions", strings(Spec.SeccompAction.Kind.allCases.map(\.rawValue))),
            ("operators", strings(Spec.SeccompArg.Op.allCases.map(\.rawValue))),
            ("archs", strings(Spec.seccompArchitectures.map(\.0))),
            ("knownFlags", strings(Spec.seccompFlags.map(\.0))),
            // skiff calls seccomp(2) itself, so every flag the kernel has is usable.
            ("supportedFlags", strings(Spec.seccompFlags.map(\.0))),
        ]))
        linux["apparmor"] = .object(JSONObject([("enabled", .bool(true))]))
        linux["selinux"] = .object(JSONObject([("enabled", .bool(true))]))
        linux["intelRdt"] = .object(JSONObject([("enabled", .bool(false))]))
        linux["mountExtensions"] = .object(JSONObject([("idmap", .object(JSONObject([("enabled", .bool(true))])))]))
        var o = JSONObject()
        o["ociVersionMin"] = .string("1.0.0")
        o["ociVersionMax"] = .string(ociVersion)
        o["hooks"] = strings(["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"])
        let options = MountOptions.setFlags.keys + MountOptions.clearingFlags.keys
            + MountOptions.propagationFlags.keys + MountOptions.recursiveAttrs.keys
        o["mountOptions"] = strings(options.sorted())
        o["linux"] = .object(linux)
        o["annotations"] = .object(JSONObject([("org.opencontainers.skiff.version", .string(skiffVersion))]))
        return .object(o)
    }
}
