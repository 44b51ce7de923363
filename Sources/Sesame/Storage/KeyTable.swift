// One database's keys in one shard: an open-addressing hash table (Robin Hood probing,
// backward-shift deletion) whose slot holds the key, a 32-bit hash tag and the entry together.
//
// Why not Dictionary<Key, Entry>: a Dictionary keeps an occupancy bitmap, a keys array and a
// values array apart, so a lookup of a key not in cache misses on the bitmap word, on the
// keys-array slot, on the key's bytes and then on the values-array slot before it reaches the
// value: perf put ~21% of server time at pipeline 16 in Dictionary.find, nearly all of it those
// misses. Here one 64-byte slot holds the tag, the key reference and the entry: a probe reads
// one cache line, compares 32 bits of hash, and only a matching tag reads the key's bytes.
//
// Value semantics (copy on write) as a Dictionary's: the AOF rewriter snapshots every table
// under the shard locks and reads the snapshot on its own thread while the shard goes on.

import Synchronization

/// One slot. `tag` is 0 when the slot is empty; then `key` and `entry` are uninitialized
/// memory. Otherwise its top bit is set and its other bits are the key's hash: the home slot
/// is `tag & mask`, so a slot's probe distance needs no rehash.
@usableFromInline
struct KeyTableSlot {
    var key: Key
    var tag: UInt32
    var entry: Entry
}

@usableFromInline
final class KeyTableStorage: @unchecked Sendable {
    /// Capacity is a power of two; `mask` = capacity - 1.
    let slots: UnsafeMutablePointer<KeyTableSlot>
    let mask: Int
    var count = 0

    init(capacity: Int) {
        precondition(capacity > 0 && capacity & (capacity - 1) == 0)
        slots = .allocate(capacity: capacity)
        for i in 0..<capacity { (slots + i).pointer(to: \.tag)!.initialize(to: 0) }
        mask = capacity - 1
    }

    /// What every new or flushed table starts as: one empty slot, shared, never written (the
    /// first change replaces it), so the 256 shards x 16 databases of empty tables cost
    /// nothing, as empty Dictionaries did.
    static let empty = KeyTableStorage(capacity: 1)

    var capacity: Int { mask + 1 }

    /// Most slots a table may fill before it doubles: 7/8. Robin Hood probing keeps the
    /// expected probe length of a hit under ~2 slots there, and a miss stops at the first slot
    /// whose occupant is nearer its home than the probe is.
    var growthLimit: Int { capacity - capacity / 8 }

    func copy() -> KeyTableStorage {
        let s = KeyTableStorage(capacity: capacity)
        for i in 0...mask where slots[i].tag != 0 {
            (s.slots + i).initialize(to: slots[i])
        }
        s.count = count
        return s
    }

    deinit {
        if count > 0 {
            for i in 0...mask where slots[i].tag != 0 { (slots + i).deinitialize(count: 1) }
        }
        slots.deallocate()
    }
}

public struct KeyTable: Sendable {
    @usableFromInline var storage: KeyTableStorage
    /// Mixed into every hash of this table, so two tables never share a slot order:
    /// re-inserting one table's keys into another in iteration order would otherwise pile them
    /// into the same runs (the quadratic re-insertion of linear probing with a shared hash
    /// function). The owner chooses it (Shard keeps one per database across flushes) so it can
    /// compute a key's tag without touching the table (timer-wheel records carry tags).
    public let seed: Int

    public init(seed: Int) {
        storage = .empty
        self.seed = seed
    }

    /// A table with a seed of its own, from Hasher's per-process random seed.
    public init() {
        var h = Hasher()
        h.combine(KeyTable.seedCounter.add(1, ordering: .relaxed).newValue)
        self.init(seed: h.finalize())
    }

    private static let seedCounter = Atomic<Int>(0)

    public var count: Int { storage.count }
    public var isEmpty: Bool { storage.count == 0 }
    var capacity: Int { storage.capacity }

    /// The key's tag in this table: 31 bits of its seeded SipHash, top bit set.
    @inline(__always)
    func tag(of key: Key) -> UInt32 { KeyTable.tag(of: key, seed: seed) }

