// The keyspace: `databases` logical databases split over `shardCount` lock-striped shards.
// A key's shard is its Redis Cluster hash slot modulo the shard count, so keys with the same
// hash tag always share a shard (and a lock). Commands on one key take one lock; commands on
// several keys take their shards' locks in ascending index order, which rules out deadlock.
// Which thread runs a command does not matter: any event loop may lock any shard.

public final class Keyspace: @unchecked Sendable {
    public let databases: Int
    public let shards: [Shard]
    /// `shards` again, unretained: `withShard` borrows the shard from here without a
    /// retain/release pair (an atomic pair per command); `shards` keeps them alive.
    private let shardRefs: UnsafeMutablePointer<Unmanaged<Shard>>
    public let clock: any SesameClock
    /// Whether `clock` is the SystemClock, so the request path can read the time without going
    /// through the existential (an outlined copy of it per call, ~1.3 per GET under callgrind).
    private let usesSystemClock: Bool
    private let shardMask: Int
    /// The keyspace-wide accounted bytes, as the shards report them (each shard's unreported
    /// change stays under the slack).
    let memory: MemoryCounter
    private let accountingSlack: Int

    /// `shardCount` is rounded up to a power of two (and at most 16384, one per slot).
    /// `accountingSlack`: bytes a shard may change before reporting to the shared counter
    /// (0 = exact, for tests).
    public init(databases: Int = 16, shardCount: Int = 256, clock: any SesameClock = SystemClock(),
                tickMilliseconds: Int64 = 10, accountingSlack: Int = 4096) {
        var n = 1
        while n < min(max(shardCount, 1), HashSlot.count) { n <<= 1 }
        self.databases = databases
        self.clock = clock
        self.usesSystemClock = clock is SystemClock
        self.shardMask = n - 1
        let now = clock.nowMilliseconds()
        let memory = MemoryCounter(slack: accountingSlack)
        self.memory = memory
        self.accountingSlack = accountingSlack
        shards = (0..<n).map {
            Shard(index: $0, databases: databases, now: now, tickMilliseconds: tickMilliseconds, memory: memory)
        }
        shardRefs = .allocate(capacity: n)
        for (i, s) in shards.enumerated() { (shardRefs + i).initialize(to: .passUnretained(s)) }
    }

    deinit { shardRefs.deallocate() }

    /// The clock's time, without the existential's indirection for the system clock.
    @inline(__always) public func nowMilliseconds() -> Int64 {
        usesSystemClock ? SystemClock.now() : clock.nowMilliseconds()
    }

    /// Bounds the shared counter's error to about 1/64 of `maxMemory` (all shards drifting
    /// together), so a small limit is still enforced closely; 0 = no limit, the default slack.
    public func boundAccountingError(maxMemory: Int) {
        let slack = maxMemory == 0 ? accountingSlack : min(accountingSlack, maxMemory / (shards.count * 64))
        memory.slack.store(slack, ordering: .relaxed)
        for s in shards { s.lock.withLock { s.reportDrift() } }
    }

    /// Accounted bytes of every key and value (Entry.cost), from the shared counter: one atomic
    /// load, behind the exact figure by at most `accountingSlack` per shard.
    @inline(__always) public var approximateUsedBytes: Int {
        memory.total.load(ordering: .relaxed)
    }

    /// Accounted bytes of every key and value, exact (locks each shard in turn).
    public func usedBytes() -> Int {
        var n = 0
        for s in shards { s.lock.withLock { n += s.usedBytes } }
        return n
    }

    @inline(__always) public func shardIndex(_ key: UnsafeRawBufferPointer) -> Int {
        HashSlot.of(key) & shardMask
    }

    @inline(__always) public func shard(for key: UnsafeRawBufferPointer) -> Shard {
        shards[shardIndex(key)]
    }

    @inline(__always)
    public func withShard<R>(_ key: UnsafeRawBufferPointer, _ body: (Shard) throws -> R) rethrows -> R {
        try shardRefs[shardIndex(key)]._withUnsafeGuaranteedRef { s in
            s.lock.lock()
            defer { s.lock.unlock() }
            return try body(s)
        }
    }

    /// Locks every shard in `indices` (ascending, each once) for the duration of `body`.
    public func withShards<R>(_ indices: [Int], _ body: () throws -> R) rethrows -> R {
        let sorted = Array(Set(indices)).sorted()
        for i in sorted { shards[i].lock.lock() }
        defer { for i in sorted.reversed() { shards[i].lock.unlock() } }
        return try body()
    }

    public func withAllShards<R>(_ body: () throws -> R) rethrows -> R {
        for s in shards { s.lock.lock() }
        defer { for s in shards.reversed() { s.lock.unlock() } }
        return try body()
    }

    public func keyCount(db: Int) -> Int {
        var n = 0
        for s in shards { s.lock.withLock { n += s.tables[db].count } }
        return n
    }

    /// (keys, keys with a TTL) per database, for INFO keyspace.
    public func keyspaceStats() -> [(keys: Int, expires: Int)] {
        var stats = Array(repeating: (keys: 0, expires: 0), count: databases)
        for s in shards {
            s.lock.withLock {
                for db in 0..<databases {
                    stats[db].keys += s.tables[db].count
                    stats[db].expires += s.volatileKeys[db]
                }
            }
        }
        return stats
    }

    public var expiredKeys: Int {
        var n = 0
        for s in shards { s.lock.withLock { n += s.expiredKeys } }
        return n
    }

    public func flush(db: Int?) {
        withAllShards {
            for s in shards { s.flush(db) }
            tracker?.flushed(shards)
        }
    }

    /// CLIENT TRACKING's hub, told about flushes (set once by ServerState).
    var tracker: Tracking?

    /// Runs active expiry on the shards `first, first+stride, ...` with a per-call budget of
    /// deletions. Returns true when due work remains (the caller should come back soon).
    public func expireCycle(first: Int, stride: Int, budget: Int) -> Bool {
        var cursor = 0
        return expireCycle(first: first, stride: stride, budget: budget, cursor: &cursor, timeLimitNanoseconds: .max)
    }

    /// The event loop's form: also stops once `timeLimitNanoseconds` of work have passed
    /// (checked after each shard) and resumes at `cursor` next time. Deletions are budgeted,
    /// but a timer-wheel cascade is not: a million deadlines in the same second cascade ~4,000
    /// records per shard at once, and doing all 256 shards in one call stalled a loop
    /// iteration for hundreds of milliseconds. Returns true when work remains.
    public func expireCycle(first: Int, stride: Int, budget: Int, cursor: inout Int,
                            timeLimitNanoseconds: UInt64) -> Bool {
        let now = nowMilliseconds()
        let started = timeLimitNanoseconds == .max ? 0 : monotonicNanoseconds()
        let owned = first < shards.count ? (shards.count - first + stride - 1) / stride : 0
        var remaining = budget
        var pending = false
        var visited = 0
        var k = owned > 0 ? cursor % owned : 0
        while visited < owned {
            let s = shards[first + k * stride]
            visited += 1
            k = k + 1 == owned ? 0 : k + 1
            if !s.timersArmed.load(ordering: .relaxed) { continue }
            s.lock.lock()
            let handled = s.expireDue(now: now, budget: max(remaining, 0),
                                      stopAtNanoseconds: started == 0 ? 0 : started &+ timeLimitNanoseconds)
            if s.hasDueWork { pending = true }
            s.lock.unlock()
            remaining -= handled
            if started != 0 && visited < owned && monotonicNanoseconds() &- started > timeLimitNanoseconds {
                pending = true
                break
            }
        }
        cursor = k
        return pending
    }
}
