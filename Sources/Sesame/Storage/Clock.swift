// All time comes from a clock the server is given. The system clock reads CLOCK_REALTIME in
// milliseconds (EXPIREAT is Unix time); a manual clock lets tests and the embedded fixture move
// time forward so TTLs pass without sleeping, and both lazy and timer-wheel expiry follow it.

#if canImport(Glibc)
import Glibc
#endif
import Synchronization

public protocol SesameClock: Sendable {
    /// Unix time in milliseconds.
    func nowMilliseconds() -> Int64
}

public struct SystemClock: SesameClock {
    public init() {}
    @inline(__always) public func nowMilliseconds() -> Int64 { SystemClock.now() }

    @inline(__always) public static func now() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}

/// A clock that moves only when told to.
public final class ManualClock: SesameClock {
    private let now: Atomic<Int64>

    public init(startingAt milliseconds: Int64 = 1_700_000_000_000) {
        now = Atomic(milliseconds)
    }

    public func nowMilliseconds() -> Int64 { now.load(ordering: .acquiring) }

    public func advance(milliseconds: Int64) {
        _ = now.wrappingAdd(milliseconds, ordering: .releasing)
    }

    public func advance(seconds: Int64) { advance(milliseconds: seconds * 1000) }

    public func set(milliseconds: Int64) { now.store(milliseconds, ordering: .releasing) }
}

/// Monotonic nanoseconds for measuring durations (loop iteration time), never for TTLs.
@inline(__always) func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// The system clock plus an adjustable offset: time keeps flowing, and a test driving the
/// server binary over the wire (DEBUG ADVANCE-TIME) can push it forward to pass TTLs.
public final class OffsetClock: SesameClock {
    private let base = SystemClock()
    private let offset = Atomic<Int64>(0)

    public init() {}

    public func nowMilliseconds() -> Int64 { base.nowMilliseconds() + offset.load(ordering: .acquiring) }

    public func advance(milliseconds: Int64) { _ = offset.wrappingAdd(milliseconds, ordering: .releasing) }

    public func set(milliseconds: Int64) {
        offset.store(milliseconds - base.nowMilliseconds(), ordering: .releasing)
    }
}
