import HoneycombCore

/// The simulator's future: a binary min-heap of events ordered by (time, sequence number).
///
/// The sequence number breaks ties in insertion order, so two events at the same instant
/// always run in the order they were scheduled, whatever the heap's internal layout.
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

    @usableFromInline var heap: [Entry] = []
    @usableFromInline var nextSeq: UInt64 = 0

    public init() {}

    public var count: Int { heap.count }
    public var isEmpty: Bool { heap.isEmpty }
    /// When the next event is due, if any.
    public var nextTime: Instant? { heap.first.map { Instant(nanoseconds: $0.time) } }

    /// Schedules `payload` at `time`.
    @inlinable public mutating func push(_ payload: Payload, at time: Instant) {
        let e = Entry(time: time.nanoseconds, seq: nextSeq, payload: payload)
        nextSeq &+= 1
        heap.append(e)
        // Sift up: move parents down into the hole until e's place is found.
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) >> 1
            if !e.precedes(heap[parent]) { break }
            heap[i] = heap[parent]
            i = parent
        }
        heap[i] = e
    }

    /// Removes and returns the earliest event.
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
