// String commands (Redis t_string.c): GET, SET with its options, SETEX, PSETEX, SETNX, GETEX,
// GETDEL, GETSET, MGET, MSET, MSETNX, the INCR family, INCRBYFLOAT, APPEND, STRLEN, GETRANGE
// (SUBSTR), SETRANGE. Multi-key commands (MGET, MSET, MSETNX) hold all their shards' locks at
// once, so MSETNX is all-or-nothing across shards as it is in Redis.

let stringCommands: [CommandSpec] = [
    CommandSpec("get", arity: 2, flags: [.readonly, .fast], keys: (1, 1, 1), categories: ["@read", "@string", "@fast"], handler: getCommand),
    CommandSpec("set", arity: -3, flags: [.write, .denyOOM], keys: (1, 1, 1), categories: ["@write", "@string", "@slow"], handler: setCommand),
    CommandSpec("setex", arity: 4, flags: [.write, .denyOOM], keys: (1, 1, 1), categories: ["@write", "@string", "@slow"], handler: setexCommand),
    CommandSpec("psetex", arity: 4, flags: [.write, .denyOOM], keys: (1, 1, 1), categories: ["@write", "@string", "@slow"], handler: psetexCommand),
    CommandSpec("setnx", arity: 3, flags: [.write, .denyOOM, .fast], keys: (1, 1, 1), categories: ["@write", "@string", "@fast"], handler: setnxCommand),
    CommandSpec("getex", arity: -2, flags: [.write, .fast], keys: (1, 1, 1), categories: ["@write", "@string", "@fast"], handler: getexCommand),
    CommandSpec("getdel", arity: 2, flags: [.write, .fast], keys: (1, 1, 1), categories: ["@write", "@string", "@fast"], handler: getdelCommand),
    CommandSpec("getset", arity: 3, flags: [.write, .denyOOM, .fast], keys: (1, 1, 1), categories: ["@write", "@string", "@fast"], handler: getsetCommand),
    CommandSpec("mget", arity: -2, flags: [.readonly, .fast], keys: (1, -1, 1), categories: ["@read", "@string", "@fast"], handler: mgetCommand),
    CommandSpec("mset", arity: -3, flags: [.write, .denyOOM], keys: (1, -1, 2), categories: ["@write", "@string", "@slow"], handler: { msetGeneric($0, $1, nx: false) }),
    CommandSpec("msetnx", arity: -3, flags: [.write, .denyOOM], keys: (1, -1, 2), categories: ["@write", "@string", "@slow"], handler: { msetGeneric($0, $1, nx: true) }),
    CommandSpec("incr", arity: 2, flags: [.write, .denyOOM, .fast], keys: (1, 1, 1), categories: ["@write", "@string", "@fast"], handler: { incrDecr($0, $1, by: 1) }),
    CommandSpec("decr", arity: 2, flags: [.write, .denyOOM, .fast], keys: (1, 1, 1), categories: ["@write", "@string", "@fast"], handler: { incrDecr($0, $1, by: -1) }),
    CommandSpec("incrby", arity: 3, flags: [.write, .denyOOM, .fast], keys: (1, 1, 1), categories: ["@write", "@string", "@fast"], handler: incrbyCommand),
    CommandSpec("decrby", arity: 3, flags: [.write, .denyOOM, .fast], keys: (1, 1, 1), categories: ["@write", "@string", "@fast"], handler: decrbyCommand),
    CommandSpec("incrbyfloat", arity: 3, flags: [.write, .denyOOM, .fast], keys: (1, 1, 1), categories: ["@write", "@string", "@fast"], handler: incrbyfloatCommand),
    CommandSpec("append", arity: 3, flags: [.write, .denyOOM, .fast], keys: (1, 1, 1), categories: ["@write", "@string", "@fast"], handler: appendCommand),
    CommandSpec("strlen", arity: 2, flags: [.readonly, .fast], keys: (1, 1, 1), categories: ["@read", "@string", "@fast"], handler: strlenCommand),
    CommandSpec("getrange", arity: 4, flags: [.readonly], keys: (1, 1, 1), categories: ["@read", "@string", "@slow"], handler: getrangeCommand),
    CommandSpec("substr", arity: 4, flags: [.readonly], keys: (1, 1, 1), categories: ["@read", "@string", "@slow"], handler: getrangeCommand),
    CommandSpec("setrange", arity: 4, flags: [.write, .denyOOM], keys: (1, 1, 1), categories: ["@write", "@string", "@slow"], handler: setrangeCommand),
]

