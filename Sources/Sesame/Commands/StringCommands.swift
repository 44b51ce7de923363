// String commands (Redis t_string.c): GET, SET with its options, SETEX, PSETEX, SETNX.

let stringCommands: [CommandSpec] = [
    CommandSpec("get", arity: 2, flags: [.readonly, .fast], keys: (1, 1, 1), categories: ["@read", "@string", "@fast"], handler: getCommand),
    CommandSpec("set", arity: -3, flags: [.write, .denyOOM], keys: (1, 1, 1), categories: ["@write", "@string", "@slow"], handler: setCommand),
    CommandSpec("setex", arity: 4, flags: [.write, .denyOOM], keys: (1, 1, 1), categories: ["@write", "@string", "@slow"], handler: setexCommand),
    CommandSpec("psetex", arity: 4, flags: [.write, .denyOOM], keys: (1, 1, 1), categories: ["@write", "@string", "@slow"], handler: psetexCommand),
    CommandSpec("setnx", arity: 3, flags: [.write, .denyOOM, .fast], keys: (1, 1, 1), categories: ["@write", "@string", "@fast"], handler: setnxCommand),
]

func getCommand(_ c: Client, _ args: Arguments) {
    let now = c.now
    c.withKey(args, 1) { shard, key in
        guard let e = shard.lookup(c.db, key, now: now) else { c.miss(); c.reply.null(); return }
        guard case .string(let v) = e.value else { c.reply.error(RedisError.wrongType); return }
        c.hit()
        c.reply.bulk(v)
    }
}

private struct SetOptions {
    var nx = false, xx = false, get = false, keepTTL = false
    /// Which expiry option was given: 0 none, 1 EX, 2 PX, 3 EXAT, 4 PXAT; and its argument index.
    var expireKind = 0, expireArg = 0
}

func setCommand(_ c: Client, _ args: Arguments) {
    // Options first (any syntax error wins), then the expire value, as Redis does.
    var o = SetOptions()
    var j = 3
    while j < args.count {
        let hasNext = j + 1 < args.count
        if args.matches(j, "nx") && !o.xx { o.nx = true }
        else if args.matches(j, "xx") && !o.nx { o.xx = true }
        else if args.matches(j, "get") { o.get = true }
        else if args.matches(j, "keepttl") && o.expireKind == 0 { o.keepTTL = true }
        else if args.matches(j, "ex") && !o.keepTTL && (o.expireKind == 0 || o.expireKind == 1) && hasNext { o.expireKind = 1; o.expireArg = j + 1; j += 1 }
        else if args.matches(j, "px") && !o.keepTTL && (o.expireKind == 0 || o.expireKind == 2) && hasNext { o.expireKind = 2; o.expireArg = j + 1; j += 1 }
        else if args.matches(j, "exat") && !o.keepTTL && (o.expireKind == 0 || o.expireKind == 3) && hasNext { o.expireKind = 3; o.expireArg = j + 1; j += 1 }
        else if args.matches(j, "pxat") && !o.keepTTL && (o.expireKind == 0 || o.expireKind == 4) && hasNext { o.expireKind = 4; o.expireArg = j + 1; j += 1 }
        else { c.reply.error(RedisError.syntax); return }
        j += 1
    }
    let now = c.now
    var expireAt: Int64 = 0
    if o.expireKind != 0 {
        guard let at = expireDeadline(c, args, o.expireArg, seconds: o.expireKind == 1 || o.expireKind == 3,
                                      relative: o.expireKind <= 2, now: now, command: "set") else { return }
        expireAt = at
    }
    c.withKey(args, 1) { shard, key in
        shard.mutate(c.db, key, now: now) { slot in
            if o.get {
                if let e = slot {
                    guard case .string(let old) = e.value else { c.reply.error(RedisError.wrongType); return }
                    c.reply.bulk(old)
                } else {
                    c.reply.null()
                }
            }
            if (o.nx && slot != nil) || (o.xx && slot == nil) {
                if !o.get { c.reply.null() }
                return
            }
            var entry = Entry(value: .string(args.bytes(2)), expireAt: expireAt)
            if o.keepTTL, let old = slot { entry.expireAt = old.expireAt }
            shard.overwrite(c.db, key, &slot, with: entry)
            if !o.get { c.reply.ok() }
        }
    }
}

/// Reads an expire argument and turns it into an absolute deadline in Unix milliseconds, with
/// Redis's checks: not an integer, <= 0, or overflowing -> the matching error (already sent).
func expireDeadline(_ c: Client, _ args: Arguments, _ i: Int, seconds: Bool, relative: Bool,
                    now: Int64, command: String) -> Int64? {
    guard var v = args.int64(i) else { c.reply.error(RedisError.notInteger); return nil }
    if v <= 0 || (seconds && v > Int64.max / 1000) {
        c.reply.error(string: RedisError.invalidExpire(command)); return nil
    }
    if seconds { v *= 1000 }
    if relative {
        if v > Int64.max - now { c.reply.error(string: RedisError.invalidExpire(command)); return nil }
        v += now
    }
    return v
}

private func setWithTTL(_ c: Client, _ args: Arguments, seconds: Bool, command: String) {
    let now = c.now
    guard let at = expireDeadline(c, args, 2, seconds: seconds, relative: true, now: now, command: command) else { return }
    c.withKey(args, 1) { shard, key in
        shard.mutate(c.db, key, now: now) { slot in
            shard.overwrite(c.db, key, &slot, with: Entry(value: .string(args.bytes(3)), expireAt: at))
        }
    }
    c.reply.ok()
}

func setexCommand(_ c: Client, _ args: Arguments) { setWithTTL(c, args, seconds: true, command: "setex") }
func psetexCommand(_ c: Client, _ args: Arguments) { setWithTTL(c, args, seconds: false, command: "psetex") }

func setnxCommand(_ c: Client, _ args: Arguments) {
    let now = c.now
    let created: Bool = c.withKey(args, 1) { shard, key in
        shard.mutate(c.db, key, now: now) { slot in
            if slot != nil { return false }
            shard.overwrite(c.db, key, &slot, with: Entry(value: .string(args.bytes(2))))
            return true
        }
    }
    c.reply.integer(created ? 1 : 0)
}
