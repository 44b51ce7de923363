// One lock stripe of the keyspace. A shard owns, for every database, the keys whose hash slot
// maps to it, plus one timer wheel for their TTLs. Everything in a shard is guarded by its one
// lock: callers take it (Keyspace.withShard / withShards) and then use the unlocked methods
// here. Keys sharing a hash tag share a slot, hence a shard, hence one lock: a session's hash
// and its user's set are updated together under a single lock.
//
// Every change to a table goes through the methods here (lookup, mutate, remove, expiry,
// flush, eviction), which keep three things current: the memory accounting (`usedBytes`, the
// sum of Entry.cost, reported to the keyspace-wide counter in steps of `accountingSlack`), the
// number of keys with a TTL per database (volatile eviction and INFO keyspace), and each
// entry's LRU clock (`accessed`, stamped on every lookup and mutation). Code that writes a
// table directly would bypass all three.

import Synchronization

/// Stored state opts out of Swift's run-time exclusivity checks (`@exclusivity(unchecked)`)
/// in release builds: the shard lock already serialises threads, and the checks cost a
/// thread-local access-set insert per property access on every command. `tables` is the one
/// property held inout across a caller's closure (`mutate`), so debug builds, which run the
/// test suite, keep its check: a handler that re-entered the shard inside `mutate` traps there.
public final class Shard: @unchecked Sendable {
    public let index: Int
    public let lock = ShardLock()
    /// Guarded by `lock`. One table per database.
    #if DEBUG
    var tables: ShardTables
    #else
    @exclusivity(unchecked) var tables: ShardTables
    #endif
    @exclusivity(unchecked) var wheel: TimerWheel
    /// Each database's KeyTable seed, kept across flushes: a wheel record carries its key's
    /// tag, computed from the seed without touching the table (scheduleExpiry runs inside
    /// `mutate`, while the table is being written).
    let seeds: [Int]
    /// Whether the wheel or `due` may hold records: read without the lock by the expiry cycle,
    /// so the 100 ticks a second visit only shards with TTLs instead of locking all 256 (an
    /// idle server, or one without TTLs, then does no expiry work at all). Set under the lock
    /// before a record is inserted; a cycle that misses the store catches it on the next tick.
    let timersArmed = Atomic<Bool>(false)
    /// Records that fell due but were not processed yet (expiry work is budgeted per loop turn).
    @exclusivity(unchecked) var due: [WheelRecord] = []
    /// Keys removed by active or lazy expiry (INFO expired_keys).
    @exclusivity(unchecked) var expiredKeys = 0
    /// WATCHed keys of this shard: a version bumped by every change to the key, and how many
    /// clients watch it. Empty unless someone uses WATCH, so the write path pays one isEmpty.
    @exclusivity(unchecked) var watched: [WatchKey: (version: UInt64, watchers: Int)] = [:]
    /// Where expirations are reported (keyspace notifications); nil when nobody listens.
    @exclusivity(unchecked) var events: KeyEvents?
    /// CLIENT TRACKING: keys tracking clients read, and where their changes are reported
    /// (Tracking.swift). The table is empty and `tracker.active` 0 unless a client tracks.
    @exclusivity(unchecked) var tracked: [Key: [TrackingClient]] = [:]
    @exclusivity(unchecked) var tracker: Tracking? {
        didSet { trackerRef = tracker.map { .passUnretained($0) } }
    }
    /// `tracker`, unretained, for the write path's "is anyone tracking?" check (binding the
    /// optional reference was a retain/release pair per write); `tracker` keeps it alive.
    @exclusivity(unchecked) private(set) var trackerRef: Unmanaged<Tracking>?
    /// Changes made to this shard's keys (Redis's server.dirty, per shard): the append-only
    /// file logs a write command only when it moved this, so no-op writes are not logged.
    @exclusivity(unchecked) var dirty: UInt64 = 0
    /// Bytes the memory accounting charges for this shard's keys: the sum of Entry.cost.
    @exclusivity(unchecked) private(set) var usedBytes = 0
    /// The part of `usedBytes` already added to `memory` (the keyspace-wide counter).
    @exclusivity(unchecked) private var reportedBytes = 0
    private let memory: MemoryCounter
    /// Keys with a TTL, per database.
    @exclusivity(unchecked) private(set) var volatileKeys: [Int]
    /// Where eviction sampling resumes in each database's table (see sampleForEviction).
    @exclusivity(unchecked) private var evictionHand: [Int]

