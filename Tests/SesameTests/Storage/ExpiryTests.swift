import Testing
@testable import Sesame

private let hour: Int64 = 3_600_000
private let day: Int64 = 24 * hour

extension CommandHarness {
    /// Stores a string key straight through the shard API (fast setup for mass tests).
    func store(_ key: String, expireAt: Int64, db: Int = 0) {
        let k = Key(key)
        k.bytes.withUnsafeBytes { raw in
            keyspace.withShard(raw) { shard in
                shard.mutate(db, k, now: clock.nowMilliseconds()) { slot in
                    var e = Entry(value: .string(bytes("v")), expireAt: expireAt)
                    shard.scheduleExpiry(db, k, &e)
                    slot = e
                }
            }
        }
    }
}

/// Lazy and active expiry through the command layer, on a manual clock (no sleeping).
@Suite struct ExpiryTests {
    static let delays: [Int64] = [1, 7, 10, 999, 2_555, 65_432, hour + 3, 2 * day + 5, 9 * day + 3, 30 * day + 1]

    @Test(arguments: delays)
    func activeExpiryAtEveryLevel(_ delay: Int64) {
        let h = CommandHarness()
        let t0 = h.clock.nowMilliseconds()
        #expect(h.run("SET", "k", "v", "PX", "\(delay)") == "+OK\r\n")
        h.run("SET", "later", "v", "PX", "\(delay + 20)")
        let deadline = t0 + delay
        // Walk up to the deadline in uneven steps, as event loops do, then past it.
        var now = t0
        var rng = SplitMix64(seed: UInt64(delay))
        while now < deadline - 1 {
            now = min(deadline - 1, now + Int64.random(in: 1...max(1, delay / 7), using: &rng))
            h.clock.set(milliseconds: now)
            h.expireUntilIdle()
            #expect(h.isStored("k"), "expired before its deadline (\(delay) ms, at +\(now - t0))")
        }
        #expect(h.run("PTTL", "k") == ":1\r\n")
        h.clock.set(milliseconds: deadline + 9)
        h.expireUntilIdle()
        #expect(!h.isStored("k"), "still stored one tick after its deadline (\(delay) ms)")
        #expect(h.isStored("later"))
        #expect(h.keyspace.expiredKeys == 1)
        h.clock.set(milliseconds: deadline + 29)
        h.expireUntilIdle()
        #expect(!h.isStored("later"))
        #expect(h.wheelRecords == 0)
    }

