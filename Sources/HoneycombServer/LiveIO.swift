import Foundation
import HoneycombCore
import HoneycombAPI
import HoneycombDriver
import HoneycombLive

/// The live driver's dispatches on JetStream: one subject per executor, the message id for
/// the stream's duplicate window.
struct JetStreamBus: DispatchBus {
    let nats: JetStreamConnection
    let channel: DispatchChannel

    func publish(_ messages: [ExecutorMessage]) async throws {
        let encoder = JSONEncoder()
        let outgoing = try messages.map { m in
            OutgoingMessage(subject: channel.subject(executor: m.executor), payload: Array(try encoder.encode(m)), id: m.messageID)
        }
        try await nats.publish(outgoing, timeout: 1)
    }
}

extension ExecutorPresence: PresenceCache {}

/// The live driver's time: the wall clock.
struct WallClockSource: PlaneClock {
    func now() -> Instant { Instant(nanoseconds: WallClock.nanoseconds()) }
}

/// The scheduler role through PostgreSQL: the holder of an advisory lock, taken on a
/// connection of its own that all of the term's writes go through. When the connection is
/// lost, so is the lock, and the old leader's writes fail: two leaders never both write.
struct PostgresElection: LeaderElection {
    /// The advisory lock whose holder is the active scheduler.
    static let leaderLock = 7204
    let databaseURL: String
    let reads: APIStore
    let bus: JetStreamBus
    let presence: ExecutorPresence
    let log: @Sendable (String) -> Void

    func campaign() async throws -> SchedulerTerm? {
        let conn = try await PostgresConnection(url: databaseURL)
        guard try await conn.execute("SELECT pg_try_advisory_lock($1)", [String(Self.leaderLock)]).rows.first?.first == "t" else {
            return nil
        }
        let io = PlaneIO(store: PostgresPlaneStore(db: conn, reads: reads), bus: bus, presence: presence, clock: WallClockSource(),
                         log: log)
        // The term holds the connection (and with it the lock) until it is given up.
        return SchedulerTerm(io: io, end: { withExtendedLifetime(conn) {} })
    }
}