    init(index: Int, databases: Int, now: Int64, tickMilliseconds: Int64,
         memory: MemoryCounter = MemoryCounter(slack: 4096)) {
        self.index = index
        // Seeds from Hasher's per-process random seed: unpredictable to clients, no system call.
        seeds = (0..<databases).map { db in
            var h = Hasher()
            h.combine(index)
            h.combine(db)
            return h.finalize()
        }
        tables = ShardTables(seeds.map { KeyTable(seed: $0) })
        wheel = TimerWheel(now: now, tickMilliseconds: tickMilliseconds)
        self.memory = memory
        volatileKeys = Array(repeating: 0, count: databases)
        evictionHand = Array(repeating: 0, count: databases)
    }

    deinit { tables.destroy() }

    // MARK: - Accounting

    /// Adds `delta` to this shard's bytes, and to the keyspace-wide counter once the unreported
    /// drift passes the slack: one shared atomic add per few KB of change, not per write.
    @inline(__always)
    private func account(_ delta: Int) {
        usedBytes += delta
        let drift = usedBytes - reportedBytes
        let slack = memory.slack.load(ordering: .relaxed)
        if drift > slack || drift < -slack {
            memory.total.wrappingAdd(drift, ordering: .relaxed)
            reportedBytes = usedBytes
        }
    }

    /// Reports any unreported drift now (after the slack shrank).
    func reportDrift() {
        let drift = usedBytes - reportedBytes
        if drift != 0 {
            memory.total.wrappingAdd(drift, ordering: .relaxed)
            reportedBytes = usedBytes
        }
    }

    /// Bookkeeping for an entry that left the table.
    @inline(__always)
    private func removed(_ db: Int, _ key: Key, _ e: Entry) { removed(db, keyLength: key.bytes.count, e) }

    @inline(__always)
    private func removed(_ db: Int, keyLength: Int, _ e: Entry) {
        account(-e.cost(keyLength: keyLength))
        if e.expireAt != 0 { volatileKeys[db] -= 1 }
    }

    // MARK: - Reads and writes (caller holds the lock)

    /// The live entry for a key, after lazy expiry: an expired key is deleted here and
    /// reported as missing. Stamps the entry's LRU clock.
    @inline(__always)
    func lookup(_ db: Int, _ key: Key, now: Int64) -> Entry? {
        withLiveEntry(db, key, now: now) { $0 }
    }

    /// `lookup` for readers that only look: `body` gets the live entry in place, so its value
    /// is neither copied out nor retained and released (two atomic pairs per GET under
    /// callgrind, plus the entry's outlined copy). Nil when the key is missing or expired (then
    /// deleted). `body` must not touch this shard's tables.
    @inline(__always)
    func withLiveEntry<R>(_ db: Int, _ key: Key, now: Int64, _ body: (inout Entry) -> R) -> R? {
        key.bytes.withUnsafeBytes { withLiveEntry(db, bytes: $0, now: now, body) }
    }

    /// `withLiveEntry` for a key given as argument bytes: no owned Key is made unless the key
    /// turns out to be expired (then the table hands back the one it frees).
    @inline(__always)
    func withLiveEntry<R>(_ db: Int, bytes key: UnsafeRawBufferPointer, now: Int64, _ body: (inout Entry) -> R) -> R? {
        guard let i = tables.view(db).index(forBytes: key) else { return nil }
        var expired = false
        let result: R? = tables[db].withEntry(at: i) { e in
            if e.isExpired(now) {
                expired = true
                return nil
            }
            let tick = Entry.lruTick(now)
            if e.accessed != tick { e.accessed = tick }
            return body(&e)
        }
        if expired { deleteExpired(db, at: i) }
        return result
    }

    /// Removes the key in slot `i` of database `db`, whose deadline passed (lazy or active
    /// expiry).
    @inline(__always)
    private func deleteExpired(_ db: Int, at i: Int) {
        if expiryNeedsKeyName(db, at: i) {
            let (k, e) = tables[db].remove(at: i)
            expiredAfterRemoval(db, k, e)
            return
        }
        // Nobody asks for the key's name: the bookkeeping of expiredAfterRemoval without
        // allocating it.
        let (keyLength, e) = tables[db].removeUnnamed(at: i)
        removed(db, keyLength: keyLength, e)
        expiredKeys += 1
        dirty &+= 1
    }

