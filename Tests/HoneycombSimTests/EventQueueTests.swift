import HoneycombCore
import HoneycombSim
import HoneycombStats
import Testing

/// The simulator's event queue (lanes, near and far heaps) against the plain binary heap: the
/// same events in the same order, ties in the order pushed.
@Suite struct EventQueueTests {
    @Test(arguments: [UInt64(1), 2, 3, 4, 5, 6, 7, 8])
    func popsInTheOrderOfOneHeap(seed: UInt64) {
        let d = RandomStream(seed: seed)
        var queue = EventQueue<Int>(lanes: 3, farAfter: .seconds(Double(1 + d.integer(below: 2000))))
        var reference = BinaryEventQueue<Int>()
        var now = Instant.zero
        var pushed = 0, popped = 0
        for step in 0..<200_000 {
            if d.integer(below: 100) < 52 {
                // Delays of every kind: none (ties), constant per lane, short, long, far.
                let delay: TimeSpan
                var lane: Int?
                switch d.integer(below: 6) {
                case 0: delay = .zero
                case 1: lane = 0; delay = .seconds(15)
                case 2: lane = 1; delay = .milliseconds(Int64(2 + d.integer(below: 3)))
                case 3: lane = 2; delay = .seconds(Double(d.integer(below: 100)))
                case 4: delay = .milliseconds(Int64(d.integer(below: 5_000_000)))
                default: delay = .seconds(Double(d.integer(below: 3600 * 24)))
                }
                queue.push(step, at: now + delay, lane: lane)
                reference.push(step, at: now + delay)
                pushed += 1
            } else {
                let a = queue.pop(), b = reference.pop()
                #expect(a?.time == b?.time && a?.payload == b?.payload, "step \(step): \(String(describing: a)) vs \(String(describing: b))")
                if let b { now = b.time; popped += 1 }
            }
        }
        while let b = reference.pop() {
            let a = queue.pop()
            #expect(a?.time == b.time && a?.payload == b.payload)
            popped += 1
        }
        #expect(queue.pop() == nil)
        #expect(popped == pushed)
    }
}
