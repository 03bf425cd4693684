import Foundation
import HoneycombLive
@testable import HoneycombServer
@testable import HoneycombFleet
import HoneycombAPI
import Synchronization
import Testing

/// `honeycomb serve` as a real process, killed with SIGKILL in the middle of load and started
/// again: every task it acknowledged is still there and runs to its end, once.
@Suite(.enabled(if: LiveEnvironment.available, "servers not started: run the README's test command"), .serialized)
struct KillRestartTests {
    @Test func killedAndRestartedInTheMiddleOfLoadItLosesNoAcceptedTask() async throws {
        let serve = try await ServeProcess.prepare("kill")
        let (key, db, log) = (serve.key, serve.databaseURL, serve.log)
        let port = ServeProcess.freePort()
        var server = try await serve.start(port: port)
        defer { if server.isRunning { server.terminate() } }

        let base = URL(string: "http://127.0.0.1:\(port)")!
        let authority = TokenAuthority(signingKey: key)
        let admin = APIClient(base: base, token: try authority.issue(subject: "root", role: .admin, ttl: 3600))
        let alice = admin.with(token: try authority.issue(subject: "alice", role: .user, ttl: 3600))
        let publisher = try Ed25519PrivateKey()
        try await ServeProcess.publish("work", as: alice, publisher: publisher)
        let fleet = try await ServeProcess.fleet(base, admin: admin)

        // Eight submitters keep submitting; only ids answered with 201 count as accepted.
        final class Load: Sendable {
            let accepted = Mutex<[Int64]>([])
            let refused = Atomic<Int>(0)
            let submitting = Atomic<Bool>(true)
        }
        let load = Load()
        let submitters = (0..<8).map { _ in
            Task {
                struct Submitted: Decodable { var id: Int64 }
                while load.submitting.load(ordering: .relaxed) {
                    do {
                        let s: Submitted = try await alice.call("POST", "/v1/tasks", json: TaskRequest(agent: "work", input: .object([:])))
                        load.accepted.withLock { $0.append(s.id) }
                    } catch {
                        load.refused.add(1, ordering: .relaxed)
                        try? await Task.sleep(for: .milliseconds(20))
                    }
                }
            }
        }
        try await Task.sleep(for: .seconds(1.5))
        let beforeKill = load.accepted.withLock { $0.count }
        kill(server.processIdentifier, SIGKILL)
        server.waitUntilExit()
        try await Task.sleep(for: .seconds(0.5))
        server = try await serve.start(port: port)
        try await Task.sleep(for: .seconds(1.5))
        load.submitting.store(false, ordering: .relaxed)
        for s in submitters { await s.value }
        let ids = load.accepted.withLock { $0 }
        #expect(beforeKill > 20 && ids.count > beforeKill, "accepted \(beforeKill) before the kill, \(ids.count) in all")
        #expect(load.refused.load(ordering: .relaxed) > 0, "some submissions should have met the dead service")

        // Every accepted task is stored and runs to success.
        let store = try await PostgresConnection(url: db)
        let idList = PGArray.of(ids.map(String.init))
        let done = try await LiveEnvironment.eventually(120) {
            try await store.execute("SELECT count(*) FROM tasks WHERE id = ANY($1::bigint[]) AND state = 'succeeded'",
                                    [idList]).rows[0][0] == String(ids.count)
        }
        let states = try await store.execute("SELECT state, count(*) FROM tasks WHERE id = ANY($1::bigint[]) GROUP BY 1",
                                             [idList]).rows.map { "\($0[0]!): \($0[1]!)" }
        #expect(done, "accepted \(ids.count); states now \(states); log \(log.path)")
        // None ran twice: each task was started by an executor once.
        let started = fleet.snapshot.startedTasks
        #expect(Set(started).count == started.count, "\(started.count - Set(started).count) tasks started twice")
        fleet.stop()
        server.terminate()
        server.waitUntilExit()
        #expect(server.terminationStatus == 0, "serve did not stop cleanly on SIGTERM; log \(log.path)")
    }
}