    /// Whether deleting the expired key in slot `i` must build its name: for WATCH, client
    /// tracking, the append-only file or notifications, or the session index (a session
    /// hash's key starts with "s"; sessionKeyGone checks the rest).
    @inline(__always)
    private func expiryNeedsKeyName(_ db: Int, at i: Int) -> Bool {
        if !watched.isEmpty { return true }
        if let t = trackerRef, t._withUnsafeGuaranteedRef({ $0.active.load(ordering: .relaxed) != 0 }) { return true }
        if let ev = events, ev.wantsExpirations { return true }
        let view = tables.view(db)
        let node = view.slots[i].node!
        let key = KeyNode.key(node)
        guard key.count > 0, key[0] == UInt8(ascii: "s") else { return false }
        if case .hash = KeyNode.entry(node).pointee.value { return true }
        return false
    }

    /// Bookkeeping for a key removed because its deadline passed (lazy or active expiry):
    /// counted, and WATCHers and keyspace-notification subscribers are told.
    @inline(__always)
    private func expiredAfterRemoval(_ db: Int, _ key: Key, _ e: Entry) {
        removed(db, key, e)
        expiredKeys += 1
        changed(db, key)
        events?.keyExpired(db: db, key: key)
        sessionKeyGone(db, key, e)
    }

    /// Reports a change to a key to WATCH and to client tracking (the one place every change
    /// of every path goes through). Caller holds the lock.
    @inline(__always)
    func changed(_ db: Int, _ key: Key) {
        dirty &+= 1
        if !watched.isEmpty { touch(db, key) }
        if let t = trackerRef, t._withUnsafeGuaranteedRef({ $0.active.load(ordering: .relaxed) != 0 }) {
            t._withUnsafeGuaranteedRef { $0.keyChanged(self, key) }
        }
    }

    /// `changed` for a key given as bytes: a Key is made only when WATCH or tracking need one.
    @inline(__always)
    func changed(_ db: Int, bytes key: UnsafeRawBufferPointer) {
        dirty &+= 1
        if !watched.isEmpty { touch(db, Key(key)) }
        if let t = trackerRef, t._withUnsafeGuaranteedRef({ $0.active.load(ordering: .relaxed) != 0 }) {
            t._withUnsafeGuaranteedRef { $0.keyChanged(self, Key(key)) }
        }
    }

    /// Marks a change to a key for WATCH. Caller holds the lock.
    @inline(__always)
    func touch(_ db: Int, _ key: Key) {
        let wk = WatchKey(db: Int32(db), key: key)
        if let w = watched[wk] { watched[wk] = (w.version &+ 1, w.watchers) }
    }

    func watch(_ db: Int, _ key: Key) -> UInt64 {
        let wk = WatchKey(db: Int32(db), key: key)
        let w = watched[wk] ?? (version: 0, watchers: 0)
        watched[wk] = (w.version, w.watchers + 1)
        return w.version
    }

    func unwatch(_ db: Int, _ key: Key) {
        let wk = WatchKey(db: Int32(db), key: key)
        guard let w = watched[wk] else { return }
        if w.watchers <= 1 { watched.removeValue(forKey: wk) } else { watched[wk] = (w.version, w.watchers - 1) }
    }

    func watchVersion(_ db: Int, _ key: Key) -> UInt64? {
        watched[WatchKey(db: Int32(db), key: key)]?.version
    }

    /// In-place access to a key's slot, after lazy expiry. Setting it to nil deletes the key.
    /// One hash probe; the entry's size, TTL and LRU clock are accounted after `body`.
    @inline(__always)
    func mutate<R>(_ db: Int, _ key: Key, now: Int64, _ body: (inout Entry?) -> R) -> R {
        key.bytes.withUnsafeBytes { mutate(db, bytes: $0, now: now, body) }
    }

