import ArgumentParser
import Foundation
import HoneycombCore
import HoneycombLive
import HoneycombServer
import HoneycombFleet
import HoneycombSim
import Hummingbird
import Logging
import ServiceLifecycle

/// Reads a flag, else an environment variable, else fails saying both.
func setting(_ flag: String?, _ name: String, env: String...) throws -> String {
    if let flag { return flag }
    let environment = ProcessInfo.processInfo.environment
    for e in env { if let v = environment[e], !v.isEmpty { return v } }
    throw ValidationError("give --\(name) or set \(env.joined(separator: " or "))")
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the live control plane: the HTTP API on PostgreSQL, Redis, NATS JetStream and S3.",
        discussion: """
        Every setting can also come from the environment (named in each flag's help). Several replicas \
        may run against one PostgreSQL: one is the active scheduler (an advisory lock), the others stand \
        by and take over when it dies. SIGTERM or SIGINT stops it gracefully.
        """)

    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on ($HONEYCOMB_PORT).") var port: Int?
    @Option(name: .customLong("grpc-port"),
            help: "Port of the executors' gRPC service, with server reflection ($HONEYCOMB_GRPC_PORT; default: no gRPC).")
    var grpcPort: Int?
    @Option(name: .customLong("database-url"), help: "PostgreSQL ($HONEYCOMB_DATABASE_URL).") var databaseURL: String?
    @Option(name: .customLong("redis-url"), help: "Redis ($HONEYCOMB_REDIS_URL).") var redisURL: String?
    @Option(name: .customLong("nats-url"), help: "NATS with JetStream ($HONEYCOMB_NATS_URL).") var natsURL: String?
    @Option(name: .customLong("s3-url"), help: "S3 endpoint ($HONEYCOMB_S3_URL).") var s3URL: String?
    @Option(name: .customLong("s3-access-key"), help: "($HONEYCOMB_S3_ACCESS_KEY)") var s3AccessKey: String?
    @Option(name: .customLong("s3-secret-key"), help: "($HONEYCOMB_S3_SECRET_KEY)") var s3SecretKey: String?
    @Option(help: "Bucket of agent bundles.") var bucket = "honeycomb-bundles"
    @Option(help: "Namespace of this deployment's NATS stream, subjects and Redis keys.") var namespace = "honeycomb"
    @Option(name: .customLong("signing-key"),
            help: "File with the Ed25519 seed (64 hex digits) that signs tokens ($HONEYCOMB_SIGNING_KEY); see `honeycomb keygen`.")
    var signingKey: String?
    @Option(help: "A scenario file whose policy (and llm catalog) the plane takes.") var policy: String?
    @Option(name: .customLong("heartbeat-timeout"), help: "Seconds of silence before an executor is declared lost (overrides the policy).")
    var heartbeatTimeout: Double?
    @Option(name: .customLong("start-timeout"),
            help: "Seconds a dispatched attempt may wait for its executor's start report before it is placed again (0: for ever).")
    var startTimeout = 60.0
    @Option(help: "Seed of the plane's random placement choices ($HONEYCOMB_SEED; default: drawn at start and logged).")
    var seed: UInt64?
    @Option(name: .customLong("idle-timeout"),
            help: "Seconds a connection may go without a complete request part (idle, or headers half sent) before it is closed.")
    var idleTimeout = 30.0
    @Option(name: .customLong("body-timeout"), help: "Seconds a request body may take to arrive in full (408 after).")
    var bodyTimeout = 30.0
    @Option(name: .customLong("max-connections"), help: "Open connections at most; beyond, new ones wait to be accepted.")
    var maxConnections = 8192
    @Option(name: .customLong("shutdown-grace"),
            help: "Seconds SIGTERM waits for requests and the batch in hand to finish before the rest is cancelled (keep Kubernetes' terminationGracePeriodSeconds above it).")
    var shutdownGrace = 20.0

    func run() async throws {
        let env = ProcessInfo.processInfo.environment
        var plane = PlaneConfig()
        if let policy {
            do {
                let scenario = try Scenario.load(path: policy)
                plane = scenario.policy.plane
                if let llm = scenario.llm { plane.llm = llm.router }
            } catch let e as ScenarioError { throw CLIFailure(e.description) }
        }
        if let t = heartbeatTimeout {
            guard t > 0 else { throw ValidationError("--heartbeat-timeout must be positive") }
            plane.heartbeatTimeout = .seconds(t)
        }
        guard startTimeout >= 0 else { throw ValidationError("--start-timeout must be 0 (off) or positive") }
        plane.startTimeout = startTimeout > 0 ? .seconds(startTimeout) : nil
        let keyPath = try setting(signingKey, "signing-key", env: "HONEYCOMB_SIGNING_KEY")
        let key: Ed25519PrivateKey
        do { key = try Ed25519PrivateKey(file: keyPath) } catch { throw CLIFailure("signing key: \(error)") }
        var config = ServeConfiguration(
            databaseURL: try setting(databaseURL, "database-url", env: "HONEYCOMB_DATABASE_URL", "HONEYCOMB_PG_URL"),
            redisURL: try setting(redisURL, "redis-url", env: "HONEYCOMB_REDIS_URL"),
            natsURL: try setting(natsURL, "nats-url", env: "HONEYCOMB_NATS_URL"),
            s3URL: try setting(s3URL, "s3-url", env: "HONEYCOMB_S3_URL"),
            s3AccessKey: try setting(s3AccessKey, "s3-access-key", env: "HONEYCOMB_S3_ACCESS_KEY"),
            s3SecretKey: try setting(s3SecretKey, "s3-secret-key", env: "HONEYCOMB_S3_SECRET_KEY"),
            signingKey: key, plane: plane)
        config.host = host
        guard idleTimeout > 0, bodyTimeout > 0, maxConnections > 0, shutdownGrace > 0 else {
            throw ValidationError("--idle-timeout, --body-timeout, --max-connections and --shutdown-grace must be positive")
        }
        config.idleTimeout = idleTimeout
        config.bodyTimeout = bodyTimeout
        config.maxConnections = maxConnections
        config.port = port ?? env["HONEYCOMB_PORT"].flatMap(Int.init) ?? 8080
        config.grpcPort = grpcPort ?? env["HONEYCOMB_GRPC_PORT"].flatMap(Int.init)
        if let g = config.grpcPort, !(1...65535).contains(g) || g == config.port {
            throw ValidationError("--grpc-port must be a port (1-65535) other than --port")
        }
        config.bucket = bucket
        config.namespace = namespace
        if let text = env["HONEYCOMB_SEED"], seed == nil, UInt64(text) == nil {
            throw ValidationError("HONEYCOMB_SEED must be an unsigned 64-bit integer, not \(text)")
        }
        config.seed = seed ?? env["HONEYCOMB_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 0...UInt64.max)
        var logger = Logger(label: "honeycomb")
        logger.logLevel = env["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        let service: HoneycombService
        do {
            service = try await HoneycombService(config: config, logger: logger)
        } catch {
            throw CLIFailure("serve: cannot start: \(error)")
        }
        // SIGTERM (or SIGINT) stops gracefully; past --shutdown-grace what is left is cancelled,
        // so the process ends before an orchestrator's own deadline kills it.
        var group = ServiceGroupConfiguration(services: [service.application()], gracefulShutdownSignals: [.sigterm, .sigint],
                                              logger: logger)
        group.maximumGracefulShutdownDuration = .nanoseconds(Int64(shutdownGrace * 1e9))
        try await ServiceGroup(configuration: group).run()
    }
}

struct Keygen: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Make an Ed25519 key for signing tokens or bundles.")

    @Option(help: "File to write the seed to (64 hex digits, mode 0600).") var out: String

    func run() throws {
        let key = try Ed25519PrivateKey()
        guard FileManager.default.createFile(atPath: out, contents: Data((Encoding.hex(key.seed) + "\n").utf8),
                                             attributes: [.posixPermissions: 0o600]) else {
            throw CLIFailure("keygen: cannot write \(out)")
        }
        print("public key \(Encoding.hex(key.publicKey.raw))")
    }
}

