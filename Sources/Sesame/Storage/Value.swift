// The value types a key can hold. Small hashes and sets live packed in one buffer (PackedList)
// and become real tables past a threshold, as Redis's listpack -> hashtable conversion does.
// Packed hashes keep insertion order, which is also the order Redis replies with for small
// hashes, so HGETALL on a small hash is byte-identical to Redis.

public enum Value: Sendable {
    case string([UInt8])
    case hash(HashValue)
    case set(SetValue)

    /// A string's bytes, borrowed in place (nil for another type): with the entry accessed in
    /// place (Shard.withLiveEntry), GET replies without retaining the value's storage.
    @inline(__always) func withStringBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R? {
        guard case .string(let s) = self else { return nil }
        return s.withUnsafeBytes(body)
    }

    /// A hash, borrowed in place (nil for another type); see withStringBytes.
    @inline(__always) func withHash<R>(_ body: (HashValue) -> R) -> R? {
        guard case .hash(let h) = self else { return nil }
        return body(h)
    }

    public var typeName: StaticString {
        switch self {
        case .string: return "string"
        case .hash: return "hash"
        case .set: return "set"
        }
    }
}

/// Thresholds for leaving the packed form. Past them a linear scan costs more than a table.
public enum PackedLimits {
    public static let maxEntries = 128
    public static let maxElementBytes = 4096
}

public struct HashValue: Sendable {
    /// The table form, boxed with its byte count so `approximateBytes` stays O(1) (the key
    /// space's memory accounting asks on every write). Copy-on-write like any collection.
    /// Declared before `packed` so the struct packs into 20 bytes (see PackedList.elements).
    private var box: HashTable? = nil
    var packed = PackedList()

    public init() {}

    var table: [Key: [UInt8]]? { box?.dict }
    public var count: Int { box?.dict.count ?? packed.count / 2 }
    public var isPacked: Bool { box == nil }

    /// Accounted cost of one field in table form: both byte arrays (32-byte headers) and the
    /// table slot (two references at a 3/4 load factor).
    static let tableFieldOverhead = 86

    private mutating func uniqueBox() -> HashTable {
        if !isKnownUniquelyReferenced(&box) { box = HashTable(box!.dict, bytes: box!.bytes) }
        return box!
    }

    /// Finds a field in the packed form: the byte range of the pair and the value's bytes.
    private func findPacked(_ field: UnsafeRawBufferPointer) -> (pair: Range<Int>, valueRange: Range<Int>)? {
        var result: (Range<Int>, Range<Int>)? = nil
        var pendingField: Range<Int>? = nil
        var isField = true
        var matched = false
        packed.forEach { element, range in
            if isField {
                matched = rawEqual(element, field)
                pendingField = range
            } else if matched {
                result = (pendingField!.lowerBound..<range.upperBound, range)
                return false
            }
            isField.toggle()
            return true
        }
        return result
    }

    /// The field's value. `scratch`: storage reused for the lookup key of the table form
    /// (Client.lookupScratch); without it a lookup there allocates a Key.
    public func withValue<R>(_ field: UnsafeRawBufferPointer, scratch: UnsafeMutablePointer<[UInt8]>? = nil,
                             _ body: (UnsafeRawBufferPointer?) -> R) -> R {
        if let table = box?.dict {
            guard let v = table[lookupKey(field, scratch)] else { return body(nil) }
            return v.withUnsafeBytes { body($0) }
        }
        guard let found = findPacked(field) else { return body(nil) }
        return packed.withElement(at: found.valueRange.lowerBound) { body($0) }
    }

    public func contains(_ field: UnsafeRawBufferPointer, scratch: UnsafeMutablePointer<[UInt8]>? = nil) -> Bool {
        if let box { return box.dict[lookupKey(field, scratch)] != nil }
        return findPacked(field) != nil
    }

