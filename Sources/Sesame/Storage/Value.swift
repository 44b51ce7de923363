// The value types a key can hold. Small hashes and sets live packed in one buffer (PackedList)
// and become real tables past a threshold, as Redis's listpack -> hashtable conversion does.
// Packed hashes keep insertion order, which is also the order Redis replies with for small
// hashes, so HGETALL on a small hash is byte-identical to Redis.

public enum Value: Sendable {
    case string([UInt8])
    case hash(HashValue)
    case set(SetValue)

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
    var packed = PackedList()
    var table: [Key: [UInt8]]? = nil

    public init() {}

    public var count: Int { table?.count ?? packed.count / 2 }
    public var isPacked: Bool { table == nil }

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

    public func withValue<R>(_ field: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer?) -> R) -> R {
        if let table {
            guard let v = table[Key(field)] else { return body(nil) }
            return v.withUnsafeBytes { body($0) }
        }
        guard let found = findPacked(field) else { return body(nil) }
        return packed.bytes.withUnsafeBytes { p in
            var i = found.valueRange.lowerBound
            let len = PackedList.readVarint(p, &i)
            return body(UnsafeRawBufferPointer(rebasing: p[i..<(i + len)]))
        }
    }

    public func contains(_ field: UnsafeRawBufferPointer) -> Bool {
        if let table { return table[Key(field)] != nil }
        return findPacked(field) != nil
    }

    /// Sets a field; returns true when the field is new.
    @discardableResult
    public mutating func set(_ field: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) -> Bool {
        if table != nil {
            return table!.updateValue(Array(value), forKey: Key(field)) == nil
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
        packed.append(field)
        packed.append(value)
        return true
    }

    /// Removes a field; returns true when it existed.
    public mutating func remove(_ field: UnsafeRawBufferPointer) -> Bool {
        if table != nil { return table!.removeValue(forKey: Key(field)) != nil }
        guard let found = findPacked(field) else { return false }
        packed.remove(found.pair, removing: 2)
        return true
    }

    /// Visits every field and value: insertion order when packed, table order otherwise.
    public func forEach(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void) {
        if let table {
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
        forEach { f, v in t[Key(f)] = Array(v) }
        table = t
        packed = PackedList()
    }

    /// Payload plus container overhead, for INFO and MEMORY USAGE estimates.
    public var approximateBytes: Int {
        if let table {
            return table.reduce(64) { $0 + $1.key.bytes.count + $1.value.count + 96 }
        }
        return packed.bytes.count + 32
    }
}

public struct SetValue: Sendable {
    var packed = PackedList()
    var table: Set<Key>? = nil

    public init() {}

    public var count: Int { table?.count ?? packed.count }
    public var isPacked: Bool { table == nil }

    private func findPacked(_ member: UnsafeRawBufferPointer) -> Range<Int>? {
        var result: Range<Int>? = nil
        packed.forEach { element, range in
            if rawEqual(element, member) { result = range; return false }
            return true
        }
        return result
    }

    public func contains(_ member: UnsafeRawBufferPointer) -> Bool {
        if let table { return table.contains(Key(member)) }
        return findPacked(member) != nil
    }

    /// Adds a member; returns true when it is new.
    @discardableResult
    public mutating func insert(_ member: UnsafeRawBufferPointer) -> Bool {
        if table != nil { return table!.insert(Key(member)).inserted }
        if findPacked(member) != nil { return false }
        if count >= PackedLimits.maxEntries || member.count > PackedLimits.maxElementBytes {
            convertToTable()
            return table!.insert(Key(member)).inserted
        }
        packed.append(member)
        return true
    }

    public mutating func remove(_ member: UnsafeRawBufferPointer) -> Bool {
        if table != nil { return table!.remove(Key(member)) != nil }
        guard let r = findPacked(member) else { return false }
        packed.remove(r, removing: 1)
        return true
    }

    public func forEach(_ body: (UnsafeRawBufferPointer) -> Void) {
        if let table {
            for k in table { k.bytes.withUnsafeBytes { body($0) } }
            return
        }
        packed.forEach { e, _ in body(e); return true }
    }

    private mutating func convertToTable() {
        var t = Set<Key>()
        t.reserveCapacity(count + 1)
        forEach { t.insert(Key($0)) }
        table = t
        packed = PackedList()
    }

    public var approximateBytes: Int {
        if let table { return table.reduce(64) { $0 + $1.bytes.count + 64 } }
        return packed.bytes.count + 32
    }
}

/// A key's slot in a shard table: its value, its deadline, and which deadline the timer wheel
/// currently holds a record for (so EXPIRE never touches the wheel when it only extends).
public struct Entry: Sendable {
    public var value: Value
    /// Unix milliseconds; 0 means no TTL.
    public var expireAt: Int64 = 0
    /// The deadline of this key's live timer-wheel record; 0 when it has none.
    var wheelAt: Int64 = 0

    public init(value: Value, expireAt: Int64 = 0) {
        self.value = value
        self.expireAt = expireAt
    }

    /// Redis's keyIsExpired: a key lives through its deadline millisecond and is gone after it
    /// (PTTL counts down ..., 1, 0, then -2).
    @inline(__always) public func isExpired(_ now: Int64) -> Bool {
        expireAt != 0 && expireAt < now
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
