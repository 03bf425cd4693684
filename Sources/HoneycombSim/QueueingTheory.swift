/// Closed forms the simulator is checked and benchmarked against.
public enum QueueingTheory {
    /// Erlang C: the mean wait in queue of M/M/c with arrival rate `lambda` and service rate
    /// `mu` per server (needs λ < cμ).
    public static func erlangCWait(c: Int, lambda: Double, mu: Double) -> Double {
        let a = lambda / mu
        var term = 1.0, sum = 0.0
        for k in 0..<c {
            sum += term
            term *= a / Double(k + 1)
        }
        let top = term * Double(c) / (Double(c) - a)
        let pWait = top / (sum + top)
        return pWait / (Double(c) * mu - lambda)
    }
}
