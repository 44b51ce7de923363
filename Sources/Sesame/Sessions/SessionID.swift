// Session IDs and the tokens clients hold.
//
// The ID is 160 bits from the OS CSPRNG (getrandom(2)), base64url without padding: 27
// characters, the `sessionId` field and the last part of the key `sess:{<userId>}:<id>`.
// The token a client holds (cookie, SESSION.VALIDATE argument) is
//
//     base64url(userId) "." id          e.g.  NDI.q3Vt0b0mWk2zXo1f4d9cL6aQy8E
//
// so the server rebuilds the key from the token alone: no lookup table to keep consistent,
// and the token, key and user set share the `{userId}` hash tag (docs/SESSIONS.md). Base64url
// keeps any userId bytes cookie- and URL-safe, and cannot contain the ".". A token discloses
// its userId to whoever holds it (as a JWT's `sub` does); it forges nothing: editing the
// userId part points at `sess:{other}:<id>`, which exists only if the attacker already holds
// that user's 160-bit secret. Only the canonical encoding of each part is accepted, so one
// session has exactly one token.

#if canImport(Glibc)
import Glibc
#endif

enum SessionID {
    /// Random bytes per ID: 160 bits, the seed design's size.
    static let randomBytes = 20
    /// Characters of a base64url-encoded ID.
    static let length = 27
    /// Longest userId accepted, so keys and tokens stay small.
    static let maxUserIdBytes = 256

    /// A fresh ID from the OS CSPRNG.
    static func generate() -> [UInt8] {
        Base64URL.encode(secureRandomBytes(randomBytes))
    }

    /// A userId must be non-empty, bounded, and free of braces so that `{<userId>}` is the
    /// whole hash tag of both the session key and the user's set (one slot, one shard lock).
    static func isValidUserId(_ u: UnsafeRawBufferPointer) -> Bool {
        guard u.count >= 1 && u.count <= maxUserIdBytes else { return false }
        for b in u where b == UInt8(ascii: "{") || b == UInt8(ascii: "}") { return false }
        return true
    }

    /// `base64url(userId) "." id`.
    static func token(userId: UnsafeRawBufferPointer, id: UnsafeRawBufferPointer) -> [UInt8] {
        var out = Base64URL.encode(userId)
        out.append(UInt8(ascii: "."))
        out.append(contentsOf: id)
        return out
    }

    /// The session key a token names (`sess:{<userId>}:<id>`), or nil for anything that is not
    /// a canonical token of a valid userId: the caller treats that as an unknown session.
    @inline(__always)
    static func key(fromToken t: UnsafeRawBufferPointer) -> [UInt8]? {
        let n = t.count
        guard n >= length + 2, n <= Base64URL.encodedLength(maxUserIdBytes) + 1 + length,
              t[n - length - 1] == UInt8(ascii: ".") else { return nil }
        let idPart = UnsafeRawBufferPointer(rebasing: t[(n - length)...])
        guard Base64URL.isCanonical(idPart, decodedLength: randomBytes) else { return nil }
        let userPart = UnsafeRawBufferPointer(rebasing: t[..<(n - length - 1)])
        var key = [UInt8]()
        key.reserveCapacity(6 + userPart.count + 2 + length)
        key.append(contentsOf: "sess:{".utf8)
        let start = key.count
        guard Base64URL.decode(userPart, appendingTo: &key) else { return nil }
        let valid = key.withUnsafeBytes { isValidUserId(UnsafeRawBufferPointer(rebasing: $0[start...])) }
        guard valid else { return nil }
        key.append(UInt8(ascii: "}"))
        key.append(UInt8(ascii: ":"))
        key.append(contentsOf: idPart)
        return key
    }

    /// The userId and ID of a session key `sess:{<userId>}:<id>`, or nil when the key does not
    /// have that shape (a plain client may store anything under `sess:`).
    @inline(__always)
    static func parts(ofKey k: UnsafeRawBufferPointer) -> (userId: Range<Int>, id: Range<Int>)? {
        let n = k.count
        guard n > 9, k[0] == UInt8(ascii: "s"), k[1] == UInt8(ascii: "e"), k[2] == UInt8(ascii: "s"),
              k[3] == UInt8(ascii: "s"), k[4] == UInt8(ascii: ":"), k[5] == UInt8(ascii: "{") else { return nil }
        var close = 6
        while close < n && k[close] != UInt8(ascii: "}") { close += 1 }
        guard close > 6, close + 2 < n, k[close + 1] == UInt8(ascii: ":") else { return nil }
        return (6..<close, (close + 2)..<n)
    }

