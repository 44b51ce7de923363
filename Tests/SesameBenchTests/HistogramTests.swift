import Testing
@testable import SesameBenchCore

@Suite struct HistogramTests {
    /// The histogram's percentile must be within one bucket (1/128 relative) of the exact
    /// percentile of the sorted values.
    func check(_ values: [UInt64]) {
        var h = Histogram()
        for v in values { h.record(v) }
        let sorted = values.sorted()
        #expect(h.count == UInt64(values.count))
        #expect(h.min == sorted.first)
        #expect(h.max == sorted.last)
        for p in [0.1, 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99] {
            let rank = max(1, Int((p / 100 * Double(sorted.count)).rounded(.up)))
            let exact = Double(sorted[rank - 1])
            let got = Double(h.percentile(p))
            let tolerance = max(1, exact / 128)
            #expect(abs(got - exact) <= tolerance, "p\(p): got \(got), exact \(exact)")
        }
        #expect(h.percentile(100) == sorted.last)
    }

    @Test func logUniformValues() {
        var rng = Xoshiro256(seed: 42)
        // 1 us ... 100 ms, the range of request latencies.
        let values = (0..<200_000).map { _ in UInt64(exp(log(1_000.0) + rng.nextDouble() * (log(100_000_000.0) - log(1_000.0)))) }
        check(values)
    }

    @Test func smallExactValues() {
        var rng = Xoshiro256(seed: 7)
        check((0..<10_000).map { _ in UInt64(rng.nextInt(300)) })
    }

    @Test func heavyTail() {
        var rng = Xoshiro256(seed: 9)
        // Mostly ~50 us, 1% at ~20 ms: p99 and p99.9 must land in the tail.
        let values = (0..<100_000).map { i -> UInt64 in
            i % 100 == 0 ? 20_000_000 + UInt64(rng.nextInt(5_000_000)) : 50_000 + UInt64(rng.nextInt(10_000))
        }
        check(values)
    }

    @Test func bucketsAreContiguousWithBoundedWidth() {
        var previousUpper: UInt64 = 0
        for i in 1..<Histogram.bucketCount {
            let (lower, upper) = Histogram.bounds(of: i)
            #expect(lower == previousUpper + 1 || i == 1)
            #expect(Histogram.index(of: lower) == i)
            #expect(Histogram.index(of: upper) == i)
            #expect(Double(upper - lower + 1) <= max(1, Double(lower) / 128))
            previousUpper = upper
        }
    }

    @Test func mergeEqualsRecordingEverything() {
        var a = Histogram(), b = Histogram(), all = Histogram()
        var rng = Xoshiro256(seed: 3)
        for i in 0..<50_000 {
            let v = UInt64(rng.nextInt(10_000_000))
            if i % 2 == 0 { a.record(v) } else { b.record(v) }
            all.record(v)
        }
        a.merge(b)
        #expect(a.count == all.count)
        #expect(a.counts == all.counts)
        for p in [50.0, 99, 99.9] { #expect(a.percentile(p) == all.percentile(p)) }
    }

    @Test func emptyHistogram() {
        let h = Histogram()
        #expect(h.percentile(50) == 0)
        #expect(LatencySummary(h).max == 0)
    }

    @Test func medians() {
        #expect(Stats.median([3, 1, 2]) == 2)
        #expect(Stats.median([4, 1, 2, 3]) == 2.5)
        #expect(Stats.median([Double?]([nil, 5, nil])) == 5)
        #expect(Stats.median([Double?]([nil])) == nil)
    }
}

#if canImport(Glibc)
import Glibc
#endif
