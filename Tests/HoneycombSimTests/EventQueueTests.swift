import HoneycombCore
@testable import HoneycombSim
import HoneycombStats
import Testing

/// The simulator's event queue (lanes, near and far heaps) and the ladder queue, against
/// the plain binary heap: the same events in the same order, ties in the order pushed.
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

    /// The ladder where it splits and sorts: bursts at one instant (a bucket no split can
    /// thin), clusters a nanosecond apart and delays of a few nanoseconds (rungs whose rounded
    /// widths reach past their ends, down to the deepest allowed), pushes into the span of the
    /// bucket in hand and before it, and the far future, in phases that fill the queue and
    /// then drain it.
    @Test(arguments: [UInt64(11), 12, 13, 14, 15, 16])
    func ladderSplitsAndSortsInTheOrderOfOneHeap(seed: UInt64) {
        let d = RandomStream(seed: seed)
        var ladder = LadderQueue<Int>()
        var reference = BinaryEventQueue<Int>()
        var now = Instant.zero
        var pushed = 0, mismatches = 0
        func push(_ at: Instant) {
            ladder.push(pushed, at: at)
            reference.push(pushed, at: at)
            pushed += 1
        }
        func popBoth() -> Bool {
            let a = ladder.pop(), b = reference.pop()
            if a?.time != b?.time || a?.payload != b?.payload {
                mismatches += 1
                if mismatches <= 3 { Issue.record("pop \(pushed): \(String(describing: a)) vs \(String(describing: b))") }
            }
            if let b { now = b.time }
            return b != nil
        }
        for phase in 0..<12 {
            let filling = phase % 3 != 2
            for _ in 0..<(filling ? 12_000 : 40_000) {
                if d.integer(below: 100) < (filling ? 55 : 30) {
                    let at = now + .milliseconds(Int64(d.integer(below: 1000)))
                    switch d.integer(below: 8) {
                    case 0: for _ in 0..<(1 + d.integer(below: 100)) { push(at) }
                    case 1: for k in 0..<(1 + d.integer(below: 100)) { push(at + TimeSpan(nanoseconds: Int64(k % 7))) }
                    case 2: push(now)
                    case 3, 4: push(now + TimeSpan(nanoseconds: Int64(1 + d.integer(below: 2000))))
                    case 5: push(now + .seconds(d.exponential(mean: 1)))
                    case 6: push(now + .seconds(Double(d.integer(below: 3600 * 24 * 30))))
                    default: push(now + .milliseconds(Int64(d.integer(below: 10))))
                    }
                } else {
                    _ = popBoth()
                }
            }
        }
        while popBoth() {}
        #expect(mismatches == 0, "\(mismatches) of \(pushed) events out of order")
        #expect(ladder.pop() == nil && ladder.count == 0)
    }

    /// The ladder's layout checked after every push and pop, with buckets of a few events (so
    /// it splits at every refill, down to the deepest rung allowed) and times a few
    /// nanoseconds apart (so rounded bucket widths reach past the ends of their rungs): a
    /// misplaced event or a bottom that takes in its parent's span is found at the step that
    /// makes it, before any pop comes out of order.
    @Test(arguments: [(UInt64(21), 2), (22, 3), (23, 4), (24, 6), (25, 9)])
    func ladderLayoutHoldsAtEveryStep(seed: UInt64, bucketSize: Int) {
        let d = RandomStream(seed: seed)
        var ladder = LadderQueue<Int>(bucketSize: bucketSize)
        var reference = BinaryEventQueue<Int>()
        var now: Int64 = 0
        var pushed = 0, problems: [String] = []
        func check(_ step: String) {
            if problems.count < 3, let v = ladder.violatedInvariant() { problems.append("after \(step): \(v)") }
        }
        for phase in 0..<8 {
            for _ in 0..<3_000 {
                if d.integer(below: 100) < (phase % 2 == 0 ? 60 : 35) {
                    let spread: Int64 = [3, 17, 1_000, 1_000_000][d.integer(below: 4)]
                    let at = now + Int64(d.integer(below: Int(spread)))
                    ladder.push(pushed, at: Instant(nanoseconds: at))
                    reference.push(pushed, at: Instant(nanoseconds: at))
                    pushed += 1
                    check("push \(pushed) at \(at)")
                } else {
                    let a = ladder.pop(), b = reference.pop()
                    if a?.time != b?.time || a?.payload != b?.payload, problems.count < 3 {
                        problems.append("pop: \(String(describing: a)) vs \(String(describing: b))")
                    }
                    if let b { now = b.time.nanoseconds }
                    check("pop at \(now)")
                }
            }
        }
        while let b = reference.pop() {
            let a = ladder.pop()
            if a?.time != b.time || a?.payload != b.payload, problems.count < 3 { problems.append("drain: \(String(describing: a)) vs \(b)") }
            check("drain at \(b.time)")
        }
        #expect(problems.isEmpty, "\(problems)")
        #expect(ladder.pop() == nil && ladder.count == 0)
    }
}
