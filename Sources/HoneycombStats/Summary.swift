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

    /// Sorts in place, ascending. The standard library's sort, not GSL's heapsort: 3–4×
    /// faster on the hundreds of thousands of waits a run records, and the same result (a
    /// sorted array of numbers is one array, whichever algorithm sorted it; waits are never NaN).
    public static func sort(_ xs: inout [Double]) {
        xs.sort()
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
