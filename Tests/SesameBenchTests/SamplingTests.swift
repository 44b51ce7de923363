import Testing
@testable import SesameBenchCore

@Suite struct SamplingTests {
    @Test func defaultMixProportions() throws {
        let weights = try SessionSettings.parseMix("validate=80,login=8,update=8,logout=3,list=1")
        #expect(weights == [80, 8, 8, 3, 1])
        let mix = WeightedChoice(weights: weights)
        var rng = Xoshiro256(seed: 1)
        let draws = 1_000_000
        var counts = [Int](repeating: 0, count: 5)
        for _ in 0..<draws { counts[mix.next(using: &rng)] += 1 }
        for (i, w) in weights.enumerated() {
            let share = Double(counts[i]) / Double(draws)
            #expect(abs(share - Double(w) / 100) < 0.003, "op \(i): \(share) vs \(w)%")
        }
    }

    @Test func customMixAndErrors() throws {
        let weights = try SessionSettings.parseMix("validate=50,logout=50")
        #expect(weights == [50, 0, 0, 50, 0])
        let mix = WeightedChoice(weights: weights)
        var rng = Xoshiro256(seed: 2)
        var counts = [Int](repeating: 0, count: 5)
        for _ in 0..<200_000 { counts[mix.next(using: &rng)] += 1 }
        #expect(counts[1] == 0 && counts[2] == 0 && counts[4] == 0)
        #expect(abs(Double(counts[0]) / 200_000 - 0.5) < 0.01)
        #expect(throws: BenchError.self) { try SessionSettings.parseMix("validate=80,bogus=3") }
        #expect(throws: BenchError.self) { try SessionSettings.parseMix("validate=0") }
    }

    @Test func zipfRankOneIsMostFrequentAndFollowsPowerLaw() {
        let n = 1000
        let s = 0.99
        let zipf = ZipfSampler(count: n, exponent: s)
        var rng = Xoshiro256(seed: 11)
        let draws = 2_000_000
        var counts = [Int](repeating: 0, count: n + 1)
        for _ in 0..<draws {
            let k = zipf.next(using: &rng)
            #expect(k >= 1 && k <= n)
            counts[k] += 1
        }
        #expect(counts[1] == counts.max())
        // Expected frequency of rank k: (1/k^s) / H(n, s).
        let harmonic = (1...n).reduce(0.0) { $0 + 1 / pow(Double($1), s) }
        for k in [1, 2, 3, 5, 10, 20, 50, 100] {
            let expected = Double(draws) / pow(Double(k), s) / harmonic
            let ratio = Double(counts[k]) / expected
            #expect(abs(ratio - 1) < 0.05, "rank \(k): \(counts[k]) vs \(expected)")
        }
        // Ratio between ranks follows k^-s.
        let r = Double(counts[1]) / Double(counts[10])
        #expect(abs(r - pow(10, s)) / pow(10, s) < 0.05)
    }

    @Test func zipfOtherExponents() {
        var rng = Xoshiro256(seed: 5)
        for s in [0.5, 1.0, 1.2] {
            let zipf = ZipfSampler(count: 100, exponent: s)
            var counts = [Int](repeating: 0, count: 101)
            for _ in 0..<500_000 { counts[zipf.next(using: &rng)] += 1 }
            let expected = pow(4, s)
            let ratio = Double(counts[1]) / Double(counts[4])
            #expect(abs(ratio - expected) / expected < 0.06, "s=\(s): \(ratio) vs \(expected)")
        }
        let uniform = ZipfSampler(count: 10, exponent: 0)
        var counts = [Int](repeating: 0, count: 11)
        for _ in 0..<100_000 { counts[uniform.next(using: &rng)] += 1 }
        #expect(counts[1...].allSatisfy { abs(Double($0) / 10_000 - 1) < 0.06 })
    }

    @Test func sessionIdsAre27Base64URLCharactersAndUnique() {
        var source = SessionIDSource()
        var seen = Set<[UInt8]>()
        let allowed = Set(Base64URL.alphabet)
        for _ in 0..<10_000 {
            let id = source.next()
            #expect(id.count == 27)
            #expect(id.allSatisfy { allowed.contains($0) })
            seen.insert(id)
        }
        #expect(seen.count == 10_000)
    }

    @Test func base64URLMatchesKnownVectors() {
        #expect(String(decoding: Base64URL.encode(Array("f".utf8)), as: UTF8.self) == "Zg")
        #expect(String(decoding: Base64URL.encode(Array("foob".utf8)), as: UTF8.self) == "Zm9vYg")
        #expect(String(decoding: Base64URL.encode([0xFB, 0xFF, 0xBF]), as: UTF8.self) == "-_-_")
        // The 20-byte fast path agrees with the general encoder.
        let bytes: [UInt8] = (0..<20).map { UInt8($0 * 13 + 7) }
        var out = [UInt8](repeating: 0, count: 27)
        bytes.withUnsafeBytes { input in out.withUnsafeMutableBytes { Base64URL.encode20(input, into: $0) } }
        #expect(out == Base64URL.encode(bytes))
    }

    @Test func sessionTableTracksLiveSessions() {
        let table = SessionTable(users: 10, slotsPerUser: 2)
        let a = [UInt8](repeating: UInt8(ascii: "a"), count: 27)
        let b = [UInt8](repeating: UInt8(ascii: "b"), count: 27)
        let c = [UInt8](repeating: UInt8(ascii: "c"), count: 27)
        var out = [UInt8](repeating: 0, count: 27)
        var evicted = [UInt8](repeating: 0, count: 27)
        #expect(!out.withUnsafeMutableBytes { table.pickLive(user: 3, startSlot: 0, into: $0) })
        a.withUnsafeBytes { table.set(user: 3, slot: 0, id: $0) }
        #expect(out.withUnsafeMutableBytes { table.pickLive(user: 3, startSlot: 1, into: $0) })
        #expect(out == a)
        #expect(!b.withUnsafeBytes { id in evicted.withUnsafeMutableBytes { table.insert(user: 3, startSlot: 0, id: id, evicted: $0) } })
        #expect(table.liveSessions == 2)
        // Full: the next login evicts.
        #expect(c.withUnsafeBytes { id in evicted.withUnsafeMutableBytes { table.insert(user: 3, startSlot: 0, id: id, evicted: $0) } })
        #expect(evicted == a)
        #expect(table.liveSessions == 2)
        #expect(out.withUnsafeMutableBytes { table.pickLive(user: 3, startSlot: 0, into: $0, remove: true) })
        #expect(table.liveSessions == 1)
    }
}

#if canImport(Glibc)
import Glibc
#endif