func getCommand(_ c: Client, _ args: Arguments) {
    let now = c.now
    let raw = args[1]
    let db = c.db
    let reply = c.reply
    let found = c.withShard(raw) { shard in
        shard.withLiveEntry(db, bytes: raw, now: now) { e in e.value.withStringBytes { reply.bulk($0) } != nil }
    }
    switch found {
    case nil: c.miss(); reply.null()
    case false?: reply.error(RedisError.wrongType)
    case true?: c.hit()
    }
}

/// SET over a string whose buffer is the same malloc chunk size as the new value's: the new
/// bytes go into the old buffer (no malloc, no free; the accounting, which charges chunk
/// sizes, is unchanged). Session stores re-save the same key with a value of about the same
/// size on every request. Takes the old value out of `slot` (the caller overwrites the entry
/// next); nil when it is not a string or the sizes differ. A buffer shared with a snapshot is
/// copied by the write, as any copy-on-write array.
@inline(__always)
private func reusedStringStorage(_ slot: inout Entry?, for new: UnsafeRawBufferPointer) -> [UInt8]? {
    guard slot != nil, let oldCount = slot!.value.withStringBytes({ $0.count }),
          mallocChunk(32 + oldCount) == mallocChunk(32 + new.count),
          case .string(var bytes) = slot!.takeValue() else { return nil }
    if bytes.count == new.count {
        bytes.withUnsafeMutableBytes { if new.count > 0 { $0.baseAddress!.copyMemory(from: new.baseAddress!, byteCount: new.count) } }
    } else {
        bytes.removeAll(keepingCapacity: true)
        bytes.append(contentsOf: new)
    }
    return bytes
}

private struct SetOptions {
    var nx = false, xx = false, get = false, keepTTL = false
    /// Which expiry option was given: 0 none, 1 EX, 2 PX, 3 EXAT, 4 PXAT; and its argument index.
    var expireKind = 0, expireArg = 0
}

func setCommand(_ c: Client, _ args: Arguments) {
    if args.count == 3 { return setPlain(c, args) }
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
    var written = false
    c.withKeyBytes(args, 1) { shard, key in
        shard.mutate(c.db, bytes: key, now: now) { slot in
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
            var entry = Entry(value: .string(reusedStringStorage(&slot, for: args[2]) ?? args.bytes(2)), expireAt: expireAt)
            if o.keepTTL, let old = slot { entry.expireAt = old.expireAt }
            shard.overwrite(c.db, bytes: key, &slot, with: entry)
            written = true
            if !o.get { c.reply.ok() }
        }
    }
    if written {
        c.notify(.string, "set", args[1])
        if expireAt != 0 { c.notify(.generic, "expire", args[1]) }
    }
}

/// SET key value without options, the session stores' form: its closures capture only plain
/// values (the key and value spans, the database, the time), not the client, so the write
/// needs no reference counting.
@inline(__always)
private func setPlain(_ c: Client, _ args: Arguments) {
    let now = c.now, db = c.db
    let key = args[1], value = args[2]
    c.withShard(key) { shard in
        shard.mutate(db, bytes: key, now: now) { slot in
            // Shard.overwrite without the shard (capturing it in this closure cost a retain):
            // with no TTL there is nothing to schedule, only the wheel's bookkeeping to keep.
            var entry = Entry(value: .string(reusedStringStorage(&slot, for: value) ?? Array(value)))
            if slot != nil { entry.wheelAt = slot!.wheelAt }
            slot = entry
        }
    }
    c.reply.ok()
    c.notify(.string, "set", key)
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
    c.notify(.string, "set", args[1])
    c.notify(.generic, "expire", args[1])
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
    if created { c.notify(.string, "set", args[1]) }
}

// MARK: - GETEX, GETDEL, GETSET

