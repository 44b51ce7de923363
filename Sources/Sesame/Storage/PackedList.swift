#if canImport(Glibc)
import Glibc
#endif

// The compact form of small hashes and sets: every element length-prefixed (LEB128 varint) in
// one contiguous byte array, like Redis's listpack. A session hash of eight fields is then one
// allocation of roughly its payload size instead of sixteen strings and a hash table. Lookups
// scan, so values switch to a real table past a size threshold (see HashValue, SetValue).
//
// An element's prefix is `length << 1` for bytes stored in place, or `id << 1 | 1` for a hash
// field name stored once in the process's FieldNameTable (an id below 64 takes one byte).
// Readers get an interned name's bytes from the table, so nothing outside this file and
// FieldNames.swift sees the difference.

public struct PackedList: Sendable {
    public private(set) var bytes: [UInt8] = []
    /// Number of elements (a hash stores field and value as two elements).
    public var count: Int { Int(elements) }
    /// 32 bits (a packed value holds at most 2 x PackedLimits.maxEntries elements): with the
    /// table reference declared first in HashValue / SetValue this keeps Value at 20 bytes and
    /// Entry at 40, 8 bytes less in every key's node (KeyTableTests checks the layout).
    private var elements: Int32 = 0

    public init() {}

    @inline(__always)
    static func readVarint(_ p: UnsafeRawBufferPointer, _ i: inout Int) -> Int {
        var shift = 0
        var v = 0
        while true {
            let b = p[i]
            i += 1
            v |= Int(b & 0x7F) << shift
            if b < 0x80 { return v }
            shift += 7
        }
    }

    @inline(__always)
    static func appendVarint(_ out: inout [UInt8], _ value: Int) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    /// Decodes the element whose prefix starts at `i` and moves `i` past it.
    @inline(__always)
    static func element(_ p: UnsafeRawBufferPointer, _ i: inout Int, _ names: FieldNameTable) -> UnsafeRawBufferPointer {
        let v = readVarint(p, &i)
        if v & 1 != 0 { return names.name(v >> 1) }
        let start = i
        i += v >> 1
        return UnsafeRawBufferPointer(rebasing: p[start..<i])
    }

    /// Calls `body` with each element and its byte range [start, end) including the prefix;
    /// stops early when `body` returns false.
    @inline(__always)
    public func forEach(names: FieldNameTable = .shared, _ body: (UnsafeRawBufferPointer, Range<Int>) -> Bool) {
        bytes.withUnsafeBytes { p in
            var i = 0
            let n = p.count
            while i < n {
                let start = i
                let element = PackedList.element(p, &i, names)
                if !body(element, start..<i) { return }
            }
        }
    }

    /// The element whose prefix starts at byte `offset` (a range's lowerBound from forEach).
    @inline(__always)
    func withElement<R>(at offset: Int, names: FieldNameTable = .shared, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        bytes.withUnsafeBytes { p in
            var i = offset
            return body(PackedList.element(p, &i, names))
        }
    }

    /// Packed values grow to the exact size they need (as a listpack does), not by doubling as
    /// Array.append would: a session hash built field by field otherwise carries up to half its
    /// buffer as unused capacity (about 200 bytes per session), and stored values are written
    /// far less often than they are held. Multi-element writes call `reserve(additional:)` once
    /// so they still allocate once. Sets growing member by member leave room for one more
    /// (`appendLeavingRoom`).
    @inline(__always)
    public mutating func reserve(additional: Int) {
        let needed = bytes.count + additional
        if bytes.capacity < needed { bytes.reserveCapacity(needed) }
    }

    /// Encoded size of an element stored in place: its varint prefix and its bytes (an upper
    /// bound for an interned name).
    @inline(__always)
    static func encodedSize(_ length: Int) -> Int { varintSize(length << 1) + length }

    /// Drops unused capacity (after building a value from an estimate).
    public mutating func shrinkToFit() {
        if bytes.capacity > bytes.count + 8 { bytes = Array(bytes) }
    }

