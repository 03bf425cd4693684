import HoneycombCore

/// A ladder queue (Tang, Goh and Thng, 2005): the future as unsorted buckets of time, split
/// finer only where they are consumed, with a small heap for the bucket in hand. Events pop
/// in (time, sequence) order, exactly as from one heap.
///
/// - `top`: events due at or after `topStart`, unsorted (appended, never moved until due).
/// - `rungs`: each a row of buckets of one width over a span of time; a deeper rung covers
///   the (consumed) bucket of the rung above it that was too full to sort. Their live spans
///   join up: the deepest covers the earliest, rung 0 ends where `top` starts.
/// - `bottom`: a 4-ary heap of every event due before `bottomEnd`, where the deepest rung's
///   live span starts: the sorted bucket in hand, and events pushed into its span since.
///
/// A push appends to one bucket (or to `top`), so its cost does not grow with the number
/// pending; each event is moved a few times (into a bucket of each rung it passes, then
/// sorted once into `bottom`), in passes that read and write arrays in order.
///
/// Not the simulator's queue: it pops twice as fast as the 4-ary heap on the hold model with
/// 10⁶ pending (`honeycomb bench engine`), but not in the simulator (see `EventQueue`).
public struct LadderQueue<Payload> {
    @usableFromInline typealias Entry = EventQueue<Payload>.Entry

    @usableFromInline struct Rung {
        @usableFromInline var start: Int64
        @usableFromInline var width: Int64
        /// Where the rung's span ends (exclusive); its last bucket runs to it.
        @usableFromInline var end: Int64
        /// The next bucket to consume; those before it are empty.
        @usableFromInline var next: Int
        @usableFromInline var buckets: [[Entry]]
        @inlinable func bucket(of time: Int64) -> Int { min(buckets.count - 1, Int((time &- start) / width)) }
    }

    @usableFromInline var bottom: [Entry] = []
    @usableFromInline var bottomEnd = Int64.min
    @usableFromInline var rungs: [Rung] = []
    @usableFromInline var top: [Entry] = []
    @usableFromInline var topStart = Int64.min
    @usableFromInline var topMin = Int64.max
    @usableFromInline var topMax = Int64.min
    @usableFromInline var nextSeq: UInt64 = 0
    /// Events a bucket holds, on average, when a rung is made; a bucket of more than this is
    /// split into a rung of its own rather than sorted.
    @usableFromInline let bucketSize: Int
    @usableFromInline static var maxRungs: Int { 12 }

    /// A ladder whose buckets hold `bucketSize` events on average when a rung is made (48
    /// measured best on the hold model; tests pass a few, to split often).
    public init(bucketSize: Int = 48) {
        precondition(bucketSize >= 1, "ladder queue: a bucket size of \(bucketSize)")
        self.bucketSize = bucketSize
    }

    public var count: Int { bottom.count + top.count + rungs.reduce(0) { $0 + $1.buckets.reduce(0) { $0 + $1.count } } }

    @inlinable public mutating func push(_ payload: Payload, at time: Instant) {
        let t = time.nanoseconds
        let e = Entry(time: t, seq: nextSeq, payload: payload)
        nextSeq &+= 1
        precondition(t >= 0 && t < Int64.max / 2, "event queue: an event at \(Instant(nanoseconds: t)), outside [0, 146 years)")
        if t < bottomEnd {
            EventQueue<Payload>.siftUp(e, &bottom)
        } else if t >= topStart {
            top.append(e)
            topMin = min(topMin, t)
            topMax = max(topMax, t)
        } else {
            // The deepest rung whose span reaches t: spans join, so the first found holds it.
            var r = rungs.count - 1
            while t >= rungs[r].end { r -= 1 }
            let b = rungs[r].bucket(of: t)
            rungs[r].buckets[b].append(e)
        }
    }

    @inlinable public mutating func pop() -> (time: Instant, payload: Payload)? {
        if bottom.isEmpty && !refill() { return nil }
        let e = bottom[0]
        EventQueue<Payload>.removeTop(&bottom)
        return (Instant(nanoseconds: e.time), e.payload)
    }