    /// Sets a field; returns true when the field is new.
    @discardableResult
    public mutating func set(_ field: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) -> Bool {
        if box != nil {
            let t = uniqueBox()
            let k = t.lookupKey(field)
            if let i = t.dict.index(forKey: k) {
                // An existing field: its value is overwritten in place when the size is the
                // same (no allocation), else replaced.
                let oldCount = t.dict.values[i].count
                if oldCount == value.count {
                    if oldCount > 0 { t.dict.values[i].withUnsafeMutableBytes { $0.copyMemory(from: value) } }
                } else {
                    t.dict.values[i] = Array(value)
                }
                t.bytes += value.count - oldCount
                return false
            }
            t.dict[k] = Array(value)
            t.bytes += field.count + value.count + HashValue.tableFieldOverhead
            return true
        }
        if field.count > PackedLimits.maxElementBytes || value.count > PackedLimits.maxElementBytes {
            convertToTable()
            return set(field, value)
        }
        if let found = findPacked(field) {
            // The field stays where it is (Redis keeps a listpack entry's position too).
            packed.replace(found.valueRange, with: value)
            return false
        }
        if count >= PackedLimits.maxEntries {
            convertToTable()
            return set(field, value)
        }
        packed.appendName(field)
        packed.append(value)
        return true
    }

    /// Reserves packed room for the elements `args[first...]` about to be added to a new,
    /// empty value, so a multi-field HSET allocates once (packed buffers otherwise grow
    /// exactly, see PackedList). Only for new values: on an existing one some fields may
    /// replace others, and the reservation would stay as unused capacity.
    mutating func reserveForNew(_ args: Arguments, from first: Int) {
        packed.reserve(additional: PackedList.encodedSize(of: args, from: first, pairs: true))
    }

    /// Reserves `bytes` of packed room now and `shrinkToFit` drops what was not used: for a
    /// value built from an estimate in one go (SESSION.CREATE).
    mutating func reservePacked(_ bytes: Int) { if box == nil { packed.reserve(additional: bytes) } }
    mutating func shrinkToFit() { if box == nil { packed.shrinkToFit() } }

    /// Removes a field; returns true when it existed.
    public mutating func remove(_ field: UnsafeRawBufferPointer) -> Bool {
        if box != nil {
            let t = uniqueBox()
            guard let old = t.dict.removeValue(forKey: t.lookupKey(field)) else { return false }
            t.bytes -= field.count + old.count + HashValue.tableFieldOverhead
            return true
        }
        guard let found = findPacked(field) else { return false }
        packed.remove(found.pair, removing: 2)
        return true
    }

    /// Visits every field and value: insertion order when packed, table order otherwise.
    @inline(__always)
    public func forEach(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void) {
        if let table = box?.dict {
            for (k, v) in table {
                k.bytes.withUnsafeBytes { kp in v.withUnsafeBytes { vp in body(kp, vp) } }
            }
            return
        }
        var field = UnsafeRawBufferPointer(start: nil, count: 0)
        var isField = true
        packed.forEach { element, _ in
            if isField { field = element } else { body(field, element) }
            isField.toggle()
            return true
        }
    }

    private mutating func convertToTable() {
        var t: [Key: [UInt8]] = [:]
        t.reserveCapacity(count + 1)
        var bytes = 0
        forEach { f, v in
            t[Key(f)] = Array(v)
            bytes += f.count + v.count + HashValue.tableFieldOverhead
        }
        box = HashTable(t, bytes: bytes)
        packed = PackedList()
    }

    /// Payload plus container overhead, O(1): what the memory accounting charges for this value.
    public var approximateBytes: Int {
        if let box { return box.bytes + 112 }
        return mallocChunk(32 + packed.bytes.capacity)
    }
}

/// A hash's table form and its accounted size. Its stored properties opt out of run-time
/// exclusivity checks as Shard's do (a read of `dict` cost a `swift_beginAccess`, ~76
/// instructions, per HGET): a table is written only through a uniquely held value under its
/// shard's lock, and a copy another thread holds (an AOF rewrite's snapshot) only reads.
final class HashTable: @unchecked Sendable {
    @exclusivity(unchecked) var dict: [Key: [UInt8]]
    @exclusivity(unchecked) var bytes: Int
    /// Storage for the lookup key of writes (see `lookupKey`).
    @exclusivity(unchecked) var scratch: [UInt8] = []
    init(_ dict: [Key: [UInt8]], bytes: Int) {
        self.dict = dict
        self.bytes = bytes
    }

    /// A Key for `raw` in storage reused from one write to the next: the dictionary can only
    /// look up a Key, and allocating one per HSET of an existing field was a malloc and a free
    /// for nothing. A key the table keeps keeps the storage (the next call copies on write).
    /// Only on a uniquely held table (the write paths call uniqueBox first).
    @inline(__always)
    func lookupKey(_ raw: UnsafeRawBufferPointer) -> Key { Key(reusing: &scratch, raw) }
}

