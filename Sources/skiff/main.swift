import Glibc
import CSkiffEarly
import SkiffCLI

// skiff: a runc-compatible command line over SkiffRuntime. The command line itself lives in
// SkiffCLI, a library, so that the fuzzer drives the same parser. CSkiffEarly's constructor
// has already re-executed create, run and exec from a read-only view of this binary when
// it could (referenced here so that the linker keeps it).
skiff_early_protect_anchor()
exit(CLI.main())
