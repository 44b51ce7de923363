// How a write command reaches the append-only file (the Dispatcher's hook while appendonly
// is on).
//
// Ordering: the command's key shards are locked (ascending, as Keyspace.withShards does; every
// shard for keyless writes such as FLUSHALL) around the handler AND the append, so two
// commands on one key append in the order they ran: the file order is a serial order of what
// clients observed, per key. EXEC holds the shards of its whole queue and appends the queue's
// records as one MULTI ... EXEC unit. Shard locks are recursive, so the handlers' own locking
// is unchanged.
//
// What is logged: only commands that changed data (the locked shards' `dirty` counters
// moved and the reply is not an error), in Redis's propagated form: relative and
// clock-dependent commands by their effect (SET ... PXAT, PEXPIREAT, PERSIST, DEL), random ones
// by their effect (SPOP -> SREM), float increments by their result (INCRBYFLOAT -> SET KEEPTTL,
// HINCRBYFLOAT -> HSET). Expirations and evictions are logged as DEL by PersistenceEvents,
// under the shard lock of the key.

#if canImport(Glibc)
import Glibc
#endif

extension Client {
    /// Redis's writeCommandsGetDiskErrorMessage for the AOF.
    func misconfError(_ errnoValue: Int32) -> String {
        "MISCONF Errors writing to the AOF file: " + String(cString: strerror(errnoValue))
    }
}

enum AOFCommandLog {
    /// Redis's disk-error rule (processCommand): while the file cannot be written, write
    /// commands are refused with -MISCONF, also when they would be queued in MULTI (which then
    /// fails with EXECABORT). Replies the error and returns true when refusing.
    static func refusesWrite(_ c: Client) -> Bool {
        let failure = c.server.aof.writeErrno.load(ordering: .relaxed)
        guard failure != 0 else { return false }
        c.reply.error(string: c.misconfError(failure))
        return true
    }

    static func execute(_ c: Client, _ spec: CommandSpec, _ args: Arguments) {
        if spec.name == "exec" {
            execTransaction(c, spec, args)
            return
        }
        // Queued before the error began, run by EXEC after it: refused one by one.
        if refusesWrite(c) { return }
        let ks = c.keyspace
        let db = c.db
        if spec.firstKey == 0 || args.count <= spec.firstKey {
            ks.withAllShards { run(c, spec, args, db, ks.shards) }
        } else if spec.lastKey == spec.firstKey {
            let shard = ks.shard(for: args[spec.firstKey])
            shard.lock.lock()
            run(c, spec, args, db, CollectionOfOne(shard))
            shard.lock.unlock()
        } else {
            let last = spec.lastKey < 0 ? args.count + spec.lastKey : min(spec.lastKey, args.count - 1)
            var indices: [Int] = []
            var i = spec.firstKey
            while i <= last {
                indices.append(ks.shardIndex(args[i]))
                i += max(spec.keyStep, 1)
            }
            ks.withShards(indices) { run(c, spec, args, db, indices.map { ks.shards[$0] }) }
        }
        c.aofPending = true
    }

    /// Runs the handler with `shards` locked and appends its record if it changed data.
    @inline(__always)
    private static func run<S: Collection>(_ c: Client, _ spec: CommandSpec,
                                           _ args: Arguments, _ db: Int, _ shards: S) where S.Element == Shard {
        var before: UInt64 = 0
        for s in shards { before &+= s.dirty }
        // SPOP's record names the members it removed: remember the set it started from.
        let previous: Value? = spec.name == "spop" ? liveValue(c, args, 1, db) : nil
        let mark = c.output.writerIndex
        spec.handler(c, args)
        var after: UInt64 = 0
        for s in shards { after &+= s.dirty }
        guard after != before else { return }
        if c.output.writerIndex > mark && c.output.base[mark] == UInt8(ascii: "-") { return }
        if !needsTranslation(spec.name) {
            if c.aofCapture == nil {
                c.server.aof.append(db: db, arguments: args)
            } else {
                var r = AOFRecord()
                r.header(args.count)
                for i in 0..<args.count { r.arg(args[i]) }
                c.aofCapture!.append((db, r.bytes))
            }
            return
        }
        if byEffect(c, spec, args, db, { command in
            if c.aofCapture != nil { c.aofCapture!.append((db, command.bytes)) } else { c.server.aof.append(db: db, command: command) }
        }) { return }
        guard let record = record(c, spec, args, db, previous: previous) else { return }
        if c.aofCapture != nil {
            c.aofCapture!.append((db, record.bytes))
        } else {
            c.server.aof.append(db: db, record)
        }
    }

    /// EXEC: the whole queue's shards (and the WATCHed ones) stay locked while the queue runs
    /// and its records are appended as one unit.
    private static func execTransaction(_ c: Client, _ spec: CommandSpec, _ args: Arguments) {
        guard let multi = c.multi, !multi.failed else {
            spec.handler(c, args)
            return
        }
        let ks = c.keyspace
        let shards = shardsTouched(by: multi.queued, c) + c.watched.map(\.shard)
        ks.withShards(shards) {
            c.aofCapture = []
            spec.handler(c, args)
            let records = c.aofCapture ?? []
            c.aofCapture = nil
            if !records.isEmpty { c.server.aof.appendTransaction(records) }
        }
        c.aofPending = true
    }

