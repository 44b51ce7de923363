// Generic key commands (Redis db.c / expire.c): DEL, UNLINK, EXISTS, TYPE, the EXPIRE family,
// TTL, PTTL, PERSIST. Multi-key commands lock every shard they touch, in ascending order, so
// they are atomic with respect to other clients as in Redis.

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
    forEachKeyLocked(c, args, from: 1) { shard, key in
        if shard.remove(c.db, key, now: now) { deleted += 1 }
    }
    c.reply.integer(deleted)
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
    let result: Int = c.withKey(args, 1) { shard, key in
        shard.mutate(c.db, key, now: now) { slot in
            guard var e = slot else { return 0 }
            if nx || xx || gt || lt {
                let current = e.expireAt  // 0 = no TTL, which counts as infinite
                if nx && current != 0 { return 0 }
                if xx && current == 0 { return 0 }
                if gt && (current == 0 || when <= current) { return 0 }
                if lt && current != 0 && when >= current { return 0 }
            }
            if when <= now {
                // A deadline already past deletes the key, as Redis does.
                slot = nil
                return 1
            }
            e.expireAt = when
            shard.scheduleExpiry(c.db, key, &e)
            slot = e
            return 1
        }
    }
    c.reply.integer(result)
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
}
