import Foundation
import HoneycombCore
import HoneycombDriver
import HoneycombLive
import Logging
import ServiceLifecycle
import Synchronization
import Hummingbird

/// A setting `serve` or `executor` cannot work with, said plainly.
public struct ServeError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// How `honeycomb serve` is set up (flags and environment).
public struct ServeConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
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
    let metrics = ServiceMetrics()
    let db: ConnectionPool
    let redis: RedisConnection
    let presence: ExecutorPresence
    let nats: JetStreamConnection
    let channel: DispatchChannel
    let s3: S3Client
    let logger: Logger
    /// The plane, while this replica is the active scheduler.
    private let active = Mutex<LivePlane?>(nil)
    private let userIDs = Mutex<[String: Int64]>([:])

    /// The advisory lock whose holder is the active scheduler.
    static let leaderLock = 7204

    /// Connects to every dependency and applies migrations; fails with a clear message if one
    /// is unreachable.
    public init(config: ServeConfiguration, logger: Logger = Logger(label: "honeycomb")) async throws {
        self.config = config
        self.logger = logger
        authority = TokenAuthority(signingKey: config.signingKey)
        db = try await ConnectionPool(url: config.databaseURL, size: config.apiConnections)
        try await Migrations.apply(on: db.next())
        redis = try await RedisConnection.connect(url: config.redisURL)
        presence = ExecutorPresence(redis: redis, namespace: config.namespace)
        channel = DispatchChannel(namespace: config.namespace)
        nats = try await JetStreamConnection.connect(url: config.natsURL, name: "honeycomb-serve")
        try await nats.ensureStream(name: channel.stream, subjects: channel.subjects)
        guard let endpoint = URL(string: config.s3URL) else { throw ServeError("the S3 endpoint is not a URL: \(config.s3URL)") }
        s3 = S3Client(endpoint: endpoint, accessKey: config.s3AccessKey, secretKey: config.s3SecretKey)
        try await s3.createBucket(config.bucket)
    }

    var plane: LivePlane? { active.withLock { $0 } }

    /// The plane, or 503 on a standby replica.
    func requirePlane() throws -> LivePlane {
        guard let p = plane else { throw Problem.unavailable("this replica is a standby; the active scheduler is another") }
        return p
    }

    /// The user's row id, created on first use (tokens are issued only by the key's holder).
    func userID(_ claims: TokenClaims) async throws -> Int64 {
        if let id = userIDs.withLock({ $0[claims.sub] }) { return id }
        let role = claims.role == .admin ? "admin" : "user"
        let rows = try await db.next().execute("""
            INSERT INTO users (name, role) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id
            """, [claims.sub, role])
        let id = Int64(rows.rows[0][0]!)!
        userIDs.withLock { $0[claims.sub] = id }
        return id
    }

    /// Appends to the audit log (outside the plane's batches: API actions).
    func audit(actor: String, action: String, subject: String, detail: [String: String] = [:]) async {
        let json = (try? JSONSerialization.data(withJSONObject: detail, options: [.sortedKeys])).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        do {
            try await db.next().execute("INSERT INTO audit_log (actor, action, subject, detail) VALUES ($1, $2, $3, $4::jsonb)",
                                        [actor, action, subject, json])
        } catch {
            logger.error("audit log write failed: \(error)")
        }
    }

    // MARK: The scheduler role

    /// Competes for the scheduler role until cancelled: takes the advisory lock on a connection
    /// of its own, rebuilds the plane from PostgreSQL, and runs it until the connection or the
    /// store fails; then lets go and competes again.
    func runScheduler() async {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                let conn = try await PostgresConnection(url: config.databaseURL)
                let got = try await conn.execute("SELECT pg_try_advisory_lock($1)", [String(Self.leaderLock)]).rows[0][0] == "t"
                guard got else {
                    try? await Task.sleep(for: .milliseconds(500))
                    continue
                }
                let logger = self.logger
                let io = PlaneIO(store: PostgresPlaneStore(db: conn), bus: JetStreamBus(nats: nats, channel: channel),
                                 presence: presence, clock: WallClockSource(), log: { logger.error("\($0)") })
                let live = LivePlane(config: config.plane, seed: config.seed, io: io, metrics: metrics.plane)
                let (executors, tasks) = try await live.rebuild()
                // Presence is a cache: Redis being down must not keep this replica from leading.
                try? await rebuildPresence()
                logger.info("active scheduler: rebuilt \(executors) executors and \(tasks) unfinished tasks from PostgreSQL; placement seed \(config.seed)")
                active.withLock { $0 = live }
                defer { active.withLock { $0 = nil } }
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await live.run() }
                    group.addTask {
                        var ticks = 0
                        while !Task.isCancelled {
                            try await Task.sleep(for: .milliseconds(20))
                            await live.tick()
                            ticks += 1
                            // Redis is a cache of presence: refill it if it was flushed or restarted.
                            if ticks % 500 == 0 { try? await self.rebuildPresence() }
                            if ticks % 25 == 0 { await live.flushOutbox() }
                        }
                    }
                    group.addTask {
                        // Graceful shutdown: refuse new commands, let the batch in hand finish.
                        try? await gracefulShutdown()
                        await live.stop()
                    }
                    try await group.next()
                    group.cancelAll()
                }
                await live.stop()
            } catch {
                if Task.isCancelled || Task.isShuttingDownGracefully { break }
                logger.error("scheduler stopped (\(error)); competing for the role again")
                try? await Task.sleep(for: .milliseconds(500))
            }
        }
    }

    /// Redis holds presence only as a cache: every executor the store last saw online that
    /// Redis does not hold (it was flushed or restarted, or the key was lost) is marked
    /// present for one heartbeat timeout, in which it must heartbeat to stay. Keys Redis holds
    /// are left alone: they are newer than the store's word.
    func rebuildPresence() async throws {
        let present = Set(try await presence.present())
        let rows = try await db.next().execute("SELECT id FROM executors WHERE state IN ('online', 'draining') ORDER BY id")
        for r in rows.rows {
            guard let id = r[0].flatMap({ Int64($0) }), !present.contains(id) else { continue }
            try await presence.markIfAbsent(id, ttl: config.plane.heartbeatTimeout.seconds)
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
                    configuration: ApplicationConfiguration(address: .hostname(config.host, port: config.port),
                                                            serverName: "honeycomb"),
                    services: [SchedulerService(service: self)],
                    onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) },
                    logger: logger)
    }

    /// True while this replica is the active scheduler.
    public var isLeader: Bool { plane != nil }
}

/// The scheduler role as a service of the application's service group.
struct SchedulerService: Service {
    let service: HoneycombService
    func run() async throws { await service.runScheduler() }
}
