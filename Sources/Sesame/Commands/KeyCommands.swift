// Generic key commands (Redis db.c / expire.c): DEL, UNLINK, EXISTS, TYPE, the EXPIRE family,
// TTL, PTTL, PERSIST, EXPIRETIME, PEXPIRETIME, TOUCH, RENAME, RENAMENX, COPY. Multi-key
// commands lock every shard they touch, in ascending order, so they are atomic with respect to
// other clients as in Redis. (KEYS, SCAN and RANDOMKEY are in ScanCommands, OBJECT and MEMORY
// in ObjectCommands, SWAPDB in AdminCommands.)

let keyCommands: [CommandSpec] = [
    CommandSpec("del", arity: -2, flags: [.write], keys: (1, -1, 1), categories: ["@keyspace", "@write", "@slow"], handler: delCommand),
    CommandSpec("unlink", arity: -2, flags: [.write, .fast], keys: (1, -1, 1), categories: ["@keyspace", "@write", "@fast"], handler: delCommand),
    CommandSpec("exists", arity: -2, flags: [.readonly, .fast], keys: (1, -1, 1), categories: ["@keyspace", "@read", "@fast"], handler: existsCommand),
    CommandSpec("type", arity: 2, flags: [.readonly, .fast], keys: (1, 1, 1), categories: ["@keyspace", "@read", "@fast"], handler: typeCommand),
    CommandSpec("expire", arity: -3, flags: [.write, .fast], keys: (1, 1, 1), categories: ["@keyspace", "@write", "@fast"], handler: { expireGeneric($0, $1, seconds: true, relative: true, name: "expire") }),
    CommandSpec("pexpire", arity: -3, flags: [.write, .fast], keys: (1, 1, 1), categories: ["@keyspace", "@write", "@fast"], handler: { expireGeneric($0, $1, seconds: false, relative: true, name: "pexpire") }),
    CommandSpec("expireat", arity: -3, flags: [.write, .fast], keys: (1, 1, 1), categories: ["@keyspace", "@write", "@fast"], handler: { expireGeneric($0, $1, seconds: true, relative: false, name: "expireat") }),
    CommandSpec("pexpireat", arity: -3, flags: [.write, .fast], keys: (1, 1, 1), categories: ["@keyspace", "@write", "@fast"], handler: { expireGeneric($0, $1, seconds: false, relative: false, name: "pexpireat") }),
    CommandSpec("ttl", arity: 2, flags: [.readonly, .fast], keys: (1, 1, 1), categories: ["@keyspace", "@read", "@fast"], handler: { ttlGeneric($0, $1, milliseconds: false) }),
    CommandSpec("pttl", arity: 2, flags: [.readonly, .fast], keys: (1, 1, 1), categories: ["@keyspace", "@read", "@fast"], handler: { ttlGeneric($0, $1, milliseconds: true) }),
    CommandSpec("persist", arity: 2, flags: [.write, .fast], keys: (1, 1, 1), categories: ["@keyspace", "@write", "@fast"], handler: persistCommand),
    CommandSpec("expiretime", arity: 2, flags: [.readonly, .fast], keys: (1, 1, 1), categories: ["@keyspace", "@read", "@fast"], handler: { expiretimeGeneric($0, $1, milliseconds: false) }),
    CommandSpec("pexpiretime", arity: 2, flags: [.readonly, .fast], keys: (1, 1, 1), categories: ["@keyspace", "@read", "@fast"], handler: { expiretimeGeneric($0, $1, milliseconds: true) }),
    CommandSpec("touch", arity: -2, flags: [.readonly, .fast], keys: (1, -1, 1), categories: ["@keyspace", "@read", "@fast"], handler: existsCommand),
    CommandSpec("rename", arity: 3, flags: [.write], keys: (1, 2, 1), categories: ["@keyspace", "@write", "@slow"], handler: { renameGeneric($0, $1, nx: false) }),
    CommandSpec("renamenx", arity: 3, flags: [.write, .fast], keys: (1, 2, 1), categories: ["@keyspace", "@write", "@fast"], handler: { renameGeneric($0, $1, nx: true) }),
    CommandSpec("copy", arity: -3, flags: [.write, .denyOOM], keys: (1, 2, 1), categories: ["@keyspace", "@write", "@slow"], handler: copyCommand),
]