/// GETEX key [EX s | PX ms | EXAT ts | PXAT ts-ms | PERSIST]: Redis's order of checks is the
/// syntax, then the key (missing: nil), its type, and only then the time.
func getexCommand(_ c: Client, _ args: Arguments) {
    var kind = 0, expireArg = 0  // kind: 0 none, 1 EX, 2 PX, 3 EXAT, 4 PXAT
    var persist = false
    var j = 2
    while j < args.count {
        let hasNext = j + 1 < args.count
        if args.matches(j, "persist") && kind == 0 { persist = true }
        else if args.matches(j, "ex") && !persist && (kind == 0 || kind == 1) && hasNext { kind = 1; expireArg = j + 1; j += 1 }
        else if args.matches(j, "px") && !persist && (kind == 0 || kind == 2) && hasNext { kind = 2; expireArg = j + 1; j += 1 }
        else if args.matches(j, "exat") && !persist && (kind == 0 || kind == 3) && hasNext { kind = 3; expireArg = j + 1; j += 1 }
        else if args.matches(j, "pxat") && !persist && (kind == 0 || kind == 4) && hasNext { kind = 4; expireArg = j + 1; j += 1 }
        else { c.reply.error(RedisError.syntax); return }
        j += 1
    }
    let now = c.now
    var event: String? = nil
    c.withKey(args, 1) { shard, key in
        shard.mutate(c.db, key, now: now) { slot in
            guard slot != nil else { c.miss(); c.reply.null(); return }
            guard case .string(let v) = slot!.value else { c.reply.error(RedisError.wrongType); return }
            var at: Int64 = 0
            if kind != 0 {
                guard let deadline = expireDeadline(c, args, expireArg, seconds: kind == 1 || kind == 3,
                                                    relative: kind <= 2, now: now, command: "getex") else { return }
                at = deadline
            }
            c.hit()
            c.reply.bulk(v)
            if kind >= 3 && at <= now {
                slot = nil
                event = "del"
            } else if kind != 0 {
                slot!.expireAt = at
                shard.scheduleExpiry(c.db, key, &slot!)
                event = "expire"
            } else if persist && slot!.expireAt != 0 {
                slot!.expireAt = 0
                event = "persist"
            }
        }
    }
    if let event { c.notify(.generic, event, args[1]) }
}

func getdelCommand(_ c: Client, _ args: Arguments) {
    let now = c.now
    let deleted: Bool = c.withKey(args, 1) { shard, key in
        shard.mutate(c.db, key, now: now) { slot in
            guard slot != nil else { c.miss(); c.reply.null(); return false }
            guard case .string(let v) = slot!.value else { c.reply.error(RedisError.wrongType); return false }
            c.hit()
            c.reply.bulk(v)
            slot = nil
            return true
        }
    }
    if deleted { c.notify(.generic, "del", args[1]) }
}

/// GETSET key value: SET that replies the old value; the TTL is cleared, as SET clears it.
func getsetCommand(_ c: Client, _ args: Arguments) {
    let now = c.now
    let written: Bool = c.withKey(args, 1) { shard, key in
        shard.mutate(c.db, key, now: now) { slot in
            if let e = slot {
                guard case .string(let old) = e.value else { c.reply.error(RedisError.wrongType); return false }
                c.reply.bulk(old)
            } else {
                c.reply.null()
            }
            shard.overwrite(c.db, key, &slot, with: Entry(value: .string(args.bytes(2))))
            return true
        }
    }
    if written { c.notify(.string, "set", args[1]) }
}

// MARK: - MGET, MSET, MSETNX

func mgetCommand(_ c: Client, _ args: Arguments) {
    let now = c.now
    c.withKeysLocked(args, Array(1..<args.count)) {
        c.reply.arrayHeader(args.count - 1)
        for i in 1..<args.count {
            if let e = c.shard(args, i).lookup(c.db, args.key(i), now: now), case .string(let v) = e.value {
                c.hit()
                c.reply.bulk(v)
            } else {
                c.miss()
                c.reply.null()
            }
        }
    }
}