    /// `mutate` for a key given as argument bytes: no owned Key unless the key had expired or
    /// WATCH / tracking need one.
    @inline(__always)
    func mutate<R>(_ db: Int, bytes key: UnsafeRawBufferPointer, now: Int64, _ body: (inout Entry?) -> R) -> R {
        var expired: Entry? = nil
        var before = 0, after = 0
        var volatileBefore = false, volatileAfter = false
        let keyLength = key.count
        let result: R = tables[db].modify(bytes: key) { slot in
            if let e = slot {
                if e.isExpired(now) {
                    expired = e
                    slot = nil
                } else {
                    before = e.cost(keyLength: keyLength)
                    volatileBefore = e.expireAt != 0
                }
            }
            let r = body(&slot)
            if slot != nil {
                slot!.accessed = Entry.lruTick(now)
                after = slot!.cost(keyLength: keyLength)
                volatileAfter = slot!.expireAt != 0
            }
            return r
        }
        if let e = expired { expiredAfterRemoval(db, Key(key), e) }
        if before != after { account(after - before) }
        if volatileBefore != volatileAfter { volatileKeys[db] += volatileAfter ? 1 : -1 }
        // `cost` is never 0 for an entry, so these say whether the key existed before / after.
        if before != 0 || after != 0 { changed(db, bytes: key) }
        return result
    }

    @inline(__always)
    func remove(_ db: Int, _ key: Key, now: Int64) -> Bool {
        guard let e = tables[db].removeValue(forKey: key) else { return false }
        removed(db, key, e)
        changed(db, key)
        if e.isExpired(now) {
            expiredKeys += 1
            events?.keyExpired(db: db, key: key)
            sessionKeyGone(db, key, e)
            return false
        }
        return true
    }

    /// Makes sure the wheel will look at `entry` no later than its deadline. Call after any
    /// change to `expireAt`. Extending a TTL costs nothing: the existing record fires, sees the
    /// later deadline and re-inserts itself.
    @inline(__always)
    func scheduleExpiry(_ db: Int, _ key: Key, _ entry: inout Entry) {
        key.bytes.withUnsafeBytes { scheduleExpiry(db, bytes: $0, &entry) }
    }

    @inline(__always)
    func scheduleExpiry(_ db: Int, bytes key: UnsafeRawBufferPointer, _ entry: inout Entry) {
        let at = entry.expireAt
        guard at != 0 else { return }
        if entry.wheelAt != 0 && entry.wheelAt <= at { return }
        entry.wheelAt = at
        if !timersArmed.load(ordering: .relaxed) { timersArmed.store(true, ordering: .relaxed) }
        wheel.insert(WheelRecord(db: Int32(db), tag: KeyTable.tag(of: key, seed: seeds[db]), at: at))
    }

    /// Wheel size at which stale records are swept out (see compactWheel).
    @exclusivity(unchecked) private var wheelCompactionThreshold = 64

    /// Whether a sweep of the wheel is under way (see compactWheel).
    @exclusivity(unchecked) private var compacting = false

    /// Records visited per expiry call by the wheel's sweep and re-placed per call by a cascade.
    /// Neither checks the clock, so a slice is what the 0.5 ms expiry limit can overrun by.
    /// Timed in the server during a mass expiry (temporary instrumentation, 1M keys): a
    /// cascade re-placed 1,024 records in 200-540 us, and a sweep, which probes the key table
    /// for each record (a cache miss on the node), took up to 1.2 ms for 1,024; hence 256.
    static let wheelSliceRecords = 256

    /// Lazy cancellation leaves the record of a deleted key (DEL, a session logout, an
    /// overwritten entry without TTL) in the wheel until its deadline: with a 30-minute session
    /// TTL that is half an hour of dead records (when records held their key's bytes, a soak
    /// run showed memory growing by ~0.5 MB/s beyond the data; a record is 16 bytes now).
    /// Once the wheel has grown by half since the last sweep, records with no entry due at
    /// their time (`wheelAt`) under their tag are dropped: O(records), after at least a third
    /// as many inserts, so amortised O(1) per insert; a shard's wheel holds about 1.5x its
    /// live records plus 64. The sweep goes `wheelSliceRecords` at a time, one slice
    /// per expiry call, and reports due work meanwhile (`hasDueWork`) so the loop comes back
    /// at once: in one go it took ~0.8 ms for a shard of 4,000 records. Runs from the expiry
    /// cycle (expireDue), never from scheduleExpiry, whose caller may be in the middle of
    /// writing the table.
    func compactWheel(budget: Int = Shard.wheelSliceRecords) {
        compacting = !wheel.sweep(budget: budget) { r in
            tables[Int(r.db)].index(tag: r.tag) { $0.pointee.wheelAt == r.at } == nil
        }
        if !compacting { wheelCompactionThreshold = max(64, wheel.count + wheel.count / 2) }
    }

