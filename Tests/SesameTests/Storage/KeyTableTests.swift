import Testing
@testable import Sesame

/// The key table against Dictionary as the oracle: same contents after random inserts,
/// overwrites, in-place changes, deletions through every entry point, growth and copies.
@Suite struct KeyTableTests {
    private func entry(_ n: Int) -> Entry {
        Entry(value: .string(Array("v\(n)".utf8)), expireAt: Int64(n))
    }

    private func contents(_ t: KeyTable) -> [String: Int64] {
        var out: [String: Int64] = [:]
        for (k, e) in t {
            #expect(out[k.string] == nil, "key \(k.string) iterated twice")
            out[k.string] = e.expireAt
        }
        return out
    }

    private func check(_ t: KeyTable, _ oracle: [String: Int64]) {
        #expect(t.count == oracle.count)
        #expect(t.isEmpty == oracle.isEmpty)
        #expect(contents(t) == oracle)
        for (k, v) in oracle {
            #expect(t[Key(k)]?.expireAt == v)
            if let i = t.index(forKey: Key(k)) {
                #expect(t.key(at: i) == Key(k))
                #expect(t.readEntry(at: i).pointee.expireAt == v)
            } else {
                Issue.record("index(forKey:) lost \(k)")
            }
        }
    }

    @Test func randomOperationsMatchDictionary() {
        var rng = SplitMix64(seed: 42)
        var t = KeyTable()
        var oracle: [String: Int64] = [:]
        // A key space small enough that deletions hit and runs form, large enough to grow.
        for step in 0..<40_000 {
            let k = "key:\(Int.random(in: 0..<3_000, using: &rng))"
            let n = step + 1
            switch Int.random(in: 0..<7, using: &rng) {
            case 0:
                t[Key(k)] = entry(n); oracle[k] = Int64(n)
            case 1:
                t.update(Key(k), entry(n)); oracle[k] = Int64(n)
            case 2:
                #expect(t.removeValue(forKey: Key(k))?.expireAt == oracle.removeValue(forKey: k))
            case 3:
                // In-place modify through the subscript: change, delete or insert.
                let choice = Int.random(in: 0..<3, using: &rng)
                func change(_ slot: inout Entry?) {
                    switch choice {
                    case 0: if slot != nil { slot!.expireAt = Int64(n) }
                    case 1: slot = nil
                    default: slot = entry(n)
                    }
                }
                t.modify(Key(k), change)
                switch choice {
                case 0: if oracle[k] != nil { oracle[k] = Int64(n) }
                case 1: oracle[k] = nil
                default: oracle[k] = Int64(n)
                }
            case 4:
                if let i = t.index(forKey: Key(k)) {
                    let (rk, re) = t.remove(at: i)
                    #expect(rk.string == k)
                    #expect(re.expireAt == oracle.removeValue(forKey: k))
                } else {
                    #expect(oracle[k] == nil)
                }
            case 5:
                if let i = t.index(forKey: Key(k)) {
                    t.withEntry(at: i) { $0.expireAt = Int64(n) }
                    oracle[k] = Int64(n)
                }
            default:
                #expect(t[Key(k)]?.expireAt == oracle[k])
            }
            if step % 5_000 == 0 { check(t, oracle) }
        }
        check(t, oracle)
        // Drain to empty through remove(at:) and check the table works after.
        for k in Array(oracle.keys) {
            t.remove(at: t.index(forKey: Key(k))!)
        }
        check(t, [:])
        t[Key("again")] = entry(1)
        check(t, ["again": 1])
    }

