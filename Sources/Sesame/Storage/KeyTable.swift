// One database's keys in one shard: an open-addressing hash table (Robin Hood probing,
// backward-shift deletion) of 16-byte slots, each a 31-bit hash tag and a pointer to the key's
// node: one allocation holding the entry and the key's bytes.
//
// Why not Dictionary<Key, Entry>: a Dictionary keeps an occupancy bitmap, a keys array, a
// values array and every key's own byte array apart, so a lookup of a key not in cache misses
// on the bitmap word, the keys-array slot, the key's bytes and the values-array slot before it
// reaches the value (perf: ~21% of server time at pipeline 16 in Dictionary.find, nearly all
// those misses), and each key costs a bucket at a load factor of 3/8-3/4 plus a 32-byte array
// header. Here a probe reads 16-byte slots (four to a cache line), compares 32 bits of hash,
// and only a matching tag touches the node, where the key's bytes sit next to its entry.
// Per key: ~28 bytes of slots plus one malloc chunk of 44 + key length bytes.
//
// Nodes are raw memory owned by the table: no reference counting on any lookup, and a node is
// never shared between tables. Value semantics (copy on write) as a Dictionary's: the AOF
// rewriter snapshots every table under the shard locks and reads the snapshot on its own
// thread while the shard goes on; the first change after a snapshot copies the slots and the
// nodes (entries are copied, so values are shared copy-on-write as before).

import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A key's node: its Entry, then the key's length (UInt32), then its bytes.
enum KeyNode {
    static let lengthOffset = MemoryLayout<Entry>.stride
    static let bytesOffset = lengthOffset + 4

    @inline(__always)
    static func make(_ key: UnsafeRawBufferPointer, _ entry: Entry) -> UnsafeMutableRawPointer {
        let node = UnsafeMutableRawPointer.allocate(byteCount: bytesOffset + key.count, alignment: 8)
        node.initializeMemory(as: Entry.self, to: entry)
        node.storeBytes(of: UInt32(key.count), toByteOffset: lengthOffset, as: UInt32.self)
        if key.count > 0 { (node + bytesOffset).copyMemory(from: key.baseAddress!, byteCount: key.count) }
        return node
    }

    @inline(__always)
    static func entry(_ node: UnsafeMutableRawPointer) -> UnsafeMutablePointer<Entry> {
        node.assumingMemoryBound(to: Entry.self)
    }

    @inline(__always)
    static func key(_ node: UnsafeMutableRawPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: node + bytesOffset,
                               count: Int(node.load(fromByteOffset: lengthOffset, as: UInt32.self)))
    }

    @inline(__always)
    static func matches(_ node: UnsafeMutableRawPointer, _ key: UnsafeRawBufferPointer) -> Bool {
        let n = Int(node.load(fromByteOffset: lengthOffset, as: UInt32.self))
        return n == key.count && (n == 0 || memcmp(node + bytesOffset, key.baseAddress!, n) == 0)
    }

    /// Frees a node whose entry was already moved out.
    @inline(__always)
    static func freeMoved(_ node: UnsafeMutableRawPointer) { node.deallocate() }

    @inline(__always)
    static func free(_ node: UnsafeMutableRawPointer) {
        entry(node).deinitialize(count: 1)
        node.deallocate()
    }

    /// Bytes the memory accounting charges for a node with a key of `keyLength` bytes.
    @inline(__always)
    static func cost(keyLength: Int) -> Int { mallocChunk(bytesOffset + keyLength) }
}

/// One slot: `tag` 0 means empty. Otherwise its top bit is set and its other bits are the
/// key's hash: the home slot is `tag & mask`, so a slot's probe distance needs no rehash.
@usableFromInline
struct KeyTableSlot {
    var tag: UInt32
    var node: UnsafeMutableRawPointer?
}

@usableFromInline
final class KeyTableStorage: @unchecked Sendable {
    /// Capacity is a power of two; `mask` = capacity - 1.
    let slots: UnsafeMutablePointer<KeyTableSlot>
    let mask: Int

