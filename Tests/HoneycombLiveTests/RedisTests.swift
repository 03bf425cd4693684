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
        // Judged by Redis's own clock (PTTL), not by sleeping, and with TTLs of an hour: the
        // simulator's tests keep the cooperative pool busy, and this test may be suspended for
        // minutes between two awaits (seen in CI here: over two).
        let redis = try RedisConnection(url: Self.url)
        let presence = ExecutorPresence(redis: redis)
        let e = Self.ids(1)[0]
        let key = "honeycomb:presence:executor:\(e)"
        try await presence.mark(e, incarnation: 3, ttl: 3600)
        #expect(try await presence.incarnation(of: e) == 3)
        guard case .integer(let first) = try await redis.command(["PTTL", key]) else { Issue.record("no TTL"); return }
        #expect(first > 0 && first <= 3_600_000)
        try await redis.command(["PEXPIRE", key, "1000"])          // as if most of it had passed
        try await presence.mark(e, incarnation: 4, ttl: 3600)      // a heartbeat renews it
        guard case .integer(let renewed) = try await redis.command(["PTTL", key]) else { Issue.record("no TTL"); return }
        #expect(renewed > 1000)
        #expect(try await presence.incarnation(of: e) == 4)
        // Silent past its TTL: gone (polled, with a generous deadline).
        try await presence.mark(e, incarnation: 4, ttl: 0.05)
        var gone = false
        for _ in 0..<200 where !gone {
            gone = try await presence.incarnation(of: e) == nil
            if !gone { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(gone)
    }

    @Test func theFleetPresentIsListedInIdOrder() async throws {
        let presence = ExecutorPresence(redis: try RedisConnection(url: Self.url))
        let ids = Self.ids(5)
        for e in ids.reversed() { try await presence.mark(e, incarnation: 1, ttl: 3600) }
        try await presence.remove(ids[2])
        let present = try await presence.present().filter(ids.contains)
        #expect(present == [ids[0], ids[1], ids[3], ids[4]])
        for e in ids { try await presence.remove(e) }
    }

    @Test func aConnectionTheServerDroppedReconnects() async throws {
        let redis = try RedisConnection(url: Self.url)
        let other = try RedisConnection(url: Self.url)
        guard case .integer(let id) = try await redis.command(["CLIENT", "ID"]) else { Issue.record("no client id"); return }
        try await other.command(["CLIENT", "KILL", "ID", String(id)])
        await #expect(throws: RedisError.self) { try await redis.command(["PING"]) }  // the one that meets it
        #expect(try await redis.command(["PING"]) == .status("PONG"))
    }

    @Test func errorsAreClear() async throws {
        let redis = try RedisConnection(url: Self.url)
        await #expect(throws: RedisError.self) { try await redis.command(["NOSUCHCOMMAND"]) }
        #expect(throws: RedisError.self) { _ = try RedisConnection(url: "redis://127.0.0.1:1", timeout: 1) }
        #expect(throws: RedisError.self) { _ = try RedisConnection(url: "http://nope") }
    }
}
