import Testing
@testable import Sesame

// Small hashes and sets live in one PackedList; past PackedLimits they become tables. Either
// form must behave the same, so every test compares against a plain Dictionary/Set model.

/// Reference wrappers so mutating calls can sit inside `#expect(...)`.
final class HashBox {
    var value = HashValue()
    /// The lookup storage reads lend a table-form value (as Client.lookupScratch does).
    let scratch = UnsafeMutablePointer<[UInt8]>.allocate(capacity: 1)
    init() { scratch.initialize(to: []) }
    deinit { scratch.deinitialize(count: 1); scratch.deallocate() }
    @discardableResult
    func set(_ f: [UInt8], _ v: [UInt8]) -> Bool {
        f.withUnsafeBytes { fp in v.withUnsafeBytes { vp in value.set(fp, vp) } }
    }
    @discardableResult
    func remove(_ f: [UInt8]) -> Bool { f.withUnsafeBytes { value.remove($0) } }
    func get(_ f: [UInt8]) -> [UInt8]? { f.withUnsafeBytes { value.withValue($0, scratch: scratch) { $0.map { Array($0) } } } }
    func has(_ f: [UInt8]) -> Bool { f.withUnsafeBytes { value.contains($0, scratch: scratch) } }
    /// Reads without lent storage (a Key allocated per lookup).
    func getOwnKey(_ f: [UInt8]) -> [UInt8]? { f.withUnsafeBytes { value.withValue($0) { $0.map { Array($0) } } } }
    func hasOwnKey(_ f: [UInt8]) -> Bool { f.withUnsafeBytes { value.contains($0) } }
    var count: Int { value.count }
    var isPacked: Bool { value.isPacked }
    var pairs: [([UInt8], [UInt8])] {
        var out: [([UInt8], [UInt8])] = []
        value.forEach { f, v in out.append((Array(f), Array(v))) }
        return out
    }
    var dictionary: [[UInt8]: [UInt8]] { Dictionary(pairs, uniquingKeysWith: { a, _ in a }) }
}

final class SetBox {
    var value = SetValue()
    let scratch = UnsafeMutablePointer<[UInt8]>.allocate(capacity: 1)
    init() { scratch.initialize(to: []) }
    deinit { scratch.deinitialize(count: 1); scratch.deallocate() }
    @discardableResult
    func insert(_ m: [UInt8]) -> Bool { m.withUnsafeBytes { value.insert($0) } }
    @discardableResult
    func remove(_ m: [UInt8]) -> Bool { m.withUnsafeBytes { value.remove($0) } }
    func has(_ m: [UInt8]) -> Bool { m.withUnsafeBytes { value.contains($0, scratch: scratch) } }
    func hasOwnKey(_ m: [UInt8]) -> Bool { m.withUnsafeBytes { value.contains($0) } }
    var count: Int { value.count }
    var isPacked: Bool { value.isPacked }
    var members: [[UInt8]] {
        var out: [[UInt8]] = []
        value.forEach { out.append(Array($0)) }
        return out
    }
}

@Suite struct PackedListTests {
    @Test func varintRoundTrip() {
        for n in [0, 1, 127, 128, 255, 300, 16383, 16384, 1 << 21, 1 << 28, Int(Int32.max), 1 << 40] {
            var out: [UInt8] = []
            PackedList.appendVarint(&out, n)
            #expect(PackedList.varintSize(n) == out.count)
            var i = 0
            #expect(out.withUnsafeBytes { PackedList.readVarint($0, &i) } == n)
            #expect(i == out.count)
        }
    }

