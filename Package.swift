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
        // libseccomp, linked statically into the static executable (libseccomp.a).
        .systemLibrary(name: "CSeccomp", path: "Sources/CSeccomp"),
        .target(
            name: "SkiffRuntime",
            dependencies: ["CSkiffInit", "CSeccomp"],
            path: "Sources/SkiffRuntime"
        ),
        .executableTarget(
            name: "skiff",
            dependencies: ["SkiffRuntime"],
            path: "Sources/skiff"
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
