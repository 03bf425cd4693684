import Foundation
import HoneycombLive
@testable import HoneycombServer
@testable import HoneycombFleet
import HoneycombAPI
import Synchronization
import Testing

/// The real dependencies taken away under load, one at a time, and `serve` killed: a load of
/// reference executors and submitters runs while PostgreSQL, Redis, nats-server and SeaweedFS
/// are each stopped for 5 s and started again (deploy/local/services.sh stop-one/start-one),
/// then while `serve` is SIGKILLed and restarted. During an outage the service answers only 2xx
/// or 503 with Retry-After; it recovers by itself within `recoveryBound` seconds; at the end
/// every acknowledged task is in PostgreSQL, succeeded, and ran once.
///
/// It stops the servers every other test uses, so it runs only when asked (HONEYCOMB_CHAOS=1),
/// in a process of its own after the rest (deploy/local/run-tests.sh).
@Suite(.enabled(if: LiveEnvironment.available && LiveEnvironment.env["HONEYCOMB_CHAOS"] == "1",
                "the outage tests run alone: HONEYCOMB_CHAOS=1, as the README's test command sets"), .serialized)
struct ChaosTests {
    /// Seconds from a dependency's return (or serve's restart) to the service ready and
    /// accepting again, at most.
    static let recoveryBound = 15.0
    static let outage = 5.0

    /// Runs deploy/local/services.sh and waits for it with waitpid: Foundation's
    /// `Process.waitUntilExit` was seen not to return here (the script left `<defunct>`).
    static func services(_ action: String, _ name: String) throws {
        let script = ServeProcess.root.appendingPathComponent("deploy/local/services.sh").path
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup(script), strdup(action), strdup(name), nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, script, nil, nil, argv, environ) == 0 else {
            throw LiveEnvironment.Failure("could not run services.sh \(action) \(name)")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        guard status == 0 else { throw LiveEnvironment.Failure("services.sh \(action) \(name) failed (\(status))") }
    }

    /// Eight submitters, each submitting again as soon as it is answered (50 ms after a refusal),
    /// and what they saw, phase by phase.
    final class Load: Sendable {
        let accepted = Mutex<[Int64]>([])
        /// Answers by phase and status ("postgres down: 503").
        let answers = Mutex<[String: Int]>([:])
        /// Answers that an outage must never give: anything but 2xx and 503-with-Retry-After.
        let wrong = Mutex<[String]>([])
        let phase = Mutex<String>("steady")
        let agent = Mutex<String>("work")
        let submitting = Atomic<Bool>(true)
        /// Submitters wait while the executors catch up between phases.
        let paused = Atomic<Bool>(false)
        /// Transport errors are expected only while serve itself is dead.
        let serveDead = Atomic<Bool>(false)
        private let submitters = Mutex<[Task<Void, Never>]>([])

        func count(_ what: String) { answers.withLock { $0["\(phase.withLock { $0 }): \(what)", default: 0] += 1 } }
        var acceptedCount: Int { accepted.withLock { $0.count } }
        func enter(_ phase: String) { self.phase.withLock { $0 = phase } }

        init(as client: APIClient) {
            submitters.withLock { $0 = (0..<8).map { _ in Task { await self.submit(as: client) } } }
        }

        private func submit(as client: APIClient) async {
            struct Submitted: Decodable { var id: Int64 }
            while submitting.load(ordering: .relaxed) {
                if paused.load(ordering: .relaxed) { try? await Task.sleep(for: .milliseconds(50)); continue }
                let agent = agent.withLock { $0 }
                do {
                    let r = try await client.exchange("POST", "/v1/tasks", json: TaskRequest(agent: agent, input: .object([:])))
                    count(String(r.status))
                    if r.status == 201, let s = try? JSONDecoder().decode(Submitted.self, from: r.body) {
                        accepted.withLock { $0.append(s.id) }
                        continue
                    }
                    if r.status != 503 || r.headers["retry-after"] == nil {
                        let phase = phase.withLock { $0 }
                        wrong.withLock { $0.append("\(phase): \(r.status) \(String(decoding: r.body.prefix(200), as: UTF8.self))") }
                    }
                } catch {
                    count("no answer")
                    if !serveDead.load(ordering: .relaxed) {
                        let phase = phase.withLock { $0 }
                        wrong.withLock { $0.append("\(phase): \(error)") }
                    }
                }
                try? await Task.sleep(for: .milliseconds(50))
            }
        }

        /// Stops the submitters and waits for their last answers.
        func finish() async {
            submitting.store(false, ordering: .relaxed)
            for s in submitters.withLock({ $0 }) { await s.value }
        }

