// A growable byte buffer with a read and a write index, owned by exactly one connection (one
// event loop thread). It exists so the request path can read(2) straight into spare capacity,
// parse in place, and append replies without any per-request allocation: the storage is reused
// for the life of the connection and only grows.

/// Contiguous bytes `[readerIndex, writerIndex)` are readable; `[writerIndex, capacity)` is spare.
///
/// The stored properties opt out of Swift's run-time exclusivity checks: a buffer has one
/// owner thread and no method hands out an inout access that outlives the call, so the
/// checks (a thread-local access-set insert per property access, ~15% of a GET's
/// instructions under callgrind) guard nothing here.
public final class ByteBuffer {
    @exclusivity(unchecked) public private(set) var base: UnsafeMutablePointer<UInt8>
    @exclusivity(unchecked) public private(set) var capacity: Int
    @exclusivity(unchecked) public var readerIndex: Int = 0
    @exclusivity(unchecked) public var writerIndex: Int = 0

    public init(capacity: Int = 16 * 1024) {
        self.capacity = max(capacity, 16)
        self.base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    @inline(__always) public var readableBytes: Int { writerIndex - readerIndex }
    @inline(__always) public var isEmpty: Bool { writerIndex == readerIndex }
    @inline(__always) public var spareCapacity: Int { capacity - writerIndex }

    /// Makes room for at least `count` more bytes after `writerIndex`, first by moving the
    /// unread bytes to the front, then by growing. Returns how far the unread bytes moved left,
    /// so a caller holding offsets into the buffer can adjust them.
    @discardableResult
    public func reserve(_ count: Int) -> Int {
        if spareCapacity >= count { return 0 }
        var shifted = 0
        if readerIndex > 0 {
            let n = readableBytes
            if n > 0 { (base).update(from: base + readerIndex, count: n) }
            shifted = readerIndex
            readerIndex = 0
            writerIndex = n
            if spareCapacity >= count { return shifted }
        }
        var newCapacity = capacity
        while newCapacity - writerIndex < count { newCapacity *= 2 }
        let newBase = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        newBase.update(from: base, count: writerIndex)
        base.deallocate()
        base = newBase
        capacity = newCapacity
        return shifted
    }

    /// Drops consumed bytes; resets the indices when everything is consumed so the buffer
    /// is reused from its start.
    @inline(__always) public func consume(_ count: Int) {
        readerIndex += count
        if readerIndex == writerIndex { readerIndex = 0; writerIndex = 0 }
    }

    public func clear() { readerIndex = 0; writerIndex = 0 }

    /// Gives back memory after a burst (a huge pipeline or reply) so an idle connection does
    /// not keep megabytes: only when empty and much larger than the default.
    /// Returns whether it shrank.
    @discardableResult
    public func shrinkIfIdle(limit: Int = 64 * 1024, to target: Int = 16 * 1024) -> Bool {
        guard isEmpty, capacity > limit else { return false }
        base.deallocate()
        capacity = target
        base = .allocate(capacity: target)
        readerIndex = 0; writerIndex = 0
        return true
    }

    @inline(__always) public func append(_ byte: UInt8) {
        if writerIndex == capacity { reserve(1) }
        base[writerIndex] = byte
        writerIndex += 1
    }

    @inline(__always) public func append(_ bytes: UnsafeRawBufferPointer) {
        let n = bytes.count
        if n == 0 { return }
        if spareCapacity < n { reserve(n) }
        UnsafeMutableRawPointer(base + writerIndex).copyMemory(from: bytes.baseAddress!, byteCount: n)
        writerIndex += n
    }

    @inline(__always) public func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    public func append(_ string: StaticString) {
        append(UnsafeRawBufferPointer(start: string.utf8Start, count: string.utf8CodeUnitCount))
    }

    public func append(string: String) {
        var s = string
        s.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    /// Appends the decimal digits of `value` without going through String.
    @inline(__always) public func appendDecimal(_ value: Int) {
        if spareCapacity < 21 { reserve(21) }
        writerIndex += ByteBuffer.writeDecimal(value, at: base + writerIndex)
    }

    /// Writes `value` in decimal at `p` (room for 20 bytes); returns the length. Lengths and
    /// counts in replies are almost all below 100, so those take one or two stores (this was
    /// a sixth of an HGETALL's instructions as a general digit loop through a temporary).
    @inline(__always)
    static func writeDecimal(_ value: Int, at p: UnsafeMutablePointer<UInt8>) -> Int {
        if value >= 0 && value < 10 {
            p[0] = UInt8(truncatingIfNeeded: value) &+ 48
            return 1
        }
        if value >= 10 && value < 100 {
            let tens = value / 10
            p[0] = UInt8(truncatingIfNeeded: tens) &+ 48
            p[1] = UInt8(truncatingIfNeeded: value &- tens &* 10) &+ 48
            return 2
        }
        return writeDecimalSlow(value, at: p)
    }

    static func writeDecimalSlow(_ value: Int, at p: UnsafeMutablePointer<UInt8>) -> Int {
        var v = value.magnitude
        var digits = 1
        var probe = v
        while probe >= 10 { probe /= 10; digits += 1 }
        let sign = value < 0 ? 1 : 0
        if sign == 1 { p[0] = UInt8(ascii: "-") }
        var i = sign + digits
        repeat {
            i -= 1
            let q = v / 10
            p[i] = UInt8(truncatingIfNeeded: v &- q &* 10) &+ 48
            v = q
        } while v > 0
        return sign + digits
    }

    /// Appends `<type byte><decimal>\r\n` (integers, array/map/set headers) with one
    /// capacity check.
    @inline(__always) public func appendLine(_ type: UInt8, _ value: Int) {
        if spareCapacity < 24 { reserve(24) }
        let p = base + writerIndex
        p[0] = type
        let i = 1 &+ ByteBuffer.writeDecimal(value, at: p + 1)
        p[i] = 13; p[i &+ 1] = 10
        writerIndex &+= i &+ 2
    }

    /// Appends a RESP bulk string (`$<n>\r\n<bytes>\r\n`) with one capacity check: the
    /// reply writer's hottest path (every GET, every HGETALL field and value).
    @inline(__always) public func appendBulk(_ bytes: UnsafeRawBufferPointer) {
        let n = bytes.count
        if spareCapacity < n &+ 25 { reserve(n &+ 25) }
        let p = base + writerIndex
        p[0] = 36  // $
        var i = 1 &+ ByteBuffer.writeDecimal(n, at: p + 1)
        p[i] = 13; p[i &+ 1] = 10
        i &+= 2
        if n > 0 { UnsafeMutableRawPointer(p + i).copyMemory(from: bytes.baseAddress!, byteCount: n) }
        i &+= n
        p[i] = 13; p[i &+ 1] = 10
        writerIndex &+= i &+ 2
    }

    public var readableBytesView: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + readerIndex, count: readableBytes)
    }

    /// A copy of the readable bytes; for tests and diagnostics, not the request path.
    public var readableArray: [UInt8] { Array(readableBytesView) }
}