/// Runs `body` once per key argument from `first`, holding the locks of all their shards.
func forEachKeyLocked(_ c: Client, _ args: Arguments, from first: Int, _ body: (Shard, Key) -> Void) {
    let ks = c.keyspace
    if args.count - first == 1 {
        c.withKey(args, first, body)
        return
    }
    let indices = (first..<args.count).map { ks.shardIndex(args[$0]) }
    ks.withShards(indices) {
        for (n, i) in (first..<args.count).enumerated() {
            body(ks.shards[indices[n]], args.key(i))
        }
    }
}

func delCommand(_ c: Client, _ args: Arguments) {
    let now = c.now
    var deleted = 0
    let notifying = c.server.notifier.active
    var deletedKeys: [Key] = []
    forEachKeyLocked(c, args, from: 1) { shard, key in
        if shard.remove(c.db, key, now: now) {
            deleted += 1
            if notifying { deletedKeys.append(key) }
        }
    }
    c.reply.integer(deleted)
    for key in deletedKeys { key.bytes.withUnsafeBytes { c.notify(.generic, "del", $0) } }
}

func existsCommand(_ c: Client, _ args: Arguments) {
    let now = c.now
    var found = 0
    forEachKeyLocked(c, args, from: 1) { shard, key in
        if shard.lookup(c.db, key, now: now) != nil { found += 1 }
    }
    c.reply.integer(found)
}

func typeCommand(_ c: Client, _ args: Arguments) {
    let now = c.now
    c.withKey(args, 1) { shard, key in
        guard let e = shard.lookup(c.db, key, now: now) else { c.reply.simple("none"); return }
        c.reply.simple(e.value.typeName)
    }
}

/// EXPIRE / PEXPIRE / EXPIREAT / PEXPIREAT key time [NX|XX|GT|LT] (Redis expireGenericCommand).
func expireGeneric(_ c: Client, _ args: Arguments, seconds: Bool, relative: Bool, name: String) {
    var nx = false, xx = false, gt = false, lt = false
    for j in 3..<args.count {
        if args.matches(j, "nx") { nx = true }
        else if args.matches(j, "xx") { xx = true }
        else if args.matches(j, "gt") { gt = true }
        else if args.matches(j, "lt") { lt = true }
        else { c.reply.error(RedisError.unsupportedOptionText(args[j])); return }
    }
    if nx && (xx || gt || lt) { c.reply.error(RedisError.nxXXGTLT); return }
    if gt && lt { c.reply.error(RedisError.gtAndLT); return }

    guard var when = args.int64(2) else { c.reply.error(RedisError.notInteger); return }
    let now = c.now
    if seconds {
        if when > Int64.max / 1000 || when < Int64.min / 1000 {
            c.reply.error(string: RedisError.invalidExpire(name)); return
        }
        when *= 1000
    }
    if relative {
        if when > Int64.max - now { c.reply.error(string: RedisError.invalidExpire(name)); return }
        when += now
    }
    let db = c.db
    // The closures capture plain values only (not the client), and the entry is changed in
    // place (a copy retained and released its value).
    let result: Int = c.withKeyBytes(args, 1) { shard, key in
        shard.mutate(db, bytes: key, now: now) { slot in
            guard slot != nil else { return 0 }
            if nx || xx || gt || lt {
                let current = slot!.expireAt  // 0 = no TTL, which counts as infinite
                if nx && current != 0 { return 0 }
                if xx && current == 0 { return 0 }
                if gt && (current == 0 || when <= current) { return 0 }
                if lt && current != 0 && when >= current { return 0 }
            }
            if when <= now {
                // A deadline already past deletes the key, as Redis does.
                slot = nil
                return 2
            }
            slot!.expireAt = when
            shard.scheduleExpiry(db, bytes: key, &slot!)
            return 1
        }
    }
    c.reply.integer(min(result, 1))
    if result == 1 { c.notify(.generic, "expire", args[1]) }
    if result == 2 { c.notify(.generic, "del", args[1]) }
}

func ttlGeneric(_ c: Client, _ args: Arguments, milliseconds: Bool) {
    let now = c.now
    let ttl: Int64 = c.withKey(args, 1) { shard, key in
        guard let e = shard.lookup(c.db, key, now: now) else { return -2 }
        if e.expireAt == 0 { return -1 }
        let left = max(e.expireAt - now, 0)
        return milliseconds ? left : (left + 500) / 1000
    }
    c.reply.integer(ttl)
}

