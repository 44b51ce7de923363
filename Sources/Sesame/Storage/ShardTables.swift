/// A shard's key tables, one per database, in memory the shard owns rather than in an Array:
/// `tables[db]` then reaches the table in place. Read out of an Array (a class's stored
/// property), the KeyTable struct was copied for the call and its storage retained and
/// released around every probe that compares key bytes: an atomic pair per command.
/// Accesses still go through the shard's `tables` property, so debug builds keep their
/// exclusivity check on it (a handler that re-enters the shard's tables inside `mutate`
/// traps there).
struct ShardTables: Sequence {
    private let base: UnsafeMutablePointer<KeyTable>
    let count: Int

    init(_ tables: [KeyTable]) {
        count = tables.count
        base = .allocate(capacity: Swift.max(tables.count, 1))
        base.initialize(from: tables, count: tables.count)
    }

    /// Frees the tables; the owner calls this once, from its deinit.
    func destroy() {
        base.deinitialize(count: count)
        base.deallocate()
    }

    var indices: Range<Int> { 0..<count }

    subscript(i: Int) -> KeyTable {
        @inline(__always) unsafeAddress {
            precondition(i >= 0 && i < count, "database index out of range")
            return UnsafePointer(base + i)
        }
        @inline(__always) unsafeMutableAddress {
            precondition(i >= 0 && i < count, "database index out of range")
            return base + i
        }
    }

    /// Table `i`'s lookup fields, read in place (no copy of the table, no retain).
    @inline(__always)
    func view(_ i: Int) -> KeyTableView {
        precondition(i >= 0 && i < count, "database index out of range")
        let t = base + i
        return KeyTableView(slots: t.pointee.slots, mask: t.pointee.mask, count: t.pointee.count,
                            seed: t.pointee.seed, key1: t.pointee.key1)
    }

    /// Copies of the tables (copy-on-write: cheap), e.g. the append-only file rewriter's
    /// snapshot.
    var snapshot: [KeyTable] { Array(UnsafeBufferPointer(start: base, count: count)) }

    func makeIterator() -> IndexingIterator<[KeyTable]> { snapshot.makeIterator() }
}
