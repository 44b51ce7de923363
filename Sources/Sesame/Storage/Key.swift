// A key is bytes (Redis keys are binary safe). Hashing feeds the whole buffer to the hasher in
// one call instead of byte by byte, which is what [UInt8]'s own Hashable does.

public struct Key: Hashable, Sendable {
    public let bytes: [UInt8]
    /// A cheap digest of the bytes (length, first and last 8 bytes), kept beside the reference
    /// so `==` can tell most unequal keys apart without reading their bytes. A Dictionary
    /// keyed by Key (large hashes and sets, WATCH, client tracking) compares the key of every
    /// bucket it probes, and reading a probed key's bytes is a cache miss: when the keyspace was
    /// such a Dictionary, perf showed ~20% of server time at pipeline 16 on that one load. (The
    /// keyspace's KeyTable compares its own 31-bit hash tags instead.) Not used for hashing:
    /// `hash(into:)` still feeds all the bytes to the seeded SipHash, so colliding digests cost
    /// a compare, never a weaker table.
    @usableFromInline let digest: UInt32

    @inline(__always) public init(_ bytes: [UInt8]) {
        self.bytes = bytes
        digest = bytes.withUnsafeBytes { Key.digest(of: $0) }
    }
    @inline(__always) public init(_ raw: UnsafeRawBufferPointer) { self.init(Array(raw)) }

    /// A Key holding `raw`, in `scratch`'s storage when it can be reused: a lookup needs an
    /// owned Key, and allocating one per lookup was a malloc and a free for nothing. The same
    /// size is overwritten in place (the common case: one key layout); storage something else
    /// still holds, such as a table that kept an earlier key, is copied on write first. Another
    /// size reuses the storage only when its capacity is at most 32 bytes larger, so a key a
    /// table keeps never carries much unused capacity; else `scratch` takes new storage.
    @inline(__always) init(reusing scratch: inout [UInt8], _ raw: UnsafeRawBufferPointer) {
        if scratch.count == raw.count {
            if raw.count > 0 { scratch.withUnsafeMutableBytes { $0.copyMemory(from: raw) } }
        } else if scratch.capacity >= raw.count && scratch.capacity <= raw.count + 32 {
            scratch.removeAll(keepingCapacity: true)
            scratch.append(contentsOf: raw)
        } else {
            scratch = Array(raw)
        }
        self.init(scratch)
    }
    public init(_ string: String) { self.init(Array(string.utf8)) }

    @inline(__always) public func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }

    /// What Dictionary and Set call, with their own per-table seed, instead of running
    /// `hash(into:)` through a Hasher: the one-pass SipHash-1-3 the key table uses, keyed by
    /// that seed and the process's secret (so still no aimed collisions), in about half the
    /// instructions of Hasher's streaming interface. Large hashes and sets look up every field
    /// this way.
    @inline(__always) public func _rawHashValue(seed: Int) -> Int {
        bytes.withUnsafeBytes {
            Int(truncatingIfNeeded: SipHash13.hash($0, k0: UInt64(bitPattern: Int64(seed)), k1: SipHash13.processKey))
        }
    }

    @inline(__always) public static func == (a: Key, b: Key) -> Bool {
        a.digest == b.digest && a.bytes == b.bytes
    }

    public var string: String { String(decoding: bytes, as: UTF8.self) }

    @inline(__always) static func digest(of raw: UnsafeRawBufferPointer) -> UInt32 {
        let n = raw.count
        var x = UInt64(truncatingIfNeeded: n) &* 0x9E37_79B9_7F4A_7C15
        if n >= 8 {
            x ^= raw.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
            x = (x ^ (x >> 29)) &* 0xBF58_476D_1CE4_E5B9
            x ^= raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self)
        } else {
            for b in raw { x = (x << 8) | UInt64(b) }
        }
        x = (x ^ (x >> 32)) &* 0x94D0_49BB_1331_11EB
        return UInt32(truncatingIfNeeded: x ^ (x >> 29))
    }
}

