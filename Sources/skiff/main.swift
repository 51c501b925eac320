import Glibc
import SkiffCLI

// skiff: a runc-compatible command line over SkiffRuntime. The command line itself lives in
// SkiffCLI, a library, so that the fuzzer drives the same parser.
exit(CLI.main(CommandLine.arguments))
