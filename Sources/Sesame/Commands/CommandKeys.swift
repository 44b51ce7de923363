// COMMAND GETKEYS (Redis getKeysSubcommandImpl): which arguments of a command are keys. Cluster
// clients use key positions to route; here they come from each CommandSpec's (first, last,
// step) triple, as COMMAND INFO reports it, plus the few commands whose keys move: SINTERCARD
// (a key count first) and the OBJECT / MEMORY subcommands that take a key.

/// Subcommands of container commands that take a key, and where (index in the full command).
private let keyedSubcommands: [String: [String: Int]] = [
    "object": ["encoding": 2, "refcount": 2, "idletime": 2, "freq": 2],
    "memory": ["usage": 2],
]

/// Subcommand arities for the keyed subcommands above (Redis's `object|encoding` etc.).
private let keyedSubcommandArity: [String: Int] = [
    "encoding": 3, "refcount": 3, "idletime": 3, "freq": 3, "usage": -3,
]

/// Containers: commands whose first argument names a subcommand.
private let containerCommands: Set<String> = ["object", "memory", "config", "client", "command", "slowlog", "debug", "pubsub"]

enum KeyPositions {
    case keys([Int])
    case error(StaticString)
}

/// The key positions in `args[offset...]` (a command and its arguments), or Redis's error text.
func commandKeyPositions(_ table: CommandTable, _ args: Arguments, offset: Int) -> KeyPositions {
    let argc = args.count - offset
    guard let spec = table.lookup(args[offset]) else { return .error("ERR Invalid command specified") }
    @inline(__always) func arityOK(_ arity: Int) -> Bool { arity >= 0 ? argc == arity : argc >= -arity }
    if containerCommands.contains(spec.name) && argc >= 2 {
        let sub = String(decoding: args[offset + 1], as: UTF8.self).lowercased()
        guard let position = keyedSubcommands[spec.name]?[sub] else {
            return .error("ERR The command has no key arguments")
        }
        guard arityOK(keyedSubcommandArity[sub]!) else {
            return .error("ERR Invalid number of arguments specified for command")
        }
        return .keys([offset + position])
    }
    if spec.name == "sintercard" {
        guard arityOK(spec.arity) else { return .error("ERR Invalid number of arguments specified for command") }
        // keynum spec: the count at 1, keys from 2.
        guard let n = parseStrictInt64(args[offset + 1]), n > 0, n <= Int64(argc - 2) else {
            return .error("ERR Invalid arguments specified for command")
        }
        return .keys((0..<Int(n)).map { offset + 2 + $0 })
    }
    if spec.firstKey == 0 { return .error("ERR The command has no key arguments") }
    guard arityOK(spec.arity) else { return .error("ERR Invalid number of arguments specified for command") }
    let last = spec.lastKey < 0 ? argc + spec.lastKey : min(spec.lastKey, argc - 1)
    let step = max(spec.keyStep, 1)
    var positions: [Int] = []
    var i = spec.firstKey
    while i <= last {
        positions.append(offset + i)
        i += step
    }
    if positions.isEmpty { return .error("ERR Invalid arguments specified for command") }
    return .keys(positions)
}

/// COMMAND GETKEYS command [arg ...]
func commandGetKeys(_ c: Client, _ args: Arguments) {
    switch commandKeyPositions(c.server.commands, args, offset: 2) {
    case .error(let e): c.reply.error(e)
    case .keys(let positions):
        c.reply.arrayHeader(positions.count)
        for p in positions { c.reply.bulk(args[p]) }
    }
}
