import CGSL

/// The result of a two-sided rank test.
public struct RankTestResult: Hashable, Sendable {
    /// U for Mann–Whitney (of the first sample), W+ for Wilcoxon.
    public var statistic: Double
    /// Two-sided p-value.
    public var pValue: Double
    /// True when the p-value is exact (a permutation distribution), false for the normal
    /// approximation (with tie and continuity corrections).
    public var exact: Bool
}

/// Rank tests GSL lacks: Mann–Whitney U for two independent samples and the Wilcoxon
/// signed-rank test for paired ones. Both two-sided; exact for small samples (up to 40
/// observations in all, and 50 pairs), ties included, from the permutation distribution of
/// average ranks; normal approximation with tie and continuity corrections beyond. Counts are
/// kept as Doubles: exact to 2⁵³, and within rounding far beyond.
public enum RankTests {
    /// Mann–Whitney U: do `x` and `y` come from the same distribution?
    public static func mannWhitney(_ x: [Double], _ y: [Double]) -> RankTestResult {
        ensureGSLErrorsOff()
        let n1 = x.count, n2 = y.count
        guard n1 > 0, n2 > 0 else { return RankTestResult(statistic: .nan, pValue: .nan, exact: false) }
        let (ranks, tieTerm) = averageRanks(x + y)
        let r1 = ranks[..<n1].reduce(0, +)
        let u1 = r1 - Double(n1 * (n1 + 1)) / 2
        if n1 + n2 <= 40 {
            // Exact: the permutation distribution of the first sample's rank sum, with tied
            // observations sharing their average rank (doubled, to stay whole numbers).
            let doubled = ranks.map { Int(($0 * 2).rounded()) }
            let counts = subsetSumCounts(doubled, choose: n1)
            let observed = Int((r1 * 2).rounded())
            return RankTestResult(statistic: u1, pValue: twoSided(counts, observed), exact: true)
        }
        let n = Double(n1 + n2)
        let mean = Double(n1 * n2) / 2
        let variance = Double(n1 * n2) / 12 * ((n + 1) - tieTerm / (n * (n - 1)))
        return RankTestResult(statistic: u1, pValue: normalTwoSided(u1 - mean, variance), exact: false)
    }

    /// Wilcoxon signed-rank: do the paired differences `y[i] − x[i]` centre on zero?
    /// Zero differences are dropped (Wilcoxon's original treatment).
    public static func wilcoxonSignedRank(_ x: [Double], _ y: [Double]) -> RankTestResult {
        ensureGSLErrorsOff()
        precondition(x.count == y.count, "paired samples must have the same length")
        let d = zip(y, x).map { $0 - $1 }.filter { $0 != 0 }
        let n = d.count
        guard n > 0 else { return RankTestResult(statistic: 0, pValue: 1, exact: true) }
        let (ranks, tieTerm) = averageRanks(d.map(abs))
        let wPlus = zip(d, ranks).reduce(0.0) { $0 + ($1.0 > 0 ? $1.1 : 0) }
        if n <= 50 {
            // Exact: every sign pattern equally likely, tied differences sharing their
            // average rank (doubled, to stay whole numbers).
            let doubled = ranks.map { Int(($0 * 2).rounded()) }
            var counts = [Double](repeating: 0, count: doubled.reduce(0, +) + 1)
            counts[0] = 1
            for r in doubled where r > 0 {
                for w in stride(from: counts.count - 1, through: r, by: -1) { counts[w] += counts[w - r] }
            }
            return RankTestResult(statistic: wPlus, pValue: twoSided(counts, Int((wPlus * 2).rounded())), exact: true)
        }
        let total = Double(n * (n + 1)) / 2
        let mean = total / 2
        let variance = Double(n * (n + 1) * (2 * n + 1)) / 24 - tieTerm / 48
        return RankTestResult(statistic: wPlus, pValue: normalTwoSided(wPlus - mean, variance), exact: false)
    }

    /// Twice the smaller tail of a permutation distribution (`counts[s]` ways to reach s),
    /// at the observed value, capped at 1.
    private static func twoSided(_ counts: [Double], _ observed: Int) -> Double {
        let all = counts.reduce(0, +)
        let lower = counts[...min(observed, counts.count - 1)].reduce(0, +) / all
        let upper = observed < counts.count ? counts[max(0, observed)...].reduce(0, +) / all : 0
        return min(1, 2 * min(lower, upper))
    }

    /// How many ways to choose `k` of `values` give each total (values small whole numbers).
    static func subsetSumCounts(_ values: [Int], choose k: Int) -> [Double] {
        let maxSum = values.sorted(by: >).prefix(k).reduce(0, +)
        // f[j][s]: ways to choose j items summing to s, items added one at a time.
        var f = [[Double]](repeating: [Double](repeating: 0, count: maxSum + 1), count: k + 1)
        f[0][0] = 1
        for v in values {
            for j in stride(from: k, through: 1, by: -1) {
                for sum in stride(from: maxSum, through: v, by: -1) where f[j - 1][sum - v] != 0 {
                    f[j][sum] += f[j - 1][sum - v]
                }
            }
        }
        return f[k]
    }

    /// Ranks from 1 with ties given their average rank, and Σ(t³ − t) over tie groups.
    static func averageRanks(_ values: [Double]) -> (ranks: [Double], tieTerm: Double) {
        let order = values.indices.sorted { values[$0] < values[$1] || (values[$0] == values[$1] && $0 < $1) }
        var ranks = [Double](repeating: 0, count: values.count)
        var tieTerm = 0.0
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && values[order[j + 1]] == values[order[i]] { j += 1 }
            let average = Double(i + j + 2) / 2
            for k in i...j { ranks[order[k]] = average }
            let t = Double(j - i + 1)
            tieTerm += t * t * t - t
            i = j + 1
        }
        return (ranks, tieTerm)
    }

    /// Two-sided normal p-value of a deviation from the mean, with a continuity correction of ½.
    private static func normalTwoSided(_ deviation: Double, _ variance: Double) -> Double {
        guard variance > 0 else { return 1 }
        let z = max(0, abs(deviation) - 0.5) / variance.squareRoot()
        return min(1, 2 * gsl_cdf_ugaussian_Q(z))
    }
}
