// Runs one parsed command for a client: look it up, check arity, authentication and
// maxmemory (Redis's order), call the handler. Every reply a command produces goes to the
// client's output buffer; the event loop writes that buffer once per wake-up.

public enum Dispatcher {
    @inline(__always)
    public static func execute(_ client: Client, _ args: Arguments) {
        if client.server.faultsArmed.load(ordering: .relaxed), let message = client.server.takeInjectedFailure() {
            client.reply.error(string: message)
            return
        }
        guard let ref = client.server.commands.lookupUnretained(args[0]) else {
            client.reply.error(RedisError.unknownCommandText(args))
            client.failMulti()
            return
        }
        ref._withUnsafeGuaranteedRef { execute(client, $0, args) }
    }

    @inline(__always)
    static func execute(_ client: Client, _ spec: CommandSpec, _ args: Arguments) {
        if !spec.arityOK(args.count) {
            client.reply.error(string: RedisError.arity(spec.name))
            client.failMulti()
            return
        }
        if !client.authenticated && !spec.flags.contains(.noAuth) {
            client.reply.error(RedisError.noAuth)
            client.failMulti()
            return
        }
        if client.isSubscribed && !client.resp3 && !allowedWhileSubscribed(spec.name) {
            client.reply.error(string: "ERR Can't execute '\(spec.name)': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context")
            return
        }
        if client.server.cluster.checksSlots.load(ordering: .relaxed) && !ClusterSlotCheck.admit(client, spec, args) {
            return
        }
        if client.server.eviction.maxMemory != 0 && overMaxMemory(client, spec) {
            client.reply.error(RedisError.oom)
            client.failMulti()
            return
        }
        if spec.flags.contains(.write) && client.server.aof.enabled.load(ordering: .relaxed) && AOFCommandLog.refusesWrite(client) {
            client.failMulti()
            return
        }
        if client.inMulti && !runsInsideMulti(spec.name) {
            client.queueInMulti(OwnedArguments(args.toArrays()))
            client.reply.simple("QUEUED")
            return
        }
        client.noteCommand(spec)
        if client.server.monitors.count.load(ordering: .relaxed) > 0 {
            client.server.monitors.feed(client, args, hub: client.server.pubsub)
        }
        if client.server.tracking.active.load(ordering: .relaxed) != 0 {
            executeTracked(client, spec, args)
            return
        }
        runHandler(client, spec, args)
    }

    /// The handler, through the append-only file's logging path when appendonly is on and the
    /// command can write (client tracking wraps this too).
    @inline(__always)
    static func runHandler(_ client: Client, _ spec: CommandSpec, _ args: Arguments) {
        if client.server.aof.enabled.load(ordering: .relaxed) && (spec.flags.contains(.write) || spec.name == "exec") {
            AOFCommandLog.execute(client, spec, args)
            return
        }
        spec.handler(client, args)
    }

    /// Redis's processCommand OOM rule: with maxmemory set, a command that may grow memory
    /// (denyoom), any command queued inside MULTI, and an EXEC whose queue holds a denyoom
    /// command are refused when eviction cannot bring memory under the limit.
    @inline(never)
    static func overMaxMemory(_ client: Client, _ spec: CommandSpec) -> Bool {
        var growsMemory = spec.flags.contains(.denyOOM)
        if !growsMemory, let multi = client.multi {
            if spec.name == "exec" {
                growsMemory = multi.queued.contains { command in
                    command.withArguments { client.server.commands.lookup($0[0])?.flags.contains(.denyOOM) ?? false }
                }
            } else {
                growsMemory = !["discard", "quit", "reset"].contains(spec.name)
            }
        }
        return growsMemory && !client.server.eviction.admit()
    }

    /// Subcommand dispatch for container commands (CLIENT, COMMAND, ...): arity per
    /// subcommand, Redis's `parent|sub` name in arity errors, and its unknown-subcommand text.
    public static func subcommand(_ client: Client, _ args: Arguments, parent: String,
                                  _ table: [(name: StaticString, arity: Int, handler: SubcommandHandler)]) {
        for entry in table where args.matches(1, entry.name) {
            let ok = entry.arity >= 0 ? args.count == entry.arity : args.count >= -entry.arity
            if !ok {
                client.reply.error(string: RedisError.arity("\(parent)|\(entry.name.description)"))
                return
            }
            client.lastCommandName = "\(parent)|\(entry.name.description)"
            entry.handler(client, args)
            return
        }
        client.reply.error(RedisError.unknownSubcommandText(args[1], parent: parent))
    }
}
