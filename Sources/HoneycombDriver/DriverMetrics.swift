import Synchronization

/// A count that only grows, safe to bump from anywhere.
package final class MetricCounter: Sendable {
    private let value = Atomic<Int>(0)
    package init() {}
    package func add(_ n: Int) { value.add(n, ordering: .relaxed) }
    package var current: Int { value.load(ordering: .relaxed) }
}

/// Observations in cumulative buckets, rendered in Prometheus' text format.
package final class MetricHistogram: Sendable {
    package let bounds: [Double]
    private let state: Mutex<(counts: [Int], sum: Double, count: Int)>
    package init(bounds: [Double]) {
        self.bounds = bounds
        state = Mutex((Array(repeating: 0, count: bounds.count), 0, 0))
    }
    package func observe(_ x: Double) {
        state.withLock { s in
            for (k, b) in bounds.enumerated() where x <= b { s.counts[k] += 1 }
            s.sum += x
            s.count += 1
        }
    }
    package func render(_ name: String, _ help: String) -> String {
        let s = state.withLock { $0 }
        var out = "# HELP \(name) \(help)\n# TYPE \(name) histogram\n"
        for (k, b) in bounds.enumerated() { out += "\(name)_bucket{le=\"\(b)\"} \(s.counts[k])\n" }
        out += "\(name)_bucket{le=\"+Inf\"} \(s.count)\n\(name)_sum \(s.sum)\n\(name)_count \(s.count)\n"
        return out
    }
}

/// What the live driver counts of its own work.
package final class DriverMetrics: Sendable {
    package let batches = MetricCounter()
    package let batchCommands = MetricCounter()
    package let dispatched = MetricCounter()
    package let storeFailures = MetricCounter()
    package let publishFailures = MetricCounter()
    package let llmAbandoned = MetricCounter()
    package let batchSeconds = MetricHistogram(bounds: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1])
    package init() {}
}
