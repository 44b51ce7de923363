// CONFIG GET / SET / RESETSTAT / REWRITE / HELP (Redis config.c).
//
// One table lists every parameter CONFIG knows: how to read it, and for the runtime-mutable
// ones how to validate a new value into its canonical form and apply it. CONFIG SET follows
// Redis: any unknown name fails the whole command first, then immutable and duplicate names,
// then every value is validated before any is applied, so a failing CONFIG SET changes
// nothing. CONFIG GET matches globs case-insensitively (Redis's stringmatch with nocase) and
// looks plain names up directly, echoing the name as given, as Redis 7 does.
//
// What a SET changes (docs/COMMANDS.md):
// - notify-keyspace-events (the notifier's flags), maxmemory, maxmemory-policy,
//   maxmemory-samples (Eviction's atomics): effective immediately.
// - cluster-check (ClusterState): effective from the next command.
// - save, appendonly (only "no"), slowlog-log-slower-than, slowlog-max-len: accepted and
//   stored for compatibility; Sesame never persists and keeps no slow log.
// - everything else is fixed at start (config file / flags): SET answers Redis's
//   "can't set immutable config".

#if canImport(Glibc)
import Glibc
#endif

let configCommands: [CommandSpec] = [
    CommandSpec("config", arity: -2, flags: [], categories: ["@slow"], handler: configCommand),
]

typealias ConfigValidator = @Sendable (String) -> Result<String, ConfigError>

struct ConfigParameter: Sendable {
    let name: String
    let get: @Sendable (Client) -> String
    /// Validates a value: its canonical form, or Redis's reason text. nil: immutable.
    let validate: ConfigValidator?
    /// Applies a validated, canonical value.
    let apply: (@Sendable (Client, String) -> Void)?

    init(_ name: String, get: @escaping @Sendable (Client) -> String,
         validate: ConfigValidator? = nil, apply: (@Sendable (Client, String) -> Void)? = nil) {
        self.name = name
        self.get = get
        self.validate = validate
        self.apply = apply
    }
}

struct ConfigError: Error {
    let reason: String
}

/// A parameter held in RuntimeConfig.
private func runtime(_ name: String, _ validate: @escaping ConfigValidator) -> ConfigParameter {
    ConfigParameter(name, get: { $0.server.runtimeConfig.get(name) ?? "" }, validate: validate,
                    apply: { c, v in c.server.runtimeConfig.set([(name, v)]) })
}

/// A SESSION.* default (SessionDefaults), effective for the next command.
private func sessionParameter(_ name: String, _ which: SessionDefaults.Setting, _ range: ClosedRange<Int64>) -> ConfigParameter {
    ConfigParameter(name, get: { "\($0.server.sessionDefaults.get(which))" }, validate: integer(range),
                    apply: { c, v in c.server.sessionDefaults.set(which, Int(v) ?? 0) })
}

/// Redis's numeric config check: an integer (strict, as string2ll) within `range`.
private func integer(_ range: ClosedRange<Int64>) -> ConfigValidator {
    { v in
        guard let n = parseStrictInt64(Array(v.utf8)) else { return .failure(ConfigError(reason: "argument couldn't be parsed into an integer")) }
        guard range.contains(n) else {
            return .failure(ConfigError(reason: "argument must be between \(range.lowerBound) and \(range.upperBound) inclusive"))
        }
        return .success(String(n))
    }
}

/// `save`: "" or pairs of <seconds> <changes>, normalized to single spaces.
private func saveParams(_ v: String) -> Result<String, ConfigError> {
    let parts = v.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
    if parts.count % 2 != 0 || parts.contains(where: { parseStrictInt64(Array($0.utf8)).map { $0 < 0 } ?? true }) {
        return .failure(ConfigError(reason: "Invalid save parameters"))
    }
    return .success(parts.joined(separator: " "))
}

private func yesNo(_ b: Bool) -> String { b ? "yes" : "no" }