    @Test func appendReplaceIterate() {
        var list = PackedList()
        let elements = [bytes("a"), [], Array(repeating: 7, count: 300), bytes("last")]
        for e in elements { e.withUnsafeBytes { list.append($0) } }
        #expect(list.count == 4)
        var seen: [[UInt8]] = []
        var ranges: [Range<Int>] = []
        list.forEach { e, r in seen.append(Array(e)); ranges.append(r); return true }
        #expect(seen == elements)
        #expect(ranges.last?.upperBound == list.bytes.count)
        // Replace the 300-byte element (2-byte prefix) with a short one, then a long one, then
        // one of the same encoded size: neighbours must be untouched each time.
        bytes("x").withUnsafeBytes { list.replace(ranges[2], with: $0) }
        seen = []
        list.forEach { e, _ in seen.append(Array(e)); return true }
        #expect(seen == [bytes("a"), [], bytes("x"), bytes("last")])
        #expect(list.bytes.count == 2 + 1 + 2 + 5)
        let big = [UInt8](repeating: 9, count: 20_000)  // 3-byte prefix
        big.withUnsafeBytes { list.replace(3..<5, with: $0) }
        seen = []
        ranges = []
        list.forEach { e, r in seen.append(Array(e)); ranges.append(r); return true }
        #expect(seen == [bytes("a"), [], big, bytes("last")])
        bytes("Y").withUnsafeBytes { list.replace(ranges[0], with: $0) }
        [UInt8]().withUnsafeBytes { list.replace(ranges[3].lowerBound..<(ranges[3].upperBound), with: $0) }
        seen = []
        list.forEach { e, _ in seen.append(Array(e)); return true }
        #expect(seen == [bytes("Y"), [], big, []])
        #expect(list.count == 4)
        // Remove the middle two.
        list.remove(ranges[1].lowerBound..<ranges[2].upperBound, removing: 2)
        seen = []
        list.forEach { e, _ in seen.append(Array(e)); return true }
        #expect(seen == [bytes("Y"), []])
        #expect(list.count == 2)
        for e in [bytes("p"), bytes("q"), bytes("r")] { e.withUnsafeBytes { list.append($0) } }
        // Early stop.
        var visited = 0
        list.forEach { _, _ in visited += 1; return visited < 2 }
        #expect(visited == 2)
        #expect(list.count == 5)
    }
}

@Suite struct HashValueTests {
    @Test func setReplaceRemoveKeepInsertionOrder() {
        let h = HashBox()
        #expect(h.set(bytes("b"), bytes("1")))
        #expect(h.set(bytes("a"), bytes("2")))
        #expect(h.set(bytes("c"), bytes("3")))
        #expect(!h.set(bytes("a"), bytes("a much longer value than before")))
        #expect(h.pairs.map { $0.0.text } == ["b", "a", "c"])
        #expect(h.get(bytes("a")) == bytes("a much longer value than before"))
        #expect(h.remove(bytes("b")))
        #expect(!h.remove(bytes("b")))
        #expect(h.pairs.map { $0.0.text } == ["a", "c"])
        #expect(h.count == 2)
        #expect(h.isPacked)
    }

