import HoneycombCore

/// The simulator's future: events ordered by (time, sequence number), in a 4-ary min-heap
/// and a few FIFO lanes.
///
/// The sequence number breaks ties in insertion order, so two events at the same instant
/// always run in the order they were scheduled, whatever the layout.
///
/// Most of a large fleet's events are scheduled a constant delay ahead: the next heartbeat
/// one interval on, a message one network delay on. Such events arrive in time order, so
/// they need no heap: a push names a lane, and goes to the end of the lane when it is no
/// earlier than the lane's last event (else to the heap). Each lane then stays sorted by
/// (time, sequence), and `pop` takes the earliest of the heap's top and the lanes' heads —
/// the order of one heap, exactly, at O(1) for lane events. The heap keeps what is left
/// (task completions, timers). Four children a node rather than two: half the levels for a
/// heap too big for the cache. Measured (2-core EPYC, release): on the hold model the binary
/// heap is faster with 10⁴ events pending (1.25×) and the 4-ary one with 10⁶ (1.07×,
/// `honeycomb bench engine`); in the simulator at 10⁵ executors 4-ary gives 1.90 M events/s,
/// binary 1.78 M, 8-ary 1.83 M (`bench scale`). A calendar queue in place of the near heap
/// (1,024 buckets, each sorted when its turn comes) measured slower: 1.13 M events/s at 10⁵
/// executors with 1 s buckets, 1.70 M with 100 ms ones. A ladder queue (`LadderQueue`) pops
/// twice as fast as the 4-ary heap on the hold model with 10⁶ events pending, but not in the
/// simulator, where the lanes take most events and the near heap holds ~76,000 at 10⁵
/// executors: in its place it measured 1.01× the wall time at 10⁵ executors (best of four
/// rounds), 1.02–1.06× at 10³ and 1.05× at 10⁶ (`bench scale-point`, A/B, 2026-12-07).
public struct EventQueue<Payload> {
    @usableFromInline struct Entry {
        @usableFromInline var time: Int64
        @usableFromInline var seq: UInt64
        @usableFromInline var payload: Payload
        @inlinable init(time: Int64, seq: UInt64, payload: Payload) {
            self.time = time
            self.seq = seq
            self.payload = payload
        }
        @inlinable func precedes(_ o: Entry) -> Bool { time < o.time || (time == o.time && seq < o.seq) }
    }

    /// Events in the order they were pushed, which is their time order.
    @usableFromInline struct Lane {
        @usableFromInline var items: [Entry] = []
        @usableFromInline var head = 0
        @inlinable init() {}
    }

    /// Events due within `horizon` of the last one popped, and those due later: two heaps,
    /// so that the far future (an executor's next churn, hours ahead) does not deepen the
    /// heap every near event is sifted through. Order does not depend on the split: `pop`
    /// takes the earliest of both tops.
    @usableFromInline var heap: [Entry] = []
    @usableFromInline var far: [Entry] = []
    @usableFromInline let horizon: Int64
    /// The time of the last event popped: the queue's now (from time zero, where runs start).
    @usableFromInline var lastPopped: Int64 = 0
    @usableFromInline var lanes: [Lane]
    @usableFromInline var nextSeq: UInt64 = 0

    /// A queue with `lanes` FIFO lanes (numbered from 0) beside its heaps; events due more
    /// than `farAfter` ahead wait in the far heap.
    public init(lanes: Int = 0, farAfter: TimeSpan = .seconds(600)) {
        self.lanes = Array(repeating: Lane(), count: lanes)
        horizon = farAfter.nanoseconds
    }

    public var count: Int { lanes.reduce(heap.count + far.count) { $0 + $1.items.count - $1.head } }
    public var isEmpty: Bool { count == 0 }

    /// Schedules `payload` at `time`: at the end of `lane` when that keeps the lane in time
    /// order, else in a heap.
    @inlinable public mutating func push(_ payload: Payload, at time: Instant, lane: Int? = nil) {
        let e = Entry(time: time.nanoseconds, seq: nextSeq, payload: payload)
        nextSeq &+= 1
        if let lane, lanes[lane].items.last.map({ $0.time <= e.time }) ?? true {
            lanes[lane].items.append(e)
            return
        }
        if e.time &- lastPopped > horizon {
            Self.siftUp(e, &far)
        } else {
            Self.siftUp(e, &heap)
        }
    }

