// swift-tools-version:6.0
import PackageDescription

/// Honeycomb: HiveFabric's control plane. One deterministic core (`HoneycombCore`), driven
/// either by the discrete-event simulator (`HoneycombSim`) or by the live driver
/// (`HoneycombDriver`) on the adapters of `HoneycombLive` and `HoneycombServer`.
/// Every module a file imports is declared here.
// The simulator, the core, the driver and the statistics are optimized in debug builds too:
// the test suite's simulations (queueing theory, determinism, the gate, the fuzzer) spend
// almost all of `make test`'s time in them, and run 5-10x slower unoptimized. The rest of a
// debug build (the server, NIO, the tests themselves) stays unoptimized and quick to build.
let optimizedInDebug: [SwiftSetting] = [.unsafeFlags(["-O"], .when(configuration: .debug))]

let package = Package(
    name: "Honeycomb",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "honeycomb", targets: ["honeycomb"]),
        .library(name: "HoneycombCore", targets: ["HoneycombCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/grpc/grpc-swift-2.git", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport.git", from: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
    ],
    targets: [
        // C libraries: a modulemap and one shim header each, found with pkg-config.
        .systemLibrary(name: "CGSL", pkgConfig: "gsl", providers: [.apt(["libgsl-dev"])]),
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CHiredis", pkgConfig: "hiredis", providers: [.apt(["libhiredis-dev"])]),
        .systemLibrary(name: "CNats", pkgConfig: "libnats", providers: [.apt(["libnats-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),

        // The pure, deterministic control plane: no C, no Foundation, no clock. Its product
        // links alone (deploy/ci/core-alone.sh): on Linux `rounded()` needs libm, which
        // nothing else brings in without Foundation.
        .target(name: "HoneycombCore", swiftSettings: optimizedInDebug,
                linkerSettings: [.linkedLibrary("m", .when(platforms: [.linux]))]),
        // GSL: seeded random streams, distributions, summaries, intervals.
        .target(name: "HoneycombStats", dependencies: ["CGSL"], swiftSettings: optimizedInDebug),
        // Report schema, canonical JSON and Markdown rendering.
        .target(name: "HoneycombReport", dependencies: ["HoneycombStats"]),
        // The discrete-event simulator: event heap, world models, scenario files, metrics.
        .target(
            name: "HoneycombSim",
            dependencies: ["HoneycombCore", "HoneycombDriver", "HoneycombStats", "HoneycombReport", "Yams"],
            swiftSettings: optimizedInDebug
        ),
        // The live service's adapters: PostgreSQL (libpq), Redis (hiredis), NATS JetStream
        // (cnats), OpenSSL (Ed25519 tokens and bundle signatures, SigV4 for S3), and the
        // process's one HTTP client pool (AsyncHTTPClient: S3 and the API's clients).
        .target(name: "HoneycombLive", dependencies: ["HoneycombCore", "CLibPQ", "CHiredis", "CNats", "COpenSSL",
                                                      .product(name: "AsyncHTTPClient", package: "async-http-client"),
                                                      .product(name: "NIOCore", package: "swift-nio"),
                                                      .product(name: "NIOHTTP1", package: "swift-nio")]),
        // The live driver: the plane's actor (batches, commit, outbox, rebuild), generic over
        // its store, dispatch bus, presence cache and clock, so that it runs alike on the real
        // adapters, in memory and under the simulator's faults. Imports the core, and
        // swift-metrics' API for what it counts (the service chooses the backend).
        .target(name: "HoneycombDriver", dependencies: ["HoneycombCore", .product(name: "CoreMetrics", package: "swift-metrics")],
                swiftSettings: optimizedInDebug),
        // The API's wire contract: request bodies, JSON values, dispatch subjects. Shared by the
        // server and its clients.
        .target(name: "HoneycombAPI", dependencies: ["HoneycombLive"]),
        // The executors' gRPC contract: the code protoc generates from Proto/ (committed; made
        // again with deploy/proto/generate.sh), the descriptor set reflection serves, and the
        // conversions between its messages and the REST bodies (which the server checks).
        .target(name: "HoneycombGRPC", dependencies: [
            "HoneycombAPI", "HoneycombDriver",
            .product(name: "GRPCCore", package: "grpc-swift-2"),
            .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
            .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        ]),
        // The live service: the HTTP API (Hummingbird, a route collection per resource), its
        // store layer, and the adapters' side of the driver's I/O. No simulator in it.
        .target(
            name: "HoneycombServer",
            dependencies: [
                "HoneycombCore", "HoneycombDriver", "HoneycombLive", "HoneycombAPI", "HoneycombGRPC",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2Posix", package: "grpc-swift-nio-transport"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        // Clients of the service: the command-line client, the reference executors (over REST or gRPC), the load generator and `run-live`,
        // which draw their arrivals, run times and failures as the simulator does.
        .target(
            name: "HoneycombFleet",
            dependencies: ["HoneycombCore", "HoneycombDriver", "HoneycombLive", "HoneycombAPI", "HoneycombSim", "HoneycombStats",
                           "HoneycombGRPC",
                           .product(name: "GRPCCore", package: "grpc-swift-2"),
                           .product(name: "GRPCNIOTransportHTTP2Posix", package: "grpc-swift-nio-transport"),
                           .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                           .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                           .product(name: "AsyncHTTPClient", package: "async-http-client"),
                           .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "NIOHTTP1", package: "swift-nio")]
        ),
        .executableTarget(
            name: "honeycomb",
            dependencies: [
                "HoneycombCore", "HoneycombStats", "HoneycombSim", "HoneycombReport", "HoneycombLive", "HoneycombServer",
                "HoneycombFleet", "HoneycombDriver",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),

        .testTarget(name: "HoneycombCoreTests", dependencies: ["HoneycombCore"]),
        .testTarget(name: "HoneycombStatsTests", dependencies: ["HoneycombStats"]),
        .testTarget(name: "HoneycombReportTests", dependencies: ["HoneycombReport", "HoneycombStats"]),
        .testTarget(
            name: "HoneycombSimTests",
            dependencies: ["HoneycombSim", "HoneycombCore", "HoneycombStats", "HoneycombReport"]
        ),
        .testTarget(name: "HoneycombDriverTests", dependencies: ["HoneycombDriver", "HoneycombCore",
                                                                .product(name: "MetricsTestKit", package: "swift-metrics")]),
        .testTarget(name: "CommandLineTests", dependencies: ["honeycomb"]),
        .testTarget(name: "HoneycombLiveTests",
                    dependencies: ["HoneycombLive", "HoneycombServer", "HoneycombFleet", "HoneycombAPI", "HoneycombDriver",
                                   "HoneycombCore", "HoneycombSim", "HoneycombStats",
                                   .product(name: "Hummingbird", package: "hummingbird"),
                                   .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")]),
        .testTarget(
            name: "CLibraryTests",
            dependencies: ["CGSL", "CLibPQ", "CHiredis", "CNats", "COpenSSL"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
