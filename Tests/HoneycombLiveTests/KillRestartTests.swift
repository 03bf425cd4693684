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
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// A free port on 127.0.0.1 (bound, read, released).
    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    /// Starts `honeycomb serve` and waits until it is the ready, active scheduler.
    static func serve(port: Int, databaseURL: String, keyFile: String, namespace: String, log: URL) async throws -> Process {
        let p = Process()
        p.executableURL = root.appendingPathComponent(".build/debug/honeycomb")
        p.arguments = ["serve", "--port", String(port), "--database-url", databaseURL, "--signing-key", keyFile,
                       "--namespace", namespace, "--heartbeat-timeout", "10"]
        if !FileManager.default.fileExists(atPath: log.path) { FileManager.default.createFile(atPath: log.path, contents: nil) }
        let handle = try FileHandle(forWritingTo: log)
        handle.seekToEndOfFile()
        p.standardOutput = handle
        p.standardError = handle
        try p.run()
        let probe = APIClient(base: URL(string: "http://127.0.0.1:\(port)")!)
        let ready = try await LiveEnvironment.eventually(60) {
            (try? await probe.send("GET", "/readyz"))?.status == 200
        }
        #expect(ready, "serve did not become ready; its log: \(log.path)")
        return p
    }

    @Test func killedAndRestartedInTheMiddleOfLoadItLosesNoAcceptedTask() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("honeycomb-kill-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let key = try Ed25519PrivateKey()
        let keyFile = dir.appendingPathComponent("key").path
        try Encoding.hex(key.seed).write(toFile: keyFile, atomically: true, encoding: .utf8)
        let db = try await LiveEnvironment.freshDatabaseURL()
        let namespace = "k\(UInt32.random(in: 0...UInt32.max))"
        let port = Self.freePort()
        let log = dir.appendingPathComponent("serve.log")
        var server = try await Self.serve(port: port, databaseURL: db, keyFile: keyFile, namespace: namespace, log: log)
        defer { if server.isRunning { server.terminate() } }

        let base = URL(string: "http://127.0.0.1:\(port)")!
        let authority = TokenAuthority(signingKey: key)
        let admin = APIClient(base: base, token: try authority.issue(subject: "root", role: .admin, ttl: 3600))
        let alice = admin.with(token: try authority.issue(subject: "alice", role: .user, ttl: 3600))
        let publisher = try Ed25519PrivateKey()
        let bundle = LiveHarness.wasm("work")
        struct Published: Decodable { var sha256: String }
        let _: Published = try await alice.call("POST", "/v1/agents/work/versions", json: PublishRequest(
            version: "1", description: nil, cpuMillis: 10, memoryBytes: 1, labels: nil, maxAttempts: 3,
            profile: .object(["runtimeMs": .number(30)]), bundle: Data(bundle).base64EncodedString(),
            signature: Encoding.hex(try publisher.sign(bundle)), publisherKey: Encoding.hex(publisher.publicKey.raw)))
        var fc = FleetConfiguration(controlPlane: base, natsURL: LiveEnvironment.env["HONEYCOMB_NATS_URL"]!,
                                    adminToken: admin.token!, count: 4)
        fc.heartbeatInterval = 0.5
        fc.slots = 16
        let fleet = try await ExecutorFleet(config: fc)
        try await fleet.start()

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
        server = try await Self.serve(port: port, databaseURL: db, keyFile: keyFile, namespace: namespace, log: log)
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