    @Test func manyKeysAtEveryLevelInOneKeyspace() {
        let h = CommandHarness()
        let t0 = h.clock.nowMilliseconds()
        for (i, d) in Self.delays.enumerated() { h.run("SET", "k\(i)", "v", "PX", "\(d)") }
        var checkpoints = Self.delays.flatMap { [t0 + $0 - 1, t0 + $0 + 9] }.sorted()
        checkpoints.append(t0 + 31 * day)
        for now in checkpoints {
            h.clock.set(milliseconds: now)
            h.expireUntilIdle()
            for (i, d) in Self.delays.enumerated() {
                let deadline = t0 + d
                if now <= deadline { #expect(h.isStored("k\(i)"), "k\(i) early at +\(now - t0)") }
                if now >= deadline + 9 { #expect(!h.isStored("k\(i)"), "k\(i) late at +\(now - t0)") }
            }
        }
        #expect(h.wheelRecords == 0)
    }

    @Test func deadlineAtTheEndOfTime() {
        // Must not overflow anywhere (a trap here would take the server down).
        let h = CommandHarness()
        #expect(h.run("SET", "a", "v", "PXAT", "9223372036854775807") == "+OK\r\n")
        #expect(h.run("SET", "b", "v") == "+OK\r\n")
        #expect(h.run("PEXPIREAT", "b", "9223372036854775807") == ":1\r\n")
        #expect(h.run("EXPIREAT", "b", "9223372036854775") == ":1\r\n")
        h.clock.advance(milliseconds: 400 * day)
        h.expireUntilIdle()
        #expect(h.isStored("a") && h.isStored("b"))
        #expect(h.run("TTL", "b") != ":-2\r\n")
    }

    @Test func lazyExpiryIsExactlyAtTheDeadline() {
        let h = CommandHarness()
        let t0 = h.clock.nowMilliseconds()
        for (i, d) in Self.delays.enumerated() {
            h.run("SET", "k\(i)", "v\(i)", "PX", "\(d)")
        }
        for (i, d) in Self.delays.enumerated() {
            // Redis semantics: alive through the deadline millisecond, gone one after it.
            h.clock.set(milliseconds: t0 + d)
            #expect(h.run("GET", "k\(i)") == "$2\r\nv\(i)\r\n")
            h.clock.set(milliseconds: t0 + d + 1)
            #expect(h.run("GET", "k\(i)") == "$-1\r\n")
            #expect(h.run("EXISTS", "k\(i)") == ":0\r\n")
            #expect(!h.isStored("k\(i)"))
        }
        // The wheel's stale records are dropped when they fire, without touching anything.
        h.clock.set(milliseconds: t0 + 31 * day)
        h.expireUntilIdle()
        #expect(h.wheelRecords == 0)
    }

    @Test func extendingReArmsLazily() {
        let h = CommandHarness()
        let t0 = h.clock.nowMilliseconds()
        h.run("SET", "k", "v", "PX", "1000")
        h.clock.set(milliseconds: t0 + 600)
        #expect(h.run("PEXPIRE", "k", "1000") == ":1\r\n")  // new deadline t0 + 1600
        #expect(h.wheelRecords == 1, "extending must not add a record")
        h.clock.set(milliseconds: t0 + 1009)
        h.expireUntilIdle()  // the old record fires, sees the later deadline, re-inserts
        #expect(h.isStored("k"))
        #expect(h.wheelRecords == 1)
        #expect(h.run("PTTL", "k") == ":591\r\n")
        h.clock.set(milliseconds: t0 + 1599)
        h.expireUntilIdle()
        #expect(h.isStored("k"))
        h.clock.set(milliseconds: t0 + 1609)
        h.expireUntilIdle()
        #expect(!h.isStored("k"))
        #expect(h.wheelRecords == 0)
    }

    @Test func shortening() {
        let h = CommandHarness()
        let t0 = h.clock.nowMilliseconds()
        h.run("SET", "k", "v", "EX", "3600")
        #expect(h.run("PEXPIRE", "k", "50") == ":1\r\n")
        h.clock.set(milliseconds: t0 + 49)
        h.expireUntilIdle()
        #expect(h.isStored("k"))
        h.clock.set(milliseconds: t0 + 59)
        h.expireUntilIdle()
        #expect(!h.isStored("k"))
        // The superseded one-hour record is dropped when it fires.
        h.clock.set(milliseconds: t0 + hour + 10)
        h.expireUntilIdle()
        #expect(h.wheelRecords == 0)
    }

    @Test func persistStopsExpiry() {
        let h = CommandHarness()
        let t0 = h.clock.nowMilliseconds()
        h.run("SET", "k", "v", "PX", "100")
        #expect(h.run("PERSIST", "k") == ":1\r\n")
        h.clock.set(milliseconds: t0 + day)
        h.expireUntilIdle()
        #expect(h.isStored("k"))
        #expect(h.run("TTL", "k") == ":-1\r\n")
        #expect(h.wheelRecords == 0)
        // A TTL set again afterwards works.
        #expect(h.run("PEXPIRE", "k", "100") == ":1\r\n")
        h.clock.advance(milliseconds: 109)
        h.expireUntilIdle()
        #expect(!h.isStored("k"))
    }

    @Test func persistThenExpireBeforeOldRecordFires() {
        let h = CommandHarness()
        let t0 = h.clock.nowMilliseconds()
        h.run("SET", "k", "v", "PX", "100")
        h.run("PERSIST", "k")
        h.run("PEXPIRE", "k", "500")
        h.clock.set(milliseconds: t0 + 109)
        h.expireUntilIdle()
        #expect(h.isStored("k"))
        h.clock.set(milliseconds: t0 + 509)
        h.expireUntilIdle()
        #expect(!h.isStored("k"))
    }

    @Test func slidingTTLMillionTimesKeepsOneRecord() {
        let h = CommandHarness()
        h.run("SET", "sess:1", "v", "PX", "100000")
        let expire = OwnedArguments(["PEXPIRE", "sess:1", "100000"])
        for i in 1...1_000_000 {
            h.clock.advance(milliseconds: 1)
            expire.withArguments { Dispatcher.execute(h.client, $0) }
            h.client.output.clear()
            if i % 5_000 == 0 {
                _ = h.keyspace.expireCycle(first: 0, stride: 1, budget: 2000)
                #expect(h.wheelRecords == 1)
            }
        }
        #expect(h.wheelRecords == 1)
        #expect(h.isStored("sess:1"))
        h.clock.advance(milliseconds: 99_999)
        h.expireUntilIdle()
        #expect(h.isStored("sess:1"))
        h.clock.advance(milliseconds: 10)
        h.expireUntilIdle()
        #expect(!h.isStored("sess:1"))
        #expect(h.wheelRecords == 0)
    }

    @Test func massExpiryIsSpreadByTheBudget() {
        let h = CommandHarness(shards: 256)
        let t0 = h.clock.nowMilliseconds()
        let n = 100_000
        for i in 0..<n { h.store("key:\(i)", expireAt: t0 + 1000) }
        #expect(h.keyspace.keyCount(db: 0) == n)
        h.clock.set(milliseconds: t0 + 1001)
        var calls = 0
        var remaining = n
        while true {
            calls += 1
            let pending = h.keyspace.expireCycle(first: 0, stride: 1, budget: 2000)
            let left = h.keyspace.keyCount(db: 0)
            #expect(remaining - left <= 2000, "one cycle deleted more than its budget")
            remaining = left
            if !pending { break }
            #expect(left > 0, "pending reported with nothing left")
            #expect(calls < 100)
        }
        #expect(remaining == 0)
        #expect(calls == n / 2000)
        #expect(h.keyspace.expiredKeys == n)
    }

    @Test func twoLoopsSplitTheShards() {
        let h = CommandHarness(shards: 64)
        let t0 = h.clock.nowMilliseconds()
        for i in 0..<1000 { h.store("k\(i)", expireAt: t0 + 20) }
        h.clock.set(milliseconds: t0 + 21)
        while h.keyspace.expireCycle(first: 0, stride: 2, budget: 100) {}
        let afterFirst = h.keyspace.keyCount(db: 0)
        #expect(afterFirst > 0 && afterFirst < 1000)
        while h.keyspace.expireCycle(first: 1, stride: 2, budget: 100) {}
        #expect(h.keyspace.keyCount(db: 0) == 0)
    }

    @Test func thirtyDayClockJump() {
        let h = CommandHarness(shards: 64)
        let t0 = h.clock.nowMilliseconds()
        var rng = SplitMix64(seed: 9)
        var deadlines: [Int64] = []
        for i in 0..<10_000 {
            let at = t0 + Int64.random(in: 1...(60 * day), using: &rng)
            deadlines.append(at)
            h.store("k\(i)", expireAt: at)
        }
        h.clock.set(milliseconds: t0 + 30 * day)
        let elapsed = ContinuousClock().measure { h.expireUntilIdle(budget: 2000) }
        #expect(elapsed < .seconds(1))
        let now = h.clock.nowMilliseconds()
        let expected = deadlines.filter { $0 >= now }.count
        #expect(h.keyspace.keyCount(db: 0) == expected)
        for (i, at) in deadlines.enumerated().prefix(500) { #expect(h.isStored("k\(i)") == (at >= now)) }
    }

    @Test func databasesExpireIndependently() {
        let h = CommandHarness()
        h.run("SET", "k", "zero")
        h.run("SELECT", "1")
        h.run("SET", "k", "one", "PX", "10")
        h.clock.advance(milliseconds: 19)
        h.expireUntilIdle()
        #expect(h.run("EXISTS", "k") == ":0\r\n")
        h.run("SELECT", "0")
        #expect(h.run("GET", "k") == "$4\r\nzero\r\n")
    }

    @Test func recreatedKeyIsNotExpiredByAStaleRecord() {
        let h = CommandHarness()
        let t0 = h.clock.nowMilliseconds()
        h.run("SET", "k", "v1", "PX", "100")
        h.run("DEL", "k")
        h.run("SET", "k", "v2")
        h.run("SET", "j", "v1", "PX", "100")
        h.clock.set(milliseconds: t0 + 101)
        #expect(h.run("GET", "j") == "$-1\r\n")  // lazily expired
        h.run("SET", "j", "v2", "PX", "300")
        h.clock.set(milliseconds: t0 + 110)
        h.expireUntilIdle()
        #expect(h.run("GET", "k") == "$2\r\nv2\r\n")
        #expect(h.run("GET", "j") == "$2\r\nv2\r\n")
        h.clock.set(milliseconds: t0 + 410)
        h.expireUntilIdle()
        #expect(!h.isStored("j"))
    }

    @Test func flushAllDropsWheelRecords() {
        let h = CommandHarness()
        for i in 0..<100 { h.store("k\(i)", expireAt: h.clock.nowMilliseconds() + day) }
        #expect(h.wheelRecords == 100)
        h.keyspace.flush(db: nil)
        #expect(h.wheelRecords == 0)
        #expect(h.keyspace.keyCount(db: 0) == 0)
    }

    @Test func deletedKeysRecordsAreSweptBeforeTheirDeadline() {
        // The session pattern: keys with a 30-minute TTL created and deleted (logout) all the
        // time. Their records must not pile up until the deadline: the expiry cycle sweeps them
        // once the wheel has doubled, so it stays near twice the live keys.
        let h = CommandHarness()
        var live: [Int] = []
        for i in 0..<200_000 {
            #expect(h.run("SET", "sess:{u}:\(i)", "v", "EX", "1800") == "+OK\r\n")
            live.append(i)
            if live.count > 1_000 { #expect(h.run("DEL", "sess:{u}:\(live.removeFirst())") == ":1\r\n") }
            if i % 1_000 == 0 {
                h.clock.advance(milliseconds: 10)
                h.expireUntilIdle()
            }
        }
        // One hash tag, so one shard. Without the sweep: 200,000 records. With it: at most
        // max(64, 1.5x the live records) plus what arrived since the last sweep (1,000).
        #expect(h.wheelRecords < 2_600, "\(h.wheelRecords) records for 1,001 live keys")
        // The live keys still expire on time.
        h.clock.advance(milliseconds: 1_800_000 + 20)
        h.expireUntilIdle()
        #expect(h.keyspace.keyCount(db: 0) == 0)
        #expect(h.wheelRecords == 0)
    }

    @Test func overwritingKeepsOneRecordPerKey() {
        // Storage-level: replacing an entry through Shard.overwrite inherits its wheel record.
        let h = CommandHarness()
        let k = Key("sess")
        for i in 0..<10_000 {
            h.clock.advance(milliseconds: 1)
            k.bytes.withUnsafeBytes { raw in
                h.keyspace.withShard(raw) { shard in
                    let now = h.clock.nowMilliseconds()
                    shard.mutate(0, k, now: now) { slot in
                        shard.overwrite(0, k, &slot, with: Entry(value: .string(bytes("v\(i)")), expireAt: now + 1000))
                    }
                }
            }
        }
        #expect(h.wheelRecords == 1)
        h.clock.advance(milliseconds: 999)
        h.expireUntilIdle()
        #expect(h.isStored("sess"))
        h.clock.advance(milliseconds: 10)
        h.expireUntilIdle()
        #expect(!h.isStored("sess"))
        #expect(h.wheelRecords == 0)
    }

    @Test func setWithTTLRepeatedKeepsOneRecord() {
        // SET k v EX n on every request (connect-redis, Flask-Session) must not leave one wheel
        // record per write behind.
        let h = CommandHarness()
        for _ in 0..<1000 {
            h.clock.advance(milliseconds: 1)
            h.run("SET", "sess:abc", "data", "EX", "1800")
        }
        #expect(h.wheelRecords <= 2)
    }

    /// Wheel records name keys by their 31-bit table tag. Two keys of one shard with the same
    /// tag (found by brute force among keys sharing a hash tag) must still each expire at their
    /// own deadline, whichever record fires first, and a stale record must not delete the other.
    @Test func keysSharingATagExpireAtTheirOwnDeadlines() throws {
        let h = CommandHarness()
        var pair: (String, String)? = nil
        Key("{c}:0").bytes.withUnsafeBytes { raw in
            h.keyspace.withShard(raw) { shard in
                var seen: [UInt32: String] = [:]
                for i in 0..<400_000 {
                    let name = "{c}:\(i)"
                    let t = KeyTable.tag(of: Key(name), seed: shard.seeds[0])
                    if let other = seen[t] { pair = (other, name); return }
                    seen[t] = name
                }
            }
        }
        let (a, b) = try #require(pair, "no 31-bit tag collision among 400,000 keys")
        let t0 = h.clock.nowMilliseconds()
        // Different deadlines: a's record fires first and may find b; b must survive it.
        #expect(h.run("SET", a, "1", "PX", "1000") == "+OK\r\n")
        #expect(h.run("SET", b, "2", "PX", "5000") == "+OK\r\n")
        h.clock.set(milliseconds: t0 + 1_020)
        h.expireUntilIdle()
        #expect(!h.isStored(a))
        #expect(h.run("GET", b) == "$1\r\n2\r\n")
        h.clock.set(milliseconds: t0 + 5_020)
        h.expireUntilIdle()
        #expect(!h.isStored(b))
        // Same deadline: both go. Then a stale record (a deleted, b re-created later with a
        // longer TTL) must not take b early.
        h.run("SET", a, "1", "PX", "1000")
        h.run("SET", b, "2", "PX", "1000")
        h.clock.advance(milliseconds: 1_020)
        h.expireUntilIdle()
        #expect(!h.isStored(a) && !h.isStored(b))
        h.run("SET", a, "1", "PX", "1000")
        h.run("DEL", a)
        h.run("SET", b, "2", "PX", "3000")
        h.clock.advance(milliseconds: 1_020)
        h.expireUntilIdle()
        #expect(h.run("GET", b) == "$1\r\n2\r\n")
        h.clock.advance(milliseconds: 2_000)
        h.expireUntilIdle()
        #expect(!h.isStored(b))
        #expect(h.wheelRecords == 0)
    }
}