    init(capacity: Int) {
        // A tag's top bit is always set, so a home slot (`tag & mask`) needs capacity <= 2^31
        // (32 GB of slots: never reached, but checked rather than silently half used).
        precondition(capacity > 0 && capacity & (capacity - 1) == 0 && capacity <= 1 << 31)
        slots = .allocate(capacity: capacity)
        slots.initialize(repeating: KeyTableSlot(tag: 0, node: nil), count: capacity)
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

    /// A deep copy: same slots, new nodes (entries copied, so values are shared copy-on-write).
    func copy() -> KeyTableStorage {
        let s = KeyTableStorage(capacity: capacity)
        for i in 0...mask where slots[i].tag != 0 {
            let node = slots[i].node!
            s.slots[i] = KeyTableSlot(tag: slots[i].tag,
                                      node: KeyNode.make(KeyNode.key(node), KeyNode.entry(node).pointee))
        }
        return s
    }

    deinit {
        for i in 0...mask where slots[i].tag != 0 { KeyNode.free(slots[i].node!) }
        slots.deallocate()
    }
}

public struct KeyTable: @unchecked Sendable {
    /// Owns the slots (and through them the nodes); shared copy-on-write.
    /// Replaced only through `adopt` (not a didSet: an observer would make the inout access in
    /// `isKnownUniquelyReferenced(&storage)` go through a temporary, never unique).
    @usableFromInline private(set) var storage: KeyTableStorage
    /// `storage`'s slots and mask, copied into the table: a lookup reads only these plain
    /// fields, so it neither loads nor retains the storage object (one atomic pair per
    /// command less; the struct is read out of the shard's `tables` array).
    @usableFromInline private(set) var slots: UnsafeMutablePointer<KeyTableSlot>
    @usableFromInline private(set) var mask: Int
    /// Keys in the table (kept here rather than in the shared storage: see `slots`).
    public private(set) var count = 0
    /// The second half of the SipHash key (the process's secret; the seed is the first).
    let key1: UInt64
    /// Mixed into every hash of this table, so two tables never share a slot order:
    /// re-inserting one table's keys into another in iteration order would otherwise pile them
    /// into the same runs (the quadratic re-insertion of linear probing with a shared hash
    /// function). The owner chooses it (Shard keeps one per database across flushes) so it can
    /// compute a key's tag without touching the table (timer-wheel records carry tags).
    public let seed: Int

    public init(seed: Int) {
        storage = .empty
        slots = KeyTableStorage.empty.slots
        mask = 0
        key1 = SipHash13.processKey
        self.seed = seed
    }

    /// A table with a seed of its own, from Hasher's per-process random seed.
    public init() {
        var h = Hasher()
        h.combine(KeyTable.seedCounter.wrappingAdd(1, ordering: .relaxed).newValue)
        self.init(seed: h.finalize())
    }

    private static let seedCounter = Atomic<Int>(0)

    public var isEmpty: Bool { count == 0 }
    var capacity: Int { storage.capacity }

    /// The key's tag in this table: 31 bits of its SipHash-1-3 under (seed, process key),
    /// top bit set.
    @inline(__always)
    func tag(of key: Key) -> UInt32 { key.bytes.withUnsafeBytes { tag(of: $0) } }

    @inline(__always)
    func tag(of key: UnsafeRawBufferPointer) -> UInt32 { KeyTable.tag(of: key, seed: seed, key1: key1) }

    @inline(__always)
    static func tag(of key: UnsafeRawBufferPointer, seed: Int, key1: UInt64) -> UInt32 {
        let h = SipHash13.hash(key, k0: UInt64(bitPattern: Int64(seed)), k1: key1)
        return UInt32(truncatingIfNeeded: h ^ (h >> 32)) | 0x8000_0000
    }

