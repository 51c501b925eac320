// The process's argv as the C library hands it to constructors: skiff reads its command
// line from here rather than from Swift's CommandLine, whose lazily built globals are the
// only code of a 64 KB stretch of libswiftCore's text that the start path would run (the
// kernel maps code a neighbourhood per fault: peak RSS of every skiff process).
#include "cskiff.h"

static int saved_argc;
static char **saved_argv;

__attribute__((constructor))
static void skiff_save_arguments(int argc, char **argv, char **envp) {
    (void)envp;
    saved_argc = argc;
    saved_argv = argv;
}

int skiff_argc(void) { return saved_argc; }
char **skiff_argv(void) { return saved_argv; }
