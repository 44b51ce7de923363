#if canImport(Glibc)
import Glibc
#endif

// Randomness for the workloads:
// - `SecureRandom`: the OS CSPRNG (/dev/urandom), for session ids, as a real session store
//   would mint them. Read in blocks so a login does not cost a syscall.
// - `Xoshiro256`: a fast seeded PRNG for choosing users and operations (reproducible with --seed).
// - `ZipfSampler`: rank k in 1...n with probability proportional to 1/k^s (rejection-inversion,
//   Hörmann & Derflinger 1996, as in Apache Commons RNG): O(1) time and memory per draw.
// - `WeightedChoice`: an operation mix such as validate=80,login=8,...

public enum SecureRandom {
    /// Fills `buffer` from /dev/urandom.
    public static func fill(_ buffer: UnsafeMutableRawBufferPointer) throws {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        let fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw BenchError("open /dev/urandom: \(errnoText(errno))") }
        defer { close(fd) }
        var filled = 0
        var attempts = 0
        while filled < buffer.count {
            attempts += 1
            guard attempts < 10_000 else { throw BenchError("read /dev/urandom: no progress") }
            let n = read(fd, base + filled, buffer.count - filled)
            if n < 0 {
                if errno == EINTR { continue }
                throw BenchError("read /dev/urandom: \(errnoText(errno))")
            }
            if n == 0 { throw BenchError("read /dev/urandom: end of file") }
            filled += n
        }
    }

    public static func bytes(_ count: Int) throws -> [UInt8] {
        var result = [UInt8](repeating: 0, count: count)
        try result.withUnsafeMutableBytes { try fill($0) }
        return result
    }

    public static func uint64() -> UInt64 {
        var value: UInt64 = 0
        if (try? withUnsafeMutableBytes(of: &value) { try fill($0) }) == nil {
            value = monotonicNanos() ^ 0x9E37_79B9_7F4A_7C15
        }
        return value
    }
}

/// Session ids: 20 CSPRNG bytes, base64url without padding = 27 characters.
public struct SessionIDSource {
    public static let idLength = 27
    private var pool: [UInt8]
    private var offset: Int

    public init(poolBytes: Int = 20 * 2048) {
        pool = [UInt8](repeating: 0, count: poolBytes)
        offset = poolBytes  // filled on first use
    }

    /// Writes a fresh 27-byte id into `out` (which must hold 27 bytes). If /dev/urandom cannot
    /// be read (it always can on Linux) the pool falls back to a time-seeded PRNG.
    public mutating func next(into out: UnsafeMutableRawBufferPointer) {
        if offset + 20 > pool.count {
            let ok = (try? pool.withUnsafeMutableBytes { try SecureRandom.fill($0) }) != nil
            if !ok {
                var rng = Xoshiro256(seed: monotonicNanos())
                for i in pool.indices { pool[i] = UInt8(truncatingIfNeeded: rng.next()) }
            }
            offset = 0
        }
        pool.withUnsafeBytes { raw in
            Base64URL.encode20(UnsafeRawBufferPointer(rebasing: raw[offset..<offset + 20]), into: out)
        }
        offset += 20
    }

    public mutating func next() -> [UInt8] {
        var id = [UInt8](repeating: 0, count: Self.idLength)
        id.withUnsafeMutableBytes { next(into: $0) }
        return id
    }
}

public enum Base64URL {
    static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// The non-negative decimal integer whose text `p` encodes (unpadded base64url), or nil.
    public static func decodeDecimal(_ p: UnsafeRawBufferPointer) -> Int? {
        var acc: UInt32 = 0, bits = 0, value = 0, digits = 0
        for c in p {
            guard let v = alphabet.firstIndex(of: c) else { return nil }
            acc = acc << 6 | UInt32(v)
            bits += 6
            if bits >= 8 {
                bits -= 8
                let byte = UInt8(truncatingIfNeeded: acc >> UInt32(bits))
                acc &= (1 << UInt32(bits)) - 1
                guard byte >= 48 && byte <= 57, digits < 18 else { return nil }
                value = value * 10 + Int(byte - 48)
                digits += 1
            }
        }
        return digits > 0 ? value : nil
    }

    /// Unpadded base64url of any byte sequence.
    public static func encode(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count * 4 + 2) / 3)
        var i = 0
        while i + 3 <= bytes.count {
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out.append(alphabet[Int(v >> 18 & 63)]); out.append(alphabet[Int(v >> 12 & 63)])
            out.append(alphabet[Int(v >> 6 & 63)]); out.append(alphabet[Int(v & 63)])
            i += 3
        }
        let rest = bytes.count - i
        if rest == 1 {
            let v = UInt32(bytes[i]) << 16
            out.append(alphabet[Int(v >> 18 & 63)]); out.append(alphabet[Int(v >> 12 & 63)])
        } else if rest == 2 {
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            out.append(alphabet[Int(v >> 18 & 63)]); out.append(alphabet[Int(v >> 12 & 63)])
            out.append(alphabet[Int(v >> 6 & 63)])
        }
        return out
    }

    /// 20 bytes -> 27 characters, no allocation.
    @inline(__always)
    static func encode20(_ input: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) {
        alphabet.withUnsafeBufferPointer { table in
            var o = 0
            var i = 0
            while i + 3 <= 18 {
                let v = UInt32(input[i]) << 16 | UInt32(input[i + 1]) << 8 | UInt32(input[i + 2])
                out[o] = table[Int(v >> 18 & 63)]; out[o + 1] = table[Int(v >> 12 & 63)]
                out[o + 2] = table[Int(v >> 6 & 63)]; out[o + 3] = table[Int(v & 63)]
                o += 4; i += 3
            }
            let v = UInt32(input[18]) << 16 | UInt32(input[19]) << 8
            out[o] = table[Int(v >> 18 & 63)]; out[o + 1] = table[Int(v >> 12 & 63)]; out[o + 2] = table[Int(v >> 6 & 63)]
        }
    }
}

