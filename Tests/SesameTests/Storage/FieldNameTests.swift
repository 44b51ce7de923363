import Synchronization
import Testing
@testable import Sesame

/// Interned hash field names (FieldNames.swift) and their encoding in packed lists.
@Suite struct FieldNameTests {
    private func intern(_ t: FieldNameTable, _ s: String) -> Int? {
        Array(s.utf8).withUnsafeBytes { t.intern($0) }
    }

    @Test func eligibilityAndIds() {
        let t = FieldNameTable()
        #expect(intern(t, "sessionId") == 0)
        #expect(intern(t, "userAgent") == 1)
        #expect(intern(t, "sessionId") == 0, "the same name keeps its id")
        #expect(intern(t, "ab") == nil, "too short to save anything")
        #expect(intern(t, String(repeating: "x", count: 33)) == nil, "too long")
        #expect(intern(t, String(repeating: "x", count: 32)) == 2)
        #expect(intern(t, "user42") == nil, "names with digits look like ids and are not interned")
        #expect(t.names == 3)
        #expect(String(decoding: t.name(1), as: UTF8.self) == "userAgent")
    }

    @Test func fullTableStoresNamesInPlace() {
        let t = FieldNameTable()
        var letters: [String] = []
        for a in "abcdefghijklmnop" { for b in "abcdefghijklmnop" { letters.append("n\(a)\(b)") } }
        for (i, name) in letters.prefix(FieldNameTable.capacity).enumerated() { #expect(intern(t, name) == i) }
        #expect(t.names == FieldNameTable.capacity)
        #expect(intern(t, letters[FieldNameTable.capacity]) == nil)
        #expect(intern(t, letters[7]) == 7, "names already in a full table are still found")

        // A packed hash over the full table: interned and in-place names side by side.
        var p = PackedList()
        let pairs = [(letters[3], "v1"), (letters[FieldNameTable.capacity], "v2"), (letters[200], String(repeating: "z", count: 300))]
        for (f, v) in pairs {
            Array(f.utf8).withUnsafeBytes { p.appendName($0, names: t) }
            Array(v.utf8).withUnsafeBytes { p.append($0) }
        }
        var seen: [String] = []
        p.forEach(names: t) { e, _ in seen.append(String(decoding: e, as: UTF8.self)); return true }
        #expect(seen == pairs.flatMap { [$0.0, $0.1] })
        #expect(p.count == 6)
        // Names: 1 byte (id 3), 1 + 3 bytes in place, 2 bytes (id 200 >= 64); values 1 + 2,
        // 1 + 2 and 2 + 300 bytes.
        #expect(p.bytes.count == 1 + 3 + 4 + 3 + 2 + 302)
    }

    @Test func replaceAndRemoveAroundInternedNames() {
        let t = FieldNameTable()
        var p = PackedList()
        func add(_ f: String, _ v: String) {
            Array(f.utf8).withUnsafeBytes { p.appendName($0, names: t) }
            Array(v.utf8).withUnsafeBytes { p.append($0) }
        }
        add("createdAt", "1733460000000")
        add("lastActivity", "1733460000000")
        add("x9", "short")
        func ranges() -> [Range<Int>] {
            var r: [Range<Int>] = []
            p.forEach(names: t) { _, range in r.append(range); return true }
            return r
        }
        func strings() -> [String] {
            var out: [String] = []
            p.forEach(names: t) { e, _ in out.append(String(decoding: e, as: UTF8.self)); return true }
            return out
        }
        // Grow, shrink and keep a value next to interned names.
        Array(String(repeating: "q", count: 200).utf8).withUnsafeBytes { p.replace(ranges()[3], with: $0) }
        #expect(strings() == ["createdAt", "1733460000000", "lastActivity", String(repeating: "q", count: 200), "x9", "short"])
        Array("1".utf8).withUnsafeBytes { p.replace(ranges()[3], with: $0) }
        #expect(strings() == ["createdAt", "1733460000000", "lastActivity", "1", "x9", "short"])
        let r = ranges()
        p.remove(r[0].lowerBound..<r[1].upperBound, removing: 2)
        #expect(strings() == ["lastActivity", "1", "x9", "short"])
        p.withElement(at: ranges()[1].lowerBound, names: t) { #expect(String(decoding: $0, as: UTF8.self) == "1") }
    }

    /// The session model's names take one byte each in a packed hash instead of their length
    /// plus one: the saving the memory benchmark measures, checked here on the shared table.
    @Test func sessionHashIsSmallerWithInternedNames() {
        let names = ["sessionId", "userId", "createdAt", "lastActivity", "absoluteExpiry", "ipAddress", "userAgent"]
        let h = HashBox()
        for n in names { h.set(Array(n.utf8), Array("v".utf8)) }
        #expect(h.pairs.map { String(decoding: $0.0, as: UTF8.self) } == names)
        let interned = names.filter { n in Array(n.utf8).withUnsafeBytes { FieldNameTable.shared.intern($0) } != nil }
        let literalNameBytes = names.filter { !interned.contains($0) }.reduce(0) { $0 + $1.utf8.count + 1 }
        #expect(h.value.packed.bytes.count == interned.count * 1 + literalNameBytes + names.count * 2)
        // Unless other tests filled the shared table first, all seven are interned.
        #expect(interned.count == names.count || FieldNameTable.shared.names == FieldNameTable.capacity)
    }

    /// Four threads intern overlapping names into one table at once: every name gets one id,
    /// the same on every thread, and the table never passes its capacity (run under TSan too).
    @Test func concurrentInterningAgrees() {
        let t = FieldNameTable()
        let letters = Array("abcdefghijklmnopqrstuvwxyz")
        let names: [String] = (0..<400).map { (i: Int) -> String in
            "name" + String(letters[i % 26]) + String(letters[(i / 26) % 26])
        }
        let results = (0..<4).map { _ in Locked([String: Int?]()) }
        let finished = runThreads(4) { thread in
            var seen: [String: Int?] = [:]
            for k in 0..<names.count {
                let name = names[(k * (thread + 1) * 7) % names.count]
                let id = Array(name.utf8).withUnsafeBytes { t.intern($0) }
                if let earlier = seen[name] { precondition(earlier == id, "\(name) changed id") }
                seen[name] = id
            }
            results[thread].set(seen)
        }
        #expect(finished)
        #expect(t.names == FieldNameTable.capacity)
        var byName: [String: Int] = [:]
        for r in results {
            for (name, id) in r.get() {
                guard let id else { continue }
                if let other = byName[name] { #expect(other == id, "\(name): \(other) vs \(id)") }
                byName[name] = id
                #expect(String(decoding: t.name(id), as: UTF8.self) == name)
            }
        }
        #expect(Set(byName.values).count == byName.count, "two names share an id")
    }
}

/// A value behind a lock, for collecting results from test threads.
private final class Locked<T: Sendable>: Sendable {
    private let value: Mutex<T>
    init(_ value: T) { self.value = Mutex(value) }
    func set(_ v: T) { value.withLock { $0 = v } }
    func get() -> T { value.withLock { $0 } }
}
