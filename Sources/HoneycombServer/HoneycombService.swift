import Foundation
import HoneycombAPI
import HoneycombCore
import HoneycombDriver
import HoneycombLive
import Logging
import ServiceLifecycle
import Synchronization
import Hummingbird
import HummingbirdCore

/// A setting `serve` or `executor` cannot work with, said plainly.
public struct ServeError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// How `honeycomb serve` is set up (flags and environment).
public struct ServeConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    /// The executors' gRPC port (the executor service and reflection); none when nil.
    public var grpcPort: Int?
    public var databaseURL: String
    public var redisURL: String
    public var natsURL: String
    public var s3URL: String
    public var s3AccessKey: String
    public var s3SecretKey: String
    public var bucket = "honeycomb-bundles"
    /// Keeps deployments sharing Redis and NATS apart (stream, subjects, presence keys).
    public var namespace = "honeycomb"
    /// The Ed25519 key that signs and verifies tokens.
    public var signingKey: Ed25519PrivateKey
    /// The plane's policy (a scenario's `policy` and `llm`, or the defaults).
    public var plane: PlaneConfig
    /// Connections for the API's reads and writes, beside the scheduler's own.
    public var apiConnections = 4
    /// The longest bundle accepted, in bytes.
    public var maxBundleBytes = 16 << 20
    /// Lifetime of executors' credentials, in seconds.
    public var executorTokenTTL: Int64 = 30 * 86400
    /// Seeds the plane's random placement choices (`candidates: random` or `powerOfTwo`).
    public var seed: UInt64 = 0
    /// Seconds a connection may go without a complete request part (an idle keep-alive, or
    /// headers sent in part) before it is closed.
    public var idleTimeout = 30.0
    /// Seconds a request's body may take to arrive in full (408 after).
    public var bodyTimeout = 30.0
    /// Open connections at most; beyond it the server stops accepting until some close.
    public var maxConnections = 8192

    public init(databaseURL: String, redisURL: String, natsURL: String, s3URL: String, s3AccessKey: String,
                s3SecretKey: String, signingKey: Ed25519PrivateKey, plane: PlaneConfig) {
        self.databaseURL = databaseURL
        self.redisURL = redisURL
        self.natsURL = natsURL
        self.s3URL = s3URL
        self.s3AccessKey = s3AccessKey
        self.s3SecretKey = s3SecretKey
        self.signingKey = signingKey
        self.plane = plane
        // Live, an executor may forget a call it routed; the simulator's never do.
        if self.plane.llm.callTimeout == nil { self.plane.llm.callTimeout = .minutes(10) }
    }
}

/// The live control plane: connections to its four dependencies, the scheduler role (held by
/// one replica at a time through a PostgreSQL advisory lock) and the state the API reads.
public final class HoneycombService: Sendable {
    let config: ServeConfiguration
    let authority: TokenAuthority
    /// Bearer tokens and roles, for both protocols.
    let tokens: Authenticator
    let metrics = ServiceMetrics()
    /// The schemas of the API's bodies and answers, by name (`Contract`).
    let contract: [String: Schema]
    let store: APIStore
    let redis: RedisConnection
    let presence: ExecutorPresence
    let nats: JetStreamConnection
    let channel: DispatchChannel
    let s3: S3Client
    let logger: Logger
    /// The scheduler role, competed for through PostgreSQL's advisory lock.
    let scheduler: SchedulerReplica
    private let userIDs = Mutex<[String: Int64]>([:])

    /// Connects to every dependency and applies migrations; fails with a clear message if one
    /// is unreachable.
    public init(config: ServeConfiguration, logger: Logger = Logger(label: "honeycomb")) async throws {
        self.config = config
        contract = Contract.components(maxBundleBytes: config.maxBundleBytes)
        self.logger = logger
        authority = TokenAuthority(signingKey: config.signingKey)
        tokens = Authenticator(authority: authority, metrics: metrics)
        let pool = try await ConnectionPool(url: config.databaseURL, size: config.apiConnections)
        try await Migrations.apply(on: pool.next())
        store = APIStore(pool: pool, databaseURL: config.databaseURL)
        redis = try await RedisConnection.connect(url: config.redisURL)
        presence = ExecutorPresence(redis: redis, namespace: config.namespace)
        channel = DispatchChannel(namespace: config.namespace)
        nats = try await JetStreamConnection.connect(url: config.natsURL, name: "honeycomb-serve")
        try await nats.ensureStream(name: channel.stream, subjects: channel.subjects)
        guard let endpoint = URL(string: config.s3URL) else { throw ServeError("the S3 endpoint is not a URL: \(config.s3URL)") }
        s3 = S3Client(endpoint: endpoint, accessKey: config.s3AccessKey, secretKey: config.s3SecretKey)
        try await s3.createBucket(config.bucket)
        let election = PostgresElection(databaseURL: config.databaseURL, reads: store, bus: JetStreamBus(nats: nats, channel: channel),
                                        presence: presence, log: { [logger] in logger.error("\($0)") })
        scheduler = SchedulerReplica(config: config.plane, seed: config.seed, election: election, metrics: metrics.plane,
                                     log: { [logger] in logger.info("\($0)") })
    }

