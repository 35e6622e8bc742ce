// swift-tools-version:6.0
import PackageDescription

// Module layout and import rules: ../shared/DESIGN.md ("The house"). Arrows only point down:
// afsearch -> Search -> GPUEngine -> Kernels, Datasets (Foundation only); COpenCL is the raw C API.
let package = Package(
    name: "afsearch",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "afsearch", targets: ["afsearch"]),
        .library(name: "Kernels", targets: ["Kernels"]),
        .library(name: "GPUEngine", targets: ["GPUEngine"]),
        .library(name: "Datasets", targets: ["Datasets"]),
        .library(name: "Search", targets: ["Search"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        // SHA-256 of the program cache's keys and checksums.
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
    ],
    targets: [
        .systemLibrary(
            name: "COpenCL",
            pkgConfig: "OpenCL",
            providers: [.apt(["ocl-icd-opencl-dev", "opencl-headers"])]
        ),
        // Turns kernels/*.cl into Swift string constants at build time, so an installed binary
        // never reads the working directory to find its templates.
        .executableTarget(name: "EmbedKernelsTool"),
        .plugin(
            name: "EmbedKernels",
            capability: .buildTool(),
            dependencies: ["EmbedKernelsTool"]
        ),
        .target(name: "Kernels", plugins: ["EmbedKernels"]),
        // zlib (gzip for IDX/CSV files); Debian: zlib1g-dev.
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
        .target(name: "Datasets", dependencies: ["CZlib"]),
        .target(name: "GPUEngine", dependencies: ["COpenCL", "Kernels", "Datasets", .product(name: "Crypto", package: "swift-crypto")]),
        // libpq, PostgreSQL's client library (Debian: libpq-dev): the shared study storage of many workers.
        .systemLibrary(name: "CPostgres", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .target(
            name: "Search",
            dependencies: [
                "Kernels", "GPUEngine", "Datasets", "CPostgres",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        .executableTarget(
            name: "afsearch",
            dependencies: [
                "Kernels", "GPUEngine", "Datasets", "Search",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "KernelsTests", dependencies: ["Kernels", "GPUEngine"]),
        .testTarget(name: "GPUEngineTests", dependencies: ["GPUEngine", "Kernels", "Datasets"]),
        .testTarget(name: "DatasetsTests", dependencies: ["Datasets"]),
        // A throwaway PostgreSQL server for the storage tests (initdb in a temporary folder, a loopback port).
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "SearchTests", dependencies: ["Search", "Kernels", "GPUEngine", "Datasets", "TestSupport"]),
        // Runs the built `afsearch` binary as a subprocess (depending on the executable target makes `swift test` build it).
        .testTarget(name: "afsearchTests", dependencies: ["afsearch", "Search", "TestSupport"]),
    ]
)
