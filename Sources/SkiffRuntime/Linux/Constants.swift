// Linux constants that Swift's Glibc module leaves out (they sit behind _GNU_SOURCE).
let CLONE_NEWNS: Int32 = 0x00020000
let CLONE_NEWCGROUP: Int32 = 0x02000000
let CLONE_NEWUTS: Int32 = 0x04000000
let CLONE_NEWIPC: Int32 = 0x08000000
let CLONE_NEWUSER: Int32 = 0x10000000
let CLONE_NEWPID: Int32 = 0x20000000
let CLONE_NEWNET: Int32 = 0x40000000
let CLONE_NEWTIME: Int32 = 0x00000080
let CLONE_FILES: Int32 = 0x00000400

let PR_SET_PDEATHSIG: Int32 = 1
let PR_SET_DUMPABLE: Int32 = 4
let PR_SET_KEEPCAPS: Int32 = 8
let PR_CAPBSET_READ: Int32 = 23
let PR_CAPBSET_DROP: Int32 = 24
let PR_SET_CHILD_SUBREAPER: Int32 = 36
let PR_SET_NO_NEW_PRIVS: Int32 = 38
let PR_CAP_AMBIENT: Int32 = 47
let PR_CAP_AMBIENT_RAISE: Int32 = 2
let PR_CAP_AMBIENT_CLEAR_ALL: Int32 = 4

let ST_NOSUID: UInt = 2
let ST_NODEV: UInt = 4
let ST_NOEXEC: UInt = 8

// The fd-based mount API and openat2 (linux/mount.h, fcntl.h), shared by every user.
let O_PATH_: Int32 = 0o10000000
let AT_EMPTY_PATH_: UInt32 = 0x1000
let AT_RECURSIVE_: UInt32 = 0x8000
let OPEN_TREE_CLONE: UInt32 = 1
let OPEN_TREE_CLOEXEC: UInt32 = 0o2000000
let MOVE_MOUNT_F_EMPTY_PATH: UInt32 = 0x04
let MOVE_MOUNT_T_EMPTY_PATH: UInt32 = 0x40

// statvfs f_flag bits (sys/statvfs.h enum values Swift does not import).
let ST_NOATIME: Int = 1024
let ST_NODIRATIME: Int = 2048
let ST_RELATIME: Int = 4096
