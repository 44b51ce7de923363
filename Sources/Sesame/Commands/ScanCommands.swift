// Iterating the keyspace (Redis db.c): KEYS, SCAN, RANDOMKEY, and HSCAN / SSCAN.
//
// SCAN's cursor is the index of the next shard to visit (0 = start, and 0 again when done).
// A call visits whole shards, every key of the client's database in each, until at least COUNT
// keys were examined or the shards ran out. A key never moves between shards (its shard is its
// hash slot), so Redis's guarantee holds under any concurrent writes: a key present for the
// whole iteration is returned at least once (exactly once, in fact), one added or removed
// meanwhile may or may not be. COUNT is a hint, as in Redis: a call returns every key of the
// shards it visits, about keys/shards per shard (256 shards by default).
//
// HSCAN and SSCAN return the whole collection in one reply with cursor 0, which is what Redis
// does for its small (listpack / intset) encodings; for large ones Redis pages with a cursor.
//
// Each shard is locked only while it is read, so KEYS and SCAN never stall other clients for
// longer than one shard's worth of keys.

let scanCommands: [CommandSpec] = [
    CommandSpec("keys", arity: 2, flags: [.readonly], categories: ["@keyspace", "@read", "@slow", "@dangerous"], handler: keysCommand),
    CommandSpec("scan", arity: -2, flags: [.readonly], categories: ["@keyspace", "@read", "@slow"], handler: scanCommand),
    CommandSpec("randomkey", arity: 1, flags: [.readonly], categories: ["@keyspace", "@read", "@slow"], handler: randomkeyCommand),
    CommandSpec("hscan", arity: -3, flags: [.readonly], keys: (1, 1, 1), categories: ["@read", "@hash", "@slow"], handler: { collectionScan($0, $1, hash: true) }),
    CommandSpec("sscan", arity: -3, flags: [.readonly], keys: (1, 1, 1), categories: ["@read", "@set", "@slow"], handler: { collectionScan($0, $1, hash: false) }),
]

/// A compiled MATCH pattern: nil matches everything (Redis skips matching for "*").
struct KeyPattern {
    let bytes: [UInt8]?
    init(_ p: UnsafeRawBufferPointer?) {
        if let p, !(p.count == 1 && p[0] == UInt8(ascii: "*")) { bytes = Array(p) } else { bytes = nil }
    }
    @inline(__always) func matches(_ s: UnsafeRawBufferPointer) -> Bool {
        guard let bytes else { return true }
        return bytes.withUnsafeBytes { stringMatch($0, s) }
    }
}

func keysCommand(_ c: Client, _ args: Arguments) {
    let pattern = KeyPattern(args[1])
    let now = c.now
    var found: [Key] = []
    for shard in c.keyspace.shards {
        shard.lock.withLock {
            for (k, e) in shard.tables[c.db] where !e.isExpired(now) {
                if k.bytes.withUnsafeBytes({ pattern.matches($0) }) { found.append(k) }
            }
        }
    }
    c.reply.arrayHeader(found.count)
    for k in found { c.reply.bulk(k.bytes) }
}

/// Redis's parseScanCursorOrReply: strtoul, base 10, with no leading space, nothing after the
/// digits and no overflow. Like strtoul it accepts a sign ("-1" is 2^64-1) and an empty string
/// (0), and like a C string the text ends at a NUL byte.
func parseScanCursor(_ p: UnsafeRawBufferPointer) -> UInt64? {
    var n = 0
    while n < p.count && p[n] != 0 { n += 1 }
    if n == 0 { return 0 }
    let first = p[0]
    if first == 32 || (first >= 9 && first <= 13) { return nil }
    var i = 0
    var negative = false
    if p[0] == UInt8(ascii: "+") || p[0] == UInt8(ascii: "-") {
        negative = p[0] == UInt8(ascii: "-")
        i = 1
    }
    let digitsStart = i
    var v: UInt64 = 0
    var overflow = false
    while i < n, p[i] >= 48, p[i] <= 57 {
        let (m, o1) = v.multipliedReportingOverflow(by: 10)
        let (a, o2) = m.addingReportingOverflow(UInt64(p[i] - 48))
        if o1 || o2 { overflow = true }
        v = a
        i += 1
    }
    // No digits: strtoul leaves the end pointer at the start, which is not the end here.
    if i == digitsStart || i != n || overflow { return nil }
    return negative ? (0 &- v) : v
}

/// Options after the cursor, parsed as scanGenericCommand does. nil after replying an error.
private struct ScanOptions {
    var count = 10
    var pattern = KeyPattern(nil)
    var typeName: [UInt8]? = nil
    var noValues = false