struct Token: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Issue a signed token with the service's key (the first admin's token, say).")

    @Option(name: .customLong("signing-key"), help: "The key file `serve` uses ($HONEYCOMB_SIGNING_KEY).") var signingKey: String?
    @Option(help: "Who the token speaks for.") var subject: String
    @Option(help: "admin or user.") var role: String = "user"
    @Option(help: "Lifetime in seconds.") var ttl: Int64 = 86400

    func run() throws {
        guard let r = Role(rawValue: role), r != .executor else { throw ValidationError("--role must be admin or user") }
        guard ttl > 0 else { throw ValidationError("--ttl must be positive") }
        let key = try Ed25519PrivateKey(file: try setting(signingKey, "signing-key", env: "HONEYCOMB_SIGNING_KEY"))
        print(try TokenAuthority(signingKey: key).issue(subject: subject, role: r, ttl: ttl))
    }
}

struct Executor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run N reference executors in one process (the load generator of live tests and benchmarks).")

    @OptionGroup var live: LiveOptions
    @Option(help: "How many executors.") var count = 1
    @Option(help: "Task slots of each.") var slots: Int64 = 8
    @Option(name: .customLong("cpu-millis")) var cpuMillis: Int64 = 4000
    @Option(name: .customLong("memory-bytes")) var memoryBytes: Int64 = 8 << 30
    @Option(help: "A label key=value (repeatable).") var label: [String] = []
    @Option(help: "Seconds between heartbeats.") var heartbeat = 2.0
    @Option(help: "Names are PREFIX-0, PREFIX-1, ... (default: ref-<random>, since a name enrolls once).") var prefix: String?
    @Option(help: "Stop after this many seconds (default: run until SIGINT or SIGTERM).") var duration: Double?

    func run() async throws {
        guard count >= 1, slots >= 1, heartbeat > 0 else { throw ValidationError("--count, --slots and --heartbeat must be positive") }
        var config = try live.fleet(count: count)
        config.slots = slots
        config.cpuMillis = cpuMillis
        config.memoryBytes = memoryBytes
        config.heartbeatInterval = heartbeat
        if let prefix { config.namePrefix = prefix }
        for l in label {
            let parts = l.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { throw ValidationError("--label expects key=value, found \(l)") }
            config.labels[String(parts[0])] = String(parts[1])
        }
        let fleet = try await ExecutorFleet(config: config)
        do { try await fleet.start() } catch { throw CLIFailure("executor: \(error)") }
        print("\(count) executors enrolled and registered: ids \(fleet.ids.map(String.init).joined(separator: ","))")
        await waitForSignalOrDuration(duration)
        fleet.stop()
        let s = fleet.snapshot
        print("runs received \(s.runsReceived), started \(s.started), succeeded \(s.succeeded), failed \(s.failed), "
              + "stopped \(s.stopped), duplicates skipped \(s.duplicatesSkipped), stale skipped \(s.staleSkipped), errors \(s.errors.count)")
    }
}