    /// Replaces the key's whole entry (SET, SETEX, PSETEX, ...) and schedules its expiry. The old
    /// entry's wheel record is inherited rather than abandoned: it fires, re-checks the new
    /// deadline and re-inserts or drops itself. Building a fresh `Entry` instead (wheelAt 0)
    /// would insert one record per write, so `SET k v EX n` on every request (connect-redis,
    /// Flask-Session) would grow the wheel by one record per request until the TTL passes.
    @inline(__always)
    func overwrite(_ db: Int, _ key: Key, _ slot: inout Entry?, with entry: Entry) {
        key.bytes.withUnsafeBytes { overwrite(db, bytes: $0, &slot, with: entry) }
    }

    @inline(__always)
    func overwrite(_ db: Int, bytes key: UnsafeRawBufferPointer, _ slot: inout Entry?, with entry: Entry) {
        var e = entry
        if let old = slot { e.wheelAt = old.wheelAt }
        scheduleExpiry(db, bytes: key, &e)
        slot = e
    }

    // MARK: - Active expiry

    /// Advances the wheel and deletes up to `budget` due keys. Returns how many records were
    /// handled; `due` keeps the rest for the next call, so a mass expiry is spread over loop
    /// turns instead of stalling one.
    /// `stopAtNanoseconds` (monotonic, 0 = none) also ends the deletions, checked every 64
    /// records: deleting a full budget of keys from one shard could otherwise hold a loop
    /// iteration (and this shard's lock) past a millisecond on its own.
    func expireDue(now: Int64, budget: Int, stopAtNanoseconds: UInt64 = 0) -> Int {
        // Hand out the whole current tick: a record due later in it is re-inserted below, but one
        // already past is deleted now rather than when the clock reaches the tick's end (which a
        // ManualClock that moved a few milliseconds never does).
        if compacting || wheel.count > wheelCompactionThreshold { compactWheel() }
        wheel.advance(to: now + wheel.tickMilliseconds - 1, into: &due, cascadeBudget: Shard.wheelSliceRecords)
        var handled = 0
        while handled < budget, let record = due.popLast() {
            handled += 1
            if stopAtNanoseconds != 0 && handled & 63 == 0 && monotonicNanoseconds() > stopAtNanoseconds {
                due.append(record)
                handled -= 1
                break
            }
            // The record names its key by tag. Two keys may share a tag, and then this can act
            // on the other one, but only on a key whose live record is also due at `at`
            // (wheelAt == at): deleting it when expired, or re-scheduling it, is what its own
            // record would do; that record then finds nothing left to do. So no key is deleted
            // before its deadline or kept past it.
            let db = Int(record.db)
            guard let i = tables[db].index(tag: record.tag, where: { $0.pointee.wheelAt == record.at }) else { continue }
            let expireAt = tables[db].readEntry(at: i).pointee.expireAt
            if expireAt == 0 {
                tables[db].withEntry(at: i) { $0.wheelAt = 0 }
            } else if expireAt < now {
                deleteExpired(db, at: i)
            } else {
                tables[db].withEntry(at: i) { $0.wheelAt = expireAt }
                wheel.insert(WheelRecord(db: record.db, tag: record.tag, at: expireAt))
            }
        }
        if due.isEmpty && wheel.count == 0 { timersArmed.store(false, ordering: .relaxed) }
        return handled
    }

    /// Records waiting to be deleted, a cascade cut short or a sweep under way: the expiry
    /// cycle should come back at once rather than at the next tick.
    var hasDueWork: Bool { !due.isEmpty || compacting || wheel.isCascading }

