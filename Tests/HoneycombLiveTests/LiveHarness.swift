import Foundation
import HoneycombCore
import HoneycombDriver
import HoneycombLive
@testable import HoneycombServer
@testable import HoneycombFleet
import HoneycombAPI
import Hummingbird
import ServiceLifecycle
import Synchronization
import Testing

/// The four servers the README's test command starts, from its environment.
enum LiveEnvironment {
    /// A test's own failure, said plainly.
    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    static let env = ProcessInfo.processInfo.environment
    static var available: Bool {
        ["HONEYCOMB_PG_URL", "HONEYCOMB_REDIS_URL", "HONEYCOMB_NATS_URL", "HONEYCOMB_S3_URL"].allSatisfy { env[$0] != nil }
    }

    /// A new, empty database on the test server, for one test.
    static func freshDatabaseURL() async throws -> String {
        let server = env["HONEYCOMB_PG_URL"]!
        let admin = try await PostgresConnection(url: server)
        let name = "honeycomb_live_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        try await admin.execute("CREATE DATABASE \(name)")
        var url = URLComponents(string: server)!
        url.path = "/" + name
        return url.string!
    }

    static func configuration(databaseURL: String, key: Ed25519PrivateKey, namespace: String,
                              heartbeatTimeout: Double, lease: Double? = nil, startTimeout: Double = 60,
                              candidates: SchedulerPolicy.Candidates = .adaptive) -> ServeConfiguration {
        var plane = PlaneConfig(heartbeatTimeout: .seconds(heartbeatTimeout), retryBackoff: .milliseconds(200),
                                lease: lease.map { .seconds($0) }, startTimeout: .seconds(startTimeout),
                                scheduler: SchedulerPolicy(candidates: candidates))
        plane.llm = LLMRouterConfig(models: [LLMModel(name: "small", tier: 1, contextWindow: 8192)],
                                    providers: [CloudProvider(name: "cloud", models: [ModelID(0)], inputPricePerMillion: 1,
                                                              outputPricePerMillion: 2)])
        var c = ServeConfiguration(databaseURL: databaseURL, redisURL: env["HONEYCOMB_REDIS_URL"]!,
                                   natsURL: env["HONEYCOMB_NATS_URL"]!, s3URL: env["HONEYCOMB_S3_URL"]!,
                                   s3AccessKey: env["HONEYCOMB_S3_ACCESS_KEY"] ?? "", s3SecretKey: env["HONEYCOMB_S3_SECRET_KEY"] ?? "",
                                   signingKey: key, plane: plane)
        c.port = 0
        c.namespace = namespace
        c.bucket = "honeycomb-bundles"
        c.seed = 11
        return c
    }

    /// Polls `condition` every 50 ms for up to `seconds`.
    static func eventually(_ seconds: Double = 60, _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return try await condition()
    }
}

/// One live service in this process, on its own database and namespace, with an admin.
final class LiveHarness: Sendable {
    let service: HoneycombService
    let key: Ed25519PrivateKey
    let databaseURL: String
    let namespace: String
    let port: Int
    let run: Task<Void, Error>
    let group: ServiceGroup
    let admin: APIClient
    let publisher = try! Ed25519PrivateKey()

