// One lock stripe of the keyspace. A shard owns, for every database, the keys whose hash slot
// maps to it, plus one timer wheel for their TTLs. Everything in a shard is guarded by its one
// lock: callers take it (Keyspace.withShard / withShards) and then use the unlocked methods
// here. Keys sharing a hash tag share a slot, hence a shard, hence one lock: a session's hash
// and its user's set are updated together under a single lock.

public final class Shard: @unchecked Sendable {
    public let index: Int
    public let lock = ShardLock()
    /// Guarded by `lock`. One table per database.
    var tables: [[Key: Entry]]
    var wheel: TimerWheel
    /// Records that fell due but were not processed yet (expiry work is budgeted per loop turn).
    var due: [WheelRecord] = []
    /// Keys removed by active or lazy expiry (INFO expired_keys).
    var expiredKeys = 0
    /// WATCHed keys of this shard: a version bumped by every change to the key, and how many
    /// clients watch it. Empty unless someone uses WATCH, so the write path pays one isEmpty.
    var watched: [WatchKey: (version: UInt64, watchers: Int)] = [:]
    /// Where expirations are reported (keyspace notifications); nil when nobody listens.
    var events: KeyEvents?

    init(index: Int, databases: Int, now: Int64, tickMilliseconds: Int64) {
        self.index = index
        tables = Array(repeating: [:], count: databases)
        wheel = TimerWheel(now: now, tickMilliseconds: tickMilliseconds)
    }

    // MARK: - Reads and writes (caller holds the lock)

    /// The live entry for a key, after lazy expiry: an expired key is deleted here and
    /// reported as missing.
    @inline(__always)
    func lookup(_ db: Int, _ key: Key, now: Int64) -> Entry? {
        guard let e = tables[db][key] else { return nil }
        if e.isExpired(now) {
            deleteExpired(db, key)
            return nil
        }
        return e
    }

    /// Removes a key whose deadline passed (lazy or active expiry): counted, and WATCHers and
    /// keyspace-notification subscribers are told.
    @inline(__always)
    func deleteExpired(_ db: Int, _ key: Key) {
        tables[db].removeValue(forKey: key)
        expiredKeys += 1
        if !watched.isEmpty { touch(db, key) }
        events?.keyExpired(db: db, key: key)
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
    @inline(__always)
    func mutate<R>(_ db: Int, _ key: Key, now: Int64, _ body: (inout Entry?) -> R) -> R {
        if let e = tables[db][key], e.isExpired(now) {
            deleteExpired(db, key)
        }
        if watched.isEmpty { return body(&tables[db][key]) }
        let existed = tables[db][key] != nil
        let result = body(&tables[db][key])
        if existed || tables[db][key] != nil { touch(db, key) }
        return result
    }

    @inline(__always)
    func remove(_ db: Int, _ key: Key, now: Int64) -> Bool {
        guard let e = tables[db].removeValue(forKey: key) else { return false }
        if !watched.isEmpty { touch(db, key) }
        if e.isExpired(now) {
            expiredKeys += 1
            events?.keyExpired(db: db, key: key)
            return false
        }
        return true
    }

    /// Makes sure the wheel will look at `entry` no later than its deadline. Call after any
    /// change to `expireAt`. Extending a TTL costs nothing: the existing record fires, sees the
    /// later deadline and re-inserts itself.
    @inline(__always)
    func scheduleExpiry(_ db: Int, _ key: Key, _ entry: inout Entry) {
        let at = entry.expireAt
        guard at != 0 else { return }
        if entry.wheelAt != 0 && entry.wheelAt <= at { return }
        entry.wheelAt = at
        wheel.insert(WheelRecord(db: Int32(db), at: at, key: key))
    }

    /// Replaces the key's whole entry (SET, SETEX, PSETEX, ...) and schedules its expiry. The old
    /// entry's wheel record is inherited rather than abandoned: it fires, re-checks the new
    /// deadline and re-inserts or drops itself. Building a fresh `Entry` instead (wheelAt 0)
    /// would insert one record per write, so `SET k v EX n` on every request (connect-redis,
    /// Flask-Session) would grow the wheel by one record per request until the TTL passes.
    @inline(__always)
    func overwrite(_ db: Int, _ key: Key, _ slot: inout Entry?, with entry: Entry) {
        var e = entry
        if let old = slot { e.wheelAt = old.wheelAt }
        scheduleExpiry(db, key, &e)
        slot = e
    }

    // MARK: - Active expiry

    /// Advances the wheel and deletes up to `budget` due keys. Returns how many records were
    /// handled; `due` keeps the rest for the next call, so a mass expiry is spread over loop
    /// turns instead of stalling one.
    func expireDue(now: Int64, budget: Int) -> Int {
        // Hand out the whole current tick: a record due later in it is re-inserted below, but one
        // already past is deleted now rather than when the clock reaches the tick's end (which a
        // ManualClock that moved a few milliseconds never does).
        wheel.advance(to: now + wheel.tickMilliseconds - 1, into: &due)
        var handled = 0
        while handled < budget, let record = due.popLast() {
            handled += 1
            let db = Int(record.db)
            guard var e = tables[db][record.key], e.wheelAt == record.at else { continue }
            if e.expireAt == 0 {
                e.wheelAt = 0
                tables[db][record.key] = e
            } else if e.isExpired(now) {
                deleteExpired(db, record.key)
            } else {
                tables[db][record.key]!.wheelAt = e.expireAt
                wheel.insert(WheelRecord(db: record.db, at: e.expireAt, key: record.key))
            }
        }
        return handled
    }

    var hasDueWork: Bool { !due.isEmpty }

    func flush(_ db: Int?) {
        if !watched.isEmpty {
            for (wk, w) in watched where db == nil || Int(wk.db) == db! {
                if tables[Int(wk.db)][wk.key] != nil { watched[wk] = (w.version &+ 1, w.watchers) }
            }
        }
        if let db {
            tables[db] = [:]
        } else {
            for i in tables.indices { tables[i] = [:] }
            // Nothing is left to expire: free the records now rather than when they fire.
            wheel.removeAll()
            due = []
        }
        // After a one-database flush, its keys' records are dropped lazily when they fire.
    }
}

struct WatchKey: Hashable {
    let db: Int32
    let key: Key
}

/// Receives key events from shards (expirations from lazy and active expiry). Called with the
/// shard lock held, so an implementation must not take shard locks.
public protocol KeyEvents: AnyObject, Sendable {
    func keyExpired(db: Int, key: Key)
}
