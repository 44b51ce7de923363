import Testing
@testable import Sesame

private let minute: Int64 = 60_000
private let hour: Int64 = 60 * minute
private let day: Int64 = 24 * hour

/// The wheel alone: records come back no earlier than their deadline and no later than the
/// first advance whose time reaches the end of the deadline's tick.
@Suite struct TimerWheelTests {
    private func record(_ at: Int64, _ name: String = "k") -> WheelRecord {
        // The wheel never looks at the tag; these tests use it to tell records apart ("k12": 12).
        WheelRecord(db: 0, tag: UInt32(name.dropFirst()) ?? 0, at: at)
    }

    @Test(arguments: [Int64(1), 9, 10, 11, 2_555, 2_560, 2_561, 90_000, 163_840, 163_841, hour + 7,
                      3 * hour, 2 * day + 3, 7 * day + 17 * hour, 8 * day + 1, 30 * day, 400 * day])
    func firesAtDeadlineNotBefore(_ delay: Int64) {
        for start in [Int64(1_700_000_000_000), 1_700_000_000_007, 1_700_000_002_559] {
            var wheel = TimerWheel(now: start, tickMilliseconds: 10)
            let at = start + delay
            wheel.insert(record(at))
            var due: [WheelRecord] = []
            wheel.advance(to: at - 1, into: &due)
            #expect(due.isEmpty, "fired early: delay \(delay) start \(start)")
            #expect(wheel.count == 1)
            wheel.advance(to: at + 9, into: &due)
            #expect(due.map(\.at) == [at], "not fired within one tick: delay \(delay) start \(start)")
            #expect(wheel.count == 0)
        }
    }

    /// Many records with deadlines spread over every level, time moving in steps of every
    /// magnitude (single ticks to days, crossing cascade boundaries at random phases): each
    /// step must hand back exactly the records whose tick has been reached.
    @Test(arguments: [UInt64(3), 17, 99, 1234])
    func randomDeadlinesAndSteps(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let start: Int64 = 1_700_000_000_003
        var wheel = TimerWheel(now: start, tickMilliseconds: 10)
        var pending: [Int64: Int] = [:]  // deadline -> records
        var now = start
        func insertSome() {
            for _ in 0..<50 {
                let magnitude = Int64.random(in: 0...31, using: &rng)
                let delay = Int64.random(in: 0...(Int64(1) << magnitude), using: &rng) % (40 * day)
                let at = now + delay
                wheel.insert(record(at))
                pending[at, default: 0] += 1
            }
        }
        insertSome()
        var steps = 0
        while !pending.isEmpty && steps < 3000 {
            steps += 1
            let magnitude = Int64.random(in: 0...30, using: &rng)
            now += Int64.random(in: 1...(Int64(1) << magnitude), using: &rng)
            var due: [WheelRecord] = []
            wheel.advance(to: now, into: &due)
            for r in due {
                #expect(r.at <= now, "fired early")
                pending[r.at]! -= 1
                if pending[r.at] == 0 { pending[r.at] = nil }
            }
            let overdue = pending.keys.filter { ($0 + 9) / 10 * 10 <= now }
            #expect(overdue.isEmpty, "late: \(overdue.count) records at step \(steps)")
            #expect(wheel.count == pending.values.reduce(0, +))
            if steps % 40 == 0 && steps <= 600 { insertSome() }
        }
        #expect(pending.isEmpty)
    }

    @Test func pastDeadlinesFireOnNextAdvance() {
        let start: Int64 = 1_000_000
        var wheel = TimerWheel(now: start, tickMilliseconds: 10)
        var due: [WheelRecord] = []
        wheel.advance(to: start + 5 * day, into: &due)
        wheel.insert(record(start))
        wheel.insert(record(start + day))
        wheel.advance(to: start + 5 * day + 10, into: &due)
        #expect(due.count == 2)
        #expect(wheel.count == 0)
    }

    @Test func hugeClockJumpIsCheap() {
        let start: Int64 = 1_700_000_000_000
        var wheel = TimerWheel(now: start, tickMilliseconds: 10)
        var rng = SplitMix64(seed: 5)
        for i in 0..<2000 { wheel.insert(record(start + Int64.random(in: 1...(60 * day), using: &rng), "k\(i)")) }
        let clock = ContinuousClock()
        var due: [WheelRecord] = []
        let elapsed = clock.measure {
            // Step a day at a time over 30 days, then jump a whole year.
            for d in 1...30 { wheel.advance(to: start + Int64(d) * day, into: &due) }
            wheel.advance(to: start + 365 * day, into: &due)
        }
        #expect(due.count == 2000)
        #expect(wheel.count == 0)
        #expect(elapsed < .milliseconds(500))
    }

