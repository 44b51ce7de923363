// Hash commands (Redis t_hash.c): HSET, HMSET, HGET, HMGET, HGETALL, HDEL, HLEN, HEXISTS.
// Every handler has one shape: lock the key's shard, look up (lazy expiry), check the type,
// read or mutate in place, reply.

let hashCommands: [CommandSpec] = [
    CommandSpec("hset", arity: -4, flags: [.write, .denyOOM, .fast], keys: (1, 1, 1), categories: ["@write", "@hash", "@fast"], handler: { hsetGeneric($0, $1, name: "hset") }),
    CommandSpec("hmset", arity: -4, flags: [.write, .denyOOM, .fast], keys: (1, 1, 1), categories: ["@write", "@hash", "@fast"], handler: { hsetGeneric($0, $1, name: "hmset") }),
    CommandSpec("hget", arity: 3, flags: [.readonly, .fast], keys: (1, 1, 1), categories: ["@read", "@hash", "@fast"], handler: hgetCommand),
    CommandSpec("hmget", arity: -3, flags: [.readonly, .fast], keys: (1, 1, 1), categories: ["@read", "@hash", "@fast"], handler: hmgetCommand),
    CommandSpec("hgetall", arity: 2, flags: [.readonly], keys: (1, 1, 1), categories: ["@read", "@hash", "@slow"], handler: hgetallCommand),
    CommandSpec("hdel", arity: -3, flags: [.write, .fast], keys: (1, 1, 1), categories: ["@write", "@hash", "@fast"], handler: hdelCommand),
    CommandSpec("hlen", arity: 2, flags: [.readonly, .fast], keys: (1, 1, 1), categories: ["@read", "@hash", "@fast"], handler: hlenCommand),
    CommandSpec("hexists", arity: 3, flags: [.readonly, .fast], keys: (1, 1, 1), categories: ["@read", "@hash", "@fast"], handler: hexistsCommand),
]

/// Looks up a hash for reading. Sends WRONGTYPE itself and returns nil then; `missing` is true
/// when the key does not exist.
@inline(__always)
private func readHash(_ c: Client, _ shard: Shard, _ key: Key, now: Int64) -> (HashValue?, wrongType: Bool) {
    guard let e = shard.lookup(c.db, key, now: now) else { return (nil, false) }
    guard case .hash(let h) = e.value else {
        c.reply.error(RedisError.wrongType)
        return (nil, true)
    }
    return (h, false)
}

func hsetGeneric(_ c: Client, _ args: Arguments, name: String) {
    if args.count % 2 == 1 { c.reply.error(string: RedisError.arity(name)); return }
    let now = c.now
    let added: Int? = c.withKey(args, 1) { shard, key in
        shard.mutate(c.db, key, now: now) { slot -> Int? in
            var h: HashValue
            if slot != nil {
                guard let existing = slot!.takeHash() else { return nil }
                h = existing
            } else {
                h = HashValue()
                slot = Entry(value: .string([]))
            }
            var n = 0
            var j = 2
            while j < args.count {
                if h.set(args[j], args[j + 1]) { n += 1 }
                j += 2
            }
            slot!.value = .hash(h)
            return n
        }
    }
    guard let added else { c.reply.error(RedisError.wrongType); return }
    if name == "hmset" { c.reply.ok() } else { c.reply.integer(added) }
}

func hgetCommand(_ c: Client, _ args: Arguments) {
    let now = c.now
    c.withKey(args, 1) { shard, key in
        let (h, wrong) = readHash(c, shard, key, now: now)
        if wrong { return }
        guard let h else { c.miss(); c.reply.null(); return }
        c.hit()
        h.withValue(args[2]) { v in
            if let v { c.reply.bulk(v) } else { c.reply.null() }
        }
    }
}

func hmgetCommand(_ c: Client, _ args: Arguments) {
    let now = c.now
    c.withKey(args, 1) { shard, key in
        let (h, wrong) = readHash(c, shard, key, now: now)
        if wrong { return }
        if h == nil { c.miss() } else { c.hit() }
        c.reply.arrayHeader(args.count - 2)
        for j in 2..<args.count {
            guard let h else { c.reply.null(); continue }
            h.withValue(args[j]) { v in
                if let v { c.reply.bulk(v) } else { c.reply.null() }
            }
        }
    }
}

func hgetallCommand(_ c: Client, _ args: Arguments) {
    let now = c.now
    c.withKey(args, 1) { shard, key in
        let (h, wrong) = readHash(c, shard, key, now: now)
        if wrong { return }
        guard let h else { c.miss(); c.reply.mapHeader(0); return }
        c.hit()
        c.reply.mapHeader(h.count)
        h.forEach { f, v in
            c.reply.bulk(f)
            c.reply.bulk(v)
        }
    }
}

func hdelCommand(_ c: Client, _ args: Arguments) {
    let now = c.now
    let removed: Int? = c.withKey(args, 1) { shard, key in
        shard.mutate(c.db, key, now: now) { slot -> Int? in
            guard slot != nil else { return 0 }
            guard var h = slot!.takeHash() else { return nil }
            var n = 0
            for j in 2..<args.count where h.remove(args[j]) { n += 1 }
            if h.count == 0 { slot = nil } else { slot!.value = .hash(h) }
            return n
        }
    }
    guard let removed else { c.reply.error(RedisError.wrongType); return }
    c.reply.integer(removed)
}

func hlenCommand(_ c: Client, _ args: Arguments) {
    let now = c.now
    c.withKey(args, 1) { shard, key in
        let (h, wrong) = readHash(c, shard, key, now: now)
        if wrong { return }
        c.reply.integer(h?.count ?? 0)
    }
}

func hexistsCommand(_ c: Client, _ args: Arguments) {
    let now = c.now
    c.withKey(args, 1) { shard, key in
        let (h, wrong) = readHash(c, shard, key, now: now)
        if wrong { return }
        c.reply.integer(h?.contains(args[2]) == true ? 1 : 0)
    }
}
