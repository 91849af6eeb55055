// swift-tools-version:6.1
// Micro-benchmarks of Ripple's hot paths with ordo-one/benchmark (`scripts/bench micro`, i.e.
// `swift package benchmark` here). A package of its own so that the root package's build, and
// CI's, never compiles the benchmark framework; it links Ripple's internals as Fuzz/ does.
import PackageDescription

let package = Package(
    name: "RippleMicro",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Ripple", path: "../.."),
        .package(url: "https://github.com/ordo-one/benchmark.git", exact: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.60.0"),
    ],
    targets: [
        .executableTarget(
            name: "HotPaths",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "RippleInternals", package: "Ripple"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Benchmarks/HotPaths",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    ]
)
