/// A point on the control plane's clock, in integer nanoseconds since the clock's epoch.
///
/// The plane never reads a clock itself: every input arrives with the `Instant` it happened
/// at. The simulator passes virtual time; the live driver passes a monotonic reading. Integer
/// nanoseconds keep arithmetic exact, so no float drift can creep into a replayed run.
public struct Instant: Comparable, Hashable, Sendable, CustomStringConvertible {
    /// Nanoseconds since the clock's epoch (the start of a simulation).
    public var nanoseconds: Int64

    @inlinable public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    /// The epoch: time zero of a run.
    public static let zero = Instant(nanoseconds: 0)
    /// Later than any instant a run reaches; used for "never".
    public static let distantFuture = Instant(nanoseconds: .max)

    @inlinable public static func < (a: Instant, b: Instant) -> Bool { a.nanoseconds < b.nanoseconds }
    @inlinable public static func + (a: Instant, d: TimeSpan) -> Instant {
        let (sum, overflow) = a.nanoseconds.addingReportingOverflow(d.nanoseconds)
        return Instant(nanoseconds: overflow ? .max : sum)
    }
    @inlinable public static func - (a: Instant, b: Instant) -> TimeSpan {
        TimeSpan(nanoseconds: a.nanoseconds - b.nanoseconds)
    }
    @inlinable public static func - (a: Instant, d: TimeSpan) -> Instant {
        let (difference, overflow) = a.nanoseconds.subtractingReportingOverflow(d.nanoseconds)
        return Instant(nanoseconds: overflow ? .min : difference)
    }
    /// Seconds since the epoch, for reporting only.
    @inlinable public var seconds: Double { Double(nanoseconds) / 1e9 }
    public var description: String { TimeSpan(nanoseconds: nanoseconds).description }
}

/// A length of time in integer nanoseconds.
///
/// Named `TimeSpan` rather than `Duration` so that it never shadows the standard library's
/// `Swift.Duration`, which the live service's clocks and servers use.
public struct TimeSpan: Comparable, Hashable, Sendable, CustomStringConvertible {
    /// The length in nanoseconds; never negative for spans the plane creates.
    public var nanoseconds: Int64

    @inlinable public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    public static let zero = TimeSpan(nanoseconds: 0)

    /// A span from a number of seconds, rounded to the nearest nanosecond and clamped to
    /// what `Int64` holds (about 292 years).
    @inlinable public static func seconds(_ s: Double) -> TimeSpan {
        let ns = (s * 1e9).rounded()
        if ns >= 9.2e18 { return TimeSpan(nanoseconds: .max) }
        if ns <= -9.2e18 { return TimeSpan(nanoseconds: .min) }
        return TimeSpan(nanoseconds: Int64(ns))
    }
    @inlinable public static func milliseconds(_ ms: Int64) -> TimeSpan { TimeSpan(nanoseconds: ms * 1_000_000) }
    @inlinable public static func minutes(_ m: Int64) -> TimeSpan { TimeSpan(nanoseconds: m * 60_000_000_000) }
    @inlinable public static func hours(_ h: Int64) -> TimeSpan { TimeSpan(nanoseconds: h * 3_600_000_000_000) }

    @inlinable public static func < (a: TimeSpan, b: TimeSpan) -> Bool { a.nanoseconds < b.nanoseconds }
    @inlinable public static func + (a: TimeSpan, b: TimeSpan) -> TimeSpan {
        TimeSpan(nanoseconds: a.nanoseconds &+ b.nanoseconds)
    }
    @inlinable public static func * (a: TimeSpan, k: Int64) -> TimeSpan {
        let (p, overflow) = a.nanoseconds.multipliedReportingOverflow(by: k)
        return TimeSpan(nanoseconds: overflow ? .max : p)
    }
    /// The span in seconds, for reporting only.
    @inlinable public var seconds: Double { Double(nanoseconds) / 1e9 }

    /// A short human form: `250ms`, `30s`, `1h30m`.
    public var description: String {
        let ns = nanoseconds
        if ns == 0 { return "0s" }
        if ns < 0 { return "-" + TimeSpan(nanoseconds: -ns).description }
        if ns % 1_000_000_000 != 0 {
            if ns < 1_000 { return "\(ns)ns" }
            if ns < 1_000_000 { return trimmed(Double(ns) / 1e3) + "us" }
            if ns < 1_000_000_000 { return trimmed(Double(ns) / 1e6) + "ms" }
            return trimmed(Double(ns) / 1e9) + "s"
        }
        var s = ns / 1_000_000_000
        var out = ""
        if s >= 86_400 { out += "\(s / 86_400)d"; s %= 86_400 }
        if s >= 3_600 { out += "\(s / 3_600)h"; s %= 3_600 }
        if s >= 60 { out += "\(s / 60)m"; s %= 60 }
        if s > 0 { out += "\(s)s" }
        return out
    }
}

private func trimmed(_ x: Double) -> String {
    let r = (x * 1000).rounded() / 1000
    return r == r.rounded() ? String(Int64(r)) : String(r)
}
