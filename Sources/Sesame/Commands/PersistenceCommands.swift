// Persistence commands (Redis aof.c / rdb.c / server.c): BGREWRITEAOF, SAVE and BGSAVE (both
// mapped to an AOF rewrite: Sesame has no RDB format), LASTSAVE's source, SHUTDOWN, the AOF
// CONFIG parameters and INFO persistence.

#if canImport(Glibc)
import Glibc
#endif
import Synchronization

let persistenceCommands: [CommandSpec] = [
    CommandSpec("bgrewriteaof", arity: 1, flags: [.admin, .noScript], categories: ["@admin", "@slow", "@dangerous"], handler: bgrewriteaofCommand),
    CommandSpec("bgsave", arity: -1, flags: [.admin, .noScript], categories: ["@admin", "@slow", "@dangerous"], handler: bgsaveCommand),
    CommandSpec("save", arity: 1, flags: [.admin, .noScript], categories: ["@admin", "@slow", "@dangerous"], handler: saveCommand),
    CommandSpec("shutdown", arity: -1, flags: [.admin, .noScript, .loading, .stale], categories: ["@admin", "@slow", "@dangerous"], handler: shutdownCommand),
]

/// What SHUTDOWN does after the file is flushed: sesame-server installs "exit like SIGTERM";
/// an embedded server has none, and SHUTDOWN answers an error there.
public final class ShutdownControl: Sendable {
    private let handler = Locked<(@Sendable () -> Void)?>(nil)
    public init() {}
    public func install(_ body: @escaping @Sendable () -> Void) { handler.withLock { $0 = body } }
    var current: (@Sendable () -> Void)? { handler.withLock { $0 } }
}

func bgrewriteaofCommand(_ c: Client, _ args: Arguments) {
    if c.server.aof.startRewrite(c.keyspace) {
        c.reply.simple("Background append only file rewriting started")
    } else {
        c.reply.error("ERR Background append only file rewriting already in progress")
    }
}

func bgsaveCommand(_ c: Client, _ args: Arguments) {
    let schedule = args.count == 2 && args.matches(1, "schedule")
    if args.count > 2 || (args.count == 2 && !schedule) { c.reply.error(RedisError.syntax); return }
    let aof = c.server.aof
    if aof.startRewrite(c.keyspace) {
        c.reply.simple("Background saving started")
    } else if schedule {
        aof.rewriteScheduled.store(true, ordering: .relaxed)
        c.reply.simple("Background saving scheduled")
    } else {
        c.reply.error("ERR Background save already in progress")
    }
}

func saveCommand(_ c: Client, _ args: Arguments) {
    let aof = c.server.aof
    if aof.rewriteInProgress.load(ordering: .acquiring) {
        c.reply.error("ERR Background save already in progress")
        return
    }
    if aof.rewriteAndWait(c.keyspace) { c.reply.ok() } else { c.reply.error("ERR") }
}

func lastSaveSeconds(_ server: ServerState) -> Int {
    let t = server.aof.lastSave.load(ordering: .relaxed)
    return t != 0 ? t : Int(server.startedAt / 1000)
}

func shutdownCommand(_ c: Client, _ args: Arguments) {
    var force = false, abort = false
    for i in 1..<args.count {
        if args.matches(i, "nosave") || args.matches(i, "save") || args.matches(i, "now") { continue }
        if args.matches(i, "force") { force = true; continue }
        if args.matches(i, "abort") { abort = true; continue }
        c.reply.error(RedisError.syntax)
        return
    }
    if abort { c.reply.error("ERR No shutdown in progress."); return }
    let aof = c.server.aof
    if aof.enabled.load(ordering: .relaxed) && !aof.flushAndSync() && !force {
        c.server.aof.log.warning("Error trying to save the DB, can't exit.")
        c.reply.error("ERR Errors trying to SHUTDOWN. Check logs.")
        return
    }
    guard let handler = c.server.shutdown.current else {
        c.reply.error("ERR SHUTDOWN is not available in an embedded server")
        return
    }
    aof.log.warning("User requested shutdown...")
    handler()
    c.closeAfterReply = true
}

// MARK: - CONFIG parameters

private func yesNoValue(_ v: String) -> Result<String, ConfigError> {
    switch v.lowercased() {
    case "yes": return .success("yes")
    case "no": return .success("no")
    default: return .failure(ConfigError(reason: "argument must be 'yes' or 'no'"))
    }
}

private func nonNegativeInteger(_ v: String) -> Result<String, ConfigError> {
    guard let n = parseStrictInt64(Array(v.utf8)) else { return .failure(ConfigError(reason: "argument couldn't be parsed into an integer")) }
    guard n >= 0 && n <= Int64(Int32.max) else { return .failure(ConfigError(reason: "argument must be between 0 and 2147483647 inclusive")) }
    return .success(String(n))
}

