// The part of skiff that Swift cannot do itself: raw syscalls (clone3, pivot_root,
// openat2, bpf, mount_setattr), variadic libc calls (ioctl, prctl, fcntl) and
// SCM_RIGHTS, whose CMSG_* helpers are macros. No policy lives here.
#ifndef CSKIFF_H
#define CSKIFF_H

#include <sys/types.h>
#include <stdint.h>
#include <pthread.h>

// Clone the calling (single-threaded) process like fork, with CLONE_NEW* flags.
// If cgroup_fd >= 0 the child starts in that cgroup2 directory (CLONE_INTO_CGROUP);
// on kernels without clone3 it falls back to clone and reports it via *placed = 0.
pid_t skiff_clone(uint64_t flags, int cgroup_fd, int *placed);

int skiff_ioctl_int(int fd, unsigned long request, int arg);
int skiff_ioctl_ptr(int fd, unsigned long request, void *arg);
int skiff_prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5);
int skiff_fcntl_int(int fd, int cmd, int arg);

int skiff_pivot_root(const char *new_root, const char *put_old);
int skiff_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve);
int skiff_mount_setattr(int dirfd, const char *path, unsigned int flags,
                        uint64_t attr_set, uint64_t attr_clr, uint64_t propagation);
// mount_setattr with a user namespace fd: MOUNT_ATTR_IDMAP for an id-mapped mount.
int skiff_mount_setattr_idmap(int dirfd, const char *path, unsigned int flags, int userns_fd);
// open_tree(2) and move_mount(2): detached mount trees made in one process, attached in another.
int skiff_open_tree(int dirfd, const char *path, unsigned int flags);
int skiff_move_mount(int from_dirfd, const char *from_path, int to_dirfd, const char *to_path, unsigned int flags);
long skiff_bpf(int cmd, void *attr, unsigned int size);
// The rest of the fd-based mount API: mounts made from and onto fds, never by path.
int skiff_fsopen(const char *fsname, unsigned int flags);
int skiff_fsconfig(int fsfd, unsigned int cmd, const char *key, const char *value, int aux);
int skiff_fsmount(int fsfd, unsigned int flags, unsigned int attr_flags);
int skiff_pidfd_open(pid_t pid);
int skiff_pidfd_send_signal(int pidfd, int sig);
// A fresh session keyring for the container (runc's default; --no-new-keyring skips it).
long skiff_join_session_keyring(const char *name);

// capset(2) for the calling thread, version 3 (64 capability bits per set).
int skiff_capset(uint64_t effective, uint64_t permitted, uint64_t inheritable);

// _GNU_SOURCE calls that Swift's Glibc module does not export.
int skiff_setns(int fd, int nstype);
int skiff_unshare(int flags);
int skiff_setresuid(uid_t id);
int skiff_setresgid(gid_t id);
int skiff_prlimit(int resource, uint64_t soft, uint64_t hard);

// The filesystem magic of a path or an fd (statfs f_type), or -1.
long skiff_fs_type(const char *path);
long skiff_fd_fs_type(int fd);
// The mount flags of an open file (fstatfs f_flags: ST_RDONLY, ...), or -1.
long skiff_fd_mount_flags(int fd);

// The CPUs this process may run on (sched_getaffinity: a cpuset's limit counts), at least 1.
int skiff_cpu_count(void);
// Spreading threads over CPUs (CPU_SET is a macro). The scheduler may start a new thread
// on its creator's CPU and leave both there for milliseconds while another CPU idles:
// skiff_thread_attr_spread sets attr so the thread starts on the n-th (n >= 1) CPU the
// process may use, counting on from the caller's, stores those CPUs in *cpus and returns
// 0 (-1 on one CPU or an error, attr unchanged); the thread then calls skiff_thread_unpin
// with them, free to move again to any of the process's CPUs.
// skiff_cpu_set is a cpu_set_t, which glibc shows only to _GNU_SOURCE code.
typedef struct { uint64_t bits[16]; } skiff_cpu_set;
int skiff_thread_attr_spread(pthread_attr_t *attr, int n, skiff_cpu_set *cpus);
void skiff_thread_unpin(const skiff_cpu_set *cpus);

// For the CVE-2019-5736 re-exec: an in-kernel copy, and exec of an fd with the given argv/envp.
long skiff_sendfile(int out_fd, int in_fd, size_t count);
int skiff_execveat_fd(int fd, char *const argv[], char *const envp[]);
int skiff_pipe_cloexec(int fds[2]);
// A signalfd for `count` signals (blocked by the caller); read returns a signal number or -1.
int skiff_signalfd(const int *signals, int count);
int skiff_signalfd_read(int fd);

// Close fds lo..hi inclusive (close_range, or one by one on old kernels).
void skiff_close_range(unsigned lo, unsigned hi);
// Mark every fd >= lowfd close-on-exec.
void skiff_cloexec_fds_from(int lowfd);

// Send / receive one fd with SCM_RIGHTS plus a small payload.
int skiff_send_fd(int sock, int fd, const void *data, size_t len);
int skiff_recv_fd(int sock, void *data, size_t len, int *fd_out);

// seccomp(SECCOMP_SET_MODE_FILTER, flags, prog) for `count` BPF instructions:
// a listener fd with SECCOMP_FILTER_FLAG_NEW_LISTENER, else 0; -1 and errno on failure.
int skiff_seccomp_load(unsigned int flags, const void *insns, unsigned short count);
int skiff_memfd_create(const char *name, unsigned int flags);
int skiff_pidfd_getfd(int pidfd, int fd);

// The process's argc and argv, saved by a constructor (arguments.c).
int skiff_argc(void);
char **skiff_argv(void);

// Layout helpers so Swift does not depend on struct layouts it cannot see.
int skiff_wifexited(int status);
int skiff_wexitstatus(int status);
int skiff_wifsignaled(int status);
int skiff_wtermsig(int status);

#endif
