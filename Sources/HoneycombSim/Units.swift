/// Parsers for the units a scenario writes: `30s`, `16GiB`, `5/s`, `500m` (CPU).
/// Each returns `nil` on text it does not understand; the loader says what was expected.
enum Units {
    /// Splits `12.5ms` into (12.5, "ms").
    private static func split(_ text: String) -> (Double, String)? {
        let t = text.trimmingWhitespace()
        var end = t.startIndex
        while end < t.endIndex, "0123456789.+-eE".contains(t[end]) {
            // Stop at an 'e' that starts a unit rather than an exponent.
            if t[end] == "e" || t[end] == "E" {
                let next = t.index(after: end)
                if next == t.endIndex || !"0123456789+-".contains(t[next]) { break }
            }
            end = t.index(after: end)
        }
        guard let value = Double(t[t.startIndex..<end]), value.isFinite else { return nil }
        return (value, String(t[end...]).trimmingWhitespace())
    }

    /// A duration in seconds: `250ms`, `30s`, `45m`, `2h`, `1d`, `10us`, `5ns`.
    static func seconds(_ text: String) -> Double? {
        guard let (v, unit) = split(text) else { return nil }
        let scale: Double
        switch unit {
        case "ns": scale = 1e-9
        case "us", "µs": scale = 1e-6
        case "ms": scale = 1e-3
        case "s": scale = 1
        case "m", "min": scale = 60
        case "h": scale = 3600
        case "d": scale = 86400
        default: return nil
        }
        return v * scale
    }

    /// A rate per second: `5/s`, `300/m`, `300/min`, `10/h`, `100/d`.
    static func perSecond(_ text: String) -> Double? {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let n = Double(parts[0].trimmingWhitespace()), n.isFinite else { return nil }
        switch parts[1].trimmingWhitespace() {
        case "s": return n
        case "m", "min": return n / 60
        case "h": return n / 3600
        case "d": return n / 86400
        default: return nil
        }
    }

    /// A size in bytes: `512MiB`, `16GiB`, `1GB`, `4096B`.
    static func bytes(_ text: String) -> Int64? {
        guard let (v, unit) = split(text), v >= 0 else { return nil }
        let scale: Double
        switch unit {
        case "B": scale = 1
        case "KB", "kB": scale = 1e3
        case "MB": scale = 1e6
        case "GB": scale = 1e9
        case "TB": scale = 1e12
        case "KiB": scale = 1024
        case "MiB": scale = 1_048_576
        case "GiB": scale = 1_073_741_824
        case "TiB": scale = 1_099_511_627_776
        default: return nil
        }
        let b = (v * scale).rounded()
        return b <= maxBytes ? Int64(b) : nil
    }

    /// The largest memory a scenario may name: 1 PiB.
    static let maxBytes = 1_125_899_906_842_624.0
    /// The largest CPU a scenario may name: a million cores.
    static let maxMillicores = 1e9
    /// The highest arrival rate a scenario may name.
    static let maxRatePerSecond = 1e6

    /// CPU in millicores: `2` (cores), `0.5`, `500m`.
    static func millicores(_ text: String) -> Int64? {
        guard let (v, unit) = split(text), v >= 0 else { return nil }
        let m: Double
        switch unit {
        case "": m = (v * 1000).rounded()
        case "m": m = v.rounded()
        default: return nil
        }
        return m <= maxMillicores ? Int64(m) : nil
    }
}

extension StringProtocol {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}