        /// Waits until `serve` is ready and has accepted a task since `mark`: the recovery
        /// time, or nil when it did not within the bound (and 30 s more).
        func recovered(after mark: Date, ready: APIClient) async throws -> Double? {
            let before = acceptedCount
            let ok = try await LiveEnvironment.eventually(ChaosTests.recoveryBound + 30) {
                guard (try? await ready.send("GET", "/readyz"))?.status == 200 else { return false }
                return self.acceptedCount > before
            }
            return ok ? Date().timeIntervalSince(mark) : nil
        }

        /// Holds the submitters until the executors have started every acknowledged task, so
        /// that the next outage begins with no backlog (a task submitted during the storage
        /// outage then reaches an executor during it, and its bundle must be fetched then).
        func drain(_ fleets: [ExecutorFleet], _ serve: ServeProcess) async throws {
            paused.store(true, ordering: .relaxed)
            try await Task.sleep(for: .milliseconds(200))  // answers on their way
            let caughtUp = try await LiveEnvironment.eventually(60) { fleets.map(\.snapshot.started).reduce(0, +) >= self.acceptedCount }
            let behind = fleets.map { f in
                let s = f.snapshot
                return "\(f.config.executorProtocol.rawValue): started \(s.started), received \(s.runsReceived), "
                    + "held \(s.heldForSlot), stale \(s.staleSkipped), \(s.errors.count) errors, last \(s.errors.suffix(3))"
            }.joined(separator: "; ")
            var stuck = ""
            if !caughtUp, let store = try? await PostgresConnection(url: serve.databaseURL) {
                // Where the unfinished tasks are, and whose executors hold them.
                let rows = (try? await store.execute("""
                    SELECT state, coalesce(executor_id::text, '-'), count(*), min(extract(epoch from now() - updated_at))::int
                    FROM tasks WHERE state NOT IN ('succeeded', 'failed', 'lost', 'cancelled') GROUP BY 1, 2 ORDER BY 1, 2
                    """).rows) ?? []
                let owners = fleets.flatMap { f in f.ids.map { ($0, f.config.executorProtocol.rawValue) } }
                stuck = rows.map { r in
                    let owner = Int64(r[1] ?? "").flatMap { id in owners.first { $0.0 == id }?.1 } ?? ""
                    return "\(r[0] ?? "") on \(r[1] ?? "") \(owner): \(r[2] ?? "") (oldest change \(r[3] ?? "?") s ago)"
                }.joined(separator: ", ")
            }
            #expect(caughtUp, "the executors did not catch up with \(acceptedCount) acknowledged tasks within 60 s: \(behind); unfinished: \(stuck)")
            paused.store(false, ordering: .relaxed)
        }

