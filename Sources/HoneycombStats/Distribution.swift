import CGSL
#if canImport(Glibc)
import Glibc
#endif

/// A probability distribution of non-negative values (durations in seconds, token counts).
///
/// Parameters are in the same unit as the values drawn. Sampling goes through a
/// `RandomStream`, so the stream decides the draws and the distribution only shapes them.
public enum Distribution: Hashable, Sendable, CustomStringConvertible {
    case constant(Double)
    case exponential(mean: Double)
    /// Log-normal given by its median (e^μ) and σ of the underlying normal.
    case lognormal(median: Double, sigma: Double)
    case gamma(shape: Double, scale: Double)
    case weibull(shape: Double, scale: Double)
    /// Pareto (type I) with shape α and minimum x_m.
    case pareto(shape: Double, minimum: Double)
    case uniform(low: Double, high: Double)
    /// Each listed value equally likely.
    case empirical([Double])

    /// One draw as a duration in seconds: never negative, never NaN, and at most
    /// `maximumSeconds`, whatever the parameters or the draw (an exactly-zero uniform, say).
    public func sampleSeconds(_ s: RandomStream) -> Double {
        let x = sample(s)
        guard x > 0 else { return 0 }  // also NaN
        return Swift.min(x, Distribution.maximumSeconds)
    }

    /// The longest duration a draw is allowed to be: about 31 years.
    public static let maximumSeconds = 1e9

    /// One draw.
    public func sample(_ s: RandomStream) -> Double {
        switch self {
        case .constant(let v): v
        case .exponential(let mean): s.exponential(mean: mean)
        case .lognormal(let median, let sigma): s.lognormal(median: median, sigma: sigma)
        case .gamma(let shape, let scale): s.gamma(shape: shape, scale: scale)
        case .weibull(let shape, let scale): s.weibull(shape: shape, scale: scale)
        case .pareto(let shape, let minimum): s.pareto(shape: shape, minimum: minimum)
        case .uniform(let low, let high): s.flat(low, high)
        case .empirical(let values): values[s.integer(below: values.count)]
        }
    }

    /// The distribution's mean (`infinity` where it has none, as Pareto with α ≤ 1).
    public var mean: Double {
        ensureGSLErrorsOff()
        return switch self {
        case .constant(let v): v
        case .exponential(let mean): mean
        case .lognormal(let median, let sigma): median * exp(sigma * sigma / 2)
        case .gamma(let shape, let scale): shape * scale
        // Through log Γ, so that a tiny shape gives infinity rather than a GSL overflow.
        case .weibull(let shape, let scale): scale * exp(lgamma(1 + 1 / shape))
        case .pareto(let shape, let minimum): shape > 1 ? shape * minimum / (shape - 1) : .infinity
        case .uniform(let low, let high): (low + high) / 2
        case .empirical(let values): values.reduce(0, +) / Double(values.count)
        }
    }

    public var description: String {
        switch self {
        case .constant(let v): "constant(\(v))"
        case .exponential(let mean): "exponential(mean: \(mean))"
        case .lognormal(let median, let sigma): "lognormal(median: \(median), sigma: \(sigma))"
        case .gamma(let shape, let scale): "gamma(shape: \(shape), scale: \(scale))"
        case .weibull(let shape, let scale): "weibull(shape: \(shape), scale: \(scale))"
        case .pareto(let shape, let minimum): "pareto(shape: \(shape), minimum: \(minimum))"
        case .uniform(let low, let high): "uniform(\(low), \(high))"
        case .empirical(let values): "empirical(\(values.count) values)"
        }
    }
}
