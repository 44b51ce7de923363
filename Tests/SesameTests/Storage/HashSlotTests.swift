import Testing
@testable import Sesame

/// Vectors from the Redis Cluster specification and the clients' own test suites (CLIENTS.md).
@Suite struct HashSlotTests {
    @Test func crc16Check() {
        #expect(bytes("123456789").withUnsafeBytes { HashSlot.crc16($0) } == 0x31C3)
        #expect([UInt8]().withUnsafeBytes { HashSlot.crc16($0) } == 0)
    }

    /// The four-bytes-a-step CRC agrees with the byte-at-a-time definition for every length
    /// up to 70 (each tail length, several full steps) on random bytes.
    @Test func slicedCRCMatchesBytewise() {
        var rng = SystemRandomNumberGenerator()
        for length in 0...70 {
            for _ in 0..<20 {
                let data = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
                data.withUnsafeBytes { raw in
                    #expect(HashSlot.crc16(raw) == HashSlot.crc16Bytewise(raw), "length \(length)")
                }
            }
        }
    }

    @Test(arguments: [
        ("somekey", 11058), ("foo{hash_tag}", 2515), ("bar{hash_tag}", 2515), ("foo", 12182),
        ("{user1000}.following", 3443), ("foo{}{bar}", 8363), ("foo{{bar}}zap", 4015),
    ])
    func slot(_ key: String, _ expected: Int) {
        #expect(HashSlot.of(key) == expected)
    }

    @Test func tagRules() {
        // Only the first {...} counts; an empty tag or a missing } hashes the whole key.
        #expect(HashSlot.of("{user1000}.following") == HashSlot.of("user1000"))
        #expect(HashSlot.of("a{b}{c}") == HashSlot.of("b"))
        #expect(HashSlot.of("foo{bar") == bytes("foo{bar").withUnsafeBytes { Int(HashSlot.crc16($0) & 0x3FFF) })
        #expect(HashSlot.of("foo}bar{") == bytes("foo}bar{").withUnsafeBytes { Int(HashSlot.crc16($0) & 0x3FFF) })
        #expect(HashSlot.of("{}") == bytes("{}").withUnsafeBytes { Int(HashSlot.crc16($0) & 0x3FFF) })
        #expect(HashSlot.of("sess:{42}:abc") == HashSlot.of("user_sessions:{42}"))
        #expect(HashSlot.of("") == 0)
    }

    @Test func keysSharingATagShareAShard() {
        let ks = Keyspace(databases: 1, shardCount: 64, clock: ManualClock())
        let a = bytes("sess:{42}:abc").withUnsafeBytes { ks.shardIndex($0) }
        let b = bytes("user_sessions:{42}").withUnsafeBytes { ks.shardIndex($0) }
        #expect(a == b)
        #expect(ks.shards.count == 64)
        #expect(Keyspace(databases: 1, shardCount: 100, clock: ManualClock()).shards.count == 128)
        #expect(Keyspace(databases: 1, shardCount: 1, clock: ManualClock()).shards.count == 1)
    }
}

/// Key's digest only lets `==` reject early: keys whose digests collide must still compare by
/// their bytes, and equal bytes must always give equal digests (whatever built the Key).
@Suite struct KeyDigestTests {
    @Test func collidingDigestsStillCompareBytes() {
        // Same length, same first and last 8 bytes: the digest cannot tell these apart.
        let a = Key("sess:{42}:AAAAxxxxxxxxxxxxBBBBBBBB"), b = Key("sess:{42}:AAAAyyyyyyyyyyyyBBBBBBBB")
        #expect(a.digest == b.digest)
        #expect(a != b)
        var table: [Key: Int] = [a: 1]
        table[b] = 2
        #expect(table.count == 2 && table[a] == 1 && table[b] == 2)
    }

    @Test(arguments: ["", "k", "1234567", "12345678", "123456789", "sess:{42}:q3Vt0b0mWk2zXo1f4d9cL6aQy8E"])
    func equalBytesEqualDigests(_ s: String) {
        let viaString = Key(s), viaArray = Key(Array(s.utf8))
        let viaRaw = Array(s.utf8).withUnsafeBytes { Key($0) }
        #expect(viaString == viaArray && viaArray == viaRaw)
        #expect(viaString.digest == viaRaw.digest && viaString.hashValue == viaRaw.hashValue)
        // Short keys differing in one byte, and keys that differ only in length, differ.
        #expect(Key(s + "x") != viaString)
        #expect(Key(s + "x").digest != Key(s + "y").digest)
        // The hash Dictionary and Set use: a function of the bytes and the table's seed.
        for seed in [0, 1, -7, Int.max] {
            #expect(viaString._rawHashValue(seed: seed) == viaRaw._rawHashValue(seed: seed))
        }
        #expect(viaString._rawHashValue(seed: 1) != viaString._rawHashValue(seed: 2))
        #expect(Key(s + "x")._rawHashValue(seed: 3) != Key(s + "y")._rawHashValue(seed: 3))
    }

    /// Dictionaries and Sets of Keys (table-form hashes and sets) behave as with any hash:
    /// 20,000 keys of similar shape, found, counted and removed exactly.
    @Test func dictionaryOfManyKeys() {
        var d: [Key: Int] = [:]
        for i in 0..<20_000 { d[Key("field:\(i)")] = i }
        #expect(d.count == 20_000)
        for i in stride(from: 0, to: 20_000, by: 7) { #expect(d[Key("field:\(i)")] == i) }
        #expect(d[Key("field:20000")] == nil)
        for i in 0..<10_000 { d[Key("field:\(i)")] = nil }
        #expect(d.count == 10_000)
        #expect(Set(d.keys).count == 10_000)
    }
}