func persistCommand(_ c: Client, _ args: Arguments) {
    let now = c.now
    let result: Int = c.withKey(args, 1) { shard, key in
        shard.mutate(c.db, key, now: now) { slot in
            guard slot != nil, slot!.expireAt != 0 else { return 0 }
            slot!.expireAt = 0
            return 1
        }
    }
    c.reply.integer(result)
    if result == 1 { c.notify(.generic, "persist", args[1]) }
}

/// EXPIRETIME / PEXPIRETIME: the absolute deadline (Unix seconds, rounded, / ms), -1 without a
/// TTL, -2 for a missing key.
func expiretimeGeneric(_ c: Client, _ args: Arguments, milliseconds: Bool) {
    let now = c.now
    let at: Int64 = c.withKey(args, 1) { shard, key in
        guard let e = shard.lookup(c.db, key, now: now) else { return -2 }
        if e.expireAt == 0 { return -1 }
        // Redis rounds to the nearest second ((ms + 500) / 1000), without overflow at the top.
        return milliseconds ? e.expireAt : Int64((UInt64(max(e.expireAt, 0)) + 500) / 1000)
    }
    c.reply.integer(at)
}

/// A copy of `e` as a new key's entry: same value and deadline, no timer-wheel record yet (the
/// caller's `overwrite` schedules one under the new name).
@inline(__always) func movedEntry(_ e: Entry) -> Entry { Entry(value: e.value, expireAt: e.expireAt) }

/// RENAME / RENAMENX key newkey: the value and its TTL move to the new name; both keys' shards
/// are locked together (ascending), so no client sees both names or neither.
func renameGeneric(_ c: Client, _ args: Arguments, nx: Bool) {
    let now = c.now
    let src = args.key(1), dst = args.key(2)
    // nil: no such key; false: not renamed (RENAMENX onto an existing key); true: renamed.
    let renamed: Bool? = c.withKeysLocked(args, [1, 2]) {
        let srcShard = c.shard(args, 1), dstShard = c.shard(args, 2)
        guard srcShard.lookup(c.db, src, now: now) != nil else { return nil }
        if src == dst { return !nx }
        if nx && dstShard.lookup(c.db, dst, now: now) != nil { return false }
        let moved: Entry = srcShard.mutate(c.db, src, now: now) { slot in
            let e = slot!
            slot = nil
            return movedEntry(e)
        }
        dstShard.mutate(c.db, dst, now: now) { slot in
            dstShard.overwrite(c.db, dst, &slot, with: moved)
        }
        return true
    }
    guard let renamed else { c.reply.error("ERR no such key"); return }
    if nx { c.reply.integer(renamed ? 1 : 0) } else { c.reply.ok() }
    if renamed && src != dst {
        c.notify(.generic, "rename_from", args[1])
        c.notify(.generic, "rename_to", args[2])
    }
}

/// COPY source destination [DB destination-db] [REPLACE]: the copy shares the value's storage
/// until either side changes it (copy on write), and carries the TTL.
func copyCommand(_ c: Client, _ args: Arguments) {
    var replace = false
    var dstDB = c.db
    var j = 3
    while j < args.count {
        if args.matches(j, "replace") {
            replace = true
        } else if args.matches(j, "db") && j + 1 < args.count {
            guard let n = IntegerArgument.int32(c, args, j + 1) else { return }
            guard n >= 0 && n < c.keyspace.databases else { c.reply.error(RedisError.dbIndexOutOfRange); return }
            dstDB = n
            j += 1
        } else {
            c.reply.error(RedisError.syntax)
            return
        }
        j += 1
    }
    if dstDB != c.db && c.server.cluster.refusesOtherDatabases { c.reply.error(ClusterError.copyToOtherDB); return }
    let src = args.key(1), dst = args.key(2)
    if dstDB == c.db && src == dst { c.reply.error("ERR source and destination objects are the same"); return }
    let now = c.now
    let copied: Bool = c.withKeysLocked(args, [1, 2]) {
        let srcShard = c.shard(args, 1), dstShard = c.shard(args, 2)
        guard let e = srcShard.lookup(c.db, src, now: now) else { return false }
        if !replace && dstShard.lookup(dstDB, dst, now: now) != nil { return false }
        dstShard.mutate(dstDB, dst, now: now) { slot in
            dstShard.overwrite(dstDB, dst, &slot, with: movedEntry(e))
        }
        return true
    }
    c.reply.integer(copied ? 1 : 0)
    if copied {
        // Published in the destination database, as Redis does.
        let saved = c.db
        c.db = dstDB
        c.notify(.generic, "copy_to", args[2])
        c.db = saved
    }
}
