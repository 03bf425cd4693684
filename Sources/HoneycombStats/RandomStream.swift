import CGSL
#if canImport(Glibc)
import Glibc
#endif

/// Turns GSL's abort-on-error handler off, once, before any GSL call: a library that kills
/// the process on a domain error has no place in a long-running service.
let gslErrorsOff: Void = { _ = gsl_set_error_handler_off() }()

/// Call before any GSL function that is not reached through a `RandomStream`.
@inline(__always) func ensureGSLErrorsOff() { _ = gslErrorsOff }

/// One independent stream of random numbers: a GSL generator seeded for a single purpose
/// (arrivals of one workload, churn of one executor, ...).
///
/// One stream per purpose is what makes two policies comparable on the same seed: a policy
/// that draws more numbers for one purpose shifts no other purpose's draws.
public final class RandomStream {
    /// The GSL generator behind a stream.
    public enum Generator: Sendable {
        /// Mersenne Twister: period 2¹⁹⁹³⁷ − 1, a 5 KB state. For the streams of a run.
        case mt19937
        /// L'Ecuyer's maximally equidistributed combined Tausworthe generator: period 2⁸⁸,
        /// a 24-byte state, and as fast. For streams of which a run has one per executor: a
        /// million executors' churn streams take ~100 MB with it, 5 GB with mt19937.
        case taus2
    }

    private let rng: UnsafeMutablePointer<gsl_rng>
    /// The seed the stream started from.
    public let seed: UInt64

    /// A stream seeded directly with all 64 bits of `seed`.
    ///
    /// `gsl_rng_set` keeps only 32 bits of a seed, which makes two of the many streams of a
    /// large study collide by the birthday bound. The generator's state is filled from the
    /// full seed with SplitMix64 instead (the way `init_by_array` widens a seed).
    public init(seed: UInt64, generator: Generator = .mt19937) {
        _ = gslErrorsOff
        let type = generator == .mt19937 ? honeycomb_gsl_mt19937() : honeycomb_gsl_taus2()
        guard let r = gsl_rng_alloc(type) else {
            fatalError("gsl_rng_alloc failed: out of memory")
        }
        rng = r
        self.seed = seed
        switch generator {
        case .mt19937: RandomStream.fill(r, from: seed)
        case .taus2: RandomStream.fillTaus(r, from: seed)
        }
    }

    /// GSL's mt19937 state is `{ unsigned long mt[624]; int mti; }`; when its size says so,
    /// write the words (32 bits each, as GSL keeps them) and mark the state for regeneration.
    private static func fill(_ r: UnsafeMutablePointer<gsl_rng>, from seed: UInt64) {
        let words = 624
        let wordSize = MemoryLayout<UInt>.size
        guard gsl_rng_size(r) >= words * wordSize + MemoryLayout<Int32>.size, let state = gsl_rng_state(r) else {
            let s32 = UInt(truncatingIfNeeded: (seed ^ (seed >> 32)) & 0xFFFF_FFFF)
            gsl_rng_set(r, s32 == 0 ? 0x9E37_79B9 : s32)
            return
        }
        let mt = state.bindMemory(to: UInt.self, capacity: words)
        var x = seed
        for i in 0..<words {
            x &+= 0x9E37_79B9_7F4A_7C15
            mt[i] = UInt(SeedDerivation.splitmix(x) & 0xFFFF_FFFF)
        }
        mt[0] |= 0x8000_0000  // never the all-zero state
        (state + words * wordSize).bindMemory(to: Int32.self, capacity: 1).pointee = Int32(words)
    }

