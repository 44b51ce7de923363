// Server commands (Redis server.c / db.c): DBSIZE, FLUSHDB, FLUSHALL, INFO, COMMAND (CONFIG is
// in ConfigCommands).

#if canImport(Glibc)
import Glibc
#endif
import CSystem

let serverCommands: [CommandSpec] = [
    CommandSpec("dbsize", arity: 1, flags: [.readonly, .fast], categories: ["@keyspace", "@read", "@fast"], handler: { c, _ in c.reply.integer(c.keyspace.keyCount(db: c.db)) }),
    CommandSpec("flushdb", arity: -1, flags: [.write], categories: ["@keyspace", "@write", "@slow", "@dangerous"], handler: { flushCommand($0, $1, all: false) }),
    CommandSpec("flushall", arity: -1, flags: [.write], categories: ["@keyspace", "@write", "@slow", "@dangerous"], handler: { flushCommand($0, $1, all: true) }),
    CommandSpec("info", arity: -1, flags: [.loading, .stale], categories: ["@slow", "@dangerous"], handler: infoCommand),
    CommandSpec("command", arity: -1, flags: [.loading, .stale], categories: ["@slow", "@connection"], handler: commandCommand),
]

func flushCommand(_ c: Client, _ args: Arguments, all: Bool) {
    if args.count > 2 || (args.count == 2 && !args.matches(1, "sync") && !args.matches(1, "async")) {
        c.reply.error(RedisError.syntax); return
    }
    c.keyspace.flush(db: all ? nil : c.db)
    c.reply.ok()
}

// MARK: - INFO

func infoCommand(_ c: Client, _ args: Arguments) {
    c.flushStats()
    let defaults = ["server", "clients", "memory", "persistence", "stats", "replication", "cpu", "cluster", "keyspace"]
    var wanted: [String] = []
    for i in 1..<max(args.count, 1) where i < args.count { wanted.append(args.string(i).lowercased()) }
    if wanted.isEmpty || wanted.contains("default") || wanted.contains("all") || wanted.contains("everything") {
        wanted = defaults
    }
    var text = ""
    for section in defaults where wanted.contains(section) {
        if !text.isEmpty { text += "\r\n" }
        text += infoSection(section, c)
    }
    c.reply.verbatim(text)
}