let persistenceConfigParameters: [ConfigParameter] = [
    ConfigParameter("appendonly", get: { $0.server.aof.enabled.load(ordering: .relaxed) ? "yes" : "no" },
                    validate: yesNoValue, apply: { c, v in
        let aof = c.server.aof
        if v == "yes" { _ = aof.enableAtRuntime(c.keyspace) } else { aof.close() }
    }),
    ConfigParameter("appendfsync", get: { $0.server.aof.policy.name }, validate: { v in
        guard let f = AppendFsync(name: v) else { return .failure(ConfigError(reason: "argument(s) must be one of the following: always, everysec, no")) }
        return .success(f.name)
    }, apply: { c, v in c.server.aof.fsyncPolicy.store(AppendFsync(name: v)!.rawValue, ordering: .relaxed) }),
    ConfigParameter("appendfilename", get: { $0.server.aof.fileName }),
    ConfigParameter("appenddirname", get: { _ in "appendonlydir" }),
    ConfigParameter("aof-load-truncated", get: { $0.server.aof.loadTruncated ? "yes" : "no" }),
    ConfigParameter("aof-use-rdb-preamble", get: { _ in "no" }),
    ConfigParameter("auto-aof-rewrite-percentage", get: { "\($0.server.aof.autoRewritePercentage.load(ordering: .relaxed))" },
                    validate: nonNegativeInteger,
                    apply: { c, v in c.server.aof.autoRewritePercentage.store(Int(v) ?? 100, ordering: .relaxed) }),
    ConfigParameter("auto-aof-rewrite-min-size", get: { "\($0.server.aof.autoRewriteMinSize.load(ordering: .relaxed))" },
                    validate: { v in
        guard let n = parseMemory(v) else { return .failure(ConfigError(reason: "argument must be a memory value")) }
        return .success(String(n))
    }, apply: { c, v in c.server.aof.autoRewriteMinSize.store(Int(v) ?? 0, ordering: .relaxed) }),
]

// MARK: - INFO persistence

func persistenceInfoLines(_ server: ServerState) -> [String] {
    let aof = server.aof
    let enabled = aof.enabled.load(ordering: .relaxed)
    let rewriting = aof.rewriteInProgress.load(ordering: .relaxed)
    let writeOK = aof.writeErrno.load(ordering: .relaxed) == 0
    var lines = ["# Persistence",
                 "loading:0",
                 "async_loading:0",
                 "rdb_changes_since_last_save:0",
                 "rdb_bgsave_in_progress:0",
                 "rdb_last_save_time:\(lastSaveSeconds(server))",
                 "rdb_last_bgsave_status:ok",
                 "aof_enabled:\(enabled ? 1 : 0)",
                 "aof_rewrite_in_progress:\(rewriting ? 1 : 0)",
                 "aof_rewrite_scheduled:\(aof.rewriteScheduled.load(ordering: .relaxed) ? 1 : 0)",
                 "aof_last_rewrite_time_sec:\(aof.lastRewriteSeconds.load(ordering: .relaxed))",
                 "aof_last_bgrewrite_status:\(aof.lastRewriteOK.load(ordering: .relaxed) ? "ok" : "err")",
                 "aof_rewrites:\(aof.rewrites.load(ordering: .relaxed))",
                 "aof_last_rewrite_snapshot_pause_us:\(aof.snapshotPauseMicros.load(ordering: .relaxed))",
                 "aof_last_rewrite_switch_pause_us:\(aof.switchPauseMicros.load(ordering: .relaxed))",
                 "aof_last_write_status:\(writeOK ? "ok" : "err")"]
    if !writeOK {
        lines.append("aof_last_write_errno:\(aof.writeErrno.load(ordering: .relaxed))")
    }
    if enabled {
        lines += ["aof_current_size:\(aof.currentSize.load(ordering: .relaxed))",
                  "aof_base_size:\(aof.baseSize.load(ordering: .relaxed))",
                  "aof_pending_rewrite:0",
                  "aof_pending_bio_fsync:\(aof.fsyncStartedNs.load(ordering: .relaxed) != 0 ? 1 : 0)",
                  "aof_delayed_fsync:\(aof.delayedFsyncs.load(ordering: .relaxed))",
                  "aof_fsyncs:\(aof.fsyncs.load(ordering: .relaxed))",
                  "aof_records:\(aof.appendedSeq.load(ordering: .relaxed))",
                  "aof_loaded_keys:\(aof.loadedKeys.load(ordering: .relaxed))"]
    }
    return lines
}
