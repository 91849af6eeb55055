// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "Ripple",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Ripple", targets: ["Ripple"]),
        .executable(name: "chat", targets: ["chat"]),
        // The Swift client for apps and servers: speaks only the public sync protocol.
        .library(name: "RippleClient", targets: ["RippleClient"]),
        .executable(name: "bench-server", targets: ["bench-server"]),
        // For the fuzz targets in Fuzz/ (a package of their own); not an API for apps.
        .library(
            name: "RippleInternals",
            targets: ["RippleValues", "RippleLog", "RippleReactivity", "RippleStorage", "RippleProtocol", "RippleReplication", "RippleAuth", "RippleEngine"]
        ),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.0.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.20.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.60.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.4.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.0.0"..<"5.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.0.0"),
        // Every long-lived part of a node is a Service in one ServiceGroup (Sources/Ripple/NodeLifecycle.swift).
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        // Benchmarks only (PeerBench): PostgreSQL's client and latency histograms.
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
    ],
    targets: [
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CLZ4", pkgConfig: "liblz4", providers: [.apt(["liblz4-dev"])]),

        .target(name: "RippleValues"),
        // Pure modules, in the order data flows: the commit and its codecs, cron schedules, read and write sets.
        .target(name: "RippleLog", dependencies: ["RippleValues"]),
        .target(name: "RippleCron", dependencies: ["RippleValues"]),
        .target(name: "RippleReactivity", dependencies: ["RippleLog", "RippleValues"]),
        .target(name: "RippleStorage", dependencies: ["CSQLite", "RippleLog", "RippleValues"]),
        .target(
            name: "RippleEngine",
            dependencies: [
                "RippleStorage", "RippleLog", "RippleReactivity", "RippleCron", "RippleValues",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        .target(
            name: "RippleScheduler",
            dependencies: [
                "RippleEngine", "RippleValues", .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        .target(name: "RippleProtocol", dependencies: ["RippleValues"]),
        // What both of a node's listeners (replication and clients) need to stop without losing
        // a connection NIO accepted as they stopped.
        .target(name: "RippleListener", dependencies: [.product(name: "NIOCore", package: "swift-nio")]),
        .target(
            name: "RippleReplication",
            dependencies: [
                "RippleLog", "RippleValues", "RippleListener", "CLZ4",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "RippleAuth",
            dependencies: [
                "RippleValues",
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "RippleLeadership",
            dependencies: [
                "RippleLog",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "RippleFetch",
            dependencies: [
                "RippleEngine",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .target(
            name: "RippleSync",
            dependencies: [
                "RippleEngine", "RippleLog", "RippleReactivity", "RippleValues", "RippleProtocol", "RippleAuth", "RippleListener",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "Ripple",
            dependencies: [
                "RippleEngine", "RippleValues", "RippleLog", "RippleCron", "RippleSync", "RippleAuth", "RippleReplication", "RippleStorage", "RippleScheduler",
                "RippleFetch", "RippleLeadership",
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "RippleClient",
            dependencies: [
                "RippleProtocol", "RippleValues",
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "ChatExample",
            dependencies: ["Ripple", .product(name: "Crypto", package: "swift-crypto"), .product(name: "Logging", package: "swift-log")]
        ),
        .executableTarget(name: "chat", dependencies: ["ChatExample", "Ripple"]),
        .executableTarget(name: "RippleBench", dependencies: ["RippleEngine", "RippleValues", "CSQLite", "RippleReplication", "RippleLog", "RippleStorage", "RippleScheduler", "RippleBenchApp", .product(name: "Logging", package: "swift-log")], path: "Benchmarks/RippleBench"),
        // The networked benchmarks' functions and the node that serves them; the load generator that
        // drives it and PostgreSQL alike is PeerBench.
        .target(name: "RippleBenchApp", dependencies: ["RippleEngine", "RippleValues"], path: "Benchmarks/RippleBenchApp"),
        .executableTarget(name: "bench-server", dependencies: ["Ripple", "RippleBenchApp"], path: "Benchmarks/BenchServer"),
        .executableTarget(
            name: "PeerBench",
            dependencies: [
                .product(name: "PostgresNIO", package: "postgres-nio"), .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Histogram", package: "hdrhistogram-swift"), .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"), "RippleBenchApp", "RippleClient", "RippleValues",
            ],
            path: "Benchmarks/PeerBench"
        ),

        // What several test targets share: temporary directories, a seeded generator, a wait on a
        // condition, a logger whose lines a test can read.
        .target(
            name: "RippleTestSupport",
            dependencies: [.product(name: "Logging", package: "swift-log"), .product(name: "NIOCore", package: "swift-nio")],
            path: "Tests/RippleTestSupport"),
        // A node served in-process on a loopback port, for the sync server's and the client's tests.
        .target(
            name: "RippleNodeTestSupport",
            dependencies: ["RippleSync", "RippleEngine", "RippleAuth", "RippleTestSupport", .product(name: "Logging", package: "swift-log")],
            path: "Tests/RippleNodeTestSupport"
        ),
        .testTarget(name: "RippleValuesTests", dependencies: ["RippleValues", "RippleTestSupport"]),
        // The pure modules' tests link no SQLite and no engine: they run in microseconds.
        .testTarget(name: "RippleLogTests", dependencies: ["RippleLog", "RippleValues"]),
        .testTarget(name: "RippleCronTests", dependencies: ["RippleCron", "RippleValues", "RippleTestSupport"]),
        .testTarget(name: "RippleReactivityTests", dependencies: ["RippleReactivity", "RippleLog", "RippleValues", "RippleTestSupport"]),
        .testTarget(name: "RippleTests", dependencies: ["Ripple"]),
        .testTarget(name: "RippleProtocolTests", dependencies: ["RippleProtocol"]),
        .testTarget(name: "RippleAuthTests", dependencies: ["RippleAuth"]),
        .testTarget(
            name: "RippleListenerTests", dependencies: ["RippleListener", .product(name: "NIOEmbedded", package: "swift-nio")]),
        .testTarget(name: "RippleLeadershipTests", dependencies: ["RippleLeadership", .product(name: "Logging", package: "swift-log")]),
        .testTarget(
            name: "RippleReplicationTests",
            dependencies: [
                "RippleReplication", "RippleLog", "RippleStorage", "RippleTestSupport",
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "RippleSyncTests",
            dependencies: [
                "RippleSync", "RippleEngine", "RippleProtocol", "ChatExample", "RippleTestSupport", "RippleNodeTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "RippleStorageTests", dependencies: ["RippleStorage", "RippleLog", "RippleValues", "RippleTestSupport"]),
        .testTarget(
            name: "RippleEngineTests", dependencies: [
                "RippleEngine", "RippleStorage", "RippleLog", "RippleReactivity", "RippleCron", "ChatExample",
                "RippleTestSupport",
            ]),
        .testTarget(name: "RippleFetchTests", dependencies: ["RippleFetch", "RippleEngine", .product(name: "Hummingbird", package: "hummingbird")]),
        .testTarget(
            name: "ChatExampleTests",
            dependencies: ["ChatExample", "RippleEngine", "RippleValues", "RippleTestSupport", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .testTarget(
            name: "RippleClientTests",
            dependencies: [
                "RippleClient", "RippleSync", "RippleEngine", "RippleAuth", "RippleValues", "RippleProtocol", "RippleNodeTestSupport",
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "RippleSchedulerTests", dependencies: ["RippleScheduler", "RippleEngine", "RippleCron", "ChatExample", "RippleTestSupport"]),
    ]
)
