#define _GNU_SOURCE
#include "cskiff.h"
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <dirent.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/vfs.h>
#include <sys/sendfile.h>
#include <unistd.h>
#include <linux/sched.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

pid_t skiff_clone(uint64_t flags, int cgroup_fd, int *placed) {
    struct clone_args args;
    memset(&args, 0, sizeof(args));
    args.flags = flags;
    args.exit_signal = SIGCHLD;
    if (cgroup_fd >= 0) {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = (uint64_t)cgroup_fd;
    }
    long ret = syscall(SYS_clone3, &args, sizeof(args));
    if (ret >= 0) {
        if (placed) *placed = cgroup_fd >= 0;
        return (pid_t)ret;
    }
    if (errno != ENOSYS && errno != E2BIG && !(cgroup_fd >= 0 && (errno == EINVAL || errno == EBADF || errno == EOPNOTSUPP)))
        return -1;
    // Old kernel, or a cgroup that refuses CLONE_INTO_CGROUP: plain clone; the caller
    // moves the child into its cgroup by pid.
    if (placed) *placed = 0;
    return (pid_t)syscall(SYS_clone, (unsigned long)(flags | SIGCHLD), NULL, NULL, NULL, NULL);
}

int skiff_ioctl_int(int fd, unsigned long request, int arg) { return ioctl(fd, request, arg); }
int skiff_ioctl_ptr(int fd, unsigned long request, void *arg) { return ioctl(fd, request, arg); }
int skiff_prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5) {
    return prctl(option, a2, a3, a4, a5);
}
int skiff_fcntl_int(int fd, int cmd, int arg) { return fcntl(fd, cmd, arg); }

int skiff_pivot_root(const char *new_root, const char *put_old) {
    return (int)syscall(SYS_pivot_root, new_root, put_old);
}

struct skiff_open_how { uint64_t flags, mode, resolve; };
int skiff_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve) {
    struct skiff_open_how how = { flags, mode, resolve };
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

struct skiff_mount_attr { uint64_t attr_set, attr_clr, propagation, userns_fd; };
int skiff_mount_setattr(int dirfd, const char *path, unsigned int flags,
                        uint64_t attr_set, uint64_t attr_clr, uint64_t propagation) {
    struct skiff_mount_attr attr = { attr_set, attr_clr, propagation, 0 };
    return (int)syscall(SYS_mount_setattr, dirfd, path, flags, &attr, sizeof(attr));
}
int skiff_mount_setattr_idmap(int dirfd, const char *path, unsigned int flags, int userns_fd) {
    struct skiff_mount_attr attr = { 0x00100000 /* MOUNT_ATTR_IDMAP */, 0, 0, (uint64_t)userns_fd };
    return (int)syscall(SYS_mount_setattr, dirfd, path, flags, &attr, sizeof(attr));
}
int skiff_open_tree(int dirfd, const char *path, unsigned int flags) {
    return (int)syscall(SYS_open_tree, dirfd, path, flags);
}
int skiff_move_mount(int from_dirfd, const char *from_path, int to_dirfd, const char *to_path, unsigned int flags) {
    return (int)syscall(SYS_move_mount, from_dirfd, from_path, to_dirfd, to_path, flags);
}

long skiff_bpf(int cmd, void *attr, unsigned int size) { return syscall(SYS_bpf, cmd, attr, size); }

int skiff_fsopen(const char *fsname, unsigned int flags) { return (int)syscall(SYS_fsopen, fsname, flags); }
int skiff_fsconfig(int fsfd, unsigned int cmd, const char *key, const char *value, int aux) {
    return (int)syscall(SYS_fsconfig, fsfd, cmd, key, value, aux);
}
int skiff_fsmount(int fsfd, unsigned int flags, unsigned int attr_flags) {
    return (int)syscall(SYS_fsmount, fsfd, flags, attr_flags);
}
int skiff_pidfd_open(pid_t pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }
int skiff_pidfd_send_signal(int pidfd, int sig) { return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0); }
long skiff_join_session_keyring(const char *name) { return syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, name, 0, 0, 0); }

int skiff_capset(uint64_t effective, uint64_t permitted, uint64_t inheritable) {
    struct { uint32_t version; int pid; } hdr = { 0x20080522 /* _LINUX_CAPABILITY_VERSION_3 */, 0 };
    struct { uint32_t effective, permitted, inheritable; } data[2] = {
        { (uint32_t)effective, (uint32_t)permitted, (uint32_t)inheritable },
        { (uint32_t)(effective >> 32), (uint32_t)(permitted >> 32), (uint32_t)(inheritable >> 32) },
    };
    return (int)syscall(SYS_capset, &hdr, data);
}

int skiff_setns(int fd, int nstype) { return setns(fd, nstype); }
int skiff_unshare(int flags) { return unshare(flags); }
int skiff_setresuid(uid_t id) { return setresuid(id, id, id); }
int skiff_setresgid(gid_t id) { return setresgid(id, id, id); }
int skiff_prlimit(int resource, uint64_t soft, uint64_t hard) {
    struct rlimit r = { soft, hard };
    return prlimit(0, resource, &r, NULL);
}