    @inline(__always)
    static func tag(of key: Key, seed: Int) -> UInt32 {
        key.bytes.withUnsafeBytes { tag(of: $0, seed: seed) }
    }

    @inline(__always)
    static func tag(of key: UnsafeRawBufferPointer, seed: Int) -> UInt32 {
        tag(of: key, seed: seed, key1: SipHash13.processKey)
    }

    /// The first slot whose key has tag `t` and whose entry passes `test`: for timer-wheel
    /// records, which name a key by its tag (see Shard.expireDue). Several keys may share a
    /// tag; `test` tells them apart as far as the caller needs.
    @inline(__always)
    func index(tag t: UInt32, where test: (UnsafePointer<Entry>) -> Bool) -> Int? {
        probe(t) { test(UnsafePointer(KeyNode.entry($0))) }
    }

    /// The first slot of tag `t`'s probe sequence whose tag is `t` and whose node passes
    /// `match`, or nil. Robin Hood invariant: a key lives no farther from home than any
    /// occupant it passed, so an occupant nearer its own home ends the search.
    @inline(__always)
    private func probe(_ t: UInt32, _ match: (UnsafeMutableRawPointer) -> Bool) -> Int? {
        KeyTable.probe(slots, mask, t, match)
    }

    @inline(__always)
    static func probe(_ slots: UnsafeMutablePointer<KeyTableSlot>, _ mask: Int, _ t: UInt32,
                      _ match: (UnsafeMutableRawPointer) -> Bool) -> Int? {
        var i = Int(t) & mask
        var distance = 0
        while true {
            let st = slots[i].tag
            if st == 0 { return nil }
            if st == t && match(slots[i].node!) { return i }
            if (i &- Int(st)) & mask < distance { return nil }
            i = (i &+ 1) & mask
            distance &+= 1
        }
    }

    /// The slot holding `key`, or nil. An empty table answers without hashing the key (a GET
    /// of a missing key in an empty database costs ~290 instructions less under callgrind).
    @inline(__always)
    public func index(forKey key: Key) -> Int? {
        if count == 0 { return nil }
        return find(key, tag(of: key))
    }

    @inline(__always)
    private func find(_ key: Key, _ t: UInt32) -> Int? {
        key.bytes.withUnsafeBytes { k in probe(t) { KeyNode.matches($0, k) } }
    }

    public subscript(key: Key) -> Entry? {
        get {
            guard let i = index(forKey: key) else { return nil }
            return KeyNode.entry(slots[i].node!).pointee
        }
        set {
            if let e = newValue { update(key, e) } else { removeValue(forKey: key) }
        }
    }

    /// Read, write, insert or delete with one probe: `body` gets the key's entry (nil when
    /// absent) moved out of its node (no copy, no retain) and its result is moved back, or the
    /// key removed, or inserted. A closure rather than a `_modify` accessor: the coroutine was
    /// not inlined and cost ~300 instructions per write under callgrind. `body` must not touch
    /// this table.
    @inline(__always)
    public mutating func modify<R>(_ key: Key, _ body: (inout Entry?) -> R) -> R {
        key.bytes.withUnsafeBytes { modify(bytes: $0, body) }
    }

    /// `modify` for a key given as bytes (a command's argument): an inserted key's node copies
    /// them, so no owned Key is needed.
    @inline(__always)
    public mutating func modify<R>(bytes key: UnsafeRawBufferPointer, _ body: (inout Entry?) -> R) -> R {
        makeUnique()
        let t = tag(of: key)
        if let i = KeyTable.probe(slots, mask, t, { KeyNode.matches($0, key) }) {
            let node = slots[i].node!
            var value: Entry? = KeyNode.entry(node).move()
            let r = body(&value)
            if let e = value {
                KeyNode.entry(node).initialize(to: e)
            } else {
                discard(i)
            }
            return r
        }
        var value: Entry? = nil
        let r = body(&value)
        if let e = value { insertNew(bytes: key, t, e) }
        return r
    }