/// A set's table form and its accounted size (exclusivity: see HashTable).
final class SetTable: @unchecked Sendable {
    @exclusivity(unchecked) var members: Set<Key>
    @exclusivity(unchecked) var bytes: Int
    /// See HashTable.lookupKey.
    @exclusivity(unchecked) var scratch: [UInt8] = []
    init(_ members: Set<Key>, bytes: Int) {
        self.members = members
        self.bytes = bytes
    }

    @inline(__always)
    func lookupKey(_ raw: UnsafeRawBufferPointer) -> Key { Key(reusing: &scratch, raw) }
}

public struct SetValue: Sendable {
    /// The table form and its byte count (see HashValue; declared first for the same reason).
    private var box: SetTable? = nil
    var packed = PackedList()

    public init() {}

    var table: Set<Key>? { box?.members }
    public var count: Int { box?.members.count ?? packed.count }
    public var isPacked: Bool { box == nil }

    /// Accounted cost of one member in table form: its byte array and its table slot.
    static let tableMemberOverhead = 43

    private mutating func uniqueBox() -> SetTable {
        if !isKnownUniquelyReferenced(&box) { box = SetTable(box!.members, bytes: box!.bytes) }
        return box!
    }

    private func findPacked(_ member: UnsafeRawBufferPointer) -> Range<Int>? {
        var result: Range<Int>? = nil
        packed.forEach { element, range in
            if rawEqual(element, member) { result = range; return false }
            return true
        }
        return result
    }

    /// See HashValue.reserveForNew.
    mutating func reserveForNew(_ args: Arguments, from first: Int) {
        packed.reserve(additional: PackedList.encodedSize(of: args, from: first))
    }

    /// `scratch`: see HashValue.withValue.
    public func contains(_ member: UnsafeRawBufferPointer, scratch: UnsafeMutablePointer<[UInt8]>? = nil) -> Bool {
        if let box { return box.members.contains(lookupKey(member, scratch)) }
        return findPacked(member) != nil
    }

    /// Adds a member; returns true when it is new.
    @discardableResult
    public mutating func insert(_ member: UnsafeRawBufferPointer) -> Bool {
        if box == nil {
            if findPacked(member) != nil { return false }
            if count < PackedLimits.maxEntries && member.count <= PackedLimits.maxElementBytes {
                // A set's first member is stored exact; later ones leave room for one more.
                if count == 0 { packed.append(member) } else { packed.appendLeavingRoom(member) }
                return true
            }
            convertToTable()
        }
        let t = uniqueBox()
        guard t.members.insert(t.lookupKey(member)).inserted else { return false }
        t.bytes += member.count + SetValue.tableMemberOverhead
        return true
    }

    public mutating func remove(_ member: UnsafeRawBufferPointer) -> Bool {
        if box != nil {
            let t = uniqueBox()
            guard t.members.remove(t.lookupKey(member)) != nil else { return false }
            t.bytes -= member.count + SetValue.tableMemberOverhead
            return true
        }
        guard let r = findPacked(member) else { return false }
        packed.remove(r, removing: 1)
        return true
    }

    public func forEach(_ body: (UnsafeRawBufferPointer) -> Void) {
        if let table = box?.members {
            for k in table { k.bytes.withUnsafeBytes { body($0) } }
            return
        }
        packed.forEach { e, _ in body(e); return true }
    }

    private mutating func convertToTable() {
        var t = Set<Key>()
        t.reserveCapacity(count + 1)
        var bytes = 0
        forEach {
            t.insert(Key($0))
            bytes += $0.count + SetValue.tableMemberOverhead
        }
        box = SetTable(t, bytes: bytes)
        packed = PackedList()
    }

    /// Payload plus container overhead, O(1) (see HashValue).
    public var approximateBytes: Int {
        if let box { return box.bytes + 112 }
        return mallocChunk(32 + packed.bytes.capacity)
    }
}