    var plane: LivePlane? { scheduler.plane }

    /// The plane, or 503: on a standby replica, or while the store keeps this one from leading.
    func requirePlane() throws -> LivePlane {
        if let p = plane { return p }
        switch scheduler.standing {
        case .storeUnavailable: throw Problem.dependencyUnavailable(.postgres)
        default: throw Problem.unavailable("this replica is a standby; the active scheduler is another")
        }
    }

    /// The user's row id, created on first use (tokens are issued only by the key's holder).
    func userID(_ claims: TokenClaims) async throws -> Int64 {
        if let id = userIDs.withLock({ $0[claims.sub] }) { return id }
        let id = try await store.userID(name: claims.sub, role: claims.role)
        userIDs.withLock { $0[claims.sub] = id }
        return id
    }

    /// Appends to the audit log (outside the plane's batches: API actions).
    func audit(actor: String, action: String, subject: String, detail: [String: String] = [:]) async {
        let json = (try? JSONSerialization.data(withJSONObject: detail, options: [.sortedKeys])).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        do {
            try await store.audit(actor: actor, action: action, subject: subject, detail: json)
        } catch {
            logger.error("audit log write failed: \(error)")
        }
    }
}

/// A few PostgreSQL connections used in turn: each runs one statement at a time on its own
/// queue, so several let the API's reads proceed side by side.
final class ConnectionPool: Sendable {
    private let connections: [PostgresConnection]
    private let cursor = Atomic<Int>(0)

    init(url: String, size: Int) async throws {
        var c: [PostgresConnection] = []
        for _ in 0..<max(1, size) { c.append(try await PostgresConnection(url: url, autoReconnect: true)) }
        connections = c
    }

    func next() -> PostgresConnection {
        connections[cursor.add(1, ordering: .relaxed).newValue % connections.count]
    }
}

extension HoneycombService {
    /// The HTTP server with the scheduler beside it, stopped gracefully on SIGTERM or SIGINT.
    /// `onRunning` learns the port (useful with port 0).
    public func application(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        Application(router: API.router(self),
                    server: .http1(configuration: .init(idleTimeout: .nanoseconds(Int64(config.idleTimeout * 1e9)))),
                    configuration: ApplicationConfiguration(address: .hostname(config.host, port: config.port),
                                                            serverName: "honeycomb",
                                                            availableConnectionsDelegate: MaximumAvailableConnections(
                                                                config.maxConnections, logger: logger)),
                    services: [SchedulerService(service: self), MemoryTrimService()]
                        + (config.grpcPort.map { [GRPCService(service: self, port: $0)] as [any Service] } ?? []),
                    onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) },
                    logger: logger)
    }

    /// True while this replica is the active scheduler.
    public var isLeader: Bool { plane != nil }
}

/// The scheduler role as a service of the application's service group: on SIGTERM the plane
/// refuses new commands and lets the batch in hand finish.
struct SchedulerService: Service {
    let service: HoneycombService
    func run() async throws {
        await withGracefulShutdownHandler {
            await service.scheduler.run()
        } onGracefulShutdown: {
            service.scheduler.stop()
        }
    }
}

/// Gives freed heap back to the system every few seconds. glibc keeps what a burst freed
/// (a flood of connections, a large batch) in its arenas for reuse, so without this `serve`
/// stays at its high-water mark: measured, 5,000 half-open connections took RSS from 55 MB
/// to 103 MB, and it stayed there after every one of them was closed; with it, back to 59 MB
/// (ConnectionTests prints the figures).
struct MemoryTrimService: Service {
    var interval: Duration = .seconds(5)
    func run() async throws {
        // glibc's malloc_trim (not in Swift's Glibc module; absent from other C libraries).
        typealias Trim = @convention(c) (Int) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return }
        let trim = unsafeBitCast(symbol, to: Trim.self)
        try? await cancelWhenGracefulShutdown {
            while true {
                try await Task.sleep(for: interval)
                _ = trim(0)
            }
        }
    }
}
