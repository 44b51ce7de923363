// Introspection of single keys (Redis object.c): OBJECT ENCODING / REFCOUNT / IDLETIME / FREQ
// and MEMORY USAGE. None of them counts as an access (Redis's LOOKUP_NOTOUCH): they read the
// entry without stamping its LRU clock.
//
// - ENCODING names the representation Sesame really uses: "listpack" for a packed hash or set,
//   "hashtable" for a table; for strings it applies Redis's rule (int for a canonical int64,
//   embstr up to 44 bytes, raw beyond), since Sesame stores every string as bytes.
// - REFCOUNT is 1: values are not shared between keys in a way a client could observe.
// - IDLETIME comes from the entry's LRU clock (1.024 s resolution, as the eviction code keeps it).
// - FREQ needs an LFU policy, which Sesame does not have: it errors as Redis does without one.
// - MEMORY USAGE is the figure maxmemory accounting charges the key (Entry.cost: key bytes,
//   value bytes and container overhead), an estimate in the spirit of Redis's; SAMPLES is
//   accepted and ignored (nothing is sampled: the figure is kept current on every write).

let objectCommands: [CommandSpec] = [
    CommandSpec("object", arity: -2, flags: [], categories: ["@slow"], handler: objectCommand),
    CommandSpec("memory", arity: -2, flags: [], categories: ["@slow"], handler: memoryCommand),
]

/// The live entry for the key argument at `i`, without touching its LRU clock (an expired key
/// is deleted and reported missing, as lookups do).
func peekEntry(_ c: Client, _ args: Arguments, _ i: Int) -> Entry? {
    let now = c.now
    return c.withKey(args, i) { shard, key in
        guard let e = shard.tables[c.db][key] else { return nil }
        if e.isExpired(now) { return shard.lookup(c.db, key, now: now) }
        return e
    }
}

/// Redis's encoding names for a value.
func encodingName(_ v: Value) -> StaticString {
    switch v {
    case .string(let s):
        if s.count <= 20 && parseStrictInt64(s) != nil { return "int" }
        return s.count <= 44 ? "embstr" : "raw"
    case .hash(let h): return h.isPacked ? "listpack" : "hashtable"
    case .set(let s): return s.isPacked ? "listpack" : "hashtable"
    }
}

func objectCommand(_ c: Client, _ args: Arguments) {
    Dispatcher.subcommand(c, args, parent: "object", [
        ("encoding", 3, { c, a in
            guard let e = peekEntry(c, a, 2) else { c.reply.null(); return }
            c.reply.bulk(encodingName(e.value))
        }),
        ("refcount", 3, { c, a in
            guard peekEntry(c, a, 2) != nil else { c.reply.null(); return }
            c.reply.integer(1)
        }),
        ("idletime", 3, { c, a in
            guard let e = peekEntry(c, a, 2) else { c.reply.null(); return }
            let ticks = Int64(Entry.lruTick(c.now) &- e.accessed)
            c.reply.integer(ticks * 1024 / 1000)
        }),
        ("freq", 3, { c, a in
            guard peekEntry(c, a, 2) != nil else { c.reply.null(); return }
            c.reply.error("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
        }),
        ("help", 2, { c, _ in
            replyHelp(c, ["OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                          "ENCODING <key>",
                          "    Return the kind of internal representation used in order to store the value",
                          "    associated with a <key>.",
                          "FREQ <key>",
                          "    Return the access frequency index of the <key>. The returned integer is",
                          "    proportional to the logarithm of the recent access frequency of the key.",
                          "IDLETIME <key>",
                          "    Return the idle time of the <key>, that is the approximated number of",
                          "    seconds elapsed since the last access to the key.",
                          "REFCOUNT <key>",
                          "    Return the number of references of the value associated with the specified",
                          "    <key>.",
                          "HELP",
                          "    Prints this help."])
        }),
    ])
}

func memoryCommand(_ c: Client, _ args: Arguments) {
    Dispatcher.subcommand(c, args, parent: "memory", [
        ("usage", -3, { c, a in
            var j = 3
            while j < a.count {
                if a.matches(j, "samples") && j + 1 < a.count {
                    guard let n = IntegerArgument.int64(c, a, j + 1) else { return }
                    if n < 0 { c.reply.error(RedisError.syntax); return }
                    j += 2
                } else {
                    c.reply.error(RedisError.syntax)
                    return
                }
            }
            let key = a.key(2)
            guard let e = peekEntry(c, a, 2) else { c.reply.null(); return }
            c.reply.integer(e.cost(key))
        }),
        ("help", 2, { c, _ in
            replyHelp(c, ["MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                          "USAGE <key> [SAMPLES <count>]",
                          "    Return memory in bytes used by <key> and its value. Nested values are",
                          "    sampled up to <count> times (default: 5, 0 means sample all).",
                          "HELP",
                          "    Prints this help."])
        }),
    ])
}

/// A HELP reply: one status line per entry.
func replyHelp(_ c: Client, _ lines: [String]) {
    c.reply.arrayHeader(lines.count)
    for l in lines { c.reply.simple(string: l) }
}
