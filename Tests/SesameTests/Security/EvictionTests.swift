// maxmemory and eviction: which keys go and which never do, the OOM error, the counters, and
// the memory accounting the limit is checked against.

import Synchronization
import Testing
@testable import Sesame

/// A server state with maxmemory settings, exact accounting (slack 0) and one client.
struct MemoryHarness {
    let clock: ManualClock
    let state: ServerState
    let client: Client

    init(maxMemory: Int, policy: EvictionPolicy = .noEviction, samples: Int = 5, shards: Int = 16,
         memoryUsage: (@Sendable () -> Int)? = nil) {
        var cfg = Configuration()
        cfg.threads = 1
        cfg.shards = shards
        cfg.maxMemory = maxMemory
        cfg.maxMemoryPolicy = policy
        cfg.maxMemorySamples = samples
        clock = ManualClock(startingAt: 1_700_000_000_000)
        state = ServerState(configuration: cfg, clock: clock, memoryUsage: memoryUsage, accountingSlack: 0)
        client = Client(id: 1, server: state, output: ByteBuffer())
    }

    var keyspace: Keyspace { state.keyspace }

    @discardableResult
    func run(_ args: String...) -> String { run(args) }

    @discardableResult
    func run(_ args: [String]) -> String {
        client.output.clear()
        OwnedArguments(args).withArguments { Dispatcher.execute(client, $0) }
        let reply = client.output.readableArray.text
        client.output.clear()
        return reply
    }

    /// Whether `key` is physically stored in db 0 (no lazy expiry, no LRU stamp).
    func isStored(_ key: String) -> Bool {
        let shard = keyspace.shards[HashSlot.of(key) & (keyspace.shards.count - 1)]
        return shard.lock.withLock { shard.tables[0][Key(key)] != nil }
    }

    /// Recomputes what the shards should have accounted, from the tables themselves.
    func recount() -> (bytes: Int, volatile: Int) {
        var bytes = 0, volatile = 0
        for s in keyspace.shards {
            s.lock.withLock {
                for t in s.tables {
                    for (k, e) in t {
                        bytes += e.cost(k)
                        if e.expireAt != 0 { volatile += 1 }
                    }
                }
            }
        }
        return (bytes, volatile)
    }

    var volatileCounted: Int {
        keyspace.shards.reduce(0) { n, s in s.lock.withLock { n + s.volatileKeys.reduce(0, +) } }
    }

    var evicted: Int { state.eviction.evictedKeys.load(ordering: .relaxed) }

    func info(_ field: String) -> String? {
        let text = run("INFO", "all")
        for line in text.split(separator: "\r\n") where line.hasPrefix(field + ":") {
            return String(line.dropFirst(field.count + 1))
        }
        return nil
    }
}

/// What one `SET key <100 bytes>` costs in the accounting, for sizing limits in keys.
private func costOfOneKey(_ name: String = "key:000", ttl: Bool = false) -> Int {
    Entry(value: .string(Array(repeating: 120, count: 100)), expireAt: ttl ? 1 : 0).cost(Key(name))
}

/// "key:007": fixed-width names, so every key costs the same.
private func padded(_ prefix: String, _ n: Int, _ width: Int) -> String {
    let digits = String(n)
    return prefix + ":" + String(repeating: "0", count: max(0, width - digits.count)) + digits
}

private let value100 = String(repeating: "x", count: 100)
private let oom = "-OOM command not allowed when used memory > 'maxmemory'.\r\n"

@Suite struct MemoryAccountingTests {
    @Test func entryStaysSmall() {
        // The LRU clock lives in padding: adding it must not grow the per-key entry.
        #expect(MemoryLayout<Entry>.size == 40)
        #expect(MemoryLayout<Entry>.stride == 40)
    }

