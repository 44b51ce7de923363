import Testing
@testable import Sesame

/// SET over a string of the same malloc chunk size writes into the old buffer
/// (reusedStringStorage). A snapshot of the table (the AOF rewriter's) must keep the old bytes.
@Suite struct SetInPlaceTests {
    private func snapshotValue(_ h: CommandHarness, _ table: KeyTable, _ key: String) -> String? {
        guard case .string(let s)? = table[Key(key)]?.value else { return nil }
        return String(decoding: s, as: UTF8.self)
    }

    @Test func sameSizeOverwriteLeavesSnapshotsAlone() {
        let h = CommandHarness()
        #expect(h.run("SET", "k", "aaa") == "+OK\r\n")
        var snapshot: KeyTable? = nil
        Key("k").bytes.withUnsafeBytes { raw in h.keyspace.withShard(raw) { snapshot = $0.tables[0] } }
        #expect(h.run("SET", "k", "bbb") == "+OK\r\n")
        #expect(h.run("SET", "k", "cc") == "+OK\r\n")   // shorter, same chunk: still in place
        #expect(h.run("GET", "k") == "$2\r\ncc\r\n")
        #expect(snapshotValue(h, snapshot!, "k") == "aaa")
        #expect(h.run("SET", "k", "dddd", "GET") == "$2\r\ncc\r\n")
        #expect(h.run("GET", "k") == "$4\r\ndddd\r\n")
        // Longer than the chunk: a new buffer.
        let long = String(repeating: "x", count: 300)
        #expect(h.run("SET", "k", long) == "+OK\r\n")
        #expect(h.run("GET", "k") == "$300\r\n\(long)\r\n")
        #expect(h.run("SET", "k", "e") == "+OK\r\n")
        #expect(h.run("STRLEN", "k") == ":1\r\n")
        // Not a string: SET replaces it whatever its size.
        #expect(h.run("HSET", "h", "f", "v") == ":1\r\n")
        #expect(h.run("SET", "h", "zz") == "+OK\r\n")
        #expect(h.run("GET", "h") == "$2\r\nzz\r\n")
        // KEEPTTL and NX/XX paths around the reuse.
        #expect(h.run("SET", "t", "abc", "EX", "100") == "+OK\r\n")
        #expect(h.run("SET", "t", "xyz", "KEEPTTL") == "+OK\r\n")
        #expect(h.run("TTL", "t") == ":100\r\n")
        #expect(h.run("SET", "t", "qqq", "NX") == "$-1\r\n")
        #expect(h.run("GET", "t") == "$3\r\nxyz\r\n")
        #expect(h.run("SET", "t", "www", "XX") == "+OK\r\n")
        #expect(h.run("GET", "t") == "$3\r\nwww\r\n")
        #expect(h.run("TTL", "t") == ":-1\r\n")
    }
}
