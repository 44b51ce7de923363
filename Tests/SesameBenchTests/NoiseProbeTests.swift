import Testing
@testable import SesameBenchCore

@Suite struct NoiseProbeTests {
    /// The probe spins for the time asked, reads the clock many times, and its gap figures
    /// are consistent with each other (a gap over 1 ms is also over 0.2 ms and is lost time).
    @Test func spinsForTheDurationAndReportsConsistentGaps() {
        let r = NoiseProbe.run(seconds: 0.05)
        #expect(r.seconds >= 0.05 && r.seconds < 5)
        #expect(r.reads > 1_000)
        #expect(r.gapsOver1ms <= r.gapsOver200us)
        #expect(r.longestGapMicros >= 0 && r.longestGapMicros <= r.seconds * 1e6)
        #expect(r.lostMillis >= Double(r.gapsOver200us) * 0.2)
        #expect(r.lostMillis <= r.seconds * 1000)
        if r.gapsOver1ms > 0 { #expect(r.longestGapMicros > 1000) }
        #expect(r.line.hasPrefix("noise: "))
    }

    @Test func commandLineRejectsBadDurations() {
        #expect(NoiseProbe.main(["--duration", "0"]) == 2)
        #expect(NoiseProbe.main(["--duration", "x"]) == 2)
        #expect(NoiseProbe.main(["--bogus"]) == 2)
        #expect(NoiseProbe.main(["--duration", "0.01"]) == 0)
    }
}
