import HoneycombCore

/// The plane's pending timers, earliest first (ties in the order set): a binary heap, so that
/// a timer per dispatch costs a logarithm, not a scan.
struct TimerHeap {
    private var items: [(at: Instant, seq: UInt64, timer: PlaneTimer)] = []
    private var seq: UInt64 = 0

    var count: Int { items.count }
    var first: (at: Instant, timer: PlaneTimer)? { items.first.map { ($0.at, $0.timer) } }

    private static func before(_ a: (at: Instant, seq: UInt64, timer: PlaneTimer), _ b: (at: Instant, seq: UInt64, timer: PlaneTimer)) -> Bool {
        a.at < b.at || (a.at == b.at && a.seq < b.seq)
    }

    mutating func push(_ timer: PlaneTimer, at: Instant) {
        items.append((at, seq, timer))
        seq += 1
        var k = items.count - 1
        while k > 0 {
            let parent = (k - 1) / 2
            guard Self.before(items[k], items[parent]) else { break }
            items.swapAt(k, parent)
            k = parent
        }
    }

    mutating func popFirst() -> (at: Instant, timer: PlaneTimer) {
        let top = items[0]
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var k = 0
            while true {
                let l = 2 * k + 1, r = l + 1
                var m = k
                if l < items.count && Self.before(items[l], items[m]) { m = l }
                if r < items.count && Self.before(items[r], items[m]) { m = r }
                if m == k { break }
                items.swapAt(k, m)
                k = m
            }
        }
        return (top.at, top.timer)
    }
}
