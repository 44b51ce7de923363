// Log-linear latency histogram in the spirit of HdrHistogram: every power of two is split into
// 128 equal sub-buckets, so any recorded value lands in a bucket whose width is at most 1/128 of
// its lower bound (relative error <= 0.78%). Values below 256 are exact. Recording is an index
// computation and one increment; histograms from several threads merge by adding counts.
//
// Values are nanoseconds. The range is capped at 2^42 ns (~73 minutes); larger values are
// recorded in the top bucket (and still counted exactly in `max`).

public struct Histogram: Sendable {
    public static let subBucketBits = 7
    static let subBuckets = 1 << subBucketBits          // 128
    static let linearLimit = UInt64(2 * subBuckets)       // values below are exact
    static let maxTrackable: UInt64 = (1 << 42) - 1
    static let bucketCount = index(of: maxTrackable) + 1

    public private(set) var counts: [UInt64]
    public private(set) var count: UInt64 = 0
    public private(set) var min: UInt64 = .max
    public private(set) var max: UInt64 = 0
    public private(set) var sum: Double = 0

    public init() {
        counts = [UInt64](repeating: 0, count: Self.bucketCount)
    }

    @inline(__always)
    static func index(of value: UInt64) -> Int {
        let v = value > maxTrackable ? maxTrackable : value
        if v < linearLimit { return Int(v) }
        let msb = 63 - v.leadingZeroBitCount
        let shift = msb - subBucketBits
        return (shift << subBucketBits) + Int(v >> UInt64(shift))
    }

    /// Smallest and largest value that fall in bucket `index`.
    static func bounds(of index: Int) -> (lower: UInt64, upper: UInt64) {
        if index < Int(linearLimit) { return (UInt64(index), UInt64(index)) }
        let shift = (index >> subBucketBits) - 1
        let sub = UInt64(index - (shift << subBucketBits))
        return (sub << UInt64(shift), ((sub + 1) << UInt64(shift)) - 1)
    }

    @inline(__always)
    public mutating func record(_ value: UInt64) {
        counts[Self.index(of: value)] &+= 1
        count &+= 1
        if value < min { min = value }
        if value > max { max = value }
        sum += Double(value)
    }

    public mutating func merge(_ other: Histogram) {
        guard other.count > 0 else { return }
        for i in 0..<counts.count where other.counts[i] != 0 { counts[i] &+= other.counts[i] }
        count &+= other.count
        if other.min < min { min = other.min }
        if other.max > max { max = other.max }
        sum += other.sum
    }

    public var mean: Double { count == 0 ? 0 : sum / Double(count) }

    /// The value at percentile `p` (0...100): the upper bound of the bucket holding the
    /// ceil(p% * count)-th smallest value, clamped to the recorded min and max. 0 if empty.
    public func percentile(_ p: Double) -> UInt64 {
        guard count > 0 else { return 0 }
        if p >= 100 { return max }
        let rank = Swift.max(1, UInt64((p / 100 * Double(count)).rounded(.up)))
        var seen: UInt64 = 0
        for i in 0..<counts.count {
            seen &+= counts[i]
            if seen >= rank {
                let upper = Self.bounds(of: i).upper
                return Swift.min(Swift.max(upper, min), max)
            }
        }
        return max
    }
}

/// Percentiles of one histogram, in microseconds, as reported.
public struct LatencySummary: Codable, Sendable, Equatable {
    public var p50: Double
    public var p90: Double
    public var p99: Double
    public var p999: Double
    public var max: Double
    public var mean: Double

    public init(p50: Double = 0, p90: Double = 0, p99: Double = 0, p999: Double = 0, max: Double = 0, mean: Double = 0) {
        self.p50 = p50; self.p90 = p90; self.p99 = p99; self.p999 = p999; self.max = max; self.mean = mean
    }

    public init(_ histogram: Histogram) {
        self.init(
            p50: Double(histogram.percentile(50)) / 1000,
            p90: Double(histogram.percentile(90)) / 1000,
            p99: Double(histogram.percentile(99)) / 1000,
            p999: Double(histogram.percentile(99.9)) / 1000,
            max: Double(histogram.max == 0 && histogram.count == 0 ? 0 : histogram.max) / 1000,
            mean: histogram.mean / 1000)
    }

    /// Per-field median over rounds.
    public static func median(_ all: [LatencySummary]) -> LatencySummary {
        LatencySummary(
            p50: Stats.median(all.map(\.p50)), p90: Stats.median(all.map(\.p90)), p99: Stats.median(all.map(\.p99)),
            p999: Stats.median(all.map(\.p999)), max: Stats.median(all.map(\.max)), mean: Stats.median(all.map(\.mean)))
    }
}

public enum Stats {
    public static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        let mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }

    public static func median(_ values: [Double?]) -> Double? {
        let present = values.compactMap { $0 }
        return present.isEmpty ? nil : median(present)
    }
}