    /// Table form: writes look fields up through one reused scratch key. A field the table
    /// kept shares that storage until the next write copies it: a later field of the same
    /// length must not overwrite the stored one, and values are overwritten in place only when
    /// their size is unchanged.
    @Test func tableFormReusesItsLookupKeySafely() {
        let h = HashBox()
        for i in 0..<200 { #expect(h.set(bytes("f\(1000 + i)"), bytes("v\(i)"))) }
        #expect(!h.isPacked)
        #expect(h.set(bytes("aaaa"), bytes("1")))
        #expect(h.set(bytes("bbbb"), bytes("2")))
        #expect(!h.set(bytes("aaaa"), bytes("3")))           // same size: in place
        #expect(!h.set(bytes("bbbb"), bytes("longer value")))  // new size: replaced
        #expect(h.get(bytes("aaaa")) == bytes("3"))
        #expect(h.get(bytes("bbbb")) == bytes("longer value"))
        #expect(h.get(bytes("f1000")) == bytes("v0"))
        #expect(h.get(bytes("f1199")) == bytes("v199"))
        #expect(h.count == 202)
        #expect(Set(h.pairs.map { $0.0.text }).count == 202)
    }

    /// Reads of the table form look fields up in storage the caller lends (the client's), of
    /// any length one after another, on a table another copy shares: the answers stay right
    /// and neither copy changes.
    @Test func tableFormReadsWithLentStorage() {
        let h = HashBox()
        for i in 0..<300 { h.set(bytes("field-\(i)"), bytes("value-\(i)")) }
        #expect(!h.isPacked)
        let shared = h.value
        for i in stride(from: 0, to: 400, by: 7) {
            let f = bytes(i % 3 == 0 ? "field-\(i)" : (i % 3 == 1 ? "f\(i)" : "a-much-longer-field-name-\(i)"))
            let expected: [UInt8]? = i < 300 && i % 3 == 0 ? bytes("value-\(i)") : nil
            #expect(h.get(f) == expected)
            #expect(h.has(f) == (expected != nil))
        }
        // A key built in the storage is still alive while the next lookup runs.
        let held = Key(reusing: &h.scratch.pointee, UnsafeRawBufferPointer(start: nil, count: 0))
        #expect(h.get(bytes("field-5")) == bytes("value-5"))
        #expect(held.bytes.isEmpty)
        h.set(bytes("field-5"), bytes("changed"))
        #expect(h.get(bytes("field-5")) == bytes("changed"))
        #expect(shared.withValue(UnsafeRawBufferPointer(start: nil, count: 0)) { $0 == nil })
        #expect(bytes("field-5").withUnsafeBytes { shared.withValue($0, scratch: h.scratch) { $0.map { Array($0) } } } == bytes("value-5"))
    }

    @Test func emptyFieldsAndValues() {
        let h = HashBox()
        #expect(h.set([], []))
        #expect(h.set(bytes("f"), []))
        #expect(h.set([], bytes("v")) == false)
        #expect(h.get([]) == bytes("v"))
        #expect(h.get(bytes("f")) == [])
        #expect(h.get(bytes("missing")) == nil)
        #expect(h.has([]))
        #expect(h.count == 2)
        // A field equal to another field's value must not match it.
        #expect(!h.has(bytes("v")))
    }

    @Test func convertsPastEntryCount() {
        let h = HashBox()
        var model: [[UInt8]: [UInt8]] = [:]
        for i in 0..<PackedLimits.maxEntries {
            h.set(bytes("field\(i)"), bytes("value\(i)"))
            model[bytes("field\(i)")] = bytes("value\(i)")
        }
        #expect(h.isPacked)
        #expect(h.count == PackedLimits.maxEntries)
        let before = h.dictionary
        // Replacing an existing field at the limit does not convert.
        h.set(bytes("field0"), bytes("value0"))
        #expect(h.isPacked)
        #expect(h.set(bytes("one more"), bytes("x")))
        model[bytes("one more")] = bytes("x")
        #expect(!h.isPacked)
        #expect(h.count == PackedLimits.maxEntries + 1)
        #expect(h.dictionary == model)
        #expect(before.count == model.count - 1)
        for (f, v) in before { #expect(h.get(f) == v) }
    }

    @Test func convertsPastElementSize() {
        for bigField in [false, true] {
            let h = HashBox()
            h.set(bytes("a"), bytes("1"))
            let exact = [UInt8](repeating: 1, count: PackedLimits.maxElementBytes)
            h.set(bigField ? exact : bytes("b"), bigField ? bytes("2") : exact)
            #expect(h.isPacked, "exactly at the limit stays packed")
            let big = [UInt8](repeating: 2, count: PackedLimits.maxElementBytes + 1)
            #expect(h.set(bigField ? big : bytes("c"), bigField ? bytes("3") : big))
            #expect(!h.isPacked)
            #expect(h.count == 3)
            #expect(h.get(bytes("a")) == bytes("1"))
            #expect(h.get(bigField ? big : bytes("c")) == (bigField ? bytes("3") : big))
        }
        // Replacing an existing field's value with a big one converts too, keeping every field.
        let h = HashBox()
        h.set(bytes("a"), bytes("1"))
        h.set(bytes("b"), bytes("2"))
        #expect(!h.set(bytes("a"), [UInt8](repeating: 3, count: 5000)))
        #expect(!h.isPacked)
        #expect(h.count == 2)
        #expect(h.get(bytes("a"))?.count == 5000)
    }

    @Test func randomOperationsMatchDictionary() {
        var rng = SplitMix64(seed: 7)
        for round in 0..<20 {
            let h = HashBox()
            var model: [[UInt8]: [UInt8]] = [:]
            let universe = Int.random(in: 5...300, using: &rng)
            for _ in 0..<600 {
                let f = bytes("f\(Int.random(in: 0..<universe, using: &rng))")
                switch Int.random(in: 0..<10, using: &rng) {
                case 0..<6:
                    let len = Int.random(in: 0...100, using: &rng) == 0 ? 5000 : Int.random(in: 0...20, using: &rng)
                    let v = [UInt8](repeating: UInt8.random(in: 0...255, using: &rng), count: len)
                    #expect(h.set(f, v) == (model.updateValue(v, forKey: f) == nil))
                case 6..<9:
                    #expect(h.remove(f) == (model.removeValue(forKey: f) != nil))
                default:
                    #expect(h.get(f) == model[f])
                    #expect(h.getOwnKey(f) == model[f])
                    #expect(h.has(f) == (model[f] != nil))
                    #expect(h.hasOwnKey(f) == (model[f] != nil))
                }
                #expect(h.count == model.count)
            }
            #expect(h.dictionary == model, "round \(round)")
            #expect(h.pairs.count == model.count)
        }
    }
}

@Suite struct SetValueTests {
    @Test func insertRemoveIterateInOrder() {
        let s = SetBox()
        #expect(s.insert(bytes("b")))
        #expect(s.insert(bytes("a")))
        #expect(!s.insert(bytes("b")))
        #expect(s.insert([]))
        #expect(s.members == [bytes("b"), bytes("a"), []])
        #expect(s.remove(bytes("a")))
        #expect(!s.remove(bytes("a")))
        #expect(s.members == [bytes("b"), []])
        #expect(s.has([]))
        #expect(s.count == 2)
    }

    /// A set growing one member at a time moves its buffer at most every other insert, and
    /// the room it leaves is at most about one member; the first member is stored exact. Both
    /// plus the allocator's slack, which Array reports as capacity: chunks are 16-byte
    /// multiples, and glibc hands out a free chunk whole when splitting it would leave less
    /// than 32 bytes (up to 47 bytes over the request).
    @Test func growsOneMemberOfRoomAtATime() {
        let s = SetBox()
        s.insert(bytes("member-000"))
        let member = PackedList.encodedSize(10)
        #expect(s.value.packed.bytes.capacity < member + 48)
        var moves = 0
        var capacity = s.value.packed.bytes.capacity
        for i in 1..<PackedLimits.maxEntries {
            s.insert(bytes("member-\(String(1000 + i).dropFirst())"))
            let p = s.value.packed.bytes
            if p.capacity != capacity { moves += 1; capacity = p.capacity }
            #expect(p.capacity - p.count < 2 * member + 48, "after \(i + 1) members")
        }
        #expect(s.isPacked)
        #expect(s.count == PackedLimits.maxEntries)
        #expect(moves <= PackedLimits.maxEntries / 2 + 1)
        #expect(Set(s.members).count == PackedLimits.maxEntries)
    }

    @Test func convertsPastCountAndSize() {
        let s = SetBox()
        for i in 0..<PackedLimits.maxEntries { s.insert(bytes("m\(i)")) }
        #expect(s.isPacked)
        let before = Set(s.members)
        #expect(!s.insert(bytes("m0")))
        #expect(s.isPacked)
        #expect(s.insert(bytes("new")))
        #expect(!s.isPacked)
        #expect(Set(s.members) == before.union([bytes("new")]))
        #expect(s.count == PackedLimits.maxEntries + 1)

        let t = SetBox()
        t.insert(bytes("x"))
        t.insert([UInt8](repeating: 0, count: PackedLimits.maxElementBytes))
        #expect(t.isPacked)
        t.insert([UInt8](repeating: 0, count: PackedLimits.maxElementBytes + 1))
        #expect(!t.isPacked)
        #expect(t.count == 3)
        #expect(t.has(bytes("x")))
    }

    @Test func randomOperationsMatchSet() {
        var rng = SplitMix64(seed: 11)
        for round in 0..<20 {
            let s = SetBox()
            var model = Set<[UInt8]>()
            let universe = Int.random(in: 5...300, using: &rng)
            for _ in 0..<600 {
                let m = bytes("m\(Int.random(in: 0..<universe, using: &rng))")
                switch Int.random(in: 0..<10, using: &rng) {
                case 0..<6: #expect(s.insert(m) == model.insert(m).inserted)
                case 6..<9: #expect(s.remove(m) == (model.remove(m) != nil))
                default:
                    #expect(s.has(m) == model.contains(m))
                    #expect(s.hasOwnKey(m) == model.contains(m))
                }
                #expect(s.count == model.count)
            }
            #expect(Set(s.members) == model, "round \(round)")
            #expect(s.members.count == model.count)
        }
    }
}