    /// Encoded size of the arguments from `first` on, capped at what a packed value may hold.
    /// `pairs`: field/value pairs of a hash, whose field names are interned (FieldNameTable) as
    /// they will be when appended, so the reservation is exact and leaves no unused capacity.
    static func encodedSize(of args: Arguments, from first: Int, pairs: Bool = false,
                            names: FieldNameTable = .shared) -> Int {
        var total = 0
        var j = first
        while j < args.count && j - first < PackedLimits.maxEntries * 2 {
            let n = args[j].count
            if n > PackedLimits.maxElementBytes { return 0 }  // becomes a table anyway
            if pairs && (j - first) & 1 == 0, let id = names.intern(args[j]) {
                total += varintSize(id << 1 | 1)
            } else {
                total += encodedSize(n)
            }
            j += 1
        }
        return total
    }

    public mutating func append(_ element: UnsafeRawBufferPointer) {
        reserve(additional: PackedList.encodedSize(element.count))
        PackedList.appendVarint(&bytes, element.count << 1)
        bytes.append(contentsOf: element)
        elements += 1
    }

    /// `append` for a value that grows one element at a time, as a set does under SADD: when
    /// the buffer must move, it moves to room for this element and one more of the same size,
    /// so a set gaining a member per write reallocates every other write, and the unused room
    /// is at most one element. Exact growth left the old buffer of every reallocation free at
    /// a size the next ones did not ask for: after 500K sessions of five per user had been
    /// written one login at a time, glibc's arena held 38 MB of free 176- and 208-byte chunks
    /// (the sets of three and four members), 76 B per session of RSS above used_memory; with
    /// this, 22 B (docs/BENCHMARKS.md, "Memory per session").
    public mutating func appendLeavingRoom(_ element: UnsafeRawBufferPointer) {
        let size = PackedList.encodedSize(element.count)
        if bytes.capacity < bytes.count + size { bytes.reserveCapacity(bytes.count + 2 * size) }
        append(element)
    }

    /// Appends a hash field name: as its id when `names` interns it, else in place.
    public mutating func appendName(_ name: UnsafeRawBufferPointer, names: FieldNameTable = .shared) {
        guard let id = names.intern(name) else { return append(name) }
        reserve(additional: PackedList.varintSize(id << 1 | 1))
        PackedList.appendVarint(&bytes, id << 1 | 1)
        elements += 1
    }

    /// Bytes a varint prefix for `value` takes.
    @inline(__always)
    static func varintSize(_ value: Int) -> Int {
        var n = 1
        var v = value >> 7
        while v > 0 { n += 1; v >>= 7 }
        return n
    }

    /// Replaces the one element whose byte range (prefix included) is `range` with `element`,
    /// in place: no temporary buffer, and no byte moves at all when the encoded size is unchanged
    /// (the usual session update: a timestamp or counter of the same width). `element` must not
    /// point into this list.
    public mutating func replace(_ range: Range<Int>, with element: UnsafeRawBufferPointer) {
        let prefix = PackedList.varintSize(element.count << 1)
        let newLength = prefix + element.count
        if newLength > range.count {
            reserve(additional: newLength - range.count)
            bytes.insert(contentsOf: repeatElement(0, count: newLength - range.count), at: range.upperBound)
        } else if newLength < range.count {
            bytes.removeSubrange((range.lowerBound + newLength)..<range.upperBound)
        }
        bytes.withUnsafeMutableBytes { p in
            var i = range.lowerBound
            var v = element.count << 1
            while v >= 0x80 {
                p[i] = UInt8(truncatingIfNeeded: v) | 0x80
                v >>= 7
                i += 1
            }
            p[i] = UInt8(v)
            if element.count > 0 {
                (p.baseAddress! + i + 1).copyMemory(from: element.baseAddress!, byteCount: element.count)
            }
        }
    }

    /// Removes the whole elements in `range` (a byte range of `removed` elements).
    public mutating func remove(_ range: Range<Int>, removing removed: Int) {
        bytes.removeSubrange(range)
        elements -= Int32(removed)
    }
}

@inline(__always)
func rawEqual(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
    a.count == b.count && (a.count == 0 || memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0)
}
