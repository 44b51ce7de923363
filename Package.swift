// swift-tools-version:6.0
// Sesame: an in-memory RESP server for session stores. No package dependencies and no unsafe
// compiler flags: other packages must be able to depend on Sesame as a test fixture.
import PackageDescription

let package = Package(
    name: "Sesame",
    products: [
        .library(name: "Sesame", targets: ["Sesame"]),
        .executable(name: "sesame-server", targets: ["sesame-server"]),
        .executable(name: "sesame-bench", targets: ["sesame-bench"]),
    ],
    targets: [
        // Header-only: exposes system headers Glibc does not (epoll, eventfd, tcp). No logic.
        .target(name: "CSystem", path: "Sources/CSystem"),
        .target(name: "Sesame", dependencies: ["CSystem"], path: "Sources/Sesame"),
        .executableTarget(name: "sesame-server", dependencies: ["Sesame"], path: "Sources/sesame-server"),
        // The benchmark harness measures any RESP server, so it does not depend on Sesame.
        .target(name: "SesameBenchCore", path: "Benchmarks/SesameBenchCore"),
        .executableTarget(name: "sesame-bench", dependencies: ["SesameBenchCore"], path: "Benchmarks/sesame-bench"),
        // In-process request-path driver for callgrind/perf (Benchmarks/sesame-profile/main.swift).
        .executableTarget(name: "sesame-profile", dependencies: ["Sesame"], path: "Benchmarks/sesame-profile"),
        .testTarget(name: "SesameTests", dependencies: ["Sesame"], path: "Tests/SesameTests"),
        .testTarget(name: "IntegrationTests", dependencies: ["Sesame"], path: "Tests/IntegrationTests"),
        // The fixture API as a user's test suite sees it, with a toy session middleware.
        .testTarget(name: "FixtureTests", dependencies: ["Sesame"], path: "Tests/FixtureTests"),
        .testTarget(name: "SesameBenchTests", dependencies: ["SesameBenchCore", "Sesame"], path: "Tests/SesameBenchTests"),
    ],
    swiftLanguageModes: [.v6]
)
