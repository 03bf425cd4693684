import CGSL

/// The result of a two-sided rank test.
public struct RankTestResult: Hashable, Sendable {
    /// U for Mann–Whitney (of the first sample), W+ for Wilcoxon.
    public var statistic: Double
    /// Two-sided p-value.
    public var pValue: Double
    /// True when the p-value is exact (small samples without ties), false for the normal
    /// approximation (with tie and continuity corrections).
    public var exact: Bool
}

/// Rank tests GSL lacks: Mann–Whitney U for two independent samples and the Wilcoxon
/// signed-rank test for paired ones. Both two-sided; exact for small samples without ties,
/// normal approximation with tie correction and continuity correction beyond.
public enum RankTests {
    /// Mann–Whitney U: do `x` and `y` come from the same distribution?
    public static func mannWhitney(_ x: [Double], _ y: [Double]) -> RankTestResult {
        ensureGSLErrorsOff()
        let n1 = x.count, n2 = y.count
        guard n1 > 0, n2 > 0 else { return RankTestResult(statistic: .nan, pValue: .nan, exact: false) }
        let (ranks, tieTerm) = averageRanks(x + y)
        let r1 = ranks[..<n1].reduce(0, +)
        let u1 = r1 - Double(n1 * (n1 + 1)) / 2
        let u2 = Double(n1 * n2) - u1
        if tieTerm == 0 && n1 <= 30 && n2 <= 30 {
            // P(U ≤ u) from the exact null distribution of U.
            let counts = mannWhitneyCounts(n1, n2)
            let total = counts.reduce(0, +)
            let u = Int(min(u1, u2).rounded())
            let tail = counts[...u].reduce(0, +) / total
            return RankTestResult(statistic: u1, pValue: min(1, 2 * tail), exact: true)
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
        let total = Double(n * (n + 1)) / 2
        if tieTerm == 0 && n <= 50 {
            let counts = signedRankCounts(n)
            let all = counts.reduce(0, +)
            let t = Int(min(wPlus, total - wPlus).rounded())
            let tail = counts[...t].reduce(0, +) / all
            return RankTestResult(statistic: wPlus, pValue: min(1, 2 * tail), exact: true)
        }
        let mean = total / 2
        let variance = Double(n * (n + 1) * (2 * n + 1)) / 24 - tieTerm / 48
        return RankTestResult(statistic: wPlus, pValue: normalTwoSided(wPlus - mean, variance), exact: false)
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

    /// How many arrangements give each value of U, for samples of n1 and n2 (as Doubles, to
    /// stay exact far beyond Int64 for the sizes used).
    static func mannWhitneyCounts(_ n1: Int, _ n2: Int) -> [Double] {
        // f[i][j][u]: arrangements of i and j items with statistic u; built up by adding
        // the largest item to one sample or the other.
        var f = [[[Double]]](repeating: [[Double]](repeating: [], count: n2 + 1), count: n1 + 1)
        for i in 0...n1 {
            for j in 0...n2 {
                var row = [Double](repeating: 0, count: i * j + 1)
                if i == 0 || j == 0 {
                    row[0] = 1
                } else {
                    for (u, c) in f[i - 1][j].enumerated() where c > 0 { row[u + j] += c }
                    for (u, c) in f[i][j - 1].enumerated() where c > 0 { row[u] += c }
                }
                f[i][j] = row
            }
        }
        return f[n1][n2]
    }

    /// How many sign patterns give each value of W+ for n ranks.
    static func signedRankCounts(_ n: Int) -> [Double] {
        var counts = [Double](repeating: 0, count: n * (n + 1) / 2 + 1)
        counts[0] = 1
        for r in 1...n {
            for w in stride(from: counts.count - 1, through: r, by: -1) { counts[w] += counts[w - r] }
        }
        return counts
    }
}