    /// Sets the entry of `key`, inserting it when absent.
    public mutating func update(_ key: Key, _ entry: Entry) {
        makeUnique()
        let t = tag(of: key)
        if let i = find(key, t) {
            KeyNode.entry(slots[i].node!).pointee = entry
        } else {
            insertNew(key, t, entry)
        }
    }

    @discardableResult
    public mutating func removeValue(forKey key: Key) -> Entry? {
        guard let i = index(forKey: key) else { return nil }
        makeUnique()
        let entry = KeyNode.entry(slots[i].node!).move()
        discard(i)
        return entry
    }

    /// Removes the key in slot `i` (from `index(forKey:)`); later slots may move back, so slot
    /// numbers taken before are stale afterwards. Returns the key (a new array: nodes hold the
    /// bytes) and its entry.
    @discardableResult
    public mutating func remove(at i: Int) -> (key: Key, entry: Entry) {
        precondition(slots[i].tag != 0, "KeyTable.remove(at:) of an empty slot")
        let key = self.key(at: i)
        return (key, removeUnnamed(at: i).entry)
    }

    /// `remove(at:)` without building the key: its length and the entry.
    public mutating func removeUnnamed(at i: Int) -> (keyLength: Int, entry: Entry) {
        makeUnique()
        precondition(slots[i].tag != 0, "KeyTable.remove(at:) of an empty slot")
        let node = slots[i].node!
        let length = KeyNode.key(node).count
        let entry = KeyNode.entry(node).move()
        discard(i)
        return (length, entry)
    }

    /// Frees the node in slot `i` (its entry already moved out), empties the slot and shrinks
    /// the table when it became sparse: the end of every removal.
    @inline(__always)
    private mutating func discard(_ i: Int) {
        KeyNode.freeMoved(slots[i].node!)
        vacate(i)
        shrinkIfSparse()
    }

    /// Empties slot `i` (its node already freed) and closes the gap: backward-shift deletion.
    /// Occupants after the hole that are not at home move back one slot, so no tombstones are
    /// left and probe lengths stay as if the key never existed.
    @inline(__always)
    private mutating func vacate(_ i: Int) {
        let slots = self.slots, mask = self.mask
        count -= 1
        var hole = i
        while true {
            let next = (hole &+ 1) & mask
            let t = slots[next].tag
            if t == 0 || (next &- Int(t)) & mask == 0 { break }
            slots[hole] = slots[next]
            hole = next
        }
        slots[hole] = KeyTableSlot(tag: 0, node: nil)
    }

    /// Inserts a key known to be absent.
    private mutating func insertNew(_ key: Key, _ t: UInt32, _ entry: Entry) {
        key.bytes.withUnsafeBytes { insertNew(bytes: $0, t, entry) }
    }

    private mutating func insertNew(bytes key: UnsafeRawBufferPointer, _ t: UInt32, _ entry: Entry) {
        if count >= storage.growthLimit { grow() }
        place(KeyTableSlot(tag: t, node: KeyNode.make(key, entry)))
        count += 1
    }