    /// The key's value if it exists and has not expired (caller holds its shard lock).
    private static func liveValue(_ c: Client, _ args: Arguments, _ i: Int, _ db: Int) -> Value? {
        let shard = c.keyspace.shard(for: args[i])
        guard let e = shard.tables[db][Key(args[i])], !e.isExpired(c.now) else { return nil }
        return e.value
    }

    private static func entry(_ c: Client, _ args: Arguments, _ i: Int, _ db: Int) -> Entry? {
        let shard = c.keyspace.shard(for: args[i])
        guard let e = shard.tables[db][Key(args[i])], !e.isExpired(c.now) else { return nil }
        return e
    }

    /// Commands logged by their effect rather than as sent.
    @inline(__always) private static func needsTranslation(_ name: String) -> Bool {
        switch name {
        case "set", "setex", "psetex", "setnx", "getset", "incrbyfloat", "expire", "pexpire", "expireat",
             "pexpireat", "persist", "getex", "getdel", "hincrbyfloat", "spop": return true
        default: return false
        }
    }

    /// The string-setting and TTL commands, logged by the key's resulting state without
    /// allocating. Returns false for the commands `record` handles.
    private static func byEffect(_ c: Client, _ spec: CommandSpec, _ args: Arguments, _ db: Int,
                                 _ emit: (AOFCommand) -> Void) -> Bool {
        let key = args[1]
        switch spec.name {
        case "set", "setex", "psetex", "setnx", "getset", "incrbyfloat":
            guard let e = entry(c, args, 1, db), case .string(let v) = e.value else {
                emit(AOFCommand(name: "DEL", key: key))
                return true
            }
            v.withUnsafeBytes { value in
                if e.expireAt != 0 {
                    emit(AOFCommand(name: "SET", key: key, value: value, option: "PXAT", number: e.expireAt))
                } else if spec.name == "incrbyfloat" {
                    emit(AOFCommand(name: "SET", key: key, value: value, option: "KEEPTTL"))
                } else {
                    emit(AOFCommand(name: "SET", key: key, value: value))
                }
            }
            return true
        case "expire", "pexpire", "expireat", "pexpireat", "persist", "getex":
            if spec.name == "getex" && args.count == 2 { return true }
            guard let e = entry(c, args, 1, db) else {
                emit(AOFCommand(name: "DEL", key: key))
                return true
            }
            if e.expireAt != 0 {
                emit(AOFCommand(name: "PEXPIREAT", key: key, number: e.expireAt))
            } else {
                emit(AOFCommand(name: "PERSIST", key: key))
            }
            return true
        case "getdel":
            emit(AOFCommand(name: "DEL", key: key))
            return true
        default:
            return false
        }
    }

    /// The command's log form, or nil when it needs none.
    static func record(_ c: Client, _ spec: CommandSpec, _ args: Arguments, _ db: Int, previous: Value?) -> AOFRecord? {
        var r = AOFRecord()
        switch spec.name {
        case "hincrbyfloat":
            guard let e = entry(c, args, 1, db), case .hash(let h) = e.value else { return nil }
            guard let v = h.withValue(args[2], { $0.map { Array($0) } }) else { return nil }
            r.command("HSET", [args.bytes(1), args.bytes(2), v])
        case "spop":
            guard case .set(let before)? = previous else { return nil }
            var remaining: SetValue? = nil
            if let e = entry(c, args, 1, db), case .set(let s) = e.value { remaining = s }
            var removed: [[UInt8]] = [args.bytes(1)]
            before.forEach { m in
                if !(remaining?.contains(m) ?? false) { removed.append(Array(m)) }
            }
            guard removed.count > 1 else { return nil }
            r.command("SREM", removed)
        default:
            r.header(args.count)
            for i in 0..<args.count { r.arg(args[i]) }
        }
        return r
    }
}

/// Forwards key events to the keyspace notifier, and logs expirations and evictions as DEL
/// (Redis propagates both as DEL). Runs under the key's shard lock, so the DEL takes its place
/// in the key's serial order.
final class PersistenceEvents: KeyEvents, @unchecked Sendable {
    let aof: AppendOnlyFile
    let next: KeyEvents

    init(aof: AppendOnlyFile, next: KeyEvents) {
        self.aof = aof
        self.next = next
    }

    var wantsExpirations: Bool { aof.enabled.load(ordering: .relaxed) || next.wantsExpirations }

    func keyExpired(db: Int, key: Key) {
        logDeletion(db, key)
        next.keyExpired(db: db, key: key)
    }

    func keyEvicted(db: Int, key: Key) {
        logDeletion(db, key)
        next.keyEvicted(db: db, key: key)
    }

    /// Changes a shard makes on its own (a dead session's member leaving its user's set) are
    /// passed on for notifications but not logged: the event does not carry the member. After
    /// a restart such a set can still list the dead session; SESSION.LIST / REVOKEALL / CREATE
    /// prune those members (docs/PERSISTENCE.md).
    func keyChanged(db: Int, key: Key, class cls: NotifyClass, event: String) {
        next.keyChanged(db: db, key: key, class: cls, event: event)
    }

    @inline(__always) private func logDeletion(_ db: Int, _ key: Key) {
        guard aof.enabled.load(ordering: .relaxed) else { return }
        var r = AOFRecord()
        r.command("DEL", [key.bytes])
        aof.append(db: db, r)
    }
}
