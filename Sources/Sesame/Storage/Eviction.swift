// maxmemory and eviction (Redis evict.c). Before a command that may grow memory (`denyoom`)
// the dispatcher asks `admit()`: under the limit it costs one atomic load; over it, keys are
// evicted by the policy until the keyspace is under the limit again, or the command is refused
// with -OOM when nothing may be evicted (noeviction, or a volatile policy with no key that has
// a TTL).
//
// What is measured: the keyspace's accounted bytes (Entry.cost: keys, values and per-key
// overhead), kept current by the shards on every write and summed in one shared counter that
// trails the exact figure by at most 1/64 of maxmemory (Keyspace.boundAccountingError). Not the allocator's figure: glibc's
// mallinfo2 walks every free chunk and took 41 ms on a heap with 330K free chunks, far too slow
// to ask per command. So maxmemory bounds the data set, not client buffers or fragmentation;
// leave headroom (docs/SECURITY.md). Tests may inject a measurement (`memoryUsage`).
//
// Choosing keys, like Redis: sample `maxmemory-samples` keys (per database) from a random
// shard, merge them into a pool of the 16 best candidates kept across calls, evict the best:
// the least recently used (LRU clock in Entry, 1 s resolution), the soonest to expire
// (volatile-ttl), or any (random). A volatile policy only ever samples keys with a TTL, so a
// key without one is never evicted. A candidate is re-checked under its shard's lock and
// skipped if it was used or changed since it was sampled.
//
// Locks: eviction takes one shard lock at a time and only with tryLock, so it can run from
// any command (even inside EXEC, which holds other shards' locks) without risking deadlock; a
// busy shard is simply not sampled this time.

import Synchronization

public enum EvictionPolicy: String, Sendable, CaseIterable {
    case noEviction = "noeviction"
    case allKeysLRU = "allkeys-lru"
    case volatileLRU = "volatile-lru"
    case volatileTTL = "volatile-ttl"
    case volatileRandom = "volatile-random"
    case allKeysRandom = "allkeys-random"

    var volatileOnly: Bool { self == .volatileLRU || self == .volatileTTL || self == .volatileRandom }
    var isRandom: Bool { self == .volatileRandom || self == .allKeysRandom }
}

public final class Eviction: Sendable {
    /// Bytes; 0 = no limit. CONFIG SET may change it, the policy and the sample count at any
    /// time, hence atomics (relaxed: a command that races a change sees the old or new value).
    public var maxMemory: Int {
        get { limit.load(ordering: .relaxed) }
        set {
            limit.store(max(0, newValue), ordering: .relaxed)
            keyspace.boundAccountingError(maxMemory: max(0, newValue))
        }
    }
    public var policy: EvictionPolicy {
        get { EvictionPolicy.allCases[Int(policyIndex.load(ordering: .relaxed))] }
        set { policyIndex.store(EvictionPolicy.allCases.firstIndex(of: newValue)!, ordering: .relaxed) }
    }
    public var samples: Int {
        get { sampleCount.load(ordering: .relaxed) }
        set { sampleCount.store(min(max(1, newValue), 64), ordering: .relaxed) }
    }
    private let limit: Atomic<Int>
    private let policyIndex: Atomic<Int>
    private let sampleCount: Atomic<Int>
    /// Keys evicted since start (INFO stats evicted_keys).
    public let evictedKeys = Atomic<Int>(0)
    private let keyspace: Keyspace
    private let measure: (@Sendable () -> Int)?
    private let rngState: Atomic<UInt64>
    private let pool = Locked<[EvictionCandidate]>([])

    static let poolSize = 16
    /// Most keys one command evicts before it runs anyway (Redis bounds eviction time per
    /// command the same way); the next command continues.
    static let maxEvictionsPerCommand = 256
    /// Random shards tried for samples before sweeping them all.
    static let randomShardTries = 16

