// Set commands (Redis t_set.c): SADD, SREM, SMEMBERS, SISMEMBER, SCARD, SMISMEMBER, SPOP,
// SRANDMEMBER, SMOVE, SINTER, SUNION, SDIFF and their STORE forms, SINTERCARD (SSCAN is in
// ScanCommands). Commands on several keys lock all their shards at once (ascending order), so
// SMOVE and the STORE forms are atomic across shards as they are in Redis.

let setCommands: [CommandSpec] = [
    CommandSpec("sadd", arity: -3, flags: [.write, .denyOOM, .fast], keys: (1, 1, 1), categories: ["@write", "@set", "@fast"], handler: saddCommand),
    CommandSpec("srem", arity: -3, flags: [.write, .fast], keys: (1, 1, 1), categories: ["@write", "@set", "@fast"], handler: sremCommand),
    CommandSpec("smembers", arity: 2, flags: [.readonly], keys: (1, 1, 1), categories: ["@read", "@set", "@slow"], handler: smembersCommand),
    CommandSpec("sismember", arity: 3, flags: [.readonly, .fast], keys: (1, 1, 1), categories: ["@read", "@set", "@fast"], handler: sismemberCommand),
    CommandSpec("scard", arity: 2, flags: [.readonly, .fast], keys: (1, 1, 1), categories: ["@read", "@set", "@fast"], handler: scardCommand),
    CommandSpec("smismember", arity: -3, flags: [.readonly, .fast], keys: (1, 1, 1), categories: ["@read", "@set", "@fast"], handler: smismemberCommand),
    CommandSpec("spop", arity: -2, flags: [.write, .fast], keys: (1, 1, 1), categories: ["@write", "@set", "@fast"], handler: spopCommand),
    CommandSpec("srandmember", arity: -2, flags: [.readonly], keys: (1, 1, 1), categories: ["@read", "@set", "@slow"], handler: srandmemberCommand),
    CommandSpec("smove", arity: 4, flags: [.write, .fast], keys: (1, 2, 1), categories: ["@write", "@set", "@fast"], handler: smoveCommand),
    CommandSpec("sinter", arity: -2, flags: [.readonly], keys: (1, -1, 1), categories: ["@read", "@set", "@slow"], handler: { setOperation($0, $1, .inter, store: false) }),
    CommandSpec("sunion", arity: -2, flags: [.readonly], keys: (1, -1, 1), categories: ["@read", "@set", "@slow"], handler: { setOperation($0, $1, .union, store: false) }),
    CommandSpec("sdiff", arity: -2, flags: [.readonly], keys: (1, -1, 1), categories: ["@read", "@set", "@slow"], handler: { setOperation($0, $1, .diff, store: false) }),
    CommandSpec("sinterstore", arity: -3, flags: [.write, .denyOOM], keys: (1, -1, 1), categories: ["@write", "@set", "@slow"], handler: { setOperation($0, $1, .inter, store: true) }),
    CommandSpec("sunionstore", arity: -3, flags: [.write, .denyOOM], keys: (1, -1, 1), categories: ["@write", "@set", "@slow"], handler: { setOperation($0, $1, .union, store: true) }),
    CommandSpec("sdiffstore", arity: -3, flags: [.write, .denyOOM], keys: (1, -1, 1), categories: ["@write", "@set", "@slow"], handler: { setOperation($0, $1, .diff, store: true) }),
    CommandSpec("sintercard", arity: -3, flags: [.readonly], keys: (0, 0, 0), categories: ["@read", "@set", "@slow"], handler: sintercardCommand),
]

@inline(__always)
func readSet(_ c: Client, _ shard: Shard, _ key: Key, now: Int64) -> (SetValue?, wrongType: Bool) {
    guard let e = shard.lookup(c.db, key, now: now) else { return (nil, false) }
    guard case .set(let s) = e.value else {
        c.reply.error(RedisError.wrongType)
        return (nil, true)
    }
    return (s, false)
}