/// Redis Cluster's key -> slot mapping: CRC16/XMODEM of the hash tag (the bytes between the
/// first `{` and the first `}` after it, when there is at least one) or of the whole key, mod
/// 16384. Sesame's shards follow slots so keys sharing a tag share a lock.
public enum HashSlot {
    public static let count = 16384

    public static func of(_ key: UnsafeRawBufferPointer) -> Int {
        let n = key.count
        var open = -1
        for i in 0..<n where key[i] == UInt8(ascii: "{") { open = i; break }
        if open >= 0 {
            var close = -1
            var j = open + 1
            while j < n { if key[j] == UInt8(ascii: "}") { close = j; break }; j += 1 }
            if close > open + 1 {
                return Int(crc16(UnsafeRawBufferPointer(rebasing: key[(open + 1)..<close])) & 0x3FFF)
            }
        }
        return Int(crc16(key) & 0x3FFF)
    }

    public static func of(_ key: [UInt8]) -> Int { key.withUnsafeBytes { of($0) } }
    public static func of(_ key: String) -> Int { of(Array(key.utf8)) }

    /// CRC16/XMODEM (poly 0x1021, init 0), four bytes per step ("slicing by 4"). Byte at a
    /// time, each step waits on the previous one's table load (~7 cycles a byte: 4% of server
    /// CPU for SET at pipeline 16 under perf); here the four loads of a step are independent.
    /// The register is 16 bits, so feeding bytes b0..b3 from state r is feeding four zero
    /// bytes from r ^ (b0 b1) and XORing in what b2 and b3 contribute on their own: a step is
    /// Z4hi[x >> 8] ^ Z4lo[x & 0xFF] ^ Z2hi[b2] ^ Z2lo[b3], with x = r ^ (b0 << 8 | b1) and
    /// Zk the CRC of a register state followed by k zero bytes (high and low byte separately).
    public static func crc16(_ bytes: UnsafeRawBufferPointer) -> UInt16 {
        crcTables.withUnsafeBufferPointer { t in
            var crc: UInt16 = 0
            let n = bytes.count
            var i = 0
            while i &+ 4 <= n {
                let x = crc ^ (UInt16(bytes[i]) << 8 | UInt16(bytes[i &+ 1]))
                crc = t[768 &+ Int(x >> 8)] ^ t[512 &+ Int(x & 0xFF)] ^ t[256 &+ Int(bytes[i &+ 2])] ^ t[Int(bytes[i &+ 3])]
                i &+= 4
            }
            while i < n {
                crc = (crc << 8) ^ t[Int(UInt8(truncatingIfNeeded: crc >> 8) ^ bytes[i])]
                i &+= 1
            }
            return crc
        }
    }

    /// The byte-at-a-time CRC16, the definition the sliced one is tested against.
    static func crc16Bytewise(_ bytes: UnsafeRawBufferPointer) -> UInt16 {
        var crc: UInt16 = 0
        for b in bytes { crc = (crc << 8) ^ byteTable(Int(UInt8(truncatingIfNeeded: crc >> 8) ^ b)) }
        return crc
    }

    /// The CRC of byte `i` from a zero register: the classic one-byte table.
    private static func byteTable(_ i: Int) -> UInt16 {
        var c = UInt16(i) << 8
        for _ in 0..<8 { c = (c & 0x8000) != 0 ? (c << 1) ^ 0x1021 : c << 1 }
        return c
    }

    /// Four tables of 256 in one array: [0, 256) T (= Z2lo: a low byte followed by two zero
    /// bytes ends as T[byte]), [256, 512) Z2hi, [512, 768) Z4lo, [768, 1024) Z4hi.
    private static let crcTables: [UInt16] = {
        let t = (0..<256).map { byteTable($0) }
        /// Register state `r` followed by `k` zero bytes.
        func zeros(_ r: UInt16, _ k: Int) -> UInt16 {
            var c = r
            for _ in 0..<k { c = (c << 8) ^ t[Int(c >> 8)] }
            return c
        }
        var all = t
        all += (0..<256).map { zeros(UInt16($0) << 8, 2) }
        all += (0..<256).map { zeros(UInt16($0), 4) }
        all += (0..<256).map { zeros(UInt16($0) << 8, 4) }
        return all
    }()
}
