import Foundation
import HoneycombCore
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