    /// Robin Hood placement of a slot whose key is absent (room is there).
    @inline(__always)
    private func place(_ slot: KeyTableSlot) {
        var carried = slot
        let slots = self.slots, mask = self.mask
        var i = Int(carried.tag) & mask
        var distance = 0
        while true {
            let st = slots[i].tag
            if st == 0 {
                slots[i] = carried
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

    private mutating func grow() { resize(to: storage.capacity * 2) }

    /// After a deletion: a table below 1/16 full shrinks to a quarter of its slots (so back to
    /// 1/4 full, and it takes as many deletions again to shrink once more): a million keys
    /// that expired must not leave 16 MB of empty slots behind, as a Dictionary (which never
    /// shrinks) did. A shrink rehashes ~capacity/16 slots, so deletions stay amortised O(1).
    @inline(__always)
    private mutating func shrinkIfSparse() {
        let capacity = mask + 1
        if count < capacity / 16 && capacity > 64 { resize(to: capacity / 4) }
    }

    /// Moves every slot into a new array of `capacity` slots; nodes stay where they are (tags
    /// do not depend on the capacity).
    private mutating func resize(to capacity: Int) {
        let old = storage
        adopt(KeyTableStorage(capacity: capacity))
        for i in 0...old.mask where old.slots[i].tag != 0 {
            place(old.slots[i])
            old.slots[i] = KeyTableSlot(tag: 0, node: nil)
        }
    }

    @inline(__always)
    private mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&storage) {
            adopt(storage === KeyTableStorage.empty ? KeyTableStorage(capacity: 8) : storage.copy())
        }
    }

    @inline(__always)
    private mutating func adopt(_ s: KeyTableStorage) {
        storage = s
        slots = s.slots
        mask = s.mask
    }

    // MARK: - Slot access (slot numbers from index(forKey:), valid until the next change)

    /// The key in slot `i`, as a new Key (nodes hold the bytes; this allocates).
    public func key(at i: Int) -> Key { Key(KeyNode.key(slots[i].node!)) }
    public func entry(at i: Int) -> Entry { KeyNode.entry(slots[i].node!).pointee }

    /// The entry in slot `i`, to read in place (no copy, no retain of its value). Valid until
    /// the table next changes; never write through it (the storage may be shared).
    @inline(__always)
    func readEntry(at i: Int) -> UnsafePointer<Entry> {
        UnsafePointer(KeyNode.entry(slots[i].node!))
    }

    /// In-place access to the entry in slot `i`; `body` must not change the table.
    @inline(__always)
    public mutating func withEntry<R>(at i: Int, _ body: (inout Entry) -> R) -> R {
        makeUnique()
        return body(&KeyNode.entry(slots[i].node!).pointee)
    }

    /// Whether slot `i` (0 ..< slotCount) holds a key: for sampling from a random point.
    var slotCount: Int { mask + 1 }
    func isOccupied(_ i: Int) -> Bool { slots[i].tag != 0 }

    public var keys: [Key] { map(\.key) }

    /// Calls `body` with every key's bytes (in place) and entry, without allocating.
    func forEachInPlace(_ body: (UnsafeRawBufferPointer, UnsafePointer<Entry>) -> Void) {
        let s = storage
        for i in 0...s.mask where s.slots[i].tag != 0 {
            let node = s.slots[i].node!
            body(KeyNode.key(node), UnsafePointer(KeyNode.entry(node)))
        }
    }

    public mutating func removeAll() { self = KeyTable(seed: seed) }
}

extension KeyTable: Sequence {
    /// Yields each key (a new Key per element: nodes hold the bytes) and a copy of its entry.
    public struct Iterator: IteratorProtocol {
        let storage: KeyTableStorage
        var i = 0
        public mutating func next() -> (key: Key, value: Entry)? {
            while i <= storage.mask {
                let slot = storage.slots[i]
                i += 1
                if slot.tag != 0 {
                    return (Key(KeyNode.key(slot.node!)), KeyNode.entry(slot.node!).pointee)
                }
            }
            return nil
        }
    }
    public func makeIterator() -> Iterator { Iterator(storage: storage) }
    public var underestimatedCount: Int { count }
}

/// A table's lookup fields alone, all plain values: what a read needs, copied out of the
/// table in place (ShardTables.view) so the lookup holds no reference to the table's storage
/// and so retains nothing. Valid until the table next changes.
struct KeyTableView {
    let slots: UnsafeMutablePointer<KeyTableSlot>
    let mask: Int
    let count: Int
    let seed: Int
    let key1: UInt64

    @inline(__always)
    func index(forBytes key: UnsafeRawBufferPointer) -> Int? {
        if count == 0 { return nil }
        return KeyTable.probe(slots, mask, KeyTable.tag(of: key, seed: seed, key1: key1)) { KeyNode.matches($0, key) }
    }
}