    /// A mass expiry's cascade with a small budget: `advance` stops after that many records,
    /// reports it, and once resumed to the end hands back exactly the due records, none early.
    @Test(arguments: [UInt64(7), 21])
    func budgetedCascadeStopsAndResumes(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let start: Int64 = 1_700_000_000_000
        var wheel = TimerWheel(now: start, tickMilliseconds: 10)
        // 5,000 deadlines within one second, 3-4 s ahead: they sit in one or two level-1 slots.
        var pending: [Int64: Int] = [:]
        for i in 0..<5_000 {
            let at = start + 3_000 + Int64.random(in: 0..<1_000, using: &rng)
            wheel.insert(record(at, "k\(i)"))
            pending[at, default: 0] += 1
        }
        var now = start
        var stops = 0
        while now < start + 4_100 {
            now += Int64.random(in: 1...40, using: &rng)
            var due: [WheelRecord] = []
            var calls = 0
            while !wheel.advance(to: now, into: &due, cascadeBudget: 100) {
                calls += 1
                #expect(wheel.isCascading)
                #expect(wheel.millisecondsToNextTick(now: now) == 0)
            }
            stops += calls
            #expect(!wheel.isCascading)
            for r in due {
                #expect(r.at <= now, "fired early")
                pending[r.at]! -= 1
                if pending[r.at] == 0 { pending[r.at] = nil }
            }
            let overdue = pending.keys.filter { ($0 + 9) / 10 * 10 <= now }
            #expect(overdue.isEmpty, "late: \(overdue.count) deadlines at \(now - start) ms")
            #expect(wheel.count == pending.values.reduce(0, +))
        }
        #expect(pending.isEmpty)
        // Re-placing 5,000 records 100 at a time took at least 49 extra calls.
        #expect(stops >= 49, "\(stops) stops")
    }

    /// The sweep in slices: each call visits about `budget` records, a pass ends after all
    /// were seen, stale ones are gone and the rest still fire on time, including records
    /// inserted while the pass was under way.
    @Test func sweepInSlices() {
        let start: Int64 = 1_700_000_000_000
        var wheel = TimerWheel(now: start, tickMilliseconds: 10)
        var rng = SplitMix64(seed: 11)
        var deadlines: [String: Int64] = [:]
        for i in 0..<3_000 {
            let at = start + Int64.random(in: 1...(3 * day), using: &rng)
            wheel.insert(record(at, "k\(i)"))
            deadlines["k\(i)"] = at
        }
        // Odd keys are gone: their records are stale.
        let stale: (WheelRecord) -> Bool = { r in Int(r.tag) % 2 == 1 }
        var calls = 0
        while !wheel.sweep(budget: 100, where: stale) {
            calls += 1
            if calls == 5 {
                for j in 0..<10 { wheel.insert(record(start + hour, "k\(4_000 + 2 * j)")); deadlines["k\(4_000 + 2 * j)"] = start + hour }
            }
        }
        #expect(calls >= 29, "\(calls) calls for 3,000 records at 100 per call")
        #expect(wheel.count == 1_510)
        var due: [WheelRecord] = []
        wheel.advance(to: start + 4 * day, into: &due)
        #expect(due.count == 1_510)
        #expect(due.allSatisfy { Int($0.tag) % 2 == 0 && deadlines["k\($0.tag)"] == $0.at })
        #expect(wheel.count == 0)
    }

    @Test func nextTickTimeout() {
        var wheel = TimerWheel(now: 1_000_005, tickMilliseconds: 10)
        #expect(wheel.millisecondsToNextTick(now: 1_000_005) == Int64.max)
        wheel.insert(record(1_000_100))
        #expect(wheel.millisecondsToNextTick(now: 1_000_005) == 0)
        var due: [WheelRecord] = []
        wheel.advance(to: 1_000_005, into: &due)
        #expect(wheel.millisecondsToNextTick(now: 1_000_005) == 5)
    }
}