/// Sleeps for `seconds`, or until SIGINT or SIGTERM when nil.
func waitForSignalOrDuration(_ seconds: Double?) async {
    if let seconds {
        try? await Task.sleep(for: .seconds(seconds))
        return
    }
    signal(SIGINT, SIG_IGN)
    signal(SIGTERM, SIG_IGN)
    await withCheckedContinuation { (k: CheckedContinuation<Void, Never>) in
        let queue = DispatchQueue(label: "honeycomb.signals")
        let sources = [SIGINT, SIGTERM].map { DispatchSource.makeSignalSource(signal: $0, queue: queue) }
        let once = OnceFlag()
        for s in sources {
            s.setEventHandler { if once.set() { k.resume() } }
            s.resume()
        }
        withExtendedLifetime(sources) {}
        signalSources.append(contentsOf: sources)
    }
}

nonisolated(unsafe) var signalSources: [any DispatchSourceSignal] = []

final class OnceFlag: @unchecked Sendable {
    private var done = false
    private let lock = NSLock()
    func set() -> Bool { lock.lock(); defer { lock.unlock() }; if done { return false }; done = true; return true }
}

struct LoadTestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loadtest",
        abstract: "The live benchmark: reference executors as load against a running `honeycomb serve`.",
        discussion: "deploy/local/bench-live.sh starts the servers, a release `serve`, and runs this.")

    @OptionGroup var live: LiveOptions
    @Option(help: "Reference executors.") var executors = 8
    @Option(help: "Task slots of each.") var slots: Int64 = 512
    @Option(help: "Tasks offered per second.") var rate = 5000.0
    @Option(help: "Seconds of load.") var duration = 20.0
    @Option(help: "Concurrent submitting connections.") var connections = 64
    @Option(name: .customLong("runtime-ms"), help: "How long each task runs on its executor.") var runtimeMs = 1.0
    @Option(help: "Tasks per submission request (more than 1 uses POST /v1/task-batches).") var batch = 1
    @Flag(name: .customLong("compare-protocols"),
          help: "REST and gRPC executors in turn, in this one run: a heartbeat flood, then the task load, for each.")
    var compareProtocols = false
    @Option(name: .customLong("heartbeat-executors"), help: "With --compare-protocols: executors in the heartbeat flood.")
    var heartbeatExecutors = 256
    @Option(name: .customLong("heartbeat-seconds"), help: "With --compare-protocols: seconds of heartbeat flood.")
    var heartbeatSeconds = 10.0
    @Option(help: "With --compare-protocols: each protocol's turns.") var rounds = 2
    @Option(name: .customLong("serve-pid"), help: "The service's pid, to read its CPU time (same machine).") var servePID: Int32?

    func run() async throws {
        guard rate > 0, duration > 0, connections > 0, executors > 0, slots > 0, (1...1000).contains(batch) else {
            throw ValidationError("--rate, --duration, --connections, --executors and --slots must be positive; --batch 1 to 1000")
        }
        var fleet = try live.fleet(count: executors)
        fleet.slots = slots
        fleet.cpuMillis = slots * 1000
        fleet.memoryBytes = slots << 30
        fleet.heartbeatInterval = 2
        var test = LoadTest(fleet: fleet, rate: rate, duration: duration, connections: connections)
        test.runtimeMs = runtimeMs
        test.batch = batch
        do {
            if compareProtocols {
                guard heartbeatExecutors > 0, heartbeatSeconds > 0, rounds > 0 else {
                    throw ValidationError("--heartbeat-executors, --heartbeat-seconds and --rounds must be positive")
                }
                var comparison = ProtocolComparison(test: test, grpcPort: live.grpcPort)
                comparison.heartbeatExecutors = heartbeatExecutors
                comparison.heartbeatSeconds = heartbeatSeconds
                comparison.rounds = rounds
                comparison.servePID = servePID
                print(try await comparison.run())
            } else {
                print(try await test.run())
            }
        } catch let e as ValidationError {
            throw e
        } catch {
            throw CLIFailure("loadtest: \(error)")
        }
    }
}