    /// `memoryUsage` replaces the accounted bytes as the measurement (for tests).
    public init(keyspace: Keyspace, maxMemory: Int, policy: EvictionPolicy, samples: Int,
                memoryUsage: (@Sendable () -> Int)? = nil) {
        self.keyspace = keyspace
        limit = Atomic(max(0, maxMemory))
        policyIndex = Atomic(EvictionPolicy.allCases.firstIndex(of: policy)!)
        sampleCount = Atomic(min(max(1, samples), 64))
        self.measure = memoryUsage
        let seed = secureRandomBytes(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        rngState = Atomic(seed)
        keyspace.boundAccountingError(maxMemory: max(0, maxMemory))
    }

    /// The figure compared with maxmemory (INFO used_memory_dataset).
    public var usedMemory: Int { measure?() ?? keyspace.approximateUsedBytes }

    /// Whether a command that may grow memory may run now; evicts first when over the limit.
    @inline(__always)
    public func admit() -> Bool {
        let maxMemory = self.maxMemory
        if maxMemory == 0 { return true }
        if (measure?() ?? keyspace.approximateUsedBytes) <= maxMemory { return true }
        return performEvictions(maxMemory: maxMemory)
    }

    /// Evicts until under the limit. False when still over it and nothing more may be evicted.
    func performEvictions(maxMemory: Int) -> Bool {
        var used = measure?() ?? keyspace.usedBytes()
        if used <= maxMemory { return true }
        let policy = self.policy
        if policy == .noEviction { return false }
        let samples = self.samples
        var evicted = 0
        defer { if evicted > 0 { evictedKeys.wrappingAdd(evicted, ordering: .relaxed) } }
        while used > maxMemory {
            guard let freed = evictOne(policy: policy, samples: samples) else { return false }
            evicted += 1
            used = measure?() ?? used - freed
            if evicted >= Eviction.maxEvictionsPerCommand { return true }
        }
        return true
    }

    // MARK: - Choosing a key

    @inline(__always)
    private func random() -> UInt64 {
        // SplitMix64 over an atomic counter: thread-safe, no syscall, good enough to pick shards.
        var z = rngState.wrappingAdd(0x9E37_79B9_7F4A_7C15, ordering: .relaxed).newValue
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Evicts one key; returns the bytes freed, or nil when no key may be evicted. Candidates
    /// can be lost to other threads (used, changed, or their shard busy), so a few rounds of
    /// sampling are tried before giving up.
    func evictOne(policy: EvictionPolicy, samples: Int) -> Int? {
        for _ in 0..<4 {
            if let freed = sampleAndEvict(policy: policy, samples: samples) { return freed }
        }
        return nil
    }

    private func sampleAndEvict(policy: EvictionPolicy, samples: Int) -> Int? {
        let shards = keyspace.shards
        let volatileOnly = policy.volatileOnly
        let perDB = policy.isRandom ? 1 : samples
        var fresh: [EvictionCandidate] = []
        fresh.reserveCapacity(perDB)

        // Samples from one shard, if its lock is free; for the random policies the first key
        // found is evicted on the spot.
        func sample(_ s: Shard) -> Int? {
            guard s.lock.tryLock() else { return nil }
            defer { s.lock.unlock() }
            let first = Int(truncatingIfNeeded: random() % UInt64(keyspace.databases))
            for n in 0..<keyspace.databases {
                let db = (first + n) % keyspace.databases
                let before = fresh.count
                s.sampleForEviction(db: db, count: perDB, volatileOnly: volatileOnly,
                                    maxScan: max(64, perDB * 8), into: &fresh)
                if policy.isRandom {
                    for c in fresh[before...] {
                        if let freed = s.evict(c, volatileOnly: volatileOnly) { return freed }
                    }
                    fresh.removeSubrange(before...)
                }
            }
            return nil
        }

        var tries = 0
        while fresh.count < samples && tries < Eviction.randomShardTries {
            tries += 1
            if let freed = sample(shards[Int(truncatingIfNeeded: random() % UInt64(shards.count))]) { return freed }
        }
        if fresh.isEmpty && poolIsEmpty {
            // Few eligible keys: sweep every shard once, from a random start.
            let start = Int(truncatingIfNeeded: random() % UInt64(shards.count))
            for n in 0..<shards.count where fresh.isEmpty {
                if let freed = sample(shards[(start + n) % shards.count]) { return freed }
            }
        }
        if policy.isRandom { return nil }
        return evictBest(adding: fresh, policy: policy)
    }

    private var poolIsEmpty: Bool { pool.withLock { $0.isEmpty } }

    /// Lower is a better victim: the LRU clock, or the deadline for volatile-ttl.
    @inline(__always)
    private static func score(_ c: EvictionCandidate, _ policy: EvictionPolicy) -> Int64 {
        policy == .volatileTTL ? c.expireAt : Int64(c.accessed)
    }

    /// Merges fresh samples into the pool and evicts the best candidate still valid.
    private func evictBest(adding fresh: [EvictionCandidate], policy: EvictionPolicy) -> Int? {
        let volatileOnly = policy.volatileOnly
        pool.withLock { pool in
            for c in fresh where !pool.contains(where: { $0.shard == c.shard && $0.db == c.db && $0.key == c.key }) {
                pool.append(c)
            }
            pool.sort { Eviction.score($0, policy) < Eviction.score($1, policy) }
            if pool.count > Eviction.poolSize { pool.removeLast(pool.count - Eviction.poolSize) }
        }
        // Each turn removes one candidate and this thread adds none, so the loop ends.
        while let c = pool.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) {
            let s = keyspace.shards[c.shard]
            // A busy shard's candidate is dropped, not waited for; it can be sampled again.
            guard s.lock.tryLock() else { continue }
            let freed = s.evict(c, volatileOnly: volatileOnly)
            s.lock.unlock()
            if let freed { return freed }
            // Used, changed or deleted since it was sampled: try the next one.
        }
        return nil
    }
}