    @Test func accountingFollowsEveryKindOfChange() {
        let h = MemoryHarness(maxMemory: 0)
        var rng = SplitMix64(seed: 7)
        for step in 0..<4000 {
            let key = "k\(Int.random(in: 0..<60, using: &rng))"
            let field = "f\(Int.random(in: 0..<200, using: &rng))"
            let big = String(repeating: "v", count: Int.random(in: 0..<5000, using: &rng))
            switch Int.random(in: 0..<12, using: &rng) {
            case 0: h.run("SET", key, big)
            case 1: h.run("SET", key, "v", "PX", "\(Int.random(in: 1..<3000, using: &rng))")
            case 2: h.run("HSET", key, field, big)
            case 3: h.run("HDEL", key, field)
            case 4: h.run("SADD", key, field)
            case 5: h.run("SREM", key, field)
            case 6: h.run("DEL", key)
            case 7: h.run("EXPIRE", key, "\(Int.random(in: 1..<4, using: &rng))")
            case 8: h.run("PERSIST", key)
            case 9: h.run("GET", key)
            case 10: h.clock.advance(milliseconds: Int64.random(in: 0..<700, using: &rng))
            default:
                while h.keyspace.expireCycle(first: 0, stride: 1, budget: 1_000_000) {}
            }
            if step % 500 == 0 {
                let r = h.recount()
                #expect(h.keyspace.usedBytes() == r.bytes, "step \(step)")
                #expect(h.keyspace.approximateUsedBytes == r.bytes, "step \(step)")
                #expect(h.volatileCounted == r.volatile, "step \(step)")
            }
        }
        let r = h.recount()
        #expect(h.keyspace.usedBytes() == r.bytes)
        #expect(h.volatileCounted == r.volatile)
        h.run("SELECT", "3")
        h.run("SET", "other", value100)
        h.run("FLUSHDB")
        h.run("SELECT", "0")
        #expect(h.keyspace.usedBytes() == h.recount().bytes)
        h.run("FLUSHALL")
        #expect(h.keyspace.usedBytes() == 0)
        #expect(h.keyspace.approximateUsedBytes == 0)
        #expect(h.volatileCounted == 0)
    }

    @Test func tableFormValuesAreAccountedInConstantTime() {
        var hv = HashValue()
        for i in 0..<300 {
            bytes("field\(i)").withUnsafeBytes { f in bytes("value\(i)").withUnsafeBytes { v in _ = hv.set(f, v) } }
        }
        #expect(!hv.isPacked)
        let copy = hv  // copy-on-write: changing one must not change the other's size
        let before = copy.approximateBytes
        #expect(bytes("field0").withUnsafeBytes { hv.remove($0) })
        #expect(copy.approximateBytes == before)
        #expect(hv.approximateBytes < before)
        #expect(copy.count == 300 && hv.count == 299)
    }

    @Test func keyspaceStatsCountKeysWithTTL() {
        let h = MemoryHarness(maxMemory: 0)
        h.run("SET", "a", "1")
        h.run("SET", "b", "1", "EX", "100")
        h.run("HSET", "c", "f", "v")
        h.run("EXPIRE", "c", "100")
        h.run("PERSIST", "b")
        let stats = h.keyspace.keyspaceStats()
        #expect(stats[0].keys == 3)
        #expect(stats[0].expires == 1)
    }

    @Test func lookupStampsTheLRUClock() {
        let h = MemoryHarness(maxMemory: 0, shards: 1)
        h.run("SET", "k", "v")
        let stamp = { h.keyspace.shards[0].lock.withLock { h.keyspace.shards[0].tables[0][Key("k")]!.accessed } }
        let first = stamp()
        h.clock.advance(milliseconds: 5000)
        #expect(stamp() == first, "looking at the table directly does not count as an access")
        h.run("GET", "k")
        #expect(stamp() == Entry.lruTick(h.clock.nowMilliseconds()))
        #expect(stamp() > first)
    }
}

