import HoneycombCore
@testable import HoneycombDriver
import Testing

/// The live plane's timers come out earliest first, ties in the order they were set.
struct TimerHeapTests {
    @Test func timersComeOutInOrder() {
        var heap = TimerHeap()
        var expected: [(Int64, Int32)] = []
        var x: UInt64 = 12345
        for k in 0..<2000 {
            x = x &* 6364136223846793005 &+ 1442695040888963407
            let at = Int64(x >> 54)  // few distinct instants: many ties
            heap.push(.retry(TaskID(Int32(k)), attempt: 1), at: Instant(nanoseconds: at))
            expected.append((at, Int32(k)))
        }
        expected.sort { $0.0 < $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
        var got: [(Int64, Int32)] = []
        while heap.count > 0 {
            let (at, timer) = heap.popFirst()
            guard case .retry(let task, _) = timer else { Issue.record("wrong timer"); return }
            got.append((at.nanoseconds, task.rawValue))
        }
        #expect(got.map(\.0) == expected.map(\.0) && got.map(\.1) == expected.map(\.1))
    }
}
