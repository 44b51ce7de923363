// SipHash-1-3 over a key's bytes, the keyed hash Redis's dict uses (siphash.c) and Swift's
// Hasher runs. Written out for one contiguous buffer: Hasher streams its input through a tail
// buffer and a generic combine, which cost ~210 instructions per 16-byte key under callgrind;
// this costs about half. Keyed by a per-table seed and a per-process secret, so an attacker
// who does not know them cannot aim many keys at one probe run (hash flooding).

@usableFromInline
enum SipHash13 {
    /// The half of the key shared by every table: random per process (the OS CSPRNG).
    @usableFromInline static let processKey: UInt64 = {
        var g = SystemRandomNumberGenerator()
        return g.next()
    }()

    @inline(__always)
    static func rotl(_ x: UInt64, _ b: UInt64) -> UInt64 { (x << b) | (x >> (64 &- b)) }

    @inline(__always)
    static func round(_ v0: inout UInt64, _ v1: inout UInt64, _ v2: inout UInt64, _ v3: inout UInt64) {
        v0 = v0 &+ v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32)
        v2 = v2 &+ v3; v3 = rotl(v3, 16); v3 ^= v2
        v0 = v0 &+ v3; v3 = rotl(v3, 21); v3 ^= v0
        v2 = v2 &+ v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32)
    }

    /// The 64-bit SipHash-1-3 of `bytes` under the key (k0, k1).
    @inline(__always)
    static func hash(_ bytes: UnsafeRawBufferPointer, k0: UInt64, k1: UInt64) -> UInt64 {
        var v0 = k0 ^ 0x736f_6d65_7073_6575
        var v1 = k1 ^ 0x646f_7261_6e64_6f6d
        var v2 = k0 ^ 0x6c79_6765_6e65_7261
        var v3 = k1 ^ 0x7465_6462_7974_6573
        let n = bytes.count
        var i = 0
        if let base = bytes.baseAddress {
            while i + 8 <= n {
                let m = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i, as: UInt64.self))
                v3 ^= m
                round(&v0, &v1, &v2, &v3)
                v0 ^= m
                i += 8
            }
        }
        var last = UInt64(truncatingIfNeeded: n) << 56
        var shift: UInt64 = 0
        while i < n {
            last |= UInt64(bytes[i]) << shift
            shift += 8
            i += 1
        }
        v3 ^= last
        round(&v0, &v1, &v2, &v3)
        v0 ^= last
        v2 ^= 0xff
        round(&v0, &v1, &v2, &v3)
        round(&v0, &v1, &v2, &v3)
        round(&v0, &v1, &v2, &v3)
        return v0 ^ v1 ^ v2 ^ v3
    }
}
