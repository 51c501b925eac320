import Glibc

/// The container's cgroup2 mount when it stays in the host's cgroup namespace. A new
/// cgroup2 mount made there applies its options to the whole hierarchy (the kernel's
/// apply_cgroup_root_flags: nsdelegate, memory_recursiveprot... are reset for the host)
/// and, on recent kernels, waits for an RCU grace period in cgroup_favor_dynmods: 6 to
/// 10 ms of every container start on the 2-core test machine (crun and runc pay it).
/// A bind of the host's own cgroup2 mount shows exactly the same tree (the same
/// superblock, from the same root) with neither cost, so that is what the container
/// gets, made read-only (or whatever the config asks) by the usual bind remount.
enum CgroupMount {
    /// The bind that replaces `m`, when the plan has a host mount to bind (see
    /// Cgroup.bindableHostMount).
    static func hostBind(for m: LaunchPlan.PlannedMount, plan: LaunchPlan) -> LaunchPlan.PlannedMount? {
        guard let host = plan.hostCgroupMount else { return nil }
        var bind = m
        bind.type = "bind"
        bind.source = host
        bind.isBind = true
        bind.sourceIsDirectory = true
        // A new mount is never recursive; neither is its stand-in.
        bind.options.flags &= ~UInt(MS_REC)
        return bind
    }
}
