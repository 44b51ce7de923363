// Hash commands (Redis t_hash.c): HSET, HMSET, HGET, HMGET, HGETALL, HDEL, HLEN, HEXISTS,
// HSETNX, HKEYS, HVALS, HINCRBY, HINCRBYFLOAT, HSTRLEN, HRANDFIELD (HSCAN is in ScanCommands).
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
    CommandSpec("hsetnx", arity: 4, flags: [.write, .denyOOM, .fast], keys: (1, 1, 1), categories: ["@write", "@hash", "@fast"], handler: hsetnxCommand),
    CommandSpec("hkeys", arity: 2, flags: [.readonly], keys: (1, 1, 1), categories: ["@read", "@hash", "@slow"], handler: { hkeysOrVals($0, $1, keys: true) }),
    CommandSpec("hvals", arity: 2, flags: [.readonly], keys: (1, 1, 1), categories: ["@read", "@hash", "@slow"], handler: { hkeysOrVals($0, $1, keys: false) }),
    CommandSpec("hincrby", arity: 4, flags: [.write, .denyOOM, .fast], keys: (1, 1, 1), categories: ["@write", "@hash", "@fast"], handler: hincrbyCommand),
    CommandSpec("hincrbyfloat", arity: 4, flags: [.write, .denyOOM, .fast], keys: (1, 1, 1), categories: ["@write", "@hash", "@fast"], handler: hincrbyfloatCommand),
    CommandSpec("hstrlen", arity: 3, flags: [.readonly, .fast], keys: (1, 1, 1), categories: ["@read", "@hash", "@fast"], handler: hstrlenCommand),
    CommandSpec("hrandfield", arity: -2, flags: [.readonly], keys: (1, 1, 1), categories: ["@read", "@hash", "@slow"], handler: hrandfieldCommand),
]

/// Looks up a hash for reading. Sends WRONGTYPE itself and returns nil then; `missing` is true
/// when the key does not exist.
@inline(__always)
func readHash(_ c: Client, _ shard: Shard, _ key: Key, now: Int64) -> (HashValue?, wrongType: Bool) {
    guard let e = shard.lookup(c.db, key, now: now) else { return (nil, false) }
    guard case .hash(let h) = e.value else {
        c.reply.error(RedisError.wrongType)
        return (nil, true)
    }
    return (h, false)
}

func hsetGeneric(_ c: Client, _ args: Arguments, name: String) {
    if args.count % 2 == 1 { c.reply.error(string: RedisError.arity(name)); return }
    let now = c.now, db = c.db
    // The closures capture plain values only (not the client): no reference counting.
    let added: Int? = c.withKeyBytes(args, 1) { shard, key in
        shard.mutate(db, bytes: key, now: now) { slot -> Int? in
            var h: HashValue
            if slot != nil {
                guard let existing = slot!.takeHash() else { return nil }
                h = existing
            } else {
                h = HashValue()
                h.reserveForNew(args, from: 2)
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
    c.notify(.hash, "hset", args[1])
}

func hgetCommand(_ c: Client, _ args: Arguments) {
    let now = c.now
    c.withKey(args, 1) { shard, key in
        let (h, wrong) = readHash(c, shard, key, now: now)
        if wrong { return }
        guard let h else { c.miss(); c.reply.null(); return }
        c.hit()
        h.withValue(args[2], scratch: c.lookupScratch) { v in
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
            h.withValue(args[j], scratch: c.lookupScratch) { v in
                if let v { c.reply.bulk(v) } else { c.reply.null() }
            }
        }
    }
}

func hgetallCommand(_ c: Client, _ args: Arguments) {
    let now = c.now, db = c.db, reply = c.reply
    let found = c.withKeyBytes(args, 1) { shard, key in
        shard.withLiveEntry(db, bytes: key, now: now) { e in
            e.value.withHash { (h: HashValue) -> Void in
                reply.mapHeader(h.count)
                h.forEach { f, v in
                    reply.bulk(f)
                    reply.bulk(v)
                }
            } != nil
        }
    }
    switch found {
    case nil: c.miss(); reply.mapHeader(0)
    case false?: reply.error(RedisError.wrongType)
    case true?: c.hit()
    }
}

func hdelCommand(_ c: Client, _ args: Arguments) {
    let now = c.now
    var emptied = false
    let removed: Int? = c.withKey(args, 1) { shard, key in
        shard.mutate(c.db, key, now: now) { slot -> Int? in
            guard slot != nil else { return 0 }
            guard var h = slot!.takeHash() else { return nil }
            var n = 0
            for j in 2..<args.count where h.remove(args[j]) { n += 1 }
            if h.count == 0 { slot = nil; emptied = true } else { slot!.value = .hash(h) }
            return n
        }
    }
    guard let removed else { c.reply.error(RedisError.wrongType); return }
    c.reply.integer(removed)
    if removed > 0 { c.notify(.hash, "hdel", args[1]) }
    if emptied { c.notify(.generic, "del", args[1]) }
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
        c.reply.integer(h?.contains(args[2], scratch: c.lookupScratch) == true ? 1 : 0)
    }
}

func hsetnxCommand(_ c: Client, _ args: Arguments) {
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
            let n = h.contains(args[2], scratch: c.lookupScratch) ? 0 : 1
            if n == 1 { h.set(args[2], args[3]) }
            slot!.value = .hash(h)
            return n
        }
    }
    guard let added else { c.reply.error(RedisError.wrongType); return }
    c.reply.integer(added)
    if added == 1 { c.notify(.hash, "hset", args[1]) }
}