    /// Fills the empty `bottom` with the next non-empty bucket, splitting buckets too full to
    /// sort into rungs of their own. False when nothing is pending.
    @usableFromInline mutating func refill() -> Bool {
        while true {
            guard let r = rungs.indices.last else {
                if top.isEmpty { return false }
                // The whole of `top` becomes rung 0; `top` starts again after it.
                let n = max(1, top.count / bucketSize)
                let width = (topMax - topMin) / Int64(n) + 1
                var rung = Rung(start: topMin, width: width, end: topMin + Int64(n) * width, next: 0,
                                buckets: Array(repeating: [], count: n))
                Self.scatter(&top, into: &rung)
                bottomEnd = topMin
                topStart = rung.end
                (topMin, topMax) = (Int64.max, Int64.min)
                rungs.append(rung)
                continue
            }
            var b = rungs[r].next
            let n = rungs[r].buckets.count
            while b < n && rungs[r].buckets[b].isEmpty { b += 1 }
            if b == n {
                bottomEnd = rungs[r].end
                rungs.removeLast()
                continue
            }
            // A split rung's buckets may reach past its end (their width is rounded up):
            // none ends later than the rung does, or `bottom` would take in its parent's span.
            let end = b == n - 1 ? rungs[r].end : min(rungs[r].end, rungs[r].start + Int64(b + 1) * rungs[r].width)
            var events: [Entry] = []
            swap(&events, &rungs[r].buckets[b])
            rungs[r].next = b + 1
            var lo = Int64.max, hi = Int64.min
            for e in events {
                lo = min(lo, e.time)
                hi = max(hi, e.time)
            }
            if events.count > bucketSize && lo < hi && rungs.count < Self.maxRungs {
                // Too many to sort: a finer rung over [lo, end). Events pushed before lo
                // (after the bucket's start) go to `bottom`, which takes all before bottomEnd.
                let k = max(2, events.count / bucketSize)
                let width = (hi - lo) / Int64(k) + 1
                var rung = Rung(start: lo, width: width, end: end, next: 0, buckets: Array(repeating: [], count: k))
                Self.scatter(&events, into: &rung)
                bottomEnd = lo
                rungs.append(rung)
                continue
            }
            // A sorted array is a heap.
            events.sort { $0.precedes($1) }
            bottom = events
            bottomEnd = end
            return true
        }
    }

    /// Moves `events` into the rung's buckets (in the order given, which keeps each bucket's
    /// events in push order) and leaves `events` empty with its storage.
    @usableFromInline static func scatter(_ events: inout [Entry], into rung: inout Rung) {
        for e in events { rung.buckets[rung.bucket(of: e.time)].append(e) }
        events.removeAll(keepingCapacity: true)
    }

    /// What is wrong with the layout, if anything: the checks the order of `pop` rests on,
    /// for tests to run after every step.
    func violatedInvariant() -> String? {
        if let e = bottom.first(where: { $0.time >= bottomEnd }) { return "bottom holds \(e.time), at or after its end \(bottomEnd)" }
        // Rung i's live span is [start of the rung below it, its end); the deepest starts at
        // bottomEnd, and rung 0 ends where top starts.
        var liveStart = bottomEnd
        for i in rungs.indices.reversed() {
            let rung = rungs[i]
            if rung.end < liveStart { return "rung \(i) ends at \(rung.end), before its live span starts at \(liveStart)" }
            for b in rung.buckets.indices {
                if b < rung.next && !rung.buckets[b].isEmpty { return "rung \(i) bucket \(b) is consumed but holds \(rung.buckets[b].count)" }
                for e in rung.buckets[b] {
                    if rung.bucket(of: e.time) != b { return "rung \(i) bucket \(b) holds \(e.time), of bucket \(rung.bucket(of: e.time))" }
                    if e.time < liveStart || e.time >= rung.end { return "rung \(i) holds \(e.time), outside its live span [\(liveStart), \(rung.end))" }
                }
            }
            liveStart = rung.end
        }
        if !rungs.isEmpty && topStart != liveStart { return "top starts at \(topStart), rung 0 ends at \(liveStart)" }
        if rungs.isEmpty && bottomEnd > topStart { return "bottom ends at \(bottomEnd), after top starts at \(topStart)" }
        if let e = top.first(where: { $0.time < topStart }) { return "top holds \(e.time), before its start \(topStart)" }
        return nil
    }
}
