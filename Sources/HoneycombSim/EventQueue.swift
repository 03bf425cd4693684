import HoneycombCore

/// The simulator's future: a 4-ary min-heap of events ordered by (time, sequence number).
///
/// The sequence number breaks ties in insertion order, so two events at the same instant
/// always run in the order they were scheduled, whatever the heap's internal layout.
///
/// Laid out for a heap of millions (a fleet of a million executors keeps several million
/// events pending): the heap holds 16-byte keys only — the time, and the sequence number
/// packed with the slot where the payload waits — so the four children of a node share one
/// 64-byte cache line and a sift moves 16 bytes a level; the payload is written once when
/// pushed and read once when popped. Four children halve the depth of a binary heap for
/// one more comparison a level, and `EngineBenchmark` measures it faster than the binary
/// heap at 10⁴ and 10⁶ pending events alike.
public struct EventQueue<Payload> {
    @usableFromInline struct Key {
        @usableFromInline var time: Int64
        /// The sequence number (high 38 bits) and the payload's slot (low 26 bits): ordering by
        /// it orders by sequence, which is unique.
        @usableFromInline var order: UInt64
        @inlinable init(time: Int64, order: UInt64) {
            self.time = time
            self.order = order
        }
        @inlinable func precedes(_ o: Key) -> Bool { time < o.time || (time == o.time && order < o.order) }
        @inlinable var slot: Int { Int(truncatingIfNeeded: order & EventQueue.slotMask) }
    }

    @usableFromInline static var slotBits: UInt64 { 26 }
    @usableFromInline static var slotMask: UInt64 { (1 << slotBits) - 1 }

    @usableFromInline var heap: [Key] = []
    @usableFromInline var payloads: [Payload?] = []
    /// Slots of `payloads` free for reuse.
    @usableFromInline var freeSlots: [Int32] = []
    @usableFromInline var nextSeq: UInt64 = 0

    public init() {}

    public var count: Int { heap.count }
    public var isEmpty: Bool { heap.isEmpty }
    /// When the next event is due, if any.
    public var nextTime: Instant? { heap.first.map { Instant(nanoseconds: $0.time) } }

    /// Schedules `payload` at `time`.
    @inlinable public mutating func push(_ payload: Payload, at time: Instant) {
        let slot: Int
        if let s = freeSlots.popLast() {
            slot = Int(s)
            payloads[slot] = payload
        } else {
            slot = payloads.count
            precondition(UInt64(slot) <= Self.slotMask, "more than 2^26 events pending")
            payloads.append(payload)
        }
        precondition(nextSeq < 1 << (64 - Self.slotBits), "more than 2^38 events scheduled")
        let e = Key(time: time.nanoseconds, order: nextSeq << Self.slotBits | UInt64(slot))
        nextSeq &+= 1
        heap.append(e)
        heap.withUnsafeMutableBufferPointer { h in
            // Sift up: move parents down into the hole until e's place is found.
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

    /// Removes and returns the earliest event.
    @inlinable public mutating func pop() -> (time: Instant, payload: Payload)? {
        guard let top = heap.first else { return nil }
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
        let slot = top.slot
        let payload = payloads[slot].unsafelyUnwrapped
        payloads[slot] = nil
        freeSlots.append(Int32(slot))
        return (Instant(nanoseconds: top.time), payload)
    }
}

/// The simulator's previous future, a binary heap of whole entries: kept only so that
/// `EngineBenchmark` measures the 4-ary heap against it in the same run.
public struct BinaryEventQueue<Payload> {
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