func infoSection(_ name: String, _ c: Client) -> String {
    let server = c.server
    let config = server.configuration
    let now = c.now
    var lines: [String] = []
    switch name {
    case "server":
        var u = utsname()
        uname(&u)
        let sysname = withUnsafeBytes(of: &u.sysname) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let release = withUnsafeBytes(of: &u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let machine = withUnsafeBytes(of: &u.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let uptime = (now - server.startedAt) / 1000
        lines = ["# Server",
                 "redis_version:\(redisCompatibleVersion)",
                 "redis_git_sha1:00000000",
                 "redis_git_dirty:0",
                 "redis_build_id:0",
                 "redis_mode:\(server.cluster.enabled ? "cluster" : "standalone")",
                 "sesame_version:\(sesameVersion)",
                 "os:\(sysname) \(release) \(machine)",
                 "arch_bits:64",
                 "multiplexing_api:epoll",
                 "process_id:\(getpid())",
                 "run_id:\(server.runID)",
                 "tcp_port:\(server.boundPort.load(ordering: .relaxed))",
                 "server_time_usec:\(now * 1000)",
                 "uptime_in_seconds:\(uptime)",
                 "uptime_in_days:\(uptime / 86400)",
                 "hz:10",
                 "executable:\(server.executablePath)",
                 "config_file:\(config.configFile ?? "")",
                 "io_threads_active:0",
                 "event_loop_threads:\(config.threads)"]
    case "clients":
        lines = ["# Clients",
                 "connected_clients:\(server.connectedClients.load(ordering: .relaxed))",
                 "maxclients:\(config.maxClients)",
                 "blocked_clients:0",
                 "tracking_clients:\(server.tracking.clientCount)",
                 "clients_in_timeout_table:0"]
    case "memory":
        let used = usedMemory()
        let rss = residentSetSize()
        lines = ["# Memory",
                 "used_memory:\(used)",
                 "used_memory_human:\(humanBytes(used))",
                 "used_memory_rss:\(rss)",
                 "used_memory_rss_human:\(humanBytes(rss))",
                 "used_memory_dataset:\(server.eviction.usedMemory)",
                 "maxmemory:\(server.eviction.maxMemory)",
                 "maxmemory_human:\(humanBytes(server.eviction.maxMemory))",
                 "maxmemory_policy:\(server.eviction.policy.rawValue)",
                 "mem_allocator:libc"]
    case "persistence":
        lines = persistenceInfoLines(server)
    case "stats":
        lines = ["# Stats",
                 "total_connections_received:\(server.totalConnections.load(ordering: .relaxed))",
                 "total_commands_processed:\(server.sum { $0.commands.load(ordering: .relaxed) })",
                 "instantaneous_ops_per_sec:0",
                 "total_net_input_bytes:\(server.sum { $0.netInputBytes.load(ordering: .relaxed) })",
                 "total_net_output_bytes:\(server.sum { $0.netOutputBytes.load(ordering: .relaxed) })",
                 "rejected_connections:\(server.rejectedConnections.load(ordering: .relaxed))",
                 "acl_access_denied_auth:\(server.authFailures.load(ordering: .relaxed))",
                 "expired_keys:\(c.keyspace.expiredKeys)",
                 "evicted_keys:\(server.eviction.evictedKeys.load(ordering: .relaxed))",
                 "keyspace_hits:\(server.sum { $0.keyspaceHits.load(ordering: .relaxed) })",
                 "keyspace_misses:\(server.sum { $0.keyspaceMisses.load(ordering: .relaxed) })",
                 "pubsub_channels:0",
                 "pubsub_patterns:0",
                 "eventloop_cycles:\(server.sum { $0.eventloopCycles.load(ordering: .relaxed) })",
                 "eventloop_duration_sum:\(server.sum { $0.eventloopDurationSum.load(ordering: .relaxed) })",
                 "eventloop_duration_max:\(server.loopStats.map { $0.eventloopDurationMax.load(ordering: .relaxed) }.max() ?? 0)",
                 "eventloop_expiry_duration_max:\(server.loopStats.map { $0.expiryDurationMax.load(ordering: .relaxed) }.max() ?? 0)",
                 "tracking_total_keys:\(server.tracking.totalKeys.load(ordering: .relaxed))",
                 "tracking_total_items:\(server.tracking.totalItems.load(ordering: .relaxed))",
                 "tracking_total_prefixes:\(server.tracking.prefixTotal)"]
    case "replication":
        lines = ["# Replication", "role:master", "connected_slaves:0"]
    case "cpu":
        var ru = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &ru)
        func secs(_ t: timeval) -> String {
            let us = Int(t.tv_sec) * 1_000_000 + Int(t.tv_usec)
            return "\(us / 1_000_000).\(String(us % 1_000_000 + 1_000_000).dropFirst())"
        }
        lines = ["# CPU", "used_cpu_sys:\(secs(ru.ru_stime))", "used_cpu_user:\(secs(ru.ru_utime))"]
    case "cluster":
        lines = ["# Cluster", "cluster_enabled:\(server.cluster.enabled ? 1 : 0)"]
    case "keyspace":
        lines = ["# Keyspace"]
        for (db, s) in c.keyspace.keyspaceStats().enumerated() where s.keys > 0 {
            lines.append("db\(db):keys=\(s.keys),expires=\(s.expires),avg_ttl=0")
        }
    default:
        break
    }
    return lines.map { $0 + "\r\n" }.joined()
}

/// Bytes the allocator has handed out (glibc's in-use arena and mmapped bytes).
public func usedMemory() -> Int {
    let info = mallinfo2()
    return Int(info.uordblks) + Int(info.hblkhd)
}

/// Turns off glibc's fastbins for the whole process (mallopt M_MXFAST 0); sesame-server's
/// main says why. Returns false if the allocator refused.
@discardableResult
public func disableAllocatorFastbins() -> Bool { mallopt(M_MXFAST, 0) == 1 }

/// Resident set size from /proc/self/statm.
public func residentSetSize() -> Int {
    guard let f = fopen("/proc/self/statm", "r") else { return 0 }
    defer { fclose(f) }
    var size = 0, resident = 0
    _ = withUnsafeMutablePointer(to: &size) { s in
        withUnsafeMutablePointer(to: &resident) { r in
            withVaList([s, r]) { vfscanf(f, "%ld %ld", $0) }
        }
    }
    return resident * Int(sysconf(Int32(_SC_PAGESIZE)))
}

func humanBytes(_ n: Int) -> String {
    let units = ["B", "K", "M", "G", "T"]
    var v = Double(n)
    var i = 0
    while v >= 1024 && i < units.count - 1 { v /= 1024; i += 1 }
    if i == 0 { return "\(n)B" }
    let hundredths = Int((v * 100).rounded())
    return "\(hundredths / 100).\(String(hundredths % 100 + 100).dropFirst())\(units[i])"
}

// MARK: - COMMAND

func commandCommand(_ c: Client, _ args: Arguments) {
    let table = c.server.commands
    if args.count == 1 {
        c.reply.arrayHeader(table.specs.count)
        for spec in table.specs { writeCommandInfo(c, spec) }
        return
    }
    Dispatcher.subcommand(c, args, parent: "command", [
        ("count", 2, { c, _ in c.reply.integer(table.specs.count) }),
        ("getkeys", -4, commandGetKeys),
        ("list", -2, { c, _ in
            c.reply.arrayHeader(table.specs.count)
            for spec in table.specs { c.reply.bulk(string: spec.name) }
        }),
        ("info", -2, { c, a in
            if a.count == 2 {
                c.reply.arrayHeader(table.specs.count)
                for spec in table.specs { writeCommandInfo(c, spec) }
                return
            }
            c.reply.arrayHeader(a.count - 2)
            for i in 2..<a.count {
                if let spec = table.lookup(a[i]) { writeCommandInfo(c, spec) } else { c.reply.null() }
            }
        }),
        // redis-cli asks for DOCS to build its hints; on an error it falls back to its own
        // built-in help filtered by INFO's redis_version (CLIENTS.md), which covers every
        // command Sesame has.
        ("docs", -2, { c, a in c.reply.error(RedisError.unknownSubcommandText(a[1], parent: "command")) }),
        ("help", 2, { c, _ in
            let lines = ["COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                         "(no subcommand)", "    Return details about all Redis commands.",
                         "COUNT", "    Return the total number of commands in this Redis server.",
                         "LIST", "    Return a list of all commands in this Redis server.",
                         "INFO [<command-name> ...]", "    Return details about multiple Redis commands.",
                         "GETKEYS <full-command>", "    Return the keys from a full Redis command.",
                         "HELP", "    Print this help."]
            c.reply.arrayHeader(lines.count)
            for l in lines { c.reply.simple(string: l) }
        }),
    ])
}

/// The 10-element COMMAND reply: name, arity, flags, first key, last key, step, ACL
/// categories, tips, key specs, subcommands.
func writeCommandInfo(_ c: Client, _ spec: CommandSpec) {
    c.reply.arrayHeader(10)
    c.reply.bulk(string: spec.name)
    c.reply.integer(spec.arity)
    let flags = spec.flags.names
    c.reply.setHeader(flags.count)
    for f in flags { c.reply.simple(string: f) }
    c.reply.integer(spec.firstKey)
    c.reply.integer(spec.lastKey)
    c.reply.integer(spec.keyStep)
    c.reply.setHeader(spec.categories.count)
    for cat in spec.categories { c.reply.simple(string: cat) }
    c.reply.setHeader(0)
    c.reply.arrayHeader(0)
    c.reply.arrayHeader(0)
}

/// Redis's glob matching (stringmatchlen, case-sensitive): see GlobMatch.swift.
public func globMatch(_ pattern: [UInt8], _ string: [UInt8]) -> Bool {
    stringMatch(pattern, string)
}
