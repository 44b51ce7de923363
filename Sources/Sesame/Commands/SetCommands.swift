// Set commands (Redis t_set.c): SADD, SREM, SMEMBERS, SISMEMBER, SCARD.

let setCommands: [CommandSpec] = [
    CommandSpec("sadd", arity: -3, flags: [.write, .denyOOM, .fast], keys: (1, 1, 1), categories: ["@write", "@set", "@fast"], handler: saddCommand),
    CommandSpec("srem", arity: -3, flags: [.write, .fast], keys: (1, 1, 1), categories: ["@write", "@set", "@fast"], handler: sremCommand),
    CommandSpec("smembers", arity: 2, flags: [.readonly], keys: (1, 1, 1), categories: ["@read", "@set", "@slow"], handler: smembersCommand),
    CommandSpec("sismember", arity: 3, flags: [.readonly, .fast], keys: (1, 1, 1), categories: ["@read", "@set", "@fast"], handler: sismemberCommand),
    CommandSpec("scard", arity: 2, flags: [.readonly, .fast], keys: (1, 1, 1), categories: ["@read", "@set", "@fast"], handler: scardCommand),
]

@inline(__always)
private func readSet(_ c: Client, _ shard: Shard, _ key: Key, now: Int64) -> (SetValue?, wrongType: Bool) {
    guard let e = shard.lookup(c.db, key, now: now) else { return (nil, false) }
    guard case .set(let s) = e.value else {
        c.reply.error(RedisError.wrongType)
        return (nil, true)
    }
    return (s, false)
}

func saddCommand(_ c: Client, _ args: Arguments) {
    let now = c.now
    let added: Int? = c.withKey(args, 1) { shard, key in
        shard.mutate(c.db, key, now: now) { slot -> Int? in
            var s: SetValue
            if slot != nil {
                guard let existing = slot!.takeSet() else { return nil }
                s = existing
            } else {
                s = SetValue()
                slot = Entry(value: .string([]))
            }
            var n = 0
            for j in 2..<args.count where s.insert(args[j]) { n += 1 }
            slot!.value = .set(s)
            return n
        }
    }
    guard let added else { c.reply.error(RedisError.wrongType); return }
    c.reply.integer(added)
}

func sremCommand(_ c: Client, _ args: Arguments) {
    let now = c.now
    let removed: Int? = c.withKey(args, 1) { shard, key in
        shard.mutate(c.db, key, now: now) { slot -> Int? in
            guard slot != nil else { return 0 }
            guard var s = slot!.takeSet() else { return nil }
            var n = 0
            for j in 2..<args.count where s.remove(args[j]) { n += 1 }
            if s.count == 0 { slot = nil } else { slot!.value = .set(s) }
            return n
        }
    }
    guard let removed else { c.reply.error(RedisError.wrongType); return }
    c.reply.integer(removed)
}

func smembersCommand(_ c: Client, _ args: Arguments) {
    let now = c.now
    c.withKey(args, 1) { shard, key in
        let (s, wrong) = readSet(c, shard, key, now: now)
        if wrong { return }
        guard let s else { c.reply.setHeader(0); return }
        c.reply.setHeader(s.count)
        s.forEach { c.reply.bulk($0) }
    }
}

func sismemberCommand(_ c: Client, _ args: Arguments) {
    let now = c.now
    c.withKey(args, 1) { shard, key in
        let (s, wrong) = readSet(c, shard, key, now: now)
        if wrong { return }
        c.reply.integer(s?.contains(args[2]) == true ? 1 : 0)
    }
}

func scardCommand(_ c: Client, _ args: Arguments) {
    let now = c.now
    c.withKey(args, 1) { shard, key in
        let (s, wrong) = readSet(c, shard, key, now: now)
        if wrong { return }
        c.reply.integer(s?.count ?? 0)
    }
}