long skiff_fs_type(const char *path) {
    struct statfs fs;
    return statfs(path, &fs) == 0 ? (long)fs.f_type : -1;
}
long skiff_fd_fs_type(int fd) {
    struct statfs fs;
    return fstatfs(fd, &fs) == 0 ? (long)fs.f_type : -1;
}
long skiff_fd_mount_flags(int fd) {
    struct statfs fs;
    return fstatfs(fd, &fs) == 0 ? (long)fs.f_flags : -1;
}
int skiff_cpu_count(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
    int n = CPU_COUNT(&set);
    return n > 0 ? n : 1;
}
_Static_assert(sizeof(skiff_cpu_set) == sizeof(cpu_set_t), "skiff_cpu_set is a cpu_set_t");
int skiff_thread_attr_spread(pthread_attr_t *attr, int n, skiff_cpu_set *set) {
    cpu_set_t *cpus = (cpu_set_t *)set;
    if (sched_getaffinity(0, sizeof *cpus, cpus) != 0) return -1;
    int here = sched_getcpu(), left = n % CPU_COUNT(cpus);
    if (here < 0 || left == 0) return -1;  // one CPU, or n lands on ours
    // The process's CPUs in order from the one after ours, wrapping: the n-th of them.
    for (int step = 1; step < CPU_SETSIZE; step++) {
        int cpu = (here + step) % CPU_SETSIZE;
        if (!CPU_ISSET(cpu, cpus) || --left > 0) continue;
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        return pthread_attr_setaffinity_np(attr, sizeof one, &one) == 0 ? 0 : -1;
    }
    return -1;
}
void skiff_thread_unpin(const skiff_cpu_set *cpus) {
    (void)sched_setaffinity(0, sizeof(cpu_set_t), (const cpu_set_t *)cpus);
}
long skiff_sendfile(int out_fd, int in_fd, size_t count) { return (long)sendfile(out_fd, in_fd, NULL, count); }
int skiff_execveat_fd(int fd, char *const argv[], char *const envp[]) {
    return (int)syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH);
}

int skiff_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }
int skiff_signalfd(const int *signals, int count) {
    sigset_t set;
    sigemptyset(&set);
    for (int i = 0; i < count; i++) sigaddset(&set, signals[i]);
    sigprocmask(SIG_BLOCK, &set, NULL);
    return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}
int skiff_signalfd_read(int fd) {
    struct signalfd_siginfo info;
    ssize_t n = read(fd, &info, sizeof(info));
    return n == (ssize_t)sizeof(info) ? (int)info.ssi_signo : -1;
}

void skiff_close_range(unsigned lo, unsigned hi) {
    if (syscall(SYS_close_range, lo, hi, 0) == 0) return;
    for (unsigned fd = lo; fd <= hi && fd < 65536; fd++) close((int)fd);
}

void skiff_cloexec_fds_from(int lowfd) {
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
    if (syscall(SYS_close_range, (unsigned)lowfd, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
    for (int fd = lowfd; fd < 65536; fd++) {
        int f = fcntl(fd, F_GETFD);
        if (f >= 0) fcntl(fd, F_SETFD, f | FD_CLOEXEC);
    }
}

int skiff_send_fd(int sock, int fd, const void *data, size_t len) {
    char byte = 0;
    struct iovec iov = { .iov_base = (void *)(len ? data : &byte), .iov_len = len ? len : 1 };
    union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
    memset(&u, 0, sizeof(u));
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
    if (fd >= 0) {
        msg.msg_control = u.buf;
        msg.msg_controllen = sizeof(u.buf);
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof(int));
    }
    ssize_t n;
    do { n = sendmsg(sock, &msg, MSG_NOSIGNAL); } while (n < 0 && errno == EINTR);
    return n < 0 ? -1 : 0;
}

int skiff_recv_fd(int sock, void *data, size_t len, int *fd_out) {
    char byte;
    struct iovec iov = { .iov_base = len ? data : &byte, .iov_len = len ? len : 1 };
    union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
    ssize_t n;
    do { n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC); } while (n < 0 && errno == EINTR);
    if (n < 0) return -1;
    *fd_out = -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
            memcpy(fd_out, CMSG_DATA(c), sizeof(int));
    return (int)n;
}

int skiff_seccomp_load(unsigned int flags, const void *insns, unsigned short count) {
    struct sock_fprog prog = { .len = count, .filter = (struct sock_filter *)insns };
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
}

int skiff_memfd_create(const char *name, unsigned int flags) {
    return (int)syscall(SYS_memfd_create, name, flags);
}

int skiff_pidfd_getfd(int pidfd, int fd) {
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif
    return (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
}

int skiff_wifexited(int s) { return WIFEXITED(s); }
int skiff_wexitstatus(int s) { return WEXITSTATUS(s); }
int skiff_wifsignaled(int s) { return WIFSIGNALED(s); }
int skiff_wtermsig(int s) { return WTERMSIG(s); }