    @inline(__always)
    static func tag(of key: Key, seed: Int) -> UInt32 {
        var h = Hasher()
        h.combine(seed)
        key.hash(into: &h)
        return UInt32(truncatingIfNeeded: h.finalize()) | 0x8000_0000
    }

    /// The first slot whose key has tag `t` and whose entry passes `test`: for timer-wheel
    /// records, which name a key by its tag (see Shard.expireDue). Several keys may share a
    /// tag; `test` tells them apart as far as the caller needs.
    @inline(__always)
    func index(tag t: UInt32, where test: (UnsafePointer<Entry>) -> Bool) -> Int? {
        let slots = storage.slots, mask = storage.mask
        var i = Int(t) & mask
        var distance = 0
        while true {
            let st = slots[i].tag
            if st == 0 { return nil }
            if st == t && test(UnsafePointer(slots.advanced(by: i).pointer(to: \.entry)!)) { return i }
            if (i &- Int(st)) & mask < distance { return nil }
            i = (i &+ 1) & mask
            distance &+= 1
        }
    }

    /// The slot holding `key`, or nil.
    @inline(__always)
    public func index(forKey key: Key) -> Int? {
        find(key, tag(of: key))
    }

    @inline(__always)
    private func find(_ key: Key, _ t: UInt32) -> Int? {
        let slots = storage.slots, mask = storage.mask
        var i = Int(t) & mask
        var distance = 0
        while true {
            let st = slots[i].tag
            if st == 0 { return nil }
            if st == t && slots[i].key == key { return i }
            // Robin Hood invariant: a key lives no farther from home than any occupant it
            // passed, so an occupant nearer its own home means the key is absent.
            if (i &- Int(st)) & mask < distance { return nil }
            i = (i &+ 1) & mask
            distance &+= 1
        }
    }

    public subscript(key: Key) -> Entry? {
        get {
            guard let i = index(forKey: key) else { return nil }
            return storage.slots[i].entry
        }
        set {
            if let e = newValue { update(key, e) } else { removeValue(forKey: key) }
        }
    }

    /// Read, write, insert or delete with one probe: `body` gets the key's entry (nil when
    /// absent) moved out of its slot (no copy, no retain) and its result is moved back, or the
    /// slot is removed, or the key inserted. A closure rather than a `_modify` accessor: the
    /// coroutine was not inlined and cost ~120 instructions per write under callgrind.
    /// `body` must not touch this table.
    @inline(__always)
    public mutating func modify<R>(_ key: Key, _ body: (inout Entry?) -> R) -> R {
        makeUnique()
        let t = tag(of: key)
        if let i = find(key, t) {
            let p = storage.slots + i
            var value: Entry? = p.pointer(to: \.entry)!.move()
            let r = body(&value)
            if let e = value {
                p.pointer(to: \.entry)!.initialize(to: e)
            } else {
                p.pointer(to: \.key)!.deinitialize(count: 1)
                p.pointer(to: \.tag)!.pointee = 0
                storage.count -= 1
                closeGap(at: i)
            }
            return r
        }
        var value: Entry? = nil
        let r = body(&value)
        if let e = value { insertNew(key, t, e) }
        return r
    }

    /// Sets the entry of `key`, inserting it when absent.
    public mutating func update(_ key: Key, _ entry: Entry) {
        makeUnique()
        let t = tag(of: key)
        if let i = find(key, t) {
            storage.slots[i].entry = entry
        } else {
            insertNew(key, t, entry)
        }
    }

    @discardableResult
    public mutating func removeValue(forKey key: Key) -> Entry? {
        guard let i = index(forKey: key) else { return nil }
        return remove(at: i).entry
    }

    /// Removes the occupant of slot `i` (from `index(forKey:)`); later slots may move back,
    /// so slot numbers taken before are stale afterwards.
    @discardableResult
    public mutating func remove(at i: Int) -> (key: Key, entry: Entry) {
        makeUnique()
        let p = storage.slots + i
        precondition(p.pointee.tag != 0, "KeyTable.remove(at:) of an empty slot")
        let key = p.pointer(to: \.key)!.move()
        let entry = p.pointer(to: \.entry)!.move()
        p.pointer(to: \.tag)!.pointee = 0
        storage.count -= 1
        closeGap(at: i)
        return (key, entry)
    }