/// Every parameter CONFIG GET knows, in the order CONFIG GET * lists them.
let configParameters: [ConfigParameter] = [
    ConfigParameter("port", get: { "\($0.server.boundPort.load(ordering: .relaxed))" }),
    ConfigParameter("bind", get: { $0.server.configuration.bindAddresses.joined(separator: " ") }),
    ConfigParameter("databases", get: { "\($0.server.configuration.databases)" }),
    ConfigParameter("io-threads", get: { "\($0.server.configuration.threads)" }),
    ConfigParameter("maxclients", get: { "\($0.server.configuration.maxClients)" }),
    ConfigParameter("maxmemory", get: { "\($0.server.eviction.maxMemory)" }, validate: { v in
        guard let n = parseMemory(v), n >= 0 else { return .failure(ConfigError(reason: "argument must be a memory value")) }
        return .success(String(n))
    }, apply: { c, v in c.server.eviction.maxMemory = Int(v) ?? 0 }),
    ConfigParameter("maxmemory-policy", get: { $0.server.eviction.policy.rawValue }, validate: { v in
        guard let p = EvictionPolicy(rawValue: v.lowercased()) else {
            // Redis's order; Sesame has no LFU policies, so they are not offered.
            let order: [EvictionPolicy] = [.volatileLRU, .volatileRandom, .volatileTTL, .allKeysLRU, .allKeysRandom, .noEviction]
            return .failure(ConfigError(reason: "argument(s) must be one of the following: "
                                        + order.map(\.rawValue).joined(separator: ", ")))
        }
        return .success(p.rawValue)
    }, apply: { c, v in c.server.eviction.policy = EvictionPolicy(rawValue: v)! }),
    ConfigParameter("maxmemory-samples", get: { "\($0.server.eviction.samples)" }, validate: integer(1...Int64(Int32.max)),
                    apply: { c, v in c.server.eviction.samples = Int(v) ?? 5 }),
    ConfigParameter("requirepass", get: { $0.server.configuration.requirePass ?? "" }),
    ConfigParameter("protected-mode", get: { yesNo($0.server.configuration.protectedMode) }),
    ConfigParameter("timeout", get: { "\($0.server.configuration.idleTimeoutSeconds)" }),
    ConfigParameter("tcp-keepalive", get: { "\($0.server.configuration.tcpKeepAliveSeconds)" }),
    ConfigParameter("loglevel", get: { $0.server.configuration.logLevel.rawValue }),
    ConfigParameter("proto-max-bulk-len", get: { "\($0.server.configuration.limits.maxBulkLength)" }),
    ConfigParameter("daemonize", get: { _ in "no" }),
    ConfigParameter("dir", get: { c in
        var buf = [CChar](repeating: 0, count: 4096)
        guard realpath(c.server.configuration.dir, &buf) != nil else { return c.server.configuration.dir }
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }),
    ConfigParameter("hash-max-listpack-entries", get: { _ in "\(PackedLimits.maxEntries)" }),
    ConfigParameter("hash-max-listpack-value", get: { _ in "\(PackedLimits.maxElementBytes)" }),
    ConfigParameter("set-max-listpack-entries", get: { _ in "\(PackedLimits.maxEntries)" }),
    ConfigParameter("set-max-listpack-value", get: { _ in "\(PackedLimits.maxElementBytes)" }),
    ConfigParameter("notify-keyspace-events", get: { $0.server.notifyKeyspaceEvents }, validate: { v in
        guard NotifyClass(flags: v) != nil else {
            return .failure(ConfigError(reason: "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."))
        }
        return .success(v)
    }, apply: { c, v in _ = c.server.setNotifyKeyspaceEvents(v) }),
    ConfigParameter("cluster-enabled", get: { yesNo($0.server.cluster.enabled) }),
    ConfigParameter("cluster-announce-ip", get: { $0.server.cluster.announceIP ?? "" }),
    ConfigParameter("cluster-check", get: { yesNo($0.server.cluster.checkEnabled) }, validate: { v in
        switch v.lowercased() {
        case "yes", "no": return .success(v.lowercased())
        default: return .failure(ConfigError(reason: "argument must be 'yes' or 'no'"))
        }
    }, apply: { c, v in c.server.cluster.setCheck(v == "yes") }),
    sessionParameter("session-idle-timeout", .idle, 0...Int64(SessionDefaults.maxSeconds)),
    sessionParameter("session-absolute-timeout", .absolute, 0...Int64(SessionDefaults.maxSeconds)),
    sessionParameter("session-max-devices", .maxDevices, 0...Int64(SessionDefaults.maxDevicesLimit)),
    ConfigParameter("tracking-table-max-keys", get: { "\($0.server.tracking.maxKeys.load(ordering: .relaxed))" },
                    validate: integer(0...Int64.max),
                    apply: { c, v in c.server.tracking.maxKeys.store(Int(v) ?? 0, ordering: .relaxed) }),
    runtime("save", saveParams),
] + persistenceConfigParameters + [
    runtime("slowlog-log-slower-than", integer(-1...Int64.max)),
    runtime("slowlog-max-len", integer(0...Int64.max)),
]

private func lookupParameter(_ name: UnsafeRawBufferPointer) -> ConfigParameter? {
    let lower = String(decoding: name, as: UTF8.self).lowercased()
    return configParameters.first { $0.name == lower }
}

