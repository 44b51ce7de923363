// Server-level commands (Redis server.c / db.c / slowlog.c): TIME, LASTSAVE, SLOWLOG, SWAPDB.
//
// - TIME reads the server clock, the one TTLs use, so a test that moves a ManualClock (or
//   DEBUG ADVANCE-TIME) sees TIME move with its keys' deadlines. Millisecond resolution.
// - LASTSAVE: the last AOF rewrite or load (PersistenceCommands), else the start time.
// - SLOWLOG is always empty: Sesame does not time individual commands. GET/LEN/RESET answer as
//   Redis does with an empty log, so tools that poll it work.
// - SWAPDB exchanges two databases atomically (every shard locked). It moves each key of both
//   databases through the shard's accounting, so it costs O(keys in both) where Redis's is
//   O(1) (docs/COMMANDS.md).

let adminCommands: [CommandSpec] = [
    CommandSpec("time", arity: 1, flags: [.loading, .stale, .fast], categories: ["@fast"], handler: timeCommand),
    CommandSpec("lastsave", arity: 1, flags: [.loading, .stale, .fast], categories: ["@admin", "@fast", "@dangerous"], handler: { c, _ in
        c.reply.integer(lastSaveSeconds(c.server))
    }),
    CommandSpec("slowlog", arity: -2, flags: [], categories: ["@slow"], handler: slowlogCommand),
    CommandSpec("swapdb", arity: 3, flags: [.write, .fast], categories: ["@keyspace", "@write", "@fast", "@dangerous"], handler: swapdbCommand),
]

func timeCommand(_ c: Client, _ args: Arguments) {
    let ms = c.now
    c.reply.arrayHeader(2)
    c.reply.bulk(string: String(ms / 1000))
    c.reply.bulk(string: String((ms % 1000) * 1000))
}

func slowlogCommand(_ c: Client, _ args: Arguments) {
    Dispatcher.subcommand(c, args, parent: "slowlog", [
        ("get", -2, { c, a in
            if a.count > 3 {
                var t = ErrorText("ERR unknown subcommand or wrong number of arguments for '")
                t.appendArgument(a[1], limit: 128)
                t.append("'. Try SLOWLOG HELP.")
                c.reply.error(t)
                return
            }
            if a.count == 3 {
                guard IntegerArgument.inRange(c, a, 2, -1...Int64.max, message: "count should be greater than or equal to -1") != nil else { return }
            }
            c.reply.arrayHeader(0)
        }),
        ("len", 2, { c, _ in c.reply.integer(0) }),
        ("reset", 2, { c, _ in c.reply.ok() }),
        ("help", 2, { c, _ in
            replyHelp(c, ["SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                          "GET [<count>]",
                          "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
                          "    Entries are made of:",
                          "    id, timestamp, time in microseconds, arguments array, client IP and port,",
                          "    client name",
                          "LEN",
                          "    Return the length of the slowlog.",
                          "RESET",
                          "    Reset the slowlog.",
                          "HELP",
                          "    Prints this help."])
        }),
    ])
}

func swapdbCommand(_ c: Client, _ args: Arguments) {
    if c.server.cluster.refusesOtherDatabases { c.reply.error("ERR SWAPDB is not allowed in cluster mode"); return }
    guard let a = IntegerArgument.int32(c, args, 1, message: "invalid first DB index"),
          let b = IntegerArgument.int32(c, args, 2, message: "invalid second DB index") else { return }
    let ks = c.keyspace
    guard a >= 0, b >= 0, a < ks.databases, b < ks.databases else { c.reply.error(RedisError.dbIndexOutOfRange); return }
    if a != b {
        let now = c.now
        ks.withAllShards {
            for shard in ks.shards { swapDatabases(shard, a, b, now: now) }
        }
    }
    c.reply.ok()
}

/// Exchanges databases `a` and `b` of one shard (lock held). Every key leaves and enters
/// through `mutate`, so memory accounting, TTL counts, WATCH versions and LRU clocks stay
/// right; each key with a TTL gets a timer-wheel record under its new database (records left
/// under the old one re-check whatever entry they find, as all wheel records do).
private func swapDatabases(_ shard: Shard, _ a: Int, _ b: Int, now: Int64) {
    let tableA = shard.tables[a], tableB = shard.tables[b]
    if tableA.isEmpty && tableB.isEmpty { return }
    for k in tableA.keys { shard.mutate(a, k, now: now) { $0 = nil } }
    for k in tableB.keys { shard.mutate(b, k, now: now) { $0 = nil } }
    for (source, target) in [(tableA, b), (tableB, a)] {
        for (k, e) in source where !e.isExpired(now) {
            shard.mutate(target, k, now: now) { slot in
                var moved = movedEntry(e)
                shard.scheduleExpiry(target, k, &moved)
                slot = moved
            }
        }
    }
}
