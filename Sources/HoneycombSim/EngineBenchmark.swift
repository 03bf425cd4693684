import HoneycombCore
import HoneycombStats

/// The event engine measured alone, with the classic "hold" model: `pending` events wait in
/// the heap; each step pops the earliest and schedules one at an exponentially distributed
/// later time. It lives here, beside `EventQueue`, so the benchmark runs the same
/// specialised code the simulator does.
public enum EngineBenchmark {
    /// Runs `events` hold steps; returns a checksum of the popped times so the work cannot be
    /// optimised away.
    public static func hold(pending: Int, events: Int, seed: UInt64) -> Int64 {
        let stream = RandomStream(seed: seed)
        var queue = EventQueue<WorldEvent>()
        // Pre-draw increments: the benchmark measures the heap, not the generator.
        let increments = (0..<4096).map { _ in TimeSpan.seconds(stream.exponential(mean: 1)) }
        for k in 0..<pending { queue.push(.comeUp(executor: Int32(k)), at: Instant.zero + increments[k % 4096]) }
        var checksum: Int64 = 0
        for k in 0..<events {
            guard let (t, event) = queue.pop() else { break }
            checksum &+= t.nanoseconds
            queue.push(event, at: t + increments[k & 4095])
        }
        return checksum
    }
}