    init?(_ c: Client, _ args: Arguments, from first: Int, allowType: Bool, allowNoValues: Bool) {
        var i = first
        while i < args.count {
            let more = args.count - i
            if args.matches(i, "count") && more >= 2 {
                guard let n = args.int64(i + 1) else { c.reply.error(RedisError.notInteger); return nil }
                if n < 1 { c.reply.error(RedisError.syntax); return nil }
                count = n > Int64(Int.max) ? Int.max : Int(n)
                i += 2
            } else if args.matches(i, "match") && more >= 2 {
                pattern = KeyPattern(args[i + 1])
                i += 2
            } else if args.matches(i, "type") && allowType && more >= 2 {
                typeName = Array(args[i + 1])
                i += 2
            } else if args.matches(i, "novalues") && allowNoValues {
                noValues = true
                i += 1
            } else {
                c.reply.error(RedisError.syntax)
                return nil
            }
        }
    }
}

/// Case-insensitive comparison of a TYPE option with a value's type name (strcasecmp).
private func typeMatches(_ wanted: [UInt8], _ name: StaticString) -> Bool {
    guard wanted.count == name.utf8CodeUnitCount else { return false }
    let p = name.utf8Start
    for i in 0..<wanted.count {
        var ch = wanted[i]
        if ch >= 65 && ch <= 90 { ch |= 0x20 }
        if ch != p[i] { return false }
    }
    return true
}

private func replyScan(_ c: Client, cursor: UInt64, _ items: [[UInt8]]) {
    c.reply.arrayHeader(2)
    c.reply.bulk(string: String(cursor))
    c.reply.arrayHeader(items.count)
    for item in items { c.reply.bulk(item) }
}

func scanCommand(_ c: Client, _ args: Arguments) {
    guard let cursor = parseScanCursor(args[1]) else { c.reply.error("ERR invalid cursor"); return }
    guard let options = ScanOptions(c, args, from: 2, allowType: true, allowNoValues: false) else { return }
    let shards = c.keyspace.shards
    guard cursor < UInt64(shards.count) else { replyScan(c, cursor: 0, []); return }
    let now = c.now
    var index = Int(cursor)
    var examined = 0
    var found: [[UInt8]] = []
    while index < shards.count && examined < options.count {
        let shard = shards[index]
        shard.lock.withLock {
            let table = shard.tables[c.db]
            examined += table.count
            for (k, e) in table where !e.isExpired(now) {
                guard k.bytes.withUnsafeBytes({ options.pattern.matches($0) }) else { continue }
                if let t = options.typeName, !typeMatches(t, e.value.typeName) { continue }
                found.append(k.bytes)
            }
        }
        index += 1
    }
    replyScan(c, cursor: index >= shards.count ? 0 : UInt64(index), found)
}

/// HSCAN key cursor [MATCH p] [COUNT n] [NOVALUES] / SSCAN key cursor [MATCH p] [COUNT n]. As in
/// Redis, the cursor is checked first, a missing key replies an empty scan before any option
/// is looked at, then the type, then the options.
func collectionScan(_ c: Client, _ args: Arguments, hash: Bool) {
    guard parseScanCursor(args[2]) != nil else { c.reply.error("ERR invalid cursor"); return }
    let now = c.now
    c.withKey(args, 1) { shard, key in
        guard let e = shard.lookup(c.db, key, now: now) else { replyScan(c, cursor: 0, []); return }
        var items: [[UInt8]] = []
        if hash {
            guard case .hash(let h) = e.value else { c.reply.error(RedisError.wrongType); return }
            guard let options = ScanOptions(c, args, from: 3, allowType: false, allowNoValues: true) else { return }
            h.forEach { f, v in
                guard options.pattern.matches(f) else { return }
                items.append(Array(f))
                if !options.noValues { items.append(Array(v)) }
            }
        } else {
            guard case .set(let s) = e.value else { c.reply.error(RedisError.wrongType); return }
            guard let options = ScanOptions(c, args, from: 3, allowType: false, allowNoValues: false) else { return }
            s.forEach { m in if options.pattern.matches(m) { items.append(Array(m)) } }
        }
        replyScan(c, cursor: 0, items)
    }
}

/// RANDOMKEY: a random live key of the client's database, or nil. Picks a random shard, then a
/// random key in the first non-empty shard from there, so a key's chance depends on how full
/// its shard is (Redis picks a random bucket first, with a similar skew). Expired keys met on
/// the way are deleted, as Redis does.
func randomkeyCommand(_ c: Client, _ args: Arguments) {
    let shards = c.keyspace.shards
    let now = c.now
    var rng = CommandRandom()
    let start = Int.random(in: 0..<shards.count, using: &rng)
    for step in 0..<shards.count {
        let shard = shards[(start + step) % shards.count]
        let picked: [UInt8]? = shard.lock.withLock {
            for _ in 0..<16 {
                let table = shard.tables[c.db]
                if table.isEmpty { return nil }
                // A random slot, then the first key at or after it (the table is at least 7/16
                // full once it has grown, so this is a few probes).
                var i = Int.random(in: 0..<table.slotCount, using: &rng)
                while !table.isOccupied(i) { i = (i + 1) % table.slotCount }
                let key = table.key(at: i)
                // lookup deletes the key if it expired.
                if shard.lookup(c.db, key, now: now) != nil { return key.bytes }
            }
            return nil
        }
        if let picked { c.reply.bulk(picked); return }
    }
    c.reply.null()
}
