import HoneycombStats
import Testing

/// Reference values from published critical-value tables and from SciPy 1.17
/// (`scipy.stats.mannwhitneyu`, `scipy.stats.wilcoxon`).
@Suite struct RankTestTests {
    @Test func mannWhitneyExactMatchesTheTables() {
        // n1 = n2 = 5: the two-sided 5 % critical value of U is 2 (p = 4/252·2), and 3 is not.
        let a: [Double] = [1, 2, 3, 6, 7], b: [Double] = [4, 5, 8, 9, 10]   // U = 4
        let lo = RankTests.mannWhitney([1, 2, 3, 4, 8], [5, 6, 7, 9, 10])     // U = 3
        #expect(lo.exact && lo.statistic == 3)
        #expect(abs(lo.pValue - 14.0 / 252) < 1e-12)
        let two = RankTests.mannWhitney([1, 2, 3, 5, 6], [4, 7, 8, 9, 10])   // U = 2
        #expect(abs(two.pValue - 8.0 / 252) < 1e-12 && two.pValue < 0.05)
        #expect(RankTests.mannWhitney(a, b).pValue > 0.05)
    }

    @Test func mannWhitneyMatchesSciPy() {
        let x: [Double] = [1.1, 2.3, 3.0, 4.2, 5.5], y: [Double] = [6.1, 7.4, 8.0, 2.9, 9.9]
        let r = RankTests.mannWhitney(x, y)
        #expect(r.statistic == 3 && abs(r.pValue - 0.05555555555555555) < 1e-12)
        let x12 = (1...12).map(Double.init), y12 = (0..<12).map { 3.5 + 2 * Double($0) }
        #expect(abs(RankTests.mannWhitney(x12, y12).pValue - 0.005559590496997955) < 1e-12)
        // With ties, still exact: the permutation distribution of average ranks (checked by
        // enumerating all 184,756 splits in Python).
        let t1: [Double] = [3, 4, 4, 5, 6, 6, 7, 8, 9, 12], t2: [Double] = [5, 6, 6, 7, 9, 10, 11, 12, 13, 15]
        let t = RankTests.mannWhitney(t1, t2)
        #expect(t.exact && t.statistic == 24)
        #expect(abs(t.pValue - 0.048702071921886164) < 1e-9)
        // Beyond 40 observations: SciPy's asymptotic p, tie- and continuity-corrected.
        let u = (0..<25).map { (Double($0) * 10 / 24 * 10).rounded() / 10 }
        let v = (0..<25).map { ((1 + Double($0) * 10 / 24) * 10).rounded() / 10 }
        let a = RankTests.mannWhitney(u, v)
        #expect(!a.exact && a.statistic == 253)
        #expect(abs(a.pValue - 0.2523052121646835) < 1e-9)
    }

    @Test func smallSamplesWithTiesAreNotOverstated() {
        // [0]*8 against five 1s and three 0s: exactly 2/32 two-sided, not significant.
        let r = RankTests.wilcoxonSignedRank([Double](repeating: 0, count: 8), [1, 1, 1, 1, 1, 0, 0, 0])
        #expect(r.exact && abs(r.pValue - 0.0625) < 1e-12)
        #expect(abs(RankTests.mannWhitney([0, 0, 0], [1, 1, 1]).pValue - 0.1) < 1e-12)
    }

    @Test func wilcoxonExactMatchesTheTables() {
        // n = 10: the two-sided 5 % critical value of T is 8 (p = 0.0488), and 9 is not (0.0645).
        func pair(_ t: Int) -> RankTestResult {
            // Differences of ranks 1…10 with the ranks summing to t negative.
            var negative = Set<Int>()
            var rest = t
            for r in stride(from: 10, through: 1, by: -1) where r <= rest { negative.insert(r); rest -= r }
            let d = (1...10).map { Double(negative.contains($0) ? -$0 : $0) }
            return RankTests.wilcoxonSignedRank([Double](repeating: 0, count: 10), d)
        }
        #expect(abs(pair(8).pValue - 50.0 / 1024) < 1e-12)
        #expect(pair(8).pValue < 0.05 && pair(9).pValue > 0.05)
    }

    @Test func wilcoxonMatchesSciPy() {
        let p: [Double] = [0.5, 0.7, 0.2, 0.9, 1.3, 0.3, 0.6, 1.1]
        let q: [Double] = [0.61, 0.93, 0.14, 1.22, 1.65, 0.35, 0.82, 1.57]
        let r = RankTests.wilcoxonSignedRank(p, q)
        #expect(r.exact && min(r.statistic, 36 - r.statistic) == 2)
        #expect(abs(r.pValue - 0.0234375) < 1e-12)
        // A zero difference (dropped) and ties: exact over all 512 sign patterns (enumerated in
        // Python; SciPy's normal approximation gives 0.6353).
        let a: [Double] = [125, 115, 130, 140, 140, 115, 140, 125, 140, 135]
        let b: [Double] = [110, 122, 125, 120, 140, 124, 123, 137, 135, 145]
        let t = RankTests.wilcoxonSignedRank(a, b)
        #expect(t.exact && t.statistic == 18)
        #expect(abs(t.pValue - 0.6328125) < 1e-12)
    }

    @Test func identicalPairsAreNotSignificant() {
        let x: [Double] = [1, 2, 3]
        #expect(RankTests.wilcoxonSignedRank(x, x).pValue == 1)
    }
}
