import Glibc

/// config.md's mount options split into what mount(2) and mount_setattr(2) take.
public struct MountOptions: Equatable {
    public var flags: UInt = 0          // MS_* to set
    public var clearFlags: UInt = 0     // MS_* explicitly cleared (rw, suid, ...)
    public var propagation: [UInt] = [] // MS_SHARED/MS_PRIVATE/... (| MS_REC), applied in order
    public var recursiveSet: UInt64 = 0 // MOUNT_ATTR_* for the r* options (rro, rnosuid, ...)
    public var recursiveClear: UInt64 = 0
    public var data: [String] = []      // everything mount(2) passes through to the filesystem
    /// "idmap" or "ridmap" (config.md): the mount is id-mapped, ridmap also for its submounts.
    public var idmap = false
    public var idmapRecursive = false

    public var isBind: Bool { flags & UInt(MS_BIND) != 0 }
    public var isRecursiveBind: Bool { isBind && flags & UInt(MS_REC) != 0 }
    public var readonly: Bool { flags & UInt(MS_RDONLY) != 0 }
    public var dataString: String { Text.join(data, ",") }

    public init() {}

    // MOUNT_ATTR_* values from linux/mount.h.
    static let attrRDONLY: UInt64 = 0x1, attrNOSUID: UInt64 = 0x2, attrNODEV: UInt64 = 0x4
    static let attrNOEXEC: UInt64 = 0x8, attrATIME: UInt64 = 0x70, attrRELATIME: UInt64 = 0
    static let attrNOATIME: UInt64 = 0x10, attrSTRICTATIME: UInt64 = 0x20, attrNODIRATIME: UInt64 = 0x80
    static let attrNOSYMFOLLOW: UInt64 = 0x200000

    static let setFlags: NameTable<UInt> = [
        "ro": UInt(MS_RDONLY), "nosuid": UInt(MS_NOSUID), "nodev": UInt(MS_NODEV),
        "noexec": UInt(MS_NOEXEC), "sync": UInt(MS_SYNCHRONOUS), "remount": UInt(MS_REMOUNT),
        "mand": UInt(MS_MANDLOCK), "dirsync": UInt(MS_DIRSYNC), "noatime": UInt(MS_NOATIME),
        "nodiratime": UInt(MS_NODIRATIME), "bind": UInt(MS_BIND), "rbind": UInt(MS_BIND | MS_REC),
        "relatime": UInt(MS_RELATIME), "strictatime": UInt(MS_STRICTATIME),
        "silent": UInt(MS_SILENT), "lazytime": UInt(1 << 25), "iversion": UInt(MS_I_VERSION),
        "nosymfollow": UInt(256),
    ]
    static let clearingFlags: NameTable<UInt> = [
        "rw": UInt(MS_RDONLY), "suid": UInt(MS_NOSUID), "dev": UInt(MS_NODEV),
        "exec": UInt(MS_NOEXEC), "async": UInt(MS_SYNCHRONOUS), "nomand": UInt(MS_MANDLOCK),
        "atime": UInt(MS_NOATIME), "diratime": UInt(MS_NODIRATIME), "norelatime": UInt(MS_RELATIME),
        "nostrictatime": UInt(MS_STRICTATIME), "nolazytime": UInt(1 << 25),
        "noiversion": UInt(MS_I_VERSION), "symfollow": UInt(256),
    ]
    static let propagationFlags: NameTable<UInt> = [
        "private": UInt(MS_PRIVATE), "rprivate": UInt(MS_PRIVATE | MS_REC),
        "shared": UInt(MS_SHARED), "rshared": UInt(MS_SHARED | MS_REC),
        "slave": UInt(MS_SLAVE), "rslave": UInt(MS_SLAVE | MS_REC),
        "unbindable": UInt(MS_UNBINDABLE), "runbindable": UInt(MS_UNBINDABLE | MS_REC),
    ]
    static let recursiveAttrs: NameTable<(set: Bool, attr: UInt64)> = [
        "rro": (true, attrRDONLY), "rrw": (false, attrRDONLY),
        "rnosuid": (true, attrNOSUID), "rsuid": (false, attrNOSUID),
        "rnodev": (true, attrNODEV), "rdev": (false, attrNODEV),
        "rnoexec": (true, attrNOEXEC), "rexec": (false, attrNOEXEC),
        "rnodiratime": (true, attrNODIRATIME), "rdiratime": (false, attrNODIRATIME),
        "rrelatime": (true, attrRELATIME), "rnorelatime": (false, attrRELATIME),
        "rnoatime": (true, attrNOATIME), "ratime": (false, attrNOATIME),
        "rstrictatime": (true, attrSTRICTATIME), "rnostrictatime": (false, attrSTRICTATIME),
        "rnosymfollow": (true, attrNOSYMFOLLOW), "rsymfollow": (false, attrNOSYMFOLLOW),
    ]

    /// Whether a name is one of the options config.md defines (the rest is filesystem data).
    public static func isKnown(_ option: String) -> Bool {
        setFlags[option] != nil || clearingFlags[option] != nil || propagationFlags[option] != nil
            || recursiveAttrs[option] != nil || option == "tmpcopyup" || option == "idmap" || option == "ridmap"
    }

    public static func parse(_ options: [String]) -> MountOptions {
        var m = MountOptions()
        for o in options {
            if let f = setFlags[o] {
                m.flags |= f
                m.clearFlags &= ~f
            } else if let f = clearingFlags[o] {
                m.flags &= ~f
                m.clearFlags |= f
            } else if let p = propagationFlags[o] {
                m.propagation.append(p)
            } else if let r = recursiveAttrs[o] {
                if r.attr == attrRELATIME || r.attr == attrNOATIME || r.attr == attrSTRICTATIME {
                    // Access-time modes are one field: setting one means clearing the field first.
                    m.recursiveClear |= attrATIME
                    if r.set { m.recursiveSet |= r.attr }
                } else if r.set {
                    m.recursiveSet |= r.attr
                    m.recursiveClear &= ~r.attr
                } else {
                    m.recursiveClear |= r.attr
                    m.recursiveSet &= ~r.attr
                }
            } else if o == "idmap" || o == "ridmap" {
                m.idmap = true
                m.idmapRecursive = o == "ridmap"
            } else if o == "tmpcopyup" {
                continue  // not applicable here
            } else {
                m.data.append(o)
            }
        }
        return m
    }
}
