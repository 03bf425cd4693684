/// A seeded source for the plane's random placement policies where no GSL stream is at hand
/// (the live driver): xoshiro256**, seeded through SplitMix64. The same seed gives the same
/// draws, so a live plane's random choices can be replayed from its logged seed.
public final class SeededRandom: PlaneRandomSource {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var x = seed
        s = (splitMix64(&x), splitMix64(&x), splitMix64(&x), splitMix64(&x))
    }

    public func next() -> UInt64 {
        let result = rotl(s.1 &* 5, 7) &* 9
        let t = s.1 << 17
        s.2 ^= s.0
        s.3 ^= s.1
        s.1 ^= s.2
        s.0 ^= s.3
        s.2 ^= t
        s.3 = rotl(s.3, 45)
        return result
    }

    private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }
}

/// The next output of SplitMix64 from `state`, which it advances: the seeder above, and the
/// scheduler's sampler (a value, so that a copied plane draws what the original would).
@inline(__always)
func splitMix64(_ state: inout UInt64) -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}