    func flush(_ db: Int?) {
        dirty &+= 1
        if !watched.isEmpty {
            for (wk, w) in watched where db == nil || Int(wk.db) == db! {
                if tables[Int(wk.db)][wk.key] != nil { watched[wk] = (w.version &+ 1, w.watchers) }
            }
        }
        for i in tables.indices where db == nil || i == db! {
            var freed = 0
            tables[i].forEachInPlace { k, e in freed += e.pointee.cost(keyLength: k.count) }
            account(-freed)
            volatileKeys[i] = 0
            evictionHand[i] = 0
            tables[i] = KeyTable(seed: seeds[i])
        }
        if db == nil {
            // Nothing is left to expire: free the records now rather than when they fire.
            wheel.removeAll()
            compacting = false
            timersArmed.store(false, ordering: .relaxed)
            due = []
        }
        // After a one-database flush, its keys' records are dropped lazily when they fire.
    }

    // MARK: - Eviction (caller holds the lock)

    /// Appends to `out` up to `count` eviction candidates from database `db`: consecutive
    /// occupied slots of the table starting at this shard's hand, which then moves past them
    /// (Redis's dictGetSomeKeys takes consecutive buckets from a random point too; the hand,
    /// a slot number, goes round the table so successive samples see different keys).
    /// Volatile policies skip keys without a TTL; at most `maxScan` entries are looked at.
    func sampleForEviction(db: Int, count: Int, volatileOnly: Bool, maxScan: Int,
                           into out: inout [EvictionCandidate]) {
        let table = tables[db]
        guard !table.isEmpty, !volatileOnly || volatileKeys[db] > 0 else { return }
        let slots = table.slotCount
        var i = evictionHand[db] < slots ? evictionHand[db] : 0
        var taken = 0, scanned = 0
        let limit = min(maxScan, table.count)
        while taken < count && scanned < limit {
            if table.isOccupied(i) {
                let e = table.readEntry(at: i)
                if !volatileOnly || e.pointee.expireAt != 0 {
                    out.append(EvictionCandidate(shard: index, db: db, key: table.key(at: i),
                                                 accessed: e.pointee.accessed, expireAt: e.pointee.expireAt))
                    taken += 1
                }
                scanned += 1
            }
            i = i + 1 == slots ? 0 : i + 1
        }
        evictionHand[db] = i
    }

    /// Evicts a sampled key if it is still what was sampled (same LRU clock and deadline, and
    /// a TTL when `volatileOnly`). Returns the bytes freed, nil when the key changed or left.
    func evict(_ c: EvictionCandidate, volatileOnly: Bool) -> Int? {
        guard let i = tables[c.db].index(forKey: c.key) else { return nil }
        let e = tables[c.db].entry(at: i)
        guard e.accessed == c.accessed, e.expireAt == c.expireAt, !volatileOnly || e.expireAt != 0 else { return nil }
        tables[c.db].remove(at: i)
        let freed = e.cost(c.key)
        removed(c.db, c.key, e)
        changed(c.db, c.key)
        events?.keyEvicted(db: c.db, key: c.key)
        sessionKeyGone(c.db, c.key, e)
        return freed
    }
}

/// A key sampled for eviction, with what it was judged on.
struct EvictionCandidate: Sendable {
    let shard: Int
    let db: Int
    let key: Key
    let accessed: UInt32
    let expireAt: Int64
}

/// The keyspace-wide byte count the shards report into (maxmemory's fast check), and how far
/// each shard may drift from it before reporting.
public final class MemoryCounter: Sendable {
    public let total = Atomic<Int>(0)
    let slack: Atomic<Int>
    init(slack: Int) { self.slack = Atomic(slack) }
}

struct WatchKey: Hashable {
    let db: Int32
    let key: Key
}

/// Receives key events from shards (expirations from lazy and active expiry). Called with the
/// shard lock held, so an implementation must not take shard locks.
public protocol KeyEvents: AnyObject, Sendable {
    /// Whether `keyExpired` would do anything now: when false, active expiry deletes a key
    /// without building its name (a Key allocation per deleted key).
    var wantsExpirations: Bool { get }
    func keyExpired(db: Int, key: Key)
    /// A key removed by maxmemory eviction (Redis's `evicted` event).
    func keyEvicted(db: Int, key: Key)
    /// A change the shard made on its own (a dead session's member leaving its user's set).
    func keyChanged(db: Int, key: Key, class cls: NotifyClass, event: String)
}

extension KeyEvents {
    public var wantsExpirations: Bool { true }
    public func keyEvicted(db: Int, key: Key) {}
    public func keyChanged(db: Int, key: Key, class cls: NotifyClass, event: String) {}
}
