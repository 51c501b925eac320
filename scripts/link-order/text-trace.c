// text-trace: run a command under ptrace, single-stepping every process and thread it
// makes, and write to OUT each instruction address inside [LO, HI) the first time each
// process runs it, in that order: "PID ADDRESS" (decimal, hex), a line each. The command
// keeps stdout.
//
// skiff is a non-PIE static executable, so its text sits at the same addresses in every
// process (the re-exec, the init, exec's child): one address range covers them all.
// A process that execs another program (the container's /bin/true, exec's process) is let
// go: its addresses would be that program's, read as skiff's functions.
// Used by scripts/link-order/generate.sh; slow (a trap per instruction) and exact.
//
//   text-trace OUT LO HI -- command [args...]
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

// Processes one trace can tell apart; a command makes a handful.
enum { max_processes = 64 };

/// The process (thread group) a traced thread belongs to, read once per thread.
static pid_t tgid_of(pid_t tid) {
    static struct { pid_t tid, tgid; } cache[max_processes * 4];
    static int ncache;
    for (int i = 0; i < ncache; i++)
        if (cache[i].tid == tid) return cache[i].tgid;
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", tid);
    FILE *f = fopen(path, "r");
    if (!f) return tid;
    pid_t tgid = tid;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "Tgid:", 5) == 0) { tgid = atoi(line + 5); break; }
    fclose(f);
    if (ncache < (int)(sizeof cache / sizeof cache[0])) {
        cache[ncache].tid = tid;
        cache[ncache].tgid = tgid;
        ncache++;
    }
    return tgid;
}

/// Whether the process now runs the traced program's file (skiff re-execs itself from
/// a read-only view of the same file: same device and inode).
static int runs_file(pid_t pid, const struct stat *traced) {
    char path[64];
    struct stat st;
    snprintf(path, sizeof path, "/proc/%d/exe", pid);
    if (stat(path, &st) != 0) return 1;
    return st.st_dev == traced->st_dev && st.st_ino == traced->st_ino;
}

static const long trace_options = PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK |
    PTRACE_O_TRACEVFORK | PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL;

int main(int argc, char **argv) {
    if (argc < 6 || strcmp(argv[4], "--") != 0) {
        fprintf(stderr, "usage: text-trace OUT LO HI -- command [args...]\n");
        return 2;
    }
    FILE *out = fopen(argv[1], "w");
    if (!out) { perror(argv[1]); return 1; }
    uintptr_t lo = strtoull(argv[2], NULL, 0), hi = strtoull(argv[3], NULL, 0);
    if (hi <= lo) { fprintf(stderr, "text-trace: empty range\n"); return 2; }
    // One map of the addresses seen per process (threads share their process's).
    struct { pid_t tgid; uint8_t *seen; } maps[max_processes];
    int nmaps = 0;

    struct stat traced;
    if (stat(argv[5], &traced) != 0) { perror(argv[5]); return 1; }

    pid_t root = fork();
    if (root < 0) { perror("fork"); return 1; }
    if (root == 0) {
        ptrace(PTRACE_TRACEME, 0, NULL, NULL);
        execvp(argv[5], argv + 5);
        perror("exec");
        _exit(127);
    }
    int status, root_status = 0;
    if (waitpid(root, &status, 0) < 0 || !WIFSTOPPED(status)) { perror("first stop"); return 1; }
    ptrace(PTRACE_SETOPTIONS, root, NULL, (void *)trace_options);
    ptrace(PTRACE_SINGLESTEP, root, NULL, NULL);

    unsigned long steps = 0;
    for (;;) {
        pid_t pid = waitpid(-1, &status, __WALL);
        if (pid < 0) {
            if (errno == EINTR) continue;
            break;  // ECHILD: everything has exited
        }
        if (WIFEXITED(status) || WIFSIGNALED(status)) {
            if (pid == root) root_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            continue;
        }
        if (!WIFSTOPPED(status)) continue;
        int sig = WSTOPSIG(status), inject = 0;
        if (status >> 16) {
            // clone/fork/exec event: the new process starts stopped and reports itself.
            if ((status >> 16) != PTRACE_EVENT_EXEC) {
                unsigned long child;
                if (ptrace(PTRACE_GETEVENTMSG, pid, NULL, &child) == 0)
                    ptrace(PTRACE_SETOPTIONS, (pid_t)child, NULL, (void *)trace_options);
            } else if (!runs_file(pid, &traced)) {
                ptrace(PTRACE_DETACH, pid, NULL, NULL);
                continue;
            }
        } else if (sig == SIGTRAP) {
            struct user_regs_struct regs;
            if (ptrace(PTRACE_GETREGS, pid, NULL, &regs) == 0) {
                uintptr_t ip = regs.rip;
                if (ip >= lo && ip < hi) {
                    pid_t tgid = tgid_of(pid);
                    int m = 0;
                    while (m < nmaps && maps[m].tgid != tgid) m++;
                    if (m == nmaps && nmaps < max_processes) {
                        maps[m].tgid = tgid;
                        maps[m].seen = calloc(hi - lo, 1);
                        if (!maps[m].seen) { perror("calloc"); return 1; }
                        nmaps++;
                    }
                    if (m < nmaps && !maps[m].seen[ip - lo]) {
                        maps[m].seen[ip - lo] = 1;
                        fprintf(out, "%d %lx\n", tgid, (unsigned long)ip);
                    }
                }
            }
            steps++;
        } else if (sig != SIGSTOP) {
            inject = sig;  // a real signal: deliver it
        }
        ptrace(PTRACE_SINGLESTEP, pid, NULL, (void *)(long)inject);
    }
    if (fclose(out) != 0) { perror(argv[1]); return 1; }
    fprintf(stderr, "text-trace: %lu steps, exit %d\n", steps, root_status);
    return root_status;
}