func configCommand(_ c: Client, _ args: Arguments) {
    Dispatcher.subcommand(c, args, parent: "config", [
        ("get", -3, configGet),
        ("set", -4, configSet),
        ("resetstat", 2, { c, _ in
            c.flushStats()
            resetStats(c.server)
            c.reply.ok()
        }),
        ("rewrite", 2, { c, _ in
            if c.server.configuration.configFile == nil {
                c.reply.error("ERR The server is running without a config file")
            } else {
                c.reply.error("ERR Rewriting config file: not supported by Sesame")
            }
        }),
        ("help", 2, { c, _ in
            replyHelp(c, ["CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                          "GET <pattern>",
                          "    Return parameters matching the glob-like <pattern> and their values.",
                          "SET <directive> <value>",
                          "    Set the configuration <directive> to <value>.",
                          "RESETSTAT",
                          "    Reset statistics reported by the INFO command.",
                          "REWRITE",
                          "    Rewrite the configuration file.",
                          "HELP",
                          "    Prints this help."])
        }),
    ])
}

private func configGet(_ c: Client, _ a: Arguments) {
    var matched: [(name: [UInt8], parameter: ConfigParameter)] = []
    func seen(_ p: ConfigParameter) -> Bool { matched.contains { $0.parameter.name == p.name } }
    for i in 2..<a.count {
        let pattern = a[i]
        if !pattern.contains(where: { $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "[") }) {
            if let p = lookupParameter(pattern), !seen(p) { matched.append((Array(pattern), p)) }
            continue
        }
        for p in configParameters where !seen(p) {
            if Array(p.name.utf8).withUnsafeBytes({ stringMatch(pattern, $0, nocase: true) }) {
                matched.append((Array(p.name.utf8), p))
            }
        }
    }
    c.reply.mapHeader(matched.count)
    for (name, p) in matched {
        c.reply.bulk(name)
        c.reply.bulk(string: p.get(c))
    }
}

private func configSet(_ c: Client, _ a: Arguments) {
    if a.count % 2 != 0 { c.reply.error(string: RedisError.arity("config|set")); return }
    var chosen: [(ConfigParameter, String)] = []
    var unknown: Int? = nil
    var failure: (argument: Int, reason: String)? = nil
    for i in stride(from: 2, to: a.count, by: 2) {
        guard let p = lookupParameter(a[i]) else {
            if unknown == nil { unknown = i }
            continue
        }
        if unknown != nil || failure != nil { continue }
        if p.validate == nil {
            failure = (i, "can't set immutable config")
        } else if chosen.contains(where: { $0.0.name == p.name }) {
            failure = (i, "duplicate parameter")
        }
        chosen.append((p, a.string(i + 1)))
    }
    if let unknown {
        var t = ErrorText("ERR Unknown option or number of arguments for CONFIG SET - '")
        t.appendArgument(a[unknown])
        t.append("'")
        c.reply.error(t)
        return
    }
    if let failure {
        var t = ErrorText("ERR CONFIG SET failed (possibly related to argument '")
        t.appendArgument(a[failure.argument])
        t.append("') - ")
        t.append(string: failure.reason)
        c.reply.error(t)
        return
    }
    var canonical: [(ConfigParameter, String)] = []
    for (p, value) in chosen {
        switch p.validate!(value) {
        case .success(let v): canonical.append((p, v))
        case .failure(let e):
            c.reply.error(string: "ERR CONFIG SET failed (possibly related to argument '\(p.name)') - \(e.reason)")
            return
        }
    }
    for (p, v) in canonical { p.apply?(c, v) }
    c.reply.ok()
}

/// CONFIG RESETSTAT: zeroes the counters INFO reports, as Redis's resetServerStats.
func resetStats(_ server: ServerState) {
    for s in server.loopStats {
        s.commands.store(0, ordering: .relaxed)
        s.netInputBytes.store(0, ordering: .relaxed)
        s.netOutputBytes.store(0, ordering: .relaxed)
        s.keyspaceHits.store(0, ordering: .relaxed)
        s.keyspaceMisses.store(0, ordering: .relaxed)
        s.eventloopCycles.store(0, ordering: .relaxed)
        s.eventloopDurationSum.store(0, ordering: .relaxed)
        s.eventloopDurationMax.store(0, ordering: .relaxed)
        s.expiryDurationMax.store(0, ordering: .relaxed)
    }
    server.totalConnections.store(0, ordering: .relaxed)
    server.rejectedConnections.store(0, ordering: .relaxed)
    server.authFailures.store(0, ordering: .relaxed)
    server.eviction.evictedKeys.store(0, ordering: .relaxed)
    for shard in server.keyspace.shards {
        shard.lock.withLock { shard.expiredKeys = 0 }
    }
}