/// A key's slot in a shard table: its value, its deadline, and which deadline the timer wheel
/// currently holds a record for (so EXPIRE never touches the wheel when it only extends).
public struct Entry: Sendable {
    public var value: Value
    /// The LRU clock (`Entry.lruTick`) when the key was last read or written, for the LRU
    /// eviction policies. Declared right after `value` (20 bytes) so it sits in the padding
    /// before `expireAt`: the entry is 40 bytes, a KeyTable slot 56 (KeyTableTests checks).
    var accessed: UInt32 = 0
    /// Unix milliseconds; 0 means no TTL.
    public var expireAt: Int64 = 0
    /// The deadline of this key's live timer-wheel record; 0 when it has none.
    var wheelAt: Int64 = 0

    public init(value: Value, expireAt: Int64 = 0) {
        self.value = value
        self.expireAt = expireAt
    }

    /// The value, moved out (an empty string is left): so a caller can write into its storage
    /// without a copy on write.
    @inline(__always) mutating func takeValue() -> Value {
        var v = Value.string([])
        swap(&v, &value)
        return v
    }

    /// Redis's keyIsExpired: a key lives through its deadline millisecond and is gone after it
    /// (PTTL counts down ..., 1, 0, then -2).
    @inline(__always) public func isExpired(_ now: Int64) -> Bool {
        expireAt != 0 && expireAt < now
    }

    /// The LRU clock: Unix time in units of 1,024 ms (Redis's LRU clock ticks once a second),
    /// 32 bits, which lasts until 2109.
    @inline(__always) static func lruTick(_ now: Int64) -> UInt32 {
        UInt32(truncatingIfNeeded: now >> 10)
    }

    /// The table's share per key: 16 bytes of KeyTable slots at a load factor between 7/16
    /// and 7/8 (0.57 for the 600,000 keys of the memory benchmark over 256 shards): ~28 bytes.
    /// With the node and the wheel record below, the accounted dataset is measured against
    /// the allocator in docs/BENCHMARKS.md ("Memory per session").
    static let slotBytes = 28
    /// A key with a TTL has one 16-byte timer-wheel record in a slot array with some slack.
    static let wheelRecordBytes = 20

    /// What the memory accounting charges for this entry under `key`, O(1): the table slot,
    /// the malloc chunks of the key's node (entry and key bytes) and of the value, and the
    /// wheel record. Charging chunk sizes (glibc: 8-byte header, 16-byte granularity) instead
    /// of payload bytes keeps MEMORY USAGE and maxmemory's measure within ~10% of the
    /// allocator's figure; the earlier payload-only sum was 28% under it for the session model.
    @inline(__always) func cost(_ key: Key) -> Int { cost(keyLength: key.bytes.count) }

    @inline(__always) func cost(keyLength: Int) -> Int {
        Entry.slotBytes + KeyNode.cost(keyLength: keyLength) + value.approximateBytes
            + (expireAt != 0 ? Entry.wheelRecordBytes : 0)
    }
}

/// The size of the glibc malloc chunk that serves a request of `n` bytes.
@inline(__always) func mallocChunk(_ n: Int) -> Int {
    max(32, (n &+ 8 &+ 15) & ~15)
}

extension Value {
    /// Payload plus container overhead, O(1).
    @inline(__always) public var approximateBytes: Int {
        switch self {
        case .string(let s): return s.count == 0 ? 0 : mallocChunk(32 + s.count)
        case .hash(let h): return h.approximateBytes
        case .set(let s): return s.approximateBytes
        }
    }
}

extension Entry {
    /// Moves a hash out of the entry (leaving an empty string behind) so it can be mutated
    /// with a unique reference, i.e. in place, then put back with `value = .hash(h)`.
    /// Returns nil, leaving the entry alone, when the value is not a hash.
    @inline(__always) mutating func takeHash() -> HashValue? {
        guard case .hash(let h) = value else { return nil }
        value = .string([])
        return h
    }

    @inline(__always) mutating func takeSet() -> SetValue? {
        guard case .set(let s) = value else { return nil }
        value = .string([])
        return s
    }
}

/// A Key for `raw` for a read of a table-form value: in `scratch` when the caller lends one
/// (the write paths use their table's own scratch, which only a uniquely held table may touch;
/// a read may see a table another key or a snapshot shares).
@inline(__always)
func lookupKey(_ raw: UnsafeRawBufferPointer, _ scratch: UnsafeMutablePointer<[UInt8]>?) -> Key {
    guard let scratch else { return Key(raw) }
    return Key(reusing: &scratch.pointee, raw)
}