struct RunLive: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run-live",
        abstract: "Run a scenario against a live control plane and set its figures beside the simulation's.",
        discussion: """
        Publishes the scenario's agents, starts its pools as reference executors, submits its workloads \
        in real time as users named after its tenants, and prints task wait and turnaround beside the \
        simulator's intervals for the same scenario (scaled the same way). --speed K runs K times faster \
        (rates up, run times down); --scale F shrinks the fleet and the arrivals together.
        """)

    @Argument(help: "The scenario file.") var scenario: String
    @OptionGroup var live: LiveOptions
    @Option(help: "Run this many times faster than the scenario's clock.") var speed = 1.0
    @Option(help: "Fraction of the fleet and of the arrivals to run.") var scale = 1.0
    @Option(help: "Real seconds of arrivals (default: the scenario's duration / speed).") var duration: Double?

    func run() async throws {
        guard speed > 0, scale > 0, scale <= 1 else { throw ValidationError("--speed must be positive and --scale in (0, 1]") }
        var loaded: Scenario
        do { loaded = try Scenario.load(path: scenario) } catch let e as ScenarioError { throw CLIFailure(e.description) }
        if scale < 1 { loaded.scale(by: scale) }
        let fleet = try live.fleet(count: 1)
        var run = LiveScenarioRun(scenario: loaded, controlPlane: fleet.controlPlane, natsURL: fleet.natsURL,
                                  adminToken: fleet.adminToken)
        run.speed = speed
        run.duration = duration
        // The pools and arrivals are scaled in the scenario itself, so the simulation below
        // models the same (smaller) system.
        run.scale = 1
        var figures: LiveScenarioRun.Figures
        do {
            try await run.prepareUsers()
            figures = try await run.run()
        } catch {
            throw CLIFailure("run-live: \(error)")
        }
        let (report, _, _, _) = SimulationRunner.run(loaded, parallelism: ProcessInfo.processInfo.activeProcessorCount)
        figures.simulated = (report["task.wait.mean"]?.interval, report["task.turnaround.mean"]?.interval)
        if duration != nil { figures.notes.append("the live run was cut to \(duration!) s; the simulation ran the whole scenario") }
        print(figures)
    }
}

/// Where the live service is, for the commands that act on it as clients.
struct LiveOptions: ParsableArguments {
    @Option(name: .customLong("control-plane"), help: "The API's base URL.") var controlPlane = "http://127.0.0.1:8080"
    @Option(name: .customLong("nats-url"), help: "NATS ($HONEYCOMB_NATS_URL).") var natsURL: String?
    @Option(help: "An admin token, to mint enrollment tokens and publish agents ($HONEYCOMB_TOKEN).") var token: String?
    @Option(name: .customLong("protocol"), help: "How the executors talk to the plane: rest or grpc (bundles come over HTTP either way).")
    var executorProtocol: ExecutorProtocol = .rest
    @Option(name: .customLong("grpc-port"), help: "With --protocol grpc: the service's gRPC port, on the control plane's host.")
    var grpcPort: Int = 9090

    /// A fleet of `count` reference executors against it.
    func fleet(count: Int) throws -> FleetConfiguration {
        guard let url = URL(string: controlPlane), url.host != nil else { throw ValidationError("--control-plane is not a URL") }
        var config = FleetConfiguration(controlPlane: url, natsURL: try setting(natsURL, "nats-url", env: "HONEYCOMB_NATS_URL"),
                                        adminToken: try setting(token, "token", env: "HONEYCOMB_TOKEN"), count: count)
        config.executorProtocol = executorProtocol
        config.grpcPort = grpcPort
        return config
    }
}

extension ExecutorProtocol: ExpressibleByArgument {}