    @Test func copiesAreIndependent() {
        var a = KeyTable()
        for n in 0..<1_000 { a[Key("k\(n)")] = entry(n) }
        let snapshot = a
        for n in 0..<500 { a.removeValue(forKey: Key("k\(n)")) }
        for n in 1_000..<2_000 { a[Key("k\(n)")] = entry(n) }
        a[Key("k600")]!.expireAt = -1
        var expected: [String: Int64] = [:]
        for n in 0..<1_000 { expected["k\(n)"] = Int64(n) }
        check(snapshot, expected)
        #expect(a.count == 1_500)
        #expect(a[Key("k600")]?.expireAt == -1)
        // Writing through a copy of the snapshot leaves the snapshot alone too.
        var b = snapshot
        if let i = b.index(forKey: Key("k1")) { b.withEntry(at: i) { $0.expireAt = 77 } }
        b.remove(at: b.index(forKey: Key("k2"))!)
        #expect(snapshot[Key("k1")]?.expireAt == 1)
        #expect(snapshot[Key("k2")] != nil)
        #expect(b[Key("k1")]?.expireAt == 77 && b[Key("k2")] == nil)
    }

    @Test func emptyTablesShareNothingWritable() {
        var a = KeyTable(), b = KeyTable()
        #expect(a[Key("x")] == nil)
        #expect(a.removeValue(forKey: Key("x")) == nil)
        a[Key("x")] = entry(1)
        #expect(b.isEmpty && b[Key("x")] == nil)
        b[Key("y")] = entry(2)
        #expect(a.count == 1 && b.count == 1 && a[Key("y")] == nil)
        a.removeAll()
        #expect(a.isEmpty && a[Key("x")] == nil)
        #expect(KeyTable().isEmpty)
    }

    @Test func growsAndShrinksNothingLost() {
        var t = KeyTable()
        var oracle: [String: Int64] = [:]
        for n in 0..<100_000 { t[Key("sess:{\(n % 977)}:\(n)")] = entry(n); oracle["sess:{\(n % 977)}:\(n)"] = Int64(n) }
        #expect(t.capacity >= t.count && Double(t.count) / Double(t.capacity) <= 0.875)
        check(t, oracle)
        // Delete every other key by iteration order (backward shifts across run boundaries).
        var flip = false
        for (k, _) in t {
            flip.toggle()
            if flip { t.removeValue(forKey: k); oracle[k.string] = nil }
        }
        check(t, oracle)
    }

    /// The slot size is most of the per-key table cost (docs/BENCHMARKS.md, memory per
    /// session): a field added to Entry or Value that grows it should be a decision.
    @Test func slotLayout() {
        #expect(MemoryLayout<Value>.size == 20)
        #expect(MemoryLayout<Entry>.size == 40)
        #expect(MemoryLayout<KeyTableSlot>.stride == 16)
        #expect(KeyNode.bytesOffset == 44)
        #expect(MemoryLayout<WheelRecord>.stride == 16)
    }

    @Test func shrinksWhenSparse() {
        var t = KeyTable()
        for n in 0..<10_000 { t[Key("k\(n)")] = entry(n) }
        let full = t.capacity
        #expect(full >= 16_384)
        for n in 0..<9_990 { t.removeValue(forKey: Key("k\(n)")) }
        #expect(t.capacity <= 256, "capacity \(t.capacity) after deleting 9,990 of 10,000 keys")
        var oracle: [String: Int64] = [:]
        for n in 9_990..<10_000 { oracle["k\(n)"] = Int64(n) }
        check(t, oracle)
        // Deleting through remove(at:) and modify shrinks too, and the table still grows again.
        for n in 0..<5_000 { t[Key("x\(n)")] = entry(n); oracle["x\(n)"] = Int64(n) }
        for n in 0..<4_990 {
            if n % 2 == 0 { t.remove(at: t.index(forKey: Key("x\(n)"))!) } else { t.modify(Key("x\(n)")) { $0 = nil } }
            oracle["x\(n)"] = nil
        }
        #expect(t.capacity <= 512)
        check(t, oracle)
    }

    @Test func occupiedSlotsAreTheKeys() {
        var t = KeyTable()
        for n in 0..<300 { t[Key("k\(n)")] = entry(n) }
        var seen = Set<String>()
        for i in 0..<t.slotCount where t.isOccupied(i) { seen.insert(t.key(at: i).string) }
        #expect(seen == Set((0..<300).map { "k\($0)" }))
    }
}
