import CGSL

/// Summary statistics of a sample, computed with GSL.
public enum Statistics {
    /// The arithmetic mean; NaN for an empty sample.
    public static func mean(_ xs: [Double]) -> Double {
        ensureGSLErrorsOff()
        guard !xs.isEmpty else { return .nan }
        return xs.withUnsafeBufferPointer { gsl_stats_mean($0.baseAddress, 1, $0.count) }
    }

    /// The sample standard deviation (n − 1 denominator); 0 for fewer than two values.
    public static func standardDeviation(_ xs: [Double]) -> Double {
        guard xs.count >= 2 else { return 0 }
        return xs.withUnsafeBufferPointer { gsl_stats_sd($0.baseAddress, 1, $0.count) }
    }

    /// The `p` quantile (0…1) of data already sorted ascending, by GSL's linear
    /// interpolation between order statistics; NaN for an empty sample.
    public static func quantile(sorted xs: [Double], _ p: Double) -> Double {
        guard !xs.isEmpty else { return .nan }
        return xs.withUnsafeBufferPointer { gsl_stats_quantile_from_sorted_data($0.baseAddress, 1, $0.count, p) }
    }

    /// Sorts in place, ascending (numbers, never NaN; −0 before +0). A least-significant-digit radix sort
    /// on the numbers' bit patterns, mapped so that their unsigned order is the numeric order:
    /// eight linear passes, where GSL's heapsort and the standard library's merge sort were
    /// the largest single cost of a run's report (an M/M/8 run sorts 666,000 waits and
    /// turnarounds). Any correct sort gives the same array.
    public static func sort(_ xs: inout [Double]) {
        let n = xs.count
        guard n > 64 else { return xs.sort() }
        // Negative numbers: all bits flipped; others: the sign bit set.
        var keys = xs.map { x -> UInt64 in
            let b = x.bitPattern
            return b & (1 << 63) != 0 ? ~b : b | (1 << 63)
        }
        var scratch = [UInt64](repeating: 0, count: n)
        var counts = [Int](repeating: 0, count: 256)
        keys.withUnsafeMutableBufferPointer { k in
        scratch.withUnsafeMutableBufferPointer { t in
        counts.withUnsafeMutableBufferPointer { c in
            var from = k, to = t
            for shift in stride(from: UInt64(0), to: 64, by: 8) {
                for i in 0..<256 { c[i] = 0 }
                for v in from { c[Int((v >> shift) & 0xFF)] += 1 }
                // A pass whose digit is the same for all moves nothing.
                if c[Int((from[0] >> shift) & 0xFF)] == n { continue }
                var sum = 0
                for i in 0..<256 { let x = c[i]; c[i] = sum; sum += x }
                for v in from {
                    let d = Int((v >> shift) & 0xFF)
                    to[c[d]] = v
                    c[d] += 1
                }
                swap(&from, &to)
            }
            if from.baseAddress != k.baseAddress { _ = k.initialize(fromContentsOf: from) }
        }}}
        for i in 0..<n {
            let b = keys[i]
            xs[i] = Double(bitPattern: b & (1 << 63) != 0 ? b & ~(1 << 63) : ~b)
        }
    }

    /// The two-sided Student-t critical value for `confidence` (e.g. 0.95) with `dof` degrees
    /// of freedom.
    public static func tCritical(confidence: Double, degreesOfFreedom dof: Int) -> Double {
        ensureGSLErrorsOff()
        return gsl_cdf_tdist_Pinv(1 - (1 - confidence) / 2, Double(dof))
    }
}

/// A confidence interval for the mean of independent replications.
public struct MeanInterval: Hashable, Sendable {
    public var mean: Double
    public var halfWidth: Double
    public var low: Double { mean - halfWidth }
    public var high: Double { mean + halfWidth }

    /// The `confidence` t-interval of the mean of `values`, each one replication's value.
    /// With fewer than two values the half-width is NaN: one run says nothing about spread.
    public init(values: [Double], confidence: Double = 0.95) {
        mean = Statistics.mean(values)
        guard values.count >= 2 else { halfWidth = .nan; return }
        let sd = Statistics.standardDeviation(values)
        let t = Statistics.tCritical(confidence: confidence, degreesOfFreedom: values.count - 1)
        halfWidth = t * sd / Double(values.count).squareRoot()
    }

    /// True when `x` lies within the interval (inclusive).
    public func contains(_ x: Double) -> Bool { x >= low && x <= high }
}