func hkeysOrVals(_ c: Client, _ args: Arguments, keys: Bool) {
    let now = c.now
    c.withKey(args, 1) { shard, key in
        let (h, wrong) = readHash(c, shard, key, now: now)
        if wrong { return }
        guard let h else { c.reply.arrayHeader(0); return }
        c.reply.arrayHeader(h.count)
        h.forEach { f, v in c.reply.bulk(keys ? f : v) }
    }
}

func hstrlenCommand(_ c: Client, _ args: Arguments) {
    let now = c.now
    c.withKey(args, 1) { shard, key in
        let (h, wrong) = readHash(c, shard, key, now: now)
        if wrong { return }
        c.reply.integer(h?.withValue(args[2], scratch: c.lookupScratch) { $0?.count ?? 0 } ?? 0)
    }
}

/// Shared shape of HINCRBY and HINCRBYFLOAT: `compute` turns the field's current bytes (nil
/// when absent) into the new bytes, or replies an error and returns nil. The key is created if
/// missing, as Redis's hashTypeLookupWriteOrCreate does.
private func hashIncrement(_ c: Client, _ args: Arguments, _ compute: (UnsafeRawBufferPointer?) -> [UInt8]?) -> [UInt8]? {
    let now = c.now
    return c.withKey(args, 1) { shard, key in
        shard.mutate(c.db, key, now: now) { slot -> [UInt8]? in
            if slot != nil {
                // Read in a closure so no second reference to the hash outlives it (the take below
                // then mutates the hash in place).
                let next: [UInt8]?? = {
                    guard case .hash(let h) = slot!.value else { return .none }
                    return .some(h.withValue(args[2], scratch: c.lookupScratch) { compute($0) })
                }()
                guard let next else { c.reply.error(RedisError.wrongType); return nil }
                guard let bytes = next else { return nil }
                var h = slot!.takeHash()!
                bytes.withUnsafeBytes { _ = h.set(args[2], $0) }
                slot!.value = .hash(h)
                return bytes
            }
            guard let bytes = compute(nil) else { return nil }
            var h = HashValue()
            bytes.withUnsafeBytes { _ = h.set(args[2], $0) }
            slot = Entry(value: .hash(h))
            return bytes
        }
    }
}

func hincrbyCommand(_ c: Client, _ args: Arguments) {
    guard let by = IntegerArgument.int64(c, args, 3) else { return }
    var result: Int64 = 0
    let written = hashIncrement(c, args) { current in
        var value: Int64 = 0
        if let current {
            guard let v = parseStrictInt64(current) else { c.reply.error("ERR hash value is not an integer"); return nil }
            value = v
        }
        let (sum, overflow) = value.addingReportingOverflow(by)
        if overflow { c.reply.error("ERR increment or decrement would overflow"); return nil }
        result = sum
        return decimalBytes(sum)
    }
    guard written != nil else { return }
    c.reply.integer(result)
    c.notify(.hash, "hincrby", args[1])
}

