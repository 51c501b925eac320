#ifndef CSKIFF_EARLY_H
#define CSKIFF_EARLY_H

// Does nothing: the executable calls it so that the linker keeps this target's object
// file, whose constructor is the early CVE-2019-5736 re-exec (early_protect.c).
void skiff_early_protect_anchor(void);

#endif
