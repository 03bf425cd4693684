import Foundation
import HoneycombLive
import Testing

/// Redis presence against the real server the README's test command starts.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["HONEYCOMB_REDIS_URL"] != nil,
                "Redis not started: run the README's test command"))
struct RedisTests {
    static let url = ProcessInfo.processInfo.environment["HONEYCOMB_REDIS_URL"] ?? ""

    /// Executor ids no other test uses.
    static func ids(_ n: Int) -> [Int64] {
        let base = Int64.random(in: 1_000_000_000...9_000_000_000)
        return (0..<Int64(n)).map { base + $0 }
    }

    @Test func presenceLastsAsLongAsItsHeartbeatsRenewIt() async throws {
        let presence = ExecutorPresence(redis: try RedisConnection(url: Self.url))
        let e = Self.ids(1)[0]
        // Margins of hundreds of milliseconds, so that a loaded machine cannot flip the result.
        try await presence.mark(e, incarnation: 3, ttl: 1.5)
        #expect(try await presence.incarnation(of: e) == 3)
        try await Task.sleep(for: .milliseconds(900))
        try await presence.mark(e, incarnation: 3, ttl: 1.5)   // a heartbeat renews it
        try await Task.sleep(for: .milliseconds(900))           // 1.8 s after the first mark
        #expect(try await presence.incarnation(of: e) == 3)
        try await Task.sleep(for: .milliseconds(1200))          // silent past its TTL
        #expect(try await presence.incarnation(of: e) == nil)
    }

    @Test func theFleetPresentIsListedInIdOrder() async throws {
        let presence = ExecutorPresence(redis: try RedisConnection(url: Self.url))
        let ids = Self.ids(5)
        for e in ids.reversed() { try await presence.mark(e, incarnation: 1, ttl: 30) }
        try await presence.remove(ids[2])
        let present = try await presence.present().filter(ids.contains)
        #expect(present == [ids[0], ids[1], ids[3], ids[4]])
        for e in ids { try await presence.remove(e) }
    }

    @Test func errorsAreClear() async throws {
        let redis = try RedisConnection(url: Self.url)
        await #expect(throws: RedisError.self) { try await redis.command(["NOSUCHCOMMAND"]) }
        #expect(throws: RedisError.self) { _ = try RedisConnection(url: "redis://127.0.0.1:1", timeout: 1) }
        #expect(throws: RedisError.self) { _ = try RedisConnection(url: "http://nope") }
    }
}
