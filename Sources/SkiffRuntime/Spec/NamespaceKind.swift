import Glibc

public enum NamespaceKind: String, CaseIterable {
    case pid, network, mount, ipc, uts, user, cgroup, time

    public var cloneFlag: Int32 {
        switch self {
        case .pid: return CLONE_NEWPID
        case .network: return CLONE_NEWNET
        case .mount: return CLONE_NEWNS
        case .ipc: return CLONE_NEWIPC
        case .uts: return CLONE_NEWUTS
        case .user: return CLONE_NEWUSER
        case .cgroup: return CLONE_NEWCGROUP
        case .time: return CLONE_NEWTIME
        }
    }

    /// The name of the namespace's file under /proc/<pid>/ns.
    public var procName: String {
        switch self {
        case .network: return "net"
        case .mount: return "mnt"
        default: return rawValue
        }
    }
}