func hincrbyfloatCommand(_ c: Client, _ args: Arguments) {
    guard let incr = parseLongDouble(args[3]) else { c.reply.error("ERR value is not a valid float"); return }
    if incr.isNaN || incr.isInfinite { c.reply.error("ERR value is NaN or Infinity"); return }
    let written = hashIncrement(c, args) { current in
        var value: LongDouble = 0
        if let current {
            guard let v = parseLongDouble(current) else { c.reply.error("ERR hash value is not a float"); return nil }
            value = v
        }
        let sum = value + incr
        if sum.isNaN || sum.isInfinite { c.reply.error("ERR increment would produce NaN or Infinity"); return nil }
        return formatLongDouble(sum)
    }
    guard let written else { return }
    c.reply.bulk(written)
    c.notify(.hash, "hincrbyfloat", args[1])
}

/// The most elements HRANDFIELD / SRANDMEMBER return for a negative count (repetitions
/// allowed). Redis has no limit and builds the whole reply while the server waits; Sesame
/// refuses larger counts with `-ERR value is out of range` rather than hold a shard lock
/// while writing gigabytes (docs/COMMANDS.md).
let randomRepeatLimit: Int64 = 1 << 22

/// HRANDFIELD key [count [WITHVALUES]] (Redis hrandfieldCommand).
func hrandfieldCommand(_ c: Client, _ args: Arguments) {
    let now = c.now
    if args.count == 2 {
        c.withKey(args, 1) { shard, key in
            let (h, wrong) = readHash(c, shard, key, now: now)
            if wrong { return }
            guard let h, h.count > 0 else { c.reply.null(); return }
            var rng = CommandRandom()
            let target = Int.random(in: 0..<h.count, using: &rng)
            var i = 0
            h.forEach { f, _ in
                if i == target { c.reply.bulk(f) }
                i += 1
            }
        }
        return
    }
    guard let l = IntegerArgument.inRange(c, args, 2, (-Int64.max)...Int64.max) else { return }
    var withValues = false
    if args.count > 4 || (args.count == 4 && !args.matches(3, "withvalues")) { c.reply.error(RedisError.syntax); return }
    if args.count == 4 {
        withValues = true
        if l < -Int64.max / 2 || l > Int64.max / 2 { c.reply.error("ERR value is out of range"); return }
    }
    if l < -randomRepeatLimit { c.reply.error("ERR value is out of range"); return }
    c.withKey(args, 1) { shard, key in
        let (h, wrong) = readHash(c, shard, key, now: now)
        if wrong { return }
        guard let h, l != 0 else { c.reply.arrayHeader(0); return }
        let count = Int(l.magnitude)
        let pairHeader = withValues && c.resp3
        func pair(_ f: UnsafeRawBufferPointer, _ v: UnsafeRawBufferPointer) {
            if pairHeader { c.reply.arrayHeader(2) }
            c.reply.bulk(f)
            if withValues { c.reply.bulk(v) }
        }
        if l > 0 && count >= h.count {
            // The whole hash, in its own order (insertion order while packed, as in Redis).
            c.reply.arrayHeader(withValues && !c.resp3 ? h.count * 2 : h.count)
            h.forEach(pair)
            return
        }
        var fields: [[UInt8]] = [], values: [[UInt8]] = []
        fields.reserveCapacity(h.count)
        h.forEach { f, v in
            fields.append(Array(f))
            if withValues { values.append(Array(v)) }
        }
        var rng = CommandRandom()
        var picks: [Int]
        if l < 0 || count == 1 {
            picks = (0..<count).map { _ in Int.random(in: 0..<fields.count, using: &rng) }
        } else {
            var order = Array(0..<fields.count)
            order.shuffle(using: &rng)
            picks = Array(order.prefix(count))
        }
        c.reply.arrayHeader(withValues && !c.resp3 ? picks.count * 2 : picks.count)
        for i in picks {
            fields[i].withUnsafeBytes { f in
                if withValues { values[i].withUnsafeBytes { v in pair(f, v) } } else { pair(f, f) }
            }
        }
    }
}
