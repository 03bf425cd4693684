import HoneycombCore
import HoneycombStats

/// The event engine measured alone, with the classic "hold" model: `pending` events wait in
/// the queue; each step pops the earliest and schedules one at an exponentially distributed
/// later time. It lives here, beside `EventQueue`, so the benchmark runs the same
/// specialised code the simulator does.
public enum EngineBenchmark {
    /// Runs `events` hold steps on the simulator's queue (its 4-ary heaps); returns a checksum
    /// of the popped times so the work cannot be optimised away.
    public static func hold(pending: Int, events: Int, seed: UInt64) -> Int64 {
        var queue = EventQueue<WorldEvent>()
        return run(&queue, pending: pending, events: events, seed: seed)
    }

    /// The same on a ladder queue (twice the 4-ary heap's speed here with 10⁶ pending).
    public static func holdLadder(pending: Int, events: Int, seed: UInt64) -> Int64 {
        var queue = LadderQueue<WorldEvent>()
        return run(&queue, pending: pending, events: events, seed: seed)
    }

    /// The same on the binary heap the simulator used first.
    public static func holdBinary(pending: Int, events: Int, seed: UInt64) -> Int64 {
        var queue = BinaryEventQueue<WorldEvent>()
        return run(&queue, pending: pending, events: events, seed: seed)
    }

    private static func run<Q: FutureEvents>(_ queue: inout Q, pending: Int, events: Int, seed: UInt64) -> Int64
    where Q.Payload == WorldEvent {
        let stream = RandomStream(seed: seed)
        // Pre-draw increments: the benchmark measures the queue, not the generator.
        let increments = (0..<4096).map { _ in TimeSpan.seconds(stream.exponential(mean: 1)) }
        for k in 0..<pending {
            queue.push(.comeUp(executor: Int32(k)), at: Instant.zero + .seconds(stream.uniform() * 1))
        }
        var checksum: Int64 = 0
        for k in 0..<events {
            guard let (t, event) = queue.pop() else { break }
            checksum &+= t.nanoseconds
            queue.push(event, at: t + increments[k & 4095])
        }
        return checksum
    }
}

/// What the hold benchmark needs of a future-event list.
protocol FutureEvents {
    associatedtype Payload
    mutating func push(_ payload: Payload, at time: Instant)
    mutating func pop() -> (time: Instant, payload: Payload)?
}

extension EventQueue: FutureEvents {
    mutating func push(_ payload: Payload, at time: Instant) { push(payload, at: time, lane: nil) }
}
extension BinaryEventQueue: FutureEvents {}
extension LadderQueue: FutureEvents {}
