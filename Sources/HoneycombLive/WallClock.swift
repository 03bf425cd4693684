import Foundation

/// The wall clock, in nanoseconds since 1970: the live plane's time.
package enum WallClock {
    package static func nanoseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }
}