        /// The accounting at the end: only 2xx and 503-with-Retry-After were answered (or
        /// nothing, while serve was dead); every acknowledged task is in PostgreSQL and
        /// succeeded (these agents never fail); none ran twice, by the executors' counts and
        /// by the history. Prints what the submitters saw.
        func account(_ fleets: [ExecutorFleet], _ serve: ServeProcess, _ name: String) async throws {
            let wrong = wrong.withLock { $0 }
            #expect(wrong.isEmpty, "answers an outage must not give (\(wrong.count)): \(wrong.prefix(5))")
            let ids = accepted.withLock { $0 }
            let store = try await PostgresConnection(url: serve.databaseURL)
            let idList = PGArray.of(ids.map(String.init))
            // Every task, acknowledged or not, has ended (no start is still on its way), and every
            // acknowledged one succeeded.
            let done = try await LiveEnvironment.eventually(120) {
                let open = try await store.execute(
                    "SELECT count(*) FROM tasks WHERE state NOT IN ('succeeded', 'failed', 'lost', 'cancelled')").rows[0][0]
                guard open == "0" else { return false }
                return try await store.execute("SELECT count(*) FROM tasks WHERE id = ANY($1::bigint[]) AND state = 'succeeded'",
                                               [idList]).rows[0][0] == String(ids.count)
            }
            let states = try await store.execute("SELECT state, count(*) FROM tasks WHERE id = ANY($1::bigint[]) GROUP BY 1",
                                                 [idList]).rows.map { "\($0[0]!): \($0[1]!)" }
            #expect(done, "acknowledged \(ids.count); states now \(states); log \(serve.log.path)")
            let snapshots = fleets.map(\.snapshot)
            let started = snapshots.flatMap(\.startedTasks)
            #expect(Set(started).count == started.count, "\(started.count - Set(started).count) tasks started twice")
            // Over every task of this database: a submission whose answer was lost when serve
            // was killed may have been stored and run without being acknowledged.
            let starts = try await store.execute("SELECT count(*) FROM task_status_history WHERE state = 'running'").rows[0][0]
            #expect(starts == String(Set(started).count), "history has \(starts ?? "?") starts, the executors \(Set(started).count)")
            let (failed, refused) = (snapshots.map(\.failed).reduce(0, +), snapshots.map(\.bundlesRefused).reduce(0, +))
            #expect(failed == 0 && refused == 0, "\(failed) runs failed, \(refused) bundles refused: an outage became a failure of work")
            let answers = answers.withLock { $0 }.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }
            let byProtocol = zip(fleets, snapshots).map { "\($0.config.executorProtocol.rawValue) executors \(Set($1.startedTasks).count)" }
            print("\(name): \(ids.count) tasks acknowledged, all succeeded once (\(byProtocol.joined(separator: ", ")) started); "
                  + "\(snapshots.map(\.bundleRetries).reduce(0, +)) bundle downloads retried")
            print("\(name): answers \(answers.joined(separator: ", "))")
        }
    }

    /// A sample's value in Prometheus's text exposition: `name{labels} value`.
    static func sample(_ text: String, _ series: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return line.split(separator: " ").last.flatMap { Double($0) }
        }
        return nil
    }

    /// What an SRE reads at `/metrics` while the dependency is away: it is down, the calls to
    /// it fail and are counted, and (NATS) the outbox holds what waits for it.
    static func scrapeDuringOutage(_ admin: APIClient, _ label: String) async throws -> String {
        let (status, body) = try await admin.send("GET", "/metrics")
        let text = String(decoding: body, as: UTF8.self)
        #expect(status == 200, "/metrics answered \(status) while \(label) was away: \(text.prefix(300))")
        let up = sample(text, "honeycomb_dependency_up{dependency=\"\(label)\"}")
        #expect(up == 0, "honeycomb_dependency_up for \(label) read \(up.map { "\($0)" } ?? "nothing") while it was away")
        let errors = sample(text, "honeycomb_dependency_errors_total{dependency=\"\(label)\"}") ?? 0
        #expect(errors > 0, "no failed call to \(label) was counted while it was away")
        var figure = "\(Int(errors)) failed calls counted"
        if label == "nats" {
            let outbox = sample(text, "honeycomb_outbox_messages") ?? 0
            #expect(outbox > 0, "the outbox read empty while NATS was away")
            figure += ", \(Int(outbox)) messages in the outbox"
        }
        return figure
    }

    @Test func eachDependencyStoppedAndServeKilledUnderLoadLosesNoAcknowledgedTask() async throws {
        let serve = try await ServeProcess.prepare("chaos")
        let port = ServeProcess.freePort()
        let grpcPort = ServeProcess.freePort()
        var server = try await serve.start(port: port, grpcPort: grpcPort)
        defer { if server.isRunning { server.terminate() } }
        let base = URL(string: "http://127.0.0.1:\(port)")!
        let admin = APIClient(base: base, token: try serve.token("root", .admin))
        let alice = admin.with(token: try serve.token("alice", .user))
        let publisher = try Ed25519PrivateKey()
        // "cold" is first run during the storage outage: its bundle must be fetched then.
        for agent in ["work", "cold"] { try await ServeProcess.publish(agent, as: alice, publisher: publisher) }
        // Half the executors speak REST, half gRPC (their streams broken by each kill of serve).
        let fleets = [try await ServeProcess.fleet(base, admin: admin, count: 2),
                      try await ServeProcess.fleet(base, admin: admin, count: 2, grpcPort: grpcPort)]
        let load = Load(as: alice)

        var figures: [String] = []
        func rate(_ from: Int, _ to: Int, _ seconds: Double) -> String { String(format: "%.0f/s", Double(to - from) / seconds) }
        func seconds(_ s: Double?) -> String { s.map { String(format: "%.1f s", $0) } ?? "never" }
        try await Task.sleep(for: .seconds(2))

        for dependency in ["postgres", "redis", "nats", "weed"] {
            try await load.drain(fleets, serve)
            if dependency == "weed" { load.agent.withLock { $0 = "cold" } }
            let before = load.acceptedCount
            let down = Date()
            load.enter("\(dependency) down")
            try Self.services("stop-one", dependency)
            try await Task.sleep(for: .seconds(Self.outage))
            if dependency == "weed" {
                #expect(fleets.map(\.snapshot.bundleRetries).reduce(0, +) > 0, "no executor had to fetch a bundle while storage was away: the phase proved nothing")
            }
            let label = dependency == "weed" ? "s3" : dependency
            let seen = try await Self.scrapeDuringOutage(admin, label)
            let during = load.acceptedCount
            let outageSeconds = Date().timeIntervalSince(down)
            try Self.services("start-one", dependency)
            let back = Date()
            load.enter("\(dependency) back")
            let recovery = try await load.recovered(after: back, ready: admin)
            #expect(recovery != nil && recovery! <= Self.recoveryBound,
                    "after \(dependency) came back the service was not ready and accepting within \(Self.recoveryBound) s; log \(serve.log.path)")
            let (_, after) = try await admin.send("GET", "/metrics")
            #expect(Self.sample(String(decoding: after, as: UTF8.self), "honeycomb_dependency_up{dependency=\"\(label)\"}") == 1,
                    "honeycomb_dependency_up for \(label) did not read 1 once it was back")
            figures.append("\(dependency): \(rate(before, during, outageSeconds)) accepted while down (\(seen)), ready and accepting "
                           + "\(seconds(recovery)) after it came back")
            load.enter("steady")
            try await Task.sleep(for: .seconds(2))
        }

        // serve killed outright, and started again.
        try await load.drain(fleets, serve)
        load.serveDead.store(true, ordering: .relaxed)
        load.enter("serve killed")
        kill(server.processIdentifier, SIGKILL)
        server.waitUntilExit()
        try await Task.sleep(for: .seconds(1))
        let restarted = Date()
        server = try await serve.start(port: port, grpcPort: grpcPort)
        let recovery = try await load.recovered(after: restarted, ready: admin)
        load.serveDead.store(false, ordering: .relaxed)
        figures.append("serve SIGKILLed: ready and accepting \(seconds(recovery)) after its restart began")
        #expect(recovery != nil && recovery! <= Self.recoveryBound, "serve did not recover after its restart; log \(serve.log.path)")
        load.enter("steady")
        try await Task.sleep(for: .seconds(1))
        await load.finish()

        try await load.account(fleets, serve, "chaos")
        for f in figures { print("chaos: \(f)") }
        for f in fleets { f.stop() }
        server.terminate()
        server.waitUntilExit()
    }

    /// Two replicas on one store behind a forwarder that, like a Kubernetes Service, sends new
    /// connections to the ready one; the active replica is SIGKILLed under load and the standby
    /// must lead (ready, and accepting tasks) within `recoveryBound` seconds, losing nothing.
    /// (Its first run found URLSession's re-sent, bodiless requests: APIClient's comment.)
    @Test
    func theActiveReplicaKilledUnderLoadTheStandbyLeadsAndNothingIsLost() async throws {
        let serve = try await ServeProcess.prepare("failover")
        let first = ServeProcess.freePort()
        var second = ServeProcess.freePort()
        while second == first { second = ServeProcess.freePort() }
        let active = try await serve.start(port: first)
        defer { if active.isRunning { active.terminate() } }
        let standby = try await serve.start(port: second, ready: false)
        defer { if standby.isRunning { standby.terminate() } }
        let forwarder = try ReadyForwarder(to: [first, second])
        defer { forwarder.stop() }
        let base = URL(string: "http://127.0.0.1:\(forwarder.port)")!
        let admin = APIClient(base: base, token: try serve.token("root", .admin))
        let alice = admin.with(token: try serve.token("alice", .user))
        try await ServeProcess.publish("work", as: alice, publisher: try Ed25519PrivateKey())
        let fleet = try await ServeProcess.fleet(base, admin: admin)
        let load = Load(as: alice)
        try await Task.sleep(for: .seconds(3))
        let standbyAnswer = try await serve.client(port: second).send("GET", "/readyz").status
        #expect(standbyAnswer == 503, "the standby must not be ready while the other leads")

        load.serveDead.store(true, ordering: .relaxed)  // connections to the killed replica break
        load.enter("active killed")
        let killed = Date()
        kill(active.processIdentifier, SIGKILL)
        active.waitUntilExit()
        let leads = try await LiveEnvironment.eventually(Self.recoveryBound + 30) {
            (try? await serve.client(port: second).send("GET", "/readyz"))?.status == 200
        }
        let ready = leads ? Date().timeIntervalSince(killed) : nil
        let accepting = try await load.recovered(after: killed, ready: admin)
        load.serveDead.store(false, ordering: .relaxed)
        #expect(ready != nil && ready! <= Self.recoveryBound && accepting != nil && accepting! <= Self.recoveryBound,
                "the standby did not lead within \(Self.recoveryBound) s; log \(serve.log.path)")
        load.enter("standby leads")
        try await Task.sleep(for: .seconds(3))
        await load.finish()

        try await load.account([fleet], serve, "failover")
        print("failover: the standby was ready \(ready.map { String(format: "%.1f s", $0) } ?? "never") and accepting "
              + "\(accepting.map { String(format: "%.1f s", $0) } ?? "never") after the active replica was SIGKILLed")
        fleet.stop()
        standby.terminate()
        standby.waitUntilExit()
    }
}