    /// GSL's taus2 state is `{ unsigned long s1, s2, s3; }`, 32 bits used of each, which must
    /// exceed 1, 7 and 15; filled from the full seed, then stepped as `taus_set` does.
    private static func fillTaus(_ r: UnsafeMutablePointer<gsl_rng>, from seed: UInt64) {
        let wordSize = MemoryLayout<UInt>.size
        guard gsl_rng_size(r) == 3 * wordSize, let state = gsl_rng_state(r) else {
            let s32 = UInt(truncatingIfNeeded: (seed ^ (seed >> 32)) & 0xFFFF_FFFF)
            gsl_rng_set(r, s32 == 0 ? 0x9E37_79B9 : s32)
            return
        }
        let s = state.bindMemory(to: UInt.self, capacity: 3)
        var x = seed
        for (i, least) in [UInt(2), 8, 16].enumerated() {
            x &+= 0x9E37_79B9_7F4A_7C15
            let v = UInt(SeedDerivation.splitmix(x) & 0xFFFF_FFFF)
            s[i] = v < least ? v + least : v
        }
        for _ in 0..<6 { _ = gsl_rng_get(r) }
    }

    /// The stream for `purpose` within a run seeded `runSeed`. The purpose is a stable name
    /// (`arrivals/summarizer`), hashed with FNV-1a, never with Swift's per-process hasher.
    public convenience init(runSeed: UInt64, purpose: String, generator: Generator = .mt19937) {
        self.init(seed: SeedDerivation.mix(runSeed, SeedDerivation.fnv1a(purpose)), generator: generator)
    }

    deinit { gsl_rng_free(rng) }

    /// A uniform draw in [0, 1).
    @inlinable public func uniform() -> Double { gslUniform() }
    /// A uniform draw in (0, 1): never exactly zero.
    public func uniformPositive() -> Double { gsl_rng_uniform_pos(rng) }
    /// A uniform integer in 0..<n (n ≥ 1).
    public func integer(below n: Int) -> Int {
        precondition(n >= 1, "integer(below:) needs n ≥ 1")
        if n <= Int(UInt32.max) { return Int(gsl_rng_uniform_int(rng, UInt(n))) }
        return Int(Double(n) * uniform()) % n
    }
    /// True with probability `p`.
    public func bernoulli(_ p: Double) -> Bool { p > 0 && gsl_rng_uniform(rng) < p }

    @usableFromInline func gslUniform() -> Double { gsl_rng_uniform(rng) }

    public func exponential(mean: Double) -> Double { gsl_ran_exponential(rng, mean) }
    /// Log-normal with the given median (e^μ) and σ of the underlying normal.
    public func lognormal(median: Double, sigma: Double) -> Double { gsl_ran_lognormal(rng, log(median), sigma) }
    public func gamma(shape: Double, scale: Double) -> Double { gsl_ran_gamma(rng, shape, scale) }
    public func weibull(shape: Double, scale: Double) -> Double { gsl_ran_weibull(rng, scale, shape) }
    /// Pareto with shape α and minimum (scale) x_m.
    public func pareto(shape: Double, minimum: Double) -> Double { gsl_ran_pareto(rng, shape, minimum) }
    public func flat(_ low: Double, _ high: Double) -> Double { gsl_ran_flat(rng, low, high) }
    public func normal(mean: Double, sd: Double) -> Double { mean + gsl_ran_gaussian_ziggurat(rng, sd) }
}

/// Seeds derived from seeds: replication seeds from the scenario seed, stream seeds from the
/// replication seed and a purpose name. SplitMix64 finalisation spreads nearby inputs apart.
public enum SeedDerivation {
    /// SplitMix64's output function.
    public static func splitmix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    public static func mix(_ a: UInt64, _ b: UInt64) -> UInt64 { splitmix(splitmix(a) ^ b) }

    /// The seed of replication `index` (from 0) of a scenario seeded `seed`.
    public static func replicationSeed(_ seed: UInt64, replication index: Int) -> UInt64 {
        mix(seed, UInt64(index) &+ 0x5EED)
    }

    /// 64-bit FNV-1a of a string's UTF-8 bytes: stable across processes and platforms.
    public static func fnv1a(_ s: String) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        return h
    }
}