/// MSET / MSETNX key value [key value ...]: all keys' shards are locked together, so other
/// clients see all of the writes or none, and MSETNX's existence check and its writes are one
/// atomic step. A key given twice takes its last value.
func msetGeneric(_ c: Client, _ args: Arguments, nx: Bool) {
    if args.count % 2 == 0 { c.reply.error(string: RedisError.arity(nx ? "msetnx" : "mset")); return }
    let now = c.now
    let keyIndices = Array(stride(from: 1, to: args.count, by: 2))
    let written: Bool = c.withKeysLocked(args, keyIndices) {
        if nx {
            for i in keyIndices where c.shard(args, i).lookup(c.db, args.key(i), now: now) != nil { return false }
        }
        for i in keyIndices {
            let shard = c.shard(args, i)
            let key = args.key(i)
            shard.mutate(c.db, key, now: now) { slot in
                shard.overwrite(c.db, key, &slot, with: Entry(value: .string(args.bytes(i + 1))))
            }
        }
        return true
    }
    if written {
        for i in keyIndices { c.notify(.string, "set", args[i]) }
    }
    if nx { c.reply.integer(written ? 1 : 0) } else { c.reply.ok() }
}

// MARK: - INCR, DECR, INCRBY, DECRBY, INCRBYFLOAT

func incrbyCommand(_ c: Client, _ args: Arguments) {
    guard let by = IntegerArgument.int64(c, args, 2) else { return }
    incrDecr(c, args, by: by)
}

func decrbyCommand(_ c: Client, _ args: Arguments) {
    guard let by = IntegerArgument.int64(c, args, 2) else { return }
    if by == Int64.min { c.reply.error("ERR decrement would overflow"); return }
    incrDecr(c, args, by: -by)
}

/// Adds `by` to the integer in a string key (created as 0), keeping the key's TTL.
func incrDecr(_ c: Client, _ args: Arguments, by: Int64) {
    let now = c.now
    let result: Int64? = c.withKey(args, 1) { shard, key in
        shard.mutate(c.db, key, now: now) { slot -> Int64? in
            var current: Int64 = 0
            if let e = slot {
                guard case .string(let s) = e.value else { c.reply.error(RedisError.wrongType); return nil }
                guard let v = parseStrictInt64(s) else { c.reply.error(RedisError.notInteger); return nil }
                current = v
            }
            let (sum, overflow) = current.addingReportingOverflow(by)
            if overflow { c.reply.error("ERR increment or decrement would overflow"); return nil }
            if slot == nil {
                slot = Entry(value: .string(decimalBytes(sum)))
            } else {
                slot!.value = .string(decimalBytes(sum))
            }
            return sum
        }
    }
    guard let result else { return }
    c.reply.integer(result)
    c.notify(.string, "incrby", args[1])
}

/// INCRBYFLOAT key increment: long double arithmetic and formatting, as Redis (LongDouble.swift).
/// The type is checked before either number, as in Redis.
func incrbyfloatCommand(_ c: Client, _ args: Arguments) {
    let now = c.now
    let result: [UInt8]? = c.withKey(args, 1) { shard, key in
        shard.mutate(c.db, key, now: now) { slot -> [UInt8]? in
            var current: LongDouble = 0
            if let e = slot {
                guard case .string(let s) = e.value else { c.reply.error(RedisError.wrongType); return nil }
                guard let v = parseLongDouble(s) else { c.reply.error("ERR value is not a valid float"); return nil }
                current = v
            }
            guard let incr = parseLongDouble(args[2]) else { c.reply.error("ERR value is not a valid float"); return nil }
            let sum = current + incr
            if sum.isNaN || sum.isInfinite { c.reply.error("ERR increment would produce NaN or Infinity"); return nil }
            let text = formatLongDouble(sum)
            if slot == nil { slot = Entry(value: .string(text)) } else { slot!.value = .string(text) }
            return text
        }
    }
    guard let result else { return }
    c.reply.bulk(result)
    c.notify(.string, "incrbyfloat", args[1])
}

// MARK: - APPEND, STRLEN, GETRANGE, SETRANGE