    @inlinable static func siftUp(_ e: Entry, _ heap: inout [Entry]) {
        heap.append(e)
        heap.withUnsafeMutableBufferPointer { h in
            // Move parents down into the hole until e's place is found.
            var i = h.count - 1
            while i > 0 {
                let parent = (i - 1) >> 2
                if !e.precedes(h[parent]) { break }
                h[i] = h[parent]
                i = parent
            }
            h[i] = e
        }
    }

    /// Removes the top of a non-empty heap.
    @inlinable static func removeTop(_ heap: inout [Entry]) {
        let last = heap.removeLast()
        heap.withUnsafeMutableBufferPointer { h in
            let n = h.count
            guard n > 0 else { return }
            var i = 0
            while true {
                let first = 4 * i + 1
                if first >= n { break }
                // The earliest of up to four children.
                var c = first
                let end = min(first + 4, n)
                var k = first + 1
                while k < end {
                    if h[k].precedes(h[c]) { c = k }
                    k += 1
                }
                if !h[c].precedes(last) { break }
                h[i] = h[c]
                i = c
            }
            h[i] = last
        }
    }

    /// Removes and returns the earliest event.
    @inlinable public mutating func pop() -> (time: Instant, payload: Payload)? { pop(notAfter: .distantFuture) }

    /// Removes and returns the earliest event if it is due no later than `limit`.
    @inlinable public mutating func pop(notAfter limit: Instant) -> (time: Instant, payload: Payload)? {
        // The earliest source: the near heap (-1), the far heap (-2) or a lane.
        var source = -3
        var best = heap.first
        if best != nil { source = -1 }
        if let f = far.first, best == nil || f.precedes(best!) {
            best = f
            source = -2
        }
        for l in lanes.indices where lanes[l].head < lanes[l].items.count {
            let candidate = lanes[l].items[lanes[l].head]
            if best == nil || candidate.precedes(best!) {
                best = candidate
                source = l
            }
        }
        guard let top = best, top.time <= limit.nanoseconds else { return nil }
        lastPopped = top.time
        switch source {
        case -1: Self.removeTop(&heap)
        case -2: Self.removeTop(&far)
        default:
            lanes[source].head += 1
            let lane = lanes[source]
            if lane.head == lane.items.count {
                lanes[source].items.removeAll(keepingCapacity: true)
                lanes[source].head = 0
            } else if lane.head >= 4096 && lane.head * 2 >= lane.items.count {
                lanes[source].items.removeFirst(lane.head)
                lanes[source].head = 0
            }
        }
        return (Instant(nanoseconds: top.time), top.payload)
    }
}

/// The simulator's previous future, a binary heap of whole entries: kept only so that
/// `EngineBenchmark` measures the 4-ary heap against it in the same run.
public struct BinaryEventQueue<Payload> {
    @usableFromInline typealias Entry = EventQueue<Payload>.Entry

    @usableFromInline var heap: [Entry] = []
    @usableFromInline var nextSeq: UInt64 = 0

    public init() {}

    @inlinable public mutating func push(_ payload: Payload, at time: Instant) {
        let e = Entry(time: time.nanoseconds, seq: nextSeq, payload: payload)
        nextSeq &+= 1
        heap.append(e)
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) >> 1
            if !e.precedes(heap[parent]) { break }
            heap[i] = heap[parent]
            i = parent
        }
        heap[i] = e
    }

    @inlinable public mutating func pop() -> (time: Instant, payload: Payload)? {
        guard let top = heap.first else { return nil }
        let last = heap.removeLast()
        if !heap.isEmpty {
            let n = heap.count
            var i = 0
            while true {
                let l = 2 * i + 1
                if l >= n { break }
                let r = l + 1
                let c = (r < n && heap[r].precedes(heap[l])) ? r : l
                if !heap[c].precedes(last) { break }
                heap[i] = heap[c]
                i = c
            }
            heap[i] = last
        }
        return (Instant(nanoseconds: top.time), top.payload)
    }
}
