// Transactions (Redis multi.c): MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//
// EXEC is atomic with respect to every other client even across shards: it locks, in ascending
// order, the shards of every key its queued commands name (all shards when a queued command
// works on the whole keyspace, such as KEYS or FLUSHDB), checks WATCHed versions, and runs the
// queue while holding them. Handlers lock their shards again; the locks are recursive.
//
// WATCH keeps a per-key version in the key's shard, bumped under the shard lock by every write,
// deletion, flush and expiry of that key, so a write from a client on any thread between WATCH
// and EXEC is always seen. It is conservative where Redis is exact: a write command that leaves
// the key unchanged (SADD of an existing member) still counts as a change.

let transactionCommands: [CommandSpec] = [
    CommandSpec("multi", arity: 1, flags: [.fast, .noScript, .loading, .stale], categories: ["@fast", "@transaction"], handler: multiCommand),
    CommandSpec("exec", arity: 1, flags: [.noScript, .loading, .stale], categories: ["@slow", "@transaction"], handler: execCommand),
    CommandSpec("discard", arity: 1, flags: [.fast, .noScript, .loading, .stale], categories: ["@fast", "@transaction"], handler: discardCommand),
    CommandSpec("watch", arity: -2, flags: [.fast, .noScript, .loading, .stale], keys: (1, -1, 1), categories: ["@fast", "@transaction"], handler: watchCommand),
    CommandSpec("unwatch", arity: 1, flags: [.fast, .noScript, .loading, .stale], categories: ["@fast", "@transaction"], handler: { c, _ in c.unwatchAll(); c.reply.ok() }),
]

/// Commands that run at once inside MULTI instead of being queued.
func runsInsideMulti(_ name: String) -> Bool {
    name == "exec" || name == "discard" || name == "multi" || name == "watch" || name == "quit" || name == "reset"
}

func multiCommand(_ c: Client, _ args: Arguments) {
    if c.multi != nil { c.reply.error("ERR MULTI calls can not be nested"); return }
    c.multi = MultiState()
    c.reply.ok()
}

func discardCommand(_ c: Client, _ args: Arguments) {
    guard c.multi != nil else { c.reply.error("ERR DISCARD without MULTI"); return }
    c.multi = nil
    c.unwatchAll()
    c.reply.ok()
}

func watchCommand(_ c: Client, _ args: Arguments) {
    if c.multi != nil { c.reply.error("ERR WATCH inside MULTI is not allowed"); return }
    let now = c.now
    for i in 1..<args.count {
        let raw = args[i]
        let key = Key(raw)
        if c.watched.contains(where: { $0.db == c.db && $0.key == key }) { continue }
        let index = c.keyspace.shardIndex(raw)
        let shard = c.keyspace.shards[index]
        shard.lock.withLock {
            let alive = shard.tables[c.db][key].map { !$0.isExpired(now) } ?? false
            let version = shard.watch(c.db, key)
            c.addWatched(WatchedKey(db: c.db, key: key, shard: index, version: version, alive: alive))
        }
    }
    c.reply.ok()
}

func execCommand(_ c: Client, _ args: Arguments) {
    guard let multi = c.multi else { c.reply.error("ERR EXEC without MULTI"); return }
    c.multi = nil
    if multi.failed {
        c.unwatchAll()
        c.reply.error("EXECABORT Transaction discarded because of previous errors.")
        return
    }
    let ks = c.keyspace
    let shards = shardsTouched(by: multi.queued, c) + c.watched.map(\.shard)
    ks.withShards(shards) {
        let now = c.now
        let dirty = c.watched.contains { w in
            let shard = ks.shards[w.shard]
            if shard.watchVersion(w.db, w.key) != w.version { return true }
            // Logically expired since WATCH, even if nothing has deleted it yet.
            if w.alive, let e = shard.tables[w.db][w.key], e.isExpired(now) { return true }
            return false
        }
        c.unwatchAll()
        if dirty {
            c.reply.nullArray()
            return
        }
        c.reply.arrayHeader(multi.queued.count)
        for command in multi.queued {
            command.withArguments { Dispatcher.execute(c, $0) }
        }
    }
}

/// The shard indices the queued commands touch, from their key positions; every shard when a
/// command reads or writes the keyspace without naming keys (KEYS, DBSIZE, FLUSHDB, ...).
func shardsTouched(by queued: [OwnedArguments], _ c: Client) -> [Int] {
    let ks = c.keyspace
    var indices: [Int] = []
    for command in queued {
        let all: Bool = command.withArguments { args in
            guard let spec = c.server.commands.lookup(args[0]) else { return false }
            if spec.firstKey == 0 {
                return spec.flags.contains(.write) || spec.flags.contains(.readonly)
            }
            let last = spec.lastKey < 0 ? args.count + spec.lastKey : spec.lastKey
            var i = spec.firstKey
            while i <= last && i < args.count {
                indices.append(ks.shardIndex(args[i]))
                i += max(spec.keyStep, 1)
            }
            return false
        }
        if all { return Array(0..<ks.shards.count) }
    }
    return indices
}

extension Client {
    /// Releases what the connection held in shared structures (WATCHes, subscriptions).
    public func connectionClosed() {
        unwatchAll()
        multi = nil
        if isSubscribed { unsubscribeAll() }
        if server.monitors.count.load(ordering: .relaxed) > 0 { server.monitors.remove(clientID: id) }
        if let t = tracking { server.tracking.disable(t) }
    }

    /// Drops every WATCH (after EXEC, DISCARD, UNWATCH, and when the connection closes).
    public func unwatchAll() {
        guard !watched.isEmpty else { return }
        for w in watched {
            let shard = keyspace.shards[w.shard]
            shard.lock.withLock { shard.unwatch(w.db, w.key) }
        }
        watched.removeAll()
    }
}