/// xoshiro256** (Blackman & Vigna), seeded through SplitMix64.
public struct Xoshiro256: RandomNumberGenerator, Sendable {
    private var s0, s1, s2, s3: UInt64

    public init(seed: UInt64) {
        var x = seed
        func splitMix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitMix(); s1 = splitMix(); s2 = splitMix(); s3 = splitMix()
    }

    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = s3 << 45 | s3 >> 19
        return result
    }

    /// Uniform double in [0, 1).
    @inline(__always)
    public mutating func nextDouble() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// Uniform integer in 0..<bound (bound > 0), Lemire's multiply-shift (bias < 2^-64 * bound).
    @inline(__always)
    public mutating func nextInt(_ bound: Int) -> Int {
        Int(next().multipliedFullWidth(by: UInt64(bound)).high)
    }
}

/// Zipf-distributed ranks in 1...count: P(k) ∝ 1 / k^exponent. Rank 1 is the most frequent.
public struct ZipfSampler: Sendable {
    public let count: Int
    public let exponent: Double
    private let hIntegralX1: Double
    private let hIntegralCount: Double
    private let s: Double

    public init(count: Int, exponent: Double) {
        precondition(count >= 1, "Zipf needs at least one element")
        precondition(exponent >= 0, "Zipf exponent must be >= 0")
        self.count = count
        self.exponent = exponent
        hIntegralX1 = Self.hIntegral(1.5, exponent) - 1
        hIntegralCount = Self.hIntegral(Double(count) + 0.5, exponent)
        s = 2 - Self.hIntegralInverse(Self.hIntegral(2.5, exponent) - Self.h(2, exponent), exponent)
    }

    /// A rank in 1...count.
    @inline(__always)
    public func next(using rng: inout Xoshiro256) -> Int {
        if exponent == 0 || count == 1 { return 1 + rng.nextInt(count) }
        var k = 1
        for _ in 0..<1000 {  // acceptance rate is high; the bound only guards against NaN loops
            let u = hIntegralCount + rng.nextDouble() * (hIntegralX1 - hIntegralCount)
            let x = Self.hIntegralInverse(u, exponent)
            k = Int(x + 0.5)
            if k < 1 { k = 1 } else if k > count { k = count }
            if Double(k) - x <= s || u >= Self.hIntegral(Double(k) + 0.5, exponent) - Self.h(Double(k), exponent) {
                return k
            }
        }
        return k
    }

    @inline(__always) static func h(_ x: Double, _ e: Double) -> Double { exp(-e * log(x)) }

    @inline(__always) static func hIntegral(_ x: Double, _ e: Double) -> Double {
        let logX = log(x)
        return helper2((1 - e) * logX) * logX
    }

    @inline(__always) static func hIntegralInverse(_ x: Double, _ e: Double) -> Double {
        var t = x * (1 - e)
        if t < -1 { t = -1 }
        return exp(helper1(t) * x)
    }

    /// log1p(x) / x, stable near 0.
    @inline(__always) static func helper1(_ x: Double) -> Double {
        abs(x) > 1e-8 ? log1p(x) / x : 1 - x * (0.5 - x * (1.0 / 3 - 0.25 * x))
    }

    /// expm1(x) / x, stable near 0.
    @inline(__always) static func helper2(_ x: Double) -> Double {
        abs(x) > 1e-8 ? expm1(x) / x : 1 + x * 0.5 * (1 + x / 3 * (1 + 0.25 * x))
    }
}

/// Draws an index with probability weight[i] / sum(weights) via a lookup table (O(1)).
public struct WeightedChoice: Sendable {
    public let weights: [Int]
    private let table: [UInt8]

    public init(weights: [Int]) {
        precondition(weights.count <= 255 && weights.allSatisfy { $0 >= 0 } && weights.reduce(0, +) > 0)
        let total = weights.reduce(0, +)
        // Scale to a table of at most 10,000 entries; exact for weights summing to <= 10,000.
        let scale = total > 10_000 ? 10_000.0 / Double(total) : 1
        var table: [UInt8] = []
        for (i, w) in weights.enumerated() {
            let n = scale == 1 ? w : Int((Double(w) * scale).rounded())
            table.append(contentsOf: repeatElement(UInt8(i), count: n))
        }
        if table.isEmpty { table = [UInt8(weights.firstIndex { $0 > 0 }!)] }
        self.weights = weights
        self.table = table
    }

    @inline(__always)
    public func next(using rng: inout Xoshiro256) -> Int {
        Int(table[rng.nextInt(table.count)])
    }
}