/// Redis's checkStringLength: a string may not grow past proto-max-bulk-len.
@inline(__always) private func stringTooLong(_ c: Client, _ size: Int) -> Bool {
    if size > c.server.configuration.limits.maxBulkLength {
        c.reply.error("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
        return true
    }
    return false
}

func appendCommand(_ c: Client, _ args: Arguments) {
    let now = c.now
    let length: Int? = c.withKey(args, 1) { shard, key in
        shard.mutate(c.db, key, now: now) { slot -> Int? in
            guard slot != nil else {
                slot = Entry(value: .string(args.bytes(2)))
                return args[2].count
            }
            guard case .string(let existing) = slot!.value else { c.reply.error(RedisError.wrongType); return nil }
            if stringTooLong(c, existing.count + args[2].count) { return nil }
            var s = slot!.takeString()!
            s.append(contentsOf: args[2])
            let n = s.count
            slot!.value = .string(s)
            return n
        }
    }
    guard let length else { return }
    c.reply.integer(length)
    c.notify(.string, "append", args[1])
}

func strlenCommand(_ c: Client, _ args: Arguments) {
    let now = c.now
    c.withKey(args, 1) { shard, key in
        guard let e = shard.lookup(c.db, key, now: now) else { c.reply.integer(0); return }
        guard case .string(let s) = e.value else { c.reply.error(RedisError.wrongType); return }
        c.reply.integer(s.count)
    }
}

/// GETRANGE key start end (and SUBSTR): inclusive, negative indexes count from the end, with
/// Redis's clamping (getrangeCommand) and its unsigned arithmetic on extreme values.
func getrangeCommand(_ c: Client, _ args: Arguments) {
    guard var start = IntegerArgument.int64(c, args, 2), var end = IntegerArgument.int64(c, args, 3) else { return }
    let now = c.now
    c.withKey(args, 1) { shard, key in
        guard let e = shard.lookup(c.db, key, now: now) else { c.reply.bulk(""); return }
        guard case .string(let s) = e.value else { c.reply.error(RedisError.wrongType); return }
        let len = Int64(s.count)
        if start < 0 && end < 0 && start > end { c.reply.bulk(""); return }
        if start < 0 { start = len &+ start }
        if end < 0 { end = len &+ end }
        if start < 0 { start = 0 }
        if end < 0 { end = 0 }
        if end >= len { end = len - 1 }
        if start > end || len == 0 { c.reply.bulk(""); return }
        s.withUnsafeBytes { c.reply.bulk(UnsafeRawBufferPointer(rebasing: $0[Int(start)...Int(end)])) }
    }
}

/// SETRANGE key offset value: overwrites from `offset`, zero-padding a shorter string; an
/// empty value only reports the length (and creates nothing).
func setrangeCommand(_ c: Client, _ args: Arguments) {
    guard let offset64 = IntegerArgument.int64(c, args, 2) else { return }
    if offset64 < 0 { c.reply.error("ERR offset is out of range"); return }
    let value = args[3]
    let now = c.now
    // offset + length past proto-max-bulk-len, computed without overflow.
    let tooLong = offset64 > Int64(c.server.configuration.limits.maxBulkLength) - Int64(value.count)
    let sizeError = "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
    let length: Int? = c.withKey(args, 1) { shard, key in
        shard.mutate(c.db, key, now: now) { slot -> Int? in
            if slot == nil {
                if value.count == 0 { return 0 }
                if tooLong { c.reply.error(string: sizeError); return nil }
                let offset = Int(offset64)
                var s = [UInt8](repeating: 0, count: offset + value.count)
                s.withUnsafeMutableBytes { $0.baseAddress!.advanced(by: offset).copyMemory(from: value.baseAddress!, byteCount: value.count) }
                slot = Entry(value: .string(s))
                return s.count
            }
            guard case .string(let existing) = slot!.value else { c.reply.error(RedisError.wrongType); return nil }
            if value.count == 0 { return existing.count }
            if tooLong { c.reply.error(string: sizeError); return nil }
            let offset = Int(offset64)
            var s = slot!.takeString()!
            if s.count < offset + value.count {
                s.append(contentsOf: repeatElement(0, count: offset + value.count - s.count))
            }
            s.withUnsafeMutableBytes { $0.baseAddress!.advanced(by: offset).copyMemory(from: value.baseAddress!, byteCount: value.count) }
            let n = s.count
            slot!.value = .string(s)
            return n
        }
    }
    guard let length else { return }
    c.reply.integer(length)
    if value.count > 0 { c.notify(.string, "setrange", args[1]) }
}