@Suite struct EvictionTests {
    @Test func noevictionRefusesWritesButNotReadsOrDeletes() {
        let h = MemoryHarness(maxMemory: 10 * costOfOneKey())
        var stored = 0
        for i in 0..<50 {
            let reply = h.run("SET", padded("key", i, 3), value100)
            if reply == "+OK\r\n" { stored += 1 } else { #expect(reply == oom); break }
        }
        #expect(stored >= 10 && stored <= 11, "stored \(stored)")
        #expect(h.run("HSET", "h", "f", "v") == oom)
        #expect(h.run("SADD", "s", "m") == oom)
        #expect(h.run("GET", "key:000") == "$100\r\n\(value100)\r\n", "reads still work")
        #expect(h.run("EXPIRE", "key:000", "100") == ":1\r\n", "not denyoom in Redis either")
        #expect(h.run("DEL", "key:000", "key:001") == ":2\r\n", "deleting is how a client gets out")
        #expect(h.run("SET", "again", value100) == "+OK\r\n")
        #expect(h.evicted == 0)
        #expect(h.info("maxmemory_policy") == "noeviction")
        #expect(h.info("maxmemory") == "\(10 * costOfOneKey())")
        #expect(h.info("evicted_keys") == "0")
    }

    @Test func oomInsideMultiAbortsTheTransaction() {
        let h = MemoryHarness(maxMemory: 2 * costOfOneKey())
        h.run("SET", "key:000", value100)
        h.run("SET", "key:001", value100)
        h.run("SET", "key:002", value100)
        #expect(h.run("MULTI") == "+OK\r\n")
        #expect(h.run("SET", "x", "1") == oom)
        #expect(h.run("EXEC").hasPrefix("-EXECABORT"))
        // EXEC itself is refused when its queue holds a denyoom command and memory is over.
        h.run("DEL", "key:000", "key:001", "key:002")
        #expect(h.run("MULTI") == "+OK\r\n")
        #expect(h.run("SET", "x", value100) == "+QUEUED\r\n")
        let other = Client(id: 2, server: h.state, output: ByteBuffer())
        for i in 0..<3 {
            OwnedArguments(["SET", "key:00\(i)", value100]).withArguments { Dispatcher.execute(other, $0) }
        }
        #expect(other.output.readableArray.text == "+OK\r\n+OK\r\n+OK\r\n")
        #expect(h.run("EXEC") == oom)
        #expect(h.run("GET", "x") == oom, "still in MULTI: queuing anything is refused while over")
        #expect(h.run("DISCARD") == "+OK\r\n", "DISCARD is never refused")
        #expect(!h.isStored("x"))
        // Neither is a transaction with nothing that grows memory.
        h.run("DEL", "key:000")
        h.run("MULTI")
        #expect(h.run("GET", "key:001") == "+QUEUED\r\n")
        h.run("SET", "key:000", value100)  // queued: memory is back under the limit
        other.output.clear()
        OwnedArguments(["SET", "key:009", value100]).withArguments { Dispatcher.execute(other, $0) }
        #expect(h.run("EXEC").hasPrefix("-OOM"))
        #expect(h.run("DISCARD") == "+OK\r\n")
        h.run("MULTI")
        #expect(h.run("GET", "key:001") == "-OOM command not allowed when used memory > 'maxmemory'.\r\n")
        h.run("DISCARD")
        h.run("DEL", "key:009")
        h.run("MULTI")
        h.run("GET", "key:001")
        other.output.clear()
        OwnedArguments(["SET", "key:009", value100]).withArguments { Dispatcher.execute(other, $0) }
        #expect(h.run("EXEC") == "*1\r\n$100\r\n\(value100)\r\n", "a read-only EXEC runs even when over")
    }

    @Test func allkeysLRUEvictsTheLeastRecentlyUsed() {
        // One shard and samples covering most of it: the choice is (nearly) exact LRU.
        let perKey = costOfOneKey()
        let h = MemoryHarness(maxMemory: 100 * perKey, policy: .allKeysLRU, samples: 64, shards: 1)
        for i in 0..<100 { #expect(h.run("SET", padded("key", i, 3), value100) == "+OK\r\n") }
        h.clock.advance(milliseconds: 5000)
        for i in 50..<100 { h.run("GET", padded("key", i, 3)) }  // the hot half
        h.clock.advance(milliseconds: 5000)
        for i in 0..<30 { #expect(h.run("SET", padded("new", i, 3), value100) == "+OK\r\n") }
        #expect(h.evicted >= 29 && h.evicted <= 31, "evicted \(h.evicted)")
        for i in 50..<100 { #expect(h.isStored(padded("key", i, 3)), "hot key \(i) was evicted") }
        for i in 0..<30 { #expect(h.isStored(padded("new", i, 3)), "new key \(i) was evicted") }
        let coldLeft = (0..<50).filter { h.isStored(padded("key", $0, 3)) }.count
        #expect(coldLeft == 50 - h.evicted)
        #expect(h.info("evicted_keys") == "\(h.evicted)")
        #expect(h.keyspace.usedBytes() <= 100 * perKey + perKey)
    }

    @Test func allkeysLRUWithDefaultSamplingPrefersColdKeys() {
        // Many shards, 5 samples per eviction, as configured by default: an approximation, so
        // the test asks for a strong preference, not perfection.
        let perKey = costOfOneKey()
        let h = MemoryHarness(maxMemory: 1000 * perKey, policy: .allKeysLRU, samples: 5, shards: 16)
        for i in 0..<1000 { h.run("SET", padded("key", i, 4), value100) }
        h.clock.advance(milliseconds: 10_000)
        for i in 0..<1000 where i % 2 == 1 { h.run("GET", padded("key", i, 4)) }
        h.clock.advance(milliseconds: 10_000)
        for i in 0..<200 { h.run("SET", padded("new", i, 4), value100) }
        let hotLost = (0..<1000).filter { $0 % 2 == 1 && !h.isStored(padded("key", $0, 4)) }.count
        let coldLost = (0..<1000).filter { $0 % 2 == 0 && !h.isStored(padded("key", $0, 4)) }.count
        #expect(hotLost + coldLost == h.evicted)
        #expect(h.evicted >= 190)
        #expect(Double(coldLost) / Double(h.evicted) >= 0.95, "cold \(coldLost), hot \(hotLost)")
    }

    @Test(arguments: [EvictionPolicy.volatileLRU, .volatileRandom, .volatileTTL])
    func volatilePoliciesNeverEvictKeysWithoutTTL(_ policy: EvictionPolicy) {
        // 30 keys without a TTL and 30 with one fit exactly (a TTL adds the wheel record).
        let plain = costOfOneKey(), volatile = costOfOneKey(ttl: true)
        let h = MemoryHarness(maxMemory: 30 * plain + 30 * volatile, policy: policy, shards: 16)
        for i in 0..<30 { h.run("SET", padded("per", i, 3), value100) }
        for i in 0..<30 { h.run("SET", padded("ttl", i, 3), value100, "EX", "\(1000 + i)") }
        // Every further write needs an eviction; only the 30 TTL keys may go.
        var refused = 0
        for i in 0..<60 {
            let reply = h.run("SET", padded("new", i, 3), value100)
            if reply == oom { refused += 1 } else { #expect(reply == "+OK\r\n") }
        }
        for i in 0..<30 { #expect(h.isStored(padded("per", i, 3)), "\(policy): persistent key \(i) evicted") }
        #expect(h.evicted == 30, "\(policy): evicted \(h.evicted)")
        #expect((0..<30).allSatisfy { !h.isStored(padded("ttl", $0, 3)) })
        // The new keys have no TTL, so the room of the 30 evicted TTL keys holds
        // 30 * volatile / plain of them, plus the one write admitted past the limit (the check
        // comes before it); every later write is refused.
        let stored = 30 * volatile / plain + 1
        #expect(refused == 60 - stored, "\(policy): once no key has a TTL, writes get -OOM")
        #expect(h.run("SET", "more", "x", "EX", "10") == oom)
    }

    @Test func volatileTTLEvictsTheSoonestToExpire() {
        let perKey = costOfOneKey(ttl: true)
        let h = MemoryHarness(maxMemory: 100 * perKey, policy: .volatileTTL, samples: 64, shards: 1)
        // Deadlines in shuffled order, so table order says nothing.
        var rng = SplitMix64(seed: 3)
        let ttls = (0..<100).map { 100 + $0 * 10 }.shuffled(using: &rng)
        for (i, ttl) in ttls.enumerated() { h.run("SET", padded("key", i, 3), value100, "EX", "\(ttl)") }
        for i in 0..<20 { h.run("SET", padded("new", i, 3), value100, "EX", "5000") }
        let lost = (0..<100).filter { !h.isStored(padded("key", $0, 3)) }.map { ttls[$0] }
        #expect(lost.count >= 19 && lost.count <= 21)
        // The pool is an approximation; the evicted must still come from the short end.
        #expect(lost.allSatisfy { $0 < 100 + 40 * 10 }, "evicted TTLs \(lost.sorted())")
    }

    @Test func allkeysRandomEvictsUntilUnderTheLimit() {
        let perKey = costOfOneKey()
        let h = MemoryHarness(maxMemory: 50 * perKey, policy: .allKeysRandom)
        for i in 0..<200 { #expect(h.run("SET", padded("key", i, 3), value100) == "+OK\r\n") }
        #expect(h.keyspace.usedBytes() <= 51 * perKey)
        #expect(h.evicted >= 149 && h.evicted <= 151)
        #expect(h.info("evicted_keys") == "\(h.evicted)")
        #expect(h.info("maxmemory_policy") == "allkeys-random")
    }

    @Test func injectedMeasurementDrivesTheDecision() {
        // A test hook: the "memory" is whatever the closure says (here 1,000 bytes a key).
        let box = KeyspaceBox()
        let h = MemoryHarness(maxMemory: 10_000, policy: .allKeysLRU, memoryUsage: {
            box.keyspace.withLock { $0 }.map { ks in (0..<ks.databases).reduce(0) { $0 + ks.keyCount(db: $1) } * 1000 } ?? 0
        })
        box.keyspace.withLock { $0 = h.keyspace }
        for i in 0..<25 { h.run("SET", "k\(i)", "v") }
        // 10 keys fit; the 11th write evicts before it runs, so 11 stay (Redis checks before).
        #expect(h.keyspace.keyCount(db: 0) == 11)
        #expect(h.evicted == 14)
    }

    @Test func evictionCanBeTurnedOnAndOffAtRuntime() {
        let perKey = costOfOneKey()
        let h = MemoryHarness(maxMemory: 0)
        for i in 0..<20 { h.run("SET", "key:\(i)", value100) }
        h.state.eviction.maxMemory = 5 * perKey
        #expect(h.run("SET", "x", "1") == oom)
        h.state.eviction.policy = .allKeysRandom
        #expect(h.run("SET", "x", "1") == "+OK\r\n")
        #expect(h.keyspace.keyCount(db: 0) <= 6)
        h.state.eviction.maxMemory = 0
        for i in 0..<20 { #expect(h.run("SET", "key:\(i)", value100) == "+OK\r\n") }
    }

    @Test func evictionSamplesEveryDatabase() {
        let perKey = costOfOneKey()
        let h = MemoryHarness(maxMemory: 20 * perKey, policy: .allKeysLRU)
        h.run("SELECT", "5")
        for i in 0..<21 { h.run("SET", padded("key", i, 3), value100) }
        h.run("SELECT", "0")
        #expect(h.run("SET", "key:000", value100) == "+OK\r\n")
        #expect(h.evicted == 1)
    }

    @Test func configurationParsesMaxmemorySettings() throws {
        let c = try Configuration.parse(arguments: ["--maxmemory", "100mb", "--maxmemory-policy", "ALLKEYS-LRU",
                                                    "--maxmemory-samples", "10"])
        #expect(c.maxMemory == 100 * 1024 * 1024)
        #expect(c.maxMemoryPolicy == .allKeysLRU)
        #expect(c.maxMemorySamples == 10)
        var d = Configuration()
        try d.apply(fileContents: "maxmemory 1g\nmaxmemory-policy volatile-ttl\n")
        #expect(d.maxMemory == 1_000_000_000)
        #expect(d.maxMemoryPolicy == .volatileTTL)
        #expect(throws: Configuration.Error.self) { try Configuration.parse(arguments: ["--maxmemory-policy", "allkeys-lfu"]) }
        #expect(throws: Configuration.Error.self) { try Configuration.parse(arguments: ["--maxmemory", "lots"]) }
        #expect(throws: Configuration.Error.self) { try Configuration.parse(arguments: ["--maxmemory-samples", "0"]) }
        #expect(Configuration().maxMemory == 0)
        #expect(Configuration().maxMemoryPolicy == .noEviction)
        #expect(Configuration().maxMemorySamples == 5)
    }
}

final class KeyspaceBox: Sendable {
    let keyspace = Mutex<Keyspace?>(nil)
}

@Suite struct EvictionConcurrencyTests {
    @Test func threadsWritingAndReadingOverTheLimitNeitherHangNorOverrun() {
        let perKey = costOfOneKey()
        let h = MemoryHarness(maxMemory: 500 * perKey, policy: .allKeysLRU, shards: 16)
        let refused = Countdown()  // an atomic counter
        let state = h.state
        let done = runThreads(4, timeout: .seconds(120)) { t in
            let client = Client(id: 10 + t, server: state, output: ByteBuffer())
            var rng = SplitMix64(seed: UInt64(t))
            for i in 0..<4000 {
                let key = padded("key", Int.random(in: 0..<3000, using: &rng), 4)
                let args = i % 3 == 0 ? ["GET", key] : ["SET", key, String(repeating: "x", count: 100)]
                client.output.clear()
                OwnedArguments(args).withArguments { Dispatcher.execute(client, $0) }
                if client.output.readableArray.first == UInt8(ascii: "-") { refused.done.add(1, ordering: .relaxed) }
            }
        }
        #expect(done, "eviction hung or deadlocked")
        let r = h.recount()
        #expect(h.keyspace.usedBytes() == r.bytes)
        #expect(r.bytes <= 500 * perKey + 4 * 2 * perKey, "over the limit: \(r.bytes) > \(500 * perKey)")
        #expect(h.evicted > 1000)
        // Candidates lost to other threads are retried; a refusal needs four lost rounds in a row.
        let n = refused.done.load(ordering: .relaxed)
        #expect(n <= 40, "\(n) writes refused")
    }
}