func saddCommand(_ c: Client, _ args: Arguments) {
    let now = c.now, db = c.db
    let added: Int? = c.withKeyBytes(args, 1) { shard, key in
        shard.mutate(db, bytes: key, now: now) { slot -> Int? in
            var s: SetValue
            if slot != nil {
                guard let existing = slot!.takeSet() else { return nil }
                s = existing
            } else {
                s = SetValue()
                s.reserveForNew(args, from: 2)
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
    if added > 0 { c.notify(.set, "sadd", args[1]) }
}

func sremCommand(_ c: Client, _ args: Arguments) {
    let now = c.now
    var emptied = false
    let removed: Int? = c.withKey(args, 1) { shard, key in
        shard.mutate(c.db, key, now: now) { slot -> Int? in
            guard slot != nil else { return 0 }
            guard var s = slot!.takeSet() else { return nil }
            var n = 0
            for j in 2..<args.count where s.remove(args[j]) { n += 1 }
            if s.count == 0 { slot = nil; emptied = true } else { slot!.value = .set(s) }
            return n
        }
    }
    guard let removed else { c.reply.error(RedisError.wrongType); return }
    c.reply.integer(removed)
    if removed > 0 { c.notify(.set, "srem", args[1]) }
    if emptied { c.notify(.generic, "del", args[1]) }
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
        c.reply.integer(s?.contains(args[2], scratch: c.lookupScratch) == true ? 1 : 0)
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

func smismemberCommand(_ c: Client, _ args: Arguments) {
    let now = c.now
    c.withKey(args, 1) { shard, key in
        let (s, wrong) = readSet(c, shard, key, now: now)
        if wrong { return }
        c.reply.arrayHeader(args.count - 2)
        for j in 2..<args.count { c.reply.integer(s?.contains(args[j], scratch: c.lookupScratch) == true ? 1 : 0) }
    }
}

/// The members of a set as owned arrays (for random picks and set algebra).
private func members(_ s: SetValue) -> [[UInt8]] {
    var out: [[UInt8]] = []
    out.reserveCapacity(s.count)
    s.forEach { out.append(Array($0)) }
    return out
}

/// SPOP key [count]: removes and returns random members; the key goes when it empties.
func spopCommand(_ c: Client, _ args: Arguments) {
    if args.count > 3 { c.reply.error(RedisError.syntax); return }
    var count: Int64? = nil
    if args.count == 3 {
        guard let n = IntegerArgument.nonNegative(c, args, 2) else { return }
        count = n
    }
    let now = c.now
    var emptied = false
    let popped: Bool = c.withKey(args, 1) { shard, key in
        shard.mutate(c.db, key, now: now) { slot -> Bool in
            guard slot != nil else {
                if count == nil { c.reply.null() } else { c.reply.setHeader(0) }
                return false
            }
            guard case .set = slot!.value else { c.reply.error(RedisError.wrongType); return false }
            if count == 0 { c.reply.setHeader(0); return false }
            var s = slot!.takeSet()!
            var all = members(s)
            var rng = CommandRandom()
            if let count, count < Int64(all.count) {
                all.shuffle(using: &rng)
                let picked = all.prefix(Int(count))
                c.reply.setHeader(picked.count)
                for m in picked {
                    m.withUnsafeBytes { _ = s.remove($0) }
                    c.reply.bulk(m)
                }
                slot!.value = .set(s)
                return true
            }
            if count == nil {
                let m = all[Int.random(in: 0..<all.count, using: &rng)]
                m.withUnsafeBytes { _ = s.remove($0) }
                c.reply.bulk(m)
                if s.count == 0 { slot = nil; emptied = true } else { slot!.value = .set(s) }
                return true
            }
            // The whole set.
            c.reply.setHeader(all.count)
            for m in all { c.reply.bulk(m) }
            slot = nil
            emptied = true
            return true
        }
    }
    if popped {
        c.notify(.set, "spop", args[1])
        if emptied { c.notify(.generic, "del", args[1]) }
    }
}

/// SRANDMEMBER key [count]: a positive count gives distinct members, a negative one allows
/// repeats (Redis srandmemberWithCountCommand; replies are arrays in RESP3 too).
func srandmemberCommand(_ c: Client, _ args: Arguments) {
    if args.count > 3 { c.reply.error(RedisError.syntax); return }
    let now = c.now
    if args.count == 2 {
        c.withKey(args, 1) { shard, key in
            let (s, wrong) = readSet(c, shard, key, now: now)
            if wrong { return }
            guard let s, s.count > 0 else { c.reply.null(); return }
            var rng = CommandRandom()
            let target = Int.random(in: 0..<s.count, using: &rng)
            var i = 0
            s.forEach { m in
                if i == target { c.reply.bulk(m) }
                i += 1
            }
        }
        return
    }
    guard let l = IntegerArgument.inRange(c, args, 2, (-Int64.max)...Int64.max) else { return }
    if l < -randomRepeatLimit { c.reply.error("ERR value is out of range"); return }
    c.withKey(args, 1) { shard, key in
        let (s, wrong) = readSet(c, shard, key, now: now)
        if wrong { return }
        guard let s, l != 0 else { c.reply.arrayHeader(0); return }
        let count = Int(l.magnitude)
        if l > 0 && count >= s.count {
            c.reply.arrayHeader(s.count)
            s.forEach { c.reply.bulk($0) }
            return
        }
        var all = members(s)
        var rng = CommandRandom()
        if l < 0 || count == 1 {
            c.reply.arrayHeader(count)
            for _ in 0..<count { c.reply.bulk(all[Int.random(in: 0..<all.count, using: &rng)]) }
        } else {
            all.shuffle(using: &rng)
            c.reply.arrayHeader(count)
            for m in all.prefix(count) { c.reply.bulk(m) }
        }
    }
}

/// SMOVE source destination member (Redis smoveCommand's order of checks).
func smoveCommand(_ c: Client, _ args: Arguments) {
    let now = c.now
    let src = args.key(1), dst = args.key(2)
    var srcEmptied = false
    let moved: Int? = c.withKeysLocked(args, [1, 2]) {
        let srcShard = c.shard(args, 1), dstShard = c.shard(args, 2)
        // Only the answers are kept, not the entries: the sets must stay uniquely referenced
        // for the in-place updates below.
        let srcState: Bool?? = {
            guard let e = srcShard.lookup(c.db, src, now: now) else { return .none }
            guard case .set(let s) = e.value else { return .some(.none) }
            return .some(s.contains(args[3], scratch: c.lookupScratch))
        }()
        let dstWrongType: Bool = {
            guard let e = dstShard.lookup(c.db, dst, now: now) else { return false }
            if case .set = e.value { return false }
            return true
        }()
        guard let srcState else { return 0 }
        guard let isMember = srcState, !dstWrongType else { return nil }
        if src == dst || !isMember { return isMember && src == dst ? 1 : 0 }
        srcShard.mutate(c.db, src, now: now) { slot in
            var s = slot!.takeSet()!
            _ = s.remove(args[3])
            if s.count == 0 { slot = nil; srcEmptied = true } else { slot!.value = .set(s) }
        }
        let added: Bool = dstShard.mutate(c.db, dst, now: now) { slot in
            var s = slot?.takeSet() ?? SetValue()
            let added = s.insert(args[3])
            if slot == nil { slot = Entry(value: .set(s)) } else { slot!.value = .set(s) }
            return added
        }
        return added ? 2 : 1
    }
    guard let moved else { c.reply.error(RedisError.wrongType); return }
    c.reply.integer(moved == 0 ? 0 : 1)
    if moved != 0 && src != dst {
        c.notify(.set, "srem", args[1])
        if srcEmptied { c.notify(.generic, "del", args[1]) }
        if moved == 2 { c.notify(.set, "sadd", args[2]) }
    }
}

enum SetOperation { case inter, union, diff }

/// Reads the sets at `keyIndices` (the caller holds their shards' locks). nil after replying
/// WRONGTYPE; a missing key is a nil element (an empty set).
private func loadSets(_ c: Client, _ args: Arguments, _ keyIndices: [Int], now: Int64) -> [SetValue?]? {
    var sets: [SetValue?] = []
    sets.reserveCapacity(keyIndices.count)
    for i in keyIndices {
        guard let e = c.shard(args, i).lookup(c.db, args.key(i), now: now) else { sets.append(nil); continue }
        guard case .set(let s) = e.value else { c.reply.error(RedisError.wrongType); return nil }
        sets.append(s)
    }
    return sets
}

/// SINTER / SUNION / SDIFF and, with `store`, their STORE forms (destination first). The
/// result keeps the first set's order (SINTER: the smallest set's), members once each; Redis's
/// order differs for its intset and hashtable encodings (element order is unspecified).
/// `limit` stops SINTERCARD counting early (0 = none).
private func compute(_ op: SetOperation, _ sets: [SetValue?], limit: Int = 0) -> [[UInt8]] {
    // One lookup key's storage for every membership test (a table-form set finds only a Key).
    var scratchStorage: [UInt8] = []
    return withUnsafeMutablePointer(to: &scratchStorage) { compute(op, sets, limit: limit, scratch: $0) }
}

private func compute(_ op: SetOperation, _ sets: [SetValue?], limit: Int, scratch: UnsafeMutablePointer<[UInt8]>) -> [[UInt8]] {
    switch op {
    case .inter:
        if sets.contains(where: { $0 == nil }) { return [] }
        let present = sets.map { $0! }.sorted { $0.count < $1.count }
        var out: [[UInt8]] = []
        present[0].forEach { m in
            if limit > 0 && out.count >= limit { return }
            for other in present.dropFirst() where !other.contains(m, scratch: scratch) { return }
            out.append(Array(m))
        }
        return out
    case .union:
        var seen = Set<Key>()
        var out: [[UInt8]] = []
        for s in sets {
            s?.forEach { m in
                let k = Key(m)
                if seen.insert(k).inserted { out.append(k.bytes) }
            }
        }
        return out
    case .diff:
        guard let first = sets[0] else { return [] }
        var out: [[UInt8]] = []
        first.forEach { m in
            for other in sets.dropFirst() where other?.contains(m, scratch: scratch) == true { return }
            out.append(Array(m))
        }
        return out
    }
}

func setOperation(_ c: Client, _ args: Arguments, _ op: SetOperation, store: Bool) {
    let now = c.now
    let first = store ? 2 : 1
    let sourceIndices = Array(first..<args.count)
    var stored: Int? = nil
    var deletedDestination = false
    let done: Bool = c.withKeysLocked(args, store ? [1] + sourceIndices : sourceIndices) {
        guard let sets = loadSets(c, args, sourceIndices, now: now) else { return false }
        let result = compute(op, sets)
        if !store {
            c.reply.setHeader(result.count)
            for m in result { c.reply.bulk(m) }
            return true
        }
        let dstShard = c.shard(args, 1), dst = args.key(1)
        dstShard.mutate(c.db, dst, now: now) { slot in
            if result.isEmpty {
                if slot != nil { deletedDestination = true }
                slot = nil
                return
            }
            var s = SetValue()
            for m in result { m.withUnsafeBytes { _ = s.insert($0) } }
            // A new value and no TTL, as Redis's setKey.
            shard(dstShard, overwrite: dst, db: c.db, slot: &slot, with: Entry(value: .set(s)))
        }
        stored = result.count
        return true
    }
    guard done, let stored else { return }
    c.reply.integer(stored)
    if stored > 0 {
        c.notify(.set, op == .inter ? "sinterstore" : op == .union ? "sunionstore" : "sdiffstore", args[1])
    } else if deletedDestination {
        c.notify(.generic, "del", args[1])
    }
}

@inline(__always)
private func shard(_ s: Shard, overwrite key: Key, db: Int, slot: inout Entry?, with entry: Entry) {
    s.overwrite(db, key, &slot, with: entry)
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit] (Redis sinterCardCommand's checks).
func sintercardCommand(_ c: Client, _ args: Arguments) {
    guard let numkeys = IntegerArgument.inRange(c, args, 1, 1...Int64.max, message: "numkeys should be greater than 0") else { return }
    if numkeys > Int64(args.count - 2) { c.reply.error("ERR Number of keys can't be greater than number of args"); return }
    var limit: Int64 = 0
    var j = 2 + Int(numkeys)
    while j < args.count {
        if args.matches(j, "limit") && j + 1 < args.count {
            j += 1
            guard let l = IntegerArgument.nonNegative(c, args, j, message: "LIMIT can't be negative") else { return }
            limit = l
        } else {
            c.reply.error(RedisError.syntax)
            return
        }
        j += 1
    }
    let now = c.now
    let keyIndices = Array(2..<(2 + Int(numkeys)))
    c.withKeysLocked(args, keyIndices) {
        guard let sets = loadSets(c, args, keyIndices, now: now) else { return }
        c.reply.integer(compute(.inter, sets, limit: limit > Int64(Int.max) ? 0 : Int(limit)).count)
    }
}