    /// `user_sessions:{<userId>}`.
    static func userSetKey(_ userId: UnsafeRawBufferPointer) -> [UInt8] {
        var k = [UInt8]()
        k.reserveCapacity(15 + userId.count + 1)
        k.append(contentsOf: "user_sessions:{".utf8)
        k.append(contentsOf: userId)
        k.append(UInt8(ascii: "}"))
        return k
    }

    /// `sess:{<userId>}:<id>`.
    static func sessionKey(_ userId: UnsafeRawBufferPointer, _ id: UnsafeRawBufferPointer) -> [UInt8] {
        var k = [UInt8]()
        k.reserveCapacity(6 + userId.count + 2 + id.count)
        k.append(contentsOf: "sess:{".utf8)
        k.append(contentsOf: userId)
        k.append(UInt8(ascii: "}"))
        k.append(UInt8(ascii: ":"))
        k.append(contentsOf: id)
        return k
    }
}

/// RFC 4648 section 5 alphabet, no padding.
enum Base64URL {
    static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    static func encodedLength(_ bytes: Int) -> Int { (bytes * 4 + 2) / 3 }

    static func encode(_ bytes: [UInt8]) -> [UInt8] { bytes.withUnsafeBytes { encode($0) } }

    static func encode(_ p: UnsafeRawBufferPointer) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(encodedLength(p.count))
        var i = 0
        while i + 3 <= p.count {
            let v = UInt32(p[i]) << 16 | UInt32(p[i + 1]) << 8 | UInt32(p[i + 2])
            out.append(alphabet[Int(v >> 18 & 63)]); out.append(alphabet[Int(v >> 12 & 63)])
            out.append(alphabet[Int(v >> 6 & 63)]); out.append(alphabet[Int(v & 63)])
            i += 3
        }
        let rest = p.count - i
        if rest == 1 {
            let v = UInt32(p[i]) << 16
            out.append(alphabet[Int(v >> 18 & 63)]); out.append(alphabet[Int(v >> 12 & 63)])
        } else if rest == 2 {
            let v = UInt32(p[i]) << 16 | UInt32(p[i + 1]) << 8
            out.append(alphabet[Int(v >> 18 & 63)]); out.append(alphabet[Int(v >> 12 & 63)])
            out.append(alphabet[Int(v >> 6 & 63)])
        }
        return out
    }

    /// The 6-bit value of a character, or -1.
    @inline(__always) static func value(_ c: UInt8) -> Int {
        switch c {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return Int(c) - 65
        case UInt8(ascii: "a")...UInt8(ascii: "z"): return Int(c) - 97 + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return Int(c) - 48 + 52
        case UInt8(ascii: "-"): return 62
        case UInt8(ascii: "_"): return 63
        default: return -1
        }
    }

    /// Decodes unpadded base64url, appending to `out`. False for a bad character, an impossible
    /// length, or unused low bits that are not zero (a non-canonical spelling).
    @inline(__always)
    static func decode(_ p: UnsafeRawBufferPointer, appendingTo out: inout [UInt8]) -> Bool {
        if p.count % 4 == 1 { return false }
        var acc: UInt32 = 0
        var bits = 0
        for c in p {
            let v = value(c)
            if v < 0 { return false }
            acc = acc << 6 | UInt32(v)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: acc >> UInt32(bits)))
                acc &= (1 << UInt32(bits)) - 1
            }
        }
        return acc == 0
    }

    /// Whether `p` is the canonical encoding of exactly `decodedLength` bytes.
    @inline(__always)
    static func isCanonical(_ p: UnsafeRawBufferPointer, decodedLength: Int) -> Bool {
        guard p.count == encodedLength(decodedLength) else { return false }
        for c in p where value(c) < 0 { return false }
        let unusedBits = p.count * 6 - decodedLength * 8
        return value(p[p.count - 1]) & ((1 << unusedBits) - 1) == 0
    }
}
