import Synchronization
#if canImport(Glibc)
import Glibc
#endif

// Hash field names stored once per process. A session store writes the same few field names
// (sessionId, userId, createdAt, lastActivity, absoluteExpiry, ipAddress, userAgent) into every
// session hash: ~70 bytes of every packed session that Redis's listpack repeats per key. A
// packed hash refers to an interned name by a one- or two-byte id instead (PackedList), so the
// names cost nothing per session.
//
// Bounded and write-once: at most `capacity` names of `minLength`...`maxLength` bytes without
// a decimal digit (names with digits are usually ids - `HSET online <userId> ...` - and would
// fill the table with names seen once), first come first served, never removed or changed.
// When it is full, new names are stored in full as before: nothing a client sends can grow it
// past ~10 KB, and a full table costs only the saving.
//
// Concurrency: readers take no lock. A name's bytes are written before `count` is raised with
// release ordering; a finder loads `count` with acquire ordering; a packed value that holds an
// id was written after its writer found or inserted the name, and reaches other threads only
// through the shard lock. Inserts serialise on `insertLock` (rare: once per distinct name).
public final class FieldNameTable: @unchecked Sendable {
    public static let shared = FieldNameTable()

    public static let capacity = 255
    public static let minLength = 3
    public static let maxLength = 32
    /// One record per name: hash (4 bytes), length (1), padding (3), bytes (32).
    private static let stride = 40

    private let base: UnsafeMutableRawPointer
    private let count = Atomic<Int>(0)
    private let insertLock = Mutex<Void>(())

    public init() {
        base = .allocate(byteCount: FieldNameTable.capacity * FieldNameTable.stride, alignment: 8)
    }

    deinit { base.deallocate() }

    public var names: Int { count.load(ordering: .acquiring) }

    /// The name with id `id` (an id this table handed out).
    @inline(__always)
    func name(_ id: Int) -> UnsafeRawBufferPointer {
        let r = base + id * FieldNameTable.stride
        return UnsafeRawBufferPointer(start: r + 8, count: Int(r.load(fromByteOffset: 4, as: UInt8.self)))
    }

    /// Whether a name may be interned at all (length and no digit).
    @inline(__always)
    static func eligible(_ name: UnsafeRawBufferPointer) -> Bool {
        guard name.count >= minLength && name.count <= maxLength else { return false }
        for b in name where b &- 0x30 < 10 { return false }
        return true
    }

    @inline(__always)
    private static func hash(_ name: UnsafeRawBufferPointer) -> UInt32 {
        var h: UInt32 = 0x811C_9DC5
        for b in name { h = (h ^ UInt32(b)) &* 0x0100_0193 }
        return h
    }

    private func find(_ name: UnsafeRawBufferPointer, _ h: UInt32, below n: Int) -> Int? {
        var i = 0
        while i < n {
            let r = base + i * FieldNameTable.stride
            if r.load(as: UInt32.self) == h && Int(r.load(fromByteOffset: 4, as: UInt8.self)) == name.count
                && memcmp(r + 8, name.baseAddress!, name.count) == 0 {
                return i
            }
            i += 1
        }
        return nil
    }

    /// The id of `name`, interning it when it is eligible and there is room; nil otherwise.
    public func intern(_ name: UnsafeRawBufferPointer) -> Int? {
        guard FieldNameTable.eligible(name) else { return nil }
        let h = FieldNameTable.hash(name)
        let seen = count.load(ordering: .acquiring)
        if let id = find(name, h, below: seen) { return id }
        if seen >= FieldNameTable.capacity { return nil }
        return insertLock.withLock { _ -> Int? in
            let n = count.load(ordering: .relaxed)
            if let id = find(name, h, below: n) { return id }  // another thread got there first
            guard n < FieldNameTable.capacity else { return nil }
            let r = base + n * FieldNameTable.stride
            r.storeBytes(of: h, as: UInt32.self)
            r.storeBytes(of: UInt8(name.count), toByteOffset: 4, as: UInt8.self)
            (r + 8).copyMemory(from: name.baseAddress!, byteCount: name.count)
            count.store(n + 1, ordering: .releasing)
            return n
        }
    }
}
