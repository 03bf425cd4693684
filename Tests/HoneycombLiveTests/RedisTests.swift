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

    @Test func aPipelineAnswersEachCommandInOrderAndAnErrorStaysWithItsCommand() async throws {
        let redis = try RedisConnection(url: Self.url)
        let k = "honeycomb:test:pipeline:\(Self.ids(1)[0])"
        let replies = try await redis.pipeline([["SET", k, "a"], ["INCR", k], ["GET", k], ["DEL", k], ["GET", k]])
        #expect(replies.count == 5)
        #expect(try replies[0].get() == .status("OK"))
        guard case .failure(let e) = replies[1] else { Issue.record("INCR of a string answered \(replies[1])"); return }
        #expect(e.description.contains("not an integer"))
        #expect(try replies[2].get() == .string("a"))
        #expect(try replies[3].get() == .integer(1))
        #expect(try replies[4].get() == .null)
        // Nothing was left unread: the next command hears its own answer.
        #expect(try await redis.command(["PING"]) == .status("PONG"))
        #expect(try await redis.pipeline([]).isEmpty)
    }

    @Test func aFleetIsMarkedInBatchesAndARefillKeepsWhatIsThere() async throws {
        let redis = try RedisConnection(url: Self.url)
        let presence = ExecutorPresence(redis: redis)
        // More than one pipeline's worth, so that the batch is cut.
        let ids = Self.ids(ExecutorPresence.pipelineDepth * 2 + 7)
        try await presence.mark(ids.map { ($0, UInt32($0 % 1000)) }, ttl: 3600)
        #expect(try await presence.present().filter(Set(ids).contains) == ids)
        for e in [ids[0], ids[ExecutorPresence.pipelineDepth], ids.last!] {
            #expect(try await presence.incarnation(of: e) == UInt32(e % 1000))
        }
        // A refill of the fleet: the keys there keep their incarnation and time to live; the
        // ones gone come back with incarnation 0.
        let kept = ids[3], gone = [ids[4], ids[ExecutorPresence.pipelineDepth + 1]]
        try await redis.command(["PEXPIRE", "honeycomb:presence:executor:\(kept)", "1800000"])
        for e in gone { try await presence.remove(e) }
        try await presence.markIfAbsent(ids, ttl: 3600)
        #expect(try await presence.present().filter(Set(ids).contains) == ids)
        #expect(try await presence.incarnation(of: kept) == UInt32(kept % 1000))
        guard case .integer(let ttl) = try await redis.command(["PTTL", "honeycomb:presence:executor:\(kept)"]) else {
            Issue.record("no TTL"); return
        }
        #expect(ttl > 0 && ttl <= 1_800_000)  // not renewed to the refill's hour
        for e in gone { #expect(try await presence.incarnation(of: e) == 0) }
        for e in ids { try await presence.remove(e) }
    }

    @Test func theRefillsMarkLastsUntilRedisLosesIt() async throws {
        let redis = try RedisConnection(url: Self.url)
        let presence = ExecutorPresence(redis: redis, namespace: "honeycomb-test-\(Self.ids(1)[0])")
        #expect(try await presence.refilled() == false)
        try await presence.noteRefilled()
        #expect(try await presence.refilled())
        guard case .integer(let ttl) = try await redis.command(["PTTL", "\(presence.namespace):presence:refilled"]) else {
            Issue.record("no PTTL"); return
        }
        #expect(ttl == -1)  // no time to live: only a loss of the data takes it
        try await redis.command(["DEL", "\(presence.namespace):presence:refilled"])
        #expect(try await presence.refilled() == false)
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
