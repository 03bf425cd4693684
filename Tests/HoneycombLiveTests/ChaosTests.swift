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

    /// What the submitters saw, phase by phase.
    final class Load: Sendable {
        let accepted = Mutex<[Int64]>([])
        /// Answers by phase and status ("postgres down: 503").
        let answers = Mutex<[String: Int]>([:])
        /// Answers that an outage must never give: anything but 2xx and 503-with-Retry-After.
        let wrong = Mutex<[String]>([])
        let phase = Mutex<String>("steady")
        let agent = Mutex<String>("work")
        let submitting = Atomic<Bool>(true)
        /// Transport errors are expected only while serve itself is dead.
        let serveDead = Atomic<Bool>(false)

        func count(_ what: String) { answers.withLock { $0["\(phase.withLock { $0 }): \(what)", default: 0] += 1 } }
        var acceptedCount: Int { accepted.withLock { $0.count } }
    }

    @Test func eachDependencyStoppedAndServeKilledUnderLoadLosesNoAcknowledgedTask() async throws {
        let serve = try await ServeProcess.prepare("chaos")
        let port = ServeProcess.freePort()
        var server = try await serve.start(port: port)
        defer { if server.isRunning { server.terminate() } }
        let base = URL(string: "http://127.0.0.1:\(port)")!
        let admin = APIClient(base: base, token: try serve.token("root", .admin))
        let alice = admin.with(token: try serve.token("alice", .user))
        let publisher = try Ed25519PrivateKey()
        // "cold" is first run during the storage outage: its bundle must be fetched then.
        for agent in ["work", "cold"] { try await ServeProcess.publish(agent, as: alice, publisher: publisher) }
        let fleet = try await ServeProcess.fleet(base, admin: admin)

        let load = Load()
        let submitters = (0..<8).map { _ in
            Task {
                struct Submitted: Decodable { var id: Int64 }
                while load.submitting.load(ordering: .relaxed) {
                    let agent = load.agent.withLock { $0 }
                    do {
                        let r = try await alice.exchange("POST", "/v1/tasks", json: TaskRequest(agent: agent, input: .object([:])))
                        load.count(String(r.status))
                        if r.status == 201, let s = try? JSONDecoder().decode(Submitted.self, from: r.body) {
                            load.accepted.withLock { $0.append(s.id) }
                            continue
                        }
                        if r.status != 503 || r.headers["retry-after"] == nil {
                            let phase = load.phase.withLock { $0 }
                            load.wrong.withLock { $0.append("\(phase): \(r.status) \(String(decoding: r.body.prefix(200), as: UTF8.self))") }
                        }
                    } catch {
                        load.count("no answer")
                        if !load.serveDead.load(ordering: .relaxed) {
                            let phase = load.phase.withLock { $0 }
                            load.wrong.withLock { $0.append("\(phase): \(error)") }
                        }
                    }
                    try? await Task.sleep(for: .milliseconds(50))
                }
            }
        }

        /// Waits until serve is ready and has accepted a task since `since`: the recovery time.
        func recovered(after mark: Date, acceptedBefore: Int) async throws -> Double? {
            let ok = try await LiveEnvironment.eventually(Self.recoveryBound + 30) {
                guard (try? await admin.send("GET", "/readyz"))?.status == 200 else { return false }
                return load.acceptedCount > acceptedBefore
            }
            return ok ? Date().timeIntervalSince(mark) : nil
        }

        var figures: [String] = []
        func rate(_ from: Int, _ to: Int, _ seconds: Double) -> String { String(format: "%.0f/s", Double(to - from) / seconds) }
        try await Task.sleep(for: .seconds(2))

        for dependency in ["postgres", "redis", "nats", "weed"] {
            if dependency == "weed" { load.agent.withLock { $0 = "cold" } }
            let before = load.acceptedCount
            let down = Date()
            load.phase.withLock { $0 = "\(dependency) down" }
            try Self.services("stop-one", dependency)
            try await Task.sleep(for: .seconds(Self.outage))
            let during = load.acceptedCount
            let outageSeconds = Date().timeIntervalSince(down)
            try Self.services("start-one", dependency)
            let back = Date()
            load.phase.withLock { $0 = "\(dependency) back" }
            let recovery = try await recovered(after: back, acceptedBefore: load.acceptedCount)
            #expect(recovery != nil && recovery! <= Self.recoveryBound,
                    "after \(dependency) came back the service was not ready and accepting within \(Self.recoveryBound) s; log \(serve.log.path)")
            figures.append("\(dependency): \(rate(before, during, outageSeconds)) accepted while down, ready and accepting "
                           + (recovery.map { String(format: "%.1f s", $0) } ?? "never") + " after it came back")
            load.phase.withLock { $0 = "steady" }
            try await Task.sleep(for: .seconds(2))
        }

        // serve killed outright, and started again.
        load.serveDead.store(true, ordering: .relaxed)
        load.phase.withLock { $0 = "serve killed" }
        kill(server.processIdentifier, SIGKILL)
        server.waitUntilExit()
        try await Task.sleep(for: .seconds(1))
        let restarted = Date()
        server = try await serve.start(port: port)
        let recovery = try await recovered(after: restarted, acceptedBefore: load.acceptedCount)
        load.serveDead.store(false, ordering: .relaxed)
        figures.append("serve SIGKILLed: ready and accepting " + (recovery.map { String(format: "%.1f s", $0) } ?? "never")
                       + " after its restart began")
        #expect(recovery != nil && recovery! <= Self.recoveryBound, "serve did not recover after its restart; log \(serve.log.path)")
        load.phase.withLock { $0 = "steady" }
        try await Task.sleep(for: .seconds(1))
        load.submitting.store(false, ordering: .relaxed)
        for s in submitters { await s.value }

        let wrong = load.wrong.withLock { $0 }
        #expect(wrong.isEmpty, "answers an outage must not give (\(wrong.count)): \(wrong.prefix(5))")
        let ids = load.accepted.withLock { $0 }
        // Every acknowledged task is stored and succeeds (these agents never fail).
        let store = try await PostgresConnection(url: serve.databaseURL)
        let idList = PGArray.of(ids.map(String.init))
        let done = try await LiveEnvironment.eventually(120) {
            try await store.execute("SELECT count(*) FROM tasks WHERE id = ANY($1::bigint[]) AND state = 'succeeded'",
                                    [idList]).rows[0][0] == String(ids.count)
        }
        let states = try await store.execute("SELECT state, count(*) FROM tasks WHERE id = ANY($1::bigint[]) GROUP BY 1",
                                             [idList]).rows.map { "\($0[0]!): \($0[1]!)" }
        #expect(done, "acknowledged \(ids.count); states now \(states); log \(serve.log.path)")
        // None ran twice: the executors started each once, and the history says so too.
        let snapshot = fleet.snapshot
        let started = snapshot.startedTasks
        #expect(Set(started).count == started.count, "\(started.count - Set(started).count) tasks started twice")
        let starts = try await store.execute(
            "SELECT count(*) FROM task_status_history WHERE task_id = ANY($1::bigint[]) AND state = 'running'", [idList]).rows[0][0]
        #expect(starts == String(Set(started).count), "history has \(starts ?? "?") starts, the executors \(Set(started).count)")
        #expect(snapshot.failed == 0 && snapshot.bundlesRefused == 0,
                "\(snapshot.failed) runs failed, \(snapshot.bundlesRefused) bundles refused: an outage became a failure of work")
        let answers = load.answers.withLock { $0 }.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }
        print("chaos: \(ids.count) tasks acknowledged, all succeeded once; \(snapshot.bundleRetries) bundle downloads retried")
        for f in figures { print("chaos: \(f)") }
        print("chaos: answers \(answers.joined(separator: ", "))")
        fleet.stop()
        server.terminate()
        server.waitUntilExit()
    }
}