    /// Backward-shift deletion: occupants after the hole that are not at home move back one
    /// slot, so no tombstones are left and probe lengths stay as if the key never existed.
    @inline(__always)
    private func closeGap(at hole: Int) {
        let slots = storage.slots, mask = storage.mask
        var hole = hole
        while true {
            let next = (hole &+ 1) & mask
            let t = slots[next].tag
            if t == 0 || (next &- Int(t)) & mask == 0 { return }
            (slots + hole).moveInitialize(from: slots + next, count: 1)
            slots[next].tag = 0
            hole = next
        }
    }

    /// Inserts a key known to be absent.
    private mutating func insertNew(_ key: Key, _ t: UInt32, _ entry: Entry) {
        if storage.count >= storage.growthLimit { grow() }
        var carried = KeyTableSlot(key: key, tag: t, entry: entry)
        let s = storage
        let slots = s.slots, mask = s.mask
        var i = Int(t) & mask
        var distance = 0
        while true {
            let st = slots[i].tag
            if st == 0 {
                (slots + i).initialize(to: carried)
                s.count += 1
                return
            }
            let theirs = (i &- Int(st)) & mask
            if theirs < distance {
                // Take from the rich: the carried key settles here and the occupant, nearer
                // its home, goes on probing.
                swap(&carried, &slots[i])
                distance = theirs
            }
            i = (i &+ 1) & mask
            distance &+= 1
        }
    }

    private mutating func grow() {
        let old = storage
        let fresh = KeyTableStorage(capacity: old.capacity * 2)
        storage = fresh
        for i in 0...old.mask where old.slots[i].tag != 0 {
            let slot = (old.slots + i).move()
            old.slots[i].tag = 0
            insertMoved(slot)
        }
        old.count = 0
    }

    /// insertNew without the growth check, for slots moved by grow() (tags stay valid: they
    /// depend on the seed, not on the capacity).
    private func insertMoved(_ slot: KeyTableSlot) {
        var carried = slot
        let s = storage
        let slots = s.slots, mask = s.mask
        var i = Int(carried.tag) & mask
        var distance = 0
        while true {
            let st = slots[i].tag
            if st == 0 {
                (slots + i).initialize(to: carried)
                s.count += 1
                return
            }
            let theirs = (i &- Int(st)) & mask
            if theirs < distance {
                swap(&carried, &slots[i])
                distance = theirs
            }
            i = (i &+ 1) & mask
            distance &+= 1
        }
    }

    @inline(__always)
    private mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&storage) {
            storage = storage === KeyTableStorage.empty ? KeyTableStorage(capacity: 8) : storage.copy()
        }
    }

    // MARK: - Slot access (slot numbers from index(forKey:), valid until the next change)

    public func key(at i: Int) -> Key { storage.slots[i].key }
    public func entry(at i: Int) -> Entry { storage.slots[i].entry }

    /// The entry in slot `i`, to read in place (no copy, no retain of its value). Valid until
    /// the table next changes; never write through it (the storage may be shared).
    @inline(__always)
    func readEntry(at i: Int) -> UnsafePointer<Entry> {
        UnsafePointer(storage.slots.advanced(by: i).pointer(to: \.entry)!)
    }

    /// In-place access to the entry in slot `i`; `body` must not change the table.
    @inline(__always)
    public mutating func withEntry<R>(at i: Int, _ body: (inout Entry) -> R) -> R {
        makeUnique()
        return body(&storage.slots[i].entry)
    }

    /// Whether slot `i` (0 ..< slotCount) holds a key: for sampling from a random point.
    var slotCount: Int { storage.capacity }
    func isOccupied(_ i: Int) -> Bool { storage.slots[i].tag != 0 }

    public var keys: [Key] { map(\.key) }

    public mutating func removeAll() { self = KeyTable(seed: seed) }
}

extension KeyTable: Sequence {
    public struct Iterator: IteratorProtocol {
        let storage: KeyTableStorage
        var i = 0
        public mutating func next() -> (key: Key, value: Entry)? {
            while i <= storage.mask {
                let p = storage.slots + i
                i += 1
                if p.pointee.tag != 0 { return (p.pointee.key, p.pointee.entry) }
            }
            return nil
        }
    }
    public func makeIterator() -> Iterator { Iterator(storage: storage) }
    public var underestimatedCount: Int { storage.count }
}
