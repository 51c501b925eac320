// swift-tools-version:6.0
import PackageDescription

// No package dependencies on purpose: skiff is linked as a static executable
// and every millisecond of start-up is paid on each container start.
let package = Package(
    name: "skiff",
    products: [
        .executable(name: "skiff", targets: ["skiff"]),
    ],
    targets: [
        // The fork/exec preamble and the syscalls Swift cannot call (variadic or raw).
        .target(name: "CSkiffInit", path: "Sources/CSkiffInit"),
        // The CVE-2019-5736 re-exec of create, run and exec, before the Swift runtime starts
        // (a constructor); only the executable links it.
        .target(name: "CSkiffEarly", path: "Sources/CSkiffEarly"),
        // libseccomp, linked statically into the static executable (libseccomp.a).
        .systemLibrary(name: "CSeccomp", path: "Sources/CSeccomp"),
        .target(
            name: "SkiffRuntime",
            dependencies: ["CSkiffInit", "CSeccomp"],
            path: "Sources/SkiffRuntime"
        ),
        // The command line (flags, the command table, dispatch), a library so that the
        // fuzzer drives the same parser.
        .target(
            name: "SkiffCLI",
            dependencies: ["SkiffRuntime"],
            path: "Sources/SkiffCLI"
        ),
        .executableTarget(
            name: "skiff",
            dependencies: ["SkiffCLI", "CSkiffEarly"],
            path: "Sources/skiff"
        ),
        // libFuzzer targets (scripts/fuzz.sh builds them with -sanitize=fuzzer); built
        // plainly, the same binary replays inputs, which the unit tests do with the corpus.
        .executableTarget(
            name: "skiff-fuzz",
            dependencies: ["SkiffRuntime", "SkiffCLI"],
            path: "Tests/Fuzz/Sources"
        ),
        .testTarget(
            name: "SkiffRuntimeTests",
            dependencies: ["SkiffRuntime"],
            path: "Tests/SkiffRuntimeTests"
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["SkiffRuntime"],
            path: "Tests/IntegrationTests"
        ),
    ],
    swiftLanguageModes: [.v5]
)
