// DEBUG: off unless `enable-debug-command` is set, as in Redis. Sesame's extension is clock
// control for test suites in other languages, which drive the server binary over the wire:
//   DEBUG ADVANCE-TIME <ms>     move the server clock forward
//   DEBUG SET-TIME <unix-ms>    set the server clock (never backwards)
// Both run active expiry before replying, so expired keys are gone when the reply arrives.

let debugCommands: [CommandSpec] = [
    CommandSpec("debug", arity: -2, flags: [.admin, .noScript, .loading, .stale], categories: ["@admin", "@slow", "@dangerous"], handler: debugCommand),
]

func debugCommand(_ c: Client, _ args: Arguments) {
    guard c.server.configuration.enableDebugCommand else {
        c.reply.error("ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.")
        return
    }
    Dispatcher.subcommand(c, args, parent: "debug", [
        ("advance-time", 3, { c, a in
            guard let ms = a.int64(2), ms >= 0 else { c.reply.error(RedisError.notInteger); return }
            guard adjustClock(c, advance: ms, set: nil) else { return }
            c.reply.integer(c.now)
        }),
        ("set-time", 3, { c, a in
            guard let target = a.int64(2), target >= 0 else { c.reply.error(RedisError.notInteger); return }
            if target < c.now { c.reply.error("ERR the clock cannot move backwards"); return }
            guard adjustClock(c, advance: nil, set: target) else { return }
            c.reply.integer(c.now)
        }),
        ("help", 2, { c, _ in
            let lines = ["DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                         "ADVANCE-TIME <milliseconds>", "    Move the server clock forward (Sesame test extension).",
                         "SET-TIME <unix-time-milliseconds>", "    Set the server clock, never backwards (Sesame test extension).",
                         "HELP", "    Print this help."]
            c.reply.arrayHeader(lines.count)
            for l in lines { c.reply.simple(string: l) }
        }),
    ])
}

private func adjustClock(_ c: Client, advance: Int64?, set: Int64?) -> Bool {
    let clock = c.keyspace.clock
    if let manual = clock as? ManualClock {
        if let advance { manual.advance(milliseconds: advance) }
        if let set { manual.set(milliseconds: set) }
    } else if let offset = clock as? OffsetClock {
        if let advance { offset.advance(milliseconds: advance) }
        if let set { offset.set(milliseconds: set) }
    } else {
        c.reply.error("ERR this server's clock cannot be moved")
        return false
    }
    while c.keyspace.expireCycle(first: 0, stride: 1, budget: Int.max) {}
    return true
}