    static func start(heartbeatTimeout: Double = 5, lease: Double? = nil, startTimeout: Double = 60, databaseURL: String? = nil,
                      key: Ed25519PrivateKey? = nil, namespace: String? = nil, candidates: SchedulerPolicy.Candidates = .adaptive,
                      waitForLeader: Bool = true) async throws -> LiveHarness {
        let db: String
        if let databaseURL { db = databaseURL } else { db = try await LiveEnvironment.freshDatabaseURL() }
        let k = try key ?? Ed25519PrivateKey()
        let ns = namespace ?? "t\(UInt32.random(in: 0...UInt32.max))"
        let service = try await HoneycombService(config: LiveEnvironment.configuration(databaseURL: db, key: k, namespace: ns,
                                                                                       heartbeatTimeout: heartbeatTimeout, lease: lease,
                                                                                       startTimeout: startTimeout, candidates: candidates))
        let (ports, sink) = AsyncStream<Int>.makeStream()
        let app = service.application(onRunning: { sink.yield($0) })
        let group = ServiceGroup(configuration: .init(services: [app], logger: service.logger))
        let run = Task { try await group.run() }
        var port = 0
        for await p in ports { port = p; break }
        let h = LiveHarness(service: service, key: k, databaseURL: db, namespace: ns, port: port, run: run, group: group)
        if waitForLeader { #expect(try await LiveEnvironment.eventually(30) { service.isLeader }) }
        return h
    }

    private init(service: HoneycombService, key: Ed25519PrivateKey, databaseURL: String, namespace: String, port: Int,
                 run: Task<Void, Error>, group: ServiceGroup) {
        self.group = group
        self.service = service
        self.key = key
        self.databaseURL = databaseURL
        self.namespace = namespace
        self.port = port
        self.run = run
        let base = URL(string: "http://127.0.0.1:\(port)")!
        admin = APIClient(base: base, token: try! TokenAuthority(signingKey: key).issue(subject: "root", role: .admin, ttl: 3600))
    }

    var base: URL { URL(string: "http://127.0.0.1:\(port)")! }

    /// A client acting as `name` with `role`.
    func client(_ name: String, role: Role = .user) -> APIClient {
        admin.with(token: try! TokenAuthority(signingKey: key).issue(subject: name, role: role, ttl: 3600))
    }

    /// Stops the service gracefully, as SIGTERM would.
    func stop() async {
        await group.triggerGracefulShutdown()
        _ = await run.result
    }

    /// A tiny valid WebAssembly module (header only) with some payload in a custom section.
    static func wasm(_ tag: String) -> [UInt8] {
        let name = Array("hc".utf8), payload = Array(tag.utf8)
        let section = [UInt8(name.count)] + name + payload
        return [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x00, UInt8(section.count)] + section
    }

    struct Published: Decodable { var sha256: String }

    /// Publishes an agent version signed by this harness's publisher key.
    @discardableResult
    func publish(_ agent: String, version: String = "1", profile: [String: JSONValue] = ["runtimeMs": .number(20)],
                 maxAttempts: Int = 3, as client: APIClient? = nil) async throws -> Published {
        let bundle = Self.wasm("\(agent)-\(version)")
        let body = PublishRequest(version: version, description: "test agent", cpuMillis: 100, memoryBytes: 1 << 20,
                                  labels: nil, maxAttempts: maxAttempts, profile: .object(profile),
                                  bundle: Data(bundle).base64EncodedString(),
                                  signature: Encoding.hex(try publisher.sign(bundle)),
                                  publisherKey: Encoding.hex(publisher.publicKey.raw))
        return try await (client ?? self.client("publisher")).call("POST", "/v1/agents/\(agent)/versions", json: body)
    }

    /// A fleet of reference executors against this service.
    func fleet(_ count: Int, prefix: String = "ref", heartbeat: Double = 0.5, slots: Int64 = 8) async throws -> ExecutorFleet {
        var c = FleetConfiguration(controlPlane: base, natsURL: LiveEnvironment.env["HONEYCOMB_NATS_URL"]!,
                                   adminToken: admin.token!, count: count)
        c.heartbeatInterval = heartbeat
        c.namePrefix = prefix
        c.slots = slots
        let fleet = try await ExecutorFleet(config: c)
        try await fleet.start()
        return fleet
    }

    struct Submitted: Decodable { var id: Int64 }
    struct TaskView: Decodable {
        var id: Int64
        var state: String
        var attempt: Int
        var executor: Int64?
        var history: [History]?
        var result: Result?
        struct History: Decodable { var state: String; var attempt: Int; var executor: Int64? }
        struct Result: Decodable { var succeeded: Bool; var attempt: Int }
    }

    func submit(_ agent: String, as client: APIClient, input: JSONValue = .object(["n": .number(1)])) async throws -> Int64 {
        let s: Submitted = try await client.call("POST", "/v1/tasks", json: TaskRequest(agent: agent, input: input))
        return s.id
    }

    func task(_ id: Int64, as client: APIClient) async throws -> TaskView {
        try await client.call("GET", "/v1/tasks/\(id)")
    }

    /// The audit log's actions for `subject`, in order.
    func auditActions(subject: String) async throws -> [String] {
        let db = try await PostgresConnection(url: databaseURL)
        return try await db.execute("SELECT action FROM audit_log WHERE subject = $1 ORDER BY id", [subject]).rows.map { $0[0]! }
    }
}
