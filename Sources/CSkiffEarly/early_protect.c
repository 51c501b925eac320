// The CVE-2019-5736 re-exec, done before the Swift runtime starts.
//
// `create`, `run` and `exec` must run from a view of the binary that cannot be opened
// for writing (SkiffRuntime's ExeProtection, which the command table asks for). Done
// from Swift, the first image pays the Swift runtime's start-up, the command table and
// the argument parse only to throw them away with the exec (about a third of a process
// start). This constructor runs before any of that and makes the same read-only view
// (a detached bind of /proc/self/exe, mount_setattr read-only). It is an optimisation
// only: whenever it does nothing (another command, no CAP_SYS_ADMIN for open_tree, any
// failure) ExeProtection.ensure() still protects the process, and in the new image it
// finds the view read-only and goes on. So the command list below may over-approximate
// (a container ID "run" costs a needless re-exec) but never decides alone.
#define _GNU_SOURCE
#include "cskiff_early.h"
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

// Higher priorities run later; this one runs before the Swift runtime's constructors.
#define EARLY_PRIORITY 101
#define OPEN_TREE_CLONE_FLAG 1
#define MOUNT_ATTR_RDONLY_FLAG 0x1ULL
#define NANOS_PER_SECOND 1000000000ULL

static const char *const cloning_commands[] = { "create", "run", "exec", NULL };

// The names Trace reads (SkiffRuntime/Logging/Trace.swift).
static const char trace_variable[] = "SKIFF_TRACE";
static const char fault_variable[] = "SKIFF_FAULT";
static const char reexec_start_variable[] = "SKIFF_TRACE_REEXEC_NS";
static const char trace_flag[] = "--trace";

void skiff_early_protect_anchor(void) {}

static int has_argument(int argc, char **argv, const char *word) {
    for (int i = 1; i < argc; i++)
        if (argv[i] && strcmp(argv[i], word) == 0) return 1;
    return 0;
}

static int clones_into_container(int argc, char **argv) {
    for (const char *const *c = cloning_commands; *c; c++)
        if (has_argument(argc, argv, *c)) return 1;
    return 0;
}

static int read_only(int fd) {
    struct statfs fs;
    return fstatfs(fd, &fs) == 0 && (fs.f_flags & ST_RDONLY);
}

// As Trace.handOverToReexec: the new image reports the re-exec's time as a phase, when
// a trace or a fault point asks for phases.
static void hand_over_to_trace(int argc, char **argv) {
    const char *trace = getenv(trace_variable), *fault = getenv(fault_variable);
    int tracing = (trace && *trace && strcmp(trace, "0") != 0) || (fault && *fault) ||
                  has_argument(argc, argv, trace_flag);
    if (!tracing) return;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    char now[32];
    snprintf(now, sizeof now, "%llu",
             (unsigned long long)ts.tv_sec * NANOS_PER_SECOND + (unsigned long long)ts.tv_nsec);
    setenv(reexec_start_variable, now, 1);
}

__attribute__((constructor(EARLY_PRIORITY)))
static void skiff_early_protect(int argc, char **argv, char **envp) {
    (void)envp;  // setenv may move the environment: exec with `environ`
    if (argc < 2 || !argv || !clones_into_container(argc, argv)) return;
    int exe = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (exe < 0) return;
    if (read_only(exe)) { close(exe); return; }  // the view already, or a read-only install
    int view = (int)syscall(SYS_open_tree, exe, "", OPEN_TREE_CLONE_FLAG | O_CLOEXEC | AT_EMPTY_PATH);
    close(exe);
    if (view < 0) return;
    struct { uint64_t set, clr, propagation, userns_fd; } attr = { MOUNT_ATTR_RDONLY_FLAG, 0, 0, 0 };
    if (syscall(SYS_mount_setattr, view, "", AT_EMPTY_PATH, &attr, sizeof attr) != 0 || !read_only(view)) {
        close(view);
        return;
    }
    hand_over_to_trace(argc, argv);
    syscall(SYS_execveat, view, "", argv, environ, AT_EMPTY_PATH);
    // Failed: the Swift side tries again, the memfd copy too, and says why if it cannot.
    unsetenv(reexec_start_variable);
    close(view);
}
