// libseccomp (Debian libseccomp-dev): skiff compiles filters with it and loads the
// exported BPF itself, so that every seccomp(2) flag is available.
#include <seccomp.h>
