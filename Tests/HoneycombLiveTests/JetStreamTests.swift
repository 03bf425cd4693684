import Foundation
import HoneycombLive
import Synchronization
import Testing

/// JetStream dispatch against the real nats-server the README's test command starts.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["HONEYCOMB_NATS_URL"] != nil,
                "NATS not started: run the README's test command"))
struct JetStreamTests {
    static let url = ProcessInfo.processInfo.environment["HONEYCOMB_NATS_URL"] ?? ""

    /// Collects deliveries; the test decides what to acknowledge.
    final class Inbox: Sendable {
        let got = Mutex<[JetStreamDelivery]>([])
        func count() -> Int { got.withLock { $0.count } }
        func all() -> [JetStreamDelivery] { got.withLock { $0 } }
    }

    /// Polls `condition` for up to a minute (generous: the simulator's tests share the machine).
    static func eventually(_ condition: () -> Bool) async throws -> Bool {
        for _ in 0..<1200 {
            if condition() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return condition()
    }

    @Test func aDispatchIsDeliveredOnceEvenWhenPublishedTwice() async throws {
        let nats = try await JetStreamConnection.connect(url: Self.url)
        let stream = "TEST_\(UInt32.random(in: 0...UInt32.max))"
        try await nats.ensureStream(name: stream, subjects: ["\(stream.lowercased()).>"])
        try await nats.ensureStream(name: stream, subjects: ["\(stream.lowercased()).>"])  // idempotent
        let subject = "\(stream.lowercased()).executor.7"
        let message = OutgoingMessage(subject: subject, payload: Array("task 1 attempt 1".utf8), id: "1-1")
        try await nats.publish([message])
        try await nats.publish([message])  // a retried batch: deduplicated by its id
        let inbox = Inbox()
        let sub = try await nats.subscribe(stream: stream, subject: subject, durable: "executor-7", ackWait: 30) { d in
            inbox.got.withLock { $0.append(d) }
            d.ack()
        }
        #expect(try await Self.eventually { inbox.count() >= 1 })
        try await Task.sleep(for: .milliseconds(300))
        #expect(inbox.count() == 1)
        #expect(inbox.all().first.map { String(decoding: $0.payload, as: UTF8.self) } == "task 1 attempt 1")
        sub.close()
    }

    @Test func anUnacknowledgedDispatchIsDeliveredAgain() async throws {
        let nats = try await JetStreamConnection.connect(url: Self.url)
        let stream = "TEST_\(UInt32.random(in: 0...UInt32.max))"
        try await nats.ensureStream(name: stream, subjects: ["\(stream.lowercased()).>"])
        let subject = "\(stream.lowercased()).executor.3"
        try await nats.publish([OutgoingMessage(subject: subject, payload: [1], id: "9-1")])
        let inbox = Inbox()
        // The first delivery is left unacknowledged, as by an executor that died holding it.
        let sub = try await nats.subscribe(stream: stream, subject: subject, durable: "executor-3", ackWait: 1) { d in
            inbox.got.withLock { $0.append(d) }
            if d.deliveryCount > 1 { d.ack() }
        }
        #expect(try await Self.eventually { inbox.count() >= 2 })
        #expect(inbox.all().map(\.deliveryCount).prefix(2) == [1, 2])
        sub.close()
    }

    @Test func errorsAreClear() async throws {
        #expect(throws: NatsError.self) { _ = try JetStreamConnection(url: "nats://127.0.0.1:1") }
        let nats = try await JetStreamConnection.connect(url: Self.url)
        await #expect(throws: NatsError.self) {
            try await nats.publish([OutgoingMessage(subject: "no.stream.listens.here", payload: [1], id: "x")], timeout: 2)
        }
    }
}

/// S3 against the real SeaweedFS the README's test command starts, with SigV4 checked.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["HONEYCOMB_S3_URL"] != nil,
                "SeaweedFS not started: run the README's test command"))
struct S3Tests {
    static let env = ProcessInfo.processInfo.environment
    static func client(secret: String? = nil) -> S3Client {
        S3Client(endpoint: URL(string: env["HONEYCOMB_S3_URL"] ?? "http://127.0.0.1:1")!,
                 accessKey: env["HONEYCOMB_S3_ACCESS_KEY"] ?? "", secretKey: secret ?? env["HONEYCOMB_S3_SECRET_KEY"] ?? "")
    }

    @Test func objectsGoInAndComeBackOut() async throws {
        let s3 = Self.client()
        let bucket = "test-\(UInt32.random(in: 0...UInt32.max))"
        try await s3.createBucket(bucket)
        try await s3.createBucket(bucket)  // already ours: fine
        let bytes = (0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try await s3.put(bucket: bucket, key: "agents/echo/1.0 (beta)/bundle.wasm", data: bytes)
        #expect(try await s3.get(bucket: bucket, key: "agents/echo/1.0 (beta)/bundle.wasm") == bytes)
        #expect(try await s3.get(bucket: bucket, key: "agents/none") == nil)
    }

    @Test func aWrongSecretIsRefused() async throws {
        let s3 = Self.client(secret: "not-the-secret")
        await #expect(throws: S3Error.self) { try await s3.put(bucket: "honeycomb-bundles", key: "x", data: [1]) }
    }
}
